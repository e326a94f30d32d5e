//! Loki's response JSON (`../shared/spec/http-api.md` §4.3-§4.5), written
//! by hand so keys come in Loki's order: the `status` / `data` envelope,
//! `streams` with nanosecond-string timestamps, `vector` / `matrix` /
//! `scalar` with float-second timestamps and string values, and the
//! `stats` block with every field present.

use std::fmt::Write as _;

use lokistore::Label;
use lokistore::logql::eval::LogStream;
use lokistore::logql::eval::metric::MetricResult;

/// Appends `s` as a JSON string, escaping as Go's `encoding/json` does.
pub fn push_str(out: &mut String, s: &str) {
    lokistore::compactor::go_json_string(out, s);
}

/// A label set as a JSON object.
pub fn push_labels(out: &mut String, labels: &[Label]) {
    push_joined(out, ('{', '}'), labels, |out, l| {
        push_str(out, &l.name);
        out.push(':');
        push_str(out, &l.value);
    });
}

/// A list of strings as a JSON array.
pub fn push_str_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    push_joined(out, ('[', ']'), items, push_str);
}

/// `items` written by `f`, separated by commas, between the `brackets`.
fn push_joined<T>(
    out: &mut String,
    brackets: (char, char),
    items: impl IntoIterator<Item = T>,
    mut f: impl FnMut(&mut String, T),
) {
    out.push(brackets.0);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(brackets.1);
}

/// A metric timestamp: milliseconds as seconds with the shortest exact
/// decimal (`1700000060`, `1700000060.5`).
pub fn push_metric_ts(out: &mut String, ms: i64) {
    let (secs, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        let _ = write!(out, "{secs}");
    } else if secs < 0 {
        // -0.5 s is -1 s + 500 ms.
        let total = -(ms as f64) / 1000.0;
        let _ = write!(out, "-{total}");
    } else {
        let f = format!("{frac:03}");
        let _ = write!(out, "{secs}.{}", f.trim_end_matches('0'));
    }
}

/// A sample value as Prometheus prints it: the shortest decimal, or `NaN`,
/// `+Inf`, `-Inf`; as a JSON string.
pub fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v == f64::INFINITY {
        out.push_str("\"+Inf\"");
    } else if v == f64::NEG_INFINITY {
        out.push_str("\"-Inf\"");
    } else {
        let _ = write!(out, "\"{v}\"");
    }
}

/// What the `stats` block reports of a query.
#[derive(Debug, Default, Clone, Copy)]
pub struct QueryStats {
    pub exec_seconds: f64,
    pub bytes_processed: u64,
    pub lines_processed: u64,
    pub entries_returned: u64,
}

const CACHE: &str = r#"{"entriesFound":0,"entriesRequested":0,"entriesStored":0,"bytesReceived":0,"bytesSent":0,"requests":0,"downloadTime":0,"queryLengthServed":0}"#;

fn push_store(out: &mut String, s: &QueryStats) {
    let _ = write!(
        out,
        r#"{{"totalChunksRef":0,"totalChunksDownloaded":0,"chunksDownloadTime":0,"queryReferencedStructuredMetadata":false,"queryUsedV2Engine":false,"chunk":{{"headChunkBytes":0,"headChunkLines":0,"decompressedBytes":{},"decompressedLines":{},"compressedBytes":0,"totalDuplicates":0,"postFilterLines":{},"headChunkStructuredMetadataBytes":0,"decompressedStructuredMetadataBytes":0}},"chunkRefsFetchTime":0,"congestionControlLatency":0,"pipelineWrapperFilteredLines":0,"dataobj":{{"prePredicateDecompressedRows":0,"prePredicateDecompressedBytes":0,"prePredicateDecompressedStructuredMetadataBytes":0,"postPredicateRows":0,"postPredicateDecompressedBytes":0,"postPredicateStructuredMetadataBytes":0,"postFilterRows":0,"pagesScanned":0,"pagesDownloaded":0,"pagesDownloadedBytes":0,"pageBatches":0,"totalRowsAvailable":0,"totalPageDownloadTime":0,"wireBytesTransferred":0}}}}"#,
        s.bytes_processed, s.lines_processed, s.entries_returned
    );
}

/// The `stats` object with every field Loki writes.
pub fn push_stats(out: &mut String, s: &QueryStats) {
    let per_sec = |n: u64| if s.exec_seconds > 0.0 { (n as f64 / s.exec_seconds) as u64 } else { 0 };
    let _ = write!(
        out,
        r#"{{"summary":{{"bytesProcessedPerSecond":{},"linesProcessedPerSecond":{},"totalBytesProcessed":{},"totalLinesProcessed":{},"execTime":{},"queueTime":0,"subqueries":0,"totalEntriesReturned":{},"splits":0,"shards":0,"totalPostFilterLines":{},"totalStructuredMetadataBytesProcessed":0}},"querier":{{"store":"#,
        per_sec(s.bytes_processed),
        per_sec(s.lines_processed),
        s.bytes_processed,
        s.lines_processed,
        s.exec_seconds,
        s.entries_returned,
        s.entries_returned,
    );
    push_store(out, s);
    out.push_str(r#","querierExecTime":0},"ingester":{"totalReached":0,"totalChunksMatched":0,"totalBatches":0,"totalLinesSent":0,"store":"#);
    push_store(out, &QueryStats::default());
    out.push_str(r#"},"cache":{"#);
    for (i, name) in [
        "chunk",
        "index",
        "result",
        "statsResult",
        "volumeResult",
        "seriesResult",
        "labelResult",
        "instantMetricResult",
        "logResult",
        "taskResult",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{name}\":{CACHE}");
    }
    out.push_str(r#"},"index":{"totalChunks":0,"postFilterChunks":0,"shardsDuration":0,"usedBloomFilters":false,"totalStreams":0,"chunkRefsLookupTime":0,"bloomFilterTime":0}}"#);
}

/// Log streams: `[{"stream":{…},"values":[["ns","line"],…]},…]`.
pub fn push_streams(out: &mut String, streams: &[LogStream]) {
    out.push('[');
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"stream\":");
        push_labels(out, &s.labels);
        out.push_str(",\"values\":[");
        for (j, (ts, line)) in s.entries.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "[\"{ts}\",");
            push_str(out, &String::from_utf8_lossy(line));
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push(']');
}

/// A `[<float seconds>, "<value>"]` sample.
fn push_point(out: &mut String, timestamp_ms: i64, value: f64) {
    out.push('[');
    push_metric_ts(out, timestamp_ms);
    out.push(',');
    push_value(out, value);
    out.push(']');
}

/// `{"metric":<labels>,"<key>":<value>}`, the value written by `value`.
fn push_labeled(out: &mut String, labels: &[Label], key: &str, value: impl FnOnce(&mut String)) {
    out.push_str("{\"metric\":");
    push_labels(out, labels);
    let _ = write!(out, ",\"{key}\":");
    value(out);
    out.push('}');
}

/// `(resultType, result)` of a metric answer.
pub fn push_metric(out: &mut String, r: &MetricResult) -> &'static str {
    match r {
        MetricResult::Scalar { timestamp_ms, value } => {
            push_point(out, *timestamp_ms, *value);
            "scalar"
        }
        MetricResult::Vector(samples) => {
            push_joined(out, ('[', ']'), samples, |out, s| {
                push_labeled(out, &s.labels, "value", |out| push_point(out, s.timestamp_ms, s.value));
            });
            "vector"
        }
        MetricResult::Matrix(series) => {
            push_joined(out, ('[', ']'), series, |out, s| {
                push_labeled(out, &s.labels, "values", |out| {
                    push_joined(out, ('[', ']'), &s.points, |out, &(ts, v)| push_point(out, ts, v));
                });
            });
            "matrix"
        }
    }
}

/// `{"status":"success","data":{"resultType":…,"result":…,"stats":…}}`.
pub fn query_envelope(result_type: &str, result: &str, stats: &QueryStats) -> String {
    let mut out = String::with_capacity(result.len() + 4096);
    let _ = write!(out, r#"{{"status":"success","data":{{"resultType":"{result_type}","result":{result},"stats":"#);
    push_stats(&mut out, stats);
    out.push_str("}}");
    out
}

/// An `application/json` response.
pub fn response(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(axum::http::header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_loki_does() {
        let mut s = String::new();
        push_metric_ts(&mut s, 1_700_000_060_000);
        s.push(' ');
        push_metric_ts(&mut s, 1_700_000_060_500);
        s.push(' ');
        push_metric_ts(&mut s, 1_700_000_060_123);
        s.push(' ');
        for v in [0.1, 6.0, 1e21, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            push_value(&mut s, v);
        }
        assert_eq!(s, r#"1700000060 1700000060.5 1700000060.123 "0.1""6""1000000000000000000000""NaN""+Inf""-Inf""#);
    }

    #[test]
    fn strings_escape_html() {
        let mut s = String::new();
        push_str(&mut s, "<a&b>\"\n\u{1}");
        assert_eq!(s, r#""\u003ca\u0026b\u003e\"\n\u0001""#);
        let stats = query_envelope("streams", "[]", &QueryStats::default());
        let v: serde_json::Value = serde_json::from_str(&stats).unwrap();
        assert_eq!(v["data"]["stats"]["cache"]["taskResult"]["requests"], 0);
        assert_eq!(v["data"]["stats"]["querier"]["store"]["dataobj"]["wireBytesTransferred"], 0);
    }
}

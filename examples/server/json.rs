//! Loki's response JSON (`../shared/spec/http-api.md` §4.3-§4.5), written
//! by hand so keys come in Loki's order: the `status` / `data` envelope,
//! `streams` with nanosecond-string timestamps, `vector` / `matrix` /
//! `scalar` with float-second timestamps and string values, and the
//! `stats` block with every field present.

use std::fmt::Write as _;

use lokistore::Label;
use lokistore::logql::eval::LogStream;
use lokistore::logql::eval::metric::MetricResult;

/// Appends `s` as a JSON string, escaping as Go's `encoding/json` does
/// (HTML characters and U+2028 / U+2029 as `\uXXXX`).
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A label set as a JSON object.
pub fn push_labels(out: &mut String, labels: &[Label]) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, &l.name);
        out.push(':');
        push_str(out, &l.value);
    }
    out.push('}');
}

/// A list of strings as a JSON array.
pub fn push_str_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, s);
    }
    out.push(']');
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

/// `(resultType, result)` of a metric answer.
pub fn push_metric(out: &mut String, r: &MetricResult) -> &'static str {
    match r {
        MetricResult::Scalar { timestamp_ms, value } => {
            out.push('[');
            push_metric_ts(out, *timestamp_ms);
            out.push(',');
            push_value(out, *value);
            out.push(']');
            "scalar"
        }
        MetricResult::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"value\":[");
                push_metric_ts(out, s.timestamp_ms);
                out.push(',');
                push_value(out, s.value);
                out.push_str("]}");
            }
            out.push(']');
            "vector"
        }
        MetricResult::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_labels(out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, (ts, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    push_metric_ts(out, *ts);
                    out.push(',');
                    push_value(out, *v);
                    out.push(']');
                }
                out.push_str("]}");
            }
            out.push(']');
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

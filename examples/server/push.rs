//! `POST /loki/api/v1/push` (`../shared/spec/http-api.md` §3): JSON or
//! snappy-block protobuf bodies, optionally gzip / deflate encoded, with
//! bounded sizes; Loki's status codes (204, 400, 413, 422, 429).

use std::io::Read;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use lokistore::engine::PushStream;
use lokistore::{Entry, Label, Labels};
use prost::Message;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::proto;
use crate::state::AppState;

/// Reads a request body of at most `limit` bytes (413 beyond).
pub async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut src: &dyn std::error::Error = &e;
        while let Some(s) = src.source() {
            src = s;
        }
        if src.to_string().contains("length limit exceeded") {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("reading the request body failed: {e}"))
        }
    })
}

/// Reads a decompressing reader to the end, refusing more than `limit` bytes.
fn read_bounded(mut r: impl Read, limit: usize, what: &str) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    let n = r
        .by_ref()
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::bad_request(format!("invalid {what} body: {e}")))?;
    if n > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed request body too large: limit is {limit} bytes"),
        ));
    }
    Ok(out)
}

/// Undoes `Content-Encoding`.
fn decode_content(headers: &HeaderMap, body: Bytes, limit: usize) -> ApiResult<Bytes> {
    let enc = headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match enc.as_deref() {
        None | Some("") | Some("snappy") => Ok(body),
        Some("gzip") => read_bounded(flate2::read::GzDecoder::new(&body[..]), limit, "gzip").map(Bytes::from),
        Some("deflate") => {
            read_bounded(flate2::read::DeflateDecoder::new(&body[..]), limit, "deflate").map(Bytes::from)
        }
        Some(_) => Err(ApiError::bad_request(format!(
            "Content-Encoding {:?} not supported",
            headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("?")
        ))),
    }
}

#[derive(Deserialize)]
struct JsonPush {
    streams: Option<Vec<JsonStream>>,
}

#[derive(Deserialize)]
struct JsonStream {
    #[serde(default)]
    stream: std::collections::BTreeMap<String, String>,
    values: Option<Vec<Vec<serde_json::Value>>>,
}

fn bad_labels(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("couldn't parse labels: {e}"))
}

/// Prometheus label names: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn valid_label_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

fn parse_json(body: &[u8]) -> ApiResult<Vec<PushStream>> {
    let req: JsonPush =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid JSON push request: {e}")))?;
    let mut out = Vec::new();
    for s in req.streams.unwrap_or_default() {
        if let Some(name) = s.stream.keys().find(|n| !valid_label_name(n)) {
            return Err(bad_labels(format!("invalid label name {name:?}")));
        }
        let labels = Labels::from_pairs(s.stream).map_err(bad_labels)?;
        let mut entries = Vec::new();
        for v in s.values.unwrap_or_default() {
            if !(2..=3).contains(&v.len()) {
                return Err(ApiError::bad_request(format!(
                    "invalid JSON push request: an entry has {} elements; expected [timestamp, line] or [timestamp, line, metadata]",
                    v.len()
                )));
            }
            let ts = match &v[0] {
                serde_json::Value::String(s) => s.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid JSON push request: timestamp {s:?} is not an integer of Unix nanoseconds"
                    ))
                })?,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "invalid JSON push request: timestamp {other} must be a string of Unix nanoseconds"
                    )));
                }
            };
            let serde_json::Value::String(line) = &v[1] else {
                return Err(ApiError::bad_request("invalid JSON push request: a line must be a string"));
            };
            let mut md = Vec::new();
            if let Some(m) = v.get(2) {
                let serde_json::Value::Object(m) = m else {
                    return Err(ApiError::bad_request(
                        "invalid JSON push request: structured metadata must be an object of strings",
                    ));
                };
                for (k, v) in m {
                    let serde_json::Value::String(v) = v else {
                        return Err(ApiError::bad_request(format!(
                            "invalid JSON push request: structured metadata {k:?} must be a string"
                        )));
                    };
                    md.push(Label::new(k.clone(), v.clone()));
                }
            }
            md.sort_by(|a, b| a.name.cmp(&b.name));
            entries.push(Entry::with_metadata(ts, line.clone(), md));
        }
        out.push(PushStream::new(labels, entries));
    }
    Ok(out)
}

fn parse_proto(body: &[u8], limit: usize) -> ApiResult<Vec<PushStream>> {
    let len = snap::raw::decompress_len(body)
        .map_err(|e| ApiError::bad_request(format!("invalid snappy-compressed push request: {e}")))?;
    if len > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed request body too large: {len} bytes, limit is {limit} bytes"),
        ));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::bad_request(format!("invalid snappy-compressed push request: {e}")))?;
    let req = proto::PushRequest::decode(&raw[..])
        .map_err(|e| ApiError::bad_request(format!("invalid protobuf push request: {e}")))?;
    let mut out = Vec::with_capacity(req.streams.len());
    for s in req.streams {
        let labels = Labels::parse(&s.labels).map_err(bad_labels)?;
        let mut entries = Vec::with_capacity(s.entries.len());
        for e in s.entries {
            let ts = e.timestamp.unwrap_or_default().to_ns().ok_or_else(|| {
                ApiError::bad_request(format!("entry timestamp out of range for stream {}", s.labels))
            })?;
            let mut md: Vec<Label> = e.structured_metadata.into_iter().map(|p| Label::new(p.name, p.value)).collect();
            md.sort_by(|a, b| a.name.cmp(&b.name));
            entries.push(Entry::with_metadata(ts, e.line, md));
        }
        out.push(PushStream::new(labels, entries));
    }
    Ok(out)
}

/// Loki's `discover_service_name`: a stream without `service_name` gets
/// one from the first present label of `from`, else `unknown_service`.
fn add_service_name(streams: &mut [PushStream], from: &[String]) -> ApiResult<()> {
    if from.is_empty() {
        return Ok(());
    }
    for s in streams {
        if s.labels.get("service_name").is_some() {
            continue;
        }
        let value = from.iter().find_map(|n| s.labels.get(n)).unwrap_or("unknown_service").to_owned();
        let pairs =
            s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).chain([("service_name".to_owned(), value)]);
        s.labels = Labels::from_pairs(pairs).map_err(bad_labels)?;
    }
    Ok(())
}

/// Decodes a push body (after the size check) into streams.
pub fn decode_push(headers: &HeaderMap, body: Bytes, limit: usize) -> ApiResult<Vec<PushStream>> {
    let body = decode_content(headers, body, limit)?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media.is_empty() {
        return Err(ApiError::bad_request("mime: no media type"));
    }
    if !media.contains('/') {
        return Err(ApiError::bad_request("mime: expected slash after first token"));
    }
    if media == "application/json" { parse_json(&body) } else { parse_proto(&body, limit) }
}

pub async fn push(State(st): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    st.metrics.push_requests.inc();
    let res = push_inner(&st, headers, body).await;
    st.metrics.push_duration.observe(started.elapsed());
    match res {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            st.metrics.push_failures.inc();
            e.into_response()
        }
    }
}

async fn push_inner(st: &AppState, headers: HeaderMap, body: Body) -> ApiResult<()> {
    let tenant = st.tenant(&headers)?;
    let body = read_body(body, st.config.server.max_request_body_bytes).await?;
    st.metrics.push_bytes.add(body.len() as u64);
    let mut streams = decode_push(&headers, body, st.config.server.max_decompressed_bytes)?;
    if streams.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "error at least one valid stream is required for ingestion",
        ));
    }
    add_service_name(&mut streams, &st.config.limits.discover_service_name)?;
    let t = tenant.clone();
    let result = st.blocking(move |engine| engine.push(&t, streams).map_err(ApiError::from_engine)).await?;
    let accepted = result.accepted() as u64;
    st.metrics.entries_accepted.add(accepted);
    if accepted > 0 {
        st.pushed.send_modify(|n| *n = n.wrapping_add(1));
    }
    if result.is_complete() {
        return Ok(());
    }
    let rejected: usize = result.streams.iter().map(|s| s.rejected.len()).sum();
    st.metrics.entries_rejected.add(rejected as u64);
    let status = if result.is_limited() { StatusCode::TOO_MANY_REQUESTS } else { StatusCode::BAD_REQUEST };
    tracing::debug!(tenant = tenant.as_str(), accepted, rejected, "push partly refused");
    Err(ApiError::new(status, result.to_string()))
}

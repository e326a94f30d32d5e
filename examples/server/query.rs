//! `GET|POST /loki/api/v1/query` and `/query_range`
//! (`../shared/spec/http-api.md` §4): log queries answer `streams`,
//! metric queries `vector` / `matrix` / `scalar`; evaluation runs on the
//! blocking pool under the query timeout.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use lokistore::Direction;
use lokistore::logql::eval::metric::{MetricError, MetricLimits, eval_metric};
use lokistore::logql::eval::{EvalError, LogEvaluator, LogStream};
use lokistore::logql::{Expr, parse_expr};

use crate::error::{ApiError, ApiResult};
use crate::json::{self, QueryStats};
use crate::metrics::Metrics;
use crate::params::{self, Params};
use crate::push::read_body;
use crate::state::AppState;

/// The parameters of a request: the URL query plus a form body on `POST`.
pub async fn request_params(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Params> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let form = if *method == Method::POST && is_form {
        Some(read_body(body, st.config.server.max_request_body_bytes).await?)
    } else {
        None
    };
    Params::parse(uri.query(), form.as_deref())
}

/// Loki's status for an evaluation error.
pub fn eval_error(e: EvalError) -> ApiError {
    match e {
        EvalError::Parse(p) => ApiError::bad_request(p.loki_message()),
        EvalError::Storage(e) => ApiError::from_engine(*e),
        other => ApiError::bad_request(other.to_string()),
    }
}

fn metric_error(e: MetricError) -> ApiError {
    match e {
        MetricError::Eval(e) => eval_error(e),
        e if e.is_client_error() => ApiError::bad_request(e.to_string()),
        e => ApiError::internal(e.to_string()),
    }
}

fn parse_query(p: &Params) -> ApiResult<(String, Expr)> {
    let q = p.get("query").unwrap_or_default().to_owned();
    let expr = parse_expr(&q).map_err(|e| ApiError::bad_request(e.loki_message()))?;
    Ok((q, expr))
}

/// Counts a query API request and its outcome.
pub async fn observed(st: &AppState, endpoint: &str, f: impl Future<Output = ApiResult<Response>>) -> Response {
    let i = Metrics::endpoint(endpoint);
    st.metrics.query_requests[i].inc();
    let started = Instant::now();
    let res = f.await;
    st.metrics.query_duration[i].observe(started.elapsed());
    match res {
        Ok(r) => r,
        Err(e) => {
            st.metrics.query_failures[i].inc();
            e.into_response()
        }
    }
}

pub async fn query_range(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    observed(&st, "query_range", query_range_inner(&st, method, uri, headers, body)).await
}

async fn query_range_inner(
    st: &AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let tenant = st.tenant(&headers)?;
    let p = request_params(st, &method, &uri, &headers, body).await?;
    let (start, end) = params::range_params(&p)?;
    let limit = params::limit_param(&p, 100)?;
    let direction = params::direction_param(&p)?;
    let step = params::step_param(&p, start, end)?;
    let interval = params::duration_param(&p, "interval")?.unwrap_or(0);
    if interval < 0 {
        return Err(ApiError::bad_request("interval must be >= 0"));
    }
    let (_, expr) = parse_query(&p)?;
    let max_series = st.config.limits.max_query_series;
    let max_entries = st.config.limits.max_entries_limit_per_query;
    let metrics = st.metrics.clone();
    let started = Instant::now();
    match expr {
        Expr::Log(sel) => {
            if limit > max_entries {
                return Err(ApiError::bad_request(format!(
                    "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {max_entries})"
                )));
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let r = st
                .query(move |engine| {
                    // With an interval every line must be seen to pick one per
                    // interval, so the limit applies afterwards.
                    let read_limit = if interval > 0 { 0 } else { limit };
                    let mut r = LogEvaluator::new(&engine)
                        .select_logs(&tenant, &sel, start, end, direction, read_limit)
                        .map_err(eval_error)?;
                    if interval > 0 {
                        r.streams = one_per_interval(std::mem::take(&mut r.streams), direction, interval, limit);
                    }
                    Ok(r)
                })
                .await?;
            metrics.query_lines_processed.add(r.lines_processed);
            metrics.query_bytes_processed.add(r.bytes_processed);
            let mut out = String::new();
            json::push_streams(&mut out, &r.streams);
            let stats = QueryStats {
                exec_seconds: started.elapsed().as_secs_f64(),
                bytes_processed: r.bytes_processed,
                lines_processed: r.lines_processed,
                entries_returned: r.streams.iter().map(|s| s.entries.len() as u64).sum(),
            };
            Ok(json::response(json::query_envelope("streams", &out, &stats)))
        }
        Expr::Sample(e) => {
            let limits = MetricLimits { max_series, ..MetricLimits::default() };
            let step = Duration::from_nanos(u64::try_from(step).unwrap_or(1));
            let r = st
                .query(move |engine| eval_metric(&engine, &tenant, &e, start, end, step, &limits).map_err(metric_error))
                .await?;
            metric_response(&r, started)
        }
    }
}

/// Loki's `interval` for log queries: over all streams in query order,
/// an entry is kept when it is the first or at least `interval` ns past
/// (forward) or before (backward) the last kept one; at most `limit`.
fn one_per_interval(streams: Vec<LogStream>, direction: Direction, interval: i64, limit: usize) -> Vec<LogStream> {
    let forward = direction == Direction::Forward;
    let mut all: Vec<(i64, usize, bytes::Bytes)> = Vec::new();
    for (i, s) in streams.iter().enumerate() {
        all.extend(s.entries.iter().map(|(ts, line)| (*ts, i, line.clone())));
    }
    all.sort_by(|a, b| if forward { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) }.then(a.1.cmp(&b.1)));
    let mut kept: Vec<Vec<(i64, bytes::Bytes)>> = vec![Vec::new(); streams.len()];
    let (mut last, mut n) = (None::<i64>, 0usize);
    for (ts, i, line) in all {
        if limit > 0 && n >= limit {
            break;
        }
        let due = match last {
            None => true,
            Some(l) if forward => ts >= l.saturating_add(interval),
            Some(l) => ts <= l.saturating_sub(interval),
        };
        if due {
            kept[i].push((ts, line));
            last = Some(ts);
            n += 1;
        }
    }
    streams
        .into_iter()
        .zip(kept)
        .filter(|(_, k)| !k.is_empty())
        .map(|(s, entries)| LogStream { entries, ..s })
        .collect()
}

fn metric_response(r: &lokistore::logql::eval::metric::MetricResult, started: Instant) -> ApiResult<Response> {
    let mut out = String::new();
    let kind = json::push_metric(&mut out, r);
    let stats = QueryStats { exec_seconds: started.elapsed().as_secs_f64(), ..QueryStats::default() };
    Ok(json::response(json::query_envelope(kind, &out, &stats)))
}

pub async fn query(State(st): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    observed(&st, "query", query_inner(&st, method, uri, headers, body)).await
}

async fn query_inner(st: &AppState, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> ApiResult<Response> {
    let tenant = st.tenant(&headers)?;
    let p = request_params(st, &method, &uri, &headers, body).await?;
    let time = params::time_param(&p, "time", params::now_ns())?;
    params::limit_param(&p, 100)?;
    params::direction_param(&p)?;
    let (_, expr) = parse_query(&p)?;
    let Expr::Sample(e) = expr else {
        return Err(ApiError::bad_request(
            "log queries are not supported as an instant query type, please change your query to a range query type",
        ));
    };
    let limits = MetricLimits { max_series: st.config.limits.max_query_series, ..MetricLimits::default() };
    let started = Instant::now();
    let r = st
        .query(move |engine| {
            eval_metric(&engine, &tenant, &e, time, time, Duration::ZERO, &limits).map_err(metric_error)
        })
        .await?;
    metric_response(&r, started)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str, ts: &[i64]) -> LogStream {
        LogStream {
            labels: vec![lokistore::Label::new("s", name)],
            label_string: format!("{{s=\"{name}\"}}"),
            entries: ts.iter().map(|t| (*t, bytes::Bytes::from(t.to_string()))).collect(),
        }
    }

    fn times(streams: &[LogStream]) -> Vec<Vec<i64>> {
        streams.iter().map(|s| s.entries.iter().map(|e| e.0).collect()).collect()
    }

    #[test]
    fn interval_keeps_one_entry_per_interval_across_streams() {
        let got =
            one_per_interval(vec![stream("a", &[0, 3, 10]), stream("b", &[5, 6, 12])], Direction::Forward, 5, 100);
        assert_eq!(times(&got), [vec![0, 10], vec![5]]);
        let got = one_per_interval(vec![stream("a", &[10, 3, 0]), stream("b", &[12, 6, 5])], Direction::Backward, 5, 2);
        assert_eq!(times(&got), [vec![12, 6]]);
    }
}

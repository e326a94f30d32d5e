//! Metadata endpoints (`../shared/spec/http-api.md` §5, §7): label names
//! and values, series, index stats and volume, `format_query`, `buildinfo`.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use lokistore::index::VolumeAggregation;
use lokistore::{Labels, Matcher};

use crate::error::{ApiError, ApiResult};
use crate::json::{self, QueryStats};
use crate::params::{self, Params};
use crate::query::{observed, request_params};
use crate::state::AppState;

/// The stream matchers of a selector parameter; `{}` (or nothing) is none.
fn selector(q: Option<&str>) -> ApiResult<Vec<Matcher>> {
    match q.map(str::trim) {
        None | Some("{}") => Ok(Vec::new()),
        Some(q) => lokistore::logql::parse_log_selector(q)
            .map(|s| s.matchers)
            .map_err(|e| ApiError::bad_request(e.loki_message())),
    }
}

/// `{"status":"success","data":[…]}`, `data` left out when empty as Loki does.
fn string_list(items: &[String]) -> Response {
    let mut out = String::from(r#"{"status":"success""#);
    if !items.is_empty() {
        out.push_str(",\"data\":");
        json::push_str_array(&mut out, items.iter().map(String::as_str));
    }
    out.push('}');
    json::response(out)
}

/// The parameters of a request (see [`request_params`]).
async fn params_of(st: &AppState, req: Request) -> ApiResult<Params> {
    let (parts, body) = req.into_parts();
    request_params(st, &parts.method, &parts.uri, &parts.headers, body).await
}

/// The tenant, parameters and `[start, end]` range of a request.
async fn common(st: &AppState, req: Request) -> ApiResult<(lokistore::TenantId, Params, i64, i64)> {
    let tenant = st.tenant(req.headers())?;
    let p = params_of(st, req).await?;
    let (start, end) = params::range_params(&p)?;
    Ok((tenant, p, start, end))
}

pub async fn labels(State(st): State<AppState>, req: Request) -> Response {
    observed(&st, "labels", async {
        let (tenant, p, start, end) = common(&st, req).await?;
        let m = selector(p.get("query"))?;
        let names = st.query(move |e| e.label_names(&tenant, start, end, &m).map_err(ApiError::from_engine)).await?;
        Ok(string_list(&names))
    })
    .await
}

pub async fn label_values(
    State(st): State<AppState>,
    name: Result<Path<String>, axum::extract::rejection::PathRejection>,
    req: Request,
) -> Response {
    observed(&st, "label_values", async {
        let Path(name) = name.map_err(|e| ApiError::bad_request(format!("invalid label name in the path: {e}")))?;
        let (tenant, p, start, end) = common(&st, req).await?;
        let m = selector(p.get("query"))?;
        let values =
            st.query(move |e| e.label_values(&tenant, &name, start, end, &m).map_err(ApiError::from_engine)).await?;
        Ok(string_list(&values))
    })
    .await
}

pub async fn series(State(st): State<AppState>, req: Request) -> Response {
    observed(&st, "series", async {
        let (tenant, p, start, end) = common(&st, req).await?;
        let mut selectors = Vec::new();
        for q in p.all("match[]").chain(p.all("match")) {
            selectors.push(selector(Some(q))?);
        }
        if selectors.is_empty() {
            selectors.push(Vec::new());
        }
        let all = st
            .query(move |e| {
                let mut all: Vec<Labels> = Vec::new();
                for m in &selectors {
                    all.extend(e.series(&tenant, start, end, m).map_err(ApiError::from_engine)?);
                }
                all.sort();
                all.dedup();
                Ok(all)
            })
            .await?;
        let mut out = String::from(r#"{"status":"success","data":["#);
        for (i, l) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let pairs: Vec<lokistore::Label> = l.iter().cloned().collect();
            json::push_labels(&mut out, &pairs);
        }
        out.push_str("]}");
        Ok(json::response(out))
    })
    .await
}

pub async fn index_stats(State(st): State<AppState>, req: Request) -> Response {
    observed(&st, "index_stats", async {
        let (tenant, p, start, end) = common(&st, req).await?;
        let m = selector(p.get("query"))?;
        let s = st.query(move |e| e.stats(&tenant, start, end, &m).map_err(ApiError::from_engine)).await?;
        Ok(json::response(format!(
            r#"{{"streams":{},"chunks":{},"bytes":{},"entries":{}}}"#,
            s.streams, s.chunks, s.bytes, s.entries
        )))
    })
    .await
}

pub async fn index_volume(State(st): State<AppState>, req: Request) -> Response {
    observed(&st, "index_volume", volume(&st, req, false)).await
}

pub async fn index_volume_range(State(st): State<AppState>, req: Request) -> Response {
    observed(&st, "index_volume", volume(&st, req, true)).await
}

/// The metric object of a volume entry.
fn push_volume_metric(out: &mut String, name: &str, aggregate: VolumeAggregation) {
    match aggregate {
        VolumeAggregation::Labels => {
            out.push('{');
            json::push_str(out, name);
            out.push_str(":\"\"}");
        }
        _ => match Labels::parse(name) {
            Ok(l) => json::push_labels(out, &l.iter().cloned().collect::<Vec<_>>()),
            Err(_) => out.push_str("{}"),
        },
    }
}

/// `/index/volume` (one vector over `[start, end]`) and
/// `/index/volume_range` (a matrix: the volume of each `(t - step, t]`
/// window at every step `t` from `start + step` to `end`).
async fn volume(st: &AppState, req: Request, range: bool) -> ApiResult<Response> {
    let started = Instant::now();
    let (tenant, p, start, end) = common(st, req).await?;
    let m = selector(p.get("query"))?;
    let limit = match p.get("limit") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(0) => 100,
            Ok(n) => n,
            Err(e) => return Err(ApiError::bad_request(format!("could not parse 'limit' parameter: {e}"))),
        },
    };
    let targets: Vec<String> = p
        .get("targetLabels")
        .map(|t| t.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let aggregate = match p.get("aggregateBy") {
        None | Some("series") => VolumeAggregation::Series,
        Some("labels") => VolumeAggregation::Labels,
        Some(other) => {
            return Err(ApiError::bad_request(format!("invalid aggregateBy {other:?}: must be series or labels")));
        }
    };
    let step = if range { params::step_param(&p, start, end)? } else { 0 };
    // Per window (its end time), the volumes sorted by size.
    let windows = st
        .query(move |e| {
            let bounds: Vec<(i64, i64)> = if range {
                let mut b = Vec::new();
                let mut t = start.saturating_add(step);
                while t <= end {
                    b.push((t - step, t));
                    t = t.saturating_add(step);
                    if t == i64::MAX {
                        break;
                    }
                }
                b
            } else {
                vec![(start, end)]
            };
            let mut out = Vec::with_capacity(bounds.len());
            for (from, through) in bounds {
                let mut v = e.volume(&tenant, from, through, &m, &targets, aggregate).map_err(ApiError::from_engine)?;
                v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
                v.truncate(limit);
                out.push((through, v));
            }
            Ok(out)
        })
        .await?;
    let mut out = String::from("[");
    if range {
        // Series in order of first appearance, points in time order.
        let mut series: Vec<(String, Vec<(i64, u64)>)> = Vec::new();
        for (t, vols) in &windows {
            for v in vols {
                match series.iter_mut().find(|s| s.0 == v.name) {
                    Some(s) => s.1.push((*t, v.bytes)),
                    None => series.push((v.name.clone(), vec![(*t, v.bytes)])),
                }
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (name, points)) in series.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"metric\":");
            push_volume_metric(&mut out, name, aggregate);
            out.push_str(",\"values\":[");
            for (j, (t, bytes)) in points.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push('[');
                json::push_metric_ts(&mut out, t.div_euclid(1_000_000));
                let _ = write!(out, ",\"{bytes}\"]");
            }
            out.push_str("]}");
        }
    } else {
        for (t, vols) in &windows {
            for (i, vol) in vols.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                push_volume_metric(&mut out, &vol.name, aggregate);
                out.push_str(",\"value\":[");
                json::push_metric_ts(&mut out, t.div_euclid(1_000_000));
                let _ = write!(out, ",\"{}\"]}}", vol.bytes);
            }
        }
    }
    out.push(']');
    let stats = QueryStats { exec_seconds: started.elapsed().as_secs_f64(), ..QueryStats::default() };
    Ok(json::response(json::query_envelope(if range { "matrix" } else { "vector" }, &out, &stats)))
}

pub async fn format_query(State(st): State<AppState>, req: Request) -> Response {
    use axum::response::IntoResponse;
    let res: ApiResult<Response> = async {
        let p = params_of(&st, req).await?;
        let expr = lokistore::logql::parse_expr(p.get("query").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.loki_message()))?;
        let mut out = String::from(r#"{"status":"success","data":"#);
        json::push_str(&mut out, &expr.to_string());
        out.push('}');
        Ok(json::response(out))
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

pub async fn buildinfo() -> Response {
    json::response(format!(
        r#"{{"version":"{}","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":""}}"#,
        env!("CARGO_PKG_VERSION")
    ))
}

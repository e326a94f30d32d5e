//! `GET /loki/api/v1/tail` over a websocket (`../shared/spec/http-api.md`
//! §6). The engine has no push subscription, so a tail re-runs its log
//! query forward from a cursor: at once, after every push that stored
//! entries, and every second (with a ping). Entries are sent once, in
//! timestamp order; an entry that arrives with a timestamp older than
//! what was already sent is not tailed (the same query over `query_range`
//! finds it).

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use lokistore::logql::LogSelector;
use lokistore::logql::eval::{LogEvaluator, LogStream};
use lokistore::logql::{Expr, parse_expr};
use lokistore::{Direction, TenantId};

use crate::error::{ApiError, ApiResult};
use crate::json;
use crate::metrics::Metrics;
use crate::params::{self, Params};
use crate::query::eval_error;
use crate::state::AppState;

/// Most seconds `delay_for` may ask for.
const MAX_DELAY_SECONDS: i64 = 5;

struct Tail {
    tenant: TenantId,
    selector: LogSelector,
    limit: usize,
    delay_ns: i64,
    cursor: i64,
    /// (labels, line) already sent at the cursor's timestamp.
    sent_at_cursor: HashSet<(String, Vec<u8>)>,
}

pub async fn tail(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let i = Metrics::endpoint("tail");
    st.metrics.query_requests[i].inc();
    let prepared = prepare(&st, &method, &uri, &headers);
    let (tail, ws) = match (prepared, ws) {
        (Ok(t), Ok(ws)) => (t, ws),
        (Err(e), _) => {
            st.metrics.query_failures[i].inc();
            return e.into_response();
        }
        (_, Err(e)) => {
            st.metrics.query_failures[i].inc();
            return ApiError::bad_request(format!("tail needs a websocket upgrade: {e}")).into_response();
        }
    };
    ws.on_upgrade(move |socket| run(st, tail, socket))
}

fn prepare(st: &AppState, _method: &Method, uri: &Uri, headers: &HeaderMap) -> ApiResult<Tail> {
    let tenant = st.tenant(headers)?;
    let p = Params::parse(uri.query(), None)?;
    let limit = params::limit_param(&p, 100)?;
    if limit > st.config.limits.max_entries_limit_per_query {
        return Err(ApiError::bad_request(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {})",
            st.config.limits.max_entries_limit_per_query
        )));
    }
    let start = params::time_param(&p, "start", params::now_ns().saturating_sub(3_600_000_000_000))?;
    let delay = match p.get("delay_for") {
        None => 0,
        Some(s) => s
            .parse::<i64>()
            .map_err(|e| ApiError::bad_request(format!("could not parse 'delay_for' parameter: {e}")))?,
    };
    if delay > MAX_DELAY_SECONDS {
        return Err(ApiError::bad_request("delay_for can't be greater than 5"));
    }
    let expr = parse_expr(p.get("query").unwrap_or_default()).map_err(|e| ApiError::bad_request(e.loki_message()))?;
    let Expr::Log(selector) = expr else {
        return Err(ApiError::bad_request("tail requires a log query, not a metric query"));
    };
    Ok(Tail {
        tenant,
        selector,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        delay_ns: delay.max(0) * 1_000_000_000,
        cursor: start,
        sent_at_cursor: HashSet::new(),
    })
}

/// Runs the query from the cursor; returns the message to send (if any)
/// and whether the limit was reached (more may be waiting).
fn poll(engine: &lokistore::Engine, t: &mut Tail) -> ApiResult<(Option<String>, bool)> {
    let through = params::now_ns().saturating_sub(t.delay_ns);
    if through <= t.cursor {
        return Ok((None, false));
    }
    let res = LogEvaluator::new(engine)
        .with_threads(1)
        .select_logs(&t.tenant, &t.selector, t.cursor, through, Direction::Forward, t.limit)
        .map_err(eval_error)?;
    let full = res.streams.iter().map(|s| s.entries.len()).sum::<usize>() >= t.limit;
    let mut out: Vec<LogStream> = Vec::new();
    let mut newest = t.cursor;
    for s in res.streams {
        let entries: Vec<_> = s
            .entries
            .into_iter()
            .filter(|(ts, line)| {
                !(*ts == t.cursor && t.sent_at_cursor.contains(&(s.label_string.clone(), line.to_vec())))
            })
            .collect();
        if let Some((ts, _)) = entries.last() {
            newest = newest.max(*ts);
        }
        if !entries.is_empty() {
            out.push(LogStream { labels: s.labels, label_string: s.label_string, entries });
        }
    }
    if out.is_empty() {
        return Ok((None, false));
    }
    if newest != t.cursor {
        t.sent_at_cursor.clear();
        t.cursor = newest;
    }
    for s in &out {
        for (ts, line) in &s.entries {
            if *ts == newest {
                t.sent_at_cursor.insert((s.label_string.clone(), line.to_vec()));
            }
        }
    }
    let mut msg = String::from("{\"streams\":");
    json::push_streams(&mut msg, &out);
    msg.push('}');
    Ok((Some(msg), full))
}

async fn close_with_error(mut socket: WebSocket, e: ApiError) {
    let frame = CloseFrame { code: 1011, reason: e.message.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

async fn run(st: AppState, mut tail: Tail, mut socket: WebSocket) {
    let mut pushed = st.pushed.subscribe();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::debug!(tenant = tail.tenant.as_str(), "tail started");
    loop {
        let engine = st.engine.clone();
        let polled = tokio::task::spawn_blocking(move || {
            let r = poll(&engine, &mut tail);
            (tail, r)
        })
        .await;
        let (t, r) = match polled {
            Ok(x) => x,
            Err(e) => return close_with_error(socket, ApiError::internal(format!("tail task failed: {e}"))).await,
        };
        tail = t;
        let more = match r {
            Ok((msg, more)) => {
                if let Some(m) = msg
                    && socket.send(Message::Text(m.into())).await.is_err()
                {
                    return;
                }
                more
            }
            Err(e) => return close_with_error(socket, e).await,
        };
        if more {
            continue;
        }
        tokio::select! {
            msg = socket.recv() => match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
            changed = pushed.changed() => if changed.is_err() { break },
            _ = ticker.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    tracing::debug!("tail ended");
}

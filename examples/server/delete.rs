//! The delete API (`../shared/spec/compactor.md` §5.1): add a request
//! (`POST|PUT`), list a tenant's requests (`GET`), cancel one (`DELETE`).
//! Queries hide the deleted lines at once; the compactor (retention on)
//! removes them from storage after the cancellation period.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use lokistore::compactor::{DeleteError, delete_requests_json};

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::query::request_params;
use crate::state::AppState;

/// Loki's statuses for the delete API: unknown request 404, refused 400.
fn delete_error(e: lokistore::Error) -> ApiError {
    match e {
        lokistore::Error::Delete(DeleteError::NotFound) => {
            ApiError::new(StatusCode::NOT_FOUND, DeleteError::NotFound.to_string())
        }
        lokistore::Error::Delete(d @ DeleteError::Corrupt { .. }) => ApiError::internal(d.to_string()),
        lokistore::Error::Delete(d) => ApiError::bad_request(d.to_string()),
        other => ApiError::from_engine(other),
    }
}

/// The delete API's times: RFC 3339 or exactly ten digits of Unix seconds.
fn delete_time(p: &Params, name: &str) -> ApiResult<Option<i64>> {
    let Some(s) = p.get(name) else { return Ok(None) };
    let t = if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok().and_then(|v| v.checked_mul(1_000_000_000))
    } else {
        params::parse_rfc3339(s)
    };
    t.map(Some)
        .ok_or_else(|| ApiError::bad_request(format!("invalid {name} time: require unix seconds or RFC3339 format")))
}

pub async fn create(State(st): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let res: ApiResult<Response> = async {
        let tenant = st.tenant(&headers)?;
        let p = request_params(&st, &method, &uri, &headers, body).await?;
        let query = p.get("query").unwrap_or_default().to_owned();
        let Some(start) = delete_time(&p, "start")? else {
            return Err(ApiError::bad_request("start time not set"));
        };
        let end = delete_time(&p, "end")?.unwrap_or_else(params::now_ns);
        let max_interval = match p.get("max_interval") {
            None => None,
            Some(s) => {
                let invalid = || ApiError::bad_request(DeleteError::InvalidMaxInterval.to_string());
                let ns = lokistore::logql::parse_duration(s).map_err(|_| invalid())?;
                Some(std::time::Duration::from_nanos(u64::try_from(ns).map_err(|_| invalid())?))
            }
        };
        let t = tenant.clone();
        let req = st
            .blocking(move |e| {
                e.add_delete_request_with_interval(&t, &query, start, end, max_interval).map_err(delete_error)
            })
            .await?;
        tracing::info!(tenant = tenant.as_str(), request_id = %req.request_id, "delete request added");
        let mut resp = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&req.request_id) {
            resp.headers_mut().insert("x-delete-request-id", v);
        }
        Ok(resp)
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

pub async fn list(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let res: ApiResult<Response> = async {
        let tenant = st.tenant(&headers)?;
        let reqs = st.blocking(move |e| e.delete_requests(&tenant).map_err(delete_error)).await?;
        Ok(([(header::CONTENT_TYPE, "application/json; charset=UTF-8")], delete_requests_json(&reqs)).into_response())
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

pub async fn cancel(State(st): State<AppState>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let res: ApiResult<Response> = async {
        let tenant = st.tenant(&headers)?;
        let p = request_params(&st, &method, &uri, &headers, body).await?;
        let Some(id) = p.get("request_id").map(str::to_owned) else {
            return Err(ApiError::bad_request("request_id not set"));
        };
        let force = match p.get("force") {
            None => false,
            Some(v) => v
                .parse::<bool>()
                .map_err(|_| ApiError::bad_request(format!("invalid force value {v:?}: must be true or false")))?,
        };
        st.blocking(move |e| e.cancel_delete_request(&tenant, &id, force).map_err(delete_error)).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    res.unwrap_or_else(IntoResponse::into_response)
}

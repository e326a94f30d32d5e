//! The request's tenant (`../shared/spec/http-api.md` §1): with auth off
//! every request is tenant `fake`; with auth on `X-Scope-OrgID` is
//! required (401 `no org id`) and validated with Loki's rules (400).
//! Queries may name several tenants (`a|b`); this server answers them
//! only for a single tenant and refuses distinct ones with Loki's message.

use axum::http::{HeaderMap, StatusCode};
use lokistore::{TenantError, TenantId};

use crate::error::{ApiError, ApiResult};

/// The tenant used when authentication is off, as in Loki.
pub const NO_AUTH_TENANT: &str = "fake";

/// The tenant of a request.
pub fn tenant(headers: &HeaderMap, auth_enabled: bool) -> ApiResult<TenantId> {
    if !auth_enabled {
        return TenantId::new(NO_AUTH_TENANT).map_err(|e| ApiError::internal(e.to_string()));
    }
    let Some(value) = headers.get("x-scope-orgid") else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "no org id"));
    };
    let Ok(value) = value.to_str() else {
        return Err(ApiError::bad_request("X-Scope-OrgID is not valid ASCII"));
    };
    TenantId::from_org_id(value).map_err(|e| match e {
        TenantError::Empty => ApiError::new(StatusCode::UNAUTHORIZED, "no org id"),
        other => ApiError::bad_request(other.to_string()),
    })
}

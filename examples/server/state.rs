//! What every handler shares: the engine, the settings, the counters, and
//! the helper that runs synchronous engine work on the blocking pool.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use lokistore::{Engine, TenantId};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;

/// Shared server state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub query_timeout: Duration,
    /// Pings tail connections when a push stored entries.
    pub pushed: tokio::sync::watch::Sender<u64>,
}

impl AppState {
    /// The request's tenant.
    pub fn tenant(&self, headers: &HeaderMap) -> ApiResult<TenantId> {
        crate::tenant::tenant(headers, self.config.auth_enabled)
    }

    /// Runs `f` on the blocking pool. Engine work is synchronous.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Engine) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(engine))
            .await
            .map_err(|e| ApiError::internal(format!("engine task failed: {e}")))?
    }

    /// Runs `f` on the blocking pool with the query timeout: 504 when it
    /// takes longer (the evaluation finishes in the background).
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(Engine) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        match tokio::time::timeout(self.query_timeout, self.blocking(f)).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::timeout()),
        }
    }
}

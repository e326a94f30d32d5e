//! A Loki-compatible HTTP server over an embedded lokistore engine: push
//! (JSON and snappy protobuf), LogQL queries, metadata, tail, flush,
//! metrics. Grafana, Promtail / Alloy, logcli and Loki client libraries
//! talk to it as to a single-binary Loki.
//!
//! ```sh
//! cargo run --release --example server                     # 127.0.0.1:3100, ./data
//! cargo run --release --example server -- --listen 0.0.0.0:3100 --data-dir /var/lib/logs \
//!     --auth-enabled --config server.toml
//! ```
//!
//! The engine is synchronous: every handler runs engine work on tokio's
//! blocking pool. `SIGTERM` / `SIGINT` stop accepting requests, let
//! in-flight ones finish, then sync the WAL, flush and close the engine.
//!
//! | file | what |
//! |---|---|
//! | `config.rs` | flags, the TOML file, the engine's configuration |
//! | `state.rs` | shared state, blocking and timed execution |
//! | `tenant.rs` | `X-Scope-OrgID` and the no-auth tenant `fake` |
//! | `error.rs` | Loki's plain-text errors and status codes |
//! | `params.rs` | query parameters, timestamps, durations |
//! | `json.rs` | Loki's response JSON and the `stats` block |
//! | `proto.rs` | the push protobuf |
//! | `push.rs` | `/loki/api/v1/push` |
//! | `query.rs` | `/query`, `/query_range` |
//! | `meta.rs` | labels, label values, series, index stats, volume and volume range, `format_query`, `buildinfo` |
//! | `tail.rs` | `/tail` over a websocket |
//! | `delete.rs` | the delete API |
//! | `metrics.rs` | `/metrics` and the counting object store |

mod config;
mod delete;
mod error;
mod json;
mod meta;
mod metrics;
mod params;
mod proto;
mod push;
mod query;
mod state;
mod tail;
mod tenant;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lokistore::compactor::CompactorHandle;
use lokistore::{Compactor, CompactorConfig, Engine, ObjectStore, RetentionConfig, TenantRetention};

use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::{CountingStore, Metrics};
use crate::state::AppState;

fn main() {
    let level = std::env::var("LOKISTORE_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(serve(config)) {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
}

/// The object store the configuration names.
fn open_store(config: &Config) -> Result<Arc<dyn ObjectStore>, String> {
    match config.storage.kind.as_str() {
        #[cfg(feature = "s3")]
        "s3" => {
            let mut s3 = lokistore::store::S3Config::from_env(config.storage.bucket.clone());
            s3.prefix = config.storage.prefix.clone();
            Ok(Arc::new(lokistore::store::CloudStore::s3(&s3).map_err(|e| e.to_string())?))
        }
        #[cfg(not(feature = "s3"))]
        "s3" => {
            Err("storage.type = \"s3\" needs the `s3` feature: cargo run --features s3 --example server".to_owned())
        }
        _ => {
            let dir = config.storage.directory.clone().unwrap_or_else(|| config.data_dir.join("store"));
            Ok(Arc::new(lokistore::LocalFsStore::open(&dir).map_err(|e| format!("{}: {e}", dir.display()))?))
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let engine_config = config.engine()?;
    let metrics = Arc::new(Metrics::default());
    let store: Arc<dyn ObjectStore> =
        Arc::new(CountingStore { inner: open_store(&config)?, metrics: Arc::clone(&metrics) });
    let opened = Instant::now();
    let engine = tokio::task::spawn_blocking({
        let store = Arc::clone(&store);
        move || Engine::open_with_store(engine_config, store)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("opening the engine: {e}"))?;
    tracing::info!(
        data_dir = %config.data_dir.display(),
        streams = engine.num_streams(),
        seconds = opened.elapsed().as_secs_f64(),
        "engine open"
    );
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (pushed, _) = tokio::sync::watch::channel(0u64);
    let st = AppState {
        engine: engine.clone(),
        query_timeout: config.query_timeout(),
        config: Arc::new(config),
        metrics,
        pushed,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let compactor = spawn_compactor(&st, store)?;
    let app = router(st.clone());
    // Printed on stdout so that a parent process can wait for it.
    println!("lokistore server listening on http://{addr}");
    tracing::info!(%addr, auth_enabled = st.config.auth_enabled, "listening");
    let grace = st.config.shutdown_grace();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining requests");
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx;
    let served = tokio::select! {
        r = server => r.map_err(|e| e.to_string()),
        () = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(seconds = grace.as_secs_f64(), "requests still running after the shutdown grace period");
            Ok(())
        }
    };
    if let Some(c) = compactor {
        let _ = tokio::task::spawn_blocking(move || c.stop()).await;
    }
    let metrics = Arc::clone(&st.metrics);
    let closed = tokio::task::spawn_blocking(move || -> Result<(), String> {
        engine.sync().map_err(|e| format!("WAL sync: {e}"))?;
        metrics.wal_syncs.inc();
        let flushed = engine.flush().map_err(|e| format!("flush: {e}"))?;
        tracing::info!(chunks = flushed.chunks, entries = flushed.entries, "flushed");
        engine.close().map_err(|e| format!("close: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?;
    served?;
    closed?;
    tracing::info!("stopped");
    Ok(())
}

fn router(st: AppState) -> Router {
    let api = "/loki/api/v1";
    Router::new()
        .route(&format!("{api}/push"), post(push::push))
        .route(&format!("{api}/query"), get(query::query).post(query::query))
        .route(&format!("{api}/query_range"), get(query::query_range).post(query::query_range))
        .route(&format!("{api}/labels"), get(meta::labels).post(meta::labels))
        .route(&format!("{api}/label"), get(meta::labels).post(meta::labels))
        .route(&format!("{api}/label/{{name}}/values"), get(meta::label_values).post(meta::label_values))
        .route(&format!("{api}/series"), get(meta::series).post(meta::series))
        .route(&format!("{api}/index/stats"), get(meta::index_stats).post(meta::index_stats))
        .route(&format!("{api}/index/volume"), get(meta::index_volume).post(meta::index_volume))
        .route(&format!("{api}/index/volume_range"), get(meta::index_volume_range).post(meta::index_volume_range))
        .route(&format!("{api}/format_query"), get(meta::format_query).post(meta::format_query))
        .route(&format!("{api}/status/buildinfo"), get(meta::buildinfo))
        .route(&format!("{api}/tail"), get(tail::tail))
        .route(
            &format!("{api}/delete"),
            get(delete::list).post(delete::create).put(delete::create).delete(delete::cancel),
        )
        .route("/flush", get(flush).post(flush))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/config", get(config_text))
        .fallback(not_found)
        .with_state(st)
        .layer(axum::middleware::from_fn(log_request))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::new(StatusCode::NOT_FOUND, format!("404 page not found: {}", uri.path())).into_response()
}

/// Ready once listening: the engine (WAL replayed, index loaded) opens
/// before the listener does.
async fn ready() -> Response {
    "ready\n".into_response()
}

/// Logs each request at debug level (`LOKISTORE_LOG=debug`).
async fn log_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(
        %method,
        path,
        status = resp.status().as_u16(),
        seconds = started.elapsed().as_secs_f64(),
        "request"
    );
    resp
}

/// Runs a flush and counts it.
fn flush_now(engine: &Engine, metrics: &Metrics) -> Result<lokistore::engine::FlushStats, lokistore::Error> {
    let started = Instant::now();
    metrics.flushes.inc();
    let res = engine.flush();
    metrics.flush_duration.observe(started.elapsed());
    match &res {
        Ok(s) => {
            metrics.flushed_chunks.add(s.chunks as u64);
            metrics.flushed_bytes.add(s.chunk_bytes as u64);
        }
        Err(_) => metrics.flush_failures.inc(),
    }
    res
}

async fn flush(State(st): State<AppState>) -> Response {
    let metrics = Arc::clone(&st.metrics);
    match st.blocking(move |e| flush_now(&e, &metrics).map_err(ApiError::from_engine)).await {
        Ok(s) => {
            tracing::info!(chunks = s.chunks, entries = s.entries, index_files = s.index_files, "flush");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    let metrics = Arc::clone(&st.metrics);
    match st.blocking(move |e| Ok(metrics.render(&e))).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn config_text(State(st): State<AppState>) -> Response {
    match toml::to_string(&*st.config) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// With a retention period, runs the compactor (retention and delete
/// requests included) on its own thread now and every
/// `compaction_interval` (default 10m), reloading the engine's view of the
/// index after each pass. Stopped (after a pass in progress) at shutdown.
fn spawn_compactor(st: &AppState, store: Arc<dyn ObjectStore>) -> Result<Option<CompactorHandle>, String> {
    let Some(period) = st.config.retention_period()? else { return Ok(None) };
    let r = &st.config.retention;
    let interval =
        config::duration("retention.compaction_interval", &r.compaction_interval)?.unwrap_or(Duration::from_secs(600));
    let mut retention =
        RetentionConfig { defaults: TenantRetention::with_period(period), ..RetentionConfig::default() };
    if let Some(d) = config::duration("retention.delete_delay", &r.delete_delay)? {
        retention.delete_delay = d;
    }
    let compactor = Compactor::new(store, CompactorConfig { retention: Some(retention), ..CompactorConfig::default() });
    let (engine, metrics) = (st.engine.clone(), Arc::clone(&st.metrics));
    tracing::info!(retention = ?period, every = ?interval, "compactor enabled");
    Ok(Some(compactor.spawn_with(interval, move |res| {
        metrics.compactions.inc();
        match res {
            Ok(r) => {
                tracing::info!(
                    tables = r.tables_compacted,
                    chunks_marked = r.chunks_marked,
                    chunks_deleted = r.chunks_deleted,
                    "compaction"
                );
                if let Err(e) = engine.refresh_index() {
                    tracing::warn!(error = %e, "reloading the index after compaction failed");
                }
            }
            Err(e) => {
                metrics.compaction_failures.inc();
                tracing::warn!(error = %e, "compaction failed");
            }
        }
    })))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

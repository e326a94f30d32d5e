//! The server's settings: command-line flags over an optional TOML file
//! over defaults. Durations are strings in Prometheus form (`30s`, `1h30m`,
//! `7d`); sizes are bytes.
//!
//! ```toml
//! listen = "127.0.0.1:3100"
//! data_dir = "./data"
//! auth_enabled = false
//!
//! [server]           # request bounds
//! [limits]           # Loki's limits_config names
//! [chunks]           # encoding, block and target sizes, max_chunk_age, chunk_idle_period
//! [wal]              # sync = "per_push" | "interval" | "never", sync_interval, checkpoint_interval
//! [flush]            # interval (cut idle chunks, flush, checkpoint), memory_budget
//! [retention]        # period, delete_delay, compaction_interval
//! [storage]          # type = "local" (directory) | "s3" (bucket, prefix; endpoint and keys from AWS_*)
//! ```

use std::path::PathBuf;
use std::time::Duration;

use lokistore::engine::EngineConfig;
use lokistore::{ChunkConfig, ChunkFormat, Encoding, SyncMode};
use serde::{Deserialize, Serialize};

/// Everything the server reads from its flags and file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Data directory (WAL, and the local object store by default).
    pub data_dir: PathBuf,
    /// Require `X-Scope-OrgID`; when false every request is tenant `fake`.
    pub auth_enabled: bool,
    pub server: ServerConfig,
    pub limits: LimitsConfig,
    pub chunks: ChunksConfig,
    pub wal: WalConfig,
    pub flush: FlushConfig,
    pub retention: RetentionConfig,
    pub storage: StorageConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:3100".to_owned(),
            data_dir: PathBuf::from("./data"),
            auth_enabled: false,
            server: ServerConfig::default(),
            limits: LimitsConfig::default(),
            chunks: ChunksConfig::default(),
            wal: WalConfig::default(),
            flush: FlushConfig::default(),
            retention: RetentionConfig::default(),
            storage: StorageConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Largest request body as received (Loki's `grpc_server_max_recv_msg_size`, 100 MiB).
    pub max_request_body_bytes: usize,
    /// Largest push body after decompression.
    pub max_decompressed_bytes: usize,
    /// Time allowed for one query (Loki's `query_timeout`, 1m); 504 after.
    pub query_timeout: String,
    /// Time allowed for in-flight requests at shutdown.
    pub shutdown_grace: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 100 << 20,
            max_decompressed_bytes: 500 << 20,
            query_timeout: "1m".to_owned(),
            shutdown_grace: "30s".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_line_size: usize,
    pub max_line_size_truncate: bool,
    pub max_label_names_per_series: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub allow_structured_metadata: bool,
    pub max_structured_metadata_size: usize,
    pub max_structured_metadata_entries_count: usize,
    /// Active streams per tenant; 0 = no limit.
    pub max_streams_per_user: usize,
    /// Tenant ingestion rate in MB/s; 0 = no limit.
    pub ingestion_rate_mb: f64,
    pub ingestion_burst_size_mb: f64,
    /// Per-stream rate in MB/s; 0 = no limit.
    pub per_stream_rate_limit_mb: f64,
    pub per_stream_rate_limit_burst_mb: f64,
    /// Off by default: an embedded store accepts old samples.
    pub reject_old_samples: bool,
    pub reject_old_samples_max_age: String,
    /// Entries newer than now plus this are refused; empty = no check.
    pub creation_grace_period: String,
    pub max_entries_limit_per_query: u64,
    pub max_query_series: usize,
    /// Labels `service_name` is copied from when a stream has none (Loki's
    /// `discover_service_name`); empty turns the rule off.
    pub discover_service_name: Vec<String>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = lokistore::Limits::default();
        Self {
            max_line_size: l.max_line_size,
            max_line_size_truncate: l.max_line_size_truncate,
            max_label_names_per_series: l.labels.max_label_names_per_series,
            max_label_name_length: l.labels.max_label_name_length,
            max_label_value_length: l.labels.max_label_value_length,
            allow_structured_metadata: l.allow_structured_metadata,
            max_structured_metadata_size: l.max_structured_metadata_size,
            max_structured_metadata_entries_count: l.max_structured_metadata_entries,
            max_streams_per_user: l.max_streams_per_tenant,
            ingestion_rate_mb: 0.0,
            ingestion_burst_size_mb: 6.0,
            per_stream_rate_limit_mb: 0.0,
            per_stream_rate_limit_burst_mb: 15.0,
            reject_old_samples: false,
            reject_old_samples_max_age: "7d".to_owned(),
            creation_grace_period: "10m".to_owned(),
            max_entries_limit_per_query: 5000,
            max_query_series: 500,
            discover_service_name: [
                "service",
                "app",
                "application",
                "app_name",
                "name",
                "app_kubernetes_io_name",
                "container",
                "container_name",
                "k8s_container_name",
                "component",
                "workload",
                "job",
                "k8s_job_name",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChunksConfig {
    /// Block compression: none, gzip, lz4-64k, snappy, lz4-256k, lz4-1M, lz4, flate, zstd.
    pub encoding: String,
    pub block_size: usize,
    pub target_size: usize,
    pub max_chunk_age: String,
    pub chunk_idle_period: String,
}

impl Default for ChunksConfig {
    fn default() -> Self {
        let c = ChunkConfig::default();
        Self {
            encoding: c.encoding.name().to_owned(),
            block_size: c.block_size,
            target_size: c.target_size,
            max_chunk_age: "2h".to_owned(),
            chunk_idle_period: "30m".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// `per_push` (fsync before a push is answered, group commit),
    /// `interval` (every `sync_interval`) or `never`.
    pub sync: String,
    pub sync_interval: String,
    pub checkpoint_interval: String,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self { sync: "per_push".to_owned(), sync_interval: "1s".to_owned(), checkpoint_interval: "5m".to_owned() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlushConfig {
    /// How often idle and old chunks are cut and closed chunks flushed; empty = never.
    pub interval: String,
    /// Heap budget for unflushed data and the chunk cache; 0 = none.
    pub memory_budget: usize,
    /// Bytes of decoded stored chunks cached for queries.
    pub chunk_cache_bytes: usize,
}

impl Default for FlushConfig {
    fn default() -> Self {
        Self { interval: "1m".to_owned(), memory_budget: 0, chunk_cache_bytes: 256 << 20 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// `retention_period`; empty or `0s` keeps data forever (no compactor runs).
    pub period: String,
    /// How long deleted chunk objects stay before the sweeper removes them.
    pub delete_delay: String,
    /// How often the compactor runs.
    pub compaction_interval: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` or `s3`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Local store directory; default `<data_dir>/store`.
    pub directory: Option<PathBuf>,
    /// S3 bucket (endpoint, region and credentials come from `AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
    pub bucket: String,
    /// Key prefix inside the bucket.
    pub prefix: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { kind: "local".to_owned(), directory: None, bucket: String::new(), prefix: String::new() }
    }
}

/// Parses a Prometheus duration; empty means `None`.
pub fn duration(name: &str, s: &str) -> Result<Option<Duration>, String> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    lokistore::logql::parse_prom_duration(s.trim()).map(Some).map_err(|e| format!("{name}: {e}"))
}

fn required(name: &str, s: &str) -> Result<Duration, String> {
    duration(name, s)?.ok_or_else(|| format!("{name}: a duration is required"))
}

const USAGE: &str = "usage: server [--listen ADDR] [--data-dir DIR] [--auth-enabled] [--config FILE]";

impl Config {
    /// Flags (which override the file named by `--config`) over defaults.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let (mut listen, mut data_dir, mut auth, mut file) = (None, None, false, None);
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (a.clone(), None),
            };
            let mut value =
                |name: &str| inline.clone().or_else(|| it.next()).ok_or(format!("{name} needs a value\n{USAGE}"));
            match flag.as_str() {
                "--listen" => listen = Some(value("--listen")?),
                "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
                "--config" => file = Some(PathBuf::from(value("--config")?)),
                "--auth-enabled" => auth = true,
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str::<Config>(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        if let Some(l) = listen {
            config.listen = l;
        }
        if let Some(d) = data_dir {
            config.data_dir = d;
        }
        config.auth_enabled |= auth;
        config.engine()?; // validates every setting before anything starts
        Ok(config)
    }

    /// The engine's configuration.
    pub fn engine(&self) -> Result<EngineConfig, String> {
        let mut c = EngineConfig::new(&self.data_dir);
        let l = &self.limits;
        let lim = &mut c.limits;
        lim.max_line_size = l.max_line_size;
        lim.max_line_size_truncate = l.max_line_size_truncate;
        lim.labels.max_label_names_per_series = l.max_label_names_per_series;
        lim.labels.max_label_name_length = l.max_label_name_length;
        lim.labels.max_label_value_length = l.max_label_value_length;
        lim.allow_structured_metadata = l.allow_structured_metadata;
        lim.max_structured_metadata_size = l.max_structured_metadata_size;
        lim.max_structured_metadata_entries = l.max_structured_metadata_entries_count;
        lim.max_streams_per_tenant = l.max_streams_per_user;
        let mb = |v: f64| v * 1024.0 * 1024.0;
        lim.ingestion_rate_bytes = (l.ingestion_rate_mb > 0.0).then(|| mb(l.ingestion_rate_mb));
        lim.ingestion_burst_bytes = mb(l.ingestion_burst_size_mb);
        lim.per_stream_rate_bytes = (l.per_stream_rate_limit_mb > 0.0).then(|| mb(l.per_stream_rate_limit_mb));
        lim.per_stream_burst_bytes = mb(l.per_stream_rate_limit_burst_mb);
        lim.reject_old_samples_max_age = if l.reject_old_samples {
            Some(required("limits.reject_old_samples_max_age", &l.reject_old_samples_max_age)?)
        } else {
            None
        };
        lim.creation_grace_period = duration("limits.creation_grace_period", &l.creation_grace_period)?;
        if l.max_entries_limit_per_query == 0 {
            return Err("limits.max_entries_limit_per_query must be positive".to_owned());
        }

        let ch = &self.chunks;
        let encoding: Encoding = ch.encoding.parse().map_err(|e| format!("chunks.encoding: {e}"))?;
        c.stream.chunk =
            ChunkConfig::new(ChunkFormat::V4, encoding).with_block_size(ch.block_size).with_target_size(ch.target_size);
        c.stream.max_chunk_age = required("chunks.max_chunk_age", &ch.max_chunk_age)?;
        c.chunk_idle_period = required("chunks.chunk_idle_period", &ch.chunk_idle_period)?;

        c.wal.sync = match self.wal.sync.as_str() {
            "per_push" => SyncMode::PerPush,
            "interval" => SyncMode::Interval(required("wal.sync_interval", &self.wal.sync_interval)?),
            "never" => SyncMode::Never,
            other => return Err(format!("wal.sync: {other:?} is not per_push, interval or never")),
        };
        c.wal.checkpoint_interval = duration("wal.checkpoint_interval", &self.wal.checkpoint_interval)?;

        c.maintenance_interval = duration("flush.interval", &self.flush.interval)?;
        c.memory_budget = (self.flush.memory_budget > 0).then_some(self.flush.memory_budget);
        c.chunk_cache_bytes = self.flush.chunk_cache_bytes;

        self.retention_period()?;
        duration("retention.delete_delay", &self.retention.delete_delay)?;
        duration("retention.compaction_interval", &self.retention.compaction_interval)?;
        duration("server.query_timeout", &self.server.query_timeout)?;
        duration("server.shutdown_grace", &self.server.shutdown_grace)?;
        match self.storage.kind.as_str() {
            "local" => {}
            "s3" if self.storage.bucket.is_empty() => return Err("storage.bucket is required for s3".to_owned()),
            "s3" => {}
            other => return Err(format!("storage.type: {other:?} is not local or s3")),
        }
        Ok(c)
    }

    /// The retention period, when retention is on.
    pub fn retention_period(&self) -> Result<Option<Duration>, String> {
        Ok(duration("retention.period", &self.retention.period)?.filter(|d| !d.is_zero()))
    }

    /// The query timeout (default one minute).
    pub fn query_timeout(&self) -> Duration {
        duration("", &self.server.query_timeout).ok().flatten().unwrap_or(Duration::from_secs(60))
    }

    /// The time in-flight requests get at shutdown.
    pub fn shutdown_grace(&self) -> Duration {
        duration("", &self.server.shutdown_grace).ok().flatten().unwrap_or(Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:1\"\n[limits]\nmax_line_size = 10\n[wal]\nsync = \"never\"\n")
            .unwrap();
        let c =
            Config::from_args(args(&["--config", file.to_str().unwrap(), "--listen=127.0.0.1:9", "--auth-enabled"]))
                .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9");
        assert!(c.auth_enabled);
        let e = c.engine().unwrap();
        assert_eq!(e.limits.max_line_size, 10);
        assert_eq!(e.wal.sync, SyncMode::Never);
        assert_eq!(e.limits.reject_old_samples_max_age, None);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Config::from_args(args(&["--bogus"])).is_err());
        assert!(Config::from_args(args(&["--listen"])).is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[wal]\nsync = \"sometimes\"\n").unwrap();
        assert!(Config::from_args(args(&["--config", file.to_str().unwrap()])).is_err());
        std::fs::write(&file, "unknown = 1\n").unwrap();
        assert!(Config::from_args(args(&["--config", file.to_str().unwrap()])).is_err());
    }
}

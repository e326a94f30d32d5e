//! The generated workload shared by the benches and the WAL tests: a small
//! deterministic PRNG and realistic log lines (mixed logfmt, JSON and access
//! log, ~150 bytes), so runs are comparable. Included with `#[path]`.

#![allow(dead_code, reason = "each includer uses a different part")]

/// A small deterministic PRNG (xorshift64*).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// `digits` (at most 16) random hex digits.
    pub fn hex(&mut self, digits: usize) -> String {
        format!("{:016x}", self.next())[..digits.min(16)].to_owned()
    }

    /// A trace id (32 hex digits).
    pub fn trace_id(&mut self) -> String {
        format!("{:016x}{:016x}", self.next(), self.next())
    }

    /// A span id (16 hex digits).
    pub fn span_id(&mut self) -> String {
        self.hex(16)
    }
}

/// One log line at `ts_ns`: logfmt, JSON or access-log shaped.
pub fn log_line(rng: &mut Rng, ts_ns: i64) -> String {
    const LEVELS: &[&str] = &["debug", "info", "info", "info", "warn", "error"];
    const PATHS: &[&str] =
        &["/api/v1/orders", "/api/v1/orders/8812", "/api/v1/users/login", "/healthz", "/metrics", "/api/v2/cart/items"];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    const MSGS: &[&str] = &[
        "request completed",
        "cache miss, fetching from upstream",
        "retrying connection to database",
        "user session refreshed",
        "payment authorized",
    ];
    const AGENTS: &[&str] =
        &["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "Go-http-client/1.1", "kube-probe/1.29"];
    let ms = (ts_ns / 1_000_000) % 1000;
    let secs = (ts_ns / 1_000_000_000) % 3600;
    match rng.below(3) {
        0 => format!(
            "ts=2024-01-15T10:{:02}:{:02}.{ms:03}Z level={} caller=handler.go:{} msg=\"{}\" method={} path={} \
             duration={}ms status={} bytes={}",
            secs / 60,
            secs % 60,
            rng.pick(LEVELS),
            rng.below(400),
            rng.pick(MSGS),
            rng.pick(METHODS),
            rng.pick(PATHS),
            rng.below(900),
            [200, 200, 201, 404, 500][rng.below(5) as usize],
            rng.below(1 << 16),
        ),
        1 => format!(
            "{{\"ts\":\"2024-01-15T10:{:02}:{:02}.{ms:03}Z\",\"level\":\"{}\",\"msg\":\"{}\",\"path\":\"{}\",\
             \"user_id\":{},\"bytes\":{},\"region\":\"eu-west-1\"}}",
            secs / 60,
            secs % 60,
            rng.pick(LEVELS),
            rng.pick(MSGS),
            rng.pick(PATHS),
            rng.below(100_000),
            rng.below(1 << 20),
        ),
        _ => format!(
            "10.{}.{}.{} - - [15/Jan/2024:10:{:02}:{:02} +0000] \"{} {} HTTP/1.1\" {} {} \"-\" \"{}\"",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            secs / 60,
            secs % 60,
            rng.pick(METHODS),
            rng.pick(PATHS),
            [200, 200, 304, 404][rng.below(4) as usize],
            rng.below(50_000),
            rng.pick(AGENTS),
        ),
    }
}

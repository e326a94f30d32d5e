//! Running the example server (`examples/server/`) as a child process for
//! end-to-end tests: building it, starting it on a free port over a
//! temporary data directory, a small blocking HTTP/1.1 client, a minimal
//! websocket reader, and the push protobuf for a Rust client.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server binary, built once per test process with this test's
/// features (so the library is not rebuilt).
pub fn server_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
        let bin = profile_dir.join("examples").join(format!("server{}", std::env::consts::EXE_SUFFIX));
        let target = profile_dir.parent().unwrap();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--quiet", "--example", "server", "--target-dir"]).arg(target);
        let features: Vec<&str> = [
            ("internals", cfg!(feature = "internals")),
            ("cloud", cfg!(feature = "cloud")),
            ("s3", cfg!(feature = "s3")),
            ("gcs", cfg!(feature = "gcs")),
            ("azure", cfg!(feature = "azure")),
        ]
        .into_iter()
        .filter_map(|(f, on)| on.then_some(f))
        .collect();
        if !features.is_empty() {
            cmd.args(["--features", &features.join(",")]);
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        match cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status() {
            Ok(status) => assert!(status.success(), "building the example server failed"),
            Err(e) => assert!(bin.exists(), "cannot run cargo to build the example server: {e}"),
        }
        bin
    })
    .clone()
}

/// A running server; stopped with SIGTERM (then killed) when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server over a new temporary data directory with `config` (TOML,
    /// may be empty) and extra flags.
    pub fn start(config: &str, flags: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut s = Server::start_in(&data, dir.path(), config, flags);
        s._dir = Some(dir);
        s
    }

    /// A server over `data_dir`, its config file written in `work`.
    pub fn start_in(data_dir: &Path, work: &Path, config: &str, flags: &[&str]) -> Server {
        let config_path = work.join("server.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(server_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(&config_path)
            .args(flags)
            .env("LOKISTORE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the example server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(a) = l.strip_prefix("lokistore server listening on http://") {
                        break a.trim().to_owned();
                    }
                }
                _ => {
                    let status = child.wait().ok();
                    panic!("the server exited before listening: {status:?}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server { child: Some(child), addr, data_dir: data_dir.to_owned(), _dir: None }
    }

    /// A request to this server.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        http(&self.addr, method, path, headers, body)
    }

    /// `GET path` with `X-Scope-OrgID: tenant` when given.
    pub fn get(&self, path: &str, tenant: Option<&str>) -> Response {
        let h: Vec<(&str, &str)> = tenant.map(|t| ("X-Scope-OrgID", t)).into_iter().collect();
        self.request("GET", path, &h, b"")
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().is_ok_and(|s| s.success());
        if !sent {
            let _ = child.kill();
        }
        child.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query parameter value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    // A guard against a hung server, not a timing assertion.
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    s
}

/// One HTTP/1.1 request on a new connection (`Connection: close`).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut s = connect(addr);
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // The server may answer (413) before reading a large body.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Response {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no HTTP header in the answer: {:?}", String::from_utf8_lossy(raw));
    });
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..i]).trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[i + 2..i + 2 + size]);
            rest = &rest[i + 2 + size + 2..];
        }
        body = out;
    }
    Response { status, headers, body }
}

/// A websocket connection reading text messages (pings are skipped).
pub struct WebSocket {
    stream: TcpStream,
}

impl WebSocket {
    /// Opens `path` as a websocket; `Err` with the HTTP answer when the
    /// server refuses the upgrade.
    pub fn connect(addr: &str, path: &str, headers: &[(&str, &str)]) -> Result<WebSocket, Response> {
        let mut s = connect(addr);
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).unwrap() == 0 {
                break;
            }
            head.push(byte[0]);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            // The connection stays open: read just the announced body.
            let mut r = parse_response(&head);
            let len: usize = r.header("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut body = vec![0u8; len];
            s.read_exact(&mut body).unwrap();
            r.body = body;
            return Err(r);
        }
        Ok(WebSocket { stream: s })
    }

    /// The next text message; `None` at a close frame or the end.
    pub fn next_text(&mut self) -> Option<String> {
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).ok()?;
            let opcode = h[0] & 0x0f;
            let mut len = u64::from(h[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).ok()?;
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).ok()?;
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            self.stream.read_exact(&mut payload).ok()?;
            match opcode {
                0x1 => return Some(String::from_utf8(payload).unwrap()),
                0x8 => return None,
                _ => {} // ping, pong, binary
            }
        }
    }

    /// Sends a close frame (masked, as a client must).
    pub fn close(mut self) {
        let _ = self.stream.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
    }
}

/// The push protobuf (`logproto.PushRequest`), as the server declares it.
#[allow(dead_code)]
#[path = "../../examples/server/proto.rs"]
mod proto;

/// The push protobuf messages and their wire encoding.
pub mod logproto {
    pub use super::proto::{EntryAdapter, LabelPairAdapter, PushRequest, StreamAdapter, Timestamp};

    /// A snappy-block-compressed encoding, as Promtail sends it.
    pub fn encode(req: &PushRequest) -> Vec<u8> {
        let raw = prost::Message::encode_to_vec(req);
        snap::raw::Encoder::new().compress_vec(&raw).unwrap()
    }
}

/// Now in Unix nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64
}

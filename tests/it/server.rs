//! End-to-end tests of the example server (`examples/server/`) as a
//! process: pushes from a Rust protobuf client, JSON (plain, gzip,
//! deflate) and the Python `python-logging-loki` handler; queries,
//! metadata, tail, deletes, flush, metrics; bad requests answered with
//! clear 4xx while the server and other tenants carry on; a graceful
//! shutdown that leaves everything flushed; the README's curl examples.

use std::io::Write;
use std::process::Command;

use serde_json::{Value, json};

use crate::server_support::{Server, WebSocket, encode, logproto, now_ns, query_string};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const PROTO: (&str, &str) = ("Content-Type", "application/x-protobuf");

fn tenant(t: &str) -> (&'static str, &str) {
    ("X-Scope-OrgID", t)
}

fn push_json(s: &Server, t: &str, body: &Value) -> crate::server_support::Response {
    s.request("POST", "/loki/api/v1/push", &[JSON, tenant(t)], body.to_string().as_bytes())
}

fn range_path(query: &str, start: i64, end: i64, extra: &[(&str, String)]) -> String {
    let mut p = vec![("query", query.to_owned()), ("start", start.to_string()), ("end", end.to_string())];
    p.extend(extra.iter().cloned());
    format!("/loki/api/v1/query_range?{}", query_string(&p))
}

/// `(labels, [(ts, line)])` of a streams answer.
fn streams(v: &Value) -> Vec<(Value, Vec<(String, String)>)> {
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["data"]["resultType"], "streams", "{v}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let values = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e[0].as_str().unwrap().to_owned(), e[1].as_str().unwrap().to_owned()))
                .collect();
            (s["stream"].clone(), values)
        })
        .collect()
}

fn lines(v: &Value) -> Vec<String> {
    let mut out: Vec<(String, String)> = streams(v).into_iter().flat_map(|s| s.1).collect();
    out.sort();
    out.into_iter().map(|e| e.1).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An entry for [`proto_push`]: timestamp, line, structured metadata.
type ProtoEntry<'a> = (i64, &'a str, &'a [(&'a str, &'a str)]);

fn proto_push(labels: &str, entries: &[ProtoEntry<'_>]) -> logproto::PushRequest {
    logproto::PushRequest {
        streams: vec![logproto::StreamAdapter {
            labels: labels.to_owned(),
            entries: entries
                .iter()
                .map(|(ts, line, md)| logproto::EntryAdapter {
                    timestamp: Some(logproto::Timestamp {
                        seconds: ts.div_euclid(1_000_000_000),
                        nanos: ts.rem_euclid(1_000_000_000) as i32,
                    }),
                    line: line.as_bytes().to_vec(),
                    structured_metadata: md
                        .iter()
                        .map(|(k, v)| logproto::LabelPairAdapter { name: (*k).to_owned(), value: (*v).to_owned() })
                        .collect(),
                    parsed: Vec::new(),
                })
                .collect(),
            hash: 0,
        }],
        format: String::new(),
    }
}

#[test]
fn server_pushes_every_encoding_and_answers_queries() {
    let s = Server::start("[limits]\ndiscover_service_name = []\n", &["--auth-enabled"]);
    let t0 = now_ns() - 60_000_000_000;
    let ms = 1_000_000;
    // JSON with structured metadata.
    let r = push_json(
        &s,
        "team-a",
        &json!({"streams": [{"stream": {"app": "web", "env": "prod"}, "values": [
            [(t0).to_string(), "GET /a 200"],
            [(t0 + ms).to_string(), "GET /b 500", {"trace_id": "t1"}],
        ]}]}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // Protobuf + snappy from a Rust client.
    let body = logproto::encode(&proto_push(
        r#"{app="web", env="prod", empty=""}"#,
        &[(t0 + 2 * ms, "POST /c 201", &[("trace_id", "t2")]), (t0 + 3 * ms, "GET /d 404", &[])],
    ));
    let r = s.request("POST", "/loki/api/v1/push", &[PROTO, tenant("team-a")], &body);
    assert_eq!(r.status, 204, "{}", r.text());
    // gzip JSON and deflate protobuf.
    let j = json!({"streams": [{"stream": {"app": "web", "env": "prod"}, "values": [[(t0 + 4 * ms).to_string(), "gzip <line>"]]}]});
    let r = s.request(
        "POST",
        "/loki/api/v1/push",
        &[JSON, tenant("team-a"), ("Content-Encoding", "gzip")],
        &gzip(j.to_string().as_bytes()),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    let body = logproto::encode(&proto_push(r#"{app="web", env="prod"}"#, &[(t0 + 5 * ms, "deflate line", &[])]));
    let r = s.request(
        "POST",
        "/loki/api/v1/push",
        &[PROTO, tenant("team-a"), ("Content-Encoding", "deflate")],
        &deflate(&body),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // Another tenant's stream with the same labels.
    let r = push_json(
        &s,
        "team-b",
        &json!({"streams": [{"stream": {"app": "web", "env": "prod"}, "values": [[t0.to_string(), "other tenant"]]}]}),
    );
    assert_eq!(r.status, 204, "{}", r.text());

    let (start, end) = (t0 - 1_000_000_000, t0 + 10_000_000_000);
    let r = s.get(&range_path(r#"{app="web"}"#, start, end, &[("direction", "forward".into())]), Some("team-a"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert!(r.text().contains(r#""gzip \u003cline\u003e""#), "HTML characters are escaped as Loki does: {}", r.text());
    let v = r.json();
    assert_eq!(lines(&v), ["GET /a 200", "GET /b 500", "POST /c 201", "GET /d 404", "gzip <line>", "deflate line"]);
    let with_trace: Vec<_> = streams(&v).into_iter().filter(|s| s.0.get("trace_id").is_some()).collect();
    assert_eq!(with_trace.len(), 2, "structured metadata is part of the stream labels: {v}");
    assert!(streams(&v).iter().all(|s| s.0.get("empty").is_none()), "empty label values are dropped");
    assert_eq!(v["data"]["stats"]["summary"]["totalEntriesReturned"], 6);
    assert!(v["data"]["stats"]["ingester"]["store"]["chunk"].is_object());

    // The same query as a form POST, and a pipeline.
    let form = query_string(&[
        ("query", r#"{app="web"} | trace_id="t2""#.to_owned()),
        ("start", start.to_string()),
        ("end", end.to_string()),
    ]);
    let r = s.request(
        "POST",
        "/loki/api/v1/query_range",
        &[("Content-Type", "application/x-www-form-urlencoded"), tenant("team-a")],
        form.as_bytes(),
    );
    assert_eq!(lines(&r.json()), ["POST /c 201"]);

    // Metric queries: instant and range.
    let q = format!(
        "/loki/api/v1/query?{}",
        query_string(&[("query", r#"sum(count_over_time({app="web"}[1h]))"#.to_owned()), ("time", end.to_string())])
    );
    let v = s.get(&q, Some("team-a")).json();
    assert_eq!(v["data"]["resultType"], "vector", "{v}");
    assert_eq!(v["data"]["result"][0]["value"][1], "6", "{v}");
    assert!(v["data"]["result"][0]["value"][0].is_number());
    let v = s
        .get(&range_path(r#"count_over_time({app="web"}[1m])"#, start, end, &[("step", "5s".into())]), Some("team-a"))
        .json();
    assert_eq!(v["data"]["resultType"], "matrix", "{v}");
    let v = s.get(&format!("/loki/api/v1/query?{}", query_string(&[("query", "1+1".into())])), Some("team-a")).json();
    assert_eq!(v["data"]["resultType"], "scalar", "{v}");
    assert_eq!(v["data"]["result"][1], "2");

    // Metadata.
    let range = query_string(&[("start", start.to_string()), ("end", end.to_string())]);
    let v = s.get(&format!("/loki/api/v1/labels?{range}"), Some("team-a")).json();
    assert_eq!(v, json!({"status": "success", "data": ["app", "env"]}));
    let v = s.get(&format!("/loki/api/v1/label/app/values?{range}"), Some("team-a")).json();
    assert_eq!(v, json!({"status": "success", "data": ["web"]}));
    let v = s.get(&format!("/loki/api/v1/label/nope/values?{range}"), Some("team-a")).json();
    assert_eq!(v, json!({"status": "success"}), "data is left out when empty, as Loki does");
    let v = s.get(&format!("/loki/api/v1/series?{range}&match[]={}", encode(r#"{app="web"}"#)), Some("team-a")).json();
    assert_eq!(v, json!({"status": "success", "data": [{"app": "web", "env": "prod"}]}));
    let v =
        s.get(&format!("/loki/api/v1/index/stats?{range}&query={}", encode(r#"{app="web"}"#)), Some("team-a")).json();
    assert_eq!(v["streams"], 1, "{v}");
    assert_eq!(v["entries"], 6, "{v}");
    let v =
        s.get(&format!("/loki/api/v1/index/volume?{range}&query={}", encode(r#"{app="web"}"#)), Some("team-a")).json();
    assert_eq!(v["data"]["resultType"], "vector", "{v}");
    assert_eq!(v["data"]["result"][0]["metric"]["app"], "web", "{v}");
    let v = s
        .get(
            &format!("/loki/api/v1/index/volume_range?{range}&step=5s&query={}", encode(r#"{app="web"}"#)),
            Some("team-a"),
        )
        .json();
    assert_eq!(v["data"]["resultType"], "matrix", "{v}");
    assert_eq!(v["data"]["result"][0]["metric"]["app"], "web", "{v}");
    assert!(v["data"]["result"][0]["values"][0][0].is_number(), "{v}");
    let v = s.get(&format!("/loki/api/v1/format_query?query={}", encode(r#"{app="web"}|="x""#)), None).json();
    assert_eq!(v, json!({"status": "success", "data": "{app=\"web\"} |= \"x\""}));

    // Tenants are isolated.
    let v = s.get(&range_path(r#"{app="web"}"#, start, end, &[]), Some("team-b")).json();
    assert_eq!(lines(&v), ["other tenant"]);
    let v = s.get(&range_path(r#"{app="web"}"#, start, end, &[]), Some("team-c")).json();
    assert!(lines(&v).is_empty());

    // Flush, then the same answers from the store.
    let r = s.request("POST", "/flush", &[], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let v = s.get(&range_path(r#"{app="web"}"#, start, end, &[]), Some("team-a")).json();
    assert_eq!(lines(&v).len(), 6);
    let m = s.get("/metrics", None).text();
    assert!(m.contains("lokistore_ingested_entries_total 7"), "{m}");
    assert!(m.contains("lokistore_flushes_total 1"), "{m}");
    assert!(m.contains("lokistore_query_requests_total{endpoint=\"query_range\"}"), "{m}");
    assert!(m.contains("# TYPE lokistore_query_duration_seconds histogram"), "{m}");
    assert!(m.contains("lokistore_store_operations_total{operation=\"put\"}"), "{m}");
    assert_eq!(s.get("/ready", None).text(), "ready\n");
    let c = s.get("/config", None);
    assert!(c.text().contains("auth_enabled = true"), "{}", c.text());
}

/// One bad request and what the server must answer.
struct Bad<'a> {
    what: &'a str,
    method: &'a str,
    path: String,
    headers: Vec<(&'a str, &'a str)>,
    body: Vec<u8>,
    status: u16,
    message: &'a str,
}

impl<'a> Bad<'a> {
    /// A push (`POST /loki/api/v1/push`) with `body`.
    fn post(what: &'a str, headers: Vec<(&'a str, &'a str)>, body: Vec<u8>, status: u16, message: &'a str) -> Self {
        Bad { what, method: "POST", path: "/loki/api/v1/push".to_owned(), headers, body, status, message }
    }

    /// A `GET` of `path` with no body.
    fn get(what: &'a str, path: String, headers: Vec<(&'a str, &'a str)>, status: u16, message: &'a str) -> Self {
        Bad { what, method: "GET", path, headers, body: Vec::new(), status, message }
    }
}

#[test]
fn server_answers_bad_requests_with_clear_4xx_and_stays_up() {
    let config = "[server]\nmax_request_body_bytes = 4096\nmax_decompressed_bytes = 65536\n\
                  [limits]\nmax_line_size = 1000\ndiscover_service_name = []\n";
    let s = Server::start(config, &["--auth-enabled"]);
    let t0 = now_ns() - 10_000_000_000;
    let good = json!({"streams": [{"stream": {"app": "ok"}, "values": [[t0.to_string(), "kept"]]}]});
    assert_eq!(push_json(&s, "good", &good).status, 204);

    let a = tenant("bad");
    let entry = |labels: Value, line: &str| {
        json!({"streams": [{"stream": labels, "values": [[t0.to_string(), line]]}]}).to_string().into_bytes()
    };
    let zeros = vec![0u8; 1 << 20];
    let range = |q: &str, extra: &[(&str, String)]| range_path(q, t0 - 1_000_000_000, t0 + 1_000_000_000, extra);
    let cases = vec![
        Bad::post("malformed JSON", vec![JSON, a], b"{\"streams\": [".to_vec(), 400, "invalid JSON push request"),
        Bad::post(
            "numeric JSON timestamp",
            vec![JSON, a],
            br#"{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}"#.to_vec(),
            400,
            "must be a string",
        ),
        Bad::post(
            "four-element value",
            vec![JSON, a],
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},1]]}]}"#.to_vec(),
            400,
            "4 elements",
        ),
        Bad::post("malformed snappy", vec![PROTO, a], b"\xff\xff\xff\xff\xff\xff".to_vec(), 400, "snappy"),
        Bad::post(
            "malformed protobuf",
            vec![PROTO, a],
            snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff\xff\x0fxx").unwrap(),
            400,
            "protobuf",
        ),
        Bad::post("oversized body", vec![JSON, a], entry(json!({"app": "x"}), &"x".repeat(8000)), 413, "too large"),
        Bad::post("gzip bomb", vec![JSON, a, ("Content-Encoding", "gzip")], gzip(&zeros), 413, "too large"),
        Bad::post(
            "snappy bomb",
            vec![PROTO, a],
            snap::raw::Encoder::new().compress_vec(&zeros).unwrap(),
            413,
            "too large",
        ),
        Bad::post(
            "unknown encoding",
            vec![JSON, a, ("Content-Encoding", "br")],
            good.to_string().into_bytes(),
            400,
            "not supported",
        ),
        Bad::post("no content type", vec![a], good.to_string().into_bytes(), 400, "mime: no media type"),
        Bad::post("no streams", vec![JSON, a], br#"{"streams":[]}"#.to_vec(), 422, "at least one valid stream"),
        Bad::post("invalid label name", vec![JSON, a], entry(json!({"0app": "x"}), "l"), 400, "0app"),
        Bad::post(
            "unparsable proto labels",
            vec![PROTO, a],
            logproto::encode(&proto_push("{app=}", &[(t0, "l", &[])])),
            400,
            "couldn't parse labels",
        ),
        Bad::post(
            "line too long",
            vec![JSON, a],
            entry(json!({"app": "x"}), &"y".repeat(1500)),
            400,
            "Max entry size '1000' bytes exceeded",
        ),
        Bad::post("missing tenant", vec![JSON], good.to_string().into_bytes(), 401, "no org id"),
        Bad::post(
            "tenant with a slash",
            vec![JSON, tenant("a/b")],
            good.to_string().into_bytes(),
            400,
            "unsupported character '/'",
        ),
        Bad::post("tenant ..", vec![JSON, tenant("..")], good.to_string().into_bytes(), 400, "'.' or '..'"),
        Bad::post(
            "two tenants on push",
            vec![JSON, tenant("a|b")],
            good.to_string().into_bytes(),
            400,
            "multiple org IDs",
        ),
        Bad::get("unparsable query", range("{app=\"ok\"", &[]), vec![a], 400, "parse error at line 1, col 10"),
        Bad::get(
            "empty-compatible selector",
            range("{app=~\".*\"}", &[]),
            vec![a],
            400,
            "at least one regexp or equality matcher",
        ),
        Bad::get(
            "instant log query",
            format!("/loki/api/v1/query?query={}", encode("{app=\"ok\"}")),
            vec![a],
            400,
            "log queries are not supported as an instant query",
        ),
        Bad::get(
            "bad start",
            format!("/loki/api/v1/query_range?query={}&start=yesterday", encode("{app=\"ok\"}")),
            vec![a],
            400,
            "could not parse 'start' parameter",
        ),
        Bad::get(
            "end before start",
            format!("/loki/api/v1/query_range?query={}&start=20&end=10", encode("{app=\"ok\"}")),
            vec![a],
            400,
            "end timestamp must not be before",
        ),
        Bad::get(
            "zero step",
            range("count_over_time({app=\"ok\"}[1m])", &[("step", "0".into())]),
            vec![a],
            400,
            "zero or negative query resolution step",
        ),
        Bad::get(
            "too many points",
            range("count_over_time({app=\"ok\"}[1m])", &[("step", "0.0001".into())]),
            vec![a],
            400,
            "exceeded maximum resolution",
        ),
        Bad::get(
            "limit over the maximum",
            range("{app=\"ok\"}", &[("limit", "100000".into())]),
            vec![a],
            400,
            "max entries limit per query exceeded",
        ),
        Bad::get(
            "bad direction",
            range("{app=\"ok\"}", &[("direction", "sideways".into())]),
            vec![a],
            400,
            "direction",
        ),
        Bad::get("bad URL escape", "/loki/api/v1/labels?query=%zz".to_owned(), vec![a], 400, "invalid URL escape"),
        Bad::get("bad series selector", "/loki/api/v1/series?match[]=app".to_owned(), vec![a], 400, "parse error"),
        Bad::get("query without tenant", range("{app=\"ok\"}", &[]), vec![], 401, "no org id"),
        Bad::get(
            "tail delay",
            format!("/loki/api/v1/tail?query={}&delay_for=6", encode("{app=\"ok\"}")),
            vec![a],
            400,
            "delay_for can't be greater than 5",
        ),
        Bad::get("unknown path", "/loki/api/v1/nothing".to_owned(), vec![a], 404, "404 page not found"),
    ];
    for c in &cases {
        let r = s.request(c.method, &c.path, &c.headers, &c.body);
        assert_eq!(r.status, c.status, "{}: {}", c.what, r.text());
        assert!(r.text().contains(c.message), "{}: {:?} lacks {:?}", c.what, r.text(), c.message);
        assert!(r.text().ends_with('\n'), "{}: plain-text errors end with a newline", c.what);
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"), "{}", c.what);
    }
    // A push with one bad entry keeps the good ones, as Loki does.
    let mixed = json!({"streams": [{"stream": {"app": "mixed"}, "values": [[t0.to_string(), "fine"], [(t0 + 1).to_string(), "z".repeat(1200)]]}]});
    let r = push_json(&s, "good", &mixed);
    assert_eq!(r.status, 400, "{}", r.text());

    // Still up; the good tenant's data is intact; the bad tenant stored nothing.
    assert_eq!(s.get("/ready", None).status, 200);
    let v = s.get(&range(r#"{app=~"ok|mixed"}"#, &[]), Some("good")).json();
    assert_eq!(lines(&v), ["fine", "kept"]);
    let v = s.get(&range(r#"{app=~".+"}"#, &[]), Some("bad")).json();
    assert!(lines(&v).is_empty(), "{v}");
    assert_eq!(push_json(&s, "good", &good).status, 204, "the same push again is accepted (a duplicate)");
    let m = s.get("/metrics", None).text();
    assert!(m.contains("lokistore_push_failures_total"), "{m}");
}

#[test]
fn server_tails_over_a_websocket() {
    let s = Server::start("[limits]\ndiscover_service_name = []\n", &[]);
    let path = format!("/loki/api/v1/tail?query={}", encode(r#"{app="tail"} |= "wanted""#));
    let mut ws = WebSocket::connect(&s.addr, &path, &[]).unwrap_or_else(|r| panic!("{}: {}", r.status, r.text()));
    let t = now_ns();
    let body = json!({"streams": [{"stream": {"app": "tail"}, "values": [
        [t.to_string(), "not this one"],
        [(t + 1).to_string(), "wanted line"],
    ]}]});
    let r = s.request("POST", "/loki/api/v1/push", &[JSON], body.to_string().as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    let msg = ws.next_text().expect("a tail message");
    let v: Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(v["streams"][0]["stream"], json!({"app": "tail"}), "{v}");
    assert_eq!(v["streams"][0]["values"], json!([[(t + 1).to_string(), "wanted line"]]), "{v}");
    ws.close();
    // A metric query cannot be tailed.
    let path = format!("/loki/api/v1/tail?query={}", encode(r#"rate({app="tail"}[1m])"#));
    let r = WebSocket::connect(&s.addr, &path, &[]).err().expect("refused");
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn server_delete_api_hides_lines_until_cancelled() {
    let s = Server::start("[limits]\ndiscover_service_name = []\n", &["--auth-enabled"]);
    let t0 = (now_ns() / 1_000_000_000 - 600) * 1_000_000_000;
    let body = json!({"streams": [{"stream": {"app": "del"}, "values": [
        [t0.to_string(), "keep me"],
        [(t0 + 1_000_000_000).to_string(), "secret password=hunter2"],
    ]}]});
    assert_eq!(push_json(&s, "d", &body).status, 204);
    let q = range_path(r#"{app="del"}"#, t0 - 1_000_000_000, t0 + 5_000_000_000, &[]);
    assert_eq!(lines(&s.get(&q, Some("d")).json()).len(), 2);

    let add = format!(
        "/loki/api/v1/delete?{}",
        query_string(&[
            ("query", r#"{app="del"} |= "password""#.to_owned()),
            ("start", (t0 / 1_000_000_000 - 10).to_string()),
            ("end", (t0 / 1_000_000_000 + 10).to_string()),
        ])
    );
    let r = s.request("POST", &add, &[tenant("d")], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let id = r.header("x-delete-request-id").expect("request id").to_owned();
    assert_eq!(lines(&s.get(&q, Some("d")).json()), ["keep me"], "the deleted line is hidden at once");
    let list = s.get("/loki/api/v1/delete", Some("d")).json();
    assert_eq!(list[0]["request_id"], id.as_str(), "{list}");
    assert_eq!(list[0]["status"], "received", "{list}");
    // Other tenants see neither the request nor its effect.
    assert_eq!(s.get("/loki/api/v1/delete", Some("other")).json(), json!([]));

    // Bad delete requests.
    let r = s.request("POST", "/loki/api/v1/delete?query=%7Bapp%3D%22del%22%7D", &[tenant("d")], b"");
    assert_eq!(r.status, 400, "{}", r.text());
    let bad_query = format!(
        "/loki/api/v1/delete?{}",
        query_string(&[("query", "rate({a=\"b\"}[1m])".into()), ("start", "1700000000".into())])
    );
    let r = s.request("POST", &bad_query, &[tenant("d")], b"");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("invalid query expression"), "{}", r.text());
    let r = s.request("DELETE", "/loki/api/v1/delete?request_id=00000000", &[tenant("d")], b"");
    assert_eq!(r.status, 404, "{}", r.text());

    let r = s.request("DELETE", &format!("/loki/api/v1/delete?request_id={id}"), &[tenant("d")], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(lines(&s.get(&q, Some("d")).json()).len(), 2, "a cancelled request hides nothing");
    assert_eq!(s.get("/loki/api/v1/delete", Some("d")).json(), json!([]));
}

#[test]
fn server_shutdown_flushes_and_a_restart_serves_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // With retention on, the compactor runs beside the server and stops with it.
    let config = "[limits]\ndiscover_service_name = []\n[flush]\ninterval = \"\"\n[retention]\nperiod = \"744h\"\n";
    let mut s = Server::start_in(&data, dir.path(), config, &[]);
    let t0 = now_ns() - 5_000_000_000;
    let body = json!({"streams": [{"stream": {"app": "persist"}, "values": [[t0.to_string(), "survives"]]}]});
    let r = s.request("POST", "/loki/api/v1/push", &[JSON], body.to_string().as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(s.stop(), "SIGTERM ends the server cleanly");
    let stored: Vec<_> = walk(&data.join("store").join("fake"));
    assert!(!stored.is_empty(), "the shutdown flushed chunks to the store");

    let s = Server::start_in(&data, dir.path(), config, &[]);
    let q = range_path(r#"{app="persist"}"#, t0 - 1_000_000_000, t0 + 1_000_000_000, &[]);
    assert_eq!(lines(&s.get(&q, None).json()), ["survives"]);
}

#[test]
fn server_answers_rate_limits_with_429() {
    let config = "[limits]\ningestion_rate_mb = 0.0001\ningestion_burst_size_mb = 0.0001\n";
    let s = Server::start(config, &[]);
    let big = "x".repeat(500);
    let body = json!({"streams": [{"stream": {"app": "rate"}, "values": [[now_ns().to_string(), big]]}]});
    let r = s.request("POST", "/loki/api/v1/push", &[JSON], body.to_string().as_bytes());
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("Ingestion rate limit exceeded"), "{}", r.text());
    let small = json!({"streams": [{"stream": {"app": "rate"}, "values": [[now_ns().to_string(), "ok"]]}]});
    let r = s.request("POST", "/loki/api/v1/push", &[JSON], small.to_string().as_bytes());
    assert_eq!(r.status, 204, "{}", r.text());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn server_accepts_pushes_from_python_logging_loki() {
    let have = Command::new("python3").args(["-c", "import logging_loki"]).output().is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("LOKISTORE_REQUIRE_PYLOKI").is_none(),
            "LOKISTORE_REQUIRE_PYLOKI is set but python3 cannot import logging_loki"
        );
        eprintln!("skipped: python-logging-loki is not installed (python3 -m pip install python-logging-loki)");
        return;
    }
    let s = Server::start("", &[]);
    let script = r#"
import logging, sys
import logging_loki

class Handler(logging_loki.LokiHandler):
    def handleError(self, record):
        raise

handler = Handler(url=sys.argv[1], tags={"application": "pyapp"}, version="1")
logger = logging.getLogger("pytest-logger")
logger.setLevel(logging.INFO)
logger.addHandler(handler)
logger.info("hello from python", extra={"tags": {"request_id": "r1"}})
logger.error("something <failed>")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &format!("http://{}/loki/api/v1/push", s.addr)])
        .output()
        .expect("run python3");
    assert!(out.status.success(), "python handler failed: {}", String::from_utf8_lossy(&out.stderr));
    let now = now_ns();
    let q = range_path(r#"{application="pyapp"}"#, now - 600_000_000_000, now + 1_000_000_000, &[]);
    let v = s.get(&q, None).json();
    assert_eq!(lines(&v), ["hello from python", "something <failed>"]);
    let labels: Vec<Value> = streams(&v).into_iter().map(|s| s.0).collect();
    assert!(labels.contains(&json!({"application": "pyapp", "logger": "pytest-logger", "severity": "info", "request_id": "r1", "service_name": "pyapp"})), "{labels:?}");
    assert!(
        labels.contains(
            &json!({"application": "pyapp", "logger": "pytest-logger", "severity": "error", "service_name": "pyapp"})
        ),
        "{labels:?}"
    );
}

/// The shell blocks between the README's `server-curl-examples` markers,
/// run with bash against a live server (the README's
/// `http://localhost:3100` replaced by its address). Each block's output
/// must hold what the test expects of that block, in order.
#[test]
fn readme_curl_examples_work() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("<!-- server-curl-examples:start -->").expect("start marker in README.md");
    let end = readme.find("<!-- server-curl-examples:end -->").expect("end marker in README.md");
    let section = &readme[start..end];
    let blocks: Vec<&str> = section.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    let expected: [&[&str]; 5] = [
        &["HTTP/1.1 204"],
        &[r#""resultType":"streams""#, "hello from curl", r#""app":"curl-demo""#],
        &[r#""resultType":"vector""#, r#""app":"curl-demo""#],
        &[r#""resultType":"matrix""#],
        &["HTTP/1.1 204"],
    ];
    assert_eq!(blocks.len(), expected.len(), "README server curl blocks: {blocks:?}");
    let s = Server::start("", &[]);
    for (block, want) in blocks.iter().zip(expected) {
        let script =
            format!("set -euo pipefail\n{}", block.replace("http://localhost:3100", &format!("http://{}", s.addr)));
        let out = Command::new("bash").args(["-c", &script]).output().expect("run bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{block}\nfailed: {}", String::from_utf8_lossy(&out.stderr));
        for w in want {
            assert!(stdout.contains(w), "{block}\noutput lacks {w:?}:\n{stdout}");
        }
    }
}

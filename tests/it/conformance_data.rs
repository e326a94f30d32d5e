//! The conformance dataset and answers of `../shared/conformance/`: reading
//! them, request times, and an engine holding the dataset flushed to a
//! store as Loki's was (tenant `conformance`).

use std::collections::BTreeMap;

use lokistore::engine::{Engine, EngineConfig, PushStream};
use lokistore::{Entry, Label, Labels, SyncMode, TenantId};
use serde_json::Value;

use crate::support::shared_dir;

pub fn read_jsonl(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(shared_dir().join("conformance").join(name)).expect("read");
    text.lines().map(|l| serde_json::from_str(l).expect("json")).collect()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A request time: integer Unix nanoseconds or RFC 3339.
pub fn parse_time(v: &Value) -> i64 {
    if let Some(n) = v.as_i64() {
        return n;
    }
    let s = v.as_str().expect("time string");
    if let Ok(n) = s.parse::<i64>() {
        return n;
    }
    let num = |a: usize, b: usize| s[a..b].parse::<i64>().expect("digits");
    let (y, mo, d, h, mi, se) = (num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19));
    let mut rest = &s[19..];
    let mut frac = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        frac = format!("{digits:0<9}")[..9].parse().unwrap();
        rest = &r[digits.len()..];
    }
    let offset = match rest {
        "Z" | "" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().unwrap() * 3600 + o[4..6].parse::<i64>().unwrap() * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    secs * 1_000_000_000 + frac
}

pub fn load_engine(dir: &std::path::Path) -> Engine {
    let mut c = EngineConfig::new(dir);
    c.wal.sync = SyncMode::Never;
    c.limits.creation_grace_period = None;
    let engine = Engine::open(c).unwrap();
    let tenant = TenantId::new("conformance").unwrap();
    let mut by_stream: BTreeMap<Labels, Vec<Entry>> = BTreeMap::new();
    for v in read_jsonl("dataset.jsonl") {
        let labels = Labels::from_pairs(
            v["stream"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
        )
        .unwrap();
        let mut md: Vec<Label> = v["metadata"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| Label::new(k.clone(), v.as_str().unwrap())).collect())
            .unwrap_or_default();
        md.sort_by(|a, b| a.name.cmp(&b.name));
        by_stream.entry(labels).or_default().push(Entry::with_metadata(
            v["ts_ns"].as_i64().unwrap(),
            v["line"].as_str().unwrap().to_owned(),
            md,
        ));
    }
    for (labels, mut entries) in by_stream {
        entries.sort_by_key(|e| e.timestamp);
        for part in entries.chunks(1000) {
            engine.push(&tenant, vec![PushStream::new(labels.clone(), part.to_vec())]).unwrap();
        }
    }
    engine.flush().unwrap();
    engine
}

/// The dataset as Loki's push API bodies (JSON, structured metadata as the
/// third element of a value), each stream in timestamp order, at most
/// 1000 entries a body: how it was loaded into Loki.
pub fn push_bodies() -> Vec<Value> {
    let mut by_stream: BTreeMap<String, (Value, Vec<(i64, Value)>)> = BTreeMap::new();
    for v in read_jsonl("dataset.jsonl") {
        let key = v["stream"].to_string();
        let ts = v["ts_ns"].as_i64().unwrap();
        let mut value = vec![Value::String(ts.to_string()), v["line"].clone()];
        if v["metadata"].is_object() {
            value.push(v["metadata"].clone());
        }
        by_stream.entry(key).or_insert_with(|| (v["stream"].clone(), Vec::new())).1.push((ts, Value::Array(value)));
    }
    let mut out = Vec::new();
    for (_, (stream, mut values)) in by_stream {
        values.sort_by_key(|(ts, _)| *ts);
        for part in values.chunks(1000) {
            let values: Vec<Value> = part.iter().map(|(_, v)| v.clone()).collect();
            out.push(serde_json::json!({"streams": [{"stream": stream, "values": values}]}));
        }
    }
    out
}

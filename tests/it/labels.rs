//! Tests: labels (parsing, printing, validation, fingerprints) and tenant IDs.

use std::collections::BTreeMap;

use lokistore::{Fingerprint, Labels, LabelsError, TenantError, TenantId};
use proptest::prelude::*;
use serde_json::Value;

use crate::support;

/// A label set from a JSON object of name -> value, leaving out `skip`.
fn labels_from_json(obj: &Value, skip: &[&str]) -> Labels {
    let map = obj.as_object().expect("labels object");
    Labels::from_pairs(
        map.iter()
            .filter(|(k, _)| !skip.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned())),
    )
    .expect("labels")
}

#[test]
fn spec_example_fingerprint() {
    let l: Labels = r#"{app="demo"}"#.parse().unwrap();
    assert_eq!(l.fingerprint(), Fingerprint(0xfb31_c43a_197b_bb77));
    assert_eq!(l.fingerprint().to_string(), "fb31c43a197bbb77");
    assert_eq!(Fingerprint::from_hex("fb31c43a197bbb77"), Some(l.fingerprint()));
}

#[test]
fn chunk_fingerprints_match_loki() {
    let chunks = support::chunk_files();
    assert!(!chunks.is_empty(), "no chunk files in the manifest");
    for f in &chunks {
        let want = f["fingerprint"].as_str().expect("fingerprint");
        let labels = labels_from_json(&f["labels"], &["__name__"]);
        assert_eq!(labels.fingerprint().to_string(), want, "{}", f["path"]);
        assert_eq!(Fingerprint::from_hex(want), Some(labels.fingerprint()));
        // `__name__` never counts, and the printed form parses back to the
        // same stream.
        let with_name = labels_from_json(&f["labels"], &[]);
        assert_eq!(with_name.fingerprint(), labels.fingerprint());
        let reparsed: Labels = labels.to_string().parse().unwrap();
        assert_eq!(reparsed, labels);
    }
}

#[test]
fn index_series_fingerprints_match_loki() {
    let mut seen = 0;
    for dir in ["index/multitenant", "index/compacted"] {
        let mut stack = vec![support::vectors_dir().join(dir)];
        while let Some(p) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&p) else { continue };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !path.to_string_lossy().ends_with(".tsdb.json") {
                    continue;
                }
                let index: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                for s in index["series"].as_array().expect("series") {
                    // The multi-tenant index adds `__loki_tenant__` to the
                    // labels but keeps the stream's own fingerprint.
                    let labels = labels_from_json(&s["labels"], &["__name__", "__loki_tenant__"]);
                    assert_eq!(labels.fingerprint().to_string(), s["fingerprint"].as_str().unwrap());
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 0, "no index series found");
}

#[test]
fn parses_push_selectors() {
    let l: Labels = r#"{job="varlogs", host=`web-1`, env='prod', empty=""}"#.parse().unwrap();
    assert_eq!(l.to_string(), r#"{env="prod", host="web-1", job="varlogs"}"#);
    assert_eq!(l.get("job"), Some("varlogs"));
    assert_eq!(l.get("empty"), None);
    assert_eq!(l.len(), 3);

    let l = Labels::parse(r#"http_requests{"service.name"="api", code="200",}"#).unwrap();
    assert_eq!(l.to_string(), r#"{__name__="http_requests", code="200", "service.name"="api"}"#);

    let l = Labels::parse("{msg=\"tab\\there \\u263a\\x41\"}").unwrap();
    assert_eq!(l.get("msg"), Some("tab\there ☺A"));
    assert_eq!(l.to_string(), r#"{msg="tab\there ☺A"}"#);
}

#[test]
fn parse_errors_carry_loki_messages_and_positions() {
    let e = Labels::parse(r#"{app="a" env="b"}"#).unwrap_err();
    assert_eq!(e.to_string(), r#"1:10: parse error: unexpected identifier "env" in label set, expected "," or "}""#);
    assert!(matches!(e, LabelsError::Parse { position: 9, line: 1, column: 10, .. }));

    let e = Labels::parse("{app=\"a\",\n env=b}").unwrap_err();
    assert_eq!(e.to_string(), r#"2:6: parse error: unexpected identifier "b" in label set, expected string"#);

    assert_eq!(Labels::parse("{ab\"").unwrap_err().to_string(), "1:4: parse error: unterminated quoted string");
    assert_eq!(
        Labels::parse(r#"{a="1", a="2"}"#).unwrap_err().to_string(),
        r#"stream '{a="1", a="2"}' has duplicate label name: 'a'"#
    );
}

#[test]
fn printing_escapes_like_go() {
    let l = Labels::from_pairs([
        ("a", "quote\" backslash\\ nl\n cr\r tab\t bell\x07 del\x7f nul\0"),
        ("b", "nbsp\u{a0} zwsp\u{200b} bom\u{feff} ls\u{2028} pua\u{e000} astral-pua\u{f0000}"),
        ("c", "ok: é ü 日本 😀 \u{301}"),
        ("with space", "x"),
        ("9lives", "y"),
    ])
    .unwrap();
    assert_eq!(
        l.to_string(),
        concat!(
            r#"{"9lives"="y", "#,
            r#"a="quote\" backslash\\ nl\n cr\r tab\t bell\a del\x7f nul\x00", "#,
            r#"b="nbsp\u00a0 zwsp\u200b bom\ufeff ls\u2028 pua\ue000 astral-pua\U000f0000", "#,
            "c=\"ok: é ü 日本 😀 \u{301}\", ",
            r#""with space"="x"}"#,
        )
    );
    assert_eq!(Labels::empty().to_string(), "{}");
}

#[test]
fn validation_uses_loki_defaults() {
    let fifteen: Labels = Labels::from_pairs((0..15).map(|i| (format!("l{i:02}"), "v".to_owned()))).unwrap();
    assert!(fifteen.validate(&Default::default()).is_ok());
    let sixteen: Labels = Labels::from_pairs((0..16).map(|i| (format!("l{i:02}"), "v".to_owned()))).unwrap();
    let e = sixteen.validate(&Default::default()).unwrap_err();
    assert!(e.to_string().ends_with("has 16 label names; limit 15"), "{e}");
    // service_name does not count.
    let with_service = Labels::from_pairs(
        (0..15).map(|i| (format!("l{i:02}"), "v".to_owned())).chain([("service_name".to_owned(), "svc".to_owned())]),
    )
    .unwrap();
    assert!(with_service.validate(&Default::default()).is_ok());

    let long_value = Labels::from_pairs([("a", "v".repeat(2049))]).unwrap();
    assert!(matches!(long_value.validate(&Default::default()), Err(LabelsError::LabelValueTooLong { .. })));
    let long_name = Labels::from_pairs([("n".repeat(1025), "v")]).unwrap();
    assert!(matches!(long_name.validate(&Default::default()), Err(LabelsError::LabelNameTooLong { .. })));
    assert!(matches!(Labels::empty().validate(&Default::default()), Err(LabelsError::MissingLabels)));
}

#[test]
fn tenants() {
    assert_eq!(TenantId::new("conformance").unwrap().to_string(), "conformance");
    assert_eq!(TenantId::new(".."), Err(TenantError::Dots));
    assert_eq!(TenantId::new(""), Err(TenantError::Empty));
    assert_eq!(TenantId::new("x".repeat(151)), Err(TenantError::TooLong));
    for bad in ["a/b", "a\\b", "a\0b", "/", "\\"] {
        assert!(matches!(TenantId::new(bad), Err(TenantError::UnsupportedCharacter { .. })), "{bad:?}");
    }
    assert_eq!(TenantId::from_org_id("conformance:product=k6").unwrap().as_str(), "conformance");
    assert_eq!(TenantId::from_org_id("a|b"), Err(TenantError::TooManyOrgIds));
}

/// Any label set: names are any string (Loki accepts quoted names), values
/// any non-empty string. U+FFFD is left out of both: Go prints it raw and
/// its lexer then refuses it, so it does not round-trip in Loki either.
fn label_sets() -> impl Strategy<Value = Labels> {
    let name = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        "[a-z.\\-: 0-9é]{0,6}",
        any::<String>().prop_map(|s| s.chars().take(6).collect()),
    ]
    .prop_map(|n: String| n.replace('\u{fffd}', "?"));
    let value = prop_oneof![
        "[ -~]{1,8}",
        any::<String>(),
        proptest::collection::vec(any::<char>(), 1..6).prop_map(|v| v.into_iter().collect()),
    ]
    .prop_map(|v: String| v.replace('\u{fffd}', "?"))
    .prop_filter("non-empty", |v| !v.is_empty());
    proptest::collection::btree_map(name, value, 0..6)
        .prop_map(|m: BTreeMap<String, String>| Labels::from_pairs(m).unwrap())
}

/// Strings made of selector pieces, to reach deep into the parser.
fn selector_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("=~".to_owned()),
        Just("!".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("`".to_owned()),
        Just("\\".to_owned()),
        Just("#".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\u{fffd}".to_owned()),
        "[a-z_:]{1,4}",
        "[0-9.eExX_]{1,4}",
        "\\\\[xuU0-7abnq\"'][0-9a-fA-F]{0,8}",
        "\"[a-z\\\\]{0,3}\"",
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_round_trips(labels in label_sets()) {
        let printed = labels.to_string();
        let parsed = Labels::parse(&printed);
        prop_assert_eq!(parsed.as_ref(), Ok(&labels), "printed: {}", printed);
        // Printing is canonical.
        prop_assert_eq!(parsed.unwrap().to_string(), printed);
    }

    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = Labels::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_selector_pieces(s in selector_like()) {
        match Labels::parse(&s) {
            Ok(labels) => {
                // Whatever parses is sorted, unique, without empty values,
                // and prints to something that parses back the same.
                prop_assert!(labels.as_slice().windows(2).all(|w| w[0].name < w[1].name));
                prop_assert!(labels.iter().all(|l| !l.value.is_empty()));
                if !labels.to_string().contains('\u{fffd}') {
                    prop_assert_eq!(Labels::parse(&labels.to_string()), Ok(labels));
                }
            }
            Err(LabelsError::Parse { position, line, column, .. }) => {
                prop_assert!(position <= s.len());
                prop_assert!(s.is_char_boundary(position));
                prop_assert!(line >= 1 && column >= 1);
            }
            Err(_) => {}
        }
    }
}

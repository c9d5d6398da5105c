//! Property: the parser's verdict on generated Digital Link URIs equals that of a separate, deliberately simple
//! encoding of the key-qualifier and data-attribute rules of GS1's syntax engine. The model reads its own excerpt
//! of the syntax dictionary (below, as written there) and shares no code or table with the parser: valid paths are
//! every in-order subset of each `dlpkey` alternative, spelled out as strings as dl.c does; a query AI is refused
//! when the URI already holds it, when inserting it anywhere after the key gives a valid path, or when it lacks the
//! `?` flag; and `req=`/`ex=` hold over every AI of the URI. All values are valid, so only these rules decide.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;

/// Dictionary lines for the AIs generated below (flags `?` or `-`, then the attributes), with a valid value each.
const MODEL: &[(&str, &str, &str)] = &[
    ("00", "? dlpkey", "106141412345678908"),
    ("01", "? ex=255,37 dlpkey=22,10,21|235", "09520123456788"),
    ("02", "? ex=01,03 req=37", "09520123456788"),
    ("10", "? req=01,02,03,8006,8026", "L1"),
    ("17", "? req=01,02,03,255,8006,8026", "261231"),
    ("21", "- req=01,03,8006 ex=235", "S1"),
    ("22", "- req=01", "V1"),
    ("235", "- req=01", "T1"),
    ("250", "? req=01,8006 req=21", "X"),
    ("254", "- req=414", "X1"),
    ("3102", "? req=01,02 ex=310n", "001950"),
    ("3103", "? req=01,02 ex=310n", "000195"),
    ("37", "? req=00 req=02,8026", "25"),
    ("414", "? dlpkey=254|7040", "0614141123452"),
    ("7040", "-", "1ABC"),
    ("8004", "? dlpkey=7040", "0614141ABC"),
    ("8006", "? ex=01,37 dlpkey=22,10,21", "095201234567880102"),
    ("8010", "? dlpkey=8011", "0614ABC"),
    ("8011", "- req=8010", "123"),
    ("8018", "? ex=8017 dlpkey=8019", "061414100000000014"),
    ("8019", "- req=8017,8018", "55"),
    ("8200", "- req=01", "x"),
    ("99", "?", "X"),
];

const KEYS: &[&str] = &["00", "01", "414", "8004", "8006", "8010", "8018"];
const QUALIFIERS: &[&str] = &["22", "10", "21", "235", "254", "7040", "8011", "8019"];
const ATTRIBUTES: &[&str] = &[
    "01", "02", "10", "17", "21", "22", "235", "250", "254", "3102", "3103", "37", "7040", "8011",
    "8019", "8200", "99",
];

fn line(ai: &str) -> (&'static str, &'static str) {
    let (_, attrs, value) = MODEL.iter().find(|m| m.0 == ai).expect("AI in the model");
    (attrs, value)
}

fn attr(ai: &str, name: &str) -> Vec<&'static str> {
    let (attrs, _) = line(ai);
    attrs
        .split(' ')
        .filter_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .collect()
}

/// Every valid path, as "AI AI AI" strings.
fn valid_paths() -> HashSet<String> {
    let mut paths = HashSet::new();
    for key in KEYS {
        paths.insert((*key).to_owned());
        for alternatives in attr(key, "dlpkey") {
            for alt in alternatives.split('|') {
                let quals: Vec<&str> = alt.split(',').collect();
                for mask in 0..1u32 << quals.len() {
                    let mut path = (*key).to_owned();
                    for (i, q) in quals.iter().enumerate() {
                        if mask >> i & 1 == 1 {
                            path = format!("{path} {q}");
                        }
                    }
                    paths.insert(path);
                }
            }
        }
    }
    paths
}

fn pattern_matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .chars()
            .zip(ai.chars())
            .all(|(p, a)| p == 'n' || p == a)
}

fn model_accepts(path: &[&str], query: &[&str], valid: &HashSet<String>) -> bool {
    if !valid.contains(&path.join(" ")) {
        return false;
    }
    let mut all: Vec<&str> = path.to_vec();
    for (i, ai) in query.iter().enumerate() {
        if path.contains(ai) || query[..i].contains(ai) {
            return false;
        }
        for at in 1..=path.len() {
            let mut trial = path.to_vec();
            trial.insert(at, ai);
            if valid.contains(&trial.join(" ")) {
                return false;
            }
        }
        if !line(ai).0.starts_with('?') {
            return false;
        }
        all.push(ai);
    }
    for ai in &all {
        let others = || all.iter().filter(|o| *o != ai);
        for ex in attr(ai, "ex").iter().flat_map(|e| e.split(',')) {
            if others().any(|o| pattern_matches(ex, o)) {
                return false;
            }
        }
        for req in attr(ai, "req") {
            let met = req.split(',').any(|group| {
                group
                    .split('+')
                    .all(|r| others().any(|o| pattern_matches(r, o)))
            });
            if !met {
                return false;
            }
        }
    }
    true
}

fn uri(path: &[&str], query: &[&str]) -> (String, String) {
    let p: String = path
        .iter()
        .map(|ai| format!("/{ai}/{}", line(ai).1))
        .collect();
    let q: Vec<String> = query
        .iter()
        .map(|ai| format!("{ai}={}", line(ai).1))
        .collect();
    (p, q.join("&"))
}

/// Half the paths are any key followed by any qualifiers (mostly invalid), half are valid paths, so that the
/// query rules get exercised on every key-qualifier combination.
fn inputs() -> impl Strategy<Value = (Vec<&'static str>, Vec<&'static str>)> {
    let mut valid: Vec<String> = valid_paths().into_iter().collect();
    valid.sort();
    let any_path = (
        proptest::sample::select(KEYS),
        proptest::collection::vec(proptest::sample::select(QUALIFIERS), 0..=3),
    )
        .prop_map(|(key, quals)| {
            let mut path = vec![key];
            path.extend(quals);
            path
        });
    let valid_path = proptest::sample::select(valid).prop_map(|p| {
        p.split(' ')
            .map(|ai| MODEL.iter().find(|m| m.0 == ai).expect("model AI").0)
            .collect::<Vec<&'static str>>()
    });
    let attrs = proptest::collection::vec(proptest::sample::select(ATTRIBUTES), 0..=3);
    (prop_oneof![any_path, valid_path], attrs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parser_agrees_with_the_model((path, query) in inputs()) {
        let valid = valid_paths();
        let (raw_path, raw_query) = uri(&path, &query);
        let strict = ParseOptions { legacy_gtin: false, convenience_alphas: false };
        let parsed = parse_request(&raw_path, &raw_query, &strict);
        prop_assert_eq!(
            parsed.is_ok(),
            model_accepts(&path, &query, &valid),
            "{}?{} -> {:?}", raw_path, raw_query, parsed.err()
        );
    }
}

#[test]
fn the_model_knows_the_issue_examples() {
    let valid = valid_paths();
    assert!(model_accepts(&["01", "235"], &["10"], &valid));
    assert!(model_accepts(&["00"], &["02", "37", "10"], &valid));
    assert!(model_accepts(&["8004"], &["01"], &valid));
    assert!(!model_accepts(&["01"], &["10"], &valid));
    assert!(!model_accepts(&["01", "21", "10"], &[], &valid));
}

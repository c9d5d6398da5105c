//! Property tests for the GS1 Digital Link parser.

use idr::identifier::gs1::{Gs1Key, ParseOptions, compressed_path, parse_request};
use proptest::prelude::*;

/// Independent GS1 mod-10 check digit (weights 3,1,3,... from the right of the body).
fn check_digit(body: &str) -> char {
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).expect("digit") * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    char::from_digit((10 - sum % 10) % 10, 10).expect("digit")
}

fn with_check(body: String) -> String {
    let c = check_digit(&body);
    body + c.to_string().as_str()
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|d| d.iter().map(|x| char::from(b'0' + x)).collect())
}

/// GS1 CSET 82, biased towards URI delimiters and '%'. `.` and `..` are valid CSET 82 but refused as values
/// (no URI form survives WHATWG dot-segment removal), so they are not valid keys.
fn cset82(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[/%&?=+!\"'()*,.:;<>_A-Za-z0-9-]{{1,{max}}}"))
        .expect("regex")
        .prop_filter("dot segment", |v| v != "." && v != "..")
}

/// GS1 CSET 39, which includes '#'.
fn cset39(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[#/A-Z0-9-]{{1,{max}}}")).expect("regex")
}

/// (primary AI, value, qualifiers in dlpkey order) for valid keys.
type Spec = (&'static str, String, Vec<(&'static str, String)>);

fn gtin_key() -> impl Strategy<Value = Spec> {
    let quals = (
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(28)),
    );
    (digits(13), quals).prop_map(|(body, (cpv, lot, ser, tpx))| {
        let mut q = Vec::new();
        if let Some(t) = tpx {
            q.push(("235", t));
        } else {
            for (ai, v) in [("22", cpv), ("10", lot), ("21", ser)] {
                if let Some(v) = v {
                    q.push((ai, v));
                }
            }
        }
        ("01", with_check(body), q)
    })
}

fn cpid_key() -> impl Strategy<Value = Spec> {
    let serial = proptest::option::of((1u64..=999_999_999_999).prop_map(|n| n.to_string()));
    // a CPID starts with a GS1 Company Prefix (the dictionary's gcppos1 linter: four digits at least)
    (digits(4), cset39(26), serial).prop_map(|(gcp, rest, serial)| {
        (
            "8010",
            gcp + rest.as_str(),
            serial.into_iter().map(|s| ("8011", s)).collect(),
        )
    })
}

fn gln_key() -> impl Strategy<Value = Spec> {
    (digits(12), proptest::option::of(cset82(20))).prop_map(|(body, ext)| {
        (
            "414",
            with_check(body),
            ext.into_iter().map(|e| ("254", e)).collect(),
        )
    })
}

fn any_key() -> impl Strategy<Value = Spec> {
    prop_oneof![gtin_key(), cpid_key(), gln_key()]
}

/// Test-side encoder: only RFC 3986 unreserved characters stay literal.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn path_of(spec: &Spec) -> String {
    let mut p = format!("{}/{}", spec.0, encode(&spec.1));
    for (ai, v) in &spec.2 {
        p.push_str(&format!("/{ai}/{}", encode(v)));
    }
    p
}

fn opts() -> ParseOptions {
    ParseOptions::default()
}

proptest! {
    #[test]
    fn canonical_round_trip(spec in any_key()) {
        let key = Gs1Key::parse_key(&path_of(&spec), &opts()).expect("generated key is valid");
        prop_assert_eq!(key.canonical_path(), path_of(&spec));
        prop_assert_eq!(key.primary_ai(), spec.0);
        prop_assert_eq!(key.primary_value(), spec.1.as_str());
        let quals: Vec<(&str, &str)> = key.qualifiers().collect();
        let want: Vec<(&str, &str)> = spec.2.iter().map(|(a, v)| (*a, v.as_str())).collect();
        prop_assert_eq!(quals, want);
        prop_assert_eq!(&Gs1Key::parse_key(key.canonical_path(), &opts()).expect("canonical parses"), &key);
        let via_request = parse_request(&format!("/{}", key.canonical_path()), "", &opts()).expect("request parses");
        prop_assert_eq!(&via_request.key, &key);
        let with_stem = parse_request(&format!("/some/stem/{}/", key.canonical_path()), "", &opts()).expect("stem parses");
        prop_assert_eq!(&with_stem.key, &key);
    }

    /// GS1 Digital Link compression round trip: a valid key compresses and decompresses, in place and under a stem,
    /// to the same key. Only a TPX (235) that does not start with three digits cannot be written (GS1's toolkit reads
    /// three digits first, an erratum idr keeps so that codes stay interchangeable).
    #[test]
    fn compression_round_trip(spec in any_key()) {
        let key = Gs1Key::parse_key(&path_of(&spec), &opts()).expect("generated key is valid");
        let tpx_erratum = spec.2.iter().any(|(ai, v)| {
            *ai == "235" && (v.len() < 3 || !v.bytes().take(3).all(|b| b.is_ascii_digit()))
        });
        match compressed_path(&key) {
            Some(segment) => {
                prop_assert!(!tpx_erratum, "{} compressed", key);
                prop_assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                let dl = parse_request(&format!("/{segment}"), "", &opts()).expect("compressed key parses");
                prop_assert!(dl.compressed);
                prop_assert_eq!(&dl.key, &key);
                prop_assert!(dl.query.is_none());
                let stemmed = parse_request(&format!("/some/stem/{segment}"), "", &opts()).expect("stem parses");
                prop_assert_eq!(&stemmed.key, &key);
            }
            None => prop_assert!(tpx_erratum, "{} did not compress", key),
        }
    }

    #[test]
    fn over_encoding_is_decoded_once(spec in any_key(), upper in any::<bool>()) {
        // every value byte percent-encoded (%41 for A), hex case either way
        let enc = |v: &str| -> String {
            v.bytes().map(|b| if upper { format!("%{b:02X}") } else { format!("%{b:02x}") }).collect()
        };
        let mut path = format!("/{}/{}", spec.0, enc(&spec.1));
        for (ai, v) in &spec.2 {
            path.push_str(&format!("/{ai}/{}", enc(v)));
        }
        let key = parse_request(&path, "", &opts()).expect("over-encoded key parses").key;
        prop_assert_eq!(key.canonical_path(), path_of(&spec));
    }

    #[test]
    fn levels_start_with_self_and_end_with_primary(spec in any_key()) {
        let key = Gs1Key::parse_key(&path_of(&spec), &opts()).expect("valid");
        let levels = key.levels();
        prop_assert_eq!(&levels[0], &key);
        let last = levels.last().expect("non-empty");
        prop_assert!(last.is_primary_only());
        prop_assert_eq!(levels.len(), 1 << spec.2.len());
    }

    #[test]
    fn single_digit_change_is_rejected(
        (ai, len) in prop_oneof![Just(("01", 14usize)), Just(("414", 13)), Just(("00", 18))],
        seed in digits(17),
        pos in 0usize..18,
        delta in 1u8..10,
    ) {
        let valid = with_check(seed[..len - 1].to_string());
        let path = format!("/{ai}/{valid}");
        prop_assert!(parse_request(&path, "", &opts()).is_ok());
        let pos = pos % len;
        let mut bytes = valid.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).expect("ascii");
        let changed_path = format!("/{ai}/{changed}");
        prop_assert!(parse_request(&changed_path, "", &opts()).is_err(), "accepted {}", changed_path);
    }

    #[test]
    fn arbitrary_strings_never_panic(path in any::<String>(), query in any::<String>()) {
        let _ = parse_request(&path, &query, &opts());
        let _ = Gs1Key::parse_key(&path, &opts());
    }

    #[test]
    fn arbitrary_bytes_never_panic(path in any::<Vec<u8>>(), query in any::<Vec<u8>>()) {
        let path = String::from_utf8_lossy(&path);
        let query = String::from_utf8_lossy(&query);
        let _ = parse_request(&path, &query, &opts());
    }

    #[test]
    fn structured_noise_never_panics(
        tail in "[0-9a-zA-Z/%&=?#-]{0,60}",
        query in "[0-9a-z%&=]{0,40}",
    ) {
        for prefix in ["/", "/01/09520123456788/", "/eh", "/ex", "/414/0614141123452/"] {
            let path = format!("{prefix}{tail}");
            if let Ok(dl) = parse_request(&path, &query, &opts()) {
                // anything accepted must round-trip through its canonical form
                let again = Gs1Key::parse_key(dl.key.canonical_path(), &opts()).expect("canonical parses");
                prop_assert_eq!(again, dl.key);
            }
        }
    }
}

//! The carrier fixtures of `testdata/carrier.txt` (data), the AI title table against the AI table, and properties:
//! URI → element string → URI round trips, and no panic on any input.

use super::*;
use crate::identifier::gs1::ai_table::AIS;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

const FIXTURES: &str = include_str!("testdata/carrier.txt");
const ROOT: &str = "https://r.example";

/// The fixture notation: `<GS>` is the group separator, `<CR><LF>` a scanner's Enter.
fn unescape(s: &str) -> String {
    s.replace("<GS>", "\u{1d}")
        .replace("<CR>", "\r")
        .replace("<LF>", "\n")
}

fn fixtures(kind: &str) -> impl Iterator<Item = Vec<&'static str>> + '_ {
    FIXTURES
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(move |f| f[0] == kind)
}

#[test]
fn worked_examples_convert() {
    let mut n = 0;
    for f in fixtures("ok") {
        let [_, source, input, path, bracketed] = f[..] else {
            panic!("bad fixture line {f:?}");
        };
        let c = convert(&unescape(input), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(c.source.name(), source, "{input}");
        assert_eq!(c.uri_under(ROOT), format!("{ROOT}{path}"), "{input}");
        assert_eq!(c.element_string(), bracketed, "{input}");
        // and back: the element string, bracketed and as a barcode carries it, gives the same URI
        for back in [c.element_string(), c.barcode_data()] {
            let again = convert(&back, &ParseOptions::default())
                .unwrap_or_else(|e| panic!("{input} → {back:?}: {e}"));
            assert_eq!(again.uri_under(ROOT), c.uri_under(ROOT), "{back:?}");
        }
        n += 1;
    }
    assert!(n > 40, "only {n} fixtures read");
}

#[test]
fn bad_data_is_refused_naming_the_place() {
    let mut n = 0;
    for f in fixtures("err") {
        let [_, input, message] = f[..] else {
            panic!("bad fixture line {f:?}");
        };
        match convert(&unescape(input), &ParseOptions::default()) {
            Ok(c) => panic!("{input}: converted to {}", c.uri_under(ROOT)),
            Err(e) => assert!(
                e.to_string().contains(message),
                "{input}: {e:?} says \"{e}\", not \"{message}\""
            ),
        }
        n += 1;
    }
    assert!(n > 20, "only {n} fixtures read");
}

#[test]
fn barcode_data_separates_variable_length_values_only() {
    let c = convert(
        "(01)09520123456788(3103)001234(10)ABC(21)S1(17)201231",
        &ParseOptions::default(),
    )
    .unwrap();
    // path order: key, 10, 21; then the attributes in the order given. GS after 10 and 21 (variable), none after
    // the fixed-length 01 and 3103, none at the end.
    assert_eq!(
        c.barcode_data(),
        "010952012345678810ABC\u{1d}21S1\u{1d}310300123417201231"
    );
    let titles: Vec<(&str, &str, &str)> = c
        .elements()
        .iter()
        .map(|e| (e.ai, e.title, e.placement.name()))
        .collect();
    assert_eq!(
        titles,
        [
            ("01", "GTIN", "primaryKey"),
            ("10", "BATCH/LOT", "keyQualifier"),
            ("21", "SERIAL", "keyQualifier"),
            ("3103", "NET WEIGHT (kg)", "dataAttribute"),
            ("17", "USE BY or EXPIRY", "dataAttribute"),
        ]
    );
}

#[test]
fn positions_are_offsets_into_the_data_as_given() {
    let e = convert("  ]d20109520123456787", &ParseOptions::default()).unwrap_err();
    assert_eq!(e.position(), Some(5), "{e}");
    let e = convert("(01)09520123456788(99)", &ParseOptions::default()).unwrap_err();
    assert_eq!(e.position(), Some(18), "{e}");
}

#[test]
fn the_title_table_lines_up_with_the_ai_table() {
    assert_eq!(AI_INFO.len(), AIS.len());
    for (info, entry) in AI_INFO.iter().zip(AIS) {
        assert_eq!(info.ai, entry.ai);
        // the dictionary release gives the two coupon AIs no title
        let untitled = ["8110", "8112"].contains(&info.ai);
        assert_eq!(info.title.is_empty(), untitled, "AI ({}) title", info.ai);
    }
    // GS1 General Specifications, figure 7.8.5-2: the AIs of pre-defined length (spot checks both ways)
    for (ai, fixed) in [
        ("00", true),
        ("01", true),
        ("17", true),
        ("3103", true),
        ("10", false),
        ("21", false),
        ("8003", false),
    ] {
        assert_eq!(info(ai).unwrap().predefined_length, fixed, "AI ({ai})");
    }
}

/// A GTIN-14 with a valid check digit (GS1 mod 10, written out here rather than taken from the code under test).
fn gtin(body: &str) -> String {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// CSET 82 values (no `"`, which no URI may hold raw) that are not dot segments.
const VALUE: &str = "[A-Za-z0-9][!%&'()*+,./0-9:;<=>?A-Z_a-z-]{0,19}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn uri_to_element_string_to_uri(
        body in "[0-9]{13}",
        lot in proptest::option::of(VALUE),
        serial in proptest::option::of(VALUE),
        expiry in proptest::option::of((0u8..100, 1u8..13, 1u8..29)),
        weight in proptest::option::of("[0-9]{6}"),
    ) {
        let enc = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
        let mut uri = format!("https://any.example/01/{}", gtin(&body));
        if let Some(lot) = &lot {
            uri += &format!("/10/{}", enc(lot));
        }
        if let Some(serial) = &serial {
            uri += &format!("/21/{}", enc(serial));
        }
        let mut query = Vec::new();
        if let Some((y, m, d)) = expiry {
            query.push(format!("17={y:02}{m:02}{d:02}"));
        }
        if let Some(w) = &weight {
            query.push(format!("3103={w}"));
        }
        if !query.is_empty() {
            uri += &format!("?{}", query.join("&"));
        }
        let opts = ParseOptions::default();
        let first = convert(&uri, &opts).map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
        let canonical = first.uri_under(ROOT);
        for back in [first.element_string(), first.barcode_data(), format!("]d2{}", first.barcode_data()), canonical.clone()] {
            let again = convert(&back, &opts).map_err(|e| TestCaseError::fail(format!("{back:?}: {e}")))?;
            prop_assert_eq!(again.uri_under(ROOT), canonical.clone(), "{:?}", back);
        }
        // every value comes back as it was
        let values: Vec<&str> = first.elements().iter().map(|e| e.value).collect::<Vec<_>>();
        if let Some(lot) = &lot {
            prop_assert!(values.contains(&lot.as_str()));
        }
        if let Some(serial) = &serial {
            prop_assert!(values.contains(&serial.as_str()));
        }
    }

    #[test]
    fn no_input_panics(data in "(\\][A-Za-z][0-9])?[\\x1d^()0-9A-Za-z:./%\\[\\]|+-]{0,80}") {
        let _ = convert(&data, &ParseOptions::default());
    }

    #[test]
    fn no_text_panics(data in "\\PC{0,120}") {
        let _ = convert(&data, &ParseOptions::default());
    }

    #[test]
    fn no_epc_uri_panics(tail in "[a-z0-9+\\-\\[\\]=;:.%]{0,60}") {
        for prefix in ["urn:epc:id:", "urn:epc:tag:", "urn:epc:class:", "urn:epc:id:sgtin:", "urn:epc:tag:sgtin-96:"] {
            let _ = convert(&format!("{prefix}{tail}"), &ParseOptions::default());
        }
    }
}

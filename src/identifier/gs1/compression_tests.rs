use super::*;
use crate::identifier::gs1::ai_table::AIS;
use crate::identifier::gs1::{ParseOptions, parse_request};
use proptest::prelude::*;

const VECTORS: &str = include_str!("testdata/dl-compression.txt");
const TABLE_F: &str = include_str!("testdata/dl-compression-tablef.txt");

fn data_lines(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').collect())
}

fn split_query(uri: &str) -> (&str, &str) {
    uri.split_once('?').unwrap_or((uri, ""))
}

/// Every vector decodes, in place, to what its uncompressed URI parses to: the same key, the same query.
#[test]
fn vectors_decode_to_their_uncompressed_uri() {
    let opts = ParseOptions::default();
    for fields in data_lines(VECTORS) {
        let (path, query) = split_query(fields[0]);
        let (plain_path, plain_query) = split_query(fields[1]);
        let dl = parse_request(path, query, &opts).unwrap_or_else(|e| panic!("{}: {e}", fields[0]));
        let plain = parse_request(plain_path, plain_query, &opts).unwrap();
        assert!(dl.compressed && !plain.compressed, "{}", fields[0]);
        assert_eq!(format!("/{}", dl.key.canonical_path()), plain_path);
        assert_eq!(
            dl.query.as_deref().unwrap_or(query),
            plain_query,
            "{}",
            fields[0]
        );
        assert_eq!(dl.attributes, plain.attributes, "{}", fields[0]);
    }
}

/// The vectors GS1's toolkit wrote with its optimisations on are written identically here.
#[test]
fn vectors_encode_as_the_toolkit_does() {
    let mut checked = 0;
    for fields in data_lines(VECTORS).filter(|f| f[2] == "yes") {
        let (plain_path, plain_query) = split_query(fields[1]);
        let plain = parse_request(plain_path, plain_query, &ParseOptions::default()).unwrap();
        let mut ais: Vec<(&'static AiEntry, &str)> = plain.key.elements().collect();
        for (ai, v) in &plain.attributes {
            ais.push((format::lookup_ai(ai).unwrap(), v.as_str()));
        }
        let others: Vec<(&str, &str)> = plain_query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .filter(|(k, _)| !k.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        let segment = fields[0].rsplit('/').next().unwrap();
        assert_eq!(
            compress(&ais, &others).as_deref(),
            Some(segment),
            "{}",
            fields[1]
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

/// A layout written as in the table fixture (`N3+X..28`).
fn parse_layout(text: &str) -> Vec<Part> {
    text.split('+')
        .map(|p| {
            let numeric = p.starts_with('N');
            let (fixed, len) = match p[1..].strip_prefix("..") {
                Some(max) => (false, max),
                None => (true, &p[1..]),
            };
            part(numeric, fixed, len.parse().unwrap())
        })
        .collect()
}

/// The layouts derived from the dictionary are the toolkit's table, AI for AI, both ways.
#[test]
fn layouts_derived_from_the_dictionary_match_the_toolkit() {
    let mut expected: Vec<(&str, Vec<Part>)> = Vec::new();
    for fields in data_lines(TABLE_F) {
        let layout = parse_layout(fields[1]);
        for item in fields[0].split(' ') {
            let (lo, hi) = item.split_once('-').unwrap_or((item, item));
            let (lo, hi): (u32, u32) = (lo.parse().unwrap(), hi.parse().unwrap());
            for entry in AIS
                .iter()
                .filter(|e| e.ai.len() == item.split('-').next().unwrap().len())
            {
                let n: u32 = entry.ai.parse().unwrap();
                let measure = item == "3100-3695";
                if (lo..=hi).contains(&n) && !(measure && n % 10 > 5) {
                    expected.push((entry.ai, layout.clone()));
                }
            }
        }
    }
    assert!(expected.len() > 300, "{}", expected.len());
    for (ai, parts) in &expected {
        let entry = format::lookup_ai(ai).unwrap();
        let got = layout(entry).unwrap_or_else(|| panic!("({ai}) has no layout"));
        assert_eq!(got.parts(), parts.as_slice(), "({ai})");
    }
    for entry in AIS.iter().filter(|e| layout(e).is_some()) {
        assert!(
            expected.iter().any(|(ai, _)| *ai == entry.ai),
            "({}) has a layout the toolkit does not know",
            entry.ai
        );
    }
}

#[test]
fn bit_widths_are_the_toolkits() {
    let value = [
        (0, 1),
        (1, 4),
        (2, 7),
        (3, 10),
        (4, 14),
        (5, 17),
        (6, 20),
        (7, 24),
        (8, 27),
        (9, 30),
        (10, 34),
        (11, 37),
        (12, 40),
        (13, 44),
        (14, 47),
        (15, 50),
        (16, 54),
        (17, 57),
        (18, 60),
        (20, 67),
    ];
    for (n, bits) in value {
        assert_eq!(value_bits(n), bits, "{n} digits");
    }
    let length = [
        (2, 2),
        (3, 2),
        (4, 3),
        (6, 3),
        (8, 4),
        (9, 4),
        (10, 4),
        (12, 4),
        (15, 4),
        (16, 5),
        (17, 5),
        (20, 5),
        (24, 5),
        (25, 5),
        (27, 5),
        (28, 5),
        (30, 5),
        (34, 6),
        (35, 6),
        (50, 6),
        (70, 7),
        (90, 7),
    ];
    for (max, bits) in length {
        assert_eq!(length_bits(max), bits, "max {max}");
    }
}

/// The integer arithmetic agrees with the toolkit's floating-point formula for every length a value can have.
#[test]
fn value_bits_agree_with_the_floating_point_formula() {
    for n in 0..=127usize {
        let float = (n as f64 * 10f64.ln() / 2f64.ln() + 0.01).ceil() as usize;
        assert_eq!(value_bits(n), float, "{n} digits");
    }
}

/// 45 two-digit prefixes start an AI.
#[test]
fn prefix_table_has_45_entries() {
    assert_eq!((0..100).filter(|&p| ai_digits(p).is_some()).count(), 45);
    assert_eq!(ai_digits(1), Some(2));
    assert_eq!(ai_digits(25), Some(3));
    assert_eq!(ai_digits(82), Some(4));
    assert_eq!(ai_digits(3), None);
}

/// Written by an independent encoder: code 1A with its values in the prototype's order (01, 10, 21, 17). The released
/// order does not decode to a valid URI, so the prototype's is tried.
#[test]
fn code_1a_in_either_order() {
    let opts = ParseOptions::default();
    for seg in ["/GhFRJydaKIdXh6q-xJag", "/GhFRJydaKIdXjElqeqvg"] {
        let dl = parse_request(seg, "", &opts).unwrap_or_else(|e| panic!("{seg}: {e}"));
        assert_eq!(
            dl.key.canonical_path(),
            "01/09520123456788/10/ABC/21/S1",
            "{seg}"
        );
        assert_eq!(dl.query.as_deref(), Some("17=251231"), "{seg}");
    }
}

/// Digits with a leading zero are not written as a number (the toolkit would drop the zero); read as a number they
/// are padded back to their length.
#[test]
fn leading_zeros_survive() {
    let key = key("01/09520123456788/21/00123");
    assert_eq!(
        super::super::compressed_path(&key).as_deref(),
        Some("DBFRJydaKIoAJG")
    );
    let opts = ParseOptions::default();
    for seg in ["/DBFRJydaKIoAJG", "/DBFRJydaKAoAew"] {
        let dl = parse_request(seg, "", &opts).unwrap();
        assert_eq!(
            dl.key.canonical_path(),
            "01/09520123456788/21/00123",
            "{seg}"
        );
    }
}

fn key(path: &str) -> crate::identifier::gs1::Gs1Key {
    crate::identifier::gs1::Gs1Key::parse_key(path, &ParseOptions::default()).unwrap()
}

#[test]
fn what_does_not_decode_cleanly_is_not_compressed() {
    let opts = ParseOptions::default();
    // ordinary words keep the plain parser's answer
    for word in [
        "/products",
        "/acme",
        "/catalogue",
        "/gs1",
        "/ARFKk4XB0CDKWcnpr",
    ] {
        let e = parse_request(word, "", &opts).unwrap_err();
        assert!(matches!(e, Gs1Error::NoPrimaryKey(_)), "{word}: {e:?}");
    }
    // non-zero padding, a truncated stream
    assert!(decompress("ARFKk4XB0CDKWcnpr", false).is_err());
    assert!(decompress("ARFKk4XB0CDKWcn", false).is_err());
    assert!(decompress("ARFKk4XB0CDKWcnpq", false).is_ok());
    let seg = super::super::compressed_path(&key("01/09520123456788")).unwrap();
    assert_eq!(seg, "ARFRJydaKA");
    // a padding bit set
    assert!(parse_request("/ARFRJydaKB", "", &opts).is_err());
    // a key whose check digit is wrong (written by an independent encoder) decodes, but is refused as the
    // uncompressed URI would be
    let e = parse_request("/ARFRJydaJg", "", &opts).unwrap_err();
    assert!(
        matches!(e, Gs1Error::InvalidValue { ai: "01", .. }),
        "{e:?}"
    );
}

/// Partially compressed (the toolkit's third form): the primary key written out, the rest compressed after it
/// (segments written by an independent encoder).
#[test]
fn partially_compressed_uris() {
    let opts = ParseOptions::default();
    let dl = parse_request("/01/09780345418913/IQVVhQ", "", &opts).unwrap();
    assert!(dl.compressed);
    assert_eq!(dl.key.canonical_path(), "01/09780345418913/21/43786");
    let dl = parse_request("/stem/01/9780345418913/EGUs5PTUhYktQ", "", &opts).unwrap();
    assert_eq!(dl.key.canonical_path(), "01/09780345418913/10/LOT01/21/S1");
    // qualifiers alone are no key; a key written out and another compressed are no URI
    assert!(parse_request("/IQVVhQ", "", &opts).is_err());
    assert!(parse_request("/01/09780345418913/ARFKk4XB0CDKWcnpq", "", &opts).is_err());
    // the key by its convenience alpha where those are allowed (as in a plain path), not in strict mode
    let dl = parse_request("/gtin/09780345418913/IQVVhQ", "", &opts).unwrap();
    assert_eq!(dl.key.canonical_path(), "01/09780345418913/21/43786");
    let strict = ParseOptions {
        convenience_alphas: false,
        ..opts
    };
    assert!(parse_request("/gtin/09780345418913/IQVVhQ", "", &strict).is_err());
}

/// A query attribute inside the data and the same AI in the request's query is a duplicate, as in the plain URI.
#[test]
fn carried_attributes_merge_with_the_query() {
    let opts = ParseOptions::default();
    let e = parse_request("/HxHKVAdpQgZzjr-hCDKigI", "15=120821", &opts).unwrap_err();
    assert!(matches!(e, Gs1Error::DuplicateAi("15")), "{e:?}");
    let dl = parse_request("/HxHKVAdpQgZzjr-hCDKigI", "linkType=gs1:pip", &opts).unwrap();
    assert_eq!(dl.query.as_deref(), Some("15=120820&linkType=gs1:pip"));
}

use super::super::Gs1Error;

/// A value of the shape `layout` writes: digits or printable ASCII, of each part's length.
fn value_for(layout: Layout) -> impl Strategy<Value = String> {
    let parts: Vec<BoxedStrategy<String>> = layout
        .parts()
        .iter()
        .map(|p| {
            let (min, max) = if p.fixed { (p.len, p.len) } else { (0, p.len) };
            let class = if p.numeric { "[0-9]" } else { "[ -~]" };
            proptest::string::string_regex(&format!("{class}{{{min},{max}}}"))
                .expect("regex")
                .boxed()
        })
        .collect();
    parts.prop_map(|v| v.concat())
}

/// Any AI the toolkit can carry, with a value of its shape.
fn element() -> impl Strategy<Value = (&'static AiEntry, String)> {
    let entries: Vec<&'static AiEntry> = AIS.iter().filter(|e| layout(e).is_some()).collect();
    proptest::sample::select(entries)
        .prop_flat_map(|e| (Just(e), value_for(layout(e).expect("filtered"))))
}

proptest! {
    /// Every AI the toolkit can carry, any value of its shape, any mix, with other pairs: written and read back.
    #[test]
    fn element_strings_round_trip(
        elements in proptest::collection::vec(element(), 1..6),
        others in proptest::collection::vec(("[A-Za-z0-9_-]{1,10}", "[ -~]{0,30}"), 0..3),
    ) {
        let mut seen = std::collections::HashSet::new();
        let ais: Vec<(&'static AiEntry, &str)> = elements
            .iter()
            .filter(|(e, _)| seen.insert(e.ai))
            .map(|(e, v)| (*e, v.as_str()))
            .collect();
        let others: Vec<(&str, &str)> = others.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let segment = compress(&ais, &others).expect("every toolkit AI compresses");
        let back = decompress(&segment, false).expect("written streams decode");
        let mut want: Vec<(&str, &str)> = ais.iter().map(|(e, v)| (e.ai, *v)).collect();
        let mut got: Vec<(&str, &str)> = back.ais.iter().map(|(e, v)| (e.ai, v.as_str())).collect();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
        let got_others: Vec<(&str, &str)> = back.others.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        prop_assert_eq!(got_others, others);
    }

    /// No input of any length panics the decoder.
    #[test]
    fn decoding_never_panics(seg in "[A-Za-z0-9_-]{0,400}", other in any::<String>()) {
        for prototype_order in [false, true] {
            if let Ok(d) = decompress(&seg, prototype_order) {
                let _ = d.uncompressed();
            }
            let _ = decompress(&other, prototype_order);
        }
        let _ = parse_request(&format!("/x/{seg}"), "", &ParseOptions::default());
    }

    /// Whatever decodes re-encodes to a stream that decodes to the same element strings.
    #[test]
    fn decoded_streams_re_encode(seg in "[A-Za-z0-9_-]{1,60}") {
        if let Ok(d) = decompress(&seg, false) {
            let ais: Vec<(&'static AiEntry, &str)> = d.ais.iter().map(|(e, v)| (*e, v.as_str())).collect();
            let others: Vec<(&str, &str)> = d.others.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            if let Some(again) = compress(&ais, &others) {
                let back = decompress(&again, false).expect("re-encoded stream decodes");
                let mut want: Vec<(&str, &str)> = ais.iter().map(|(e, v)| (e.ai, *v)).collect();
                let mut got: Vec<(&str, &str)> = back.ais.iter().map(|(e, v)| (e.ai, v.as_str())).collect();
                want.sort();
                got.sort();
                prop_assert_eq!(got, want);
                prop_assert_eq!(back.others, d.others);
            }
        }
    }
}

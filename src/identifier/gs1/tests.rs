//! Request-level unit tests. Expected values come from the spec, the GS1
//! Syntax Dictionary and published test vectors (check digits verified by hand).

use super::*;

const GTIN: &str = "09520123456788";

fn opts() -> ParseOptions {
    ParseOptions::default()
}

fn strict() -> ParseOptions {
    ParseOptions {
        legacy_gtin: false,
        convenience_alphas: false,
    }
}

fn req(path: &str) -> Result<DigitalLink, Gs1Error> {
    parse_request(path, "", &opts())
}

fn canon(path: &str) -> String {
    match req(path) {
        Ok(dl) => dl.key.canonical_path().to_owned(),
        Err(e) => panic!("{path}: {e}"),
    }
}

fn err(path: &str) -> Gs1Error {
    match req(path) {
        Ok(dl) => panic!("{path} unexpectedly parsed as {}", dl.key),
        Err(e) => e,
    }
}

fn query(q: &str) -> Result<Vec<(&'static str, String)>, Gs1Error> {
    parse_request("/01/09520123456788", q, &opts()).map(|dl| dl.attributes)
}

// ---- valid forms ----

#[test]
fn keys_stay_small_and_compare_by_canonical_path() {
    // every parse moves a key through several return values
    assert!(std::mem::size_of::<Gs1Key>() <= 64);
    let a = req("/01/09520123456788/10/A%2FB").expect("valid").key;
    let b = Gs1Key::parse_key("01/09520123456788/10/A%2fB", &opts()).expect("valid");
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), "Gs1Key(\"01/09520123456788/10/A%2FB\")");
    assert_ne!(a, req("/01/09520123456788/10/A%2FC").expect("valid").key);
}

#[test]
fn plain_key_and_accessors() {
    let dl = req("/01/09520123456788/22/V1/10/ABC/21/S1").expect("valid");
    let k = &dl.key;
    assert_eq!(k.primary_ai(), "01");
    assert_eq!(k.primary_value(), GTIN);
    let quals: Vec<_> = k.qualifiers().collect();
    assert_eq!(quals, [("22", "V1"), ("10", "ABC"), ("21", "S1")]);
    assert_eq!(k.canonical_path(), "01/09520123456788/22/V1/10/ABC/21/S1");
    assert_eq!(k.to_string(), k.canonical_path());
    assert!(!k.is_primary_only());
    assert!(!dl.compressed);
    assert!(dl.attributes.is_empty());
    assert!(
        req("/01/09520123456788")
            .expect("valid")
            .key
            .is_primary_only()
    );
}

#[test]
fn stem_and_trailing_slash() {
    let want = "01/09520123456788/10/ABC";
    assert_eq!(canon("/products/shoes/01/09520123456788/10/ABC"), want);
    assert_eq!(canon("/01/09520123456788/10/ABC/"), want);
    assert_eq!(canon("/a/01/09520123456788/10/ABC/"), want);
    // the right-most primary key wins; everything before it is stem
    assert_eq!(canon("/01/09520123456788/01/09520123456788/10/ABC"), want);
    assert!(req("/01/09520123456788/10/ABC//").is_err());
}

#[test]
fn percent_encoding_in_values() {
    let dl = req("/01/09520123456788/10/A%2FB").expect("valid");
    assert_eq!(dl.key.qualifiers().next(), Some(("10", "A/B")));
    assert_eq!(dl.key.canonical_path(), "01/09520123456788/10/A%2FB");
    assert_eq!(
        canon("/01/09520123456788/10/A%2fB"),
        "01/09520123456788/10/A%2FB"
    );
    // %41 is A
    assert_eq!(
        req("/01/09520123456788/10/%41BC").expect("valid").key,
        req("/01/09520123456788/10/ABC").expect("valid").key
    );
    // every byte outside RFC 3986 unreserved is encoded
    assert_eq!(
        canon("/01/09520123456788/21/a%26b%3F%25+!"),
        "01/09520123456788/21/a%26b%3F%25%2B%21"
    );
}

#[test]
fn legacy_gtin_padding() {
    // GTIN-13, GTIN-12 (UPC-A 036000291452), GTIN-8 (EAN-8 95050003)
    assert_eq!(canon("/01/9520123456788"), "01/09520123456788");
    assert_eq!(canon("/01/036000291452"), "01/00036000291452");
    assert_eq!(canon("/01/95050003"), "01/00000095050003");
    // check digit still verified after padding
    assert!(matches!(
        err("/01/9520123456787"),
        Gs1Error::InvalidValue {
            ai: "01",
            reason: "invalid check digit",
            ..
        }
    ));
    assert!(matches!(
        parse_request("/01/9520123456788", "", &strict()),
        Err(Gs1Error::InvalidValue {
            ai: "01",
            reason: "is too short",
            ..
        })
    ));
    // other lengths are not padded
    assert!(err("/01/95201234567").to_string().contains("too short"));
}

#[test]
fn convenience_alphas() {
    assert_eq!(
        canon("/gtin/09520123456788/lot/ABC/ser/S1"),
        "01/09520123456788/10/ABC/21/S1"
    );
    assert_eq!(
        canon("/gtin/09520123456788/cpv/V/ser/S1"),
        "01/09520123456788/22/V/21/S1"
    );
    assert_eq!(
        canon("/gln/0614141123452/glnx/X1"),
        "414/0614141123452/254/X1"
    );
    assert_eq!(canon("/sscc/106141412345678908"), "00/106141412345678908");
    assert_eq!(canon("/giai/0614141ABC"), "8004/0614141ABC");
    assert_eq!(
        canon("/gmn/1987654Ad4X4bL5ttr2310c2K"),
        "8013/1987654Ad4X4bL5ttr2310c2K"
    );
    assert_eq!(
        canon("/payto/0614141123452/refno/INV1"),
        "415/0614141123452/8020/INV1"
    );
    assert_eq!(canon("/party/0614141123452"), "417/0614141123452");
    assert!(matches!(
        parse_request("/gtin/09520123456788", "", &strict()),
        Err(Gs1Error::NoPrimaryKey(_))
    ));
    // alphas are case-sensitive
    assert!(req("/GTIN/09520123456788").is_err());
}

#[test]
fn other_primary_keys() {
    assert_eq!(
        canon("/414/0614141123452/254/5678"),
        "414/0614141123452/254/5678"
    );
    assert_eq!(
        canon("/414/0614141123452/7040/1ABC"),
        "414/0614141123452/7040/1ABC"
    );
    assert_eq!(
        canon("/8004/0614141ABC/7040/1ABC"),
        "8004/0614141ABC/7040/1ABC"
    );
    assert_eq!(
        canon("/417/0614141123452/7040/1ABC"),
        "417/0614141123452/7040/1ABC"
    );
    assert_eq!(
        canon("/415/0614141123452/8020/INV1"),
        "415/0614141123452/8020/INV1"
    );
    assert_eq!(canon("/00/106141412345678908"), "00/106141412345678908");
    assert_eq!(
        canon("/8018/106141412345678908/8019/123"),
        "8018/106141412345678908/8019/123"
    );
    assert_eq!(canon("/253/0614141123452DOC1"), "253/0614141123452DOC1");
    assert_eq!(canon("/8003/00614141123452SER1"), "8003/00614141123452SER1");
    assert_eq!(
        canon("/8006/095201234567880102/21/S"),
        "8006/095201234567880102/21/S"
    );
    assert_eq!(
        canon("/8010/0614141-A%2FB/8011/123"),
        "8010/0614141-A%2FB/8011/123"
    );
    assert_eq!(
        canon("/8013/1987654Ad4X4bL5ttr2310c2K"),
        "8013/1987654Ad4X4bL5ttr2310c2K"
    );
    assert_eq!(
        canon("/01/09520123456788/235/TPX1"),
        "01/09520123456788/235/TPX1"
    );
}

#[test]
fn compressed_epc() {
    let want = "01/09528765123457/21/123456789123";
    for path in [
        "/eh30164596f40c0e5cbe991a83",
        "/exMBZFlvQMDly-mRqD",
        "/stem/eh30164596f40c0e5cbe991a83/",
    ] {
        let dl = req(path).expect(path);
        assert!(dl.compressed, "{path}");
        assert_eq!(dl.key.canonical_path(), want);
    }
    // SSCC-96 example from the EPC Tag Data Standard
    let dl = req("/eh3174257bf4499602d2000000").expect("sscc");
    assert_eq!(dl.key.canonical_path(), "00/106141412345678908");
    assert!(dl.compressed);
    let dl =
        parse_request("/eh30164596f40c0e5cbe991a83", "17=261231", &opts()).expect("with query");
    assert_eq!(dl.attributes, [("17", "261231".to_owned())]);
    assert!(matches!(
        err("/EH30164596F40C0E5CBE991A83"),
        Gs1Error::NoPrimaryKey(_)
    ));
    assert!(req("/exMBZFlvQMDly").is_err());
    assert!(matches!(
        err("/eh99164596f40c0e5cbe991a83"),
        Gs1Error::UnsupportedEpcHeader { header: 0x99, .. }
    ));
    // a value that merely starts with "ex" is still a plain path value
    let dl = req("/01/09520123456788/10/exMBZ").expect("valid");
    assert!(!dl.compressed);
}

/// The "+" schemes can be shorter than the 96 bits of TDS 1.x: they decompress in place, and a name spelled like one
/// is reserved (no scheme namespace may take it), while words that merely start with `ex`/`eh` are not.
#[test]
fn short_plus_epc_strings_decompress_and_are_reserved() {
    // SSCC+ (TDS 2.3 Annex E.3): 84 bits
    let dl = req("/ehf90095201234567891235").expect("SSCC+");
    assert_eq!(dl.key.canonical_path(), "00/095201234567891235");
    assert!(dl.compressed);
    // the shortest real one, 32 bits: GIAI+ 0xFA, toggle 0, filter 0, nibbles 0 6 1 4, terminator 0xF
    let dl = req("/ehfa00614f").expect("GIAI+ of a 4-digit GIAI");
    assert_eq!(dl.key.canonical_path(), "8004/0614");
    for reserved in [
        "ehf90095201234567891235",
        "EHF90095201234567891235",
        "ehfa00614f",
        "ehfa3952114132e83c2bf10",
        // any header from 96 bits, as before
        "eh99164596f40c0e5cbe991a83",
    ] {
        assert!(could_be_compressed(reserved), "{reserved}");
    }
    for free in [
        "example1",   // 36 bits, header 0x6A
        "examples",   // 36 bits, header 0x6A
        "ehabcdef01", // 32 bits, header 0xAB: no scheme
        "ehfa0061",   // 24 bits: shorter than any key
        "ehcafe",
    ] {
        assert!(!could_be_compressed(free), "{free}");
    }
}

/// Records stored under looser rules are found by their stored key, read by its structure only.
#[test]
fn stored_keys_are_read_by_structure_only() {
    // the gcppos1 linter refuses it today
    assert!(Gs1Key::parse_key("8004/ABC123", &opts()).is_err());
    let key = Gs1Key::stored("8004/ABC123").expect("its structure is a GIAI");
    assert_eq!(key.canonical_path(), "8004/ABC123");
    let key =
        Gs1Key::stored("01/09520123456787/10/A%2FB").expect("a bad check digit is a value problem");
    assert_eq!(key.canonical_path(), "01/09520123456787/10/A%2FB");
    for not_stored in [
        "8004/ABC123/",                // not the canonical form
        "01/09520123456788/10/A/B",    // a value holding '/' is written %2F
        "9999/1",                      // no such AI
        "10/ABC",                      // no primary key
        "01/09520123456788/17/201231", // (17) is no key qualifier
        "01/09520123456788/21/1/10/2", // qualifiers out of order
        "01/",
        "",
    ] {
        assert!(Gs1Key::stored(not_stored).is_none(), "{not_stored}");
    }
}

// ---- error classes ----

#[test]
fn percent_errors() {
    assert_eq!(
        err("/01/09520123456788/10/AB%ZZ"),
        Gs1Error::InvalidPercentEncoding("AB%ZZ".into())
    );
    assert!(matches!(
        err("/01/09520123456788/10/AB%4"),
        Gs1Error::InvalidPercentEncoding(_)
    ));
    assert!(matches!(
        err("/01/09520123456788/10/A%00"),
        Gs1Error::NulCharacter(_)
    ));
    assert!(matches!(
        err("/01/09520123456788/10/A%FF"),
        Gs1Error::InvalidUtf8(_)
    ));
    assert!(matches!(
        err("/st%ZZem/01/09520123456788"),
        Gs1Error::InvalidPercentEncoding(_)
    ));
}

#[test]
fn structure_errors() {
    assert_eq!(err(""), Gs1Error::EmptyPath);
    assert_eq!(err("/"), Gs1Error::EmptyPath);
    assert_eq!(err("/01/"), Gs1Error::MissingValue("01"));
    assert_eq!(err("/01//10/x"), Gs1Error::EmptyValue("01"));
    assert_eq!(
        err("/01/09520123456788/10//21/x"),
        Gs1Error::EmptyValue("10")
    );
    assert!(matches!(
        err("/01/09520123456788/10"),
        Gs1Error::NoPrimaryKey(_)
    ));
    assert!(matches!(
        err("/01/09520123456788/foo"),
        Gs1Error::NoPrimaryKey(_)
    ));
    assert_eq!(err("/9999/123"), Gs1Error::UnknownAi("9999".into()));
    assert!(matches!(err("/just/a/stem"), Gs1Error::NoPrimaryKey(_)));
    assert_eq!(err("/21/S"), Gs1Error::NoPrimaryKey("21".into()));
    assert_eq!(err("/stem/10/ABC"), Gs1Error::NoPrimaryKey("stem".into()));
    assert!(matches!(err("/a%00"), Gs1Error::NulCharacter(_)));
}

#[test]
fn qualifier_errors() {
    assert_eq!(
        err("/01/09520123456788/99/ABC"),
        Gs1Error::DataAttributeInPath("99")
    );
    assert_eq!(
        err("/01/09520123456788/17/261231"),
        Gs1Error::DataAttributeInPath("17")
    );
    assert_eq!(
        err("/01/09520123456788/17/261231").to_string(),
        "AI (17) is a data attribute and must be in the query string, not the path"
    );
    assert_eq!(
        err("/01/09520123456788/8200/x"),
        Gs1Error::NotInPath("8200")
    );
    assert_eq!(
        err("/01/09520123456788/21/S1/10/L1"),
        Gs1Error::QualifierOrder {
            first: "10",
            second: "21"
        }
    );
    assert_eq!(
        err("/01/09520123456788/21/S1/10/L1").to_string(),
        "qualifier (10) must come before (21)"
    );
    assert_eq!(
        err("/01/09520123456788/10/A/22/V"),
        Gs1Error::QualifierOrder {
            first: "22",
            second: "10"
        }
    );
    assert_eq!(
        err("/01/09520123456788/21/S/235/T"),
        Gs1Error::MixedAlternatives("21", "235")
    );
    assert_eq!(
        err("/01/09520123456788/22/V/10/B/235/T"),
        Gs1Error::MixedAlternatives("10", "235")
    );
    assert_eq!(
        err("/414/0614141123452/254/X/7040/1ABC"),
        Gs1Error::MixedAlternatives("254", "7040")
    );
    assert_eq!(
        err("/01/09520123456788/21/a/21/b"),
        Gs1Error::DuplicateAi("21")
    );
    assert_eq!(
        err("/01/09520123456788/254/x"),
        Gs1Error::NotAQualifier {
            ai: "254",
            primary: "01"
        }
    );
    assert_eq!(
        err("/415/0614141123452"),
        Gs1Error::MissingQualifier {
            primary: "415",
            qualifier: "8020"
        }
    );
    assert_eq!(
        err("/01/09520123456788/22/a/10/b/21/c/21/d"),
        Gs1Error::TooManyQualifiers
    );
}

#[test]
fn value_errors() {
    assert_eq!(
        err("/01/09520123456787").to_string(),
        "AI (01) value \"09520123456787\": invalid check digit"
    );
    assert!(matches!(
        err("/00/106141412345678907"),
        Gs1Error::InvalidValue { ai: "00", .. }
    ));
    assert!(matches!(
        err("/414/0614141123453"),
        Gs1Error::InvalidValue { ai: "414", .. }
    ));
    assert!(matches!(
        err("/8013/1987654Ad4X4bL5ttr2310cXK"),
        Gs1Error::InvalidValue {
            ai: "8013",
            reason: "invalid check character pair",
            ..
        }
    ));
    assert!(matches!(
        err("/8003/10614141123452"),
        Gs1Error::InvalidValue {
            ai: "8003",
            reason: "digit must be 0",
            ..
        }
    ));
    assert!(matches!(
        err("/01/09520123456788/10/A%20B"),
        Gs1Error::InvalidValue { ai: "10", .. }
    ));
    // '#' is outside CSET 82
    assert!(matches!(
        err("/01/09520123456788/10/A%23B"),
        Gs1Error::InvalidValue { ai: "10", .. }
    ));
    assert!(matches!(
        err("/01/09520123456788/10/123456789012345678901"),
        Gs1Error::InvalidValue {
            ai: "10",
            reason: "is too long",
            ..
        }
    ));
    assert!(matches!(
        err("/8010/abc"),
        Gs1Error::InvalidValue { ai: "8010", .. }
    ));
    assert!(matches!(
        err("/8010/0614ABC/8011/0123"),
        Gs1Error::InvalidValue { ai: "8011", .. }
    ));
}

// ---- query string ----

#[test]
fn query_attributes() {
    assert_eq!(query("17=261231"), Ok(vec![("17", "261231".to_owned())]));
    assert_eq!(
        query("linkType=x&context=y&17=261231&&"),
        Ok(vec![("17", "261231".to_owned())])
    );
    assert_eq!(query(""), Ok(vec![]));
    assert_eq!(query("linkType=gs1:pip"), Ok(vec![]));
    assert_eq!(
        query("3103=000195&99=A%26B"),
        Ok(vec![
            ("3103", "000195".to_owned()),
            ("99", "A&B".to_owned())
        ])
    );
    assert_eq!(query("9999=1"), Err(Gs1Error::UnknownAi("9999".into())));
    assert!(matches!(
        query("17=26123"),
        Err(Gs1Error::InvalidValue { ai: "17", .. })
    ));
    assert!(matches!(
        query("17"),
        Err(Gs1Error::InvalidValue { ai: "17", .. })
    ));
    assert_eq!(query("10=ABC"), Err(Gs1Error::KeyAiInQuery("10")));
    assert_eq!(
        query("01=09520123456788"),
        Err(Gs1Error::KeyAiInQuery("01"))
    );
    assert_eq!(query("21=x"), Err(Gs1Error::KeyAiInQuery("21")));
    assert_eq!(query("8200=x"), Err(Gs1Error::NotADataAttribute("8200")));
    assert_eq!(
        query("17=261231&17=261231"),
        Err(Gs1Error::DuplicateAi("17"))
    );
    assert!(matches!(
        query("17=%ZZ"),
        Err(Gs1Error::InvalidPercentEncoding(_))
    ));
    // Non-AI parameters are forwarded as they came; their encoding is not ours to judge.
    assert!(query("linkType=%4&note=50%&x=%FF").is_ok());
    assert!(query("%ZZ=1").is_ok());
    // percent-encoded key digits are still AIs
    assert_eq!(
        query("%31%37=261231"),
        Ok(vec![("17", "261231".to_owned())])
    );
}

// ---- parse_key ----

#[test]
fn parse_key_forms() {
    let k = Gs1Key::parse_key("/01/09520123456788/10/A%2FB", &opts()).expect("valid");
    assert_eq!(k.canonical_path(), "01/09520123456788/10/A%2FB");
    assert_eq!(
        Gs1Key::parse_key("01/09520123456788/10/A%2FB", &opts()),
        Ok(k)
    );
    assert_eq!(
        Gs1Key::parse_key("gtin/9520123456788", &opts()).map(|k| k.to_string()),
        Ok("01/09520123456788".to_owned())
    );
    assert!(Gs1Key::parse_key("gtin/09520123456788", &strict()).is_err());
    assert!(Gs1Key::parse_key("01/9520123456788", &strict()).is_err());
    // no stem, no compression
    assert!(Gs1Key::parse_key("stem/01/09520123456788", &opts()).is_err());
    assert!(Gs1Key::parse_key("eh30164596f40c0e5cbe991a83", &opts()).is_err());
    assert_eq!(
        Gs1Key::parse_key("10/ABC", &opts()),
        Err(Gs1Error::NotAPrimaryKey("10"))
    );
    assert_eq!(
        Gs1Key::parse_key("01", &opts()),
        Err(Gs1Error::MissingValue("01"))
    );
    assert_eq!(Gs1Key::parse_key("", &opts()), Err(Gs1Error::EmptyPath));
    assert_eq!(
        Gs1Key::parse_key("01/09520123456788/17/261231", &opts()),
        Err(Gs1Error::DataAttributeInPath("17"))
    );
}

// ---- walk-up ----

fn level_paths(path: &str) -> Vec<String> {
    let key = Gs1Key::parse_key(path, &opts()).expect("valid");
    key.levels()
        .iter()
        .map(|k| k.canonical_path().to_owned())
        .collect()
}

#[test]
fn levels_gtin_full() {
    let g = "01/09520123456788";
    assert_eq!(
        level_paths(&format!("{g}/22/v/10/b/21/s")),
        [
            format!("{g}/22/v/10/b/21/s"),
            format!("{g}/10/b/21/s"),
            format!("{g}/22/v/21/s"),
            format!("{g}/21/s"),
            format!("{g}/22/v/10/b"),
            format!("{g}/10/b"),
            format!("{g}/22/v"),
            g.to_owned(),
        ]
    );
    assert_eq!(
        level_paths(&format!("{g}/10/b/21/s")),
        [
            format!("{g}/10/b/21/s"),
            format!("{g}/21/s"),
            format!("{g}/10/b"),
            g.to_owned()
        ]
    );
    assert_eq!(
        level_paths(&format!("{g}/235/t")),
        [format!("{g}/235/t"), g.to_owned()]
    );
    assert_eq!(level_paths(g), [g.to_owned()]);
}

#[test]
fn levels_other_keys() {
    assert_eq!(
        level_paths("414/0614141123452/254/x"),
        ["414/0614141123452/254/x", "414/0614141123452"]
    );
    // 415 cannot stand without its required 8020
    assert_eq!(
        level_paths("415/0614141123452/8020/r"),
        ["415/0614141123452/8020/r"]
    );
    let key = Gs1Key::parse_key("01/09520123456788/10/A%2FB", &opts()).expect("valid");
    let levels = key.levels();
    assert_eq!(levels[0], key);
    assert_eq!(
        levels[1],
        Gs1Key::parse_key("01/09520123456788", &opts()).expect("valid")
    );
    assert_eq!(levels[0].qualifiers().next(), Some(("10", "A/B")));
}

#[test]
fn registry_functions() {
    assert_eq!(
        primary_keys(),
        [
            "00", "01", "253", "255", "401", "402", "414", "415", "417", "8003", "8004", "8006",
            "8010", "8013", "8017", "8018"
        ]
    );
    assert!(is_known_ai("01") && is_known_ai("3103") && is_known_ai("3929") && is_known_ai("95"));
    assert!(
        !is_known_ai("9999") && !is_known_ai("3106") && !is_known_ai("") && !is_known_ai("gtin")
    );
}

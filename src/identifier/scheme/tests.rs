use super::*;
use crate::identifier::{Identifier, IdentifierError, Parser};

fn parser() -> Parser {
    Parser::embedded().expect("shipped schemes compile")
}

fn canonical(path: &str) -> Result<String, IdentifierError> {
    parser()
        .parse_request(path, "")
        .map(|r| r.identifier.canonical_path().to_string())
}

fn levels(path: &str) -> Vec<String> {
    let id = parser().parse_request(path, "").unwrap().identifier;
    id.levels()
        .iter()
        .map(|l| l.canonical_path().to_string())
        .collect()
}

fn load_one(toml: &str) -> Result<SchemeSet, SchemeLoadError> {
    SchemeSet::from_sources([("test.toml".to_string(), toml.to_string())])
}

fn load_error(toml: &str) -> String {
    load_one(toml).unwrap_err().to_string()
}

#[test]
fn lei_valid_and_invalid() {
    assert_eq!(
        canonical("/lei/lei/5493001KJTIIGC8Y1R12").unwrap(),
        "lei/lei/5493001KJTIIGC8Y1R12"
    );
    // Lower case is accepted and upper-cased (case = "upper").
    assert_eq!(
        canonical("/lei/LEI/5493001kjtiigc8y1r12/").unwrap(),
        "lei/lei/5493001KJTIIGC8Y1R12"
    );
    let bad_check = canonical("/lei/lei/5493001KJTIIGC8Y1R13")
        .unwrap_err()
        .to_string();
    assert!(bad_check.contains("iso7064-mod97-10"), "{bad_check}");
    assert!(
        canonical("/lei/lei/5493001KJTIIGC8Y1R1").is_err(),
        "19 characters"
    );
    assert!(
        canonical("/lei/lei/5493001KJTIIGC8Y1RAB").is_err(),
        "letters in the check digits"
    );
    let unknown_type = canonical("/lei/vat/5493001KJTIIGC8Y1R12")
        .unwrap_err()
        .to_string();
    assert!(
        unknown_type.contains("unknown key type \"vat\""),
        "{unknown_type}"
    );
    assert!(canonical("/lei/lei").is_err(), "no key");
    assert!(
        canonical("/lei/lei/5493001KJTIIGC8Y1R12/branch/1").is_err(),
        "LEI has no qualifiers"
    );
}

#[test]
fn abn_valid_and_invalid() {
    assert_eq!(
        canonical("/abr/abn/51824753556").unwrap(),
        "abr/abn/51824753556"
    );
    // The root form answers too, and has the same canonical (namespace) path.
    assert_eq!(
        canonical("/abn/51824753556").unwrap(),
        "abr/abn/51824753556"
    );
    assert_eq!(
        canonical("/abn/51824753556/branch/001").unwrap(),
        "abr/abn/51824753556/branch/001"
    );
    let bad = canonical("/abr/abn/51824753557").unwrap_err().to_string();
    assert!(bad.contains("abn-mod89"), "{bad}");
    assert!(canonical("/abr/abn/5182475355").is_err(), "ten digits");
    assert!(canonical("/abr/abn/01824753556").is_err(), "leading zero");
    assert!(
        canonical("/abn/51824753556/branch/1").is_err(),
        "branch numbers have three digits"
    );
    let q = canonical("/abn/51824753556/site/001")
        .unwrap_err()
        .to_string();
    assert!(q.contains("not a qualifier") && q.contains("branch"), "{q}");
    assert!(
        canonical("/abn/51824753556/branch").is_err(),
        "qualifier without a value"
    );
}

#[test]
fn facility_register_qualifiers_walk_up_in_order() {
    let path = "/frs/facility/110000350174/unit/k1/permit/P-77";
    assert_eq!(
        canonical(path).unwrap(),
        "frs/facility/110000350174/unit/K1/permit/P-77"
    );
    assert_eq!(
        levels(path),
        [
            "frs/facility/110000350174/unit/K1/permit/P-77",
            "frs/facility/110000350174/unit/K1",
            "frs/facility/110000350174",
        ]
    );
    // The alias names the same key type.
    assert_eq!(
        canonical("/frs/registryId/110000350174").unwrap(),
        "frs/facility/110000350174"
    );
    let order = canonical("/frs/facility/110000350174/permit/P/unit/K1")
        .unwrap_err()
        .to_string();
    assert!(order.contains("out of order"), "{order}");
    assert!(
        canonical("/frs/facility/110000350174/unit/K1/unit/K2").is_err(),
        "repeated qualifier"
    );
    assert!(
        canonical("/frs/facility/120000350174").is_err(),
        "FRS IDs start with 11"
    );
    assert!(canonical("/frs/facility/11000035017").is_err(), "11 digits");
    // A qualifier may be skipped; the later one still walks up to the key.
    assert_eq!(levels("/frs/facility/110000350174/permit/P-1").len(), 2);
}

#[test]
fn values_are_percent_decoded_once_and_encoded_canonically() {
    assert_eq!(
        canonical("/abr/%61bn/51824753556").unwrap(),
        "abr/abn/51824753556"
    );
    assert_eq!(
        canonical("/frs/facility/110000350174/permit/A%2EB").unwrap(),
        "frs/facility/110000350174/permit/A.B"
    );
    assert!(
        canonical("/frs/facility/110000350174/permit/A%2FB").is_err(),
        "'/' is not in the pattern"
    );
    assert!(
        canonical("/abr/abn/5182475355%").is_err(),
        "broken percent-encoding"
    );
}

#[test]
fn gs1_answers_at_the_root_and_under_gs1() {
    let root = parser()
        .parse_request("/01/09520123456788/10/ABC", "")
        .unwrap()
        .identifier;
    let stem = parser()
        .parse_request("/gs1/01/09520123456788/10/ABC", "")
        .unwrap()
        .identifier;
    assert_eq!(root, stem);
    assert_eq!(stem.public_path(), "01/09520123456788/10/ABC");
    assert!(matches!(stem, Identifier::Gs1(..)));
    assert_eq!(root.scheme().unknown_link_type, UnknownLinkType::NotFound);
    assert!(
        canonical("/01/09520123456787").is_err(),
        "GS1 check digit still enforced"
    );
}

#[test]
fn policies_come_from_the_files() {
    let abn = parser().parse_key("abr/abn/51824753556").unwrap();
    assert_eq!(abn.scheme().unknown_link_type, UnknownLinkType::Default);
    assert!(abn.scheme().allows_vocabulary("untp"));
    let lei = parser().parse_key("lei/lei/5493001KJTIIGC8Y1R12").unwrap();
    assert_eq!(lei.levels().len(), 1, "walk_up = none");
}

#[test]
fn without_a_gs1_file_gs1_paths_are_refused() {
    let set = SchemeSet::embedded().unwrap();
    let only_abr = SchemeSet::from_sources([(
        "abr.toml".to_string(),
        include_str!("../../../resolver-config/schemes/abr.toml").to_string(),
    )])
    .unwrap();
    assert!(set.gs1().is_some());
    let p = Parser::new(only_abr, Default::default());
    assert!(!p.has_gs1());
    let err = p.parse_request("/01/09520123456788", "").unwrap_err();
    assert!(matches!(err, IdentifierError::NoScheme(_)), "{err}");
    assert!(p.parse_request("/abn/51824753556", "").is_ok());
}

#[test]
fn root_form_anchors_when_the_scheme_says_so() {
    let set = load_one(
        r#"namespace = "vat"
canonical = "root"
[[key_types]]
name = "nz"
root_path = "nzbn"
pattern = "[0-9]{13}"
check_digit = "gs1-mod10"
"#,
    )
    .unwrap();
    let p = Parser::new(set, Default::default());
    let id = p
        .parse_request("/vat/nz/0614141123452", "")
        .unwrap()
        .identifier;
    assert_eq!(id.canonical_path(), "vat/nz/0614141123452");
    assert_eq!(id.public_path(), "nzbn/0614141123452");
    assert!(
        p.parse_request("/nzbn/0614141123453", "").is_err(),
        "check digit"
    );
}

#[test]
fn bad_files_name_the_field() {
    let e = load_error("namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"[0-9\"\n");
    assert!(
        e.contains("test.toml") && e.contains("key_types[0].pattern"),
        "{e}"
    );
    let e = load_error(
        "namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"[0-9]\"\ncheck_digit = \"luhn\"\n",
    );
    assert!(e.contains("key_types[0].check_digit"), "{e}");
    let e = load_error(
        "namespace = \"x\"\nunknown_link_type = \"maybe\"\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n",
    );
    assert!(e.contains("unknown_link_type"), "{e}");
    let e =
        load_error("namespace = \"x\"\ncolour = 1\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n");
    assert!(e.contains("colour"), "{e}");
    let e = load_error("namespace = \"01\"\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n");
    assert!(e.contains("namespace"), "{e}");
    let e = load_error("namespace = \"x\"\n");
    assert!(e.contains("key_types"), "{e}");
    let e = load_error("namespace = \"api\"\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n");
    assert!(e.contains("reserved"), "{e}");
    let e = load_error(
        "namespace = \"x\"\n[[key_types]]\nname = \"k\"\nroot_path = \"gtin\"\npattern = \"1\"\n",
    );
    assert!(e.contains("root_path") && e.contains("GS1"), "{e}");
    let e = load_error(
        "namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n[[key_types.qualifiers]]\nname = \"q\"\npattern = \"(\"\n",
    );
    assert!(e.contains("key_types[0].qualifiers[0].pattern"), "{e}");
}

#[test]
fn two_schemes_cannot_claim_one_segment() {
    let a = "namespace = \"x\"\n[[key_types]]\nname = \"k\"\nroot_path = \"y\"\npattern = \"1\"\n";
    let b = "namespace = \"y\"\n[[key_types]]\nname = \"k\"\npattern = \"1\"\n";
    let e = SchemeSet::from_sources([("a.toml".into(), a.into()), ("b.toml".into(), b.into())])
        .unwrap_err();
    assert!(e.to_string().starts_with("b.toml: namespace"), "{e}");
}

#[test]
fn patterns_are_anchored_and_size_limited() {
    let set = load_one("namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"[0-9]{3}\"\n")
        .unwrap();
    let p = Parser::new(set, Default::default());
    assert!(p.parse_request("/x/k/123", "").is_ok());
    assert!(
        p.parse_request("/x/k/1234", "").is_err(),
        "anchored at the end"
    );
    assert!(
        p.parse_request("/x/k/a123", "").is_err(),
        "anchored at the start"
    );
    // Alternation does not escape the anchors either.
    let set =
        load_one("namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"a|b\"\n").unwrap();
    let p = Parser::new(set, Default::default());
    assert!(p.parse_request("/x/k/ab", "").is_err());
    // A pattern whose compiled form is huge is refused at start-up rather than slowing every request.
    let e = load_error(
        "namespace = \"x\"\n[[key_types]]\nname = \"k\"\npattern = \"(\\\\w{50}){50}\"\n",
    );
    assert!(
        e.contains("key_types[0].pattern") && e.contains("size limit"),
        "{e}"
    );
}

const GS1_FILE: &str = include_str!("../../../resolver-config/schemes/gs1.toml");

fn scheme_file(namespace: &str, root_path: &str) -> String {
    format!(
        "namespace = {namespace:?}\n[[key_types]]\nname = \"k\"\nroot_path = {root_path:?}\npattern = \"[0-9]+\"\n"
    )
}

/// GS1 with custom stems, and one other scheme, in the given file order.
fn with_gs1(gs1_name: &str, stems: &str, other: &str) -> Result<SchemeSet, SchemeLoadError> {
    let gs1 = GS1_FILE.replace("custom_stems = []", &format!("custom_stems = {stems}"));
    assert!(gs1.contains(&format!("custom_stems = {stems}")));
    SchemeSet::from_sources([
        (gs1_name.to_string(), gs1),
        ("other.toml".to_string(), other.to_string()),
    ])
}

/// A namespace or root path spelled like a compressed GS1 URI segment, in any letter case, would capture that URI
/// (schemes are chosen by the first segment before GS1 is tried): refused, naming the file and the field.
#[test]
fn a_scheme_cannot_take_a_compressed_gs1_segment() {
    for claim in [
        "eh30164596f40c0e5cbe991a83",
        "EH30164596F40C0E5CBE991A83",
        "exMBZFlvQMDly-mRqD",
        "EXMBZFLVQMDLY-MRQD",
        "exAnyBase64urlWord",
        // GS1 Digital Link compression of 01/09780345418913/21/12345 (GS1's test vector), as written and in a
        // spelling a case-insensitive match would also capture
        "DBHKVAdpQgowOQ",
        "dbhkvadpqgowoq",
    ] {
        let e = with_gs1("gs1.toml", "[]", &scheme_file(claim, "rootk"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("other.toml: namespace: "), "{claim}: {e}");
        assert!(e.contains("compressed GS1 Digital Link"), "{claim}: {e}");
        let e = with_gs1("gs1.toml", "[]", &scheme_file("acme", claim))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("other.toml: key_types[].root_path: "),
            "{claim}: {e}"
        );
    }
    // Names that no compressed segment can be (shorter than 96 bits and than the EPC scheme their header names, or
    // not hex/base64url, or not decoding to a key in any spelling): kept.
    for fine in [
        "ehr",
        "eh",
        "ex",
        "ex.co",
        "exa.mple",
        "acme",
        "hex30",
        "EH3016",
        "EXmbz",
        "ex0",
        "example",
        "exim",
        "export",
        "exchange",
        "ehbead",
        "exMBZFlvQMDly-mR",
        "eh30164596f40c0e5cbe991a",
        // base64url words that do not decode to a key
        "products",
        "Products",
        "catalogue",
        "dl",
    ] {
        with_gs1("gs1.toml", "[]", &scheme_file(fine, "rootk"))
            .unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
    // Without GS1 configured there is nothing to shadow.
    assert!(load_one(&scheme_file("eh30", "rootk")).is_ok());
}

/// The other direction: with the rule in force, compressed URIs still reach GS1, and the schemes still answer theirs.
#[test]
fn compressed_uris_and_allowed_schemes_both_still_resolve() {
    let set = with_gs1("gs1.toml", "[\"dl\"]", &scheme_file("acme", "ehr")).unwrap();
    let parser = Parser::new(set, Default::default());
    let compressed = parser
        .parse_request("/eh30164596f40c0e5cbe991a83", "")
        .unwrap();
    assert!(compressed.compressed);
    assert!(matches!(compressed.identifier, Identifier::Gs1(..)));
    let stemmed = parser.parse_request("/dl/01/09520123456788", "").unwrap();
    assert_eq!(stemmed.identifier.canonical_path(), "01/09520123456788");
    let own = parser.parse_request("/acme/k/42", "").unwrap();
    assert_eq!(own.identifier.canonical_path(), "acme/k/42");
    assert_eq!(
        parser
            .parse_request("/ehr/42", "")
            .unwrap()
            .identifier
            .canonical_path(),
        "acme/k/42"
    );
}

/// A configured custom stem (`custom_stems` of the GS1 file, or the resolver root's path) cannot be a scheme's first
/// segment, whichever file comes first.
#[test]
fn a_scheme_cannot_take_a_configured_custom_stem() {
    for gs1_name in ["a-gs1.toml", "z-gs1.toml"] {
        let e = with_gs1(
            gs1_name,
            "[\"dl\", \"Products\"]",
            &scheme_file("DL", "rootk"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("other.toml: namespace: "), "{e}");
        assert!(e.contains(&format!("custom_stems of {gs1_name}")), "{e}");
        let e = with_gs1(
            gs1_name,
            "[\"dl\", \"Products\"]",
            &scheme_file("acme", "products"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("other.toml: key_types[].root_path: "), "{e}");
    }
    let set = with_gs1("gs1.toml", "[]", &scheme_file("acme", "rootk")).unwrap();
    let e = set
        .clone()
        .with_stem("acme", "the path of resolver.resolver_root")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("other.toml: namespace: "), "{e}");
    assert!(e.contains("resolver.resolver_root"), "{e}");
    assert!(
        set.with_stem("dl", "the path of resolver.resolver_root")
            .is_ok()
    );
    // Stems belong to GS1 only.
    let e = load_error(&format!(
        "{}custom_stems = [\"dl\"]\n",
        scheme_file("acme", "rootk")
    ));
    assert!(e.contains("custom_stems"), "{e}");
}

/// A scheme registered at run time meets the same rule (the API answers 409 with it).
#[test]
fn a_registered_scheme_cannot_shadow_gs1() {
    let set = with_gs1("gs1.toml", "[\"dl\"]", &scheme_file("acme", "rootk")).unwrap();
    let registration = |namespace: &str| {
        serde_json::from_value::<registered::Registration>(serde_json::json!({
            "namespace": namespace,
            "applicationIdentifiers": [{"shortcode": "p", "type": "I", "regex": "[0-9]+"}]
        }))
        .unwrap()
        .compile()
        .unwrap()
    };
    for namespace in ["exMBZFlvQMDly-mRqD", "DL"] {
        assert_eq!(
            set.check_shadowing(&registration(namespace))
                .unwrap_err()
                .field,
            "namespace"
        );
        assert_eq!(
            set.with_registered(registration(namespace))
                .unwrap_err()
                .field,
            "namespace"
        );
    }
    assert!(set.with_registered(registration("brand")).is_ok());
}

#[test]
fn iso15459_keys_fall_back_to_their_issuer() {
    // The value is one path segment, in the root form or the namespace form; lower case is upper-cased.
    assert_eq!(
        canonical("/25S/UN043325711MH8031200000000001").unwrap(),
        "iso15459/25S/UN043325711MH8031200000000001"
    );
    assert_eq!(
        canonical("/iso15459/25s/un043325711mh8031200000000001").unwrap(),
        "iso15459/25S/UN043325711MH8031200000000001"
    );
    // Walk-up: the key, then the IAC + CIN of its issuer as an 18V key.
    assert_eq!(
        levels("/25S/UN043325711MH8031200000000001"),
        [
            "iso15459/25S/UN043325711MH8031200000000001",
            "iso15459/18V/UN043325711"
        ]
    );
    // Each agency's company identification number has its own length (MIL-STD-130N Table V).
    assert_eq!(
        levels("/1J/D0CVA5674A36458")[1],
        "iso15459/18V/D0CVA5",
        "CAGE: 5 characters"
    );
    assert_eq!(levels("/5J/LHA123X99")[1], "iso15459/18V/LHA123");
    // An agency not listed (GS1's variable-length company prefixes), or a value that is only the issuer: no
    // fallback. The issuer's own key and containers have none either.
    assert_eq!(levels("/25S/0952012345678").len(), 1);
    assert_eq!(levels("/25S/UN043325711").len(), 1);
    assert_eq!(levels("/18V/UN043325711").len(), 1);
    assert_eq!(levels("/7B/CSQU3054383").len(), 1);
}

#[test]
fn iso15459_values_are_checked() {
    assert_eq!(
        canonical("/7B/csqu3054383").unwrap(),
        "iso15459/7B/CSQU3054383"
    );
    let err = canonical("/7B/CSQU3054384").unwrap_err().to_string();
    assert!(
        err.contains("7B") && err.contains("iso6346"),
        "names the key type and the algorithm: {err}"
    );
    // 25S: at most 50 characters; 5J/6J: at most 20.
    assert!(canonical(&format!("/25S/UN043325711{}", "9".repeat(39))).is_ok());
    assert!(canonical(&format!("/25S/UN043325711{}", "9".repeat(40))).is_err());
    assert!(canonical(&format!("/6J/{}", "A".repeat(21))).is_err());
    assert!(canonical("/25S/UN0433_5711").is_err());
}

#[test]
fn an_issuer_declaration_is_checked_at_start_up() {
    let file = |issuer: &str| {
        format!(
            "namespace = \"x\"\n{issuer}\n[[key_types]]\nname = \"item\"\npattern = \"[A-Z0-9]+\"\n\
             [[key_types]]\nname = \"party\"\npattern = \"[A-Z0-9]+\"\n"
        )
    };
    assert!(
        load_one(&file(
            "[issuer]\nkey_type = \"party\"\npattern = \"A[0-9]{2}\"\nfrom = [\"item\"]"
        ))
        .is_ok()
    );
    let err = load_error(&file(
        "[issuer]\nkey_type = \"company\"\npattern = \"A\"\nfrom = [\"item\"]",
    ));
    assert!(err.contains("issuer.key_type"), "{err}");
    let err = load_error(&file(
        "[issuer]\nkey_type = \"party\"\npattern = \"A\"\nfrom = [\"party\"]",
    ));
    assert!(err.contains("issuer.from[0]"), "{err}");
    let err = load_error(&file(
        "[issuer]\nkey_type = \"party\"\npattern = \"A(\"\nfrom = [\"item\"]",
    ));
    assert!(err.contains("issuer.pattern"), "{err}");
}

proptest::proptest! {
    /// Whatever follows a listed issuing agency's company identification number, the walk-up ends at exactly that
    /// issuer as an 18V key; and for any value at all, an issuer candidate is a proper prefix of the key's value.
    #[test]
    fn the_issuer_candidate_is_the_agency_and_company_prefix(
        issuer in "UN[0-9]{9}|D[0-9A-HJ-NP-Z]{5}|LH[A-Z][0-9A-Z]{3}|LD[0-9A-Z]{6}",
        serial in "[0-9A-Z]{1,9}",
        di in proptest::sample::select(vec!["25S", "1J", "2J", "3J", "4J", "5J", "6J"]),
        any_value in "[0-9A-Z]{2,20}",
    ) {
        let value = format!("{issuer}{serial}");
        let found = levels(&format!("/{di}/{value}"));
        proptest::prop_assert_eq!(
            found,
            vec![format!("iso15459/{di}/{value}"), format!("iso15459/18V/{issuer}")]
        );
        let found = levels(&format!("/{di}/{any_value}"));
        proptest::prop_assert!(found.len() <= 2);
        if let Some(up) = found.get(1) {
            let prefix = up.strip_prefix("iso15459/18V/").expect("an 18V key");
            proptest::prop_assert!(any_value.starts_with(prefix) && prefix.len() < any_value.len());
        }
    }
}

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

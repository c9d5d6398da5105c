//! EPC URI → Digital Link → EPC URI round trips on the TDS worked examples (`testdata/epc-uri.txt`), the binary of
//! each example decoding to the same Digital Link, and the refusals, each naming its parameter.

use super::*;
use crate::identifier::gs1::carrier::{self, Source};
use crate::identifier::gs1::{ParseOptions, parse_request};
use proptest::prelude::*;

const FIXTURES: &str = include_str!("testdata/epc-uri.txt");

fn strict() -> ParseOptions {
    ParseOptions {
        legacy_gtin: false,
        convenience_alphas: false,
    }
}

fn link(path: &str) -> DigitalLink {
    parse_request(path, "", &strict()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The digits before the first `.` after the scheme: the company prefix length an EPC URI shows.
fn gcp_of(uri: &str) -> usize {
    let fields = uri.rsplit(':').next().unwrap_or_default();
    let fields = match uri.starts_with("urn:epc:tag:") {
        true => fields.split_once('.').map_or("", |(_, f)| f),
        false => fields,
    };
    fields.split('.').next().unwrap_or_default().len()
}

#[test]
fn worked_examples_round_trip() {
    let mut n = 0;
    for line in FIXTURES
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [tag, pure, hex, path] = cols[..] else {
            panic!("four columns: {line}");
        };
        let expected = link(path);
        let gcp = gcp_of(pure);
        // pure identity -> Digital Link -> pure identity
        let converted = carrier::convert(pure, &strict()).unwrap_or_else(|e| panic!("{pure}: {e}"));
        assert_eq!(
            converted.link.key.canonical_path(),
            expected.key.canonical_path(),
            "{pure}"
        );
        let epc = converted
            .epc(None)
            .unwrap_or_else(|e| panic!("{pure}: {e}"));
        assert_eq!(epc.pure_identity(), pure);
        // the Digital Link written out, with the company prefix length given
        assert_eq!(
            epc_of(&expected, Some(gcp)).map(|e| e.pure_identity()),
            Ok(pure.to_string())
        );
        if hex != "-" {
            let binary = link(&format!("/eh{}", hex.to_ascii_lowercase()));
            assert_eq!(
                binary.key.canonical_path(),
                expected.key.canonical_path(),
                "{hex}"
            );
            // the binary string itself tells its company prefix length, encoding and filter: its EPC URIs need no
            // parameter
            let converted =
                carrier::convert(&format!("/eh{}", hex.to_ascii_lowercase()), &strict())
                    .unwrap_or_else(|e| panic!("{hex}: {e}"));
            let epc = converted.epc(None).unwrap_or_else(|e| panic!("{hex}: {e}"));
            assert_eq!(epc.pure_identity(), pure, "{hex}");
            let (encoding, filter) = converted
                .input_form()
                .and_then(|f| f.tag)
                .unwrap_or_else(|| panic!("{hex}: a TDS 1.x binary string has a tag encoding"));
            assert_eq!(epc.tag_uri(encoding, filter), Ok(tag.to_string()), "{hex}");
        }
        if tag != "-" {
            let converted =
                carrier::convert(tag, &strict()).unwrap_or_else(|e| panic!("{tag}: {e}"));
            let Source::EpcUri(form) = converted.source else {
                panic!("{tag}: not read as an EPC URI");
            };
            let (encoding, filter) = form.tag.expect("a tag URI has an encoding");
            assert_eq!(form.gcp_digits, gcp, "{tag}");
            assert_eq!(
                converted.link.key.canonical_path(),
                expected.key.canonical_path(),
                "{tag}"
            );
            let epc = epc_of(&expected, Some(gcp)).expect("an EPC");
            assert_eq!(epc.tag_uri(encoding, filter), Ok(tag.to_string()));
        }
        n += 1;
    }
    assert_eq!(n, 24, "every fixture line ran");
}

#[test]
fn the_company_prefix_length_is_required_and_checked() {
    let sgtin = link("/01/09506000134352/21/123456789");
    assert_eq!(
        epc_of(&sgtin, None),
        Err(ToEpcError::GcpLengthMissing { ai: "01" })
    );
    assert_eq!(
        ToEpcError::GcpLengthMissing { ai: "01" }.parameter(),
        "gcpLength"
    );
    for bad in ["5", "13", "0", "", "x", "+7", "07x"] {
        let err = gcp_length(bad).expect_err(bad);
        assert_eq!(err.parameter(), "gcpLength", "{bad}");
    }
    assert_eq!(gcp_length("12"), Ok(12));
    assert!(matches!(
        epc_of(&sgtin, Some(13)),
        Err(ToEpcError::GcpLengthRange(_))
    ));
    // a GIAI of 8 characters has no room for a reference after a 12-digit prefix... nor after 8
    let giai = link("/8004/95211415");
    assert!(matches!(
        epc_of(&giai, Some(8)),
        Err(ToEpcError::GcpLengthMismatch { .. })
    ));
    // a GIAI whose first characters are not digits cannot start with a company prefix that long
    let giai = link("/8004/952114ABC");
    assert!(matches!(
        epc_of(&giai, Some(7)),
        Err(ToEpcError::GcpLengthMismatch { .. })
    ));
}

#[test]
fn keys_without_an_epc_say_so_whatever_the_prefix_length() {
    for path in [
        "/01/09506000134352",
        "/8013/1987654Ad4X4bL5ttr2310c2K",
        "/8006/095211411234540102",
    ] {
        let err = epc_of(&link(path), None).expect_err(path);
        assert_eq!(err.parameter(), "data", "{path}: {err}");
    }
    let extension_zero = link("/414/9521141123454/254/0");
    assert_eq!(
        epc_of(&extension_zero, Some(7)).map_err(|e| e.parameter()),
        Err("data")
    );
    let grai_without_serial = link("/8003/09521141123454");
    assert_eq!(
        epc_of(&grai_without_serial, Some(7)).map_err(|e| e.parameter()),
        Err("data")
    );
}

#[test]
fn a_tag_encoding_must_hold_the_values() {
    let epc = epc_of(&link("/01/09506000134352/21/ABC"), Some(7)).expect("an SGTIN");
    assert_eq!(epc.pure_identity(), "urn:epc:id:sgtin:9506000.013435.ABC");
    let refused = epc
        .tag_uri("sgtin-96", 1)
        .expect_err("letters in a 96-bit serial");
    assert_eq!(refused.parameter(), "epcTag");
    assert_eq!(
        epc.tag_uri("sgtin-198", 1),
        Ok("urn:epc:tag:sgtin-198:1.9506000.013435.ABC".to_string())
    );
    let leading_zero = epc_of(&link("/01/09506000134352/21/0123"), Some(7)).expect("an SGTIN");
    assert!(leading_zero.tag_uri("sgtin-96", 0).is_err());
    // 2^38 = 274877906944
    let big = epc_of(&link("/01/09506000134352/21/274877906944"), Some(7)).expect("an SGTIN");
    assert!(big.tag_uri("sgtin-96", 0).is_err());
    let max = epc_of(&link("/01/09506000134352/21/274877906943"), Some(7)).expect("an SGTIN");
    assert!(max.tag_uri("sgtin-96", 0).is_ok());
    assert!(matches!(
        epc.tag_uri("sscc-96", 0),
        Err(ToEpcError::WrongScheme { .. })
    ));
    assert!(matches!(
        epc.tag_uri("sgtin+", 0),
        Err(ToEpcError::UnknownEncoding(_))
    ));
    // a GLN without extension: extension 0 in either encoding's URI
    let gln = epc_of(&link("/414/9521141123454"), Some(7)).expect("an SGLN");
    assert_eq!(
        gln.tag_uri("sgln-96", 2),
        Ok("urn:epc:tag:sgln-96:2.9521141.12345.0".into())
    );
    assert_eq!(
        gln.tag_uri("sgln-195", 2),
        Ok("urn:epc:tag:sgln-195:2.9521141.12345.0".into())
    );
    assert_eq!(filter_value("8").map_err(|e| e.parameter()), Err("filter"));
}

#[test]
fn plus_binary_strings_need_the_company_prefix_length() {
    // DSGTIN+ (TDS 2.3 Annex E.3): the whole GTIN, no partition
    let plus =
        carrier::convert("/ehfb342cde795211411234538566cb0afc4", &strict()).expect("DSGTIN+");
    assert!(plus.input_form().is_none());
    assert_eq!(
        plus.epc(None),
        Err(ToEpcError::GcpLengthMissing { ai: "01" })
    );
    assert_eq!(
        plus.epc(Some(7)).map(|e| e.pure_identity()),
        Ok("urn:epc:id:sgtin:9521141.712345.32a%2Fb".to_string())
    );
}

#[test]
fn plus_tag_uris_are_refused_with_the_reason() {
    let err = carrier::convert("urn:epc:tag:sgtin+:3.09506000134352.ABC", &strict())
        .expect_err("TDS 2.x defines no tag URI for the + schemes");
    assert!(err.to_string().contains("binary only"), "{err}");
}

proptest! {
    /// Any SGTIN with any company prefix length and serial writes an EPC URI that converts back to it.
    #[test]
    fn generated_sgtins_round_trip(
        body in "[0-9]{13}",
        gcp in 6usize..=12,
        serial in "[0-9A-Za-z!\"%&'()*+,./:;<=>?_-]{1,20}",
    ) {
        let check = crate::identifier::gs1::check_digit::mod10_digit(body.as_bytes()).expect("digits");
        let gtin = format!("{body}{}", char::from(check));
        let mut path = format!("/01/{gtin}/21/");
        crate::identifier::gs1::percent::encode_into(&mut path, &serial);
        let Ok(original) = parse_request(&path, "", &strict()) else {
            // a serial the linters refuse has no Digital Link to start from
            return Ok(());
        };
        let uri = epc_of(&original, Some(gcp)).expect("an SGTIN").pure_identity();
        let back = carrier::convert(&uri, &strict()).expect("the URI converts");
        prop_assert_eq!(back.link.key.canonical_path(), original.key.canonical_path());
        prop_assert_eq!(back.epc(None).expect("an SGTIN").pure_identity(), uri);
    }
}

/// `body` with its GS1 mod-10 check digit.
fn checked(body: &str) -> String {
    let check = crate::identifier::gs1::check_digit::mod10_digit(body.as_bytes()).expect("digits");
    format!("{body}{}", char::from(check))
}

fn encoded(value: &str) -> String {
    let mut out = String::new();
    crate::identifier::gs1::percent::encode_into(&mut out, value);
    out
}

proptest! {
    /// Every key with an EPC, any company prefix length and any tag encoding: what is written converts back to the
    /// same key (the property the `carrier` fuzz target also checks).
    #[test]
    fn every_epc_key_round_trips(
        kind in 0usize..12,
        digits in "[0-9]{17}",
        text in "[0-9A-Za-z!%&'()*+,./:;<=>?_-]{1,12}",
        number in "[1-9][0-9]{0,8}",
        gcp in 6usize..=12,
        tag in 0usize..19,
        filter in 0u8..8,
    ) {
        let path = match kind {
            0 => format!("/00/{}", checked(&digits)),
            1 => format!("/414/{}", checked(&digits[..12])),
            2 => format!("/414/{}/254/{}", checked(&digits[..12]), encoded(&text)),
            3 => format!("/8003/0{}{}", checked(&digits[..12]), encoded(&text)),
            4 => format!("/8004/{}{}", &digits[..gcp], encoded(&text)),
            5 => format!("/8018/{}", checked(&digits)),
            6 => format!("/253/{}{}", checked(&digits[..12]), encoded(&text)),
            7 => format!("/255/{}{number}", checked(&digits[..12])),
            8 => format!("/8010/{}{}/8011/{number}", &digits[..gcp], &number),
            9 => format!("/8006/{}0102/21/{}", checked(&digits[..13]), encoded(&text)),
            10 => format!("/01/{}/10/{}", checked(&digits[..13]), encoded(&text)),
            _ => format!("/417/{}", checked(&digits[..12])),
        };
        let Ok(original) = parse_request(&path, "", &strict()) else {
            return Ok(());
        };
        let Ok(epc) = epc_of(&original, Some(gcp)) else {
            return Ok(());
        };
        let pure = epc.pure_identity();
        let back = carrier::convert(&pure, &strict());
        prop_assert!(back.is_ok(), "{} -> {}: {:?}", path, pure, back.err());
        let back = back.expect("checked");
        prop_assert_eq!(back.link.key.canonical_path(), original.key.canonical_path(), "{}", pure);
        prop_assert_eq!(back.epc(None).expect("its EPC").pure_identity(), pure);
        let encoding = TAGS[tag].name;
        if let Ok(tag_uri) = epc.tag_uri(encoding, filter) {
            let back = carrier::convert(&tag_uri, &strict());
            prop_assert!(back.is_ok(), "{} -> {}: {:?}", path, tag_uri, back.err());
            let back = back.expect("checked");
            prop_assert_eq!(back.link.key.canonical_path(), original.key.canonical_path(), "{}", tag_uri);
        }
    }
}

/// Found by the `carrier` fuzz target: an SGTIN has no field for a CPV or a batch beside the serial, so the EPC of
/// `01/…/22/…/10/…/21/…` names `01/…/21/…` and says which qualifiers it leaves out.
#[test]
fn qualifiers_an_epc_has_no_field_for_are_named() {
    let epc = epc_of(&link("/01/09520123456788/22/2A/10/ABC/21/12345"), Some(7)).unwrap();
    assert_eq!(epc.pure_identity(), "urn:epc:id:sgtin:9520123.045678.12345");
    assert_eq!(epc.not_carried, ["22", "10"]);
    let epc = epc_of(&link("/01/09520123456788/10/ABC"), Some(7)).unwrap();
    assert_eq!(
        epc.pure_identity(),
        "urn:epc:class:lgtin:9520123.045678.ABC"
    );
    assert!(epc.not_carried.is_empty());
    let epc = epc_of(&link("/414/9520123456788/254/7"), Some(7)).unwrap();
    assert!(epc.not_carried.is_empty(), "{:?}", epc.not_carried);
}

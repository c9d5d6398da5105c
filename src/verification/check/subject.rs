//! What a credential is about: the identifiers its `credentialSubject` names where UNTP's data models put them
//! (a bounded walk), canonicalised by the identifier parser, and matched against the anchor's identifier and the
//! identifiers above it.
//!
//! Where UNTP puts them (research, spec-untp data models 0.5-0.6): DPP `product.id` (or the subject's own `id` when
//! the subject is the product); DCC `assessment[].assessedProduct[].product.id`, `assessedFacility[].facility.id`,
//! `assessedOrganisation.id`; DTE (a list of events) `epcList[].id`, `quantityList[].productId`, their input, output
//! and child forms, `parentEPC.id`; DFR `facility.id` and `facilityAlsoKnownAs[].id`; DIA `registeredId` (with
//! `idScheme.id`, the scheme's URI it extends).

use crate::identifier::Parser;
use crate::identifier::gs1::{ParseOptions, carrier};
use serde_json::Value;

/// Members whose values lead to the identifiers (arrays are walked through).
const CONTAINERS: [&str; 17] = [
    "product",
    "assessment",
    "assessedProduct",
    "assessedFacility",
    "assessedOrganisation",
    "facility",
    "facilityAlsoKnownAs",
    "epcList",
    "inputEPCList",
    "outputEPCList",
    "childEPCList",
    "parentEPC",
    "quantityList",
    "inputQuantityList",
    "outputQuantityList",
    "childQuantityList",
    "registeredIdentity",
];
/// Members holding an identifier.
const IDENTIFIERS: [&str; 2] = ["id", "productId"];
/// The walk visits at most this many values and this deep: a subject is data from elsewhere.
const MAX_VALUES: usize = 2_000;
const MAX_DEPTH: usize = 8;
/// Identifiers collected at most.
const MAX_IDENTIFIERS: usize = 256;

/// The identifier-looking strings `subject` (one subject or a list) names, in document order.
pub fn identifiers(subject: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut budget = MAX_VALUES;
    walk(subject, 0, &mut budget, &mut found);
    found
}

fn walk(value: &Value, depth: usize, budget: &mut usize, found: &mut Vec<String>) {
    if depth > MAX_DEPTH || *budget == 0 || found.len() >= MAX_IDENTIFIERS {
        return;
    }
    *budget -= 1;
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(v, depth + 1, budget, found)),
        Value::Object(members) => {
            for name in IDENTIFIERS {
                if let Some(id) = members.get(name).and_then(Value::as_str) {
                    found.push(id.trim().to_string());
                }
            }
            if let Some(registered) = members.get("registeredId").and_then(Value::as_str) {
                let registered = registered.trim();
                found.push(registered.to_string());
                if let Some(scheme) = members["idScheme"]["id"].as_str() {
                    found.push(format!(
                        "{}/{registered}",
                        scheme.trim().trim_end_matches('/')
                    ));
                }
            }
            for name in CONTAINERS {
                if let Some(inner) = members.get(name) {
                    walk(inner, depth + 1, budget, found);
                }
            }
        }
        _ => {}
    }
}

/// The canonical path of the identifier `id` names, in any spelling idr reads: a GS1 Digital Link URI on any host
/// (this resolver's `root` included, with its path), uncompressed or compressed, an EPC URI, or an identifier path as
/// the management API writes it. `None` for anything else (a DID, a passport's own id).
pub fn canonical(id: &str, parser: &Parser, root: Option<&str>) -> Option<String> {
    if id.len() > carrier::MAX_DATA {
        return None;
    }
    if id.len() > 8 && id[..8].eq_ignore_ascii_case("urn:epc:") {
        let options = ParseOptions {
            legacy_gtin: false,
            convenience_alphas: false,
        };
        let converted = carrier::convert(id, &options).ok()?;
        return Some(converted.link.key.canonical_path().to_string());
    }
    if id.starts_with("https://") || id.starts_with("http://") {
        let path = match root.and_then(|r| id.strip_prefix(r)) {
            Some(rest) if rest.starts_with('/') => rest.split(['?', '#']).next().unwrap_or(""),
            _ => {
                let url = url::Url::parse(id).ok()?;
                return parser
                    .parse_request(url.path(), "")
                    .ok()
                    .map(|r| r.identifier.canonical_path().to_string());
            }
        };
        return parser
            .parse_request(path, "")
            .ok()
            .map(|r| r.identifier.canonical_path().to_string());
    }
    if id.contains('/') && !id.contains(':') {
        return parser
            .parse_key(id)
            .ok()
            .map(|k| k.canonical_path().to_string());
    }
    None
}

/// `Ok` when one of `named` (canonical paths) is `anchor` or an identifier above it; else why not, in words.
pub fn about(named: &[String], anchor: &str, parser: &Parser) -> Result<(), String> {
    let levels: Vec<String> = match parser.parse_key(anchor) {
        Ok(identifier) => identifier
            .levels()
            .iter()
            .map(|l| l.canonical_path().to_string())
            .collect(),
        // A stored identifier today's rules no longer read: its own path and the paths above it.
        Err(_) => {
            let segments: Vec<&str> = anchor.split('/').collect();
            (2..=segments.len())
                .rev()
                .step_by(2)
                .map(|n| segments[..n].join("/"))
                .collect()
        }
    };
    if named.iter().any(|n| levels.contains(n)) {
        return Ok(());
    }
    if named.is_empty() {
        return Err(format!(
            "the credential's subject names no identifier this resolver reads (such as product.id as a GS1 Digital \
             Link URI); it must name {anchor} or an identifier above it"
        ));
    }
    let mut shown: Vec<&str> = named.iter().map(String::as_str).collect();
    shown.dedup();
    shown.truncate(3);
    Err(format!(
        "the credential is about {}, not {anchor} or an identifier above it",
        shown.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ANCHOR: &str = "01/09520123456788/21/12345";

    fn parser() -> &'static Parser {
        static PARSER: std::sync::OnceLock<Parser> = std::sync::OnceLock::new();
        PARSER.get_or_init(|| Parser::embedded().unwrap())
    }

    fn about_anchor(subject: Value, anchor: &str) -> Result<(), String> {
        let p = parser();
        let named: Vec<String> = identifiers(&subject)
            .iter()
            .filter_map(|id| canonical(id, p, Some("https://resolver.example/dl")))
            .collect();
        about(&named, anchor, p)
    }

    #[test]
    fn each_untp_shape_names_its_identifier() {
        let dpp = json!({"type": ["ProductPassport"], "id": "example:product/1234",
            "product": {"type": ["Product"], "id": "https://id.gs1.org/01/09520123456788/21/12345"}});
        let dpp_beta =
            json!({"type": ["Product"], "id": "https://id.gs1.org/01/09520123456788/21/12345"});
        let dcc = json!({"type": ["ConformityAttestation"], "id": "https://certifier.example/att/1",
            "assessment": [{"assessedProduct": [{"product": {"id": "https://id.gs1.org/01/09520123456788"}}],
                            "assessedFacility": [{"facility": {"id": "https://facility.example/1"}}]}]});
        let dte = json!([{"type": ["ObjectEvent", "Event"],
            "epcList": [{"id": "https://other.example/01/09520123456788/21/12345"}]},
            {"type": ["TransformationEvent"], "outputQuantityList": [{"productId": "urn:epc:id:sgtin:9520123.045678.12345"}]}]);
        let dia = json!({"type": ["RegisteredIdentity"], "id": "did:web:brand.example",
            "registeredId": "09520123456788", "idScheme": {"id": "https://id.gs1.org/01/"}});
        for (name, subject) in [
            ("dpp", dpp),
            ("dpp beta", dpp_beta),
            ("dcc", dcc),
            ("dte", dte),
            ("dia", dia),
        ] {
            assert_eq!(about_anchor(subject, ANCHOR), Ok(()), "{name}");
        }
    }

    #[test]
    fn every_spelling_of_an_identifier_is_one() {
        let p = parser();
        let root = Some("https://resolver.example/dl");
        for id in [
            "https://id.gs1.org/01/09520123456788/21/12345",
            "https://brand.example/gs1/01/09520123456788/21/12345?linkType=all",
            "https://resolver.example/dl/01/09520123456788/21/12345",
            "https://id.gs1.org/gtin/9520123456788/ser/12345",
            "urn:epc:id:sgtin:9520123.045678.12345",
            "01/09520123456788/21/12345",
        ] {
            assert_eq!(canonical(id, p, root).as_deref(), Some(ANCHOR), "{id}");
        }
        for id in [
            "did:web:brand.example",
            "example:product/1234",
            "https://brand.example/about",
            "12345",
        ] {
            assert_eq!(canonical(id, p, root), None, "{id}");
        }
    }

    #[test]
    fn compressed_uris_are_read() {
        let p = parser();
        let key = p.parse_key(ANCHOR).unwrap();
        let compressed = crate::identifier::gs1::compressed_path(key.as_gs1().unwrap()).unwrap();
        let uri = format!("https://id.gs1.org/{}", compressed.trim_start_matches('/'));
        assert_eq!(canonical(&uri, p, None).as_deref(), Some(ANCHOR), "{uri}");
    }

    #[test]
    fn a_credential_about_something_else_names_it() {
        let other = json!({"product": {"id": "https://id.gs1.org/01/09506000134352"}});
        let reason = about_anchor(other, ANCHOR).unwrap_err();
        assert!(
            reason.contains("about 01/09506000134352, not 01/09520123456788/21/12345"),
            "{reason}"
        );
        // A serial below the anchor is not about the anchor: it is about one item of it.
        let item = json!({"product": {"id": "https://id.gs1.org/01/09520123456788/21/12345"}});
        assert!(about_anchor(item, "01/09520123456788").is_err());
        let nothing = json!({"id": "example:product/1"});
        assert!(
            about_anchor(nothing, ANCHOR)
                .unwrap_err()
                .contains("names no identifier")
        );
    }

    #[test]
    fn the_walk_is_bounded() {
        let mut deep = json!({"id": "https://id.gs1.org/01/09520123456788"});
        for _ in 0..100 {
            deep = json!({"product": deep});
        }
        assert!(identifiers(&deep).is_empty());
        let wide = Value::Array(vec![json!({"id": "x"}); 10_000]);
        assert!(identifiers(&wide).len() <= MAX_IDENTIFIERS);
    }

    /// A GTIN-14 (GS1 prefix 952, for examples) with a valid check digit, from 12 digits after the indicator digit 0 (mod 10 weights 3,1 from the
    /// right, computed by hand here, not by the parser under test).
    fn gtin(body: u64) -> String {
        let digits = format!("0{body:012}");
        let sum: u32 = digits
            .chars()
            .rev()
            .enumerate()
            .map(|(i, c)| c.to_digit(10).unwrap() * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        format!("{digits}{}", (10 - sum % 10) % 10)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn a_credential_about_x_verifies_anchors_under_x_only(
            x in 952_000_000_000u64..952_999_999_999,
            y in 952_000_000_000u64..952_999_999_999,
            serial in "[A-Za-z0-9]{1,12}",
        ) {
            let (x, y) = (gtin(x), gtin(y));
            let subject = json!({"product": {"id": format!("https://id.gs1.org/01/{x}")}});
            prop_assert_eq!(about_anchor(subject.clone(), &format!("01/{x}")), Ok(()));
            prop_assert_eq!(about_anchor(subject.clone(), &format!("01/{x}/21/{serial}")), Ok(()));
            if x != y {
                let reason = about_anchor(subject, &format!("01/{y}/21/{serial}")).unwrap_err();
                prop_assert!(reason.contains(&format!("about 01/{x}, not 01/{y}/21/{serial}")), "{}", reason);
            }
        }
    }
}

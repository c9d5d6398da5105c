use super::default_link::*;
use super::submission::*;
use super::validation::*;
use super::*;
use crate::registry::{AnchorRecord, Link};
use crate::vocabulary::Vocabulary;
use serde::Deserialize;

fn run(body: &str) -> Result<Validated, Vec<FieldError>> {
    let sub = parse(body.as_bytes()).map_err(|e| vec![e])?;
    let schemes = crate::identifier::scheme::SchemeSet::embedded().unwrap();
    validate(
        sub,
        &Vocabulary::embedded(),
        schemes.gs1().unwrap(),
        &crate::limits::Limits::default(),
        &crate::codelist::AccessCodes::embedded(),
    )
}

fn fields(body: &str) -> Vec<String> {
    match run(body) {
        Ok(_) => vec![],
        Err(errors) => errors.into_iter().map(|e| e.field).collect(),
    }
}

#[test]
fn accepts_a_full_submission_and_canonicalises_link_types() {
    let v = run(r#"{"itemDescription":" Pack ","defaultLinkType":"pip","links":[
        {"linkType":"gs1:pip","href":"https://b.example/p","title":"P","type":"text/html","hreflang":["en","es-419"]},
        {"linkType":"untp:dpp","href":"https://b.example/d","title":"D","method":"POST","accessRole":["untp:accessRole#Owner"]}]}"#)
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(v.record.item_description, "Pack");
    assert_eq!(
        v.record.default_link_type.as_deref(),
        Some("https://gs1.org/voc/pip")
    );
    assert_eq!(
        v.record.links[1].link_type,
        "https://test.uncefact.org/vocabulary/linkTypes/dpp"
    );
    assert_eq!(v.record.links[1].method, vec!["POST"]);
    assert_eq!(
        v.warnings.len(),
        1,
        "es-419 breaks the schemas' hreflang pattern"
    );
}

/// UNTP writes the default as the bare `dpp` (GS1's spelling) over `untp:dpp` links: the default names the spelling
/// the links use, so it settles at this level.
#[test]
fn a_default_in_another_spelling_of_the_relation_names_the_links_spelling() {
    let v = run(
        r#"{"itemDescription":"Pack","defaultLinkType":"dpp","links":[
        {"linkType":"untp:dpp","href":"https://b.example/d","title":"D"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let untp = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
    assert_eq!(v.record.default_link_type.as_deref(), Some(untp));
    assert!(settles_alone(&v.record));
    let v = run(
        r#"{"itemDescription":"Pack","defaultLinkType":"dpp","links":[
        {"linkType":"untp:dpp","href":"https://b.example/d","title":"D"},
        {"linkType":"gs1:dpp","href":"https://b.example/g","title":"G"}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        v.record.default_link_type.as_deref(),
        Some("https://gs1.org/voc/dpp"),
        "the exact spelling first"
    );
}

#[test]
fn names_each_bad_field() {
    let body = r#"{"itemDescription":"x","links":[
        {"linkType":"gs1:nosuch","href":"https://a.example","title":"t"},
        {"linkType":"pip","href":"ftp://a.example","title":" "},
        {"linkType":"pip","href":"https://a.example","title":"t","type":"html","hreflang":["e n"]},
        {"linkType":"gs1:defaultLink","href":"https://a.example","title":"t"}]}"#;
    assert_eq!(
        fields(body),
        vec![
            "links[0].linkType",
            "links[1].href",
            "links[1].title",
            "links[2].type",
            "links[2].hreflang[0]",
            "links[3].linkType"
        ]
    );
    assert_eq!(
        fields(r#"{"itemDescription":"x","links":[{"linkType":"pip","href":"https://a"}]}"#),
        vec!["links[0]"]
    );
    assert_eq!(
        fields(r#"{"itemDescription":"x","links":[],"extra":1}"#),
        vec!["extra"]
    );
    assert_eq!(fields("nonsense"), vec!["body"]);
    assert_eq!(
        fields(
            r#"{"itemDescription":"x","links":[{"linkType":"pip","href":"https://a","title":"t","hreflang":[1]}]}"#
        ),
        vec!["links[0].hreflang"]
    );
    assert_eq!(
        fields(r#"{"itemDescription":"","links":[]}"#),
        vec!["itemDescription"]
    );
    assert_eq!(
        fields(r#"{"itemDescription":"d","links":[],"defaultLinkType":"zzz"}"#),
        vec!["defaultLinkType"]
    );
    let dup = r#"{"itemDescription":"d","links":[{"linkType":"pip","href":"https://a","title":"t"},{"linkType":"gs1:pip","href":"https://a","title":"u"}]}"#;
    assert_eq!(fields(dup), vec!["links[1]"]);
}

fn anchor(default: Option<&str>, types: &[&str]) -> AnchorRecord {
    let links = types
        .iter()
        .map(|t| Link {
            link_type: t.to_string(),
            href: "https://a.example".into(),
            title: "t".into(),
            media_type: None,
            hreflang: vec![],
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: true,
            id: None,
            contributor: None,
        })
        .collect();
    AnchorRecord {
        item_description: "a".into(),
        default_link_type: default.map(Into::into),
        links,
    }
}

fn settle(
    r: &mut AnchorRecord,
    ancestors: &[Option<&AnchorRecord>],
    fallback: Fallback,
) -> Result<(), FieldError> {
    settle_default(r, ancestors, fallback)
}

#[test]
fn default_link_type_must_exist_here_or_above() {
    let mut r = anchor(Some("T"), &[]);
    assert_eq!(
        settle(&mut r, &[None], Fallback::FirstLink)
            .unwrap_err()
            .field,
        "defaultLinkType"
    );
    assert!(
        settle(
            &mut r,
            &[None, Some(&anchor(None, &["T"]))],
            Fallback::FirstLink
        )
        .is_ok()
    );

    let mut r = anchor(None, &[]);
    assert!(
        settle(&mut r, &[], Fallback::FirstLink).is_err(),
        "nothing to inherit and no links"
    );
    assert!(
        settle(
            &mut r,
            &[Some(&anchor(Some("U"), &["U"]))],
            Fallback::FirstLink
        )
        .is_ok()
    );
    assert_eq!(r.default_link_type, None, "inherits rather than copies");

    let mut r = anchor(None, &["A", "B"]);
    assert!(
        settle(&mut r, &[], Fallback::Wait).is_err(),
        "an import waits for a later ancestor"
    );
    settle(&mut r, &[], Fallback::FirstLink).unwrap();
    assert_eq!(r.default_link_type.as_deref(), Some("A"));
}

/// The untagged enum `OneOrMany` used to deserialise through: the reference for what it must answer.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRepr {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Before {
    #[serde(default)]
    v: Option<OneOrManyRepr>,
    #[allow(dead_code)]
    w: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct After {
    #[serde(default)]
    v: Option<OneOrMany>,
    #[allow(dead_code)]
    w: u8,
}

type Outcome = Result<Option<Vec<String>>, (String, String)>;

/// (from the text, from a `serde_json::Value`): the strings, or the error's path and message.
fn outcomes<T: serde::de::DeserializeOwned>(
    doc: &str,
    strings: impl Fn(T) -> Option<Vec<String>>,
) -> (Outcome, Option<Outcome>) {
    let report = |e: serde_path_to_error::Error<serde_json::Error>| {
        (e.path().to_string(), e.into_inner().to_string())
    };
    let text = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(doc));
    let value = serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .map(|v| {
            serde_path_to_error::deserialize(v)
                .map(&strings)
                .map_err(report)
        });
    (text.map(&strings).map_err(report), value)
}

#[test]
fn one_or_many_answers_as_the_untagged_enum_did() {
    let values = [
        r#""en""#,
        r#"["en","fr"]"#,
        "[]",
        r#"["e\u006e"]"#,
        r#" [ "a" , "b" ] "#,
        "1",
        "-1",
        "1.5",
        "1e400",
        "true",
        "null",
        "{}",
        r#"{"a":1}"#,
        r#"{"a":[1e400]}"#,
        "[1]",
        r#"["a",1]"#,
        r#"[["a"]]"#,
        r#"[{"a":[1,2]}]"#,
        "[1,]",
        r#"["a" "b"]"#,
        r#""\ud800""#,
        "[true]  ",
        r#"["\u0000"]"#,
    ];
    for v in values {
        let doc = format!(r#"{{"v": {v}, "w": 1}}"#);
        let before = outcomes(&doc, |b: Before| {
            b.v.map(|r| match r {
                OneOrManyRepr::One(s) => vec![s],
                OneOrManyRepr::Many(v) => v,
            })
        });
        let after = outcomes(&doc, |a: After| a.v.map(|v| v.0));
        assert_eq!(after, before, "{doc}");
    }
}

/// What `check_url` made of an ASCII href before `plainly_valid_url` was asked first.
fn parsed(href: &str) -> bool {
    url::Url::parse(href)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

#[test]
fn urls_taken_without_parsing_are_ones_the_parser_takes() {
    for href in [
        "https://brand.example/products/09520123456788",
        "http://a/",
        "https://a-b.c-d.example?q=1#f",
        "https://x.example/%zz/<>^`{|}/..",
    ] {
        assert!(plainly_valid_url(href) && parsed(href), "{href}");
    }
    for href in [
        "https://Brand.example/",
        "https://a.example:8080/",
        "https://u@a.example/",
        "https://1.2.3.4/",
        "https://a.0x1f/",
        "http://a.0",
        "https://a.example./",
        "https://a..example/",
        "https://xn--nxasmq6b.example/",
        "https:///a.example",
        "https:a.example",
        "HTTPS://a.example",
        "ftp://a.example",
        "https://a.example\\b",
        "https://%61.example/",
    ] {
        assert!(!plainly_valid_url(href), "{href}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn a_url_taken_without_parsing_parses(href in proptest::prop_oneof![
        "https?://[a-z0-9.-]{1,24}([/?#\\\\][!-~]{0,24})?",
        "(https?|HTTP|ftp):(//)?[a-zA-Z0-9.:@%_\\[\\]-]{0,24}([/?#\\\\][!-~]{0,24})?",
    ]) {
        if plainly_valid_url(&href) {
            proptest::prop_assert!(parsed(&href), "{}", href);
        }
    }
}

#[test]
fn shapes() {
    assert!(is_media_type("application/vc+jwt"));
    assert!(is_media_type("text/html"));
    assert!(!is_media_type("text/html; charset=utf-8"));
    assert!(!is_media_type("html"));
    assert!(is_language_tag("zh-Hant-TW"));
    assert!(!is_language_tag("12"));
    assert!(is_schema_language("en-GB") && !is_schema_language("es-419"));
}

#[test]
fn access_rules_name_the_field() {
    let link = |extra: &str| {
        format!(
            r#"{{"itemDescription":"d","links":[{{"linkType":"gs1:pip","href":"https://a.example/p","title":"P"}},
            {{"linkType":"untp:dte","href":"https://a.example/e","title":"E"{extra}}}]}}"#
        )
    };
    assert_eq!(
        fields(&link(
            r#","encryptionMethod":"ROT13","accessRole":["untp:accessRole#Owner"]"#
        )),
        ["links[1].encryptionMethod"]
    );
    assert_eq!(
        fields(&link(r#","encryptionMethod":"AES-128""#)),
        ["links[1].accessRole"]
    );
    assert_eq!(
        fields(&link(r#","accessRole":["untp:accessRole#Owner","boss"]"#)),
        ["links[1].accessRole[1]"]
    );
    // An empty role is named once, by the text check.
    assert_eq!(
        fields(&link(r#","encryptionMethod":"AES","accessRole":[""]"#)),
        ["links[1].accessRole[0]"]
    );
    let v = run(&link(
        r#","encryptionMethod":"aes-256","accessRole":"owner""#,
    ))
    .unwrap();
    assert_eq!(
        v.record.links[1].encryption_method.as_deref(),
        Some("AES-256")
    );
    assert_eq!(v.record.links[1].access_role, ["untp:accessRole#Owner"]);
    let v = run(&link(r#","encryptionMethod":"none""#)).unwrap();
    assert_eq!(v.record.links[1].encryption_method.as_deref(), Some("none"));
}

/// A record stored before a normalisation (`accessRole: customer`, as written) is compared in today's form: a
/// contributor sending back what it read (normalised by validation) plus its link is not refused for "changing" the
/// owner's link.
#[test]
fn a_contributor_sends_back_an_older_record_in_todays_form() {
    use crate::contribution::{Contributor, as_contributor};
    let schemes = crate::identifier::scheme::SchemeSet::embedded().unwrap();
    let (vocab, limits, codes) = (
        Vocabulary::embedded(),
        crate::limits::Limits::default(),
        crate::codelist::AccessCodes::embedded(),
    );
    let stored: AnchorRecord = serde_json::from_value(serde_json::json!({
        "itemDescription": "Battery",
        "links": [{"linkType": "https://test.uncefact.org/vocabulary/linkTypes/dpp", "href": "https://b.example/dpp",
                   "title": "DPP", "accessRole": ["customer"]}]}))
    .unwrap();
    let mut body = Submission::of(&stored);
    body.links.push(LinkSubmission::of(&Link {
        link_type: "untp:dte".into(),
        href: "https://r.example/e".into(),
        ..stored.links[0].clone()
    }));
    let submitted = validate(body, &vocab, schemes.gs1().unwrap(), &limits, &codes)
        .unwrap()
        .record;
    assert_eq!(submitted.links[0].access_role, ["untp:accessRole#Customer"]);
    let recycler = Contributor {
        did: "did:web:r.example".into(),
        link_types: vec!["https://test.uncefact.org/vocabulary/linkTypes/dte".into()],
        roles: vec!["recycler".into()],
    };
    assert!(as_contributor(Some(&stored), submitted.clone(), &recycler).is_err());
    let previous = normalised(&stored, &vocab, schemes.gs1().unwrap(), &limits, &codes);
    let out = as_contributor(Some(&previous), submitted, &recycler).unwrap();
    assert_eq!(out.links.len(), 2);
    assert_eq!(
        out.links[1].contributor.as_deref(),
        Some("did:web:r.example")
    );
}

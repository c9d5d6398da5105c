//! Tests of the schema checker in `tests/api/support/schema.rs`.
//!
//! Fixtures are our own copies of the small examples of resolver-requirements §10-§11, plus
//! mutations of them. Every fixture states the verdict expected from each schema it is checked
//! against; when the official schemas are present, `our_rules_agree_with_the_official_schemas`
//! also checks that the official validator reaches the same verdict.

use crate::support::schema::{
    SchemaKind, assert_valid, description_violations, gs1_linkset_violations, is_uri,
    official_schema_dir, official_violations, untp_linkset_violations,
};
use serde_json::{Value, json};

use SchemaKind::{Description, Gs1Linkset, UntpLinkset};

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// The three-level example linkset (§10).
fn full_linkset() -> Value {
    json!({
      "linkset": [
        {
          "anchor": "https://resolver.example/01/09520123456788/10/ABC/21/12345",
          "itemDescription": "Battery pack, batch ABC, serial 12345",
          "https://test.uncefact.org/vocabulary/linkTypes/dpp": [
            {
              "href": "https://credentials.example/dpp/09520123456788-12345-v2.jwt",
              "title": "Digital Product Passport",
              "type": "application/vc+jwt",
              "hreflang": ["en"]
            },
            {
              "href": "https://credentials.example/dpp/09520123456788-12345-v1.jwt",
              "title": "Digital Product Passport (previous version)",
              "type": "application/vc+jwt",
              "hreflang": ["en"],
              "rel": ["predecessor-version"]
            }
          ],
          "https://test.uncefact.org/vocabulary/linkTypes/dte": [
            {
              "href": "https://credentials.example/dte/09520123456788-12345.enc",
              "title": "Traceability events (encrypted)",
              "type": "application/vc+jwt",
              "encryptionMethod": "AES-128",
              "accessRole": ["untp:accessRole#Anonymous"]
            },
            {
              "href": "https://api.credentials.example/events",
              "title": "Add a maintenance event",
              "type": "application/vc+jwt",
              "rel": ["edit"],
              "method": ["POST", "X-API-Key"],
              "accessRole": ["untp:accessRole#Owner"]
            }
          ]
        },
        {
          "anchor": "https://resolver.example/01/09520123456788/10/ABC",
          "https://test.uncefact.org/vocabulary/linkTypes/dcc": [
            {
              "href": "https://certifier.example/dcc/batch-ABC.jwt",
              "title": "Batch conformity credential",
              "type": "application/vc+jwt",
              "hreflang": ["en"]
            }
          ]
        },
        gtin_context()
      ]
    })
}

/// The GTIN-level link context object of the §10 example.
fn gtin_context() -> Value {
    json!({
      "anchor": "https://resolver.example/01/09520123456788",
      "itemDescription": "Battery pack model X",
      "https://ref.gs1.org/voc/defaultLink": [
        { "href": "https://brand.example/products/09520123456788", "title": "Product information" }
      ],
      "https://ref.gs1.org/voc/pip": [
        { "href": "https://brand.example/products/09520123456788", "title": "Product information", "type": "text/html", "hreflang": ["en"] },
        { "href": "https://brand.example/de/produkte/09520123456788", "title": "Produktinformationen", "type": "text/html", "hreflang": ["de"] }
      ],
      "https://ref.gs1.org/voc/certificationInfo": [
        { "href": "https://brand.example/certs/09520123456788", "title": "Certificates", "type": "text/html", "context": ["eu"] }
      ]
    })
}

/// A linkset holding only the GTIN-level object: valid against both linkset schemas.
fn gtin_linkset() -> Value {
    json!({ "linkset": [gtin_context()] })
}

/// The `/.well-known/gs1resolver` example (§11).
fn description_file() -> Value {
    json!({
      "name": "Example UNTP identity resolver",
      "resolverRoot": "https://resolver.example",
      "supportedPrimaryKeys": ["01", "414", "417", "8004"],
      "supportedLinkType": [
        { "namespace": "https://ref.gs1.org/voc/", "prefix": "gs1:", "profile": "https://resolver.example/voc/?show=linktypes" },
        { "namespace": "https://test.uncefact.org/vocabulary/linkTypes/", "prefix": "untp:", "profile": "https://resolver.example/voc/?show=linktypes" }
      ],
      "linkTypeDefaultCanBeLinkset": false,
      "supportedContextValuesExternal": [ { "nameOfList": "ISO 3166-1 alpha-2", "url": "https://www.iso.org/iso-3166-country-codes.html" } ],
      "jsonLdContextLocation": "https://ref.gs1.org/standards/resolver/1.2.0/linkset-context",
      "contact": { "fn": "Example Org", "hasTelephone": "tel:+61-2-0000-0000" }
    })
}

const PIP: &str = "https://ref.gs1.org/voc/pip";

/// `base` changed by `f`.
fn with(mut base: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut base);
    base
}

/// The GTIN-level linkset changed by `f` applied to its only context object.
fn gtin_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    with(gtin_linkset(), |v| {
        f(v["linkset"][0].as_object_mut().unwrap());
    })
}

/// The GTIN-level linkset with relation `from` renamed to `to`.
fn renamed(from: &str, to: &str) -> Value {
    gtin_with(|ctx| {
        let links = ctx.remove(from).unwrap();
        ctx.insert(to.into(), links);
    })
}

/// The GTIN-level linkset with `f` applied to the first `pip` link target object.
fn pip_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    gtin_with(|ctx| f(ctx[PIP][0].as_object_mut().unwrap()))
}

fn description_with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    with(description_file(), |v| f(v.as_object_mut().unwrap()))
}

/// Expected verdict. `Invalid(s)`: rejected, and one of our messages contains `s` (so the
/// rejection is for the intended reason).
#[derive(Clone, Copy, Debug)]
enum Verdict {
    Valid,
    Invalid(&'static str),
}
use Verdict::{Invalid, Valid};

struct Fixture {
    name: &'static str,
    value: Value,
    expect: Vec<(SchemaKind, Verdict)>,
}

fn fx(name: &'static str, value: Value, expect: &[(SchemaKind, Verdict)]) -> Fixture {
    Fixture {
        name,
        value,
        expect: expect.to_vec(),
    }
}

/// Same verdict from both linkset schemas.
fn both(v: Verdict) -> [(SchemaKind, Verdict); 2] {
    [(Gs1Linkset, v), (UntpLinkset, v)]
}

fn positive_fixtures() -> Vec<Fixture> {
    vec![
        fx("§10 GTIN-level object", gtin_linkset(), &both(Valid)),
        fx(
            "§10 full example",
            full_linkset(),
            &[(UntpLinkset, Valid), (Gs1Linkset, Invalid("`rel`"))],
        ),
        fx(
            "§11 description file",
            description_file(),
            &[(Description, Valid)],
        ),
        // Schema behaviour worth pinning down (valid although it may look wrong).
        fx("empty linkset", json!({ "linkset": [] }), &both(Valid)),
        fx(
            "anchor only needs its start to match (query, fragment, dash)",
            gtin_with(|c| {
                c["anchor"] = json!("https://resolver-x.example/01/09520123456788?x=1#f");
            }),
            &both(Valid),
        ),
        fx(
            "href only needs its start to match",
            pip_with(|t| t["href"] = json!("https://brand.example/a b?c=%zz")),
            &both(Valid),
        ),
        fx(
            "IANA relation names, empty link array",
            gtin_with(|c| {
                c.insert("describedby".into(), json!([]));
                c.insert(
                    "item".into(),
                    json!([{ "href": "http://x.example/", "title": "x" }]),
                );
            }),
            &both(Valid),
        ),
        fx(
            "hreflang ll-cc, underscores are word characters",
            pip_with(|t| t["hreflang"] = json!(["en-GB", "__", "de"])),
            &both(Valid),
        ),
        fx(
            "type is a search: parameters allowed",
            pip_with(|t| t["type"] = json!("text/html; charset=utf-8")),
            &both(Valid),
        ),
        fx(
            "context items are untyped",
            pip_with(|t| {
                t.insert("context".into(), json!([1, { "x": true }, "eu"]));
            }),
            &both(Valid),
        ),
        fx(
            "fwqs and public booleans",
            pip_with(|t| {
                t.insert("fwqs".into(), json!(true));
                t.insert("public".into(), json!(false));
            }),
            &both(Valid),
        ),
        fx(
            "relation URL with `_` (GS1's A-z range quirk)",
            renamed(PIP, "https://ref.gs1.org/voc/pip_x"),
            &[(Gs1Linkset, Valid), (UntpLinkset, Invalid("pip_x"))],
        ),
        fx(
            "`description` as a link array is a relation in GS1",
            gtin_with(|c| {
                c.insert("description".into(), json!([]));
            }),
            &[(Gs1Linkset, Valid), (UntpLinkset, Invalid("`description`"))],
        ),
        fx(
            "`descriptions` is a relation in GS1, excluded by UNTP's lookahead",
            gtin_with(|c| {
                c.insert("descriptions".into(), json!([]));
            }),
            &[(Gs1Linkset, Valid), (UntpLinkset, Invalid("descriptions"))],
        ),
        fx(
            "UNTP members in a UNTP linkset",
            pip_with(|t| {
                t.insert("rel".into(), json!([]));
                t.insert("method".into(), json!(["GET"]));
                t.insert("encryptionMethod".into(), json!("none"));
                t.insert("accessRole".into(), json!(["x"]));
            }),
            &[
                (UntpLinkset, Valid),
                (Gs1Linkset, Invalid("encryptionMethod")),
            ],
        ),
        fx(
            "description file: minimal, empty key list",
            json!({ "resolverRoot": "https://r.example", "supportedPrimaryKeys": [] }),
            &[(Description, Valid)],
        ),
        fx(
            "description file: extra members, non-object supportedLinkType item, any hasTelephone",
            description_with(|d| {
                d.insert("_id".into(), json!(7));
                d.insert("supportedLinkType".into(), json!(["gs1:", 3]));
                d.insert(
                    "contact".into(),
                    json!({ "hasTelephone": 42, "hasAddress": { "postal-code": "2000" } }),
                );
                d.insert("supportedPrimaryKeys".into(), json!(["all", "00", "8018"]));
                d.insert(
                    "resolverRoot".into(),
                    json!("http://user:pw@127.0.0.1:8080/root/?q#f"),
                );
                d.insert("extensionProfile".into(), json!("urn:example:profile"));
            }),
            &[(Description, Valid)],
        ),
        fx(
            "description file: prefix with underscore and dash",
            description_with(|d| {
                d["supportedLinkType"][0]["prefix"] = json!("_my-ns_1:");
            }),
            &[(Description, Valid)],
        ),
    ]
}

fn negative_fixtures() -> Vec<Fixture> {
    vec![
        // The mutations the brief lists.
        fx(
            "CURIE relation key",
            renamed(PIP, "gs1:pip"),
            &both(Invalid("gs1:pip")),
        ),
        fx(
            "`#` in relation URI",
            renamed(PIP, "https://vocabulary.uncefact.org/untp/linkType#dpp"),
            &both(Invalid("linkType#dpp")),
        ),
        fx(
            "missing title",
            pip_with(|t| {
                t.remove("title");
            }),
            &both(Invalid("`title`")),
        ),
        fx(
            "`title*` member",
            pip_with(|t| {
                t.insert("title*".into(), json!("UTF-8'de'Produktinformationen"));
            }),
            &both(Invalid("`title*`")),
        ),
        fx(
            "`description` string member",
            gtin_with(|c| {
                c.insert("description".into(), json!("Battery pack model X"));
            }),
            &[(Gs1Linkset, Invalid("`description`")), (UntpLinkset, Valid)],
        ),
        fx(
            "hreflang es-419",
            pip_with(|t| t["hreflang"] = json!(["es-419"])),
            &both(Invalid("es-419")),
        ),
        fx(
            "hreflang as a string",
            pip_with(|t| t["hreflang"] = json!("en")),
            &both(Invalid("`hreflang` must be an array")),
        ),
        fx(
            "fwqs as a string",
            pip_with(|t| {
                t.insert("fwqs".into(), json!("true"));
            }),
            &both(Invalid("`fwqs` must be a boolean")),
        ),
        fx(
            "extra top-level member",
            with(gtin_linkset(), |v| {
                v["@context"] =
                    json!("https://ref.gs1.org/standards/resolver/1.2.0/linkset-context");
            }),
            &both(Invalid("`@context`")),
        ),
        fx(
            "linkset not an array",
            with(gtin_linkset(), |v| v["linkset"] = gtin_context()),
            &both(Invalid("`linkset` must be an array")),
        ),
        fx(
            "anchor urn:x",
            gtin_with(|c| c["anchor"] = json!("urn:x")),
            &both(Invalid("urn:x")),
        ),
        fx(
            "missing supportedPrimaryKeys",
            description_with(|d| {
                d.remove("supportedPrimaryKeys");
            }),
            &[(Description, Invalid("`supportedPrimaryKeys`"))],
        ),
        fx(
            "unknown primary key 99",
            description_with(|d| d["supportedPrimaryKeys"] = json!(["01", "99"])),
            &[(Description, Invalid("\"99\""))],
        ),
        fx(
            "prefix without colon",
            description_with(|d| d["supportedLinkType"][0]["prefix"] = json!("gs1")),
            &[(Description, Invalid("`prefix` \"gs1\""))],
        ),
        // More linkset mutations.
        fx(
            "not an object",
            json!([gtin_context()]),
            &both(Invalid("must be an object")),
        ),
        fx("missing linkset", json!({}), &both(Invalid("`linkset`"))),
        fx(
            "linkset item not an object",
            json!({ "linkset": ["https://resolver.example/01/09520123456788"] }),
            &both(Invalid("link context object must be an object")),
        ),
        fx(
            "missing anchor",
            gtin_with(|c| {
                c.remove("anchor");
            }),
            &both(Invalid("`anchor`")),
        ),
        fx(
            "missing itemDescription",
            gtin_with(|c| {
                c.remove("itemDescription");
            }),
            &[
                (Gs1Linkset, Invalid("`itemDescription`")),
                (UntpLinkset, Valid),
            ],
        ),
        fx(
            "itemDescription not a string",
            gtin_with(|c| c["itemDescription"] = json!(["x"])),
            &both(Invalid("`itemDescription` must be a string")),
        ),
        fx(
            "anchor with a character outside the URL class right after //",
            gtin_with(|c| c["anchor"] = json!("https://-resolver.example/01/09520123456788")),
            &both(Invalid("`anchor`")),
        ),
        fx(
            "anchor with `_` after // (GS1's A-z range quirk)",
            gtin_with(|c| c["anchor"] = json!("https://_r.example/01/09520123456788")),
            &[(Gs1Linkset, Valid), (UntpLinkset, Invalid("`anchor`"))],
        ),
        fx(
            "relation URL with `-`",
            renamed(PIP, "https://example.org/link-types/pip"),
            &both(Invalid("link-types")),
        ),
        fx(
            "relation URL with a port",
            renamed(PIP, "https://example.org:8443/voc/pip"),
            &both(Invalid("8443")),
        ),
        fx(
            "relation URL with a query",
            renamed(PIP, "https://example.org/voc?pip"),
            &both(Invalid("voc?pip")),
        ),
        fx(
            "uppercase relation name",
            renamed(PIP, "Pip"),
            &both(Invalid("`Pip`")),
        ),
        fx(
            "relation name starting with `anchor` (lookahead)",
            renamed(PIP, "anchors"),
            &both(Invalid("`anchors`")),
        ),
        fx(
            "relation value not an array",
            gtin_with(|c| {
                let first = c[PIP][0].clone();
                c[PIP] = first;
            }),
            &both(Invalid("must be an array")),
        ),
        fx(
            "link target not an object",
            gtin_with(|c| c[PIP] = json!(["https://brand.example/"])),
            &both(Invalid("link target object must be an object")),
        ),
        fx(
            "missing href",
            pip_with(|t| {
                t.remove("href");
            }),
            &both(Invalid("`href`")),
        ),
        fx(
            "href not http(s)",
            pip_with(|t| t["href"] = json!("ftp://brand.example/x")),
            &both(Invalid("ftp://")),
        ),
        fx(
            "title not a string",
            pip_with(|t| t["title"] = json!({ "en": "Product information" })),
            &both(Invalid("`title` must be a string")),
        ),
        fx(
            "hreflang three letters",
            pip_with(|t| t["hreflang"] = json!(["fil"])),
            &both(Invalid("fil")),
        ),
        fx(
            "hreflang non-ASCII letters (ECMA \\w is ASCII)",
            pip_with(|t| t["hreflang"] = json!(["éé"])),
            &both(Invalid("éé")),
        ),
        fx(
            "type without a slash",
            pip_with(|t| t["type"] = json!("html")),
            &both(Invalid("`type` \"html\"")),
        ),
        fx(
            "context as a string",
            pip_with(|t| {
                t.insert("context".into(), json!("eu"));
            }),
            &both(Invalid("`context` must be an array")),
        ),
        fx(
            "public as a number",
            pip_with(|t| {
                t.insert("public".into(), json!(1));
            }),
            &both(Invalid("`public` must be a boolean")),
        ),
        fx(
            "RFC 9264 attribute `media`",
            pip_with(|t| {
                t.insert("media".into(), json!("screen"));
            }),
            &both(Invalid("`media`")),
        ),
        fx(
            "`rel` in a GS1 linkset",
            pip_with(|t| {
                t.insert("rel".into(), json!(["alternate"]));
            }),
            &[(Gs1Linkset, Invalid("`rel`")), (UntpLinkset, Valid)],
        ),
        fx(
            "encryptionMethod as an array",
            pip_with(|t| {
                t.insert("encryptionMethod".into(), json!(["AES-128"]));
            }),
            &both(Invalid("`encryptionMethod`")),
        ),
        fx(
            "method as a string",
            pip_with(|t| {
                t.insert("method".into(), json!("POST"));
            }),
            &[
                (Gs1Linkset, Invalid("`method`")),
                (UntpLinkset, Invalid("`method` must be an array")),
            ],
        ),
        fx(
            "accessRole with a non-string item",
            pip_with(|t| {
                t.insert("accessRole".into(), json!(["owner", 1]));
            }),
            &[
                (Gs1Linkset, Invalid("`accessRole`")),
                (UntpLinkset, Invalid("`accessRole` item")),
            ],
        ),
        fx(
            "description not a string in UNTP",
            gtin_with(|c| {
                c.insert("description".into(), json!({ "en": "x" }));
            }),
            &both(Invalid("`description`")),
        ),
        // More description file mutations.
        fx(
            "description file not an object",
            json!("https://resolver.example"),
            &[(Description, Invalid("must be an object"))],
        ),
        fx(
            "missing resolverRoot",
            description_with(|d| {
                d.remove("resolverRoot");
            }),
            &[(Description, Invalid("`resolverRoot`"))],
        ),
        fx(
            "resolverRoot without a scheme",
            description_with(|d| d["resolverRoot"] = json!("resolver.example")),
            &[(Description, Invalid("is not a URI"))],
        ),
        fx(
            "resolverRoot with a space",
            description_with(|d| d["resolverRoot"] = json!("https://resolver example")),
            &[(Description, Invalid("is not a URI"))],
        ),
        fx(
            "resolverRoot with a bad port",
            description_with(|d| d["resolverRoot"] = json!("https://resolver.example:80a/")),
            &[(Description, Invalid("is not a URI"))],
        ),
        fx(
            "jsonLdContextLocation relative",
            description_with(|d| d["jsonLdContextLocation"] = json!("/linkset-context")),
            &[(Description, Invalid("is not a URI"))],
        ),
        fx(
            "namespace with a broken percent-encoding",
            description_with(|d| {
                d["supportedLinkType"][0]["namespace"] = json!("https://ref.gs1.org/v%zzoc/")
            }),
            &[(Description, Invalid("is not a URI"))],
        ),
        fx(
            "supportedPrimaryKeys as a string",
            description_with(|d| d["supportedPrimaryKeys"] = json!("01")),
            &[(
                Description,
                Invalid("`supportedPrimaryKeys` must be an array"),
            )],
        ),
        fx(
            "supportedPrimaryKeys number item",
            description_with(|d| d["supportedPrimaryKeys"] = json!([1])),
            &[(Description, Invalid("must be a string"))],
        ),
        fx(
            "supportedPrimaryKeys unpadded AI",
            description_with(|d| d["supportedPrimaryKeys"] = json!(["1"])),
            &[(Description, Invalid("\"1\""))],
        ),
        fx(
            "prefix with two colons",
            description_with(|d| d["supportedLinkType"][0]["prefix"] = json!("gs1::")),
            &[(Description, Invalid("gs1::"))],
        ),
        fx(
            "prefix starting with a digit",
            description_with(|d| d["supportedLinkType"][0]["prefix"] = json!("1gs:")),
            &[(Description, Invalid("1gs:"))],
        ),
        fx(
            "linkTypeDefaultCanBeLinkset as a string",
            description_with(|d| d["linkTypeDefaultCanBeLinkset"] = json!("false")),
            &[(Description, Invalid("must be a boolean"))],
        ),
        fx(
            "name not a string",
            description_with(|d| d["name"] = json!(["x"])),
            &[(Description, Invalid("`name` must be a string"))],
        ),
        fx(
            "supportedContextValuesEnumerated with a number",
            description_with(|d| {
                d.insert("supportedContextValuesEnumerated".into(), json!(["eu", 3]));
            }),
            &[(Description, Invalid("must be a string"))],
        ),
        fx(
            "supportedContextValuesExternal item not an object",
            description_with(|d| d["supportedContextValuesExternal"] = json!(["ISO 3166"])),
            &[(Description, Invalid("must be an object"))],
        ),
        fx(
            "supportedContextValuesExternal url not a URI",
            description_with(|d| d["supportedContextValuesExternal"][0]["url"] = json!("iso.org")),
            &[(Description, Invalid("`url`"))],
        ),
        fx(
            "contact not an object",
            description_with(|d| d["contact"] = json!("Example Org")),
            &[(Description, Invalid("`contact` must be an object"))],
        ),
        fx(
            "hasAddress field not a string",
            description_with(|d| d["contact"]["hasAddress"] = json!({ "postal-code": 2000 })),
            &[(Description, Invalid("`postal-code` must be a string"))],
        ),
    ]
}

fn all_fixtures() -> Vec<Fixture> {
    let mut all = positive_fixtures();
    all.extend(negative_fixtures());
    all
}

/// Checks each fixture's expectations against our rules; returns the failures.
fn check_expectations(fixtures: &[Fixture]) -> Vec<String> {
    let mut failures = Vec::new();
    for f in fixtures {
        for &(kind, verdict) in &f.expect {
            let found = kind.violations(&f.value);
            match verdict {
                Valid if !found.is_empty() => failures.push(format!(
                    "{} / {kind:?}: expected valid, got {found:#?}",
                    f.name
                )),
                Invalid(_) if found.is_empty() => failures.push(format!(
                    "{} / {kind:?}: expected invalid, got valid",
                    f.name
                )),
                Invalid(needle) if !found.iter().any(|m| m.contains(needle)) => {
                    failures.push(format!(
                        "{} / {kind:?}: no message mentions {needle:?}: {found:#?}",
                        f.name
                    ))
                }
                _ => {}
            }
        }
    }
    failures
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn gtin_level_object_is_valid_for_gs1_and_untp() {
    assert_valid(Gs1Linkset, &gtin_linkset());
    assert_valid(UntpLinkset, &gtin_linkset());
}

#[test]
fn full_example_is_untp_valid() {
    assert_valid(UntpLinkset, &full_linkset());
}

#[test]
fn full_example_is_not_gs1_valid_for_the_documented_reasons() {
    let found = gs1_linkset_violations(&full_linkset());
    for needle in [
        "/linkset/0/https:~1~1test.uncefact.org~1vocabulary~1linkTypes~1dpp/1/rel: member `rel`",
        "`method` is not allowed",
        "`encryptionMethod` is not allowed",
        "`accessRole` is not allowed",
        "/linkset/1: the link context object is missing required member `itemDescription`",
    ] {
        assert!(
            found.iter().any(|m| m.contains(needle)),
            "no GS1 violation mentions {needle:?}: {found:#?}"
        );
    }
    // 2 × rel, 1 × method, 1 × encryptionMethod, 2 × accessRole, 1 × itemDescription.
    assert_eq!(found.len(), 7, "{found:#?}");
}

#[test]
fn description_example_is_valid() {
    assert_valid(Description, &description_file());
}

#[test]
fn schema_quirks_are_encoded() {
    let failures = check_expectations(&positive_fixtures());
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn negative_mutations_are_rejected_for_the_intended_reason() {
    let fixtures = negative_fixtures();
    assert!(fixtures.len() >= 14);
    let failures = check_expectations(&fixtures);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_negative_fixture_is_rejected_by_at_least_one_schema() {
    for f in negative_fixtures() {
        assert!(
            f.expect.iter().any(|(_, v)| matches!(v, Invalid(_))),
            "{} expects no rejection",
            f.name
        );
    }
}

#[test]
fn our_rules_agree_with_the_official_schemas() {
    if official_schema_dir().is_none() {
        eprintln!("official schemas absent: cross-check skipped");
        return;
    }
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for f in all_fixtures() {
        // Linkset fixtures are compared against both linkset schemas, whatever they expect.
        let kinds: &[SchemaKind] = if f.expect.iter().any(|(k, _)| *k == Description) {
            &[Description]
        } else {
            &[Gs1Linkset, UntpLinkset]
        };
        for &kind in kinds {
            let ours = kind.violations(&f.value);
            let official = official_violations(kind.file_name(), &f.value).unwrap();
            compared += 1;
            if ours.is_empty() != official.is_empty() {
                disagreements.push(format!(
                    "{} / {kind:?}: ours {ours:#?} vs official {official:#?}",
                    f.name
                ));
            }
        }
    }
    assert!(compared > 100, "only {compared} comparisons");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn official_validator_rejects_and_accepts() {
    let Some(bad) = official_violations(Gs1Linkset.file_name(), &renamed(PIP, "gs1:pip")) else {
        eprintln!("official schemas absent: skipped");
        return;
    };
    assert!(!bad.is_empty());
    assert_eq!(
        official_violations(Gs1Linkset.file_name(), &gtin_linkset()),
        Some(vec![])
    );
    // Format assertions are on (Draft 7 makes them optional).
    let no_uri = description_with(|d| d["resolverRoot"] = json!("resolver.example"));
    assert!(
        !official_violations(Description.file_name(), &no_uri)
            .unwrap()
            .is_empty()
    );
}

#[test]
#[should_panic(expected = "missing required member `title`")]
fn assert_valid_panics_on_an_invalid_document() {
    assert_valid(
        Gs1Linkset,
        &pip_with(|t| {
            t.remove("title");
        }),
    );
}

#[test]
fn direct_functions_match_schema_kind_dispatch() {
    let v = full_linkset();
    assert_eq!(gs1_linkset_violations(&v), Gs1Linkset.violations(&v));
    assert_eq!(untp_linkset_violations(&v), UntpLinkset.violations(&v));
    assert_eq!(description_violations(&v), Description.violations(&v));
    // A linkset is not a description file.
    assert!(!description_violations(&v).is_empty());
    assert_eq!(SchemaKind::ALL.len(), 3);
}

#[test]
fn uri_format() {
    for ok in [
        "https://resolver.example",
        "https://resolver.example/",
        "http://u:p@h.example:8080/a/b?c=d&e#f",
        "tel:+61-2-0000-0000",
        "urn:example:a",
        "mailto:a@b.example",
        "https://[::1]:8080/",
        "https://ref.gs1.org/v%20oc/",
        "http://",
    ] {
        assert!(is_uri(ok), "{ok} should be a URI");
    }
    for bad in [
        "",
        "resolver.example",
        "/relative",
        "1http://x",
        "https://a b",
        "https://h:port/",
        "https://h/%zz",
        "https://h/é",
        "https://h/a#b#c",
        "https://a@b@c/",
    ] {
        assert!(!is_uri(bad), "{bad} should not be a URI");
    }
}

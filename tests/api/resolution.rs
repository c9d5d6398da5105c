//! Black-box resolution tests: the §15 cases (T1–T17) of the resolver requirements, plus walk-up order, linkset
//! level order, HEAD, 405 and origin derivation. Expected values come from the requirements, not from the server.

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::client::location;
use crate::support::schema::{SchemaKind, assert_valid};
use reqwest::header::HeaderMap;
use reqwest::{Method, Response};
use serde_json::{Value, json};

const ROOT: &str = "https://resolver.example";
const GTIN: &str = "09520123456788";
const PIP_EN: &str = "https://brand.example/products/09520123456788";
const PIP_DE: &str = "https://brand.example/de/produkte/09520123456788";
const VIDEO_1: &str = "https://brand.example/videos/09520123456788-1.mp4";
const VIDEO_2: &str = "https://brand.example/videos/09520123456788-2.mp4";
const MANUAL: &str = "https://brand.example/manual?edition=2";
const DPP_SERIAL: &str = "https://credentials.example/dpp/09520123456788-12345.jwt";
const DPP_BATCH: &str = "https://credentials.example/dpp/09520123456788-ABC.jwt";
const DTE_CUSTOMER: &str = "https://credentials.example/dte/12345-customer.jwt";
const DTE_REGULATOR: &str = "https://credentials.example/dte/12345-regulator.jwt";
const DTE_PUBLIC: &str = "https://credentials.example/dte/12345-public.jwt";
const GS1_VOC: &str = "https://gs1.org/voc/";
const UNTP_VOC: &str = "https://test.uncefact.org/vocabulary/linkTypes/";
const DEFAULT_LINK: &str = "https://gs1.org/voc/defaultLink";
const CUSTOMER: &str = "untp:accessRole#Customer";
const REGULATOR: &str = "untp:accessRole#Regulator";
const LINKSET_CONTEXT: &str = "<https://ref.gs1.org/standards/resolver/linkset-context>; \
     rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"";

// ---------------------------------------------------------------------------------------------
// Fixture and helpers

/// The §15 fixture, registered through the management API.
async fn register_fixture(server: &TestApp) {
    server
        .put_anchor(
            &format!("01/{GTIN}"),
            json!({
                "itemDescription": "Battery pack model X",
                "defaultLinkType": "gs1:pip",
                "links": [
                    {"linkType": "gs1:pip", "href": PIP_EN, "title": "Product information",
                     "type": "text/html", "hreflang": ["en"]},
                    {"linkType": "gs1:pip", "href": PIP_DE, "title": "Produktinformationen",
                     "type": "text/html", "hreflang": ["de"]},
                    {"linkType": "gs1:relatedVideo", "href": VIDEO_1, "title": "Video one",
                     "type": "video/mp4", "hreflang": ["en"]},
                    {"linkType": "gs1:relatedVideo", "href": VIDEO_2, "title": "Video two",
                     "type": "video/mp4", "hreflang": ["en"]},
                    {"linkType": "gs1:instructions", "href": MANUAL, "title": "Manual",
                     "type": "text/html", "hreflang": ["en"]}
                ]
            }),
        )
        .await;
    server
        .put_anchor(
            &format!("01/{GTIN}/10/ABC"),
            json!({
                "itemDescription": "Battery pack model X, batch ABC",
                "links": [
                    {"linkType": "untp:dpp", "href": DPP_BATCH, "title": "Batch passport",
                     "type": "application/vc+jwt", "hreflang": ["en"]}
                ]
            }),
        )
        .await;
    server
        .put_anchor(
            &format!("01/{GTIN}/21/12345"),
            json!({
                "itemDescription": "Battery pack model X, serial 12345",
                "links": [
                    {"linkType": "untp:dpp", "href": DPP_SERIAL, "title": "Digital Product Passport",
                     "type": "application/vc+jwt", "hreflang": ["en"]},
                    {"linkType": "untp:dte", "href": DTE_CUSTOMER, "title": "Events for customers",
                     "type": "application/vc+jwt", "accessRole": [CUSTOMER]},
                    {"linkType": "untp:dte", "href": DTE_REGULATOR, "title": "Events for regulators",
                     "type": "application/vc+jwt", "hreflang": ["de"], "accessRole": [REGULATOR]},
                    {"linkType": "untp:dte", "href": DTE_PUBLIC, "title": "Public events",
                     "type": "application/vc+jwt", "hreflang": ["fr"]}
                ]
            }),
        )
        .await;
}

async fn fixture_server() -> TestApp {
    let server = TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await;
    register_fixture(&server).await;
    server
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ASCII header"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn content_type(r: &Response) -> String {
    header(r.headers(), "content-type")
}

fn assert_cors(r: &Response) {
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        "*",
        "CORS header on {} {}",
        r.status(),
        r.url()
    );
}

/// Comma-separated header tokens, lower-cased (for `Vary`, `Allow`, `Access-Control-Allow-Methods`).
fn tokens(headers: &HeaderMap, name: &str) -> Vec<String> {
    header(headers, name)
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn assert_redirect(r: &Response, expected_location: &str) {
    assert_eq!(r.status(), 307, "status for {}", r.url());
    assert_eq!(location(r), expected_location, "Location for {}", r.url());
    assert_cors(r);
}

async fn assert_problem(r: Response, status: u16) -> Value {
    let url = r.url().clone();
    assert_eq!(r.status(), status, "status for {url}");
    assert_cors(&r);
    let ct = content_type(&r);
    assert!(
        ct.starts_with("application/problem+json"),
        "problem content type for {url}: {ct}"
    );
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("problem JSON");
    assert!(body.is_object(), "problem body for {url}: {body}");
    body
}

async fn linkset(r: Response) -> Value {
    let url = r.url().clone();
    assert_eq!(r.status(), 200, "status for {url}");
    assert_cors(&r);
    let ct = content_type(&r);
    assert!(
        ct.starts_with("application/linkset+json"),
        "linkset content type for {url}: {ct}"
    );
    let link = header(r.headers(), "link");
    assert!(
        link.contains(LINKSET_CONTEXT),
        "JSON-LD context Link for {url}: {link}"
    );
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("linkset JSON");
    assert_linkset_valid(&body);
    body
}

const UNTP_ONLY: &[&str] = &["rel", "method", "encryptionMethod", "accessRole"];

fn has_untp_only_attributes(context: &Value) -> bool {
    context.as_object().is_some_and(|o| {
        o.values()
            .filter_map(Value::as_array)
            .flatten()
            .any(|target| {
                UNTP_ONLY
                    .iter()
                    .any(|k| target.as_object().is_some_and(|t| t.contains_key(*k)))
            })
    })
}

/// UNTP schema always; the GS1 schema for the whole body when it has no UNTP-only attribute, else for each
/// context object that has none.
fn assert_linkset_valid(body: &Value) {
    assert_valid(SchemaKind::UntpLinkset, body);
    let contexts = body["linkset"].as_array().expect("linkset array");
    if !contexts.iter().any(has_untp_only_attributes) {
        assert_valid(SchemaKind::Gs1Linkset, body);
    } else {
        for context in contexts.iter().filter(|c| !has_untp_only_attributes(c)) {
            assert_valid(SchemaKind::Gs1Linkset, &json!({ "linkset": [context] }));
        }
    }
}

fn contexts(body: &Value) -> &Vec<Value> {
    body["linkset"].as_array().expect("linkset array")
}

/// The anchors of the levels: every context object but the verification states of credential links (a `status`
/// relation, anchored at the link's target; see `verification_shown.rs`).
fn anchors(body: &Value) -> Vec<String> {
    contexts(body)
        .iter()
        .filter(|c| c.get("status").is_none())
        .map(|c| c["anchor"].as_str().expect("anchor string").to_string())
        .collect()
}

fn context_for<'a>(body: &'a Value, anchor: &str) -> &'a Value {
    contexts(body)
        .iter()
        .find(|c| c["anchor"] == anchor)
        .unwrap_or_else(|| panic!("no context object for {anchor} in {body}"))
}

fn hrefs(context: &Value, relation: &str) -> Vec<String> {
    context[relation]
        .as_array()
        .map(|targets| {
            targets
                .iter()
                .map(|t| t["href"].as_str().expect("href").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn all_targets(body: &Value) -> Vec<&Value> {
    contexts(body)
        .iter()
        .flat_map(|c| c.as_object().expect("context object").values())
        .filter_map(Value::as_array)
        .flatten()
        .collect()
}

fn gs1(term: &str) -> String {
    format!("{GS1_VOC}{term}")
}

fn untp(term: &str) -> String {
    format!("{UNTP_VOC}{term}")
}

/// Every context object has `anchor` and `itemDescription` and no `description` (Decision 1); exactly one
/// `defaultLink` entry in the whole linkset, at `default_anchor`, with only `href` and `title`.
fn assert_context_shape(body: &Value, default_anchor: &str, default_href: &str) {
    let mut defaults = 0;
    for context in contexts(body) {
        let object = context.as_object().expect("context object");
        assert!(object["anchor"].is_string(), "anchor in {context}");
        assert!(
            object.get("itemDescription").is_some_and(Value::is_string),
            "itemDescription in {context}"
        );
        assert!(
            !object.contains_key("description"),
            "no description: {context}"
        );
        if let Some(entries) = object.get(DEFAULT_LINK) {
            let entries = entries.as_array().expect("defaultLink array");
            assert_eq!(context["anchor"], default_anchor, "defaultLink level");
            assert_eq!(entries.len(), 1, "exactly one defaultLink: {context}");
            let entry = entries[0].as_object().expect("defaultLink object");
            let mut keys: Vec<&str> = entry.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["href", "title"], "defaultLink members: {context}");
            assert_eq!(entry["href"], default_href);
            defaults += 1;
        }
    }
    assert_eq!(defaults, 1, "one defaultLink in {body}");
}

// ---------------------------------------------------------------------------------------------
// §15 T1–T17

#[tokio::test]
async fn t01_default_redirect_with_link_headers() {
    let server = fixture_server().await;
    let r = server.resolve("/01/09520123456788").await;
    assert_redirect(&r, PIP_EN);
    let link = header(r.headers(), "link");
    assert!(
        link.contains(
            "<https://resolver.example/01/09520123456788?linkType=linkset>; rel=\"linkset\"; \
             type=\"application/linkset+json\""
        ),
        "linkset Link: {link}"
    );
    assert!(
        link.contains("<https://resolver.example/01/09520123456788>; rel=\"owl:sameAs\""),
        "owl:sameAs Link: {link}"
    );
    assert!(!link.contains("rel=\"gs1:"), "no legacy gs1: links: {link}");
    let vary = tokens(r.headers(), "vary");
    assert!(vary.contains(&"accept".to_string()), "Vary: {vary:?}");
    assert!(
        vary.contains(&"accept-language".to_string()),
        "Vary: {vary:?}"
    );
}

#[tokio::test]
async fn t02_linkset_all_levels() {
    let server = fixture_server().await;
    let path = "/01/09520123456788/10/ABC/21/12345";
    let r = server
        .send_with(Method::GET, path, &[("accept", "application/linkset+json")])
        .await;
    let body = linkset(r).await;
    let serial = "https://resolver.example/01/09520123456788/21/12345";
    let batch = "https://resolver.example/01/09520123456788/10/ABC";
    let product = "https://resolver.example/01/09520123456788";
    assert_eq!(anchors(&body), [serial, batch, product], "levels: {body}");
    assert_context_shape(&body, product, PIP_EN);
    assert_eq!(
        hrefs(context_for(&body, product), &gs1("pip")),
        [PIP_EN, PIP_DE]
    );
    assert_eq!(
        hrefs(context_for(&body, product), &gs1("relatedVideo")),
        [VIDEO_1, VIDEO_2]
    );
    assert_eq!(hrefs(context_for(&body, batch), &untp("dpp")), [DPP_BATCH]);
    assert_eq!(
        hrefs(context_for(&body, serial), &untp("dpp")),
        [DPP_SERIAL]
    );
    assert_eq!(
        hrefs(context_for(&body, serial), &untp("dte")),
        [DTE_CUSTOMER, DTE_REGULATOR, DTE_PUBLIC]
    );
    // Same linkset for ?linkType=linkset and ?linkType=all, no redirect.
    for query in ["?linkType=linkset", "?linkType=all"] {
        let other = linkset(server.resolve(&format!("{path}{query}")).await).await;
        assert_eq!(other, body, "{query}");
    }
}

#[tokio::test]
async fn t03_unknown_batch_walks_up() {
    let server = fixture_server().await;
    let r = server.resolve("/01/09520123456788/10/KL8G").await;
    assert_redirect(&r, PIP_EN);
    let r = server
        .resolve("/01/09520123456788/10/KL8G?linkType=gs1:pip")
        .await;
    assert_redirect(&r, &format!("{PIP_EN}?linkType=gs1:pip"));
}

#[tokio::test]
async fn t04_wrong_check_digit_is_400() {
    let server = fixture_server().await;
    let r = server.resolve("/01/09520123456787").await;
    assert_problem(r, 400).await;
}

#[tokio::test]
async fn t05_bad_ais_are_400() {
    let server = fixture_server().await;
    for path in [
        "/01/09520123456788/99/ABC",
        "/01/09520123456788/17/261231",
        "/01/09520123456788/21/S1/10/L1",
        "/01/09520123456788/foo",
        "/9999/123",
        "/01/09520123456788?9999=1",
    ] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert_cors(&r);
    }
}

#[tokio::test]
async fn t06_percent_encoding() {
    let server = fixture_server().await;
    for path in ["/01/09520123456788/10/AB%ZZ", "/01/09520123456788/10/AB%4"] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 400, "{path}");
    }
    // %2F is part of the batch value A/B: unregistered, so it walks up to the GTIN.
    let r = server.resolve("/01/09520123456788/10/A%2FB").await;
    assert_redirect(&r, PIP_EN);
    for query in ["", "?linkType=untp:dpp"] {
        let plain = server
            .resolve(&format!("/01/09520123456788/10/ABC{query}"))
            .await;
        let encoded = server
            .resolve(&format!("/01/09520123456788/10/%41BC{query}"))
            .await;
        assert_eq!(plain.status(), 307, "{query}");
        assert_eq!(encoded.status(), plain.status(), "{query}");
        assert_eq!(location(&encoded), location(&plain), "{query}");
    }
    let r = server
        .resolve("/01/09520123456788/10/%41BC?linkType=untp:dpp")
        .await;
    assert_redirect(&r, &format!("{DPP_BATCH}?linkType=untp:dpp"));
}

#[tokio::test]
async fn t07_unknown_link_type_is_404() {
    let server = fixture_server().await;
    let r = server
        .resolve("/01/09520123456788?linkType=gs1:nosuchlt")
        .await;
    assert_eq!(r.status(), 404);
    assert_cors(&r);
    // Known type, but registered nowhere up the tree from the GTIN: also 404 (Decision 4).
    let r = server.resolve("/01/09520123456788?linkType=untp:dpp").await;
    assert_eq!(r.status(), 404);
    let r = server
        .resolve("/01/09520123456788/21/12345?linkType=gs1:nosuchlt")
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn t08_language_negotiation() {
    let server = fixture_server().await;
    let path = "/01/09520123456788?linkType=gs1:pip";
    let r = server
        .send_with(
            Method::GET,
            path,
            &[("accept-language", "de-CH, de;q=0.9, en;q=0.5")],
        )
        .await;
    assert_redirect(&r, &format!("{PIP_DE}?linkType=gs1:pip"));
    // RFC 4647 lookup: de-CH alone falls back to de.
    let r = server
        .send_with(Method::GET, path, &[("accept-language", "de-CH")])
        .await;
    assert_redirect(&r, &format!("{PIP_DE}?linkType=gs1:pip"));
    // q-values order the preferences.
    let r = server
        .send_with(
            Method::GET,
            path,
            &[("accept-language", "de;q=0.2, en;q=0.8")],
        )
        .await;
    assert_redirect(&r, &format!("{PIP_EN}?linkType=gs1:pip"));
    // No match: the default (first-registered) variant, not 300 or 404.
    let r = server
        .send_with(Method::GET, path, &[("accept-language", "fr")])
        .await;
    assert_redirect(&r, &format!("{PIP_EN}?linkType=gs1:pip"));
    // No linkType: the default link type's de variant.
    let r = server
        .send_with(
            Method::GET,
            "/01/09520123456788",
            &[("accept-language", "de")],
        )
        .await;
    assert_redirect(&r, PIP_DE);
}

#[tokio::test]
async fn t09_query_string_forwarded() {
    let server = fixture_server().await;
    let r = server
        .resolve("/01/09520123456788?foo=bar&linkType=gs1:pip")
        .await;
    assert_redirect(&r, &format!("{PIP_EN}?foo=bar&linkType=gs1:pip"));
    // Target already has a query: joined with `&`, raw string unchanged.
    let r = server
        .resolve("/01/09520123456788?linkType=gs1:instructions&foo=bar;x&y")
        .await;
    assert_redirect(
        &r,
        &format!("{MANUAL}&linkType=gs1:instructions&foo=bar;x&y"),
    );
    // Without linkType, the query is forwarded to the default link too.
    let r = server.resolve("/01/09520123456788?foo=bar").await;
    assert_redirect(&r, &format!("{PIP_EN}?foo=bar"));
}

#[tokio::test]
async fn t10_trailing_slash() {
    let server = fixture_server().await;
    for (with, without) in [
        ("/01/09520123456788/", "/01/09520123456788"),
        (
            "/01/09520123456788/?linkType=gs1:pip",
            "/01/09520123456788?linkType=gs1:pip",
        ),
    ] {
        let a = server.resolve(with).await;
        let b = server.resolve(without).await;
        assert_eq!(b.status(), 307);
        assert_eq!(a.status(), b.status(), "{with}");
        assert_eq!(location(&a), location(&b), "{with}");
    }
}

#[tokio::test]
async fn t11_description_files() {
    let server = fixture_server().await;
    for path in ["/.well-known/gs1resolver", "/.well-known/resolver"] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_cors(&r);
        let ct = content_type(&r);
        assert!(ct.starts_with("application/json"), "{path}: {ct}");
        let body: Value = r.json().await.expect("JSON");
        assert_valid(SchemaKind::Description, &body);
        assert_eq!(body["resolverRoot"], ROOT, "{path}");
        let keys = body["supportedPrimaryKeys"]
            .as_array()
            .expect("supportedPrimaryKeys");
        assert!(
            keys.iter().any(|k| k == "01" || k == "all"),
            "{path}: {keys:?}"
        );
    }
}

#[tokio::test]
async fn t12_options_and_head() {
    let server = fixture_server().await;
    let r = server
        .send_with(
            Method::OPTIONS,
            "/01/09520123456788",
            &[
                ("origin", "https://ref.gs1.org"),
                ("access-control-request-method", "GET"),
            ],
        )
        .await;
    assert!(
        r.status() == 200 || r.status() == 204,
        "OPTIONS: {}",
        r.status()
    );
    assert_cors(&r);
    let methods = tokens(r.headers(), "access-control-allow-methods");
    for m in ["get", "head", "options"] {
        assert!(methods.contains(&m.to_string()), "{methods:?}");
    }
    assert_head_matches_get(&server, "/01/09520123456788", &[]).await;
}

async fn assert_head_matches_get(server: &TestApp, path: &str, headers: &[(&str, &str)]) {
    let g = server.send_with(Method::GET, path, headers).await;
    let h = server.send_with(Method::HEAD, path, headers).await;
    assert_eq!(h.status(), g.status(), "HEAD status for {path}");
    for name in g.headers().keys() {
        // The request id names each request, so it differs between the two.
        if matches!(name.as_str(), "date" | "content-length" | "x-request-id") {
            continue;
        }
        assert_eq!(
            header(h.headers(), name.as_str()),
            header(g.headers(), name.as_str()),
            "HEAD header {name} for {path}"
        );
    }
    for name in h.headers().keys() {
        assert!(
            g.headers().contains_key(name) || name.as_str() == "content-length",
            "HEAD-only header {name} for {path}"
        );
    }
    let body = h.bytes().await.expect("HEAD body");
    assert!(body.is_empty(), "HEAD body for {path}");
}

#[tokio::test]
async fn t13_unknown_valid_identifier_is_404() {
    let server = fixture_server().await;
    let r = server.resolve("/01/09506000134369").await;
    assert_problem(r, 404).await;
    let r = server.resolve("/01/09506000134369?linkType=linkset").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn t14_compressed_uri() {
    let server = fixture_server().await;
    let target = "https://other.example/products/09528765123457";
    server
        .put_anchor(
            "01/09528765123457",
            json!({"itemDescription": "Other product", "defaultLinkType": "gs1:pip",
                   "links": [{"linkType": "gs1:pip", "href": target, "title": "Product",
                              "type": "text/html", "hreflang": ["en"]}]}),
        )
        .await;
    let r = server.resolve("/eh30164596f40c0e5cbe991a83").await;
    assert_redirect(&r, target);
    assert!(
        !location(&r).starts_with(ROOT),
        "no redirect to the uncompressed URI on this host"
    );
    let link = header(r.headers(), "link");
    assert!(
        link.contains(
            "<https://resolver.example/01/09528765123457/21/123456789123>; rel=\"owl:sameAs\""
        ),
        "owl:sameAs: {link}"
    );
    let r = server.resolve("/EH30164596F40C0E5CBE991A83").await;
    assert_eq!(r.status(), 400);

    // A "+" scheme with AIDC data (DSGTIN+, TDS 2.3 Annex E.3): the expiry date it carries is the uncompressed URI's
    // query, so owl:sameAs names it and the target gets it, as it would from /01/…/21/…?17=220630.
    let target = "https://other.example/products/79521141123453";
    server
        .put_anchor(
            "01/79521141123453",
            json!({"itemDescription": "Dated product", "defaultLinkType": "gs1:pip",
                   "links": [{"linkType": "gs1:pip", "href": target, "title": "Product",
                              "type": "text/html", "hreflang": ["en"]}]}),
        )
        .await;
    let plain = server
        .resolve("/01/79521141123453/21/32a%2Fb?17=220630")
        .await;
    let r = server.resolve("/ehfb342cde795211411234538566cb0afc4").await;
    assert_redirect(&r, &format!("{target}?17=220630"));
    assert_eq!(location(&r), location(&plain));
    let link = header(r.headers(), "link");
    assert!(
        link.contains(
            "<https://resolver.example/01/79521141123453/21/32a%2Fb?17=220630>; rel=\"owl:sameAs\""
        ),
        "owl:sameAs: {link}"
    );
    // the request's own query is forwarded after it, and is not part of the uncompressed URI
    let r = server
        .resolve("/ehfb342cde795211411234538566cb0afc4?x=1")
        .await;
    assert_redirect(&r, &format!("{target}?17=220630&x=1"));
    let link = header(r.headers(), "link");
    assert!(
        link.contains("32a%2Fb?17=220630>; rel=\"owl:sameAs\""),
        "{link}"
    );
}

/// GS1 Digital Link URI compression (URI Syntax 1.1): processed in place like the uncompressed URI, whatever the
/// stem, with the query pairs carried inside the data or left outside it; `owl:sameAs` names the uncompressed URI.
/// The compressed forms are GS1's own test vectors (gs1/digital-link.js).
#[tokio::test]
async fn t14_digital_link_compressed_uris() {
    let server = fixture_server().await;
    let target = "https://books.example/9780345418913";
    server
        .put_anchor(
            "01/09780345418913",
            json!({"itemDescription": "A book", "defaultLinkType": "gs1:pip",
                   "links": [{"linkType": "gs1:pip", "href": target, "title": "Book",
                              "type": "text/html", "hreflang": ["en"]}]}),
        )
        .await;
    let plain = server.resolve("/01/09780345418913/21/43786?foo=bar").await;
    assert_redirect(&plain, &format!("{target}?foo=bar"));
    let same_as = format!("<{ROOT}/01/09780345418913/21/43786>; rel=\"owl:sameAs\"");
    for compressed in [
        "/DBHKVAdpQgqrCvBv0UMG21W",
        "/ARHKVAdpQkIKqwo?foo=bar",
        "/some/other/path/info/DBHKVAdpQgqrCvBv0UMG21W",
    ] {
        let r = server.resolve(compressed).await;
        assert_eq!(r.status(), 307, "{compressed}");
        assert_eq!(location(&r), location(&plain), "{compressed}");
        let link = header(r.headers(), "link");
        assert!(link.contains(&same_as), "{compressed}: {link}");
    }
    // A data attribute inside the data reaches the target as the uncompressed URI's query would, and owl:sameAs
    // names the uncompressed URI with it (a non-AI pair carried, foo=bar above, is no part of it).
    let r = server.resolve("/HxHKVAdpQgZzjr-hCDKigI").await;
    assert_redirect(&r, &format!("{target}?15=120820"));
    let link = header(r.headers(), "link");
    assert!(
        link.contains(&format!(
            "<{ROOT}/01/09780345418913/10/231/21/345345?15=120820>; rel=\"owl:sameAs\""
        )),
        "{link}"
    );
    // Valid but unregistered: 404, not 400.
    assert_eq!(server.resolve("/ARFKk4XB0CDKWcnpq").await.status(), 404);
    // A padding bit set: not a compressed URI, and not a plain one either.
    assert_eq!(
        server.resolve("/DBHKVAdpQgqrCvBv0UMG21X").await.status(),
        400
    );
}

#[tokio::test]
async fn t15_identical_candidates_give_300() {
    let server = fixture_server().await;
    let r = server
        .resolve("/01/09520123456788?linkType=gs1:relatedVideo")
        .await;
    assert_eq!(r.status(), 300);
    assert_cors(&r);
    let ct = content_type(&r);
    assert!(ct.starts_with("application/linkset+json"), "{ct}");
    let body: Value = r.json().await.expect("300 body");
    assert_linkset_valid(&body);
    let mut videos: Vec<String> = contexts(&body)
        .iter()
        .flat_map(|c| hrefs(c, &gs1("relatedVideo")))
        .collect();
    videos.sort();
    assert_eq!(videos, [VIDEO_1, VIDEO_2], "{body}");
    // Without linkType: never 300.
    let r = server.resolve("/01/09520123456788").await;
    assert_redirect(&r, PIP_EN);
}

#[tokio::test]
async fn t16_access_role_filter() {
    let server = fixture_server().await;
    let base = "/01/09520123456788/21/12345?linkType=linkset";
    let accept = [("accept", "application/linkset+json")];
    let everything = linkset(server.send_with(Method::GET, base, &accept).await).await;
    let dte = untp("dte");
    let serial = "https://resolver.example/01/09520123456788/21/12345";
    assert_eq!(
        hrefs(context_for(&everything, serial), &dte),
        [DTE_CUSTOMER, DTE_REGULATOR, DTE_PUBLIC]
    );
    for role in ["untp:accessRole%23Customer", "customer"] {
        let path = format!("{base}&accessRole={role}");
        let body = linkset(server.send_with(Method::GET, &path, &accept).await).await;
        assert_eq!(
            hrefs(context_for(&body, serial), &dte),
            [DTE_CUSTOMER, DTE_PUBLIC],
            "{path}"
        );
        for target in all_targets(&body) {
            if let Some(roles) = target.get("accessRole") {
                assert!(
                    roles
                        .as_array()
                        .expect("accessRole array")
                        .iter()
                        .any(|r| r == CUSTOMER),
                    "{path}: {target}"
                );
            }
        }
        // Public links at other levels stay.
        let product = "https://resolver.example/01/09520123456788";
        assert_eq!(
            hrefs(context_for(&body, product), &gs1("pip")),
            [PIP_EN, PIP_DE]
        );
        assert_eq!(
            hrefs(context_for(&body, serial), &untp("dpp")),
            [DPP_SERIAL]
        );
    }
}

#[tokio::test]
async fn t17_gtin13_lenient() {
    let server = fixture_server().await;
    let r = server.resolve("/01/9520123456788").await;
    assert_redirect(&r, PIP_EN);
    let link = header(r.headers(), "link");
    assert!(
        link.contains("<https://resolver.example/01/09520123456788>; rel=\"owl:sameAs\""),
        "owl:sameAs: {link}"
    );
    assert!(
        link.contains("<https://resolver.example/01/09520123456788?linkType=linkset>"),
        "linkset: {link}"
    );
    let body = linkset(server.resolve("/01/9520123456788?linkType=linkset").await).await;
    assert_eq!(
        anchors(&body),
        ["https://resolver.example/01/09520123456788"]
    );
}

// ---------------------------------------------------------------------------------------------
// Walk-up, level order, HEAD, 405, origin

#[tokio::test]
async fn walk_up_serial_outranks_batch() {
    let server = fixture_server().await;
    let cases = [
        ("/01/09520123456788/10/ABC/21/12345", DPP_SERIAL),
        ("/01/09520123456788/21/12345", DPP_SERIAL),
        ("/01/09520123456788/10/ABC", DPP_BATCH),
        // Serial not registered: the batch level answers.
        ("/01/09520123456788/10/ABC/21/99999", DPP_BATCH),
    ];
    for (path, expected) in cases {
        let r = server.resolve(&format!("{path}?linkType=untp:dpp")).await;
        assert_redirect(&r, &format!("{expected}?linkType=untp:dpp"));
    }
    // Serial without a batch registration and without dpp anywhere up the tree.
    let r = server
        .resolve("/01/09520123456788/10/XYZ/21/99999?linkType=untp:dpp")
        .await;
    assert_eq!(r.status(), 404);
    // A type only at the GTIN level is found from the serial level; no linkType → inherited default.
    let r = server
        .resolve("/01/09520123456788/10/ABC/21/12345?linkType=gs1:pip")
        .await;
    assert_redirect(&r, &format!("{PIP_EN}?linkType=gs1:pip"));
    let r = server.resolve("/01/09520123456788/10/ABC/21/12345").await;
    assert_redirect(&r, PIP_EN);
    // The Link header points at the requested URI's own linkset.
    let link = header(r.headers(), "link");
    assert!(
        link.contains(
            "<https://resolver.example/01/09520123456788/10/ABC/21/12345?linkType=linkset>; \
             rel=\"linkset\""
        ),
        "{link}"
    );
}

#[tokio::test]
async fn linkset_levels_and_anchors() {
    let server = fixture_server().await;
    let product = "https://resolver.example/01/09520123456788";
    let batch = "https://resolver.example/01/09520123456788/10/ABC";
    let serial = "https://resolver.example/01/09520123456788/21/12345";
    let cases: [(&str, Vec<&str>); 4] = [
        ("/01/09520123456788", vec![product]),
        ("/01/09520123456788/10/ABC", vec![batch, product]),
        ("/01/09520123456788/10/KL8G", vec![product]),
        ("/01/09520123456788/21/12345", vec![serial, product]),
    ];
    for (path, expected) in cases {
        let body = linkset(server.resolve(&format!("{path}?linkType=linkset")).await).await;
        assert_eq!(anchors(&body), expected, "{path}");
        assert_context_shape(&body, product, PIP_EN);
        assert_eq!(
            context_for(&body, product)["itemDescription"],
            "Battery pack model X"
        );
    }
    let body = linkset(server.resolve("/01/09520123456788?linkType=linkset").await).await;
    assert_valid(SchemaKind::Gs1Linkset, &body);
    let link_types: Vec<&String> = contexts(&body)[0]
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| k.starts_with("http"))
        .collect();
    for key in link_types {
        assert!(key.starts_with(GS1_VOC), "GS1 relation URI: {key}");
    }
}

#[tokio::test]
async fn head_equals_get_without_body() {
    let server = fixture_server().await;
    assert_head_matches_get(&server, "/01/09520123456788?linkType=gs1:pip", &[]).await;
    assert_head_matches_get(&server, "/01/09520123456788?linkType=linkset", &[]).await;
    assert_head_matches_get(
        &server,
        "/01/09520123456788/10/ABC",
        &[("accept", "application/linkset+json")],
    )
    .await;
    assert_head_matches_get(&server, "/01/09506000134369", &[]).await;
    assert_head_matches_get(&server, "/01/09520123456788?linkType=gs1:nosuchlt", &[]).await;
}

#[tokio::test]
async fn post_on_resolution_path_is_405() {
    let server = fixture_server().await;
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let r = server
            .send_with(method.clone(), "/01/09520123456788", &[])
            .await;
        assert_eq!(r.status(), 405, "{method}");
        assert_cors(&r);
        let allow = tokens(r.headers(), "allow");
        for m in ["get", "head", "options"] {
            assert!(allow.contains(&m.to_string()), "{method}: Allow {allow:?}");
        }
    }
    // Nothing changed.
    assert_redirect(&server.resolve("/01/09520123456788").await, PIP_EN);
}

#[tokio::test]
async fn origin_from_forwarded_headers_or_host() {
    let server = TestApp::start().await;
    register_fixture(&server).await;
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "id.example.org"),
    ];
    let r = server
        .send_with(Method::GET, "/01/09520123456788", &forwarded)
        .await;
    assert_redirect(&r, PIP_EN);
    let link = header(r.headers(), "link");
    assert!(
        link.contains(
            "<https://id.example.org/01/09520123456788?linkType=linkset>; rel=\"linkset\""
        ),
        "{link}"
    );
    assert!(
        link.contains("<https://id.example.org/01/09520123456788>; rel=\"owl:sameAs\""),
        "{link}"
    );
    let body = linkset(
        server
            .send_with(
                Method::GET,
                "/01/09520123456788?linkType=linkset",
                &forwarded,
            )
            .await,
    )
    .await;
    assert_eq!(anchors(&body), ["https://id.example.org/01/09520123456788"]);
    // No forwarding headers: http://{Host}.
    let r = server.resolve("/01/09520123456788").await;
    let link = header(r.headers(), "link");
    let own = format!("<{}/01/09520123456788>; rel=\"owl:sameAs\"", server.base);
    assert!(link.contains(&own), "{link}");
    let body = linkset(server.resolve("/01/09520123456788?linkType=linkset").await).await;
    assert_eq!(
        anchors(&body),
        [format!("{}/01/09520123456788", server.base)]
    );
    // A configured root wins over forwarding headers.
    let configured = fixture_server().await;
    let r = configured
        .send_with(Method::GET, "/01/09520123456788", &forwarded)
        .await;
    let link = header(r.headers(), "link");
    assert!(
        link.contains("<https://resolver.example/01/09520123456788>; rel=\"owl:sameAs\""),
        "{link}"
    );
    assert!(!link.contains("id.example.org"), "{link}");
}

/// Conformance row 47 (GS1-REV 2.10, RECOMMENDED): a linkset asked for with `Accept: application/json` is the same
/// JSON as with `application/linkset+json`.
#[tokio::test]
async fn a_linkset_asked_for_as_application_json_is_the_same_json() {
    let server = fixture_server().await;
    let path = format!("/01/{GTIN}?linkType=linkset");
    let linkset = server.linkset(&path).await;
    assert_eq!(linkset.status(), 200);
    let as_json = server
        .get_with(&path, &[("accept", "application/json")])
        .await;
    assert_eq!(as_json.status(), 200);
    assert!(
        content_type(&as_json).contains("json"),
        "{}",
        content_type(&as_json)
    );
    let (a, b): (Value, Value) = (linkset.json().await.unwrap(), as_json.json().await.unwrap());
    assert!(a["linkset"].is_array(), "{a}");
    assert_eq!(a, b);
}

/// Conformance rows 4–5 (GS1-REV "CORS exposes Link"; REC): a public answer exposes `Link` and `Location` to
/// scripts, and a preflight allows the headers a client sends.
#[tokio::test]
async fn cors_exposes_link_and_location_and_preflights_allow_the_request_headers() {
    let server = fixture_server().await;
    let origin = [("origin", "https://app.example")];
    let r = server.get_with(&format!("/01/{GTIN}"), &origin).await;
    assert_eq!(r.status(), 307);
    let exposed = header(r.headers(), "access-control-expose-headers");
    for name in ["Link", "Location"] {
        assert!(exposed.split(", ").any(|h| h == name), "{name}: {exposed}");
    }
    let r = server
        .send_with(
            reqwest::Method::OPTIONS,
            &format!("/01/{GTIN}"),
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "accept, accept-language"),
            ],
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let allowed = header(r.headers(), "access-control-allow-headers").to_ascii_lowercase();
    for name in ["accept", "accept-language"] {
        assert!(allowed.split(", ").any(|h| h == name), "{name}: {allowed}");
    }
    assert_eq!(header(r.headers(), "access-control-allow-origin"), "*");
}

/// Conformance row 97 (UNTP-DAC: data MUST NOT be indexable; robots.txt disallow REC): `/robots.txt` disallows all
/// crawling, and only reads.
#[tokio::test]
async fn robots_txt_disallows_crawling() {
    let server = fixture_server().await;
    let r = server.resolve("/robots.txt").await;
    assert_eq!(r.status(), 200);
    assert!(
        content_type(&r).starts_with("text/plain"),
        "{}",
        content_type(&r)
    );
    let text = r.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["User-agent: *", "Disallow: /"]);
    let r = client()
        .post(server.url("/robots.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

/// Conformance row 14: a known namespace with an unknown key type is a 400; so is a first segment that is no
/// namespace, which is read as a GS1 Digital Link path (documented there as a deviation from the 404 Pyx gives).
#[tokio::test]
async fn unknown_key_types_and_namespaces_are_400() {
    let server = fixture_server().await;
    for path in ["/abr/xyz/123", "/nosuchnamespace/k/1"] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(content_type(&r), "application/problem+json", "{path}");
    }
}

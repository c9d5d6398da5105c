//! The Pyx-compatible API, played exactly as the UNTP reference implementation's Pyx adapter calls it
//! (`pyx-idr.adapter.ts`: registerSchemes, publishLinks, getLinkById, updateLink, deleteLink,
//! getResolverDescription, getLinkTypes), over real HTTP against the real binary.

use crate::support;
use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::server::Server;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const API: &str = "/api/2.0.0";

async fn call(
    server: &impl Api,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, server.url(path))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The adapter's publishLinks body for one link (its default flags off, context "au", language "en").
fn publish_body(
    namespace: &str,
    key_type: &str,
    key: &str,
    qualifier_path: &str,
    href: &str,
    default: bool,
) -> Value {
    json!({
        "namespace": namespace, "identificationKeyType": key_type, "identificationKey": key,
        "itemDescription": "", "qualifierPath": qualifier_path, "active": true,
        "responses": [{"linkType": "untp:dpp", "ianaLanguage": "en", "context": "au", "mimeType": "application/json",
                       "linkTitle": "Digital Product Passport", "targetUrl": href, "defaultLinkType": default,
                       "defaultMimeType": false, "defaultIanaLanguage": false, "defaultContext": false, "fwqs": false}]
    })
}

async fn location(server: &impl Api, path: &str) -> (u16, String) {
    let r = server.resolve(path).await;
    (r.status().as_u16(), support::client::location(&r))
}

#[tokio::test]
async fn the_adapter_call_sequence_works_end_to_end() {
    // A subprocess: it ends with a crash and a restart.
    let mut server = Server::start().await;
    use reqwest::Method;

    // registerSchemes: a GS1 scheme (kept native) and a custom one.
    let gs1 = json!({"namespace": "gs1", "applicationIdentifiers": [
        {"title": "GTIN", "label": "GTIN", "shortcode": "gtin", "ai": "01", "type": "I", "regex": "\\d{14}", "qualifiers": ["10"]},
        {"title": "Batch", "label": "Batch", "shortcode": "lot", "ai": "10", "type": "Q", "regex": ".*"}]});
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("{API}/identifiers"),
        ADMIN_TOKEN,
        Some(gs1),
    )
    .await;
    assert!(matches!(status, 200 | 201));
    let acme = json!({"namespace": "acme", "applicationIdentifiers": [
        {"title": "Product", "label": "Product", "shortcode": "product", "ai": "p", "type": "I", "regex": "[0-9]{5}", "qualifiers": ["ser"]},
        {"title": "Serial", "label": "Serial", "shortcode": "ser", "ai": "s", "type": "Q", "regex": "[A-Z0-9]{1,10}"}]});
    let (status, body) = call(
        &server,
        Method::POST,
        &format!("{API}/identifiers"),
        ADMIN_TOKEN,
        Some(acme),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // publishLinks for a GTIN and for a qualifier path.
    let (status, gtin) = call(
        &server,
        Method::POST,
        &format!("{API}/resolver"),
        ADMIN_TOKEN,
        Some(publish_body(
            "gs1",
            "gtin",
            "09520123456788",
            "/",
            "https://cred.example/dpp-v1.json",
            true,
        )),
    )
    .await;
    assert_eq!(status, 201, "{gtin}");
    assert_eq!(
        gtin["resolverUri"],
        server.url("/01/09520123456788"),
        "GS1 keys at the root form"
    );
    let link_id = gtin["linkResponses"][0]["linkId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(gtin["linkResponses"].as_array().unwrap().len(), 1);
    let (status, batch) = call(
        &server,
        Method::POST,
        &format!("{API}/resolver"),
        ADMIN_TOKEN,
        Some(publish_body(
            "gs1",
            "01",
            "09520123456788",
            "/10/ABC",
            "https://cred.example/batch.json",
            false,
        )),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        batch["resolverUri"],
        server.url("/01/09520123456788/10/ABC")
    );

    // The resolverUri resolves, with walk-up and our normal semantics, and so does the namespace form.
    assert_eq!(
        location(&server, "/01/09520123456788").await,
        (307, "https://cred.example/dpp-v1.json".into())
    );
    assert_eq!(
        location(&server, "/gs1/01/09520123456788/21/999").await.1,
        "https://cred.example/dpp-v1.json"
    );
    assert_eq!(
        location(&server, "/01/09520123456788/10/ABC").await.1,
        "https://cred.example/batch.json"
    );

    // Publishing the same variant again does not duplicate it; the link ID is stable.
    let (_, again) = call(
        &server,
        Method::POST,
        &format!("{API}/resolver"),
        ADMIN_TOKEN,
        Some(publish_body(
            "gs1",
            "gtin",
            "09520123456788",
            "/",
            "https://cred.example/dpp-v1.json",
            true,
        )),
    )
    .await;
    assert_eq!(again["linkResponses"][0]["linkId"], link_id);
    let (_, record) = call(
        &server,
        Method::GET,
        "/api/v1/anchors/01/09520123456788",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(record["links"].as_array().unwrap().len(), 1, "{record}");

    // getLinkById: the fields the adapter reads.
    let (status, link) = call(
        &server,
        Method::GET,
        &format!("{API}/resolver/links/{link_id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(link["targetUrl"], "https://cred.example/dpp-v1.json");
    assert_eq!(link["linkType"], "untp:dpp");
    assert_eq!(link["mimeType"], "application/json");
    assert_eq!(link["linkTitle"], "Digital Product Passport");
    assert_eq!(link["ianaLanguage"], "en");

    // updateLink: a new target keeps the old one as a predecessor version.
    let update = json!({"targetUrl": "https://cred.example/dpp-v2.json", "linkTitle": "DPP v2"});
    let (status, updated) = call(
        &server,
        Method::PUT,
        &format!("{API}/resolver/links/{link_id}"),
        ADMIN_TOKEN,
        Some(update),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["targetUrl"], "https://cred.example/dpp-v2.json");
    assert_eq!(updated["linkTitle"], "DPP v2");
    assert_eq!(updated["linkId"], link_id, "same variant, same ID");
    assert_eq!(
        location(&server, "/01/09520123456788").await.1,
        "https://cred.example/dpp-v2.json"
    );
    let linkset: Value = client()
        .get(server.url("/01/09520123456788?linkType=linkset"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dpp = linkset["linkset"][0]["https://test.uncefact.org/vocabulary/linkTypes/dpp"]
        .as_array()
        .unwrap();
    assert_eq!(dpp[1]["href"], "https://cred.example/dpp-v1.json");
    assert_eq!(dpp[1]["rel"], json!(["predecessor-version"]));

    // getLinkTypes and getResolverDescription.
    let (status, types) = call(
        &server,
        Method::GET,
        &format!("{API}/voc?show=linktypes"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200);
    for t in ["dpp", "dcc", "dte", "idr"] {
        assert!(
            types
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["namespace"] == "untp" && x["type"] == t && x["title"].is_string()),
            "untp:{t}"
        );
    }
    let description: Value = client()
        .get(server.url("/.well-known/resolver"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!description["name"].as_str().unwrap().is_empty());
    assert!(
        description["supportedLinkTypes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["type"] == "dpp")
    );
    assert!(
        description["supportedLinkType"].is_array(),
        "the existing fields stay"
    );

    // deleteLink: 2xx, then 404.
    let (status, _) = call(
        &server,
        Method::DELETE,
        &format!("{API}/resolver/links/{link_id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert!((200..300).contains(&status));
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("{API}/resolver/links/{link_id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // A custom namespace: registered at run time, resolvable, and stored durably.
    let (status, product) = call(
        &server,
        Method::POST,
        &format!("{API}/resolver"),
        ADMIN_TOKEN,
        Some(publish_body(
            "acme",
            "product",
            "12345",
            "/ser/A1",
            "https://acme.example/dpp/A1",
            true,
        )),
    )
    .await;
    assert_eq!(status, 201, "{product}");
    assert_eq!(product["resolverUri"], server.url("/acme/p/12345/s/A1"));
    assert_eq!(
        location(&server, "/acme/product/12345/ser/A1").await.1,
        "https://acme.example/dpp/A1"
    );
    assert_eq!(
        location(&server, "/acme/p/123456").await.0,
        400,
        "anchored pattern: six digits do not match"
    );
    server.crash_and_restart().await;
    assert_eq!(
        location(&server, "/acme/p/12345/s/A1").await.1,
        "https://acme.example/dpp/A1"
    );
}

#[tokio::test]
async fn version_4_field_names_are_accepted() {
    let server = TestApp::start().await;
    let body = json!({"namespace": "gs1", "identificationKeyType": "01", "identificationKey": "09520123456788",
        "itemDescription": "Battery", "qualifierPath": "/21/12345", "active": true,
        "responses": [{"linkType": "gs1:pip", "hreflang": ["de"], "context": "au", "mimeType": "text/html",
                       "title": "Produktseite", "targetUrl": "https://brand.example/de", "defaultLinkType": true}]});
    let (status, answer) = call(
        &server,
        reqwest::Method::POST,
        "/api/4.0.0/resolver",
        ADMIN_TOKEN,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let id = answer["linkResponses"][0]["linkId"].as_str().unwrap();
    let (_, link) = call(
        &server,
        reqwest::Method::GET,
        &format!("/api/4.0.0/resolver/links/{id}"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(link["title"], "Produktseite");
    assert_eq!(link["hreflang"], json!(["de"]));
    let (status, _) = call(
        &server,
        reqwest::Method::GET,
        "/api/3.0.0/voc",
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 404, "only the versions we speak");
}

#[tokio::test]
async fn errors_are_problems_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    let digest: String = Sha256::digest(b"brand-key")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        &config,
        format!("[[keys]]\nname = \"brand\"\nsha256 = \"{digest}\"\nscopes = [\"01/0952012*\"]\n"),
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    use reqwest::Method;
    let resolver = format!("{API}/resolver");
    let ok_body = publish_body(
        "gs1",
        "01",
        "09520123456788",
        "/",
        "https://a.example/x",
        true,
    );

    let (status, problem) = call(
        &server,
        Method::POST,
        &resolver,
        "wrong-key",
        Some(ok_body.clone()),
    )
    .await;
    assert_eq!(status, 401, "{problem}");
    let other_company = publish_body(
        "gs1",
        "01",
        "09506000134369",
        "/",
        "https://a.example/y",
        true,
    );
    let (status, problem) = call(
        &server,
        Method::POST,
        &resolver,
        "brand-key",
        Some(other_company),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        problem["detail"].as_str().unwrap().contains("01/0952012*"),
        "{problem}"
    );
    assert_eq!(
        call(&server, Method::POST, &resolver, "brand-key", Some(ok_body))
            .await
            .0,
        201
    );

    let (status, _) = call(
        &server,
        Method::GET,
        &format!("{API}/resolver/links/nonsense"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        Method::GET,
        &format!("{API}/resolver/links/MDEvMDk1MjAxMjM0NTY3ODg.0000000000000000"),
        ADMIN_TOKEN,
        None,
    )
    .await;
    assert_eq!(
        status, 404,
        "a well-formed ID for a link that does not exist"
    );

    let mut malformed = publish_body(
        "gs1",
        "01",
        "09520123456788",
        "/",
        "https://a.example/x",
        true,
    );
    malformed["responses"][0]["targetUrl"] = json!(42);
    let (status, problem) = call(
        &server,
        Method::POST,
        &resolver,
        ADMIN_TOKEN,
        Some(malformed),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        problem["errors"][0]["field"], "responses[0].targetUrl",
        "{problem}"
    );
    let not_json = client()
        .post(server.url(&resolver))
        .bearer_auth(ADMIN_TOKEN)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);

    let unknown_ns = publish_body("nowhere", "x", "1", "/", "https://a.example/x", true);
    let (status, problem) = call(
        &server,
        Method::POST,
        &resolver,
        ADMIN_TOKEN,
        Some(unknown_ns),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["errors"][0]["field"], "namespace", "{problem}");

    let bad_regex = json!({"namespace": "acme", "applicationIdentifiers": [
        {"title": "P", "shortcode": "p", "type": "I", "regex": "([0-9]"}]});
    let (status, problem) = call(
        &server,
        Method::POST,
        &format!("{API}/identifiers"),
        ADMIN_TOKEN,
        Some(bad_regex),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        problem["errors"][0]["field"], "applicationIdentifiers[0].regex",
        "{problem}"
    );
    let file_scheme = json!({"namespace": "abr", "applicationIdentifiers": [{"shortcode": "abn", "type": "I", "regex": "\\d{11}"}]});
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("{API}/identifiers"),
        ADMIN_TOKEN,
        Some(file_scheme),
    )
    .await;
    assert_eq!(
        status, 400,
        "a namespace defined by a scheme file is not replaced through the API"
    );
    let (status, _) = call(&server, Method::POST, &format!("{API}/identifiers"), "brand-key",
        Some(json!({"namespace": "brandns", "applicationIdentifiers": [{"shortcode": "p", "type": "I", "regex": "1"}]}))).await;
    assert_eq!(
        status, 403,
        "registering a scheme needs a scope over its namespace"
    );
}

/// A namespace registered through the API cannot capture GS1 URIs: one spelled like a compressed Digital Link
/// segment, or the custom stem of the resolver root's path, is refused with `409` naming `namespace`, and those URIs
/// keep resolving as GS1. Other namespaces register as before.
#[tokio::test]
async fn namespaces_that_would_shadow_gs1_uris_are_refused_with_409() {
    let server =
        TestApp::start_with(&["--no-demo", "--resolver-root", "https://id.example.com/dl"]).await;
    let body = json!({"itemDescription": "x", "links": [
        {"linkType": "gs1:pip", "href": "https://a.example/p", "title": "p"}]});
    server.put_anchor("01/09528765123457", body.clone()).await;
    server.put_anchor("01/09520123456788", body.clone()).await;
    server.put_anchor("00/095201234567891235", body).await;
    for namespace in [
        "exMBZFlvQMDly-mRqD",
        "EH30164596f40c0e5cbe991a83",
        // SSCC+ (TDS 2.3 Annex E.3), 84 bits: shorter than the TDS 1.x schemes
        "ehF90095201234567891235",
        "dl",
        "DL",
    ] {
        let scheme = json!({"namespace": namespace, "applicationIdentifiers": [
            {"shortcode": "p", "type": "I", "regex": "[0-9]+"}]});
        let (status, problem) = call(
            &server,
            reqwest::Method::POST,
            &format!("{API}/identifiers"),
            ADMIN_TOKEN,
            Some(scheme),
        )
        .await;
        assert_eq!(status, 409, "{namespace}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "namespace", "{problem}");
        assert_eq!(problem["status"], 409);
    }
    // Still GS1: a compressed URI (decompressed, walking up to the GTIN) and a URI under the root's stem.
    for path in [
        "/exMBZFlvQMDly-mRqD",
        "/eh30164596f40c0e5cbe991a83",
        "/ehf90095201234567891235",
        "/dl/01/09520123456788",
    ] {
        let r = client().get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 307, "{path}");
        assert_eq!(r.headers()["location"], "https://a.example/p", "{path}");
    }
    let fine = json!({"namespace": "brand", "applicationIdentifiers": [
        {"shortcode": "p", "type": "I", "regex": "[0-9]+"}]});
    let (status, answer) = call(
        &server,
        reqwest::Method::POST,
        &format!("{API}/identifiers"),
        ADMIN_TOKEN,
        Some(fine),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}

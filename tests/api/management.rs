//! Black-box tests of the management API `/api/v1/anchors/{identifier}`: create, replace, read, delete,
//! preconditions, authentication and scopes, and rejected writes (which must leave nothing behind).

use crate::support;
use crate::support::client::client;
use crate::support::client::{Api, anchor_path, problem};

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use std::io::Write;
use std::process::Stdio;

const ROOT: &str = "https://resolver.example";
const GTIN: &str = "01/09520123456788";
const OTHER: &str = "01/09506000134369";
const PIP_EN: &str = "https://brand.example/products/09520123456788";

fn anchor_url(server: &TestApp, identifier: &str) -> String {
    server.url(&anchor_path(identifier))
}

fn api(server: &TestApp, method: Method, identifier: &str) -> RequestBuilder {
    server.admin(method, &anchor_path(identifier))
}

fn product(description: &str, href: &str) -> Value {
    json!({
        "itemDescription": description,
        "defaultLinkType": "gs1:pip",
        "links": [{"linkType": "gs1:pip", "href": href, "title": "Product information",
                   "type": "text/html", "hreflang": ["en"]}]
    })
}

async fn put(server: &TestApp, identifier: &str, body: &Value) -> Response {
    api(server, Method::PUT, identifier)
        .json(body)
        .send()
        .await
        .expect("PUT")
}

async fn put_raw(server: &TestApp, identifier: &str, body: &str) -> Response {
    api(server, Method::PUT, identifier)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("PUT")
}

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ASCII header"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn json_body(r: Response, status: u16) -> Value {
    let url = r.url().clone();
    let actual = r.status();
    let ct = header(&r, "content-type");
    let text = r.text().await.expect("body");
    assert_eq!(actual, status, "{url}: {text}");
    assert!(ct.starts_with("application/json"), "{url}: {ct}");
    serde_json::from_str(&text).expect("JSON body")
}

/// The `field`s named in a problem's `errors`.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors array in {problem}"))
        .iter()
        .map(|e| {
            assert!(e["message"].is_string(), "message in {e}");
            e["field"].as_str().expect("field").to_string()
        })
        .collect()
}

async fn assert_rejected(r: Response, status: u16, field: &str) -> Value {
    let body = problem(r, status).await;
    let named = fields(&body);
    assert!(
        named.iter().any(|f| f == field),
        "expected field {field} in {named:?}: {body}"
    );
    body
}

/// Nothing stored for `identifier`: the API says 404 and resolution says 404.
async fn assert_absent(server: &TestApp, identifier: &str) {
    problem(server.get_anchor(identifier).await, 404).await;
    let r = client()
        .get(server.url(&format!("/{identifier}")))
        .send()
        .await
        .expect("resolve");
    assert_eq!(r.status(), 404, "resolution of {identifier}");
}

/// The stored anchor is still at `version` with description `description`.
async fn assert_unchanged(server: &TestApp, identifier: &str, version: u64, description: &str) {
    let r = server.get_anchor(identifier).await;
    assert_eq!(header(&r, "etag"), format!("\"{version}\""));
    let body = json_body(r, 200).await;
    assert_eq!(body["version"], version, "{body}");
    assert_eq!(body["itemDescription"], description, "{body}");
}

async fn start() -> TestApp {
    TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await
}

// ---------------------------------------------------------------------------------------------
// Success paths

#[tokio::test]
async fn create_replace_get_delete() {
    let server = start().await;
    let r = put(&server, GTIN, &product("Pack", PIP_EN)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "etag"), "\"1\"");
    let loc = header(&r, "location");
    assert!(
        loc.ends_with("/api/v1/anchors/01/09520123456788"),
        "Location {loc}"
    );
    let body = json_body(r, 201).await;
    assert_eq!(body["identifier"], GTIN);
    assert_eq!(body["anchor"], "https://resolver.example/01/09520123456788");
    assert_eq!(body["version"], 1);
    assert_eq!(body["itemDescription"], "Pack");
    assert!(
        body["defaultLinkType"]
            .as_str()
            .is_some_and(|t| t.ends_with("pip")),
        "{body}"
    );
    assert_eq!(body["links"][0]["href"], PIP_EN, "{body}");
    assert!(body.get("warnings").is_none(), "{body}");

    let r = server.get_anchor(GTIN).await;
    assert_eq!(header(&r, "etag"), "\"1\"");
    let got = json_body(r, 200).await;
    assert_eq!(got, body);

    // Resolution sees it.
    let r = client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, "location"), PIP_EN);

    // Replace: 200, version 2, no Location.
    let new_href = "https://brand.example/v2/09520123456788";
    let r = put(&server, GTIN, &product("Pack v2", new_href)).await;
    assert_eq!(header(&r, "etag"), "\"2\"");
    assert!(r.headers().get("location").is_none());
    let body = json_body(r, 200).await;
    assert_eq!(body["version"], 2);
    assert_eq!(body["itemDescription"], "Pack v2");
    let r = client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "location"), new_href);

    // Delete: 204, then 404 everywhere; a second delete is 404.
    let r = api(&server, Method::DELETE, GTIN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_absent(&server, GTIN).await;
    let r = api(&server, Method::DELETE, GTIN).send().await.unwrap();
    problem(r, 404).await;
}

#[tokio::test]
async fn get_unknown_is_404() {
    let server = start().await;
    problem(server.get_anchor(OTHER).await, 404).await;
}

#[tokio::test]
async fn if_match_and_if_none_match() {
    let server = start().await;
    // If-None-Match: * on a new identifier creates it.
    let r = api(&server, Method::PUT, GTIN)
        .header("if-none-match", "*")
        .json(&product("Pack", PIP_EN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // ...and on an existing one is refused.
    let r = api(&server, Method::PUT, GTIN)
        .header("if-none-match", "*")
        .json(&product("Clobbered", PIP_EN))
        .send()
        .await
        .unwrap();
    problem(r, 412).await;
    assert_unchanged(&server, GTIN, 1, "Pack").await;
    // If-Match with the current version succeeds; a stale one is refused.
    let r = api(&server, Method::PUT, GTIN)
        .header("if-match", "\"1\"")
        .json(&product("Pack v2", PIP_EN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "etag"), "\"2\"");
    let r = api(&server, Method::PUT, GTIN)
        .header("if-match", "\"1\"")
        .json(&product("Stale", PIP_EN))
        .send()
        .await
        .unwrap();
    problem(r, 412).await;
    assert_unchanged(&server, GTIN, 2, "Pack v2").await;
    // If-Match on an identifier that does not exist creates nothing.
    let r = api(&server, Method::PUT, OTHER)
        .header("if-match", "\"1\"")
        .json(&product("Ghost", PIP_EN))
        .send()
        .await
        .unwrap();
    problem(r, 412).await;
    assert_absent(&server, OTHER).await;
    // DELETE honours If-Match too.
    let r = api(&server, Method::DELETE, GTIN)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(r, 412).await;
    assert_unchanged(&server, GTIN, 2, "Pack v2").await;
}

#[tokio::test]
async fn concurrent_if_match_writers() {
    let server = start().await;
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let request = api(&server, Method::PUT, GTIN)
            .header("if-match", "\"1\"")
            .json(&product(&format!("Writer {i}"), PIP_EN));
        tasks.push(tokio::spawn(async move {
            let r = request.send().await.expect("PUT");
            let status = r.status().as_u16();
            let ct = header(&r, "content-type");
            (i, status, ct)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, status, ct) = task.await.expect("task");
        match status {
            200 => winners.push(i),
            412 => assert!(ct.starts_with("application/problem+json"), "{ct}"),
            other => panic!("writer {i}: unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_unchanged(&server, GTIN, 2, &format!("Writer {}", winners[0])).await;
}

// ---------------------------------------------------------------------------------------------
// Authentication and scopes

#[tokio::test]
async fn missing_or_unknown_token_is_401() {
    let server = start().await;
    let body = product("Pack", PIP_EN);
    let anonymous = client()
        .put(anchor_url(&server, GTIN))
        .json(&body)
        .send()
        .await
        .unwrap();
    let unknown = client()
        .put(anchor_url(&server, GTIN))
        .bearer_auth("not-a-known-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    let basic = client()
        .put(anchor_url(&server, GTIN))
        .header("authorization", format!("Basic {ADMIN_TOKEN}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    for r in [anonymous, unknown, basic] {
        let challenge = header(&r, "www-authenticate");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        problem(r, 401).await;
    }
    let r = client()
        .get(anchor_url(&server, GTIN))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    assert_absent(&server, GTIN).await;
}

fn hash_secret(secret: &str) -> String {
    let mut child = crate::support::server::command()
        .arg("hash-secret")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("idr hash-secret");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{secret}\n").as_bytes())
        .expect("write secret");
    let output = child.wait_with_output().expect("hash-secret output");
    assert!(output.status.success());
    let hex = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .trim()
        .to_string();
    assert_eq!(hex.len(), 64, "{hex}");
    hex
}

#[tokio::test]
async fn scoped_key_outside_scope_is_403() {
    let secret = "acme-secret-4711";
    let config = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("config file");
    std::fs::write(
        config.path(),
        format!(
            "[[keys]]\nname = \"acme\"\nsha256 = \"{}\"\nscopes = [\"01/0952012*\"]\n",
            hash_secret(secret)
        ),
    )
    .expect("write config");
    let config_path = config.path().to_str().expect("UTF-8 path").to_string();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--config",
        &config_path,
    ])
    .await;
    let as_acme = |method: Method, identifier: &str| {
        client()
            .request(method, anchor_url(&server, identifier))
            .bearer_auth(secret)
    };
    // In scope.
    let r = as_acme(Method::PUT, GTIN)
        .json(&product("Pack", PIP_EN))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = as_acme(Method::GET, GTIN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Out of scope: 403 for every method, nothing written.
    let r = as_acme(Method::PUT, OTHER)
        .json(&product("Other", "https://other.example/p"))
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    assert_absent(&server, OTHER).await;
    put(&server, OTHER, &product("Other", "https://other.example/p")).await;
    let r = as_acme(Method::DELETE, OTHER).send().await.unwrap();
    problem(r, 403).await;
    let r = as_acme(Method::GET, OTHER).send().await.unwrap();
    problem(r, 403).await;
    assert_unchanged(&server, OTHER, 1, "Other").await;
    // A wrong secret is still 401, not 403.
    let r = client()
        .get(anchor_url(&server, OTHER))
        .bearer_auth("acme-secret-4712")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
}

// ---------------------------------------------------------------------------------------------
// Rejected writes

#[tokio::test]
async fn bad_identifier_is_400() {
    let server = start().await;
    for identifier in [
        "01/09520123456787",
        "01/09520123456788/99/ABC",
        "01/09520123456788/21/S1/10/L1",
        "9999/123",
    ] {
        let r = put(&server, identifier, &product("Pack", PIP_EN)).await;
        assert_rejected(r, 400, "identifier").await;
    }
    problem(server.get_anchor("01/09520123456787").await, 400).await;
}

#[tokio::test]
async fn malformed_json_and_unknown_fields_are_400() {
    let server = start().await;
    let r = put_raw(&server, GTIN, "{\"itemDescription\": \"Pack\", ").await;
    let body = problem(r, 400).await;
    assert!(!fields(&body).is_empty(), "{body}");
    let r = put_raw(&server, GTIN, "").await;
    problem(r, 400).await;

    let mut unknown_top = product("Pack", PIP_EN);
    unknown_top["colour"] = json!("red");
    let r = put(&server, GTIN, &unknown_top).await;
    let body = problem(r, 400).await;
    assert!(fields(&body).iter().any(|f| f.contains("colour")), "{body}");

    let mut unknown_link = product("Pack", PIP_EN);
    unknown_link["links"][0]["colour"] = json!("red");
    let r = put(&server, GTIN, &unknown_link).await;
    assert_rejected(r, 400, "links[0].colour").await;

    let mut wrong_type = product("Pack", PIP_EN);
    wrong_type["links"][0]["title"] = json!(42);
    let r = put(&server, GTIN, &wrong_type).await;
    assert_rejected(r, 400, "links[0].title").await;

    assert_absent(&server, GTIN).await;
}

#[tokio::test]
async fn invalid_link_data_is_422() {
    let server = start().await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"itemDescription": "Pack", "links": [
                {"linkType": "gs1:pip", "href": "not a url", "title": "P"}]}),
            "links[0].href",
        ),
        (
            json!({"itemDescription": "Pack", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"},
                {"linkType": "gs1:pip", "href": "/relative/path", "title": "Q"}]}),
            "links[1].href",
        ),
        (
            json!({"itemDescription": "Pack", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": ""}]}),
            "links[0].title",
        ),
        (
            json!({"itemDescription": "Pack", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": "P", "type": "texthtml"}]}),
            "links[0].type",
        ),
        (
            json!({"itemDescription": "Pack", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"},
                {"linkType": "gs1:defaultLink", "href": PIP_EN, "title": "P"}]}),
            "links[1].linkType",
        ),
        (
            json!({"itemDescription": "Pack", "defaultLinkType": "gs1:instructions", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"}]}),
            "defaultLinkType",
        ),
        (
            json!({"itemDescription": "", "links": [
                {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"}]}),
            "itemDescription",
        ),
    ];
    for (body, field) in cases {
        let r = put(&server, GTIN, &body).await;
        assert_rejected(r, 422, field).await;
        assert_absent(&server, GTIN).await;
    }
}

/// Separate from `invalid_link_data_is_422` so a disagreement here does not hide the other cases.
#[tokio::test]
/// The contract: "Registering a link type that no configured vocabulary knows is rejected with 400."
async fn unknown_link_type_is_400() {
    let server = start().await;
    for link_type in ["gs1:nosuchlt", "untp:nosuchlt", "nosuchprefix:pip"] {
        let body = json!({"itemDescription": "Pack", "links": [
            {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"},
            {"linkType": link_type, "href": PIP_EN, "title": "Q"}]});
        assert_rejected(put(&server, GTIN, &body).await, 400, "links[1].linkType").await;
        assert_absent(&server, GTIN).await;
    }
    let body = json!({"itemDescription": "Pack", "defaultLinkType": "gs1:nosuchlt", "links": [
        {"linkType": "gs1:pip", "href": PIP_EN, "title": "P"}]});
    assert_rejected(put(&server, GTIN, &body).await, 400, "defaultLinkType").await;
    assert_absent(&server, GTIN).await;
}

#[tokio::test]
async fn rejected_replacement_keeps_the_old_record() {
    let server = start().await;
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    let bad = json!({"itemDescription": "Broken", "links": [
        {"linkType": "gs1:pip", "href": "not a url", "title": "P"}]});
    assert_rejected(put(&server, GTIN, &bad).await, 422, "links[0].href").await;
    let r = put_raw(&server, GTIN, "{not json").await;
    problem(r, 400).await;
    let no_such_default = json!({"itemDescription": "Broken", "defaultLinkType": "untp:dpp",
        "links": [{"linkType": "gs1:pip", "href": PIP_EN, "title": "P"}]});
    assert_rejected(
        put(&server, GTIN, &no_such_default).await,
        422,
        "defaultLinkType",
    )
    .await;
    assert_unchanged(&server, GTIN, 1, "Pack").await;
    let r = client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, "location"), PIP_EN);
}

#[tokio::test]
async fn default_link_type_may_come_from_an_ancestor() {
    let server = start().await;
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    let serial = "01/09520123456788/21/12345";
    let dpp = "https://credentials.example/dpp/12345.jwt";
    // gs1:pip is registered at the GTIN level: accepted for the serial level.
    let inherits = json!({"itemDescription": "Serial 12345", "defaultLinkType": "gs1:pip",
        "links": [{"linkType": "untp:dpp", "href": dpp, "title": "DPP",
                   "type": "application/vc+jwt"}]});
    let r = put(&server, serial, &inherits).await;
    let body = json_body(r, 201).await;
    assert_eq!(body["identifier"], serial);
    assert_eq!(
        body["anchor"],
        "https://resolver.example/01/09520123456788/21/12345"
    );
    // gs1:instructions exists nowhere: refused, and the batch level is not written.
    let batch = "01/09520123456788/10/ABC";
    let orphan = json!({"itemDescription": "Batch ABC", "defaultLinkType": "gs1:instructions",
        "links": [{"linkType": "untp:dpp", "href": dpp, "title": "DPP"}]});
    assert_rejected(put(&server, batch, &orphan).await, 422, "defaultLinkType").await;
    problem(server.get_anchor(batch).await, 404).await;
    // Resolution of the unwritten batch walks up to the GTIN.
    let r = client()
        .get(server.url("/01/09520123456788/10/ABC?linkType=untp:dpp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no dpp above the batch level");
}

/// CORS is by audience: any origin may read resolutions, only configured origins may script the management API.
#[tokio::test]
async fn management_cors_is_for_configured_origins_only() {
    let server = start().await;
    let r = client()
        .get(anchor_url(&server, GTIN))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    problem(r, 401).await;
    let r = client()
        .get(server.url("/01/09520123456787"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "*",
        "resolution errors carry CORS"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[server]\nmanagement_cors_origins = [\"https://console.example\"]\n",
    )
    .unwrap();
    let configured =
        TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let r = client()
        .get(configured.url("/api/v1/anchors/01/09520123456788"))
        .header("origin", "https://console.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://console.example"
    );
    assert!(header(&r, "vary").contains("Origin"));
}

/// Deletes are soft: `POST …:restore` brings the record back as a new version; `?hard=true` deletes for good.
#[tokio::test]
async fn deleted_anchors_can_be_restored_unless_deleted_hard() {
    let server = start().await;
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    let client = client();
    let restore = |id: &str| {
        client
            .post(server.url(&format!("/api/v1/anchors/{id}:restore")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let r = restore(GTIN).await.unwrap();
    assert_eq!(
        r.status(),
        412,
        "nothing to restore while the anchor exists"
    );
    let r = client
        .delete(anchor_url(&server, GTIN))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        client
            .get(server.url("/01/09520123456788"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = restore(GTIN).await.unwrap();
    let body = json_body(r, 201).await;
    assert_eq!(body["version"], 2, "a new version, never a repeated one");
    assert_eq!(body["links"][0]["href"], PIP_EN);
    let r = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "location"), PIP_EN, "resolves again");
    problem(restore(GTIN).await.unwrap(), 412).await;

    let r = client
        .delete(server.url(&format!("/api/v1/anchors/{GTIN}?hard=true")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    problem(restore(GTIN).await.unwrap(), 404).await;
    // Re-creating drops what a soft delete kept.
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    client
        .delete(anchor_url(&server, GTIN))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    put(&server, GTIN, &product("Other", PIP_EN)).await;
    client
        .delete(anchor_url(&server, GTIN))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let body = json_body(restore(GTIN).await.unwrap(), 201).await;
    assert_eq!(
        body["itemDescription"], "Other",
        "the last deleted record comes back"
    );
    let other = client
        .post(server.url(&format!("/api/v1/anchors/{GTIN}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 405, "POST only restores");
}

/// `?hard=true` means for good: a hard delete of an anchor a soft delete kept purges the copy (`204`), so there is
/// nothing left to restore; with neither a live anchor nor a kept copy it is `404`.
#[tokio::test]
async fn hard_delete_purges_a_soft_deleted_copy() {
    let server = start().await;
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    let client = client();
    let send = |r: RequestBuilder| async move { r.bearer_auth(ADMIN_TOKEN).send().await.unwrap() };
    let hard = server.url(&format!("/api/v1/anchors/{GTIN}?hard=true"));
    let restore = server.url(&format!("/api/v1/anchors/{GTIN}:restore"));
    assert_eq!(
        send(client.delete(anchor_url(&server, GTIN)))
            .await
            .status(),
        204
    );
    let r = send(client.delete(&hard)).await;
    assert_eq!(r.status(), 204, "the kept copy is purged");
    problem(send(client.post(&restore)).await, 404).await;
    problem(send(client.delete(&hard)).await, 404).await;
    assert_absent(&server, GTIN).await;
    // The precondition is about the live anchor, as for any delete: there is none, so `If-Match` fails.
    put(&server, GTIN, &product("Pack", PIP_EN)).await;
    assert_eq!(
        send(client.delete(anchor_url(&server, GTIN)))
            .await
            .status(),
        204
    );
    let r = send(client.delete(&hard).header("If-Match", "\"1\"")).await;
    problem(r, 412).await;
    let body = json_body(send(client.post(&restore)).await, 201).await;
    assert_eq!(
        body["itemDescription"], "Pack",
        "a refused hard delete keeps the copy"
    );
}

/// A hard delete is one atomic step: a restore sent at the same moment either comes first (and the hard delete then
/// removes the restored anchor) or finds nothing to restore. Never a `204` with the anchor live afterwards.
#[tokio::test]
async fn hard_delete_never_loses_to_a_concurrent_restore() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::delete_race::config(dir.path());
    let server = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    let tally = support::delete_race::hard_delete_against_restore(&server, &server, GTIN, 60).await;
    assert_eq!(tally.acknowledged_but_live, 0, "{tally:?}");
    assert_eq!(tally.not_deleted, 0, "{tally:?}");
    assert_eq!(tally.restore_errors, 0, "{tally:?}");
}

/// Limits are the application's, not the process's: an app with a small `max_text_bytes` refuses a description
/// that an app with the shipped limits, running in the same process at the same time, accepts.
#[tokio::test]
async fn two_apps_in_one_process_keep_their_own_limits() {
    let strict =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_LIMITS__MAX_TEXT_BYTES", "10")]).await;
    let shipped = TestApp::start().await;
    let body = product("Twenty bytes of text", PIP_EN);
    let r = put(&strict, GTIN, &body).await;
    let problem = assert_rejected(r, 422, "itemDescription").await;
    assert!(
        problem.to_string().contains("longer than 10 bytes"),
        "{problem}"
    );
    assert_eq!(put(&shipped, GTIN, &body).await.status(), 201);
    // And the strict one still refuses after the other has written.
    let r = put(&strict, GTIN, &body).await;
    assert_rejected(r, 422, "itemDescription").await;
    assert_absent(&strict, GTIN).await;
}

/// A record stored before today's rules (here a GIAI whose first characters are no company prefix, which the
/// `gcppos1` linter now refuses, written straight into the store as an earlier version could have) can still be read
/// and deleted by a caller whose scopes cover it: its path is its stored key exactly. It stays unresolvable and
/// cannot be replaced; anyone without the scope, or a path with no such record, gets the 400 as before.
#[tokio::test]
async fn a_record_stored_under_earlier_rules_can_be_read_and_deleted() {
    const LEGACY: &str = "8004/ABC123";
    let redis = crate::support::redis::RedisServer::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(redis.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let store = idr::app::open_store(&settings).await.unwrap();
    let record: idr::registry::record::AnchorRecord = serde_json::from_value(json!({
        "itemDescription": "Pallet jack, registered in 2025",
        "links": [{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/jack", "title": "Jack"}]
    }))
    .unwrap();
    store
        .anchors
        .put(
            LEGACY,
            record,
            idr::registry::Precondition::None,
            "an earlier idr",
        )
        .await
        .unwrap();
    let secret = "other-secret-4711";
    let config = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[[keys]]\nname = \"other\"\nsha256 = \"{}\"\nscopes = [\"01/0952012*\"]\n",
            hash_secret(secret)
        ),
    )
    .unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--redis-url",
        &redis.url(),
        "--config",
        config.path().to_str().unwrap(),
    ])
    .await;

    // today's parser refuses the identifier: resolution and writes answer 400
    let scan = client()
        .get(server.url(&format!("/{LEGACY}")))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 400);
    let r = api(&server, Method::PUT, LEGACY)
        .json(&product("Jack", "https://brand.example/jack2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no replacing it under the old rules");
    // a caller whose scopes do not cover it, and a path no record has, see only the 400
    let r = client()
        .get(anchor_url(&server, LEGACY))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(server.get_anchor("8004/ABC124").await.status(), 400);

    // the admin reads it, told why it is special
    let r = server.get_anchor(LEGACY).await;
    assert_eq!(r.status(), 200);
    let warning = r.headers()["warning"].to_str().unwrap().to_string();
    assert!(
        warning.starts_with("299 idr ") && warning.contains("no longer parses"),
        "{warning}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["itemDescription"], "Pallet jack, registered in 2025");
    // and deletes it
    let r = server.delete_anchor(LEGACY).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert!(r.headers().contains_key("warning"));
    assert!(
        store.anchors.get(LEGACY).await.unwrap().is_none(),
        "gone from the store"
    );
    // once gone, the path is an ordinary bad identifier again
    assert_eq!(server.get_anchor(LEGACY).await.status(), 400);
    assert_eq!(server.delete_anchor(LEGACY).await.status(), 400);
}

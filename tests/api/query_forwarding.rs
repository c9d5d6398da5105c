//! Per-link `fwqs` (forward query string): a link registered with `"fwqs": false` through the native or the
//! Pyx-compatible API redirects to its bare target, every other link gets the scan's query string as before. The
//! option survives a GET→PUT round trip, a Pyx link update, `idr export`/`idr import` and the Redis store, and stays
//! out of linksets. Over real HTTP against the real binary.

use crate::support::app::TestApp;
use crate::support::client::{Api, client};
use crate::support::redis::RedisServer;
use crate::support::schema::{SchemaKind, assert_valid};
use crate::support::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

const GTIN: &str = "01/09520123456788";
const PAGE: &str = "https://brand.example/products/09520123456788";
const MANUAL: &str = "https://brand.example/manual";
const LOT: &str = "01/09520123456788/10/LOT1";
const DPP: &str = "https://credentials.example/dpp/lot1.jwt";
const DCC: &str = "https://credentials.example/dcc/lot1.jwt";

/// A product page that must not get the query (`fwqs: false`) and a manual that does (no `fwqs`: the default).
fn native_body() -> Value {
    json!({"itemDescription": "Battery pack", "defaultLinkType": "gs1:pip", "links": [
        {"linkType": "gs1:pip", "href": PAGE, "title": "Product information", "type": "text/html",
         "hreflang": ["en"], "fwqs": false},
        {"linkType": "gs1:instructions", "href": MANUAL, "title": "Manual", "type": "text/html"}]})
}

/// The Pyx adapter's publishLinks body (`pyx-idr.adapter.ts`, its default flags: `fwqs: false`) for a DPP, plus a
/// certificate registered with `fwqs: true`.
fn pyx_body() -> Value {
    let response = |link_type: &str, href: &str, default: bool, fwqs: bool| {
        json!({"linkType": link_type, "ianaLanguage": "en", "context": "au", "mimeType": "application/json",
               "linkTitle": "Credential", "targetUrl": href, "defaultLinkType": default, "defaultMimeType": false,
               "defaultIanaLanguage": false, "defaultContext": false, "fwqs": fwqs})
    };
    json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
           "itemDescription": "", "qualifierPath": "/10/LOT1", "active": true,
           "responses": [response("untp:dpp", DPP, true, false), response("untp:dcc", DCC, false, true)]})
}

async fn send(
    server: &impl Api,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let mut request = client()
        .request(method.clone(), server.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{method} {path} → {status}: {text}");
    serde_json::from_str(&text).expect("JSON answer")
}

/// The `Location` of a scan, which must be a `307`.
async fn location(server: &impl Api, path: &str) -> String {
    let r = server.resolve(path).await;
    assert_eq!(r.status(), 307, "GET {path}");
    r.headers()["location"].to_str().expect("ASCII").to_string()
}

/// The native anchor's scans: the default link and `linkType=gs1:pip` bare, the manual with the query.
async fn assert_native_redirects(server: &impl Api) {
    assert_eq!(location(server, &format!("/{GTIN}?foo=bar")).await, PAGE);
    let typed = format!("/{GTIN}?linkType=gs1:pip&foo=bar");
    assert_eq!(location(server, &typed).await, PAGE);
    let manual = format!("/{GTIN}?linkType=gs1:instructions&foo=bar");
    assert_eq!(
        location(server, &manual).await,
        format!("{MANUAL}?linkType=gs1:instructions&foo=bar")
    );
}

/// The Pyx anchor's scans: the DPP (the default) bare, the certificate with the query.
async fn assert_pyx_redirects(server: &impl Api) {
    assert_eq!(location(server, &format!("/{LOT}?foo=bar")).await, DPP);
    let dcc = format!("/{LOT}?linkType=untp:dcc&foo=bar");
    assert_eq!(
        location(server, &dcc).await,
        format!("{DCC}?linkType=untp:dcc&foo=bar")
    );
}

/// The `fwqs` member of each link of the stored record (`None`: absent).
async fn stored_fwqs(server: &impl Api, identifier: &str) -> Vec<Option<bool>> {
    let record = send(
        server,
        reqwest::Method::GET,
        &format!("/api/v1/anchors/{identifier}"),
        None,
    )
    .await;
    let links = record["links"].as_array().expect("links");
    links
        .iter()
        .map(|l| l.get("fwqs").map(|f| f.as_bool().expect("a boolean")))
        .collect()
}

/// GET the record and PUT what it says back, unchanged.
async fn get_and_put_back(server: &impl Api, identifier: &str) {
    let path = format!("/api/v1/anchors/{identifier}");
    let record = send(server, reqwest::Method::GET, &path, None).await;
    let body = json!({"itemDescription": record["itemDescription"], "defaultLinkType": record["defaultLinkType"],
                      "links": record["links"]});
    send(server, reqwest::Method::PUT, &path, Some(&body)).await;
}

/// The linkset still validates against the GS1 and UNTP schemas, and never mentions `fwqs`.
async fn assert_linkset_clean(server: &impl Api, identifier: &str) {
    let url = server.url(&format!("/{identifier}?linkType=linkset"));
    let r = client().get(url).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("body");
    assert!(!text.contains("fwqs"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("linkset JSON");
    assert_valid(SchemaKind::UntpLinkset, &body);
    assert_valid(SchemaKind::Gs1Linkset, &body);
}

/// Registration, scans, the record and its round trip, the linkset: the native API.
async fn native_api(server: &impl Api) {
    send(
        server,
        reqwest::Method::PUT,
        &format!("/api/v1/anchors/{GTIN}"),
        Some(&native_body()),
    )
    .await;
    assert_native_redirects(server).await;
    assert_eq!(stored_fwqs(server, GTIN).await, [Some(false), None]);
    get_and_put_back(server, GTIN).await;
    assert_eq!(
        stored_fwqs(server, GTIN).await,
        [Some(false), None],
        "after GET→PUT"
    );
    assert_native_redirects(server).await;
    assert_linkset_clean(server, GTIN).await;
}

/// The same through the Pyx-compatible API, and a Pyx link update that keeps the option.
async fn pyx_api(server: &impl Api) {
    let registered = send(
        server,
        reqwest::Method::POST,
        "/api/2.0.0/resolver",
        Some(&pyx_body()),
    )
    .await;
    let answered: Vec<&Value> = registered["linkResponses"]
        .as_array()
        .expect("linkResponses")
        .iter()
        .collect();
    assert_eq!(answered[0]["fwqs"], json!(false));
    assert_eq!(answered[1]["fwqs"], json!(true));
    assert_pyx_redirects(server).await;
    assert_eq!(stored_fwqs(server, LOT).await, [Some(false), None]);

    let link = format!(
        "/api/2.0.0/resolver/links/{}",
        answered[0]["linkId"].as_str().expect("linkId")
    );
    let read = send(server, reqwest::Method::GET, &link, None).await;
    assert_eq!(read["fwqs"], json!(false));
    let update = json!({"linkTitle": "Digital Product Passport"});
    let updated = send(server, reqwest::Method::PUT, &link, Some(&update)).await;
    assert_eq!(updated["fwqs"], json!(false), "a title update keeps fwqs");
    assert_pyx_redirects(server).await;
    assert_linkset_clean(server, LOT).await;
}

#[tokio::test]
async fn native_and_pyx_links_forward_the_query_as_registered() {
    let server = TestApp::start().await;
    native_api(&server).await;
    pyx_api(&server).await;
}

#[tokio::test]
async fn the_redis_store_keeps_fwqs() {
    let redis = RedisServer::start();
    let server = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    native_api(&server).await;
    pyx_api(&server).await;
}

fn idr(args: &[&str]) -> Output {
    let output = crate::support::server::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .env_remove("IDR_REDIS_URL")
        .env_remove("IDR_STORE__REDIS_URL")
        .output()
        .expect("run idr");
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "idr {args:?}: {all}");
    output
}

/// `idr export` of a store, its lines sorted.
fn export(store: &[&str]) -> Vec<String> {
    let output = idr(&[&["export"], store].concat());
    let mut lines: Vec<String> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

fn import(file: &Path, store: &[&str]) {
    idr(&[&["import", file.to_str().expect("UTF-8")], store].concat());
}

#[tokio::test]
async fn export_and_import_keep_fwqs_into_redis_and_back() {
    let mut source = Server::start().await;
    native_api(&source).await;
    pyx_api(&source).await;
    source.stop();
    let source_dir = source.data_dir().to_str().expect("UTF-8").to_string();
    let exported = export(&["--data-dir", &source_dir]);
    assert_eq!(exported.len(), 2, "{exported:?}");
    for line in &exported {
        let line: Value = serde_json::from_str(line).expect("NDJSON");
        assert_eq!(line["links"][0]["fwqs"], json!(false), "{line}");
        assert!(line["links"][1].get("fwqs").is_none(), "{line}");
    }

    // Into Redis, served from there, and out again: the same lines.
    let work = tempfile::tempdir().expect("temp dir");
    let dump = work.path().join("anchors.ndjson");
    std::fs::write(&dump, exported.join("\n") + "\n").expect("write dump");
    let redis = RedisServer::start();
    let url = redis.url();
    import(&dump, &["--redis-url", &url]);
    let server = Server::start_with(&["--no-demo", "--redis-url", &url]).await;
    assert_native_redirects(&server).await;
    assert_pyx_redirects(&server).await;
    drop(server);
    assert_eq!(export(&["--redis-url", &url]), exported);

    // And into a fresh embedded store.
    let embedded = work.path().join("embedded");
    let embedded = embedded.to_str().expect("UTF-8");
    import(&dump, &["--data-dir", embedded]);
    assert_eq!(export(&["--data-dir", embedded]), exported);
}

//! UNTP's access rules on every write path: `encryptionMethod` from UNTP's code list, an encrypted target names its
//! `accessRole`, roles are URIs or UNTP's names. Refused with a 422 naming the field on the management API, the
//! Pyx-compatible API and `idr import`; records stored before the rule are reported by `idr check-data` (embedded
//! store and Redis), resolve as before, and give the same 422 when written back.

use crate::support::app::TestApp;
use crate::support::client::{Api, problem};
use crate::support::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::Output;

const ID: &str = "01/09520123456788/21/12345";

fn link(href: &str, extra: Value) -> Value {
    let mut l = json!({"linkType": "untp:dte", "href": href, "title": "Events", "type": "application/vc+jwt"});
    l.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    l
}

fn anchor(links: Vec<Value>) -> Value {
    let mut all = vec![
        json!({"linkType": "untp:dpp", "href": "https://cred.example/dpp.jwt", "title": "DPP"}),
    ];
    all.extend(links);
    json!({"itemDescription": "Battery", "defaultLinkType": "untp:dpp", "links": all})
}

async fn put(app: &TestApp, identifier: &str, body: &Value) -> reqwest::Response {
    app.admin(Method::PUT, &format!("/api/v1/anchors/{identifier}"))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_management_api_refuses_broken_rules_naming_the_field() {
    let app = TestApp::start().await;
    let body = anchor(vec![
        link(
            "https://c.example/a",
            json!({"encryptionMethod": "AES-128", "accessRole": ["untp:accessRole#Owner"]}),
        ),
        link(
            "https://c.example/b",
            json!({"encryptionMethod": "AES-256", "accessRole": "customer"}),
        ),
        link(
            "https://c.example/c",
            json!({"encryptionMethod": "ROT13", "accessRole": ["untp:accessRole#Owner"]}),
        ),
    ]);
    let p = problem(put(&app, ID, &body).await, 422).await;
    assert_eq!(fields(&p), ["links[3].encryptionMethod"], "{p}");
    let message = p["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"ROT13\"") && message.contains("none, AES"),
        "{message}"
    );

    let body = anchor(vec![link(
        "https://c.example/a",
        json!({"encryptionMethod": "AES-128"}),
    )]);
    let p = problem(put(&app, ID, &body).await, 422).await;
    assert_eq!(fields(&p), ["links[1].accessRole"], "{p}");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("untp:accessRole#Anonymous"),
        "names the way to fix it: {p}"
    );

    let body = anchor(vec![link(
        "https://c.example/a",
        json!({"accessRole": ["untp:accessRole#Boss", "admin"]}),
    )]);
    let p = problem(put(&app, ID, &body).await, 422).await;
    assert_eq!(
        fields(&p),
        ["links[1].accessRole[0]", "links[1].accessRole[1]"],
        "{p}"
    );
    assert!(
        app.get_anchor(ID).await.status() == 404,
        "nothing half-written"
    );

    // Accepted: stored in the code list's spelling, a bare role name written out, any other URI as given.
    let body = anchor(vec![
        link(
            "https://c.example/a",
            json!({"encryptionMethod": "aes-128", "accessRole": "anonymous"}),
        ),
        link("https://c.example/b", json!({"encryptionMethod": "none"})),
        link(
            "https://c.example/c",
            json!({"encryptionMethod": "AES", "accessRole": ["https://register.example/scope/recycler"]}),
        ),
    ]);
    let r = put(&app, ID, &body).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let stored: Value = app.get_anchor(ID).await.json().await.unwrap();
    let links = stored["links"].as_array().unwrap();
    assert_eq!(links[1]["encryptionMethod"], "AES-128");
    assert_eq!(links[1]["accessRole"], json!(["untp:accessRole#Anonymous"]));
    assert_eq!(links[2]["encryptionMethod"], "none");
    assert_eq!(
        links[3]["accessRole"],
        json!(["https://register.example/scope/recycler"])
    );
    // What a GET answers is written back unchanged.
    let again = put(&app, ID, &stored).await;
    assert!(
        again.status().is_success(),
        "{}",
        again.text().await.unwrap()
    );
}

#[tokio::test]
async fn the_pyx_api_applies_the_same_rule_and_the_adapters_default_body_passes() {
    let app = TestApp::start().await;
    let response = |extra: Value| {
        let mut r = json!({"linkType": "untp:dpp", "ianaLanguage": "en", "context": "au",
            "mimeType": "application/json", "linkTitle": "Digital Product Passport",
            "targetUrl": "https://cred.example/dpp.json", "defaultLinkType": true, "defaultMimeType": false,
            "defaultIanaLanguage": false, "defaultContext": false, "fwqs": false});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
               "itemDescription": "", "qualifierPath": "/", "active": true, "responses": [r]})
    };
    let post = |body: Value| {
        app.admin(Method::POST, "/api/2.0.0/resolver")
            .json(&body)
            .send()
    };
    let p = problem(
        post(response(json!({"encryptionMethod": "AES-256"})))
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(fields(&p), ["responses[0].accessRole"], "{p}");
    let p = problem(
        post(response(
            json!({"encryptionMethod": "XOR", "accessRole": ["untp:accessRole#Customer"]}),
        ))
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(fields(&p), ["responses[0].encryptionMethod"], "{p}");
    // What the reference implementation's Pyx adapter sends by default: no encryption, no roles.
    let r = post(response(json!({}))).await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    // `none` is no encryption and needs no role.
    let r = post(response(json!({"encryptionMethod": "none"})))
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = post(response(
        json!({"encryptionMethod": "AES-256", "accessRole": ["untp:accessRole#Customer"]}),
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

fn idr(args: &[&str]) -> Output {
    crate::support::server::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .expect("run idr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn idr_import_refuses_lines_that_break_the_rule() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("anchors.ndjson");
    let line = |id: &str, extra: Value| {
        let mut a = anchor(vec![link("https://c.example/e", extra)]);
        a["identifier"] = json!(id);
        a.to_string()
    };
    let lines = [
        line(
            "01/09520123456788/21/1",
            json!({"encryptionMethod": "AES-128", "accessRole": ["untp:accessRole#Owner"]}),
        ),
        line(
            "01/09520123456788/21/2",
            json!({"encryptionMethod": "AES-128"}),
        ),
        line(
            "01/09520123456788/21/3",
            json!({"encryptionMethod": "Enigma", "accessRole": "owner"}),
        ),
    ];
    std::fs::write(&file, lines.join("\n")).unwrap();
    let dir = data.path().join("store");
    let out = idr(&[
        "import",
        "--data-dir",
        dir.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":2: rejected: links[1].accessRole"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":3: rejected: links[1].encryptionMethod"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("imported 1 anchors, rejected 2 lines"));
    // What was imported passes the check.
    let out = idr(&["check-data", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("checked 1 anchors: 0 rules broken"));
}

/// A record as an older idr stored it: an encrypted target without roles, and a method outside the code list.
fn legacy_record() -> idr::registry::AnchorRecord {
    let stored = json!({"itemDescription": "Battery", "defaultLinkType": "https://test.uncefact.org/vocabulary/linkTypes/dpp",
        "links": [
            {"linkType": "https://test.uncefact.org/vocabulary/linkTypes/dpp", "href": "https://cred.example/dpp.jwt", "title": "DPP"},
            {"linkType": "https://test.uncefact.org/vocabulary/linkTypes/dte", "href": "https://cred.example/dte.enc",
             "title": "Events", "encryptionMethod": "AES-128"},
            {"linkType": "https://test.uncefact.org/vocabulary/linkTypes/dcc", "href": "https://cred.example/dcc.enc",
             "title": "Certificate", "encryptionMethod": "3DES", "accessRole": ["untp:accessRole#Customer"]}]});
    serde_json::from_value(stored).unwrap()
}

async fn plant(store: &dyn idr::registry::AnchorStore) {
    store
        .put(
            ID,
            legacy_record(),
            idr::registry::Precondition::None,
            "older idr",
        )
        .await
        .unwrap();
}

fn assert_reported(out: &Output) {
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(&format!(
            "{ID}: links[1].accessRole (https://cred.example/dte.enc): an encrypted target"
        )),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "{ID}: links[2].encryptionMethod (https://cred.example/dcc.enc): \"3DES\""
        )),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("checked 1 anchors: 2 rules broken in 1 anchors"));
}

#[tokio::test]
async fn check_data_reports_old_records_on_the_embedded_store_without_changing_them() {
    let data = tempfile::tempdir().unwrap();
    {
        let store = idr::registry::embedded::EmbeddedStore::open(data.path()).unwrap();
        plant(&store).await;
    }
    let dir = data.path().to_str().unwrap();
    assert_reported(&idr(&["check-data", "--data-dir", dir]));
    // Read-only: the same report again, the record as it was.
    assert_reported(&idr(&["check-data", "--data-dir", dir]));
    let store = idr::registry::embedded::EmbeddedStore::open(data.path()).unwrap();
    use idr::registry::AnchorStore;
    let stored = store.get(ID).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    assert_eq!(stored.record, legacy_record());
}

#[tokio::test]
async fn on_redis_an_old_record_is_reported_resolves_and_written_back_gets_the_same_422() {
    let redis = RedisServer::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(redis.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let store = idr::app::open_store(&settings).await.unwrap();
    plant(store.anchors.as_ref()).await;
    assert_reported(&idr(&["check-data", "--redis-url", &redis.url()]));

    let app = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    let r = app.resolve(&format!("/{ID}?linkType=untp:dte")).await;
    assert_eq!(r.status(), 307, "scans are answered as before");
    let read = app.get_anchor(ID).await;
    assert_eq!(read.status(), 200);
    let body: Value = read.json().await.unwrap();
    let p = problem(put(&app, ID, &body).await, 422).await;
    assert_eq!(
        fields(&p),
        ["links[1].accessRole", "links[2].encryptionMethod"],
        "{p}"
    );
    // Any other write to it names the same stored links, rather than failing otherwise.
    let pyx = json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
        "qualifierPath": "/21/12345", "responses": [{"linkType": "gs1:pip", "targetUrl": "https://brand.example/p",
        "linkTitle": "Product", "mimeType": "text/html"}]});
    let r = app
        .admin(Method::POST, "/api/2.0.0/resolver")
        .json(&pyx)
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert!(
        fields(&p).contains(&"responses[1].accessRole".to_string()),
        "{p}"
    );
    // Fixed, it is written, and the check then finds nothing.
    let mut fixed = body.clone();
    fixed["links"][1]["accessRole"] = json!(["untp:accessRole#Owner"]);
    fixed["links"][2]["encryptionMethod"] = json!("AES-256");
    let r = put(&app, ID, &fixed).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let out = idr(&["check-data", "--redis-url", &redis.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

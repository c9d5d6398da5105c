//! Pattern registrations (`/api/v1/patterns/{key}/{prefix}`), tried as an asset owner would: precedence (an exact
//! anchor wins at every level; the longest pattern wins), template expansion with reserved characters, linksets
//! that pass the GS1 and UNTP schemas, scopes, write-back, `idr export`/`idr import` and GS1 Resolver CE templates.

use crate::support::app::TestApp;
use crate::support::client::{Api, problem};
use crate::support::schema::{SchemaKind, assert_valid};
use crate::support::server::Server;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

fn body(description: &str, links: &[(&str, &str)]) -> Value {
    let links: Vec<Value> = links
        .iter()
        .map(|(t, href)| json!({"linkType": t, "href": href, "title": "A link", "type": "text/html"}))
        .collect();
    json!({"itemDescription": description, "links": links})
}

async fn put_pattern(app: &impl Api, token: &str, pattern: &str, body: &Value) -> Response {
    app.scoped(token, Method::PUT, &format!("/api/v1/patterns/{pattern}"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn admin_pattern(app: &impl Api, pattern: &str, body: &Value) -> Value {
    let r = put_pattern(app, crate::support::client::ADMIN_TOKEN, pattern, body).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(
        status.is_success(),
        "PUT pattern {pattern} → {status}: {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Where a scan is sent: `Location` of a redirect, or the status.
async fn target(app: &impl Api, path: &str) -> Result<String, u16> {
    let r = app.resolve(path).await;
    match r.headers().get("location") {
        Some(l) if r.status().is_redirection() => Ok(l.to_str().unwrap().to_string()),
        _ => Err(r.status().as_u16()),
    }
}

#[tokio::test]
async fn the_longest_pattern_answers_identifiers_without_anchors_and_an_exact_anchor_wins() {
    let app = TestApp::start().await;
    admin_pattern(
        &app,
        "8004/952",
        &body("short", &[("gs1:pip", "https://short.example/{8004}")]),
    )
    .await;
    let long = body(
        "Assets",
        &[(
            "gs1:pip",
            "https://assets.example/giai/{8004}?id={identifier}",
        )],
    );
    admin_pattern(&app, "giai/9520123", &long).await;
    // Reserved characters in the value (`/` and `&`) are percent-encoded as RFC 6570 simple expansion says; the
    // scan's query is forwarded as for an anchor.
    assert_eq!(
        target(&app, "/8004/9520123A%2Fb%26c?x=1").await,
        Ok("https://assets.example/giai/9520123A%2Fb%26c?id=9520123A%2Fb%26c&x=1".into())
    );
    assert_eq!(
        target(&app, "/8004/9529Z").await,
        Ok("https://short.example/9529Z".into())
    );
    assert_eq!(target(&app, "/8004/1234").await, Err(404));
    app.put_anchor(
        "8004/9520123EXACT",
        body("One asset", &[("gs1:pip", "https://exact.example/asset")]),
    )
    .await;
    assert_eq!(
        target(&app, "/8004/9520123EXACT").await,
        Ok("https://exact.example/asset".into())
    );
    // Deleting the longer pattern hands its identifiers to the shorter one at once.
    let r = app
        .admin(Method::DELETE, "/api/v1/patterns/8004/9520123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        target(&app, "/8004/9520123A").await,
        Ok("https://short.example/9520123A".into())
    );
    let r = app
        .admin(Method::GET, "/api/v1/patterns/8004/9520123")
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
}

#[tokio::test]
async fn a_pattern_stands_in_for_the_key_level_of_the_walk_up() {
    let app = TestApp::start().await;
    let gtins = body(
        "Products of 0952012",
        &[
            ("gs1:pip", "https://x.example/{01}"),
            (
                "gs1:certificationInfo",
                "https://x.example/{01}/serial/{21}",
            ),
        ],
    );
    admin_pattern(&app, "01/0952012", &gtins).await;
    assert_eq!(
        target(
            &app,
            "/01/09520123456788/21/S%2B1?linkType=gs1:certificationInfo"
        )
        .await,
        Ok("https://x.example/09520123456788/serial/S%2B1?linkType=gs1:certificationInfo".into())
    );
    assert_eq!(
        target(&app, "/01/09520123456788/21/S1").await,
        Ok("https://x.example/09520123456788".into())
    );
    // A link whose template names an AI the request lacks does not apply.
    assert_eq!(
        target(&app, "/01/09520123456788?linkType=gs1:certificationInfo").await,
        Err(404)
    );
    // A more specific level's anchor comes first; the pattern still answers for the key level above it.
    app.put_anchor(
        "01/09520123456795/10/LOT",
        body("Lot", &[("gs1:pip", "https://lot.example/p")]),
    )
    .await;
    let serial = "/01/09520123456795/10/LOT/21/S%2F1";
    assert_eq!(
        target(&app, serial).await,
        Ok("https://lot.example/p".into())
    );
    assert_eq!(
        target(&app, &format!("{serial}?linkType=gs1:certificationInfo")).await,
        Ok("https://x.example/09520123456795/serial/S%2F1?linkType=gs1:certificationInfo".into())
    );
    let linkset: Value = app.linkset(serial).await.json().await.unwrap();
    let text = linkset.to_string();
    assert!(text.contains("https://lot.example/p"), "{text}");
    assert!(
        text.contains("https://x.example/09520123456795/serial/S%2F1"),
        "{text}"
    );
    assert!(!text.contains("{21}") && !text.contains("{01}"), "{text}");
    assert!(
        text.contains("/01/09520123456795\""),
        "the key level is listed: {text}"
    );
    assert_valid(SchemaKind::Gs1Linkset, &linkset);
    assert_valid(SchemaKind::UntpLinkset, &linkset);
    // An exact anchor at the key level wins over the pattern.
    app.put_anchor(
        "01/09520123456788",
        body("Exact", &[("gs1:pip", "https://exact.example/p")]),
    )
    .await;
    assert_eq!(
        target(&app, "/01/09520123456788/21/S1").await,
        Ok("https://exact.example/p".into())
    );
    assert_eq!(
        target(
            &app,
            "/01/09520123456788/21/S1?linkType=gs1:certificationInfo"
        )
        .await,
        Err(404)
    );
}

/// `pattern-acme` holds `8004/952012*`, `pattern-narrow` the single identifier `8004/9520123`.
fn scoped_config(dir: &Path) -> String {
    let path = dir.join("patterns.toml");
    std::fs::write(
        &path,
        r#"
[[keys]]
name = "acme"
sha256 = "80d0b3b04b592cf3f0e5a5754df92de4184cf88807538081750069d2eaf2309a"
scopes = ["8004/952012*"]

[[keys]]
name = "narrow"
sha256 = "8a019c6bf55aa1014884a5105e07ea430a82c6ecc137ad906e955f4186a64c65"
scopes = ["8004/9520123"]
"#,
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn pattern_writes_are_scoped_validated_and_written_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let config = scoped_config(dir.path());
    let app = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    let assets = body(
        "Assets",
        &[("gs1:pip", "https://assets.example/giai/{8004}")],
    );
    let r = put_pattern(&app, "pattern-acme", "8004/9520123", &assets).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/api/v1/patterns/8004/9520123");
    // The pattern would match identifiers outside the scope.
    problem(
        put_pattern(&app, "pattern-acme", "8004/95201", &assets).await,
        403,
    )
    .await;
    problem(
        put_pattern(&app, "pattern-acme", "01/0952012", &assets).await,
        403,
    )
    .await;
    // A scope naming one identifier covers no pattern.
    problem(
        put_pattern(&app, "pattern-narrow", "8004/9520123", &assets).await,
        403,
    )
    .await;

    let field = |p: Value| p["errors"][0]["field"].as_str().unwrap().to_string();
    let admin = crate::support::client::ADMIN_TOKEN;
    let bad = problem(put_pattern(&app, admin, "01/0952A", &assets).await, 400).await;
    assert_eq!(field(bad), "prefix");
    let bad = problem(put_pattern(&app, admin, "10/ABC", &assets).await, 400).await;
    assert_eq!(field(bad), "key");
    for href in [
        "https://a.example/{+8004}",
        "https://a.example/{serial}",
        "https://a.example/{8004",
    ] {
        let r = put_pattern(
            &app,
            admin,
            "8004/9520124",
            &body("x", &[("gs1:pip", href)]),
        )
        .await;
        let status = r.status().as_u16();
        assert!(status == 400 || status == 422, "{href}: {status}");
        assert_eq!(field(r.json().await.unwrap()), "links[0].href", "{href}");
    }

    // Written back as read: the same record.
    let read = |token: &'static str| {
        let app = &app;
        async move {
            app.scoped(token, Method::GET, "/api/v1/patterns/8004/9520123")
                .send()
                .await
                .unwrap()
        }
    };
    let first: Value = read("pattern-acme").await.json().await.unwrap();
    assert_eq!(first["identifier"], "8004/9520123");
    assert_eq!(
        first["links"][0]["href"],
        "https://assets.example/giai/{8004}"
    );
    let r = put_pattern(&app, "pattern-acme", "8004/9520123", &first).await;
    assert_eq!(r.status(), 200);
    let again: Value = read("pattern-acme").await.json().await.unwrap();
    assert_eq!(again["links"], first["links"]);
    assert_eq!(again["itemDescription"], first["itemDescription"]);
    assert_eq!(again["defaultLinkType"], first["defaultLinkType"]);
    problem(read("pattern-narrow").await, 403).await;
}

fn idr(args: &[&str], data_dir: &Path) -> Output {
    crate::support::server::command()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .expect("run idr")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn patterns_round_trip_through_export_and_import_and_ce_templates_import_as_patterns() {
    let mut server = Server::start().await;
    admin_pattern(
        &server,
        "8004/9520123",
        &body(
            "Assets",
            &[("gs1:pip", "https://assets.example/giai/{8004}")],
        ),
    )
    .await;
    server.stop();
    let exported = ok(&idr(&["export"], server.data_dir()));
    let line: Value = exported
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l.get("pattern").is_some())
        .expect("a pattern line");
    assert_eq!(line["pattern"], "8004/9520123");
    assert!(line.get("identifier").is_none());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, &exported).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    ok(&idr(&["import", file.to_str().unwrap()], fresh.path()));
    let sorted = |text: &str| {
        let mut lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        lines.sort_by_key(|l| l.to_string());
        lines
    };
    assert_eq!(
        sorted(&ok(&idr(&["export"], fresh.path()))),
        sorted(&exported)
    );

    let ce = json!([{"anchor": "/01/09506000134376", "itemDescription": "Serials",
        "qualifiers": [{"21": "{serialnumber}"}],
        "links": [{"linktype": "gs1:pip", "href": "https://s.example/p/{serialnumber}", "title": "Serial"}]}]);
    let ce_file = dir.path().join("ce.json");
    std::fs::write(&ce_file, ce.to_string()).unwrap();
    ok(&idr(
        &["import", "--format", "gs1-ce", ce_file.to_str().unwrap()],
        server.data_dir(),
    ));
    server.resume().await;
    assert_eq!(
        target(&server, "/01/09506000134376/21/A%2FB").await,
        Ok("https://s.example/p/A%2FB".into())
    );
    assert_eq!(
        target(&server, "/8004/9520123Q").await,
        Ok("https://assets.example/giai/9520123Q".into())
    );
}

/// Patterns are stored beside anchors under a reserved root, but the anchor listing shows anchors only, even to an
/// admin whose scope covers everything.
#[tokio::test]
async fn the_anchor_listing_shows_no_patterns() {
    let app = TestApp::start_with(&["--no-demo"]).await;
    admin_pattern(
        &app,
        "8004/9520123",
        &body("Assets", &[("gs1:pip", "https://assets.example/{8004}")]),
    )
    .await;
    let r = app
        .admin(Method::PUT, "/api/v1/anchors/8004/9520123EXACT")
        .json(&body(
            "One asset",
            &[("gs1:pip", "https://assets.example/one")],
        ))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let listed: Value = app
        .admin(Method::GET, "/api/v1/anchors?limit=1000")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths: Vec<&str> = listed["anchors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["identifier"].as_str())
        .collect();
    assert_eq!(paths, ["8004/9520123EXACT"], "{listed}");
}

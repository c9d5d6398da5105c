//! Verified links through the API: `GET`/`POST /api/v1/anchors/{identifier}/verification` on both stores, scoped like
//! reading the anchor; verdicts stored once and seen by every replica sharing a Redis, and `enforce` mode's warning
//! on a write; `idr verify`.
//!
//! Every href here is `https://localhost:1/…`: loopback, a closed port, and not allowed by the default outbound guard
//! (no `outbound.allow`), so whatever checker runs fetches nothing anywhere. With the stub checker a target stays
//! `pending`; with the real one it is `unreachable` (the guard refuses it). Assertions hold for both: statuses other
//! than those come from verdicts this test stores itself.

use crate::support::app::TestApp;
use crate::support::client::{Api, problem};
use crate::support::redis::RedisServer;
use idr::registry::VerdictStore;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const G: &str = "01/09520123456788";
const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const DCC: &str = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
const GOOD: &str = "https://localhost:1/dpp/good.jwt";
const BAD: &str = "https://localhost:1/dpp/other-product.jwt";
const CONFORMITY: &str = "https://localhost:1/dcc/1.jwt";

fn anchor(dpp: &str) -> Value {
    json!({"itemDescription": "Battery pack", "defaultLinkType": "gs1:pip", "links": [
        {"linkType": "gs1:pip", "href": "https://localhost:1/info", "title": "Product information"},
        {"linkType": "untp:dpp", "href": dpp, "title": "Digital Product Passport"},
        {"linkType": "untp:dcc", "href": CONFORMITY, "title": "Conformity"}
    ]})
}

fn path(identifier: &str) -> String {
    format!("/api/v1/anchors/{identifier}/verification")
}

async fn verification(server: &impl Api, method: Method, identifier: &str) -> (u16, Value) {
    let r = server
        .admin(method, &path(identifier))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The statuses a target this test does not control may have: not checked yet (stub checker), or refused by the
/// outbound guard (real checker).
fn unchecked(link: &Value) -> bool {
    ["pending", "unreachable"].contains(&link["status"].as_str().unwrap())
}

fn link_of<'a>(body: &'a Value, link_type: &str) -> &'a Value {
    body["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["linkType"] == link_type)
        .unwrap_or_else(|| panic!("no {link_type} link in {body}"))
}

/// GET lists every credential link of the current record (and nothing else), POST checks and stores, and a GET
/// after it answers what the POST did.
async fn lists_checks_and_stores(server: &TestApp) {
    let (status, body) = verification(server, Method::GET, G).await;
    assert_eq!(status, 404, "no anchor yet: {body}");
    let (status, _) = verification(server, Method::POST, G).await;
    assert_eq!(status, 404);
    let written = server.put_anchor(G, anchor(GOOD)).await;
    let (status, body) = verification(server, Method::GET, G).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identifier"], G);
    assert_eq!(body["version"], written["version"]);
    assert_eq!(body["mode"], "report");
    let links = body["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "the DPP and the DCC, not gs1:pip: {body}");
    assert_eq!(link_of(&body, DPP)["href"], GOOD);
    assert_eq!(link_of(&body, DCC)["href"], CONFORMITY);
    assert!(links.iter().all(unchecked), "{body}");
    let (status, checked) = verification(server, Method::POST, G).await;
    assert_eq!(status, 200, "{checked}");
    assert_eq!(checked["version"], written["version"]);
    assert_eq!(checked["links"].as_array().unwrap().len(), 2);
    assert!(checked["links"].as_array().unwrap().iter().all(unchecked));
    let (_, again) = verification(server, Method::GET, G).await;
    assert_eq!(again["links"], checked["links"], "stored as answered");
    // A later version: the links of the record now, the replaced DPP kept as its predecessor version included.
    let rewritten = server.put_anchor(G, anchor(BAD)).await;
    let (_, after) = verification(server, Method::GET, G).await;
    assert_eq!(after["version"], rewritten["version"]);
    let mut hrefs: Vec<&str> = after["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    hrefs.sort_unstable();
    assert_eq!(hrefs, [CONFORMITY, GOOD, BAD]);
}

#[tokio::test]
async fn the_verification_of_an_anchor_on_the_embedded_store() {
    let server =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_VERIFICATION__MODE", "report")]).await;
    lists_checks_and_stores(&server).await;
    // Counted by status.
    let metrics = server
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("idr_verification_verdicts_total{status=\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_verification_of_an_anchor_on_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    let server = TestApp::start_with_env(
        &["--no-demo", "--redis-url", &url],
        &[("IDR_VERIFICATION__MODE", "report")],
    )
    .await;
    lists_checks_and_stores(&server).await;
    // One key per anchor, in the anchor's hash slot (the anchor's hash tag).
    assert_eq!(redis.keys("idr:v:*"), [format!("idr:v:{{{G}}}")]);
}

#[tokio::test]
async fn verification_is_scoped_like_reading_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keys.toml");
    // Hashes of "acme-secret" and "other-secret" (coreutils sha256sum).
    std::fs::write(
        &config,
        r#"
[[keys]]
name = "acme"
sha256 = "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c"
scopes = ["01/0952012*"]

[[keys]]
name = "other"
sha256 = "9c0ee26e4a1fbb028187486a7ea91f81f8ab81fcf467cba75107dbd3a64244d7"
scopes = ["01/0950600*"]
"#,
    )
    .unwrap();
    let server = TestApp::start_with_env(
        &["--no-demo", "--config", config.to_str().unwrap()],
        &[("IDR_VERIFICATION__MODE", "report")],
    )
    .await;
    server.put_anchor(G, anchor(GOOD)).await;
    for method in [Method::GET, Method::POST] {
        let mine = server
            .scoped("acme-secret", method.clone(), &path(G))
            .send()
            .await
            .unwrap();
        assert_eq!(mine.status(), 200, "{method} by the owner's key");
        let theirs = server
            .scoped("other-secret", method.clone(), &path(G))
            .send()
            .await
            .unwrap();
        problem(theirs, 403).await;
        let anonymous = server
            .request(method.clone(), &path(G))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401, "{method} without a key");
    }
    // Only GET, HEAD and POST.
    for method in [Method::PUT, Method::DELETE] {
        let r = server.admin(method.clone(), &path(G)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(r.headers()["allow"], "GET, HEAD, POST, OPTIONS");
    }
}

#[tokio::test]
async fn a_recheck_is_refused_when_verification_is_off() {
    // The test harness's default: verification off.
    let server = TestApp::start().await;
    server.put_anchor(G, anchor(GOOD)).await;
    let (status, body) = verification(&server, Method::GET, G).await;
    assert_eq!(status, 200);
    assert_eq!(body["mode"], "off");
    assert!(
        body["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["status"] == "pending")
    );
    let r = server.admin(Method::POST, &path(G)).send().await.unwrap();
    let p = problem(r, 409).await;
    assert!(
        p["detail"].as_str().unwrap().contains("verification.mode"),
        "{p}"
    );
}

/// A verdict stored by one replica (here: this test, through the store's own interface) is read by every replica
/// sharing the Redis, and `enforce` mode (only) warns on a write of the refused target: a replica running when it was
/// stored hears it on the invalidation feed, one started later loads it.
#[tokio::test]
async fn verdicts_are_shared_and_enforced_across_replicas() {
    let redis = RedisServer::start();
    let url = redis.url();
    let start = |mode: &'static str| {
        let url = url.clone();
        async move {
            TestApp::start_with_env(
                &["--no-demo", "--redis-url", &url],
                &[("IDR_VERIFICATION__MODE", mode)],
            )
            .await
        }
    };
    let writer = start("off").await;
    let enforcing = start("enforce").await;
    let reporting = start("report").await;
    writer.put_anchor(G, anchor(BAD)).await;
    // A failed verdict on the DPP, for a version above any the record reaches here, so no replica's own check of a
    // later write (which is for a lower version) replaces it.
    let store = idr::registry::redis::RedisStore::connect(&settings_for(&url))
        .await
        .unwrap();
    let failed = json!({"version": 1_000_000, "links": [{
        "linkType": DPP, "href": BAD, "status": "failed",
        "reason": "the credential is about 09520123456795, not this product",
        "issuer": "did:web:localhost%3A1", "checkedAt": "2026-12-07T04:00:00Z"}]});
    assert!(
        store
            .put_verdicts(G, 1_000_000, &failed.to_string())
            .await
            .unwrap()
    );
    for server in [&writer, &enforcing, &reporting] {
        let (status, body) = verification(server, Method::GET, G).await;
        assert_eq!(status, 200);
        let dpp = link_of(&body, DPP);
        assert_eq!(dpp["status"], "failed", "{body}");
        assert_eq!(dpp["issuer"], "did:web:localhost%3A1");
        assert!(unchecked(link_of(&body, DCC)));
    }
    // The enforcing replica names the refused target on a write, once the feed told it.
    let deadline = Instant::now() + Duration::from_secs(5);
    let warning = loop {
        let r = enforcing
            .admin(Method::PUT, &crate::support::client::anchor_path(G))
            .json(&anchor(BAD))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        if let Some(w) = r.headers().get("warning") {
            break w.to_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no warning from the enforcing replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(warning.starts_with("299 "), "{warning}");
    assert!(warning.contains(&format!("untp:dpp {BAD}")), "{warning}");
    assert!(!warning.contains(CONFORMITY), "{warning}");
    for server in [&writer, &reporting] {
        let r = server
            .admin(Method::PUT, &crate::support::client::anchor_path(G))
            .json(&anchor(BAD))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        assert!(
            r.headers().get("warning").is_none(),
            "only enforce mode warns"
        );
    }
    // A replica started now loads the refused targets before it serves.
    let late = start("enforce").await;
    let r = late
        .admin(Method::PUT, &crate::support::client::anchor_path(G))
        .json(&anchor(BAD))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("warning").is_some(), "loaded at start-up");
    // A target no longer refused: the warning goes (fixed verdicts for the same version replace).
    let fixed = json!({"version": 1_000_000, "links": [{
        "linkType": DPP, "href": BAD, "status": "verified", "checkedAt": "2026-12-07T04:05:00Z"}]});
    assert!(
        store
            .put_verdicts(G, 1_000_000, &fixed.to_string())
            .await
            .unwrap()
    );
    let older = json!({"version": 3, "links": []});
    assert!(
        !store.put_verdicts(G, 3, &older.to_string()).await.unwrap(),
        "an older version never replaces"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = enforcing
            .admin(Method::PUT, &crate::support::client::anchor_path(G))
            .json(&anchor(BAD))
            .send()
            .await
            .unwrap();
        if r.headers().get("warning").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the warning stays after the fix");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn settings_for(url: &str) -> idr::config::StoreSettings {
    let overrides = idr::config::Overrides {
        redis_url: Some(url.to_string()),
        ..Default::default()
    };
    idr::config::Settings::load_with_env(&overrides, &std::collections::HashMap::new())
        .unwrap()
        .store
}

#[test]
fn idr_verify_checks_and_prints_a_table() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("anchors.ndjson");
    let mut line = anchor(GOOD);
    line["identifier"] = json!(G);
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let dir = data.path().join("store");
    let idr = |args: &[&str]| {
        crate::support::server::command()
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    assert!(idr(&["import", file.to_str().unwrap()]).status.success());
    let out = idr(&["verify", G]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("IDENTIFIER\tLINK TYPE\tSTATUS\tREASON\n"),
        "{text}"
    );
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with(G)).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with(&format!("{G}\tuntp:dpp\t")))
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with(&format!("{G}\tuntp:dcc\t")))
    );
    assert!(text.contains("checked 1 anchors, 2 links: "), "{text}");
    let all = idr(&["verify", "--all"]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("checked 1 anchors, 2 links: "));
    let missing = idr(&["verify", "01/09506000134352"]);
    assert_eq!(missing.status.code(), Some(1), "no anchor there");
    assert!(String::from_utf8_lossy(&missing.stdout).contains("01/09506000134352\t-\tno anchor"));
}

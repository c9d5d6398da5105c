//! The audit trail over real HTTP, on the embedded store and on Redis: every accepted write (and only those) is
//! recorded with who, when, what and the versions before and after; reads are paged and scoped; and after a crash in
//! the middle of a write storm the trail and the anchors still agree.

use crate::support::app::TestApp;
use crate::support::client::{Api, client};

use crate::support::redis::{RedisCluster, RedisServer};
use crate::support::server::{ADMIN_TOKEN, Server};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

const G: &str = "01/09520123456788";
const ACME: &str = "acme-secret";
const OTHER: &str = "other-secret";
/// The largest `after` a store accepts (2^53 - 1, the largest integer every JSON reader holds exactly).
const MAX_CURSOR: &str = "9007199254740991";
const AFTER_PROBLEM: &str =
    "must be the `next` value of an earlier page: a whole number from 0 to 9007199254740991";

/// Two scoped keys (hashes computed with coreutils `sha256sum`) and a management rate limit high enough for the
/// write storm.
fn config(dir: &Path) -> String {
    let path = dir.join("audit-test.toml");
    std::fs::write(
        &path,
        r#"
[limits]
management_requests_per_second = 100000.0
management_burst = 100000.0

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
    path.to_str().unwrap().to_string()
}

fn anchor(description: &str, href: &str) -> Value {
    json!({"itemDescription": description, "defaultLinkType": "gs1:pip",
           "links": [{"linkType": "gs1:pip", "href": href, "title": "Product information"}]})
}

async fn call(
    server: &impl Api,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = client()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn trail(server: &impl Api, query: &str, token: &str) -> (StatusCode, Value) {
    let r = client()
        .get(server.url(&format!("/api/v1/audit?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// (who, identifier, operation, before, after) of each entry.
fn summary(page: &Value) -> Vec<(String, String, String, Value, Value)> {
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["identifier"].as_str().unwrap().to_string(),
                e["operation"].as_str().unwrap().to_string(),
                e["before"].clone(),
                e["after"].clone(),
            )
        })
        .collect()
}

fn row(
    who: &str,
    id: &str,
    op: &str,
    before: Value,
    after: Value,
) -> (String, String, String, Value, Value) {
    (who.into(), id.into(), op.into(), before, after)
}

/// The same script of writes against any store, then what the trail must say about it.
async fn writes_are_audited(server: &impl Api) {
    let started = chrono::Utc::now() - chrono::Duration::seconds(5);
    let batch = format!("{G}/10/ABC");
    let anchors = |id: &str| format!("/api/v1/anchors/{id}");
    assert_eq!(
        call(
            server,
            Method::PUT,
            &anchors(G),
            ADMIN_TOKEN,
            Some(anchor("Shirt", "https://a.example/1"))
        )
        .await,
        201
    );
    assert_eq!(
        call(
            server,
            Method::PUT,
            &anchors(G),
            ACME,
            Some(anchor("Shirt", "https://a.example/2"))
        )
        .await,
        200
    );
    assert_eq!(
        call(
            server,
            Method::PUT,
            &anchors(&batch),
            ACME,
            Some(anchor("Batch", "https://a.example/b"))
        )
        .await,
        201
    );
    // Refused writes leave no entry: out of scope, a failed precondition, a bad body, no credential.
    assert_eq!(
        call(
            server,
            Method::PUT,
            &anchors(G),
            OTHER,
            Some(anchor("Nope", "https://x.example"))
        )
        .await,
        403
    );
    let r = client()
        .put(server.url(&anchors(G)))
        .bearer_auth(ACME)
        .header("If-Match", "\"9\"")
        .json(&anchor("Stale", "https://a.example/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412);
    assert_eq!(
        call(
            server,
            Method::PUT,
            &anchors(G),
            ACME,
            Some(json!({"links": 5}))
        )
        .await,
        400
    );
    assert_eq!(
        client()
            .delete(server.url(&anchors(G)))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        call(server, Method::DELETE, &anchors(&batch), ACME, None).await,
        204
    );
    assert_eq!(
        call(
            server,
            Method::POST,
            &format!("/api/v1/anchors/{batch}:restore"),
            ACME,
            None
        )
        .await,
        201
    );
    assert_eq!(
        call(
            server,
            Method::DELETE,
            &format!("{}?hard=true", anchors(&batch)),
            ADMIN_TOKEN,
            None
        )
        .await,
        204
    );
    // Deleting what is not there writes nothing.
    assert_eq!(
        call(server, Method::DELETE, &anchors(&batch), ACME, None).await,
        404
    );

    let (status, page) = trail(server, &format!("identifier={G}"), ACME).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["identifier"], G);
    assert_eq!(
        summary(&page),
        vec![
            row("admin", G, "create", Value::Null, json!(1)),
            row("acme", G, "replace", json!(1), json!(2)),
            row("acme", &batch, "create", Value::Null, json!(1)),
            row("acme", &batch, "delete", json!(1), Value::Null),
            row("acme", &batch, "restore", Value::Null, json!(2)),
            row("admin", &batch, "delete", json!(2), Value::Null),
            row("admin", &batch, "purge", Value::Null, Value::Null),
        ]
    );
    assert!(page.get("next").is_none(), "{page}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap().parse().unwrap())
        .collect();
    let now = chrono::Utc::now() + chrono::Duration::seconds(5);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(
        times.iter().all(|t| *t >= started && *t <= now),
        "{times:?}"
    );

    // A qualifier level's trail holds only that level (and below).
    let (_, page) = trail(server, &format!("identifier={batch}"), ACME).await;
    let ops: Vec<String> = summary(&page).into_iter().map(|r| r.2).collect();
    assert_eq!(ops, ["create", "delete", "restore", "delete", "purge"]);

    // Paging: pages of two, linked by `next` and a Link header, add up to the whole trail.
    let mut cursor: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let after = cursor
            .as_ref()
            .map(|c| format!("&after={c}"))
            .unwrap_or_default();
        let r = client()
            .get(server.url(&format!("/api/v1/audit?identifier={G}&limit=2{after}")))
            .bearer_auth(ACME)
            .send()
            .await
            .unwrap();
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Value = r.json().await.unwrap();
        paged.extend(summary(&page));
        match page["next"].as_str() {
            Some(next) => {
                assert!(link.unwrap().contains("rel=\"next\""));
                cursor = Some(next.to_string());
            }
            None => break,
        }
        assert!(paged.len() <= 8, "paging does not end");
    }
    assert_eq!(paged.len(), 7);
    let (_, whole) = trail(server, &format!("identifier={G}"), ACME).await;
    assert_eq!(paged, summary(&whole));

    // `since` in the future finds nothing; in the past, everything.
    let (_, page) = trail(server, &format!("identifier={G}&since=4102444800"), ACME).await;
    assert_eq!(page["entries"], json!([]));
    let (_, page) = trail(
        server,
        &format!("identifier={G}&since=2020-01-01T00:00:00Z"),
        ACME,
    )
    .await;
    assert_eq!(summary(&page).len(), 7);

    // Scope, credentials and bad parameters.
    let (status, problem) = trail(server, &format!("identifier={G}"), OTHER).await;
    assert_eq!(status, 403, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("01/0950600*"),
        "{problem}"
    );
    let r = client()
        .get(server.url(&format!("/api/v1/audit?identifier={G}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    for (query, field) in [
        ("", "identifier"),
        (&*format!("identifier={G}&since=yesterday"), "since"),
        (&*format!("identifier={G}&limit=0"), "limit"),
    ] {
        let (status, problem) = trail(server, query, ACME).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert!(problem.to_string().contains(field), "{query}: {problem}");
    }
    // A cursor out of range or malformed is the client's error, the same problem on every store (no store's text).
    for after in [
        "not-a-cursor",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775807",
        "-1",
        "%2B1",
        "1.5",
    ] {
        let (status, problem) = trail(server, &format!("identifier={G}&after={after}"), ACME).await;
        assert_eq!(status, 400, "after={after}: {problem}");
        assert_eq!(
            problem["errors"][0]["field"], "after",
            "after={after}: {problem}"
        );
        assert_eq!(problem["detail"], AFTER_PROBLEM, "after={after}: {problem}");
    }
    // The largest cursor accepted finds nothing after it.
    let (status, page) = trail(server, &format!("identifier={G}&after={MAX_CURSOR}"), ACME).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["entries"], json!([]));
    let (status, page) = trail(
        server,
        &format!("identifier={G}&since=18446744073709551615"),
        ACME,
    )
    .await;
    assert_eq!(
        (status, &page["entries"]),
        (StatusCode::OK, &json!([])),
        "{page}"
    );
    let (status, _) = trail(server, "identifier=01/09520123456789", ACME).await;
    assert_eq!(status, 400, "a bad check digit is a bad identifier");
}

#[tokio::test]
async fn writes_are_audited_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    writes_are_audited(&server).await;
}

#[tokio::test]
async fn writes_are_audited_on_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--config",
        &config(dir.path()),
        "--redis-url",
        &redis.url(),
    ])
    .await;
    writes_are_audited(&server).await;
    // The trail lives in the anchor's slot: one stream per primary key, beside the anchor keys.
    assert_eq!(
        redis.keys("idr:audit:*"),
        vec![format!("idr:audit:{{{G}}}")]
    );
}

#[tokio::test]
async fn imports_and_pyx_writes_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    let body = json!({"namespace": "gs1", "identificationKeyType": "01", "identificationKey": "09520123456788",
        "itemDescription": "Shirt", "qualifierPath": "/",
        "active": true, "responses": [{"defaultLinkType": true, "defaultMimeType": true, "defaultIanaLanguage": true,
            "defaultContext": true, "linkType": "gs1:pip", "linkTitle": "Info", "targetUrl": "https://a.example/p",
            "mimeType": "text/html", "ianaLanguage": "en", "context": "au", "active": true, "fwqs": false}]});
    assert_eq!(
        call(
            &server,
            Method::POST,
            "/api/2.0.0/resolver",
            ACME,
            Some(body)
        )
        .await,
        201
    );
    server.stop();
    let file = dir.path().join("import.ndjson");
    std::fs::write(
        &file,
        format!("{}\n", json!({"identifier": format!("{G}/10/LOT1"), "itemDescription": "Lot", "defaultLinkType": "gs1:pip",
            "links": [{"linkType": "gs1:pip", "href": "https://a.example/l", "title": "Lot"}]})),
    )
    .unwrap();
    let out = crate::support::server::command()
        .args(["import", "--data-dir"])
        .arg(server.data_dir())
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.resume().await;
    let (_, page) = trail(&server, &format!("identifier={G}"), ACME).await;
    assert_eq!(
        summary(&page),
        vec![
            row("acme", G, "create", Value::Null, json!(1)),
            row(
                "cli (idr import)",
                &format!("{G}/10/LOT1"),
                "import",
                Value::Null,
                json!(1)
            ),
        ]
    );
}

/// Concurrent writers, then `kill -9` of the server in the middle: afterwards every anchor's version is the `after`
/// of its last audit entry, and every acknowledged write has its entry (the write and its entry are one step).
#[tokio::test]
async fn a_crash_never_separates_a_write_from_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    let ids: Vec<String> = (0..8).map(|i| format!("{G}/10/L{i}")).collect();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<String, u64>::new()));
    let mut writers = Vec::new();
    for id in ids.clone() {
        let (url, acknowledged) = (
            server.url(&format!("/api/v1/anchors/{id}")),
            acknowledged.clone(),
        );
        writers.push(tokio::spawn(async move {
            for n in 0..1000 {
                let r = client()
                    .put(&url)
                    .bearer_auth(ACME)
                    .json(&anchor("Lot", &format!("https://a.example/{n}")))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if !r.status().is_success() {
                    break;
                }
                let version = r
                    .json::<Value>()
                    .await
                    .map(|v| v["version"].as_u64().unwrap());
                let Ok(version) = version else { break };
                acknowledged.lock().unwrap().insert(id.clone(), version);
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.crash_and_restart().await;
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.values().sum::<u64>() >= 8,
        "the storm wrote too little to test: {acknowledged:?}"
    );
    for id in &ids {
        let r = client()
            .get(server.url(&format!("/api/v1/anchors/{id}")))
            .bearer_auth(ACME)
            .send()
            .await
            .unwrap();
        let stored = if r.status() == 404 {
            0
        } else {
            r.json::<Value>().await.unwrap()["version"]
                .as_u64()
                .unwrap()
        };
        let mut entries = Vec::new();
        let mut after = String::new();
        loop {
            let (_, page) =
                trail(&server, &format!("identifier={id}&limit=1000{after}"), ACME).await;
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            match page["next"].as_str() {
                Some(c) => after = format!("&after={c}"),
                None => break,
            }
        }
        let versions: Vec<u64> = entries
            .iter()
            .map(|e| e["after"].as_u64().unwrap())
            .collect();
        assert_eq!(
            versions,
            (1..=stored).collect::<Vec<_>>(),
            "{id}: one entry per version, no gaps"
        );
        assert!(
            stored >= acknowledged.get(id).copied().unwrap_or(0),
            "{id}: an acknowledged write was lost"
        );
    }
}

// Retention (`audit.retain_days`): the trim is driven here with an explicit cut-off time, as the background task
// drives it with "now minus the retention"; no test waits for days to pass.

const H: &str = "01/09506000134369";

fn record(description: &str) -> idr::registry::AnchorRecord {
    serde_json::from_value(anchor(description, "https://a.example/p")).unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn entries(
    store: &idr::registry::Registry,
    identifier: &str,
    after: Option<u64>,
) -> Vec<idr::registry::AuditEntry> {
    let query = idr::registry::AuditQuery {
        identifier,
        since_ms: 0,
        after,
        limit: 1000,
    };
    store.audit.audit(&query).await.unwrap()
}

/// Entries written before the cut-off go, later ones stay with their cursors, in steps of bounded work that resume
/// where the last stopped; the export then holds what is left.
async fn old_entries_are_trimmed(store: &idr::registry::Registry) {
    use idr::registry::Precondition;
    for (key, description) in [
        (G, "a"),
        (G, "b"),
        ("01/09520123456788/10/A", "c"),
        (H, "d"),
    ] {
        store
            .anchors
            .put(key, record(description), Precondition::None, "test")
            .await
            .unwrap();
    }
    let old = entries(store, G, None).await;
    assert_eq!(old.len(), 3);
    let newest_old = old
        .iter()
        .chain(&entries(store, H, None).await)
        .map(|e| e.at_ms)
        .max()
        .unwrap();
    // The next entry is written in a later millisecond than every old one.
    while now_ms() <= newest_old {
        std::thread::yield_now();
    }
    store
        .anchors
        .put(G, record("e"), Precondition::None, "test")
        .await
        .unwrap();
    let before_trim = entries(store, G, None).await;
    let kept = before_trim.last().unwrap().clone();
    assert!(kept.at_ms > newest_old);

    let cutoff = newest_old + 1;
    let (mut removed, mut steps, mut resume) = (0, 0, None);
    loop {
        let step = store.audit.trim_audit(cutoff, 1, resume).await.unwrap();
        removed += step.removed;
        steps += 1;
        resume = step.resume;
        if resume.is_none() {
            break;
        }
        assert!(steps < 100, "the trim does not finish");
    }
    assert_eq!(removed, 4, "three old entries of {G}, one of {H}");
    assert!(steps > 2, "a budget of 1 takes several steps: {steps}");

    assert_eq!(
        entries(store, G, None).await,
        vec![kept.clone()],
        "the newer entry stays, cursor and all"
    );
    assert!(entries(store, H, None).await.is_empty());
    let after_an_old_cursor: u64 = old[0].cursor.parse().unwrap();
    assert_eq!(
        entries(store, G, Some(after_an_old_cursor)).await,
        vec![kept.clone()]
    );
    let after_kept: u64 = kept.cursor.parse().unwrap();
    assert!(entries(store, G, Some(after_kept)).await.is_empty());

    let again = store.audit.trim_audit(cutoff, 1000, None).await.unwrap();
    assert_eq!(
        again,
        idr::registry::TrimStep {
            removed: 0,
            resume: None
        }
    );
    // New writes continue the cursors.
    store
        .anchors
        .put(G, record("f"), Precondition::None, "test")
        .await
        .unwrap();
    let now = entries(store, G, None).await;
    assert_eq!(now.len(), 2);
    assert!(now[1].cursor.parse::<u64>().unwrap() > after_kept);

    let mut exported = Vec::new();
    store
        .audit
        .export_audit(&mut |e| {
            exported.push(e);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(exported, now, "the export holds every entry left");
}

#[tokio::test]
async fn old_entries_are_trimmed_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = idr::registry::embedded::EmbeddedStore::open(dir.path()).unwrap();
    old_entries_are_trimmed(&idr::registry::Registry::of(std::sync::Arc::new(store))).await;
}

#[tokio::test]
async fn old_entries_are_trimmed_on_redis() {
    let redis = RedisServer::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(redis.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let store = idr::app::open_store(&settings).await.unwrap();
    old_entries_are_trimmed(&store).await;
    assert_eq!(redis.cli(&["GET", &format!("idr:audit-base:{{{G}}}")]), "3");
}

/// The server runs the trim itself, from start-up: an entry from 400 days ago (written straight into Redis) goes,
/// today's stay.
#[tokio::test]
async fn the_server_trims_past_the_retention_from_start_up() {
    let redis = RedisServer::start();
    let old_ms = now_ms() - 400 * 86_400_000;
    let list = format!("idr:audit:{{{G}}}");
    let entry = format!(r#"[{old_ms},"create",null,1,"{G}","admin"]"#);
    redis.cli(&["RPUSH", &list, &entry]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("retain.toml");
    std::fs::write(&config, "[audit]\nretain_days = 30\n").unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--config",
        config.to_str().unwrap(),
        "--redis-url",
        &redis.url(),
    ])
    .await;
    server
        .put_anchor(G, anchor("x", "https://a.example/p"))
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, page) = trail(&server, &format!("identifier={G}"), ADMIN_TOKEN).await;
        assert_eq!(status, 200);
        let ops: Vec<(String, String)> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["operation"].as_str().unwrap().to_string(),
                    e["cursor"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        if ops.len() == 1 {
            // Today's write, at index 1 before the trim and base 1 + index 0 after it.
            assert_eq!(ops, [("create".to_string(), "1".to_string())]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not trimmed: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `idr audit export` writes every entry of every identifier as NDJSON, in the audit API's shape.
#[tokio::test]
async fn the_audit_export_command_writes_every_entry() {
    let mut server = Server::start().await;
    server
        .put_anchor(G, anchor("x", "https://a.example/p"))
        .await;
    server
        .put_anchor(G, anchor("y", "https://a.example/p"))
        .await;
    server
        .put_anchor(H, anchor("z", "https://a.example/p"))
        .await;
    server.stop();
    let out = crate::support::server::command()
        .args(["audit", "export", "--data-dir"])
        .arg(server.data_dir())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["identifier"].as_str().unwrap(),
                l["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(H, "create"), (G, "create"), (G, "replace")]);
    assert!(
        lines
            .iter()
            .all(|l| l["who"] == "admin" && l["at"].as_str().unwrap().ends_with('Z'))
    );
}

#[tokio::test]
async fn old_entries_are_trimmed_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(cluster.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let store = idr::app::open_store(&settings).await.unwrap();
    old_entries_are_trimmed(&store).await;
}

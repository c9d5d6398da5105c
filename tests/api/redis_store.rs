//! The Redis store: the same answers as the embedded store, atomic writes across replicas, the key layout, and
//! cache coherence between replicas sharing one Redis (a write acknowledged by one is resolved by another within
//! 100 ms).

use crate::support;
use crate::support::client::Api;

use crate::support::app::TestApp;
use crate::support::client::client;
use crate::support::redis::RedisServer;
use crate::support::server::{ADMIN_TOKEN, Server};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const G: &str = "01/09520123456788";
const ROOT: &str = "https://resolver.example";

async fn replica(redis_url: &str) -> TestApp {
    TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--redis-url",
        redis_url,
    ])
    .await
}

fn pip(href: &str, lang: &str) -> Value {
    json!({"linkType": "gs1:pip", "href": href, "title": format!("Product information ({lang})"),
           "type": "text/html", "hreflang": [lang]})
}

fn product(description: &str, href: &str) -> Value {
    json!({"itemDescription": description, "defaultLinkType": "gs1:pip", "links": [pip(href, "en")]})
}

/// What a response looks like, minus what legitimately differs between two servers (ports, dates).
#[derive(Debug, PartialEq)]
struct Observation {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Value,
}

const COMPARED_HEADERS: [&str; 9] = [
    "etag",
    "location",
    "content-type",
    "link",
    "vary",
    "warning",
    "retry-after",
    "www-authenticate",
    "allow",
];

async fn send(
    server: &impl Api,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
    auth: bool,
) -> Observation {
    let mut request = client()
        .request(method.clone(), server.url(path))
        .timeout(Duration::from_secs(10));
    if auth {
        request = request.bearer_auth(ADMIN_TOKEN);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = response.status().as_u16();
    let headers = COMPARED_HEADERS
        .iter()
        .filter_map(|name| {
            response.headers().get(*name).map(|v| {
                (
                    name.to_string(),
                    v.to_str().unwrap_or("<non-ASCII>").to_string(),
                )
            })
        })
        .collect();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Observation {
        status,
        headers,
        body,
    }
}

struct Step {
    method: Method,
    path: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<Value>,
    auth: bool,
    expect: u16,
}

fn step(method: Method, path: &str, expect: u16) -> Step {
    let auth = path.starts_with("/api/");
    Step {
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: None,
        auth,
        expect,
    }
}

impl Step {
    fn header(mut self, name: &'static str, value: &'static str) -> Step {
        self.headers.push((name, value));
        self
    }
    fn body(mut self, body: Value) -> Step {
        self.body = Some(body);
        self
    }
    fn anonymous(mut self) -> Step {
        self.auth = false;
        self
    }
}

fn api(identifier: &str) -> String {
    format!("/api/v1/anchors/{identifier}")
}

#[tokio::test]
async fn redis_answers_exactly_like_the_embedded_store() {
    let redis = RedisServer::start();
    let embedded = TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await;
    let shared = replica(&redis.url()).await;

    let gtin_body = json!({"itemDescription": "Battery pack", "defaultLinkType": "gs1:pip", "links": [
        pip("https://brand.example/p/en", "en"), pip("https://brand.example/p/de", "de"),
        {"linkType": "gs1:certificationInfo", "href": "https://brand.example/certs", "title": "Certificates",
         "type": "text/html", "context": ["eu"]}]});
    let batch_body = json!({"itemDescription": "Batch ABC", "links": [
        {"linkType": "untp:dcc", "href": "https://certifier.example/dcc/ABC.jwt", "title": "DCC",
         "type": "application/vc+jwt", "hreflang": ["en"]}]});
    let serial_body = json!({"itemDescription": "Serial 12345", "defaultLinkType": "untp:dpp", "links": [
        {"linkType": "untp:dpp", "href": "https://cred.example/dpp/v1.jwt", "title": "DPP v1",
         "type": "application/vc+jwt", "rel": ["predecessor-version"]},
        {"linkType": "untp:dpp", "href": "https://cred.example/dpp/v2.jwt", "title": "DPP v2",
         "type": "application/vc+jwt", "hreflang": ["en"]}]});
    let batch = format!("{G}/10/ABC");
    let serial = format!("{G}/21/12345");
    let linkset = "application/linkset+json";

    let steps = vec![
        step(Method::GET, &api(G), 404),
        step(Method::PUT, &api(G), 201).body(gtin_body.clone()),
        step(Method::PUT, &api(&batch), 201).body(batch_body.clone()),
        step(Method::PUT, &api(&serial), 201).body(serial_body.clone()),
        step(Method::GET, &api(G), 200),
        step(Method::GET, &api(&batch), 200),
        step(Method::GET, &api(&serial), 200),
        step(Method::GET, &format!("/{G}"), 307),
        step(Method::HEAD, &format!("/{G}"), 307),
        step(Method::GET, &format!("/{G}"), 307).header("accept-language", "de-CH, en;q=0.5"),
        step(
            Method::GET,
            &format!("/{G}?linkType=gs1:certificationInfo&context=eu"),
            307,
        ),
        step(Method::GET, &format!("/{batch}"), 307),
        step(Method::GET, &format!("/{batch}?linkType=untp:dcc"), 307),
        step(Method::GET, &format!("/{G}/10/NEWBATCH"), 307),
        step(Method::GET, &format!("/{serial}"), 307),
        step(Method::GET, &format!("/{G}/10/ABC/21/12345"), 307),
        step(
            Method::GET,
            &format!("/{G}/10/ABC/21/12345?linkType=linkset"),
            200,
        ),
        step(Method::GET, &format!("/{serial}"), 200).header("accept", linkset),
        step(Method::GET, &format!("/{G}?linkType=all"), 200),
        step(Method::GET, &format!("/{G}?linkType=untp:dpp"), 404),
        step(Method::GET, "/01/09506000134369", 404),
        step(Method::GET, "/01/09506000134369?linkType=linkset", 404),
        step(Method::GET, "/01/09520123456787", 400),
        step(Method::GET, "/products/01/9520123456788", 307),
        // Conditional writes.
        step(Method::PUT, &api(G), 412)
            .header("if-match", "\"7\"")
            .body(product("Stale", "https://brand.example/stale")),
        step(Method::PUT, &api(G), 412)
            .header("if-none-match", "*")
            .body(product("Stale", "https://brand.example/stale")),
        step(Method::PUT, &api("01/09506000134369"), 412)
            .header("if-match", "*")
            .body(product("Nothing", "https://brand.example/n")),
        step(Method::PUT, &api(G), 412)
            .header("if-match", "W/\"1\"")
            .body(product("Weak", "https://brand.example/weak")),
        step(Method::PUT, &api(G), 200)
            .header("if-match", "\"3\", \"1\"")
            .body(gtin_body.clone()),
        step(Method::GET, &api(G), 200),
        step(Method::GET, "/01/09506000134369", 404),
        // Refused writes change nothing.
        step(Method::PUT, &api(&batch), 422).body(json!({"itemDescription": "x", "links": [
            {"linkType": "untp:dcc", "href": "not a url", "title": "t"}]})),
        step(Method::PUT, &api(&batch), 400).body(json!({"itemDescription": "x", "links": [
            {"linkType": "gs1:nosuch", "href": "https://x.example", "title": "t"}]})),
        step(Method::PUT, &api(&batch), 401)
            .anonymous()
            .body(batch_body.clone()),
        step(Method::GET, &api(&batch), 200),
        // Deletes, tombstones, re-creation.
        step(Method::DELETE, &api(&batch), 412).header("if-match", "\"9\""),
        step(Method::DELETE, &api(&batch), 204).header("if-match", "\"1\""),
        step(Method::DELETE, &api(&batch), 404),
        step(Method::GET, &api(&batch), 404),
        step(Method::GET, &format!("/{batch}?linkType=untp:dcc"), 404),
        step(Method::GET, &format!("/{batch}"), 307),
        step(Method::PUT, &api(&batch), 412)
            .header("if-match", "\"1\"")
            .body(batch_body.clone()),
        step(Method::PUT, &api(&batch), 201)
            .header("if-none-match", "*")
            .body(batch_body.clone()),
        step(Method::GET, &api(&batch), 200),
        step(
            Method::GET,
            &format!("/{G}/10/ABC/21/12345?linkType=linkset"),
            200,
        ),
        step(Method::DELETE, &api(G), 204),
        step(Method::GET, &format!("/{G}"), 404),
        step(Method::GET, &format!("/{serial}"), 307),
        step(Method::GET, &format!("/{serial}?linkType=linkset"), 200),
    ];

    for (i, s) in steps.iter().enumerate() {
        let a = send(
            &embedded,
            s.method.clone(),
            &s.path,
            &s.headers,
            s.body.as_ref(),
            s.auth,
        )
        .await;
        let b = send(
            &shared,
            s.method.clone(),
            &s.path,
            &s.headers,
            s.body.as_ref(),
            s.auth,
        )
        .await;
        let what = format!("step {i}: {} {} {:?}", s.method, s.path, s.headers);
        assert_eq!(a.status, s.expect, "{what} (embedded store): {a:?}");
        assert_eq!(
            b, a,
            "{what}: Redis store (left) differs from embedded (right)"
        );
    }
    let ids: Vec<String> = redis.keys("idr:a:*");
    assert!(
        ids.iter().any(|k| k.ends_with("/21/12345")),
        "the anchors live in Redis: {ids:?}"
    );
}

#[tokio::test]
async fn concurrent_if_match_writers_on_two_replicas_one_wins() {
    let redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    a.put_anchor(G, product("v1", "https://brand.example/v1"))
        .await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let url = if i % 2 == 0 {
            a.url(&api(G))
        } else {
            b.url(&api(G))
        };
        let body = product(
            &format!("writer {i}"),
            &format!("https://brand.example/w{i}"),
        );
        tasks.push(tokio::spawn(async move {
            let r = client()
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .header("if-match", "\"1\"")
                .json(&body)
                .send()
                .await
                .expect("PUT");
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string());
            (i, r.status().as_u16(), etag)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, status, etag) = task.await.expect("task");
        match status {
            200 => winners.push((i, etag)),
            412 => {}
            other => panic!("writer {i}: {other}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one If-Match writer wins: {winners:?}"
    );
    let (winner, etag) = &winners[0];
    assert_eq!(etag.as_deref(), Some("\"2\""));
    for server in [&a, &b] {
        let r = send(server, Method::GET, &api(G), &[], None, true).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["etag"], "\"2\"");
        assert_eq!(r.body["itemDescription"], format!("writer {winner}"));
    }
}

#[tokio::test]
async fn concurrent_unconditional_writers_never_lose_a_write() {
    let redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    const WRITES: u64 = 40;
    let mut tasks = Vec::new();
    for i in 0..WRITES {
        let url = if i % 2 == 0 {
            a.url(&api(G))
        } else {
            b.url(&api(G))
        };
        let body = product(
            &format!("writer {i}"),
            &format!("https://brand.example/w{i}"),
        );
        tasks.push(tokio::spawn(async move {
            let r = client()
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("PUT");
            let status = r.status().as_u16();
            let etag = r
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (i, status, etag)
        }));
    }
    let mut versions = BTreeSet::new();
    let mut created = 0;
    for task in tasks {
        let (i, status, etag) = task.await.expect("task");
        assert!(status == 200 || status == 201, "writer {i}: {status}");
        if status == 201 {
            created += 1;
        }
        let version: u64 = etag
            .trim_matches('"')
            .parse()
            .unwrap_or_else(|_| panic!("writer {i}: ETag {etag:?}"));
        assert!(versions.insert(version), "version {version} given twice");
    }
    assert_eq!(created, 1, "exactly one writer created the anchor");
    assert_eq!(versions, (1..=WRITES).collect::<BTreeSet<u64>>());
    let r = send(&b, Method::GET, &api(G), &[], None, true).await;
    assert_eq!(r.headers["etag"], format!("\"{WRITES}\""));
    assert_eq!(r.body["version"], WRITES);
}

#[tokio::test]
async fn anchor_keys_are_hash_tagged_by_primary_key() {
    let redis = RedisServer::start();
    let server = replica(&redis.url()).await;
    server
        .put_anchor(G, product("Pack", "https://brand.example/p"))
        .await;
    server
        .put_anchor(
            &format!("{G}/10/ABC"),
            json!({"itemDescription": "Batch", "links": [pip("https://brand.example/b", "en")]}),
        )
        .await;
    server
        .put_anchor(
            &format!("{G}/21/12345"),
            json!({"itemDescription": "Serial", "links": [pip("https://brand.example/s", "en")]}),
        )
        .await;
    server
        .put_anchor(
            "414/9520123456788",
            json!({"itemDescription": "Site", "links": [pip("https://brand.example/site", "en")]}),
        )
        .await;
    let keys = redis.keys("idr:a:*");
    for expected in [
        "idr:a:{01/09520123456788}",
        "idr:a:{01/09520123456788}/10/ABC",
        "idr:a:{01/09520123456788}/21/12345",
        "idr:a:{414/9520123456788}",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} missing in {keys:?}"
        );
    }
    // Every idr key names its primary key as the hash tag.
    for key in redis.keys("idr:*") {
        assert!(
            key.contains("{01/09520123456788}")
                || key.contains("{414/9520123456788}")
                || !key.starts_with("idr:a:"),
            "{key}"
        );
    }
}

/// Entries in the replica's record cache, as `/metrics` reports them.
async fn cache_entries(server: &impl Api) -> u64 {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let line = text
        .lines()
        .find(|l| l.starts_with("idr_cache_entries "))
        .unwrap_or_else(|| panic!("no idr_cache_entries in:\n{text}"));
    line["idr_cache_entries ".len()..]
        .trim()
        .parse::<f64>()
        .expect("a number") as u64
}

/// A replica with a GTIN and one of its serials registered, each with a default link of its own (`/p`, `/s1`).
async fn gtin_and_serial(redis: &RedisServer) -> (TestApp, String) {
    let server = replica(&redis.url()).await;
    with_gtin_and_serial(server).await
}

/// Registers a GTIN and one of its serials on `server`.
async fn with_gtin_and_serial<A: Api>(server: A) -> (A, String) {
    let serial = format!("{G}/21/S1");
    server
        .put_anchor(G, product("Pack", "https://brand.example/p"))
        .await;
    server
        .put_anchor(&serial, product("Item", "https://brand.example/s1"))
        .await;
    (server, serial)
}

#[tokio::test]
async fn a_scan_caches_the_levels_its_answer_used() {
    let redis = RedisServer::start();
    // A subprocess: `/metrics` values are per process.
    let server = Server::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--redis-url",
        &redis.url(),
    ])
    .await;
    let (server, serial) = with_gtin_and_serial(server).await;
    let client = client();
    assert_eq!(cache_entries(&server).await, 0, "writes cache nothing");

    // The serial's own default link settles the answer: its GTIN came in the same MGET but is not cached.
    let scan = location_on(&server, &client, &format!("/{serial}")).await;
    assert_eq!(scan, (307, "https://brand.example/s1".to_string()));
    assert_eq!(cache_entries(&server).await, 1, "the serial's record only");
    let scan = location_on(&server, &client, &format!("/{G}")).await;
    assert_eq!(scan, (307, "https://brand.example/p".to_string()));
    assert_eq!(
        cache_entries(&server).await,
        2,
        "and the GTIN's, once scanned"
    );

    // An unknown serial resolves at its GTIN: both levels were needed, and both are cached (one as "nothing there").
    let unknown = format!("/{G}/21/UNKNOWN");
    let scan = location_on(&server, &client, &unknown).await;
    assert_eq!(scan, (307, "https://brand.example/p".to_string()));
    assert_eq!(
        cache_entries(&server).await,
        3,
        "the unknown serial's absence too"
    );
}

/// A scan settled by its own level does not decode the levels above it, which came with the same `MGET`: an
/// unreadable GTIN record (here, bytes no format of idr's writes) fails only the answers that need it.
#[tokio::test]
async fn a_scan_decodes_only_the_levels_its_answer_used() {
    let redis = RedisServer::start();
    let (server, serial) = gtin_and_serial(&redis).await;
    let gtin_key = "idr:a:{01/09520123456788}";
    assert!(redis.keys("idr:a:*").iter().any(|k| k == gtin_key));
    assert_eq!(redis.cli(&["SET", gtin_key, "not a record"]).trim(), "OK");
    let client = client();

    let scan = location_on(&server, &client, &format!("/{serial}")).await;
    assert_eq!(scan, (307, "https://brand.example/s1".to_string()));
    // Answers that need the GTIN's record still say the store failed them.
    let unknown = location_on(&server, &client, &format!("/{G}/21/UNKNOWN")).await;
    assert_eq!(unknown.0, 503, "a walk-up to the unreadable GTIN");
    let linkset = client
        .get(server.url(&format!("/{serial}?linkType=linkset")))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        linkset.status().as_u16(),
        503,
        "a linkset lists every level"
    );
}

#[tokio::test]
async fn a_config_file_selects_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        format!("[store]\nredis_url = \"{}\"\n", redis.url()),
    )
    .expect("write config");
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    server
        .put_anchor(G, product("Pack", "https://brand.example/p"))
        .await;
    assert!(
        redis
            .keys("idr:a:*")
            .iter()
            .any(|k| k.contains("{01/09520123456788}")),
        "written to Redis: {:?}",
        redis.keys("*")
    );
}

async fn location_on(server: &impl Api, client: &reqwest::Client, path: &str) -> (u16, String) {
    let r = client
        .get(server.url(path))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("GET");
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

/// Polls `path` on `server` every 5 ms until it answers `(status, location)`; panics after 100 ms.
async fn seen_within_100ms(server: &impl Api, path: &str, status: u16, location: &str, what: &str) {
    let client = client();
    let start = Instant::now();
    let mut last;
    loop {
        last = location_on(server, &client, path).await;
        if last.0 == status && last.1 == location {
            return;
        }
        if start.elapsed() > Duration::from_millis(100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!(
        "{what}: GET {path} on the other replica still answers {last:?} {:?} after the write was acknowledged, \
         expected ({status}, {location:?})",
        start.elapsed()
    );
}

async fn cached(server: &impl Api, path: &str, status: u16, location: &str) {
    let client = client();
    for _ in 0..3 {
        assert_eq!(
            location_on(server, &client, path).await,
            (status, location.to_string()),
            "before the write: GET {path}"
        );
    }
}

#[tokio::test]
async fn writes_on_one_replica_reach_another_within_100ms() {
    let redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    let gtin = format!("/{G}");

    // Replacements, alternating the writer.
    a.put_anchor(G, product("v0", "https://brand.example/v0"))
        .await;
    let mut current = "https://brand.example/v0".to_string();
    for round in 1..=6 {
        let (writer, reader) = if round % 2 == 1 { (&a, &b) } else { (&b, &a) };
        cached(reader, &gtin, 307, &current).await;
        cached(writer, &gtin, 307, &current).await;
        let next = format!("https://brand.example/v{round}");
        writer
            .put_anchor(G, product(&format!("v{round}"), &next))
            .await;
        seen_within_100ms(reader, &gtin, 307, &next, &format!("replacement {round}")).await;
        // The writer itself answers the new target at once.
        assert_eq!(
            location_on(writer, &client(), &gtin).await,
            (307, next.clone())
        );
        current = next;
    }

    // A new batch under a GTIN that the other replica resolved by walking up.
    let walk = format!("/{G}/10/NEW");
    cached(&b, &walk, 307, &current).await;
    a.put_anchor(
        &format!("{G}/10/NEW"),
        json!({"itemDescription": "Batch", "defaultLinkType": "gs1:pip",
               "links": [pip("https://brand.example/batch-new", "en")]}),
    )
    .await;
    seen_within_100ms(
        &b,
        &walk,
        307,
        "https://brand.example/batch-new",
        "new batch",
    )
    .await;

    // A GTIN the other replica answered 404 for.
    let other = "/01/09506000134369";
    cached(&b, other, 404, "").await;
    a.put_anchor(
        "01/09506000134369",
        product("Other", "https://other.example/p"),
    )
    .await;
    seen_within_100ms(&b, other, 307, "https://other.example/p", "new GTIN").await;

    // Deletes: the batch goes, the scan walks up again; the GTINs go, 404.
    cached(&b, &walk, 307, "https://brand.example/batch-new").await;
    let r = send(
        &a,
        Method::DELETE,
        &api(&format!("{G}/10/NEW")),
        &[],
        None,
        true,
    )
    .await;
    assert_eq!(r.status, 204);
    seen_within_100ms(&b, &walk, 307, &current, "deleted batch").await;
    cached(&a, other, 307, "https://other.example/p").await;
    let r = send(
        &b,
        Method::DELETE,
        &api("01/09506000134369"),
        &[],
        None,
        true,
    )
    .await;
    assert_eq!(r.status, 204);
    seen_within_100ms(&a, other, 404, "", "deleted GTIN").await;
    cached(&b, &gtin, 307, &current).await;
    let r = send(&a, Method::DELETE, &api(G), &[], None, true).await;
    assert_eq!(r.status, 204);
    seen_within_100ms(&b, &gtin, 404, "", "deleted GTIN").await;

    // The management API on the other replica sees the new version too.
    let r = send(&b, Method::GET, &api(G), &[], None, true).await;
    assert_eq!(r.status, 404);
    a.put_anchor(G, product("again", "https://brand.example/again"))
        .await;
    let etag = send(&a, Method::GET, &api(G), &[], None, true)
        .await
        .headers["etag"]
        .clone();
    let start = Instant::now();
    loop {
        let r = send(&b, Method::GET, &api(G), &[], None, true).await;
        if r.status == 200 && r.headers.get("etag") == Some(&etag) {
            break;
        }
        assert!(
            start.elapsed() <= Duration::from_millis(100),
            "GET {} on B: {r:?} {:?} after A's write (A says {etag})",
            api(G),
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The harness itself: an acknowledged `SET` survives `kill -9` with `appendfsync always`.
#[test]
fn redis_harness_keeps_aof_data_across_kill_9() {
    let mut redis = RedisServer::start();
    assert_eq!(redis.cli(&["set", "idr:test", "1"]), "OK");
    redis.kill9();
    assert!(support::redis::cli_on(redis.port, &["ping"]).is_err());
    redis.restart();
    assert_eq!(redis.cli(&["get", "idr:test"]), "1");
}

/// Soft deletes on Redis: the delete keeps a copy in the anchor's slot, restore brings it back as a new version on
/// every replica, and a hard delete leaves nothing to restore.
#[tokio::test]
async fn restore_brings_a_deleted_anchor_back_on_every_replica() {
    let redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    let body = product("Pack", "https://brand.example/p");
    assert_eq!(
        send(&a, Method::PUT, &api(G), &[], Some(&body), true)
            .await
            .status,
        201
    );
    assert_eq!(
        send(&b, Method::GET, "/01/09520123456788", &[], None, false)
            .await
            .status,
        307
    );
    assert_eq!(
        send(&a, Method::DELETE, &api(G), &[], None, true)
            .await
            .status,
        204
    );
    assert_eq!(
        send(&b, Method::GET, "/01/09520123456788", &[], None, false)
            .await
            .status,
        404
    );
    let restored = send(
        &b,
        Method::POST,
        &format!("{}:restore", api(G)),
        &[],
        None,
        true,
    )
    .await;
    assert_eq!(restored.status, 201, "{:?}", restored.body);
    assert_eq!(restored.body["version"], 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        send(&a, Method::GET, "/01/09520123456788", &[], None, false)
            .await
            .status,
        307,
        "the other replica sees it"
    );
    assert_eq!(
        send(
            &a,
            Method::POST,
            &format!("{}:restore", api(G)),
            &[],
            None,
            true
        )
        .await
        .status,
        412
    );
    let hard = format!("{}?hard=true", api(G));
    assert_eq!(
        send(&a, Method::DELETE, &hard, &[], None, true)
            .await
            .status,
        204
    );
    assert_eq!(
        send(
            &a,
            Method::POST,
            &format!("{}:restore", api(G)),
            &[],
            None,
            true
        )
        .await
        .status,
        404
    );
}

/// Scans on a standalone Redis read through a connection per thread, driven by the thread that awaits the reply (one
/// shared connection, driven by a task on another thread, cost every round trip two wake-ups across threads). Reads
/// from new threads, each on a runtime of its own, get the record, each over a connection of its own.
#[test]
fn each_thread_reads_through_its_own_connection() {
    use idr::registry::{AnchorRecord, AnchorStore, Precondition, redis::RedisStore};
    let redis = RedisServer::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(redis.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let record = AnchorRecord {
        item_description: "Thing".into(),
        default_link_type: None,
        links: vec![],
    };
    // As in the server: the store is connected, and written to, on a multi-threaded runtime that stays up.
    let connecting = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = connecting
        .block_on(RedisStore::connect(&settings.store))
        .unwrap();
    connecting
        .block_on(store.put(G, record.clone(), Precondition::None, "test"))
        .unwrap();
    let clients = || {
        support::redis::cli_on(redis.port, &["CLIENT", "LIST"])
            .unwrap()
            .lines()
            .count()
    };
    let before = clients();
    // Counted while the threads' runtimes, which drive their connections, are still up.
    let (read, counted) = (std::sync::Barrier::new(3), std::sync::Barrier::new(3));
    std::thread::scope(|threads| {
        for _ in 0..2 {
            threads.spawn(|| {
                let own = runtime();
                let reading = async {
                    tokio::time::timeout(Duration::from_secs(5), store.get_many(&[G])).await
                };
                let got = own.block_on(reading);
                read.wait();
                counted.wait();
                let got = got.expect("read within 5 s").unwrap();
                assert_eq!(got[0].as_ref().map(|s| &s.record), Some(&record));
            });
        }
        read.wait();
        let after = clients();
        counted.wait();
        // The two threads' connections (and redis-cli's own, counted both times).
        assert_eq!(after, before + 2);
    });
}

/// A hard delete on one replica racing a restore on another: the delete script removes the anchor and the kept copy
/// in one step, so a `204` never leaves the anchor live, and a hard delete of a soft-deleted anchor purges its copy.
#[tokio::test]
async fn hard_delete_never_loses_to_a_restore_on_another_replica() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = support::delete_race::config(dir.path());
    let started = |url: String| {
        let config = config.clone();
        async move {
            TestApp::start_with(&["--no-demo", "--config", &config, "--redis-url", &url]).await
        }
    };
    let a = started(redis.url()).await;
    let b = started(redis.url()).await;
    let tally = support::delete_race::hard_delete_against_restore(&a, &b, G, 60).await;
    assert_eq!(tally.acknowledged_but_live, 0, "{tally:?}");
    assert_eq!(tally.not_deleted, 0, "{tally:?}");
    assert_eq!(tally.restore_errors, 0, "{tally:?}");
    // Nothing is left behind in Redis: no anchor, no kept copy.
    assert_eq!(redis.keys("idr:a:*"), Vec::<String>::new());
    assert_eq!(redis.keys("idr:d:*"), Vec::<String>::new());
}

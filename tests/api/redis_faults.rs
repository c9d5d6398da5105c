//! Redis outages under running resolvers: `kill -9` of redis-server. Cached anchors are served stale with a
//! `Warning`, everything else answers `503` with `Retry-After` (never `404`, never `500`), writes are refused and
//! write nothing, `/readyz` follows Redis while `/healthz` stays up; after a restart on the same data folder every
//! acknowledged write is there and the resolvers recover by themselves.

use crate::support;
use crate::support::app::TestApp;
use crate::support::client::{Api, client};

use crate::support::client::ADMIN_TOKEN;
use crate::support::redis::RedisServer;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const G1: &str = "01/09520123456788";
const G2: &str = "01/09506000134369";
const G3: &str = "01/09501101020917";
const STALE: &str = "110 - \"Response is Stale\"";

async fn replica(redis_url: &str) -> TestApp {
    TestApp::start_with(&["--no-demo", "--redis-url", redis_url]).await
}

fn product(description: &str, href: &str) -> Value {
    json!({"itemDescription": description, "defaultLinkType": "gs1:pip", "links": [
        {"linkType": "gs1:pip", "href": href, "title": "Product information", "type": "text/html",
         "hreflang": ["en"]}]})
}

async fn request(server: &impl Api, method: Method, path: &str, body: Option<&Value>) -> Response {
    let mut r = client()
        .request(method.clone(), server.url(path))
        .timeout(Duration::from_secs(10));
    if path.starts_with("/api/") {
        r = r.bearer_auth(ADMIN_TOKEN);
    }
    if let Some(body) = body {
        r = r.json(body);
    }
    r.send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: no answer within 10 s: {e}"))
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII").to_string())
}

async fn describe(r: Response) -> String {
    let status = r.status();
    let headers = format!("{:?}", r.headers());
    let body = r.text().await.unwrap_or_default();
    format!("{status} {headers} {body}")
}

/// A fresh resolution: `307` to `location`, no `Warning`.
async fn assert_fresh(server: &impl Api, path: &str, location: &str) {
    let r = request(server, Method::GET, path, None).await;
    let ok = r.status() == 307
        && header(&r, "location").as_deref() == Some(location)
        && header(&r, "warning").is_none();
    assert!(ok, "GET {path}: {}", describe(r).await);
}

async fn assert_503(r: Response, what: &str) {
    let status = r.status();
    let content_type = header(&r, "content-type").unwrap_or_default();
    let retry_after = header(&r, "retry-after");
    let text = describe(r).await;
    assert_eq!(status, 503, "{what}: {text}");
    // What Redis or the connection said is for the log, never for the client.
    let lower = text.to_lowercase();
    for word in [
        "os error",
        "refused",
        "broken pipe",
        "reset",
        "redis",
        "io error",
    ] {
        assert!(!lower.contains(word), "{what}: {word:?} in {text}");
    }
    assert!(
        content_type.starts_with("application/problem+json"),
        "{what}: {text}"
    );
    let seconds = retry_after.unwrap_or_else(|| panic!("{what}: no Retry-After: {text}"));
    // Delay-seconds (RFC 9110 §10.2.3) or an HTTP date.
    assert!(
        seconds.trim().parse::<u64>().is_ok() || seconds.ends_with("GMT"),
        "{what}: Retry-After {seconds:?}"
    );
}

async fn status_of(server: &impl Api, path: &str) -> u16 {
    request(server, Method::GET, path, None)
        .await
        .status()
        .as_u16()
}

/// Polls until `GET path` answers a fresh `307` to `location` (no `Warning`); panics after 10 s.
async fn wait_fresh(server: &impl Api, path: &str, location: &str) -> Duration {
    let start = Instant::now();
    loop {
        let r = request(server, Method::GET, path, None).await;
        if r.status() == 307
            && header(&r, "location").as_deref() == Some(location)
            && header(&r, "warning").is_none()
        {
            return start.elapsed();
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!(
                "GET {path}: not fresh 10 s after Redis came back: {}",
                describe(r).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_outage_serves_cached_anchors_stale_and_recovers() {
    let mut redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    let p1 = "https://brand.example/p1";
    let p2 = "https://brand.example/p2";
    a.put_anchor(G1, product("One", p1)).await;
    // Written through B, so A has never seen G2.
    b.put_anchor(G2, product("Two", p2)).await;
    drop(b);

    assert_eq!(status_of(&a, "/readyz").await, 200, "/readyz with Redis up");
    let g1 = format!("/{G1}");
    let g1_linkset = format!("/{G1}?linkType=linkset");
    assert_fresh(&a, &g1, p1).await;
    let r = request(&a, Method::GET, &g1_linkset, None).await;
    assert_eq!(r.status(), 200);
    let fresh_linkset: Value = r.json().await.expect("linkset");

    redis.kill9();
    // Give the resolver a moment to see its connections close (it is not told otherwise).
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Cached: served stale.
    let r = request(&a, Method::GET, &g1, None).await;
    let ok = r.status() == 307
        && header(&r, "location").as_deref() == Some(p1)
        && header(&r, "warning").as_deref() == Some(STALE);
    assert!(ok, "cached GET {g1} with Redis down: {}", describe(r).await);
    let r = request(&a, Method::GET, &g1_linkset, None).await;
    assert_eq!(r.status(), 200, "cached linkset with Redis down");
    assert_eq!(header(&r, "warning").as_deref(), Some(STALE));
    let stale_linkset: Value = r.json().await.expect("linkset");
    assert_eq!(stale_linkset, fresh_linkset);

    // Not cached: 503, never 404 or 500; a syntax error is still a 400.
    assert_503(
        request(&a, Method::GET, &format!("/{G2}"), None).await,
        "uncached G2",
    )
    .await;
    assert_503(
        request(&a, Method::GET, &format!("/{G3}"), None).await,
        "unknown G3",
    )
    .await;
    assert_503(
        request(&a, Method::GET, &format!("/{G2}?linkType=linkset"), None).await,
        "uncached linkset",
    )
    .await;
    assert_eq!(status_of(&a, "/01/09520123456787").await, 400);

    // Writes are refused.
    let changed = product("Changed", "https://brand.example/changed");
    assert_503(
        request(
            &a,
            Method::PUT,
            &format!("/api/v1/anchors/{G1}"),
            Some(&changed),
        )
        .await,
        "PUT with Redis down",
    )
    .await;
    assert_503(
        request(
            &a,
            Method::PUT,
            &format!("/api/v1/anchors/{G3}"),
            Some(&changed),
        )
        .await,
        "PUT (create) with Redis down",
    )
    .await;
    assert_503(
        request(&a, Method::DELETE, &format!("/api/v1/anchors/{G2}"), None).await,
        "DELETE with Redis down",
    )
    .await;

    // Health: alive, not ready.
    assert_eq!(
        status_of(&a, "/healthz").await,
        200,
        "/healthz with Redis down"
    );
    assert_eq!(
        status_of(&a, "/readyz").await,
        503,
        "/readyz with Redis down"
    );
    // Still stale after the failed write (the write did not touch the cache either).
    // A refused write changed nothing, so the cached anchor should still be served (stale). Checked at the end, so
    // that recovery is tested either way.
    let r = request(&a, Method::GET, &g1, None).await;
    let mut deferred = Vec::new();
    if header(&r, "location").as_deref() != Some(p1) {
        deferred.push(format!(
            "cached GET {g1} after a refused PUT on it (Redis down): {}",
            describe(r).await
        ));
    }

    redis.restart();

    // Recovers by itself, and the refused writes wrote nothing.
    wait_fresh(&a, &g1, p1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&a, "/readyz").await != 200 {
        assert!(
            Instant::now() < deadline,
            "/readyz not 200 10 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_fresh(&a, &format!("/{G2}"), p2).await;
    assert_eq!(status_of(&a, &format!("/{G3}")).await, 404);
    let r = request(&a, Method::GET, &format!("/api/v1/anchors/{G1}"), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "etag").as_deref(),
        Some("\"1\""),
        "refused PUT wrote nothing"
    );
    let r = request(&a, Method::GET, &format!("/api/v1/anchors/{G3}"), None).await;
    assert_eq!(r.status(), 404, "refused create wrote nothing");
    let r = request(
        &a,
        Method::PUT,
        &format!("/api/v1/anchors/{G1}"),
        Some(&changed),
    )
    .await;
    assert_eq!(r.status(), 200, "writes work again");
    assert_eq!(header(&r, "etag").as_deref(), Some("\"2\""));
    assert_fresh(&a, &g1, "https://brand.example/changed").await;
    assert_eq!(status_of(&a, "/healthz").await, 200);
    assert!(deferred.is_empty(), "{}", deferred.join("\n"));
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_of_redis() {
    let mut redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    let b = replica(&redis.url()).await;
    a.put_anchor(G1, product("Pack", "https://brand.example/p"))
        .await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let url = if i % 2 == 0 { &a } else { &b }.url(&format!("/api/v1/anchors/{G1}/21/S{i}"));
        let body = json!({"itemDescription": format!("Serial {i}"), "links": [
            {"linkType": "untp:dpp", "href": format!("https://cred.example/dpp/S{i}.jwt"),
             "title": "DPP", "type": "application/vc+jwt"}]});
        tasks.push(tokio::spawn(async move {
            client()
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("PUT")
                .status()
                .as_u16()
        }));
    }
    // The last acknowledged write before the crash replaces the GTIN.
    let r = request(
        &b,
        Method::PUT,
        &format!("/api/v1/anchors/{G1}"),
        Some(&product("Pack v2", "https://brand.example/p2")),
    )
    .await;
    assert_eq!(r.status(), 200);
    for task in tasks {
        assert_eq!(task.await.expect("task"), 201);
    }
    redis.kill9();
    redis.restart();

    // A replica that never saw any of it reads everything back from Redis.
    let c = replica(&redis.url()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of(&c, "/readyz").await != 200 {
        assert!(Instant::now() < deadline, "/readyz not 200 after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = request(&c, Method::GET, &format!("/api/v1/anchors/{G1}"), None).await;
    assert_eq!(header(&r, "etag").as_deref(), Some("\"2\""));
    let record: Value = r.json().await.expect("JSON");
    assert_eq!(record["itemDescription"], "Pack v2");
    for i in 0..30 {
        let path = format!("/{G1}/21/S{i}?linkType=untp:dpp");
        assert_fresh(
            &c,
            &path,
            &format!("https://cred.example/dpp/S{i}.jwt?linkType=untp:dpp"),
        )
        .await;
    }
    // And the replicas that were running when Redis died recover by themselves.
    wait_fresh(&a, &format!("/{G1}"), "https://brand.example/p2").await;
    wait_fresh(&b, &format!("/{G1}/21/S7"), "https://brand.example/p2").await;
}

/// A slow Redis (blocked by `DEBUG SLEEP`): cached anchors answer at once, others `503` after about the command
/// timeout rather than hanging; then everything is fresh again.
#[tokio::test]
async fn slow_redis_answers_within_the_timeout() {
    let redis = RedisServer::start_with(&["--enable-debug-command", "yes"]);
    let a = replica(&redis.url()).await;
    let g1 = format!("/{G1}");
    let put = request(
        &a,
        Method::PUT,
        &format!("/api/v1/anchors/{G1}"),
        Some(&product("P", "https://b.example/1")),
    )
    .await;
    assert_eq!(put.status(), 201);
    assert_fresh(&a, &g1, "https://b.example/1").await;

    let port = redis.port;
    let sleeper =
        std::thread::spawn(move || support::redis::cli_on(port, &["DEBUG", "SLEEP", "3"]));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let r = request(&a, Method::GET, &format!("/{G2}"), None).await;
    let waited = started.elapsed();
    assert_eq!(r.status(), 503, "uncached while Redis is blocked");
    assert!(
        waited < Duration::from_millis(2500),
        "answered in {waited:?}, not after Redis woke up"
    );
    assert!(header(&r, "retry-after").is_some());

    // A cache hit needs no Redis: it answers at once (and is current: no write can happen while Redis is blocked).
    let started = Instant::now();
    let r = request(&a, Method::GET, &g1, None).await;
    assert_eq!(r.status(), 307, "cached while Redis is blocked");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "a cache hit does not wait for Redis"
    );

    sleeper.join().expect("redis-cli").expect("DEBUG SLEEP");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = request(&a, Method::GET, &g1, None).await;
        if r.status() == 307 && header(&r, "warning").is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no fresh answer 10 s after Redis woke up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Redis restarts (`kill -9`, then up again on the same port) under two replicas. Each replica's connections saw
/// the old server go; the first write and the first reads through each replica afterwards succeed, because a
/// connection known to be closed is re-made before a command is sent on it, not after a client's command failed.
#[tokio::test]
async fn first_requests_after_a_redis_restart_succeed_on_every_replica() {
    let mut redis = RedisServer::start();
    let replicas = [replica(&redis.url()).await, replica(&redis.url()).await];
    let href = |i: usize| format!("https://brand.example/r{i}");
    for (i, server) in replicas.iter().enumerate() {
        server.put_anchor(G1, product("Pack", &href(i))).await;
        // Scans read through a connection per worker thread: open them all (several scans reach every worker).
        for _ in 0..16 {
            assert_eq!(status_of(server, &format!("/{G1}")).await, 307);
        }
    }
    redis.kill9();
    redis.restart();
    // The replicas' invalidation feeds reconnect within about a second; requests before that go to Redis too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut failures = Vec::new();
    for (i, server) in replicas.iter().enumerate() {
        let path = format!("/api/v1/anchors/{G1}/10/R{i}");
        let r = request(
            server,
            Method::PUT,
            &path,
            Some(&product("Batch", &href(i))),
        )
        .await;
        if r.status() != 201 {
            failures.push(format!("replica {i}: first write: {}", describe(r).await));
        }
        let r = request(server, Method::GET, &format!("/api/v1/anchors/{G1}"), None).await;
        if r.status() != 200 {
            failures.push(format!("replica {i}: first read: {}", describe(r).await));
        }
        for n in 0..16 {
            // A scan Redis could not answer would be served stale from the cache, with a `Warning`.
            let r = request(server, Method::GET, &format!("/{G1}/10/S{n}"), None).await;
            if r.status() != 307 || header(&r, "warning").is_some() {
                failures.push(format!("replica {i}: scan {n}: {}", describe(r).await));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A write whose connection is lost after the script was sent may have been applied: it is reported as not
/// confirmed (`503`), and never sent again behind the client's back. Redis holds the script (`CLIENT PAUSE … WRITE`)
/// while every client connection is killed: a write repeated on a fresh connection would run once the pause ends.
#[tokio::test]
async fn a_write_lost_in_flight_is_reported_unconfirmed_and_never_repeated() {
    let redis = RedisServer::start();
    let a = replica(&redis.url()).await;
    a.put_anchor(G1, product("One", "https://brand.example/1"))
        .await;
    let port = redis.port;
    let cli = move |args: &[&str]| support::redis::cli_on(port, args).expect("redis-cli");
    cli(&["CLIENT", "PAUSE", "1500", "WRITE"]);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    });
    let path = format!("/api/v1/anchors/{G1}");
    let changed = product("Two", "https://brand.example/2");
    let r = request(&a, Method::PUT, &path, Some(&changed)).await;
    killer.join().expect("redis-cli");
    let status = r.status();
    let body: Value = r.json().await.expect("problem");
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("did not confirm the write")),
        "{body}"
    );
    // Past the pause: a repeated write would have run by now.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let r = request(&a, Method::GET, &path, None).await;
    assert_eq!(
        header(&r, "etag").as_deref(),
        Some("\"1\""),
        "never repeated"
    );
    let record: Value = r.json().await.expect("JSON");
    assert_eq!(record["itemDescription"], "One");
}

//! `store.redis_wait_replicas`: every write waits until a Redis replica holds it (`WAIT`), so a failover to that
//! replica loses no acknowledged write.

use crate::support;
use crate::support::app::TestApp;
use crate::support::client::{Api, client};

use crate::support::redis::{RedisServer, cli_on};
use crate::support::server::Server;
use serde_json::json;

#[tokio::test]
async fn writes_wait_for_the_replica() {
    let primary = RedisServer::start();
    let replica_of = primary.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &replica_of]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cli_on(replica.port, &["INFO", "replication"])
        .unwrap_or_default()
        .contains("master_link_status:up")
    {
        assert!(std::time::Instant::now() < deadline, "replica did not sync");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wait.toml");
    std::fs::write(
        &config,
        "[store]\nredis_wait_replicas = 1\nredis_wait_timeout_ms = 2000\n",
    )
    .unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--redis-url",
        &primary.url(),
        "--config",
        config.to_str().unwrap(),
    ])
    .await;

    let waits_before = wait_calls(primary.port);
    for i in 0..5 {
        let body = json!({"itemDescription": "x", "links": [
            {"linkType": "gs1:pip", "href": format!("https://b.example/{i}"), "title": "p"}]});
        server.put_anchor("01/09520123456788", body).await;
        // Acknowledged means on the replica too: read it there straight after the 2xx.
        let stored = cli_on(replica.port, &["GET", "idr:a:{01/09520123456788}"]).unwrap();
        assert!(
            stored.contains(&format!("https://b.example/{i}")),
            "replica has write {i}: {stored:?}"
        );
    }
    assert!(
        wait_calls(primary.port) >= waits_before + 5,
        "one WAIT per write"
    );
}

/// How many `WAIT` commands the server has run (`INFO commandstats`).
fn wait_calls(port: u16) -> u64 {
    let stats = cli_on(port, &["INFO", "commandstats"]).unwrap();
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_wait:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// With no replica to confirm them, no write is acknowledged: not an anchor, and not the small documents beside the
/// anchors either (an API key created or revoked, a scheme registered through the Pyx API), which must survive a
/// failover as anchors do.
#[tokio::test]
async fn keys_and_schemes_wait_for_the_replica_too() {
    let primary = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wait.toml");
    std::fs::write(
        &config,
        "[store]\nredis_wait_replicas = 1\nredis_wait_timeout_ms = 200\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let url = primary.url();
    let keys_create = crate::support::server::command()
        .args(["keys", "create", "--name", "ops", "--scope", "admin"])
        .args(["--redis-url", &url, "--config", config])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&keys_create.stderr);
    assert!(
        !keys_create.status.success(),
        "a key no replica confirmed was reported created: {stderr}"
    );
    assert!(stderr.contains("confirm"), "{stderr}");

    let server = Server::start_with(&["--no-demo", "--redis-url", &url, "--config", config]).await;
    let scheme = json!({"namespace": "acme", "applicationIdentifiers": [
        {"title": "Product", "label": "Product", "shortcode": "product", "ai": "p", "type": "I", "regex": "[0-9]{5}"}]});
    let r = client()
        .post(server.url("/api/2.0.0/identifiers"))
        .bearer_auth(support::server::ADMIN_TOKEN)
        .json(&scheme)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
    let r = client()
        .put(server.url("/api/v1/anchors/01/09520123456788"))
        .bearer_auth(support::server::ADMIN_TOKEN)
        .json(&json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://b.example/1", "title": "p"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "{}", r.text().await.unwrap());
}

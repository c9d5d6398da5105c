//! Limits and flood protection over real HTTP: oversize URIs and headers, deep JSON, the per-credential rate limit on
//! the management API, and shedding of resolutions beyond the concurrency cap.

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::client::client;
use crate::support::did_host::{DidHost, Reply};
use serde_json::{Value, json};
use std::time::Duration;

async fn problem_status(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        ct.as_deref(),
        Some("application/problem+json"),
        "status {status}"
    );
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn oversize_requests_get_the_right_4xx() {
    let server = TestApp::start().await;
    let client = client();
    let long = format!("/01/09520123456788/10/{}", "A".repeat(5000));
    let (status, body) = problem_status(client.get(server.url(&long)).send().await.unwrap()).await;
    assert_eq!(status, 414);
    assert!(body["detail"].as_str().unwrap().contains("4096"));
    let deep = format!("/x{}", "/a".repeat(40));
    assert_eq!(
        problem_status(client.get(server.url(&deep)).send().await.unwrap())
            .await
            .0,
        414
    );
    let huge = "x".repeat(20_000);
    let r = client
        .get(server.url("/01/09520123456788"))
        .header("x-filler", huge)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_status(r).await.0, 431);

    let mut nested = json!("leaf");
    for _ in 0..40 {
        nested = json!([nested]);
    }
    let body = json!({"itemDescription": "x", "links": [], "extra": nested});
    let r = client
        .put(server.url("/api/v1/anchors/01/09520123456788"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, problem) = problem_status(r).await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nested deeper than 32"),
        "{problem}"
    );
    // Still serving after all that.
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_management_api_is_rate_limited_per_credential() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[limits]\nmanagement_requests_per_second = 1\nmanagement_burst = 3\n",
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let client = client();
    let get = || {
        client
            .get(server.url("/api/v1/anchors/01/09520123456788"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(get().await.unwrap().status(), 404, "within the burst");
    }
    let r = get().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    // Resolution is not rate limited.
    for _ in 0..10 {
        assert_eq!(
            client
                .get(server.url("/01/09520123456788"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get().await.unwrap().status(), 404, "the bucket refills");
}

#[tokio::test]
async fn resolutions_beyond_the_cap_are_shed_at_once() {
    let host = DidHost::start().await;
    let did = host.did(&["slow"]);
    let document = json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": did, "service": []});
    host.serve(
        &DidHost::document_path(&["slow"]),
        Reply::json(&document).delayed(Duration::from_secs(2)),
    );
    let config = host.dir().join("idr.toml");
    let toml = format!(
        "[outbound]\nextra_ca_file = {:?}\nallow = [\"localhost\"]\n[limits]\nmax_concurrent_resolutions = 1\n",
        host.ca_file().display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let slow_url = server.url(&format!("/{did}"));
    let slow = tokio::spawn(async move { client().get(slow_url).send().await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let r = client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "shed without waiting"
    );
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    // The slow resolution itself completes normally (a document without services: its empty linkset).
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(
        client()
            .get(server.url("/01/09520123456788"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "capacity is back"
    );
}

/// The management routes take no share of the resolution capacity: with the only permit held by a slow resolution,
/// scans are shed while the native and Pyx management APIs still answer.
#[tokio::test]
async fn management_is_not_shed_when_resolutions_are() {
    let host = DidHost::start().await;
    let did = host.did(&["slow"]);
    let document = json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": did, "service": []});
    host.serve(
        &DidHost::document_path(&["slow"]),
        Reply::json(&document).delayed(Duration::from_secs(2)),
    );
    let config = host.dir().join("idr.toml");
    let toml = format!(
        "[outbound]\nextra_ca_file = {:?}\nallow = [\"localhost\"]\n[limits]\nmax_concurrent_resolutions = 1\n",
        host.ca_file().display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let slow_url = server.url(&format!("/{did}"));
    let slow = tokio::spawn(async move { client().get(slow_url).send().await.unwrap().status() });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = client();
    let scan = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 503, "the permit is taken");
    let native = client
        .get(server.url("/api/v1/anchors/01/09520123456788"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(native.status(), 404, "the native API answers");
    let pyx = client
        .get(server.url("/api/2.0.0/health-check"))
        .send()
        .await
        .unwrap();
    assert_eq!(pyx.status(), 200, "the Pyx API answers");
    assert_eq!(slow.await.unwrap(), 200);
}

/// A request target that is no path (`OPTIONS *`, RFC 9110 §9.3.7) is answered as a public preflight, with CORS,
/// not by the server's bare fallback.
#[tokio::test]
async fn options_asterisk_is_a_public_preflight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestApp::start().await;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\nOrigin: https://scanner.example\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    let status_line = answer.lines().next().unwrap_or_default().to_string();
    assert!(
        status_line.starts_with("http/1.1 2"),
        "a preflight succeeds: {answer}"
    );
    assert!(
        answer.contains("\r\naccess-control-allow-origin: *\r\n"),
        "public CORS: {answer}"
    );
    assert!(
        answer.contains("\r\nallow: get, head, options\r\n"),
        "{answer}"
    );
}

/// The URI and header limits hold on every kind of route, each refusal with its audience's CORS: `*` on public
/// routes, none for an unlisted origin on management routes.
#[tokio::test]
async fn limits_hold_on_every_kind_of_route() {
    let server = TestApp::start().await;
    let client = client();
    let filler = "A".repeat(5000);
    // (path prefix, public)
    let routes = [
        ("/01/09520123456788/10/", true),
        ("/did:web:localhost:", true),
        ("/api/openapi.json?x=", true),
        ("/api/v1/qr/01/09520123456788/10/", true),
        ("/healthz?x=", true),
        ("/api/v1/anchors/01/09520123456788/10/", false),
        ("/api/v1/audit?identifier=", false),
        ("/api/2.0.0/resolver/links/", false),
        ("/api?x=", false),
    ];
    for (prefix, public) in routes {
        let long = format!("{prefix}{filler}");
        let r = client
            .get(server.url(&long))
            .header("origin", "https://unlisted.example")
            .send()
            .await
            .unwrap();
        let cors = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        let (status, _) = problem_status(r).await;
        assert_eq!(status, 414, "{prefix}");
        assert_eq!(cors.as_deref() == Some("*"), public, "{prefix}: {cors:?}");

        let r = client
            .get(server.url(&format!("{prefix}1")))
            .header("origin", "https://unlisted.example")
            .header("x-filler", "x".repeat(20_000))
            .send()
            .await
            .unwrap();
        let cors = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(problem_status(r).await.0, 431, "{prefix}");
        assert_eq!(cors.as_deref() == Some("*"), public, "{prefix}: {cors:?}");
    }
}

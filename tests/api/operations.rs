//! What operators rely on: Prometheus metrics, request ids in JSON logs, graceful shutdown (readiness first), and the
//! container health check.

use crate::support::client::Api;
use crate::support::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_outcomes_latency_and_writes() {
    let server = Server::start().await;
    let client = Server::client();
    let body = json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]});
    server.put_anchor("01/09520123456788", body).await;
    for path in [
        "/01/09520123456788",
        "/01/09520123456788",
        "/01/09520123456788?linkType=gs1:pip",
        "/01/09520123456787",
        "/01/09506000134369",
    ] {
        client.get(server.url(path)).send().await.unwrap();
    }
    let r = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    let resolutions = "idr_resolutions_total";
    assert_eq!(
        metric(
            &text,
            resolutions,
            &["outcome=\"redirect\"", "link_type=\"default\""]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            resolutions,
            &["outcome=\"redirect\"", "link_type=\"gs1:pip\""]
        ),
        1.0
    );
    assert_eq!(
        metric(&text, resolutions, &["outcome=\"bad_request\""]),
        1.0
    );
    assert_eq!(metric(&text, resolutions, &["outcome=\"not_found\""]), 1.0);
    // The embedded store is read through the record cache too: the repeats of the first scan are hits.
    assert!(metric(&text, "idr_cache_hits_total", &[]) >= 2.0, "{text}");
    assert!(
        metric(&text, "idr_cache_misses_total", &[]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "idr_request_duration_seconds_count",
            &["route=\"resolve\""]
        ),
        5.0
    );
    assert!(
        text.contains("idr_request_duration_seconds_bucket{route=\"resolve\",le=\"0.001\"}"),
        "histogram buckets"
    );
    assert_eq!(
        metric(
            &text,
            "idr_writes_total",
            &["credential=\"admin\"", "operation=\"put\""]
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn every_log_line_of_a_request_carries_its_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = crate::support::server::command()
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("IDR_LOG__FORMAT", "json")
        .env("IDR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("RUST_LOG", "info")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = Server::client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = client
        .put(format!("{base}/api/v1/anchors/01/09520123456788"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-request-id", "trace-me-42")
        .json(&json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    let generated = client
        .get(format!("{base}/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert!(
        !generated.headers()["x-request-id"].is_empty(),
        "an id is made when none is sent"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<Value> = stderr
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    assert!(!lines.is_empty(), "logs are JSON lines");
    let written = lines
        .iter()
        .find(|l| l["fields"]["message"] == "anchor written")
        .expect("the write is logged");
    assert_eq!(written["span"]["request_id"], "trace-me-42", "{written}");
    assert_eq!(written["fields"]["identifier"], "01/09520123456788");
}

#[tokio::test]
async fn shutdown_fails_readiness_first_then_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[server]\nshutdown_drain_ms = 1500\nshutdown_timeout_seconds = 5\n",
    )
    .unwrap();
    let mut server = Server::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let client = Server::client();
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let pid = server.pid();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: not ready, but still serving.
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(server.url("/01/09506000134369"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits after draining");
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    assert!(
        client.get(server.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn the_health_check_command_reflects_the_server() {
    let server = Server::start().await;
    let ok = crate::support::server::command()
        .args(["healthcheck", "--url", &server.url("/healthz")])
        .status()
        .unwrap();
    assert!(ok.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = crate::support::server::command()
        .args([
            "healthcheck",
            "--timeout-ms",
            "500",
            "--url",
            &format!("http://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    let not_found = crate::support::server::command()
        .args(["healthcheck", "--url", &server.url("/nope")])
        .status()
        .unwrap();
    assert_eq!(not_found.code(), Some(1), "a 400/404 is not healthy");
}

/// Malformed HTTP is the client's error: it is answered `400`, counted, and logged at debug level, never at ERROR
/// (actix-http logs it as an ERROR of its own; see `telemetry::ClientErrors`).
#[tokio::test]
async fn malformed_http_is_not_logged_as_an_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = crate::support::server::command()
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("IDR_LOG__FORMAT", "json")
        .env("RUST_LOG", "info,idr::client=debug")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let kept = lines.clone();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line);
        }
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = Server::client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let malformed: [&[u8]; 4] = [
        b"GET /\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"NOT AN HTTP REQUEST\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost x\r\nbroken header line\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    ];
    for request in malformed {
        let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        socket.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let relayed = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains(r#""target":"idr::client""#))
            .count()
    };
    while relayed(&lines.lock().unwrap()) < malformed.len() {
        assert!(
            Instant::now() < deadline,
            "client errors are logged at debug level: {:?}",
            lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(&metrics, "idr_client_errors_total", &[]),
        malformed.len() as f64
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let lines = lines.lock().unwrap();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let errors: Vec<&Value> = parsed.iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(errors.is_empty(), "ERROR events: {errors:?}");
    let debug = parsed
        .iter()
        .find(|l| l["target"] == "idr::client")
        .unwrap();
    assert_eq!(debug["level"], "DEBUG", "{debug}");
    assert!(
        debug["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("stream error")),
        "{debug}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// With `server.admin_listen`, metrics and the readiness detail are on that port only; the public port keeps a bare
/// readiness status for load balancers and answers `404` for `/metrics`. A graceful stop stops both listeners.
#[tokio::test]
async fn the_admin_listener_takes_metrics_and_readiness_detail_off_the_public_port() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nadmin_listen = \"127.0.0.1:{admin_port}\"\nshutdown_drain_ms = 1500\nshutdown_timeout_seconds = 5\n"
        ),
    )
    .unwrap();
    let mut server = Server::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let admin = format!("http://127.0.0.1:{admin_port}");
    let client = Server::client();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    assert_eq!(get(server.url("/01/09506000134369")).await.0, 404, "a scan");

    let (status, body) = get(server.url("/metrics")).await;
    assert_eq!(status, 404, "public /metrics: {body}");
    assert!(!body.contains("idr_"), "{body}");
    let (status, body) = get(server.url("/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ready": true}),
        "the public readiness is the bare status"
    );

    let (status, body) = get(format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metric(&body, "idr_resolutions_total", &["outcome=\"not_found\""]) >= 1.0,
        "the public port's scans are counted: {body}"
    );
    let (status, body) = get(format!("{admin}/readyz")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ready": true, "store": "embedded"})
    );
    assert_eq!(get(format!("{admin}/healthz")).await.0, 200);
    for path in [
        "/01/09506000134369",
        "/api/v1/audit",
        "/.well-known/resolver",
        "/",
    ] {
        assert_eq!(get(format!("{admin}{path}")).await.0, 404, "admin {path}");
    }

    assert!(
        Command::new("kill")
            .args(["-TERM", &server.pid().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Draining: both listeners say not ready; the admin one says why.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(format!("{admin}/readyz")).await;
        if status == 503 {
            assert!(body.contains("shutting down"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "admin readiness did not turn");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = get(server.url("/readyz")).await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ready": false})
    );
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits after draining");
    assert!(status.success(), "a graceful stop exits 0: {status:?}");
    assert!(client.get(server.url("/healthz")).send().await.is_err());
    assert!(
        client.get(format!("{admin}/healthz")).send().await.is_err(),
        "the admin listener stopped too"
    );
}

/// The latency label comes from the route that answered, read by the outermost middleware after the response: each
/// kind of route counts under its own label, and only scans count as resolutions.
#[tokio::test]
async fn latency_is_labelled_by_the_route_that_answered() {
    let server = Server::start().await;
    let client = Server::client();
    let metrics = || async {
        let r = client.get(server.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    };
    let count = |text: &str, route: &str| {
        metric(
            text,
            "idr_request_duration_seconds_count",
            &[&format!("route=\"{route}\"")],
        )
    };
    let before = metrics().await;
    let requests = [
        ("resolve", "/01/09520123456788"),
        ("resolve", "/01/09520123456787"),
        ("manage", "/api/v1/anchors/01/09520123456788"),
        ("manage", "/api/v1/audit"),
        ("pyx", "/api/2.0.0/health-check"),
        ("pyx", "/api/2.0.0/gs1/01/09520123456788"),
        ("pyx", "/api/9.9.9/resolver"),
        ("did", "/did:key:z6Mkexample"),
        ("other", "/"),
        ("other", "/healthz"),
        ("other", "/.well-known/resolver"),
        ("other", "/voc"),
        ("other", "/api/openapi.json"),
        ("other", "/api/v1/qr/01/09520123456788"),
    ];
    for (_, path) in requests {
        client.get(server.url(path)).send().await.unwrap();
    }
    let after = metrics().await;
    for route in ["resolve", "manage", "pyx", "did", "other"] {
        let mut expected = requests.iter().filter(|(r, _)| *r == route).count() as f64;
        if route == "other" {
            expected += 1.0; // the first read of /metrics
        }
        assert_eq!(
            count(&after, route) - count(&before, route),
            expected,
            "route {route}\n{after}"
        );
    }
    let resolutions = |text: &str| metric(text, "idr_resolutions_total", &[]);
    assert_eq!(resolutions(&after) - resolutions(&before), 2.0, "{after}");
}

//! What a newcomer meets in the first hour (issue 21), checked on the real binary: start-up warnings, messages that
//! say what to do, and files left where they belong.

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::server::{Server, binary};

const ANCHOR: &str = r#"{"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]}"#;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `idr {args}` from the repository root, without the caller's admin token or log settings.
fn idr(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("IDR_ADMIN_TOKEN")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("run idr")
}

/// `idr serve` on `port` with `data` as its store and standard error piped.
fn serve(data: &Path, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(binary())
        .args(["serve", "--no-demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("IDR_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn idr")
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/healthz");
    while Server::client().get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Stops a server and returns what it wrote to standard error.
fn stop(mut child: Child) -> String {
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A write to `port` with `token`: status and problem detail.
async fn put(port: u16, token: Option<&str>) -> (u16, String) {
    let mut request = Server::client()
        .put(format!(
            "http://127.0.0.1:{port}/api/v1/anchors/01/09520123456788"
        ))
        .header("content-type", "application/json")
        .body(ANCHOR);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let problem: serde_json::Value = response.json().await.unwrap_or_default();
    (status, problem["detail"].as_str().unwrap_or("").to_string())
}

/// Item 1: a server nothing can write to warns at start-up and says so in its 401s; with a token it does neither.
#[tokio::test]
async fn a_server_without_credentials_warns_and_its_401_says_why() {
    for env in [&[][..], &[("IDR_ADMIN_TOKEN", "")][..]] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = serve(dir.path(), port, env);
        wait_healthy(port).await;
        for token in [Some("guess"), None] {
            let (status, detail) = put(port, token).await;
            assert_eq!(status, 401, "{env:?} {token:?}");
            assert!(
                detail.contains("no credentials at all") && detail.contains("IDR_ADMIN_TOKEN"),
                "{env:?} {token:?}: {detail}"
            );
        }
        let stderr = stop(child);
        let warning = stderr
            .lines()
            .find(|l| l.contains("WARN") && l.contains("no credentials"))
            .unwrap_or_else(|| panic!("{env:?}: no warning in\n{stderr}"));
        assert!(warning.contains("IDR_ADMIN_TOKEN"), "{warning}");
        assert!(warning.contains("idr keys create"), "{warning}");
    }

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = serve(dir.path(), port, &[("IDR_ADMIN_TOKEN", "s3cret")]);
    wait_healthy(port).await;
    let (status, detail) = put(port, Some("guess")).await;
    assert_eq!(status, 401);
    assert!(
        detail.contains("unknown or malformed bearer token"),
        "{detail}"
    );
    assert_eq!(put(port, Some("s3cret")).await.0, 201);
    let stderr = stop(child);
    assert!(!stderr.contains("no credentials"), "{stderr}");
}

/// Item 6: a port in use stops `idr serve` before it creates the data folder or loads the demo.
#[test]
fn a_port_in_use_stops_start_up_before_the_data_folder_is_created() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{port}");
    let out = idr(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("IDR_ADMIN_TOKEN", "t")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {listen}")),
        "{stderr}"
    );
    assert!(!data.exists(), "the data folder was created");

    // The admin listener too.
    let admin = format!("127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = idr(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[("IDR_ADMIN_TOKEN", "t"), ("IDR_SERVER__ADMIN_LISTEN", &admin)],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot listen on {admin}")),
        "{}",
        text(&out.stderr)
    );
    assert!(!data.exists(), "the data folder was created");
    drop(taken);
}

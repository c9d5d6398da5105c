//! Durability: a write answered 2xx survives `kill -9`; `idr import` / `idr export` round-trip through NDJSON.

use crate::support::client::{Api, location};
use crate::support::server::{ADMIN_TOKEN, Server};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const GTIN: &str = "01/09520123456788";
const PIP_EN: &str = "https://brand.example/products/09520123456788";

fn product(description: &str, href: &str) -> Value {
    json!({
        "itemDescription": description,
        "defaultLinkType": "gs1:pip",
        "links": [{"linkType": "gs1:pip", "href": href, "title": "Product information",
                   "type": "text/html", "hreflang": ["en"]}]
    })
}

async fn api(server: &Server, method: Method, identifier: &str, body: Option<&Value>) -> Response {
    let mut request = Server::client()
        .request(method, server.url(&format!("/api/v1/anchors/{identifier}")))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("API request")
}

async fn stored(server: &Server, identifier: &str) -> Option<Value> {
    let r = api(server, Method::GET, identifier, None).await;
    match r.status().as_u16() {
        200 => Some(r.json().await.expect("JSON")),
        404 => None,
        other => panic!("GET {identifier}: {other}"),
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let mut server = Server::start().await;
    let r = api(&server, Method::PUT, GTIN, Some(&product("Pack", PIP_EN))).await;
    assert_eq!(r.status(), 201);
    server.crash_and_restart().await;
    let record = stored(&server, GTIN).await.expect("survived the crash");
    assert_eq!(record["version"], 1);
    assert_eq!(record["itemDescription"], "Pack");
    let r = server.resolve("/01/09520123456788").await;
    assert_eq!(r.status(), 307);
    assert_eq!(location(&r), PIP_EN);

    // A replacement acknowledged just before the crash is the one that survives.
    let v2 = "https://brand.example/v2/09520123456788";
    let r = api(&server, Method::PUT, GTIN, Some(&product("Pack v2", v2))).await;
    assert_eq!(r.status(), 200);
    server.crash_and_restart().await;
    let record = stored(&server, GTIN).await.expect("survived");
    assert_eq!(record["version"], 2);
    assert_eq!(record["itemDescription"], "Pack v2");
    let r = server.resolve("/01/09520123456788").await;
    assert_eq!(location(&r), v2);
    // The version counter continues after the restart.
    let r = api(&server, Method::PUT, GTIN, Some(&product("Pack v3", v2))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["etag"], "\"3\"");

    // An acknowledged delete stays deleted.
    let r = api(&server, Method::DELETE, GTIN, None).await;
    assert_eq!(r.status(), 204);
    server.crash_and_restart().await;
    assert!(stored(&server, GTIN).await.is_none());
    assert_eq!(server.resolve("/01/09520123456788").await.status(), 404);
}

#[tokio::test]
async fn burst_of_writes_survives_kill_9() {
    let mut server = Server::start().await;
    put_gtin_and_serials(&server, 25).await;
    server.crash_and_restart().await;
    for i in 0..25 {
        let identifier = format!("{GTIN}/21/S{i}");
        let record = stored(&server, &identifier)
            .await
            .unwrap_or_else(|| panic!("{identifier} lost"));
        assert_eq!(record["itemDescription"], format!("Serial {i}"));
        let r = server
            .resolve(&format!("/{identifier}?linkType=untp:dpp"))
            .await;
        assert_eq!(r.status(), 307, "{identifier}");
        assert_eq!(
            location(&r),
            format!("https://credentials.example/dpp/S{i}.jwt?linkType=untp:dpp")
        );
    }
}

async fn put_gtin_and_serials(server: &Server, count: usize) {
    let r = api(server, Method::PUT, GTIN, Some(&product("Pack", PIP_EN))).await;
    assert!(r.status().is_success());
    let mut tasks = Vec::new();
    for i in 0..count {
        let url = server.url(&format!("/api/v1/anchors/{GTIN}/21/S{i}"));
        let body = json!({"itemDescription": format!("Serial {i}"), "links": [
            {"linkType": "untp:dpp", "href": format!("https://credentials.example/dpp/S{i}.jwt"),
             "title": "DPP", "type": "application/vc+jwt"}]});
        tasks.push(tokio::spawn(async move {
            Server::client()
                .put(url)
                .bearer_auth(ADMIN_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("PUT")
                .status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), 201);
    }
}

// ---------------------------------------------------------------------------------------------
// Import / export

fn idr(args: &[&str]) -> Output {
    crate::support::server::command()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run idr")
}

fn import(data_dir: &Path, file: &Path) -> Output {
    idr(&[
        "import",
        "--data-dir",
        data_dir.to_str().expect("UTF-8"),
        file.to_str().expect("UTF-8"),
    ])
}

/// Exported anchors keyed by identifier.
fn export(data_dir: &Path) -> BTreeMap<String, Value> {
    let output = idr(&["export", "--data-dir", data_dir.to_str().expect("UTF-8")]);
    assert!(
        output.status.success(),
        "export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("NDJSON line");
            let id = v["identifier"].as_str().expect("identifier").to_string();
            (id, v)
        })
        .collect()
}

fn line(identifier: &str, body: &Value) -> String {
    let mut v = body.clone();
    v["identifier"] = json!(identifier);
    v.to_string()
}

fn link_hrefs(anchor: &Value) -> Vec<String> {
    anchor["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["href"].as_str().expect("href").to_string())
        .collect()
}

#[test]
fn import_reports_bad_lines_and_round_trips() {
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let file = work.path().join("anchors.ndjson");
    let serial_body = json!({"itemDescription": "Serial 12345", "links": [
        {"linkType": "untp:dpp", "href": "https://credentials.example/dpp/12345.jwt",
         "title": "DPP", "type": "application/vc+jwt", "hreflang": ["en"]}]});
    let other = "https://other.example/products/09506000134369";
    let lines = [
        line(GTIN, &product("Pack", PIP_EN)),              // 1
        "{\"identifier\": \"01/09506000134369\", ".into(), // 2: not JSON
        line("01/09520123456788/21/12345", &serial_body),  // 3
        String::new(),                                     // 4: blank, skipped
        line(
            // 5: unknown link type
            "01/09520123456788/10/ABC",
            &json!({"itemDescription": "Batch", "links": [
                {"linkType": "gs1:nosuchlt", "href": PIP_EN, "title": "P"}]}),
        ),
        line("01/09506000134369", &product("Other", other)), // 6
        line(
            // 7: bad href
            "01/09520123456788/10/XYZ",
            &json!({"itemDescription": "Batch", "links": [
                {"linkType": "untp:dpp", "href": "not a url", "title": "P"}]}),
        ),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").expect("write NDJSON");

    let output = import(&data, &file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "rejected lines ⇒ non-zero exit");
    for bad in [2, 5, 7] {
        assert!(
            stderr.contains(&format!(":{bad}:")),
            "line {bad} reported: {stderr}"
        );
    }
    for good in [1, 3, 4, 6] {
        assert!(
            !stderr.contains(&format!(":{good}:")),
            "line {good} not reported: {stderr}"
        );
    }

    let exported = export(&data);
    let ids: Vec<&str> = exported.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "01/09506000134369",
            "01/09520123456788",
            "01/09520123456788/21/12345"
        ]
    );
    assert_eq!(exported[GTIN]["itemDescription"], "Pack");
    assert_eq!(link_hrefs(&exported[GTIN]), [PIP_EN]);
    assert_eq!(link_hrefs(&exported["01/09506000134369"]), [other]);
    assert_eq!(
        link_hrefs(&exported["01/09520123456788/21/12345"]),
        ["https://credentials.example/dpp/12345.jwt"]
    );

    // Export → import into a fresh store → export again: identical.
    let dump = work.path().join("dump.ndjson");
    let text: String = exported.values().map(|v| format!("{v}\n")).collect();
    std::fs::write(&dump, text).expect("write dump");
    let fresh = work.path().join("fresh");
    let output = import(&fresh, &dump);
    assert!(
        output.status.success(),
        "re-import: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(export(&fresh), exported);
}

#[test]
fn clean_import_exits_zero() {
    let work = tempfile::tempdir().expect("temp dir");
    let file = work.path().join("anchors.ndjson");
    std::fs::write(&file, line(GTIN, &product("Pack", PIP_EN)) + "\n").expect("write");
    let output = import(&work.path().join("data"), &file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(export(&work.path().join("data")).len(), 1);
}

/// `idr serve` on a given data folder (the harness always makes its own).
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(data_dir: &Path) -> Serve {
    serve_logging_to(data_dir, Stdio::null(), &[]).await
}

/// `idr serve` with its log (stderr, warnings and up) written to `log`, and the environment variables `env`.
async fn serve_logging_to(data_dir: &Path, log: impl Into<Stdio>, env: &[(&str, &str)]) -> Serve {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = crate::support::server::command()
        .args(["serve", "--no-demo", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .env("IDR_ADMIN_TOKEN", ADMIN_TOKEN)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn idr serve");
    let base = format!("http://127.0.0.1:{port}");
    let serve = Serve { child, base };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = Server::client()
            .get(format!("{}/healthz", serve.base))
            .send()
            .await
        {
            if r.status().is_success() {
                return serve;
            }
        }
        assert!(Instant::now() < deadline, "idr serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The log of a start after `kill -9` of a server that took a write, with the environment `env`.
async fn log_of_a_start_after_kill_9(env: &[(&str, &str)]) -> (String, String) {
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let log_file = |name: &str| {
        let path = work.path().join(name);
        (std::fs::File::create(&path).expect("log file"), path)
    };
    let (file, first) = log_file("first.log");
    let mut crashed = serve_logging_to(&data, file, env).await;
    let r = Server::client()
        .put(format!("{}/api/v1/anchors/{GTIN}", crashed.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&product("Pack", PIP_EN))
        .send()
        .await
        .expect("PUT");
    assert_eq!(r.status(), 201);
    crashed.child.kill().expect("kill -9");
    crashed.child.wait().expect("reap");
    let (file, second) = log_file("second.log");
    let restarted = serve_logging_to(&data, file, env).await;
    let r = Server::client()
        .get(format!("{}/{GTIN}", restarted.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 307, "the write survived");
    drop(restarted);
    let read = |path: &Path| std::fs::read_to_string(path).expect("read log");
    (read(&first), read(&second))
}

const UNCLEAN: &str = "was not closed cleanly";

#[tokio::test]
async fn without_quick_repair_a_start_after_kill_9_says_it_checks_the_store() {
    let off = [("IDR_STORE__EMBEDDED_QUICK_REPAIR", "false")];
    let (first, second) = log_of_a_start_after_kill_9(&off).await;
    assert!(!first.contains(UNCLEAN), "a new store needs no check");
    assert!(second.contains(UNCLEAN), "{second}");
    assert!(
        second.contains("the store was checked and repaired"),
        "{second}"
    );
}

#[tokio::test]
async fn with_quick_repair_a_start_after_kill_9_checks_nothing() {
    let (first, second) = log_of_a_start_after_kill_9(&[]).await;
    assert!(!first.contains(UNCLEAN), "{first}");
    assert!(!second.contains(UNCLEAN), "{second}");
}

#[tokio::test]
async fn imported_anchors_resolve() {
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("data");
    let file = work.path().join("anchors.ndjson");
    let serial_body = json!({"itemDescription": "Serial 12345", "links": [
        {"linkType": "untp:dpp", "href": "https://credentials.example/dpp/12345.jwt",
         "title": "DPP", "type": "application/vc+jwt"}]});
    let text = [
        line(GTIN, &product("Pack", PIP_EN)),
        line("01/09520123456788/21/12345", &serial_body),
    ]
    .join("\n");
    std::fs::write(&file, text).expect("write");
    let output = import(&data, &file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let server = serve(&data).await;
    let client = Server::client();
    let r = client
        .get(format!("{}/01/09520123456788/21/12345", server.base))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 307);
    assert_eq!(location(&r), PIP_EN);
    let r = client
        .get(format!(
            "{}/01/09520123456788/21/12345?linkType=untp:dpp",
            server.base
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 307);
    assert_eq!(
        location(&r),
        "https://credentials.example/dpp/12345.jwt?linkType=untp:dpp"
    );
}

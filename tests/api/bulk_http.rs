//! Bulk writes (`POST /api/v1/anchors`, NDJSON) and listings (`GET /api/v1/anchors`) over real HTTP: a large write
//! while scans go on, bad and out-of-scope lines reported by number while the rest is written, the size limit, pages
//! that skip and repeat nothing while others write (embedded and Redis), the export → bulk write → export round
//! trip, and `idr import --server` against a subprocess server.

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::redis::RedisServer;
use crate::support::server::Server;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::Path;

const ACME: &str = "acme-secret";

/// A key `acme` scoped to `01/0952012*` (hash from coreutils `sha256sum`), and a rate limit the tests never reach.
fn config(dir: &Path) -> String {
    let path = dir.join("bulk-test.toml");
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
"#,
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A GTIN-14 under company prefix 0952012 with item reference `n`, its check digit computed by hand's rule
/// (weights 3,1 from the right).
fn gtin(prefix: &str, n: usize) -> String {
    let body = format!("{prefix}{n:0width$}", width = 13 - prefix.len());
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).unwrap() * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn line(identifier: &str, href: &str) -> String {
    json!({"identifier": identifier, "itemDescription": "Bulk item", "defaultLinkType": "gs1:pip",
           "links": [{"linkType": "gs1:pip", "href": href, "title": "Product information"}]})
    .to_string()
}

async fn post(server: &impl Api, token: &str, query: &str, body: String) -> (u16, Value) {
    let response = server
        .scoped(token, Method::POST, &format!("/api/v1/anchors{query}"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn status_of(server: &impl Api, identifier: &str) -> u16 {
    server.get_anchor(identifier).await.status().as_u16()
}

/// Lines in the big write: 100,000 in the benchmark (`scripts/bench --only bulk`); fewer here, since the test
/// binary is a debug build on 2 cores in CI.
const BIG: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bulk_write_goes_through_while_scans_continue() {
    let app = TestApp::start().await;
    let scanned = gtin("0952012", 999_999);
    app.put_anchor(
        &format!("01/{scanned}"),
        json!({"itemDescription": "Scanned", "defaultLinkType": "gs1:pip",
               "links": [{"linkType": "gs1:pip", "href": "https://a.example/scanned", "title": "PIP"}]}),
    )
    .await;
    let body: Vec<String> = (0..BIG)
        .map(|i| {
            line(
                &format!("01/{}", gtin("0952012", i)),
                &format!("https://a.example/{i}"),
            )
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scans = {
        let (stop, url) = (stop.clone(), app.url(&format!("/01/{scanned}")));
        tokio::spawn(async move {
            let client = TestApp::client();
            let mut count = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client.get(&url).send().await.expect("scan");
                assert_eq!(
                    response.status().as_u16(),
                    307,
                    "a scan during the bulk write"
                );
                count += 1;
            }
            count
        })
    };
    let (status, report) = post(
        &app,
        crate::support::client::ADMIN_TOKEN,
        "",
        body.join("\n"),
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let scans = scans.await.expect("no scan failed");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["totals"]["lines"], BIG);
    assert_eq!(report["totals"]["created"], BIG);
    assert_eq!(report["totals"]["failed"], 0);
    assert_eq!(report["lastLine"], BIG);
    assert_eq!(report["complete"], true);
    assert_eq!(
        report["outcomes"],
        json!([]),
        "only failures are listed by default"
    );
    assert!(scans > 0, "scans ran during the write");
    for i in [0, BIG / 2, BIG - 1] {
        let response = app.resolve(&format!("/01/{}", gtin("0952012", i))).await;
        assert_eq!(response.status().as_u16(), 307);
        assert_eq!(
            response.headers()["location"].to_str().unwrap(),
            format!("https://a.example/{i}")
        );
    }
}

async fn bad_lines_are_reported_and_the_rest_written(app: &impl Api) {
    let g = |n| format!("01/{}", gtin("0952012", n));
    let body = [
        line(&g(1), "https://a.example/1"),
        line(&g(2), "https://a.example/2"),
        "{not json".to_string(),
        String::new(),
        json!({"identifier": g(3), "itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "ftp://nope", "title": "t"}]})
            .to_string(),
        line("01/09520123456789", "https://a.example/bad-check-digit"),
        line(&format!("01/{}", gtin("0950600", 1)), "https://a.example/elsewhere"),
        line(&g(4), "https://a.example/4"),
    ];
    let (status, report) = post(app, ACME, "?report=all", body.join("\n")).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["totals"],
        json!({"lines": 7, "created": 3, "replaced": 0, "failed": 4})
    );
    let outcomes = report["outcomes"].as_array().unwrap();
    let by_line: Vec<(u64, u64)> = outcomes
        .iter()
        .map(|o| (o["line"].as_u64().unwrap(), o["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        by_line,
        vec![
            (1, 201),
            (2, 201),
            (3, 400),
            (5, 422),
            (6, 400),
            (7, 403),
            (8, 201)
        ],
        "{report}"
    );
    assert_eq!(outcomes[3]["identifier"], g(3));
    assert!(
        outcomes[3]["detail"].as_str().unwrap().contains("href"),
        "{report}"
    );
    assert!(
        outcomes[5]["detail"]
            .as_str()
            .unwrap()
            .contains("01/0952012*"),
        "a 403 names the scopes held: {report}"
    );
    for (n, expected) in [(1, 200), (2, 200), (3, 404), (4, 200)] {
        assert_eq!(status_of(app, &g(n)).await, expected, "anchor {n}");
    }
    assert_eq!(
        status_of(app, &format!("01/{}", gtin("0950600", 1))).await,
        404
    );
    // A second write of the same lines replaces: 200 each, and only failures are listed by default.
    let (status, again) = post(app, ACME, "", body[..2].join("\n")).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["totals"],
        json!({"lines": 2, "created": 0, "replaced": 2, "failed": 0})
    );
    assert_eq!(again["outcomes"], json!([]));
    // Bulk writes are audited as single writes are.
    let audit = app
        .admin(Method::GET, &format!("/api/v1/audit?identifier={}", g(1)))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let ops: Vec<(&str, &str)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["operation"].as_str().unwrap(), e["who"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ops,
        vec![("create", "acme"), ("replace", "acme")],
        "{audit}"
    );
}

#[tokio::test]
async fn bad_and_out_of_scope_lines_are_reported_by_number_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    bad_lines_are_reported_and_the_rest_written(&app).await;
}

#[tokio::test]
async fn bad_and_out_of_scope_lines_are_reported_by_number_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(&[
        "--no-demo",
        "--config",
        &config(dir.path()),
        "--redis-url",
        &redis.url(),
    ])
    .await;
    bad_lines_are_reported_and_the_rest_written(&app).await;
}

#[tokio::test]
async fn a_bulk_write_needs_ndjson_a_known_report_and_a_credential() {
    let app = TestApp::start().await;
    let body = line(&format!("01/{}", gtin("0952012", 1)), "https://a.example/1");
    let response = app
        .admin(Method::POST, "/api/v1/anchors")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let problem = crate::support::client::problem(response, 400).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/x-ndjson")
    );
    let (status, _) = post(
        &app,
        crate::support::client::ADMIN_TOKEN,
        "?report=some",
        body.clone(),
    )
    .await;
    assert_eq!(status, 400);
    let anonymous = app
        .request(Method::POST, "/api/v1/anchors")
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let put = app
        .admin(Method::PUT, "/api/v1/anchors")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 405);
    assert_eq!(put.headers()["allow"], "GET, HEAD, POST, OPTIONS");
}

#[tokio::test]
async fn beyond_the_size_limit_the_lines_within_it_stay_written_and_the_answer_says_up_to_which() {
    let lines: Vec<String> = (0..10)
        .map(|i| {
            line(
                &format!("01/{}", gtin("0952012", i)),
                &format!("https://a.example/{i}"),
            )
        })
        .collect();
    // The limit ends in the middle of line 7: lines 1 to 6 are whole within it.
    let limit: usize = lines[..6].iter().map(|l| l.len() + 1).sum::<usize>() + 10;
    let limit = limit.to_string();
    let app =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_LIMITS__MAX_IMPORT_BYTES", &limit)]).await;
    let (status, problem) = post(
        &app,
        crate::support::client::ADMIN_TOKEN,
        "",
        lines.join("\n"),
    )
    .await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(problem["status"], 413);
    assert_eq!(problem["lastLine"], 6, "{problem}");
    assert_eq!(problem["complete"], false);
    assert_eq!(problem["totals"]["created"], 6);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("max_import_bytes")
    );
    for i in 0..10 {
        let expected = if i < 6 { 200 } else { 404 };
        assert_eq!(
            status_of(&app, &format!("01/{}", gtin("0952012", i))).await,
            expected,
            "line {}",
            i + 1
        );
    }
}

/// Follows `Link: rel="next"` from the first page to the last, as `token`.
async fn list_all(server: &impl Api, token: &str, first: &str) -> Vec<String> {
    let client = crate::support::client::client();
    let mut url = server.url(first);
    let mut seen = Vec::new();
    loop {
        let response = client.get(&url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let next = response.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
        let page: Value = response.json().await.unwrap();
        assert_eq!(page["next"].as_str(), next.as_deref());
        seen.extend(
            page["anchors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["identifier"].as_str().unwrap().to_string()),
        );
        match next {
            Some(next) => url = next,
            None => return seen,
        }
    }
}

async fn pages_skip_and_repeat_nothing_while_others_write(app: &TestApp) {
    let stable: Vec<String> = (0..250)
        .map(|i| format!("01/{}", gtin("0952012", i * 7)))
        .collect();
    let mut body: Vec<String> = stable
        .iter()
        .map(|g| line(g, "https://a.example/s"))
        .collect();
    body.push(line(
        &format!("01/{}", gtin("0950600", 1)),
        "https://a.example/other",
    ));
    let (status, report) = post(
        app,
        crate::support::client::ADMIN_TOKEN,
        "",
        body.join("\n"),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let churn = {
        let base = app.base.clone();
        tokio::spawn(async move {
            let client = crate::support::client::client();
            for i in 0..150 {
                let path = format!("{base}/api/v1/anchors/01/{}", gtin("0952012", i * 7 + 3));
                let body = json!({"itemDescription": "churn", "defaultLinkType": "gs1:pip",
                    "links": [{"linkType": "gs1:pip", "href": "https://a.example/c", "title": "c"}]});
                let put = client
                    .put(&path)
                    .bearer_auth(ACME)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(put.status().is_success());
                if i % 2 == 0 {
                    client.delete(&path).bearer_auth(ACME).send().await.unwrap();
                }
            }
        })
    };
    let seen = list_all(app, ACME, "/api/v1/anchors?limit=9").await;
    churn.await.unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in canonical order");
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "nothing repeated");
    let mut expected = stable.clone();
    expected.sort();
    let stable_seen: Vec<String> = seen
        .into_iter()
        .filter(|p| stable.contains(p) || !p.starts_with("01/0952012"))
        .collect();
    assert_eq!(
        stable_seen, expected,
        "every stable anchor once, and none outside acme's scope"
    );
    // A prefix narrows the listing; the admin sees the other company's anchor too.
    let prefixed = list_all(
        app,
        ACME,
        &format!("/api/v1/anchors?prefix={}", &stable[0][..12]),
    )
    .await;
    assert!(!prefixed.is_empty() && prefixed.iter().all(|p| p.starts_with(&stable[0][..12])));
    let admin = list_all(
        app,
        crate::support::client::ADMIN_TOKEN,
        "/api/v1/anchors?prefix=01/0950600&limit=1000",
    )
    .await;
    assert_eq!(admin, vec![format!("01/{}", gtin("0950600", 1))]);
    let bad = app
        .scoped(ACME, Method::GET, "/api/v1/anchors?cursor=!!")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let too_many = app
        .scoped(ACME, Method::GET, "/api/v1/anchors?limit=1001")
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_pages_through_the_callers_anchors_while_others_write_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    pages_skip_and_repeat_nothing_while_others_write(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_pages_through_the_callers_anchors_while_others_write_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(&[
        "--no-demo",
        "--config",
        &config(dir.path()),
        "--redis-url",
        &redis.url(),
    ])
    .await;
    pages_skip_and_repeat_nothing_while_others_write(&app).await;
}

fn idr(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = crate::support::server::command();
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .env_remove("IDR_ADMIN_TOKEN")
        .env_remove("IDR_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run idr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The demo data exported, written back through the bulk write of a running server, and exported from it again:
/// the same file. Written once more, the export is still the same (writing a record back changes nothing in it).
#[tokio::test]
async fn export_then_bulk_write_then_export_is_the_same_file() {
    let offline = tempfile::tempdir().unwrap();
    let dir = offline.path().to_str().unwrap();
    let imported = idr(
        &[
            "import",
            "--data-dir",
            dir,
            "resolver-config/demo/demo.ndjson",
        ],
        &[],
    );
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let first = idr(&["export", "--data-dir", dir], &[]);
    assert!(first.status.success());
    let first = text(&first.stdout);
    assert!(
        first.lines().count() >= 3,
        "the demo data has anchors: {first}"
    );
    let mut server = Server::start().await;
    for round in 0..2 {
        let (status, report) = post(
            &server,
            crate::support::client::ADMIN_TOKEN,
            "",
            first.clone(),
        )
        .await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["totals"]["failed"], 0, "{report}");
        server.stop();
        let data = server.data_dir().to_str().unwrap().to_string();
        let again = idr(&["export", "--data-dir", &data], &[]);
        assert!(again.status.success(), "{}", text(&again.stderr));
        assert_eq!(text(&again.stdout), first, "round {round}");
        server.resume().await;
    }
}

#[tokio::test]
async fn idr_import_server_writes_through_a_running_server_and_prints_failed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(&["--no-demo", "--config", &config(dir.path())]).await;
    let file = dir.path().join("feed.ndjson");
    let mut lines: Vec<String> = (0..50)
        .map(|i| {
            line(
                &format!("01/{}", gtin("0952012", i)),
                &format!("https://a.example/{i}"),
            )
        })
        .collect();
    lines[9] = "{broken".into();
    lines[19] = line(
        &format!("01/{}", gtin("0950600", 1)),
        "https://a.example/not-mine",
    );
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let file = file.to_str().unwrap();
    let missing_token = idr(&["import", "--server", &server.base, file], &[]);
    assert!(!missing_token.status.success());
    assert!(text(&missing_token.stderr).contains("IDR_TOKEN"));
    let out = idr(
        &["import", "--server", &server.base, file],
        &[("IDR_TOKEN", ACME)],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("imported 48 anchors (48 created, 0 replaced), rejected 2 lines"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("{file}:10: rejected (400)")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:20: rejected (403)")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\r'),
        "no progress bar when stderr is not a terminal"
    );
    assert_eq!(
        status_of(&server, &format!("01/{}", gtin("0952012", 49))).await,
        200
    );
    let wrong_token = idr(
        &["import", "--server", &server.base, file],
        &[("IDR_TOKEN", "nope")],
    );
    assert_eq!(wrong_token.status.code(), Some(1));
    assert!(
        text(&wrong_token.stderr).contains("401"),
        "{}",
        text(&wrong_token.stderr)
    );
}

#[tokio::test]
async fn idr_export_prefix_writes_only_that_prefix() {
    let offline = tempfile::tempdir().unwrap();
    let dir = offline.path().to_str().unwrap();
    let file = offline.path().join("two.ndjson");
    let a = format!("01/{}", gtin("0952012", 1));
    let b = format!("01/{}", gtin("0950600", 1));
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n",
            line(&a, "https://a.example/a"),
            line(&b, "https://a.example/b")
        ),
    )
    .unwrap();
    assert!(
        idr(&["import", "--data-dir", dir, file.to_str().unwrap()], &[])
            .status
            .success()
    );
    let out = idr(
        &["export", "--data-dir", dir, "--prefix", "01/0950600"],
        &[],
    );
    assert!(out.status.success());
    let exported = text(&out.stdout);
    assert_eq!(exported.lines().count(), 1, "{exported}");
    assert!(exported.contains(&b));
}

/// A pattern registration's line from `idr export` is refused by the bulk write with where to send it instead, and
/// the anchor lines around it are written.
#[tokio::test]
async fn pattern_lines_are_refused_with_where_to_send_them() {
    let app = TestApp::start_with(&["--no-demo"]).await;
    let g = format!("01/{}", gtin("0952012", 7));
    let pattern = json!({"pattern": "8004/9520123", "itemDescription": "Assets",
        "links": [{"linkType": "gs1:pip", "href": "https://assets.example/{8004}", "title": "A"}]});
    let body = [pattern.to_string(), line(&g, "https://a.example/7")].join("\n");
    let (status, report) = post(
        &app,
        crate::support::client::ADMIN_TOKEN,
        "?report=all",
        body,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let outcomes = report["outcomes"].as_array().unwrap();
    assert_eq!(outcomes[0]["status"], 400, "{report}");
    let detail = outcomes[0]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("/api/v1/patterns/"), "{report}");
    assert_eq!(outcomes[1]["status"], 201, "{report}");
}

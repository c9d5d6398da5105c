//! Moving a registry between stores with `idr export` / `idr import`: embedded → Redis → embedded, the same lines
//! and the same counts each way; Redis chosen by `--redis-url`, `IDR_REDIS_URL` or `[store] redis_url`.

use crate::support::redis::{RedisServer, gtin};
use crate::support::server::Server;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn idr(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = crate::support::server::command();
    cmd.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .env_remove("IDR_REDIS_URL")
        .env_remove("IDR_STORE__REDIS_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run idr")
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The number after `word` ("imported 12 anchors", "exported 12 anchors") on stdout or stderr.
fn count_after(output: &Output, word: &str) -> usize {
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let re = regex::Regex::new(&format!(r"{word} (\d+)")).expect("regex");
    re.captures(&all)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no \"{word} N\" in:\n{all}"))
}

/// What `idr export ARGS…` wrote: the raw NDJSON (in the order the store gave it), its lines sorted, and the
/// count it reported.
struct Export {
    raw: String,
    lines: Vec<String>,
    count: usize,
}

fn export(args: &[&str], env: &[(&str, &str)]) -> Export {
    let mut full = vec!["export"];
    full.extend_from_slice(args);
    let output = idr(&full, env);
    assert!(output.status.success(), "idr {full:?}: {}", text(&output));
    let raw = String::from_utf8(output.stdout.clone()).expect("UTF-8");
    let mut lines: Vec<String> = raw
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    lines.sort();
    let count = count_after(&output, "exported");
    assert_eq!(count, lines.len(), "idr {full:?}: count vs lines");
    Export { raw, lines, count }
}

/// Runs `idr import FILE ARGS…` expecting every line to be accepted; the count it reported.
fn import(file: &Path, args: &[&str]) -> usize {
    let mut full = vec!["import", file.to_str().expect("UTF-8")];
    full.extend_from_slice(args);
    let output = idr(&full, &[]);
    assert!(output.status.success(), "idr {full:?}: {}", text(&output));
    count_after(&output, "imported")
}

/// Equal sorted line sets, or a panic naming the lines only one side has.
fn assert_same_lines(left: &[String], right: &[String], what: &str) {
    if left == right {
        return;
    }
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|l| !b.contains(l)).cloned().collect()
    };
    panic!(
        "{what}: {} vs {} lines\nonly left:\n{}\nonly right:\n{}",
        left.len(),
        right.len(),
        only(left, right).join("\n"),
        only(right, left).join("\n")
    );
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write NDJSON");
}

/// A registry with several primary keys, levels, versioned links, UNTP attributes and non-ASCII text.
fn fixture() -> Vec<String> {
    let mut lines = Vec::new();
    for n in 0..40 {
        let g = format!("01/{}", gtin(n));
        lines.push(json!({"identifier": g, "itemDescription": format!("Produkt {n} – Größe M"),
            "defaultLinkType": "gs1:pip", "links": [
                {"linkType": "gs1:pip", "href": format!("https://brand.example/en/{n}"), "title": "Info",
                 "type": "text/html", "hreflang": ["en"]},
                {"linkType": "gs1:pip", "href": format!("https://brand.example/de/{n}"), "title": "Infos",
                 "type": "text/html", "hreflang": ["de"], "context": ["eu"]}]}).to_string());
        if n % 4 == 0 {
            lines.push(
                json!({"identifier": format!("{g}/10/LOT{n}"), "itemDescription": "Batch",
                "links": [{"linkType": "untp:dcc", "href": format!("https://cert.example/{n}.jwt"),
                           "title": "DCC", "type": "application/vc+jwt"}]})
                .to_string(),
            );
            lines.push(json!({"identifier": format!("{g}/21/S{n}"), "itemDescription": "Serial",
                "defaultLinkType": "untp:dpp", "links": [
                    {"linkType": "untp:dpp", "href": format!("https://cred.example/{n}/v1.jwt"), "title": "DPP",
                     "type": "application/vc+jwt", "rel": ["predecessor-version"]},
                    {"linkType": "untp:dpp", "href": format!("https://cred.example/{n}/v2.jwt"), "title": "DPP",
                     "type": "application/vc+jwt", "hreflang": ["en"]},
                    {"linkType": "untp:dte", "href": format!("https://cred.example/{n}/dte.enc"),
                     "title": "Events", "type": "application/vc+jwt", "encryptionMethod": "AES-128",
                     "accessRole": ["untp:accessRole#Anonymous"], "method": ["POST"]}]}).to_string());
        }
    }
    lines.push(json!({"identifier": "414/9520123456788", "itemDescription": "Site",
        "defaultLinkType": "untp:dfr", "links": [{"linkType": "untp:dfr",
        "href": "https://site.example/dfr.jwt", "title": "Facility record", "type": "application/vc+jwt"}]})
    .to_string());
    lines
}

#[tokio::test]
async fn embedded_to_redis_and_back_keeps_every_line() {
    let redis = RedisServer::start();
    let url = redis.url();
    let work = tempfile::tempdir().expect("temp dir");
    let embedded = work.path().join("embedded");
    let embedded_dir = embedded.to_str().unwrap();
    let source = work.path().join("source.ndjson");
    let fixture = fixture();
    write_lines(&source, &fixture);
    assert_eq!(
        import(&source, &["--data-dir", embedded_dir]),
        fixture.len()
    );

    // Embedded → file → Redis → file.
    let from_embedded = export(&["--data-dir", embedded_dir], &[]);
    assert_eq!(from_embedded.count, fixture.len());
    let dump = work.path().join("embedded.ndjson");
    std::fs::write(&dump, &from_embedded.raw).expect("write dump");
    let imported = import(&dump, &["--redis-url", &url]);
    assert_eq!(imported, from_embedded.count, "import count = export count");
    let from_redis = export(&["--redis-url", &url], &[]);
    assert_eq!(from_redis.count, from_embedded.count);
    assert_same_lines(
        &from_redis.lines,
        &from_embedded.lines,
        "Redis export (left) vs embedded export (right)",
    );
    assert_eq!(redis.keys("idr:a:*").len(), fixture.len());

    // Every way of choosing Redis reads the same registry.
    let via_env = export(&[], &[("IDR_REDIS_URL", &url)]);
    assert_same_lines(&via_env.lines, &from_redis.lines, "IDR_REDIS_URL");
    let config = work.path().join("idr.toml");
    std::fs::write(&config, format!("[store]\nredis_url = \"{url}\"\n")).expect("config");
    let via_config = export(&["--config", config.to_str().unwrap()], &[]);
    assert_same_lines(&via_config.lines, &from_redis.lines, "[store] redis_url");

    // A resolver on that Redis serves the imported anchors.
    let server = Server::start_with(&["--no-demo", "--redis-url", &url]).await;
    let client = Server::client();
    let g = gtin(8);
    let r = client
        .get(server.url(&format!("/01/{g}/21/S8")))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "https://cred.example/8/v2.jwt");
    let r = client
        .get(server.url(&format!("/01/{g}/10/LOT8/21/S8?linkType=linkset")))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("linkset");
    assert_eq!(body["linkset"].as_array().map(Vec::len), Some(3));
    drop(server);

    // Redis → file (as Redis exported it) → a fresh embedded store → file.
    let back = work.path().join("redis.ndjson");
    std::fs::write(&back, &from_redis.raw).expect("write dump");
    let fresh = work.path().join("fresh");
    let fresh_dir = fresh.to_str().unwrap();
    assert_eq!(import(&back, &["--data-dir", fresh_dir]), from_redis.count);
    let round_trip = export(&["--data-dir", fresh_dir], &[]);
    assert_eq!(round_trip.count, from_redis.count);
    assert_same_lines(
        &round_trip.lines,
        &from_embedded.lines,
        "embedded → Redis → embedded (left) vs first export (right)",
    );
}

#[test]
fn import_into_redis_reports_bad_lines_and_writes_the_rest() {
    let redis = RedisServer::start();
    let work = tempfile::tempdir().expect("temp dir");
    let file = work.path().join("anchors.ndjson");
    let good = |n: u32| {
        json!({"identifier": format!("01/{}", gtin(n)), "itemDescription": "x", "links": [
            {"linkType": "gs1:pip", "href": format!("https://brand.example/{n}"), "title": "p"}]})
        .to_string()
    };
    let lines = [
        good(1),
        "{not json".to_string(),
        good(2),
        json!({"identifier": "01/09520123456787", "itemDescription": "bad check digit", "links": []})
            .to_string(),
    ];
    write_lines(&file, &lines);
    let output = idr(
        &[
            "import",
            file.to_str().unwrap(),
            "--redis-url",
            &redis.url(),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(":2:") && stderr.contains(":4:"), "{stderr}");
    assert_eq!(count_after(&output, "imported"), 2);
    let Export {
        lines: exported,
        count,
        ..
    } = export(&["--redis-url", &redis.url()], &[]);
    assert_eq!(count, 2);
    let identifiers = |lines: &[String]| -> Vec<Value> {
        let mut ids: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON")["identifier"].clone())
            .collect();
        ids.sort_by_key(|v| v.to_string());
        ids
    };
    assert_eq!(identifiers(&exported), identifiers(&[good(1), good(2)]));
}

//! Identifier schemes as configuration, over real HTTP: the shipped LEI, ABN and facility-register schemes, GS1 under
//! `/gs1/`, per-scheme policies, scopes by namespace, and bad scheme files stopping start-up.

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::client::location;
use crate::support::server::binary;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;

fn link(link_type: &str, href: &str) -> Value {
    json!({"linkType": link_type, "href": href, "title": link_type, "type": "application/vc+jwt", "hreflang": ["en"]})
}

#[tokio::test]
async fn a_business_register_resolves_in_both_path_forms_and_walks_up_from_a_branch() {
    let server = TestApp::start().await;
    let body = json!({
        "itemDescription": "Australian Taxation Office",
        "defaultLinkType": "untp:dia",
        "links": [link("untp:dia", "https://abr.example/dia/51824753556.jwt"),
                  link("untp:dfr", "https://abr.example/dfr/51824753556.jwt")]
    });
    let created = server.put_anchor("abr/abn/51824753556", body).await;
    assert_eq!(created["anchor"], server.url("/abr/abn/51824753556"));

    for path in [
        "/abr/abn/51824753556",
        "/abn/51824753556",
        "/abn/51824753556/",
        "/ABR/ABN/51824753556",
    ] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 307, "{path}");
        assert_eq!(
            location(&r),
            "https://abr.example/dia/51824753556.jwt",
            "{path}"
        );
        let link = r.headers()["link"].to_str().unwrap();
        assert!(
            link.contains(&format!(
                "<{}>; rel=\"owl:sameAs\"",
                server.url("/abr/abn/51824753556")
            )),
            "{link}"
        );
    }
    // A branch with nothing of its own answers with the business's links; the linkset anchors them at the business.
    let r = server
        .resolve("/abn/51824753556/branch/002?linkType=untp:dfr")
        .await;
    assert_eq!(r.status(), 307);
    assert_eq!(
        location(&r),
        "https://abr.example/dfr/51824753556.jwt?linkType=untp:dfr"
    );
    let r = server
        .get_with(
            "/abn/51824753556/branch/002",
            &[("accept", "application/linkset+json")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let linkset: Value = r.json().await.unwrap();
    assert_eq!(
        linkset["linkset"][0]["anchor"],
        server.url("/abr/abn/51824753556")
    );
    assert_eq!(linkset["linkset"].as_array().unwrap().len(), 1);
    // UNTP policy: a link type this business does not publish gets the default link, not a 404.
    let r = server
        .resolve("/abr/abn/51824753556?linkType=gs1:recallStatus")
        .await;
    assert_eq!(r.status(), 307);
    assert!(location(&r).starts_with("https://abr.example/dia/51824753556.jwt"));
    // An ABN that fails its check digit is a 400 that says so; an unregistered valid one is a 404.
    let r = server.resolve("/abn/51824753557").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: Value = r.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("abn-mod89"),
        "{problem}"
    );
    assert_eq!(server.resolve("/abn/53004085616").await.status(), 404);
}

#[tokio::test]
async fn lei_and_facility_identifiers_are_validated_and_canonicalised() {
    let server = TestApp::start().await;
    let body = json!({"itemDescription": "Bloomberg", "links": [link("untp:dia", "https://lei.example/dia.jwt")]});
    server
        .put_anchor("lei/lei/5493001kjtiigc8y1r12", body)
        .await;
    let r = server.resolve("/lei/lei/5493001KJTIIGC8Y1R12").await;
    assert_eq!(
        r.status(),
        307,
        "stored under the upper-cased canonical form"
    );
    let r = server.resolve("/lei/lei/5493001KJTIIGC8Y1R13").await;
    assert_eq!(r.status(), 400);
    let r = server
        .resolve("/lei/lei/5493001KJTIIGC8Y1R12/branch/1")
        .await;
    assert_eq!(r.status(), 400, "LEI takes no qualifiers");

    let facility = json!({"itemDescription": "Smelter", "defaultLinkType": "untp:dfr",
        "links": [link("untp:dfr", "https://frs.example/dfr.jwt")]});
    server
        .put_anchor("frs/facility/110000350174", facility)
        .await;
    let unit = json!({"itemDescription": "Kiln 1", "links": [link("untp:dcc", "https://frs.example/k1-dcc.jwt")]});
    server
        .put_anchor("frs/facility/110000350174/unit/k1", unit)
        .await;
    let r = server
        .get_with(
            "/frs/facility/110000350174/unit/K1/permit/P-9",
            &[("accept", "application/linkset+json")],
        )
        .await;
    let linkset: Value = r.json().await.unwrap();
    let anchors: Vec<&str> = linkset["linkset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["anchor"].as_str().unwrap())
        .collect();
    assert_eq!(
        anchors,
        [
            server.url("/frs/facility/110000350174/unit/K1"),
            server.url("/frs/facility/110000350174")
        ]
    );
    let r = server
        .resolve("/frs/facility/110000350174/permit/P-9/unit/K1")
        .await;
    assert_eq!(r.status(), 400, "qualifiers out of order");
}

#[tokio::test]
async fn gs1_answers_under_gs1_with_its_own_policy() {
    let server = TestApp::start().await;
    let body = json!({"itemDescription": "Widget", "defaultLinkType": "gs1:pip",
        "links": [{"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "Product"}]});
    server.put_anchor("01/09520123456788", body).await;
    let r = server.resolve("/gs1/01/09520123456788/10/ABC").await;
    assert_eq!(r.status(), 307);
    assert_eq!(location(&r), "https://brand.example/p");
    let link = r.headers()["link"].to_str().unwrap();
    assert!(
        link.contains(&format!(
            "<{}>; rel=\"owl:sameAs\"",
            server.url("/01/09520123456788/10/ABC")
        )),
        "{link}"
    );
    // GS1 keeps the 404 for a link type registered nowhere.
    assert_eq!(
        server
            .resolve("/gs1/01/09520123456788?linkType=gs1:recallStatus")
            .await
            .status(),
        404
    );
}

fn write_config(dir: &Path, extra: &str) -> String {
    let config = dir.join("idr.toml");
    std::fs::write(
        &config,
        format!(
            "[resolver]\nconfig_dir = \"{}\"\n{extra}",
            dir.join("conf").display()
        ),
    )
    .unwrap();
    config.display().to_string()
}

fn scheme_dir(dir: &Path, files: &[(&str, &str)]) {
    let schemes = dir.join("conf/schemes");
    std::fs::create_dir_all(&schemes).unwrap();
    for (name, text) in files {
        std::fs::write(schemes.join(name), text).unwrap();
    }
}

const ABN_UNTP_ONLY: &str = r#"namespace = "abr"
unknown_link_type = "not-found"
vocabularies = ["untp"]
[[key_types]]
name = "abn"
pattern = "[1-9][0-9]{10}"
check_digit = "abn-mod89"
"#;

#[tokio::test]
async fn a_scheme_limits_vocabularies_and_scopes_can_name_a_namespace() {
    let dir = tempfile::tempdir().unwrap();
    scheme_dir(dir.path(), &[("abr.toml", ABN_UNTP_ONLY)]);
    let digest = hex(&Sha256::digest(b"abr-writer"));
    let keys = format!("[[keys]]\nname = \"abr\"\nsha256 = \"{digest}\"\nscopes = [\"abr/*\"]\n");
    let config = write_config(dir.path(), &keys);
    let server = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    let client = client();
    let put = |path: &str, token: &str, body: Value| {
        client
            .put(server.url(&format!("/api/v1/anchors/{path}")))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let gs1_link = json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]});
    let r = put("abr/abn/51824753556", ADMIN_TOKEN, gs1_link)
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(
        problem["errors"][0]["field"], "links[0].linkType",
        "{problem}"
    );

    let dia = json!({"itemDescription": "x", "links": [link("untp:dia", "https://a.example/dia")]});
    assert_eq!(
        put("abr/abn/51824753556", "abr-writer", dia.clone())
            .await
            .unwrap()
            .status(),
        201
    );
    // Only this config's schemes exist: GS1 paths are not answered, and the scope cannot reach them anyway.
    assert_eq!(
        put("01/09520123456788", "abr-writer", dia)
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(server.resolve("/01/09520123456788").await.status(), 400);
    // not-found policy from this file
    assert_eq!(
        server
            .resolve("/abr/abn/51824753556?linkType=untp:dpp")
            .await
            .status(),
        404
    );
}

#[test]
fn a_bad_scheme_file_stops_start_up_naming_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let broken = ABN_UNTP_ONLY.replace("abn-mod89", "luhn");
    scheme_dir(dir.path(), &[("abr.toml", &broken)]);
    let config = write_config(dir.path(), "");

    let check = Command::new(binary())
        .args(["check-config", "--config", &config])
        .output()
        .unwrap();
    assert!(!check.status.success());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("abr.toml") && stderr.contains("key_types[0].check_digit"),
        "{stderr}"
    );

    let data = tempfile::tempdir().unwrap();
    let serve = Command::new(binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            &config,
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!serve.status.success());
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(
        stderr.contains("abr.toml") && stderr.contains("check_digit"),
        "{stderr}"
    );

    let unknown_vocabulary = ABN_UNTP_ONLY.replace("[\"untp\"]", "[\"untp\", \"acme\"]");
    scheme_dir(dir.path(), &[("abr.toml", &unknown_vocabulary)]);
    let check = Command::new(binary())
        .args(["check-config", "--config", &config])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        !check.status.success() && stderr.contains("vocabularies") && stderr.contains("acme"),
        "{stderr}"
    );

    scheme_dir(dir.path(), &[("abr.toml", ABN_UNTP_ONLY)]);
    let check = Command::new(binary())
        .args(["check-config", "--config", &config])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("abr"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

//! Identifier schemes as configuration, over real HTTP: the shipped LEI, ABN and facility-register schemes, GS1 under
//! `/gs1/`, per-scheme policies, scopes by namespace, and bad scheme files stopping start-up.

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::client::location;
use crate::support::client::problem;
use crate::support::redis::{RedisCluster, RedisServer};
use crate::support::schema::{SchemaKind, assert_valid};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

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
    // One level (verification states of credential links, `status` objects, are not levels).
    let levels = linkset["linkset"].as_array().unwrap();
    assert_eq!(
        levels.iter().filter(|c| c.get("status").is_none()).count(),
        1
    );
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
        .filter(|c| c.get("status").is_none())
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

    let check = crate::support::server::command()
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
    let serve = crate::support::server::command()
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
    let check = crate::support::server::command()
        .args(["check-config", "--config", &config])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        !check.status.success() && stderr.contains("vocabularies") && stderr.contains("acme"),
        "{stderr}"
    );

    scheme_dir(dir.path(), &[("abr.toml", ABN_UNTP_ONLY)]);
    let check = crate::support::server::command()
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

/// ISO/IEC 15459 (MH10.8.2 data identifiers): a party registers its issuer anchor (`18V`: IAC + CIN) and one item
/// (`25S`); the item resolves through its own anchor, every other key it issued (items, license plates) through the
/// issuer's, and another company's keys are unknown. On every store: the issuer's key has its own hash tag, so on a
/// Redis Cluster the two levels live in different slots.
async fn iso15459_walk_up(server: &TestApp) {
    let issuer = json!({
        "itemDescription": "Example Corp (DUNS 043325711)",
        "defaultLinkType": "untp:dia",
        "links": [link("untp:dia", "https://corp.example/dia.jwt"),
                  link("untp:dfr", "https://corp.example/dfr.jwt")]
    });
    let created = server.put_anchor("iso15459/18V/UN043325711", issuer).await;
    assert_eq!(created["identifier"], "iso15459/18V/UN043325711");
    assert_eq!(created["anchor"], server.url("/18V/UN043325711"));
    let item = json!({
        "itemDescription": "Pump, serial MH8031200000000001",
        "defaultLinkType": "untp:dpp",
        "links": [link("untp:dpp", "https://corp.example/dpp/MH8031200000000001.jwt")]
    });
    let created = server
        .put_anchor("iso15459/25S/un043325711mh8031200000000001", item)
        .await;
    assert_eq!(
        created["anchor"],
        server.url("/25S/UN043325711MH8031200000000001")
    );

    // The item's own anchor wins; both path forms answer.
    for path in [
        "/25S/UN043325711MH8031200000000001",
        "/iso15459/25S/UN043325711MH8031200000000001",
    ] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 307, "{path}");
        assert_eq!(
            location(&r),
            "https://corp.example/dpp/MH8031200000000001.jwt"
        );
    }
    // A serial with no anchor of its own, and a license plate of the same company: the issuer's default link.
    for path in [
        "/25S/UN043325711MH8031200000000002",
        "/1J/UN043325711PALLET7",
    ] {
        let r = server.resolve(path).await;
        assert_eq!(r.status(), 307, "{path}");
        assert_eq!(location(&r), "https://corp.example/dia.jwt", "{path}");
    }
    let r = server
        .resolve("/25S/UN043325711MH8031200000000002?linkType=untp:dfr")
        .await;
    assert_eq!(
        location(&r),
        "https://corp.example/dfr.jwt?linkType=untp:dfr"
    );
    // Another company's item is unknown: the fallback is to its own issuer only.
    let r = server.resolve("/25S/UN999999999MH80312").await;
    assert_eq!(r.status(), 404);

    // Linksets: the item's anchor first, then its issuer's; valid against the GS1 and UNTP schemas.
    let linkset = |path: &'static str| async move {
        let r = server
            .get_with(path, &[("accept", "application/linkset+json")])
            .await;
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = r.json().await.unwrap();
        assert_valid(SchemaKind::UntpLinkset, &v);
        assert_valid(SchemaKind::Gs1Linkset, &v);
        v["linkset"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c.get("status").is_none())
            .map(|c| c["anchor"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        linkset("/25S/UN043325711MH8031200000000001").await,
        [
            server.url("/25S/UN043325711MH8031200000000001"),
            server.url("/18V/UN043325711")
        ]
    );
    assert_eq!(
        linkset("/25S/UN043325711MH8031200000000002").await,
        [server.url("/18V/UN043325711")]
    );
}

#[tokio::test]
async fn iso15459_keys_fall_back_to_their_issuer_on_the_embedded_store() {
    iso15459_walk_up(&TestApp::start_with(&["--no-demo"]).await).await;
}

#[tokio::test]
async fn iso15459_keys_fall_back_to_their_issuer_on_redis() {
    let redis = RedisServer::start();
    iso15459_walk_up(&TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await).await;
}

#[tokio::test]
async fn iso15459_keys_fall_back_to_their_issuer_on_a_redis_cluster() {
    let cluster = RedisCluster::start();
    iso15459_walk_up(&TestApp::start_with(&["--no-demo", "--redis-url", &cluster.url()]).await)
        .await;
}

#[tokio::test]
async fn iso15459_check_digits_and_patterns_are_checked_at_scan_and_registration() {
    let server = TestApp::start_with(&["--no-demo"]).await;
    // A container number with a valid ISO 6346 check digit: unknown until registered, then resolved.
    let r = server.resolve("/7B/CSQU3054383").await;
    assert_eq!(r.status(), 404);
    let container = json!({"itemDescription": "40' dry container",
        "links": [link("untp:dte", "https://carrier.example/events/CSQU3054383.jwt")]});
    server
        .put_anchor("iso15459/7B/CSQU3054383", container)
        .await;
    let r = server.resolve("/7b/csqu3054383").await;
    assert_eq!(r.status(), 307);
    assert_eq!(
        location(&r),
        "https://carrier.example/events/CSQU3054383.jwt"
    );

    // A wrong check digit, a character the data identifier does not allow, an over-long license plate: 400
    // problems naming the key type (the field) and the rule, at a scan and at registration alike.
    for (path, names) in [
        ("7B/CSQU3054384", ["7B", "iso6346"]),
        ("25S/UN043325711MH_1", ["25S", "pattern"]),
        ("6J/UN043325711ABCDEFGHIJ", ["6J", "pattern"]),
    ] {
        let body = problem(server.resolve(&format!("/{path}")).await, 400).await;
        let detail = body["detail"].as_str().unwrap();
        for name in names {
            assert!(detail.contains(name), "{path}: {detail}");
        }
        let put = server
            .admin(
                reqwest::Method::PUT,
                &format!("/api/v1/anchors/iso15459/{path}"),
            )
            .json(&json!({"itemDescription": "x", "links": [link("untp:dpp", "https://x.example/a")]}))
            .send()
            .await
            .unwrap();
        let body = problem(put, 400).await;
        assert!(
            body["detail"].as_str().unwrap().contains(names[0]),
            "{body}"
        );
    }
}

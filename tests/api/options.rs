//! Resolution options beyond the §15 table: delegation to another resolver, `language=`, JSON-LD linksets,
//! configuration errors at start-up.

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::client::client;
use serde_json::json;

fn pip(href: &str, lang: &str) -> serde_json::Value {
    json!({"linkType": "gs1:pip", "href": href, "title": format!("pip {lang}"), "hreflang": [lang]})
}

#[tokio::test]
async fn unknown_identifiers_under_a_delegated_prefix_go_to_the_other_resolver() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[[delegations]]\nidentifiers = \"01/0950600*\"\nresolver = \"https://brand-resolver.example/\"\n",
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let client = client();

    let r = client
        .get(server.url("/01/09506000134369/10/B1?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(
        r.headers()["location"],
        "https://brand-resolver.example/01/09506000134369/10/B1?x=1"
    );
    let link = r.headers()["link"].to_str().unwrap();
    assert!(
        link.contains("<https://brand-resolver.example/01/09506000134369/10/B1>"),
        "{link}"
    );
    assert!(
        link.contains("rel=\"https://gs1.org/voc/handledBy\""),
        "{link}"
    );
    assert!(
        !link.contains("rel=\"linkset\""),
        "handledBy replaces the linkset link: {link}"
    );

    // Outside the pattern: a plain 404.
    let r = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Registered locally: local data wins over delegation.
    server
        .put_anchor(
            "01/09506000134369",
            json!({"itemDescription": "x", "links": [pip("https://local.example/p", "en")]}),
        )
        .await;
    let r = client
        .get(server.url("/01/09506000134369/10/B1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "https://local.example/p");
}

#[tokio::test]
async fn language_parameter_overrides_accept_language() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [pip("https://b.example/en", "en"), pip("https://b.example/de", "de")]}),
        )
        .await;
    let r = client()
        .get(server.url("/01/09520123456788?language=de"))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "https://b.example/de?language=de");
}

#[tokio::test]
async fn json_ld_linkset_embeds_the_context() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [pip("https://b.example/en", "en")]}),
        )
        .await;
    let r = client()
        .get(server.url("/01/09520123456788?linkType=linkset"))
        .header("Accept", "application/ld+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["@context"],
        "https://ref.gs1.org/standards/resolver/1.2.0/linkset-context"
    );
    assert_eq!(
        body["linkset"][0]["https://gs1.org/voc/pip"][0]["href"],
        "https://b.example/en"
    );
}

#[test]
fn a_bad_config_stops_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[[delegations]]\nidentifiers = \"01/1*\"\nresolver = \"not a url\"\n",
    )
    .unwrap();
    let out = crate::support::server::command()
        .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("delegations[0].resolver"), "{stderr}");
}

#[tokio::test]
async fn strict_mode_refuses_legacy_gtins_and_alphas() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("strict.toml");
    std::fs::write(
        &config,
        "[resolver]\nlegacy_gtin = false\nconvenience_alphas = false\n",
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [pip("https://b.example/en", "en")]}),
        )
        .await;
    let client = client();
    let r = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307, "the 14-digit form still resolves");
    for legacy in ["/01/9520123456788", "/gtin/09520123456788"] {
        let r = client.get(server.url(legacy)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{legacy}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}

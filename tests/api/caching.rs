//! Cacheable answers (`resolver.cache_max_age_seconds`) over real HTTP: redirects and linksets marked
//! `public, max-age`, linksets with a strong `ETag` answering `If-None-Match` with `304`, the `ETag` following the
//! records of every level in the linkset; errors, stale answers and the management API never cacheable.

use crate::support::app::TestApp;
use crate::support::client::{Api, location};
use crate::support::redis::RedisServer;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::time::Duration;

const GTIN: &str = "01/09520123456788";
const SERIAL: &str = "01/09520123456788/21/S1";
const OTHER_SERIAL: &str = "01/09520123456788/21/S2";
const OTHER_GTIN: &str = "01/09506000134369";
const ROOT: &str = "https://id.example.com";

async fn cached_app(args: &[&str]) -> TestApp {
    let mut all = vec!["--no-demo", "--resolver-root", ROOT];
    all.extend_from_slice(args);
    TestApp::start_with_env(&all, &[("IDR_RESOLVER__CACHE_MAX_AGE_SECONDS", "600")]).await
}

fn anchor(description: &str, href: &str) -> Value {
    json!({"itemDescription": description, "defaultLinkType": "gs1:pip", "links": [
        {"linkType": "gs1:pip", "href": href, "title": "Product information", "type": "text/html",
         "hreflang": ["en"]}]})
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_string())
}

fn vary_names(r: &Response) -> Vec<String> {
    r.headers()
        .get_all("vary")
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect()
}

async fn linkset_etag(app: &TestApp, path: &str) -> (String, Value) {
    let r = app.linkset(path).await;
    assert_eq!(r.status(), 200);
    let etag = header(&r, "etag").expect("a linkset carries an ETag");
    (etag, r.json().await.expect("linkset JSON"))
}

#[tokio::test]
async fn by_default_nothing_is_cacheable() {
    let app = TestApp::start().await;
    app.put_anchor(GTIN, anchor("Thing", "https://brand.example/p"))
        .await;
    let r = app.resolve(&format!("/{GTIN}")).await;
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let r = app.linkset(&format!("/{GTIN}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&r, "etag"), None, "no ETag while caching is off");
    let r = app
        .get_with(
            &format!("/{GTIN}?linkType=linkset"),
            &[("if-none-match", "*")],
        )
        .await;
    assert_eq!(r.status(), 200, "If-None-Match has nothing to match");
}

#[tokio::test]
async fn redirects_and_linksets_carry_max_age_and_vary() {
    let app = cached_app(&[]).await;
    app.put_anchor(GTIN, anchor("Thing", "https://brand.example/p"))
        .await;
    let r = app.resolve(&format!("/{GTIN}?linkType=gs1:pip")).await;
    assert_eq!(r.status(), 307);
    assert_eq!(location(&r), "https://brand.example/p?linkType=gs1:pip");
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public, max-age=600")
    );
    assert_eq!(vary_names(&r), ["accept", "accept-language"]);
    assert_eq!(header(&r, "etag"), None, "redirects carry no ETag");

    let r = app.linkset(&format!("/{GTIN}")).await;
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public, max-age=600")
    );
    assert_eq!(vary_names(&r), ["accept", "accept-language"]);
    let etag = header(&r, "etag").expect("ETag");
    assert!(
        etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );

    // Each written form has its own ETag (a cache holding several variants tells them apart by it).
    let path = format!("/{GTIN}?linkType=linkset");
    let json_ld = app
        .get_with(&path, &[("accept", "application/ld+json")])
        .await;
    assert_eq!(
        header(&json_ld, "content-type").as_deref(),
        Some("application/ld+json")
    );
    let html = app.get_with(&path, &[("accept", "text/html")]).await;
    assert!(
        header(&html, "content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let tags = [
        etag,
        header(&json_ld, "etag").expect("JSON-LD ETag"),
        header(&html, "etag").expect("HTML ETag"),
    ];
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    assert_eq!(
        header(&html, "cache-control").as_deref(),
        Some("public, max-age=600")
    );
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let app = cached_app(&[]).await;
    app.put_anchor(GTIN, anchor("Thing", "https://brand.example/p"))
        .await;
    let path = format!("/{GTIN}?linkType=linkset");
    let (etag, _) = linkset_etag(&app, &format!("/{GTIN}")).await;
    let weak = format!("W/{etag}");
    let listed = format!("\"0000000000000000\", {etag}");
    for condition in [etag.as_str(), weak.as_str(), listed.as_str(), "*"] {
        for method in [Method::GET, Method::HEAD] {
            let r = app
                .send_with(method.clone(), &path, &[("if-none-match", condition)])
                .await;
            assert_eq!(r.status(), 304, "{method} If-None-Match: {condition}");
            assert_eq!(header(&r, "etag").as_deref(), Some(etag.as_str()));
            assert_eq!(
                header(&r, "cache-control").as_deref(),
                Some("public, max-age=600")
            );
            assert_eq!(vary_names(&r), ["accept", "accept-language"]);
            assert!(r.bytes().await.unwrap().is_empty(), "a 304 has no body");
        }
    }
    let r = app
        .get_with(&path, &[("if-none-match", "\"0000000000000000\"")])
        .await;
    assert_eq!(r.status(), 200, "another ETag");
    assert_eq!(header(&r, "etag").as_deref(), Some(etag.as_str()));
    // A JSON linkset's tag does not validate the HTML view.
    let r = app
        .get_with(
            &path,
            &[("if-none-match", etag.as_str()), ("accept", "text/html")],
        )
        .await;
    assert_eq!(r.status(), 200);
    // Preconditions only apply to answers that would be 2xx: a redirect ignores them.
    let r = app
        .get_with(&format!("/{GTIN}"), &[("if-none-match", "*")])
        .await;
    assert_eq!(r.status(), 307);
}

#[tokio::test]
async fn the_etag_follows_every_level_in_the_linkset() {
    let app = cached_app(&[]).await;
    app.put_anchor(GTIN, anchor("Product", "https://brand.example/p"))
        .await;
    app.put_anchor(SERIAL, anchor("Serial", "https://brand.example/s1"))
        .await;
    let path = format!("/{SERIAL}");
    let (first, body) = linkset_etag(&app, &path).await;
    assert_eq!(body["linkset"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(linkset_etag(&app, &path).await.0, first, "stable");

    // Writes elsewhere: a sibling serial, another GTIN.
    app.put_anchor(OTHER_SERIAL, anchor("Other", "https://brand.example/s2"))
        .await;
    app.put_anchor(OTHER_GTIN, anchor("Other", "https://brand.example/o"))
        .await;
    let (unrelated, same_body) = linkset_etag(&app, &path).await;
    assert_eq!(unrelated, first, "unrelated writes keep the ETag");
    assert_eq!(same_body, body);

    // The anchor's own level.
    app.put_anchor(SERIAL, anchor("Serial", "https://brand.example/s1b"))
        .await;
    let (own, own_body) = linkset_etag(&app, &path).await;
    assert_ne!(own, first);
    assert_ne!(own_body, body);
    let r = app
        .get_with(
            &format!("{path}?linkType=linkset"),
            &[("if-none-match", first.as_str())],
        )
        .await;
    assert_eq!(r.status(), 200, "the old ETag no longer validates");

    // An ancestor level that appears in the linkset.
    app.put_anchor(GTIN, anchor("Product, renamed", "https://brand.example/p"))
        .await;
    let (ancestor, ancestor_body) = linkset_etag(&app, &path).await;
    assert_ne!(ancestor, own);
    assert_ne!(ancestor_body, own_body);

    // A level disappearing, and the same content written back (a new version, a new ETag).
    assert_eq!(app.delete_anchor(GTIN).await.status(), 204);
    let (deleted, deleted_body) = linkset_etag(&app, &path).await;
    assert_ne!(deleted, ancestor);
    assert_eq!(deleted_body["linkset"].as_array().unwrap().len(), 1);

    // The access role is part of it (it filters the links listed).
    let role = app
        .get_with(&format!("{path}?linkType=linkset&accessRole=customer"), &[])
        .await;
    assert_eq!(role.status(), 200);
    assert_ne!(header(&role, "etag").unwrap(), deleted);
}

#[tokio::test]
async fn errors_and_management_answers_stay_uncacheable() {
    let app = cached_app(&[]).await;
    app.put_anchor(GTIN, anchor("Thing", "https://brand.example/p"))
        .await;
    for (path, status) in [
        (format!("/{OTHER_GTIN}"), 404),
        (format!("/{GTIN}?linkType=gs1:epil"), 404),
        ("/01/09520123456787".to_string(), 400),
    ] {
        let r = app.resolve(&path).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(
            header(&r, "cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(header(&r, "etag"), None, "{path}");
    }
    let r = app.send_with(Method::POST, &format!("/{GTIN}"), &[]).await;
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let r = app.get_anchor(GTIN).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
}

#[tokio::test]
async fn stale_answers_during_a_redis_outage_are_not_cacheable() {
    let mut redis = RedisServer::start();
    let app = cached_app(&["--redis-url", &redis.url()]).await;
    app.put_anchor(GTIN, anchor("Thing", "https://brand.example/p"))
        .await;
    let path = format!("/{GTIN}?linkType=linkset");
    let (etag, _) = linkset_etag(&app, &format!("/{GTIN}")).await;
    assert_eq!(
        header(&app.resolve(&format!("/{GTIN}")).await, "cache-control").as_deref(),
        Some("public, max-age=600")
    );
    redis.kill9();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let r = app.resolve(&format!("/{GTIN}")).await;
    assert_eq!(r.status(), 307);
    assert!(header(&r, "warning").is_some(), "served stale");
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let r = app
        .get_with(&path, &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(r.status(), 200, "no 304 from a stale copy");
    assert!(header(&r, "warning").is_some());
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&r, "etag"), None);
    let r = app.resolve(&format!("/{OTHER_GTIN}")).await;
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
}

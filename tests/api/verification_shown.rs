//! Verified links as scanners and browsers see them (issue 26): each credential link of a linkset carries its
//! verification state in a context object valid against both linkset schemas, the HTML view says it in words, and
//! `verification.mode` decides whether any of it is shown. The targets are on a closed loopback port (`localhost:1`):
//! whatever checks them gets no answer, so their state is `pending` or, once checked, `unreachable`.
//!
//! The verdicts themselves (and `enforce` passing over a failed target) need the verdict store; the resolution,
//! linkset and HTML functions are tested with constructed verdicts in `src/resolution.rs`, `src/linkset.rs` and
//! `src/http/html.rs`.

use crate::support::app::TestApp;
use crate::support::client::{Api, location};
use crate::support::schema::{SchemaKind, assert_valid};
use serde_json::{Value, json};

const GTIN: &str = "01/09520123456788";
const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const PASSPORT: &str = "https://localhost:1/dpp/battery.jwt";
const PAGE: &str = "https://localhost:1/battery.html";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A server in `report` mode (tests default to `off`) without demo data, whose credential link would be fetched.
async fn report_mode() -> TestApp {
    TestApp::start_with_env(&["--no-demo"], &[("IDR_VERIFICATION__MODE", "report")]).await
}

async fn register(server: &TestApp) {
    server
        .put_anchor(
            GTIN,
            json!({"itemDescription": "Battery pack model X", "defaultLinkType": "untp:dpp", "links": [
                {"linkType": "untp:dpp", "href": PASSPORT, "title": "Digital Product Passport",
                 "type": "application/vc+jwt", "hreflang": ["en"]},
                {"linkType": "gs1:pip", "href": PAGE, "title": "Product information", "type": "text/html"}
            ]}),
        )
        .await;
}

async fn linkset(server: &TestApp) -> Value {
    let response = server.linkset(&format!("/{GTIN}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("a linkset")
}

#[tokio::test]
async fn a_credential_link_shows_its_state_valid_against_both_schemas() {
    let server = report_mode().await;
    register(&server).await;
    let body = linkset(&server).await;
    assert_valid(SchemaKind::Gs1Linkset, &body);
    assert_valid(SchemaKind::UntpLinkset, &body);
    let objects = body["linkset"].as_array().unwrap();
    assert_eq!(objects[0]["anchor"], server.url(&format!("/{GTIN}")));
    assert_eq!(objects[0][DPP][0]["href"], PASSPORT);
    assert_eq!(
        objects[0][DPP][0].as_object().unwrap().len(),
        4,
        "the target object itself is unchanged (href, title, type, hreflang): {body}"
    );
    let states: Vec<&Value> = objects
        .iter()
        .filter(|o| o.get("status").is_some())
        .collect();
    assert_eq!(states.len(), 1, "one state, for the passport only: {body}");
    let state = states[0];
    assert_eq!(state["anchor"], PASSPORT);
    assert_eq!(
        state["status"][0]["href"],
        server.url(&format!("/api/v1/anchors/{GTIN}/verification"))
    );
    let title = state["status"][0]["title"].as_str().unwrap();
    let description = state["itemDescription"].as_str().unwrap();
    let anchor = server.url(&format!("/{GTIN}"));
    match title {
        "pending" => assert_eq!(
            description,
            format!("Not checked yet (the untp:dpp link of {anchor})")
        ),
        "unreachable" => assert!(description.starts_with("Could not be checked just now")),
        other => panic!("a target nobody can reach is pending or unreachable, not {other}"),
    }
    assert!(objects.iter().all(|o| o["anchor"] != PAGE), "{body}");
}

#[tokio::test]
async fn with_verification_off_nothing_is_shown() {
    let server =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_VERIFICATION__MODE", "off")]).await;
    register(&server).await;
    let body = linkset(&server).await;
    assert_valid(SchemaKind::Gs1Linkset, &body);
    assert_eq!(body["linkset"].as_array().unwrap().len(), 1, "{body}");
    let html = server
        .get_with(&format!("/{GTIN}?linkType=linkset"), &[("accept", BROWSER)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Digital Product Passport"), "{html}");
    assert!(!html.contains("class=\"check"), "{html}");
}

#[tokio::test]
async fn the_html_view_says_the_state_beside_the_passport() {
    let server = report_mode().await;
    register(&server).await;
    let response = server
        .get_with(&format!("/{GTIN}?linkType=linkset"), &[("accept", BROWSER)])
        .await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let passport = html
        .find(">Digital Product Passport<")
        .expect("the passport link");
    let page = html
        .find(">Product information<")
        .expect("the product page link");
    let state = html.find("<p class=\"check ").expect("a state");
    let words = &html[state..];
    assert!(
        words.contains("<strong>Not checked yet</strong>")
            || words.contains("<strong>Could not be checked just now</strong>"),
        "{html}"
    );
    assert!(
        passport < state && state < page,
        "beside the passport: {html}"
    );
    assert_eq!(html.matches("<p class=\"check ").count(), 1, "{html}");
    // The verification object of the embedded JSON is not shown as a level of its own.
    assert!(!html.contains("level-1"), "{html}");
}

/// `enforce` changes nothing while nothing is refused: the plain scan and the passport request go to the passport,
/// and the linkset names it the default link.
#[tokio::test]
async fn enforce_with_nothing_refused_answers_as_before() {
    let server =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_VERIFICATION__MODE", "enforce")]).await;
    register(&server).await;
    for path in [format!("/{GTIN}"), format!("/{GTIN}?linkType=untp:dpp")] {
        let response = server.resolve(&path).await;
        assert_eq!(response.status(), 307, "{path}");
        assert!(location(&response).starts_with(PASSPORT), "{path}");
    }
    let body = linkset(&server).await;
    assert_eq!(
        body["linkset"][0]["https://gs1.org/voc/defaultLink"][0]["href"],
        PASSPORT
    );
}

/// Issue 26, left open 7: what a pattern registration serves is expanded per request and never checked (no anchor
/// holds it), so it shows no verification state (not a `pending` that never ends), and the verification endpoint says
/// why there is nothing to show.
#[tokio::test]
async fn links_served_by_a_pattern_show_no_state() {
    let server = report_mode().await;
    let r = server
        .admin(reqwest::Method::PUT, "/api/v1/patterns/01/0952012")
        .json(&json!({"itemDescription": "Products of 0952012", "links": [
            {"linkType": "untp:dpp", "href": "https://localhost:1/dpp/{01}.jwt", "title": "Digital Product Passport"},
            {"linkType": "gs1:pip", "href": "https://localhost:1/{01}.html", "title": "Product information"}
        ]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body = linkset(&server).await;
    assert_valid(SchemaKind::Gs1Linkset, &body);
    assert_valid(SchemaKind::UntpLinkset, &body);
    let objects = body["linkset"].as_array().unwrap();
    assert_eq!(
        objects[0][DPP][0]["href"],
        "https://localhost:1/dpp/09520123456788.jwt"
    );
    assert_eq!(objects.len(), 1, "no state object: {body}");
    let html = server
        .get_with(&format!("/{GTIN}?linkType=linkset"), &[("accept", BROWSER)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Digital Product Passport"), "{html}");
    assert!(!html.contains("class=\"check"), "{html}");
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let r = server
            .admin(
                method.clone(),
                &format!("/api/v1/anchors/{GTIN}/verification"),
            )
            .send()
            .await
            .unwrap();
        let p = crate::support::client::problem(r, 404).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("served by the pattern 01/0952012") && detail.contains("not checked"),
            "{method}: {detail}"
        );
    }
    // An anchor registered for the identifier is checked and shows its state again.
    register(&server).await;
    let body = linkset(&server).await;
    assert!(
        body["linkset"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o.get("status").is_some()),
        "{body}"
    );
}

//! The UNTP link model over real HTTP: versioned targets and their history, secondary resolvers, and the UNTP
//! attributes (`method` as a string on input, an array on output) in schema-valid linksets.

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::schema::{SchemaKind, assert_valid};
use serde_json::{Value, json};

const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const IDR: &str = "https://test.uncefact.org/vocabulary/linkTypes/idr";

fn dpp(href: &str, lang: &str) -> Value {
    json!({"linkType": "untp:dpp", "href": href, "title": format!("DPP {lang}"),
           "type": "application/vc+jwt", "hreflang": [lang]})
}

fn anchor(links: Vec<Value>) -> Value {
    json!({"itemDescription": "Battery pack", "defaultLinkType": "untp:dpp", "links": links})
}

async fn linkset(server: &TestApp, path: &str) -> Value {
    let r = server.linkset(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

async fn redirect(server: &TestApp, path: &str) -> String {
    let r = server.resolve(path).await;
    assert_eq!(r.status(), 307, "{path}");
    r.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_replaced_target_is_kept_as_a_predecessor_and_the_default_follows_the_latest() {
    let server = TestApp::start().await;
    let id = "01/09520123456788/21/12345";
    server
        .put_anchor(
            id,
            anchor(vec![
                dpp("https://cred.example/v1.jwt", "en"),
                dpp("https://cred.example/de1.jwt", "de"),
            ]),
        )
        .await;
    server
        .put_anchor(
            id,
            anchor(vec![
                dpp("https://cred.example/v2.jwt", "en"),
                dpp("https://cred.example/de1.jwt", "de"),
            ]),
        )
        .await;
    let stored = server
        .put_anchor(
            id,
            anchor(vec![
                dpp("https://cred.example/v3.jwt", "en"),
                dpp("https://cred.example/de1.jwt", "de"),
            ]),
        )
        .await;
    assert_eq!(stored["version"], 3);

    assert_eq!(
        redirect(&server, "/01/09520123456788/21/12345").await,
        "https://cred.example/v3.jwt"
    );
    let body = linkset(&server, "/01/09520123456788/21/12345").await;
    assert_valid(SchemaKind::UntpLinkset, &body);
    let targets = body["linkset"][0][DPP].as_array().unwrap();
    let listed: Vec<(&str, Value)> = targets
        .iter()
        .map(|t| {
            (
                t["href"].as_str().unwrap(),
                t.get("rel").cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("https://cred.example/v3.jwt", Value::Null),
            (
                "https://cred.example/v2.jwt",
                json!(["predecessor-version"])
            ),
            (
                "https://cred.example/v1.jwt",
                json!(["predecessor-version"])
            ),
            ("https://cred.example/de1.jwt", Value::Null),
        ]
    );
    // A predecessor is never a redirect target, even when asked for by type.
    assert_eq!(
        redirect(&server, "/01/09520123456788/21/12345?linkType=untp:dpp").await,
        "https://cred.example/v3.jwt?linkType=untp:dpp"
    );

    let r = client()
        .get(server.url(&format!("/api/v1/anchors/{id}/history")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let history: Value = r.json().await.unwrap();
    assert_eq!(history["version"], 3);
    let en = &history["variants"][0];
    assert_eq!(en["linkType"], "untp:dpp");
    assert_eq!(en["hreflang"], json!(["en"]));
    let versions: Vec<(&str, bool)> = en["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["href"].as_str().unwrap(), v["latest"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        versions,
        [
            ("https://cred.example/v3.jwt", true),
            ("https://cred.example/v2.jwt", false),
            ("https://cred.example/v1.jwt", false),
        ]
    );
    assert_eq!(
        history["variants"][1]["versions"].as_array().unwrap().len(),
        1,
        "de never changed"
    );

    let unknown = client()
        .get(server.url("/api/v1/anchors/01/09506000134369/history"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let anonymous = client()
        .get(server.url(&format!("/api/v1/anchors/{id}/history")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_batch_called_history_is_still_an_identifier() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            anchor(vec![dpp("https://cred.example/g.jwt", "en")]),
        )
        .await;
    let created = server
        .put_anchor(
            "01/09520123456788/10/history",
            anchor(vec![dpp("https://cred.example/b.jwt", "en")]),
        )
        .await;
    assert_eq!(created["identifier"], "01/09520123456788/10/history");
}

#[tokio::test]
async fn update_services_and_encrypted_targets_keep_their_untp_attributes() {
    let server = TestApp::start().await;
    let links = vec![
        dpp("https://cred.example/dpp.jwt", "en"),
        json!({"linkType": "untp:dte", "href": "https://cred.example/events.enc", "title": "Events (encrypted)",
               "type": "application/vc+jwt", "encryptionMethod": "AES-128", "accessRole": ["untp:accessRole#Anonymous"]}),
        json!({"linkType": "untp:dte", "href": "https://api.example/events", "title": "Add an event",
               "type": "application/vc+jwt", "rel": "edit", "method": "POST", "accessRole": ["untp:accessRole#Owner"]}),
    ];
    server.put_anchor("01/09520123456788", anchor(links)).await;
    let body = linkset(&server, "/01/09520123456788").await;
    assert_valid(SchemaKind::UntpLinkset, &body);
    let dte = body["linkset"][0]["https://test.uncefact.org/vocabulary/linkTypes/dte"]
        .as_array()
        .unwrap();
    assert_eq!(
        dte[1]["method"],
        json!(["POST"]),
        "a string on input, an array on output"
    );
    assert_eq!(dte[1]["rel"], json!(["edit"]));
    assert_eq!(dte[0]["encryptionMethod"], "AES-128");
    // The edit endpoint is listed but never a redirect target.
    assert_eq!(
        redirect(&server, "/01/09520123456788?linkType=untp:dte").await,
        "https://cred.example/events.enc?linkType=untp:dte"
    );

    // A plain GS1 anchor stays valid against the GS1 schema too.
    let plain = json!({"itemDescription": "Widget", "links": [{"linkType": "gs1:pip", "href": "https://brand.example/p",
        "title": "Product", "type": "text/html", "hreflang": ["en"]}]});
    server.put_anchor("01/09506000134352", plain).await;
    let body = linkset(&server, "/01/09506000134352").await;
    assert_valid(SchemaKind::Gs1Linkset, &body);
    assert_valid(SchemaKind::UntpLinkset, &body);
}

#[tokio::test]
async fn a_secondary_resolver_is_listed_under_the_item_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    std::fs::write(
        &config,
        "[[delegations]]\nidentifiers = \"01/0952012*\"\nresolver = \"https://brand-resolver.example\"\n",
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    server
        .put_anchor(
            "01/09520123456788",
            anchor(vec![dpp("https://cred.example/model.jwt", "en")]),
        )
        .await;

    let body = linkset(&server, "/01/09520123456788/21/777").await;
    assert_valid(SchemaKind::UntpLinkset, &body);
    let item = &body["linkset"][0];
    assert_eq!(item["anchor"], server.url("/01/09520123456788/21/777"));
    let idr = &item[IDR][0];
    assert_eq!(
        idr["href"],
        "https://brand-resolver.example/01/09520123456788/21/777"
    );
    assert_eq!(idr["type"], "application/linkset+json");
    assert_eq!(
        idr["rel"],
        json!(["untp:idr", "https://gs1.org/voc/handledBy"])
    );
    assert_eq!(
        body["linkset"][1]["anchor"],
        server.url("/01/09520123456788"),
        "the coarse level follows"
    );
    // A scan still gets the coarse default here: only an identifier with nothing at all is handed over.
    assert_eq!(
        redirect(&server, "/01/09520123456788/21/777").await,
        "https://cred.example/model.jwt"
    );
    // Where the item level is registered here, no secondary resolver is listed.
    server
        .put_anchor(
            "01/09520123456788/21/777",
            anchor(vec![dpp("https://cred.example/item.jwt", "en")]),
        )
        .await;
    let body = linkset(&server, "/01/09520123456788/21/777").await;
    assert!(body["linkset"][0].get(IDR).is_none());
}

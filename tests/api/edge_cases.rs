//! Regressions from review: versioned links, `linkType=defaultLink`, query parameters that are not ours to judge,
//! dot-segment values, ETags across delete and re-create, demo data only on first start.

use crate::support;
use crate::support::client::Api;
use crate::support::client::client;

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::server::Server;
use serde_json::json;

const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

fn dpp(href: &str, rel: Option<&str>) -> serde_json::Value {
    let mut link = json!({"linkType": "untp:dpp", "href": href, "title": "DPP", "type": "application/vc+jwt",
                          "hreflang": ["en"]});
    if let Some(rel) = rel {
        link["rel"] = json!([rel]);
    }
    link
}

#[tokio::test]
async fn the_latest_version_is_the_target_and_the_default() {
    let server =
        TestApp::start_with(&["--no-demo", "--resolver-root", "https://resolver.example"]).await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "defaultLinkType": "untp:dpp", "links": [
                dpp("https://c.example/v1", Some("predecessor-version")),
                {"linkType": "untp:dpp", "href": "https://c.example/events", "title": "Add an event",
                 "type": "application/vc+jwt", "hreflang": ["en"], "rel": ["edit"], "method": ["POST"]},
                dpp("https://c.example/v2", None)]}),
        )
        .await;
    let client = client();
    for query in ["", "?linkType=untp:dpp"] {
        let r = client
            .get(server.url(&format!("/01/09520123456788{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 307, "{query}: not a 300 between versions");
        let location = r.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("https://c.example/v2"),
            "{query}: {location}"
        );
    }
    let r = client
        .get(server.url("/01/09520123456788?linkType=linkset"))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let object = &body["linkset"][0];
    assert_eq!(
        object["https://gs1.org/voc/defaultLink"][0]["href"],
        "https://c.example/v2"
    );
    assert_eq!(
        object[DPP].as_array().unwrap().len(),
        3,
        "every version stays listed"
    );
    support::schema::assert_valid(support::schema::SchemaKind::UntpLinkset, &body);
}

#[tokio::test]
async fn asking_for_default_link_gets_the_default() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://b.example/p", "title": "p"}]}),
        )
        .await;
    for lt in [
        "gs1:defaultLink",
        "defaultlink",
        "https://ref.gs1.org/voc/defaultLink",
    ] {
        let r = client()
            .get(server.url(&format!("/01/09520123456788?linkType={lt}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 307, "{lt}");
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("https://b.example/p?linkType="),
            "{lt}"
        );
    }
}

#[tokio::test]
async fn foreign_query_parameters_are_forwarded_untouched() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://b.example/p", "title": "p"}]}),
        )
        .await;
    let client = client();
    for query in ["note=50%", "x=%FF", "a=1;b=2", "linkType=", "language="] {
        let r = client
            .get(server.url(&format!("/01/09520123456788?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 307, "{query}");
        assert_eq!(
            r.headers()["location"],
            format!("https://b.example/p?{query}")
        );
    }
    // AI parameters are still checked.
    let r = client
        .get(server.url("/01/09520123456788?17=ZZZ"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn dot_segment_values_are_refused_not_mistaken_for_the_parent() {
    let server = TestApp::start().await;
    let body = json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://b.example/p", "title": "p"}]});
    server.put_anchor("01/09520123456788", body.clone()).await;
    // Sent raw on purpose: a URL library would resolve `%2E%2E` away before it left the client.
    let (status, text) = raw_http(server.port, "GET /01/09520123456788/10/%2E%2E HTTP/1.1").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("cannot be carried in a URI path"), "{text}");
}

/// One request over a plain socket, with the request line exactly as given.
async fn raw_http(port: u16, request_line: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("{request_line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test]
async fn etags_never_repeat_after_delete_and_recreate() {
    let server = TestApp::start().await;
    let body = json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://b.example/p", "title": "p"}]});
    let url = server.url("/api/v1/anchors/01/09520123456788");
    let client = client();
    server.put_anchor("01/09520123456788", body.clone()).await;
    let r = client
        .delete(&url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = client
        .put(&url)
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["etag"], "\"2\"");
    // A writer holding the first incarnation's ETag cannot overwrite the new one; a weak tag never matches.
    for tag in ["\"1\"", "W/\"2\""] {
        let r = client
            .put(&url)
            .bearer_auth(ADMIN_TOKEN)
            .header("If-Match", tag)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 412, "{tag}");
    }
    let r = client
        .put(&url)
        .bearer_auth(ADMIN_TOKEN)
        .header("If-Match", "\"7\", \"2\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "any listed strong tag may match");
}

#[tokio::test]
async fn demo_data_loads_on_first_start_only() {
    // A subprocess: it is killed and restarted.
    let mut server = Server::start_with(&[]).await;
    let client = client();
    let r = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        307,
        "the README's first scan works on a new store"
    );
    assert_eq!(
        r.headers()["location"],
        "https://brand.example/products/09520123456788"
    );
    let r = client
        .get(server.url("/414/9520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    for id in [
        "01/09520123456788/21/12345",
        "01/09520123456788/10/ABC",
        "01/09520123456788",
        "414/9520123456788",
    ] {
        let r = client
            .delete(server.url(&format!("/api/v1/anchors/{id}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{id}");
    }
    server.crash_and_restart().await;
    let r = client
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an emptied store stays empty");
}

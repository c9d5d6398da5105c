mod support;

use serde_json::json;
use support::server::Server;

#[tokio::test]
async fn register_then_resolve() {
    let server = Server::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "Pack", "defaultLinkType": "gs1:pip",
                   "links": [{"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "P"}]}),
        )
        .await;
    let r = Server::client()
        .get(server.url("/01/09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "https://brand.example/p");
}

//! `idr keys`: keys created offline authenticate with exactly their scopes, are listed without secrets, and stop
//! working when revoked or expired.

use crate::support::server::Server;
use serde_json::json;
use std::path::Path;
use std::process::Output;

fn idr(args: &[&str], data: &Path) -> Output {
    crate::support::server::command()
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .expect("run idr")
}

fn create(data: &Path, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["keys", "create", "--name", name];
    args.extend_from_slice(extra);
    let out = idr(&args, data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

async fn put(server: &Server, identifier: &str, token: &str) -> u16 {
    let body = json!({"itemDescription": "x", "links": [{"linkType": "gs1:pip", "href": "https://a.example", "title": "t"}]});
    Server::client()
        .put(server.url(&format!("/api/v1/anchors/{identifier}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn keys_are_scoped_listed_revoked_and_expire() {
    let mut server = Server::start().await;
    server.stop();
    let data = server.data_dir().to_path_buf();
    let acme = create(&data, "acme", &["--scope", "01/0952012*"]);
    // Long enough for the CLI calls and the restart below on a loaded machine; the test waits out the rest.
    let brief = create(
        &data,
        "brief",
        &["--scope", "01/0952012*", "--expires-in", "8s"],
    );
    // The command read the clock before it returned, so the key has expired 8 s after this at the latest.
    let brief_created = std::time::Instant::now();
    let refused = idr(
        &["keys", "create", "--name", "acme", "--scope", "01/1*"],
        &data,
    );
    assert!(!refused.status.success(), "names are unique");
    let bad_scope = idr(
        &["keys", "create", "--name", "x", "--scope", "gtin/0952*"],
        &data,
    );
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("--scope"));

    let list = idr(&["keys", "list"], &data);
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(
        listing.contains("acme\tactive\tscopes 01/0952012*"),
        "{listing}"
    );
    assert!(!listing.contains(&acme), "secrets are never shown again");

    server.resume().await;
    assert_eq!(put(&server, "01/09520123456788", &acme).await, 201);
    assert_eq!(
        put(&server, "01/09506000134369", &acme).await,
        403,
        "outside the key's scope"
    );
    assert_eq!(put(&server, "01/09520123456788", &brief).await, 200);
    let expired_at = brief_created + std::time::Duration::from_millis(8100);
    tokio::time::sleep_until(expired_at.into()).await;
    let r = Server::client()
        .put(server.url("/api/v1/anchors/01/09520123456788"))
        .bearer_auth(&brief)
        .json(&json!({"itemDescription": "x", "links": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("expired"));

    server.stop();
    assert!(
        idr(&["keys", "revoke", "--name", "acme"], &data)
            .status
            .success()
    );
    let listing = String::from_utf8_lossy(&idr(&["keys", "list"], &data).stdout).to_string();
    assert!(
        listing.contains("acme\trevoked") && listing.contains("brief\texpired"),
        "{listing}"
    );
    server.resume().await;
    assert_eq!(
        put(&server, "01/09520123456788", &acme).await,
        401,
        "revoked"
    );
}

//! A hard delete racing a restore over real HTTP, shared by the embedded store's tests (tests/api/management.rs)
//! and Redis's (tests/api/redis_store.rs): whatever the interleaving, a hard delete that answered 2xx leaves no
//! anchor, and a hard delete of an anchor that exists, live or kept by a soft delete, never answers 404.

use super::client::{ADMIN_TOKEN, Api, client};
use serde_json::json;
use std::path::Path;

/// A configuration whose management rate limit lets a race of many tries through (the default burst is 200).
pub fn config(dir: &Path) -> String {
    let path = dir.join("race.toml");
    let limits =
        "[limits]\nmanagement_requests_per_second = 100000.0\nmanagement_burst = 100000.0\n";
    std::fs::write(&path, limits).expect("write config");
    path.to_str().expect("UTF-8 path").to_string()
}

/// What the tries saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub tries: usize,
    /// The hard delete answered 2xx, yet the anchor was live afterwards.
    pub acknowledged_but_live: usize,
    /// The hard delete answered something else than 204 although the anchor (or its kept copy) existed.
    pub not_deleted: usize,
    /// Restores that answered 201: each came before the hard delete, which then had to remove it too.
    pub restored: usize,
    /// Restores that answered 5xx: a restore either happens (201) or is refused (404, 412), and says which.
    pub restore_errors: usize,
}

async fn send(request: reqwest::RequestBuilder) -> u16 {
    request
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

/// `tries` rounds on `identifier`: the anchor is created (and, every other round, soft-deleted), then
/// `DELETE …?hard=true` through `deleter` and `POST …:restore` through `restorer` are sent at once. The verdict is the
/// management API's read after both answered.
pub async fn hard_delete_against_restore(
    deleter: &impl Api,
    restorer: &impl Api,
    identifier: &str,
    tries: usize,
) -> Tally {
    let client = client();
    let anchor = format!("/api/v1/anchors/{identifier}");
    let body = json!({"itemDescription": "Pack", "links": [{"linkType": "gs1:pip",
        "href": "https://brand.example/p", "title": "Product information"}]});
    let mut tally = Tally::default();
    for round in 0..tries {
        let created = send(client.put(deleter.url(&anchor)).json(&body)).await;
        assert!(created == 200 || created == 201, "PUT: {created}");
        if round % 2 == 1 {
            assert_eq!(send(client.delete(deleter.url(&anchor))).await, 204);
        }
        let hard = client.delete(deleter.url(&format!("{anchor}?hard=true")));
        let restore = client.post(restorer.url(&format!("{anchor}:restore")));
        let (deleted, restored) = tokio::join!(send(hard), send(restore));
        let after = send(client.get(deleter.url(&anchor))).await;
        tally.tries += 1;
        if (200..300).contains(&deleted) && after == 200 {
            tally.acknowledged_but_live += 1;
        }
        if deleted != 204 {
            tally.not_deleted += 1;
        }
        if restored == 201 {
            tally.restored += 1;
        }
        if restored >= 500 {
            tally.restore_errors += 1;
        }
    }
    tally
}

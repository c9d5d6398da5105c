//! Redis Cluster (three masters): anchors spread over every master by primary key, all levels of one identifier
//! share a slot so a walk-up is one read, and replicas stay coherent across the cluster.

use crate::support;
use crate::support::app::TestApp;
use crate::support::client::location;
use crate::support::client::{Api, client};

use crate::support::client::ADMIN_TOKEN;
use crate::support::redis::{RedisCluster, gtin, scan_on};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const KEYS: u32 = 200;

async fn replica(url: &str) -> TestApp {
    TestApp::start_with(&["--no-demo", "--redis-url", url]).await
}

fn anchor(description: &str, link_type: &str, href: &str) -> Value {
    json!({"itemDescription": description, "defaultLinkType": link_type, "links": [
        {"linkType": link_type, "href": href, "title": description, "type": "text/html", "hreflang": ["en"]}]})
}

async fn get(server: &impl Api, path: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[tokio::test]
async fn primary_keys_spread_over_every_master() {
    let cluster = RedisCluster::start();
    let server = replica(&cluster.url()).await;
    let ids: Vec<String> = (0..KEYS).map(|n| format!("01/{}", gtin(n))).collect();
    for chunk in ids.chunks(25) {
        let mut tasks = Vec::new();
        for id in chunk {
            let url = server.url(&format!("/api/v1/anchors/{id}"));
            let body = anchor(id, "gs1:pip", &format!("https://brand.example/{id}"));
            tasks.push(tokio::spawn(async move {
                let r = client()
                    .put(url.clone())
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .expect("PUT");
                (url, r.status().as_u16())
            }));
        }
        for task in tasks {
            let (url, status) = task.await.expect("task");
            assert_eq!(status, 201, "PUT {url}");
        }
    }
    for id in &ids {
        let r = get(&server, &format!("/{id}")).await;
        assert_eq!(r.status(), 307, "/{id}");
        assert_eq!(location(&r), format!("https://brand.example/{id}"));
    }

    // Each master holds some of the anchors, and together exactly all of them.
    let mut all = BTreeSet::new();
    for port in cluster.ports() {
        let keys = scan_on(port, "idr:a:*");
        assert!(
            keys.len() > 10,
            "master :{port} holds {} anchor keys ({} in total)",
            keys.len(),
            KEYS
        );
        for key in keys {
            assert!(all.insert(key.clone()), "{key} on two masters");
        }
    }
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("idr:a:{{{id}}}")).collect();
    assert_eq!(all, expected);
    // The key's slot is its primary key's.
    for id in ids.iter().take(5) {
        assert_eq!(
            cluster.keyslot(&format!("idr:a:{{{id}}}")),
            cluster.keyslot(id)
        );
    }
}

#[tokio::test]
async fn three_levels_share_a_slot_and_resolve_as_one_linkset() {
    let cluster = RedisCluster::start();
    let server = replica(&cluster.url()).await;
    let mut masters_used = BTreeSet::new();
    for n in 0..9 {
        let g = format!("01/{}", gtin(1000 + n));
        let batch = format!("{g}/10/B{n}");
        let serial = format!("{g}/21/S{n}");
        server
            .put_anchor(
                &g,
                anchor("GTIN", "gs1:pip", &format!("https://brand.example/{n}")),
            )
            .await;
        server
            .put_anchor(
                &batch,
                anchor(
                    "Batch",
                    "untp:dcc",
                    &format!("https://cert.example/{n}.jwt"),
                ),
            )
            .await;
        server
            .put_anchor(
                &serial,
                anchor(
                    "Serial",
                    "untp:dpp",
                    &format!("https://cred.example/{n}.jwt"),
                ),
            )
            .await;

        let full = format!("/{g}/10/B{n}/21/S{n}");
        let r = get(&server, &full).await;
        assert_eq!(r.status(), 307, "{full}");
        assert_eq!(location(&r), format!("https://cred.example/{n}.jwt"));
        let r = get(&server, &format!("{full}?linkType=untp:dcc")).await;
        assert_eq!(
            location(&r),
            format!("https://cert.example/{n}.jwt?linkType=untp:dcc")
        );
        let r = get(&server, &format!("{full}?linkType=linkset")).await;
        assert_eq!(r.status(), 200, "{full} linkset");
        let body: Value = r.json().await.expect("linkset");
        let objects = body["linkset"].as_array().expect("linkset array");
        // The levels (verification states of credential links, `status` objects about the targets, are not).
        let mut anchors: Vec<(String, String)> = objects
            .iter()
            .filter(|o| o.get("status").is_none())
            .map(|o| {
                let a = o["anchor"].as_str().expect("anchor");
                (
                    a[a.find("/01/").expect("path")..].to_string(),
                    o.to_string(),
                )
            })
            .collect();
        anchors.sort();
        let paths: Vec<&str> = anchors.iter().map(|(p, _)| p.as_str()).collect();
        let expected = [format!("/{g}"), format!("/{batch}"), format!("/{serial}")];
        assert_eq!(paths, expected, "{full}: one object per level");
        for ((_, object), href) in anchors.iter().zip([
            format!("https://brand.example/{n}"),
            format!("https://cert.example/{n}.jwt"),
            format!("https://cred.example/{n}.jwt"),
        ]) {
            assert!(object.contains(&href), "{href} in {object}");
        }
        support::schema::assert_valid(support::schema::SchemaKind::UntpLinkset, &body);

        // All three keys live on the same master, in the primary key's slot.
        let keys = [
            format!("idr:a:{{{g}}}"),
            format!("idr:a:{{{g}}}/10/B{n}"),
            format!("idr:a:{{{g}}}/21/S{n}"),
        ];
        let slot = cluster.keyslot(&g);
        let mut holders = BTreeSet::new();
        for key in &keys {
            assert_eq!(cluster.keyslot(key), slot, "{key}");
            for port in cluster.ports() {
                if scan_on(port, key).contains(key) {
                    holders.insert(port);
                }
            }
        }
        assert_eq!(holders.len(), 1, "{keys:?} held by {holders:?}");
        masters_used.extend(holders);
    }
    assert!(masters_used.len() >= 2, "GTINs landed on {masters_used:?}");
}

#[tokio::test]
async fn replicas_on_a_cluster_stay_coherent() {
    let cluster = RedisCluster::start();
    let a = replica(&cluster.url()).await;
    let b = replica(&cluster.url()).await;
    // A few primary keys, so invalidations originate from keys on different masters.
    for n in 0..6 {
        let g = format!("01/{}", gtin(2000 + n));
        let path = format!("/{g}");
        a.put_anchor(&g, anchor("v1", "gs1:pip", "https://brand.example/v1"))
            .await;
        for _ in 0..3 {
            assert_eq!(location(&get(&b, &path).await), "https://brand.example/v1");
        }
        a.put_anchor(&g, anchor("v2", "gs1:pip", "https://brand.example/v2"))
            .await;
        let start = Instant::now();
        loop {
            let r = get(&b, &path).await;
            if location(&r) == "https://brand.example/v2" {
                break;
            }
            assert!(
                start.elapsed() <= Duration::from_millis(100),
                "{path}: replica B still answers {} {:?} after {:?}",
                r.status(),
                location(&r),
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(get(&a, &path).await.status(), 307);
        let r = client()
            .request(Method::DELETE, b.url(&format!("/api/v1/anchors/{g}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("DELETE");
        assert_eq!(r.status(), 204);
        let start = Instant::now();
        while get(&a, &path).await.status() != 404 {
            assert!(
                start.elapsed() <= Duration::from_millis(100),
                "{path}: replica A still resolves it {:?} after the delete",
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The verdicts of verified links on a cluster: each in its anchor's slot (the anchor's hash tag), written by the
/// script that compares the record's version, on the master that holds both, read back one by one and all together (a scan of every master).
#[tokio::test]
async fn verdicts_live_in_their_anchors_slot_on_every_master() {
    let cluster = RedisCluster::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(cluster.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    let registry = idr::app::open_store(&settings).await.unwrap();
    let anchors: Vec<String> = (0..12).map(|n| format!("01/{}", gtin(3000 + n))).collect();
    let record: idr::registry::AnchorRecord =
        serde_json::from_value(json!({"itemDescription": "Battery pack", "links": []})).unwrap();
    for (i, a) in anchors.iter().enumerate() {
        let json = format!(r#"{{"version":{i}}}"#);
        for _ in 0..2 {
            registry
                .anchors
                .put(a, record.clone(), idr::registry::Precondition::None, "test")
                .await
                .unwrap();
        }
        // Compared with the record's version in the script: the anchor's key is in the same slot.
        assert!(registry.verdicts.put_verdicts(a, 2, &json).await.unwrap());
        assert!(
            !registry.verdicts.put_verdicts(a, 1, "{}").await.unwrap(),
            "older than the record"
        );
        assert_eq!(
            cluster.keyslot(&format!("idr:v:{{{a}}}")),
            cluster.keyslot(&format!("idr:a:{{{a}}}"))
        );
    }
    let refs: Vec<&str> = anchors.iter().map(String::as_str).collect();
    let read = registry.verdicts.verdicts(&refs).await.unwrap();
    for (i, v) in read.iter().enumerate() {
        assert_eq!(v.as_deref(), Some(format!(r#"{{"version":{i}}}"#).as_str()));
    }
    let mut seen = BTreeSet::new();
    registry
        .verdicts
        .for_each_verdicts(&mut |anchor, _| {
            seen.insert(anchor.to_string());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(seen, anchors.iter().cloned().collect::<BTreeSet<_>>());
    // Spread over more than one master (12 primary keys).
    let masters: BTreeSet<usize> = cluster
        .ports()
        .iter()
        .enumerate()
        .filter(|(_, port)| !scan_on(**port, "idr:v:*").is_empty())
        .map(|(i, _)| i)
        .collect();
    assert!(masters.len() > 1, "{masters:?}");
}

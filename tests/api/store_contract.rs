//! The stores' behavioural contract: the same tests, with expected values written out by hand, run against the
//! embedded store (a redb file in a temporary folder), a real Redis (a `redis-server` on a loopback port), and the
//! record cache in front of each (anchor tests only: the cache wraps nothing else). A store that answers
//! differently from another fails here by name.
//!
//! Every test takes a `Registry` (anchors, audit, documents, coordination) opened the way the server and the CLI
//! open it (`Registry::of`, `app::open_store`, `Registry::cached`).

use crate::support::redis::RedisServer;
use idr::registry::{
    AnchorRecord, AuditEntry, AuditQuery, ListQuery, Precondition, PutEach, Registry, StoreError,
    TrimStep, embedded::EmbeddedStore, format::Payload,
};
use std::sync::Arc;
use std::time::Duration;

/// A registry under test and what keeps its backend alive (the folder, the server).
pub struct Subject {
    pub registry: Registry,
    _dir: Option<tempfile::TempDir>,
    _redis: Option<RedisServer>,
}

async fn embedded() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    Subject {
        registry: Registry::of(Arc::new(store)),
        _dir: Some(dir),
        _redis: None,
    }
}

async fn redis() -> Subject {
    let redis = RedisServer::start();
    let overrides = idr::config::Overrides {
        redis_url: Some(redis.url()),
        ..Default::default()
    };
    let settings = idr::config::Settings::load_with_env(&overrides, &Default::default()).unwrap();
    Subject {
        registry: idr::app::open_store(&settings).await.unwrap(),
        _dir: None,
        _redis: Some(redis),
    }
}

fn cached(subject: Subject) -> Subject {
    let settings = idr::config::CacheSettings {
        max_bytes: 1 << 20,
        ttl_seconds: 60,
        negative_ttl_ms: 60_000,
    };
    Subject {
        registry: subject.registry.cached(&settings),
        ..subject
    }
}

async fn cached_embedded() -> Subject {
    cached(embedded().await)
}

async fn cached_redis() -> Subject {
    cached(redis().await)
}

/// `$anchors` run on every store, plain and cached; `$rest` (audit, documents, coordination, which the cache does
/// not wrap) on the two stores.
macro_rules! contract {
    (anchors: [$($anchor:ident),* $(,)?], rest: [$($rest:ident),* $(,)?]) => {
        contract!(@on embedded, [$($anchor,)* $($rest,)*]);
        contract!(@on redis, [$($anchor,)* $($rest,)*]);
        contract!(@on cached_embedded, [$($anchor,)*]);
        contract!(@on cached_redis, [$($anchor,)*]);
    };
    (@on $store:ident, [$($test:ident,)*]) => {
        mod $store {
            $(
                #[tokio::test]
                async fn $test() {
                    let subject = super::$store().await;
                    super::$test(&subject.registry).await;
                }
            )*
        }
    };
}

contract! {
    anchors: [
        versions_and_preconditions,
        a_put_reads_back_as_written,
        every_precondition_is_checked_against_the_current_version,
        a_deleted_anchor_comes_back_with_restore_as_a_new_version,
        a_hard_delete_takes_the_kept_copy_too,
        a_batch_creates_and_replaces,
        for_each_visits_every_live_anchor_once,
        lookup_until_reads_the_levels_in_order,
        get_until_stops_when_told,
        put_each_checks_and_writes_each_on_its_own,
        a_listing_pages_in_order_within_prefix_and_filter,
        a_listing_skips_and_repeats_nothing_while_others_write,
        patterns_are_stored_audited_and_found_by_longest_prefix,
    ],
    rest: [
        audit_entries_are_in_write_order_per_identifier_and_below,
        audit_reads_page_by_cursor_and_time,
        old_audit_entries_are_trimmed_in_bounded_steps,
        the_audit_export_holds_every_entry_per_partition_in_order,
        a_document_replaces_the_one_of_the_same_name,
        a_link_type_vocabulary_is_stored_replaced_and_deleted,
        verdicts_are_written_only_for_the_records_current_version,
        verdicts_are_written_over_only_the_revision_read,
        a_verdict_racing_a_record_write_never_lands_after_it,
        the_first_start_is_claimed_once,
        a_nonce_is_claimed_once_until_it_expires,
        a_session_is_read_until_it_expires_or_is_deleted,
        a_reachable_store_is_ready,
    ]
}

const G: &str = "01/09520123456788";
const LOT: &str = "01/09520123456788/10/ABC";
const SERIAL: &str = "01/09520123456788/10/ABC/21/S1";
const H: &str = "01/09506000134369";

fn record(description: &str) -> AnchorRecord {
    serde_json::from_value(serde_json::json!({
        "itemDescription": description,
        "defaultLinkType": "https://gs1.org/voc/pip",
        "links": [{
            "linkType": "https://gs1.org/voc/pip",
            "href": format!("https://a.example/{description}"),
            "title": "Product information",
            "hreflang": ["en"],
        }],
    }))
    .unwrap()
}

fn description(stored: &Option<Arc<idr::registry::StoredAnchor>>) -> Option<&str> {
    stored.as_ref().map(|a| a.record.item_description.as_str())
}

fn everything(identifier: &str) -> AuditQuery<'_> {
    AuditQuery {
        identifier,
        since_ms: 0,
        after: None,
        limit: 1000,
    }
}

/// (identifier, operation, before, after, who) of each entry.
type Seen = (String, &'static str, Option<u64>, Option<u64>, String);

fn seen(entries: &[AuditEntry]) -> Vec<Seen> {
    entries
        .iter()
        .map(|e| {
            (
                e.identifier.clone(),
                e.operation.as_str(),
                e.before,
                e.after,
                e.who.clone(),
            )
        })
        .collect()
}

fn entry(identifier: &str, op: &'static str, before: Option<u64>, after: Option<u64>) -> Seen {
    (identifier.into(), op, before, after, "tester".into())
}

fn refused_at(result: Result<impl std::fmt::Debug, StoreError>, expected: Option<u64>) {
    match result {
        Err(StoreError::PreconditionFailed { current }) => assert_eq!(current, expected),
        other => panic!("expected a failed precondition at {expected:?}, got {other:?}"),
    }
}

/// Moved from the embedded store's unit tests, so that every store is held to it.
async fn versions_and_preconditions(registry: &Registry) {
    let store = registry.anchors.as_ref();
    assert!(store.is_empty().await.unwrap());
    let first = store
        .put("01/x", record("a"), Precondition::Absent, "test")
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.stored.version, 1);
    let err = store
        .put("01/x", record("b"), Precondition::Absent, "test")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::PreconditionFailed { current: Some(1) }
    ));
    let err = store
        .put("01/x", record("b"), Precondition::Version(vec![5]), "test")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::PreconditionFailed { current: Some(1) }
    ));
    let second = store
        .put("01/x", record("b"), Precondition::Version(vec![1]), "test")
        .await
        .unwrap();
    assert!(!second.created);
    assert_eq!(second.stored.version, 2);
    let got = store.get_many(&["01/y", "01/x"]).await.unwrap();
    assert!(got[0].is_none());
    assert_eq!(got[1].as_ref().unwrap().record.item_description, "b");
    assert!(
        store
            .delete("01/x", Precondition::None, "test")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete("01/x", Precondition::None, "test")
            .await
            .unwrap()
    );
    assert!(store.is_empty().await.unwrap());
    let again = store
        .put("01/x", record("c"), Precondition::Absent, "test")
        .await
        .unwrap();
    assert_eq!(
        again.stored.version, 3,
        "a re-created anchor continues after its last version"
    );
    assert!(registry.coordination.claim_first_start().await.unwrap());
    assert!(!registry.coordination.claim_first_start().await.unwrap());
}

async fn a_put_reads_back_as_written(registry: &Registry) {
    let store = registry.anchors.as_ref();
    assert_eq!(store.get(G).await.unwrap(), None);
    let put = store
        .put(G, record("one"), Precondition::None, "tester")
        .await
        .unwrap();
    assert!(put.created);
    assert_eq!(put.stored.version, 1);
    assert_eq!(put.stored.record, record("one"));
    let got = store.get(G).await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.record, record("one"), "links and all");
    assert!(!store.is_empty().await.unwrap());

    let replaced = store
        .put(G, record("two"), Precondition::None, "tester")
        .await
        .unwrap();
    assert!(!replaced.created);
    assert_eq!(replaced.stored.version, 2);
    let got = store.get_many(&[H, G, LOT]).await.unwrap();
    assert_eq!(got.len(), 3, "one answer per key, in their order");
    assert_eq!(description(&got[0]), None);
    assert_eq!(description(&got[1]), Some("two"));
    assert_eq!(got[1].as_ref().unwrap().version, 2);
    assert_eq!(description(&got[2]), None);
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

async fn every_precondition_is_checked_against_the_current_version(registry: &Registry) {
    let store = registry.anchors.as_ref();
    // Nothing there yet: only "absent" (and no condition) may write.
    refused_at(
        store
            .put(G, record("a"), Precondition::Exists, "tester")
            .await,
        None,
    );
    refused_at(
        store
            .put(G, record("a"), Precondition::Version(vec![1]), "tester")
            .await,
        None,
    );
    refused_at(
        store
            .delete(G, Precondition::Version(vec![1]), "tester")
            .await,
        None,
    );
    assert_eq!(
        store.get(G).await.unwrap(),
        None,
        "refused writes wrote nothing"
    );
    let created = store
        .put(G, record("a"), Precondition::Absent, "tester")
        .await
        .unwrap();
    assert_eq!(created.stored.version, 1);

    refused_at(
        store
            .put(G, record("b"), Precondition::Absent, "tester")
            .await,
        Some(1),
    );
    refused_at(
        store
            .put(G, record("b"), Precondition::Version(vec![]), "tester")
            .await,
        Some(1),
    );
    refused_at(
        store
            .put(G, record("b"), Precondition::Version(vec![2, 3]), "tester")
            .await,
        Some(1),
    );
    refused_at(
        store
            .delete(G, Precondition::Version(vec![7]), "tester")
            .await,
        Some(1),
    );
    refused_at(
        store.delete_hard(G, Precondition::Absent, "tester").await,
        Some(1),
    );
    let got = store.get(G).await.unwrap().unwrap();
    assert_eq!(
        (got.version, got.record.item_description.as_str()),
        (1, "a")
    );

    let b = store
        .put(G, record("b"), Precondition::Version(vec![4, 1]), "tester")
        .await
        .unwrap();
    assert_eq!(b.stored.version, 2);
    let c = store
        .put(G, record("c"), Precondition::Exists, "tester")
        .await
        .unwrap();
    assert_eq!(c.stored.version, 3);
    assert!(
        store
            .delete(G, Precondition::Version(vec![3]), "tester")
            .await
            .unwrap()
    );
    // Only the accepted writes are in the trail.
    let trail = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(
        seen(&trail),
        [
            entry(G, "create", None, Some(1)),
            entry(G, "replace", Some(1), Some(2)),
            entry(G, "replace", Some(2), Some(3)),
            entry(G, "delete", Some(3), None),
        ]
    );
}

async fn a_deleted_anchor_comes_back_with_restore_as_a_new_version(registry: &Registry) {
    let store = registry.anchors.as_ref();
    assert!(
        store.restore(G, "tester").await.unwrap().is_none(),
        "never deleted"
    );
    store
        .put(G, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    store
        .put(G, record("b"), Precondition::None, "tester")
        .await
        .unwrap();
    refused_at(store.restore(G, "tester").await, Some(2));
    assert!(store.delete(G, Precondition::None, "tester").await.unwrap());
    assert_eq!(store.get(G).await.unwrap(), None);
    assert!(!store.delete(G, Precondition::None, "tester").await.unwrap());

    let restored = store.restore(G, "tester").await.unwrap().unwrap();
    assert!(restored.created);
    assert_eq!(restored.stored.version, 3, "after the deleted version 2");
    assert_eq!(
        restored.stored.record,
        record("b"),
        "the record deleted last"
    );
    let got = store.get(G).await.unwrap().unwrap();
    assert_eq!((got.version, got.record.clone()), (3, record("b")));
    refused_at(store.restore(G, "tester").await, Some(3));

    // A new anchor replaces what a delete kept: the delete after it keeps the new one.
    assert!(store.delete(G, Precondition::None, "tester").await.unwrap());
    let recreated = store
        .put(G, record("c"), Precondition::Absent, "tester")
        .await
        .unwrap();
    assert_eq!(recreated.stored.version, 4);
    assert!(store.delete(G, Precondition::None, "tester").await.unwrap());
    let again = store.restore(G, "tester").await.unwrap().unwrap();
    assert_eq!(
        (again.stored.version, again.stored.record.clone()),
        (5, record("c"))
    );
    refused_at(store.restore(G, "tester").await, Some(5));

    let trail = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(
        seen(&trail),
        [
            entry(G, "create", None, Some(1)),
            entry(G, "replace", Some(1), Some(2)),
            entry(G, "delete", Some(2), None),
            entry(G, "restore", None, Some(3)),
            entry(G, "delete", Some(3), None),
            entry(G, "create", None, Some(4)),
            entry(G, "delete", Some(4), None),
            entry(G, "restore", None, Some(5)),
        ]
    );
}

/// Moved from the embedded store's unit tests, so that every store is held to it.
async fn a_hard_delete_takes_the_kept_copy_too(registry: &Registry) {
    let store = registry.anchors.as_ref();
    let none = Precondition::None;
    store
        .put("01/x", record("a"), none.clone(), "t")
        .await
        .unwrap();
    assert!(store.delete("01/x", none.clone(), "t").await.unwrap());
    assert!(
        store.delete_hard("01/x", none.clone(), "t").await.unwrap(),
        "the kept copy"
    );
    assert!(store.restore("01/x", "t").await.unwrap().is_none());
    assert!(
        !store.delete_hard("01/x", none.clone(), "t").await.unwrap(),
        "nothing left"
    );
    store
        .put("01/x", record("b"), none.clone(), "t")
        .await
        .unwrap();
    assert!(
        store.delete_hard("01/x", none, "t").await.unwrap(),
        "a live anchor"
    );
    assert!(store.restore("01/x", "t").await.unwrap().is_none());
    let query = AuditQuery {
        identifier: "01/x",
        since_ms: 0,
        after: None,
        limit: 100,
    };
    let ops: Vec<&str> = registry
        .audit
        .audit(&query)
        .await
        .unwrap()
        .iter()
        .map(|e| e.operation.as_str())
        .collect();
    assert_eq!(
        ops,
        ["create", "delete", "purge", "create", "delete", "purge"]
    );
}

async fn a_batch_creates_and_replaces(registry: &Registry) {
    let store = registry.anchors.as_ref();
    store
        .put(H, record("before"), Precondition::None, "tester")
        .await
        .unwrap();
    let batch = vec![
        (G.to_string(), Payload::of(&record("g"))),
        (LOT.to_string(), Payload::of(&record("lot"))),
        (H.to_string(), Payload::of(&record("h"))),
    ];
    store.put_batch(batch, "tester").await.unwrap();
    let got = store.get_many(&[G, LOT, H]).await.unwrap();
    let versions: Vec<(u64, &str)> = got
        .iter()
        .map(|a| {
            let a = a.as_ref().unwrap();
            (a.version, a.record.item_description.as_str())
        })
        .collect();
    assert_eq!(versions, [(1, "g"), (1, "lot"), (2, "h")]);
    assert_eq!(got[1].as_ref().unwrap().record, record("lot"));
    store.put_batch(vec![], "tester").await.unwrap();

    let g = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(
        seen(&g),
        [
            entry(G, "import", None, Some(1)),
            entry(LOT, "import", None, Some(1)),
        ]
    );
    let h = registry.audit.audit(&everything(H)).await.unwrap();
    assert_eq!(
        seen(&h),
        [
            entry(H, "create", None, Some(1)),
            entry(H, "import", Some(1), Some(2)),
        ]
    );
}

async fn for_each_visits_every_live_anchor_once(registry: &Registry) {
    let store = registry.anchors.as_ref();
    let visit = || async {
        let mut visited = Vec::new();
        store
            .for_each(&mut |key, anchor| {
                visited.push((
                    key.to_string(),
                    anchor.version,
                    anchor.record.item_description.clone(),
                ));
                Ok(())
            })
            .await
            .unwrap();
        // The Redis store visits in SCAN order.
        visited.sort();
        visited
    };
    assert!(visit().await.is_empty());
    for (key, description) in [(G, "g"), (LOT, "lot"), (H, "h"), (SERIAL, "serial")] {
        store
            .put(key, record(description), Precondition::None, "tester")
            .await
            .unwrap();
    }
    store
        .put(G, record("g2"), Precondition::None, "tester")
        .await
        .unwrap();
    store
        .delete(SERIAL, Precondition::None, "tester")
        .await
        .unwrap();
    let owned = |k: &str, v: u64, d: &str| (k.to_string(), v, d.to_string());
    assert_eq!(
        visit().await,
        [owned(H, 1, "h"), owned(G, 2, "g2"), owned(LOT, 1, "lot"),]
    );
    // A sink's error ends the visit and is returned.
    let mut calls = 0;
    let stopped = store
        .for_each(&mut |_, _| {
            calls += 1;
            Err(StoreError::Unavailable("sink closed".into()))
        })
        .await;
    assert!(matches!(stopped, Err(StoreError::Unavailable(m)) if m == "sink closed"));
    assert_eq!(calls, 1);
}

async fn lookup_until_reads_the_levels_in_order(registry: &Registry) {
    let store = registry.anchors.as_ref();
    for (key, description) in [(LOT, "lot"), (G, "gtin")] {
        store
            .put(key, record(description), Precondition::None, "tester")
            .await
            .unwrap();
    }
    let levels = [SERIAL, LOT, G];
    let all = store.lookup_until(&levels, None).await.unwrap();
    let descriptions: Vec<Option<&str>> = all.records.iter().map(description).collect();
    assert_eq!(descriptions, [None, Some("lot"), Some("gtin")]);
    assert!(!all.stale);
    assert!(all.complete);

    // The lot settles the answer: the levels up to it are read, the one above may be left out.
    let lot_settles = |a: &idr::registry::StoredAnchor| a.record.item_description == "lot";
    for _ in 0..2 {
        let settled = store
            .lookup_until(&levels, Some(&lot_settles))
            .await
            .unwrap();
        let descriptions: Vec<Option<&str>> = settled.records.iter().map(description).collect();
        assert!(
            descriptions == [None, Some("lot")]
                || descriptions == [None, Some("lot"), Some("gtin")],
            "{descriptions:?}"
        );
        assert!(!settled.stale && settled.complete);
    }
    // Only the first level with a record may settle: the gtin does not, so every level is read.
    let gtin_settles = |a: &idr::registry::StoredAnchor| a.record.item_description == "gtin";
    let unsettled = store
        .lookup_until(&levels, Some(&gtin_settles))
        .await
        .unwrap();
    let descriptions: Vec<Option<&str>> = unsettled.records.iter().map(description).collect();
    assert_eq!(descriptions, [None, Some("lot"), Some("gtin")]);

    // A write is seen by the next lookup, through a cache too.
    store
        .put(SERIAL, record("serial"), Precondition::None, "tester")
        .await
        .unwrap();
    store.delete(G, Precondition::None, "tester").await.unwrap();
    let after = store.lookup_until(&levels, None).await.unwrap();
    let descriptions: Vec<Option<&str>> = after.records.iter().map(description).collect();
    assert_eq!(descriptions, [Some("serial"), Some("lot"), None]);
}

async fn get_until_stops_when_told(registry: &Registry) {
    let store = registry.anchors.as_ref();
    for (key, description) in [(LOT, "lot"), (G, "gtin")] {
        store
            .put(key, record(description), Precondition::None, "tester")
            .await
            .unwrap();
    }
    let mut taken = Vec::new();
    store
        .get_until(&[SERIAL, LOT, G], &mut |r| {
            taken.push(description(&r).map(str::to_string));
            r.is_some()
        })
        .await
        .unwrap();
    assert_eq!(taken, [None, Some("lot".to_string())]);
}

async fn audit_entries_are_in_write_order_per_identifier_and_below(registry: &Registry) {
    let store = registry.anchors.as_ref();
    let other_gtin = "01/09520123456789";
    for (key, who) in [
        (G, "tester"),
        (LOT, "tester"),
        (H, "tester"),
        (other_gtin, "tester"),
        (G, "someone else"),
        (SERIAL, "tester"),
    ] {
        store
            .put(key, record("x"), Precondition::None, who)
            .await
            .unwrap();
    }
    let g = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(
        seen(&g),
        [
            entry(G, "create", None, Some(1)),
            entry(LOT, "create", None, Some(1)),
            (G.into(), "replace", Some(1), Some(2), "someone else".into()),
            entry(SERIAL, "create", None, Some(1)),
        ],
        "the GTIN and the levels below it, nothing of another GTIN"
    );
    let lot = registry.audit.audit(&everything(LOT)).await.unwrap();
    assert_eq!(
        seen(&lot),
        [
            entry(LOT, "create", None, Some(1)),
            entry(SERIAL, "create", None, Some(1)),
        ],
        "a level and the ones below it, not the one above"
    );
    let serial = registry.audit.audit(&everything(SERIAL)).await.unwrap();
    assert_eq!(seen(&serial), [entry(SERIAL, "create", None, Some(1))]);
    let prefix_only = registry
        .audit
        .audit(&everything("01/09520123456788/10/AB"))
        .await
        .unwrap();
    assert!(prefix_only.is_empty(), "a path is not a string prefix");
    let h = registry.audit.audit(&everything(H)).await.unwrap();
    assert_eq!(seen(&h), [entry(H, "create", None, Some(1))]);
    assert!(
        registry
            .audit
            .audit(&everything("01/00000000000000"))
            .await
            .unwrap()
            .is_empty()
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for e in &g {
        assert!(
            e.at_ms <= now && e.at_ms + 60_000 > now,
            "written now: {}",
            e.at_ms
        );
    }
}

async fn audit_reads_page_by_cursor_and_time(registry: &Registry) {
    let store = registry.anchors.as_ref();
    for description in ["a", "b", "c", "d", "e"] {
        store
            .put(G, record(description), Precondition::None, "tester")
            .await
            .unwrap();
    }
    let query = |after: Option<u64>, limit: usize| AuditQuery {
        identifier: G,
        since_ms: 0,
        after,
        limit,
    };
    let versions = |entries: &[AuditEntry]| entries.iter().map(|e| e.after).collect::<Vec<_>>();
    let first = registry.audit.audit(&query(None, 2)).await.unwrap();
    assert_eq!(versions(&first), [Some(1), Some(2)]);
    let cursor: u64 = first[1].cursor.parse().unwrap();
    let second = registry.audit.audit(&query(Some(cursor), 2)).await.unwrap();
    assert_eq!(versions(&second), [Some(3), Some(4)]);
    let cursor: u64 = second[1].cursor.parse().unwrap();
    let last = registry.audit.audit(&query(Some(cursor), 2)).await.unwrap();
    assert_eq!(versions(&last), [Some(5)]);
    let cursor: u64 = last[0].cursor.parse().unwrap();
    assert!(
        registry
            .audit
            .audit(&query(Some(cursor), 2))
            .await
            .unwrap()
            .is_empty()
    );
    let past_every_cursor = Some(idr::registry::audit::MAX_CURSOR);
    assert!(
        registry
            .audit
            .audit(&query(past_every_cursor, 2))
            .await
            .unwrap()
            .is_empty()
    );

    let all = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(all.len(), 5);
    let cursors: std::collections::HashSet<&str> = all.iter().map(|e| e.cursor.as_str()).collect();
    assert_eq!(cursors.len(), 5, "every entry has its own cursor");
    let since = AuditQuery {
        since_ms: all[4].at_ms,
        ..everything(G)
    };
    let recent = registry.audit.audit(&since).await.unwrap();
    assert!(!recent.is_empty() && recent.iter().all(|e| e.at_ms >= all[4].at_ms));
    assert_eq!(recent.last().unwrap().after, Some(5));
    let future = AuditQuery {
        since_ms: u64::MAX,
        ..everything(G)
    };
    assert!(registry.audit.audit(&future).await.unwrap().is_empty());
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn old_audit_entries_are_trimmed_in_bounded_steps(registry: &Registry) {
    let store = registry.anchors.as_ref();
    for key in [G, LOT, H] {
        store
            .put(key, record("old"), Precondition::None, "tester")
            .await
            .unwrap();
    }
    let mut newest_old = 0;
    for partition in [G, H] {
        for e in registry.audit.audit(&everything(partition)).await.unwrap() {
            newest_old = newest_old.max(e.at_ms);
        }
    }
    while now_ms() <= newest_old {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    store
        .put(G, record("new"), Precondition::None, "tester")
        .await
        .unwrap();

    let (mut removed, mut steps, mut resume) = (0, 0, None);
    loop {
        let step = registry
            .audit
            .trim_audit(newest_old + 1, 1, resume)
            .await
            .unwrap();
        removed += step.removed;
        steps += 1;
        resume = step.resume;
        if resume.is_none() {
            break;
        }
        assert!(steps < 100, "the trim does not finish");
    }
    assert_eq!(removed, 3, "G's and LOT's old entries, and H's");
    assert!(steps > 1, "a budget of 1 takes several steps");
    let g = registry.audit.audit(&everything(G)).await.unwrap();
    assert_eq!(seen(&g), [entry(G, "replace", Some(1), Some(2))]);
    assert!(
        registry
            .audit
            .audit(&everything(H))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        registry
            .audit
            .trim_audit(newest_old + 1, 1000, None)
            .await
            .unwrap(),
        TrimStep {
            removed: 0,
            resume: None
        }
    );
    // The anchors themselves are untouched.
    assert_eq!(store.get(H).await.unwrap().unwrap().version, 1);
}

async fn export(registry: &Registry) -> Vec<AuditEntry> {
    let mut exported = Vec::new();
    registry
        .audit
        .export_audit(&mut |e| {
            exported.push(e);
            Ok(())
        })
        .await
        .unwrap();
    exported
}

async fn the_audit_export_holds_every_entry_per_partition_in_order(registry: &Registry) {
    assert!(export(registry).await.is_empty());
    let store = registry.anchors.as_ref();
    store
        .put(G, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    store
        .put(H, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    store
        .put(LOT, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    store.delete(G, Precondition::None, "tester").await.unwrap();
    let exported = export(registry).await;
    // Partitions come in any order; within one, oldest first.
    let mut by_partition: Vec<(String, Vec<Seen>)> = Vec::new();
    for e in &exported {
        let partition = idr::registry::audit::partition(&e.identifier).to_string();
        match by_partition.iter_mut().find(|(p, _)| *p == partition) {
            Some((_, entries)) => entries.extend(seen(std::slice::from_ref(e))),
            None => by_partition.push((partition, seen(std::slice::from_ref(e)))),
        }
    }
    by_partition.sort();
    assert_eq!(
        by_partition,
        [
            (H.to_string(), vec![entry(H, "create", None, Some(1))]),
            (
                G.to_string(),
                vec![
                    entry(G, "create", None, Some(1)),
                    entry(LOT, "create", None, Some(1)),
                    entry(G, "delete", Some(1), None),
                ]
            ),
        ]
    );
    // The export's entries are the trail's, cursors and all.
    let g = registry.audit.audit(&everything(G)).await.unwrap();
    let exported_g: Vec<AuditEntry> = exported
        .into_iter()
        .filter(|e| idr::registry::audit::partition(&e.identifier) == G)
        .collect();
    assert_eq!(exported_g, g);
}

async fn a_document_replaces_the_one_of_the_same_name(registry: &Registry) {
    let documents = registry.documents.as_ref();
    assert!(documents.schemes().await.unwrap().is_empty());
    assert!(documents.api_keys().await.unwrap().is_empty());
    documents.put_scheme("acme", r#"{"v":1}"#).await.unwrap();
    documents.put_scheme("beta", r#"{"v":"b"}"#).await.unwrap();
    documents.put_scheme("acme", r#"{"v":2}"#).await.unwrap();
    documents.put_api_key("ops", "key-1").await.unwrap();
    let sorted = |mut pairs: Vec<(String, String)>| {
        pairs.sort();
        pairs
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        sorted(documents.schemes().await.unwrap()),
        [pair("acme", r#"{"v":2}"#), pair("beta", r#"{"v":"b"}"#)]
    );
    assert_eq!(
        documents.api_keys().await.unwrap(),
        [pair("ops", "key-1")],
        "each kind apart"
    );
    documents.put_api_key("ops", "key-1 revoked").await.unwrap();
    documents.put_api_key("acme", "key-2").await.unwrap();
    assert_eq!(
        sorted(documents.api_keys().await.unwrap()),
        [pair("acme", "key-2"), pair("ops", "key-1 revoked")]
    );
    assert_eq!(sorted(documents.schemes().await.unwrap()).len(), 2);
    assert!(
        registry.anchors.is_empty().await.unwrap(),
        "documents are not anchors"
    );
}

async fn a_link_type_vocabulary_is_stored_replaced_and_deleted(registry: &Registry) {
    let documents = registry.documents.as_ref();
    assert!(documents.link_types().await.unwrap().is_empty());
    documents
        .put_link_types("acme", r#"{"v":1}"#)
        .await
        .unwrap();
    documents
        .put_link_types("beta", r#"{"v":"b"}"#)
        .await
        .unwrap();
    documents
        .put_link_types("acme", r#"{"v":2}"#)
        .await
        .unwrap();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    let mut stored = documents.link_types().await.unwrap();
    stored.sort();
    assert_eq!(
        stored,
        [pair("acme", r#"{"v":2}"#), pair("beta", r#"{"v":"b"}"#)]
    );
    assert!(
        documents.schemes().await.unwrap().is_empty(),
        "each kind apart"
    );
    assert!(documents.delete_link_types("acme").await.unwrap());
    assert!(
        !documents.delete_link_types("acme").await.unwrap(),
        "already gone"
    );
    assert!(!documents.delete_link_types("never").await.unwrap());
    assert_eq!(
        documents.link_types().await.unwrap(),
        [pair("beta", r#"{"v":"b"}"#)]
    );
}

/// Writes `description` at `anchor`: the record's version.
async fn version_after_put(registry: &Registry, anchor: &str, description: &str) -> u64 {
    registry
        .anchors
        .put(anchor, record(description), Precondition::None, "test")
        .await
        .unwrap()
        .stored
        .version
}

/// The verdicts of verified links: one document per anchor, written only for the version of the anchor's record
/// now (issue 26, item 3), replacing whatever was stored.
async fn verdicts_are_written_only_for_the_records_current_version(registry: &Registry) {
    let verdicts = registry.verdicts.as_ref();
    assert_eq!(verdicts.verdicts(&[G, LOT]).await.unwrap(), [None, None]);
    assert!(
        !verdicts.put_verdicts(G, 1, r#"{"v":1}"#).await.unwrap(),
        "no anchor there"
    );
    assert_eq!(verdicts.verdicts(&[G]).await.unwrap(), [None]);
    for description in ["one", "two", "three"] {
        version_after_put(registry, G, description).await;
    }
    assert_eq!(version_after_put(registry, LOT, "lot").await, 1);
    assert!(verdicts.put_verdicts(G, 3, r#"{"v":3}"#).await.unwrap());
    assert!(verdicts.put_verdicts(LOT, 1, r#"{"v":1}"#).await.unwrap());
    assert!(
        !verdicts.put_verdicts(G, 2, r#"{"v":2}"#).await.unwrap(),
        "older than the record"
    );
    assert!(
        !verdicts.put_verdicts(G, 4, r#"{"v":4}"#).await.unwrap(),
        "a version the record has not reached"
    );
    assert!(
        verdicts
            .put_verdicts(G, 3, r#"{"v":3,"again":true}"#)
            .await
            .unwrap(),
        "the same version: a re-check replaces"
    );
    assert_eq!(version_after_put(registry, G, "four").await, 4);
    assert!(
        !verdicts.put_verdicts(G, 3, r#"{"v":3}"#).await.unwrap(),
        "the record moved on"
    );
    assert_eq!(
        verdicts.verdicts(&[LOT, H, G]).await.unwrap(),
        [
            Some(r#"{"v":1}"#.to_string()),
            None,
            Some(r#"{"v":3,"again":true}"#.to_string())
        ]
    );
    assert!(verdicts.put_verdicts(G, 4, r#"{"v":4}"#).await.unwrap());
    let mut all = Vec::new();
    verdicts
        .for_each_verdicts(&mut |anchor, json| {
            all.push((anchor.to_string(), json.to_string()));
            Ok(())
        })
        .await
        .unwrap();
    all.sort();
    assert_eq!(
        all,
        [
            (G.to_string(), r#"{"v":4}"#.to_string()),
            (LOT.to_string(), r#"{"v":1}"#.to_string())
        ]
    );
    // A deleted anchor takes no verdicts, and keeps those it had.
    assert!(
        registry
            .anchors
            .delete(G, Precondition::None, "test")
            .await
            .unwrap()
    );
    assert!(
        !verdicts
            .put_verdicts(G, 4, r#"{"v":"gone"}"#)
            .await
            .unwrap()
    );
    assert!(
        !verdicts
            .put_verdicts(G, 5, r#"{"v":"gone"}"#)
            .await
            .unwrap()
    );
    assert_eq!(
        verdicts.verdicts(&[G]).await.unwrap(),
        [Some(r#"{"v":4}"#.to_string())]
    );
    assert!(
        registry.anchors.get(G).await.unwrap().is_none(),
        "verdicts are not anchors"
    );
}

/// A check's verdicts racing the write that moves the record on: they land before it, or not at all, never after it
/// (the version is compared in the step that writes). Each round, the writer reads the verdicts right after its write;
/// verdicts stored at the end of the round that it did not see were written after the record moved.
async fn a_verdict_racing_a_record_write_never_lands_after_it(registry: &Registry) {
    for round in 0..40 {
        let version = version_after_put(registry, G, &format!("round {round}")).await;
        let json = format!(r#"{{"round":{round}}}"#);
        let check = {
            let (verdicts, json) = (registry.verdicts.clone(), json.clone());
            tokio::spawn(async move { verdicts.put_verdicts(G, version, &json).await.unwrap() })
        };
        let write = {
            let (anchors, verdicts) = (registry.anchors.clone(), registry.verdicts.clone());
            tokio::spawn(async move {
                tokio::task::yield_now().await;
                let moved = anchors
                    .put(G, record("moved"), Precondition::None, "test")
                    .await
                    .unwrap()
                    .stored
                    .version;
                (moved, verdicts.verdicts(&[G]).await.unwrap().remove(0))
            })
        };
        let written = check.await.unwrap();
        let (moved, seen_after_move) = write.await.unwrap();
        assert_eq!(moved, version + 1);
        let stored = registry.verdicts.verdicts(&[G]).await.unwrap().remove(0);
        let ours = Some(json.clone());
        assert_eq!(written, stored == ours, "round {round}: {stored:?}");
        if written {
            assert_eq!(
                seen_after_move, ours,
                "round {round}: written after the record moved to {moved}"
            );
        }
        assert!(
            !registry
                .verdicts
                .put_verdicts(G, version, &json)
                .await
                .unwrap(),
            "round {round}: the record moved on"
        );
    }
}

/// A conditional write of verdicts lands only over the revision it read (issue 26: two checks of one anchor, on two
/// replicas, never write over each other's verdicts); each write adds one to the revision.
async fn verdicts_are_written_over_only_the_revision_read(registry: &Registry) {
    use idr::registry::verdicts::{Put, Revised};
    let verdicts = registry.verdicts.as_ref();
    assert_eq!(verdicts.revised(G).await.unwrap(), Revised::default());
    let version = version_after_put(registry, G, "one").await;
    assert_eq!(
        verdicts
            .put_verdicts_over(G, version, Some(0), r#"{"v":"a"}"#)
            .await
            .unwrap(),
        Put::Written
    );
    let read = verdicts.revised(G).await.unwrap();
    assert_eq!(read.revision, 1);
    assert_eq!(read.json.as_deref(), Some(r#"{"v":"a"}"#));
    // Another check writes in between: the one that read revision 1 is told, and writes nothing.
    assert!(
        verdicts
            .put_verdicts(G, version, r#"{"v":"b"}"#)
            .await
            .unwrap()
    );
    assert_eq!(
        verdicts
            .put_verdicts_over(G, version, Some(1), r#"{"v":"c"}"#)
            .await
            .unwrap(),
        Put::Changed
    );
    assert_eq!(
        verdicts
            .put_verdicts_over(G, version, Some(0), r#"{"v":"c"}"#)
            .await
            .unwrap(),
        Put::Changed
    );
    assert_eq!(
        verdicts.verdicts(&[G]).await.unwrap(),
        [Some(r#"{"v":"b"}"#.to_string())]
    );
    assert_eq!(
        verdicts
            .put_verdicts_over(G, version, Some(2), r#"{"v":"c"}"#)
            .await
            .unwrap(),
        Put::Written
    );
    assert_eq!(verdicts.revised(G).await.unwrap().revision, 3);
    // The record moved: that comes first, whatever the revision.
    version_after_put(registry, G, "two").await;
    assert_eq!(
        verdicts
            .put_verdicts_over(G, version, Some(3), r#"{"v":"d"}"#)
            .await
            .unwrap(),
        Put::Moved
    );
}

/// Verdicts stored for a version above the record's (a store restored from an export, the records recreated from
/// version 1) do not block the record's own: they are replaced.
#[tokio::test]
async fn redis_replaces_verdicts_stored_for_a_version_above_the_records() {
    let subject = redis().await;
    let registry = &subject.registry;
    assert_eq!(version_after_put(registry, G, "restored").await, 1);
    let redis = subject._redis.as_ref().unwrap();
    let key = format!("idr:v:{{{G}}}");
    redis.cli(&["SET", &key, r#"1000000 {"v":1000000}"#]);
    assert_eq!(
        registry.verdicts.verdicts(&[G]).await.unwrap(),
        [Some(r#"{"v":1000000}"#.to_string())]
    );
    assert!(
        registry
            .verdicts
            .put_verdicts(G, 1, r#"{"v":1}"#)
            .await
            .unwrap()
    );
    assert_eq!(
        redis.cli(&["GET", &key]).trim(),
        r#"1 1 {"v":1}"#,
        "a value from before revisions is revision 0"
    );
}

/// The script compares versions exactly, as digits: a record at version 2^53 + 1 does not take verdicts for 2^53
/// (equal as floating-point numbers, which Lua's `tonumber` gives).
#[tokio::test]
async fn redis_compares_verdict_versions_exactly() {
    let subject = redis().await;
    let registry = &subject.registry;
    assert_eq!(version_after_put(registry, G, "far").await, 1);
    let redis = subject._redis.as_ref().unwrap();
    // The record's version rewritten in place, its payload untouched.
    let set = "local v = redis.call('GET', KEYS[1]); \
               local r = string.gsub(v, '^(%d+):%d+:', '%1:9007199254740993:', 1); \
               redis.call('SET', KEYS[1], r); return 1";
    redis.cli(&["EVAL", set, "1", &format!("idr:a:{{{G}}}")]);
    assert_eq!(
        registry.anchors.get(G).await.unwrap().unwrap().version,
        9_007_199_254_740_993
    );
    assert!(
        !registry
            .verdicts
            .put_verdicts(G, 9_007_199_254_740_992, r#"{"v":"near"}"#)
            .await
            .unwrap(),
        "2^53 is not 2^53 + 1"
    );
    assert!(
        registry
            .verdicts
            .put_verdicts(G, 9_007_199_254_740_993, r#"{"v":"exact"}"#)
            .await
            .unwrap()
    );
}

/// A shared store tells every replica's feed when an anchor's verdicts change (`:verdicts:{anchor}`).
#[tokio::test]
async fn redis_announces_verdicts_on_the_feed() {
    let subject = redis().await;
    let recorder = Arc::new(Recorder::default());
    assert!(subject.registry.coordination.subscribe(recorder.clone()));
    recorder.wait_for("connected").await;
    assert_eq!(version_after_put(&subject.registry, LOT, "lot").await, 1);
    assert!(
        subject
            .registry
            .verdicts
            .put_verdicts(LOT, 1, "{}")
            .await
            .unwrap()
    );
    recorder
        .wait_for(&format!(
            "invalidate {}",
            idr::registry::verdicts::changed(LOT)
        ))
        .await;
}

/// A shared store tells every replica's feed when a run-time vocabulary changes (no canonical path starts with `:`).
#[tokio::test]
async fn redis_announces_link_type_changes_on_the_feed() {
    let subject = redis().await;
    let recorder = Arc::new(Recorder::default());
    assert!(subject.registry.coordination.subscribe(recorder.clone()));
    recorder.wait_for("connected").await;
    let documents = subject.registry.documents.as_ref();
    documents.put_link_types("acme", "{}").await.unwrap();
    recorder
        .wait_for(&format!("invalidate {}", idr::registry::LINK_TYPES_CHANGED))
        .await;
    let before = recorder.events().len();
    documents.delete_link_types("acme").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while recorder.events().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no announcement of the delete"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        recorder.events()[before],
        format!("invalidate {}", idr::registry::LINK_TYPES_CHANGED)
    );
}

async fn the_first_start_is_claimed_once(registry: &Registry) {
    let coordination = registry.coordination.as_ref();
    assert!(coordination.claim_first_start().await.unwrap());
    assert!(!coordination.claim_first_start().await.unwrap());
    assert!(!coordination.claim_first_start().await.unwrap());
}

async fn a_nonce_is_claimed_once_until_it_expires(registry: &Registry) {
    let coordination = registry.coordination.as_ref();
    let minute = Duration::from_secs(60);
    assert!(coordination.claim_nonce("n1", minute).await.unwrap());
    assert!(!coordination.claim_nonce("n1", minute).await.unwrap());
    assert!(coordination.claim_nonce("n2", minute).await.unwrap());
    assert!(!coordination.claim_nonce("n1", minute).await.unwrap());
    let short = Duration::from_millis(500);
    assert!(coordination.claim_nonce("brief", short).await.unwrap());
    assert!(!coordination.claim_nonce("brief", short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        coordination.claim_nonce("brief", short).await.unwrap(),
        "claimable again once expired"
    );
    assert!(!coordination.claim_nonce("n2", minute).await.unwrap());
}

async fn a_session_is_read_until_it_expires_or_is_deleted(registry: &Registry) {
    let sessions = registry.sessions.as_ref();
    let hour = Duration::from_secs(3600);
    assert_eq!(sessions.session("s1").await.unwrap(), None);
    sessions
        .put_session("s1", r#"{"a":1}"#, hour)
        .await
        .unwrap();
    sessions.put_session("s2", "two words", hour).await.unwrap();
    assert_eq!(
        sessions.session("s1").await.unwrap().as_deref(),
        Some(r#"{"a":1}"#)
    );
    assert_eq!(
        sessions.session("s2").await.unwrap().as_deref(),
        Some("two words")
    );
    sessions.put_session("s1", "replaced", hour).await.unwrap();
    assert_eq!(
        sessions.session("s1").await.unwrap().as_deref(),
        Some("replaced")
    );
    assert!(sessions.delete_session("s1").await.unwrap());
    assert!(
        !sessions.delete_session("s1").await.unwrap(),
        "deleted once"
    );
    assert_eq!(sessions.session("s1").await.unwrap(), None);
    assert_eq!(
        sessions.session("s2").await.unwrap().as_deref(),
        Some("two words"),
        "others stay"
    );
    sessions
        .put_session("brief", "x", Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(
        sessions.session("brief").await.unwrap().as_deref(),
        Some("x")
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sessions.session("brief").await.unwrap(), None, "expired");
    // A put after it expired sweeps it; a new session of the same name is a new one.
    sessions.put_session("s3", "y", hour).await.unwrap();
    sessions.put_session("brief", "z", hour).await.unwrap();
    assert_eq!(
        sessions.session("brief").await.unwrap().as_deref(),
        Some("z")
    );
}

async fn a_reachable_store_is_ready(registry: &Registry) {
    registry.coordination.ready().await.unwrap();
}

/// Receives a store's invalidation feed, as the record cache does.
#[derive(Default)]
struct Recorder {
    events: std::sync::Mutex<Vec<String>>,
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// Waits (at most five seconds) until `event` has been received.
    async fn wait_for(&self, event: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.events().iter().any(|e| e == event) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {event:?} within 5 s: {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl idr::registry::InvalidationSink for Recorder {
    fn invalidate(&self, key: &str) {
        self.events
            .lock()
            .unwrap()
            .push(format!("invalidate {key}"));
    }
    fn connected(&self) {
        self.events.lock().unwrap().push("connected".into());
    }
    fn disconnected(&self) {
        self.events.lock().unwrap().push("disconnected".into());
    }
}

/// The embedded file has one writer, this process: there is no feed, and the cache relies on its own writes.
#[tokio::test]
async fn the_embedded_store_has_no_invalidation_feed() {
    let subject = embedded().await;
    let recorder = Arc::new(Recorder::default());
    assert!(!subject.registry.coordination.subscribe(recorder.clone()));
    subject
        .registry
        .anchors
        .put(G, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(recorder.events().is_empty());
}

/// Redis delivers every writer's changes (here another handle's, as another replica's) once connected, and says
/// when the feed is lost; readiness follows the server.
#[tokio::test]
async fn redis_feeds_other_writers_changes_and_reports_readiness() {
    let mut subject = redis().await;
    let recorder = Arc::new(Recorder::default());
    assert!(subject.registry.coordination.subscribe(recorder.clone()));
    recorder.wait_for("connected").await;
    subject
        .registry
        .anchors
        .put(LOT, record("a"), Precondition::None, "tester")
        .await
        .unwrap();
    subject
        .registry
        .anchors
        .delete(LOT, Precondition::None, "tester")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while recorder.events().len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        recorder.events(),
        [
            "connected",
            &format!("invalidate {LOT}"),
            &format!("invalidate {LOT}")
        ][..],
    );
    subject.registry.coordination.ready().await.unwrap();
    subject._redis.as_mut().unwrap().kill9();
    recorder.wait_for("disconnected").await;
    assert!(matches!(
        subject.registry.coordination.ready().await,
        Err(StoreError::Unavailable(_))
    ));
}

/// Each write of a `put_each` is checked against its own condition: the one that fails changes nothing and the
/// others are written, each with its version and its own audit entry.
async fn put_each_checks_and_writes_each_on_its_own(registry: &Registry) {
    let store = registry.anchors.as_ref();
    store
        .put(H, record("h1"), Precondition::None, "tester")
        .await
        .unwrap();
    let each = |key: &str, desc: &str, precondition| PutEach {
        key: key.into(),
        record: record(desc),
        precondition,
    };
    let outcomes = store
        .put_each(
            vec![
                each(G, "g1", Precondition::Absent),
                each(H, "h2", Precondition::Absent),
                each(LOT, "lot1", Precondition::Absent),
            ],
            "tester",
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    let first = outcomes[0].as_ref().unwrap();
    assert!(first.created);
    assert_eq!(first.stored.version, 1);
    refused_at(
        outcomes[1].as_ref().map(|_| ()).map_err(clone_error),
        Some(1),
    );
    assert_eq!(outcomes[2].as_ref().unwrap().stored.version, 1);
    let read = store.get_many(&[G, H, LOT]).await.unwrap();
    assert_eq!(description(&read[0]), Some("g1"));
    assert_eq!(
        description(&read[1]),
        Some("h1"),
        "the refused write changed nothing"
    );
    assert_eq!(description(&read[2]), Some("lot1"));
    let replaced = store
        .put_each(
            vec![each(G, "g2", Precondition::Version(vec![1]))],
            "tester",
        )
        .await
        .unwrap();
    let replaced = replaced[0].as_ref().unwrap();
    assert!(!replaced.created);
    assert_eq!(replaced.stored.version, 2);
    let trail = registry.audit.audit(&everything(G)).await.unwrap();
    let mine: Vec<Seen> = seen(&trail).into_iter().filter(|e| e.0 == G).collect();
    assert_eq!(
        mine,
        vec![
            entry(G, "create", None, Some(1)),
            entry(G, "replace", Some(1), Some(2)),
        ]
    );
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::PreconditionFailed { current } => {
            StoreError::PreconditionFailed { current: *current }
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn paths_of(page: &idr::registry::Page) -> Vec<&str> {
    page.iter().map(|(p, _)| p.as_str()).collect()
}

/// Pages follow canonical path order, start strictly after the cursor, stay within the prefix (a string prefix) and
/// take only what the filter keeps.
async fn a_listing_pages_in_order_within_prefix_and_filter(registry: &Registry) {
    let store = registry.anchors.as_ref();
    for key in [
        "01/09520123456788/21/B",
        "01/09520123456788",
        "01/09520123456788/10/ABC",
        "01/09520999999996",
        "01/09506000134369",
        "01/09520123456788/21/A",
    ] {
        store
            .put(key, record("x"), Precondition::None, "tester")
            .await
            .unwrap();
    }
    let all = |_: &str| true;
    let query = |prefix, after, limit, keep| ListQuery {
        prefix,
        after,
        limit,
        keep,
    };
    let first = store.list(&query("01/09520", None, 2, &all)).await.unwrap();
    assert_eq!(
        paths_of(&first),
        vec!["01/09520123456788", "01/09520123456788/10/ABC"]
    );
    assert_eq!(first[1].1.record.item_description, "x");
    let second = store
        .list(&query(
            "01/09520",
            Some("01/09520123456788/10/ABC"),
            2,
            &all,
        ))
        .await
        .unwrap();
    assert_eq!(
        paths_of(&second),
        vec!["01/09520123456788/21/A", "01/09520123456788/21/B"]
    );
    let last = store
        .list(&query("01/09520", Some("01/09520123456788/21/B"), 2, &all))
        .await
        .unwrap();
    assert_eq!(paths_of(&last), vec!["01/09520999999996"]);
    let serials = |p: &str| p.contains("/21/");
    let kept = store.list(&query("", None, 10, &serials)).await.unwrap();
    assert_eq!(
        paths_of(&kept),
        vec!["01/09520123456788/21/A", "01/09520123456788/21/B"]
    );
    let none = store.list(&query("01/0999", None, 10, &all)).await.unwrap();
    assert!(none.is_empty());
}

/// Paging with the last path as the cursor while another task creates and deletes other anchors: every anchor that
/// exists throughout is listed exactly once.
async fn a_listing_skips_and_repeats_nothing_while_others_write(registry: &Registry) {
    let store = registry.anchors.clone();
    let stable: Vec<String> = (0..300)
        .map(|i| format!("01/0952012345678{}/21/S{i:04}", i % 10))
        .collect();
    let batch: Vec<(String, Payload)> = stable
        .iter()
        .map(|k| (k.clone(), Payload::of(&record("stable"))))
        .collect();
    store.put_batch(batch, "tester").await.unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let key = format!("01/09520123456785/21/T{i:04}");
                store
                    .put(&key, record("churn"), Precondition::None, "tester")
                    .await
                    .unwrap();
                if i % 2 == 0 {
                    store
                        .delete(&key, Precondition::None, "tester")
                        .await
                        .unwrap();
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let all = |_: &str| true;
    let mut seen: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(&ListQuery {
                prefix: "01/0952012345678",
                after: after.as_deref(),
                limit: 17,
                keep: &all,
            })
            .await
            .unwrap();
        seen.extend(page.iter().map(|(p, _)| p.clone()));
        if page.len() < 17 {
            break;
        }
        after = page.last().map(|(p, _)| p.clone());
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages come in canonical order");
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "nothing is listed twice");
    let stable_seen: Vec<&String> = seen.iter().filter(|p| !p.contains("/T")).collect();
    let mut expected: Vec<&String> = stable.iter().collect();
    expected.sort();
    assert_eq!(
        stable_seen, expected,
        "every anchor that existed throughout is listed"
    );
}

/// Pattern registrations live at reserved paths beside the anchors: `patterns` lists only them, `find_pattern`
/// takes the longest prefix (the cache from its index, re-read after a write through it), and writes are audited.
async fn patterns_are_stored_audited_and_found_by_longest_prefix(registry: &Registry) {
    let store = &registry.anchors;
    let found = |key: &'static str, value: &'static str| async move {
        store
            .find_pattern(key, value)
            .await
            .unwrap()
            .map(|(p, r)| (p, r.record.item_description.clone()))
    };
    assert_eq!(found("8004", "9520123X").await, None);
    store
        .put(G, record("anchor"), Precondition::None, "tester")
        .await
        .unwrap();
    for (path, description) in [
        ("~pattern/8004/952", "short"),
        ("~pattern/8004/9520123", "long"),
    ] {
        store
            .put(path, record(description), Precondition::Absent, "tester")
            .await
            .unwrap();
    }
    assert_eq!(
        found("8004", "9520123X").await,
        Some(("8004/9520123".into(), "long".into()))
    );
    assert_eq!(
        found("8004", "9529").await,
        Some(("8004/952".into(), "short".into()))
    );
    assert_eq!(found("8004", "95").await, None);
    assert_eq!(found("8003", "9520123").await, None);
    let mut listed: Vec<String> = store
        .patterns()
        .await
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    listed.sort();
    assert_eq!(listed, ["~pattern/8004/952", "~pattern/8004/9520123"]);
    assert!(
        store
            .delete_hard("~pattern/8004/9520123", Precondition::None, "tester")
            .await
            .unwrap()
    );
    assert_eq!(
        found("8004", "9520123X").await,
        Some(("8004/952".into(), "short".into()))
    );
    let trail = registry
        .audit
        .audit(&everything("~pattern/8004/9520123"))
        .await
        .unwrap();
    let ops: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.identifier.as_str(), e.operation.as_str()))
        .collect();
    let path = "~pattern/8004/9520123";
    assert_eq!(ops, [(path, "create"), (path, "delete"), (path, "purge")]);
}

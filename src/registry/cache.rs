//! A bounded in-process cache of link records in front of the store, kept coherent by invalidation on each local
//! write and, for a shared store (Redis), by the store's invalidation feed of other replicas' writes.
//!
//! - Hits never leave the process. Misses fetch every level in one round trip and fill the cache.
//! - Coherence: every write anywhere publishes the key; the feed drops it here. A read that raced an invalidation
//!   does not fill the cache (an epoch counter), so an old value cannot be re-inserted after its invalidation.
//! - While the feed is down, cached records are not trusted: reads go to the store. When the store itself cannot be
//!   reached, cached records are served and marked stale; identifiers with nothing cached get `503`, never `404`.

use super::CacheStats;
use super::{
    AnchorRecord, AnchorSink, AuditEntry, AuditQuery, InvalidationSink, LinkStore, Lookup,
    Precondition, PutOutcome, Sink, StoreError, StoredAnchor,
};
use crate::config::CacheSettings;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Records, with the feed generation they were read in. Entries from before a reconnect may have missed
/// invalidations: they are not served as current, but remain a fallback during an outage.
type Present = (Arc<StoredAnchor>, u64);

/// Invalidation stripes (a power of two).
const STRIPES: usize = 1024;

/// What a read saw before going to the store: the feed generation and the epoch of each key's stripe.
struct Snapshot {
    generation: u64,
    epochs: Vec<u64>,
}

fn stripe(key: &str) -> usize {
    (fnv1a(key) as usize) & (STRIPES - 1)
}

/// FNV-1a: cheap and well spread for short keys.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Share of the byte budget for "nothing registered here" entries.
const ABSENT_SHARE: u64 = 8;

pub struct CachedStore {
    inner: Arc<dyn LinkStore>,
    /// Two caches with fixed lifetimes rather than one with per-entry expiry: moka expires fixed-TTL entries from a
    /// queue in O(1), while per-entry expiry runs a timer wheel on request threads, which showed as 100 ms p99
    /// spikes under a churn of short-lived negative entries (docs/performance.md).
    present: Cache<String, Present>,
    /// Keys known to have nothing registered, with the generation they were read in.
    absent: Cache<String, u64>,
    /// Per-key-stripe counters bumped by every invalidation; a fill whose read began before an invalidation of its
    /// stripe is dropped. Striped so that writes elsewhere do not void every fill in flight.
    epochs: Box<[AtomicU64]>,
    /// The invalidation feed is connected, so cached records of this generation are current.
    live: AtomicBool,
    generation: AtomicU64,
    /// Admission once a cache is nearly full: a key is inserted only on its second miss within a window, so scans
    /// spread over far more identifiers than fit do not pay an insert and an eviction each for entries that are
    /// evicted before they are read again (they made spread scans slower with the cache than without it).
    doorkeeper: Doorkeeper,
    present_capacity: u64,
    absent_capacity: u64,
}

/// Bits of the doorkeeper (a power of two): it forgets everything after about half as many distinct misses.
const DOORKEEPER_BITS: usize = 1 << 18;

/// A bitset of recently missed keys, cleared when half of its bits are set.
struct Doorkeeper {
    words: Box<[AtomicU64]>,
    marked: AtomicU64,
}

impl Doorkeeper {
    fn new() -> Doorkeeper {
        Doorkeeper {
            words: (0..DOORKEEPER_BITS / 64)
                .map(|_| AtomicU64::new(0))
                .collect(),
            marked: AtomicU64::new(0),
        }
    }

    /// Whether `key` missed before in this window; marks it.
    fn seen_before(&self, key: &str) -> bool {
        let bit = (fnv1a(key) as usize) & (DOORKEEPER_BITS - 1);
        let mask = 1u64 << (bit % 64);
        if self.words[bit / 64].fetch_or(mask, Ordering::Relaxed) & mask != 0 {
            return true;
        }
        if self.marked.fetch_add(1, Ordering::Relaxed) + 1 >= (DOORKEEPER_BITS / 2) as u64 {
            self.marked.store(0, Ordering::Relaxed);
            for word in self.words.iter() {
                word.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}

impl CachedStore {
    /// Wraps `inner` and subscribes to its invalidation feed.
    pub fn wrap(inner: Arc<dyn LinkStore>, settings: &CacheSettings) -> Arc<CachedStore> {
        let absent_bytes = settings.max_bytes / ABSENT_SHARE;
        let present = Cache::builder()
            .max_capacity(settings.max_bytes - absent_bytes)
            .weigher(|key: &String, value: &Present| weight(key, Some(&value.0)))
            .time_to_live(Duration::from_secs(settings.ttl_seconds))
            .build();
        let absent = Cache::builder()
            .max_capacity(absent_bytes)
            .weigher(|key: &String, _: &u64| weight(key, None))
            .time_to_live(Duration::from_millis(settings.negative_ttl_ms))
            .build();
        let store = Arc::new(CachedStore {
            inner,
            present,
            absent,
            epochs: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            live: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            doorkeeper: Doorkeeper::new(),
            present_capacity: settings.max_bytes - absent_bytes,
            absent_capacity: absent_bytes,
        });
        let sink: Sink = store.clone();
        if !store.inner.subscribe(sink) {
            // No other writers to hear from: local invalidation on write is all coherence needs.
            store.live.store(true, Ordering::Release);
        }
        store
    }

    /// Current entries for every key, or `None` when any key is missing or from an older generation.
    fn cached(&self, keys: &[&str]) -> Option<Vec<Option<Arc<StoredAnchor>>>> {
        let generation = self.generation.load(Ordering::Acquire);
        keys.iter()
            .map(|k| match self.present.get(*k) {
                Some((record, g)) if g == generation => Some(Some(record)),
                _ => self
                    .absent
                    .get(*k)
                    .filter(|g| *g == generation)
                    .map(|_| None),
            })
            .collect()
    }

    fn snapshot(&self, keys: &[&str]) -> Snapshot {
        Snapshot {
            generation: self.generation.load(Ordering::Acquire),
            epochs: keys
                .iter()
                .map(|k| self.epochs[stripe(k)].load(Ordering::Acquire))
                .collect(),
        }
    }

    /// Caches what a read returned, except keys invalidated since the read began. The check is repeated after the
    /// insert, so an invalidation that lands in between still removes the entry.
    fn fill(&self, keys: &[&str], records: &[Option<Arc<StoredAnchor>>], seen: &Snapshot) {
        for ((key, record), epoch) in keys.iter().zip(records).zip(&seen.epochs) {
            let counter = &self.epochs[stripe(key)];
            if counter.load(Ordering::Acquire) != *epoch || !self.admit(key, record.is_some()) {
                continue;
            }
            match record {
                Some(record) => self
                    .present
                    .insert((*key).to_string(), (record.clone(), seen.generation)),
                None => self.absent.insert((*key).to_string(), seen.generation),
            }
            if counter.load(Ordering::Acquire) != *epoch {
                self.present.invalidate(*key);
                self.absent.invalidate(*key);
            }
        }
    }

    /// Whether to cache what a miss read: always while the cache has room, then only keys that missed before.
    fn admit(&self, key: &str, present: bool) -> bool {
        let (used, capacity) = if present {
            (self.present.weighted_size(), self.present_capacity)
        } else {
            (self.absent.weighted_size(), self.absent_capacity)
        };
        used < capacity / 10 * 9 || self.doorkeeper.seen_before(key)
    }

    /// The store is unreachable: answer from whatever is cached, if any level of the identifier is.
    fn fallback(&self, keys: &[&str], error: StoreError) -> Result<Lookup, StoreError> {
        let records: Vec<Option<Arc<StoredAnchor>>> = keys
            .iter()
            .map(|k| self.present.get(*k).map(|(record, _)| record))
            .collect();
        if records.iter().any(Option::is_some) {
            let known = |k: &&str| self.present.contains_key(*k) || self.absent.contains_key(*k);
            let complete = keys.iter().all(known);
            Ok(Lookup {
                records,
                stale: true,
                complete,
            })
        } else {
            Err(error)
        }
    }

    /// After a write: forget the key unless the store certainly did not apply it, so a refused write during an
    /// outage leaves the last known record available as a stale answer.
    fn forget_unless_refused<T>(&self, key: &str, outcome: &Result<T, StoreError>) {
        let refused = matches!(
            outcome,
            Err(StoreError::Unavailable(_)
                | StoreError::PreconditionFailed { .. }
                | StoreError::Decode { .. })
        );
        if !refused {
            self.forget(key);
        }
    }

    fn forget(&self, key: &str) {
        self.epochs[stripe(key)].fetch_add(1, Ordering::AcqRel);
        self.present.invalidate(key);
        self.absent.invalidate(key);
    }
}

/// Approximate bytes held for one entry (key, record, and the cache's own bookkeeping), so the bound is on memory
/// rather than on a count.
fn weight(key: &str, record: Option<&Arc<StoredAnchor>>) -> u32 {
    let record = record.map_or(0, |a| a.approx_bytes());
    u32::try_from(key.len() + record + 160).unwrap_or(u32::MAX)
}

impl InvalidationSink for CachedStore {
    fn invalidate(&self, key: &str) {
        self.forget(key);
    }

    fn connected(&self) {
        // Events may have been missed while disconnected: nothing cached before now counts as current, but it stays
        // available as an outage fallback until refreshed or expired.
        // Fills in flight carry the old generation, so they cannot land as current.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.live.store(true, Ordering::Release);
    }

    fn disconnected(&self) {
        self.live.store(false, Ordering::Release);
    }
}

#[async_trait::async_trait]
impl LinkStore for CachedStore {
    fn cache_stats(&self) -> Option<CacheStats> {
        Some(CacheStats {
            entries: self.present.entry_count() + self.absent.entry_count(),
            bytes: self.present.weighted_size() + self.absent.weighted_size(),
        })
    }

    /// Management reads go to the store: a writer must see what is there, not what was.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        self.inner.get_many(keys).await
    }

    async fn lookup(&self, keys: &[&str]) -> Result<Lookup, StoreError> {
        if self.live.load(Ordering::Acquire) {
            if let Some(records) = self.cached(keys) {
                metrics::counter!(crate::telemetry::names::CACHE_HITS).increment(1);
                return Ok(Lookup {
                    records,
                    stale: false,
                    complete: true,
                });
            }
        }
        metrics::counter!(crate::telemetry::names::CACHE_MISSES).increment(1);
        let seen = self.snapshot(keys);
        match self.inner.get_many(keys).await {
            Ok(records) => {
                self.fill(keys, &records, &seen);
                Ok(Lookup {
                    records,
                    stale: false,
                    complete: true,
                })
            }
            Err(e @ StoreError::Unavailable(_)) => self.fallback(keys, e),
            Err(e) => Err(e),
        }
    }

    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError> {
        let outcome = self.inner.put(key, record, precondition, who).await;
        self.forget_unless_refused(key, &outcome);
        outcome
    }

    async fn delete(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        let outcome = self.inner.delete(key, precondition, who).await;
        self.forget_unless_refused(key, &outcome);
        outcome
    }

    async fn restore(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError> {
        let outcome = self.inner.restore(key, who).await;
        self.forget(key);
        outcome
    }

    async fn purge_deleted(&self, key: &str, who: &str) -> Result<bool, StoreError> {
        self.inner.purge_deleted(key, who).await
    }

    async fn audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(query).await
    }

    async fn put_batch(
        &self,
        batch: Vec<(String, AnchorRecord)>,
        who: &str,
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        let outcome = self.inner.put_batch(batch, who).await;
        for key in keys {
            self.forget(&key);
        }
        outcome
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty().await
    }

    async fn claim_first_start(&self) -> Result<bool, StoreError> {
        self.inner.claim_first_start().await
    }

    async fn put_scheme(&self, namespace: &str, definition: &str) -> Result<(), StoreError> {
        self.inner.put_scheme(namespace, definition).await
    }

    async fn schemes(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.schemes().await
    }

    async fn put_key(&self, name: &str, record: &str) -> Result<(), StoreError> {
        self.inner.put_key(name, record).await
    }

    async fn keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.keys().await
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        self.inner.for_each(sink).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready().await
    }

    async fn claim_nonce(&self, nonce: &str, ttl: std::time::Duration) -> Result<bool, StoreError> {
        self.inner.claim_nonce(nonce, ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::embedded::EmbeddedStore;

    fn settings() -> CacheSettings {
        CacheSettings {
            max_bytes: 1 << 20,
            ttl_seconds: 60,
            negative_ttl_ms: 60_000,
        }
    }

    fn record(desc: &str) -> AnchorRecord {
        AnchorRecord {
            item_description: desc.into(),
            default_link_type: None,
            links: vec![],
        }
    }

    /// A store shared with "another replica": writes through `other` bypass this cache, as a remote write would.
    async fn setup() -> (tempfile::TempDir, Arc<EmbeddedStore>, Arc<CachedStore>) {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let cached = CachedStore::wrap(inner.clone(), &settings());
        (dir, inner, cached)
    }

    #[tokio::test]
    async fn hits_stay_until_invalidated() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        let first = cached.lookup(&["01/a", "01/b"]).await.unwrap();
        assert_eq!(
            first.records[0].as_ref().unwrap().record.item_description,
            "v1"
        );
        assert!(first.records[1].is_none());
        other
            .put("01/a", record("v2"), Precondition::None, "test")
            .await
            .unwrap();
        other
            .put("01/b", record("new"), Precondition::None, "test")
            .await
            .unwrap();
        let hit = cached.lookup(&["01/a", "01/b"]).await.unwrap();
        assert_eq!(
            hit.records[0].as_ref().unwrap().record.item_description,
            "v1",
            "served from the cache"
        );
        assert!(hit.records[1].is_none(), "negative entries are cached too");
        cached.invalidate("01/a");
        cached.invalidate("01/b");
        let fresh = cached.lookup(&["01/a", "01/b"]).await.unwrap();
        assert_eq!(
            fresh.records[0].as_ref().unwrap().record.item_description,
            "v2"
        );
        assert_eq!(
            fresh.records[1].as_ref().unwrap().record.item_description,
            "new"
        );
        assert!(!fresh.stale);
    }

    #[tokio::test]
    async fn a_full_cache_admits_a_key_on_its_second_miss() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        // Room for a few dozen records: the first ones fill it, then admission needs a second miss.
        let small = CacheSettings {
            max_bytes: 16 << 10,
            ..settings()
        };
        let cached = CachedStore::wrap(inner.clone(), &small);
        let keys: Vec<String> = (0..400).map(|i| format!("01/{i:014}")).collect();
        for k in &keys {
            inner
                .put(k, record("x"), Precondition::None, "test")
                .await
                .unwrap();
        }
        for k in &keys {
            cached.lookup(&[k]).await.unwrap();
        }
        cached.present.run_pending_tasks();
        let full = cached.present.weighted_size();
        assert!(full >= cached.present_capacity / 10 * 9, "filled: {full}");
        // A key never read before is read from the store and not cached; its second miss caches it.
        let late = "01/99999999999999";
        inner
            .put(late, record("late"), Precondition::None, "test")
            .await
            .unwrap();
        cached.lookup(&[late]).await.unwrap();
        cached.present.run_pending_tasks();
        assert!(
            !cached.present.contains_key(late),
            "one-off miss not admitted"
        );
        cached.lookup(&[late]).await.unwrap();
        cached.present.run_pending_tasks();
        assert!(cached.present.contains_key(late), "second miss admitted");
    }

    #[tokio::test]
    async fn local_writes_invalidate_at_once() {
        let (_dir, _other, cached) = setup().await;
        cached
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        assert!(cached.lookup(&["01/a"]).await.unwrap().records[0].is_some());
        cached
            .delete("01/a", Precondition::None, "test")
            .await
            .unwrap();
        assert!(cached.lookup(&["01/a"]).await.unwrap().records[0].is_none());
    }

    #[tokio::test]
    async fn without_the_feed_the_cache_is_bypassed() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        cached.lookup(&["01/a"]).await.unwrap();
        cached.disconnected();
        other
            .put("01/a", record("v2"), Precondition::None, "test")
            .await
            .unwrap();
        let read = cached.lookup(&["01/a"]).await.unwrap();
        assert_eq!(
            read.records[0].as_ref().unwrap().record.item_description,
            "v2"
        );
        cached.connected();
        let read = cached.lookup(&["01/a"]).await.unwrap();
        assert_eq!(
            read.records[0].as_ref().unwrap().record.item_description,
            "v2"
        );
    }

    #[tokio::test]
    async fn a_fill_that_raced_an_invalidation_is_dropped() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        let seen = cached.snapshot(&["01/a"]);
        let old = other.get_many(&["01/a"]).await.unwrap();
        cached.invalidate("01/a"); // the write's event arrives while the old read is in flight
        cached.fill(&["01/a"], &old, &seen);
        assert!(cached.present.get("01/a").is_none());
    }

    #[tokio::test]
    async fn after_a_reconnect_old_entries_are_only_a_fallback() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        cached.lookup(&["01/a"]).await.unwrap();
        other
            .put("01/a", record("v2"), Precondition::None, "test")
            .await
            .unwrap();
        cached.disconnected();
        cached.connected(); // the v2 event was missed while disconnected
        let read = cached.lookup(&["01/a"]).await.unwrap();
        assert_eq!(
            read.records[0].as_ref().unwrap().record.item_description,
            "v2"
        );
        let outage = cached
            .fallback(&["01/a", "01/b"], StoreError::Unavailable("down".into()))
            .unwrap();
        assert!(outage.stale);
        assert!(outage.records[0].is_some() && outage.records[1].is_none());
        assert!(
            !outage.complete,
            "01/b was never read: its absence is unknown, not a 404"
        );
        cached.lookup(&["01/b"]).await.unwrap(); // now known absent
        let outage = cached
            .fallback(&["01/a", "01/b"], StoreError::Unavailable("down".into()))
            .unwrap();
        assert!(outage.complete);
        assert!(
            cached
                .fallback(&["01/zzz"], StoreError::Unavailable("down".into()))
                .is_err(),
            "503, not 404"
        );
    }

    #[test]
    fn weight_grows_with_the_record() {
        let entry = |r| {
            Arc::new(StoredAnchor {
                version: 1,
                record: r,
            })
        };
        let small = entry(record("x"));
        let big = entry(record(&"x".repeat(1000)));
        assert!(weight("k", Some(&big)) > weight("k", Some(&small)) + 900);
        assert!(weight("k", None) < weight("k", Some(&small)));
    }
}

//! A bounded in-process cache of link records in front of the store, kept coherent by invalidation on each local
//! write and, for a shared store (Redis), by the store's invalidation feed of other replicas' writes.
//!
//! - Hits never leave the process. Misses fetch the levels not cached in one round trip (a shared store) or level by
//!   level up to the one that settles the answer (a store in this process), and cache the levels up to that one. Once
//!   the cache is nearly full, a key is only cached on its second miss, so a scan of one-off identifiers does not
//!   churn it.
//! - Coherence: every write anywhere publishes the key; the feed drops it here. A read that raced an invalidation
//!   does not fill the cache (an epoch counter), so an old value cannot be re-inserted after its invalidation.
//! - While the feed is down, cached records are not trusted: reads go to the store. When the store itself cannot be
//!   reached, cached records are served and marked stale; identifiers with nothing cached get `503`, never `404`.

use super::CacheStats;
use super::patterns::{PatternIndex, pattern_of};
use super::{
    AnchorRecord, AnchorSink, AnchorStore, Coordination, InvalidationSink, Lookup, Precondition,
    PutOutcome, Settles, Sink, StoreError, StoredAnchor, Take,
};
use crate::config::CacheSettings;
use quick_cache::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A cached record (or `()`: nothing is registered), the feed generation it was read in, and when it expires.
/// Entries from before a reconnect may have missed invalidations: they are not served as current, but remain a
/// fallback during an outage. Expired entries are treated as absent and replaced by the next read.
#[derive(Clone)]
struct Entry<T> {
    value: T,
    generation: u64,
    expires: Instant,
    /// Computed once: the cache asks for it again on every eviction.
    weight: u32,
}

type Present = Entry<Arc<StoredAnchor>>;
type Absent = Entry<()>;

/// Bytes an entry is counted as, so that the bound is on memory rather than on a count.
#[derive(Clone)]
struct Weigh;

impl<T> quick_cache::Weighter<String, Entry<T>> for Weigh {
    fn weight(&self, _: &String, entry: &Entry<T>) -> u64 {
        entry.weight.into()
    }
}

/// Invalidation stripes (a power of two).
const STRIPES: usize = 1024;

/// What a read saw before going to the store: the feed generation and the epoch of each key's stripe.
struct Snapshot {
    generation: u64,
    epochs: Vec<u64>,
}

fn stripe(hash: u64) -> usize {
    (hash as usize) & (STRIPES - 1)
}

/// FNV-1a: cheap and well spread for short keys.
fn fnv1a(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// MurmurHash3's 64-bit finalizer: every bit of the input moves about half of the output's bits.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Share of the byte budget for "nothing registered here" entries.
const ABSENT_SHARE: u64 = 8;

/// quick_cache rather than moka: its S3-FIFO policy keeps identifiers read once (a scan spread over far more
/// identifiers than fit) in a small probationary queue, so they cost an insert into a hash table and leave without
/// disturbing the identifiers read repeatedly; moka paid for each one-off miss with an admission, an eviction and
/// the rehashing of its table (measured in docs/performance.md, "Choices the figures rest on").
pub struct CachedStore {
    inner: Arc<dyn AnchorStore>,
    /// Records and "nothing registered here" in separate caches: their lifetimes and byte budgets differ.
    present: Cache<String, Present, Weigh>,
    absent: Cache<String, Absent, Weigh>,
    record_ttl: Duration,
    absent_ttl: Duration,
    /// Per-key-stripe counters bumped by every invalidation; a fill whose read began before an invalidation of its
    /// stripe is dropped. Striped so that writes elsewhere do not void every fill in flight.
    epochs: Box<[AtomicU64]>,
    /// The invalidation feed is connected, so cached records of this generation are current.
    live: AtomicBool,
    generation: AtomicU64,
    /// Admission once a cache is nearly full: a key is inserted only on its second miss within a window. S3-FIFO
    /// evicts one-off entries early, but each still costs an insert and, later, freeing a record gone cold, which
    /// adds up when scans spread over far more identifiers than fit (docs/performance.md).
    doorkeeper: Doorkeeper,
    /// Weight from which each cache (records, then "nothing registered") counts as nearly full.
    full_at: [u64; 2],
    /// Whether each cache was nearly full when its weight was last read (see `nearly_full`).
    full: [AtomicBool; 2],
    /// Every pattern registration, held whole (they are few next to anchors), so a scan's pattern lookup costs no
    /// round trip.
    patterns: arc_swap::ArcSwap<PatternIndex>,
    /// What the index may be missing: set by an invalidation of a pattern path (or a reconnect: everything), read
    /// again before the next pattern lookup.
    patterns_stale: std::sync::Mutex<StalePatterns>,
    patterns_dirty: AtomicBool,
    /// One refresh at a time, each reading the store after the invalidations it applies.
    patterns_refresh: tokio::sync::Mutex<()>,
}

/// Pattern paths to read again, or all of them.
#[derive(Default)]
struct StalePatterns {
    all: bool,
    /// The index was never read: there is nothing to fall back to.
    never_read: bool,
    paths: Vec<String>,
}

/// Fills on one thread between two readings of the caches' total weight.
const WEIGH_EVERY: u32 = 64;

thread_local! {
    static FILLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// Hit and miss counters, looked up in the metrics recorder once per thread rather than on every lookup.
    static LOOKUPS: (metrics::Counter, metrics::Counter) = (
        metrics::counter!(crate::telemetry::names::CACHE_HITS),
        metrics::counter!(crate::telemetry::names::CACHE_MISSES),
    );
}

/// Bits of the doorkeeper per key of its window: after a whole window of distinct misses one bit in sixteen is set,
/// so a first miss is taken for a second one time in thirty-two on average. At half of its bits set (as once), a
/// quarter of one-off keys were admitted, each an insert and later an eviction.
const DOORKEEPER_BITS_PER_KEY: usize = 16;

/// A bitset of recently missed keys (by hash), cleared after `window` distinct misses.
struct Doorkeeper {
    words: Box<[AtomicU64]>,
    /// Bits minus one (their number is a power of two).
    mask: usize,
    /// How many distinct misses it remembers: as many as the caches hold (`set_window`), so that a key is admitted
    /// when it came back sooner than an entry stays. Far more (as once) admits keys that will be evicted unread.
    window: AtomicU64,
    marked: AtomicU64,
}

impl Doorkeeper {
    /// A doorkeeper with bits for `window` distinct misses (the caches' estimated capacity in entries).
    fn new(window: usize) -> Doorkeeper {
        let bits = window
            .saturating_mul(DOORKEEPER_BITS_PER_KEY)
            .clamp(1 << 12, 1 << 30)
            .next_power_of_two();
        Doorkeeper {
            words: (0..bits / 64).map(|_| AtomicU64::new(0)).collect(),
            mask: bits - 1,
            window: AtomicU64::new(window.max(1) as u64),
            marked: AtomicU64::new(0),
        }
    }

    /// Remembers `entries` misses from now on, at most what its bits allow.
    fn set_window(&self, entries: usize) {
        let most = (self.mask as u64 + 1) / DOORKEEPER_BITS_PER_KEY as u64;
        self.window
            .store((entries as u64).clamp(1, most), Ordering::Relaxed);
    }

    /// Whether the key of `hash` missed before in this window; marks it. The hash is mixed first: FNV-1a's bits
    /// vary little between keys that differ in their last characters (serials, numbered GTINs), and taking them as
    /// they were had keys share bits, so that more than half of one-off keys looked seen before.
    fn seen_before(&self, hash: u64) -> bool {
        let bit = (mix(hash) as usize) & self.mask;
        let mask = 1u64 << (bit % 64);
        if self.words[bit / 64].fetch_or(mask, Ordering::Relaxed) & mask != 0 {
            return true;
        }
        if self.marked.fetch_add(1, Ordering::Relaxed) + 1 >= self.window.load(Ordering::Relaxed) {
            self.marked.store(0, Ordering::Relaxed);
            for word in self.words.iter() {
                word.store(0, Ordering::Relaxed);
            }
        }
        false
    }
}

impl CachedStore {
    /// Wraps `inner` and subscribes to the invalidation feed of its backend (`feed`: the same store's coordination).
    pub(crate) fn wrap(
        inner: Arc<dyn AnchorStore>,
        feed: &dyn Coordination,
        settings: &CacheSettings,
    ) -> Arc<CachedStore> {
        let absent_bytes = settings.max_bytes / ABSENT_SHARE;
        let present_bytes = settings.max_bytes - absent_bytes;
        // The item estimates only size the hash tables up front; the bound is the weight.
        let (present_items, absent_items) = (items(present_bytes, 600), items(absent_bytes, 200));
        let present = Cache::with_weighter(present_items, present_bytes, Weigh);
        let absent = Cache::with_weighter(absent_items, absent_bytes, Weigh);
        let store = Arc::new(CachedStore {
            inner,
            present,
            absent,
            record_ttl: Duration::from_secs(settings.ttl_seconds),
            absent_ttl: Duration::from_millis(settings.negative_ttl_ms),
            epochs: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            live: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            doorkeeper: Doorkeeper::new(present_items.saturating_add(absent_items)),
            full_at: [present_bytes / 10 * 9, absent_bytes / 10 * 9],
            full: [AtomicBool::new(false), AtomicBool::new(false)],
            patterns: Default::default(),
            patterns_stale: std::sync::Mutex::new(StalePatterns {
                all: true,
                never_read: true,
                paths: Vec::new(),
            }),
            patterns_dirty: AtomicBool::new(true),
            patterns_refresh: tokio::sync::Mutex::new(()),
        });
        let sink: Sink = store.clone();
        if !feed.subscribe(sink) {
            // No other writers to hear from: local invalidation on write is all coherence needs.
            store.live.store(true, Ordering::Release);
        }
        store
    }

    /// What is cached for `key` as current: `Some(None)` for "nothing registered". `None` when it is missing,
    /// expired or from an older generation.
    fn current(
        &self,
        key: &str,
        generation: u64,
        now: Instant,
    ) -> Option<Option<Arc<StoredAnchor>>> {
        let current = |g: u64, expires: Instant| g == generation && now < expires;
        match self.present.get(key) {
            Some(e) if current(e.generation, e.expires) => Some(Some(e.value)),
            _ => self
                .absent
                .get(key)
                .filter(|e| current(e.generation, e.expires))
                .map(|_| None),
        }
    }

    /// Levels answered from memory, most specific first, up to the first that is not cached or the one that settles
    /// the answer. `true` when nothing more is needed.
    fn walk_cached(&self, keys: &[&str], walk: &mut Walk, settles: Option<Settles<'_>>) -> bool {
        if !self.live.load(Ordering::Acquire) {
            return false;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let now = Instant::now();
        for key in &keys[walk.records.len()..] {
            let Some(record) = self.current(key, generation, now) else {
                return false;
            };
            if walk.push(record, settles) {
                return true;
            }
        }
        true
    }

    /// The remaining levels from a store in this process, one at a time (each is cheap), stopping at the one that
    /// settles the answer; cached levels on the way are taken from memory.
    async fn read_each(
        &self,
        keys: &[&str],
        walk: &mut Walk,
        settles: Option<Settles<'_>>,
    ) -> Result<(), StoreError> {
        while walk.records.len() < keys.len() {
            if self.walk_cached(keys, walk, settles) {
                return Ok(());
            }
            let key = &keys[walk.records.len()..][..1];
            let seen = self.snapshot(key);
            let mut record = self.inner.get_many(key).await?;
            self.fill(key, &record, &seen);
            if walk.push(record.pop().flatten(), settles) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The remaining levels from a shared store, in one round trip, taken up to the one that settles the answer, as a
    /// store in this process reads them. The levels above came with the same round trip, but the answer does not use
    /// them: they are neither decoded nor cached (caching them evicted records for nothing, at no gain in hit rate;
    /// docs/performance.md).
    async fn read_rest(
        &self,
        keys: &[&str],
        walk: &mut Walk,
        settles: Option<Settles<'_>>,
    ) -> Result<(), StoreError> {
        let start = walk.records.len();
        let rest = &keys[start..];
        let seen = self.snapshot(rest);
        self.inner
            .get_until(rest, &mut |record| walk.push(record, settles))
            .await?;
        let read = walk.records.len() - start;
        self.fill(&rest[..read], &walk.records[start..], &seen);
        Ok(())
    }

    fn snapshot(&self, keys: &[&str]) -> Snapshot {
        Snapshot {
            generation: self.generation.load(Ordering::Acquire),
            epochs: keys
                .iter()
                .map(|k| self.epochs[stripe(fnv1a(k))].load(Ordering::Acquire))
                .collect(),
        }
    }

    /// Caches what a read returned, except keys invalidated since the read began. The check is repeated after the
    /// insert, so an invalidation that lands in between still removes the entry.
    fn fill(&self, keys: &[&str], records: &[Option<Arc<StoredAnchor>>], seen: &Snapshot) {
        let now = Instant::now();
        for ((key, record), epoch) in keys.iter().zip(records).zip(&seen.epochs) {
            let hash = fnv1a(key);
            let counter = &self.epochs[stripe(hash)];
            if counter.load(Ordering::Acquire) != *epoch || !self.admit(hash, record.is_some()) {
                continue;
            }
            let generation = seen.generation;
            match record {
                Some(record) => {
                    let expires = now + self.record_ttl;
                    let entry = Entry {
                        value: record.clone(),
                        generation,
                        expires,
                        weight: weight(key, Some(record)),
                    };
                    self.present.insert((*key).to_string(), entry);
                }
                None => {
                    let expires = now + self.absent_ttl;
                    let entry = Entry {
                        value: (),
                        generation,
                        expires,
                        weight: weight(key, None),
                    };
                    self.absent.insert((*key).to_string(), entry);
                }
            }
            if counter.load(Ordering::Acquire) != *epoch {
                self.present.remove(*key);
                self.absent.remove(*key);
            }
        }
    }

    /// Whether to cache what a miss read: always while the cache has room, then only keys that missed before.
    fn admit(&self, hash: u64, present: bool) -> bool {
        !self.nearly_full(present) || self.doorkeeper.seen_before(hash)
    }

    /// Whether the records cache (`present`) or the other holds 90% of its budget. Reading a cache's weight takes
    /// the lock of each of its shards, cache lines the workers contend for; so each thread reads the weights (and
    /// the entry counts, the doorkeeper's window) once every `WEIGH_EVERY` fills, and admission lags the fill level
    /// by at most that many inserts per thread.
    fn nearly_full(&self, present: bool) -> bool {
        let fills = FILLS.get();
        FILLS.set(fills.wrapping_add(1));
        if fills % WEIGH_EVERY == 0 {
            let weights = [self.present.weight(), self.absent.weight()];
            for ((flag, weight), limit) in self.full.iter().zip(weights).zip(self.full_at) {
                flag.store(weight >= limit, Ordering::Relaxed);
            }
            self.doorkeeper
                .set_window(self.present.len() + self.absent.len());
        }
        self.full[usize::from(!present)].load(Ordering::Relaxed)
    }

    /// The store is unreachable: answer from whatever is cached, if any level of the identifier is.
    fn fallback(&self, keys: &[&str], error: StoreError) -> Result<Lookup, StoreError> {
        // Entries past their lifetime are not served even in an outage: the lifetime bounds staleness.
        let now = Instant::now();
        let record = |k: &str| self.present.peek(k).filter(|e| now < e.expires);
        let records: Vec<Option<Arc<StoredAnchor>>> =
            keys.iter().map(|k| record(k).map(|e| e.value)).collect();
        if records.iter().any(Option::is_some) {
            let known = |k: &&str| {
                record(k).is_some() || self.absent.peek(*k).is_some_and(|e| now < e.expires)
            };
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
        self.epochs[stripe(fnv1a(key))].fetch_add(1, Ordering::AcqRel);
        self.present.remove(key);
        self.absent.remove(key);
        if pattern_of(key).is_some() {
            self.stale_patterns(|stale| stale.paths.push(key.to_string()));
        }
    }

    fn stale_patterns(&self, mark: impl FnOnce(&mut StalePatterns)) {
        let mut stale = self
            .patterns_stale
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        mark(&mut stale);
        self.patterns_dirty.store(true, Ordering::Release);
    }

    /// Reads what the pattern index may be missing (all of it on first use and after a reconnect; else the paths
    /// invalidated since the last refresh, in one `get_many`).
    async fn refresh_patterns(&self) -> Result<(), StoreError> {
        let _one = self.patterns_refresh.lock().await;
        if !self.patterns_dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let stale = std::mem::take(
            &mut *self
                .patterns_stale
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let read = if stale.all {
            self.inner.patterns().await.map(PatternIndex::from_records)
        } else {
            let paths: Vec<&str> = stale.paths.iter().map(String::as_str).collect();
            self.inner.get_many(&paths).await.map(|records| {
                let mut index = PatternIndex::clone(&self.patterns.load());
                for (path, record) in paths.iter().zip(records) {
                    index.set(path, record);
                }
                index
            })
        };
        match read {
            Ok(index) => {
                self.patterns.store(Arc::new(index));
                Ok(())
            }
            Err(e) => {
                // Try again on the next lookup.
                self.stale_patterns(|again| {
                    again.all |= stale.all;
                    again.never_read |= stale.never_read;
                    again.paths.extend(stale.paths);
                });
                Err(e)
            }
        }
    }
}

/// The levels of a resolution read so far, most specific first.
struct Walk {
    records: Vec<Option<Arc<StoredAnchor>>>,
    /// Levels the resolution has.
    levels: usize,
    found: bool,
}

impl Walk {
    fn new(levels: usize) -> Walk {
        Walk {
            records: Vec::with_capacity(levels),
            levels,
            found: false,
        }
    }

    /// Adds the next level. `true` when it is the first level with a record and it settles the answer. The last level
    /// is not asked: nothing above it would be saved (a cached single-level scan pays no second choice of link).
    fn push(&mut self, record: Option<Arc<StoredAnchor>>, settles: Option<Settles<'_>>) -> bool {
        let first = !self.found && record.is_some();
        self.found |= record.is_some();
        let last = self.records.len() + 1 >= self.levels;
        let done = first
            && !last
            && record
                .as_deref()
                .is_some_and(|r| settles.is_some_and(|f| f(r)));
        self.records.push(record);
        done
    }

    fn lookup(self) -> Lookup {
        Lookup {
            records: self.records,
            stale: false,
            complete: true,
        }
    }
}

/// Hash-table slots to reserve for a byte budget, from a typical entry size.
fn items(bytes: u64, typical_entry: u64) -> usize {
    usize::try_from(bytes / typical_entry)
        .unwrap_or(usize::MAX)
        .max(16)
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
        self.stale_patterns(|stale| stale.all = true);
    }

    fn disconnected(&self) {
        self.live.store(false, Ordering::Release);
    }
}

/// Only the anchors are cached: the audit trail, documents and coordination are used through the backend's own
/// handles (`Registry`).
#[async_trait::async_trait]
impl AnchorStore for CachedStore {
    /// As the store behind: a miss is read the way that store reads best.
    fn local_reads(&self) -> bool {
        self.inner.local_reads()
    }

    fn cache_stats(&self) -> Option<CacheStats> {
        Some(CacheStats {
            entries: (self.present.len() + self.absent.len()) as u64,
            bytes: self.present.weight() + self.absent.weight(),
        })
    }

    /// Management reads go to the store: a writer must see what is there, not what was.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        self.inner.get_many(keys).await
    }

    async fn get_until(&self, keys: &[&str], take: &mut Take<'_>) -> Result<(), StoreError> {
        self.inner.get_until(keys, take).await
    }

    async fn lookup_until(
        &self,
        keys: &[&str],
        settles: Option<Settles<'_>>,
    ) -> Result<Lookup, StoreError> {
        let mut walk = Walk::new(keys.len());
        if self.walk_cached(keys, &mut walk, settles) {
            LOOKUPS.with(|(hits, _)| hits.increment(1));
            return Ok(walk.lookup());
        }
        LOOKUPS.with(|(_, misses)| misses.increment(1));
        let read = if self.inner.local_reads() && settles.is_some() {
            self.read_each(keys, &mut walk, settles).await
        } else {
            self.read_rest(keys, &mut walk, settles).await
        };
        match read {
            Ok(()) => Ok(walk.lookup()),
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

    async fn delete_hard(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        let outcome = self.inner.delete_hard(key, precondition, who).await;
        self.forget_unless_refused(key, &outcome);
        outcome
    }

    async fn put_batch(
        &self,
        batch: Vec<(String, super::format::Payload)>,
        who: &str,
    ) -> Result<(), StoreError> {
        let keys: Vec<String> = batch.iter().map(|(k, _)| k.clone()).collect();
        let outcome = self.inner.put_batch(batch, who).await;
        for key in keys {
            self.forget(&key);
        }
        outcome
    }

    async fn put_each(
        &self,
        writes: Vec<super::PutEach>,
        who: &str,
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let keys: Vec<String> = writes.iter().map(|w| w.key.clone()).collect();
        let outcome = self.inner.put_each(writes, who).await;
        for key in keys {
            self.forget(&key);
        }
        outcome
    }

    async fn list(&self, query: &super::ListQuery<'_>) -> Result<super::Page, StoreError> {
        self.inner.list(query).await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty().await
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        self.inner.for_each(sink).await
    }

    /// From the in-memory index, read again first where an invalidation said it changed. If the store cannot be
    /// reached for that, the index as last read answers (as cached records do during an outage).
    async fn find_pattern(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<(String, Arc<StoredAnchor>)>, StoreError> {
        if self.patterns_dirty.load(Ordering::Acquire) {
            if let Err(e) = self.refresh_patterns().await {
                let never_read = self
                    .patterns_stale
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .never_read;
                if never_read {
                    return Err(e);
                }
                tracing::warn!(error = %e, "pattern registrations not re-read; answering from the last read");
            }
        }
        Ok(self.patterns.load().longest(key, value))
    }

    async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
        self.inner.patterns().await
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
        let cached = CachedStore::wrap(inner.clone(), inner.as_ref(), &settings());
        (dir, inner, cached)
    }

    fn numbered(i: usize) -> String {
        format!("01/{i:014}")
    }

    /// A cache of `max_bytes` over a store holding `anchors` records, at `numbered(0..anchors)`.
    async fn small_cache(
        max_bytes: u64,
        anchors: usize,
    ) -> (tempfile::TempDir, Arc<EmbeddedStore>, Arc<CachedStore>) {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        for i in 0..anchors {
            inner
                .put(&numbered(i), record("x"), Precondition::None, "test")
                .await
                .unwrap();
        }
        let small = CacheSettings {
            max_bytes,
            ..settings()
        };
        let cached = CachedStore::wrap(inner.clone(), inner.as_ref(), &small);
        (dir, inner, cached)
    }

    const LATE: &str = "01/99999999999999";

    /// A cache with room for about a hundred records, filled past full by reads of the first 400 of `anchors`, then
    /// one read of `LATE`, written to the store after the fill.
    async fn full_after_a_miss_of_late(anchors: usize) -> (tempfile::TempDir, Arc<CachedStore>) {
        let (dir, inner, cached) = small_cache(32 << 10, anchors).await;
        for i in 0..400 {
            cached.lookup_until(&[&numbered(i)], None).await.unwrap();
        }
        inner
            .put(LATE, record("late"), Precondition::None, "test")
            .await
            .unwrap();
        cached.lookup_until(&[LATE], None).await.unwrap();
        (dir, cached)
    }

    #[tokio::test]
    async fn hits_stay_until_invalidated() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        let first = cached.lookup_until(&["01/a", "01/b"], None).await.unwrap();
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
        let hit = cached.lookup_until(&["01/a", "01/b"], None).await.unwrap();
        assert_eq!(
            hit.records[0].as_ref().unwrap().record.item_description,
            "v1",
            "served from the cache"
        );
        assert!(hit.records[1].is_none(), "negative entries are cached too");
        cached.invalidate("01/a");
        cached.invalidate("01/b");
        let fresh = cached.lookup_until(&["01/a", "01/b"], None).await.unwrap();
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
    async fn a_scan_of_one_off_identifiers_keeps_the_ones_read_repeatedly() {
        // Room for about two hundred records; the scan reads ten times as many, each once.
        let (_dir, _inner, cached) = small_cache(64 << 10, 2_020).await;
        let hot: Vec<String> = (0..20).map(numbered).collect();
        for _ in 0..3 {
            for k in &hot {
                cached.lookup_until(&[k], None).await.unwrap();
            }
        }
        for i in 20..2_020 {
            cached.lookup_until(&[&numbered(i)], None).await.unwrap();
        }
        assert!(cached.present.weight() <= cached.present.capacity());
        let kept = hot
            .iter()
            .filter(|k| cached.present.peek(k.as_str()).is_some())
            .count();
        assert_eq!(
            kept,
            hot.len(),
            "the scan evicted identifiers read repeatedly"
        );
    }

    #[tokio::test]
    async fn a_full_cache_admits_a_key_on_its_second_miss() {
        // Room for about a hundred records: the first ones fill it, then admission needs a second miss. Fullness is
        // read every WEIGH_EVERY fills, well within the three hundred past full.
        let (_dir, cached) = full_after_a_miss_of_late(400).await;
        let full = cached.present.weight();
        assert!(full >= cached.present.capacity() / 10 * 9, "filled: {full}");
        assert!(
            cached.present.peek(LATE).is_none(),
            "a first miss is not cached"
        );
        let second = cached.lookup_until(&[LATE], None).await.unwrap();
        assert_eq!(
            second.records[0].as_ref().unwrap().record.item_description,
            "late"
        );
        assert!(cached.present.peek(LATE).is_some(), "a second miss is");
    }

    #[tokio::test]
    async fn a_full_cache_forgets_a_miss_after_as_many_misses_as_it_holds() {
        // A key that comes back only after more other misses than the cache has entries would be evicted before
        // its next read: its second miss is not admitted, a third right after it is.
        let (_dir, cached) = full_after_a_miss_of_late(1_000).await;
        let entries = cached.present.len() + cached.absent.len();
        assert!(entries < 300, "{entries} entries");
        for i in 400..400 + 2 * entries + 2 * WEIGH_EVERY as usize {
            cached.lookup_until(&[&numbered(i)], None).await.unwrap();
        }
        cached.lookup_until(&[LATE], None).await.unwrap();
        assert!(
            cached.present.peek(LATE).is_none(),
            "a miss long forgotten is a first miss"
        );
        cached.lookup_until(&[LATE], None).await.unwrap();
        assert!(
            cached.present.peek(LATE).is_some(),
            "a second miss is cached"
        );
    }

    #[test]
    fn the_doorkeeper_rarely_takes_a_first_miss_for_a_second() {
        let window = 50_000;
        let doorkeeper = Doorkeeper::new(window);
        let keys: Vec<u64> = (0..window - 1).map(|i| fnv1a(&numbered(i))).collect();
        // Every key is new, so each "seen before" is a mistake: a one-off key admitted. One short of the window, so
        // that nothing is forgotten before the second pass.
        let mistaken = keys.iter().filter(|&&h| doorkeeper.seen_before(h)).count();
        assert!(
            mistaken < window / 20,
            "{mistaken} of {window} first misses taken for second ones"
        );
        let forgotten = keys.iter().filter(|&&h| !doorkeeper.seen_before(h)).count();
        assert_eq!(forgotten, 0, "a miss within the window is remembered");
    }

    #[tokio::test]
    async fn a_local_store_is_read_up_to_the_level_that_settles() {
        let (_dir, inner, cached) = setup().await;
        for (k, desc) in [("01/a/21/s", "serial"), ("01/a", "gtin")] {
            inner
                .put(k, record(desc), Precondition::None, "test")
                .await
                .unwrap();
        }
        let keys = ["01/a/21/x", "01/a/21/s", "01/a"];
        let settles = |r: &StoredAnchor| r.record.item_description == "serial";
        let read = cached.lookup_until(&keys, Some(&settles)).await.unwrap();
        let descriptions: Vec<Option<&str>> = read
            .records
            .iter()
            .map(|r| r.as_ref().map(|a| a.record.item_description.as_str()))
            .collect();
        assert_eq!(descriptions, [None, Some("serial")], "stops at the serial");
        assert!(
            cached.present.peek("01/a").is_none(),
            "the level above was not read"
        );
        // From the cache too: the same answer without the store.
        let again = cached.lookup_until(&keys, Some(&settles)).await.unwrap();
        assert_eq!(again.records.len(), 2);
        // Only the first level with a record may settle: when it does not, every level is read.
        let gtin_settles = |r: &StoredAnchor| r.record.item_description == "gtin";
        let all = cached
            .lookup_until(&keys, Some(&gtin_settles))
            .await
            .unwrap();
        assert_eq!(all.records.len(), 3);
        assert!(cached.present.peek("01/a").is_some());
    }

    #[tokio::test]
    async fn entries_expire_after_their_lifetime() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let short = CacheSettings {
            negative_ttl_ms: 50,
            ..settings()
        };
        let cached = CachedStore::wrap(inner.clone(), inner.as_ref(), &short);
        assert!(cached.lookup_until(&["01/a"], None).await.unwrap().records[0].is_none());
        inner
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        assert!(
            cached.lookup_until(&["01/a"], None).await.unwrap().records[0].is_none(),
            "absence cached"
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(
            cached.lookup_until(&["01/a"], None).await.unwrap().records[0].is_some(),
            "an expired absence is read again"
        );
    }

    #[tokio::test]
    async fn local_writes_invalidate_at_once() {
        let (_dir, _other, cached) = setup().await;
        cached
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        assert!(cached.lookup_until(&["01/a"], None).await.unwrap().records[0].is_some());
        cached
            .delete("01/a", Precondition::None, "test")
            .await
            .unwrap();
        assert!(cached.lookup_until(&["01/a"], None).await.unwrap().records[0].is_none());
    }

    #[tokio::test]
    async fn without_the_feed_the_cache_is_bypassed() {
        let (_dir, other, cached) = setup().await;
        other
            .put("01/a", record("v1"), Precondition::None, "test")
            .await
            .unwrap();
        cached.lookup_until(&["01/a"], None).await.unwrap();
        cached.disconnected();
        other
            .put("01/a", record("v2"), Precondition::None, "test")
            .await
            .unwrap();
        let read = cached.lookup_until(&["01/a"], None).await.unwrap();
        assert_eq!(
            read.records[0].as_ref().unwrap().record.item_description,
            "v2"
        );
        cached.connected();
        let read = cached.lookup_until(&["01/a"], None).await.unwrap();
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
        cached.lookup_until(&["01/a"], None).await.unwrap();
        other
            .put("01/a", record("v2"), Precondition::None, "test")
            .await
            .unwrap();
        cached.disconnected();
        cached.connected(); // the v2 event was missed while disconnected
        let read = cached.lookup_until(&["01/a"], None).await.unwrap();
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
        cached.lookup_until(&["01/b"], None).await.unwrap(); // now known absent
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

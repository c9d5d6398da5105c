//! The link registry, keyed by canonical identifier paths: narrow interfaces for its parts (`AnchorStore`,
//! `AuditStore`, `DocumentStore`, `Coordination`), bundled as a `Registry`, and the backends that implement them all.

pub mod audit;
pub mod cache;
pub mod embedded;
pub mod feed;
pub mod format;
pub mod patterns;
pub mod record;
pub mod redis;
pub mod retention;
pub mod sessions;
pub mod verdicts;

pub use audit::{AuditEntry, AuditQuery, Operation};
pub use record::{AnchorRecord, Link, StoredAnchor};
pub use sessions::SessionStore;
pub use verdicts::VerdictStore;

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("precondition failed ({})", match current {
        Some(v) => format!("the anchor is at version {v}"),
        None => "the anchor does not exist".to_string(),
    })]
    PreconditionFailed { current: Option<u64> },
    #[error("the link store is unavailable: {0}")]
    Unavailable(String),
    /// The store stopped answering after a write was sent: it may or may not have been applied.
    #[error("the link store did not confirm the write: {0}")]
    Uncertain(String),
    #[error("record {key}: {source}")]
    Decode {
        key: String,
        source: record::DecodeError,
    },
}

/// Optimistic-concurrency condition on a write, from `If-Match` / `If-None-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-Match: "3", "4"`: the current version must be one of these (empty: nothing matches).
    Version(Vec<u64>),
    /// `If-Match: *`: the anchor must exist.
    Exists,
    /// `If-None-Match: *`: the anchor must not exist.
    Absent,
}

impl Precondition {
    fn check(self, current: Option<u64>) -> Result<(), StoreError> {
        let ok = match self {
            Precondition::None => true,
            Precondition::Version(list) => current.is_some_and(|c| list.contains(&c)),
            Precondition::Exists => current.is_some(),
            Precondition::Absent => current.is_none(),
        };
        if ok {
            Ok(())
        } else {
            Err(StoreError::PreconditionFailed { current })
        }
    }
}

/// Receives every audit entry during an audit export.
pub type AuditSink<'s> = dyn FnMut(AuditEntry) -> Result<(), StoreError> + Send + 's;

/// What one step of an audit trim did (`AuditStore::trim_audit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrimStep {
    /// Entries removed.
    pub removed: u64,
    /// Where the next step goes on; `None` when this step finished a pass over the whole trail.
    pub resume: Option<String>,
}

/// Receives every anchor during an export: (canonical path, record).
pub type AnchorSink<'s> =
    dyn for<'a> FnMut(&'a str, &'a StoredAnchor) -> Result<(), StoreError> + Send + 's;

/// Records for a resolution, and whether they may be out of date (served from a cache while the shared store
/// cannot be reached).
#[derive(Clone, Debug)]
pub struct Lookup {
    /// One entry per level read, in the order of the keys asked for; a lookup that stopped early is shorter.
    pub records: Vec<Option<Arc<StoredAnchor>>>,
    pub stale: bool,
    /// Every level is known (present or known absent). A stale lookup may have gaps: an absent level there is
    /// unknown, not "nothing registered".
    pub complete: bool,
}

/// Whether a record, as the most specific level that has one, decides a resolution alone (see `AnchorStore::lookup_until`).
pub type Settles<'a> = &'a (dyn Fn(&StoredAnchor) -> bool + Sync);

/// Takes the records of a read level by level (see `AnchorStore::get_until`); `true` when it needs no more.
pub type Take<'a> = dyn FnMut(Option<Arc<StoredAnchor>>) -> bool + Send + 'a;

/// Receives a store's invalidation events (a cache in front of a shared store).
pub trait InvalidationSink: Send + Sync {
    /// Another writer changed `key` (a canonical path).
    fn invalidate(&self, key: &str);
    /// The invalidation feed is (re)connected: anything cached before may have missed events.
    fn connected(&self);
    /// The invalidation feed is lost: cached records can no longer be trusted to be current.
    fn disconnected(&self);
}

/// How a sink is told which anchor keys to forget, as a callback set by the store's listener.
pub type Sink = Arc<dyn InvalidationSink>;

/// Entries and (estimated) bytes held by a replica's cache.
#[derive(Clone, Copy, Debug)]
pub struct CacheStats {
    pub entries: u64,
    pub bytes: u64,
}

/// One write of `AnchorStore::put_each`: `record` stored at `key` if `precondition` holds there.
#[derive(Clone, Debug)]
pub struct PutEach {
    pub key: String,
    pub record: AnchorRecord,
    pub precondition: Precondition,
}

/// Which anchors a listing takes (`AnchorStore::list`): canonical paths that start with `prefix`, after `after`
/// (exclusive), that `keep` accepts (the caller's scopes), at most `limit`, in canonical path order.
pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub after: Option<&'a str>,
    pub limit: usize,
    pub keep: &'a (dyn Fn(&str) -> bool + Sync),
}

/// A page of anchors, in canonical path order.
pub type Page = Vec<(String, Arc<StoredAnchor>)>;

#[derive(Clone, Debug)]
pub struct PutOutcome {
    pub stored: Arc<StoredAnchor>,
    pub created: bool,
}

/// The anchors: the records resolution reads and the management API writes. The record cache (`cache::CachedStore`)
/// is one of these, in front of a store's own.
#[async_trait::async_trait]
pub trait AnchorStore: Send + Sync + 'static {
    /// Fetches several anchors in one round trip, in the order of `keys`.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError>;

    /// One anchor: `get_many` of one key (management reads, which must see the store, not a cache).
    async fn get(&self, key: &str) -> Result<Option<Arc<StoredAnchor>>, StoreError> {
        Ok(self.get_many(&[key]).await?.pop().flatten())
    }

    /// Fetches several anchors in one round trip, as `get_many`, and hands them to `take` in the order of `keys` until
    /// it says it needs no more. A store that fetches records encoded decodes no further than that.
    async fn get_until(&self, keys: &[&str], take: &mut Take<'_>) -> Result<(), StoreError> {
        for record in self.get_many(keys).await? {
            if take(record) {
                break;
            }
        }
        Ok(())
    }

    /// The read of a resolution: `keys` are the levels of an identifier, most specific first. A cached store may
    /// answer from memory, and say when that is stale. It may also stop early: when the first level that has a
    /// record `settles` the answer, the levels above it are not needed, and `records` may end there. `None`: every
    /// level is needed. A store without a cache reads every level, current and complete.
    async fn lookup_until(
        &self,
        keys: &[&str],
        _settles: Option<Settles<'_>>,
    ) -> Result<Lookup, StoreError> {
        Ok(Lookup {
            records: self.get_many(keys).await?,
            stale: false,
            complete: true,
        })
    }

    /// Reads cost no round trip (a store in this process): a resolution is read level by level and stops at the
    /// level that settles it, rather than fetching every level at once. No default: a store must say which it is.
    fn local_reads(&self) -> bool;

    /// Size of an in-process cache in front of the store, if there is one (`/metrics`).
    fn cache_stats(&self) -> Option<CacheStats> {
        None
    }

    // Every write names `who` made it (a credential) and appends an audit entry in the same atomic step.

    /// Creates or replaces one anchor atomically, bumping its version. Durable once it returns `Ok`.
    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError>;

    /// Removes one anchor, keeping a copy for `restore` (a soft delete), audited as `delete`. `precondition` is checked
    /// against the anchor. `Ok(false)` when it did not exist (nothing is written then, nor audited).
    async fn delete(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError>;

    /// Removes one anchor for good (`?hard=true`): the live record, if any, and the copy a soft delete kept, in one
    /// atomic step, so a concurrent `restore` either comes first (and its record is removed too) or finds nothing.
    /// `precondition` is checked against the live anchor, as for `delete`. Audited as `delete` (a live record was
    /// removed), then `purge`. `Ok(false)` when there was neither (nothing is written then, nor audited).
    async fn delete_hard(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError>;

    /// Brings back the anchor deleted last at `key` (deletes keep a copy), as a new version. `Ok(None)`: nothing to
    /// restore; `PreconditionFailed`: an anchor exists there now.
    async fn restore(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError>;

    /// Upserts many already-validated anchors (bulk import), each with an `import` audit entry. The records come
    /// encoded (`format::payload`): an import encodes on every core, and its one writer only stores.
    async fn put_batch(
        &self,
        batch: Vec<(String, format::Payload)>,
        who: &str,
    ) -> Result<(), StoreError>;

    /// Writes several anchors (distinct keys), each as `put` would: on its own condition, with its own version and
    /// audit entry, all or nothing per entry. A store may make them durable together (the embedded store commits them
    /// in one transaction), which is what makes a bulk write over HTTP fast. `Err` only when nothing was written.
    async fn put_each(
        &self,
        writes: Vec<PutEach>,
        who: &str,
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let puts = writes
            .iter()
            .map(|w| self.put(&w.key, w.record.clone(), w.precondition.clone(), who));
        Ok(futures_util::future::join_all(puts).await)
    }

    /// A page of anchors in canonical path order (a listing, `idr export --prefix`). Anchors that exist from the
    /// first page to the last are each listed once, whatever is written meanwhile: a page starts strictly after the
    /// last path of the one before.
    async fn list(&self, query: &ListQuery<'_>) -> Result<Page, StoreError>;

    /// Calls `sink` for every anchor (export).
    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError>;

    async fn is_empty(&self) -> Result<bool, StoreError>;

    // Pattern registrations are records stored at `patterns::stored_path` (written with `put`/`delete` like
    // anchors); these two read them as patterns.

    /// The longest pattern of `key` (`8004`) that `value` (its canonical, percent-encoded form) starts with: its
    /// pattern path (`8004/9520123`) and record. By default one `get_many` of every candidate prefix; the record
    /// cache answers from its in-memory index instead, so a scan pays no round trip for it.
    async fn find_pattern(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<(String, Arc<StoredAnchor>)>, StoreError> {
        let candidates = patterns::candidates(key, value);
        let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let records = self.get_many(&refs).await?;
        Ok(candidates
            .iter()
            .zip(records)
            .find_map(|(path, record)| Some((patterns::pattern_of(path)?.to_string(), record?))))
    }

    /// Every pattern registration, as `(stored path, record)`. By default a walk over every anchor; the backends
    /// read only the pattern paths.
    async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
        let mut found = Vec::new();
        self.for_each(&mut |path, record| {
            if patterns::pattern_of(path).is_some() {
                found.push((path.to_string(), Arc::new(record.clone())));
            }
            Ok(())
        })
        .await?;
        Ok(found)
    }
}

/// The audit trail the anchor writes append to (in the same atomic step as the write).
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Audit entries of one identifier and the identifiers below it, oldest first (at most `query.limit`).
    async fn audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError>;

    /// Removes audit entries written before `before_ms` (unix milliseconds), looking at no more than about `budget`
    /// entries, from where the previous step stopped (`resume`; `None` starts a pass). Entries after the removed
    /// ones keep their cursors.
    async fn trim_audit(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<TrimStep, StoreError>;

    /// Calls `sink` with every audit entry of every identifier (`idr audit export`), each partition oldest first.
    async fn export_audit(&self, sink: &mut AuditSink<'_>) -> Result<(), StoreError>;
}

/// Small named documents kept beside the anchors, one method pair per kind. Each `put_…` replaces the document of
/// the same name and is durable once it returns `Ok`.
#[async_trait::async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Stores an identifier scheme registered at run time (its definition document), replacing one of the same
    /// namespace.
    async fn put_scheme(&self, namespace: &str, definition: &str) -> Result<(), StoreError>;

    /// Every scheme registered at run time, as `(namespace, definition)`.
    async fn schemes(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Stores an API key record (`idr keys`), replacing one of the same name.
    async fn put_api_key(&self, name: &str, record: &str) -> Result<(), StoreError>;

    /// Every stored API key record, as `(name, record)`.
    async fn api_keys(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Stores a link-type vocabulary registered at run time (its JSON), replacing one of the same prefix, and tells
    /// the other replicas (a store shared between them publishes [`LINK_TYPES_CHANGED`] on its invalidation feed).
    async fn put_link_types(&self, prefix: &str, definition: &str) -> Result<(), StoreError>;

    /// Every link-type vocabulary registered at run time, as `(prefix, definition)`.
    async fn link_types(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// Removes a run-time link-type vocabulary (and tells the other replicas); `false` when there was none.
    async fn delete_link_types(&self, prefix: &str) -> Result<bool, StoreError>;
}

/// What a shared store publishes on its invalidation feed when a run-time link-type vocabulary changed. No canonical
/// path starts with `:`, so a record cache that hears it forgets nothing it holds.
pub const LINK_TYPES_CHANGED: &str = ":linktypes";

/// What replicas sharing a store agree on through it: the first start, one-time values, whether the store answers,
/// and the feed of other writers' changes. No defaults: each is a decision a store must make.
#[async_trait::async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// Marks the store as initialised. `true` only for the first caller ever (so demo data loads once, not
    /// whenever the store happens to be empty).
    async fn claim_first_start(&self) -> Result<bool, StoreError>;

    /// Records a one-time value (a signed request's `jti`, hashed) for `ttl`. `Ok(true)` for the first claim;
    /// `Ok(false)` while an earlier claim is remembered, on any replica sharing the store. A store that forgot it
    /// would silently accept replays.
    async fn claim_nonce(&self, nonce: &str, ttl: std::time::Duration) -> Result<bool, StoreError>;

    /// Whether the store can serve reads and writes now (`/readyz`).
    async fn ready(&self) -> Result<(), StoreError>;

    /// Starts delivering other writers' changes to `sink`, for stores shared between replicas. Returns `false`
    /// when the store has no other writers to hear from. A shared store that said `false` would leave a cache in
    /// front of it serving other replicas' old records.
    fn subscribe(&self, sink: Sink) -> bool;
}

/// The parts of one registry, as handles: one backend (embedded or Redis) implements them all; a server puts the
/// record cache in front of its anchors (`cached`).
#[derive(Clone)]
pub struct Registry {
    pub anchors: Arc<dyn AnchorStore>,
    pub audit: Arc<dyn AuditStore>,
    pub documents: Arc<dyn DocumentStore>,
    pub coordination: Arc<dyn Coordination>,
    /// The verdicts of verified links (`crate::verification`).
    pub verdicts: Arc<dyn VerdictStore>,
    /// Console sessions (`crate::http::console`).
    pub sessions: Arc<dyn SessionStore>,
}

impl Registry {
    /// Every part served by one backend.
    pub fn of<S>(store: Arc<S>) -> Registry
    where
        S: AnchorStore + AuditStore + DocumentStore + Coordination + VerdictStore + SessionStore,
    {
        Registry {
            anchors: store.clone(),
            audit: store.clone(),
            documents: store.clone(),
            verdicts: store.clone(),
            sessions: store.clone(),
            coordination: store,
        }
    }

    /// The same registry with the record cache in front of its anchors, fed the coordination's invalidations; its
    /// coordination shares that one feed subscription with later listeners.
    pub fn cached(self, settings: &crate::config::CacheSettings) -> Registry {
        // One feed subscription for the cache and any later listener (`Coordination::subscribe` on the result).
        let feed: Arc<dyn Coordination> = Arc::new(feed::SharedFeed::new(self.coordination));
        let anchors = cache::CachedStore::wrap(self.anchors, feed.as_ref(), settings);
        Registry {
            anchors,
            coordination: feed,
            ..self
        }
    }
}

//! The link registry: a `LinkStore` trait keyed by canonical identifier paths, and its implementations.

pub mod embedded;
pub mod record;

pub use record::{AnchorRecord, Link, StoredAnchor};

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("precondition failed (current version: {current:?})")]
    PreconditionFailed { current: Option<u64> },
    #[error("the link store is unavailable: {0}")]
    Unavailable(String),
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

#[derive(Clone, Debug)]
pub struct PutOutcome {
    pub stored: Arc<StoredAnchor>,
    pub created: bool,
}

#[async_trait::async_trait]
pub trait LinkStore: Send + Sync + 'static {
    /// Fetches several anchors in one round trip, in the order of `keys`.
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError>;

    /// Creates or replaces one anchor atomically, bumping its version. Durable once it returns `Ok`.
    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
    ) -> Result<PutOutcome, StoreError>;

    /// Removes one anchor. `Ok(false)` when it did not exist.
    async fn delete(&self, key: &str, precondition: Precondition) -> Result<bool, StoreError>;

    /// Upserts many already-validated anchors in one transaction (bulk import).
    async fn put_batch(&self, batch: Vec<(String, AnchorRecord)>) -> Result<(), StoreError>;

    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// Marks the store as initialised. `true` only for the first caller ever (so demo data loads once, not
    /// whenever the store happens to be empty).
    async fn claim_first_start(&self) -> Result<bool, StoreError>;

    /// Calls `sink` for every anchor in key order (export). Blocking.
    fn for_each(
        &self,
        sink: &mut dyn FnMut(&str, &StoredAnchor) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    async fn get(&self, key: &str) -> Result<Option<Arc<StoredAnchor>>, StoreError> {
        Ok(self.get_many(&[key]).await?.pop().flatten())
    }
}

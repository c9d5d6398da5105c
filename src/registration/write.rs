//! The retrying read-modify-write of one anchor: the one write path of the management APIs.

use super::default_link::{Fallback, settle_default};
use super::{FieldError, Submission, validate};
use crate::codelist::AccessCodes;
use crate::identifier::Identifier;
use crate::limits::Limits;
use crate::registry::{AnchorRecord, AnchorStore, Precondition, PutOutcome, StoreError};
use crate::vocabulary::Vocabulary;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the anchor is invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a read-modify-write did.
#[derive(Debug)]
pub enum Written {
    Put(PutOutcome),
    /// `build` left nothing to keep, and the anchor was removed.
    Deleted,
}

/// Where a write goes and what may be stored there.
pub struct Target<'a> {
    pub store: &'a dyn AnchorStore,
    pub vocabulary: std::sync::Arc<Vocabulary>,
    pub limits: &'a Limits,
    /// UNTP's access code lists every link is checked against.
    pub codes: &'a AccessCodes,
    pub key: &'a Identifier,
}

/// Read-modify-write of one anchor, the one write path of the management APIs. `build` makes the new record from the
/// current one (`None`: remove the anchor); it is merged over the current one (`versions::merge`: replaced targets
/// are kept as predecessor versions), its default link type is settled against the ancestors, and the record that
/// results is validated as a submission would be, whatever built it. The record is written only over the one it was
/// computed from: after a concurrent write it is rebuilt, unless the client set its own precondition (`asked`),
/// which then decides.
pub async fn write(
    target: Target<'_>,
    asked: Precondition,
    who: &str,
    build: impl Fn(Option<&AnchorRecord>) -> Result<Option<AnchorRecord>, Vec<FieldError>>,
) -> Result<Written, WriteError> {
    let Target { store, key, .. } = target;
    let levels = key.levels();
    let paths: Vec<&str> = levels.iter().map(|k| k.canonical_path()).collect();
    let mut attempts = 0;
    loop {
        let mut records = store.get_many(&paths).await?.into_iter();
        let current = records.next().flatten();
        let ancestors: Vec<_> = records.collect();
        let precondition = match (&asked, &current) {
            (Precondition::None, Some(c)) => Precondition::Version(vec![c.version]),
            (Precondition::None, None) => Precondition::Absent,
            (asked, _) => asked.clone(),
        };
        let previous = current.as_ref().map(|c| &c.record);
        let result = match build(previous).map_err(WriteError::Invalid)? {
            Some(record) => {
                let above: Vec<Option<&AnchorRecord>> = ancestors
                    .iter()
                    .map(|a| a.as_ref().map(|a| &a.record))
                    .collect();
                let record = to_store(&target, previous, record, &above)?;
                store
                    .put(key.canonical_path(), record, precondition, who)
                    .await
                    .map(Written::Put)
            }
            None => store
                .delete(key.canonical_path(), precondition, who)
                .await
                .map(|_| Written::Deleted),
        };
        match result {
            // Another writer got in between: every lost round is someone else's success, so this ends; the
            // bound and the growing, jittered pause only matter under a pathological write storm.
            Err(StoreError::PreconditionFailed { .. }) if asked == Precondition::None => {
                attempts += 1;
                if attempts > MAX_WRITE_ATTEMPTS {
                    return Err(StoreError::Unavailable(format!(
                        "{} is being written by many clients at once; try again",
                        key.canonical_path()
                    ))
                    .into());
                }
                tokio::time::sleep(backoff(attempts)).await;
            }
            result => return Ok(result?),
        }
    }
}

/// The record to store: `record` merged over `previous`, its default settled against `above`, and checked as a
/// submission is (limits, text, duplicates, link types), so no write path stores what the native API would refuse.
fn to_store(
    target: &Target<'_>,
    previous: Option<&AnchorRecord>,
    record: AnchorRecord,
    above: &[Option<&AnchorRecord>],
) -> Result<AnchorRecord, WriteError> {
    let mut record = crate::versions::merge(previous, record, target.limits, &target.vocabulary);
    settle_default(&mut record, above, Fallback::FirstLink)
        .map_err(|e| WriteError::Invalid(vec![e]))?;
    validate(
        Submission::of(&record),
        &target.vocabulary,
        target.key.scheme(),
        target.limits,
        target.codes,
    )
    .map(|v| v.record)
    .map_err(WriteError::Invalid)
}

/// Rounds an unconditional write may lose to concurrent writers before it answers 503.
const MAX_WRITE_ATTEMPTS: u32 = 200;

/// Up to `attempts` ms, jittered so that racing writers spread out.
fn backoff(attempts: u32) -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let cap_us = u64::from(attempts.min(20)) * 1000;
    std::time::Duration::from_micros(u64::from(nanos) % cap_us.max(1))
}

//! The retrying read-modify-write of one anchor: the one write path of the management APIs.

use super::default_link::{Fallback, settle_default};
use super::patch::Patch;
use super::{FieldError, Submission, validate};
use crate::codelist::AccessCodes;
use crate::identifier::Identifier;
use crate::limits::Limits;
use crate::registry::{
    AnchorRecord, AnchorStore, Precondition, PutEach, PutOutcome, StoreError, StoredAnchor,
};
use crate::vocabulary::Vocabulary;
use std::collections::HashMap;
use std::sync::Arc;

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
    /// `write_changed` only: the record to store was the one stored, and nothing was written (no new version, no
    /// audit entry).
    Unchanged(Arc<StoredAnchor>),
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
    write_with(target, asked, who, build, false).await
}

/// `write`, except that a record that would be stored exactly as it is stored now (after the merge, the default's
/// settling and validation) is not written again: `Written::Unchanged`, when the precondition holds. A form saved
/// unchanged (the console) makes no new version.
pub async fn write_changed(
    target: Target<'_>,
    asked: Precondition,
    who: &str,
    build: impl Fn(Option<&AnchorRecord>) -> Result<Option<AnchorRecord>, Vec<FieldError>>,
) -> Result<Written, WriteError> {
    write_with(target, asked, who, build, true).await
}

async fn write_with(
    target: Target<'_>,
    asked: Precondition,
    who: &str,
    build: impl Fn(Option<&AnchorRecord>) -> Result<Option<AnchorRecord>, Vec<FieldError>>,
    keep_same: bool,
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
                if keep_same
                    && let Some(current) = current
                        .as_ref()
                        .filter(|c| c.record == record && holds(&precondition, c.version))
                {
                    return Ok(Written::Unchanged(current.clone()));
                }
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

/// How `write_each` makes each record from the current one and the one submitted (an owner's or a contributor's
/// rules).
pub type Build =
    dyn Fn(Option<&AnchorRecord>, AnchorRecord) -> Result<AnchorRecord, Vec<FieldError>> + Sync;

/// One anchor of `write_each`: where, and the record submitted for it.
pub struct Each {
    pub key: Identifier,
    pub record: AnchorRecord,
    /// The submission names only some fields: it is applied over the stored record the write reads (`Patch::apply`)
    /// before `build`. `None`: the record is the whole anchor.
    pub patch: Option<Patch>,
}

impl Each {
    /// The record submitted for this anchor over `previous`, the record the write read.
    fn submitted(&self, previous: Option<&AnchorRecord>, vocabulary: &Vocabulary) -> AnchorRecord {
        match &self.patch {
            Some(patch) => patch.apply(previous, self.record.clone(), vocabulary),
            None => self.record.clone(),
        }
    }
}

/// `write` of several anchors at once (a bulk write), each exactly as its own unconditional `write` would store it,
/// in order: `build` makes the record from the current one and the submitted one, which is merged, settled against
/// the ancestors (including those written earlier in `items`) and validated. The records go to the store in one
/// `put_each` (each on the condition of the version it was computed from); one that lost to a concurrent write is
/// written again through `write`. `Err` only when the store failed as a whole.
pub async fn write_each(
    store: &dyn AnchorStore,
    vocabulary: &std::sync::Arc<Vocabulary>,
    limits: &Limits,
    codes: &AccessCodes,
    items: Vec<Each>,
    who: &str,
    build: &Build,
) -> Result<Vec<Result<PutOutcome, WriteError>>, StoreError> {
    let written = write_each_with(store, vocabulary, limits, codes, items, who, build, false);
    Ok(written
        .await?
        .into_iter()
        .map(|w| match w {
            Ok(Written::Put(outcome)) => Ok(outcome),
            Ok(Written::Deleted | Written::Unchanged(_)) => {
                unreachable!("write_each always builds and writes a record")
            }
            Err(e) => Err(e),
        })
        .collect())
}

/// `write_each`, except that a record that would be stored exactly as it is stored now is not written again
/// (`Written::Unchanged`, no new version, no audit entry), as `write_changed` does for one anchor: a file uploaded
/// in the console a second time changes nothing.
pub async fn write_each_changed(
    store: &dyn AnchorStore,
    vocabulary: &std::sync::Arc<Vocabulary>,
    limits: &Limits,
    codes: &AccessCodes,
    items: Vec<Each>,
    who: &str,
    build: &Build,
) -> Result<Vec<Result<Written, WriteError>>, StoreError> {
    write_each_with(store, vocabulary, limits, codes, items, who, build, true).await
}

#[allow(clippy::too_many_arguments)]
async fn write_each_with(
    store: &dyn AnchorStore,
    vocabulary: &std::sync::Arc<Vocabulary>,
    limits: &Limits,
    codes: &AccessCodes,
    items: Vec<Each>,
    who: &str,
    build: &Build,
    keep_same: bool,
) -> Result<Vec<Result<Written, WriteError>>, StoreError> {
    let mut outcomes = Vec::with_capacity(items.len());
    let mut run: Vec<Each> = Vec::new();
    for item in items {
        // A second write of one identifier must see the first: the run so far goes to the store first.
        if run
            .iter()
            .any(|e| e.key.canonical_path() == item.key.canonical_path())
        {
            let written = write_run(
                store,
                vocabulary,
                limits,
                codes,
                std::mem::take(&mut run),
                who,
                build,
                keep_same,
            );
            outcomes.extend(written.await?);
        }
        run.push(item);
    }
    outcomes.extend(write_run(store, vocabulary, limits, codes, run, who, build, keep_same).await?);
    Ok(outcomes)
}

/// `write_each` of anchors with distinct keys.
#[allow(clippy::too_many_arguments)]
async fn write_run(
    store: &dyn AnchorStore,
    vocabulary: &std::sync::Arc<Vocabulary>,
    limits: &Limits,
    codes: &AccessCodes,
    items: Vec<Each>,
    who: &str,
    build: &Build,
    keep_same: bool,
) -> Result<Vec<Result<Written, WriteError>>, StoreError> {
    let levels: Vec<Vec<Identifier>> = items.iter().map(|e| e.key.levels()).collect();
    let mut paths: Vec<&str> = levels
        .iter()
        .flatten()
        .map(|k| k.canonical_path())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let stored: HashMap<&str, Option<Arc<StoredAnchor>>> = paths
        .iter()
        .copied()
        .zip(store.get_many(&paths).await?)
        .collect();
    // Records this run writes, which later items' defaults settle against as they would after those writes.
    let mut written: HashMap<&str, AnchorRecord> = HashMap::new();
    let mut outcomes: Vec<Option<Result<Written, WriteError>>> = Vec::new();
    let mut writes = Vec::new();
    let mut submitted = Vec::new();
    for (i, (item, levels)) in items.iter().zip(&levels).enumerate() {
        if i % 64 == 63 {
            // Computing records takes a while for a large chunk: scans on this worker go first meanwhile.
            tokio::task::yield_now().await;
        }
        let path = item.key.canonical_path();
        let current = stored.get(path).cloned().flatten();
        let previous = current.as_ref().map(|c| &c.record);
        let above: Vec<Option<&AnchorRecord>> = levels[1..]
            .iter()
            .map(|k| {
                let p = k.canonical_path();
                written
                    .get(p)
                    .or_else(|| stored.get(p)?.as_ref().map(|s| &s.record))
            })
            .collect();
        let target = Target {
            store,
            vocabulary: vocabulary.clone(),
            limits,
            codes,
            key: &item.key,
        };
        let record = build(previous, item.submitted(previous, vocabulary))
            .map_err(WriteError::Invalid)
            .and_then(|record| to_store(&target, previous, record, &above));
        match record {
            Ok(record) if keep_same && current.as_ref().is_some_and(|c| c.record == record) => {
                let current = current.clone().expect("checked above");
                outcomes.push(Some(Ok(Written::Unchanged(current))));
                written.insert(path, record);
            }
            Ok(record) => {
                let precondition = match &current {
                    Some(c) => Precondition::Version(vec![c.version]),
                    None => Precondition::Absent,
                };
                writes.push(PutEach {
                    key: path.to_string(),
                    record: record.clone(),
                    precondition,
                });
                submitted.push(outcomes.len());
                outcomes.push(None);
                written.insert(path, record);
            }
            Err(e) => outcomes.push(Some(Err(e))),
        }
    }
    let results = store.put_each(writes, who).await?;
    for (index, result) in submitted.into_iter().zip(results) {
        outcomes[index] = Some(match result {
            Ok(outcome) => Ok(Written::Put(outcome)),
            Err(StoreError::PreconditionFailed { .. }) => {
                let item = &items[index];
                let target = Target {
                    store,
                    vocabulary: vocabulary.clone(),
                    limits,
                    codes,
                    key: &item.key,
                };
                let retried = write_with(
                    target,
                    Precondition::None,
                    who,
                    |previous| build(previous, item.submitted(previous, vocabulary)).map(Some),
                    keep_same,
                );
                retried.await
            }
            Err(e) => Err(e.into()),
        });
    }
    Ok(outcomes.into_iter().flatten().collect())
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

/// Whether `precondition` holds for an anchor that exists at `version`.
fn holds(precondition: &Precondition, version: u64) -> bool {
    match precondition {
        Precondition::None | Precondition::Exists => true,
        Precondition::Version(list) => list.contains(&version),
        Precondition::Absent => false,
    }
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

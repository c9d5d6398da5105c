//! The checks of one replica: the queue's worker, the recheck schedule, storing verdicts and keeping the refused
//! index in step with the store (this replica's writes, other replicas' through the invalidation feed).

use super::queue::{HostTurns, Pushed, Queue, Scope};
use super::refused::RefusedIndex;
use super::{AnchorVerdicts, Check, LinkVerdict, Status, Target, is_deferred};
use crate::config::{VerificationMode, VerificationSettings};
use crate::registry::{
    AnchorStore, Coordination, InvalidationSink, StoreError, StoredAnchor, VerdictStore, verdicts,
    verdicts::Put,
};
use crate::telemetry::names;
use crate::vocabulary::{Vocabularies, Vocabulary};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Anchors waiting at most; a write beyond it is not queued (counted in `idr_verification_queue_dropped_total`),
/// and the recheck schedule finds it later.
pub const QUEUE_CAPACITY: usize = 10_000;

/// How many times a deferred check (`is_deferred`: rate-limited, the host's turn not come in time) is queued again
/// before it is left to the recheck schedule.
pub const DEFERRED_RETRIES: u32 = 5;

/// The wait before a deferred check is queued again the first time; it doubles with each retry.
pub const DEFERRED_DELAY: Duration = Duration::from_secs(30);

/// The verdicts of one target's check as they come in, for an answer that cannot wait for all of them.
pub type Progress = Mutex<Vec<LinkVerdict>>;

/// A check of one anchor running now: what it found so far, and its outcome once done.
#[derive(Clone)]
struct Flight {
    progress: Arc<Progress>,
    done: tokio::sync::watch::Receiver<Option<Result<Option<AnchorVerdicts>, String>>>,
}

/// What the checks read and write.
#[derive(Clone)]
pub struct Parts {
    /// The anchors (management reads: the store, not a cache).
    pub anchors: Arc<dyn AnchorStore>,
    pub verdicts: Arc<dyn VerdictStore>,
    pub coordination: Arc<dyn Coordination>,
    pub vocabularies: Arc<Vocabularies>,
    pub checker: Arc<dyn Check>,
}

pub struct Engine {
    settings: VerificationSettings,
    parts: Parts,
    pub(super) queue: Arc<Queue>,
    hosts: HostTurns,
    /// Checks running at once, all hosts together.
    checks: tokio::sync::Semaphore,
    pub(super) refused: Arc<RefusedIndex>,
    /// How long a check waits for its host's turn and a permit before it is deferred.
    pub(super) turn_wait: Duration,
    /// `DEFERRED_DELAY` (shorter in tests).
    pub(super) retry_delay: Duration,
    /// Deferred checks queued again, per anchor (an entry from a deferred check until the anchor settles, is gone,
    /// or its retries are spent).
    retries: Arc<Mutex<HashMap<String, u32>>>,
    /// The on-demand checks running, per anchor (`check_within`: one at a time, shared by every caller).
    flights: Mutex<HashMap<String, Flight>>,
    /// One check per anchor at a time in this replica, whoever runs it (the worker, on demand, `idr verify`): a
    /// check that finds another running waits for it and then runs (`AnchorTurn`).
    turns: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// The right to check one anchor (`Engine::turns`); forgotten by the map when its last holder or waiter drops it.
struct AnchorTurn {
    turns: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    anchor: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for AnchorTurn {
    fn drop(&mut self) {
        self.guard.take();
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's and this one: nobody else holds or waits for it (clones are taken under the map's lock).
        if Arc::strong_count(&self.lock) == 2 {
            turns.remove(&self.anchor);
        }
    }
}

/// How many times a check reads the stored verdicts again and merges when another check stored its own between
/// its read and its write (`verdicts::Put::Changed`) before it gives up (an error: left to the schedule).
const STORE_ATTEMPTS: usize = 5;

/// The `Check` of a server that checks nothing (`verification.mode = "off"`): every target stays `pending`.
pub struct Unchecked;

#[async_trait::async_trait]
impl Check for Unchecked {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        LinkVerdict::pending(target.link_type, target.href)
    }
}

/// The credential links of `record`: those whose link type is a credential type (`Vocabulary::credential_types`),
/// each (type, href) once, in the record's order.
pub fn credential_links<'r>(
    vocabulary: &Vocabulary,
    record: &'r crate::registry::AnchorRecord,
) -> Vec<&'r crate::registry::Link> {
    let mut seen = std::collections::HashSet::new();
    record
        .links
        .iter()
        .filter(|l| vocabulary.is_credential_type(&l.link_type))
        .filter(|l| seen.insert((l.link_type.as_str(), l.href.as_str())))
        .collect()
}

impl Engine {
    pub fn new(
        settings: &VerificationSettings,
        parts: Parts,
        refused: Arc<RefusedIndex>,
    ) -> Engine {
        let bound = check_bound(settings);
        Engine {
            settings: settings.clone(),
            parts,
            queue: Arc::new(Queue::new(QUEUE_CAPACITY)),
            hosts: HostTurns::default(),
            checks: tokio::sync::Semaphore::new(settings.concurrency.max(1)),
            refused,
            turn_wait: bound,
            retry_delay: DEFERRED_DELAY,
            retries: Arc::default(),
            flights: Mutex::default(),
            turns: Arc::default(),
        }
    }

    /// Waits until no other check of `anchor` runs in this replica, and holds that until dropped.
    async fn turn(&self, anchor: &str) -> AnchorTurn {
        let mut turn = self.turn_of(anchor);
        turn.guard = Some(turn.lock.clone().lock_owned().await);
        turn
    }

    /// `anchor`'s turn if no other check of it runs now, without waiting.
    fn try_turn(&self, anchor: &str) -> Option<AnchorTurn> {
        let mut turn = self.turn_of(anchor);
        turn.guard = Some(turn.lock.clone().try_lock_owned().ok()?);
        Some(turn)
    }

    /// `anchor`'s lock, not yet taken (its entry goes from the map when the last holder drops it).
    fn turn_of(&self, anchor: &str) -> AnchorTurn {
        let lock = self
            .turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(anchor.to_string())
            .or_default()
            .clone();
        AnchorTurn {
            turns: self.turns.clone(),
            anchor: anchor.to_string(),
            lock,
            guard: None,
        }
    }

    fn on(&self) -> bool {
        self.settings.mode != VerificationMode::Off
    }

    /// Whether `record` has a link to check (`credential_links`).
    pub fn has_credential_links(&self, record: &crate::registry::AnchorRecord) -> bool {
        !credential_links(&self.parts.vocabularies.current(), record).is_empty()
    }

    /// Queues `anchor` for a check (after a write). Never waits; a full queue drops it and counts the drop.
    pub fn enqueue(&self, anchor: &str) {
        if !self.on() || crate::registry::patterns::pattern_of(anchor).is_some() {
            return;
        }
        if self.queue.push(anchor) == Pushed::Dropped {
            metrics::counter!(names::VERIFICATION_QUEUE_DROPPED).increment(1);
            tracing::debug!(
                anchor,
                "verification queue full: left to the recheck schedule"
            );
        }
    }

    /// How long one target's check may take, all its fetches included.
    pub fn bound(&self) -> Duration {
        check_bound(&self.settings)
    }

    /// Checks one target: in its host's turn, within the concurrency, bounded in time (the wait for the turn and a
    /// permit by `turn_wait`: past it the check is deferred, `is_deferred`; the check itself by `bound`).
    pub async fn check_link(&self, anchor: &str, link: &crate::registry::Link) -> LinkVerdict {
        let host = super::host::TargetHost::of(&link.href).unwrap_or_default();
        let target = Target {
            anchor,
            link_type: &link.link_type,
            href: &link.href,
            media_type: link.media_type.as_deref(),
            encryption_method: link.encryption_method.as_deref(),
        };
        let deadline = tokio::time::Instant::now() + self.turn_wait;
        let checked = self
            .hosts
            .take_until(host.as_str(), deadline, async {
                let Ok(Ok(_permit)) =
                    tokio::time::timeout_at(deadline, self.checks.acquire()).await
                else {
                    return None;
                };
                Some(
                    tokio::time::timeout(self.bound(), self.parts.checker.check(target))
                        .await
                        .ok(),
                )
            })
            .await
            .flatten();
        let mut verdict = match checked {
            Some(Some(verdict)) => verdict,
            Some(None) => LinkVerdict {
                status: Status::Unreachable,
                reason: Some(format!(
                    "the check did not finish within {} ms",
                    self.bound().as_millis()
                )),
                ..LinkVerdict::pending(&link.link_type, &link.href)
            },
            None => LinkVerdict {
                reason: Some(format!(
                    "{DEFERRED}other checks of this host (or of others) kept it waiting over {} ms; tried again later",
                    self.turn_wait.as_millis()
                )),
                ..LinkVerdict::pending(&link.link_type, &link.href)
            },
        };
        if verdict.status != Status::Pending && verdict.checked_at.is_none() {
            verdict.checked_at = Some(now());
        }
        metrics::counter!(names::VERIFICATION_VERDICTS, "status" => verdict.status.as_str())
            .increment(1);
        verdict
    }

    /// Checks the credential links of `stored` (the record at `anchor`) that `scope` includes, at once; each verdict
    /// is added to `progress` as it comes, settled over `previous` (what will be stored, so a `POST` answered before
    /// every check ends says what scans will see), and returned fresh.
    pub async fn check_record(
        &self,
        anchor: &str,
        stored: &StoredAnchor,
        previous: Option<&AnchorVerdicts>,
        (scope, progress): (&Scope, &Progress),
    ) -> AnchorVerdicts {
        let vocabulary = self.parts.vocabularies.current();
        let links = credential_links(&vocabulary, &stored.record);
        let checks = links
            .into_iter()
            .filter(|l| scope.includes(&l.link_type, &l.href))
            .map(|l| async move {
                let verdict = self.check_link(anchor, l).await;
                let before = previous.and_then(|p| p.verdict(&verdict.link_type, &verdict.href));
                progress
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(settle(verdict.clone(), before));
                verdict
            });
        AnchorVerdicts {
            version: stored.version,
            links: futures_util::future::join_all(checks).await,
        }
    }

    /// Checks `anchor`'s current record and stores the verdicts (unless the record moved on meanwhile): what was
    /// stored, `None` when there is no anchor.
    pub async fn check_anchor(&self, anchor: &str) -> Result<Option<AnchorVerdicts>, StoreError> {
        Ok(self
            .check_scoped(anchor, &Scope::All, &Progress::default())
            .await?
            .map(|c| c.verdicts))
    }

    /// `check_anchor`, saying which verdicts come from this check and which were kept (`idr verify`).
    pub async fn check_anchor_marked(&self, anchor: &str) -> Result<Option<Checked>, StoreError> {
        self.check_scoped(anchor, &Scope::All, &Progress::default())
            .await
    }

    /// Checks the links of `anchor` in `scope`, each verdict added to `progress` as it comes, and stores the
    /// verdicts. A link whose check was deferred is queued again later, alone (`DEFERRED_RETRIES`); an anchor that
    /// is gone, settled (no link deferred) or not stored (an error: left to the schedule) is forgotten by the
    /// retries.
    async fn check_scoped(
        &self,
        anchor: &str,
        scope: &Scope,
        progress: &Progress,
    ) -> Result<Option<Checked>, StoreError> {
        let turn = self.turn(anchor).await;
        self.check_in_turn(turn, anchor, scope, progress).await
    }

    /// `check_scoped` with the anchor's turn already held.
    async fn check_in_turn(
        &self,
        turn: AnchorTurn,
        anchor: &str,
        scope: &Scope,
        progress: &Progress,
    ) -> Result<Option<Checked>, StoreError> {
        let outcome = self.check_and_store(anchor, scope, progress).await;
        drop(turn);
        let deferred = match &outcome {
            Ok(Some(checked)) => checked.deferred.clone(),
            _ => BTreeSet::new(),
        };
        self.retry_if(anchor, deferred);
        outcome
    }

    /// What `check_scoped` does but the retries and the turn. A fresh verdict that settles nothing keeps the stored
    /// one (`settle`), and a link out of `scope` keeps its stored verdict (or is `pending`). A record with no
    /// credential links and no stored verdicts, and a scoped check whose scope matches no link of the record, store
    /// (and announce) nothing. The write is conditional on the stored verdicts being those read at the start
    /// (`VerdictStore::put_verdicts_over`): when another check (another replica's, or `idr verify`) stored its own
    /// meanwhile, they are read again and this check's verdicts merged over them.
    async fn check_and_store(
        &self,
        anchor: &str,
        scope: &Scope,
        progress: &Progress,
    ) -> Result<Option<Checked>, StoreError> {
        let Some(stored) = self.parts.anchors.get(anchor).await? else {
            return Ok(None);
        };
        let (mut revision, mut previous) = self.read_revised(anchor).await?;
        let fresh = self
            .check_record(anchor, &stored, previous.as_ref(), (scope, progress))
            .await;
        let vocabulary = self.parts.vocabularies.current();
        let links = credential_links(&vocabulary, &stored.record);
        for _ in 0..STORE_ATTEMPTS {
            let checked = merge(&links, &fresh, previous.as_ref());
            let nothing = checked.verdicts.links.is_empty() && previous.is_none();
            if nothing || (matches!(scope, Scope::Links(_)) && fresh.links.is_empty()) {
                return Ok(Some(checked));
            }
            match self.store_over(anchor, &checked.verdicts, revision).await? {
                Put::Written | Put::Moved => return Ok(Some(checked)),
                Put::Changed => (revision, previous) = self.read_revised(anchor).await?,
            }
        }
        Err(StoreError::Unavailable(format!(
            "the verdicts of {anchor} changed under this check {STORE_ATTEMPTS} times in a row"
        )))
    }

    /// The stored verdicts of `anchor` with their revision (`VerdictStore::revised`).
    async fn read_revised(
        &self,
        anchor: &str,
    ) -> Result<(u64, Option<AnchorVerdicts>), StoreError> {
        let read = self.parts.verdicts.revised(anchor).await?;
        Ok((read.revision, parse(anchor, read.json.as_deref())))
    }

    /// Stores `verdicts` when the stored ones are still at `revision` and the record at their version
    /// (`VerdictStore::put_verdicts_over`), and follows the store in the refused index.
    async fn store_over(
        &self,
        anchor: &str,
        verdicts: &AnchorVerdicts,
        revision: u64,
    ) -> Result<Put, StoreError> {
        let json =
            serde_json::to_string(verdicts).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let put = self
            .parts
            .verdicts
            .put_verdicts_over(anchor, verdicts.version, Some(revision), &json)
            .await?;
        match put {
            Put::Written => self.refused.set(anchor, Some(verdicts)),
            Put::Moved => self.reload_anchor(anchor).await,
            Put::Changed => {}
        }
        Ok(put)
    }

    /// Queues `anchor` again after a delay, for the `deferred` links only, when there are any (at most
    /// `DEFERRED_RETRIES` times in a row, the delay doubling); forgets its retries when there are none, when they are
    /// spent, and when the queue has no room for the retry.
    fn retry_if(&self, anchor: &str, deferred: BTreeSet<(String, String)>) {
        let mut retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        if deferred.is_empty() {
            retries.remove(anchor);
            return;
        }
        let tried = retries.entry(anchor.to_string()).or_default();
        *tried += 1;
        if *tried > DEFERRED_RETRIES {
            retries.remove(anchor);
            tracing::info!(
                anchor,
                "verification deferred {DEFERRED_RETRIES} times: left to the recheck schedule"
            );
            return;
        }
        let delay = self.retry_delay.saturating_mul(1 << (*tried - 1));
        let (queue, retries, anchor) =
            (self.queue.clone(), self.retries.clone(), anchor.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if queue.push_scoped(&anchor, Scope::Links(deferred)) == Pushed::Dropped {
                metrics::counter!(names::VERIFICATION_QUEUE_DROPPED).increment(1);
                retries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&anchor);
            }
        });
    }

    /// Anchors with a deferred check waiting to be tried again.
    pub fn retrying(&self) -> usize {
        self.retries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Checks `anchor` now, or joins the check of it already running (one at a time per anchor, whoever asks), and
    /// answers within `within`: the verdicts, or, when the check takes longer (it goes on, and stores what it
    /// finds), those found so far with the rest `pending`. `None` when there is no anchor.
    pub async fn check_within(
        self: &Arc<Self>,
        anchor: &str,
        within: Duration,
    ) -> Result<Option<AnchorVerdicts>, StoreError> {
        let flight = self.flight(anchor);
        let mut done = flight.done.clone();
        if let Ok(Ok(outcome)) = tokio::time::timeout(within, done.wait_for(Option::is_some)).await
        {
            return match outcome.as_ref() {
                Some(Ok(verdicts)) => Ok(verdicts.clone()),
                Some(Err(e)) => Err(StoreError::Unavailable(e.clone())),
                None => Ok(None),
            };
        }
        let Some(stored) = self.parts.anchors.get(anchor).await? else {
            return Ok(None);
        };
        // What this flight found so far, over what is stored for this version (a check that ran before, e.g. the
        // write's own, which this one may have waited behind).
        let mut links = flight
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let (_, Some(kept)) = self.read_revised(anchor).await? {
            if kept.version == stored.version {
                let earlier = kept
                    .links
                    .into_iter()
                    .filter(|k| !links.iter().any(|l| l.is_for(&k.link_type, &k.href)));
                links.extend(earlier.collect::<Vec<_>>());
            }
        }
        let found = AnchorVerdicts {
            version: stored.version,
            links,
        };
        let vocabulary = self.parts.vocabularies.current();
        Ok(Some(super::report_of(&vocabulary, &stored, Some(&found))))
    }

    /// The check of `anchor` running now, or a new one.
    fn flight(self: &Arc<Self>, anchor: &str) -> Flight {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        // A flight whose task is gone without an outcome (it panicked) is replaced.
        if let Some(flight) = flights.get(anchor) {
            if flight.done.has_changed().is_ok() {
                return flight.clone();
            }
        }
        let (done, watch) = tokio::sync::watch::channel(None);
        let flight = Flight {
            progress: Arc::default(),
            done: watch,
        };
        flights.insert(anchor.to_string(), flight.clone());
        let (engine, anchor, progress) =
            (self.clone(), anchor.to_string(), flight.progress.clone());
        tokio::spawn(async move {
            let outcome = engine
                .check_scoped(&anchor, &Scope::All, &progress)
                .await
                .map(|c| c.map(|c| c.verdicts));
            if let Err(e) = &outcome {
                tracing::warn!(anchor, error = %e, "verification not stored");
            }
            engine
                .flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&anchor);
            let _ = done.send(Some(outcome.map_err(|e| e.to_string())));
        });
        flight
    }

    /// Stores `verdicts` for `anchor` when they are for its record as it is now (`VerdictStore::put_verdicts`: the
    /// store compares the versions in the step that writes), and follows the store in the refused index, whatever
    /// verdicts are stored (checks use the conditional `store_over`). Verdicts for a record that moved on meanwhile
    /// are dropped: the newer record is checked by the check its write queued, or else (`idr import`, a replica with
    /// `mode = "off"`, a full queue) by the sweep.
    pub async fn store(&self, anchor: &str, verdicts: &AnchorVerdicts) -> Result<bool, StoreError> {
        let json =
            serde_json::to_string(verdicts).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let written = self
            .parts
            .verdicts
            .put_verdicts(anchor, verdicts.version, &json)
            .await?;
        if written {
            self.refused.set(anchor, Some(verdicts));
        } else {
            self.reload_anchor(anchor).await;
        }
        Ok(written)
    }

    /// The stored verdicts of `anchors`, in order.
    pub async fn read(
        &self,
        anchors: &[&str],
    ) -> Result<Vec<Option<Arc<AnchorVerdicts>>>, StoreError> {
        let stored = self.parts.verdicts.verdicts(anchors).await?;
        Ok(anchors
            .iter()
            .zip(stored)
            .map(|(anchor, json)| parse(anchor, json.as_deref()).map(Arc::new))
            .collect())
    }

    /// Re-reads the stored verdicts of `anchor` into the refused index.
    pub async fn reload_anchor(&self, anchor: &str) {
        match self.read(&[anchor]).await {
            Ok(mut v) => {
                let v = v.pop().flatten();
                self.refused.set(anchor, v.as_deref());
            }
            Err(e) => tracing::warn!(anchor, error = %e, "verdicts not re-read"),
        }
    }

    /// Reads every stored verdict into the refused index (start-up, after a gap in the feed).
    pub async fn reload_all(&self) {
        let mut all = Vec::new();
        let read = self
            .parts
            .verdicts
            .for_each_verdicts(&mut |anchor, json| {
                if let Some(v) = parse(anchor, Some(json)) {
                    if v.links.iter().any(|l| l.status.is_refused()) {
                        all.push((anchor.to_string(), v));
                    }
                }
                Ok(())
            })
            .await;
        match read {
            Ok(()) => self.refused.replace(all),
            Err(e) => tracing::warn!(error = %e, "refused verification targets not loaded"),
        }
    }

    /// The queue's worker: at most `concurrency` anchors at once (their links share the same bound).
    pub async fn run_queue(self: Arc<Self>) {
        let anchors = Arc::new(tokio::sync::Semaphore::new(
            self.settings.concurrency.max(1),
        ));
        loop {
            let (anchor, scope) = self.queue.pop_scoped().await;
            // An anchor checked now goes back on the queue once that check ends (merging with what waits there), so
            // quick writes to it take no worker slot while they wait and make one check, not one each.
            let Some(turn) = self.try_turn(&anchor) else {
                let engine = self.clone();
                tokio::spawn(async move {
                    drop(engine.turn(&anchor).await);
                    if engine.queue.push_scoped(&anchor, scope) == Pushed::Dropped {
                        metrics::counter!(names::VERIFICATION_QUEUE_DROPPED).increment(1);
                    }
                });
                continue;
            };
            let Ok(permit) = anchors.clone().acquire_owned().await else {
                return;
            };
            let engine = self.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let checked = engine
                    .check_in_turn(turn, &anchor, &scope, &Progress::default())
                    .await;
                if let Err(e) = checked {
                    tracing::warn!(anchor, error = %e, "verification not stored");
                }
            });
        }
    }

    /// Whether `anchor`'s record needs a check: a credential link without a verdict, or one older than
    /// `recheck_hours` (an `unreachable` one older than `UNREACHABLE_RECHECK_HOURS`, if that is sooner).
    pub fn due(
        &self,
        vocabulary: &Vocabulary,
        stored: &StoredAnchor,
        verdicts: Option<&AnchorVerdicts>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let max_age = chrono::Duration::hours(
            i64::try_from(self.settings.recheck_hours).unwrap_or(i64::MAX / 4),
        );
        credential_links(vocabulary, &stored.record)
            .iter()
            .any(|l| {
                let verdict = verdicts.and_then(|v| v.verdict(&l.link_type, &l.href));
                let checked = verdict
                    .and_then(|v| v.checked_at.as_deref())
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                let max_age = match verdict.map(|v| v.status) {
                    Some(Status::Unreachable) => max_age.min(unreachable_recheck()),
                    _ => max_age,
                };
                match checked {
                    None => true,
                    Some(t) => {
                        self.settings.recheck_hours > 0
                            && now - t.with_timezone(&chrono::Utc) >= max_age
                    }
                }
            })
    }

    /// Queues every anchor `due` for a check, waiting for room in the queue rather than dropping: how many. Holds
    /// the paths of the anchors with credential links, not their records, which are read again a hundred at a time.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let vocabulary = self.parts.vocabularies.current();
        let mut candidates = Vec::new();
        self.parts
            .anchors
            .for_each(&mut |path, record| {
                if crate::registry::patterns::pattern_of(path).is_none()
                    && !credential_links(&vocabulary, &record.record).is_empty()
                {
                    candidates.push(path.to_string());
                }
                Ok(())
            })
            .await?;
        let now = chrono::Utc::now();
        let mut queued = 0;
        for chunk in candidates.chunks(100) {
            let paths: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let records = self.parts.anchors.get_many(&paths).await?;
            let verdicts = self.read(&paths).await?;
            for ((path, stored), verdicts) in paths.iter().zip(records).zip(verdicts) {
                let Some(stored) = stored else { continue };
                if !self.due(&vocabulary, &stored, verdicts.as_deref(), now) {
                    continue;
                }
                while self.queue.push(path) == Pushed::Dropped {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// Every period, the replica that claims it first re-checks what is `due` (`Coordination::claim_nonce`: one
    /// replica per period). Off when `recheck_hours` is 0 (then only anchors never checked are swept, at start).
    pub async fn run_schedule(self: Arc<Self>) {
        let period = schedule_period(self.settings.recheck_hours);
        loop {
            let slot = chrono::Utc::now().timestamp().max(0) as u64 / period.as_secs();
            let claim = format!("verification-sweep:{}:{slot}", period.as_secs());
            match self.parts.coordination.claim_nonce(&claim, period).await {
                Ok(true) => match self.sweep().await {
                    Ok(n) => tracing::info!(queued = n, "verification recheck swept the store"),
                    Err(e) => {
                        tracing::warn!(error = %e, "verification recheck failed; next period")
                    }
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "verification recheck not claimed"),
            }
            let next = (slot + 1) * period.as_secs();
            let wait = next.saturating_sub(chrono::Utc::now().timestamp().max(0) as u64);
            tokio::time::sleep(Duration::from_secs(wait.max(1))).await;
        }
    }
}

/// How long one target's check may take, all its fetches included.
fn check_bound(settings: &VerificationSettings) -> Duration {
    Duration::from_millis(settings.timeout_ms.saturating_mul(3) + 1000)
}

/// How old an `unreachable` verdict may get before the schedule checks it again (a passing outage should not last
/// `recheck_hours`); the schedule runs every `schedule_period`, so that is the least it waits.
pub const UNREACHABLE_RECHECK_HOURS: i64 = 1;

fn unreachable_recheck() -> chrono::Duration {
    chrono::Duration::hours(UNREACHABLE_RECHECK_HOURS)
}

/// The start of a deferred verdict's `reason` (`is_deferred`): the checker's, one marker for both.
pub const DEFERRED: &str = super::check::DEFERRED;

/// What to store for a link, given its `fresh` verdict and the stored one (`before`, same type and href). A refusal
/// stays until a check settles it (verifies, or refuses again): a target that could not be checked this time
/// (`unreachable`, `pending`) keeps its refusing verdict, so a host cannot lift a refusal by answering 503 to the
/// resolver, nor by marking it encrypted (`Status::proves_nothing`). A deferred check (`is_deferred`) keeps whatever
/// verdict was there, or stays `pending`.
pub fn settle(fresh: LinkVerdict, before: Option<&LinkVerdict>) -> LinkVerdict {
    match before {
        Some(before) if is_deferred(&fresh) => before.clone(),
        // Never checked: `pending` (due again), saying why.
        None if is_deferred(&fresh) => LinkVerdict {
            reason: fresh.reason,
            ..LinkVerdict::pending(&fresh.link_type, &fresh.href)
        },
        Some(before) if before.status.is_refused() && fresh.status.proves_nothing() => {
            before.clone()
        }
        _ => fresh,
    }
}

/// What one check of an anchor did: the verdicts stored, and for each (in order) whether it is this check's.
#[derive(Clone, Debug)]
pub struct Checked {
    /// What is stored and enforced: this check's verdicts, settled over the stored ones (`settle`).
    pub verdicts: AnchorVerdicts,
    /// Per verdict: `None` when it is this check's; else why the stored verdict (or a carried refusal) stands.
    pub kept: Vec<Option<Kept>>,
    /// The links whose check was deferred (`is_deferred`), to be tried again.
    pub deferred: BTreeSet<(String, String)>,
}

/// Why a link's verdict is not the one its check found (`Checked::kept`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Not checked now: its check was deferred (the reason).
    NotChecked(String),
    /// Checked now, and a refusal stands over what the check found (its own earlier one, or one carried from
    /// another link of its type, `carry_refusals`): why.
    RefusalStands(String),
    /// Not in this check (a retry of the deferred links only).
    OutOfScope,
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::NotChecked(reason) => write!(f, "not checked now: {reason}"),
            Kept::RefusalStands(why) => write!(f, "checked now: {why}"),
            Kept::OutOfScope => {
                f.write_str("not checked this time (only the links whose check was deferred are)")
            }
        }
    }
}

impl Checked {
    /// Whether every link was checked now (nothing deferred, nothing left out). A refusal kept over a target that
    /// could not be fetched counts as checked: it was tried.
    pub fn complete(&self) -> bool {
        self.deferred.is_empty()
            && self
                .kept
                .iter()
                .flatten()
                .all(|why| matches!(why, Kept::RefusalStands(_)))
    }
}

/// Why the stored verdict was kept over `fresh` (`Checked::kept`).
fn kept_because(fresh: &LinkVerdict) -> Kept {
    let reason = fresh.reason.as_deref().unwrap_or("no reason given");
    if is_deferred(fresh) {
        Kept::NotChecked(reason.to_string())
    } else {
        Kept::RefusalStands(format!(
            "{} ({reason}); the earlier refusal stands until a check settles it",
            fresh.status.as_str()
        ))
    }
}

/// What one check stores over the stored verdicts (`previous`): per credential link of the record (`links`), its
/// `fresh` verdict settled over the stored one (`settle`), or, not checked now, the stored one (or `pending`); then
/// the refusals carried (`carry_refusals`).
fn merge(
    links: &[&crate::registry::Link],
    fresh: &AnchorVerdicts,
    previous: Option<&AnchorVerdicts>,
) -> Checked {
    let mut checked = Checked {
        verdicts: AnchorVerdicts {
            version: fresh.version,
            links: Vec::new(),
        },
        kept: Vec::new(),
        deferred: BTreeSet::new(),
    };
    for link in links {
        let before = previous.and_then(|p| p.verdict(&link.link_type, &link.href));
        let now = fresh
            .links
            .iter()
            .find(|v| v.is_for(&link.link_type, &link.href));
        let (verdict, kept) = match now {
            None => (
                before
                    .cloned()
                    .unwrap_or_else(|| LinkVerdict::pending(&link.link_type, &link.href)),
                Some(Kept::OutOfScope),
            ),
            Some(now) => {
                if is_deferred(now) {
                    checked
                        .deferred
                        .insert((link.link_type.clone(), link.href.clone()));
                }
                let settled = settle(now.clone(), before);
                let kept = (settled != *now || is_deferred(now)).then(|| kept_because(now));
                (settled, kept)
            }
        };
        checked.verdicts.links.push(verdict);
        checked.kept.push(kept);
    }
    carry_refusals(&mut checked, fresh, previous);
    checked
}

/// A refusal stands for its link type on the anchor, not only for its href: a link of the same type that could not
/// be checked (`unreachable`, `pending`) or is `encrypted` (which proves nothing about its content), and whose own
/// verdict was never `verified`, takes the refusal until it verifies itself. The refusals are those of this check
/// (`fresh`, settled) and, for links this check did not check (out of scope, or no longer in the record), the stored
/// ones (`previous`): a refusal this check lifted is not carried. Without it a writer who controls a refused
/// target's host could move the link to a new href (on any host name) and answer the resolver alone with 503, or
/// mark it encrypted, and `enforce` would not pass over it.
fn carry_refusals(
    checked: &mut Checked,
    fresh: &AnchorVerdicts,
    previous: Option<&AnchorVerdicts>,
) {
    let checked_now = |v: &LinkVerdict| fresh.links.iter().any(|f| f.is_for(&v.link_type, &v.href));
    let refusals: Vec<LinkVerdict> = checked
        .verdicts
        .links
        .iter()
        .filter(|v| checked_now(v))
        .chain(
            previous
                .map_or(&[][..], |p| &p.links[..])
                .iter()
                .filter(|v| !checked_now(v)),
        )
        .filter(|v| v.status.is_refused())
        .cloned()
        .collect();
    if refusals.is_empty() {
        return;
    }
    for (verdict, kept) in checked.verdicts.links.iter_mut().zip(&mut checked.kept) {
        let verified_before = previous
            .and_then(|p| p.verdict(&verdict.link_type, &verdict.href))
            .is_some_and(|b| b.status == Status::Verified);
        if verified_before || !verdict.status.proves_nothing() {
            continue;
        }
        let Some(refusal) = refusals
            .iter()
            .find(|r| r.link_type == verdict.link_type && r.href != verdict.href)
        else {
            continue;
        };
        let this_check = match &verdict.reason {
            Some(reason) => format!("{} ({reason})", verdict.status.as_str()),
            None => verdict.status.as_str().to_string(),
        };
        if kept.is_none() || matches!(kept, Some(Kept::RefusalStands(_))) {
            *kept = Some(Kept::RefusalStands(format!(
                "{this_check}; a refusal of another target of this link type stands for it"
            )));
        }
        *verdict = LinkVerdict {
            status: refusal.status,
            reason: Some(format!(
                "another target of this link type on this anchor, {}, was refused ({}); this one is refused with it \
                 until it verifies (here: {this_check})",
                refusal.href,
                refusal.reason.as_deref().unwrap_or(refusal.status.as_str()),
            )),
            issuer: None,
            credential_type: None,
            valid_until: None,
            checked_at: verdict.checked_at.clone(),
            ..verdict.clone()
        };
    }
}

/// How often a sweep runs: a quarter of `recheck_hours`, between 10 minutes and 6 hours (daily when 0).
pub fn schedule_period(recheck_hours: u64) -> Duration {
    let secs = match recheck_hours {
        0 => 24 * 3600,
        h => (h * 3600 / 4).clamp(600, 6 * 3600),
    };
    Duration::from_secs(secs)
}

fn parse(anchor: &str, json: Option<&str>) -> Option<AnchorVerdicts> {
    match serde_json::from_str(json?) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(anchor, error = %e, "stored verdicts unreadable: treated as none");
            None
        }
    }
}

/// Now, as a verdict's `checkedAt` says it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Hears other replicas' verdicts on the invalidation feed, and re-reads them all after a gap.
pub struct VerdictFeed(pub Arc<Engine>);

impl InvalidationSink for VerdictFeed {
    fn invalidate(&self, key: &str) {
        if let Some(anchor) = verdicts::changed_anchor(key) {
            let (engine, anchor) = (self.0.clone(), anchor.to_string());
            tokio::spawn(async move { engine.reload_anchor(&anchor).await });
        }
    }

    fn connected(&self) {
        let engine = self.0.clone();
        tokio::spawn(async move { engine.reload_all().await });
    }

    fn disconnected(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VerificationTrustSettings;
    use crate::registry::embedded::EmbeddedStore;
    use crate::registry::{AnchorRecord, Link, Precondition};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers `failed` for hrefs containing "bad", else `verified`, after `delay`; counts checks in flight, overall
    /// and per host.
    #[derive(Default)]
    struct Fake {
        delay: Duration,
        calls: Mutex<Vec<String>>,
        running: AtomicUsize,
        most: AtomicUsize,
        per_host: Mutex<HashMap<String, usize>>,
        most_per_host: AtomicUsize,
        /// Answers by href, over the "bad" rule: (status, reason).
        answers: Mutex<HashMap<String, (Status, Option<String>)>>,
        /// A wait before the next answer for an href, once.
        slow_once: Mutex<HashMap<String, Duration>>,
        /// "start {href}" and "end {href}", in order.
        log: Mutex<Vec<String>>,
    }

    impl Fake {
        fn answer(&self, href: &str, status: Status, reason: Option<&str>) {
            self.answers
                .lock()
                .unwrap()
                .insert(href.to_string(), (status, reason.map(str::to_string)));
        }
    }

    #[async_trait::async_trait]
    impl Check for Fake {
        async fn check(&self, target: Target<'_>) -> LinkVerdict {
            let host = url::Url::parse(target.href)
                .unwrap()
                .host_str()
                .unwrap()
                .to_string();
            self.calls.lock().unwrap().push(target.href.to_string());
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            let on_host = {
                let mut hosts = self.per_host.lock().unwrap();
                let n = hosts.entry(host.clone()).or_default();
                *n += 1;
                *n
            };
            self.most_per_host.fetch_max(on_host, Ordering::SeqCst);
            self.log
                .lock()
                .unwrap()
                .push(format!("start {}", target.href));
            let slow = self.slow_once.lock().unwrap().remove(target.href);
            tokio::time::sleep(self.delay + slow.unwrap_or_default()).await;
            self.log
                .lock()
                .unwrap()
                .push(format!("end {}", target.href));
            *self.per_host.lock().unwrap().get_mut(&host).unwrap() -= 1;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if let Some((status, reason)) = self.answers.lock().unwrap().get(target.href) {
                return LinkVerdict {
                    status: *status,
                    reason: reason.clone(),
                    ..LinkVerdict::pending(target.link_type, target.href)
                };
            }
            let status = if target.href.contains("bad") {
                Status::Failed
            } else {
                Status::Verified
            };
            LinkVerdict {
                status,
                reason: (status == Status::Failed).then(|| "about another product".into()),
                ..LinkVerdict::pending(target.link_type, target.href)
            }
        }
    }

    struct Rig {
        engine: Arc<Engine>,
        store: Arc<EmbeddedStore>,
        fake: Arc<Fake>,
        dpp: String,
        _dir: tempfile::TempDir,
    }

    fn settings(mode: VerificationMode, concurrency: usize) -> VerificationSettings {
        VerificationSettings {
            mode,
            recheck_hours: 24,
            concurrency,
            timeout_ms: 5000,
            max_credential_bytes: 1 << 20,
            data_integrity: true,
            trust: Vec::<VerificationTrustSettings>::new(),
        }
    }

    fn rig(mode: VerificationMode, concurrency: usize, delay: Duration) -> Rig {
        rig_with(mode, concurrency, delay, |_| {})
    }

    fn rig_with(
        mode: VerificationMode,
        concurrency: usize,
        delay: Duration,
        adjust: impl FnOnce(&mut Engine),
    ) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let vocabulary = Vocabulary::embedded();
        let dpp = vocabulary.lookup("untp:dpp").unwrap().uri.clone();
        let fake = Arc::new(Fake {
            delay,
            ..Fake::default()
        });
        let parts = Parts {
            anchors: store.clone(),
            verdicts: store.clone(),
            coordination: store.clone(),
            vocabularies: Arc::new(Vocabularies::new(vocabulary)),
            checker: fake.clone(),
        };
        let mut engine = Engine::new(
            &settings(mode, concurrency),
            parts,
            Arc::new(RefusedIndex::default()),
        );
        adjust(&mut engine);
        let engine = Arc::new(engine);
        Rig {
            engine,
            store,
            fake,
            dpp,
            _dir: dir,
        }
    }

    fn link(link_type: &str, href: &str) -> Link {
        serde_json::from_value(serde_json::json!({
            "linkType": link_type, "href": href, "title": "t"
        }))
        .unwrap()
    }

    impl Rig {
        async fn put(&self, anchor: &str, hrefs: &[&str]) -> u64 {
            let mut links: Vec<Link> = hrefs.iter().map(|h| link(&self.dpp, h)).collect();
            // Not a credential link type: never checked.
            links.push(link("https://gs1.org/voc/pip", "https://pip.example/x"));
            let record = AnchorRecord {
                item_description: "x".into(),
                default_link_type: None,
                links,
            };
            self.store
                .put(anchor, record, Precondition::None, "test")
                .await
                .unwrap()
                .stored
                .version
        }

        async fn stored(&self, anchor: &str) -> Option<Arc<AnchorVerdicts>> {
            self.engine.read(&[anchor]).await.unwrap().pop().flatten()
        }

        /// Runs the queue's worker until the queue is empty and no check runs.
        async fn drain(&self) {
            let worker = tokio::spawn(self.engine.clone().run_queue());
            for _ in 0..500 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if self.engine.queue.is_empty()
                    && self.fake.running.load(Ordering::SeqCst) == 0
                    && self.engine.checks.available_permits() == self.engine.settings.concurrency
                {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            worker.abort();
        }
    }

    /// Final review, finding 4: writes queued while their anchor is being checked wait without a worker slot and make
    /// one more check together, not one each.
    #[tokio::test]
    async fn writes_queued_during_a_check_of_their_anchor_make_one_more_check() {
        let rig = rig(VerificationMode::Report, 4, Duration::from_millis(300));
        let anchor = "01/09520123456788";
        rig.put(anchor, &["https://a.example/dpp"]).await;
        let worker = tokio::spawn(rig.engine.clone().run_queue());
        rig.engine.enqueue(anchor);
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..3 {
            rig.engine.enqueue(anchor);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        worker.abort();
        assert_eq!(
            rig.fake.calls.lock().unwrap().len(),
            2,
            "the first check and one for the writes during it"
        );
    }

    #[tokio::test]
    async fn a_write_queued_twice_is_checked_once_and_stored_with_its_version() {
        let rig = rig(VerificationMode::Report, 4, Duration::ZERO);
        let version = rig
            .put(
                "01/09520123456788",
                &["https://a.example/good", "https://b.example/bad"],
            )
            .await;
        rig.engine.enqueue("01/09520123456788");
        rig.engine.enqueue("01/09520123456788");
        assert_eq!(rig.engine.queue.len(), 1);
        rig.drain().await;
        assert_eq!(
            rig.fake.calls.lock().unwrap().len(),
            2,
            "two credential links, checked once each"
        );
        let stored = rig.stored("01/09520123456788").await.expect("stored");
        assert_eq!(stored.version, version);
        let status = |href: &str| stored.verdict(&rig.dpp, href).map(|v| v.status);
        assert_eq!(status("https://a.example/good"), Some(Status::Verified));
        assert_eq!(status("https://b.example/bad"), Some(Status::Failed));
        assert_eq!(status("https://pip.example/x"), None);
        assert!(stored.links.iter().all(|v| v.checked_at.is_some()));
        assert!(rig.engine.refused.contains(
            "01/09520123456788",
            &rig.dpp,
            "https://b.example/bad"
        ));
    }

    #[tokio::test]
    async fn checks_run_within_the_concurrency_and_one_at_a_time_per_host() {
        let rig = rig(VerificationMode::Report, 3, Duration::from_millis(30));
        for i in 0..6 {
            let anchor = format!("01/0952012345678{}", i);
            // Two hosts shared by every anchor, and one host of its own each.
            let own = format!("https://own{i}.example/dpp");
            rig.put(
                &anchor,
                &["https://shared.example/1", "https://other.example/2", &own],
            )
            .await;
            rig.engine.enqueue(&anchor);
        }
        rig.drain().await;
        assert_eq!(rig.fake.calls.lock().unwrap().len(), 18);
        assert!(
            rig.fake.most.load(Ordering::SeqCst) <= 3,
            "concurrency bound"
        );
        assert!(
            rig.fake.most.load(Ordering::SeqCst) >= 2,
            "checks do run at once"
        );
        assert_eq!(
            rig.fake.most_per_host.load(Ordering::SeqCst),
            1,
            "one at a time per host"
        );
        assert_eq!(rig.engine.hosts.busy(), 0);
    }

    #[tokio::test]
    async fn verdicts_of_an_older_version_never_replace_newer_ones() {
        let rig = rig(VerificationMode::Report, 2, Duration::ZERO);
        let anchor = "01/09520123456788";
        let v1 = rig.put(anchor, &["https://a.example/bad"]).await;
        let old = rig
            .engine
            .check_record(
                anchor,
                &rig.store.get(anchor).await.unwrap().unwrap(),
                None,
                (&Scope::All, &Progress::default()),
            )
            .await;
        let v2 = rig.put(anchor, &["https://a.example/good"]).await;
        assert!(v2 > v1);
        let new = rig.engine.check_anchor(anchor).await.unwrap().unwrap();
        assert_eq!(new.version, v2);
        assert!(
            !rig.engine.store(anchor, &old).await.unwrap(),
            "older verdicts refused"
        );
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.version, v2);
        assert_eq!(stored.links[0].status, Status::Verified);
        assert!(
            !rig.engine
                .refused
                .contains(anchor, &rig.dpp, "https://a.example/bad")
        );
        // The same version again is a re-check: it replaces.
        assert!(rig.engine.store(anchor, &new).await.unwrap());
    }

    /// A retry scoped to a slow link A, and a check of every link that stores B `verified` meanwhile.
    async fn a_slow_scoped_check_and_a_full_one(
        rig: &Rig,
        full_meanwhile: impl std::future::Future,
    ) {
        let anchor = "01/09520123456788";
        let (a, b) = ("https://a.example/slow", "https://b.example/dpp");
        rig.put(anchor, &[a, b]).await;
        rig.fake
            .answer(b, Status::Failed, Some("about another product"));
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(
            rig.stored(anchor).await.unwrap().links[1].status,
            Status::Failed
        );
        rig.fake.answer(b, Status::Verified, None);
        rig.fake
            .slow_once
            .lock()
            .unwrap()
            .insert(a.to_string(), Duration::from_millis(400));
        rig.fake.log.lock().unwrap().clear();
        let scoped = Scope::Links(BTreeSet::from([(rig.dpp.clone(), a.to_string())]));
        let progress = Progress::default();
        let retry = rig.engine.check_scoped(anchor, &scoped, &progress);
        let meanwhile = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            full_meanwhile.await;
        };
        let (retried, _) = tokio::join!(retry, meanwhile);
        retried.unwrap();
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.links[0].status, Status::Verified, "{stored:?}");
        assert_eq!(
            stored.links[1].status,
            Status::Verified,
            "the full check's verdict on B stands: {stored:?}"
        );
    }

    #[tokio::test]
    async fn checks_of_one_anchor_run_one_at_a_time_and_keep_each_others_verdicts() {
        let rig = rig(VerificationMode::Report, 4, Duration::ZERO);
        let engine = rig.engine.clone();
        a_slow_scoped_check_and_a_full_one(&rig, async move {
            engine
                .check_within("01/09520123456788", Duration::from_secs(5))
                .await
                .unwrap();
        })
        .await;
        let log = rig.fake.log.lock().unwrap().clone();
        assert_eq!(
            log[..2],
            ["start https://a.example/slow", "end https://a.example/slow"],
            "the full check waited for the scoped one: {log:?}"
        );
        assert_eq!(log.len(), 6, "{log:?}");
    }

    #[tokio::test]
    async fn a_check_never_writes_over_verdicts_stored_after_it_read_them() {
        // Another replica (the store written directly) stores B `verified` while this one's retry of A runs.
        let rig = rig(VerificationMode::Report, 4, Duration::ZERO);
        let store = rig.store.clone();
        let dpp = rig.dpp.clone();
        a_slow_scoped_check_and_a_full_one(&rig, async move {
            let anchor = "01/09520123456788";
            let version = store.get(anchor).await.unwrap().unwrap().version;
            let verdict = |href: &str| LinkVerdict {
                status: Status::Verified,
                checked_at: Some(now()),
                ..LinkVerdict::pending(&dpp, href)
            };
            let other = AnchorVerdicts {
                version,
                links: vec![
                    verdict("https://a.example/slow"),
                    verdict("https://b.example/dpp"),
                ],
            };
            let json = serde_json::to_string(&other).unwrap();
            assert!(store.put_verdicts(anchor, version, &json).await.unwrap());
        })
        .await;
    }

    #[tokio::test]
    async fn a_scoped_check_whose_links_are_gone_stores_nothing() {
        let rig = rig(VerificationMode::Report, 4, Duration::ZERO);
        let anchor = "01/09520123456788";
        rig.put(anchor, &["https://a.example/dpp"]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        let before = rig.store.revised(anchor).await.unwrap();
        let gone = Scope::Links(BTreeSet::from([(
            rig.dpp.clone(),
            "https://a.example/removed".to_string(),
        )]));
        rig.engine
            .check_scoped(anchor, &gone, &Progress::default())
            .await
            .unwrap();
        assert_eq!(rig.store.revised(anchor).await.unwrap(), before);
        assert_eq!(before.revision, 1);
    }

    #[tokio::test]
    async fn mode_off_queues_and_fetches_nothing() {
        let rig = rig(VerificationMode::Off, 2, Duration::ZERO);
        rig.put("01/09520123456788", &["https://a.example/good"])
            .await;
        rig.engine.enqueue("01/09520123456788");
        assert!(rig.engine.queue.is_empty());
        rig.drain().await;
        assert!(rig.fake.calls.lock().unwrap().is_empty());
        assert!(rig.stored("01/09520123456788").await.is_none());
    }

    #[tokio::test]
    async fn the_sweep_queues_what_is_unchecked_or_old() {
        let rig = rig(VerificationMode::Report, 2, Duration::ZERO);
        rig.put("01/09520123456788", &["https://a.example/good"])
            .await;
        rig.put("01/09520123456789", &["https://a.example/good"])
            .await;
        rig.engine.check_anchor("01/09520123456789").await.unwrap();
        assert_eq!(
            rig.engine.sweep().await.unwrap(),
            1,
            "only the unchecked one"
        );
        assert_eq!(rig.engine.queue.pop().await, "01/09520123456788");
        // A verdict older than recheck_hours is due again.
        let stored = rig.store.get("01/09520123456789").await.unwrap().unwrap();
        let verdicts = rig.stored("01/09520123456789").await.unwrap();
        let vocabulary = Vocabulary::embedded();
        let now = chrono::Utc::now();
        assert!(!rig.engine.due(&vocabulary, &stored, Some(&verdicts), now));
        assert!(rig.engine.due(
            &vocabulary,
            &stored,
            Some(&verdicts),
            now + chrono::Duration::hours(25)
        ));
        // An unreachable target is due again sooner: after an hour, not a day.
        let later = now + chrono::Duration::minutes(90);
        assert!(!rig.engine.due(&vocabulary, &stored, Some(&verdicts), later));
        let mut unreachable = (*verdicts).clone();
        unreachable.links[0].status = Status::Unreachable;
        assert!(
            rig.engine
                .due(&vocabulary, &stored, Some(&unreachable), later)
        );
        assert!(
            !rig.engine
                .due(&vocabulary, &stored, Some(&unreachable), now)
        );
    }

    /// Second review of issue 26, finding 7: a `POST` answered before every check ends reads `progress`, which must
    /// say what is stored and enforced (the refusal kept), not the fresh `unreachable`.
    #[tokio::test]
    async fn progress_reports_the_settled_verdicts() {
        let rig = rig(VerificationMode::Enforce, 2, Duration::ZERO);
        let (anchor, href) = ("01/09520123456788", "https://a.example/forged");
        rig.put(anchor, &[href]).await;
        rig.fake
            .answer(href, Status::NotACredential, Some("an HTML page"));
        rig.engine.check_anchor(anchor).await.unwrap();
        rig.fake.answer(href, Status::Unreachable, Some("HTTP 503"));
        let progress = Progress::default();
        rig.engine
            .check_scoped(anchor, &Scope::All, &progress)
            .await
            .unwrap();
        let seen = progress.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].status, Status::NotACredential, "{seen:?}");
        assert_eq!(seen[0].reason.as_deref(), Some("an HTML page"));
    }

    #[tokio::test]
    async fn a_refusal_stays_until_a_check_verifies() {
        let rig = rig(VerificationMode::Enforce, 2, Duration::ZERO);
        let (anchor, href) = ("01/09520123456788", "https://a.example/forged");
        rig.put(anchor, &[href]).await;
        rig.fake
            .answer(href, Status::NotACredential, Some("an HTML page"));
        rig.engine.check_anchor(anchor).await.unwrap();
        assert!(rig.engine.refused.contains(anchor, &rig.dpp, href));
        let refused = rig.stored(anchor).await.unwrap().links[0].clone();
        // The host now answers 503 to the resolver only, or was not checked: the refusal stays.
        for status in [Status::Unreachable, Status::Pending] {
            rig.fake.answer(href, status, Some("HTTP 503"));
            let answered = rig.engine.check_anchor(anchor).await.unwrap().unwrap();
            assert_eq!(answered.links[0], refused, "{status:?}");
            assert_eq!(rig.stored(anchor).await.unwrap().links[0], refused);
            assert!(rig.engine.refused.contains(anchor, &rig.dpp, href));
        }
        // A check that refuses again replaces it (a new reason), and one that verifies lifts it.
        rig.fake
            .answer(href, Status::Failed, Some("about another product"));
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(
            rig.stored(anchor).await.unwrap().links[0].status,
            Status::Failed
        );
        rig.fake.answer(href, Status::Verified, None);
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(
            rig.stored(anchor).await.unwrap().links[0].status,
            Status::Verified
        );
        assert!(!rig.engine.refused.contains(anchor, &rig.dpp, href));
        // An unreachable target that was not refused is stored as such.
        rig.fake.answer(href, Status::Unreachable, Some("HTTP 503"));
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(
            rig.stored(anchor).await.unwrap().links[0].status,
            Status::Unreachable
        );
    }

    /// Issue 26, left open 2: a writer who controls a refused target's host cannot escape the refusal by moving the
    /// link to a new href there and answering the resolver alone with 503: the new href is refused with the old one
    /// until it verifies. Another host, another link type, and a target that verified before are not touched.
    #[tokio::test]
    async fn a_refusal_carries_to_the_link_types_other_targets_until_they_verify() {
        let rig = rig(VerificationMode::Enforce, 2, Duration::ZERO);
        let anchor = "01/09520123456788";
        let (forged, replacement) = ("https://a.example/forged", "https://A.example:443/new");
        rig.put(anchor, &[forged]).await;
        rig.fake
            .answer(forged, Status::NotACredential, Some("an HTML page"));
        rig.engine.check_anchor(anchor).await.unwrap();
        assert!(rig.engine.refused.contains(anchor, &rig.dpp, forged));
        // The link moves to a new href on the same host, and to another host name, both answering the resolver 503.
        let elsewhere = "https://b.example/dpp";
        rig.put(anchor, &[replacement, elsewhere]).await;
        for href in [replacement, elsewhere] {
            rig.fake.answer(href, Status::Unreachable, Some("HTTP 503"));
        }
        let checked = rig
            .engine
            .check_anchor_marked(anchor)
            .await
            .unwrap()
            .unwrap();
        for (carried, href) in checked.verdicts.links.iter().zip([replacement, elsewhere]) {
            assert_eq!(carried.href, href);
            assert_eq!(carried.status, Status::NotACredential, "{carried:?}");
            let reason = carried.reason.as_deref().unwrap();
            assert!(
                reason.contains(forged)
                    && reason.contains("an HTML page")
                    && reason.contains("HTTP 503"),
                "{reason}"
            );
            assert!(rig.engine.refused.contains(anchor, &rig.dpp, href));
        }
        assert!(checked.complete(), "checked, the refusal carried");
        // The old href is gone from the record: the carried refusal stands on its own while the host answers 503, the
        // check is deferred, or the target is marked encrypted.
        rig.fake
            .answer(replacement, Status::Pending, Some("not answered"));
        rig.fake.answer(
            elsewhere,
            Status::Encrypted,
            Some("encrypted: content not checked"),
        );
        rig.engine.check_anchor(anchor).await.unwrap();
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.links[0].status, Status::NotACredential);
        assert_eq!(stored.links[1].status, Status::NotACredential, "encrypted");
        // One verifies: lifted for it, the other still refused; a later 503 does not bring the refusal back.
        rig.fake.answer(replacement, Status::Verified, None);
        rig.engine.check_anchor(anchor).await.unwrap();
        assert!(!rig.engine.refused.contains(anchor, &rig.dpp, replacement));
        assert!(rig.engine.refused.contains(anchor, &rig.dpp, elsewhere));
        rig.put(anchor, &[forged, replacement]).await;
        rig.fake
            .answer(replacement, Status::Unreachable, Some("HTTP 503"));
        rig.engine.check_anchor(anchor).await.unwrap();
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(
            stored.links[0].status,
            Status::NotACredential,
            "the forged one"
        );
        assert_eq!(
            stored.links[1].status,
            Status::Unreachable,
            "verified before: not carried"
        );
    }

    /// Review item 2: a refusal this check lifted is not carried; item 3: a link never checked keeps no `checkedAt`,
    /// and a deferred one says it was not checked.
    #[tokio::test]
    async fn a_lifted_refusal_is_not_carried_and_a_carried_one_keeps_what_the_link_was() {
        let rig = rig(VerificationMode::Enforce, 2, Duration::ZERO);
        let anchor = "01/09520123456788";
        let (fixed, other) = ("https://a.example/fixed", "https://a.example/down");
        rig.put(anchor, &[fixed]).await;
        rig.fake
            .answer(fixed, Status::Failed, Some("about another product"));
        rig.engine.check_anchor(anchor).await.unwrap();
        // The issuer fixes it, and adds a link that cannot be reached now.
        rig.put(anchor, &[fixed, other]).await;
        rig.fake.answer(fixed, Status::Verified, None);
        rig.fake
            .answer(other, Status::Unreachable, Some("HTTP 503"));
        let checked = rig
            .engine
            .check_anchor_marked(anchor)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(checked.verdicts.links[0].status, Status::Verified);
        assert_eq!(
            checked.verdicts.links[1].status,
            Status::Unreachable,
            "the refusal lifted in this check is not carried: {:?}",
            checked.verdicts.links[1]
        );
        // A refusal stands; a new link's check is deferred: refused with it, never checked, and said so.
        let (bad, busy) = ("https://c.example/bad", "https://busy.example/dpp");
        rig.put(anchor, &[bad, busy]).await;
        rig.fake.answer(
            busy,
            Status::Unreachable,
            Some("Check deferred: the outbound budget for busy.example is spent; retry in 1 s"),
        );
        let checked = rig
            .engine
            .check_anchor_marked(anchor)
            .await
            .unwrap()
            .unwrap();
        let carried = &checked.verdicts.links[1];
        assert_eq!(carried.status, Status::Failed, "{carried:?}");
        assert_eq!(carried.checked_at, None, "never checked");
        assert!(
            matches!(&checked.kept[1], Some(Kept::NotChecked(r)) if r.starts_with("Check deferred")),
            "{:?}",
            checked.kept[1]
        );
        assert!(!checked.complete());
    }

    #[test]
    fn a_refusal_is_carried_within_its_link_type_only() {
        let dpp = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
        let dcc = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
        let verdict = |link_type: &str, href: &str, status| LinkVerdict {
            status,
            ..LinkVerdict::pending(link_type, href)
        };
        let links = vec![
            verdict(dpp, "https://h.example/1", Status::Failed),
            verdict(dcc, "https://h.example/2", Status::Unreachable),
            verdict(dpp, "https://h.example/3", Status::Encrypted),
            verdict(dpp, "https://other.example/4", Status::Pending),
            verdict(dpp, "https://other.example/5", Status::Verified),
        ];
        let fresh = AnchorVerdicts { version: 1, links };
        let mut checked = Checked {
            verdicts: fresh.clone(),
            kept: vec![None; 5],
            deferred: BTreeSet::new(),
        };
        carry_refusals(&mut checked, &fresh, None);
        let statuses: Vec<Status> = checked.verdicts.links.iter().map(|v| v.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Failed,
                Status::Unreachable,
                Status::Failed,
                Status::Failed,
                Status::Verified
            ]
        );
        assert!(checked.kept[2..4].iter().all(Option::is_some));
        assert!(checked.kept[..2].iter().all(Option::is_none));
        assert!(checked.kept[4].is_none());
    }

    #[tokio::test]
    async fn a_deferred_check_keeps_the_stored_verdict_and_is_queued_again_a_few_times() {
        let rig = rig_with(VerificationMode::Report, 2, Duration::ZERO, |e| {
            e.retry_delay = Duration::from_millis(5);
        });
        let (anchor, href) = ("01/09520123456788", "https://a.example/dpp");
        rig.put(anchor, &[href]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        let verified = rig.stored(anchor).await.unwrap().links[0].clone();
        assert_eq!(verified.status, Status::Verified);
        rig.fake.answer(
            href,
            Status::Unreachable,
            Some("Check deferred: the outbound budget for a.example is spent; retry in 1 s"),
        );
        for retry in 1..=DEFERRED_RETRIES {
            rig.engine.check_anchor(anchor).await.unwrap();
            assert_eq!(rig.stored(anchor).await.unwrap().links[0], verified, "kept");
            // Queued again after the delay (doubling: 5, 10, 20, 40, 80 ms).
            let popped = tokio::time::timeout(Duration::from_secs(2), rig.engine.queue.pop()).await;
            assert_eq!(popped.ok().as_deref(), Some(anchor), "retry {retry}");
        }
        rig.engine.check_anchor(anchor).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            rig.engine.queue.is_empty(),
            "left to the schedule after the retries"
        );
        // Never checked before: a deferred check stores `pending` (due again), not `unreachable`.
        let other = "01/09520123456795";
        rig.put(other, &[href]).await;
        rig.engine.check_anchor(other).await.unwrap();
        let stored = rig.stored(other).await.unwrap();
        assert_eq!(stored.links[0].status, Status::Pending);
        assert!(stored.links[0].checked_at.is_none());
    }

    /// Issue 26, left open 4: a retry checks the deferred links only, so on a slow host the links checked already
    /// are not fetched again, and `Checked` says which verdicts were kept.
    #[tokio::test]
    async fn a_retry_checks_only_the_links_whose_check_was_deferred() {
        let rig = rig_with(VerificationMode::Report, 2, Duration::ZERO, |e| {
            e.retry_delay = Duration::from_millis(5);
        });
        let anchor = "01/09520123456788";
        let (done, busy) = ("https://a.example/dpp", "https://busy.example/dpp");
        rig.put(anchor, &[done, busy]).await;
        let deferred =
            "Check deferred: the outbound budget for busy.example is spent; retry in 1 s";
        rig.fake.answer(busy, Status::Unreachable, Some(deferred));
        let checked = rig
            .engine
            .check_anchor_marked(anchor)
            .await
            .unwrap()
            .unwrap();
        assert!(!checked.complete());
        assert_eq!(checked.verdicts.links[0].status, Status::Verified);
        assert_eq!(checked.kept[0], None, "checked now");
        assert_eq!(checked.verdicts.links[1].status, Status::Pending);
        let why = checked.kept[1].as_ref().unwrap();
        assert!(
            matches!(why, Kept::NotChecked(r) if r.starts_with("Check deferred")),
            "{why:?}"
        );
        let first = rig.stored(anchor).await.unwrap().links[0].clone();
        let (popped, scope) =
            tokio::time::timeout(Duration::from_secs(2), rig.engine.queue.pop_scoped())
                .await
                .unwrap();
        assert_eq!(popped, anchor);
        assert!(scope.includes(&rig.dpp, busy));
        assert!(!scope.includes(&rig.dpp, done));
        // The retry, as the queue's worker runs it: only the deferred link is fetched, and it now verifies.
        rig.fake.answers.lock().unwrap().clear();
        rig.fake.calls.lock().unwrap().clear();
        let retried = rig
            .engine
            .check_scoped(anchor, &scope, &Progress::default())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(*rig.fake.calls.lock().unwrap(), [busy]);
        assert_eq!(retried.verdicts.links[1].status, Status::Verified);
        assert_eq!(retried.kept[1], None);
        assert_eq!(
            retried.kept[0],
            Some(Kept::OutOfScope),
            "not in the retry: kept"
        );
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.links[0], first, "the first link's verdict as it was");
        assert_eq!(stored.links[1].status, Status::Verified);
        assert_eq!(rig.engine.retrying(), 0, "settled: forgotten");
        // A check of every link (after a write) fetches both again.
        rig.fake.calls.lock().unwrap().clear();
        let all = rig
            .engine
            .check_anchor_marked(anchor)
            .await
            .unwrap()
            .unwrap();
        assert!(all.complete());
        assert_eq!(rig.fake.calls.lock().unwrap().len(), 2);
    }

    /// Issue 26, left open 7: the retry count of an anchor is forgotten when the anchor is gone (or not stored),
    /// not kept for the life of the process.
    #[tokio::test]
    async fn retries_are_forgotten_when_the_anchor_is_gone() {
        let rig = rig_with(VerificationMode::Report, 2, Duration::ZERO, |e| {
            e.retry_delay = Duration::from_millis(5);
        });
        let (anchor, busy) = ("01/09520123456788", "https://busy.example/dpp");
        rig.put(anchor, &[busy]).await;
        rig.fake.answer(
            busy,
            Status::Pending,
            Some("Check deferred: other checks of this host kept it waiting"),
        );
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(rig.engine.retrying(), 1);
        rig.store
            .delete(anchor, Precondition::None, "test")
            .await
            .unwrap();
        let (popped, scope) =
            tokio::time::timeout(Duration::from_secs(2), rig.engine.queue.pop_scoped())
                .await
                .unwrap();
        assert_eq!(popped, anchor);
        let checked = rig
            .engine
            .check_scoped(anchor, &scope, &Progress::default())
            .await
            .unwrap();
        assert!(checked.is_none(), "no anchor");
        assert_eq!(rig.engine.retrying(), 0);
    }

    #[tokio::test]
    async fn the_wait_for_a_hosts_turn_is_bounded() {
        let rig = rig_with(
            VerificationMode::Report,
            4,
            Duration::from_millis(600),
            |e| {
                e.turn_wait = Duration::from_millis(50);
            },
        );
        let one = link(&rig.dpp, "https://slow.example/1");
        let two = link(&rig.dpp, "https://slow.example/2");
        let started = std::time::Instant::now();
        let first = rig.engine.check_link("01/09520123456788", &one);
        let second = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let verdict = rig.engine.check_link("01/09520123456795", &two).await;
            (verdict, started.elapsed())
        };
        let (first, (second, waited)) = tokio::join!(first, second);
        assert_eq!(first.status, Status::Verified);
        assert!(is_deferred(&second), "{second:?}");
        assert_eq!(second.status, Status::Pending);
        assert!(second.checked_at.is_none());
        assert!(waited < Duration::from_millis(500), "{waited:?}");
        assert_eq!(
            rig.fake.calls.lock().unwrap().len(),
            1,
            "the second never ran"
        );
    }

    /// Final review, finding 3: an on-demand check that is not done in time (it may have waited behind the write's own
    /// check) answers what is stored for this version, not `pending`, for the links it has not reached.
    #[tokio::test]
    async fn an_on_demand_check_out_of_time_answers_the_stored_verdicts() {
        let rig = rig(VerificationMode::Report, 2, Duration::from_millis(400));
        let (anchor, href) = ("01/09520123456788", "https://a.example/dpp");
        rig.put(anchor, &[href]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        rig.fake
            .answer(href, Status::Failed, Some("about another product"));
        let quick = rig
            .engine
            .check_within(anchor, Duration::from_millis(50))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(quick.links.len(), 1);
        assert_eq!(quick.links[0].status, Status::Verified, "{quick:?}");
    }

    #[tokio::test]
    async fn an_on_demand_check_answers_within_its_bound_and_is_shared() {
        let rig = rig(VerificationMode::Report, 2, Duration::from_millis(400));
        let anchor = "01/09520123456788";
        rig.put(anchor, &["https://a.example/dpp"]).await;
        let (quick, patient) = tokio::join!(
            rig.engine.check_within(anchor, Duration::from_millis(50)),
            async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                rig.engine
                    .check_within(anchor, Duration::from_secs(5))
                    .await
            }
        );
        let quick = quick.unwrap().unwrap();
        assert_eq!(quick.links.len(), 1);
        assert_eq!(
            quick.links[0].status,
            Status::Pending,
            "not done within 50 ms"
        );
        let patient = patient.unwrap().unwrap();
        assert_eq!(patient.links[0].status, Status::Verified);
        assert_eq!(
            rig.fake.calls.lock().unwrap().len(),
            1,
            "one check for both"
        );
        assert_eq!(
            rig.stored(anchor).await.unwrap().links[0].status,
            Status::Verified
        );
        assert!(
            rig.engine
                .check_within("01/09506000134352", Duration::from_secs(1))
                .await
                .unwrap()
                .is_none()
        );
    }

    /// Issue 26, item 3: a check that ends after the record moved on stores nothing (the store compares the
    /// versions as it writes), and the refused index keeps what is stored.
    #[tokio::test]
    async fn verdicts_for_a_record_that_moved_on_are_not_stored() {
        let rig = rig(VerificationMode::Enforce, 2, Duration::ZERO);
        let (anchor, bad) = ("01/09520123456788", "https://a.example/bad");
        let first = rig.put(anchor, &[bad]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        assert_eq!(rig.stored(anchor).await.unwrap().version, first);
        assert!(rig.engine.refused.contains(anchor, &rig.dpp, bad));
        let second = rig.put(anchor, &[bad, "https://a.example/good"]).await;
        assert!(second > first);
        // A slow check of the first version, verifying the target, ends now.
        let late = AnchorVerdicts {
            version: first,
            links: vec![LinkVerdict {
                status: Status::Verified,
                checked_at: Some(now()),
                ..LinkVerdict::pending(&rig.dpp, bad)
            }],
        };
        assert!(!rig.engine.store(anchor, &late).await.unwrap());
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.version, first);
        assert_eq!(stored.links[0].status, Status::Failed);
        assert!(rig.engine.refused.contains(anchor, &rig.dpp, bad), "kept");
        // The second version's check is stored; the first version's never again.
        rig.engine.check_anchor(anchor).await.unwrap();
        let stored = rig.stored(anchor).await.unwrap();
        assert_eq!(stored.version, second);
        assert_eq!(stored.links.len(), 2);
        assert!(!rig.engine.store(anchor, &late).await.unwrap());
        // Nor for an anchor that is gone.
        rig.store
            .delete(anchor, Precondition::None, "test")
            .await
            .unwrap();
        let gone = AnchorVerdicts {
            version: second,
            links: vec![],
        };
        assert!(!rig.engine.store(anchor, &gone).await.unwrap());
    }

    #[tokio::test]
    async fn a_record_without_credential_links_stores_nothing() {
        let rig = rig(VerificationMode::Report, 2, Duration::ZERO);
        let anchor = "01/09520123456788";
        rig.put(anchor, &[]).await;
        let checked = rig.engine.check_anchor(anchor).await.unwrap().unwrap();
        assert!(checked.links.is_empty());
        assert!(rig.stored(anchor).await.is_none(), "no document written");
        // Once it had credential links, a rewrite without them stores the (empty) verdicts.
        rig.put(anchor, &["https://a.example/dpp"]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        rig.put(anchor, &[]).await;
        rig.engine.check_anchor(anchor).await.unwrap();
        assert!(rig.stored(anchor).await.unwrap().links.is_empty());
    }

    #[test]
    fn the_schedule_period_is_a_quarter_of_the_recheck_within_bounds() {
        assert_eq!(schedule_period(24), Duration::from_secs(6 * 3600));
        assert_eq!(schedule_period(1), Duration::from_secs(900));
        assert_eq!(schedule_period(0), Duration::from_secs(24 * 3600));
        assert_eq!(schedule_period(8760), Duration::from_secs(6 * 3600));
    }
}

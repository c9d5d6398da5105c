//! The embedded, durable, single-file store (redb). The zero-setup default for one node.
//!
//! Every write is one redb transaction committed with immediate durability, so a `2xx` answer survives `kill -9`.
//! Reads run inline (a redb read is a few microseconds and never blocks on the writer); writes, which fsync, run
//! on the blocking pool.

use super::audit::{self, AuditEntry, AuditQuery, Operation};
use super::format::{Payload, push_decimal};
use super::{
    AnchorRecord, AnchorSink, AnchorStore, AuditStore, Coordination, DocumentStore, ListQuery,
    Page, Precondition, PutEach, PutOutcome, Sink, StoreError, StoredAnchor,
};
use redb::{
    Database, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

const ANCHORS: TableDefinition<&str, &[u8]> = TableDefinition::new("anchors");
/// Last version of each deleted anchor, so a re-created anchor never reuses an old `ETag`.
const TOMBSTONES: TableDefinition<&str, u64> = TableDefinition::new("tombstones");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Identifier schemes registered at run time: namespace → definition document.
const SCHEMES: TableDefinition<&str, &str> = TableDefinition::new("schemes");
/// API keys created with `idr keys`: name → key record (hash, scopes, expiry, revocation).
const KEYS: TableDefinition<&str, &str> = TableDefinition::new("keys");
/// Link-type vocabularies registered at run time: prefix → vocabulary JSON.
const LINK_TYPES: TableDefinition<&str, &str> = TableDefinition::new("linktypes");
/// The last deleted record of each anchor (deletes are soft): what `restore` brings back.
const DELETED: TableDefinition<&str, &[u8]> = TableDefinition::new("deleted");
/// The audit trail: (primary key, sequence number) → entry (JSON, without its cursor). The sequence is global
/// (`META["audit_seq"]`), so entries sort by write order within each primary key.
const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
const AUDIT_SEQ: &str = "audit_seq";
/// One-time values claimed by DID-signed requests (their `jti`, hashed): nonce → expiry (unix ms). Kept in the file so
/// a replay after a restart is refused too.
const NONCES: TableDefinition<&str, u64> = TableDefinition::new("nonces");
/// The same claims ordered by expiry, (expiry ms, nonce), so expired ones are found without a scan.
const NONCE_EXPIRIES: TableDefinition<(u64, &str), ()> = TableDefinition::new("nonce_expiries");
/// The verdicts of verified links: canonical path → `{version} {revision} {json}` (`verdicts::encode`).
const VERDICTS: TableDefinition<&str, &str> = TableDefinition::new("verdicts");
/// Console sessions (`registry::sessions`): SHA-256 of the session id → `{expiry ms} {document}`.
const SESSIONS: TableDefinition<&str, &str> = TableDefinition::new("sessions");
/// The same sessions ordered by expiry, (expiry ms, name), so expired ones are removed without a scan.
const SESSION_EXPIRIES: TableDefinition<(u64, &str), ()> = TableDefinition::new("session_expiries");
/// Expired claims removed by one new claim, at most: a claim adds one, so the tables stay near the number of live
/// tokens while no claim does unbounded work.
const NONCE_SWEEP: usize = 64;
const FILE_NAME: &str = "idr.redb";
const DEFAULT_CACHE_BYTES: usize = 64 << 20;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    committed: Arc<CommittedTable>,
    /// Every commit saves redb's allocator state (`store.embedded_quick_repair`).
    quick_repair: bool,
}

type AnchorTable = ReadOnlyTable<&'static str, &'static [u8]>;

/// The anchors table as of the last commit, shared by scans until the next one: opening a read transaction and its
/// table costs more than a point read from redb's page cache. This process is the file's only writer (redb locks
/// it), and every commit drops the snapshot.
#[derive(Default)]
struct CommittedTable {
    table: RwLock<Option<Arc<AnchorTable>>>,
    /// Commits so far: a snapshot opened while one landed is used once, not kept.
    commits: AtomicU64,
}

/// A write transaction; with `quick_repair`, its commit also saves the allocator state, and commits in two phases.
fn begin_write(db: &Database, quick_repair: bool) -> Result<redb::WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(unavailable)?;
    txn.set_quick_repair(quick_repair);
    Ok(txn)
}

/// The error of a store file another process holds (redb locks it): say who, most likely, and what to do.
fn in_use(path: &Path) -> StoreError {
    unavailable(format!(
        "{} is in use by another process, most likely a running `idr serve` (the embedded store is opened by one \
         process at a time): stop that server and run this command again, or work through its HTTP API while it \
         runs (`curl -i http://127.0.0.1:8080/01/…` resolves, `PUT /api/v1/anchors/…` writes)",
        path.display()
    ))
}

impl EmbeddedStore {
    /// Whether `dir` holds a store, for commands that only read one (they must not create an empty one).
    pub fn exists(dir: &Path) -> bool {
        dir.join(FILE_NAME).is_file()
    }

    /// Opens (creating when missing) the store in `dir`, with redb's default page cache and quick repair.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, DEFAULT_CACHE_BYTES, true)
    }

    /// Opens the store with a bound on the memory redb may use to cache pages. With `quick_repair`, every commit
    /// saves redb's allocator state, so that a start after a crash loads it instead of checking the whole file.
    pub fn open_with(
        dir: &Path,
        cache_bytes: usize,
        quick_repair: bool,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let started = std::time::Instant::now();
        let repairing = Arc::new(AtomicBool::new(false));
        let seen = repairing.clone();
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .set_repair_callback(move |_| {
                // Said once, before the wait: the check reads the whole file, so it lasts in proportion to its size.
                if !seen.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the store was not closed cleanly (a crash or SIGKILL): checking the whole file before serving"
                    );
                }
            })
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => in_use(&path),
                e => unavailable(format!("cannot open {}: {e}", path.display())),
            })?;
        if repairing.load(Ordering::Relaxed) {
            let ms = started.elapsed().as_millis() as u64;
            tracing::warn!(ms, "the store was checked and repaired");
        }
        let txn = begin_write(&db, quick_repair)?;
        txn.open_table(ANCHORS).map_err(unavailable)?;
        txn.open_table(TOMBSTONES).map_err(unavailable)?;
        txn.open_table(META).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self {
            db: Arc::new(db),
            committed: Arc::default(),
            quick_repair,
        })
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        begin_write(&self.db, self.quick_repair)
    }

    /// The anchors table of the last committed state.
    fn anchors(&self) -> Result<Arc<AnchorTable>, StoreError> {
        let slot = &self.committed.table;
        if let Some(table) = slot.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(table.clone());
        }
        let commits = self.committed.commits.load(Ordering::Acquire);
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = Arc::new(txn.open_table(ANCHORS).map_err(unavailable)?);
        let mut slot = slot.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock that `commit` clears the slot with, so a snapshot older than a commit is never kept.
        if self.committed.commits.load(Ordering::Acquire) == commits {
            *slot = Some(table.clone());
        }
        Ok(table)
    }

    /// Commits, then makes the next scan read the new state.
    fn commit(&self, txn: redb::WriteTransaction) -> Result<(), StoreError> {
        let result = txn.commit().map_err(unavailable);
        self.committed.commits.fetch_add(1, Ordering::AcqRel);
        *self
            .committed
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        result
    }

    fn read_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        let table = self.anchors()?;
        keys.iter()
            .map(|key| match table.get(*key).map_err(unavailable)? {
                Some(bytes) => decode(key, bytes.value()).map(|a| Some(Arc::new(a))),
                None => Ok(None),
            })
            .collect()
    }

    fn write_one(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError> {
        let txn = self.begin_write()?;
        let stored = {
            let mut table = txn.open_table(ANCHORS).map_err(unavailable)?;
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(unavailable)?;
            let current = current_version(&table, key)?;
            precondition.check(current)?;
            let version = next_version(current, &mut tombstones, key)?;
            let stored = StoredAnchor { version, record };
            table
                .insert(key, stored.encode().as_slice())
                .map_err(unavailable)?;
            if current.is_none() {
                // A new anchor replaces what a delete kept: that one can no longer be restored.
                let mut deleted = txn.open_table(DELETED).map_err(unavailable)?;
                deleted.remove(key).map_err(unavailable)?;
            }
            let op = audit::put_operation(current);
            append_audit(&txn, key, op, who, current, Some(version))?;
            (stored, current.is_none())
        };
        self.commit(txn)?;
        Ok(PutOutcome {
            stored: Arc::new(stored.0),
            created: stored.1,
        })
    }

    /// Removes the live anchor, leaving its tombstone, in one transaction with its audit entries. A soft delete keeps
    /// the record for `restore`; a hard one keeps nothing and drops what an earlier delete kept, so a `restore` racing
    /// it either came first (and is removed too) or finds nothing. `Ok(false)`: nothing was there to remove.
    fn delete_one(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
        hard: bool,
    ) -> Result<bool, StoreError> {
        let txn = self.begin_write()?;
        let existed = {
            let mut table = txn.open_table(ANCHORS).map_err(unavailable)?;
            let current = current_version(&table, key)?;
            precondition.check(current)?;
            let mut deleted = txn.open_table(DELETED).map_err(unavailable)?;
            let kept = hard && deleted.remove(key).map_err(unavailable)?.is_some();
            let mut log = AuditLog::open(&txn)?;
            if let Some(version) = current {
                let removed = table.remove(key).map_err(unavailable)?;
                let copy = removed.map(|v| v.value().to_vec());
                let mut tombstones = txn.open_table(TOMBSTONES).map_err(unavailable)?;
                tombstones.insert(key, version).map_err(unavailable)?;
                if let (Some(copy), false) = (copy, hard) {
                    deleted.insert(key, copy.as_slice()).map_err(unavailable)?;
                }
                log.append(key, Operation::Delete, who, current, None)?;
            }
            let existed = current.is_some() || kept;
            if hard && existed {
                log.append(key, Operation::Purge, who, None, None)?;
            }
            log.close()?;
            existed
        };
        self.commit(txn)?;
        Ok(existed)
    }

    fn restore_one(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError> {
        let txn = self.begin_write()?;
        let stored = {
            let mut table = txn.open_table(ANCHORS).map_err(unavailable)?;
            if let Some(current) = current_version(&table, key)? {
                return Err(StoreError::PreconditionFailed {
                    current: Some(current),
                });
            }
            let mut deleted = txn.open_table(DELETED).map_err(unavailable)?;
            let Some(copy) = deleted.remove(key).map_err(unavailable)? else {
                return Ok(None);
            };
            let old = decode(key, copy.value())?;
            drop(copy);
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(unavailable)?;
            let version = next_version(None, &mut tombstones, key)?;
            let stored = StoredAnchor {
                version,
                record: old.record,
            };
            table
                .insert(key, stored.encode().as_slice())
                .map_err(unavailable)?;
            append_audit(&txn, key, Operation::Restore, who, None, Some(version))?;
            stored
        };
        self.commit(txn)?;
        Ok(Some(PutOutcome {
            stored: Arc::new(stored),
            created: true,
        }))
    }

    /// `put_each`: every write checked and applied on its own, as `write_one` does, in one transaction (one durable
    /// commit for them all).
    fn write_each(
        &self,
        writes: Vec<PutEach>,
        who: &str,
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let txn = self.begin_write()?;
        let mut outcomes = Vec::with_capacity(writes.len());
        {
            let mut table = txn.open_table(ANCHORS).map_err(unavailable)?;
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(unavailable)?;
            let mut deleted = txn.open_table(DELETED).map_err(unavailable)?;
            let mut log = AuditLog::open(&txn)?;
            for PutEach {
                key,
                record,
                precondition,
            } in writes
            {
                let current = current_version(&table, &key)?;
                if let Err(e) = precondition.check(current) {
                    outcomes.push(Err(e));
                    continue;
                }
                let version = next_version(current, &mut tombstones, &key)?;
                let stored = StoredAnchor { version, record };
                table
                    .insert(key.as_str(), stored.encode().as_slice())
                    .map_err(unavailable)?;
                if current.is_none() {
                    deleted.remove(key.as_str()).map_err(unavailable)?;
                }
                let op = audit::put_operation(current);
                log.append(&key, op, who, current, Some(version))?;
                outcomes.push(Ok(PutOutcome {
                    stored: Arc::new(stored),
                    created: current.is_none(),
                }));
            }
            log.close()?;
        }
        self.commit(txn)?;
        Ok(outcomes)
    }

    /// A page of the anchors table of the last commit, from just after `after` (or the prefix).
    fn list_page(&self, query: &ListQuery<'_>) -> Result<Page, StoreError> {
        let table = self.anchors()?;
        let start = match query.after {
            Some(after) if after >= query.prefix => Bound::Excluded(after),
            _ => Bound::Included(query.prefix),
        };
        let mut page = Vec::new();
        for entry in table
            .range::<&str>((start, Bound::Unbounded))
            .map_err(unavailable)?
        {
            if page.len() >= query.limit {
                break;
            }
            let (key, value) = entry.map_err(unavailable)?;
            let key = key.value();
            if !key.starts_with(query.prefix) {
                break;
            }
            if (query.keep)(key) {
                page.push((key.to_string(), Arc::new(decode(key, value.value())?)));
            }
        }
        Ok(page)
    }

    fn write_batch(&self, batch: Vec<(String, Payload)>, who: &str) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        {
            let mut table = txn.open_table(ANCHORS).map_err(unavailable)?;
            let mut tombstones = txn.open_table(TOMBSTONES).map_err(unavailable)?;
            let mut log = AuditLog::open(&txn)?;
            for (key, payload) in &batch {
                let current = current_version(&table, key)?;
                let version = next_version(current, &mut tombstones, key)?;
                table
                    .insert(key.as_str(), payload.stored(version).as_slice())
                    .map_err(unavailable)?;
                log.append(key, Operation::Import, who, current, Some(version))?;
            }
            log.close()?;
        }
        self.commit(txn)
    }

    fn read_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        // Sequence numbers start at 1, so "after 0" is everything.
        let after = query.after.unwrap_or(0);
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(AUDIT) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![]),
            Err(e) => return Err(unavailable(e)),
        };
        let part = audit::partition(query.identifier);
        let mut out = Vec::new();
        let range = table
            .range((part, after.saturating_add(1))..=(part, u64::MAX))
            .map_err(unavailable)?;
        for entry in range {
            let (k, v) = entry.map_err(unavailable)?;
            let seq = k.value().1;
            let stored: StoredAudit = serde_json::from_slice(v.value())
                .map_err(|e| unavailable(format!("audit entry {part}/{seq}: {e}")))?;
            if stored.at_ms < query.since_ms || !query.covers(&stored.identifier) {
                continue;
            }
            out.push(stored.into_entry(seq));
            if out.len() >= query.limit {
                break;
            }
        }
        Ok(out)
    }
}

/// An audit entry as the embedded store keeps it (the cursor is its key). Written from borrowed strings (`&str`),
/// read into owned ones.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredAudit<S = String> {
    at_ms: u64,
    who: S,
    identifier: S,
    operation: Operation,
    before: Option<u64>,
    after: Option<u64>,
}

impl StoredAudit<&str> {
    /// The JSON `serde_json` writes for the entry (a test holds them equal), without its machinery for every field
    /// name: an import's one writer appends an entry per anchor.
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"at_ms":"#);
        push_decimal(out, self.at_ms);
        out.extend_from_slice(br#","who":"#);
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, self.who);
        out.extend_from_slice(br#","identifier":"#);
        let _ = serde_json::to_writer(&mut *out, self.identifier);
        out.extend_from_slice(br#","operation":""#);
        out.extend_from_slice(self.operation.as_str().as_bytes());
        out.extend_from_slice(br#"","before":"#);
        push_version(out, self.before);
        out.extend_from_slice(br#","after":"#);
        push_version(out, self.after);
        out.push(b'}');
    }
}

fn push_version(out: &mut Vec<u8>, version: Option<u64>) {
    match version {
        Some(v) => push_decimal(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

impl StoredAudit {
    fn into_entry(self, seq: u64) -> AuditEntry {
        AuditEntry {
            cursor: seq.to_string(),
            at_ms: self.at_ms,
            who: self.who,
            identifier: self.identifier,
            operation: self.operation,
            before: self.before,
            after: self.after,
        }
    }
}

/// Appends audit entries inside a write's own transaction: the tables are opened and the sequence read once, so a
/// batch of a thousand imported anchors does not reopen them a thousand times.
struct AuditLog<'t> {
    meta: redb::Table<'t, &'static str, u64>,
    entries: redb::Table<'t, (&'static str, u64), &'static [u8]>,
    seq: u64,
    /// One entry's JSON, reused for every entry.
    buf: Vec<u8>,
}

impl<'t> AuditLog<'t> {
    fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        let meta = txn.open_table(META).map_err(unavailable)?;
        let seq = meta
            .get(AUDIT_SEQ)
            .map_err(unavailable)?
            .map_or(0, |v| v.value());
        let entries = txn.open_table(AUDIT).map_err(unavailable)?;
        Ok(AuditLog {
            meta,
            entries,
            seq,
            buf: Vec::new(),
        })
    }

    fn append(
        &mut self,
        key: &str,
        operation: Operation,
        who: &str,
        before: Option<u64>,
        after: Option<u64>,
    ) -> Result<(), StoreError> {
        self.seq += 1;
        let entry = StoredAudit {
            at_ms: now_ms(),
            who,
            identifier: key,
            operation,
            before,
            after,
        };
        self.buf.clear();
        entry.write_json(&mut self.buf);
        self.entries
            .insert((audit::partition(key), self.seq), self.buf.as_slice())
            .map_err(unavailable)?;
        Ok(())
    }

    /// Stores the sequence; the entries are committed (or not) with the transaction.
    fn close(mut self) -> Result<(), StoreError> {
        self.meta.insert(AUDIT_SEQ, self.seq).map_err(unavailable)?;
        Ok(())
    }
}

/// Appends one audit entry inside the write's own transaction.
fn append_audit(
    txn: &redb::WriteTransaction,
    key: &str,
    operation: Operation,
    who: &str,
    before: Option<u64>,
    after: Option<u64>,
) -> Result<(), StoreError> {
    let mut log = AuditLog::open(txn)?;
    log.append(key, operation, who, before, after)?;
    log.close()
}

/// When an audit entry was written: its first field, read without decoding the rest.
fn audit_time(part: &str, seq: u64, json: &[u8]) -> Result<u64, StoreError> {
    let digits = json
        .strip_prefix(br#"{"at_ms":"#)
        .map(|rest| rest.iter().take_while(|b| b.is_ascii_digit()).count())
        .filter(|n| *n > 0);
    if let Some(n) = digits {
        // At most 20 ASCII digits: parses unless it overflows.
        if let Some(ms) = std::str::from_utf8(&json[9..9 + n])
            .ok()
            .and_then(|d| d.parse().ok())
        {
            return Ok(ms);
        }
    }
    let stored: StoredAudit = serde_json::from_slice(json)
        .map_err(|e| unavailable(format!("audit entry {part}/{seq}: {e}")))?;
    Ok(stored.at_ms)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One more than the anchor's current version, or than its version when last deleted.
fn next_version(
    current: Option<u64>,
    tombstones: &mut redb::Table<'_, &str, u64>,
    key: &str,
) -> Result<u64, StoreError> {
    let base = match current {
        Some(v) => v,
        None => tombstones
            .remove(key)
            .map_err(unavailable)?
            .map_or(0, |v| v.value()),
    };
    Ok(base + 1)
}

fn current_version(
    table: &redb::Table<'_, &str, &[u8]>,
    key: &str,
) -> Result<Option<u64>, StoreError> {
    match table.get(key).map_err(unavailable)? {
        Some(bytes) => Ok(Some(decode(key, bytes.value())?.version)),
        None => Ok(None),
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<StoredAnchor, StoreError> {
    StoredAnchor::decode(bytes).map_err(|source| StoreError::Decode {
        key: key.to_string(),
        source,
    })
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Runs a blocking store operation off the async executor.
/// Small named documents beside the anchors (run-time schemes, API keys).
type Documents = TableDefinition<'static, &'static str, &'static str>;

impl EmbeddedStore {
    async fn put_document(
        &self,
        table: Documents,
        name: &str,
        document: &str,
    ) -> Result<(), StoreError> {
        let (this, name, document) = (self.clone(), name.to_string(), document.to_string());
        blocking(move || {
            let txn = this.begin_write()?;
            txn.open_table(table)
                .map_err(unavailable)?
                .insert(name.as_str(), document.as_str())
                .map_err(unavailable)?;
            this.commit(txn)
        })
        .await
    }

    fn documents(&self, table: Documents) -> Result<Vec<(String, String)>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(table) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![]),
            Err(e) => return Err(unavailable(e)),
        };
        let mut out = Vec::new();
        for entry in table.iter().map_err(unavailable)? {
            let (k, v) = entry.map_err(unavailable)?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(unavailable)?
}

#[async_trait::async_trait]
impl AnchorStore for EmbeddedStore {
    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        self.read_many(keys)
    }

    fn local_reads(&self) -> bool {
        true
    }

    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError> {
        let (this, key, who) = (self.clone(), key.to_string(), who.to_string());
        blocking(move || this.write_one(&key, record, precondition, &who)).await
    }

    async fn delete(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        let (this, key, who) = (self.clone(), key.to_string(), who.to_string());
        blocking(move || this.delete_one(&key, precondition, &who, false)).await
    }

    async fn delete_hard(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        let (this, key, who) = (self.clone(), key.to_string(), who.to_string());
        blocking(move || this.delete_one(&key, precondition, &who, true)).await
    }

    async fn restore(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError> {
        let (this, key, who) = (self.clone(), key.to_string(), who.to_string());
        blocking(move || this.restore_one(&key, &who)).await
    }

    async fn put_batch(&self, batch: Vec<(String, Payload)>, who: &str) -> Result<(), StoreError> {
        let (this, who) = (self.clone(), who.to_string());
        blocking(move || this.write_batch(batch, &who)).await
    }

    async fn put_each(
        &self,
        writes: Vec<PutEach>,
        who: &str,
    ) -> Result<Vec<Result<PutOutcome, StoreError>>, StoreError> {
        let (this, who) = (self.clone(), who.to_string());
        blocking(move || this.write_each(writes, &who)).await
    }

    async fn list(&self, query: &ListQuery<'_>) -> Result<Page, StoreError> {
        self.list_page(query)
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(ANCHORS).map_err(unavailable)?;
        table.is_empty().map_err(unavailable)
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(ANCHORS).map_err(unavailable)?;
        for entry in table.iter().map_err(unavailable)? {
            let (key, value) = entry.map_err(unavailable)?;
            sink(key.value(), &decode(key.value(), value.value())?)?;
        }
        Ok(())
    }

    /// The pattern paths only: one range of the sorted table.
    async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = txn.open_table(ANCHORS).map_err(unavailable)?;
        let mut found = Vec::new();
        for entry in table.range(super::patterns::ROOT..).map_err(unavailable)? {
            let (key, value) = entry.map_err(unavailable)?;
            if super::patterns::pattern_of(key.value()).is_none() {
                break;
            }
            let record = decode(key.value(), value.value())?;
            found.push((key.value().to_string(), Arc::new(record)));
        }
        Ok(found)
    }
}

#[async_trait::async_trait]
impl AuditStore for EmbeddedStore {
    async fn audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_audit(query)
    }

    async fn trim_audit(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<super::TrimStep, StoreError> {
        let this = self.clone();
        blocking(move || this.trim_audit_now(before_ms, budget, resume)).await
    }

    async fn export_audit(&self, sink: &mut super::AuditSink<'_>) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(AUDIT) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        };
        for entry in table.iter().map_err(unavailable)? {
            let (k, v) = entry.map_err(unavailable)?;
            let (part, seq) = k.value();
            let stored: StoredAudit = serde_json::from_slice(v.value())
                .map_err(|e| unavailable(format!("audit entry {part}/{seq}: {e}")))?;
            sink(stored.into_entry(seq))?;
        }
        Ok(())
    }
}

/// Documents in tables of their own in the same file, one per kind.
#[async_trait::async_trait]
impl DocumentStore for EmbeddedStore {
    async fn put_scheme(&self, namespace: &str, definition: &str) -> Result<(), StoreError> {
        self.put_document(SCHEMES, namespace, definition).await
    }

    async fn schemes(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents(SCHEMES)
    }

    async fn put_api_key(&self, name: &str, record: &str) -> Result<(), StoreError> {
        self.put_document(KEYS, name, record).await
    }

    async fn api_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents(KEYS)
    }

    async fn put_link_types(&self, prefix: &str, definition: &str) -> Result<(), StoreError> {
        self.put_document(LINK_TYPES, prefix, definition).await
    }

    async fn link_types(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents(LINK_TYPES)
    }

    async fn delete_link_types(&self, prefix: &str) -> Result<bool, StoreError> {
        let (this, prefix) = (self.clone(), prefix.to_string());
        blocking(move || {
            let txn = this.begin_write()?;
            let removed = txn
                .open_table(LINK_TYPES)
                .map_err(unavailable)?
                .remove(prefix.as_str())
                .map_err(unavailable)?
                .is_some();
            this.commit(txn)?;
            Ok(removed)
        })
        .await
    }
}

impl EmbeddedStore {
    /// The stored value of `anchor`'s verdicts (`verdicts::encode`).
    fn verdicts_raw(&self, anchor: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(VERDICTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let stored = table.get(anchor).map_err(unavailable)?;
        Ok(stored.map(|v| v.value().to_string()))
    }
}

/// In a table of their own; this process is the file's only writer, so there is no one to tell of a change.
#[async_trait::async_trait]
impl super::VerdictStore for EmbeddedStore {
    async fn verdicts(&self, anchors: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(VERDICTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![None; anchors.len()]),
            Err(e) => return Err(unavailable(e)),
        };
        anchors
            .iter()
            .map(|a| {
                let stored = table.get(*a).map_err(unavailable)?;
                Ok(stored
                    .and_then(|v| super::verdicts::decode(v.value()).map(|d| d.json.to_string())))
            })
            .collect()
    }

    async fn revised(&self, anchor: &str) -> Result<super::verdicts::Revised, StoreError> {
        let stored = self.verdicts_raw(anchor)?;
        let stored = stored.as_deref().and_then(super::verdicts::decode);
        Ok(super::verdicts::Revised {
            revision: stored.map_or(0, |s| s.revision),
            json: stored.map(|s| s.json.to_string()),
        })
    }

    /// The record's version and the document's revision are read in the write transaction that stores the verdicts.
    async fn put_verdicts_over(
        &self,
        anchor: &str,
        version: u64,
        seen: Option<u64>,
        json: &str,
    ) -> Result<super::verdicts::Put, StoreError> {
        use super::verdicts::Put;
        let (this, anchor, json) = (self.clone(), anchor.to_string(), json.to_string());
        blocking(move || {
            let txn = this.begin_write()?;
            let current = {
                let anchors = txn.open_table(ANCHORS).map_err(unavailable)?;
                current_version(&anchors, &anchor)?
            };
            if current != Some(version) {
                txn.abort().map_err(unavailable)?;
                return Ok(Put::Moved);
            }
            {
                let mut table = txn.open_table(VERDICTS).map_err(unavailable)?;
                let revision = table
                    .get(anchor.as_str())
                    .map_err(unavailable)?
                    .and_then(|v| super::verdicts::decode(v.value()).map(|d| d.revision))
                    .unwrap_or(0);
                if seen.is_some_and(|seen| seen != revision) {
                    drop(table);
                    txn.abort().map_err(unavailable)?;
                    return Ok(Put::Changed);
                }
                let value = super::verdicts::encode(version, revision + 1, &json);
                table
                    .insert(anchor.as_str(), value.as_str())
                    .map_err(unavailable)?;
            }
            this.commit(txn)?;
            Ok(Put::Written)
        })
        .await
    }

    async fn for_each_verdicts(
        &self,
        sink: &mut super::verdicts::VerdictSink<'_>,
    ) -> Result<(), StoreError> {
        for (anchor, stored) in self.documents(VERDICTS)? {
            if let Some(decoded) = super::verdicts::decode(&stored) {
                sink(&anchor, decoded.json)?;
            }
        }
        Ok(())
    }
}

/// In the file, so a session outlives a restart; each put also removes up to `NONCE_SWEEP` expired sessions.
#[async_trait::async_trait]
impl super::SessionStore for EmbeddedStore {
    async fn put_session(
        &self,
        name: &str,
        document: &str,
        ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let expiry = now.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let (this, name, value) = (
            self.clone(),
            name.to_string(),
            format!("{expiry} {document}"),
        );
        blocking(move || {
            let txn = this.begin_write()?;
            {
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let mut expiries = txn.open_table(SESSION_EXPIRIES).map_err(unavailable)?;
                let expired: Vec<(u64, String)> = expiries
                    .range(..(now, ""))
                    .map_err(unavailable)?
                    .take(NONCE_SWEEP)
                    .map(|e| e.map(|(k, _)| (k.value().0, k.value().1.to_string())))
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)?;
                for (at, old) in &expired {
                    expiries.remove((*at, old.as_str())).map_err(unavailable)?;
                    sessions.remove(old.as_str()).map_err(unavailable)?;
                }
                if let Some(old) = sessions
                    .insert(name.as_str(), value.as_str())
                    .map_err(unavailable)?
                    && let Some(at) = session_expiry(old.value())
                {
                    expiries.remove((at, name.as_str())).map_err(unavailable)?;
                }
                expiries
                    .insert((expiry, name.as_str()), ())
                    .map_err(unavailable)?;
            }
            this.commit(txn)
        })
        .await
    }

    async fn session(&self, name: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(unavailable)?;
        let table = match txn.open_table(SESSIONS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let Some(stored) = table.get(name).map_err(unavailable)? else {
            return Ok(None);
        };
        let stored = stored.value();
        let live = session_expiry(stored).is_some_and(|at| at > now_ms());
        Ok(live
            .then(|| stored.split_once(' ').map(|(_, doc)| doc.to_string()))
            .flatten())
    }

    async fn delete_session(&self, name: &str) -> Result<bool, StoreError> {
        let (this, name) = (self.clone(), name.to_string());
        blocking(move || {
            let txn = this.begin_write()?;
            let removed = {
                let mut sessions = txn.open_table(SESSIONS).map_err(unavailable)?;
                let mut expiries = txn.open_table(SESSION_EXPIRIES).map_err(unavailable)?;
                let old = sessions
                    .remove(name.as_str())
                    .map_err(unavailable)?
                    .map(|v| session_expiry(v.value()));
                if let Some(Some(at)) = old {
                    expiries.remove((at, name.as_str())).map_err(unavailable)?;
                }
                old.is_some()
            };
            this.commit(txn)?;
            Ok(removed)
        })
        .await
    }
}

/// The expiry (unix ms) of a stored session value.
fn session_expiry(stored: &str) -> Option<u64> {
    stored.split_once(' ')?.0.parse().ok()
}

#[async_trait::async_trait]
impl Coordination for EmbeddedStore {
    async fn claim_first_start(&self) -> Result<bool, StoreError> {
        let this = self.clone();
        blocking(move || {
            let txn = this.begin_write()?;
            let first = {
                let mut meta = txn.open_table(META).map_err(unavailable)?;
                meta.insert("initialised", 1)
                    .map_err(unavailable)?
                    .is_none()
            };
            this.commit(txn)?;
            Ok(first)
        })
        .await
    }

    /// In the file, in its own transaction: a token replayed after a restart is refused as before it.
    async fn claim_nonce(&self, nonce: &str, ttl: std::time::Duration) -> Result<bool, StoreError> {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.claim_nonce_at(nonce, now_ms(), ttl_ms).await
    }

    /// A read of the anchors table: the file can be read (writes go through the same database).
    async fn ready(&self) -> Result<(), StoreError> {
        self.read_many(&["readyz"]).map(|_| ())
    }

    /// This process is the file's only writer (redb locks it): there is no one else to hear from.
    fn subscribe(&self, _sink: Sink) -> bool {
        false
    }
}

impl EmbeddedStore {
    /// `claim_nonce` at a given time (unix ms). Removes up to `NONCE_SWEEP` claims expired by then.
    async fn claim_nonce_at(&self, nonce: &str, now: u64, ttl_ms: u64) -> Result<bool, StoreError> {
        let (this, nonce) = (self.clone(), nonce.to_string());
        blocking(move || {
            let txn = this.begin_write()?;
            let claimed = {
                let mut nonces = txn.open_table(NONCES).map_err(unavailable)?;
                let mut expiries = txn.open_table(NONCE_EXPIRIES).map_err(unavailable)?;
                let expired: Vec<(u64, String)> = expiries
                    .range(..(now, ""))
                    .map_err(unavailable)?
                    .take(NONCE_SWEEP)
                    .map(|e| e.map(|(k, _)| (k.value().0, k.value().1.to_string())))
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)?;
                for (expiry, old) in &expired {
                    expiries
                        .remove((*expiry, old.as_str()))
                        .map_err(unavailable)?;
                    nonces.remove(old.as_str()).map_err(unavailable)?;
                }
                let live = nonces
                    .get(nonce.as_str())
                    .map_err(unavailable)?
                    .map(|v| v.value())
                    .filter(|expiry| *expiry > now);
                match live {
                    Some(_) => false,
                    None => {
                        let expiry = now.saturating_add(ttl_ms);
                        if let Some(old) =
                            nonces.insert(nonce.as_str(), expiry).map_err(unavailable)?
                        {
                            expiries
                                .remove((old.value(), nonce.as_str()))
                                .map_err(unavailable)?;
                        }
                        expiries
                            .insert((expiry, nonce.as_str()), ())
                            .map_err(unavailable)?;
                        true
                    }
                }
            };
            if claimed {
                this.commit(txn)?;
            } else {
                txn.abort().map_err(unavailable)?;
            }
            Ok(claimed)
        })
        .await
    }

    /// One step of an audit trim, in one write transaction. Partitions are visited in key order from `resume`; within
    /// a partition entries are in write order, so the first entry at or after `before_ms` ends the partition's visit.
    fn trim_audit_now(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<super::TrimStep, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let txn = self.begin_write()?;
        let step = {
            let mut table = txn.open_table(AUDIT).map_err(unavailable)?;
            let mut doomed: Vec<(String, u64)> = Vec::new();
            let budget = budget.max(1);
            let mut examined = 0usize;
            // The partition to start at (included: a step may stop in the middle of one).
            let mut from: Option<(String, bool)> = resume.map(|p| (p, true));
            let resume = 'pass: loop {
                let range = match &from {
                    None => table.range::<(&str, u64)>(..),
                    Some((p, true)) => table.range((Included((p.as_str(), 0u64)), Unbounded)),
                    Some((p, false)) => table.range((Excluded((p.as_str(), u64::MAX)), Unbounded)),
                }
                .map_err(unavailable)?;
                let mut newer_in = None;
                for entry in range {
                    let (k, v) = entry.map_err(unavailable)?;
                    let (part, seq) = k.value();
                    if examined >= budget {
                        break 'pass Some(part.to_string());
                    }
                    examined += 1;
                    if audit_time(part, seq, v.value())? < before_ms {
                        doomed.push((part.to_string(), seq));
                    } else {
                        newer_in = Some(part.to_string());
                        break;
                    }
                }
                match newer_in {
                    Some(part) => from = Some((part, false)),
                    None => break None,
                }
            };
            for (part, seq) in &doomed {
                table.remove((part.as_str(), *seq)).map_err(unavailable)?;
            }
            super::TrimStep {
                removed: doomed.len() as u64,
                resume,
            }
        };
        if step.removed > 0 {
            self.commit(txn)?;
        } else {
            txn.abort().map_err(unavailable)?;
        }
        Ok(step)
    }

    /// Claims remembered now (tests).
    #[cfg(test)]
    fn nonce_count(&self) -> u64 {
        let txn = self.db.begin_read().unwrap();
        match txn.open_table(NONCES) {
            Ok(t) => t.len().unwrap(),
            Err(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(desc: &str) -> AnchorRecord {
        AnchorRecord {
            item_description: desc.into(),
            default_link_type: None,
            links: vec![],
        }
    }

    #[tokio::test]
    async fn reads_see_every_commit_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let read = |s: &EmbeddedStore| {
            s.read_many(&["01/x"]).unwrap()[0]
                .as_ref()
                .map(|a| a.record.item_description.clone())
        };
        assert_eq!(read(&store), None);
        let kept = store.anchors().unwrap();
        store
            .put("01/x", record("a"), Precondition::None, "test")
            .await
            .unwrap();
        assert_eq!(read(&store).as_deref(), Some("a"), "a put is seen at once");
        assert!(
            kept.get("01/x").unwrap().is_none(),
            "a snapshot taken before stays as it was"
        );
        store
            .put("01/x", record("b"), Precondition::None, "test")
            .await
            .unwrap();
        assert_eq!(read(&store).as_deref(), Some("b"));
        store
            .delete("01/x", Precondition::None, "test")
            .await
            .unwrap();
        assert_eq!(read(&store), None, "so is a delete");
        store.restore("01/x", "test").await.unwrap();
        assert_eq!(read(&store).as_deref(), Some("b"), "and a restore");
        let payload = crate::registry::format::Payload::of(&record("c"));
        store
            .put_batch(vec![("01/x".into(), payload)], "test")
            .await
            .unwrap();
        assert_eq!(read(&store).as_deref(), Some("c"), "and an import");
    }

    #[test]
    fn audit_entries_are_written_as_serde_json_writes_them() {
        let whos = [
            "cli (idr import)",
            "a \"quoted\" \\ key\n\u{1}",
            "did:web:é.example",
        ];
        let ops = ["create", "replace", "delete", "restore", "purge", "import"];
        for (i, op) in ops.into_iter().enumerate() {
            let entry = StoredAudit {
                at_ms: 1_733_347_200_123 + i as u64,
                who: whos[i % whos.len()],
                identifier: "01/09520123456788/10/A%22B",
                operation: Operation::parse(op).unwrap(),
                before: (i % 2 == 1).then_some(u64::MAX - i as u64),
                after: (i % 3 != 2).then_some(i as u64),
            };
            let mut ours = Vec::new();
            entry.write_json(&mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&entry).unwrap()
            );
        }
    }

    #[tokio::test]
    async fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .put_batch(
                    vec![
                        ("01/a".into(), Payload::of(&record("a"))),
                        ("01/b".into(), Payload::of(&record("b"))),
                    ],
                    "test",
                )
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let mut seen = Vec::new();
        store
            .for_each(&mut |k, a| {
                seen.push((k.to_string(), a.record.item_description.clone()));
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            seen,
            vec![("01/a".into(), "a".into()), ("01/b".into(), "b".into())]
        );
    }

    #[tokio::test]
    async fn nonces_are_claimed_once_until_they_expire_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = 1_800_000_000_000;
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert!(store.claim_nonce_at("a", t0, 1000).await.unwrap());
            assert!(!store.claim_nonce_at("a", t0 + 999, 1000).await.unwrap());
            assert!(store.claim_nonce_at("b", t0, 5000).await.unwrap());
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert!(
            !store.claim_nonce_at("a", t0 + 500, 1000).await.unwrap(),
            "remembered across a reopen"
        );
        assert!(!store.claim_nonce_at("b", t0 + 4999, 5000).await.unwrap());
        assert!(
            store.claim_nonce_at("a", t0 + 1000, 1000).await.unwrap(),
            "expired"
        );
        assert!(
            !store.claim_nonce_at("a", t0 + 1999, 1000).await.unwrap(),
            "claimed anew"
        );
        // The real clock: a claim is a claim.
        assert!(
            store
                .claim_nonce("c", std::time::Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !store
                .claim_nonce("c", std::time::Duration::from_secs(60))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn expired_nonces_are_swept_a_bounded_number_per_claim() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let t0 = 1_800_000_000_000;
        for i in 0..200 {
            assert!(
                store
                    .claim_nonce_at(&format!("old{i}"), t0, 10)
                    .await
                    .unwrap()
            );
        }
        assert_eq!(store.nonce_count(), 200);
        // Long after they expired: each claim takes away at most NONCE_SWEEP of them.
        assert!(store.claim_nonce_at("new0", t0 + 1000, 10).await.unwrap());
        assert_eq!(store.nonce_count(), 200 - NONCE_SWEEP as u64 + 1);
        for i in 1..4 {
            store
                .claim_nonce_at(&format!("new{i}"), t0 + 1000, 10)
                .await
                .unwrap();
        }
        assert_eq!(store.nonce_count(), 4, "only the live claims are left");
    }
}

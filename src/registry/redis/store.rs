//! `RedisStore`: the registry's parts (anchors, audit, documents, coordination) over Redis. Reads are `GET`/`MGET` (per-thread connections for scans on a
//! standalone Redis); writes run the Lua scripts (`scripts`) on the write connection and are confirmed by `WAIT` on
//! the connection they ran on when configured; scans, exports and audit trims `SCAN` every primary.

use super::Target;
use super::cluster::{primaries, same_slot, slot};
use super::conn::{Conn, PerThread, Written, check_seeds, open};
use super::dial::{DialError, Dialer};

use super::keys::{canonical_of, key};
use super::link::Failure;
use super::listener::listen;
use super::scripts::{self, Checked, DELETE, PUT, RESTORE, Restored};
use super::target::{Addr, Topology};
use super::unavailable;
use crate::config::StoreSettings;
use crate::registry::audit::{AuditEntry, AuditQuery};
use crate::registry::{
    AnchorRecord, AnchorSink, AnchorStore, AuditStore, Coordination, DocumentStore, ListQuery,
    Page, Precondition, PutOutcome, Sink, StoreError, StoredAnchor, Take,
};
use futures_util::{StreamExt, TryStreamExt};
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{FromRedisValue, RedisError, RedisResult};
use std::sync::Arc;
use std::time::Duration;

mod audit;

/// How many writes an import keeps in flight on the multiplexed connection.
const IMPORT_CONCURRENCY: usize = 64;
const SCAN_COUNT: usize = 1000;

pub struct RedisStore {
    /// Reads other than scans' (versions, audit, listings), and writes unless `writer` differs.
    conn: Conn,
    /// Scans' reads on a standalone Redis: a connection per thread, made on first use on that thread's runtime, so
    /// that the worker awaiting a reply also drives the connection. Through the shared connection, whose task runs
    /// on another thread, every round trip woke that thread and then the worker again. `None` for a cluster.
    scans: Option<PerThread>,
    /// Writes (the same connection as `conn` unless writes wait for replicas).
    writer: Conn,
    prefix: String,
    channel: String,
    /// Where the nodes are and how to connect to them: for subscriptions and scans.
    dialer: Arc<Dialer>,
    wait: Option<(u32, u64)>,
    timeout: Duration,
}

impl RedisStore {
    /// Connects. A standalone Redis that is down is not an error here: the connection is made on first use and
    /// re-made after failures, so a replica starts and recovers without a restart. A cluster needs one seed node
    /// up to learn its topology.
    pub async fn connect(settings: &StoreSettings) -> Result<RedisStore, StoreError> {
        let target = Target::from_settings(settings).map_err(unavailable)?;
        Self::connect_to(target, settings).await
    }

    /// `connect` to a target parsed beforehand (`Target::from_settings`). A node that answers but refuses us (a TLS
    /// certificate, the ACL user or password) is an error here, at start-up; one that does not answer yet is not.
    pub async fn connect_to(
        target: Target,
        settings: &StoreSettings,
    ) -> Result<RedisStore, StoreError> {
        let timeout = Duration::from_millis(settings.redis_timeout_ms);
        let cluster = matches!(target.topology, Topology::Cluster(_));
        let dialer = Arc::new(Dialer::new(Arc::new(target), timeout));
        if let Topology::Cluster(seeds) = &dialer.target.topology {
            check_seeds(&dialer, seeds).await?;
        } else {
            match dialer.open(redis::AsyncConnectionConfig::new()).await {
                Err(DialError::Refused(e)) => return Err(StoreError::Unavailable(e)),
                Err(DialError::Unreachable(e)) => {
                    tracing::warn!(error = %e, "Redis is not reachable yet; connecting on first use");
                }
                Ok(_) => {}
            }
        }
        let conn = open(&dialer, timeout, false).await?;
        let wait = (settings.redis_wait_replicas > 0)
            .then_some((settings.redis_wait_replicas, settings.redis_wait_timeout_ms));
        // `WAIT` covers the writes of the connection it runs on and blocks it meanwhile: writes get their own
        // connection, with room for the wait in its timeout, so reads never queue behind a `WAIT`. On a cluster,
        // writes always get their own, which never retries.
        let writer = match wait {
            Some((_, wait_ms)) => {
                open(&dialer, timeout + Duration::from_millis(wait_ms), true).await?
            }
            None if cluster => open(&dialer, timeout, true).await?,
            None => conn.clone(),
        };
        let prefix = settings.redis_key_prefix.clone();
        let scans = if cluster {
            None
        } else {
            Some(PerThread::new(dialer.clone(), timeout))
        };
        Ok(RedisStore {
            conn,
            scans,
            writer,
            channel: format!("{prefix}:invalidate"),
            prefix,
            dialer,
            wait,
            timeout,
        })
    }

    fn anchor_key(&self, canonical: &str) -> String {
        key(&self.prefix, "a", canonical)
    }

    fn tombstone_key(&self, canonical: &str) -> String {
        key(&self.prefix, "t", canonical)
    }

    /// The copy a delete keeps; same hash tag, so it shares the anchor's slot.
    fn deleted_key(&self, canonical: &str) -> String {
        key(&self.prefix, "d", canonical)
    }

    /// The keys of the write scripts (`PUT`, `DELETE`, `RESTORE`): anchor, tombstone, deleted copy, audit list.
    fn anchor_keys(&self, canonical: &str) -> [String; 4] {
        [
            self.anchor_key(canonical),
            self.tombstone_key(canonical),
            self.deleted_key(canonical),
            self.audit_key(canonical),
        ]
    }

    /// Runs `script` on this store's connections (`scripts::call`).
    async fn script<T: FromRedisValue>(
        &self,
        script: &scripts::Script,
        key: &str,
        keys: &[String],
        args: &[&[u8]],
    ) -> Result<(T, Written), StoreError> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        scripts::call((&self.conn, &self.writer), script, key, &keys, args).await
    }

    /// Waits for replicas to acknowledge the write when configured (`WAIT`), on the node that holds `key`. A write
    /// fewer replicas confirmed in time is not acknowledged: it is on the primary and may survive, or be lost in a
    /// failover, so it is answered as uncertain (`503`, repeat it), never as done.
    async fn wait_for_replicas(&self, key: &str, written: &Written) -> Result<(), StoreError> {
        let Some((replicas, timeout_ms)) = self.wait else {
            return Ok(());
        };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(timeout_ms);
        let acked: RedisResult<i64> = match &self.writer {
            // On the write's own connection and never repeated: `WAIT` counts the writes of the connection it runs
            // on, so on a new one (after the write's closed, maybe in a failover) it would confirm nothing.
            Conn::Single(link) => match written {
                Some(pinned) => link
                    .send_on(pinned, &cmd)
                    .await
                    .map_err(Failure::into_inner),
                None => Err(RedisError::from(std::io::Error::other(
                    "no connection to wait on",
                ))),
            },
            Conn::Cluster(c) => {
                // On the primary that took the write: the same per-node connection the script went through.
                let route = Route::with_slot(slot(key), SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                match c.clone().route_command(cmd, routing).await {
                    Ok(value) => i64::from_redis_value(value).map_err(RedisError::from),
                    Err(e) => Err(e),
                }
            }
        };
        match acked {
            Ok(n) if n >= i64::from(replicas) => Ok(()),
            Ok(n) => {
                tracing::warn!(
                    key,
                    acked = n,
                    wanted = replicas,
                    "write not on enough Redis replicas in time"
                );
                Err(StoreError::Uncertain(format!(
                    "{n} of {replicas} replicas confirmed the write within {timeout_ms} ms"
                )))
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "could not confirm replication of a write");
                Err(StoreError::Uncertain(format!(
                    "replication of the write not confirmed: {e}"
                )))
            }
        }
    }

    /// A data connection to one node (a cluster primary, or the master), with the URL's credentials and TLS.
    async fn node_connection(
        &self,
        node: &Addr,
    ) -> Result<redis::aio::MultiplexedConnection, StoreError> {
        let (conn, driver) = self
            .dialer
            .node(node, redis::AsyncConnectionConfig::new())
            .await
            .map_err(unavailable)?;
        tokio::spawn(driver);
        Ok(conn)
    }

    /// Addresses of every node to scan: the standalone server or Sentinel's master, or each cluster primary.
    async fn scan_nodes(&self) -> Result<Vec<Addr>, StoreError> {
        if !matches!(self.dialer.target.topology, Topology::Cluster(_)) {
            return Ok(vec![self.dialer.master().await.map_err(unavailable)?]);
        }
        let text: String = self
            .conn
            .query(redis::cmd("CLUSTER").arg("NODES"))
            .await
            .map_err(unavailable)?;
        primaries(&text)
    }

    /// The `limit` smallest anchor paths after `after` that `query` takes, by one `SCAN` of every primary.
    async fn smallest_paths(
        &self,
        query: &ListQuery<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut smallest = std::collections::BTreeSet::new();
        let prefix = self.prefix.clone();
        self.scan(&mut |keys, _| {
            for k in keys {
                let Some(path) = canonical_of(&prefix, &k) else {
                    continue;
                };
                let later = after.is_none_or(|a| path.as_str() > a);
                if later && path.starts_with(query.prefix) && (query.keep)(&path) {
                    smallest.insert(path);
                    if smallest.len() > limit {
                        smallest.pop_last();
                    }
                }
            }
            ScanStep::Fetch(Box::pin(async { Ok(()) }))
        })
        .await?;
        Ok(smallest.into_iter().collect())
    }

    /// Calls `visit` with batches of anchor keys found by `SCAN` on every node, with a connection to that node.
    async fn scan(
        &self,
        visit: &mut (dyn FnMut(Vec<String>, redis::aio::MultiplexedConnection) -> ScanStep + Send),
    ) -> Result<(), StoreError> {
        self.scan_matching(&format!("{}:a:*", self.prefix), visit)
            .await
    }

    /// `scan` of the keys matching a `SCAN … MATCH` pattern.
    async fn scan_matching(
        &self,
        pattern: &str,
        visit: &mut (dyn FnMut(Vec<String>, redis::aio::MultiplexedConnection) -> ScanStep + Send),
    ) -> Result<(), StoreError> {
        for node in self.scan_nodes().await? {
            let mut conn = self.node_connection(&node).await?;
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT);
                let (next, keys): (u64, Vec<String>) =
                    cmd.query_async(&mut conn).await.map_err(unavailable)?;
                if !keys.is_empty() {
                    match visit(keys, conn.clone()) {
                        ScanStep::Stop => return Ok(()),
                        ScanStep::Fetch(fetch) => fetch.await?,
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// What a scan visitor wants next.
enum ScanStep {
    Stop,
    Fetch(futures_util::future::BoxFuture<'static, Result<(), StoreError>>),
}

impl RedisStore {
    /// Small named documents beside the anchors (run-time schemes, API keys), one hash per kind.
    /// Written like an anchor: once, on the write connection, confirmed by `WAIT` when configured (a revoked key or
    /// a registered scheme must survive a failover as an anchor does).
    async fn put_document(&self, kind: &str, name: &str, document: &str) -> Result<(), StoreError> {
        let hash = format!("{}:{kind}", self.prefix);
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&hash).arg(name).arg(document);
        let (_, written): (i64, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        self.wait_for_replicas(&hash, &written).await
    }

    /// Tells every replica's feed that the run-time link-type vocabularies changed.
    async fn announce_link_types(&self) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.channel.as_str())
            .arg(super::super::LINK_TYPES_CHANGED);
        let (_, _written): (i64, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        Ok(())
    }

    async fn documents(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(format!("{}:{kind}", self.prefix));
        self.conn.query(&cmd).await.map_err(unavailable)
    }
}

fn precondition_args(p: &Precondition) -> (&'static str, String) {
    match p {
        Precondition::None => ("none", String::new()),
        Precondition::Version(list) => (
            "version",
            list.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Precondition::Exists => ("exists", String::new()),
        Precondition::Absent => ("absent", String::new()),
    }
}

fn decode(key: &str, bytes: Option<Vec<u8>>) -> Result<Option<Arc<StoredAnchor>>, StoreError> {
    bytes
        .map(|b| {
            StoredAnchor::decode(&b)
                .map(Arc::new)
                .map_err(|source| StoreError::Decode {
                    key: key.to_string(),
                    source,
                })
        })
        .transpose()
}

impl RedisStore {
    /// The encoded records of `keys`, in their order, in one round trip: one `MGET` when the keys share a slot.
    async fn fetch(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let redis_keys: Vec<String> = keys.iter().map(|k| self.anchor_key(k)).collect();
        let local = self.scans.as_ref().map(PerThread::conn);
        let conn = local.as_ref().unwrap_or(&self.conn);
        Ok(match redis_keys.as_slice() {
            [] => Vec::new(),
            [one] => vec![
                conn.query(redis::cmd("GET").arg(one))
                    .await
                    .map_err(unavailable)?,
            ],
            many if same_slot(many) => conn
                .query(redis::cmd("MGET").arg(many))
                .await
                .map_err(unavailable)?,
            many => {
                // Keys of different identifiers: one GET each, in flight together.
                let gets = many.iter().map(|k| async move {
                    conn.query::<Option<Vec<u8>>>(redis::cmd("GET").arg(k))
                        .await
                });
                futures_util::future::try_join_all(gets)
                    .await
                    .map_err(unavailable)?
            }
        })
    }

    /// Runs the put script; `op` is the audit operation (`put`: create or replace; `import`).
    async fn write(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
        op: &str,
    ) -> Result<PutOutcome, StoreError> {
        let payload = crate::registry::format::payload(&record);
        let (version, created) = self
            .write_payload(key, &payload, precondition, who, op)
            .await?;
        let stored = Arc::new(StoredAnchor { version, record });
        Ok(PutOutcome { stored, created })
    }

    /// `write` of a record already encoded (`format::payload`): (new version, created).
    async fn write_payload(
        &self,
        key: &str,
        payload: &[u8],
        precondition: Precondition,
        who: &str,
        op: &str,
    ) -> Result<(u64, bool), StoreError> {
        let (mode, versions) = precondition_args(&precondition);
        let args: [&[u8]; 7] = [
            mode.as_bytes(),
            versions.as_bytes(),
            payload,
            self.channel.as_bytes(),
            key.as_bytes(),
            who.as_bytes(),
            op.as_bytes(),
        ];
        let keys = self.anchor_keys(key);
        let (reply, written): (Checked<(i64, i64)>, Written) =
            self.script(&PUT, key, &keys, &args).await?;
        let (version, created) = reply.applied()?;
        self.wait_for_replicas(&keys[0], &written).await?;
        Ok((version as u64, created == 1))
    }
}

impl RedisStore {
    /// Runs the delete script: `mode` is `soft` (keep a copy for `restore`) or `hard` (keep none, drop a kept one).
    async fn remove(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
        mode: &str,
    ) -> Result<bool, StoreError> {
        let (check, versions) = precondition_args(&precondition);
        let args: [&[u8]; 6] = [
            check.as_bytes(),
            versions.as_bytes(),
            self.channel.as_bytes(),
            key.as_bytes(),
            who.as_bytes(),
            mode.as_bytes(),
        ];
        let keys = self.anchor_keys(key);
        let (reply, written): (Checked<(i64,)>, Written) =
            self.script(&DELETE, key, &keys, &args).await?;
        let (existed,) = reply.applied()?;
        self.wait_for_replicas(&keys[0], &written).await?;
        Ok(existed == 1)
    }
}

#[async_trait::async_trait]
impl AnchorStore for RedisStore {
    /// Every read is a round trip: a resolution fetches all its levels at once.
    fn local_reads(&self) -> bool {
        false
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        let values = self.fetch(keys).await?;
        keys.iter().zip(values).map(|(k, v)| decode(k, v)).collect()
    }

    /// Decodes only the levels `take` asks for: a scan settled by its own level leaves the levels above, which came
    /// with the same `MGET`, undecoded.
    async fn get_until(&self, keys: &[&str], take: &mut Take<'_>) -> Result<(), StoreError> {
        for (key, value) in keys.iter().zip(self.fetch(keys).await?) {
            if take(decode(key, value)?) {
                break;
            }
        }
        Ok(())
    }

    async fn put(
        &self,
        key: &str,
        record: AnchorRecord,
        precondition: Precondition,
        who: &str,
    ) -> Result<PutOutcome, StoreError> {
        self.write(key, record, precondition, who, "put").await
    }

    async fn delete(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        self.remove(key, precondition, who, "soft").await
    }

    async fn delete_hard(
        &self,
        key: &str,
        precondition: Precondition,
        who: &str,
    ) -> Result<bool, StoreError> {
        self.remove(key, precondition, who, "hard").await
    }

    /// The script hands back the record it restored: read again afterwards, it could already be gone (a hard delete
    /// right after), and a restore that happened would be answered as a failure.
    async fn restore(&self, key: &str, who: &str) -> Result<Option<PutOutcome>, StoreError> {
        let keys = self.anchor_keys(key);
        let args: [&[u8]; 3] = [self.channel.as_bytes(), key.as_bytes(), who.as_bytes()];
        let (reply, written): (Checked<Restored>, Written) =
            self.script(&RESTORE, key, &keys, &args).await?;
        let Restored(Some(bytes)) = reply.applied()? else {
            return Ok(None);
        };
        let stored = decode(key, Some(bytes))?
            .ok_or_else(|| unavailable("the restore script returned no record"))?;
        self.wait_for_replicas(&keys[0], &written).await?;
        Ok(Some(PutOutcome {
            stored,
            created: true,
        }))
    }

    async fn put_batch(
        &self,
        batch: Vec<(String, crate::registry::format::Payload)>,
        who: &str,
    ) -> Result<(), StoreError> {
        futures_util::stream::iter(batch)
            .map(|(key, payload)| async move {
                self.write_payload(&key, payload.as_bytes(), Precondition::None, who, "import")
                    .await
                    .map(|_| ())
            })
            .buffer_unordered(IMPORT_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let mut found = false;
        self.scan(&mut |_, _| {
            found = true;
            ScanStep::Stop
        })
        .await?;
        Ok(!found)
    }

    /// A `SCAN` of every primary keeps the `limit` smallest paths after the cursor (so a page costs a pass over the
    /// keys, not memory beyond the page), then reads them. An anchor deleted in between leaves a gap that the next
    /// pass fills, so a short page means the end.
    async fn list(&self, query: &ListQuery<'_>) -> Result<Page, StoreError> {
        let mut page = Page::new();
        let mut after = query.after.map(str::to_string);
        loop {
            let wanted = query.limit - page.len();
            let paths = self.smallest_paths(query, after.as_deref(), wanted).await?;
            let full = paths.len() == wanted;
            after = paths.last().cloned();
            let reads = paths.iter().map(|path| self.get(path));
            let records = futures_util::future::try_join_all(reads).await?;
            page.extend(
                paths
                    .into_iter()
                    .zip(records)
                    .filter_map(|(path, record)| Some((path, record?))),
            );
            if !full || page.len() >= query.limit {
                return Ok(page);
            }
        }
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        self.for_each_matching(&format!("{}:a:*", self.prefix), sink)
            .await
    }

    /// The pattern keys only (`{prefix}:a:{~pattern/…`); `SCAN` still walks the keyspace, but fetches nothing else.
    async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
        let mut found = Vec::new();
        let pattern = format!("{}:a:{{{}*", self.prefix, crate::registry::patterns::ROOT);
        self.for_each_matching(&pattern, &mut |path, record| {
            found.push((path.to_string(), Arc::new(record.clone())));
            Ok(())
        })
        .await?;
        Ok(found)
    }
}

impl RedisStore {
    /// Calls `sink` for every anchor whose key matches `pattern` (`SCAN … MATCH`).
    async fn for_each_matching(
        &self,
        pattern: &str,
        sink: &mut AnchorSink<'_>,
    ) -> Result<(), StoreError> {
        let prefix = self.prefix.clone();
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<Result<(String, StoredAnchor), StoreError>>(SCAN_COUNT);
        let scanning = async {
            let result = self
                .scan_matching(pattern, &mut |keys, mut conn| {
                    let (tx, prefix) = (tx.clone(), prefix.clone());
                    ScanStep::Fetch(Box::pin(async move {
                        let mut pipe = redis::pipe();
                        for k in &keys {
                            pipe.get(k);
                        }
                        let values: Vec<Option<Vec<u8>>> =
                            pipe.query_async(&mut conn).await.map_err(unavailable)?;
                        for (k, v) in keys.iter().zip(values) {
                            let Some(canonical) = canonical_of(&prefix, k) else {
                                continue;
                            };
                            if let Some(anchor) = decode(k, v)? {
                                let item = (canonical, Arc::unwrap_or_clone(anchor));
                                if tx.send(Ok(item)).await.is_err() {
                                    return Ok(());
                                }
                            }
                        }
                        Ok(())
                    }))
                })
                .await;
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
            drop(tx);
        };
        // Owns the receiver, so a sink that stops early (closed output) closes the channel and the scan ends.
        let draining = async move {
            while let Some(item) = rx.recv().await {
                let (key, anchor) = item?;
                sink(&key, &anchor)?;
            }
            Ok::<(), StoreError>(())
        };
        let ((), drained) = tokio::join!(scanning, draining);
        drained
    }
}

#[async_trait::async_trait]
impl AuditStore for RedisStore {
    async fn audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_audit(query).await
    }

    async fn trim_audit(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<crate::registry::TrimStep, StoreError> {
        self.trim_audit_lists(before_ms, budget, resume).await
    }

    async fn export_audit(
        &self,
        sink: &mut crate::registry::AuditSink<'_>,
    ) -> Result<(), StoreError> {
        self.export_audit_lists(sink).await
    }
}

/// One hash per kind of document (`{prefix}:schemes`, `{prefix}:keys`).
#[async_trait::async_trait]
impl DocumentStore for RedisStore {
    async fn put_scheme(&self, namespace: &str, definition: &str) -> Result<(), StoreError> {
        self.put_document("schemes", namespace, definition).await
    }

    async fn schemes(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents("schemes").await
    }

    async fn put_api_key(&self, name: &str, record: &str) -> Result<(), StoreError> {
        self.put_document("keys", name, record).await
    }

    async fn api_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents("keys").await
    }

    async fn put_link_types(&self, prefix: &str, definition: &str) -> Result<(), StoreError> {
        self.put_document("linktypes", prefix, definition).await?;
        self.announce_link_types().await
    }

    async fn link_types(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents("linktypes").await
    }

    async fn delete_link_types(&self, prefix: &str) -> Result<bool, StoreError> {
        let hash = format!("{}:linktypes", self.prefix);
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(&hash).arg(prefix);
        let (removed, written): (i64, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        self.wait_for_replicas(&hash, &written).await?;
        self.announce_link_types().await?;
        Ok(removed > 0)
    }
}

/// One key per anchor, `{prefix}:v:{primary}rest`: the anchor's hash tag, so it shares the anchor's cluster slot.
/// Written by a script that compares the version with the anchor's record's and publishes the change on the
/// invalidation feed.
#[async_trait::async_trait]
impl crate::registry::VerdictStore for RedisStore {
    /// One `MGET` when the keys share a slot (the levels of one identifier), else one `GET` each, in flight together.
    async fn verdicts(&self, anchors: &[&str]) -> Result<Vec<Option<String>>, StoreError> {
        let keys: Vec<String> = anchors.iter().map(|a| key(&self.prefix, "v", a)).collect();
        let values: Vec<Option<String>> = match keys.as_slice() {
            [] => Vec::new(),
            many if many.len() > 1 && same_slot(many) => self
                .conn
                .query(redis::cmd("MGET").arg(many))
                .await
                .map_err(unavailable)?,
            many => {
                let gets = many.iter().map(|k| async move {
                    self.conn
                        .query::<Option<String>>(redis::cmd("GET").arg(k))
                        .await
                });
                futures_util::future::try_join_all(gets)
                    .await
                    .map_err(unavailable)?
            }
        };
        Ok(values
            .into_iter()
            .map(|v| {
                v.and_then(|v| crate::registry::verdicts::decode(&v).map(|d| d.json.to_string()))
            })
            .collect())
    }

    async fn revised(
        &self,
        anchor: &str,
    ) -> Result<crate::registry::verdicts::Revised, StoreError> {
        let stored: Option<String> = self
            .conn
            .query(redis::cmd("GET").arg(key(&self.prefix, "v", anchor)))
            .await
            .map_err(unavailable)?;
        let stored = stored
            .as_deref()
            .and_then(crate::registry::verdicts::decode);
        Ok(crate::registry::verdicts::Revised {
            revision: stored.map_or(0, |s| s.revision),
            json: stored.map(|s| s.json.to_string()),
        })
    }

    /// The record's version and the document's revision are compared inside the script (`scripts::PUT_VERDICTS`),
    /// the anchor's key beside the verdicts' in one hash slot.
    async fn put_verdicts_over(
        &self,
        anchor: &str,
        version: u64,
        seen: Option<u64>,
        json: &str,
    ) -> Result<crate::registry::verdicts::Put, StoreError> {
        use crate::registry::verdicts::Put;
        let keys = [
            key(&self.prefix, "v", anchor),
            key(&self.prefix, "a", anchor),
        ];
        let version = version.to_string();
        let seen = seen.map(|s| s.to_string()).unwrap_or_default();
        let event = crate::registry::verdicts::changed(anchor);
        let args: [&[u8]; 5] = [
            version.as_bytes(),
            seen.as_bytes(),
            json.as_bytes(),
            self.channel.as_bytes(),
            event.as_bytes(),
        ];
        let (written, _): (i64, Written) = self
            .script(&scripts::PUT_VERDICTS, anchor, &keys, &args)
            .await?;
        Ok(match written {
            1 => Put::Written,
            2 => Put::Changed,
            _ => Put::Moved,
        })
    }

    async fn for_each_verdicts(
        &self,
        sink: &mut crate::registry::verdicts::VerdictSink<'_>,
    ) -> Result<(), StoreError> {
        let prefix = self.prefix.clone();
        let found = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
        self.scan_matching(&format!("{prefix}:v:*"), &mut |keys, mut conn| {
            let (prefix, found) = (prefix.clone(), found.clone());
            ScanStep::Fetch(Box::pin(async move {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.get(k);
                }
                let values: Vec<Option<String>> =
                    pipe.query_async(&mut conn).await.map_err(unavailable)?;
                let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                for (k, v) in keys.iter().zip(values) {
                    let anchor = super::keys::canonical_of_kind(&prefix, "v", k);
                    if let (Some(anchor), Some(v)) = (anchor, v) {
                        found.push((anchor, v));
                    }
                }
                Ok(())
            }))
        })
        .await?;
        let found = std::mem::take(&mut *found.lock().unwrap_or_else(|e| e.into_inner()));
        for (anchor, stored) in found {
            if let Some(decoded) = crate::registry::verdicts::decode(&stored) {
                sink(&anchor, decoded.json)?;
            }
        }
        Ok(())
    }
}

/// One string per session with a TTL (`SET … PX`), so Redis forgets it when it expires. Written and deleted once on
/// the write connection and confirmed by `WAIT` when configured, so a sign-out survives a failover.
#[async_trait::async_trait]
impl crate::registry::SessionStore for RedisStore {
    async fn put_session(
        &self,
        name: &str,
        document: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = format!("{}:session:{name}", self.prefix);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key)
            .arg(document)
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        let (_, written): (String, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        self.wait_for_replicas(&key, &written).await
    }

    async fn session(&self, name: &str) -> Result<Option<String>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(format!("{}:session:{name}", self.prefix));
        self.conn.query(&cmd).await.map_err(unavailable)
    }

    async fn delete_session(&self, name: &str) -> Result<bool, StoreError> {
        let key = format!("{}:session:{name}", self.prefix);
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&key);
        let (removed, written): (i64, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        self.wait_for_replicas(&key, &written).await?;
        Ok(removed > 0)
    }
}

#[async_trait::async_trait]
impl Coordination for RedisStore {
    async fn claim_first_start(&self) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}:meta:initialised", self.prefix))
            .arg(1)
            .arg("NX");
        let reply: Option<String> = self.conn.query_once(&cmd).await.map_err(unavailable)?;
        Ok(reply.is_some())
    }

    /// `SET … NX PX`: one atomic step on the shared server, so a token replayed to another replica is refused too.
    /// Sent on the write connection and followed by `WAIT` like every write (`store.redis_wait_replicas`), so a
    /// claim a replica has not seen cannot be replayed after a failover to it.
    async fn claim_nonce(&self, nonce: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = format!("{}:nonce:{nonce}", self.prefix);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        let (reply, written): (Option<String>, Written) =
            self.writer.write_once(&cmd).await.map_err(unavailable)?;
        if reply.is_some() {
            // A claim the replicas did not confirm could be lost in a failover and the token replayed: refuse.
            self.wait_for_replicas(&key, &written).await?;
        }
        Ok(reply.is_some())
    }

    async fn ready(&self) -> Result<(), StoreError> {
        let pong: String = self
            .conn
            .query(&redis::cmd("PING"))
            .await
            .map_err(unavailable)?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(unavailable(format!("PING answered {pong}")))
        }
    }

    fn subscribe(&self, sink: Sink) -> bool {
        let dialer = self.dialer.clone();
        let channel = self.channel.clone();
        let timeout = self.timeout;
        tokio::spawn(listen(dialer, channel, sink, timeout));
        true
    }
}

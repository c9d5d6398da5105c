//! Redis as the shared link registry for many resolver replicas: standalone Redis, Redis behind Sentinel, or Redis
//! Cluster; over TLS and with an ACL user when configured (`target`).
//!
//! Keys: `{prefix}:a:{01/09520123456788}/10/ABC`. The hash tag is the primary key, so every level of one
//! identifier lives in one slot and a resolution is one `MGET`, on a cluster too. Writes run as Lua scripts, so the
//! precondition check, the version bump and the invalidation message are one atomic step. Values are the same
//! stored format the embedded store writes (`registry::format`); a reader refuses formats it does not know.

use super::audit::{self, AuditEntry, AuditQuery, Operation};
use super::{
    AnchorRecord, AnchorSink, LinkStore, Precondition, PutOutcome, Sink, StoreError, StoredAnchor,
    Take,
};
use crate::config::StoreSettings;
use futures_util::{StreamExt, TryStreamExt};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, RedisError, RedisResult, Script};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

mod dial;
mod link;
mod target;
use dial::{DialError, Dialer};
use link::{Failure, Link};
pub use target::Target;
use target::{Addr, Topology};

/// The start of both write scripts: read the current version (refusing a stored format we do not know) and check
/// the precondition. KEYS[1] is the anchor; ARGV[1] the precondition mode, ARGV[2] the accepted versions. On a failed
/// precondition the script returns {0, current version or -1}.
const CHECK: &str = r#"
local current = redis.call('GET', KEYS[1])
local version = nil
if current then
  local format, v = string.match(current, '^(%d+):(%d+):')
  if format ~= '__FORMAT__' then return redis.error_reply('IDR_FORMAT unknown stored format ' .. tostring(format)) end
  version = tonumber(v)
end
local mode = ARGV[1]
local ok = mode == 'none' or (mode == 'exists' and version ~= nil) or (mode == 'absent' and version == nil)
if mode == 'version' and version ~= nil then
  for v in string.gmatch(ARGV[2], '%d+') do
    if tonumber(v) == version then ok = true end
  end
end
if not ok then return {0, version or -1} end
"#;

/// Appends the audit entry to the primary key's audit list (same hash tag, so the same slot as the anchor), as a
/// JSON array `[ms, op, before, after, path, who]` timed by the Redis clock. A list, not a stream: a stream
/// preallocates a 4 KB node, which for the few entries of most identifiers cost 1,200 bytes per entry against about
/// 130 in a list (`MEMORY USAGE`, four import entries). Expects locals `log`, `path`, `who`, `op`, `before`, `after` (versions; false when absent).
const AUDIT: &str = r#"
local now = redis.call('TIME')
local ms = string.format('%d', tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
local function num(v) if v then return string.format('%d', v) end return 'null' end
redis.call('RPUSH', log, '[' .. ms .. ',"' .. op .. '",' .. num(before) .. ',' .. num(after) .. ','
  .. cjson.encode(path) .. ',' .. cjson.encode(who) .. ']')
"#;

/// Creates or replaces one anchor. KEYS: anchor, tombstone, deleted copy (dropped when the anchor is created anew),
/// audit list. ARGV[3..7]: record payload (`registry::format`), invalidation channel, canonical path, who, and
/// `put` or `import` (the audit operation). The `{format}:{version}:` header is the stored format's, written here so
/// the version bump is atomic with the check. Returns {1, version, created}.
static PUT: LazyLock<WriteScript> = LazyLock::new(|| {
    WriteScript::new(format!(
        "{CHECK}{}",
        r#"
local base = version
if base == nil then
  base = tonumber(redis.call('GET', KEYS[2]) or '0')
  redis.call('DEL', KEYS[2])
  redis.call('DEL', KEYS[3])
end
local next = base + 1
redis.call('SET', KEYS[1], '__FORMAT__:' .. next .. ':' .. ARGV[3])
local log, path, who, before, after = KEYS[4], ARGV[5], ARGV[6], version or false, next
local op = ARGV[7]
if op == 'put' then op = version and 'replace' or 'create' end
{AUDIT}
redis.call('PUBLISH', ARGV[4], ARGV[5])
if version == nil then return {1, next, 1} end
return {1, next, 0}
"#
        .replace("{AUDIT}", AUDIT)
    ))
});

/// Deletes one anchor, leaving a tombstone with its last version. A soft delete keeps a copy of the record (see
/// `RESTORE`); a hard one (ARGV[6] `hard`) keeps none and drops a copy an earlier delete kept, in the same step, so a
/// restore racing it either came first (and is removed too) or finds nothing. KEYS as for `PUT`; ARGV[3..6]:
/// channel, canonical path, who, `soft` or `hard`. Audited as `delete` (a live anchor was removed), then `purge`
/// (a hard delete). Returns {1, existed}: whether there was a live anchor or a kept copy to remove.
static DELETE: LazyLock<WriteScript> = LazyLock::new(|| {
    WriteScript::new(format!(
        "{CHECK}{}",
        r#"
local hard = ARGV[6] == 'hard'
local log, path, who = KEYS[4], ARGV[4], ARGV[5]
local kept = hard and redis.call('DEL', KEYS[3]) == 1
if version == nil and not kept then return {1, 0} end
if version ~= nil then
  if not hard then redis.call('SET', KEYS[3], current) end
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], version)
  local op, before, after = 'delete', version, false
  {AUDIT}
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
if hard then
  local op, before, after = 'purge', false, false
  {AUDIT}
end
return {1, 1}
"#
        .replace("{AUDIT}", AUDIT)
    ))
});

/// Brings back the last deleted record as a new version. KEYS as for `PUT`; ARGV[1..3]: channel, canonical path,
/// who. Returns {1, version, stored value}, {1, 0} when there is nothing to restore, or {0, current version} when an
/// anchor exists.
static RESTORE: LazyLock<WriteScript> = LazyLock::new(|| {
    WriteScript::new(
        r#"
local current = redis.call('GET', KEYS[1])
if current then
  local _, v = string.match(current, '^(%d+):(%d+):')
  return {0, tonumber(v)}
end
local copy = redis.call('GET', KEYS[3])
if not copy then return {1, 0} end
local p1 = string.find(copy, ':', 1, true)
local p2 = string.find(copy, ':', p1 + 1, true)
local format = string.sub(copy, 1, p1 - 1)
if format ~= '__FORMAT__' then return redis.error_reply('IDR_FORMAT unknown stored format ' .. tostring(format)) end
local base = tonumber(redis.call('GET', KEYS[2]) or string.sub(copy, p1 + 1, p2 - 1))
local next = base + 1
local value = '__FORMAT__:' .. next .. ':' .. string.sub(copy, p2 + 1)
redis.call('SET', KEYS[1], value)
redis.call('DEL', KEYS[2])
redis.call('DEL', KEYS[3])
local log, path, who, op, before, after = KEYS[4], ARGV[2], ARGV[3], 'restore', false, next
{AUDIT}
redis.call('PUBLISH', ARGV[1], ARGV[2])
return {1, next, value}
"#
        .replace("{AUDIT}", AUDIT),
    )
});

/// Removes the oldest entries of one audit list while they are older than ARGV[1] (unix ms), at most ARGV[2] of
/// them, and adds their number to the list's base (KEYS[2]): a cursor is the base plus the list index, so the
/// entries that stay keep their cursors. KEYS: audit list, its base. Returns how many were removed.
static TRIM_AUDIT: LazyLock<WriteScript> = LazyLock::new(|| {
    WriteScript::new(
        r#"
local before, max, n = tonumber(ARGV[1]), tonumber(ARGV[2]), 0
while n < max do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  local ms = tonumber(string.match(head, '^%[(%d+),'))
  if ms == nil or ms >= before then break end
  redis.call('LPOP', KEYS[1])
  n = n + 1
end
if n > 0 then redis.call('INCRBY', KEYS[2], n) end
return n
"#
        .to_string(),
    )
});

/// One page of an audit list with the list's base, read in one step so a trim cannot shift the indices between
/// the two. KEYS: audit list, its base; ARGV: first cursor wanted, page size. Returns {base, first index read, entries}.
const READ_AUDIT: &str = r#"
local base = tonumber(redis.call('GET', KEYS[2]) or '0')
local from = tonumber(ARGV[1]) - base
if from < 0 then from = 0 end
return {base, from, redis.call('LRANGE', KEYS[1], from, from + tonumber(ARGV[2]) - 1)}
"#;

/// A Lua write script, kept as source (for `EVAL`) and as a `Script` (for `EVALSHA`).
struct WriteScript {
    source: String,
    compiled: Script,
}

impl WriteScript {
    /// `__FORMAT__` in the source becomes the stored format's number.
    fn new(source: String) -> WriteScript {
        let source = source.replace("__FORMAT__", &super::format::FORMAT.to_string());
        WriteScript {
            compiled: Script::new(&source),
            source,
        }
    }
}

/// How often an idle invalidation subscription is checked.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How many writes an import keeps in flight on the multiplexed connection.
const IMPORT_CONCURRENCY: usize = 64;
const SCAN_COUNT: usize = 1000;

/// The connection a write ran on, where its `WAIT` must run (`None` on a cluster: `WAIT` is routed to the
/// primary that holds the key).
type Written = Option<link::Pinned>;

#[derive(Clone)]
enum Conn {
    Single(Arc<Link>),
    Cluster(ClusterConnection),
}

impl Conn {
    /// A read. Reads are idempotent: one whose connection dropped on the way is sent once more, on a fresh
    /// connection.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(link) => match link.send(cmd).await {
                Err(failure) if failure.dropped() => {
                    link.send(cmd).await.map_err(Failure::into_inner)
                }
                result => result.map_err(Failure::into_inner),
            },
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// A command that must not run twice (a claim): sent once, never repeated.
    async fn query_once<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        self.write_once(cmd).await.map(|(value, _)| value)
    }

    /// A write sent once, and the connection it ran on (for `WAIT`).
    async fn write_once<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<(T, Written)> {
        match self {
            Conn::Single(link) => link
                .send_pinned(cmd)
                .await
                .map(|(value, pinned)| (value, Some(pinned)))
                .map_err(Failure::into_inner),
            Conn::Cluster(c) => Ok((cmd.query_async(&mut c.clone()).await?, None)),
        }
    }

    /// Runs a write script, once: a failure after it was sent is not repeated (it may have been applied). A
    /// standalone Redis gets `EVALSHA` (loading the script on `NOSCRIPT`); a cluster gets `EVAL` routed by the first
    /// key, because after a failover a new primary lacks the script and redis-rs would then load it on every node,
    /// failing writes while any node is down.
    async fn run<T: FromRedisValue>(
        &self,
        script: &WriteScript,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<(T, Written), Failure> {
        match self {
            Conn::Single(link) => {
                let mut call = script.compiled.prepare_invoke();
                for k in keys {
                    call.key(*k);
                }
                for a in args {
                    call.arg(*a);
                }
                link.call(|mut conn| async move { call.invoke_async(&mut conn).await })
                    .await
                    .map(|(value, pinned)| (value, Some(pinned)))
            }
            Conn::Cluster(c) => {
                let mut cmd = redis::cmd("EVAL");
                cmd.arg(&script.source).arg(keys.len()).arg(keys);
                for a in args {
                    cmd.arg(*a);
                }
                cmd.query_async(&mut c.clone())
                    .await
                    .map(|value| (value, None))
                    .map_err(Failure::Sent)
            }
        }
    }
}

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

/// A connection to a standalone Redis per thread, each made lazily and re-made before its next command once it has
/// closed (`Link`). The threads that scan live as long as the server (its workers). A thread that ends leaves its
/// link to the next thread given its id; the connection's task ended with the old runtime, so that thread connects
/// anew on its own runtime before its first read.
struct PerThread {
    dialer: Arc<Dialer>,
    timeout: Duration,
    links: thread_local::ThreadLocal<Arc<Link>>,
}

impl PerThread {
    /// This thread's connection.
    fn conn(&self) -> Conn {
        let link = self
            .links
            .get_or(|| Arc::new(Link::new(self.dialer.clone(), self.timeout)));
        Conn::Single(link.clone())
    }
}

/// A connection to a standalone Redis or Sentinel's master (made lazily and re-made after failures) or to a cluster
/// (which needs one seed node up to learn its topology). `writes`: the cluster client never sends a command twice.
async fn open(dialer: &Arc<Dialer>, timeout: Duration, writes: bool) -> Result<Conn, StoreError> {
    let target = &dialer.target;
    let Topology::Cluster(seeds) = &target.topology else {
        return Ok(Conn::Single(Arc::new(Link::new(dialer.clone(), timeout))));
    };
    let scheme = if target.tls.is_some() {
        "rediss"
    } else {
        "redis"
    };
    let nodes: Vec<String> = seeds.iter().map(|a| format!("{scheme}://{a}")).collect();
    let mut builder = redis::cluster::ClusterClient::builder(nodes)
        .connection_timeout(timeout)
        .response_timeout(timeout)
        // The cluster client retries a command whose connection failed, after it may have run: fine for a read, not
        // for a write, which must never run twice. A write's `MOVED` after a failover is then a `503` (nothing was
        // written) while the client refreshes its slot map.
        .retries(if writes { 0 } else { 1 });
    if let Some(user) = target.node.username() {
        builder = builder.username(user);
    }
    if let Some(password) = target.node.password() {
        builder = builder.password(password);
    }
    if let Some(tls) = &target.tls {
        builder = builder.certs(tls.certificates.clone());
    }
    let client = builder.build().map_err(unavailable)?;
    Ok(Conn::Cluster(
        client.get_async_connection().await.map_err(unavailable)?,
    ))
}

/// Connects to the cluster's seeds through our own dialer until one answers, so that a node that refuses us (a TLS
/// certificate, the ACL user or password) stops start-up with the same reason, naming the setting, as a standalone
/// server does; the cluster client's own error does not say which setting to check. Seeds that do not answer are
/// left to the cluster client, which needs one of them.
async fn check_seeds(dialer: &Dialer, seeds: &[Addr]) -> Result<(), StoreError> {
    for seed in seeds {
        match dialer
            .checked(seed, redis::AsyncConnectionConfig::new())
            .await
        {
            Ok(_) => return Ok(()),
            Err(DialError::Refused(e)) => return Err(StoreError::Unavailable(e)),
            Err(DialError::Unreachable(e)) => {
                tracing::debug!(error = %e, "cluster seed not reachable");
            }
        }
    }
    Ok(())
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
            Some(PerThread {
                dialer: dialer.clone(),
                timeout,
                links: thread_local::ThreadLocal::new(),
            })
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

    /// The primary key's audit list; same hash tag, so it shares the anchor's slot.
    fn audit_key(&self, canonical: &str) -> String {
        key(&self.prefix, "audit", audit::partition(canonical))
    }

    /// How many entries were trimmed from the front of an audit list (`audit_key`): cursors are that plus the index.
    fn audit_base_key(&self, list: &str) -> String {
        let tagged = list
            .strip_prefix(&self.prefix)
            .and_then(|k| k.strip_prefix(":audit:"))
            .unwrap_or(list);
        format!("{}:audit-base:{tagged}", self.prefix)
    }

    /// The copy a delete keeps; same hash tag, so it shares the anchor's slot.
    fn deleted_key(&self, canonical: &str) -> String {
        key(&self.prefix, "d", canonical)
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
                let route = Route::new(slot(key), SlotAddr::Master);
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

    /// Addresses of every node to scan: the standalone server or Sentinel's master, or each cluster primary.
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

    /// Calls `visit` with batches of anchor keys found by `SCAN` on every node, with a connection to that node.
    async fn scan(
        &self,
        visit: &mut (dyn FnMut(Vec<String>, redis::aio::MultiplexedConnection) -> ScanStep + Send),
    ) -> Result<(), StoreError> {
        let pattern = format!("{}:a:*", self.prefix);
        for node in self.scan_nodes().await? {
            let mut conn = self.node_connection(&node).await?;
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
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

/// Primary addresses from `CLUSTER NODES`. A primary marked failing is an error: scanning around it would report an
/// export as complete with its keys missing.
fn primaries(cluster_nodes: &str) -> Result<Vec<Addr>, StoreError> {
    let mut urls = Vec::new();
    for line in cluster_nodes.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if !flags.split(',').any(|f| f == "master") {
            continue;
        }
        let host_port = addr.split('@').next().unwrap_or(addr);
        if flags.contains("fail") {
            return Err(unavailable(format!(
                "cluster primary {host_port} is failing ({flags})"
            )));
        }
        // IPv6 addresses come as `::1:7000`: the port follows the last colon.
        let parsed = host_port
            .rsplit_once(':')
            .and_then(|(host, port)| Some(Addr::Tcp(host.to_string(), port.parse().ok()?)));
        urls.push(parsed.ok_or_else(|| unavailable(format!("CLUSTER NODES: address {addr}")))?);
    }
    Ok(urls)
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

    async fn documents(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(format!("{}:{kind}", self.prefix));
        self.conn.query(&cmd).await.map_err(unavailable)
    }
}

/// `{prefix}:{kind}:{01/09520123456788}/10/ABC`: the hash tag is the primary key (its value is percent-encoded
/// and cannot contain braces), so every level of one identifier lives in one cluster slot and a walk-up is one
/// MGET. GS1 paths start with a numeric AI (`01/…`: two segments); other schemes with their namespace and key type
/// (`abr/abn/51824753556/branch/001`: three).
fn key(prefix: &str, kind: &str, canonical: &str) -> String {
    let (primary, rest) = canonical.split_at(audit::partition(canonical).len());
    format!("{prefix}:{kind}:{{{primary}}}{rest}")
}

/// The canonical path back from an anchor key.
fn canonical_of(prefix: &str, key: &str) -> Option<String> {
    let tagged = key.strip_prefix(prefix)?.strip_prefix(":a:{")?;
    let (primary, rest) = tagged.split_once('}')?;
    Some(format!("{primary}{rest}"))
}

/// `{node}:{cursor}:{last list done}` back into its parts; a start from the beginning for anything else.
fn parse_trim_resume(resume: Option<&str>) -> (usize, u64, Option<String>) {
    let mut parts = resume.unwrap_or("").splitn(3, ':');
    let node = parts.next().and_then(|n| n.parse().ok());
    let cursor = parts.next().and_then(|c| c.parse().ok());
    match (node, cursor) {
        (Some(node), Some(cursor)) => {
            let done = parts.next().filter(|d| !d.is_empty()).map(str::to_string);
            (node, cursor, done)
        }
        _ => (0, 0, None),
    }
}

/// The primary key (audit partition) of an audit list key: `{prefix}:audit:{01/09520123456788}`.
fn audit_partition_of(prefix: &str, key: &str) -> Option<String> {
    let tagged = key.strip_prefix(prefix)?.strip_prefix(":audit:{")?;
    let (primary, rest) = tagged.split_once('}')?;
    Some(format!("{primary}{rest}"))
}

/// The cluster slot of a key (CRC16/XMODEM of its hash tag, mod 16384), to route `WAIT` to the key's primary.
fn slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = key.find('{').and_then(|open| {
        let close = key[open + 1..].find('}')?;
        (close > 0).then(|| &bytes[open + 1..open + 1 + close])
    });
    crc16(tagged.unwrap_or(bytes)) % 16384
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// An audit entry from its list index and its JSON array `[ms, op, before, after, path, who]`.
fn list_entry(list: &str, index: u64, raw: &str) -> Result<AuditEntry, StoreError> {
    type Raw = (u64, String, Option<u64>, Option<u64>, String, String);
    let (at_ms, op, before, after, identifier, who): Raw = serde_json::from_str(raw)
        .map_err(|e| unavailable(format!("audit entry {list}[{index}]: {e}")))?;
    let operation = Operation::parse(&op)
        .ok_or_else(|| unavailable(format!("audit entry {list}[{index}]: operation {op:?}")))?;
    Ok(AuditEntry {
        cursor: index.to_string(),
        at_ms,
        who,
        identifier,
        operation,
        before,
        after,
    })
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A write's error: about the data (a format we do not know), certainly not applied (no connection could be made,
/// or Redis refused it), or possibly applied (the connection failed or timed out after the script was sent).
fn script_error(key: &str, failure: Failure) -> StoreError {
    let e = match failure {
        Failure::Unsent(e) => return unavailable(e),
        Failure::Sent(e) => e,
    };
    let text = e.to_string();
    if text.contains("IDR_FORMAT") {
        let source = super::record::DecodeError::Corrupt(text);
        return StoreError::Decode {
            key: key.to_string(),
            source,
        };
    }
    if !e.is_connection_refusal() && (e.is_timeout() || e.is_connection_dropped()) {
        return StoreError::Uncertain(text);
    }
    unavailable(text)
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

fn current(v: i64) -> Option<u64> {
    u64::try_from(v).ok()
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

/// How many entries one `LRANGE` of an audit read fetches.
const AUDIT_BATCH: usize = 500;
/// Audit lists asked for per `SCAN` of a trim or an export.
const AUDIT_SCAN_COUNT: usize = 100;

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

    /// Reads one primary key's audit list after the cursor (the list's base plus an index: entries are appended at
    /// the end and trimmed from the front), skipping entries before `since` or for other levels, until `limit`
    /// entries match or the list ends.
    async fn read_audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        // No list grows near `MAX_CURSOR`, so nothing follows a larger cursor; below it the index arithmetic (and
        // `LRANGE`'s signed 64-bit range) cannot overflow.
        let mut next: u64 = match query.after {
            Some(c) if c >= audit::MAX_CURSOR => return Ok(Vec::new()),
            Some(c) => c + 1,
            None => 0,
        };
        let list = self.audit_key(query.identifier);
        let base_key = self.audit_base_key(&list);
        let mut out = Vec::new();
        loop {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(READ_AUDIT)
                .arg(2)
                .arg(&list)
                .arg(&base_key)
                .arg(next)
                .arg(AUDIT_BATCH);
            let (base, from, page): (u64, u64, Vec<String>) =
                self.conn.query(&cmd).await.map_err(unavailable)?;
            let full = page.len() == AUDIT_BATCH;
            // Entries trimmed since `next` was handed out are skipped, not repeated.
            next = next.max(base + from);
            for raw in page {
                let entry = list_entry(&list, next, &raw)?;
                next += 1;
                if entry.at_ms >= query.since_ms && query.covers(&entry.identifier) {
                    out.push(entry);
                    if out.len() >= query.limit {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Audit list keys found by `SCAN` on node `node` (an index into `scan_nodes`) from `cursor`: (next cursor, keys).
    async fn scan_audit_lists(
        &self,
        node: &Addr,
        cursor: u64,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let mut conn = self.node_connection(node).await?;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(format!("{}:audit:*", self.prefix))
            .arg("COUNT")
            .arg(AUDIT_SCAN_COUNT);
        cmd.query_async(&mut conn).await.map_err(unavailable)
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
        let payload = super::format::payload(&record);
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
        let anchor_key = self.anchor_key(key);
        let (mode, versions) = precondition_args(&precondition);
        let tombstone = self.tombstone_key(key);
        let args: [&[u8]; 7] = [
            mode.as_bytes(),
            versions.as_bytes(),
            payload,
            self.channel.as_bytes(),
            key.as_bytes(),
            who.as_bytes(),
            op.as_bytes(),
        ];
        let keys = [
            anchor_key.as_str(),
            &tombstone,
            &self.deleted_key(key),
            &self.audit_key(key),
        ];
        let (reply, written): (Vec<i64>, Written) = self
            .writer
            .run(&PUT, &keys, &args)
            .await
            .map_err(|e| script_error(key, e))?;
        match reply.as_slice() {
            [1, version, created] => {
                self.wait_for_replicas(&anchor_key, &written).await?;
                Ok((*version as u64, *created == 1))
            }
            [0, now] => Err(StoreError::PreconditionFailed {
                current: current(*now),
            }),
            other => Err(unavailable(format!(
                "unexpected reply from the write script: {other:?}"
            ))),
        }
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
        let anchor_key = self.anchor_key(key);
        let (check, versions) = precondition_args(&precondition);
        let tombstone = self.tombstone_key(key);
        let args: [&[u8]; 6] = [
            check.as_bytes(),
            versions.as_bytes(),
            self.channel.as_bytes(),
            key.as_bytes(),
            who.as_bytes(),
            mode.as_bytes(),
        ];
        let keys = [
            anchor_key.as_str(),
            &tombstone,
            &self.deleted_key(key),
            &self.audit_key(key),
        ];
        let (reply, written): (Vec<i64>, Written) = self
            .writer
            .run(&DELETE, &keys, &args)
            .await
            .map_err(|e| script_error(key, e))?;
        match reply.as_slice() {
            [1, existed] => {
                self.wait_for_replicas(&anchor_key, &written).await?;
                Ok(*existed == 1)
            }
            [0, now] => Err(StoreError::PreconditionFailed {
                current: current(*now),
            }),
            other => Err(unavailable(format!(
                "unexpected reply from the delete script: {other:?}"
            ))),
        }
    }
}

#[async_trait::async_trait]
impl LinkStore for RedisStore {
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
        let anchor_key = self.anchor_key(key);
        let (tombstone, deleted) = (self.tombstone_key(key), self.deleted_key(key));
        let audit = self.audit_key(key);
        let keys = [anchor_key.as_str(), &tombstone, &deleted, &audit];
        let args: [&[u8]; 3] = [self.channel.as_bytes(), key.as_bytes(), who.as_bytes()];
        let (reply, written): (Vec<redis::Value>, Written) = self
            .writer
            .run(&RESTORE, &keys, &args)
            .await
            .map_err(|e| script_error(key, e))?;
        let number = |i: usize| {
            let value = reply.get(i).cloned()?;
            i64::from_redis_value(value).ok()
        };
        match (number(0), number(1), reply.get(2)) {
            (Some(1), Some(0), None) => Ok(None),
            (Some(1), Some(_), Some(value)) => {
                let bytes = Vec::<u8>::from_redis_value(value.clone()).map_err(unavailable)?;
                let stored = decode(key, Some(bytes))?
                    .ok_or_else(|| unavailable("the restore script returned no record"))?;
                self.wait_for_replicas(&anchor_key, &written).await?;
                Ok(Some(PutOutcome {
                    stored,
                    created: true,
                }))
            }
            (Some(0), Some(now), None) => Err(StoreError::PreconditionFailed {
                current: current(now),
            }),
            _ => Err(unavailable(format!(
                "unexpected reply from the restore script: {reply:?}"
            ))),
        }
    }

    async fn put_batch(
        &self,
        batch: Vec<(String, super::format::Payload)>,
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

    async fn audit(&self, query: &AuditQuery<'_>) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_audit(query).await
    }

    /// Visits the audit lists with `SCAN`, node by node; `resume` is `{node index}:{SCAN cursor}:{last list done}`
    /// (a step that stops inside a batch scans that batch again and skips the lists before it had finished, so
    /// every step gets further). Every list visited costs one script, which removes at most the remaining budget.
    async fn trim_audit(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<super::TrimStep, StoreError> {
        // In a fixed order: `CLUSTER NODES` lists them as the node asked sees them, and a resume names one by index.
        let mut nodes = self.scan_nodes().await?;
        nodes.sort();
        let (mut node, mut cursor, mut done) = parse_trim_resume(resume.as_deref());
        let mut left = budget.max(1) as u64;
        let mut removed = 0;
        while node < nodes.len() {
            let (next, lists) = self.scan_audit_lists(&nodes[node], cursor).await?;
            // Skip what the last step finished in this batch (all of it when that list is gone: emptied lists are
            // deleted, and seeing a finished list again costs one script).
            let skip = done
                .take()
                .and_then(|d| lists.iter().position(|l| *l == d))
                .map_or(0, |i| i + 1);
            let mut last_done: Option<&String> = None;
            for list in &lists[skip..] {
                let resume = |last_done: Option<&String>| {
                    let done = last_done.map_or("", |l| l.as_str());
                    Some(format!("{node}:{cursor}:{done}"))
                };
                if left == 0 {
                    return Ok(super::TrimStep {
                        removed,
                        resume: resume(last_done),
                    });
                }
                let base = self.audit_base_key(list);
                // No `WAIT`: a trim a failover loses is done again by the next step.
                let (n, _): (u64, Written) = self
                    .writer
                    .run(
                        &TRIM_AUDIT,
                        &[list.as_str(), &base],
                        &[
                            before_ms.to_string().as_bytes(),
                            left.to_string().as_bytes(),
                        ],
                    )
                    .await
                    .map_err(|e| script_error(list, e))?;
                removed += n;
                if n == left {
                    // The list may hold more past the retention: it is not done.
                    return Ok(super::TrimStep {
                        removed,
                        resume: resume(last_done),
                    });
                }
                left -= n + 1;
                last_done = Some(list);
            }
            if next == 0 {
                node += 1;
                cursor = 0;
            } else {
                cursor = next;
            }
        }
        Ok(super::TrimStep {
            removed,
            resume: None,
        })
    }

    async fn export_audit(&self, sink: &mut super::AuditSink<'_>) -> Result<(), StoreError> {
        for node in self.scan_nodes().await? {
            let mut cursor = 0;
            loop {
                let (next, lists) = self.scan_audit_lists(&node, cursor).await?;
                for list in lists {
                    let Some(partition) = audit_partition_of(&self.prefix, &list) else {
                        continue;
                    };
                    let mut after = None;
                    loop {
                        let query = AuditQuery {
                            identifier: &partition,
                            since_ms: 0,
                            after,
                            limit: AUDIT_BATCH,
                        };
                        let page = self.read_audit(&query).await?;
                        let full = page.len() == AUDIT_BATCH;
                        after = page.last().and_then(|e| e.cursor.parse().ok());
                        for entry in page {
                            sink(entry)?;
                        }
                        if !full {
                            break;
                        }
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

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let mut found = false;
        self.scan(&mut |_, _| {
            found = true;
            ScanStep::Stop
        })
        .await?;
        Ok(!found)
    }

    async fn claim_first_start(&self) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}:meta:initialised", self.prefix))
            .arg(1)
            .arg("NX");
        let reply: Option<String> = self.conn.query_once(&cmd).await.map_err(unavailable)?;
        Ok(reply.is_some())
    }

    async fn put_scheme(&self, namespace: &str, definition: &str) -> Result<(), StoreError> {
        self.put_document("schemes", namespace, definition).await
    }

    async fn schemes(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents("schemes").await
    }

    async fn put_key(&self, name: &str, record: &str) -> Result<(), StoreError> {
        self.put_document("keys", name, record).await
    }

    async fn keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.documents("keys").await
    }

    async fn for_each(&self, sink: &mut AnchorSink<'_>) -> Result<(), StoreError> {
        let prefix = self.prefix.clone();
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<Result<(String, StoredAnchor), StoreError>>(SCAN_COUNT);
        let scanning = async {
            let result = self
                .scan(&mut |keys, mut conn| {
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
}

fn same_slot(keys: &[String]) -> bool {
    let tag = |k: &String| {
        k.find('{')
            .zip(k.find('}'))
            .map(|(a, b)| k[a..b].to_string())
    };
    let first = tag(&keys[0]);
    first.is_some() && keys.iter().all(|k| tag(k) == first)
}

/// Follows the invalidation channel forever, reconnecting when it drops: to the next node of a cluster, or to the
/// master the sentinels name now. A cluster broadcasts every `PUBLISH` to all nodes, so any one node will do.
async fn listen(dialer: Arc<Dialer>, channel: String, sink: Sink, timeout: Duration) {
    let mut attempt: u32 = 0;
    loop {
        let node = match &dialer.target.topology {
            Topology::Cluster(seeds) => Ok(seeds[attempt as usize % seeds.len()].clone()),
            _ => dialer.master().await,
        };
        let subscribed = match node {
            Ok(node) => subscribe_once(&dialer, &node, &channel, timeout)
                .await
                .map(|pubsub| (node, pubsub)),
            Err(e) => Err(RedisError::from(e)),
        };
        match subscribed {
            Ok((node, pubsub)) => {
                let node = node.to_string();
                let node = node.as_str();
                attempt = 0;
                sink.connected();
                tracing::info!(node, "invalidation feed connected");
                follow(pubsub, &sink, timeout).await;
                sink.disconnected();
                metrics::counter!(crate::telemetry::names::STORE_RECONNECTS).increment(1);
                tracing::warn!(
                    node,
                    "invalidation feed lost; cached records are not trusted until it is back"
                );
            }
            Err(e) => {
                sink.disconnected();
                attempt = attempt.saturating_add(1);
                tracing::debug!(error = %e, "invalidation feed unavailable");
            }
        }
        let backoff = 50u64.saturating_mul(1 << attempt.min(4));
        tokio::time::sleep(Duration::from_millis(backoff)).await;
    }
}

/// Delivers invalidations until the subscription ends or stops answering. A half-open connection (a peer that
/// vanished without a reset) never ends the stream, so the subscription is pinged every `HEARTBEAT`; a ping not
/// answered within the command timeout counts as lost, and the cache stops trusting itself.
async fn follow(pubsub: redis::aio::PubSub, sink: &Sink, timeout: Duration) {
    let (mut control, mut messages) = pubsub.split();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    if let Ok(key) = message.get_payload::<String>() {
                        sink.invalidate(&key);
                    }
                }
                None => return,
            },
            _ = heartbeat.tick() => {
                let ping = tokio::time::timeout(timeout.max(Duration::from_millis(500)), control.ping::<redis::Value>());
                if !matches!(ping.await, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

async fn subscribe_once(
    dialer: &Dialer,
    node: &Addr,
    channel: &str,
    timeout: Duration,
) -> RedisResult<redis::aio::PubSub> {
    let connect = async {
        let mut pubsub = dialer.pubsub(node).await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    match tokio::time::timeout(timeout * 4, connect).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "subscribe timed out",
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_a_slot_per_primary_key() {
        let k = |c| key("idr", "a", c);
        assert_eq!(
            k("01/09520123456788/10/ABC"),
            "idr:a:{01/09520123456788}/10/ABC"
        );
        assert_eq!(k("01/09520123456788"), "idr:a:{01/09520123456788}");
        assert_eq!(
            slot(&k("01/09520123456788/10/ABC")),
            slot(&k("01/09520123456788/21/1"))
        );
        assert_eq!(
            canonical_of("idr", "idr:a:{01/09520123456788}/10/ABC").as_deref(),
            Some("01/09520123456788/10/ABC")
        );
        assert_eq!(canonical_of("idr", "other:a:{01/1}"), None);
        assert_eq!(
            k("abr/abn/51824753556/branch/001"),
            "idr:a:{abr/abn/51824753556}/branch/001"
        );
        assert_ne!(
            slot(&k("abr/abn/51824753556")),
            slot(&k("abr/abn/53004085616")),
            "one scheme's identifiers spread over the cluster"
        );
        assert_eq!(
            canonical_of("idr", "idr:a:{abr/abn/51824753556}/branch/001").as_deref(),
            Some("abr/abn/51824753556/branch/001")
        );
    }

    #[test]
    fn slots_match_redis() {
        // Values from `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{user1000}.following"), slot("{user1000}.followers"));
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn trim_resumes_name_node_cursor_and_the_last_list_done() {
        assert_eq!(parse_trim_resume(None), (0, 0, None));
        assert_eq!(parse_trim_resume(Some("2:17:")), (2, 17, None));
        assert_eq!(
            parse_trim_resume(Some("1:0:idr:audit:{01/09520123456788}")),
            (1, 0, Some("idr:audit:{01/09520123456788}".to_string()))
        );
        assert_eq!(parse_trim_resume(Some("x:1:y")), (0, 0, None));
    }

    #[test]
    fn cluster_primaries() {
        let nodes = "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n\
                     b2 10.0.0.2:7001@17001 master - 0 0 2 connected 5461-10922\n\
                     c3 10.0.0.3:7002@17002 slave b2 0 0 2 connected\n\
                     d4 ::1:7003@17003 master - 0 0 3 connected 10923-16383\n";
        let tcp = |h: &str, p| Addr::Tcp(h.into(), p);
        assert_eq!(
            primaries(nodes).unwrap(),
            vec![
                tcp("127.0.0.1", 7000),
                tcp("10.0.0.2", 7001),
                tcp("::1", 7003)
            ]
        );
        let failing = "a1 127.0.0.1:7000@17000 master,fail? - 0 0 1 connected 0-16383\n";
        assert!(primaries(failing).is_err());
    }
}

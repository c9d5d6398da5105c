//! The connections the store sends commands on, and how: a read is sent once more if its connection dropped on
//! the way; a write or a claim is sent once, never repeated (it may have been applied), and says which connection it
//! ran on, where its `WAIT` must follow.

use super::dial::{DialError, Dialer};
use super::link::{self, Failure, Link};
use super::scripts::Script;
use super::target::{Addr, Topology};
use super::unavailable;
use crate::registry::StoreError;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult};
use std::sync::Arc;
use std::time::Duration;

/// The connection a write ran on, where its `WAIT` must run (`None` on a cluster: `WAIT` is routed to the
/// primary that holds the key).
pub type Written = Option<link::Pinned>;

#[derive(Clone)]
pub enum Conn {
    Single(Arc<Link>),
    Cluster(ClusterConnection),
}

impl Conn {
    /// A read. Reads are idempotent: one whose connection dropped on the way is sent once more, on a fresh
    /// connection.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
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
    pub async fn query_once<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        self.write_once(cmd).await.map(|(value, _)| value)
    }

    /// A write sent once, and the connection it ran on (for `WAIT`).
    pub async fn write_once<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<(T, Written)> {
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
    pub async fn run<T: FromRedisValue>(
        &self,
        script: &Script,
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

/// A connection to a standalone Redis per thread, each made lazily and re-made before its next command once it has
/// closed (`Link`). The threads that scan live as long as the server (its workers). A thread that ends leaves its
/// link to the next thread given its id; the connection's task ended with the old runtime, so that thread connects
/// anew on its own runtime before its first read.
pub struct PerThread {
    dialer: Arc<Dialer>,
    timeout: Duration,
    links: thread_local::ThreadLocal<Arc<Link>>,
}

impl PerThread {
    pub fn new(dialer: Arc<Dialer>, timeout: Duration) -> PerThread {
        PerThread {
            dialer,
            timeout,
            links: thread_local::ThreadLocal::new(),
        }
    }

    /// This thread's connection.
    pub fn conn(&self) -> Conn {
        let link = self
            .links
            .get_or(|| Arc::new(Link::new(self.dialer.clone(), self.timeout)));
        Conn::Single(link.clone())
    }
}

/// A connection to a standalone Redis or Sentinel's master (made lazily and re-made after failures) or to a cluster
/// (which needs one seed node up to learn its topology). `writes`: the cluster client never sends a command twice.
pub async fn open(
    dialer: &Arc<Dialer>,
    timeout: Duration,
    writes: bool,
) -> Result<Conn, StoreError> {
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
pub async fn check_seeds(dialer: &Dialer, seeds: &[Addr]) -> Result<(), StoreError> {
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

//! A connection to a standalone Redis that knows when it has closed, so that no command is sent on a dead one.
//!
//! The redis crate's `ConnectionManager` re-makes a connection only after a command failed on it: after a Redis
//! restart, the first command through every connection answered "broken pipe" although Redis was back. And that
//! error cannot tell a command that never left (the connection's task had already ended) from one that was written
//! and then lost: both are the same `BrokenPipe`. Here the connection's driver task is ours. When it ends (the server
//! closed the socket, or the runtime that ran it went away) the connection is marked closed, and the next command
//! is sent on a fresh one. A command then fails on a dropped connection only when the connection drops while the
//! command is on its way, and that command may have reached Redis (`Failure::Sent`).
//!
//! Each new connection goes where the `Dialer` says: behind Sentinel, to the master the sentinels name at that
//! moment, so a failover is followed by the next command after the old master's connection closed. A node that
//! answers `READONLY` has become a replica: its connection is dropped too, and the next command asks again.

use super::dial::Dialer;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue, RedisError};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// Where a command failed.
#[derive(Debug)]
pub enum Failure {
    /// No connection could be made: nothing reached Redis.
    Unsent(RedisError),
    /// The command was handed to a connection: it may have reached Redis, even when the connection then failed.
    Sent(RedisError),
}

impl Failure {
    pub fn into_inner(self) -> RedisError {
        match self {
            Failure::Unsent(e) | Failure::Sent(e) => e,
        }
    }

    /// The command was sent, and its connection dropped before the reply.
    pub fn dropped(&self) -> bool {
        matches!(self, Failure::Sent(e) if e.is_connection_dropped())
    }
}

/// One connection at a time to a standalone Redis or Sentinel's master, made on first use and again whenever the last one
/// closed.
pub struct Link {
    dialer: Arc<Dialer>,
    /// Connection and response timeout.
    timeout: Duration,
    live: RwLock<Option<Live>>,
    /// One connection attempt at a time.
    connecting: tokio::sync::Mutex<()>,
    /// Failed attempts so far: a caller that waited for another's attempt shares its failure instead of queueing
    /// an attempt of its own (each may last the whole timeout while Redis is unreachable).
    failures: AtomicU64,
}

/// A connection and whether its driver task has ended.
#[derive(Clone)]
struct Live {
    conn: MultiplexedConnection,
    closed: Arc<AtomicBool>,
}

/// The connection a command ran on, for a command that must follow it on that same connection (`WAIT` counts the
/// writes of its own connection: on another one it would confirm nothing).
#[derive(Clone)]
pub struct Pinned(Live);

impl Link {
    pub fn new(dialer: Arc<Dialer>, timeout: Duration) -> Link {
        Link {
            dialer,
            timeout,
            live: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            failures: AtomicU64::new(0),
        }
    }

    /// Sends `cmd` once, on an open connection. A connection it finds dropped is not used again.
    pub async fn send<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Failure> {
        let live = self.open().await.map_err(Failure::Unsent)?;
        let result = cmd.query_async(&mut live.conn.clone()).await;
        self.settle(&live, result)
    }

    /// Runs `call` once with an open connection, as `send` sends a command (for scripts, which may load themselves
    /// first), and says which connection that was.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<(T, Pinned), Failure>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let live = self.open().await.map_err(Failure::Unsent)?;
        let result = call(live.conn.clone()).await;
        self.settle(&live, result).map(|t| (t, Pinned(live)))
    }

    /// As `send`, and says which connection the command ran on.
    pub async fn send_pinned<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<(T, Pinned), Failure> {
        self.call(|mut conn| async move { cmd.query_async(&mut conn).await })
            .await
    }

    /// Sends `cmd` on the connection `pinned` ran on, never on another: if that one has closed, nothing is sent.
    pub async fn send_on<T: FromRedisValue>(
        &self,
        pinned: &Pinned,
        cmd: &Cmd,
    ) -> Result<T, Failure> {
        let live = &pinned.0;
        if live.closed.load(Ordering::Acquire) {
            return Err(Failure::Unsent(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the connection of the write has closed",
            ))));
        }
        let result = cmd.query_async(&mut live.conn.clone()).await;
        self.settle(live, result)
    }

    /// A result, after marking its connection closed when it dropped (the driver may not have noticed yet).
    fn settle<T>(&self, live: &Live, result: redis::RedisResult<T>) -> Result<T, Failure> {
        result.map_err(|e| {
            if e.is_connection_dropped() || read_only(&e) {
                live.closed.store(true, Ordering::Release);
            }
            Failure::Sent(e)
        })
    }

    /// The current connection if it is open, else a new one.
    async fn open(&self) -> redis::RedisResult<Live> {
        if let Some(live) = self.current() {
            return Ok(live);
        }
        let failures = self.failures.load(Ordering::Acquire);
        let _turn = self.connecting.lock().await;
        if let Some(live) = self.current() {
            return Ok(live);
        }
        if self.failures.load(Ordering::Acquire) != failures {
            return Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "no connection to Redis (the attempt made meanwhile failed)",
            )));
        }
        match connect(&self.dialer, self.timeout).await {
            Ok(live) => {
                *self.live.write().unwrap_or_else(PoisonError::into_inner) = Some(live.clone());
                Ok(live)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    fn current(&self) -> Option<Live> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        live.as_ref()
            .filter(|l| !l.closed.load(Ordering::Acquire))
            .cloned()
    }
}

/// Marks a connection closed when its driver task ends, or is dropped with its runtime.
struct MarkClosed(Arc<AtomicBool>);

impl Drop for MarkClosed {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// The node refused a write because it is a replica now (a failover demoted it).
fn read_only(e: &RedisError) -> bool {
    e.code() == Some("READONLY") || e.to_string().contains("READONLY")
}

/// Connects (within `timeout`, handshake included) and runs the connection's driver on this thread's runtime, so
/// the worker that awaits a reply also drives the connection.
async fn connect(dialer: &Dialer, timeout: Duration) -> redis::RedisResult<Live> {
    let config = AsyncConnectionConfig::new().set_response_timeout(Some(timeout));
    let (_, conn, driver) = dialer.open(config).await?;
    let closed = Arc::new(AtomicBool::new(false));
    let mark = MarkClosed(closed.clone());
    tokio::spawn(async move {
        let _mark = mark;
        driver.await;
    });
    Ok(Live { conn, closed })
}

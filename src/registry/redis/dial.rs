//! Opens connections to Redis nodes: TCP, TLS or a Unix socket, set up with the ACL user and database, and, behind
//! Sentinel, to whichever node the sentinels name master at that moment (checked with `ROLE`, since a sentinel's
//! answer can be a moment behind a failover).

use super::target::{Addr, Target, Topology};
use futures_util::FutureExt;
use redis::aio::{MultiplexedConnection, PubSub};
use redis::{AsyncConnectionConfig, RedisConnectionInfo, RedisError};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Nothing answered, or not in time, or no master is known yet: may pass (Redis restarting, a failover).
    #[error("{0}")]
    Unreachable(String),
    /// The node answered and refused us (TLS certificate, ACL user or password): a configuration problem, which
    /// waiting will not fix.
    #[error("{0}")]
    Refused(String),
}

impl From<DialError> for RedisError {
    fn from(e: DialError) -> RedisError {
        let kind = match e {
            DialError::Unreachable(_) => std::io::ErrorKind::NotConnected,
            DialError::Refused(_) => std::io::ErrorKind::PermissionDenied,
        };
        RedisError::from(std::io::Error::new(kind, e.to_string()))
    }
}

/// A socket of any kind, so that one connection type serves them all.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Unix(UnixStream),
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Tcp($s) => $e,
            Stream::Tls($s) => $e,
            Stream::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

pub type Driver = futures_util::future::BoxFuture<'static, ()>;

/// Connects to the nodes of one `Target`, each step within `timeout`.
pub struct Dialer {
    pub target: Arc<Target>,
    timeout: Duration,
    /// The sentinel that answered last, asked first next time.
    sentinel: AtomicUsize,
}

impl Dialer {
    pub fn new(target: Arc<Target>, timeout: Duration) -> Dialer {
        Dialer {
            target,
            timeout,
            sentinel: AtomicUsize::new(0),
        }
    }

    /// A socket to `addr`, TLS when the target says so, within the timeout.
    pub async fn stream(&self, addr: &Addr) -> Result<Stream, DialError> {
        let unreachable = |e: std::io::Error| DialError::Unreachable(format!("{addr}: {e}"));
        let opening = async {
            match addr {
                Addr::Unix(path) => Ok(Stream::Unix(
                    UnixStream::connect(path).await.map_err(unreachable)?,
                )),
                Addr::Tcp(host, port) => {
                    let tcp = TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(unreachable)?;
                    tcp.set_nodelay(true).map_err(unreachable)?;
                    let Some(tls) = &self.target.tls else {
                        return Ok(Stream::Tcp(tcp));
                    };
                    let name = rustls::pki_types::ServerName::try_from(host.clone())
                        .map_err(|e| DialError::Refused(format!("{addr}: {e}")))?;
                    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                    match connector.connect(name, tcp).await {
                        Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
                        Err(e) => Err(tls_error(addr, e)),
                    }
                }
            }
        };
        tokio::time::timeout(self.timeout, opening)
            .await
            .map_err(|_| DialError::Unreachable(format!("{addr}: connecting timed out")))?
    }

    /// A connection to `addr` set up with `info` (`HELLO`/`AUTH`, `SELECT`); its driver is the caller's to run.
    async fn connection(
        &self,
        addr: &Addr,
        info: &RedisConnectionInfo,
        config: AsyncConnectionConfig,
    ) -> Result<(MultiplexedConnection, Driver), DialError> {
        let stream = self.stream(addr).await?;
        let setup = MultiplexedConnection::new_with_config(info, stream, config);
        match tokio::time::timeout(self.timeout, setup).await {
            Ok(Ok((conn, driver))) => Ok((conn, driver.boxed())),
            Ok(Err(e)) => Err(setup_error(addr, e)),
            Err(_) => Err(DialError::Unreachable(format!(
                "{addr}: setting up the connection timed out"
            ))),
        }
    }

    /// A data connection to `addr` (a given node: a cluster primary, or the master found by `master`).
    pub async fn node(
        &self,
        addr: &Addr,
        config: AsyncConnectionConfig,
    ) -> Result<(MultiplexedConnection, Driver), DialError> {
        self.connection(addr, &self.target.node, config).await
    }

    /// The node that takes writes: the standalone server, or the master the sentinels name now.
    pub async fn master(&self) -> Result<Addr, DialError> {
        match &self.target.topology {
            Topology::Standalone(addr) => Ok(addr.clone()),
            Topology::Sentinel { sentinels, master } => self.ask_sentinels(sentinels, master).await,
            Topology::Cluster(_) => Err(DialError::Unreachable(
                "a cluster has no single master".into(),
            )),
        }
    }

    /// A connection to the master, checked with one command before it is handed out: `ROLE` behind Sentinel (it
    /// must say master), else `PING` (so that a server that wants a password we do not give refuses us here).
    pub async fn open(
        &self,
        config: AsyncConnectionConfig,
    ) -> Result<(Addr, MultiplexedConnection, Driver), DialError> {
        let addr = self.master().await?;
        let (conn, driver) = self.checked(&addr, config).await?;
        Ok((addr, conn, driver))
    }

    /// A data connection to `addr`, checked as `open` checks the master's.
    pub async fn checked(
        &self,
        addr: &Addr,
        config: AsyncConnectionConfig,
    ) -> Result<(MultiplexedConnection, Driver), DialError> {
        let (conn, driver) = self.node(addr, config).await?;
        let sentinel = matches!(self.target.topology, Topology::Sentinel { .. });
        let check = async {
            if sentinel {
                role(conn.clone()).await
            } else {
                let mut conn = conn.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| "master".to_string())
            }
        };
        let (role, driver) = self.drive(driver, check).await;
        match role {
            Ok(role) if role == "master" => Ok((conn, driver)),
            Ok(role) => Err(DialError::Unreachable(format!(
                "{addr} is a {role}, not the master (a failover is under way)"
            ))),
            Err(e) if refused(&e) => Err(DialError::Refused(format!(
                "{addr}: the ACL user or password was refused: {e}"
            ))),
            Err(e) => Err(DialError::Unreachable(format!("{addr}: {e}"))),
        }
    }

    /// Runs `work` on a connection whose driver is not spawned yet, polling the driver meanwhile; hands the driver
    /// back to go on with. Fails when the connection closes first or `work` outlasts the timeout.
    async fn drive<T>(
        &self,
        mut driver: Driver,
        work: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> (redis::RedisResult<T>, Driver) {
        let closed = || {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the connection closed",
            ))
        };
        let timed_out = || {
            RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ))
        };
        let result = tokio::select! {
            result = tokio::time::timeout(self.timeout, work) => result.unwrap_or_else(|_| Err(timed_out())),
            () = &mut driver => Err(closed()),
        };
        (result, driver)
    }

    /// A subscription connection to `addr` (its driver runs on the current runtime).
    pub async fn pubsub(&self, addr: &Addr) -> Result<PubSub, DialError> {
        let stream = self.stream(addr).await?;
        match tokio::time::timeout(self.timeout, PubSub::new(&self.target.node, stream)).await {
            Ok(Ok(pubsub)) => Ok(pubsub),
            Ok(Err(e)) => Err(setup_error(addr, e)),
            Err(_) => Err(DialError::Unreachable(format!(
                "{addr}: setting up the subscription timed out"
            ))),
        }
    }

    /// `SENTINEL GET-MASTER-ADDR-BY-NAME`, from the first sentinel that knows the master (starting with the one that
    /// answered last).
    async fn ask_sentinels(&self, sentinels: &[Addr], master: &str) -> Result<Addr, DialError> {
        let start = self.sentinel.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for i in 0..sentinels.len() {
            let index = (start + i) % sentinels.len();
            let sentinel = &sentinels[index];
            match self.ask(sentinel, master).await {
                Ok(addr) => {
                    self.sentinel.store(index, Ordering::Relaxed);
                    return Ok(addr);
                }
                Err(DialError::Refused(e)) => return Err(DialError::Refused(e)),
                Err(DialError::Unreachable(e)) => failures.push(e),
            }
        }
        Err(DialError::Unreachable(format!(
            "no sentinel named a master for {master:?}: {}",
            failures.join("; ")
        )))
    }

    async fn ask(&self, sentinel: &Addr, master: &str) -> Result<Addr, DialError> {
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(self.timeout));
        let (mut conn, driver) = self
            .connection(sentinel, &self.target.sentinel, config)
            .await?;
        let mut cmd = redis::cmd("SENTINEL");
        cmd.arg("GET-MASTER-ADDR-BY-NAME").arg(master);
        let query = async move { cmd.query_async::<Option<(String, u16)>>(&mut conn).await };
        let (reply, _) = self.drive(driver, query).await;
        match reply {
            Ok(Some((host, port))) => Ok(Addr::Tcp(host, port)),
            Ok(None) => Err(DialError::Unreachable(format!(
                "sentinel {sentinel} knows no master {master:?}"
            ))),
            Err(e) if refused(&e) => Err(DialError::Refused(format!(
                "sentinel {sentinel}: the user or password was refused (store.redis_sentinel_username, \
                 store.redis_sentinel_password): {e}"
            ))),
            Err(e) => Err(DialError::Unreachable(format!("sentinel {sentinel}: {e}"))),
        }
    }
}

/// The first field of `ROLE`: `master`, `slave` or `sentinel`.
async fn role(mut conn: MultiplexedConnection) -> redis::RedisResult<String> {
    let reply: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
    match reply.into_iter().next() {
        Some(first) => redis::FromRedisValue::from_redis_value(first).map_err(RedisError::from),
        None => Ok(String::new()),
    }
}

/// A failed TLS handshake: a certificate problem is a refusal (configuration); anything else, a network failure.
fn tls_error(addr: &Addr, e: std::io::Error) -> DialError {
    let certificate = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|tls| {
            matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::AlertReceived(_)
                    | rustls::Error::NoCertificatesPresented
            )
        });
    let text = format!(
        "{addr}: TLS handshake failed: {e} (check store.redis_ca_file and the client certificate)"
    );
    if certificate {
        DialError::Refused(text)
    } else {
        DialError::Unreachable(text)
    }
}

/// The server refused our user or password (or, without any, asks for one).
fn refused(e: &RedisError) -> bool {
    matches!(e.code(), Some("WRONGPASS" | "NOAUTH" | "NOPERM"))
        || e.kind() == redis::ErrorKind::AuthenticationFailed
}

/// A failed connection set-up: refused credentials are a configuration problem, and so is a TLS session the server
/// ended with an alert once the handshake was done (with TLS 1.3 that is how a missing or untrusted client
/// certificate shows); the rest may pass.
fn setup_error(addr: &Addr, e: RedisError) -> DialError {
    if refused(&e) {
        return DialError::Refused(format!("{addr}: the ACL user or password was refused: {e}"));
    }
    let text = e.to_string();
    if text.contains("received fatal alert") {
        return DialError::Refused(format!(
            "{addr}: the server ended the TLS session: {text} (check store.redis_client_cert_file and \
             store.redis_client_key_file)"
        ));
    }
    DialError::Unreachable(format!("{addr}: {text}"))
}

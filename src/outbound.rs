//! The one HTTP client for everything idr fetches from elsewhere (did:web documents, DID writers' documents, and
//! any later feature that fetches), and its guard against being used as a proxy into the operator's network.
//!
//! Who chooses the address: an anonymous client, through the DID or URL it asks about. So every fetch is checked:
//! - a host name is resolved once, by our own resolver, which checks *every* address it resolves to
//!   (`address::AddressPolicy`) and refuses the name wholesale if any one is not allowed; reqwest connects only to
//!   the addresses that resolver hands it, so no second lookup can switch the address (DNS rebinding);
//! - a URL whose host is an IP literal (reqwest does not resolve those) is checked before the request is sent;
//! - redirects are not followed, and system proxies are not used (a proxy would resolve the name itself, unchecked);
//! - per host and port: one that could not be reached (refused, unresolvable, unreachable, too slow) fails fast for
//!   `failure_cache_seconds` whatever the path; per host, whatever the port, fetches are rate-limited by a token
//!   bucket; and the fetches in flight are capped overall. A failure is remembered per port so that a client naming
//!   a closed port of a host cannot make the host's real documents fail; the bucket bounds what port variations
//!   cost.
//! - `Outbound::sibling` shares the client and guard but keeps that state apart: DID writers' documents are fetched
//!   through one, so anonymous scans can neither spend nor poison what signature checks need.
//!
//! What went wrong is logged here, with the host and address; the errors returned carry no transport detail, so
//! nothing of the operator's network can reach a client's answer.

pub mod address;
pub mod slot;

use crate::config::{ConfigError, OutboundSettings};
use crate::telemetry::names;
use address::AddressPolicy;
use futures_util::future::BoxFuture;
use reqwest::header::{self, HeaderMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use url::Url;

const USER_AGENT: &str = concat!("idr/", env!("CARGO_PKG_VERSION"));
/// Hosts whose failures and rate-limit state are remembered at most; beyond it the least used are forgotten.
const MAX_HOSTS: u64 = 10_000;

/// Why a fetch gave no answer. Deliberately without detail: that goes to the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The host is, or resolves to, an address outbound fetches may not reach.
    #[error("the host is not reachable from this resolver")]
    Refused,
    /// The name did not resolve, or connecting, TLS or reading failed.
    #[error("the host could not be reached")]
    Unreachable,
    #[error("the host did not answer in time")]
    Timeout,
    /// Too many fetches from this host (or in flight overall) just now; retry after the duration.
    #[error("too many fetches from this host just now")]
    RateLimited(Duration),
    /// The answer's body is larger than the request allowed.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

impl FetchError {
    /// The `outcome` label of the fetch counter.
    fn outcome(self) -> &'static str {
        match self {
            FetchError::Refused => "refused",
            FetchError::Unreachable => "failed",
            FetchError::Timeout => "timeout",
            FetchError::RateLimited(_) => "rate_limited",
            FetchError::TooLarge(_) => "too_large",
        }
    }

    /// Failures that say something about the host rather than one URL on it.
    fn is_host_failure(self) -> bool {
        matches!(
            self,
            FetchError::Refused | FetchError::Unreachable | FetchError::Timeout
        )
    }
}

/// One GET.
pub struct Request<'a> {
    pub url: &'a Url,
    pub accept: &'a str,
    /// For the whole fetch: resolving, connecting, TLS, and reading the body.
    pub timeout: Duration,
    /// The body is read only up to this size.
    pub max_bytes: usize,
}

/// Any HTTP answer (the caller judges the status; redirects are returned, not followed).
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A token bucket per host.
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    /// Hosts and ports (`host_port`) that failed recently, and how.
    failing: Option<moka::sync::Cache<String, FetchError>>,
    failure_ttl: Duration,
    /// Fetch budgets per host (`host_key`).
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
    rate: f64,
    burst: f64,
    in_flight: Arc<tokio::sync::Semaphore>,
    max_in_flight: usize,
}

impl Outbound {
    /// Builds the client (system roots plus the extra CA file) with the guarded resolver. Errors name the field.
    pub fn new(settings: &OutboundSettings) -> Result<Outbound, ConfigError> {
        let policy = Arc::new(settings.policy()?);
        let lookup: Lookup = Arc::new(|host: String| Box::pin(system_lookup(host)));
        Self::with_lookup(settings, policy, lookup)
    }

    fn with_lookup(
        settings: &OutboundSettings,
        policy: Arc<AddressPolicy>,
        lookup: Lookup,
    ) -> Result<Outbound, ConfigError> {
        let field = settings.extra_ca_field();
        let extra = extra_roots(field, &settings.extra_ca_file)?;
        let resolver = GuardedResolver {
            policy: policy.clone(),
            lookup,
        };
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(true)
            .tls_certs_merge(extra)
            .dns_resolver(resolver)
            .build()
            .map_err(|e| {
                ConfigError::invalid(
                    field,
                    format!("cannot build the HTTPS client: {}", chain(&e)),
                )
            })?;
        Ok(Outbound::state(
            client,
            policy,
            Duration::from_secs(settings.failure_cache_seconds),
            settings.per_host_requests_per_second,
            settings.per_host_burst,
            settings.max_concurrent_fetches,
        ))
    }

    /// The same client and guard with per-host state of its own (failures, budgets, fetches in flight).
    pub fn sibling(&self) -> Outbound {
        Outbound::state(
            self.client.clone(),
            self.policy.clone(),
            self.failure_ttl,
            self.rate,
            self.burst,
            self.max_in_flight,
        )
    }

    fn state(
        client: reqwest::Client,
        policy: Arc<AddressPolicy>,
        failure_ttl: Duration,
        rate: f64,
        burst: f64,
        max_in_flight: usize,
    ) -> Outbound {
        let failing = (!failure_ttl.is_zero()).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(MAX_HOSTS)
                .time_to_live(failure_ttl)
                .build()
        });
        // A bucket left alone this long is full again, so forgetting it changes nothing.
        let refill = Duration::from_secs_f64((burst / rate).clamp(1.0, 86_400.0));
        let buckets = moka::sync::Cache::builder()
            .max_capacity(MAX_HOSTS)
            .time_to_idle(refill)
            .build();
        Outbound {
            client,
            policy,
            failing,
            failure_ttl,
            buckets,
            rate,
            burst,
            in_flight: Arc::new(tokio::sync::Semaphore::new(max_in_flight)),
            max_in_flight,
        }
    }

    /// GETs `request.url` if the guard and the host's budget allow, reading at most `max_bytes` of body.
    pub async fn get(&self, request: Request<'_>) -> Result<Response, FetchError> {
        let url = request.url;
        let host = host_key(url);
        let endpoint = host_port(url);
        if let Some(error) = self.failing.as_ref().and_then(|f| f.get(&endpoint)) {
            tracing::debug!(%url, endpoint, %error, "outbound fetch skipped: the host failed recently");
            count("failing_host");
            return Err(error);
        }
        let outcome = self.guarded_get(&host, &endpoint, &request).await;
        count(match &outcome {
            Ok(_) => "fetched",
            Err(e) => e.outcome(),
        });
        outcome
    }

    async fn guarded_get(
        &self,
        host: &str,
        endpoint: &str,
        request: &Request<'_>,
    ) -> Result<Response, FetchError> {
        let url = request.url;
        if let Err(range) = self.check_literal(url) {
            tracing::info!(%url, range, "outbound fetch refused: the URL's address is not allowed");
            return Err(self.remember(endpoint, FetchError::Refused));
        }
        let Ok(_permit) = self.in_flight.clone().try_acquire_owned() else {
            tracing::info!(%url, "outbound fetch not made: too many fetches in flight");
            return Err(FetchError::RateLimited(Duration::from_secs(1)));
        };
        if let Err(wait) = self.take_token(host) {
            tracing::info!(%url, host, "outbound fetch not made: the host's fetch rate is spent");
            return Err(FetchError::RateLimited(wait));
        }
        self.send(request)
            .await
            .map_err(|error| self.remember(endpoint, error))
    }

    /// A URL whose host is an IP address is connected to without any lookup, so it is checked here.
    fn check_literal(&self, url: &Url) -> Result<(), &'static str> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
            // The URL parser turns every IPv4 spelling into `Ipv4`; a domain that still reads as an address is
            // checked as one all the same.
            Some(url::Host::Domain(d)) => match d.trim_matches(['[', ']']).parse::<IpAddr>() {
                Ok(ip) => ip,
                Err(_) => return Ok(()),
            },
            None => return Err("no host"),
        };
        self.policy.permits(ip, false)
    }

    fn remember(&self, endpoint: &str, error: FetchError) -> FetchError {
        if let Some(failing) = self.failing.as_ref().filter(|_| error.is_host_failure()) {
            failing.insert(endpoint.to_string(), error);
        }
        error
    }

    fn take_token(&self, host: &str) -> Result<(), Duration> {
        let bucket = self.buckets.get_with(host.to_string(), || {
            Arc::new(Mutex::new(Bucket {
                tokens: self.burst,
                at: Instant::now(),
            }))
        });
        let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = refilled.min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }

    async fn send(&self, request: &Request<'_>) -> Result<Response, FetchError> {
        let url = request.url;
        let response = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, request.accept)
            .timeout(request.timeout)
            .send()
            .await
            .map_err(|e| transport_error(url, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = read_limited(url, response, request.max_bytes).await?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

fn count(outcome: &'static str) {
    metrics::counter!(names::OUTBOUND_FETCHES, "outcome" => outcome).increment(1);
}

/// Reads the body chunk by chunk and stops as soon as it passes the limit, so a huge or endless answer costs at
/// most `max_bytes` of memory.
async fn read_limited(
    url: &Url,
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, &e))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sorts a reqwest error into a `FetchError`, logging what it was (the guard logs its own refusals).
fn transport_error(url: &Url, error: &reqwest::Error) -> FetchError {
    if refused_by_guard(error) {
        return FetchError::Refused;
    }
    let reason = chain(error);
    if error.is_timeout() {
        tracing::warn!(%url, reason, "outbound fetch timed out");
        return FetchError::Timeout;
    }
    tracing::warn!(%url, reason, "outbound fetch failed");
    FetchError::Unreachable
}

fn refused_by_guard(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<Refusal>().is_some() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The key of per-host budgets: the host alone, without port or path, lowercase, without a trailing dot.
fn host_key(url: &Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The key of remembered failures: the host and the port (443 when none is given), without the path.
fn host_port(url: &Url) -> String {
    format!(
        "{}:{}",
        host_key(url),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// Resolves a host name to its addresses.
type Lookup = Arc<dyn Fn(String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> + Send + Sync>;

async fn system_lookup(host: String) -> std::io::Result<Vec<IpAddr>> {
    let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
    Ok(addrs.map(|a| a.ip()).collect())
}

/// A host name refused by the guard (for the log; clients see a generic answer).
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, {range}: not allowed for outbound fetches")]
struct Refusal {
    host: String,
    address: IpAddr,
    range: &'static str,
}

/// reqwest's resolver: one lookup, every address checked, only checked addresses handed back.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
    lookup: Lookup,
}

impl GuardedResolver {
    async fn resolve_checked(
        policy: &AddressPolicy,
        lookup: &Lookup,
        host: String,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let listed = policy.host_listed(&host);
        let addresses = lookup(host.clone()).await?;
        if addresses.is_empty() {
            return Err(format!("{host} resolves to no address").into());
        }
        // Any one address that is not allowed refuses the name: a name is trusted as a whole or not at all.
        for &address in &addresses {
            if let Err(range) = policy.permits(address, listed) {
                tracing::info!(host, %address, range, "outbound fetch refused: the host's address is not allowed");
                return Err(Box::new(Refusal {
                    host,
                    address,
                    range,
                }));
            }
        }
        Ok(addresses
            .into_iter()
            .map(|ip| SocketAddr::new(ip, 0))
            .collect())
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, lookup) = (self.policy.clone(), self.lookup.clone());
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addresses = Self::resolve_checked(&policy, &lookup, host).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

fn extra_roots(field: &str, path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    if path.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| ConfigError::invalid(field, format!("cannot read {shown}: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ConfigError::invalid(field, format!("{shown}: {}", chain(&e))))?;
    if certs.is_empty() {
        return Err(ConfigError::invalid(
            field,
            format!("{shown} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own message hides the cause). For logs only.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting_lookup(answer: Vec<&str>, calls: Arc<AtomicUsize>) -> Lookup {
        let answer: Vec<IpAddr> = answer.iter().map(|a| a.parse().unwrap()).collect();
        Arc::new(move |_host: String| {
            calls.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            Box::pin(async move { Ok(answer) })
        })
    }

    async fn resolve(
        policy: AddressPolicy,
        answer: Vec<&str>,
    ) -> (Result<Vec<SocketAddr>, String>, usize) {
        use reqwest::dns::Resolve;
        let calls = Arc::new(AtomicUsize::new(0));
        let resolver = GuardedResolver {
            policy: Arc::new(policy),
            lookup: counting_lookup(answer, calls.clone()),
        };
        let name: reqwest::dns::Name = "did.example".parse().unwrap();
        let result = resolver
            .resolve(name)
            .await
            .map(|addrs| addrs.collect())
            .map_err(|e| e.to_string());
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_name_with_any_forbidden_address_is_refused_whole() {
        let strict = || AddressPolicy::new(false, &[]).unwrap();
        for answer in [
            vec!["93.184.215.14", "127.0.0.1"],
            vec!["2606:4700::1", "::ffff:10.0.0.1"],
            vec!["169.254.169.254"],
            vec!["8.8.8.8", "fd00::1", "1.1.1.1"],
        ] {
            let (result, calls) = resolve(strict(), answer.clone()).await;
            let error = result.expect_err("refused");
            assert!(error.contains("not allowed"), "{answer:?}: {error}");
            assert_eq!(calls, 1, "one lookup");
        }
        let (result, _) = resolve(strict(), vec![]).await;
        assert!(result.is_err(), "no address at all");
    }

    #[tokio::test]
    async fn reqwest_gets_exactly_the_checked_addresses_from_one_lookup() {
        let answer = vec!["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"];
        let (result, calls) =
            resolve(AddressPolicy::new(false, &[]).unwrap(), answer.clone()).await;
        let expected: Vec<SocketAddr> = answer
            .iter()
            .map(|a| SocketAddr::new(a.parse().unwrap(), 0))
            .collect();
        assert_eq!(result.unwrap(), expected);
        assert_eq!(calls, 1);
        // A listed host may resolve to private addresses; a CIDR entry admits only what it covers.
        let listed = AddressPolicy::new(false, &["did.example".into()]).unwrap();
        assert!(resolve(listed, vec!["10.0.0.1", "::1"]).await.0.is_ok());
        let net = AddressPolicy::new(false, &["10.0.0.0/8".into()]).unwrap();
        assert!(resolve(net.clone(), vec!["10.0.0.1"]).await.0.is_ok());
        assert!(resolve(net, vec!["10.0.0.1", "127.0.0.1"]).await.0.is_err());
    }

    #[test]
    fn the_url_parser_normalises_every_ipv4_spelling() {
        for spelling in [
            "https://2130706433/",
            "https://0x7f.1/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://127.1/",
            "https://127.0.0.1./",
            "https://%31%32%37.0.0.1/",
        ] {
            let url = Url::parse(spelling).unwrap();
            assert_eq!(
                url.host(),
                Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST)),
                "{spelling}"
            );
        }
        let mapped = Url::parse("https://[::ffff:127.0.0.1]/").unwrap();
        assert_eq!(
            mapped.host(),
            Some(url::Host::Ipv6("::ffff:7f00:1".parse().unwrap()))
        );
    }

    #[test]
    fn host_keys_ignore_port_path_and_case() {
        for url in [
            "https://Did.Example:8443/a/did.json",
            "https://did.example/.well-known/did.json",
            "https://did.example.:1/x",
        ] {
            assert_eq!(host_key(&Url::parse(url).unwrap()), "did.example", "{url}");
        }
        let endpoint = |url: &str| host_port(&Url::parse(url).unwrap());
        assert_eq!(endpoint("https://Did.Example/a"), "did.example:443");
        assert_eq!(endpoint("https://did.example.:443/b"), "did.example:443");
        assert_eq!(endpoint("https://did.example:8443/a"), "did.example:8443");
    }

    /// A rebinding name: allowed 127.0.0.2 at the first lookup, refused 127.0.0.1 at every later one. The fetch
    /// connects where the checked lookup said, and the next fetch's single lookup is checked afresh.
    #[tokio::test]
    async fn the_connection_goes_to_the_address_checked_with_one_lookup() {
        let listen = |ip: &'static str| async move {
            let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let accepted = Arc::new(AtomicUsize::new(0));
            let counter = accepted.clone();
            let task = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                }
            });
            (port, accepted, task)
        };
        let (port, allowed_hits, allowed_task) = listen("127.0.0.2").await;
        // The refused address listens on the same port where it can, so a connection there would be seen.
        let refused = std::net::TcpListener::bind(("127.0.0.1", port)).ok();
        let refused_hits = Arc::new(AtomicUsize::new(0));
        let refused_task = refused.map(|l| {
            l.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(l).unwrap();
            let counter = refused_hits.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                }
            })
        });
        let lookups = Arc::new(AtomicUsize::new(0));
        let counter = lookups.clone();
        let lookup: Lookup = Arc::new(move |_host: String| {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            let ip: IpAddr = if first { "127.0.0.2" } else { "127.0.0.1" }
                .parse()
                .unwrap();
            Box::pin(async move { Ok(vec![ip]) })
        });
        let toml = "[outbound]\nfailure_cache_seconds = 0\nallow = [\"127.0.0.2\"]\n";
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idr.toml");
        std::fs::write(&file, toml).unwrap();
        let overrides = crate::config::Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let settings = crate::config::Settings::load_with_env(&overrides, &Default::default())
            .unwrap()
            .outbound;
        let policy = Arc::new(settings.policy().unwrap());
        let outbound = Outbound::with_lookup(&settings, policy, lookup).unwrap();
        let url = Url::parse(&format!("https://rebind.test:{port}/did.json")).unwrap();
        let get = || {
            outbound.get(Request {
                url: &url,
                accept: "application/json",
                timeout: Duration::from_secs(2),
                max_bytes: 1024,
            })
        };
        // The TLS handshake fails on the plain listener: the connection was made, to 127.0.0.2.
        assert_eq!(get().await.err(), Some(FetchError::Unreachable));
        assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
        assert_eq!(
            lookups.load(Ordering::SeqCst),
            1,
            "one lookup per connection"
        );
        assert_eq!(get().await.err(), Some(FetchError::Refused));
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
        assert_eq!(allowed_hits.load(Ordering::SeqCst), 1);
        assert_eq!(
            refused_hits.load(Ordering::SeqCst),
            0,
            "never the rebound address"
        );
        allowed_task.abort();
        if let Some(task) = refused_task {
            task.abort();
        }
    }
}

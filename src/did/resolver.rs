//! Fetching did:web DID documents with our own HTTPS client, and caching them.
//!
//! ssi's own did:web resolver builds a fresh client per call (no timeouts, size limit or extra CAs, and plain HTTP
//! for `localhost`), so only ssi's DID syntax and `Document` type are used here. The client follows no redirects:
//! did:web binds a DID to the document at one URL on one host, and a redirect would let another URL answer for it.
//!
//! One fetch per DID at a time: concurrent requests for a DID that is not cached wait for the same fetch (a
//! `OnceCell` per cache entry). A fetched document is kept as long as its `Cache-Control` allows, within the
//! configured bounds; a failure is kept `failure_cache_seconds`.

use super::DidError;
use crate::config::{ConfigError, DidWebSettings};
use crate::identifier::did_web::DidWeb;
use reqwest::header::{self, HeaderMap};
use ssi::dids::Document;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use url::Url;

const USER_AGENT: &str = concat!("idr/", env!("CARGO_PKG_VERSION"), " (did:web resolver)");
const ACCEPT: &str = "application/did+json, application/did+ld+json, application/json;q=0.9";
/// Longest upstream error text quoted in a problem document.
const MAX_REASON: usize = 300;

/// A resolved DID document, or why there is none. Shared by every request that reads it from the cache.
pub type Resolved = Result<Arc<Document>, DidError>;

/// How long a successfully fetched document may be reused, whatever its `Cache-Control` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBounds {
    pub min: Duration,
    pub max: Duration,
}

/// The outcome of one fetch and how long to keep it.
struct Fetched {
    outcome: Resolved,
    ttl: Duration,
    bytes: usize,
}

/// A cache entry: empty while its fetch runs, so that concurrent requests wait for that fetch.
type Slot = Arc<OnceCell<Fetched>>;

pub struct DidResolver {
    client: reqwest::Client,
    cache: moka::sync::Cache<String, Slot>,
    timeout: Duration,
    max_bytes: usize,
    bounds: CacheBounds,
    failure_ttl: Duration,
}

impl DidResolver {
    /// Builds the HTTPS client (system roots plus `extra_ca_file`) and the cache. A CA file that cannot be read or
    /// holds no certificate is a configuration error naming the field.
    pub fn new(settings: &DidWebSettings) -> Result<DidResolver, ConfigError> {
        let extra = extra_roots(&settings.extra_ca_file)?;
        let field = if extra.is_empty() {
            "did_web"
        } else {
            "did_web.extra_ca_file"
        };
        let timeout = Duration::from_millis(settings.timeout_ms);
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .tls_certs_merge(extra)
            .build()
            .map_err(|e| {
                ConfigError::invalid(
                    field,
                    format!("cannot build the HTTPS client: {}", chain(&e)),
                )
            })?;
        // An entry whose fetch never finished (its request was dropped) must not outlive the fetch's timeout.
        let pending = timeout + Duration::from_secs(1);
        let cache = moka::sync::Cache::builder()
            .max_capacity(settings.cache_bytes)
            .weigher(|key: &String, slot: &Slot| {
                let bytes = key.len() + slot.get().map_or(0, |f| f.bytes);
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(SlotExpiry { pending })
            .build();
        Ok(DidResolver {
            client,
            cache,
            timeout,
            max_bytes: settings.max_document_bytes,
            bounds: CacheBounds {
                min: Duration::from_secs(settings.min_cache_seconds),
                max: Duration::from_secs(settings.max_cache_seconds),
            },
            failure_ttl: Duration::from_secs(settings.failure_cache_seconds),
        })
    }

    /// The DID document of `did`, from the cache or fetched now.
    pub async fn resolve(&self, did: &DidWeb) -> Resolved {
        let key = did.as_str().to_string();
        let slot = self
            .cache
            .get_with(key.clone(), || Arc::new(OnceCell::new()));
        let mut fetched_here = false;
        let fetched = slot
            .get_or_init(|| async {
                fetched_here = true;
                self.fetch(did).await
            })
            .await;
        if fetched_here {
            // Re-inserting makes the cache read the entry's lifetime from the settled outcome.
            if fetched.ttl.is_zero() {
                self.cache.invalidate(&key);
            } else {
                self.cache.insert(key, slot.clone());
            }
        }
        fetched.outcome.clone()
    }

    async fn fetch(&self, did: &DidWeb) -> Fetched {
        match self.download(did).await {
            Ok((document, ttl, bytes)) => {
                tracing::debug!(%did, ttl_s = ttl.as_secs(), bytes, "DID document fetched");
                Fetched {
                    outcome: Ok(Arc::new(document)),
                    ttl,
                    bytes,
                }
            }
            Err(error) => {
                tracing::warn!(%did, %error, "did:web resolution failed");
                Fetched {
                    outcome: Err(error),
                    ttl: self.failure_ttl,
                    bytes: 0,
                }
            }
        }
    }

    async fn download(&self, did: &DidWeb) -> Result<(Document, Duration, usize), DidError> {
        let url = did.document_url();
        let response = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, ACCEPT)
            .send()
            .await
            .map_err(|e| self.transport_error(url, &e))?;
        check_status(url, response.status().as_u16())?;
        let ttl = freshness(response.headers(), self.bounds);
        let body = self.read_limited(url, response).await?;
        let document = parse_document(did, url, &body)?;
        Ok((document, ttl, body.len()))
    }

    /// Reads the body chunk by chunk and stops as soon as it passes the limit, so a huge or endless answer costs
    /// at most `max_document_bytes` of memory.
    async fn read_limited(
        &self,
        url: &Url,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, DidError> {
        let too_large = || DidError::TooLarge {
            url: url.to_string(),
            limit: self.max_bytes,
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(url, &e))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> DidError {
        if error.is_timeout() {
            return DidError::Timeout {
                url: url.to_string(),
                ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            };
        }
        DidError::Fetch {
            url: url.to_string(),
            reason: shorten(chain(error)),
        }
    }
}

/// Only a 2xx answer carries the document; 404 and 410 say there is none.
fn check_status(url: &Url, status: u16) -> Result<(), DidError> {
    let url = url.to_string();
    match status {
        200..=299 => Ok(()),
        300..=399 => Err(DidError::Redirect { url, status }),
        404 | 410 => Err(DidError::NotFound { url, status }),
        _ => Err(DidError::Status { url, status }),
    }
}

/// Parses the body into ssi's DID document type and checks that it describes the DID we resolved.
fn parse_document(did: &DidWeb, url: &Url, body: &[u8]) -> Result<Document, DidError> {
    let document: Document = serde_json::from_slice(body).map_err(|e| DidError::BadDocument {
        url: url.to_string(),
        reason: shorten(e.to_string()),
    })?;
    if document.id.as_str() != did.as_str() {
        return Err(DidError::IdMismatch {
            url: url.to_string(),
            found: shorten(document.id.to_string()),
            did: did.to_string(),
        });
    }
    Ok(document)
}

/// How long a fetched document may be reused: `s-maxage`, else `max-age`, minus `Age`, within `bounds`; `bounds.min`
/// when the answer gives no lifetime; zero for `no-store`, `no-cache` and `private` (we are a shared cache).
pub fn freshness(headers: &HeaderMap, bounds: CacheBounds) -> Duration {
    let directives: Vec<&str> = headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let age = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    cache_lifetime(&directives, age, bounds)
}

fn cache_lifetime(directives: &[&str], age: Option<u64>, bounds: CacheBounds) -> Duration {
    let mut max_age = None;
    let mut s_maxage = None;
    for directive in directives {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let seconds = value.trim().trim_matches('"').parse::<u64>().ok();
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" | "private" => return Duration::ZERO,
            "max-age" => max_age = max_age.or(seconds),
            "s-maxage" => s_maxage = s_maxage.or(seconds),
            _ => {}
        }
    }
    match s_maxage.or(max_age) {
        Some(lifetime) => {
            let fresh = Duration::from_secs(lifetime.saturating_sub(age.unwrap_or(0)));
            fresh.clamp(bounds.min, bounds.max)
        }
        None => bounds.min,
    }
}

/// Cache entries live as long as their outcome says; a pending one as long as its fetch may take.
struct SlotExpiry {
    pending: Duration,
}

impl SlotExpiry {
    fn lifetime(&self, slot: &Slot) -> Option<Duration> {
        Some(slot.get().map_or(self.pending, |f| f.ttl))
    }
}

impl moka::Expiry<String, Slot> for SlotExpiry {
    fn expire_after_create(&self, _: &String, slot: &Slot, _: Instant) -> Option<Duration> {
        self.lifetime(slot)
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &Slot,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.lifetime(slot)
    }
}

fn extra_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, ConfigError> {
    const FIELD: &str = "did_web.extra_ca_file";
    if path.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    let shown = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| ConfigError::invalid(FIELD, format!("cannot read {shown}: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ConfigError::invalid(FIELD, format!("{shown}: {}", chain(&e))))?;
    if certs.is_empty() {
        return Err(ConfigError::invalid(
            FIELD,
            format!("{shown} holds no PEM certificate"),
        ));
    }
    Ok(certs)
}

/// An error with its causes, `outer: inner: innermost` (reqwest's own message hides the cause).
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

fn shorten(mut text: String) -> String {
    if text.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: CacheBounds = CacheBounds {
        min: Duration::from_secs(0),
        max: Duration::from_secs(3600),
    };

    fn lifetime(cache_control: &[&str], age: Option<&str>, bounds: CacheBounds) -> u64 {
        let mut headers = HeaderMap::new();
        for value in cache_control {
            headers.append(header::CACHE_CONTROL, value.parse().unwrap());
        }
        if let Some(age) = age {
            headers.insert(header::AGE, age.parse().unwrap());
        }
        freshness(&headers, bounds).as_secs()
    }

    #[test]
    fn cache_control_sets_the_lifetime() {
        assert_eq!(lifetime(&["max-age=60"], None, BOUNDS), 60);
        assert_eq!(lifetime(&["public, MAX-AGE=\"120\""], None, BOUNDS), 120);
        assert_eq!(
            lifetime(&["max-age=60, s-maxage=30"], None, BOUNDS),
            30,
            "we are a shared cache"
        );
        assert_eq!(lifetime(&["max-age=60"], Some("45"), BOUNDS), 15);
        assert_eq!(lifetime(&["max-age=60"], Some("100"), BOUNDS), 0);
        assert_eq!(lifetime(&["max-age=x"], None, BOUNDS), 0);
        assert_eq!(
            lifetime(&["max-age=60", "must-revalidate"], None, BOUNDS),
            60
        );
    }

    #[test]
    fn no_store_no_cache_and_private_are_never_cached() {
        let floor = CacheBounds {
            min: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        };
        for value in [
            "no-store",
            "max-age=60, no-cache",
            "private, max-age=60",
            "No-Store",
        ] {
            assert_eq!(lifetime(&[value], None, floor), 0, "{value}");
        }
        assert_eq!(
            lifetime(&["max-age=60", "no-store"], None, floor),
            0,
            "across header lines"
        );
    }

    #[test]
    fn bounds_apply() {
        let bounds = CacheBounds {
            min: Duration::from_secs(10),
            max: Duration::from_secs(100),
        };
        assert_eq!(lifetime(&["max-age=5"], None, bounds), 10);
        assert_eq!(lifetime(&["max-age=86400"], None, bounds), 100);
        assert_eq!(
            lifetime(&[], None, bounds),
            10,
            "no lifetime given: the minimum"
        );
    }

    #[test]
    fn statuses() {
        let url = Url::parse("https://h.example/did.json").unwrap();
        assert_eq!(check_status(&url, 200), Ok(()));
        assert!(matches!(
            check_status(&url, 301),
            Err(DidError::Redirect { .. })
        ));
        assert!(matches!(
            check_status(&url, 404),
            Err(DidError::NotFound { .. })
        ));
        assert!(matches!(
            check_status(&url, 410),
            Err(DidError::NotFound { .. })
        ));
        assert!(matches!(
            check_status(&url, 500),
            Err(DidError::Status { status: 500, .. })
        ));
    }

    #[test]
    fn documents_parse_with_numbers_anywhere() {
        // ssi turns on serde_json's arbitrary_precision, which breaks numbers under `flatten`/`untagged`; the
        // document type has both (extra properties, map endpoints).
        let did = DidWeb::parse("did:web:h.example").unwrap();
        let url = did.document_url().clone();
        let body = br##"{"@context": "https://www.w3.org/ns/did/v1", "id": "did:web:h.example",
            "version": 3, "ratio": 0.5,
            "service": [{"id": "did:web:h.example#a", "type": "x", "priority": 1,
                         "serviceEndpoint": {"href": "https://a.example", "weight": 2.5}}]}"##;
        let document = parse_document(&did, &url, body).unwrap();
        assert_eq!(document.service.len(), 1);
        assert!(document.property_set.contains_key("version"));
    }

    #[test]
    fn documents_are_checked() {
        let did = DidWeb::parse("did:web:h.example").unwrap();
        let url = did.document_url().clone();
        let other = br#"{"id": "did:web:other.example"}"#;
        assert!(matches!(
            parse_document(&did, &url, other),
            Err(DidError::IdMismatch { .. })
        ));
        for body in [
            &b"[]"[..],
            b"{}",
            b"not json",
            br#"{"id": "https://h.example"}"#,
        ] {
            assert!(
                matches!(
                    parse_document(&did, &url, body),
                    Err(DidError::BadDocument { .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn bad_ca_files_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        for path in [missing, empty] {
            let err = extra_roots(&path).unwrap_err().to_string();
            assert!(err.contains("did_web.extra_ca_file"), "{err}");
        }
        assert!(extra_roots(Path::new("")).unwrap().is_empty());
    }
}

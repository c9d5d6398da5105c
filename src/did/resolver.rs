//! Fetching did:web DID documents through the guarded outbound client (`crate::outbound`), and caching them.
//!
//! ssi's own did:web resolver builds a fresh client per call (no timeouts, size limit, extra CAs or address guard,
//! and plain HTTP for `localhost`), so only ssi's DID syntax and `Document` type are used here. Redirects are not
//! followed: did:web binds a DID to the document at one URL on one host, and a redirect would let another URL answer
//! for it.
//!
//! One fetch per DID at a time: concurrent requests for a DID that is not cached wait for the same fetch (a
//! `OnceCell` per cache entry). A fetched document is kept as long as its `Cache-Control` allows, within the
//! configured bounds; a failure is kept `failure_cache_seconds`. Per host, the outbound client adds its own memory
//! of unreachable hosts and a rate limit, so varying a DID's path or port does not multiply fetches.

use super::DidError;
use crate::config::DidWebSettings;
use crate::identifier::did_web::DidWeb;
use crate::outbound::slot::shorten;
use crate::outbound::{FetchError, Outbound, Request};
use reqwest::header::{self, HeaderMap};
use ssi::dids::Document;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use url::Url;

const ACCEPT: &str = "application/did+json, application/did+ld+json, application/json;q=0.9";
/// Longest upstream text quoted in a problem document.
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
type Slot = crate::outbound::slot::Slot<Fetched>;

impl crate::outbound::slot::Kept for Fetched {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

pub struct DidResolver {
    /// The linksets DID documents name as their resolvers (`did::linksets`), fetched with the same bounds.
    linksets: super::linksets::Linksets,
    outbound: Arc<Outbound>,
    cache: moka::sync::Cache<String, Slot>,
    timeout: Duration,
    max_bytes: usize,
    bounds: CacheBounds,
    failure_ttl: Duration,
}

impl DidResolver {
    /// The cache in front of `outbound`, the client every fetch goes through.
    pub fn new(settings: &DidWebSettings, outbound: Arc<Outbound>) -> DidResolver {
        let timeout = Duration::from_millis(settings.timeout_ms);
        // An entry whose fetch never finished (its request was dropped) must not outlive the fetch's timeout.
        let pending = timeout + Duration::from_secs(1);
        let cache = moka::sync::Cache::builder()
            .max_capacity(settings.cache_bytes)
            .weigher(|key: &String, slot: &Slot| {
                let bytes = key.len() + slot.get().map_or(0, |f| f.bytes);
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(crate::outbound::slot::SlotExpiry { pending })
            .build();
        DidResolver {
            linksets: super::linksets::Linksets::new(settings, outbound.clone()),
            outbound,
            cache,
            timeout,
            max_bytes: settings.max_document_bytes,
            bounds: CacheBounds {
                min: Duration::from_secs(settings.min_cache_seconds),
                max: Duration::from_secs(settings.max_cache_seconds),
            },
            failure_ttl: Duration::from_secs(settings.failure_cache_seconds),
        }
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

    /// The linkset at `url`, which the document of `did` names as its resolver (see `did::linksets`).
    pub async fn linkset(
        &self,
        did: &DidWeb,
        url: &str,
        vocab: &crate::vocabulary::Vocabulary,
    ) -> Result<Arc<super::linksets::RemoteLinkset>, DidError> {
        self.linksets.get(did, url, vocab).await
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
                // Not fetched for lack of budget: nothing is known about the DID, so nothing is kept.
                let ttl = match error {
                    DidError::Busy { .. } => Duration::ZERO,
                    _ => self.failure_ttl,
                };
                tracing::info!(%did, %error, "did:web resolution failed");
                Fetched {
                    outcome: Err(error),
                    ttl,
                    bytes: 0,
                }
            }
        }
    }

    async fn download(&self, did: &DidWeb) -> Result<(Document, Duration, usize), DidError> {
        let url = did.document_url();
        let request = Request {
            url,
            accept: ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let response = self
            .outbound
            .get(request)
            .await
            .map_err(|e| self.fetch_error(did, url, e))?;
        check_status(url, response.status)?;
        let ttl = freshness(&response.headers, self.bounds);
        let document = parse_document(did, url, &response.body)?;
        Ok((document, ttl, response.body.len()))
    }

    fn fetch_error(&self, did: &DidWeb, url: &Url, error: FetchError) -> DidError {
        let did = did.to_string();
        match error {
            FetchError::Refused | FetchError::Unreachable => DidError::Unreachable { did },
            FetchError::Timeout => DidError::Timeout {
                did,
                ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            },
            FetchError::RateLimited(wait) => DidError::Busy {
                did,
                seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
            },
            FetchError::TooLarge(limit) => DidError::TooLarge {
                url: url.to_string(),
                limit,
            },
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
        reason: shorten(e.to_string(), MAX_REASON),
    })?;
    if document.id.as_str() != did.as_str() {
        return Err(DidError::IdMismatch {
            url: url.to_string(),
            found: shorten(document.id.to_string(), MAX_REASON),
            did: did.to_string(),
        });
    }
    Ok(document)
}

/// How long a fetched document may be reused: `s-maxage`, else `max-age`, minus `Age`, within `bounds`; `bounds.min`
/// when the answer gives no lifetime, and also for `no-store`, `no-cache` and `private`. The floor is what keeps a
/// stream of scans or forged DID-signed requests from fetching a document on every request; with a floor of 0 those
/// three directives mean the document is not kept at all.
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
            "no-store" | "no-cache" | "private" => return bounds.min,
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
    fn no_store_no_cache_and_private_keep_only_the_floor() {
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
            assert_eq!(lifetime(&[value], None, floor), 30, "{value}");
            assert_eq!(lifetime(&[value], None, BOUNDS), 0, "{value}: no floor");
        }
        assert_eq!(
            lifetime(&["max-age=600", "no-store"], None, floor),
            30,
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
}

//! DIDs as resolvers (UNTP Identity Resolver, "DID Documents as Resolvers"): a DID document whose service of type
//! `IdentityResolver` (`untp:idr`) or `linkset` points to a resolver publishes its links there. This fetches that
//! linkset through the guarded outbound client (HTTPS only, the did:web time and size bounds, redirects not
//! followed), checks that it is an RFC 9264 linkset, and caches it as DID documents are cached (its `Cache-Control`
//! within the did:web bounds; failures for `failure_cache_seconds`; one fetch per URL at a time).

use super::DidError;
use super::resolver::{CacheBounds, freshness};
use super::services::{DEFAULT_TYPE, ServiceLink};
use crate::config::DidWebSettings;
use crate::identifier::did_web::DidWeb;
use crate::negotiate::{Choice, Preferences};
use crate::outbound::slot::shorten;
use crate::outbound::{FetchError, Outbound, Request};
use crate::registry::Link;
use crate::vocabulary::{self, Vocabulary};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;
use url::Url;

/// The service type that names a resolver (UNTP's `IdentityResolver` is one of its spellings); `linkset` too.
pub const RESOLVER_TYPE: &str = "untp:idr";
const ACCEPT: &str = "application/linkset+json, application/json;q=0.5";
/// Longest upstream text quoted in a problem document.
const MAX_REASON: usize = 300;

/// One context object of a fetched linkset: its anchor and its links, each with its relation as a canonical URI
/// when the vocabularies know it (else as written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub anchor: String,
    /// Its `itemDescription`, when it is a string.
    pub item_description: Option<String>,
    /// (relation, target), in the linkset's order.
    pub links: Vec<(String, Link)>,
}

/// A fetched, checked linkset: the JSON as published, and its contexts for choosing a link.
#[derive(Debug, PartialEq, Eq)]
pub struct RemoteLinkset {
    pub json: Value,
    pub contexts: Vec<Context>,
}

struct Fetched {
    outcome: Result<Arc<RemoteLinkset>, DidError>,
    ttl: Duration,
    bytes: usize,
}

type Slot = crate::outbound::slot::Slot<Fetched>;

impl crate::outbound::slot::Kept for Fetched {
    fn ttl(&self) -> Duration {
        self.ttl
    }
}

/// The cache of linksets fetched for DIDs, keyed by DID and URL.
pub struct Linksets {
    outbound: Arc<Outbound>,
    cache: moka::sync::Cache<String, Slot>,
    timeout: Duration,
    max_bytes: usize,
    bounds: CacheBounds,
    failure_ttl: Duration,
}

impl Linksets {
    pub fn new(settings: &DidWebSettings, outbound: Arc<Outbound>) -> Linksets {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let pending = timeout + Duration::from_secs(1);
        let cache = moka::sync::Cache::builder()
            .max_capacity(settings.cache_bytes)
            .weigher(|key: &String, slot: &Slot| {
                let bytes = key.len() + slot.get().map_or(0, |f| f.bytes);
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .expire_after(crate::outbound::slot::SlotExpiry { pending })
            .build();
        Linksets {
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

    /// The linkset at `url`, which the document of `did` names as its resolver, from the cache or fetched now.
    pub async fn get(
        &self,
        did: &DidWeb,
        url: &str,
        vocab: &Vocabulary,
    ) -> Result<Arc<RemoteLinkset>, DidError> {
        let key = format!("{did} {url}");
        let slot = self
            .cache
            .get_with(key.clone(), || Arc::new(OnceCell::new()));
        let mut fetched_here = false;
        let fetched = slot
            .get_or_init(|| async {
                fetched_here = true;
                self.fetch(did, url, vocab).await
            })
            .await;
        if fetched_here {
            if fetched.ttl.is_zero() {
                self.cache.invalidate(&key);
            } else {
                self.cache.insert(key, slot.clone());
            }
        }
        fetched.outcome.clone()
    }

    async fn fetch(&self, did: &DidWeb, url: &str, vocab: &Vocabulary) -> Fetched {
        match self.download(did, url, vocab).await {
            Ok((linkset, ttl, bytes)) => Fetched {
                outcome: Ok(Arc::new(linkset)),
                ttl,
                bytes,
            },
            Err(error) => {
                let ttl = match error {
                    DidError::LinksetBusy { .. } => Duration::ZERO,
                    _ => self.failure_ttl,
                };
                tracing::info!(%did, %error, "the linkset a DID document names could not be used");
                Fetched {
                    outcome: Err(error),
                    ttl,
                    bytes: 0,
                }
            }
        }
    }

    async fn download(
        &self,
        did: &DidWeb,
        url: &str,
        vocab: &Vocabulary,
    ) -> Result<(RemoteLinkset, Duration, usize), DidError> {
        let bad = |reason: String| DidError::BadLinkset {
            did: did.to_string(),
            detail: format!("{url} did not give an RFC 9264 linkset: {reason}"),
        };
        let parsed = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if parsed.scheme() != "https" {
            return Err(DidError::BadLinkset {
                did: did.to_string(),
                detail: format!(
                    "{url} is not fetched: only https resolvers are (the linkset speaks for the DID)"
                ),
            });
        }
        let request = Request {
            url: &parsed,
            accept: ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let response = self
            .outbound
            .get(request)
            .await
            .map_err(|e| self.fetch_error(did, url, e))?;
        if !(200..=299).contains(&response.status) {
            return Err(DidError::BadLinkset {
                did: did.to_string(),
                detail: format!("{url} answered HTTP {}, not a linkset", response.status),
            });
        }
        let ttl = freshness(&response.headers, self.bounds);
        let json: Value = serde_json::from_slice(&response.body)
            .map_err(|e| bad(shorten(e.to_string(), MAX_REASON)))?;
        let contexts = check(&json, vocab).map_err(|e| bad(shorten(e, MAX_REASON)))?;
        Ok((RemoteLinkset { json, contexts }, ttl, response.body.len()))
    }

    fn fetch_error(&self, did: &DidWeb, url: &str, error: FetchError) -> DidError {
        let did = did.to_string();
        match error {
            FetchError::Refused | FetchError::Unreachable => DidError::LinksetUnreachable { did },
            FetchError::Timeout => DidError::LinksetTimeout {
                did,
                ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            },
            FetchError::RateLimited(wait) => DidError::LinksetBusy {
                did,
                seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
            },
            FetchError::TooLarge(limit) => DidError::BadLinkset {
                did,
                detail: format!(
                    "{url} gave a linkset larger than did_web.max_document_bytes ({limit} bytes)"
                ),
            },
        }
    }
}

/// The service that makes the DID a resolver: the first, in document order, of type `IdentityResolver` (any
/// spelling of `untp:idr`) or `linkset`, with an http(s) endpoint.
pub fn resolver_service<'a>(
    links: &'a [ServiceLink],
    vocab: &Vocabulary,
) -> Option<&'a ServiceLink> {
    let idr = vocab.lookup(RESOLVER_TYPE).map(|d| d.uri.as_str());
    links.iter().find(|l| {
        l.relation
            .as_deref()
            .is_some_and(|r| r == "linkset" || Some(r) == idr)
    })
}

/// The link a request gets from a fetched linkset, GS1's way: for a link type (`relation`, a canonical URI), that
/// type's targets in the first context (most specific first) that has any; with none, the default link
/// (`gs1:defaultLink`), else the `untp:dpp` targets. Among several, `preferences` choose (language, media type),
/// else the publisher's first. Earlier versions and action links are never chosen. `None`: nothing suitable.
pub fn choose<'a>(
    linkset: &'a RemoteLinkset,
    relation: Option<&str>,
    preferences: &Preferences,
    vocab: &Vocabulary,
) -> Option<&'a Link> {
    let pick = |matches: &dyn Fn(&str) -> bool| {
        linkset.contexts.iter().find_map(|context| {
            let candidates: Vec<&Link> = context
                .links
                .iter()
                .filter(|(r, l)| matches(r) && l.is_redirect_target())
                .map(|(_, l)| l)
                .collect();
            match preferences.choose(&candidates, false)? {
                Choice::One(link) => Some(link),
                Choice::Tie(tied) => tied.first().copied(),
            }
        })
    };
    match relation {
        // The matching rule of scans: any spelling of the relation (a bare `dpp` is `gs1:dpp`, the same as `untp:dpp`).
        Some(r) => pick(&|x| vocab.same_relation(x, r)),
        None => {
            let dpp = vocab.lookup(DEFAULT_TYPE).map(|d| d.uri.as_str());
            pick(&vocabulary::is_default_link)
                .or_else(|| pick(&|x| dpp.is_some_and(|d| vocab.same_relation(x, d))))
        }
    }
}

impl RemoteLinkset {
    /// The linkset as idr serves it back: re-written from the checked contexts, so only http(s) targets and the
    /// attributes idr reads are in it (never the remote bytes under idr's origin: a `javascript:` or `data:` target
    /// is left out). Relations are spelt as idr's linksets spell them (`[linktypes] emit`), resolved when fetched.
    pub fn normalised(&self, vocab: &Vocabulary) -> Value {
        let contexts: Vec<Value> = self
            .contexts
            .iter()
            .map(|c| {
                let mut object = Map::new();
                object.insert("anchor".into(), Value::String(c.anchor.clone()));
                if let Some(d) = &c.item_description {
                    object.insert("itemDescription".into(), Value::String(d.clone()));
                }
                for (relation, link) in &c.links {
                    let key = vocab.emitted(relation).to_string();
                    if let Value::Array(targets) = object
                        .entry(key)
                        .or_insert_with(|| Value::Array(Vec::new()))
                    {
                        targets.push(crate::linkset::target_object(link));
                    }
                }
                Value::Object(object)
            })
            .collect();
        serde_json::json!({ "linkset": contexts })
    }
}

/// Checks the shape RFC 9264 gives a linkset in JSON (section 4.2): an object whose `linkset` is a non-empty array of
/// context objects, each with an `anchor` URI; every other member whose value is an array is a relation, and its
/// items are target objects with an `href` URI (and, when present, `title` a string, `hreflang` and the UNTP lists
/// strings or arrays of strings). Members that are not arrays (`itemDescription`) are not relations. Returns each
/// context's links that can be redirect targets (http(s) `href`s).
pub fn check(json: &Value, vocab: &Vocabulary) -> Result<Vec<Context>, String> {
    let contexts = json
        .get("linkset")
        .and_then(Value::as_array)
        .ok_or("no \"linkset\" array")?;
    if contexts.is_empty() {
        return Err("\"linkset\" is empty".into());
    }
    contexts
        .iter()
        .enumerate()
        .map(|(i, c)| context(i, c, vocab))
        .collect()
}

fn context(i: usize, value: &Value, vocab: &Vocabulary) -> Result<Context, String> {
    let object = value
        .as_object()
        .ok_or(format!("linkset[{i}] is not an object"))?;
    let anchor = object
        .get("anchor")
        .and_then(Value::as_str)
        .filter(|a| Url::parse(a).is_ok())
        .ok_or(format!("linkset[{i}] has no \"anchor\" URI"))?;
    let mut links = Vec::new();
    for (relation, targets) in object {
        let Some(targets) = targets.as_array() else {
            continue;
        };
        let relation_uri = vocab
            .lookup(relation)
            .map_or_else(|| relation.clone(), |d| d.uri.clone());
        for (j, target) in targets.iter().enumerate() {
            let at = || format!("linkset[{i}].{relation}[{j}]");
            let map = target
                .as_object()
                .ok_or_else(|| format!("{} is not a target object", at()))?;
            check_target(map).map_err(|e| format!("{}: {e}", at()))?;
            if let Some(link) = super::services::object_target(map) {
                links.push((relation_uri.clone(), link));
            }
        }
    }
    Ok(Context {
        anchor: anchor.to_string(),
        item_description: object
            .get("itemDescription")
            .and_then(Value::as_str)
            .map(str::to_string),
        links,
    })
}

fn check_target(map: &Map<String, Value>) -> Result<(), String> {
    match map.get("href").and_then(Value::as_str) {
        Some(href) if Url::parse(href).is_ok() => {}
        _ => return Err("no \"href\" URI".into()),
    }
    if map.get("title").is_some_and(|t| !t.is_string()) {
        return Err("\"title\" is not a string".into());
    }
    for list in ["hreflang", "context", "rel", "method", "accessRole"] {
        let ok = match map.get(list) {
            None | Some(Value::String(_)) => true,
            Some(Value::Array(items)) => items.iter().all(Value::is_string),
            Some(_) => false,
        };
        if !ok {
            return Err(format!("\"{list}\" is not a string or a list of strings"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PIP: &str = "https://gs1.org/voc/pip";
    const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

    #[test]
    fn a_linkset_gives_its_contexts_links() {
        let json = json!({"linkset": [
            {"anchor": "https://r.example/p/1/i/2", "itemDescription": "Item",
             "untp:dpp": [{"href": "https://c.example/dpp.jwt", "title": "DPP", "hreflang": ["en"]}]},
            {"anchor": "https://r.example/p/1",
             "https://gs1.org/voc/pip": [{"href": "https://b.example/pip", "title": "Info"},
                                         {"href": "urn:isbn:1", "title": "Not a redirect target"}]}]});
        let contexts = check(&json, &Vocabulary::embedded()).unwrap();
        assert_eq!(contexts.len(), 2);
        assert_eq!(contexts[0].links[0].0, DPP);
        assert_eq!(contexts[0].links[0].1.href, "https://c.example/dpp.jwt");
        assert_eq!(contexts[1].anchor, "https://r.example/p/1");
        let relations: Vec<&str> = contexts[1].links.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(relations, [PIP]);
    }

    use proptest::prelude::*;

    const RELATIONS: [&str; 5] = [
        PIP,
        DPP,
        vocabulary::DEFAULT_LINK,
        "https://gs1.org/voc/certificationInfo",
        // UNTP's bare name: GS1's dpp, the same relation as untp:dpp (DPP).
        "dpp",
    ];

    /// Whether relations `a` and `b` (indices into RELATIONS) are one relation: DPP and the bare `dpp` are.
    fn same(a: usize, b: usize) -> bool {
        a == b || (a.min(b), a.max(b)) == (1, 4)
    }

    /// A target: its relation, language, and whether it is an earlier version.
    fn target() -> impl Strategy<Value = (usize, bool, bool)> {
        (0..RELATIONS.len(), any::<bool>(), any::<bool>())
    }

    fn linkset(contexts: &[Vec<(usize, bool, bool)>]) -> Value {
        let mut objects = Vec::new();
        for (i, targets) in contexts.iter().enumerate() {
            let mut object = serde_json::Map::new();
            object.insert("anchor".into(), json!(format!("https://r.example/{i}")));
            for (j, (relation, german, old)) in targets.iter().enumerate() {
                let mut t = json!({"href": format!("https://t.example/{i}/{j}"), "title": "t",
                                   "hreflang": [if *german { "de" } else { "en" }]});
                if *old {
                    t["rel"] = json!(["predecessor-version"]);
                }
                let list = object.entry(RELATIONS[*relation]).or_insert(json!([]));
                list.as_array_mut().unwrap().push(t);
            }
            objects.push(Value::Object(object));
        }
        json!({"linkset": objects})
    }

    proptest! {
        /// For a link type: a current target of that type from the first context that has one, in the language
        /// asked for when that context has it; none when no context has a current target of the type.
        #[test]
        fn a_type_gets_its_first_contexts_best_current_target(
            contexts in prop::collection::vec(prop::collection::vec(target(), 0..5), 1..4),
            wanted in 0..RELATIONS.len(),
            german in any::<bool>(),
        ) {
            let vocab = Vocabulary::embedded();
            let json = linkset(&contexts);
            let remote = RemoteLinkset { contexts: check(&json, &vocab).unwrap(), json };
            let language = if german { "de" } else { "en" };
            let preferences = Preferences::new(Some(language), None, None);
            // A request names its link type as a canonical URI (the selector looks it up).
            let uri = vocab.lookup(RELATIONS[wanted]).map_or(RELATIONS[wanted], |d| d.uri.as_str());
            let chosen = choose(&remote, Some(uri), &preferences, &vocab);
            // In linkset order: a context object lists its relation keys in order of first appearance, each with its
            // targets in order (so the targets under `dpp` follow those under DPP's URI when that came first).
            let current = |c: &Vec<(usize, bool, bool)>| -> Vec<(usize, bool)> {
                let key_at = |r: usize| c.iter().position(|t| t.0 == r).unwrap_or(usize::MAX);
                let mut found: Vec<(usize, usize, bool)> = c.iter().enumerate()
                    .filter(|(_, t)| same(t.0, wanted) && !t.2).map(|(j, t)| (key_at(t.0), j, t.1)).collect();
                found.sort();
                found.into_iter().map(|(_, j, g)| (j, g)).collect()
            };
            let first = contexts.iter().enumerate().find(|(_, c)| !current(c).is_empty());
            match first {
                None => prop_assert!(chosen.is_none()),
                Some((i, c)) => {
                    let candidates = current(c);
                    let best = candidates.iter().find(|(_, g)| *g == german).unwrap_or(&candidates[0]);
                    prop_assert_eq!(chosen.map(|l| l.href.clone()), Some(format!("https://t.example/{i}/{}", best.0)));
                }
            }
        }
    }

    #[test]
    fn the_linkset_served_back_holds_only_checked_web_targets() {
        let vocab = Vocabulary::embedded();
        let json = json!({"linkset": [{"anchor": "https://r.example/x", "itemDescription": "X",
            "dpp": [{"href": "javascript:alert(1)", "title": "bad"}, {"href": "https://c.example/dpp", "title": "DPP",
                     "onclick": "x"}],
            "https://gs1.org/voc/pip": [{"href": "data:text/html,<script>alert(1)</script>"}]}]});
        let remote = RemoteLinkset {
            contexts: check(&json, &vocab).unwrap(),
            json,
        };
        assert_eq!(
            remote.normalised(&vocab),
            json!({"linkset": [{"anchor": "https://r.example/x", "itemDescription": "X",
                "https://gs1.org/voc/dpp": [{"href": "https://c.example/dpp", "title": "DPP"}]}]})
        );
    }

    #[test]
    fn what_is_not_a_linkset_is_named() {
        let vocab = Vocabulary::embedded();
        let reason = |v: Value| check(&v, &vocab).unwrap_err();
        assert_eq!(reason(json!({"links": []})), "no \"linkset\" array");
        assert_eq!(reason(json!({"linkset": []})), "\"linkset\" is empty");
        assert!(reason(json!({"linkset": [{"pip": []}]})).contains("no \"anchor\""));
        assert!(
            reason(json!({"linkset": [{"anchor": "https://a.example", "pip": [{"title": "x"}]}]}))
                .contains("linkset[0].pip[0]: no \"href\"")
        );
        assert!(
            reason(
                json!({"linkset": [{"anchor": "https://a.example", "pip": ["https://x.example"]}]})
            )
            .contains("not a target object")
        );
        assert!(
            reason(json!({"linkset": [{"anchor": "https://a.example",
                "pip": [{"href": "https://x.example", "hreflang": 3}]}]}))
            .contains("\"hreflang\"")
        );
    }
}

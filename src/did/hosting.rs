//! DID documents for identifiers registered here, so that `did:web:{our host}:01:{gtin}` resolves to the same links
//! as `https://{our host}/01/{gtin}`. Pure functions: the caller looks the record up and serves the JSON.

use crate::identifier::did_web::{DidWeb, DidWebError};
use crate::linkset::target_object;
use crate::registry::{AnchorRecord, Link};
use crate::vocabulary::Vocabulary;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// The W3C DID v1 JSON-LD context.
pub const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
/// The service type of the entry pointing to our linkset for the identifier.
pub const RESOLVER_SERVICE_TYPE: &str = "IdentityResolver";
/// Fragment of that entry (link fragments always contain `-`, so they cannot take it).
const RESOLVER_FRAGMENT: &str = "linkset";

/// The DID naming the identifier at `canonical_path` on the resolver at `origin`:
/// `https://id.example.com` + `01/09520123456788` → `did:web:id.example.com:01:09520123456788`.
pub fn did_for(origin: &str, canonical_path: &str) -> Result<String, DidWebError> {
    DidWeb::for_location(origin, canonical_path).map(|d| d.as_str().to_string())
}

/// The DID document of `did`, which names the anchor at `anchor_url`: one service per link (id
/// `{did}#{prefix}-{term}`, numbered from the second link of a type on: `-2`, `-3`…; type the link type's CURIE;
/// endpoint the link target object), then a service pointing to the anchor's linkset.
pub fn document(did: &str, anchor_url: &str, record: &AnchorRecord, vocab: &Vocabulary) -> Value {
    let mut fragments = Fragments::default();
    fragments.reserve(RESOLVER_FRAGMENT);
    let mut services: Vec<Value> = record
        .links
        .iter()
        .map(|link| {
            let fragment = fragments.next(&base_fragment(link, vocab));
            json!({
                "id": format!("{did}#{fragment}"),
                "type": service_type(link, vocab),
                "serviceEndpoint": target_object(link),
            })
        })
        .collect();
    services.push(json!({
        "id": format!("{did}#{RESOLVER_FRAGMENT}"),
        "type": RESOLVER_SERVICE_TYPE,
        "serviceEndpoint": {
            "href": format!("{anchor_url}?linkType=linkset"),
            "title": "Linkset",
            "type": "application/linkset+json",
        },
    }));
    json!({
        "@context": [DID_CONTEXT],
        "id": did,
        "alsoKnownAs": [anchor_url],
        "service": services,
    })
}

/// The CURIE when a vocabulary knows the type, else the stored URI.
fn service_type(link: &Link, vocab: &Vocabulary) -> String {
    vocab
        .by_uri(&link.link_type)
        .map_or_else(|| link.link_type.clone(), |def| def.curie.clone())
}

/// `untp-dpp` for `untp:dpp`; for a type no vocabulary knows, `link-` and the URI's last letters and digits.
fn base_fragment(link: &Link, vocab: &Vocabulary) -> String {
    if let Some(def) = vocab.by_uri(&link.link_type) {
        return def.curie.replace(':', "-");
    }
    let last = link
        .link_type
        .rsplit(['/', '#', ':'])
        .next()
        .unwrap_or_default();
    let term: String = last.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("link-{term}")
}

/// Hands out unique fragments: the base the first time, then `base-2`, `base-3`…
#[derive(Default)]
struct Fragments {
    used: HashSet<String>,
    counts: HashMap<String, usize>,
}

impl Fragments {
    fn reserve(&mut self, fragment: &str) {
        self.used.insert(fragment.to_string());
    }

    fn next(&mut self, base: &str) -> String {
        loop {
            let count = self.counts.entry(base.to_string()).or_insert(0);
            *count += 1;
            let candidate = match *count {
                1 => base.to_string(),
                n => format!("{base}-{n}"),
            };
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:web:id.example.com:01:09520123456788";
    const ANCHOR: &str = "https://id.example.com/01/09520123456788";

    fn link(link_type: &str, href: &str, lang: &[&str]) -> Link {
        Link {
            link_type: link_type.into(),
            href: href.into(),
            title: format!("title of {href}"),
            media_type: Some("text/html".into()),
            hreflang: lang.iter().map(|s| s.to_string()).collect(),
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: true,
            id: None,
            contributor: None,
        }
    }

    fn record() -> AnchorRecord {
        AnchorRecord {
            item_description: "Battery".into(),
            default_link_type: Some("https://gs1.org/voc/pip".into()),
            links: vec![
                link("https://gs1.org/voc/pip", "https://b.example/en", &["en"]),
                link("https://gs1.org/voc/pip", "https://b.example/de", &["de"]),
                link(
                    "https://test.uncefact.org/vocabulary/linkTypes/dpp",
                    "https://c.example/dpp",
                    &["und"],
                ),
                link("https://gs1.org/voc/dpp", "https://c.example/gs1-dpp", &[]),
                link("https://other.example/voc/x", "https://o.example/x", &[]),
            ],
        }
    }

    #[test]
    fn origins_and_paths_map_to_dids() {
        assert_eq!(
            did_for("https://id.example.com", "01/09520123456788").unwrap(),
            DID
        );
        assert_eq!(
            did_for("https://id.example.com:8443", "01/09520123456788").unwrap(),
            "did:web:id.example.com%3A8443:01:09520123456788"
        );
        assert!(did_for("https://192.0.2.1", "01/09520123456788").is_err());
    }

    #[test]
    fn document_mirrors_the_anchor() {
        let doc = document(DID, ANCHOR, &record(), &Vocabulary::embedded());
        assert_eq!(doc["@context"], json!([DID_CONTEXT]));
        assert_eq!(doc["id"], DID);
        assert_eq!(doc["alsoKnownAs"], json!([ANCHOR]));
        let services = doc["service"].as_array().unwrap();
        let ids: Vec<&str> = services.iter().map(|s| s["id"].as_str().unwrap()).collect();
        let frag = |f: &str| format!("{DID}#{f}");
        assert_eq!(
            ids,
            vec![
                frag("gs1-pip"),
                frag("gs1-pip-2"),
                frag("untp-dpp"),
                frag("gs1-dpp"),
                frag("link-x"),
                frag("linkset"),
            ]
        );
        let types: Vec<&str> = services
            .iter()
            .map(|s| s["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            vec![
                "gs1:pip",
                "gs1:pip",
                "untp:dpp",
                "gs1:dpp",
                "https://other.example/voc/x",
                "IdentityResolver"
            ]
        );
        assert_eq!(
            services[1]["serviceEndpoint"],
            json!({"href": "https://b.example/de", "title": "title of https://b.example/de",
                   "type": "text/html", "hreflang": ["de"]})
        );
        assert!(
            services[2]["serviceEndpoint"].get("hreflang").is_none(),
            "`und` is internal"
        );
        assert_eq!(
            services[5]["serviceEndpoint"]["href"],
            format!("{ANCHOR}?linkType=linkset")
        );
    }

    #[test]
    fn hosted_documents_resolve_through_our_own_mapping() {
        let doc = document(DID, ANCHOR, &record(), &Vocabulary::embedded());
        let parsed: ssi::dids::Document = serde_json::from_value(doc).expect("a DID document");
        assert_eq!(parsed.id.as_str(), DID);
        let links = super::super::services::links(&parsed, &Vocabulary::embedded());
        assert_eq!(links.len(), 6, "every link and the resolver entry");
        assert_eq!(links[0].fragment, "gs1-pip");
        assert_eq!(links[0].link.href, "https://b.example/en");
        assert_eq!(
            links[5].relation.as_deref(),
            Some("https://test.uncefact.org/vocabulary/linkTypes/idr"),
            "IdentityResolver is an alias of untp:idr"
        );
    }

    #[test]
    fn fragments_stay_unique() {
        let mut f = Fragments::default();
        f.reserve("a-2");
        assert_eq!(f.next("a"), "a");
        assert_eq!(f.next("a"), "a-3");
        assert_eq!(f.next("a"), "a-4");
        assert_eq!(f.next("b"), "b");
    }
}

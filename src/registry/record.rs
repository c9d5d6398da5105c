//! The stored data model: one record per anchor (a canonical identifier at one level of its qualifier tree).

use crate::vocabulary::Vocabulary;
use serde::{Deserialize, Serialize};

/// What a writer registers for one anchor. Link types are canonical relation URIs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnchorRecord {
    pub item_description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_link_type: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// One typed link. Fields beyond `href`/`title`/`type`/`hreflang`/`context` are the UNTP 0.7 extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Link {
    pub link_type: String,
    pub href: String,
    pub title: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hreflang: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rel: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub method: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_role: Vec<String>,
    /// Whether a redirect here carries the scan's query string (GS1's rule, and the default). `"fwqs": false`
    /// (Pyx's name) sends the bare target. Written only when false, so records without it serialise as before. Not a
    /// negotiation attribute, and not part of linksets.
    #[serde(
        default = "forwards",
        rename = "fwqs",
        skip_serializing_if = "is_forwarding"
    )]
    #[schema(default = true)]
    pub forwards_query: bool,
    /// A name for the link that outlives changes to its variant: the Pyx-compatible API's link ID (after the
    /// identifier), kept when a change (of media type, of link type) would otherwise rename the link. Absent while the
    /// name is the one its variant gives. Not part of linksets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "3f2a9c1e0b7d4a55")]
    pub id: Option<String>,
    /// The did:web DID of the lifecycle contributor that added this link (a party proven by a Digital Identity
    /// Anchor, not the identifier's owner); set by the resolver, never by the writer (`crate::contribution`). Shown
    /// in linksets as an attribution and in the HTML view. Not a negotiation attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "did:web:recycler.example")]
    pub contributor: Option<String>,
}

fn forwards() -> bool {
    true
}

fn is_forwarding(forwards_query: &bool) -> bool {
    *forwards_query
}

impl Link {
    /// The attributes that tell variants apart. Two links with equal attributes are indistinguishable.
    pub fn negotiation_attributes(&self) -> (&Option<String>, &[String], &[String], &[String]) {
        (
            &self.media_type,
            &self.hreflang,
            &self.context,
            &self.access_role,
        )
    }

    /// Two links are the same variant when they are of one relation (in any spelling: `gs1:dpp` and `untp:dpp` are
    /// one) and share every negotiation attribute: a scan cannot tell them apart, so a new target for one replaces
    /// the other.
    pub fn same_variant(&self, other: &Link, vocab: &Vocabulary) -> bool {
        self.variant_key(vocab) == other.variant_key(vocab)
    }

    /// What makes a link's variant: its relation (`Vocabulary::relation_key`, so that every spelling of it is one
    /// variant) and every negotiation attribute. The one rule: duplicates, version history, the Pyx API and
    /// contributions all compare links by it.
    pub fn variant_key<'a>(&'a self, vocab: &'a Vocabulary) -> VariantKey<'a> {
        let (media_type, hreflang, context, access_role) = self.negotiation_attributes();
        VariantKey {
            relation: vocab.relation_key(&self.link_type),
            media_type: media_type.as_deref(),
            hreflang,
            context,
            access_role,
        }
    }

    /// A target this link's variant had before (`rel: predecessor-version`, UNTP IDR-10).
    pub fn is_predecessor(&self) -> bool {
        self.rel.iter().any(|r| is_predecessor_rel(r))
    }

    /// Whether a scan should be redirected here. A previous version (`rel: predecessor-version`, UNTP IDR-10) or an
    /// action endpoint (`rel: edit`, or one that needs a `method`) is listed in linksets but is not a target.
    pub fn is_redirect_target(&self) -> bool {
        let special = |r: &String| is_predecessor_rel(r) || r.eq_ignore_ascii_case("edit");
        self.method.is_empty() && !self.rel.iter().any(special)
    }
}

/// The identity of a link's variant (`Link::variant_key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantKey<'a> {
    /// The relation, as `Vocabulary::relation_key` names it.
    pub relation: &'a str,
    pub media_type: Option<&'a str>,
    pub hreflang: &'a [String],
    pub context: &'a [String],
    pub access_role: &'a [String],
}

/// The relation that marks an earlier target of a variant.
pub const PREDECESSOR: &str = "predecessor-version";

/// Whether `rel` is the relation that marks an earlier target (`predecessor-version`, any case): the one test, for
/// a stored link (`Link::is_predecessor`), a submitted one and a linkset's JSON alike.
pub fn is_predecessor_rel(rel: &str) -> bool {
    rel.eq_ignore_ascii_case(PREDECESSOR)
}

impl AnchorRecord {
    /// Drops every link that repeats an earlier one exactly, keeping the first. Writes made before the merge rule
    /// of `crate::versions` repeated predecessor entries; reading such a record (and so writing it back) heals it.
    pub fn collapse_duplicates(&mut self) {
        if !self.has_exact_duplicates() {
            return;
        }
        let mut seen = std::collections::HashSet::with_capacity(self.links.len());
        self.links.retain(|l| seen.insert(l.clone()));
    }

    /// Whether two links are equal. Told by their `href`s first, which differ in almost every record: a few
    /// comparisons, no allocation for a small record.
    fn has_exact_duplicates(&self) -> bool {
        let links = &self.links;
        let equal_pair =
            |i: usize, j: usize| links[i].href == links[j].href && links[i] == links[j];
        if links.len() <= 32 {
            return (1..links.len()).any(|j| (0..j).any(|i| equal_pair(i, j)));
        }
        let mut hrefs = std::collections::HashSet::with_capacity(links.len());
        let shared = links.iter().any(|l| !hrefs.insert(l.href.as_str()));
        shared && {
            let mut seen = std::collections::HashSet::with_capacity(links.len());
            !links.iter().all(|l| seen.insert(l))
        }
    }

    /// Whether a link of `link_type` is registered here.
    pub fn has_link_type(&self, link_type: &str) -> bool {
        self.links.iter().any(|l| l.link_type == link_type)
    }
}

/// A record as held by a store, with its version (the basis of `ETag` and `If-Match`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnchor {
    pub version: u64,
    pub record: AnchorRecord,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error(
        "stored record has format {found}; this build reads format {}",
        super::format::FORMAT
    )]
    UnknownFormat { found: u32 },
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

impl StoredAnchor {
    /// Roughly the heap bytes this record holds, for byte-bounded caches.
    pub fn approx_bytes(&self) -> usize {
        let r = &self.record;
        let list = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
        let links: usize = r
            .links
            .iter()
            .map(|l| {
                let optional = l.media_type.as_ref().map_or(0, String::len)
                    + l.encryption_method.as_ref().map_or(0, String::len)
                    + l.contributor.as_ref().map_or(0, String::len);
                l.link_type.len()
                    + l.href.len()
                    + l.title.len()
                    + optional
                    + list(&l.hreflang)
                    + list(&l.context)
                    + list(&l.rel)
                    + list(&l.method)
                    + list(&l.access_role)
                    + std::mem::size_of::<Link>()
            })
            .sum();
        std::mem::size_of::<StoredAnchor>()
            + r.item_description.len()
            + r.default_link_type.as_ref().map_or(0, String::len)
            + links
    }

    /// The stored form (see `registry::format`).
    pub fn encode(&self) -> Vec<u8> {
        super::format::encode(self)
    }

    /// The record a stored form holds, healed of exact duplicate links (see `AnchorRecord::collapse_duplicates`).
    pub fn decode(bytes: &[u8]) -> Result<StoredAnchor, DecodeError> {
        let mut stored = super::format::decode(bytes)?;
        stored.record.collapse_duplicates();
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredAnchor {
        StoredAnchor {
            version: 7,
            record: AnchorRecord {
                item_description: "Thing".into(),
                default_link_type: Some("https://gs1.org/voc/pip".into()),
                links: vec![Link {
                    link_type: "https://gs1.org/voc/pip".into(),
                    href: "https://example.com/a".into(),
                    title: "A".into(),
                    media_type: Some("text/html".into()),
                    hreflang: vec!["en".into()],
                    context: vec![],
                    rel: vec![],
                    method: vec![],
                    encryption_method: None,
                    access_role: vec![],
                    forwards_query: true,
                    id: None,
                    contributor: None,
                }],
            },
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(StoredAnchor::decode(&s.encode()).unwrap(), s);
    }

    /// What the merge before `crate::versions` stored: a predecessor entry repeated by every round trip.
    #[test]
    fn a_record_damaged_by_repeated_entries_heals_when_read() {
        let mut damaged = sample();
        let current = damaged.record.links[0].clone();
        let mut old = current.clone();
        old.href = "https://example.com/v1".into();
        old.rel = vec![PREDECESSOR.into()];
        damaged.record.links = vec![current.clone(), old.clone(), old.clone(), old.clone()];
        let read = StoredAnchor::decode(&damaged.encode()).unwrap();
        assert_eq!(read.record.links, vec![current, old.clone()]);
        let many: Vec<Link> = (0..40)
            .map(|i| Link {
                href: format!("https://example.com/{}", i % 20),
                ..old.clone()
            })
            .collect();
        damaged.record.links = many;
        let read = StoredAnchor::decode(&damaged.encode()).unwrap();
        assert_eq!(read.record.links.len(), 20, "the large-record path too");
    }

    #[test]
    fn refuses_unknown_formats() {
        assert_eq!(
            StoredAnchor::decode(b"9:1:"),
            Err(DecodeError::UnknownFormat { found: 9 })
        );
        assert!(matches!(
            StoredAnchor::decode(b"\xff"),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn fwqs_is_written_only_when_false() {
        let mut link = sample().record.links.remove(0);
        let json = serde_json::to_value(&link).unwrap();
        assert!(json.get("fwqs").is_none(), "{json}");
        assert!(serde_json::from_value::<Link>(json).unwrap().forwards_query);
        link.forwards_query = false;
        let json = serde_json::to_value(&link).unwrap();
        assert_eq!(json["fwqs"], serde_json::json!(false));
        assert_eq!(serde_json::from_value::<Link>(json).unwrap(), link);
    }
}

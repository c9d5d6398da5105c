//! The stored data model: one record per anchor (a canonical identifier at one level of its qualifier tree).

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

    /// Whether a scan should be redirected here. A previous version (`rel: predecessor-version`, UNTP IDR-10) or an
    /// action endpoint (`rel: edit`, or one that needs a `method`) is listed in linksets but is not a target.
    pub fn is_redirect_target(&self) -> bool {
        let special = |r: &String| {
            r.eq_ignore_ascii_case("predecessor-version") || r.eq_ignore_ascii_case("edit")
        };
        self.method.is_empty() && !self.rel.iter().any(special)
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
                    + l.encryption_method.as_ref().map_or(0, String::len);
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

    pub fn decode(bytes: &[u8]) -> Result<StoredAnchor, DecodeError> {
        super::format::decode(bytes)
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
                }],
            },
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(StoredAnchor::decode(&s.encode()).unwrap(), s);
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

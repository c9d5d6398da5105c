//! The wire type of a written anchor and its serde: what a writer submits, and an import line.

use super::FieldError;
use crate::registry::record::is_predecessor_rel;
use crate::registry::{AnchorRecord, Link};
use serde::Deserialize;

/// An anchor as a writer submits it: the links of one identifier at one level.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"itemDescription": "Battery pack, model X", "defaultLinkType": "gs1:pip", "links": [
    {"linkType": "gs1:pip", "href": "https://brand.example/products/09520123456788", "title": "Product information",
     "type": "text/html", "hreflang": ["en"]},
    {"linkType": "untp:dpp", "href": "https://credentials.example/dpp/09520123456788.jwt", "title": "Digital Product Passport",
     "type": "application/vc+jwt", "hreflang": ["en"]}]}))]
pub struct Submission {
    pub(super) item_description: String,
    #[serde(default)]
    pub(super) default_link_type: Option<String>,
    pub(super) links: Vec<LinkSubmission>,
    /// What a `GET` answers besides the record, accepted so that a record read can be written back as it is:
    /// `identifier`, when given, must name the anchor written; `anchor`, `version` and `warnings` are ignored
    /// (`If-Match` is how a write names the version it replaces).
    #[serde(default)]
    #[schema(read_only)]
    pub(super) identifier: Option<String>,
    #[serde(default, rename = "anchor")]
    #[schema(read_only, value_type = Option<String>)]
    pub(super) _anchor: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "version")]
    #[schema(read_only, value_type = Option<u64>)]
    pub(super) _version: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "warnings")]
    #[schema(read_only, value_type = Option<Vec<String>>)]
    pub(super) _warnings: Option<serde::de::IgnoredAny>,
}

impl Submission {
    /// Each link's `href`, in order (pattern registrations check and stand in for their templates).
    pub fn hrefs_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.links.iter_mut().map(|l| &mut l.href)
    }
}

impl Submission {
    /// The identifier the body names, if it names one (a `GET` answer written back does).
    pub fn identifier(&self) -> Option<&str> {
        self.identifier.as_deref()
    }
}

/// One link. List fields take a string or an array of strings.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct LinkSubmission {
    pub(super) link_type: String,
    pub(super) href: String,
    pub(super) title: String,
    #[serde(default, rename = "type")]
    pub(super) media_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(super) hreflang: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(super) context: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(super) rel: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(super) method: OneOrMany,
    /// UNTP's encryption method code (`none`, `AES`; also `AES-128`, `AES-256`, …): any but `none` needs an
    /// `accessRole`. See `resolver-config/codelists/untp-access.json`.
    #[serde(default)]
    pub(super) encryption_method: Option<String>,
    /// Who the link is for, and for an encrypted target who may obtain its key: URIs, or UNTP's role names
    /// (`customer` is stored as `untp:accessRole#Customer`).
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub(super) access_role: OneOrMany,
    /// `false`: a redirect here drops the scan's query string (default: forwarded).
    #[serde(default)]
    #[schema(default = true)]
    pub(super) fwqs: Option<bool>,
    /// The link's stable name, as a `GET` shows it (given by the Pyx-compatible API; 16 lower-case hex digits).
    #[serde(default)]
    pub(super) id: Option<String>,
    /// The lifecycle contributor that added the link, as a `GET` shows it: set by the resolver, accepted back only
    /// on the link it was set on (`crate::contribution`).
    #[serde(default)]
    pub(super) contributor: Option<String>,
}

impl LinkSubmission {
    pub(super) fn is_predecessor(&self) -> bool {
        self.rel.0.iter().any(|r| is_predecessor_rel(r))
    }

    /// A stored link as a writer would submit it.
    pub(super) fn of(l: &Link) -> LinkSubmission {
        LinkSubmission {
            link_type: l.link_type.clone(),
            href: l.href.clone(),
            title: l.title.clone(),
            media_type: l.media_type.clone(),
            hreflang: OneOrMany(l.hreflang.clone()),
            context: OneOrMany(l.context.clone()),
            rel: OneOrMany(l.rel.clone()),
            method: OneOrMany(l.method.clone()),
            encryption_method: l.encryption_method.clone(),
            access_role: OneOrMany(l.access_role.clone()),
            fwqs: Some(l.forwards_query),
            id: l.id.clone(),
            contributor: l.contributor.clone(),
        }
    }
}

impl Submission {
    /// A submission of these fields, naming nothing read-only.
    pub(super) fn new(
        item_description: String,
        default_link_type: Option<String>,
        links: Vec<LinkSubmission>,
    ) -> Submission {
        Submission {
            item_description,
            default_link_type,
            links,
            identifier: None,
            _anchor: None,
            _version: None,
            _warnings: None,
        }
    }

    /// A record as a writer would submit it: what every write path checks before it stores a record it built.
    pub fn of(record: &AnchorRecord) -> Submission {
        Submission::new(
            record.item_description.clone(),
            record.default_link_type.clone(),
            record.links.iter().map(LinkSubmission::of).collect(),
        )
    }
}

/// Accepts `"x"` or `["x", …]` (UNTP's `method` is a string in prose and an array in its schema).
#[derive(Default)]
pub(super) struct OneOrMany(pub(super) Vec<String>);

/// What `#[serde(untagged)]` over `String | Vec<String>` reported for any other value, which this keeps.
const NOT_ONE_OR_MANY: &str = "data did not match any variant of untagged enum OneOrManyRepr";

/// Reads the strings directly, where `untagged` buffered the value and tried each variant in turn (building and
/// dropping an error per array) at several times the cost. Anything else is read to its end and refused afterwards,
/// as `untagged` did, so error reports name the same field, message and position.
impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(JsonValue)? {
            Strings::One(s) => Ok(OneOrMany(vec![s])),
            Strings::Many(v) => Ok(OneOrMany(v)),
            Strings::Neither => Err(serde::de::Error::custom(NOT_ONE_OR_MANY)),
        }
    }
}

/// Any JSON value, read in full (numbers parsed, not skipped, as the buffering did), sorted by what `OneOrMany`
/// makes of it.
enum Strings {
    One(String),
    Many(Vec<String>),
    Neither,
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonValue)
    }
}

struct JsonValue;

impl<'de> serde::de::Visitor<'de> for JsonValue {
    type Value = Strings;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or an array of strings")
    }

    fn visit_str<E>(self, s: &str) -> Result<Strings, E> {
        Ok(Strings::One(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Strings, E> {
        Ok(Strings::One(s))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
        let mut all = Some(Vec::new());
        while let Some(item) = seq.next_element::<Strings>()? {
            match (item, &mut all) {
                (Strings::One(s), Some(all)) => all.push(s),
                _ => all = None,
            }
        }
        Ok(all.map_or(Strings::Neither, Strings::Many))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strings, A::Error> {
        while map.next_entry::<Strings, Strings>()?.is_some() {}
        Ok(Strings::Neither)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strings, E> {
        Ok(Strings::Neither)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Strings, E> {
        Ok(Strings::Neither)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Strings, E> {
        Ok(Strings::Neither)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Strings, E> {
        Ok(Strings::Neither)
    }

    fn visit_unit<E>(self) -> Result<Strings, E> {
        Ok(Strings::Neither)
    }
}

/// Parses a JSON body, naming the exact field on failure (`links[2].title`).
pub fn parse(bytes: &[u8]) -> Result<Submission, FieldError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(field_error)
}

/// Like `parse`, from an already parsed JSON value (an import line).
pub fn parse_value(value: serde_json::Value) -> Result<Submission, FieldError> {
    serde_path_to_error::deserialize(value).map_err(field_error)
}

/// An import line: `identifier` beside a submission's fields. Mirrors `Submission`, which refuses an `identifier`
/// field, so that a line can be read straight from its text rather than through a `serde_json::Value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImportLine {
    identifier: String,
    item_description: String,
    #[serde(default)]
    default_link_type: Option<String>,
    links: Vec<LinkSubmission>,
}

/// Reads an import line `{"identifier": "…", …submission}` in one pass: (identifier, submission). `None` unless the
/// line is a clean object of that shape (no repeated or unknown keys): the caller then goes through
/// `serde_json::Value` and `parse_value`, which give the same result for every line this reads, and read or name
/// what is wrong with the rest.
pub fn parse_line(line: &str) -> Option<(String, Submission)> {
    // A struct also deserialises from an array, which is not a line.
    if !line
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
    {
        return None;
    }
    let line: ImportLine = serde_json::from_str(line).ok()?;
    let submission = Submission::new(line.item_description, line.default_link_type, line.links);
    Some((line.identifier, submission))
}

pub(super) fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> FieldError {
    let path = e.path().to_string();
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    FieldError::new(field, e.into_inner().to_string())
}

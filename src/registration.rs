//! Turns a submitted anchor (management API body or import line) into a validated `AnchorRecord`.
//!
//! Every problem is reported with the JSON path of the offending field, so an issuer can fix it without guessing.

use crate::identifier::Identifier;
use crate::identifier::scheme::Scheme;
use crate::registry::record::PREDECESSOR;
use crate::registry::{AnchorRecord, Link};
use crate::registry::{LinkStore, Precondition, PutOutcome, StoreError};
use crate::vocabulary::{self, Vocabulary};
use serde::{Deserialize, Serialize};

use crate::limits::{self, Limits};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The field names something no configuration knows (a link type): a bad request rather than a rule broken.
    #[serde(skip)]
    pub unknown_term: bool,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            unknown_term: false,
        }
    }

    fn unknown(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            unknown_term: true,
            ..FieldError::new(field, message)
        }
    }
}

/// An anchor as a writer submits it: the links of one identifier at one level.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"itemDescription": "Battery pack, model X", "defaultLinkType": "gs1:pip", "links": [
    {"linkType": "gs1:pip", "href": "https://brand.example/products/09520123456788", "title": "Product information",
     "type": "text/html", "hreflang": ["en"]},
    {"linkType": "untp:dpp", "href": "https://credentials.example/dpp/09520123456788.jwt", "title": "Digital Product Passport",
     "type": "application/vc+jwt", "hreflang": ["en"]}]}))]
pub struct Submission {
    item_description: String,
    #[serde(default)]
    default_link_type: Option<String>,
    links: Vec<LinkSubmission>,
    /// What a `GET` answers besides the record, accepted so that a record read can be written back as it is:
    /// `identifier`, when given, must name the anchor written; `anchor`, `version` and `warnings` are ignored
    /// (`If-Match` is how a write names the version it replaces).
    #[serde(default)]
    #[schema(read_only)]
    identifier: Option<String>,
    #[serde(default, rename = "anchor")]
    #[schema(read_only, value_type = Option<String>)]
    _anchor: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "version")]
    #[schema(read_only, value_type = Option<u64>)]
    _version: Option<serde::de::IgnoredAny>,
    #[serde(default, rename = "warnings")]
    #[schema(read_only, value_type = Option<Vec<String>>)]
    _warnings: Option<serde::de::IgnoredAny>,
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
struct LinkSubmission {
    link_type: String,
    href: String,
    title: String,
    #[serde(default, rename = "type")]
    media_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    hreflang: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    context: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    rel: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    method: OneOrMany,
    #[serde(default)]
    encryption_method: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    access_role: OneOrMany,
    /// `false`: a redirect here drops the scan's query string (default: forwarded).
    #[serde(default)]
    #[schema(default = true)]
    fwqs: Option<bool>,
    /// The link's stable name, as a `GET` shows it (given by the Pyx-compatible API; 16 lower-case hex digits).
    #[serde(default)]
    id: Option<String>,
}

impl LinkSubmission {
    fn is_predecessor(&self) -> bool {
        self.rel
            .0
            .iter()
            .any(|r| r.eq_ignore_ascii_case(PREDECESSOR))
    }

    /// A stored link as a writer would submit it.
    fn of(l: &Link) -> LinkSubmission {
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
        }
    }
}

impl Submission {
    /// A submission of these fields, naming nothing read-only.
    fn new(
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
struct OneOrMany(Vec<String>);

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

fn field_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> FieldError {
    let path = e.path().to_string();
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    FieldError::new(field, e.into_inner().to_string())
}

/// A validated record plus advisory warnings (accepted, but worth the issuer's attention).
pub struct Validated {
    pub record: AnchorRecord,
    pub warnings: Vec<String>,
}

/// Checks a submission for an identifier of `scheme` (which limits the vocabularies its links may use).
pub fn validate(
    sub: Submission,
    vocab: &Vocabulary,
    scheme: &Scheme,
) -> Result<Validated, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let description = trimmed(sub.item_description);
    let Limits {
        links: max_links,
        text: max_text,
        ..
    } = limits::get();
    if let Some(msg) = text_problem(&description, max_text) {
        errors.push(FieldError::new("itemDescription", msg));
    }
    // Earlier targets are counted apart from current links: the server adds them, and a record it wrote must
    // always be writable back.
    let predecessors = sub.links.iter().filter(|l| l.is_predecessor()).count();
    let current = sub.links.len() - predecessors;
    if current > max_links {
        let msg = format!("at most {max_links} links per anchor; this would store {current}");
        errors.push(FieldError::new("links", msg));
    }
    if predecessors > max_links {
        let msg = format!(
            "at most {max_links} predecessor-version links per anchor; this has {predecessors}"
        );
        errors.push(FieldError::new("links", msg));
    }
    let links: Vec<Link> = sub
        .links
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| validate_link(i, l, vocab, scheme, &mut errors, &mut warnings))
        .collect();
    find_duplicates(&links, &mut errors);
    let default_link_type = sub.default_link_type.and_then(|t| match vocab.lookup(&t) {
        Some(def) => Some(def.uri.clone()),
        None => {
            let msg = format!("unknown link type {t:?}; see /voc?show=linktypes");
            errors.push(FieldError::unknown("defaultLinkType", msg));
            None
        }
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut record = AnchorRecord {
        item_description: description,
        default_link_type,
        links,
    };
    record.collapse_duplicates();
    Ok(Validated { record, warnings })
}

fn validate_link(
    i: usize,
    l: LinkSubmission,
    vocab: &Vocabulary,
    scheme: &Scheme,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) -> Option<Link> {
    let field = |name: &str| format!("links[{i}].{name}");
    let before = errors.len();
    let link_type = match vocab.lookup(&l.link_type) {
        Some(def) if vocabulary::is_default_link(&def.uri) => {
            let msg = "the default link is derived: register the link under its descriptive type and name that \
                       type in defaultLinkType";
            errors.push(FieldError::new(field("linkType"), msg));
            String::new()
        }
        Some(def) if !scheme.allows_vocabulary(def.prefix()) => {
            let msg = format!(
                "{} identifiers take link types from {}; {} is not one of them",
                scheme.title,
                scheme.vocabularies.join(", "),
                def.curie
            );
            errors.push(FieldError::new(field("linkType"), msg));
            String::new()
        }
        Some(def) => def.uri.clone(),
        None => {
            let msg = format!(
                "unknown link type {:?}; see /voc?show=linktypes",
                l.link_type
            );
            errors.push(FieldError::unknown(field("linkType"), msg));
            String::new()
        }
    };
    // Field names are formatted only for an error: most links have none.
    let href = check_url(l.href).unwrap_or_else(|msg| {
        errors.push(FieldError::new(field("href"), msg));
        String::new()
    });
    let title = trimmed(l.title);
    if let Some(msg) = text_problem(&title, limits::get().text) {
        errors.push(FieldError::new(field("title"), msg));
    }
    if let Some(t) = &l.media_type {
        if !is_media_type(t) {
            errors.push(FieldError::new(
                field("type"),
                format!("{t:?} is not a media type such as text/html"),
            ));
        }
    }
    for (j, tag) in l.hreflang.0.iter().enumerate() {
        if !is_language_tag(tag) {
            let msg = format!("{tag:?} is not a BCP 47 language tag");
            errors.push(FieldError::new(format!("links[{i}].hreflang[{j}]"), msg));
        } else if !is_schema_language(tag) {
            warnings.push(format!(
                "links[{i}].hreflang[{j}]: {tag:?} is valid BCP 47 but the GS1 and UNTP linkset schemas accept only \
                 'll' or 'll-CC'; linksets containing it will not validate against them"
            ));
        }
    }
    let lists = [
        ("context", &l.context.0),
        ("rel", &l.rel.0),
        ("method", &l.method.0),
        ("accessRole", &l.access_role.0),
    ];
    for (name, values) in lists {
        for (j, v) in values.iter().enumerate() {
            if v.trim().is_empty() || v.len() > limits::get().text || has_control(v) {
                errors.push(FieldError::new(
                    format!("links[{i}].{name}[{j}]"),
                    "must be a non-empty string without control characters",
                ));
            }
        }
    }
    if let Some(id) = &l.id {
        if !is_link_id(id) {
            errors.push(FieldError::new(
                field("id"),
                "must be 16 lower-case hexadecimal digits",
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    Some(Link {
        link_type,
        href,
        title,
        media_type: l.media_type,
        hreflang: l.hreflang.0,
        context: l.context.0,
        rel: l.rel.0,
        method: l.method.0,
        encryption_method: l.encryption_method,
        access_role: l.access_role.0,
        forwards_query: l.fwqs.unwrap_or(true),
        id: l.id,
    })
}

/// Two links of one variant with one target, which differ otherwise (a title, a relation): which one is meant is
/// not ours to guess. Exact repeats are not errors; they collapse.
fn find_duplicates(links: &[Link], errors: &mut Vec<FieldError>) {
    for (i, a) in links.iter().enumerate() {
        let same_id = |b: &Link| a.id.is_some() && b.id == a.id && !b.is_predecessor();
        if !a.is_predecessor() {
            if let Some(j) = links[..i].iter().position(same_id) {
                let msg = format!("has the id of links[{j}]");
                errors.push(FieldError::new(format!("links[{i}].id"), msg));
            }
        }
        let earlier = links[..i]
            .iter()
            .position(|b| b.href == a.href && b.same_variant(a) && b != a);
        if let Some(j) = earlier {
            errors.push(FieldError::new(
                format!("links[{i}]"),
                format!("duplicates links[{j}]"),
            ));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the anchor is invalid")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a read-modify-write did.
#[derive(Debug)]
pub enum Written {
    Put(PutOutcome),
    /// `build` left nothing to keep, and the anchor was removed.
    Deleted,
}

/// Where a write goes and what may be stored there.
pub struct Target<'a> {
    pub store: &'a dyn LinkStore,
    pub vocabulary: &'a Vocabulary,
    pub key: &'a Identifier,
}

/// Read-modify-write of one anchor, the one write path of the management APIs. `build` makes the new record from the
/// current one (`None`: remove the anchor); it is merged over the current one (`versions::merge`: replaced targets
/// are kept as predecessor versions), its default link type is settled against the ancestors, and the record that
/// results is validated as a submission would be, whatever built it. The record is written only over the one it was
/// computed from: after a concurrent write it is rebuilt, unless the client set its own precondition (`asked`),
/// which then decides.
pub async fn write(
    target: Target<'_>,
    asked: Precondition,
    who: &str,
    build: impl Fn(Option<&AnchorRecord>) -> Result<Option<AnchorRecord>, Vec<FieldError>>,
) -> Result<Written, WriteError> {
    let Target { store, key, .. } = target;
    let levels = key.levels();
    let paths: Vec<&str> = levels.iter().map(|k| k.canonical_path()).collect();
    let mut attempts = 0;
    loop {
        let mut records = store.get_many(&paths).await?.into_iter();
        let current = records.next().flatten();
        let ancestors: Vec<_> = records.collect();
        let precondition = match (&asked, &current) {
            (Precondition::None, Some(c)) => Precondition::Version(vec![c.version]),
            (Precondition::None, None) => Precondition::Absent,
            (asked, _) => asked.clone(),
        };
        let previous = current.as_ref().map(|c| &c.record);
        let result = match build(previous).map_err(WriteError::Invalid)? {
            Some(record) => {
                let above: Vec<Option<&AnchorRecord>> = ancestors
                    .iter()
                    .map(|a| a.as_ref().map(|a| &a.record))
                    .collect();
                let record = to_store(&target, previous, record, &above)?;
                store
                    .put(key.canonical_path(), record, precondition, who)
                    .await
                    .map(Written::Put)
            }
            None => store
                .delete(key.canonical_path(), precondition, who)
                .await
                .map(|_| Written::Deleted),
        };
        match result {
            // Another writer got in between: every lost round is someone else's success, so this ends; the
            // bound and the growing, jittered pause only matter under a pathological write storm.
            Err(StoreError::PreconditionFailed { .. }) if asked == Precondition::None => {
                attempts += 1;
                if attempts > MAX_WRITE_ATTEMPTS {
                    return Err(StoreError::Unavailable(format!(
                        "{} is being written by many clients at once; try again",
                        key.canonical_path()
                    ))
                    .into());
                }
                tokio::time::sleep(backoff(attempts)).await;
            }
            result => return Ok(result?),
        }
    }
}

/// The record to store: `record` merged over `previous`, its default settled against `above`, and checked as a
/// submission is (limits, text, duplicates, link types), so no write path stores what the native API would refuse.
fn to_store(
    target: &Target<'_>,
    previous: Option<&AnchorRecord>,
    record: AnchorRecord,
    above: &[Option<&AnchorRecord>],
) -> Result<AnchorRecord, WriteError> {
    let mut record = crate::versions::merge(previous, record);
    settle_default(&mut record, above, Fallback::FirstLink)
        .map_err(|e| WriteError::Invalid(vec![e]))?;
    validate(
        Submission::of(&record),
        target.vocabulary,
        target.key.scheme(),
    )
    .map(|v| v.record)
    .map_err(WriteError::Invalid)
}

/// Rounds an unconditional write may lose to concurrent writers before it answers 503.
const MAX_WRITE_ATTEMPTS: u32 = 200;

/// Up to `attempts` ms, jittered so that racing writers spread out.
fn backoff(attempts: u32) -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let cap_us = u64::from(attempts.min(20)) * 1000;
    std::time::Duration::from_micros(u64::from(nanos) % cap_us.max(1))
}

/// What to do when an anchor sets no default link type and no ancestor has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Make the first link's type the default (a single write through the API).
    FirstLink,
    /// Refuse for now: an ancestor later in the same import may supply it.
    Wait,
}

/// What settling a default link type reads of an ancestor level.
pub trait Ancestor {
    fn default_link_type(&self) -> Option<&str>;
    fn has_link_type(&self, link_type: &str) -> bool;
}

impl Ancestor for AnchorRecord {
    fn default_link_type(&self) -> Option<&str> {
        self.default_link_type.as_deref()
    }

    fn has_link_type(&self, link_type: &str) -> bool {
        AnchorRecord::has_link_type(self, link_type)
    }
}

/// Settles the anchor's default link type against its ancestors (most specific first).
///
/// Every identifier must have a default link at its own level or above (GS1). An explicit `defaultLinkType` must
/// name a type registered at this level or an ancestor. Without one, the anchor inherits its ancestors' default; with
/// nothing to inherit, the first link's type becomes the default.
pub fn settle_default<A: Ancestor>(
    record: &mut AnchorRecord,
    ancestors: &[Option<&A>],
    fallback: Fallback,
) -> Result<(), FieldError> {
    let ancestors = || ancestors.iter().flatten();
    if let Some(t) = &record.default_link_type {
        let above = ancestors().any(|a| a.has_link_type(t));
        if !settles_alone(record) && !above {
            let msg =
                format!("no link of type {t} is registered at this level or an ancestor level");
            return Err(FieldError::new("defaultLinkType", msg));
        }
        return Ok(());
    }
    if ancestors().any(|a| a.default_link_type().is_some()) {
        return Ok(());
    }
    match record.links.first() {
        Some(_) if fallback == Fallback::Wait => Err(FieldError::new(
            "defaultLinkType",
            "no default link type here and none inherited from an ancestor",
        )),
        Some(first) => {
            record.default_link_type = Some(first.link_type.clone());
            Ok(())
        }
        None => Err(FieldError::new(
            "defaultLinkType",
            "this identifier would have no default link: register at least one link here or at an ancestor level",
        )),
    }
}

/// Whether `settle_default` accepts the record, unchanged, whatever its ancestors hold: it names its default link
/// type among its own links.
pub fn settles_alone(record: &AnchorRecord) -> bool {
    record
        .default_link_type
        .as_deref()
        .is_some_and(|t| record.has_link_type(t))
}

/// What is wrong with a description or a title (trimmed), if anything: empty, longer than `max` bytes, or holding
/// control characters (a line break in a title breaks labels, pages and logs that show it).
fn text_problem(value: &str, max: usize) -> Option<String> {
    if value.is_empty() {
        Some("must not be empty".into())
    } else if value.len() > max {
        Some(format!("longer than {max} bytes"))
    } else if has_control(value) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// `s` without surrounding whitespace, keeping its buffer when there is none to cut (the usual case).
fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() {
        s
    } else {
        s.trim().to_string()
    }
}

/// Checks a target URL and returns the form to store: as given when it is plain ASCII, else the URL parser's
/// percent-encoded serialisation, so it is always safe in a `Location` header. `Err`: what is wrong.
fn check_url(href: String) -> Result<String, String> {
    let max_url = limits::get().url;
    if href.len() > max_url {
        return Err(format!("longer than {max_url} bytes"));
    }
    let ascii = href.is_ascii();
    // In ASCII, the spaces and control characters are the bytes up to ' ' and DEL.
    let bad = if ascii {
        href.bytes().any(|b| b <= b' ' || b == 0x7f)
    } else {
        href.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if bad {
        return Err("must not contain spaces or control characters".into());
    }
    if ascii && plainly_valid_url(&href) {
        return Ok(href);
    }
    match url::Url::parse(&href) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if ascii {
                Ok(href)
            } else {
                Ok(u.to_string())
            }
        }
        Ok(_) => Err("must be an absolute http(s) URL".into()),
        Err(e) => Err(format!("not an absolute URL: {e}")),
    }
}

/// Whether `href` (ASCII, without spaces or control characters) is surely one that `url::Url::parse` accepts with
/// an http(s) scheme and a host, told without parsing it (which costs more than the rest of an anchor's checks):
/// `http://` or `https://`, then a plain lower-case DNS name (no port, user, IP address, IDNA label or upper case),
/// then anything, as a path, query or fragment never fails to parse. `false` leaves the answer to the parser.
fn plainly_valid_url(href: &str) -> bool {
    let Some(rest) = href
        .strip_prefix("https://")
        .or_else(|| href.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with("xn--")
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    // A name whose last label could read as a number is an IPv4 address to the parser.
    let last = host.rsplit('.').next().unwrap_or_default();
    host.len() <= 253
        && host.split('.').all(label)
        && last.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A link's stable name: 16 lower-case hexadecimal digits (what the Pyx-compatible API hands out).
fn is_link_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `type/subtype` with RFC 6838 restricted-name characters.
fn is_media_type(s: &str) -> bool {
    let name = |p: &str| {
        !p.is_empty()
            && p.len() <= 127
            && p.as_bytes()[0].is_ascii_alphanumeric()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(s.split_once('/'), Some((t, sub)) if name(t) && name(sub))
}

/// BCP 47 shape: alphanumeric subtags of 1-8 characters, the first alphabetic.
fn is_language_tag(s: &str) -> bool {
    let mut subtags = s.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// What both linkset schemas accept: `ll` or `ll-CC`.
fn is_schema_language(s: &str) -> bool {
    let word2 = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match s.split_once('-') {
        None => word2(s),
        Some((a, b)) => word2(a) && word2(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> Result<Validated, Vec<FieldError>> {
        let sub = parse(body.as_bytes()).map_err(|e| vec![e])?;
        let schemes = crate::identifier::scheme::SchemeSet::embedded().unwrap();
        validate(sub, &Vocabulary::embedded(), schemes.gs1().unwrap())
    }

    fn fields(body: &str) -> Vec<String> {
        match run(body) {
            Ok(_) => vec![],
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
        }
    }

    #[test]
    fn accepts_a_full_submission_and_canonicalises_link_types() {
        let v = run(r#"{"itemDescription":" Pack ","defaultLinkType":"pip","links":[
            {"linkType":"gs1:pip","href":"https://b.example/p","title":"P","type":"text/html","hreflang":["en","es-419"]},
            {"linkType":"untp:dpp","href":"https://b.example/d","title":"D","method":"POST","accessRole":["untp:accessRole#Owner"]}]}"#)
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(v.record.item_description, "Pack");
        assert_eq!(
            v.record.default_link_type.as_deref(),
            Some("https://gs1.org/voc/pip")
        );
        assert_eq!(
            v.record.links[1].link_type,
            "https://test.uncefact.org/vocabulary/linkTypes/dpp"
        );
        assert_eq!(v.record.links[1].method, vec!["POST"]);
        assert_eq!(
            v.warnings.len(),
            1,
            "es-419 breaks the schemas' hreflang pattern"
        );
    }

    #[test]
    fn names_each_bad_field() {
        let body = r#"{"itemDescription":"x","links":[
            {"linkType":"gs1:nosuch","href":"https://a.example","title":"t"},
            {"linkType":"pip","href":"ftp://a.example","title":" "},
            {"linkType":"pip","href":"https://a.example","title":"t","type":"html","hreflang":["e n"]},
            {"linkType":"gs1:defaultLink","href":"https://a.example","title":"t"}]}"#;
        assert_eq!(
            fields(body),
            vec![
                "links[0].linkType",
                "links[1].href",
                "links[1].title",
                "links[2].type",
                "links[2].hreflang[0]",
                "links[3].linkType"
            ]
        );
        assert_eq!(
            fields(r#"{"itemDescription":"x","links":[{"linkType":"pip","href":"https://a"}]}"#),
            vec!["links[0]"]
        );
        assert_eq!(
            fields(r#"{"itemDescription":"x","links":[],"extra":1}"#),
            vec!["extra"]
        );
        assert_eq!(fields("nonsense"), vec!["body"]);
        assert_eq!(
            fields(
                r#"{"itemDescription":"x","links":[{"linkType":"pip","href":"https://a","title":"t","hreflang":[1]}]}"#
            ),
            vec!["links[0].hreflang"]
        );
        assert_eq!(
            fields(r#"{"itemDescription":"","links":[]}"#),
            vec!["itemDescription"]
        );
        assert_eq!(
            fields(r#"{"itemDescription":"d","links":[],"defaultLinkType":"zzz"}"#),
            vec!["defaultLinkType"]
        );
        let dup = r#"{"itemDescription":"d","links":[{"linkType":"pip","href":"https://a","title":"t"},{"linkType":"gs1:pip","href":"https://a","title":"u"}]}"#;
        assert_eq!(fields(dup), vec!["links[1]"]);
    }

    fn anchor(default: Option<&str>, types: &[&str]) -> AnchorRecord {
        let links = types
            .iter()
            .map(|t| Link {
                link_type: t.to_string(),
                href: "https://a.example".into(),
                title: "t".into(),
                media_type: None,
                hreflang: vec![],
                context: vec![],
                rel: vec![],
                method: vec![],
                encryption_method: None,
                access_role: vec![],
                forwards_query: true,
                id: None,
            })
            .collect();
        AnchorRecord {
            item_description: "a".into(),
            default_link_type: default.map(Into::into),
            links,
        }
    }

    fn settle(
        r: &mut AnchorRecord,
        ancestors: &[Option<&AnchorRecord>],
        fallback: Fallback,
    ) -> Result<(), FieldError> {
        settle_default(r, ancestors, fallback)
    }

    #[test]
    fn default_link_type_must_exist_here_or_above() {
        let mut r = anchor(Some("T"), &[]);
        assert_eq!(
            settle(&mut r, &[None], Fallback::FirstLink)
                .unwrap_err()
                .field,
            "defaultLinkType"
        );
        assert!(
            settle(
                &mut r,
                &[None, Some(&anchor(None, &["T"]))],
                Fallback::FirstLink
            )
            .is_ok()
        );

        let mut r = anchor(None, &[]);
        assert!(
            settle(&mut r, &[], Fallback::FirstLink).is_err(),
            "nothing to inherit and no links"
        );
        assert!(
            settle(
                &mut r,
                &[Some(&anchor(Some("U"), &["U"]))],
                Fallback::FirstLink
            )
            .is_ok()
        );
        assert_eq!(r.default_link_type, None, "inherits rather than copies");

        let mut r = anchor(None, &["A", "B"]);
        assert!(
            settle(&mut r, &[], Fallback::Wait).is_err(),
            "an import waits for a later ancestor"
        );
        settle(&mut r, &[], Fallback::FirstLink).unwrap();
        assert_eq!(r.default_link_type.as_deref(), Some("A"));
    }

    /// The untagged enum `OneOrMany` used to deserialise through: the reference for what it must answer.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrManyRepr {
        One(String),
        Many(Vec<String>),
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Before {
        #[serde(default)]
        v: Option<OneOrManyRepr>,
        #[allow(dead_code)]
        w: u8,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct After {
        #[serde(default)]
        v: Option<OneOrMany>,
        #[allow(dead_code)]
        w: u8,
    }

    type Outcome = Result<Option<Vec<String>>, (String, String)>;

    /// (from the text, from a `serde_json::Value`): the strings, or the error's path and message.
    fn outcomes<T: serde::de::DeserializeOwned>(
        doc: &str,
        strings: impl Fn(T) -> Option<Vec<String>>,
    ) -> (Outcome, Option<Outcome>) {
        let report = |e: serde_path_to_error::Error<serde_json::Error>| {
            (e.path().to_string(), e.into_inner().to_string())
        };
        let text = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(doc));
        let value = serde_json::from_str::<serde_json::Value>(doc)
            .ok()
            .map(|v| {
                serde_path_to_error::deserialize(v)
                    .map(&strings)
                    .map_err(report)
            });
        (text.map(&strings).map_err(report), value)
    }

    #[test]
    fn one_or_many_answers_as_the_untagged_enum_did() {
        let values = [
            r#""en""#,
            r#"["en","fr"]"#,
            "[]",
            r#"["e\u006e"]"#,
            r#" [ "a" , "b" ] "#,
            "1",
            "-1",
            "1.5",
            "1e400",
            "true",
            "null",
            "{}",
            r#"{"a":1}"#,
            r#"{"a":[1e400]}"#,
            "[1]",
            r#"["a",1]"#,
            r#"[["a"]]"#,
            r#"[{"a":[1,2]}]"#,
            "[1,]",
            r#"["a" "b"]"#,
            r#""\ud800""#,
            "[true]  ",
            r#"["\u0000"]"#,
        ];
        for v in values {
            let doc = format!(r#"{{"v": {v}, "w": 1}}"#);
            let before = outcomes(&doc, |b: Before| {
                b.v.map(|r| match r {
                    OneOrManyRepr::One(s) => vec![s],
                    OneOrManyRepr::Many(v) => v,
                })
            });
            let after = outcomes(&doc, |a: After| a.v.map(|v| v.0));
            assert_eq!(after, before, "{doc}");
        }
    }

    /// What `check_url` made of an ASCII href before `plainly_valid_url` was asked first.
    fn parsed(href: &str) -> bool {
        url::Url::parse(href)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
    }

    #[test]
    fn urls_taken_without_parsing_are_ones_the_parser_takes() {
        for href in [
            "https://brand.example/products/09520123456788",
            "http://a/",
            "https://a-b.c-d.example?q=1#f",
            "https://x.example/%zz/<>^`{|}/..",
        ] {
            assert!(plainly_valid_url(href) && parsed(href), "{href}");
        }
        for href in [
            "https://Brand.example/",
            "https://a.example:8080/",
            "https://u@a.example/",
            "https://1.2.3.4/",
            "https://a.0x1f/",
            "http://a.0",
            "https://a.example./",
            "https://a..example/",
            "https://xn--nxasmq6b.example/",
            "https:///a.example",
            "https:a.example",
            "HTTPS://a.example",
            "ftp://a.example",
            "https://a.example\\b",
            "https://%61.example/",
        ] {
            assert!(!plainly_valid_url(href), "{href}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn a_url_taken_without_parsing_parses(href in proptest::prop_oneof![
            "https?://[a-z0-9.-]{1,24}([/?#\\\\][!-~]{0,24})?",
            "(https?|HTTP|ftp):(//)?[a-zA-Z0-9.:@%_\\[\\]-]{0,24}([/?#\\\\][!-~]{0,24})?",
        ]) {
            if plainly_valid_url(&href) {
                proptest::prop_assert!(parsed(&href), "{}", href);
            }
        }
    }

    #[test]
    fn shapes() {
        assert!(is_media_type("application/vc+jwt"));
        assert!(is_media_type("text/html"));
        assert!(!is_media_type("text/html; charset=utf-8"));
        assert!(!is_media_type("html"));
        assert!(is_language_tag("zh-Hant-TW"));
        assert!(!is_language_tag("12"));
        assert!(is_schema_language("en-GB") && !is_schema_language("es-419"));
    }
}

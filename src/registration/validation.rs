//! The checks a submission passes to become an `AnchorRecord`: limits, text, URLs, link types, duplicates.

use super::FieldError;
use super::submission::{LinkSubmission, Submission};
use crate::codelist::{AccessCodes, AccessProblem};
use crate::identifier::scheme::Scheme;
use crate::limits::Limits;
use crate::registry::{AnchorRecord, Link};
use crate::vocabulary::{self, Vocabulary};

/// A validated record plus advisory warnings (accepted, but worth the issuer's attention).
pub struct Validated {
    pub record: AnchorRecord,
    pub warnings: Vec<String>,
}

/// Checks a submission for an identifier of `scheme` (which limits the vocabularies its links may use) against
/// `limits` and UNTP's access code lists (`codes`).
pub fn validate(
    sub: Submission,
    vocab: &Vocabulary,
    scheme: &Scheme,
    limits: &Limits,
    codes: &AccessCodes,
) -> Result<Validated, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let description = trimmed(sub.item_description);
    let Limits {
        links: max_links,
        text: max_text,
        ..
    } = *limits;
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
    let rules = Rules {
        vocab,
        scheme,
        limits,
        codes,
    };
    let links: Vec<Link> = sub
        .links
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| validate_link(i, l, &rules, &mut errors, &mut warnings))
        .collect();
    find_duplicates(&links, vocab, &mut errors);
    let default_link_type = sub.default_link_type.and_then(|t| match vocab.lookup(&t) {
        // `dpp` (GS1's) naming the relation of this anchor's `untp:dpp` links: stored as the spelling its links use.
        Some(def) => Some(
            links
                .iter()
                .map(|l| l.link_type.as_str())
                .find(|&stored| stored == def.uri)
                .or_else(|| {
                    let relation = vocab.relation(&def.uri);
                    links
                        .iter()
                        .map(|l| l.link_type.as_str())
                        .find(|stored| relation.matches(stored))
                })
                .unwrap_or(&def.uri)
                .to_string(),
        ),
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

/// `record` in the form a write of it today stores: each link normalised as `validate` normalises a submitted one
/// (link type spelling, `accessRole` codes, trimmed text), the description trimmed; a link today's rules refuse stays
/// as stored. What a submission is compared with when it must send stored links back unchanged (`contribution`), so
/// that a record stored under older rules, or before a normalisation, compares equal to itself as read back.
pub fn normalised(
    record: &AnchorRecord,
    vocab: &Vocabulary,
    scheme: &Scheme,
    limits: &Limits,
    codes: &AccessCodes,
) -> AnchorRecord {
    let rules = Rules {
        vocab,
        scheme,
        limits,
        codes,
    };
    let links = record
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let (mut errors, mut warnings) = (Vec::new(), Vec::new());
            validate_link(i, LinkSubmission::of(l), &rules, &mut errors, &mut warnings)
                .filter(|_| errors.is_empty())
                .unwrap_or_else(|| l.clone())
        })
        .collect();
    AnchorRecord {
        item_description: record.item_description.trim().to_string(),
        default_link_type: record.default_link_type.clone(),
        links,
    }
}

/// What a link is checked against.
pub(super) struct Rules<'a> {
    pub(super) vocab: &'a Vocabulary,
    pub(super) scheme: &'a Scheme,
    pub(super) limits: &'a Limits,
    pub(super) codes: &'a AccessCodes,
}

pub(super) fn validate_link(
    i: usize,
    l: LinkSubmission,
    rules: &Rules<'_>,
    errors: &mut Vec<FieldError>,
    warnings: &mut Vec<String>,
) -> Option<Link> {
    let Rules {
        vocab,
        scheme,
        limits,
        codes,
    } = *rules;
    let field = |name: &str| format!("links[{i}].{name}");
    let before = errors.len();
    let link_type = match vocab.lookup(&l.link_type) {
        Some(def) if vocabulary::is_default_link(&def.uri) => {
            let msg = "the default link is derived: register the link under its descriptive type and name that \
                       type in defaultLinkType";
            errors.push(FieldError::new(field("linkType"), msg));
            String::new()
        }
        Some(def)
            if vocab.is_file_vocabulary(def.prefix())
                && !scheme.allows_vocabulary(def.prefix()) =>
        {
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
    let href = check_url(l.href, limits.url).unwrap_or_else(|msg| {
        errors.push(FieldError::new(field("href"), msg));
        String::new()
    });
    let title = trimmed(l.title);
    if let Some(msg) = text_problem(&title, limits.text) {
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
            if v.trim().is_empty() || v.len() > limits.text || has_control(v) {
                errors.push(FieldError::new(
                    format!("links[{i}].{name}[{j}]"),
                    "must be a non-empty string without control characters",
                ));
            }
        }
    }
    let access = check_access(i, &l.encryption_method, &l.access_role.0, codes, errors);
    if let Some(id) = &l.id {
        if !is_link_id(id) {
            errors.push(FieldError::new(
                field("id"),
                "must be 16 lower-case hexadecimal digits",
            ));
        }
    }
    if let Some(did) = &l.contributor {
        if crate::identifier::did_web::DidWeb::parse(did).is_err() {
            errors.push(FieldError::new(
                field("contributor"),
                "must be the did:web DID of the party that added the link",
            ));
        }
    }
    if errors.len() > before {
        return None;
    }
    let access = access?;
    Some(Link {
        link_type,
        href,
        title,
        media_type: l.media_type,
        hreflang: l.hreflang.0,
        context: l.context.0,
        rel: l.rel.0,
        method: l.method.0,
        encryption_method: access.encryption_method,
        access_role: access.access_role,
        forwards_query: l.fwqs.unwrap_or(true),
        id: l.id,
        contributor: l.contributor,
    })
}

/// UNTP's access rule (`codelist::AccessCodes::check`) on link `i`, each problem named by its field:
/// `links[i].encryptionMethod`, `links[i].accessRole[j]`, or `links[i].accessRole` for a missing role.
fn check_access(
    i: usize,
    encryption_method: &Option<String>,
    access_role: &[String],
    codes: &AccessCodes,
    errors: &mut Vec<FieldError>,
) -> Option<crate::codelist::Access> {
    let problems = match codes.check(encryption_method.as_deref(), access_role) {
        Ok(access) => return Some(access),
        Err(problems) => problems,
    };
    for p in problems {
        let (field, msg) = match p {
            AccessProblem::Method(msg) => (format!("links[{i}].encryptionMethod"), msg),
            AccessProblem::Role(j, msg) => (format!("links[{i}].accessRole[{j}]"), msg),
            AccessProblem::NoRole(msg) => (format!("links[{i}].accessRole"), msg),
        };
        // A value the text checks refused already (empty, too long) is named once.
        if !errors.iter().any(|e| e.field == field) {
            errors.push(FieldError::new(field, msg));
        }
    }
    None
}

/// Two links of one variant with one target, which differ otherwise (a title, a relation): which one is meant is
/// not ours to guess. Exact repeats are not errors; they collapse.
pub(super) fn find_duplicates(links: &[Link], vocab: &Vocabulary, errors: &mut Vec<FieldError>) {
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
            .position(|b| b.href == a.href && b.same_variant(a, vocab) && b != a);
        if let Some(j) = earlier {
            errors.push(FieldError::new(
                format!("links[{i}]"),
                format!("duplicates links[{j}]"),
            ));
        }
    }
}

/// What is wrong with a description or a title (trimmed), if anything: empty, longer than `max` bytes, or holding
/// control characters (a line break in a title breaks labels, pages and logs that show it).
pub(super) fn text_problem(value: &str, max: usize) -> Option<String> {
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

pub(super) fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// `s` without surrounding whitespace, keeping its buffer when there is none to cut (the usual case).
pub(super) fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() {
        s
    } else {
        s.trim().to_string()
    }
}

/// Checks a target URL and returns the form to store: as given when it is plain ASCII, else the URL parser's
/// percent-encoded serialisation, so it is always safe in a `Location` header, and at most `max_url` bytes long.
/// `Err`: what is wrong.
pub(super) fn check_url(href: String, max_url: usize) -> Result<String, String> {
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
pub(super) fn plainly_valid_url(href: &str) -> bool {
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
pub(super) fn is_link_id(s: &str) -> bool {
    s.len() == 16
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `type/subtype` with RFC 6838 restricted-name characters.
pub(super) fn is_media_type(s: &str) -> bool {
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
pub(super) fn is_language_tag(s: &str) -> bool {
    let mut subtags = s.split('-');
    let first_ok = subtags
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && subtags
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// What both linkset schemas accept: `ll` or `ll-CC`.
pub(super) fn is_schema_language(s: &str) -> bool {
    let word2 = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match s.split_once('-') {
        None => word2(s),
        Some((a, b)) => word2(a) && word2(b),
    }
}

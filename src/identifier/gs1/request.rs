//! Resolver request parsing: raw path (optional stem, `/AI/value` pairs or a
//! compressed EPC segment) and the raw query string's AI data attributes.

use std::borrow::Cow;

use super::error::{Gs1Error, excerpt};
use super::format::{self, Role};
use super::key::{self, Gs1Key, MAX_QUALIFIERS, Pair};
use super::{DigitalLink, ParseOptions, epc, percent};

/// Parses a raw (undecoded) resolver request path and query string.
///
/// Path: `[/stem...]/AI/value[/AI/value]*[/]` or `[/stem...]/eh<hex>|ex<base64url>`;
/// segments are split on `/` before being percent-decoded once.
/// Query: parts split on `&`, key/value on the first `=`; every key and value
/// must be well-formed percent-encoding (`+` is kept literally). All-digit keys
/// must be known AIs allowed as data attributes; other keys are left to the caller.
pub fn parse_request(
    raw_path: &str,
    raw_query: &str,
    opts: &ParseOptions,
) -> Result<DigitalLink, Gs1Error> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    // a single trailing slash is tolerated (GS1 conformance §5.25)
    let path = path.strip_suffix('/').unwrap_or(path);
    let (key, compressed) = match parse_path(path, opts) {
        Ok(key) => (key, false),
        Err(path_err) => (parse_compressed(path, opts).ok_or(path_err)??, true),
    };
    let attributes = parse_query(raw_query)?;
    Ok(DigitalLink {
        key,
        attributes,
        compressed,
    })
}

/// Scans `/AI/value` pairs from the right (as GS1's gs1_parseDLuri does)
/// until a primary key is found; whatever precedes it is the custom stem.
fn parse_path(path: &str, opts: &ParseOptions) -> Result<Gs1Key, Gs1Error> {
    if path.is_empty() {
        return Err(Gs1Error::EmptyPath);
    }
    let mut segs = path.rsplit('/');
    let mut quals = [const { Pair::EMPTY }; MAX_QUALIFIERS];
    let mut n = 0;
    while let Some(raw_value) = segs.next() {
        let Some(raw_ai) = segs.next() else {
            return Err(lone_segment(raw_value, n, opts));
        };
        let ai_seg = percent::decode(raw_ai)?;
        let entry = key::resolve_ai(&ai_seg, opts).ok_or_else(|| not_an_ai(&ai_seg))?;
        let value = percent::decode(raw_value)?;
        if value.is_empty() {
            return Err(Gs1Error::EmptyValue(entry.ai));
        }
        match entry.role {
            Role::Primary => {
                check_stem(segs)?;
                return key::build(entry, value, &quals[MAX_QUALIFIERS - n..], opts);
            }
            Role::Qualifier if n < MAX_QUALIFIERS => {
                n += 1;
                quals[MAX_QUALIFIERS - n] = Pair { ai: entry, value };
            }
            Role::Qualifier => return Err(Gs1Error::TooManyQualifiers),
            Role::Attribute if entry.dl_attr => {
                return Err(Gs1Error::DataAttributeInPath(entry.ai));
            }
            Role::Attribute => return Err(Gs1Error::NotInPath(entry.ai)),
        }
    }
    // only qualifiers were found, e.g. "/21/S"
    let first = path.split('/').next().unwrap_or(path);
    Err(Gs1Error::NoPrimaryKey(excerpt(first)))
}

/// Error for a leftover single segment: an AI without value, or no key at all.
fn lone_segment(raw: &str, qualifiers_seen: usize, opts: &ParseOptions) -> Gs1Error {
    let seg = match percent::decode(raw) {
        Ok(seg) => seg,
        Err(e) => return e,
    };
    match key::resolve_ai(&seg, opts) {
        Some(entry) if qualifiers_seen == 0 => Gs1Error::MissingValue(entry.ai),
        _ => Gs1Error::NoPrimaryKey(excerpt(&seg)),
    }
}

fn not_an_ai(seg: &str) -> Gs1Error {
    // AIs are 2 to 4 digits; longer digit strings are values in the wrong place
    if (2..=4).contains(&seg.len()) && seg.bytes().all(|b| b.is_ascii_digit()) {
        Gs1Error::UnknownAi(seg.to_owned())
    } else {
        Gs1Error::NoPrimaryKey(excerpt(seg))
    }
}

/// The stem is opaque, but must still be well-formed percent-encoding.
fn check_stem<'a>(segs: impl Iterator<Item = &'a str>) -> Result<(), Gs1Error> {
    for seg in segs {
        percent::decode(seg)?;
    }
    Ok(())
}

/// `Some` when the last segment is shaped like an EPC binary string.
fn parse_compressed(path: &str, opts: &ParseOptions) -> Option<Result<Gs1Key, Gs1Error>> {
    let (stem, last) = path.rsplit_once('/').unwrap_or(("", path));
    if !epc::looks_compressed(last) {
        return None;
    }
    Some(decompressed_key(stem, last, opts))
}

fn decompressed_key(stem: &str, last: &str, opts: &ParseOptions) -> Result<Gs1Key, Gs1Error> {
    if !stem.is_empty() {
        check_stem(stem.split('/'))?;
    }
    let decoded = epc::decompress(last)?;
    let (ai, value) = decoded.primary;
    let mut quals = Vec::with_capacity(1);
    if let Some((q, v)) = decoded.qualifier {
        quals.push(Pair {
            ai: key::entry(q)?,
            value: Cow::Owned(v),
        });
    }
    key::build(key::entry(ai)?, Cow::Owned(value), &quals, opts)
}

/// Extracts numeric-AI data attributes; other keys are left to the caller and are not checked here: the query is
/// forwarded to targets as it came, so `?note=50%` is the target's business, not a 400.
fn parse_query(raw_query: &str) -> Result<Vec<(&'static str, String)>, Gs1Error> {
    let mut attributes: Vec<(&'static str, String)> = Vec::new();
    for part in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
        let Ok(key) = percent::decode(raw_key) else {
            continue;
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let value = percent::decode(raw_value)?;
        let ai = query_ai(&key)?;
        if attributes.iter().any(|(a, _)| *a == ai.ai) {
            return Err(Gs1Error::DuplicateAi(ai.ai));
        }
        format::validate(ai, &value).map_err(|reason| Gs1Error::InvalidValue {
            ai: ai.ai,
            value: excerpt(&value),
            reason,
        })?;
        attributes.push((ai.ai, value.into_owned()));
    }
    Ok(attributes)
}

/// An all-digit query key must be a known AI allowed as a data attribute.
fn query_ai(key: &str) -> Result<&'static format::AiEntry, Gs1Error> {
    let ai = format::lookup_ai(key).ok_or_else(|| Gs1Error::UnknownAi(excerpt(key)))?;
    if ai.role != Role::Attribute {
        return Err(Gs1Error::KeyAiInQuery(ai.ai));
    }
    if !ai.dl_attr {
        return Err(Gs1Error::NotADataAttribute(ai.ai));
    }
    Ok(ai)
}

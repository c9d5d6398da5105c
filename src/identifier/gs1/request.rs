//! Resolver request parsing: raw path (optional stem, `/AI/value` pairs, a
//! compressed EPC segment or a Digital Link compressed segment) and the raw query string's AI data attributes.

use std::borrow::Cow;

use super::error::{Gs1Error, excerpt};
use super::format::{self, Role};
use super::key::{self, Gs1Key, MAX_QUALIFIERS, Pair};
use super::segments::{RawSeg, RevSegments, split_ascii, split_once_ascii};
use super::{
    DigitalLink, EpcScheme, ParseOptions, associations, charset, compression, epc, percent,
};

/// Parses a raw (undecoded) resolver request path and query string.
///
/// Path: `[/stem...]/AI/value[/AI/value]*[/]`, `[/stem...]/eh<hex>|ex<base64url>` or `[/stem...]/<base64url>`
/// (Digital Link compression, which may carry query attributes and other pairs too);
/// segments are split on `/` before being percent-decoded once.
/// Query: parts split on `&`, key/value on the first `=`; AI values are percent-decoded with `+` as a space.
/// All-digit keys must be known AIs allowed as data attributes of this key; other keys are left to the caller.
/// Then the dictionary's rules between all the URI's AIs (`req=`, `ex=`) must hold.
pub fn parse_request(
    raw_path: &str,
    raw_query: &str,
    opts: &ParseOptions,
) -> Result<DigitalLink, Gs1Error> {
    uri_characters(raw_path)?;
    uri_characters(raw_query)?;
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    // a single trailing slash is tolerated (GS1 conformance §5.25)
    let path = path.strip_suffix('/').unwrap_or(path);
    parse_any(path, raw_query, opts)
}

/// Data attributes as (AI, value), in the order read.
type Attributes = Vec<(&'static str, String)>;

/// How a request was compressed, and what its compressed data carried besides the key.
enum Compressed {
    No,
    /// A Digital Link compressed segment, with the query it carried (percent-encoded), if any.
    DigitalLink(Option<String>),
    /// An EPC binary string of this scheme, with the data attributes it carried (DSGTIN+ dates, +AIDC data).
    Epc(EpcScheme, Attributes),
}

/// A parsed key with the query's attributes, after the dictionary's rules between all the URI's AIs. A compressed
/// request's carried query (an EPC string's attributes written as one) is read before the request's own: together
/// they are the query the request is answered with, as the uncompressed URI would be.
fn finish(key: Gs1Key, raw_query: &str, compressed: Compressed) -> Result<DigitalLink, Gs1Error> {
    let was_compressed = !matches!(compressed, Compressed::No);
    let (carried, epc) = match compressed {
        Compressed::No => (None, None),
        Compressed::DigitalLink(carried) => (carried, None),
        Compressed::Epc(scheme, attributes) => (attributes_query(&attributes), Some(scheme)),
    };
    let query = match &carried {
        Some(q) if raw_query.is_empty() => Some(q.clone()),
        Some(q) => Some(format!("{q}&{raw_query}")),
        None => None,
    };
    let attributes = parse_query(query.as_deref().unwrap_or(raw_query), &key)?;
    let elements = attributes.iter().filter_map(query_element);
    associations::check(key.elements().chain(elements))?;
    // the uncompressed URI's data attributes: the AIs among the carried pairs (written by our encoders, so an AI is
    // plain digits); other pairs are no part of the identifier
    let carried = carried.and_then(|q| {
        let ais: Vec<&str> = split_ascii(&q, b'&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
            })
            .collect();
        (!ais.is_empty()).then(|| ais.join("&"))
    });
    Ok(DigitalLink {
        key,
        attributes,
        compressed: was_compressed,
        query,
        carried,
        epc,
    })
}

/// Data attributes as a query (`17=220630&10=ABC`), values percent-encoded; `None` for none.
fn attributes_query(attributes: &Attributes) -> Option<String> {
    let mut query = String::new();
    for (ai, value) in attributes {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(ai);
        query.push('=');
        percent::encode_into(&mut query, value);
    }
    (!query.is_empty()).then_some(query)
}

/// A plain `/AI/value` path first; the last segment as an EPC binary string only when that fails (`/8004/eh12`
/// is a plain GIAI), then as a Digital Link compressed segment (after EPC: an `eh`/`ex` segment is never one).
fn parse_any(path: &str, raw_query: &str, opts: &ParseOptions) -> Result<DigitalLink, Gs1Error> {
    // A path that looks compressed is a single segment ('/' is neither hex nor base64url), which is never a plain
    // path: skip that attempt and the error it would build. Plain paths fail this test on their first bytes.
    if epc::looks_compressed(path) {
        let (key, compressed) = decompressed_key("", path, opts)?;
        return finish(key, raw_query, compressed);
    }
    let path_err = match parse_path(path, opts) {
        Ok(key) => return finish(key, raw_query, Compressed::No),
        Err(e) => e,
    };
    let mut segs = RevSegments::new(path);
    let last = segs.next().map_or("", |seg| seg.text);
    let stem = segs.rest().unwrap_or("");
    if epc::looks_compressed(last) {
        let (key, compressed) = decompressed_key(stem, last, opts)?;
        return finish(key, raw_query, compressed);
    }
    // Any word has the shape of a compressed segment: only one that decodes to a key is read as one.
    dl_compressed(stem, last, raw_query, opts).unwrap_or(Err(path_err))
}

/// The request with `last` read as a Digital Link compressed segment: `None` when it does not decode to exactly one
/// primary key, else what the uncompressed URI would give. Codes 1A and 9D are read in the prototype toolkit's order
/// too when the released order gives no valid URI.
fn dl_compressed(
    stem: &str,
    last: &str,
    raw_query: &str,
    opts: &ParseOptions,
) -> Option<Result<DigitalLink, Gs1Error>> {
    let read = |prototype_order: bool| {
        let mut decoded = compression::decompress(last, prototype_order).ok()?;
        // Partially compressed, `/{key AI}/{key value}/{segment}`: the key is written out before the segment, which
        // then holds none (two keys, one written and one compressed, are no URI).
        let (path, query) = match (decoded.uncompressed(), written_key(stem, opts)) {
            (Some(parts), None) => parts,
            (None, Some(key)) => {
                decoded.ais.insert(0, key);
                decoded.uncompressed()?
            }
            _ => return None,
        };
        Some((decoded.ambiguous, path, query))
    };
    let (ambiguous, path, query) = match read(false) {
        Some(found) => found,
        // the prototype's order may be the one that decodes at all
        None => read(true).map(|(_, path, query)| (false, path, query))?,
    };
    if let Err(e) = check_stem(stem) {
        return Some(Err(e));
    }
    let from = |path: &str, query: String| {
        let carried = (!query.is_empty()).then_some(query);
        finish(
            parse_path(path, opts)?,
            raw_query,
            Compressed::DigitalLink(carried),
        )
    };
    let first = from(&path, query);
    if first.is_err() && ambiguous {
        let second = read(true).map(|(_, path, query)| from(&path, query));
        if let Some(Ok(dl)) = second {
            return Some(Ok(dl));
        }
    }
    Some(first)
}

/// The primary key written out at the end of `stem`, before a partially compressed segment (by its AI or, where
/// allowed, its convenience alpha: `/gtin/…`).
fn written_key(stem: &str, opts: &ParseOptions) -> Option<(&'static format::AiEntry, String)> {
    let mut segs = stem.rsplit('/');
    let value = percent::decode(segs.next()?).ok()?;
    let ai = super::key::resolve_ai(&percent::decode(segs.next()?).ok()?, opts)?;
    (ai.role == Role::Primary).then(|| (ai, value.into_owned()))
}

/// The stem is opaque, but must still be well-formed percent-encoding.
fn check_stem(stem: &str) -> Result<(), Gs1Error> {
    if stem.is_empty() {
        return Ok(());
    }
    stem.split('/')
        .try_for_each(|seg| percent::decode(seg).map(drop))
}

/// Scans `/AI/value` pairs from the right (as GS1's gs1_parseDLuri does)
/// until a primary key is found; whatever precedes it is the custom stem.
fn parse_path(path: &str, opts: &ParseOptions) -> Result<Gs1Key, Gs1Error> {
    if path.is_empty() {
        return Err(Gs1Error::EmptyPath);
    }
    // Decoded values live here, not on the heap, until the key copies them. Declared before `quals`, which
    // borrows it.
    let mut scratch = [0u8; 128];
    let mut space: &mut [u8] = &mut scratch;
    let mut segs = RevSegments::new(path);
    let mut quals = [const { Pair::EMPTY }; MAX_QUALIFIERS];
    let mut n = 0;
    while let Some(raw_value) = segs.next() {
        let Some(raw_ai) = segs.next() else {
            return Err(lone_segment(raw_value, n, opts));
        };
        let ai_seg = raw_ai.decode()?;
        let entry = key::resolve_ai(&ai_seg, opts).ok_or_else(|| not_an_ai(&ai_seg))?;
        let value = raw_value.decode_in(&mut space)?;
        if value.is_empty() {
            return Err(Gs1Error::EmptyValue(entry.ai));
        }
        match entry.role {
            Role::Primary => {
                // the stem is opaque, but must still be well-formed percent-encoding
                segs.try_for_each(|seg| seg.decode().map(drop))?;
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
fn lone_segment(raw: RawSeg<'_>, qualifiers_seen: usize, opts: &ParseOptions) -> Gs1Error {
    let seg = match raw.decode() {
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

fn decompressed_key(
    stem: &str,
    last: &str,
    opts: &ParseOptions,
) -> Result<(Gs1Key, Compressed), Gs1Error> {
    check_stem(stem)?;
    let decoded = epc::decompress(last)?;
    tracing::debug!(scheme = decoded.scheme, "EPC binary string decompressed");
    let qualifiers = decoded
        .qualifiers
        .iter()
        .map(|(ai, value)| -> Result<Pair<'_>, Gs1Error> {
            Ok(Pair {
                ai: key::entry(ai)?,
                value: Cow::Borrowed(value.as_str()),
            })
        })
        .collect::<Result<Vec<_>, Gs1Error>>()?;
    let (ai, value) = &decoded.primary;
    let value = Cow::Borrowed(value.as_str());
    let key = key::build(key::entry(ai)?, value, &qualifiers, opts)?;
    let scheme = EpcScheme {
        name: decoded.scheme,
        header: decoded.header,
        form: decoded.form,
    };
    Ok((key, Compressed::Epc(scheme, decoded.attributes)))
}

/// A parsed attribute as an (entry, value) element; attributes hold known AIs only, so `None` never happens.
fn query_element<'a>(
    (ai, value): &'a (&'static str, String),
) -> Option<(&'static format::AiEntry, &'a str)> {
    Some((format::lookup_ai(ai)?, value.as_str()))
}

/// Refuses bytes no URI may hold (RFC 3986 reserved, unreserved and `%`), as GS1's engine does for the whole URI.
fn uri_characters(raw: &str) -> Result<(), Gs1Error> {
    match raw.bytes().position(|b| !charset::is_uri_char(b)) {
        None => Ok(()),
        Some(i) => Err(Gs1Error::IllegalUriCharacter(excerpt(&raw[i..]))),
    }
}

/// Extracts numeric-AI data attributes; other keys are left to the caller and are not checked here: the query is
/// forwarded to targets as it came, so `?note=50%` is the target's business, not a 400.
fn parse_query(raw_query: &str, key: &Gs1Key) -> Result<Vec<(&'static str, String)>, Gs1Error> {
    let mut attributes: Vec<(&'static str, String)> = Vec::new();
    for part in split_ascii(raw_query, b'&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = split_once_ascii(part, b'=').unwrap_or((part, ""));
        // Only all-digit keys are AIs. Escapes can spell digits (`%31%37` is 17), but no other byte decodes to a digit
        // nor is one, so other keys are skipped here without decoding them.
        if !raw_key.bytes().all(|b| b.is_ascii_digit() || b == b'%') {
            continue;
        }
        let Ok(name) = percent::decode(raw_key) else {
            continue;
        };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // an empty name is all digits too: `?=x` names no AI
        let ai = format::lookup_ai(&name).ok_or_else(|| Gs1Error::UnknownAi(excerpt(&name)))?;
        let value = query_value(ai, raw_value)?;
        push_attribute(ai, value, key, &mut attributes)?;
    }
    Ok(attributes)
}

/// Checks one data attribute against the key and those before it, and its value against its AI's format.
fn push_attribute(
    ai: &'static format::AiEntry,
    value: String,
    key: &Gs1Key,
    attributes: &mut Vec<(&'static str, String)>,
) -> Result<(), Gs1Error> {
    check_attribute(ai, key, attributes)?;
    format::validate(ai, &value).map_err(|reason| Gs1Error::InvalidValue {
        ai: ai.ai,
        value: excerpt(&value),
        reason,
    })?;
    attributes.push((ai.ai, value));
    Ok(())
}

/// A query value decoded: `+` is a space (HTML form encoding, as in GS1's engine), then percent-decoding. A GTIN-8,
/// -12 or -13 under (01) is padded to 14 digits here whatever the path's legacy setting, as the engine does.
fn query_value(ai: &format::AiEntry, raw_value: &str) -> Result<String, Gs1Error> {
    let value = if raw_value.contains('+') {
        percent::decode(&raw_value.replace('+', "%20"))?.into_owned()
    } else {
        percent::decode(raw_value)?.into_owned()
    };
    if ai.ai == "01" && matches!(value.len(), 8 | 12 | 13) {
        return Ok(format!("{value:0>14}"));
    }
    Ok(value)
}

/// The engine's data-attribute rules: an AI once per URI; not one that would fit this key's path (a key
/// qualifier it could take, or an AI already there); and one the dictionary permits as a data attribute (`?`).
fn check_attribute(
    ai: &'static format::AiEntry,
    key: &Gs1Key,
    attributes: &[(&'static str, String)],
) -> Result<(), Gs1Error> {
    if attributes.iter().any(|(a, _)| format::same_ai(a, ai.ai)) {
        return Err(Gs1Error::DuplicateAi(ai.ai));
    }
    let in_path = key.elements().any(|(e, _)| format::same_ai(e.ai, ai.ai));
    if in_path || key.would_qualify(ai.ai) {
        return Err(Gs1Error::KeyAiInQuery(ai.ai));
    }
    if !ai.dl_attr {
        return Err(Gs1Error::NotADataAttribute(ai.ai));
    }
    Ok(())
}

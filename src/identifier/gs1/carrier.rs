//! Carrier data to GS1 Digital Link and back (UNTP IDR, "mapping carriers to URIs"): what a barcode scanner
//! transmits (a symbology identifier such as `]d2`, then the element string with GS for FNC1), element strings with
//! or without brackets, EPC URIs (`epc_uri`) and Digital Link URIs all become the same `DigitalLink` the resolver's
//! parser produces, by the same rules: the AIs are laid out as a URI path and query and handed to
//! `request::parse_request`, so a bad check digit is refused exactly as in a scanned URI. The reverse renders the
//! element string, bracketed and as a barcode carries it (GS after every variable-length value but the last).

use std::borrow::Cow;

use super::ai_info::{AI_INFO, AiInfo};
use super::ai_table::KEYS;
use super::error::{Gs1Error, excerpt};
use super::format::{self, AiEntry, Role};
use super::{DigitalLink, ParseOptions, epc_uri, percent, request, to_epc};
pub use epc_uri::EpcForm;

/// Longest carrier data accepted (a GS1 DataMatrix holds at most 2335 alphanumeric characters).
pub const MAX_DATA: usize = 4096;

/// The ASCII group separator scanners transmit for a separating FNC1.
pub const GS: char = '\u{1d}';

/// Why carrier data does not convert. Positions are byte offsets into the data as given, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    #[error("no carrier data")]
    Empty,
    #[error("carrier data longer than {MAX_DATA} bytes")]
    TooLong,
    #[error("at position {position}: {reason}")]
    Syntax { position: usize, reason: String },
    #[error(
        "symbology identifier \"{0}\" does not carry GS1 data (known: ]C1 GS1-128, ]e0 GS1 DataBar, ]d2 GS1 \
         DataMatrix, ]Q3 GS1 QR Code, ]J1 GS1 DotCode, ]E0 EAN-13/UPC, ]E4 EAN-8, ]I1 ITF-14, ]d1/]Q1 with a Digital \
         Link URI)"
    )]
    UnsupportedSymbology(String),
    #[error("at position {position}: unknown AI ({ai})")]
    UnknownAi { position: usize, ai: String },
    #[error("AI ({ai}) at position {position}: {reason}")]
    Element {
        ai: &'static str,
        position: usize,
        reason: Cow<'static, str>,
    },
    #[error("no GS1 Digital Link primary key among the AIs ({0})")]
    NoPrimaryKey(String),
    #[error("EPC URI: {0}")]
    Epc(String),
    #[error(transparent)]
    Gs1(#[from] Gs1Error),
}

impl CarrierError {
    /// Where in the data the problem is, when the error knows.
    pub fn position(&self) -> Option<usize> {
        match self {
            CarrierError::Syntax { position, .. }
            | CarrierError::UnknownAi { position, .. }
            | CarrierError::Element { position, .. } => Some(*position),
            _ => None,
        }
    }
}

/// A barcode symbology, as its AIM symbology identifier names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbology {
    /// `]d2`, `]Q3`, ...
    pub identifier: &'static str,
    pub name: &'static str,
    payload: Payload,
}

/// What follows a symbology identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload {
    /// An element string, GS for FNC1.
    Ai,
    /// Plain data: only a Digital Link URI is GS1 data there.
    Plain,
    /// 13 digits (EAN-13, UPC-A as 13 digits), maybe `|]e0` and a composite's element string.
    Ean13,
    /// 8 digits.
    Ean8,
    /// 14 digits: an ITF-14 on a case.
    Itf14,
}

/// The symbology identifiers of GS1 carriers (ISO/IEC 15424; GS1 General Specifications 5.1.2; the reference syntax
/// engine's scan-data table).
pub static SYMBOLOGIES: &[Symbology] = &[
    sym("]C1", "GS1-128", Payload::Ai),
    sym("]e0", "GS1 DataBar or GS1 Composite", Payload::Ai),
    sym("]d2", "GS1 DataMatrix", Payload::Ai),
    sym("]Q3", "GS1 QR Code", Payload::Ai),
    sym("]J1", "GS1 DotCode", Payload::Ai),
    sym("]d1", "Data Matrix (plain data)", Payload::Plain),
    sym("]Q1", "QR Code (plain data)", Payload::Plain),
    sym("]E0", "EAN-13 or UPC-A", Payload::Ean13),
    sym("]E4", "EAN-8", Payload::Ean8),
    sym("]I1", "ITF-14", Payload::Itf14),
];

const fn sym(identifier: &'static str, name: &'static str, payload: Payload) -> Symbology {
    Symbology {
        identifier,
        name,
        payload,
    }
}

/// What the data was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    DigitalLink,
    /// `(01)…(10)…`
    ElementString,
    /// `01…10…<GS>17…`, no symbology identifier.
    BarcodeData,
    Scanned(Symbology),
    EpcUri(epc_uri::EpcForm),
}

impl Source {
    pub fn name(&self) -> &'static str {
        match self {
            Source::DigitalLink => "digitalLink",
            Source::ElementString => "elementString",
            Source::BarcodeData => "barcodeData",
            Source::Scanned(_) => "scannerData",
            Source::EpcUri(_) => "epcUri",
        }
    }
}

/// Where an AI goes in a Digital Link URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    PrimaryKey,
    KeyQualifier,
    DataAttribute,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::PrimaryKey => "primaryKey",
            Placement::KeyQualifier => "keyQualifier",
            Placement::DataAttribute => "dataAttribute",
        }
    }
}

/// One AI of converted data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    pub ai: &'static str,
    /// The dictionary's title (`GTIN`, `BATCH/LOT`).
    pub title: &'static str,
    pub value: &'a str,
    pub placement: Placement,
}

/// Converted carrier data: the Digital Link it stands for, and what it was.
#[derive(Clone, Debug)]
pub struct Carrier {
    pub link: DigitalLink,
    pub source: Source,
}

impl Carrier {
    /// Every AI: the key, its qualifiers in path order, then the data attributes.
    pub fn elements(&self) -> Vec<Element<'_>> {
        let key = self.link.key.elements().enumerate().map(|(i, (e, v))| {
            let placement = if i == 0 {
                Placement::PrimaryKey
            } else {
                Placement::KeyQualifier
            };
            (e.ai, v, placement)
        });
        let attributes = self
            .link
            .attributes
            .iter()
            .map(|(ai, v)| (*ai, v.as_str(), Placement::DataAttribute));
        key.chain(attributes)
            .map(|(ai, value, placement)| Element {
                ai,
                title: info(ai).map_or("", |i| i.title),
                value,
                placement,
            })
            .collect()
    }

    /// The canonical Digital Link URI under `root` (no trailing slash): the key path, then the data attributes as a
    /// query, values percent-encoded (a `+` as `%2B`, since `+` in a query is a space).
    pub fn uri_under(&self, root: &str) -> String {
        let mut uri = format!("{root}/{}", self.link.key.canonical_path());
        for (i, (ai, value)) in self.link.attributes.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(ai);
            uri.push('=');
            percent::encode_into(&mut uri, value);
        }
        uri
    }

    /// The EPC of the key, its company prefix `gcp_digits` long, else as long as the data had it (an EPC URI, or an
    /// EPC binary string of TDS 1.x in a Digital Link path).
    pub fn epc(&self, gcp_digits: Option<usize>) -> Result<to_epc::Epc, to_epc::ToEpcError> {
        to_epc::epc_of(
            &self.link,
            gcp_digits.or(self.input_form().map(|f| f.gcp_digits)),
        )
    }

    /// The company prefix length and tag encoding the data itself showed: an EPC URI's, or those of an EPC binary
    /// string of TDS 1.x (its partition, its scheme and filter).
    pub fn input_form(&self) -> Option<EpcForm> {
        match self.source {
            Source::EpcUri(form) => Some(form),
            _ => {
                let epc = self.link.epc?;
                let (filter, gcp_digits) = epc.form?;
                let encoding = to_epc::tag_encoding(&epc.tag_encoding()?)?;
                Some(EpcForm {
                    gcp_digits,
                    tag: Some((encoding, filter)),
                })
            }
        }
    }

    /// `(01)09520123456788(10)ABC`: a `(` in a value is written `\(`.
    pub fn element_string(&self) -> String {
        let mut out = String::new();
        for e in self.elements() {
            out.push('(');
            out.push_str(e.ai);
            out.push(')');
            out.push_str(&e.value.replace('(', "\\("));
        }
        out
    }

    /// `010952012345678810ABC<GS>17…` as a barcode carries it: a GS (FNC1) after each variable-length value that is
    /// not the last. The leading FNC1 and the symbology identifier are the printer's and the scanner's business.
    pub fn barcode_data(&self) -> String {
        let elements = self.elements();
        let mut out = String::new();
        for (n, e) in elements.iter().enumerate() {
            out.push_str(e.ai);
            out.push_str(e.value);
            let fixed = info(e.ai).is_some_and(|i| i.predefined_length);
            if !fixed && n + 1 < elements.len() {
                out.push(GS);
            }
        }
        out
    }
}

/// The dictionary's title and FNC1 need of an AI.
fn info(ai: &str) -> Option<&'static AiInfo> {
    AI_INFO
        .binary_search_by(|i| (i.ai.len(), i.ai).cmp(&(ai.len(), ai)))
        .ok()
        .map(|n| &AI_INFO[n])
}

/// Converts carrier data: a scanner's output with its symbology identifier, an element string (bracketed, or
/// unbracketed with GS or `^` for FNC1), an EPC pure-identity, tag or LGTIN class URI, or a Digital Link URI (absolute
/// or a path). `opts` applies to Digital Link input only: element strings and EPC URIs are always strict.
pub fn convert(data: &str, opts: &ParseOptions) -> Result<Carrier, CarrierError> {
    if data.len() > MAX_DATA {
        return Err(CarrierError::TooLong);
    }
    // Keyboard-wedge scanners end with Enter; a GS is data here, so only these are trimmed.
    let trimmed = data.trim_start_matches(is_blank);
    let offset = data.len() - trimmed.len();
    let trimmed = trimmed.trim_end_matches(is_blank);
    if trimmed.is_empty() {
        return Err(CarrierError::Empty);
    }
    let (link, source) = classify(trimmed, offset, opts)?;
    Ok(Carrier { link, source })
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

const STRICT: ParseOptions = ParseOptions {
    legacy_gtin: false,
    convenience_alphas: false,
};

fn classify(
    data: &str,
    offset: usize,
    opts: &ParseOptions,
) -> Result<(DigitalLink, Source), CarrierError> {
    if data.starts_with(']') {
        return scanned(data, offset, opts);
    }
    if starts_with_ignore_case(data, "urn:epc:") {
        let (elements, form) = epc_uri::elements(data)?;
        let raw = elements
            .iter()
            .map(|(ai, value)| {
                Ok(Raw {
                    ai: entry(ai)?,
                    value: Cow::Borrowed(value.as_str()),
                    position: offset,
                })
            })
            .collect::<Result<Vec<_>, CarrierError>>()?;
        return Ok((link_from(&raw)?, Source::EpcUri(form)));
    }
    if is_uri(data) || data.starts_with('/') {
        return Ok((from_uri(data, opts)?, Source::DigitalLink));
    }
    if data.starts_with('(') {
        let raw = bracketed(data, offset)?;
        return Ok((link_from(&raw)?, Source::ElementString));
    }
    let first = data.as_bytes()[0];
    if first.is_ascii_digit() || is_fnc1(first) {
        let raw = unbracketed(data, offset)?;
        return Ok((link_from(&raw)?, Source::BarcodeData));
    }
    Err(CarrierError::Syntax {
        position: offset,
        reason: "not carrier data: expected a symbology identifier (]d2 …), an element string ((01)… or 01…), \
                 an EPC URI (urn:epc:…) or a Digital Link URI"
            .into(),
    })
}

fn starts_with_ignore_case(data: &str, prefix: &str) -> bool {
    data.len() >= prefix.len()
        && data.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn is_uri(data: &str) -> bool {
    starts_with_ignore_case(data, "https://") || starts_with_ignore_case(data, "http://")
}

/// `]` + two characters, then what that symbology carries.
fn scanned(
    data: &str,
    offset: usize,
    opts: &ParseOptions,
) -> Result<(DigitalLink, Source), CarrierError> {
    let id = data.get(..3).unwrap_or(data);
    let symbology = SYMBOLOGIES
        .iter()
        .find(|s| s.identifier == id)
        .ok_or_else(|| CarrierError::UnsupportedSymbology(excerpt(id)))?;
    let body = &data[id.len()..];
    let at = offset + id.len();
    let source = Source::Scanned(*symbology);
    let link = match symbology.payload {
        Payload::Ai => link_from(&unbracketed(no_caret(body, at)?, at)?)?,
        Payload::Plain if is_uri(body) => from_uri(body, opts)?,
        Payload::Plain => {
            return Err(CarrierError::Syntax {
                position: at,
                reason: format!(
                    "{} carries plain data; only a GS1 Digital Link URI (https://…) is GS1 data there",
                    symbology.identifier
                ),
            });
        }
        Payload::Ean13 => ean(body, at, 13)?,
        Payload::Ean8 => ean(body, at, 8)?,
        Payload::Itf14 => ean(body, at, 14)?,
    };
    Ok((link, source))
}

/// Scanned AI data has only GS for FNC1: a `^` there is data no AI allows, not an FNC1 (as the syntax engine says).
fn no_caret(body: &str, at: usize) -> Result<&str, CarrierError> {
    match body.find('^') {
        None => Ok(body),
        Some(i) => Err(CarrierError::Syntax {
            position: at + i,
            reason:
                "scanned data contains an illegal ^ character (FNC1 is GS, 0x1D, in scanner output)"
                    .into(),
        }),
    }
}

/// EAN/UPC and ITF-14: the GTIN's digits, zero-padded to 14 as (01); an EAN-13 or EAN-8 may carry a composite
/// (`|]e0` + element string).
fn ean(body: &str, at: usize, digits: usize) -> Result<DigitalLink, CarrierError> {
    let (gtin, composite) = match body.split_once("|]e0") {
        Some((gtin, cc)) if digits == 13 || digits == 8 => (gtin, Some(cc)),
        _ => (body, None),
    };
    if gtin.len() != digits || !gtin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CarrierError::Syntax {
            position: at,
            reason: format!("expected the {digits} digits of the GTIN"),
        });
    }
    let mut raw = vec![Raw {
        ai: entry("01")?,
        value: Cow::Owned(format!("{gtin:0>14}")),
        position: at,
    }];
    if let Some(cc) = composite {
        raw.extend(unbracketed(
            no_caret(cc, at + digits + 4)?,
            at + digits + 4,
        )?);
    }
    link_from(&raw)
}

/// The entry of an AI this module names (all in the dictionary; an error rather than a panic if one were not).
fn entry(ai: &str) -> Result<&'static AiEntry, CarrierError> {
    format::lookup_ai(ai).ok_or_else(|| CarrierError::UnknownAi {
        position: 0,
        ai: ai.to_string(),
    })
}

/// An absolute Digital Link URI (any host: the AIs matter, not the domain) or a path with its query.
fn from_uri(data: &str, opts: &ParseOptions) -> Result<DigitalLink, CarrierError> {
    let rest = match data.find("://") {
        Some(i) if is_uri(data) => {
            let after = &data[i + 3..];
            after.find(['/', '?', '#']).map_or("", |p| &after[p..])
        }
        _ => data,
    };
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Ok(request::parse_request(path, query, opts)?)
}

/// One AI and its value as found in the data.
#[derive(Clone, Debug)]
pub(crate) struct Raw<'a> {
    pub ai: &'static AiEntry,
    pub value: Cow<'a, str>,
    /// Where the AI starts in the data.
    pub position: usize,
}

fn is_fnc1(b: u8) -> bool {
    b == 0x1d || b == b'^'
}

/// Element strings are printable ASCII (every AI character set is), plus GS for FNC1.
fn ascii_only(data: &str, offset: usize) -> Result<(), CarrierError> {
    match data
        .bytes()
        .position(|b| b != 0x1d && !(0x20..0x7f).contains(&b))
    {
        None => Ok(()),
        Some(i) => Err(CarrierError::Syntax {
            position: offset + i,
            reason: "a character no element string holds".into(),
        }),
    }
}

/// The AI at the start of `data` (AIs are prefix-free: 2, 3 or 4 digits).
fn ai_at(data: &str, position: usize) -> Result<&'static AiEntry, CarrierError> {
    let digits = data.bytes().take(4).take_while(u8::is_ascii_digit).count();
    (2..=digits)
        .find_map(|n| format::lookup_ai(&data[..n]))
        .ok_or_else(|| CarrierError::UnknownAi {
            position,
            // `data` is not empty: show the digits read, or the one character that is none
            ai: data[..digits.max(1)].to_string(),
        })
}

/// An unbracketed element string: AI, value, and a GS (or `^`) after each variable-length value that is not last.
/// A leading FNC1 is skipped; a separator after a pre-defined-length value is tolerated.
pub(crate) fn unbracketed(data: &str, offset: usize) -> Result<Vec<Raw<'_>>, CarrierError> {
    ascii_only(data, offset)?;
    let bytes = data.as_bytes();
    let mut i = bytes.iter().take_while(|b| is_fnc1(**b)).count().min(1);
    let mut out = Vec::new();
    if i == bytes.len() {
        return Err(CarrierError::Empty);
    }
    while i < bytes.len() {
        let position = offset + i;
        let ai = ai_at(&data[i..], position)?;
        i += ai.ai.len();
        let end = if info(ai.ai).is_some_and(|x| x.predefined_length) {
            let length: usize = ai.components.iter().map(|c| usize::from(c.max)).sum();
            let end = i + length;
            let value = data.get(i..end).filter(|v| !v.bytes().any(is_fnc1));
            if value.is_none() {
                let reason = format!("needs exactly {length} characters (pre-defined length)");
                return Err(element(ai, position, reason));
            }
            end
        } else {
            data[i..]
                .bytes()
                .position(is_fnc1)
                .map_or(bytes.len(), |p| i + p)
        };
        if end == i {
            return Err(element(ai, position, "has no value".into()));
        }
        out.push(Raw {
            ai,
            value: Cow::Borrowed(&data[i..end]),
            position,
        });
        i = end;
        // one separator (a trailing one is harmless); two in a row would leave an element out
        if i < bytes.len() && is_fnc1(bytes[i]) {
            i += 1;
            if i < bytes.len() && is_fnc1(bytes[i]) {
                return Err(CarrierError::Syntax {
                    position: offset + i,
                    reason: "two FNC1 separators in a row".into(),
                });
            }
        }
    }
    Ok(out)
}

fn element(ai: &'static AiEntry, position: usize, reason: String) -> CarrierError {
    CarrierError::Element {
        ai: ai.ai,
        position,
        reason: reason.into(),
    }
}

/// A bracketed element string: `(AI)value…`, a `(` inside a value escaped as `\(`.
pub(crate) fn bracketed(data: &str, offset: usize) -> Result<Vec<Raw<'_>>, CarrierError> {
    ascii_only(data, offset)?;
    let bytes = data.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let position = offset + i;
        let close = data[i..].find(')').map(|p| i + p).filter(|&c| c <= i + 5);
        let Some(close) = close.filter(|_| bytes[i] == b'(') else {
            return Err(CarrierError::Syntax {
                position,
                reason: "expected \"(AI)\"".into(),
            });
        };
        let ai_text = &data[i + 1..close];
        let ai = match format::lookup_ai(ai_text) {
            Some(ai) => ai,
            None => {
                return Err(CarrierError::UnknownAi {
                    position,
                    ai: ai_text.to_string(),
                });
            }
        };
        let start = close + 1;
        let mut end = start;
        while end < bytes.len() && !(bytes[end] == b'(' && bytes[end - 1] != b'\\') {
            end += 1;
        }
        let text = &data[start..end];
        if text.is_empty() {
            return Err(element(ai, position, "has no value".into()));
        }
        let value = if text.contains("\\(") {
            Cow::Owned(text.replace("\\(", "("))
        } else {
            Cow::Borrowed(text)
        };
        out.push(Raw {
            ai,
            value,
            position,
        });
        i = end;
    }
    Ok(out)
}

/// The Digital Link of a list of AIs: the first primary key, the key qualifiers that best fit it in path order, the
/// rest as data attributes in the order given; each value checked where it was found, then the whole URI by the
/// Digital Link parser (data-attribute rules, `req`/`ex` between AIs).
pub(crate) fn link_from(raw: &[Raw<'_>]) -> Result<DigitalLink, CarrierError> {
    let mut unique: Vec<&Raw<'_>> = Vec::with_capacity(raw.len());
    for r in raw {
        format::validate(r.ai, &r.value).map_err(|reason| CarrierError::Element {
            ai: r.ai.ai,
            position: r.position,
            reason: Cow::Owned(format!("value \"{}\": {reason}", excerpt(&r.value))),
        })?;
        match unique.iter().find(|u| u.ai.ai == r.ai.ai) {
            Some(u) if u.value != r.value => {
                return Err(element(
                    r.ai,
                    r.position,
                    "repeats with another value".into(),
                ));
            }
            Some(_) => {}
            None => unique.push(r),
        }
    }
    let primary = unique
        .iter()
        .position(|r| r.ai.role == Role::Primary)
        .ok_or_else(|| {
            let ais: Vec<&str> = unique.iter().map(|r| r.ai.ai).collect();
            CarrierError::NoPrimaryKey(ais.join(", "))
        })?;
    let qualifiers = best_qualifiers(&unique, primary);
    let mut path = String::new();
    for n in std::iter::once(primary).chain(qualifiers.iter().copied()) {
        path.push('/');
        path.push_str(unique[n].ai.ai);
        path.push('/');
        percent::encode_into(&mut path, &unique[n].value);
    }
    let mut query = String::new();
    for (n, r) in unique.iter().enumerate() {
        if n == primary || qualifiers.contains(&n) {
            continue;
        }
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(r.ai.ai);
        query.push('=');
        percent::encode_into(&mut query, &r.value);
    }
    Ok(request::parse_request(&path, &query, &STRICT)?)
}

/// Indexes (into `unique`) of the key qualifiers for the primary key at `primary`, in path order: of the key's
/// qualifier sequences, the one that places most of the AIs present, ties to the one whose first AI comes earliest in
/// the data (so a URI's own path comes back as it was).
fn best_qualifiers(unique: &[&Raw<'_>], primary: usize) -> Vec<usize> {
    let Some(spec) = KEYS.iter().find(|k| k.ai == unique[primary].ai.ai) else {
        return Vec::new();
    };
    let mut best: Option<(usize, usize, Vec<usize>)> = None;
    for alternative in spec.alternatives {
        let found: Vec<usize> = alternative
            .iter()
            .filter_map(|q| unique.iter().position(|r| r.ai.ai == *q))
            .collect();
        let earliest = found.iter().copied().min().unwrap_or(usize::MAX);
        let better = match &best {
            None => true,
            Some((count, first, _)) => {
                found.len() > *count || (found.len() == *count && earliest < *first)
            }
        };
        if better {
            best = Some((found.len(), earliest, found));
        }
    }
    best.map(|(_, _, found)| found).unwrap_or_default()
}

#[cfg(test)]
#[path = "carrier_tests.rs"]
mod tests;

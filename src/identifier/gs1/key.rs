//! `Gs1Key`: a validated primary key with its ordered key qualifiers, and the
//! rules that build one (qualifier membership, order, alternatives, formats).

use std::borrow::Cow;
use std::fmt;

use super::ParseOptions;
use super::ai_table::KEYS;
use super::error::{Gs1Error, excerpt};
use super::format::{self, AiEntry, Role};
use super::percent;

/// Longest `dlpkey` qualifier sequence in the dictionary (01: 22,10,21).
pub(crate) const MAX_QUALIFIERS: usize = 3;

/// An AI with its decoded value, as found in a path.
#[derive(Clone, Debug)]
pub(crate) struct Pair<'a> {
    pub ai: &'static AiEntry,
    pub value: Cow<'a, str>,
}

/// Placeholder for unused slots of fixed-size qualifier arrays.
static NO_AI: AiEntry = AiEntry {
    ai: "",
    dl_attr: false,
    role: Role::Attribute,
    components: &[],
    req: &[],
    ex: &[],
};

impl Pair<'_> {
    pub(crate) const EMPTY: Pair<'static> = Pair {
        ai: &NO_AI,
        value: Cow::Borrowed(""),
    };
}

/// A validated GS1 key path (primary key + ordered key qualifiers). Cannot hold an invalid value.
///
/// Kept small (64 bytes) because every parse moves one through several return values.
#[derive(Clone)]
pub struct Gs1Key {
    /// Canonical path followed by the decoded values: one allocation per key.
    buf: Box<str>,
    /// Each element's AI, the primary key first; slots from `len` on are unused.
    ais: [&'static AiEntry; 1 + MAX_QUALIFIERS],
    /// `bounds[0]` ends the canonical path; element `i`'s decoded value is `buf[bounds[i]..bounds[i + 1]]`.
    bounds: [u16; 2 + MAX_QUALIFIERS],
    /// Index into `KEYS` and into that key's `alternatives`.
    key: u8,
    alt: u8,
    len: u8,
}

/// Longest `buf`: per element an AI (at most 4 bytes), two separators, and its value both encoded (at most 3 bytes
/// a byte) and decoded. `build` validates every value, so none is longer than the dictionary allows.
const MAX_BUF: usize = (1 + MAX_QUALIFIERS) * (4 + 2 + 4 * format::MAX_VALUE_LEN);
const _: () = assert!(MAX_BUF <= u16::MAX as usize, "Gs1Key bounds must fit u16");

impl Gs1Key {
    pub fn primary_ai(&self) -> &'static str {
        self.ais[0].ai
    }

    pub fn primary_value(&self) -> &str {
        self.value(0)
    }

    pub fn qualifiers(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        (1..usize::from(self.len)).map(|i| (self.ais[i].ai, self.value(i)))
    }

    /// Canonical path, no leading slash, values percent-encoded.
    pub fn canonical_path(&self) -> &str {
        &self.buf[..usize::from(self.bounds[0])]
    }

    pub fn is_primary_only(&self) -> bool {
        self.len == 1
    }

    /// Every element, primary key first, with its AI entry and decoded value.
    pub(crate) fn elements(&self) -> impl Iterator<Item = (&'static AiEntry, &str)> + Clone + '_ {
        (0..usize::from(self.len)).map(|i| (self.ais[i], self.value(i)))
    }

    /// Whether `ai` belongs in this key's path: inserted among the qualifiers, it would still form a valid
    /// key-qualifier sequence (GS1's engine refuses such an AI as a query attribute).
    pub(crate) fn would_qualify(&self, ai: &str) -> bool {
        let quals = &self.ais[1..usize::from(self.len)];
        if quals.iter().any(|q| format::same_ai(q.ai, ai)) {
            return false;
        }
        KEYS[usize::from(self.key)].alternatives.iter().any(|seq| {
            let has = |a: &str| seq.iter().any(|s| format::same_ai(s, a));
            has(ai) && quals.iter().all(|q| has(q.ai))
        })
    }

    fn value(&self, i: usize) -> &str {
        &self.buf[usize::from(self.bounds[i])..usize::from(self.bounds[i + 1])]
    }

    /// Walk-up candidates, most specific first: self first, the bare primary key last.
    pub fn levels(&self) -> Vec<Gs1Key> {
        let spec = &KEYS[usize::from(self.key)];
        let seq = spec.alternatives[usize::from(self.alt)];
        let quals = &self.ais[1..usize::from(self.len)];
        let mut ranked: Vec<(u32, u32)> = (0..1u32 << quals.len())
            .filter(|&mask| {
                let has = |ai: &str| {
                    quals
                        .iter()
                        .enumerate()
                        .any(|(i, q)| mask >> i & 1 == 1 && q.ai == ai)
                };
                spec.required.iter().all(|r| has(r))
            })
            .map(|mask| (rank(quals, seq, mask), mask))
            .collect();
        ranked.sort_unstable_by_key(|&(rank, _)| std::cmp::Reverse(rank));
        ranked
            .into_iter()
            .map(|(_, mask)| self.subset(mask))
            .collect()
    }

    /// The key with only the qualifiers whose bit is set in `mask` (bit 0: first qualifier).
    fn subset(&self, mask: u32) -> Gs1Key {
        let quals = usize::from(self.len) - 1;
        if mask + 1 == 1 << quals {
            return self.clone();
        }
        let mut parts = [(&NO_AI, ""); 1 + MAX_QUALIFIERS];
        parts[0] = (self.ais[0], self.primary_value());
        let mut n = 1;
        for i in (0..quals).filter(|i| mask >> i & 1 == 1) {
            parts[n] = (self.ais[i + 1], self.value(i + 1));
            n += 1;
        }
        assemble(self.key, self.alt, &parts[..n])
    }

    /// Management-API form: canonical-ish path, optional leading slash, no stem, no compression, no query.
    /// Legacy GTIN and alphas follow `opts`; one trailing slash is tolerated. Result is canonical.
    pub fn parse_key(path: &str, opts: &ParseOptions) -> Result<Gs1Key, Gs1Error> {
        let path = path.strip_prefix('/').unwrap_or(path);
        let path = path.strip_suffix('/').unwrap_or(path);
        if path.is_empty() {
            return Err(Gs1Error::EmptyPath);
        }
        let mut segs = path.split('/');
        let (primary, value) = next_pair(&mut segs, opts)?;
        let mut quals = [const { Pair::EMPTY }; MAX_QUALIFIERS];
        let mut n = 0;
        while let Some(raw_ai) = segs.next() {
            let (ai, value) = pair_from(raw_ai, segs.next(), opts)?;
            let slot = quals.get_mut(n).ok_or(Gs1Error::TooManyQualifiers)?;
            *slot = Pair { ai, value };
            n += 1;
        }
        let key = build(primary, value, &quals[..n], opts)?;
        super::associations::check(key.elements())?;
        Ok(key)
    }

    /// The key of a record stored under `path` by an earlier version whose rules were looser (a linter added since,
    /// a check it did not make): the path read by its structure only (known AIs, a primary key, qualifiers the key
    /// allows, in an order it allows, values of allowed lengths), with no check of the values. `None` unless the
    /// result's canonical path is `path` exactly. Only for finding such a record to read or delete it: never for a
    /// write or a resolution.
    pub fn stored(path: &str) -> Option<Gs1Key> {
        let strict = ParseOptions {
            legacy_gtin: false,
            convenience_alphas: false,
        };
        let mut segs = path.split('/');
        let (primary, value) = next_pair(&mut segs, &strict).ok()?;
        let mut quals = [const { Pair::EMPTY }; MAX_QUALIFIERS];
        let mut n = 0;
        while let Some(raw_ai) = segs.next() {
            let (ai, value) = pair_from(raw_ai, segs.next(), &strict).ok()?;
            *quals.get_mut(n)? = Pair { ai, value };
            n += 1;
        }
        let key = format::key_index(primary.ai)?;
        let alt = choose_alternative(key, &quals[..n]).ok()?;
        let fits = |v: &str| !v.is_empty() && v.len() <= format::MAX_VALUE_LEN;
        if !fits(&value) || !quals[..n].iter().all(|q| fits(&q.value)) {
            return None;
        }
        let mut parts = [(&NO_AI, ""); 1 + MAX_QUALIFIERS];
        parts[0] = (primary, &*value);
        for (slot, q) in parts[1..].iter_mut().zip(&quals[..n]) {
            *slot = (q.ai, &*q.value);
        }
        // KEYS has < 256 entries and at most a few alternatives per key
        let key = assemble(key as u8, alt as u8, &parts[..=n]);
        (key.canonical_path() == path).then_some(key)
    }
}

// The canonical path determines every other field (AIs, decoded values, layout), so it alone is compared and hashed.
impl PartialEq for Gs1Key {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_path() == other.canonical_path()
    }
}

impl Eq for Gs1Key {}

impl std::hash::Hash for Gs1Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.canonical_path().hash(state);
    }
}

impl fmt::Debug for Gs1Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gs1Key")
            .field(&self.canonical_path())
            .finish()
    }
}

impl fmt::Display for Gs1Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical_path())
    }
}

/// Sort key for walk-up: serial-level first, then more qualifiers, then
/// later dlpkey positions (base-4 digits, highest position first).
fn rank(quals: &[&'static AiEntry], seq: &[&str], mask: u32) -> u32 {
    let mut serial = 0;
    let mut positions = [0u32; MAX_QUALIFIERS];
    let mut count = 0;
    for (i, q) in quals.iter().enumerate() {
        if mask >> i & 1 == 1 {
            serial |= u32::from(matches!(q.ai, "21" | "235"));
            // qualifiers were validated against `seq`, so the position exists
            let pos = seq.iter().position(|&s| s == q.ai).unwrap_or(0);
            positions[count] = pos as u32 + 1;
            count += 1;
        }
    }
    positions.sort_unstable_by(|a, b| b.cmp(a));
    let digits = positions.iter().fold(0, |acc, p| acc * 4 + p);
    serial << 16 | (count as u32) << 8 | digits
}

fn next_pair<'a>(
    segs: &mut std::str::Split<'a, char>,
    opts: &ParseOptions,
) -> Result<(&'static AiEntry, Cow<'a, str>), Gs1Error> {
    let raw_ai = segs.next().unwrap_or("");
    pair_from(raw_ai, segs.next(), opts)
}

fn pair_from<'a>(
    raw_ai: &str,
    raw_value: Option<&'a str>,
    opts: &ParseOptions,
) -> Result<(&'static AiEntry, Cow<'a, str>), Gs1Error> {
    let ai_seg = percent::decode(raw_ai)?;
    let entry = resolve_ai(&ai_seg, opts).ok_or_else(|| Gs1Error::UnknownAi(excerpt(&ai_seg)))?;
    let raw_value = raw_value.ok_or(Gs1Error::MissingValue(entry.ai))?;
    Ok((entry, percent::decode(raw_value)?))
}

/// Maps a decoded AI segment (numeric, or a convenience alpha if enabled) to its entry.
pub(crate) fn resolve_ai(seg: &str, opts: &ParseOptions) -> Option<&'static AiEntry> {
    // no alpha is all digits, so trying the alphas after a failed numeric look-up changes nothing
    format::lookup_ai(seg).or_else(|| {
        opts.convenience_alphas
            .then(|| format::alpha_to_ai(seg).and_then(format::lookup_ai))
            .flatten()
    })
}

/// GTIN-8/12/13 are left-padded to GTIN-14 (legacy DL URIs).
fn pad_gtin<'a>(value: Cow<'a, str>, opts: &ParseOptions) -> Cow<'a, str> {
    let short = matches!(value.len(), 8 | 12 | 13);
    if opts.legacy_gtin && short && value.bytes().all(|b| b.is_ascii_digit()) {
        Cow::Owned(format!("{value:0>14}"))
    } else {
        value
    }
}

fn check_value(entry: &AiEntry, value: &str) -> Result<(), Gs1Error> {
    if value.is_empty() {
        return Err(Gs1Error::EmptyValue(entry.ai));
    }
    // WHATWG URL parsers (browsers, most HTTP clients) resolve `.`, `..`, `%2E` and `%2E%2E` segments away, so such
    // a value cannot survive in any form of the URI: the identifier would silently become its parent.
    if value == "." || value == ".." {
        return Err(Gs1Error::InvalidValue {
            ai: entry.ai,
            value: value.to_string(),
            reason: "a value of \".\" or \"..\" cannot be carried in a URI path",
        });
    }
    format::validate(entry, value).map_err(|reason| Gs1Error::InvalidValue {
        ai: entry.ai,
        value: excerpt(value),
        reason,
    })
}

pub(crate) fn entry(ai: &str) -> Result<&'static AiEntry, Gs1Error> {
    format::lookup_ai(ai).ok_or_else(|| Gs1Error::UnknownAi(excerpt(ai)))
}

/// Error for a path AI that belongs to no alternative of the primary key.
fn not_qualifier(ai: &'static AiEntry, primary: &'static str) -> Gs1Error {
    if ai.role == Role::Attribute && ai.dl_attr {
        Gs1Error::DataAttributeInPath(ai.ai)
    } else {
        Gs1Error::NotAQualifier { ai: ai.ai, primary }
    }
}

/// Finds the alternative sequence holding every qualifier, in strictly increasing order.
fn choose_alternative(spec_idx: usize, quals: &[Pair<'_>]) -> Result<usize, Gs1Error> {
    let spec = &KEYS[spec_idx];
    let mut chosen: Option<(usize, usize, &'static str)> = None; // (alt, pos, ai)
    for q in quals {
        let ai = q.ai.ai;
        let found = spec.alternatives.iter().enumerate().find_map(|(a, seq)| {
            seq.iter()
                .position(|s| format::same_ai(s, ai))
                .map(|p| (a, p))
        });
        let Some((alt, pos)) = found else {
            return Err(not_qualifier(q.ai, spec.ai));
        };
        if let Some((prev_alt, prev_pos, prev_ai)) = chosen {
            if prev_alt != alt {
                return Err(Gs1Error::MixedAlternatives(prev_ai, ai));
            }
            if pos == prev_pos {
                return Err(Gs1Error::DuplicateAi(ai));
            }
            if pos < prev_pos {
                return Err(Gs1Error::QualifierOrder {
                    first: ai,
                    second: prev_ai,
                });
            }
        }
        chosen = Some((alt, pos, ai));
    }
    Ok(chosen.map_or(0, |c| c.0))
}

/// Validates a primary key and its qualifiers (in path order) and builds the key.
pub(crate) fn build(
    primary: &'static AiEntry,
    value: Cow<'_, str>,
    quals: &[Pair<'_>],
    opts: &ParseOptions,
) -> Result<Gs1Key, Gs1Error> {
    let key = format::key_index(primary.ai).ok_or(Gs1Error::NotAPrimaryKey(primary.ai))?;
    let value = if primary.ai == "01" {
        pad_gtin(value, opts)
    } else {
        value
    };
    check_value(primary, &value)?;
    let alt = choose_alternative(key, quals)?;
    for q in quals {
        check_value(q.ai, &q.value)?;
    }
    let spec = &KEYS[key];
    let present = |r: &&str| quals.iter().any(|q| format::same_ai(q.ai.ai, r));
    if let Some(&missing) = spec.required.iter().find(|r| !present(r)) {
        return Err(Gs1Error::MissingQualifier {
            primary: primary.ai,
            qualifier: missing,
        });
    }
    let mut parts = [(&NO_AI, ""); 1 + MAX_QUALIFIERS];
    parts[0] = (primary, &*value);
    for (slot, q) in parts[1..].iter_mut().zip(quals) {
        *slot = (q.ai, &*q.value);
    }
    // KEYS has < 256 entries and at most a few alternatives per key
    Ok(assemble(key as u8, alt as u8, &parts[..=quals.len()]))
}

/// Lays out canonical path + decoded values in one buffer. Inputs are valid (so short: see `MAX_BUF`).
fn assemble(key: u8, alt: u8, parts: &[(&'static AiEntry, &str)]) -> Gs1Key {
    let mut encoded_lens = [0; 1 + MAX_QUALIFIERS];
    for (len, (_, v)) in encoded_lens.iter_mut().zip(parts) {
        *len = percent::encoded_len(v);
    }
    let canon_len: usize = parts
        .iter()
        .zip(&encoded_lens)
        .map(|((ai, _), len)| ai.ai.len() + 2 + len)
        .sum::<usize>()
        - 1;
    let raw_len: usize = parts.iter().map(|(_, v)| v.len()).sum();
    let mut buf = String::with_capacity(canon_len + raw_len);
    for (i, ((ai, v), &len)) in parts.iter().zip(&encoded_lens).enumerate() {
        if i > 0 {
            buf.push('/');
        }
        buf.push_str(ai.ai);
        buf.push('/');
        // the length already tells whether anything needs escaping
        if len == v.len() {
            buf.push_str(v);
        } else {
            percent::encode_into(&mut buf, v);
        }
    }
    let mut ais = [&NO_AI; 1 + MAX_QUALIFIERS];
    let mut bounds = [0; 2 + MAX_QUALIFIERS];
    // buf.len() <= MAX_BUF <= u16::MAX (checked at compile time)
    bounds[0] = buf.len() as u16;
    for (i, (ai, v)) in parts.iter().enumerate() {
        buf.push_str(v);
        ais[i] = ai;
        bounds[i + 1] = buf.len() as u16;
    }
    Gs1Key {
        buf: buf.into_boxed_str(),
        ais,
        bounds,
        key,
        alt,
        // parts.len() <= 1 + MAX_QUALIFIERS
        len: parts.len() as u8,
    }
}

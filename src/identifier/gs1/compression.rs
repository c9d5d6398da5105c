//! GS1 Digital Link URI compression (GS1 Digital Link URI Syntax 1.1, the "compressed GS1 Digital Link URI"): a
//! URI's element strings packed into a bit stream and written as one base64url path segment, e.g.
//! `/ARFKk4XB0CDKWcnpq` for `/01/09506000134376/10/LOT01`.
//!
//! The wire format is the one of GS1's reference toolkit (GS1DigitalLinkToolkit.js), so codes printed with it decode
//! here and the other way round. The stream is a sequence of entries, each starting with two 4-bit nibbles: two
//! decimal digits start an AI written out (its length by `ai_digits`), an optimisation code (`OPTIMISATIONS`) stands
//! for a fixed list of AIs, `F` starts a non-GS1 `key=value` pair. How each AI's value is written (`layout`) is
//! derived from the generated AI table, restricted to the AIs the toolkit knows (`in_toolkit`) and with its three
//! errata kept for bit compatibility. Every decoded value is then checked like any other by the request parser.

use std::fmt::Write;

use super::ai_table::KEYS;
use super::format::{self, AiEntry, Cset, Role};
use super::percent;

/// The base64url alphabet (RFC 4648 §5), no padding.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Longest segment decoded. A compressed URI of every AI a label can carry is far shorter; longer input is refused
/// before any work.
const MAX_CHARS: usize = 2048;

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Whether `seg` has the shape of a compressed segment (base64url only). Ordinary words have it too: only a clean
/// decode (`decompress`) makes it one.
pub(crate) fn looks_compressed(seg: &str) -> bool {
    !seg.is_empty() && seg.len() <= MAX_CHARS && seg.bytes().all(|b| sextet(b).is_some())
}

/// Digits of an AI by its first two digits (the toolkit's and the syntax engine's prefix table); `None` for prefixes
/// no AI has.
fn ai_digits(prefix: u8) -> Option<usize> {
    match prefix {
        0..=2 | 10..=13 | 15..=17 | 20..=22 | 30 | 37 | 90..=99 => Some(2),
        23..=25 | 40..=42 | 71 => Some(3),
        31..=36 | 39 | 43 | 70 | 72 | 80..=82 => Some(4),
        _ => None,
    }
}

/// The optimisation codes: each stands for its AIs, whose values follow in this order with no AI digits. The
/// released toolkit sorts its lists in place before use, so 1A and 9D are in sorted order here; its earlier
/// prototype kept them as written (`PROTOTYPE_ORDER`), and `decompress` can read either.
static OPTIMISATIONS: &[(u8, &[&str])] = &[
    (0x0A, &["01", "22"]),
    (0x0B, &["01", "10"]),
    (0x0C, &["01", "21"]),
    (0x0D, &["01", "17"]),
    (0x0E, &["01", "7003"]),
    (0x0F, &["01", "30"]),
    (0x1A, &["01", "10", "17", "21"]),
    (0x1B, &["01", "15"]),
    (0x1C, &["01", "11"]),
    (0x1D, &["01", "16"]),
    (0x1E, &["01", "91"]),
    (0x1F, &["01", "10", "15"]),
    (0x2A, &["01", "3100"]),
    (0x2B, &["01", "3101"]),
    (0x2C, &["01", "3102"]),
    (0x2D, &["01", "3103"]),
    (0x2E, &["01", "3104"]),
    (0x2F, &["01", "3105"]),
    (0x3A, &["01", "3200"]),
    (0x3B, &["01", "3201"]),
    (0x3C, &["01", "3202"]),
    (0x3D, &["01", "3203"]),
    (0x3E, &["01", "3204"]),
    (0x3F, &["01", "3205"]),
    (0x9A, &["8010", "8011"]),
    (0x9B, &["8017", "8019"]),
    (0x9C, &["8018", "8019"]),
    (0x9D, &["254", "414"]),
    (0xA0, &["01", "3920"]),
    (0xA1, &["01", "3921"]),
    (0xA2, &["01", "3922"]),
    (0xA3, &["01", "3923"]),
    (0xA4, &["01", "3924"]),
    (0xA5, &["01", "3925"]),
    (0xA6, &["01", "3926"]),
    (0xA7, &["01", "3927"]),
    (0xA8, &["01", "3928"]),
    (0xA9, &["01", "3929"]),
    (0xC0, &["255", "3900"]),
    (0xC1, &["255", "3901"]),
    (0xC2, &["255", "3902"]),
    (0xC3, &["255", "3903"]),
    (0xC4, &["255", "3904"]),
    (0xC5, &["255", "3905"]),
    (0xC6, &["255", "3906"]),
    (0xC7, &["255", "3907"]),
    (0xC8, &["255", "3908"]),
    (0xC9, &["255", "3909"]),
    (0xCA, &["255", "3940"]),
    (0xCB, &["255", "3941"]),
    (0xCC, &["255", "3942"]),
    (0xCD, &["255", "3943"]),
];

/// The two codes whose lists the toolkit's prototype wrote unsorted.
static PROTOTYPE_ORDER: &[(u8, &[&str])] =
    &[(0x1A, &["01", "10", "21", "17"]), (0x9D, &["414", "254"])];

fn optimisation(code: u8, prototype_order: bool) -> Option<&'static [&'static str]> {
    let find = |table: &'static [(u8, &'static [&'static str])]| {
        table.iter().find(|(c, _)| *c == code).map(|(_, ais)| *ais)
    };
    prototype_order
        .then(|| find(PROTOTYPE_ORDER))
        .flatten()
        .or_else(|| find(OPTIMISATIONS))
}

/// Whether the toolkit's value table has `ai` (AIs it lacks cannot be carried: it writes their digits and no value).
fn in_toolkit(ai: &str) -> bool {
    let Ok(n) = ai.parse::<u16>() else {
        return false;
    };
    match ai.len() {
        2 => matches!(n, 0..=2 | 10..=13 | 15..=17 | 20..=22 | 30 | 37 | 90..=99),
        3 => matches!(
            n,
            235 | 240..=243 | 250..=251 | 253..=255 | 400..=403 | 410..=417 | 420..=427 | 710..=714
        ),
        // the weights and measures 31nn-36nn with up to five decimals
        4 if (3100..=3699).contains(&n) => n % 10 <= 5,
        4 => matches!(
            n,
            3900..=3959
                | 4300..=4308
                | 4310..=4326
                | 7001..=7010
                | 7020..=7023
                | 7030..=7039
                | 7230..=7240
                | 8001..=8013
                | 8017..=8020
                | 8026
                | 8110..=8112
                | 8200
        ),
        _ => false,
    }
}

/// How one part of an AI's value is written: digits (an integer) or characters (an encoding indicator, then the
/// characters); of a fixed length or up to a maximum (then preceded by its length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub numeric: bool,
    pub fixed: bool,
    pub len: u8,
}

const fn part(numeric: bool, fixed: bool, len: u8) -> Part {
    Part {
        numeric,
        fixed,
        len,
    }
}

/// An AI's value as written: one or two parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    parts: [Part; 2],
    count: usize,
}

impl Layout {
    fn one(p: Part) -> Layout {
        Layout {
            parts: [p, p],
            count: 1,
        }
    }

    fn two(a: Part, b: Part) -> Layout {
        Layout {
            parts: [a, b],
            count: 2,
        }
    }

    pub(crate) fn parts(&self) -> &[Part] {
        &self.parts[..self.count]
    }
}

/// How the toolkit writes `entry`'s value, derived from the dictionary's components: adjacent mandatory fixed-length
/// numeric components are one fixed number (8001's five parts are N14), adjacent optional numeric ones one variable
/// number (423's four optional country codes are N..12), adjacent character components one string (7230 is X..30).
/// `None` for AIs the toolkit cannot carry.
pub(crate) fn layout(entry: &AiEntry) -> Option<Layout> {
    if !in_toolkit(entry.ai) {
        return None;
    }
    // The toolkit's errata, kept so that codes stay interchangeable; decoded values are validated afterwards.
    match entry.ai {
        // 235 is X..28: the toolkit reads three digits first.
        "235" => return Some(Layout::two(part(true, true, 3), part(false, false, 28))),
        // 8007 is X..34, 8013 X..25: the toolkit has older maxima.
        "8007" => return Some(Layout::one(part(false, false, 24))),
        "8013" => return Some(Layout::one(part(false, false, 30))),
        _ => {}
    }
    let mut parts: Vec<(Part, bool)> = Vec::with_capacity(2);
    for c in entry.components {
        let numeric = c.cset == Cset::N;
        let next = part(numeric, c.min == c.max && !c.optional, c.max);
        if let Some((last, optional)) = parts.last_mut() {
            let merge = match (numeric, last.numeric) {
                (true, true) => (last.fixed && next.fixed) || (*optional && c.optional),
                (false, false) => true,
                _ => false,
            };
            if merge {
                last.fixed &= next.fixed;
                last.len = last.len.checked_add(next.len)?;
                continue;
            }
        }
        parts.push((next, c.optional));
    }
    match parts.as_slice() {
        [(a, _)] => Some(Layout::one(*a)),
        // a value is split after the first part, which must therefore have a known length
        [(a, _), (b, _)] if a.fixed => Some(Layout::two(*a, *b)),
        _ => None,
    }
}

/// Bits of an integer of `n` decimal digits, as the toolkit computes it: ceil(n·log2(10) + 0.01) (one bit more
/// than needed where the fraction exceeds 0.99, e.g. 59 digits). In integers, with log2(10) to 16 digits; a test
/// compares it with the floating-point formula for every length up to 127.
fn value_bits(n: usize) -> usize {
    const SCALE: u128 = 1_000_000_000_000_000;
    const LOG2_10: u128 = 3_321_928_094_887_362;
    let scaled = n as u128 * LOG2_10 + SCALE / 100;
    scaled.div_ceil(SCALE) as usize
}

/// Bits of a length of at most `max`: ceil(log2(max) + 0.01), i.e. one more than floor(log2(max)).
fn length_bits(max: u8) -> usize {
    max.max(1).ilog2() as usize + 1
}

/// Encoding indicators of a character value.
const NUMERIC: u64 = 0;
const LOWER_HEX: u64 = 1;
const UPPER_HEX: u64 = 2;
const BASE64URL: u64 = 3;
const ASCII: u64 = 4;

/// Why a segment does not decode.
pub(crate) type Reason = &'static str;

/// Big-endian bit reader over a base64url segment (already checked to be base64url).
struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.text.len() * 6 - self.pos
    }

    fn bit(&mut self) -> Result<u64, Reason> {
        let b = *self.text.get(self.pos / 6).ok_or("the data ends early")?;
        let s = sextet(b).ok_or("not base64url")?;
        let bit = (s >> (5 - self.pos % 6)) & 1;
        self.pos += 1;
        Ok(u64::from(bit))
    }

    /// The next `n` (at most 64) bits as an integer.
    fn bits(&mut self, n: usize) -> Result<u64, Reason> {
        if n > self.left() {
            return Err("the data ends early");
        }
        (0..n).try_fold(0u64, |acc, _| Ok(acc << 1 | self.bit()?))
    }

    /// An integer of `width` bits as exactly `digits` decimal digits (zero-padded).
    fn decimal(&mut self, width: usize, digits: usize) -> Result<String, Reason> {
        if width > self.left() {
            return Err("the data ends early");
        }
        let mut limbs = vec![0u32; width.div_ceil(32)];
        for i in (0..width).rev() {
            if self.bit()? == 1 {
                limbs[i / 32] |= 1 << (i % 32);
            }
        }
        let text = limbs_to_decimal(limbs);
        if text.len() > digits {
            return Err("a number has more digits than its length says");
        }
        Ok(format!("{text:0>digits$}"))
    }

    /// `k` characters in encoding `enc`.
    fn chars(&mut self, enc: u64, k: usize) -> Result<String, Reason> {
        let (bits, alphabet): (usize, &[u8]) = match enc {
            NUMERIC => return self.decimal(value_bits(k), k),
            LOWER_HEX => (4, b"0123456789abcdef"),
            UPPER_HEX => (4, b"0123456789ABCDEF"),
            BASE64URL => (6, ALPHABET),
            ASCII => (7, &[]),
            _ => return Err("reserved encoding indicator"),
        };
        if k * bits > self.left() {
            return Err("the data ends early");
        }
        let mut out = String::with_capacity(k);
        for _ in 0..k {
            let v = self.bits(bits)? as u8;
            let c = match alphabet.get(usize::from(v)) {
                Some(&c) => c,
                None if (0x20..0x7f).contains(&v) => v,
                None => return Err("a control character"),
            };
            out.push(char::from(c));
        }
        Ok(out)
    }

    fn value(&mut self, entry: &AiEntry) -> Result<String, Reason> {
        let layout = layout(entry).ok_or("an AI without a compressed form")?;
        let mut value = String::new();
        for p in layout.parts() {
            let len = usize::from(p.len);
            let text = match (p.numeric, p.fixed) {
                (true, true) => self.decimal(value_bits(len), len)?,
                (true, false) => {
                    let k = self.length(p.len)?;
                    self.decimal(value_bits(k), k)?
                }
                (false, true) => {
                    let enc = self.bits(3)?;
                    self.chars(enc, len)?
                }
                (false, false) => {
                    let enc = self.bits(3)?;
                    let k = self.length(p.len)?;
                    self.chars(enc, k)?
                }
            };
            value.push_str(&text);
        }
        Ok(value)
    }

    fn length(&mut self, max: u8) -> Result<usize, Reason> {
        let k = self.bits(length_bits(max))?;
        if k > u64::from(max) {
            return Err("a value is longer than its AI allows");
        }
        Ok(k as usize)
    }

    /// An explicitly written AI whose first two digits were `prefix`.
    fn ai(&mut self, prefix: u8) -> Result<&'static AiEntry, Reason> {
        let n = ai_digits(prefix).ok_or("no AI starts with these digits")?;
        let mut digits = [b'0' + prefix / 10, b'0' + prefix % 10, 0, 0];
        for d in &mut digits[2..n] {
            let nibble = self.bits(4)? as u8;
            if nibble > 9 {
                return Err("an AI digit is not decimal");
            }
            *d = b'0' + nibble;
        }
        let ai = std::str::from_utf8(&digits[..n]).map_err(|_| "an AI digit is not decimal")?;
        format::lookup_ai(ai).ok_or("an unknown AI")
    }

    /// A non-GS1 pair; `high` holds the top 4 of the key length's 7 bits.
    fn other(&mut self, high: u64) -> Result<(String, String), Reason> {
        let k = (high << 3 | self.bits(3)?) as usize;
        if k == 0 {
            return Err("an empty parameter name");
        }
        let key = self.chars(BASE64URL, k)?;
        let enc = self.bits(3)?;
        let len = self.bits(7)? as usize;
        Ok((key, self.chars(enc, len)?))
    }
}

/// `limbs` (little-endian base 2^32) in decimal; empty for zero.
fn limbs_to_decimal(mut limbs: Vec<u32>) -> String {
    const CHUNK: u64 = 1_000_000_000;
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let cur = rem << 32 | u64::from(*limb);
            // cur < CHUNK << 32, so the quotient fits in 32 bits
            *limb = (cur / CHUNK) as u32;
            rem = cur % CHUNK;
        }
        chunks.push(rem);
    }
    let mut out = String::new();
    for (i, c) in chunks.iter().rev().enumerate() {
        let _ = if i == 0 {
            write!(out, "{c}")
        } else {
            write!(out, "{c:09}")
        };
    }
    out
}

/// A decoded segment: element strings and other pairs, in stream order.
#[derive(Debug, Default)]
pub(crate) struct Decompressed {
    pub ais: Vec<(&'static AiEntry, String)>,
    pub others: Vec<(String, String)>,
    /// An optimisation code whose AI order differs between the toolkit's copies (1A, 9D) was read.
    pub ambiguous: bool,
}

/// Decodes a compressed segment. `prototype_order` reads 1A and 9D in the toolkit prototype's order.
pub(crate) fn decompress(seg: &str, prototype_order: bool) -> Result<Decompressed, Reason> {
    if !looks_compressed(seg) {
        return Err("not a base64url segment");
    }
    let mut r = Reader {
        text: seg.as_bytes(),
        pos: 0,
    };
    let mut out = Decompressed::default();
    while r.left() > 8 {
        let h1 = r.bits(4)? as u8;
        let h2 = r.bits(4)? as u8;
        if h1 <= 9 && h2 <= 9 {
            let entry = r.ai(h1 * 10 + h2)?;
            let value = r.value(entry)?;
            out.push(entry, value)?;
        } else if h1 == 0xF {
            let pair = r.other(u64::from(h2))?;
            out.others.push(pair);
        } else {
            let code = h1 << 4 | h2;
            let ais =
                optimisation(code, prototype_order).ok_or("an undefined optimisation code")?;
            out.ambiguous |= PROTOTYPE_ORDER.iter().any(|(c, _)| *c == code);
            for ai in ais {
                let entry = format::lookup_ai(ai).ok_or("an unknown AI")?;
                let value = r.value(entry)?;
                out.push(entry, value)?;
            }
        }
    }
    if r.bits(r.left())? != 0 {
        return Err("the padding bits are not zero");
    }
    if out.ais.is_empty() {
        return Err("no GS1 element strings");
    }
    Ok(out)
}

impl Decompressed {
    fn push(&mut self, entry: &'static AiEntry, value: String) -> Result<(), Reason> {
        if self
            .ais
            .iter()
            .any(|(e, _)| format::same_ai(e.ai, entry.ai))
        {
            return Err("an AI appears twice");
        }
        self.ais.push((entry, value));
        Ok(())
    }

    /// The uncompressed URI's path (primary key, then its qualifiers in the dictionary's order) and query (the other
    /// AIs in stream order, then the other pairs), values percent-encoded; `None` without exactly one primary key.
    pub(crate) fn uncompressed(&self) -> Option<(String, String)> {
        let mut primaries = self.ais.iter().filter(|(e, _)| e.role == Role::Primary);
        let (primary, value) = primaries.next()?;
        if primaries.next().is_some() {
            return None;
        }
        let find = |ai: &str| self.ais.iter().find(|(e, _)| format::same_ai(e.ai, ai));
        let spec = &KEYS[format::key_index(primary.ai)?];
        let count = |seq: &[&str]| seq.iter().filter(|ai| find(ai).is_some()).count();
        let seq = spec
            .alternatives
            .iter()
            .copied()
            .reduce(|best, seq| if count(seq) > count(best) { seq } else { best })
            .unwrap_or(&[]);
        let mut path = String::new();
        push_pair(&mut path, "/", primary.ai, value);
        for (e, v) in seq.iter().filter_map(|ai| find(ai)) {
            push_pair(&mut path, "/", e.ai, v);
        }
        let mut query = String::new();
        let in_path = |e: &AiEntry| e.ai == primary.ai || seq.contains(&e.ai);
        for (e, v) in self.ais.iter().filter(|(e, _)| !in_path(e)) {
            push_pair(&mut query, "=", e.ai, v);
        }
        for (k, v) in &self.others {
            push_pair(&mut query, "=", k, v);
        }
        Some((path, query))
    }
}

/// Appends `name{sep}{value}`, after a separator (`/` or `&`) when `out` is not empty.
fn push_pair(out: &mut String, sep: &str, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(if sep == "/" { '/' } else { '&' });
    }
    percent::encode_into(out, name);
    out.push_str(sep);
    percent::encode_into(out, value);
}

/// Bits being written.
#[derive(Default)]
struct Writer {
    bits: Vec<bool>,
}

impl Writer {
    fn push(&mut self, v: u64, n: usize) {
        self.bits.extend((0..n).rev().map(|i| (v >> i) & 1 == 1));
    }

    /// `digits` (decimal) as an integer of `width` bits; `None` if it does not fit or is not decimal.
    fn decimal(&mut self, digits: &str, width: usize) -> Option<()> {
        let mut limbs: Vec<u32> = Vec::new();
        for b in digits.bytes() {
            let mut carry = u64::from(b.checked_sub(b'0').filter(|d| *d <= 9)?);
            for limb in &mut limbs {
                let v = u64::from(*limb) * 10 + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                limbs.push(carry as u32);
            }
        }
        let bit = |i: usize| limbs.get(i / 32).is_some_and(|l| (l >> (i % 32)) & 1 == 1);
        if (width..limbs.len() * 32).any(bit) {
            return None;
        }
        self.bits.extend((0..width).rev().map(bit));
        Some(())
    }

    /// A character value: encoding indicator, then (for variable parts) the length in `length` bits, then the
    /// characters.
    fn chars(&mut self, value: &str, length: Option<usize>) -> Option<()> {
        let enc = encoding_of(value);
        self.push(enc, 3);
        if let Some(bits) = length {
            self.push(value.len() as u64, bits);
        }
        if enc == NUMERIC {
            return self.decimal(value, value_bits(value.len()));
        }
        for b in value.bytes() {
            let (v, n) = match enc {
                LOWER_HEX | UPPER_HEX => (char::from(b).to_digit(16)?.into(), 4),
                BASE64URL => (sextet(b)?.into(), 6),
                _ if (0x20..0x7f).contains(&b) => (b.into(), 7),
                _ => return None,
            };
            self.push(v, n);
        }
        Some(())
    }

    fn value(&mut self, entry: &AiEntry, value: &str) -> Option<()> {
        let layout = layout(entry)?;
        let mut rest = value;
        for (i, p) in layout.parts().iter().enumerate() {
            let len = usize::from(p.len);
            let last = i + 1 == layout.parts().len();
            let text = if last {
                std::mem::take(&mut rest)
            } else {
                let (head, tail) = (rest.get(..len)?, rest.get(len..)?);
                rest = tail;
                head
            };
            if (p.fixed && text.len() != len) || text.len() > len {
                return None;
            }
            let length = (!p.fixed).then(|| length_bits(p.len));
            if p.numeric {
                if let Some(bits) = length {
                    self.push(text.len() as u64, bits);
                }
                self.decimal(text, value_bits(text.len()))?;
            } else {
                self.chars(text, length)?;
            }
        }
        Some(())
    }

    fn finish(mut self) -> String {
        while self.bits.len() % 6 != 0 {
            self.bits.push(false);
        }
        self.bits
            .chunks(6)
            .map(|c| {
                let v = c.iter().fold(0, |acc, &b| acc << 1 | usize::from(b));
                char::from(ALPHABET[v])
            })
            .collect()
    }
}

/// The encoding the toolkit picks for a character value, except that digits with a leading zero are not written as
/// a number (the toolkit's decoder would drop the zero): the most compact one the whole value fits.
fn encoding_of(value: &str) -> u64 {
    let all = |f: fn(&u8) -> bool| !value.is_empty() && value.as_bytes().iter().all(f);
    if all(u8::is_ascii_digit) && (value.len() == 1 || !value.starts_with('0')) {
        NUMERIC
    } else if all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)) {
        UPPER_HEX
    } else if all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) {
        LOWER_HEX
    } else if all(|b| sextet(*b).is_some()) {
        BASE64URL
    } else {
        ASCII
    }
}

/// Concatenated AI digits of an optimisation's list: the toolkit prefers the longest.
fn weight(ais: &[&str]) -> usize {
    ais.iter().map(|ai| ai.len()).sum()
}

/// Compresses element strings (any order) and other pairs into one segment, as the toolkit does with its
/// optimisations on; `None` if some AI or value has no compressed form.
pub(crate) fn compress(
    ais: &[(&'static AiEntry, &str)],
    others: &[(&str, &str)],
) -> Option<String> {
    let mut rest: Vec<(&AiEntry, &str)> = ais.to_vec();
    rest.sort_by(|a, b| a.0.ai.cmp(b.0.ai));
    let mut w = Writer::default();
    loop {
        let present = |ai: &&str| rest.iter().any(|(e, _)| e.ai == *ai);
        let usable = OPTIMISATIONS
            .iter()
            .filter(|(_, list)| list.iter().all(present));
        // the first of the heaviest, in table order
        let best = usable.fold(None, |best: Option<&(u8, &[&str])>, o| match best {
            Some(b) if weight(b.1) >= weight(o.1) => Some(b),
            _ => Some(o),
        });
        let Some((code, list)) = best else { break };
        w.push(u64::from(*code), 8);
        for ai in list.iter() {
            let i = rest.iter().position(|(e, _)| e.ai == *ai)?;
            let (entry, value) = rest.remove(i);
            w.value(entry, value)?;
        }
    }
    for (entry, value) in rest {
        let digits = entry.ai.as_bytes();
        let prefix = (digits.first()? - b'0') * 10 + (digits.get(1)? - b'0');
        if ai_digits(prefix) != Some(digits.len()) {
            return None;
        }
        for d in digits {
            w.push(u64::from(d - b'0'), 4);
        }
        w.value(entry, value)?;
    }
    for (key, value) in others {
        if key.is_empty() || key.len() > 127 || value.len() > 127 {
            return None;
        }
        w.push(0xF, 4);
        w.push(key.len() as u64, 7);
        for b in key.bytes() {
            w.push(sextet(b)?.into(), 6);
        }
        w.chars(value, Some(7))?;
    }
    Some(w.finish())
}

#[cfg(test)]
#[path = "compression_tests.rs"]
mod tests;

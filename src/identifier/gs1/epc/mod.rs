//! Compressed GS1 Digital Link URIs carrying EPC binary strings (GS1 "Digital Link URI Compression Technical
//! Standard for EPC binary strings" 1.0): `eh` + lower-case hex or `ex` + unpadded base64url of the bits of an EPC
//! binary string of the GS1 EPC Tag Data Standard (TDS 2.3), which begins with its 8-bit header.
//!
//! Every TDS scheme with a Digital Link equivalent is decoded (`schemes::SCHEMES`): the GCP-partitioned schemes of
//! TDS 1.x (`classic`), and the "+" schemes of TDS 2.0 and "++" schemes of TDS 2.3 with their +AIDC data
//! (`plus`). The result is the element string of a Digital Link: primary key, key qualifiers in path order, and
//! data attributes; the caller validates it as any other Digital Link.

mod bits;
mod classic;
mod fields;
mod plus;
mod schemes;
mod table_f;

use super::charset;
use super::error::{Gs1Error, excerpt};
use bits::Bits;
use schemes::Layout;

/// An AI and its decoded value.
pub(crate) type Element = (&'static str, String);

/// Why a binary string does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fail {
    Invalid(&'static str),
}

/// An uncompressed element string.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// The TDS scheme, e.g. `SGTIN-96`, `DSGTIN+`.
    pub scheme: &'static str,
    /// Its header.
    pub header: u8,
    /// A TDS 1.x scheme's filter value and company prefix length (digits), from its filter and partition bits; the
    /// "+" schemes carry neither split.
    pub form: Option<(u8, usize)>,
    pub primary: Element,
    /// Key qualifiers of the primary key, in Digital Link path order.
    pub qualifiers: Vec<Element>,
    /// Everything else (DSGTIN+ dates, +AIDC data): query-string data attributes.
    pub attributes: Vec<Element>,
}

/// The shortest EPC binary string of a real key: a GIAI+ of a 4-digit GIAI (the shortest value (8004)'s `gcppos1`
/// linter allows): header 8 + +AIDC toggle 1 + filter 3 + four digit nibbles 16 + terminator nibble 4 = 32 bits.
/// SSCC+, GSRN+ and GSRNP+ have 84 bits, the schemes of TDS 1.x at least 96. `could_be_compressed` reserves `eh`/`ex`
/// names from this length when they begin with the header of a scheme decoded here.
pub(crate) const MIN_BITS: usize = 32;

/// From this length `could_be_compressed` reserves `eh`/`ex` names whatever their header (the TDS 1.x length).
pub(crate) const CLASSIC_BITS: usize = 96;

/// Whether `seg` (`eh`/`ex` as written) could be an EPC binary string of a key: its shape, and the header of a
/// scheme decoded here with at least that scheme's bits (`MIN_BITS` for the variable-length ones); from
/// `CLASSIC_BITS`, any header.
pub(crate) fn could_be_epc(seg: &str) -> bool {
    if !looks_compressed(seg) {
        return false;
    }
    let (kind, body) = seg.split_at(2);
    let (bits, mut reader) = if kind == "eh" {
        (body.len() * 4, Bits::hex(body.as_bytes()))
    } else {
        (body.len() * 6, Bits::base64(body.as_bytes()))
    };
    // 8 bits: < 256
    // at least as long as the scheme its header names (the "+" schemes vary: at least `MIN_BITS`)
    let mut long_enough_for_its_header = || {
        reader
            .read(8)
            .ok()
            .and_then(|h| schemes::by_header(h as u8))
            .is_some_and(|scheme| bits >= scheme.bits.unwrap_or(MIN_BITS))
    };
    bits >= CLASSIC_BITS || (bits >= MIN_BITS && long_enough_for_its_header())
}

/// The longest segment decoded, in characters after `eh`/`ex`. TDS puts a practical limit of 496 bits on an EPC
/// with its +AIDC data (the PC bits count at most 31 words); longer strings are refused before decoding.
const MAX_CHARS: usize = 496 / 4;

/// Whether `seg` has the shape of a compressed EPC binary string. The prefix is case-sensitive: `EH...` is not
/// compressed.
pub(crate) fn looks_compressed(seg: &str) -> bool {
    let (body, class) = if let Some(hex) = seg.strip_prefix("eh") {
        (hex, charset::LOWER_HEX)
    } else if let Some(b64) = seg.strip_prefix("ex") {
        // base64url without padding: CSET 64 less '='
        (b64, charset::CSET64)
    } else {
        return false;
    };
    !body.is_empty() && charset::all_in(body.as_bytes(), class)
}

fn invalid(seg: &str, reason: &'static str) -> Gs1Error {
    Gs1Error::InvalidCompressed {
        segment: excerpt(seg),
        reason,
    }
}

/// Digital Link path order of the key qualifiers an EPC can carry, per primary key.
fn qualifier_order(primary: &str) -> &'static [&'static str] {
    match primary {
        "01" | "8006" => &["22", "10", "21"],
        "414" => &["254"],
        "8010" => &["8011"],
        _ => &[],
    }
}

/// Splits decoded elements into primary key, qualifiers (in path order) and attributes; an AI twice is invalid.
fn split(scheme: &'static str, elements: Vec<Element>) -> Result<Decoded, Fail> {
    // a GLN extension of no characters (SGLN+) is a GLN without (254), as SGLN-96's extension 0
    let elements: Vec<Element> = elements
        .into_iter()
        .filter(|(ai, value)| !(*ai == "254" && value.is_empty()))
        .collect();
    for (i, (ai, _)) in elements.iter().enumerate() {
        if elements[..i].iter().any(|(seen, _)| seen == ai) {
            return Err(Fail::Invalid("an AI appears twice"));
        }
    }
    let mut elements = elements.into_iter();
    let primary = elements.next().ok_or(Fail::Invalid("no primary key"))?;
    let order = qualifier_order(primary.0);
    let (mut qualifiers, attributes): (Vec<Element>, Vec<Element>) =
        elements.partition(|(ai, _)| order.contains(ai));
    qualifiers.sort_by_key(|(ai, _)| order.iter().position(|q| q == ai));
    Ok(Decoded {
        scheme,
        header: 0,
        form: None,
        primary,
        qualifiers,
        attributes,
    })
}

/// Decodes an `eh`/`ex` segment into its uncompressed element string.
pub(crate) fn decompress(seg: &str) -> Result<Decoded, Gs1Error> {
    if !looks_compressed(seg) {
        return Err(invalid(seg, "not an eh/ex EPC binary string"));
    }
    let (kind, body) = seg.split_at(2);
    if body.len() > MAX_CHARS {
        return Err(invalid(seg, "longer than any EPC binary string"));
    }
    let mut bits = if kind == "eh" {
        Bits::hex(body.as_bytes())
    } else {
        Bits::base64(body.as_bytes())
    };
    let Ok(header) = bits.read(8) else {
        return Err(invalid(seg, "shorter than an EPC header"));
    };
    // 8 bits: < 256
    let header = header as u8;
    let scheme = schemes::by_header(header).ok_or_else(|| Gs1Error::UnsupportedEpcHeader {
        segment: excerpt(seg),
        header,
    })?;
    let form = match scheme.layout {
        Layout::Classic(_) => classic_form(kind, body),
        Layout::Plus { .. } => None,
    };
    let decoded = decode(&mut bits, scheme).and_then(|elements| split(scheme.name, elements));
    decoded
        .map(|d| Decoded { header, form, ..d })
        .map_err(|Fail::Invalid(reason)| invalid(seg, reason))
}

/// The filter value and company prefix digits of a classic scheme: the 3 + 3 bits after its header.
fn classic_form(kind: &str, body: &str) -> Option<(u8, usize)> {
    let mut bits = if kind == "eh" {
        Bits::hex(body.as_bytes())
    } else {
        Bits::base64(body.as_bytes())
    };
    bits.read(8).ok()?;
    // 3 bits each: < 8
    let filter = bits.read(3).ok()? as u8;
    let partition = bits.read(3).ok()? as usize;
    schemes::PARTITIONS
        .get(partition)
        .map(|&(_, digits)| (filter, digits))
}

fn decode(bits: &mut Bits<'_>, scheme: &'static schemes::Scheme) -> Result<Vec<Element>, Fail> {
    if let Some(n) = scheme.bits {
        // the header is read
        if bits.remaining() + 8 < n {
            return Err(Fail::Invalid("shorter than its scheme's bit length"));
        }
    }
    match scheme.layout {
        Layout::Classic(family) => {
            let elements = classic::decode(bits, family)?;
            if !bits.rest_is_zero() {
                return Err(Fail::Invalid("non-zero bits after the end of the EPC"));
            }
            Ok(elements)
        }
        Layout::Plus {
            dated,
            hostname,
            ais,
        } => plus::decode(bits, dated, hostname, ais),
    }
}

#[cfg(test)]
mod tests;

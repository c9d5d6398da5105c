//! Compressed GS1 Digital Link URIs carrying EPC binary strings (GS1 "Digital
//! Link URI Compression Technical Standard for EPC binary strings" 1.0):
//! `eh` + lowercase hex or `ex` + unpadded base64url of the EPC bytes.
//!
//! Supported 96-bit schemes (EPC Tag Data Standard): SGTIN-96 (0x30),
//! SSCC-96 (0x31), SGLN-96 (0x32), GRAI-96 (0x33), GIAI-96 (0x34).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::charset;
use super::check_digit::mod10_digit;
use super::error::{Gs1Error, excerpt};

/// Longest binary string we accept (bytes). The largest EPC schemes are
/// 202 bits; anything longer cannot be an EPC and is refused before decoding.
const MAX_BYTES: usize = 32;

/// Company-prefix bit widths by partition value 0..=6 (shared by all schemes
/// handled here); the prefix has `12 - partition` digits.
const CP_BITS: [u32; 7] = [40, 37, 34, 30, 27, 24, 20];

/// An uncompressed element string: primary key plus an optional qualifier.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub primary: (&'static str, Digits),
    pub qualifier: Option<(&'static str, Digits)>,
}

/// Room for the longest value built here (GIAI-96: a 12-digit company prefix and a 20-digit u64) and then some.
const MAX_DIGITS: usize = 40;

/// A decimal string built on the stack: decoding allocates nothing, and the key copies the digits once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digits {
    buf: [u8; MAX_DIGITS],
    len: usize,
}

impl Digits {
    const EMPTY: Digits = Digits {
        buf: [0; MAX_DIGITS],
        len: 0,
    };

    pub(crate) fn as_str(&self) -> &str {
        // only ASCII digits are ever written
        std::str::from_utf8(self.bytes()).unwrap_or_default()
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Appends `v` as exactly `width` digits, zero-padded; `None` if it does not fit.
    fn push_padded(&mut self, mut v: u64, width: usize) -> Option<()> {
        let end = self.len + width;
        for slot in self.buf.get_mut(self.len..end)?.iter_mut().rev() {
            // v % 10 < 10, so the cast is lossless
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
        if v != 0 {
            return None;
        }
        self.len = end;
        Some(())
    }

    /// Appends `v` in decimal, unpadded.
    fn push_int(&mut self, v: u64) -> Option<()> {
        let width = v.checked_ilog10().map_or(1, |log| log + 1);
        // a u64 has at most 20 decimal digits
        self.push_padded(v, width as usize)
    }

    fn push_digits(&mut self, digits: &[u8]) -> Option<()> {
        let end = self.len + digits.len();
        self.buf.get_mut(self.len..end)?.copy_from_slice(digits);
        self.len = end;
        Some(())
    }

    fn push_check_digit(&mut self) -> Option<()> {
        let check = mod10_digit(self.bytes())?;
        self.push_digits(&[check])
    }
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The shortest EPC binary string decompressed (the 96-bit schemes).
pub(crate) const MIN_BITS: usize = 96;

/// Whether `seg` has the shape of a compressed EPC binary string. The prefix
/// is case-sensitive: `EH...` is not compressed.
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

fn hex_nibble(b: u8) -> u8 {
    // only called on [0-9a-f], checked by `looks_compressed`
    if b.is_ascii_digit() {
        b - b'0'
    } else {
        b - b'a' + 10
    }
}

/// Decodes the segment's bytes into `buf`, returning the byte count.
fn to_bytes(seg: &str, buf: &mut [u8; MAX_BYTES]) -> Result<usize, Gs1Error> {
    if !looks_compressed(seg) {
        return Err(invalid(seg, "not an eh/ex EPC binary string"));
    }
    let (kind, body) = seg.split_at(2);
    if kind == "eh" {
        let hex = body.as_bytes();
        if hex.len() % 2 != 0 || hex.len() / 2 > MAX_BYTES {
            return Err(invalid(seg, "hex string has an odd or excessive length"));
        }
        for (out, pair) in buf.iter_mut().zip(hex.chunks_exact(2)) {
            *out = hex_nibble(pair[0]) << 4 | hex_nibble(pair[1]);
        }
        return Ok(hex.len() / 2);
    }
    if body.len() > MAX_BYTES * 4 / 3 + 1 {
        return Err(invalid(seg, "base64url string is too long"));
    }
    URL_SAFE_NO_PAD
        .decode_slice(body, buf)
        .map_err(|_| invalid(seg, "invalid base64url"))
}

/// Big-endian bit reader over a 96-bit EPC.
struct Bits {
    word: u128,
    left: u32,
}

impl Bits {
    fn new(bytes: &[u8; 12]) -> Self {
        let mut padded = [0u8; 16];
        padded[4..].copy_from_slice(bytes);
        Self {
            word: u128::from_be_bytes(padded),
            left: 96,
        }
    }

    /// Takes the next `n` (<= 64) bits.
    fn take(&mut self, n: u32) -> u64 {
        self.left -= n;
        let mask = (1u128 << n) - 1;
        // the mask keeps at most 64 bits, so the value fits in u64
        ((self.word >> self.left) & mask) as u64
    }
}

/// `v` as exactly `digits` digits, or None if it does not fit (0 digits hold only 0: SGLN partition 0 has a 1-bit
/// location reference with no digits).
fn padded(v: u64, digits: u32) -> Option<Digits> {
    let mut out = Digits::EMPTY;
    out.push_padded(v, digits as usize)?;
    Some(out)
}

/// `v` in decimal, unpadded.
fn decimal(v: u64) -> Digits {
    let mut out = Digits::EMPTY;
    // at most 20 digits: always fits
    let _ = out.push_int(v);
    out
}

/// Concatenates digit strings and appends the GS1 check digit. The parts are far shorter than `MAX_DIGITS`.
fn with_check_digit(parts: &[&[u8]]) -> Digits {
    let mut out = Digits::EMPTY;
    for part in parts {
        let _ = out.push_digits(part);
    }
    let _ = out.push_check_digit();
    out
}

/// Filter and partition; returns (company prefix digits, reference bits).
fn partition(bits: &mut Bits, seg: &str, after_header: u32) -> Result<(Digits, u32), Gs1Error> {
    bits.take(3); // filter value: irrelevant for the identifier
    let p = bits.take(3) as usize; // 3 bits: < 8
    let Some(&cp_bits) = CP_BITS.get(p) else {
        return Err(invalid(seg, "invalid partition value 7"));
    };
    let cp_digits = 12 - p as u32;
    let cp = padded(bits.take(cp_bits), cp_digits)
        .ok_or_else(|| invalid(seg, "company prefix out of range"))?;
    Ok((cp, after_header - 6 - cp_bits))
}

/// Splits a reference that carries a leading indicator/extension digit.
fn lead_digit(cp: &Digits, reference: &Digits) -> Digits {
    let (lead, rest) = reference.bytes().split_at(1);
    with_check_digit(&[lead, cp.bytes(), rest])
}

fn ref_digits(bits: &mut Bits, seg: &str, n: u32, digits: u32) -> Result<Digits, Gs1Error> {
    padded(bits.take(n), digits).ok_or_else(|| invalid(seg, "reference out of range"))
}

fn sgtin(bits: &mut Bits, seg: &str) -> Result<Decoded, Gs1Error> {
    let (cp, ref_bits) = partition(bits, seg, 88 - 38)?;
    let item = ref_digits(bits, seg, ref_bits, 13 - cp.len() as u32)?;
    let serial = decimal(bits.take(38));
    Ok(Decoded {
        primary: ("01", lead_digit(&cp, &item)),
        qualifier: Some(("21", serial)),
    })
}

fn sscc(bits: &mut Bits, seg: &str) -> Result<Decoded, Gs1Error> {
    let (cp, ref_bits) = partition(bits, seg, 88 - 24)?;
    let serial_ref = ref_digits(bits, seg, ref_bits, 17 - cp.len() as u32)?;
    // the remaining 24 bits are reserved
    Ok(Decoded {
        primary: ("00", lead_digit(&cp, &serial_ref)),
        qualifier: None,
    })
}

fn sgln(bits: &mut Bits, seg: &str) -> Result<Decoded, Gs1Error> {
    let (cp, ref_bits) = partition(bits, seg, 88 - 41)?;
    let loc = ref_digits(bits, seg, ref_bits, 12 - cp.len() as u32)?;
    let ext = bits.take(41);
    // TDS: extension value 0 means "no GLN extension" (AI 254 absent)
    let qualifier = (ext != 0).then(|| ("254", decimal(ext)));
    let gln = with_check_digit(&[cp.bytes(), loc.bytes()]);
    Ok(Decoded {
        primary: ("414", gln),
        qualifier,
    })
}

fn grai(bits: &mut Bits, seg: &str) -> Result<Decoded, Gs1Error> {
    let (cp, ref_bits) = partition(bits, seg, 88 - 38)?;
    let asset_type = ref_digits(bits, seg, ref_bits, 12 - cp.len() as u32)?;
    let serial = bits.take(38);
    let mut grai = with_check_digit(&[b"0", cp.bytes(), asset_type.bytes()]);
    // 14 digits and at most 12 more (38 bits)
    let _ = grai.push_int(serial);
    Ok(Decoded {
        primary: ("8003", grai),
        qualifier: None,
    })
}

fn giai(bits: &mut Bits, seg: &str) -> Result<Decoded, Gs1Error> {
    let (mut giai, ref_bits) = partition(bits, seg, 88)?;
    // GIAI-96 asset references are integers printed without padding; at most 12 + 20 digits
    let _ = giai.push_int(bits.take(ref_bits));
    Ok(Decoded {
        primary: ("8004", giai),
        qualifier: None,
    })
}

/// Decodes an `eh`/`ex` segment into its uncompressed element string.
pub(crate) fn decompress(seg: &str) -> Result<Decoded, Gs1Error> {
    let mut buf = [0u8; MAX_BYTES];
    let n = to_bytes(seg, &mut buf)?;
    let header = match buf[..n].first() {
        Some(&h) => h,
        None => return Err(invalid(seg, "empty binary string")),
    };
    if !(0x30..=0x34).contains(&header) {
        return Err(Gs1Error::UnsupportedEpcHeader {
            segment: excerpt(seg),
            header,
        });
    }
    let Ok(epc) = <&[u8; 12]>::try_from(&buf[..n]) else {
        return Err(invalid(seg, "a 96-bit EPC must be exactly 12 bytes"));
    };
    let mut bits = Bits::new(epc);
    bits.take(8);
    match header {
        0x30 => sgtin(&mut bits, seg),
        0x31 => sscc(&mut bits, seg),
        0x32 => sgln(&mut bits, seg),
        0x33 => grai(&mut bits, seg),
        _ => giai(&mut bits, seg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(ai: &'static str, v: &str) -> (&'static str, Digits) {
        let mut digits = Digits::EMPTY;
        digits.push_digits(v.as_bytes()).expect("short");
        (ai, digits)
    }

    #[test]
    fn spec_sgtin_vectors() {
        let want = Decoded {
            primary: pair("01", "09528765123457"),
            qualifier: Some(pair("21", "123456789123")),
        };
        assert_eq!(decompress("eh30164596f40c0e5cbe991a83"), Ok(want));
        let want = Decoded {
            primary: pair("01", "09528765123457"),
            qualifier: Some(pair("21", "123456789123")),
        };
        assert_eq!(decompress("exMBZFlvQMDly-mRqD"), Ok(want));
    }

    #[test]
    fn tds_examples() {
        // EPC Tag Data Standard worked examples
        let sgtin = decompress("eh3074257bf7194e4000001a85");
        assert_eq!(
            sgtin,
            Ok(Decoded {
                primary: pair("01", "80614141123458"),
                qualifier: Some(pair("21", "6789")),
            })
        );
        let sscc = decompress("eh3174257bf4499602d2000000");
        assert_eq!(
            sscc,
            Ok(Decoded {
                primary: pair("00", "106141412345678908"),
                qualifier: None,
            })
        );
    }

    /// Independent test-side encoder: packs (value, width) fields MSB-first into hex.
    fn pack(fields: &[(u64, u32)]) -> String {
        let mut bits = String::new();
        for &(v, w) in fields {
            bits.push_str(&format!("{v:0w$b}", w = w as usize));
        }
        assert_eq!(bits.len(), 96);
        let hex: String = (0..12)
            .map(|i| {
                format!(
                    "{:02x}",
                    u8::from_str_radix(&bits[i * 8..i * 8 + 8], 2).unwrap()
                )
            })
            .collect();
        format!("eh{hex}")
    }

    #[test]
    fn other_schemes() {
        // partition 5: 7-digit company prefix 0614141 in 24 bits (EPC TDS tables)
        let sgln = pack(&[
            (0x32, 8),
            (3, 3),
            (5, 3),
            (614141, 24),
            (12345, 17),
            (5678, 41),
        ]);
        let want = Decoded {
            primary: pair("414", "0614141123452"),
            qualifier: Some(pair("254", "5678")),
        };
        assert_eq!(decompress(&sgln), Ok(want));
        let sgln0 = pack(&[
            (0x32, 8),
            (3, 3),
            (5, 3),
            (614141, 24),
            (12345, 17),
            (0, 41),
        ]);
        assert_eq!(decompress(&sgln0).map(|d| d.qualifier), Ok(None));
        // partition 0: 12-digit prefix, 1-bit location reference with no digits
        let sgln_p0 = pack(&[
            (0x32, 8),
            (0, 3),
            (0, 3),
            (61414112345, 40),
            (0, 1),
            (0, 41),
        ]);
        assert_eq!(
            decompress(&sgln_p0).map(|d| d.primary),
            Ok(pair("414", "0614141123452"))
        );
        let grai = pack(&[
            (0x33, 8),
            (0, 3),
            (5, 3),
            (614141, 24),
            (12345, 20),
            (400, 38),
        ]);
        assert_eq!(
            decompress(&grai).map(|d| d.primary),
            Ok(pair("8003", "00614141123452400"))
        );
        let giai = pack(&[(0x34, 8), (0, 3), (5, 3), (614141, 24), (12345400, 58)]);
        assert_eq!(
            decompress(&giai).map(|d| d.primary),
            Ok(pair("8004", "061414112345400"))
        );
        // company prefix value too large for its digit count
        let bad = pack(&[
            (0x30, 8),
            (0, 3),
            (6, 3),
            (999_999 + 1, 20),
            (0, 24),
            (1, 38),
        ]);
        assert!(matches!(
            decompress(&bad),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
    }

    #[test]
    fn rejects_bad_strings() {
        assert!(!looks_compressed("EH30164596F40C0E5CBE991A83"));
        assert!(!looks_compressed("eh30164596F40C"));
        assert!(!looks_compressed("eh"));
        assert!(matches!(
            decompress("eh99164596f40c0e5cbe991a83"),
            Err(Gs1Error::UnsupportedEpcHeader { header: 0x99, .. })
        ));
        assert!(matches!(
            decompress("eh3016"),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
        assert!(matches!(
            decompress("eh301"),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
        // partition 7
        assert!(matches!(
            decompress("eh301c4596f40c0e5cbe991a83"),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
        assert!(matches!(
            decompress("ex!!"),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
        let long = format!("eh{}", "30".repeat(200));
        assert!(matches!(
            decompress(&long),
            Err(Gs1Error::InvalidCompressed { .. })
        ));
    }
}

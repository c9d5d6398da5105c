//! Strict single-pass percent-decoding and canonical percent-encoding.

use std::borrow::Cow;

use super::charset;
use super::error::{Gs1Error, excerpt};

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes exactly once. Borrows when there is nothing to decode.
/// A malformed escape, a decoded NUL or non-UTF-8 output is an error.
pub(crate) fn decode(segment: &str) -> Result<Cow<'_, str>, Gs1Error> {
    if !charset::any_in(segment.as_bytes(), charset::ESCAPE) {
        return Ok(Cow::Borrowed(segment));
    }
    // decoding never lengthens
    let mut out = vec![0; segment.len()];
    let len = decode_bytes(segment, &mut out)?;
    out.truncate(len);
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| Gs1Error::InvalidUtf8(excerpt(segment)))
}

/// `decode` into `out` (exactly as long as `segment`: decoding never lengthens) instead of a new allocation.
pub(crate) fn decode_into<'b>(segment: &str, out: &'b mut [u8]) -> Result<&'b str, Gs1Error> {
    let len = decode_bytes(segment, out)?;
    std::str::from_utf8(&out[..len]).map_err(|_| Gs1Error::InvalidUtf8(excerpt(segment)))
}

/// Writes the decoded bytes of `segment` to `out` (exactly as long), returning how many; malformed escapes and NUL
/// are refused, in that order.
fn decode_bytes(segment: &str, out: &mut [u8]) -> Result<usize, Gs1Error> {
    let bytes = segment.as_bytes();
    let out = &mut out[..bytes.len()];
    let mut i = 0;
    let mut len = 0;
    // len <= i < bytes.len() == out.len()
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(Gs1Error::InvalidPercentEncoding(excerpt(segment)));
            };
            out[len] = hi << 4 | lo;
            i += 3;
        } else {
            out[len] = b;
            i += 1;
        }
        len += 1;
    }
    if out[..len].contains(&0) {
        return Err(Gs1Error::NulCharacter(excerpt(segment)));
    }
    Ok(len)
}

/// Appends `value` to `out`, encoding every byte outside RFC 3986 unreserved as `%XX`, so canonical values can never
/// be confused with path, query or fragment delimiters. Upper-case hex, as the `percent-encoding` crate writes (the
/// tests check the two agree); hand-written because the crate's chunked iterator was the largest single cost of
/// building a key. (Dot-segment values never get here: key building refuses them.)
pub(crate) fn encode_into(out: &mut String, value: &str) {
    // most values (digits, plain lots and serials) need no escape: copy them whole
    if charset::all_in(value.as_bytes(), charset::UNRESERVED) {
        out.push_str(value);
        return;
    }
    for &b in value.as_bytes() {
        if charset::of(b) & charset::UNRESERVED != 0 {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
            out.push(char::from(HEX_DIGITS[usize::from(b & 15)]));
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// Length of `value` once encoded (to size buffers exactly).
pub(crate) fn encoded_len(value: &str) -> usize {
    value.len() + 2 * charset::count_outside(value.as_bytes(), charset::UNRESERVED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

    #[test]
    fn decodes_once() {
        assert_eq!(decode("A%2FB").as_deref(), Ok("A/B"));
        assert_eq!(decode("A%2fB").as_deref(), Ok("A/B"));
        assert_eq!(decode("%41").as_deref(), Ok("A"));
        // %2541 is "%41" after one decode, not "A"
        assert_eq!(decode("%2541").as_deref(), Ok("%41"));
        assert!(matches!(decode("plain"), Ok(Cow::Borrowed("plain"))));
    }

    #[test]
    fn dot_segment_values_are_refused() {
        use crate::identifier::gs1::{Gs1Error, Gs1Key};
        for path in [
            "01/09506000134369/10/%2E%2E",
            "01/09506000134369/10/..",
            "01/09506000134369/21/%2e",
        ] {
            let err = Gs1Key::parse_key(path, &Default::default()).unwrap_err();
            assert!(
                matches!(err, Gs1Error::InvalidValue { .. }),
                "{path}: {err}"
            );
        }
        assert!(Gs1Key::parse_key("01/09506000134369/10/...", &Default::default()).is_ok());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            decode("AB%ZZ"),
            Err(Gs1Error::InvalidPercentEncoding(_))
        ));
        assert!(matches!(
            decode("%4"),
            Err(Gs1Error::InvalidPercentEncoding(_))
        ));
        assert!(matches!(
            decode("%"),
            Err(Gs1Error::InvalidPercentEncoding(_))
        ));
        assert!(matches!(decode("a%00"), Err(Gs1Error::NulCharacter(_))));
        assert!(matches!(decode("%FF%FE"), Err(Gs1Error::InvalidUtf8(_))));
    }

    /// Everything except RFC 3986 unreserved: the crate's view of what `encode_into` must escape.
    const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');

    #[test]
    fn encoding_matches_the_percent_encoding_crate() {
        let every_char: String = (1..=0x7f_u8)
            .map(char::from)
            .chain(['é', '€', '😀'])
            .collect();
        for value in [
            every_char.as_str(),
            "",
            "09520123456788",
            "ABC/1",
            "a b%c",
            "ü",
        ] {
            let mut ours = String::new();
            encode_into(&mut ours, value);
            assert_eq!(ours, utf8_percent_encode(value, NOT_UNRESERVED).to_string());
            assert_eq!(encoded_len(value), ours.len());
        }
    }

    #[test]
    fn encodes_reserved() {
        let mut s = String::new();
        encode_into(&mut s, "A/B%&?#+ -._~");
        assert_eq!(s, "A%2FB%25%26%3F%23%2B%20-._~");
        assert_eq!(encoded_len("A/B%&?#+ -._~"), s.len());
    }
}

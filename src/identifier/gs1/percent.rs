//! Strict single-pass percent-decoding and canonical percent-encoding.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::{Gs1Error, excerpt};

/// Everything except RFC 3986 unreserved characters is encoded, so canonical
/// values can never be confused with path, query or fragment delimiters.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
    let bytes = segment.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == 0) {
        return Ok(Cow::Borrowed(segment));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(Gs1Error::InvalidPercentEncoding(excerpt(segment)));
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.contains(&0) {
        return Err(Gs1Error::NulCharacter(excerpt(segment)));
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| Gs1Error::InvalidUtf8(excerpt(segment)))
}

/// Appends `value` to `out`, encoding every byte outside RFC 3986 unreserved. (Dot-segment values never get here:
/// key building refuses them.)
pub(crate) fn encode_into(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, NOT_UNRESERVED));
}

/// Length of `value` once encoded (to size buffers exactly).
pub(crate) fn encoded_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| {
            let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
            if unreserved { 1 } else { 3 }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn encodes_reserved() {
        let mut s = String::new();
        encode_into(&mut s, "A/B%&?#+ -._~");
        assert_eq!(s, "A%2FB%25%26%3F%23%2B%20-._~");
        assert_eq!(encoded_len("A/B%&?#+ -._~"), s.len());
    }
}

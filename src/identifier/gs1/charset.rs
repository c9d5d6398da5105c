//! Byte classes of the GS1 character sets and of URI percent-encoding, kept in one 256-entry table built at compile
//! time: checking a byte is one load and a mask instead of a chain of range comparisons, and the parser checks
//! every byte of every request.

/// CSET N: ASCII digits.
pub(crate) const DIGIT: u8 = 1;
/// GS1 "AI encodable character set 82".
pub(crate) const CSET82: u8 = 2;
/// GS1 CSET 39.
pub(crate) const CSET39: u8 = 4;
/// CSET 64 (base64url) without its `=` padding.
pub(crate) const CSET64: u8 = 8;
/// RFC 3986 unreserved: never percent-encoded in canonical output.
pub(crate) const UNRESERVED: u8 = 16;
/// `%` and NUL: text holding one must go through `percent::decode`; anything else decodes to itself.
pub(crate) const ESCAPE: u8 = 32;
/// `/`, the path segment separator.
pub(crate) const SLASH: u8 = 64;
/// Lower-case hexadecimal digits (compressed `eh` segments).
pub(crate) const LOWER_HEX: u8 = 128;

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        // i < 256, so the cast is lossless
        table[i] = class_of(i as u8);
        i += 1;
    }
    table
}

const fn class_of(b: u8) -> u8 {
    let mut class = 0;
    if b.is_ascii_digit() {
        class |= DIGIT;
    }
    if matches!(b, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z') {
        class |= CSET82;
    }
    if matches!(b, b'#' | b'-' | b'/' | b'0'..=b'9' | b'A'..=b'Z') {
        class |= CSET39;
    }
    if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
        class |= CSET64;
    }
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
        class |= UNRESERVED;
    }
    if b == b'%' || b == 0 {
        class |= ESCAPE;
    }
    if b == b'/' {
        class |= SLASH;
    }
    if matches!(b, b'0'..=b'9' | b'a'..=b'f') {
        class |= LOWER_HEX;
    }
    class
}

/// Characters a URI may hold: RFC 3986 unreserved and reserved, and `%` (a table of its own: the byte classes
/// above fill all eight bits).
static URI_CHARS: [bool; 256] = uri_chars();

const fn uri_chars() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        // i < 256, so the cast is lossless
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'['
                    | b']'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            );
        i += 1;
    }
    table
}

/// Whether a URI may hold byte `b` literally.
pub(crate) fn is_uri_char(b: u8) -> bool {
    URI_CHARS[usize::from(b)]
}

/// The classes of one byte.
pub(crate) fn of(b: u8) -> u8 {
    CLASSES[usize::from(b)]
}

/// Whether every byte of `data` is in `class` (a single class bit); true for empty data. No early exit: inputs are
/// short, and a branch-free loop beats one that tests after every byte.
pub(crate) fn all_in(data: &[u8], class: u8) -> bool {
    data.iter().fold(class, |acc, &b| acc & of(b)) != 0
}

/// Whether any byte of `data` is in `class`.
pub(crate) fn any_in(data: &[u8], class: u8) -> bool {
    data.iter().fold(0, |acc, &b| acc | of(b)) & class != 0
}

/// How many bytes of `data` are not in `class`.
pub(crate) fn count_outside(data: &[u8], class: u8) -> usize {
    data.iter().filter(|&&b| of(b) & class == 0).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_match_the_character_set_definitions() {
        let cset82 =
            b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
        let cset39 = b"#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let cset64 = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
        let unreserved = b"-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";
        for b in 0..=255u8 {
            assert_eq!(of(b) & DIGIT != 0, b.is_ascii_digit(), "{b}");
            assert_eq!(of(b) & CSET82 != 0, cset82.contains(&b), "{b}");
            assert_eq!(of(b) & CSET39 != 0, cset39.contains(&b), "{b}");
            assert_eq!(of(b) & CSET64 != 0, cset64.contains(&b), "{b}");
            assert_eq!(of(b) & UNRESERVED != 0, unreserved.contains(&b), "{b}");
            assert_eq!(of(b) & ESCAPE != 0, b == b'%' || b == 0, "{b}");
            assert_eq!(of(b) & SLASH != 0, b == b'/', "{b}");
            assert_eq!(
                of(b) & LOWER_HEX != 0,
                b"0123456789abcdef".contains(&b),
                "{b}"
            );
        }
    }

    #[test]
    fn uri_characters_are_rfc_3986_reserved_unreserved_and_percent() {
        let uri = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%";
        for b in 0..=255u8 {
            assert_eq!(is_uri_char(b), uri.contains(&b), "{b}");
        }
    }

    #[test]
    fn slice_checks() {
        assert!(all_in(b"", DIGIT) && all_in(b"0123", DIGIT) && !all_in(b"01a3", DIGIT));
        assert!(any_in(b"ab%", ESCAPE) && any_in(b"a\0", ESCAPE) && !any_in(b"abc", ESCAPE));
        assert_eq!(count_outside(b"A/B ~", UNRESERVED), 2);
    }
}

//! Splitting request text on ASCII separators by bytes: cheaper than `str`'s char searcher on text this short.
//! Path segments come from the right, split and checked for escapes in one loop.

use std::borrow::Cow;

use super::charset;
use super::error::Gs1Error;
use super::percent;

/// One raw path segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawSeg<'a> {
    pub text: &'a str,
    /// Holds `%` or NUL: only such a segment needs `percent::decode`; any other decodes to itself.
    escaped: bool,
}

impl<'a> RawSeg<'a> {
    /// The segment percent-decoded once; borrowed when there was nothing to decode.
    pub(crate) fn decode(self) -> Result<Cow<'a, str>, Gs1Error> {
        if self.escaped {
            percent::decode(self.text)
        } else {
            Ok(Cow::Borrowed(self.text))
        }
    }

    /// `decode`, with a decoded copy taken from the front of `space` (which keeps the rest) rather than the heap
    /// when it fits: values are short-lived, copied into the key once it is built.
    #[inline]
    pub(crate) fn decode_in<'b>(self, space: &mut &'b mut [u8]) -> Result<Cow<'b, str>, Gs1Error>
    where
        'a: 'b,
    {
        if !self.escaped {
            return Ok(Cow::Borrowed(self.text));
        }
        if space.len() < self.text.len() {
            return percent::decode(self.text);
        }
        let (out, rest) = std::mem::take(space).split_at_mut(self.text.len());
        *space = rest;
        percent::decode_into(self.text, out).map(Cow::Borrowed)
    }
}

/// `str::rsplit('/')` that also notes which segments hold escapes, so each byte is looked at once. `/` is ASCII,
/// so every cut is on a char boundary.
pub(crate) struct RevSegments<'a> {
    rest: Option<&'a str>,
}

impl<'a> RevSegments<'a> {
    pub(crate) fn new(path: &'a str) -> Self {
        Self { rest: Some(path) }
    }

    /// The path left of the segments taken so far; `None` once the left-most segment was taken.
    pub(crate) fn rest(&self) -> Option<&'a str> {
        self.rest
    }
}

impl<'a> Iterator for RevSegments<'a> {
    type Item = RawSeg<'a>;

    fn next(&mut self) -> Option<RawSeg<'a>> {
        let rest = self.rest?;
        let bytes = rest.as_bytes();
        let mut start = bytes.len();
        let mut classes = 0;
        while let Some(&b) = start.checked_sub(1).and_then(|i| bytes.get(i)) {
            let class = charset::of(b);
            if class & charset::SLASH != 0 {
                break;
            }
            classes |= class;
            start -= 1;
        }
        // the byte left of `start`, if any, is the '/'
        self.rest = start.checked_sub(1).map(|slash| &rest[..slash]);
        Some(RawSeg {
            text: &rest[start..],
            escaped: classes & charset::ESCAPE != 0,
        })
    }
}

/// `str::split_once(sep)` for an ASCII `sep`.
pub(crate) fn split_once_ascii(text: &str, sep: u8) -> Option<(&str, &str)> {
    let i = text.bytes().position(|b| b == sep)?;
    Some((&text[..i], &text[i + 1..]))
}

/// `str::split(sep)` for an ASCII `sep`.
pub(crate) fn split_ascii(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let (part, tail) = split_once_ascii(text, sep).map_or((text, None), |(p, t)| (p, Some(t)));
        rest = tail;
        Some(part)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_rsplit() {
        for path in ["", "a", "/", "a/b", "/a//b/", "01/0952%2F/x", "é/ü%00/"] {
            let ours: Vec<&str> = RevSegments::new(path).map(|s| s.text).collect();
            let std: Vec<&str> = path.rsplit('/').collect();
            assert_eq!(ours, std, "{path}");
        }
    }

    #[test]
    fn forward_splits_like_str() {
        for text in ["", "&", "a=1&b", "&&x=&=y&", "é=ü&€"] {
            let ours: Vec<&str> = split_ascii(text, b'&').collect();
            assert_eq!(ours, text.split('&').collect::<Vec<_>>(), "{text}");
            assert_eq!(split_once_ascii(text, b'='), text.split_once('='), "{text}");
        }
    }

    #[test]
    fn escapes_are_flagged_per_segment() {
        let segs: Vec<RawSeg> = RevSegments::new("a%2Fb/plain/nul\0").collect();
        let flags: Vec<bool> = segs.iter().map(|s| s.escaped).collect();
        assert_eq!(flags, [true, false, true]);
        assert!(matches!(segs[1].decode(), Ok(Cow::Borrowed("plain"))));
        assert_eq!(segs[2].decode().as_deref(), Ok("a/b"));
        assert!(matches!(segs[0].decode(), Err(Gs1Error::NulCharacter(_))));
    }

    #[test]
    fn decoding_in_place_matches_decoding() {
        let mut scratch = [0u8; 12];
        let mut space: &mut [u8] = &mut scratch;
        for (path, spare) in [
            ("a%2Fb", 7),
            ("plain", 7),
            ("%41%42", 1),
            ("%2F%2F", 1),
            ("x", 1),
        ] {
            let seg = RevSegments::new(path).next().expect("one segment");
            assert_eq!(seg.decode_in(&mut space), seg.decode(), "{path}");
            assert_eq!(space.len(), spare, "{path}");
        }
        for bad in ["%zz", "%", "a%00", "%FF"] {
            let seg = RevSegments::new(bad).next().expect("one segment");
            let mut big = [0u8; 8];
            assert_eq!(seg.decode_in(&mut &mut big[..]), seg.decode(), "{bad}");
        }
    }

    #[test]
    fn rest_is_what_precedes() {
        let mut segs = RevSegments::new("stem/01/x");
        segs.next();
        assert_eq!(segs.rest(), Some("stem/01"));
        segs.next();
        segs.next();
        assert_eq!(segs.rest(), None);
    }
}

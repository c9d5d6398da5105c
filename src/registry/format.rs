//! The stored form of an anchor, shared by every store: `3:{version}:{payload}`.
//!
//! The ASCII header lets the Redis write script check the format and bump the version without decoding the record.
//! The payload is postcard (compact binary serde) of a wire struct in which the link-type namespaces we emit and
//! common media types are one byte: a two-link anchor takes about half the bytes of JSON, which matters at millions of anchors in Redis
//! memory, and decodes faster on a cache miss. A reader refuses any other format, so an old binary never misreads
//! newer data.
//!
//! After the wire struct an optional trailer may follow: postcard of a `Vec<u32>`, the indices (ascending) of the
//! links that do not forward the scan's query string (`"fwqs": false`). It is written only when there is one, so a
//! record without such links is stored exactly as before the trailer existed. Postcard's `from_bytes` ignores bytes
//! after the value it reads, so a binary that predates the trailer (which decodes with `from_bytes`) still reads
//! such a record, every link forwarding the query; it would drop the trailer if it wrote the record back. A reader
//! likewise ignores anything after what it knows: a later extension goes there.
//!
//! The second extension: postcard of a `Vec<(u32, String)>`, the links (by index) that carry a stable name (`id`,
//! the Pyx-compatible API's link ID kept through a change of variant). When it is written, the first trailer is
//! written too, empty if need be.
//!
//! The third: postcard of a `Vec<(u32, String)>`, the links (by index) a lifecycle contributor added, with its DID
//! (`contributor`). When it is written, the first two are written too, empty if need be. A binary from before it
//! reads such a record without the attribution (and would drop it if it wrote the record back).

use super::record::{AnchorRecord, DecodeError, Link, StoredAnchor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub const FORMAT: u32 = 3;

/// Namespaces stored as one byte (index + 1). Frozen for format 3: new namespaces are appended, never reordered.
const NAMESPACES: [&str; 2] = [
    "https://gs1.org/voc/",
    "https://test.uncefact.org/vocabulary/linkTypes/",
];

/// A record's stored fields. `S` is `&str` when encoding (nothing is copied) and `String` when decoding (each string is
/// copied once, straight into the record it becomes: decoding into borrowed strings and then copying them into a
/// record cost an intermediate list of links and a conversion per field).
#[derive(Serialize, Deserialize)]
struct Wire<'a, S> {
    description: S,
    #[serde(borrow)]
    default_link_type: Option<Packed<'a>>,
    #[serde(borrow)]
    links: Vec<WireLink<'a, S>>,
}

/// A relation URI as (namespace code, rest); code 0 means the whole URI is in `rest`.
#[derive(Serialize, Deserialize)]
struct Packed<'a>(u8, #[serde(borrow)] Cow<'a, str>);

#[derive(Serialize, Deserialize)]
struct WireLink<'a, S> {
    #[serde(borrow)]
    link_type: Packed<'a>,
    href: S,
    title: S,
    #[serde(borrow)]
    media_type: Option<Packed<'a>>,
    hreflang: Vec<S>,
    context: Vec<S>,
    rel: Vec<S>,
    method: Vec<S>,
    encryption_method: Option<S>,
    access_role: Vec<S>,
}

/// Common media types stored as one byte (index + 1), by the same prefix scheme. Frozen for format 3.
const MEDIA_TYPES: [&str; 12] = [
    "text/html",
    "application/vc+jwt",
    "application/ld+json",
    "application/json",
    "application/vc+ld+json",
    "application/vc",
    "application/linkset+json",
    "application/pdf",
    "image/jpeg",
    "image/png",
    "video/mp4",
    "text/plain",
];

/// `value` as (code of the longest matching prefix in `table`, rest); code 0 keeps it whole.
fn pack<'a>(table: &[&str], value: &'a str) -> Packed<'a> {
    let best = table
        .iter()
        .enumerate()
        .filter(|(_, prefix)| value.starts_with(**prefix))
        .max_by_key(|(_, prefix)| prefix.len());
    match best {
        Some((i, prefix)) => Packed(i as u8 + 1, Cow::Borrowed(&value[prefix.len()..])),
        None => Packed(0, Cow::Borrowed(value)),
    }
}

fn unpack(table: &[&str], p: Packed<'_>) -> Result<String, DecodeError> {
    match p.0 {
        0 => Ok(p.1.into_owned()),
        code => table
            .get(usize::from(code) - 1)
            .map(|prefix| {
                // Not `concat`: its generic join is slow here, and this runs for every link decoded
                // (docs/performance.md).
                let mut uri = String::with_capacity(prefix.len() + p.1.len());
                uri.push_str(prefix);
                uri.push_str(&p.1);
                uri
            })
            .ok_or_else(|| DecodeError::Corrupt(format!("unknown prefix code {code}"))),
    }
}

fn borrowed(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn wire(record: &AnchorRecord) -> Wire<'_, &str> {
    Wire {
        description: record.item_description.as_str(),
        default_link_type: record
            .default_link_type
            .as_deref()
            .map(|t| pack(&NAMESPACES, t)),
        links: record
            .links
            .iter()
            .map(|l| WireLink {
                link_type: pack(&NAMESPACES, &l.link_type),
                href: l.href.as_str(),
                title: l.title.as_str(),
                media_type: l.media_type.as_deref().map(|m| pack(&MEDIA_TYPES, m)),
                hreflang: borrowed(&l.hreflang),
                context: borrowed(&l.context),
                rel: borrowed(&l.rel),
                method: borrowed(&l.method),
                encryption_method: l.encryption_method.as_deref(),
                access_role: borrowed(&l.access_role),
            })
            .collect(),
    }
}

/// Appends to a `Vec` that postcard fills (its own `to_allocvec` starts empty and grows many times per record).
struct Append<'a>(&'a mut Vec<u8>);

impl Extend<u8> for Append<'_> {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0.extend(bytes);
    }
}

/// Appends the payload of `record` to `out`: the wire struct, then the trailers when some link needs them.
fn append_payload(record: &AnchorRecord, out: &mut Vec<u8>) {
    let start = out.len();
    let mut written = postcard::to_extend(&wire(record), Append(&mut *out)).map(|_| ());
    let contributors = contributors(record);
    let names = names(record).or_else(|| contributors.as_ref().map(|_| Vec::new()));
    let bare = trailer(record).or_else(|| names.as_ref().map(|_| Vec::new()));
    if let (Ok(()), Some(bare)) = (&written, bare) {
        written = postcard::to_extend(&bare, Append(&mut *out)).map(|_| ());
    }
    if let (Ok(()), Some(names)) = (&written, names) {
        written = postcard::to_extend(&names, Append(&mut *out)).map(|_| ());
    }
    if let (Ok(()), Some(contributors)) = (&written, contributors) {
        written = postcard::to_extend(&contributors, Append(&mut *out)).map(|_| ());
    }
    if written.is_err() {
        // Serialising strings and vectors into a Vec cannot fail; were it to, the payload would be empty.
        out.truncate(start);
    }
}

/// The indices of the links that do not forward the query string, if any (most records have none: no allocation).
fn trailer(record: &AnchorRecord) -> Option<Vec<u32>> {
    if record.links.iter().all(|l| l.forwards_query) {
        return None;
    }
    let bare = record
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.forwards_query);
    // A record holds at most a few hundred links: every index fits a u32.
    Some(bare.map(|(i, _)| i as u32).collect())
}

/// The links' stable names, by index, if any link has one.
fn names(record: &AnchorRecord) -> Option<Vec<(u32, &str)>> {
    if record.links.iter().all(|l| l.id.is_none()) {
        return None;
    }
    let named = record.links.iter().enumerate();
    Some(
        named
            .filter_map(|(i, l)| Some((i as u32, l.id.as_deref()?)))
            .collect(),
    )
}

/// The links' contributors, by index, if any link has one.
fn contributors(record: &AnchorRecord) -> Option<Vec<(u32, &str)>> {
    if record.links.iter().all(|l| l.contributor.is_none()) {
        return None;
    }
    let links = record.links.iter().enumerate();
    Some(
        links
            .filter_map(|(i, l)| Some((i as u32, l.contributor.as_deref()?)))
            .collect(),
    )
}

/// Applies the trailers in `rest` (what follows the wire struct) to `links`. Bytes after them are ignored.
fn apply_trailer(rest: &[u8], links: &mut [Link]) -> Result<(), DecodeError> {
    if rest.is_empty() {
        return Ok(());
    }
    let (indices, rest): (Vec<u32>, _) = postcard::take_from_bytes(rest)
        .map_err(|e| DecodeError::Corrupt(format!("trailer: {e}")))?;
    for i in indices {
        link_at(links, i)?.forwards_query = false;
    }
    if rest.is_empty() {
        return Ok(());
    }
    let (names, rest): (Vec<(u32, String)>, _) =
        postcard::take_from_bytes(rest).map_err(|e| DecodeError::Corrupt(format!("names: {e}")))?;
    for (i, name) in names {
        link_at(links, i)?.id = Some(name);
    }
    if rest.is_empty() {
        return Ok(());
    }
    let (contributors, _later): (Vec<(u32, String)>, _) = postcard::take_from_bytes(rest)
        .map_err(|e| DecodeError::Corrupt(format!("contributors: {e}")))?;
    for (i, did) in contributors {
        link_at(links, i)?.contributor = Some(did);
    }
    Ok(())
}

fn link_at(links: &mut [Link], i: u32) -> Result<&mut Link, DecodeError> {
    let link = usize::try_from(i).ok().and_then(|i| links.get_mut(i));
    link.ok_or_else(|| DecodeError::Corrupt(format!("trailer names link {i}")))
}

/// Bytes enough for most payloads: the strings, plus a few bytes of lengths and codes per field.
fn capacity(record: &AnchorRecord) -> usize {
    let links: usize = record
        .links
        .iter()
        .map(|l| l.link_type.len() + l.href.len() + l.title.len() + 32)
        .sum();
    record.item_description.len() + 16 + links
}

/// The payload of a record, without the header (what the Redis write script stores after `3:{version}:`).
pub fn payload(record: &AnchorRecord) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(capacity(record));
    append_payload(record, &mut bytes);
    bytes
}

pub fn encode(stored: &StoredAnchor) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_MAX + capacity(&stored.record));
    push_header(&mut bytes, stored.version);
    append_payload(&stored.record, &mut bytes);
    bytes
}

/// Longest header: the format, a 20-digit version and two colons.
const HEADER_MAX: usize = 24;

fn push_header(bytes: &mut Vec<u8>, version: u64) {
    push_decimal(bytes, u64::from(FORMAT));
    bytes.push(b':');
    push_decimal(bytes, version);
    bytes.push(b':');
}

/// `n` in decimal, as `write!` puts it, for a fraction of the cost (stores write one or more per record).
pub(super) fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// A record's payload, encoded ahead of the write that stores it: an import encodes on every core and leaves its
/// one writer only the header to add.
pub struct Payload(Vec<u8>);

impl Payload {
    pub fn of(record: &AnchorRecord) -> Payload {
        Payload(payload(record))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The stored form at `version` (what `encode` makes of the record).
    pub fn stored(&self, version: u64) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(HEADER_MAX + self.0.len());
        push_header(&mut bytes, version);
        bytes.extend_from_slice(&self.0);
        bytes
    }
}

pub fn decode(bytes: &[u8]) -> Result<StoredAnchor, DecodeError> {
    let (format, rest) = number(bytes).ok_or_else(|| corrupt_header(bytes))?;
    if format != u64::from(FORMAT) {
        return Err(DecodeError::UnknownFormat {
            found: u32::try_from(format).unwrap_or(u32::MAX),
        });
    }
    let (version, payload) = number(rest).ok_or_else(|| corrupt_header(bytes))?;
    let (wire, rest): (Wire<'_, String>, _) =
        postcard::take_from_bytes(payload).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let mut links = wire
        .links
        .into_iter()
        .map(|l| {
            Ok(Link {
                link_type: unpack(&NAMESPACES, l.link_type)?,
                href: l.href,
                title: l.title,
                media_type: l.media_type.map(|m| unpack(&MEDIA_TYPES, m)).transpose()?,
                hreflang: l.hreflang,
                context: l.context,
                rel: l.rel,
                method: l.method,
                encryption_method: l.encryption_method,
                access_role: l.access_role,
                forwards_query: true,
                id: None,
                contributor: None,
            })
        })
        .collect::<Result<Vec<Link>, DecodeError>>()?;
    apply_trailer(rest, &mut links)?;
    let record = AnchorRecord {
        item_description: wire.description,
        default_link_type: wire
            .default_link_type
            .map(|t| unpack(&NAMESPACES, t))
            .transpose()?,
        links,
    };
    Ok(StoredAnchor { version, record })
}

/// `123:rest` → (123, rest).
fn number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let colon = bytes.iter().position(|&b| b == b':')?;
    let digits = std::str::from_utf8(&bytes[..colon]).ok()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, &bytes[colon + 1..]))
}

fn corrupt_header(bytes: &[u8]) -> DecodeError {
    // Format 1 (development builds) was JSON.
    if bytes.starts_with(b"{\"format\":1") {
        return DecodeError::UnknownFormat { found: 1 };
    }
    DecodeError::Corrupt("no format header".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(t: &str) -> Link {
        Link {
            link_type: t.into(),
            href: "https://brand.example.com/products/09520123456788".into(),
            title: "Product information".into(),
            media_type: Some("text/html".into()),
            hreflang: vec!["en".into()],
            context: vec!["eu".into()],
            rel: vec!["predecessor-version".into()],
            method: vec!["POST".into()],
            encryption_method: Some("AES-128".into()),
            access_role: vec!["untp:accessRole#Customer".into()],
            forwards_query: true,
            id: None,
            contributor: None,
        }
    }

    fn sample() -> StoredAnchor {
        StoredAnchor {
            version: 42,
            record: AnchorRecord {
                item_description: "Battery pack model X, batch 1234".into(),
                default_link_type: Some("https://gs1.org/voc/pip".into()),
                links: vec![
                    link("https://gs1.org/voc/pip"),
                    link("https://test.uncefact.org/vocabulary/linkTypes/dpp"),
                    link("https://other.example/voc/x"),
                ],
            },
        }
    }

    #[test]
    fn round_trips_every_field() {
        let s = sample();
        let bytes = encode(&s);
        assert!(bytes.starts_with(b"3:42:"));
        assert_eq!(decode(&bytes).unwrap(), s);
    }

    #[test]
    fn a_payload_encoded_ahead_stores_as_the_record_would() {
        let s = sample();
        // As the encoder wrote records before it appended to one buffer.
        let mut before = format!("{FORMAT}:{}:", s.version).into_bytes();
        before.extend(postcard::to_allocvec(&wire(&s.record)).unwrap());
        assert_eq!(encode(&s), before);
        let ahead = Payload::of(&s.record);
        assert_eq!(ahead.as_bytes(), payload(&s.record));
        assert_eq!(ahead.stored(s.version), before);
    }

    #[test]
    fn decimals_are_written_as_write_writes_them() {
        for n in [0, 1, 9, 10, 42, 1_000_000, u64::MAX - 1, u64::MAX] {
            let mut ours = Vec::new();
            push_decimal(&mut ours, n);
            assert_eq!(ours, n.to_string().into_bytes());
        }
    }

    #[test]
    fn prefix_codes_round_trip() {
        for media in [
            "application/vc",
            "application/vc+jwt",
            "application/vc+ld+json",
            "application/json-patch+json",
            "model/gltf+json",
        ] {
            let packed = pack(&MEDIA_TYPES, media);
            assert_eq!(unpack(&MEDIA_TYPES, packed).unwrap(), media);
        }
        assert_eq!(
            pack(&MEDIA_TYPES, "application/vc+jwt").1,
            "",
            "longest prefix wins"
        );
        assert_eq!(pack(&MEDIA_TYPES, "model/gltf+json").0, 0);
    }

    #[test]
    fn is_compact() {
        let mut s = sample();
        s.record.links.truncate(2);
        for l in &mut s.record.links {
            (
                l.context,
                l.rel,
                l.method,
                l.encryption_method,
                l.access_role,
            ) = (vec![], vec![], vec![], None, vec![]);
        }
        let json = serde_json::to_vec(&s.record).unwrap();
        let ours = encode(&s);
        assert!(
            ours.len() * 10 < json.len() * 7,
            "{} bytes vs {} as JSON",
            ours.len(),
            json.len()
        );
    }

    #[test]
    fn refuses_unknown_formats_and_garbage() {
        assert_eq!(
            decode(b"2:1:abc"),
            Err(DecodeError::UnknownFormat { found: 2 })
        );
        assert_eq!(
            decode(b"4:1:abc"),
            Err(DecodeError::UnknownFormat { found: 4 })
        );
        assert_eq!(
            decode(br#"{"format":1,"version":1,"record":{}}"#),
            Err(DecodeError::UnknownFormat { found: 1 })
        );
        assert!(matches!(
            decode(b"3:1:\xff\xff\xff"),
            Err(DecodeError::Corrupt(_))
        ));
        assert!(matches!(decode(b""), Err(DecodeError::Corrupt(_))));
        assert!(matches!(decode(b"3:x:"), Err(DecodeError::Corrupt(_))));
        let mut bytes = encode(&sample());
        let cut = bytes.len() - 5;
        bytes.truncate(cut);
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn unknown_namespace_codes_are_corrupt() {
        let mut bytes = b"3:1:".to_vec();
        let wire = Wire {
            description: "d",
            default_link_type: Some(Packed(9, "x".into())),
            links: vec![],
        };
        bytes.extend(postcard::to_allocvec(&wire).unwrap());
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }

    /// Format 3 as stored on disk and in Redis, written out by hand from postcard's rules (a `str` is its length
    /// then its bytes, an `Option` a 0/1 tag, a `Vec` its length then its items, fields in order): records already
    /// stored must keep decoding, whatever the structs behind the format become.
    #[test]
    fn the_stored_layout_of_format_3() {
        let bytes: &[u8] = b"3:7:\
            \x01D\x01\x01\x03pip\x02\
            \x01\x03pip\x01h\x01t\x01\x01\x00\x01\x02en\x00\x00\x00\x00\x00\
            \x00\x03x:y\x02h2\x00\x00\x00\x01\x01c\x01\x04edit\x01\x04POST\x01\x01A\x01\x01r";
        let plain = |s: &str| vec![s.to_string()];
        let expected = StoredAnchor {
            version: 7,
            record: AnchorRecord {
                item_description: "D".into(),
                default_link_type: Some("https://gs1.org/voc/pip".into()),
                links: vec![
                    Link {
                        link_type: "https://gs1.org/voc/pip".into(),
                        href: "h".into(),
                        title: "t".into(),
                        media_type: Some("text/html".into()),
                        hreflang: plain("en"),
                        context: vec![],
                        rel: vec![],
                        method: vec![],
                        encryption_method: None,
                        access_role: vec![],
                        forwards_query: true,
                        id: None,
                        contributor: None,
                    },
                    Link {
                        link_type: "x:y".into(),
                        href: "h2".into(),
                        title: String::new(),
                        media_type: None,
                        hreflang: vec![],
                        context: plain("c"),
                        rel: plain("edit"),
                        method: plain("POST"),
                        encryption_method: Some("A".into()),
                        access_role: plain("r"),
                        forwards_query: true,
                        id: None,
                        contributor: None,
                    },
                ],
            },
        };
        assert_eq!(decode(bytes).unwrap(), expected);
        assert_eq!(encode(&expected), bytes);
    }

    /// The query trailer as stored, written out by hand like format 3 above: three bare links (no media type, empty
    /// lists), the first and third not forwarding the query, then the trailer `[0, 2]` (its length, then each index).
    #[test]
    fn the_stored_layout_of_the_query_trailer() {
        let bytes: &[u8] = b"3:5:\
            \x01D\x00\x03\
            \x01\x03pip\x01h\x01t\x00\x00\x00\x00\x00\x00\x00\
            \x00\x03x:y\x02h2\x00\x00\x00\x00\x00\x00\x00\x00\
            \x01\x03pip\x02h3\x01t\x00\x00\x00\x00\x00\x00\x00\
            \x02\x00\x02";
        let bare = |link_type: &str, href: &str, title: &str, forwards_query: bool| Link {
            link_type: link_type.into(),
            href: href.into(),
            title: title.into(),
            media_type: None,
            hreflang: vec![],
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query,
            id: None,
            contributor: None,
        };
        let expected = StoredAnchor {
            version: 5,
            record: AnchorRecord {
                item_description: "D".into(),
                default_link_type: None,
                links: vec![
                    bare("https://gs1.org/voc/pip", "h", "t", false),
                    bare("x:y", "h2", "", true),
                    bare("https://gs1.org/voc/pip", "h3", "t", false),
                ],
            },
        };
        assert_eq!(decode(bytes).unwrap(), expected);
        assert_eq!(encode(&expected), bytes);
        let ahead = Payload::of(&expected.record);
        assert_eq!(ahead.stored(5), bytes, "one encoder for writes and imports");
    }

    fn with_bare_second_link() -> StoredAnchor {
        let mut s = sample();
        s.record.links[1].forwards_query = false;
        s
    }

    #[test]
    fn the_trailer_round_trips_and_only_when_needed() {
        let s = with_bare_second_link();
        assert_eq!(decode(&encode(&s)).unwrap(), s);
        let mut plain = s.clone();
        plain.record.links[1].forwards_query = true;
        let mut expected = encode(&plain);
        expected.extend_from_slice(b"\x01\x01");
        assert_eq!(
            encode(&s),
            expected,
            "the trailer is appended to the unchanged payload"
        );
    }

    /// A binary from before the trailer decodes the payload with `postcard::from_bytes`, which ignores trailing
    /// bytes: in a rolling upgrade it reads the record, every link forwarding the query.
    #[test]
    fn a_decoder_from_before_the_trailer_still_reads_the_record() {
        let s = with_bare_second_link();
        let with_trailer = payload(&s.record);
        let old: Wire<'_, String> = postcard::from_bytes(&with_trailer).unwrap();
        let mut forwarding = s.record.clone();
        forwarding.links[1].forwards_query = true;
        assert_eq!(postcard::to_allocvec(&old).unwrap(), payload(&forwarding));
    }

    /// The names trailer as stored: an empty first trailer, then `[(1, "ab")]`.
    #[test]
    fn the_stored_layout_of_the_names_trailer() {
        let mut s = sample();
        s.record.links[1].id = Some("ab".into());
        let mut plain = s.clone();
        plain.record.links[1].id = None;
        let mut expected = encode(&plain);
        expected.extend_from_slice(b"\x00\x01\x01\x02ab");
        assert_eq!(encode(&s), expected);
        assert_eq!(decode(&expected).unwrap(), s);
        s.record.links[0].forwards_query = false;
        let both = decode(&encode(&s)).unwrap();
        assert_eq!(both, s, "both trailers");
        assert!(matches!(
            decode(&[encode(&plain).as_slice(), b"\x00\x01\x09\x02ab"].concat()),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn a_bad_trailer_is_corrupt_and_what_follows_it_is_ignored() {
        let s = with_bare_second_link();
        let mut plain = s.clone();
        plain.record.links[1].forwards_query = true;
        let stored = encode(&plain);
        let with = |trailer: &[u8]| [stored.as_slice(), trailer].concat();
        // Link 3 of three, a truncated list, and a non-varint.
        for bad in [
            &b"\x01\x03"[..],
            b"\x02\x01",
            b"\x01\xff\xff\xff\xff\xff\xff",
        ] {
            assert!(
                matches!(decode(&with(bad)), Err(DecodeError::Corrupt(_))),
                "{bad:?}"
            );
        }
        // The third trailer (contributors, empty) took the place left for a later extension; bytes after it are
        // ignored.
        assert_eq!(decode(&with(b"\x01\x01\x00\x00later")).unwrap(), s);
        assert!(matches!(
            decode(&with(b"\x01\x01\x00later")),
            Err(DecodeError::Corrupt(_))
        ));
    }

    /// The contributors trailer as stored: empty first and second trailers, then `[(0, "did:web:r.example")]`.
    #[test]
    fn the_contributors_trailer_round_trips() {
        let mut s = sample();
        s.record.links[0].contributor = Some("did:web:r.example".into());
        let bytes = encode(&s);
        let mut plain = s.clone();
        plain.record.links[0].contributor = None;
        let expected = [
            encode(&plain).as_slice(),
            b"\x00\x00\x01\x00\x11did:web:r.example",
        ]
        .concat();
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes).unwrap(), s);
    }
}

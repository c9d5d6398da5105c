//! The stored form of an anchor, shared by every store: `3:{version}:{payload}`.
//!
//! The ASCII header lets the Redis write script check the format and bump the version without decoding the record.
//! The payload is postcard (compact binary serde) of a wire struct in which the link-type namespaces we emit and
//! common media types are one byte: a two-link anchor takes about half the bytes of JSON, which matters at millions of anchors in Redis
//! memory, and decodes faster on a cache miss. A reader refuses any other format, so an old binary never misreads
//! newer data.

use super::record::{AnchorRecord, DecodeError, Link, StoredAnchor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub const FORMAT: u32 = 3;

/// Namespaces stored as one byte (index + 1). Frozen for format 3: new namespaces are appended, never reordered.
const NAMESPACES: [&str; 2] = [
    "https://gs1.org/voc/",
    "https://test.uncefact.org/vocabulary/linkTypes/",
];

#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    description: Cow<'a, str>,
    #[serde(borrow)]
    default_link_type: Option<Packed<'a>>,
    #[serde(borrow)]
    links: Vec<WireLink<'a>>,
}

/// A relation URI as (namespace code, rest); code 0 means the whole URI is in `rest`.
#[derive(Serialize, Deserialize)]
struct Packed<'a>(u8, #[serde(borrow)] Cow<'a, str>);

#[derive(Serialize, Deserialize)]
struct WireLink<'a> {
    #[serde(borrow)]
    link_type: Packed<'a>,
    #[serde(borrow)]
    href: Cow<'a, str>,
    #[serde(borrow)]
    title: Cow<'a, str>,
    #[serde(borrow)]
    media_type: Option<Packed<'a>>,
    #[serde(borrow)]
    hreflang: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    context: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    rel: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    method: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    encryption_method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    access_role: Vec<Cow<'a, str>>,
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
                // Not `concat`: its generic join was a third of unpacking, which runs for every link decoded.
                let mut uri = String::with_capacity(prefix.len() + p.1.len());
                uri.push_str(prefix);
                uri.push_str(&p.1);
                uri
            })
            .ok_or_else(|| DecodeError::Corrupt(format!("unknown prefix code {code}"))),
    }
}

fn borrowed(v: &[String]) -> Vec<Cow<'_, str>> {
    v.iter().map(|s| Cow::Borrowed(s.as_str())).collect()
}

fn owned(v: Vec<Cow<'_, str>>) -> Vec<String> {
    v.into_iter().map(Cow::into_owned).collect()
}

fn wire(record: &AnchorRecord) -> Wire<'_> {
    Wire {
        description: Cow::Borrowed(&record.item_description),
        default_link_type: record
            .default_link_type
            .as_deref()
            .map(|t| pack(&NAMESPACES, t)),
        links: record
            .links
            .iter()
            .map(|l| WireLink {
                link_type: pack(&NAMESPACES, &l.link_type),
                href: Cow::Borrowed(&l.href),
                title: Cow::Borrowed(&l.title),
                media_type: l.media_type.as_deref().map(|m| pack(&MEDIA_TYPES, m)),
                hreflang: borrowed(&l.hreflang),
                context: borrowed(&l.context),
                rel: borrowed(&l.rel),
                method: borrowed(&l.method),
                encryption_method: l.encryption_method.as_deref().map(Cow::Borrowed),
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

/// Appends the payload of `record` to `out`.
fn append_payload(record: &AnchorRecord, out: &mut Vec<u8>) {
    let start = out.len();
    if postcard::to_extend(&wire(record), Append(out)).is_err() {
        // Serialising strings and vectors into a Vec cannot fail; were it to, the payload would be empty.
        out.truncate(start);
    }
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
    let wire: Wire<'_> =
        postcard::from_bytes(payload).map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let links = wire
        .links
        .into_iter()
        .map(|l| {
            Ok(Link {
                link_type: unpack(&NAMESPACES, l.link_type)?,
                href: l.href.into_owned(),
                title: l.title.into_owned(),
                media_type: l.media_type.map(|m| unpack(&MEDIA_TYPES, m)).transpose()?,
                hreflang: owned(l.hreflang),
                context: owned(l.context),
                rel: owned(l.rel),
                method: owned(l.method),
                encryption_method: l.encryption_method.map(Cow::into_owned),
                access_role: owned(l.access_role),
            })
        })
        .collect::<Result<Vec<Link>, DecodeError>>()?;
    let record = AnchorRecord {
        item_description: wire.description.into_owned(),
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
            description: "d".into(),
            default_link_type: Some(Packed(9, "x".into())),
            links: vec![],
        };
        bytes.extend(postcard::to_allocvec(&wire).unwrap());
        assert!(matches!(decode(&bytes), Err(DecodeError::Corrupt(_))));
    }
}

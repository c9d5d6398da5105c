//! RFC 9264 linksets in the profile both the GS1 and the UNTP 0.7 linkset schemas accept: one context object per
//! level, each with `anchor` and `itemDescription`, relation keys as full URIs (an IANA relation as its bare name),
//! spelt as the vocabulary's `emit` setting says; links of one relation in different spellings share one key.
//!
//! A link a lifecycle contributor added (`Link::contributor`) is attributed by one more context object right after
//! its level's: anchored at the link's target, with the registered relation `author` pointing at the contributor's
//! DID document (titled with the DID). Both schemas close target objects (`additionalProperties: false`), so an extra
//! target attribute would make every such linkset invalid; a context object about the target says the same within
//! them (RFC 9264 allows context objects for any anchor).

use crate::registry::{Link, StoredAnchor};
use serde_json::Value;
use std::sync::Arc;

use crate::vocabulary::{DEFAULT_LINK, Vocabulary};

/// One level of the qualifier tree that has a record.
pub struct Level {
    /// Absolute canonical URI of the level (no query).
    pub anchor: String,
    pub record: Arc<StoredAnchor>,
}

/// `{"linkset": [...]}`, ready to be written. It shares the records it was built from and is written straight to
/// JSON text: building a `serde_json::Value` tree first (maps, a clone of every string) cost more than the rest of a
/// linkset request together.
#[derive(Debug)]
pub struct Linkset {
    objects: Vec<ContextObject>,
    /// JSON-LD `@context`, written after `linkset` when set.
    pub context: Option<&'static str>,
    /// How relation keys are spelt.
    vocabulary: Arc<Vocabulary>,
}

#[derive(Debug)]
struct ContextObject {
    anchor: String,
    record: Arc<StoredAnchor>,
    /// GS1: the defaultLink entry carries only href and title; its target also appears under its own type.
    default: Option<(String, String)>,
    /// Indices of the links kept, grouped by link type in order of first appearance.
    order: Vec<usize>,
}

/// Builds the linkset of levels ordered most specific first, keeping only links `keep` accepts.
pub fn build(
    levels: &[Level],
    keep: &dyn Fn(&Link) -> bool,
    vocabulary: &Arc<Vocabulary>,
) -> Linkset {
    let objects = levels
        .iter()
        .enumerate()
        .map(|(i, level)| ContextObject {
            anchor: level.anchor.clone(),
            record: level.record.clone(),
            default: default_target(&level.record, &levels[i..], keep, vocabulary)
                .map(|l| (l.href.clone(), l.title.clone())),
            order: grouped(&level.record.record.links, keep, vocabulary),
        })
        .collect();
    Linkset {
        objects,
        context: None,
        vocabulary: vocabulary.clone(),
    }
}

/// A link a lifecycle contributor added, as a page names it: its level's anchor, its relation key as emitted, its
/// target and the contributor's DID. The linkset's attribution objects name only the target (both schemas allow no
/// more), which cannot tell it from an owner's link to the same address under another relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    pub anchor: String,
    pub relation: String,
    pub href: String,
    pub did: String,
}

impl Linkset {
    /// The contributed links among those kept, level by level.
    pub fn contributions(&self) -> Vec<Contribution> {
        self.objects
            .iter()
            .flat_map(|o| o.order.iter().map(move |&i| (o, &o.record.record.links[i])))
            .filter_map(|(o, link)| {
                Some(Contribution {
                    anchor: o.anchor.clone(),
                    relation: self.vocabulary.emitted(&link.link_type).to_string(),
                    href: link.href.clone(),
                    did: link.contributor.clone()?,
                })
            })
            .collect()
    }

    /// Context objects, one per level.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Feeds what the document's bytes depend on, short of the request, to `hasher`: each level's anchor and record
    /// version (a version names one record's content; a synthesised level, version 0, is hashed whole), the
    /// vocabulary (relation keys, grouping, default targets) and the JSON-LD context. The links kept and the default
    /// targets follow from these and the access role, which the caller adds. Versions already at hand: no link is
    /// read.
    pub fn fingerprint(&self, hasher: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        self.vocabulary.fingerprint().hash(hasher);
        self.context.hash(hasher);
        for object in &self.objects {
            object.anchor.hash(hasher);
            object.record.version.hash(hasher);
            if object.record.version == 0 {
                format!("{:?}", object.record.record).hash(hasher);
            }
        }
    }
}

/// Indices of the kept links, the links of each relation key together, keys in order of first appearance.
/// Quadratic in the number of links, which is bounded by the anchor limit and small in practice: cheaper than
/// hashing.
fn grouped(links: &[Link], keep: &dyn Fn(&Link) -> bool, vocabulary: &Vocabulary) -> Vec<usize> {
    let kept: Vec<usize> = (0..links.len()).filter(|&i| keep(&links[i])).collect();
    let key = |i: usize| vocabulary.emitted(&links[i].link_type);
    let mut order = Vec::with_capacity(kept.len());
    for (n, &i) in kept.iter().enumerate() {
        let relation = key(i);
        if kept[..n].iter().any(|&j| key(j) == relation) {
            continue;
        }
        order.extend(kept[n..].iter().filter(|&&j| key(j) == relation));
    }
    order
}

/// The default variant of this level's default link type, looked for from this level upwards.
fn default_target<'a>(
    stored: &StoredAnchor,
    from_here_up: &'a [Level],
    keep: &dyn Fn(&Link) -> bool,
    vocabulary: &Vocabulary,
) -> Option<&'a Link> {
    let link_type = stored.record.default_link_type.as_deref()?;
    let relation = vocabulary.relation(link_type);
    // Never a link a lifecycle contributor added: the owner decides the default (as `resolution` does).
    let of_type = |x: &&Link| relation.matches(&x.link_type) && x.contributor.is_none() && keep(x);
    let links = || {
        from_here_up
            .iter()
            .flat_map(|l| l.record.record.links.iter())
    };
    // The latest version of the default type, not a predecessor or an action endpoint, unless that is all there is.
    links()
        .filter(of_type)
        .find(|x| x.is_redirect_target())
        .or_else(|| links().find(of_type))
}

impl Linkset {
    /// The document as JSON text. Written straight into one buffer rather than through serde: a linkset response is
    /// mostly strings, nearly all of them URIs and titles with nothing to escape, and serde_json looked at every one
    /// of their bytes in turn (its escaping was the largest part of writing a linkset).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.estimated_len());
        out.extend_from_slice(b"{\"linkset\":[");
        for (i, object) in self.objects.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            object.write(&mut out, &self.vocabulary);
        }
        out.push(b']');
        if let Some(context) = self.context {
            out.extend_from_slice(b",\"@context\":");
            string(&mut out, context);
        }
        out.push(b'}');
        out
    }

    /// The same JSON as a value, for the HTML view and tests.
    pub fn to_value(&self) -> Value {
        serde_json::from_slice(&self.to_json()).unwrap_or(Value::Null)
    }

    /// Enough for the document unless much of it needs escaping, so the buffer is rarely grown.
    fn estimated_len(&self) -> usize {
        let link_bytes = |l: &Link| 64 + l.link_type.len() + l.href.len() + 2 * l.title.len();
        self.objects
            .iter()
            .map(|o| {
                let links = &o.record.record.links;
                let kept: usize = o.order.iter().map(|&i| link_bytes(&links[i])).sum();
                64 + o.anchor.len() + o.record.record.item_description.len() + kept
            })
            .sum::<usize>()
            + 64
    }
}

impl ContextObject {
    fn write(&self, out: &mut Vec<u8>, vocabulary: &Vocabulary) {
        let record = &self.record.record;
        out.extend_from_slice(b"{\"anchor\":");
        string(out, &self.anchor);
        out.extend_from_slice(b",\"itemDescription\":");
        string(out, &record.item_description);
        if let Some((href, title)) = &self.default {
            out.push(b',');
            string(out, DEFAULT_LINK);
            out.extend_from_slice(b":[{\"href\":");
            string(out, href);
            out.extend_from_slice(b",\"title\":");
            string(out, title);
            out.extend_from_slice(b"}]");
        }
        let links = &record.links;
        let key = |i: usize| vocabulary.emitted(&links[i].link_type);
        for group in self.order.chunk_by(|&a, &b| key(a) == key(b)) {
            out.push(b',');
            string(out, key(group[0]));
            out.extend_from_slice(b":[");
            for (n, &i) in group.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_target(out, &links[i]);
            }
            out.push(b']');
        }
        out.push(b'}');
        self.write_attributions(out);
    }

    /// One context object per kept contributed link (each target and contributor once).
    fn write_attributions(&self, out: &mut Vec<u8>) {
        let links = &self.record.record.links;
        let contributed = self
            .order
            .iter()
            .map(|&i| &links[i])
            .filter(|l| l.contributor.is_some());
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for link in contributed {
            let did = link.contributor.as_deref().unwrap_or_default();
            if seen.contains(&(link.href.as_str(), did)) {
                continue;
            }
            seen.push((link.href.as_str(), did));
            let Ok(parsed) = crate::identifier::did_web::DidWeb::parse(did) else {
                continue;
            };
            out.extend_from_slice(b",{\"anchor\":");
            string(out, &link.href);
            out.extend_from_slice(b",\"itemDescription\":");
            string(out, &attribution(did, &self.anchor));
            out.extend_from_slice(b",\"author\":[{\"href\":");
            string(out, parsed.document_url().as_str());
            out.extend_from_slice(b",\"title\":");
            string(out, did);
            out.extend_from_slice(b"}]}");
        }
    }
}

/// The description of an attribution context object, in plain words.
pub fn attribution(did: &str, anchor: &str) -> String {
    format!(
        "Added by {did}, a lifecycle contributor proven by a Digital Identity Anchor, not by the owner of {anchor}"
    )
}

/// The relation of an attribution context object.
pub const AUTHOR: &str = "author";

/// A link target object: RFC 9264 attributes plus the UNTP 0.7 extensions.
fn write_target(out: &mut Vec<u8>, link: &Link) {
    out.extend_from_slice(b"{\"href\":");
    string(out, &link.href);
    out.extend_from_slice(b",\"title\":");
    string(out, &link.title);
    if let Some(media) = &link.media_type {
        out.extend_from_slice(b",\"type\":");
        string(out, media);
    }
    // `und` is an internal placeholder for "any language", not a language to announce.
    let languages = || {
        link.hreflang
            .iter()
            .filter(|l| !l.eq_ignore_ascii_case("und"))
    };
    list(out, "hreflang", languages());
    list(out, "context", link.context.iter());
    list(out, "rel", link.rel.iter());
    list(out, "method", link.method.iter());
    if let Some(method) = &link.encryption_method {
        out.extend_from_slice(b",\"encryptionMethod\":");
        string(out, method);
    }
    list(out, "accessRole", link.access_role.iter());
    out.push(b'}');
}

/// `,"name":[...]`, left out when there are no values.
fn list<'a>(out: &mut Vec<u8>, name: &str, values: impl Iterator<Item = &'a String>) {
    let mut values = values.peekable();
    if values.peek().is_none() {
        return;
    }
    out.push(b',');
    string(out, name);
    out.extend_from_slice(b":[");
    for (n, value) in values.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        string(out, value);
    }
    out.push(b']');
}

/// A JSON string: between quotes as it is when nothing in it needs escaping, as serde_json writes it otherwise (rare:
/// URIs and titles).
fn string(out: &mut Vec<u8>, s: &str) {
    if plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether `s` holds no control character, quote or backslash, looked for eight bytes at a time rather than byte by
/// byte (a linkset writes some fifty strings).
fn plain(s: &[u8]) -> bool {
    let chunks = s.chunks_exact(8);
    let tail = chunks.remainder();
    let mut special = chunks.fold(0, |found, chunk| {
        // Always eight bytes; the fallback would only send the string down the escaping path.
        found | special_bytes(chunk.try_into().unwrap_or([0; 8]))
    });
    if let Some(last) = s.last_chunk::<8>() {
        // The last eight bytes again, overlapping the chunks: the tail is among them.
        special |= special_bytes(*last);
    } else {
        special |= tail
            .iter()
            .fold(0, |found, &b| found | special_bytes([b; 8]));
    }
    special == 0
}

/// Non-zero when one of the bytes is below 0x20, `"` or `\`. For a byte below `n` (n ≤ 0x80), `x - n` borrows into
/// its high bit while `!x` keeps it; a byte of 0x80 or above has its high bit cleared by `!x`. A borrow out of a byte
/// can only set bits above a byte that matched, so the test is exact for "any".
fn special_bytes(chunk: [u8; 8]) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let x = u64::from_ne_bytes(chunk);
    below(x, 0x20)
        | below(x ^ (ONES * u64::from(b'"')), 1)
        | below(x ^ (ONES * u64::from(b'\\')), 1)
}

/// A link target object as a JSON value (DID documents' service entries use the same shape).
pub fn target_object(link: &Link) -> Value {
    let mut out = Vec::new();
    write_target(&mut out, link);
    serde_json::from_slice(&out).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::AnchorRecord;
    use serde_json::json;

    fn vocab() -> Arc<Vocabulary> {
        Arc::new(Vocabulary::embedded())
    }

    fn stored(record: AnchorRecord) -> Arc<StoredAnchor> {
        Arc::new(StoredAnchor { version: 1, record })
    }

    fn link(t: &str, href: &str, lang: &[&str]) -> Link {
        Link {
            link_type: t.into(),
            href: href.into(),
            title: format!("title {href}"),
            media_type: Some("text/html".into()),
            hreflang: lang.iter().map(|s| s.to_string()).collect(),
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: true,
            id: None,
            contributor: None,
        }
    }

    const PIP: &str = "https://gs1.org/voc/pip";
    const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

    #[test]
    fn one_context_object_per_level_with_a_single_default_link() {
        let gtin = AnchorRecord {
            item_description: "Product".into(),
            default_link_type: Some(PIP.into()),
            links: vec![
                link(PIP, "https://b.example/en", &["en"]),
                link(PIP, "https://b.example/de", &["de", "und"]),
            ],
        };
        let serial = AnchorRecord {
            item_description: "Serial".into(),
            default_link_type: None,
            links: vec![link(DPP, "https://c.example/dpp", &[])],
        };
        let levels = [
            Level {
                anchor: "https://r.example/01/1/21/2".into(),
                record: stored(serial),
            },
            Level {
                anchor: "https://r.example/01/1".into(),
                record: stored(gtin),
            },
        ];
        let v = build(&levels, &|_| true, &vocab()).to_value();
        let set = v["linkset"].as_array().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[0]["anchor"], "https://r.example/01/1/21/2");
        assert_eq!(set[0]["itemDescription"], "Serial");
        assert!(set[0].get(DEFAULT_LINK).is_none());
        assert_eq!(set[0][DPP][0]["href"], "https://c.example/dpp");
        assert_eq!(
            set[1][DEFAULT_LINK],
            json!([{"href": "https://b.example/en", "title": "title https://b.example/en"}])
        );
        assert_eq!(set[1][PIP].as_array().unwrap().len(), 2);
        assert_eq!(
            set[1][PIP][1]["hreflang"],
            json!(["de"]),
            "`und` is an internal placeholder"
        );
    }

    #[test]
    fn filtered_links_are_left_out() {
        let r = AnchorRecord {
            item_description: "x".into(),
            default_link_type: None,
            links: vec![
                link(PIP, "https://a.example/1", &[]),
                link(PIP, "https://a.example/2", &[]),
            ],
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: stored(r),
        }];
        let v = build(&levels, &|l| l.href.ends_with('2'), &vocab()).to_value();
        assert_eq!(
            v["linkset"][0][PIP],
            json!([{"href": "https://a.example/2", "title": "title https://a.example/2", "type": "text/html"}])
        );
    }

    #[test]
    fn links_of_one_type_are_listed_together_in_order_of_first_appearance() {
        let r = AnchorRecord {
            item_description: "x".into(),
            default_link_type: Some(DPP.into()),
            links: vec![
                link(DPP, "https://a.example/1", &[]),
                link(PIP, "https://a.example/2", &[]),
                link(DPP, "https://a.example/3", &["und"]),
            ],
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: stored(r),
        }];
        let mut linkset = build(&levels, &|_| true, &vocab());
        linkset.context = Some("https://example.org/context");
        let text = String::from_utf8(linkset.to_json()).unwrap();
        let at = |needle: &str| text.find(needle).unwrap();
        let (dpp, pip) = (format!("\"{DPP}\":"), format!("\"{PIP}\":"));
        assert!(at("\"anchor\":") < at("\"itemDescription\":"));
        assert!(at("\"itemDescription\":") < at(DEFAULT_LINK));
        assert!(at(DEFAULT_LINK) < at(&dpp) && at(&dpp) < at(&pip));
        assert!(at("\"linkset\":") < at("\"@context\":"));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["@context"], "https://example.org/context");
        assert_eq!(
            v["linkset"][0][DPP],
            json!([
                {"href": "https://a.example/1", "title": "title https://a.example/1", "type": "text/html"},
                {"href": "https://a.example/3", "title": "title https://a.example/3", "type": "text/html"}
            ])
        );
        assert_eq!(v["linkset"][0][PIP].as_array().unwrap().len(), 1);
        assert_eq!(
            v["linkset"][0][DEFAULT_LINK],
            json!([{"href": "https://a.example/1", "title": "title https://a.example/1"}])
        );
    }

    #[test]
    fn strings_that_need_escaping_come_back_unchanged() {
        let odd = "say \"hi\" \\ tab\t line\n bell\u{7} é ☃";
        let mut l = link(PIP, "https://a.example/?q=\"x\"", &[odd]);
        l.title = odd.into();
        let r = AnchorRecord {
            item_description: odd.into(),
            default_link_type: Some(PIP.into()),
            links: vec![l],
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: stored(r),
        }];
        let v: Value =
            serde_json::from_slice(&build(&levels, &|_| true, &vocab()).to_json()).unwrap();
        let object = &v["linkset"][0];
        assert_eq!(object["itemDescription"], odd);
        assert_eq!(object[PIP][0]["title"], odd);
        assert_eq!(object[PIP][0]["hreflang"], json!([odd]));
        assert_eq!(object[PIP][0]["href"], "https://a.example/?q=\"x\"");
        assert_eq!(object[DEFAULT_LINK][0]["title"], odd);
    }

    #[test]
    fn every_byte_that_needs_escaping_is_found_at_every_position() {
        let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        for len in 1..=24 {
            for at in 0..len {
                for b in 0..0x80u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(plain(&s), !needs_escape(b), "byte {b:#x} at {at} of {len}");
                }
                // Multi-byte UTF-8 (bytes 0x80 and above) never needs escaping, wherever it falls.
                let mut s = "a".repeat(len - 1);
                s.insert_str(at, "é☃\u{10FFFF}");
                assert!(plain(s.as_bytes()), "{s:?}");
            }
        }
        assert!(plain(b""));
    }

    proptest::proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(
            any in proptest::prelude::any::<String>(),
            tricky in "[ -~\t\n\r\u{0}\u{1f}\u{7f}\"\\\\é☃]{0,40}",
        ) {
            for s in [any, tricky] {
                let mut out = b"x".to_vec();
                string(&mut out, &s);
                let mut expected = b"x".to_vec();
                expected.extend(serde_json::to_vec(&s).unwrap());
                proptest::prop_assert_eq!(out, expected);
            }
        }
    }
}

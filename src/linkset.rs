//! RFC 9264 linksets in the profile both the GS1 and the UNTP 0.7 linkset schemas accept: one context object per
//! level, each with `anchor` and `itemDescription`, relation keys as full URIs (an IANA relation as its bare name),
//! spelt as the vocabulary's `emit` setting says; links of one relation in different spellings share one key.
//!
//! A link a lifecycle contributor added (`Link::contributor`) is attributed by one more context object right after
//! its level's: anchored at the link's target, with the registered relation `author` pointing at the contributor's
//! DID document (titled with the DID). Both schemas close target objects (`additionalProperties: false`), so an extra
//! target attribute would make every such linkset invalid; a context object about the target says the same within
//! them (RFC 9264 allows context objects for any anchor).
//!
//! Verified links (`crate::verification`) are shown the same way: when verification is on, each credential link's
//! state is one more context object anchored at the link's target, with the state in words as `itemDescription` and
//! IANA's `status` relation pointing at the anchor's verification resource, titled with the state (`verified`,
//! `failed`, `unreachable`, `encrypted`, `not-a-credential`, `pending`).

use crate::registry::{Link, StoredAnchor};
use serde_json::Value;
use std::sync::Arc;

use crate::verification::{AnchorVerdicts, LinkVerdict, Status};
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
    /// The verification state of each kept credential link (`Linkset::show_verification`), in `order`.
    verification: Vec<Shown>,
    /// Served by a pattern registration (`Linkset::served_by_pattern`): its links are never checked, so it shows no
    /// verification state.
    from_pattern: bool,
}

/// The verification state of one credential link, as a linkset shows it.
#[derive(Debug)]
struct Shown {
    /// Index of the link in the record.
    link: usize,
    /// The stored verdict; `None`: not checked yet (`pending`).
    verdict: Option<LinkVerdict>,
    /// The resource that represents the state: the anchor's verification in the management API.
    status_href: String,
}

/// Builds the linkset of levels ordered most specific first, keeping only links `keep` accepts.
pub fn build(
    levels: &[Level],
    keep: &dyn Fn(&Link) -> bool,
    vocabulary: &Arc<Vocabulary>,
) -> Linkset {
    build_passing_over(levels, keep, &|_, _| false, vocabulary)
}

/// As `build`, with the links scans pass over (`passed_over(level index, link)`: verified links in `enforce` mode)
/// listed as usual but never named the default link.
pub fn build_passing_over(
    levels: &[Level],
    keep: &dyn Fn(&Link) -> bool,
    passed_over: &dyn Fn(usize, &Link) -> bool,
    vocabulary: &Arc<Vocabulary>,
) -> Linkset {
    let objects = levels
        .iter()
        .enumerate()
        .map(|(i, level)| ContextObject {
            anchor: level.anchor.clone(),
            record: level.record.clone(),
            default: default_target(
                &level.record,
                &levels[i..],
                keep,
                &|j, l| passed_over(i + j, l),
                vocabulary,
            )
            .map(|l| (l.href.clone(), l.title.clone())),
            order: grouped(&level.record.record.links, keep, vocabulary),
            verification: Vec::new(),
            from_pattern: false,
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
            // In enforce mode the default target also depends on what is refused (held in memory, apart from the
            // states shown, which are read from the store): hash the one chosen.
            object.default.hash(hasher);
            if object.record.version == 0 {
                format!("{:?}", object.record.record).hash(hasher);
            }
            // The verification states shown: whether shown at all, then what each says.
            object.verification.len().hash(hasher);
            for shown in &object.verification {
                shown.link.hash(hasher);
                shown.status().hash(hasher);
                shown.status_href.hash(hasher);
                if let Some(v) = &shown.verdict {
                    (&v.reason, &v.issuer, &v.valid_until, &v.credential_type).hash(hasher);
                }
            }
        }
    }
}

/// A credential link's verification state, as the HTML view shows it beside the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The level's anchor.
    pub anchor: String,
    /// The relation key as emitted.
    pub relation: String,
    pub href: String,
    pub status: Status,
    /// The stored verdict; `None` while `pending`.
    pub verdict: Option<LinkVerdict>,
}

impl Verified {
    /// The state in words a consumer understands (`words`).
    pub fn words(&self) -> String {
        words(self.status, self.verdict.as_ref())
    }

    /// The state's headline and what follows it (`said`).
    pub fn said(&self) -> (&'static str, String) {
        said(self.status, self.verdict.as_ref())
    }
}

/// The relation of a verification context object: IANA's `status` (RFC 8631), "a resource that represents the
/// context's status", the context being the credential.
pub const STATUS: &str = "status";

impl Linkset {
    /// The anchor of each context object (one per level), in order: the anchors whose verdicts `show_verification`
    /// takes.
    pub fn anchors(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().map(|o| o.anchor.as_str())
    }

    /// Shows the verification state of each kept credential link (a link type that declares credential types,
    /// `Vocabulary::credential_types`): `verdicts` holds the stored verdicts of each context object, in the order of
    /// `anchors` (`None`: none stored, every credential link `pending`); `status_href(anchor)` is the resource that
    /// represents an anchor's verification. Each state is written as a context object after its level's (`write`).
    pub fn show_verification(
        &mut self,
        verdicts: &[Option<Arc<AnchorVerdicts>>],
        status_href: &dyn Fn(&str) -> String,
    ) {
        for (object, verdicts) in self.objects.iter_mut().zip(verdicts) {
            if object.from_pattern {
                continue;
            }
            let links = &object.record.record.links;
            object.verification = object
                .order
                .iter()
                .filter(|&&i| is_web_link(&links[i].href))
                .filter(|&&i| self.vocabulary.is_credential_type(&links[i].link_type))
                .map(|&i| Shown {
                    link: i,
                    verdict: verdicts
                        .as_deref()
                        .and_then(|v| v.verdict(&links[i].link_type, &links[i].href))
                        .cloned(),
                    status_href: status_href(&object.anchor),
                })
                .collect();
        }
    }

    /// Marks the level at `anchor` as served by a pattern registration (`crate::patterns`): what a pattern serves
    /// is expanded per request and never checked (no anchor holds it), so it shows no verification state rather
    /// than a `pending` that would never end.
    pub fn served_by_pattern(&mut self, anchor: &str) {
        for object in self.objects.iter_mut().filter(|o| o.anchor == anchor) {
            object.from_pattern = true;
        }
    }

    /// Whether any level not served by a pattern lists a credential link: only then are verdicts worth reading.
    pub fn has_credential_links(&self) -> bool {
        self.objects.iter().filter(|o| !o.from_pattern).any(|o| {
            o.order.iter().any(|&i| {
                self.vocabulary
                    .is_credential_type(&o.record.record.links[i].link_type)
            })
        })
    }

    /// The verification states shown (`show_verification`), level by level.
    pub fn verification(&self) -> Vec<Verified> {
        self.objects
            .iter()
            .flat_map(|o| o.verification.iter().map(move |shown| (o, shown)))
            .map(|(o, shown)| {
                let link = &o.record.record.links[shown.link];
                Verified {
                    anchor: o.anchor.clone(),
                    relation: self.vocabulary.emitted(&link.link_type).to_string(),
                    href: link.href.clone(),
                    status: shown.status(),
                    verdict: shown.verdict.clone(),
                }
            })
            .collect()
    }
}

impl Shown {
    fn status(&self) -> Status {
        self.verdict.as_ref().map_or(Status::Pending, |v| v.status)
    }
}

/// A verification state in words a consumer understands, and why a target did not verify: `headline` then
/// `detail`.
pub fn words(status: Status, verdict: Option<&LinkVerdict>) -> String {
    let (headline, detail) = said(status, verdict);
    format!("{headline}{detail}")
}

/// A verification state as a headline ("Verified", "Not verified", "Could not be checked just now", "Encrypted",
/// "Not checked yet") and what follows it (who signed it, or why not), which starts with its own separator.
pub fn said(status: Status, verdict: Option<&LinkVerdict>) -> (&'static str, String) {
    let field = |f: fn(&LinkVerdict) -> &Option<String>| {
        verdict
            .and_then(|v| f(v).as_deref())
            .filter(|s| !s.is_empty())
    };
    let reason = field(|v| &v.reason);
    match status {
        Status::Verified => {
            let mut detail = String::new();
            if let Some(issuer) = field(|v| &v.issuer) {
                detail.push_str(": signed by ");
                detail.push_str(issuer);
            }
            if let Some(until) = field(|v| &v.valid_until) {
                detail.push_str(if detail.is_empty() { ": " } else { ", " });
                detail.push_str("valid until ");
                detail.push_str(until);
            }
            ("Verified", detail)
        }
        Status::Failed => (
            "Not verified",
            format!(": {}", reason.unwrap_or("the credential failed a check")),
        ),
        Status::NotACredential => (
            "Not verified",
            match reason {
                Some(reason) => format!(": this address holds no verifiable credential ({reason})"),
                None => ": this address holds no verifiable credential".into(),
            },
        ),
        Status::Unreachable => (
            "Could not be checked just now",
            reason.map_or(String::new(), |r| format!(" ({r})")),
        ),
        Status::Encrypted => (
            "Encrypted",
            ": only authorised parties can read it; the resolver checked only that it is there"
                .into(),
        ),
        Status::Pending => ("Not checked yet", String::new()),
    }
}

fn is_web_link(href: &str) -> bool {
    let lower = href.get(..8).unwrap_or(href).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
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
    passed_over: &dyn Fn(usize, &Link) -> bool,
    vocabulary: &Vocabulary,
) -> Option<&'a Link> {
    let link_type = stored.record.default_link_type.as_deref()?;
    let relation = vocabulary.relation(link_type);
    // Never a link a lifecycle contributor added: the owner decides the default (as `resolution` does); never one a
    // scan passes over.
    let of_type = |(j, x): &(usize, &Link)| {
        relation.matches(&x.link_type) && x.contributor.is_none() && keep(x) && !passed_over(*j, x)
    };
    let links = || {
        from_here_up
            .iter()
            .enumerate()
            .flat_map(|(j, l)| l.record.record.links.iter().map(move |x| (j, x)))
    };
    // The latest version of the default type, not a predecessor or an action endpoint, unless that is all there is.
    links()
        .filter(of_type)
        .find(|(_, x)| x.is_redirect_target())
        .or_else(|| links().find(of_type))
        .map(|(_, x)| x)
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
        self.write_verification(out, vocabulary);
    }

    /// One context object per shown credential link, anchored at its target: `itemDescription` the state in words,
    /// `status` the resource that represents it, titled with the state (`verified`, `failed`, …). Both linkset
    /// schemas close target objects, so the state cannot be a target attribute (see the module's notes).
    fn write_verification(&self, out: &mut Vec<u8>, vocabulary: &Vocabulary) {
        let links = &self.record.record.links;
        for shown in &self.verification {
            let link = &links[shown.link];
            let curie = vocabulary
                .by_uri(&link.link_type)
                .map_or(link.link_type.as_str(), |d| d.curie.as_str());
            let description = format!(
                "{} (the {curie} link of {})",
                words(shown.status(), shown.verdict.as_ref()),
                self.anchor
            );
            out.extend_from_slice(b",{\"anchor\":");
            string(out, &link.href);
            out.extend_from_slice(b",\"itemDescription\":");
            string(out, &description);
            out.push(b',');
            string(out, STATUS);
            out.extend_from_slice(b":[{\"href\":");
            string(out, &shown.status_href);
            out.extend_from_slice(b",\"title\":");
            string(out, shown.status().as_str());
            out.extend_from_slice(b",\"type\":\"application/json\"}]}");
        }
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

    fn verdict(href: &str, status: Status) -> LinkVerdict {
        LinkVerdict {
            status,
            issuer: Some("did:web:issuer.example".into()),
            valid_until: Some("2027-06-30T00:00:00Z".into()),
            checked_at: Some("2026-12-07T03:00:00Z".into()),
            credential_type: Some("DigitalProductPassport".into()),
            reason: (status != Status::Verified)
                .then(|| "the passport is about another product".into()),
            ..LinkVerdict::pending(DPP, href)
        }
    }

    /// A GTIN with a passport, a second passport variant and a product page; `shown` verdicts on the passports.
    fn passports(verdicts: Option<Vec<LinkVerdict>>) -> Linkset {
        let r = AnchorRecord {
            item_description: "Battery".into(),
            default_link_type: Some(DPP.into()),
            links: vec![
                link(DPP, "https://c.example/dpp/en", &["en"]),
                link(PIP, "https://b.example/info", &[]),
                link(DPP, "https://c.example/dpp/fr", &["fr"]),
            ],
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: stored(r),
        }];
        let mut linkset = build(&levels, &|_| true, &vocab());
        if let Some(links) = verdicts {
            let stored = Arc::new(AnchorVerdicts { version: 1, links });
            linkset.show_verification(&[Some(stored)], &|anchor| format!("{anchor}/status"));
        }
        linkset
    }

    #[test]
    fn credential_links_show_their_state_in_a_context_object_each() {
        let linkset = passports(Some(vec![verdict(
            "https://c.example/dpp/en",
            Status::Verified,
        )]));
        let v = linkset.to_value();
        let objects = v["linkset"].as_array().unwrap();
        assert_eq!(objects.len(), 3, "the level and one per passport: {v}");
        assert_eq!(
            objects[1],
            json!({
                "anchor": "https://c.example/dpp/en",
                "itemDescription": "Verified: signed by did:web:issuer.example, valid until 2027-06-30T00:00:00Z \
                    (the untp:dpp link of https://r.example/01/1)",
                "status": [{"href": "https://r.example/01/1/status", "title": "verified", "type": "application/json"}]
            })
        );
        assert_eq!(objects[2]["anchor"], "https://c.example/dpp/fr");
        assert_eq!(
            objects[2]["status"][0]["title"], "pending",
            "no verdict yet"
        );
        assert_eq!(
            objects[2]["itemDescription"],
            "Not checked yet (the untp:dpp link of https://r.example/01/1)"
        );
        assert!(
            objects
                .iter()
                .all(|o| o["anchor"] != "https://b.example/info"),
            "a product page is no credential link: {v}"
        );
        // The level's own object is unchanged: the targets carry no extra member.
        assert_eq!(objects[0], passports(None).to_value()["linkset"][0]);
        let shown = linkset.verification();
        assert_eq!(shown.len(), 2);
        assert_eq!(
            (
                shown[0].href.as_str(),
                shown[0].status,
                shown[0].relation.as_str()
            ),
            ("https://c.example/dpp/en", Status::Verified, DPP)
        );
        assert_eq!(shown[1].status, Status::Pending);
    }

    #[test]
    fn without_verification_nothing_is_shown() {
        let linkset = passports(None);
        assert_eq!(linkset.to_value()["linkset"].as_array().unwrap().len(), 1);
        assert!(linkset.verification().is_empty());
    }

    #[test]
    fn a_changed_state_changes_the_fingerprint() {
        let digest = |linkset: &Linkset| {
            let mut hasher = std::hash::DefaultHasher::new();
            linkset.fingerprint(&mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        let en = "https://c.example/dpp/en";
        let states = [
            passports(None),
            passports(Some(vec![])),
            passports(Some(vec![verdict(en, Status::Verified)])),
            passports(Some(vec![verdict(en, Status::Failed)])),
            passports(Some(vec![verdict(en, Status::Unreachable)])),
        ];
        for (i, a) in states.iter().enumerate() {
            for b in &states[i + 1..] {
                assert_ne!(a.to_json(), b.to_json());
                assert_ne!(digest(a), digest(b));
            }
        }
        let mut reason = verdict(en, Status::Failed);
        reason.reason = Some("expired on 2026-01-01".into());
        assert_ne!(
            digest(&passports(Some(vec![reason]))),
            digest(&states[3]),
            "the reason is shown, so it counts"
        );
        assert_eq!(
            digest(&states[3]),
            digest(&passports(Some(vec![verdict(en, Status::Failed)])))
        );
    }

    /// Review of issue 26: in enforce mode the default target follows the refused index (memory), the states shown
    /// a store read; when they disagree the bodies differ by their default link alone, and so must the ETags.
    #[test]
    fn a_passed_over_default_changes_the_fingerprint() {
        let digest = |linkset: &Linkset| {
            let mut hasher = std::hash::DefaultHasher::new();
            linkset.fingerprint(&mut hasher);
            std::hash::Hasher::finish(&hasher)
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: stored(AnchorRecord {
                item_description: "Battery".into(),
                default_link_type: Some(DPP.into()),
                links: vec![
                    link(DPP, "https://c.example/dpp/en", &["en"]),
                    link(DPP, "https://c.example/dpp/fr", &["fr"]),
                ],
            }),
        }];
        let plain = build(&levels, &|_| true, &vocab());
        let passing = build_passing_over(
            &levels,
            &|_| true,
            &|_, l| l.href.ends_with("/en"),
            &vocab(),
        );
        assert_ne!(plain.to_json(), passing.to_json(), "the default link moved");
        assert_ne!(digest(&plain), digest(&passing));
    }

    #[test]
    fn every_state_has_words_a_consumer_understands() {
        let href = "https://c.example/dpp/en";
        let said = |status| words(status, Some(&verdict(href, status)));
        assert_eq!(
            said(Status::Verified),
            "Verified: signed by did:web:issuer.example, valid until 2027-06-30T00:00:00Z"
        );
        assert_eq!(
            said(Status::Failed),
            "Not verified: the passport is about another product"
        );
        assert_eq!(
            words(Status::Failed, None),
            "Not verified: the credential failed a check"
        );
        assert!(
            said(Status::NotACredential)
                .starts_with("Not verified: this address holds no verifiable credential")
        );
        assert_eq!(
            said(Status::Unreachable),
            "Could not be checked just now (the passport is about another product)"
        );
        let unreachable = LinkVerdict {
            status: Status::Unreachable,
            reason: Some("connection refused: localhost:1".into()),
            ..LinkVerdict::pending(DPP, href)
        };
        assert_eq!(
            super::said(Status::Unreachable, Some(&unreachable)),
            (
                "Could not be checked just now",
                " (connection refused: localhost:1)".to_string()
            ),
            "the headline is the state, whatever the reason holds"
        );
        assert_eq!(
            said(Status::Encrypted),
            "Encrypted: only authorised parties can read it; the resolver checked only that it is there"
        );
        assert_eq!(words(Status::Pending, None), "Not checked yet");
        let unsigned = LinkVerdict {
            status: Status::Verified,
            ..LinkVerdict::pending(DPP, href)
        };
        assert_eq!(words(Status::Verified, Some(&unsigned)), "Verified");
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

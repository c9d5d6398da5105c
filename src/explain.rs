//! `idr resolve <URI>`: what the resolver would answer for a request, and why: the levels of the walk-up and what
//! each holds, the link type looked for, how negotiation scored its candidates, and the answer.

use crate::identifier::Parser;
use crate::registry::{AnchorStore, Link, StoreError};
use crate::resolution::{self, Delegations, LinkTypeQuery, Outcome, Query};
use crate::verification::{AnchorVerdicts, Verification};
use crate::vocabulary::Vocabulary;
use std::fmt::Write;

/// A request to explain: an absolute URI or a path with its query, plus the negotiation headers.
pub struct Request<'a> {
    pub uri: &'a str,
    pub accept: Option<&'a str>,
    pub accept_language: Option<&'a str>,
}

pub struct Context<'a> {
    pub store: &'a dyn AnchorStore,
    pub parser: &'a Parser,
    pub vocabulary: &'a std::sync::Arc<Vocabulary>,
    pub delegations: &'a Delegations,
    pub root: &'a str,
}

/// The explanation, as lines of text, with verification not enforced.
pub async fn explain(cx: &Context<'_>, request: &Request<'_>) -> Result<String, StoreError> {
    explain_verified(cx, request, None).await
}

/// Where `explain` reads stored verdicts (`Verification::verdicts`; tests stand in for it).
#[async_trait::async_trait]
pub trait Verdicts: Sync {
    /// The stored verdicts of each anchor (canonical paths), in order.
    async fn verdicts(
        &self,
        anchors: &[&str],
    ) -> Result<Vec<Option<std::sync::Arc<AnchorVerdicts>>>, StoreError>;
}

#[async_trait::async_trait]
impl Verdicts for Verification {
    async fn verdicts(
        &self,
        anchors: &[&str],
    ) -> Result<Vec<Option<std::sync::Arc<AnchorVerdicts>>>, StoreError> {
        Verification::verdicts(self, anchors).await
    }
}

/// Which part of the explanation a line is (the console shows parts by the caller's scopes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Request,
    Decompressed,
    Identifier,
    /// The heading of the levels.
    Levels,
    /// One level (`Line::level`) and what it holds.
    Level,
    AskedFor,
    /// A target of a level (`Line::level`) a scan passes over.
    PassedOver,
    /// The candidates' heading and each candidate, at a level (`Line::level`), or that no level holds any.
    Candidates,
    Answer,
}

/// One line of the explanation, with the part it belongs to and the level it is about, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub part: Part,
    /// The canonical path of the level the line shows, for lines about one level.
    pub level: Option<String>,
    pub text: String,
}

/// The explanation being written: whole lines, each tagged with the part and level set before it was written.
struct Out {
    lines: Vec<Line>,
    part: Part,
    level: Option<String>,
    partial: String,
}

impl Out {
    fn at(&mut self, part: Part, level: Option<&str>) -> &mut Self {
        self.part = part;
        self.level = level.map(str::to_string);
        self
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for piece in s.split_inclusive('\n') {
            match piece.strip_suffix('\n') {
                Some(end) => {
                    self.partial.push_str(end);
                    self.lines.push(Line {
                        part: self.part,
                        level: self.level.clone(),
                        text: std::mem::take(&mut self.partial),
                    });
                }
                None => self.partial.push_str(piece),
            }
        }
        Ok(())
    }
}

/// The explanation, as lines of text, as a server in `verification.mode = enforce` answers when `verdicts` is given
/// (the caller gives it only in that mode): the stored verdicts of the request's levels decide which targets a scan
/// passes over (as the server's in-memory copy of them does), and each one passed over is named with the reason.
pub async fn explain_verified(
    cx: &Context<'_>,
    request: &Request<'_>,
    verdicts: Option<&dyn Verdicts>,
) -> Result<String, StoreError> {
    let lines = explain_lines(cx, request, verdicts).await?;
    Ok(lines.iter().map(|l| format!("{}\n", l.text)).collect())
}

/// `explain_verified`, line by line, each line tagged with its part and level.
pub async fn explain_lines(
    cx: &Context<'_>,
    request: &Request<'_>,
    verdicts: Option<&dyn Verdicts>,
) -> Result<Vec<Line>, StoreError> {
    let mut out = Out {
        lines: Vec::new(),
        part: Part::Request,
        level: None,
        partial: String::new(),
    };
    let (path, raw_query) = split_uri(request.uri);
    let _ = writeln!(
        out,
        "request: GET {path}{}",
        if raw_query.is_empty() {
            String::new()
        } else {
            format!("?{raw_query}")
        }
    );
    let parsed = match cx.parser.parse_request(&path, &raw_query) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = writeln!(out.at(Part::Answer, None), "answer: 400 Bad Request: {e}");
            return Ok(out.lines);
        }
    };
    let id = &parsed.identifier;
    if parsed.compressed {
        // Processed in place, as the uncompressed URI (which `owl:sameAs` names).
        let query = parsed.query.as_deref().unwrap_or(&raw_query);
        let form = match parsed.epc {
            Some(epc) => format!(
                "an EPC binary string, {} (header 0x{:02X})",
                epc.name, epc.header
            ),
            None => "a compressed GS1 Digital Link URI".to_string(),
        };
        let _ = writeln!(
            out.at(Part::Decompressed, None),
            "decompressed: the last path segment is {form}; uncompressed: {}{}{query}",
            id.uri_under(cx.root),
            if query.is_empty() { "" } else { "?" }
        );
    }
    let raw_query = parsed.query.clone().unwrap_or(raw_query);
    let _ = writeln!(
        out.at(Part::Identifier, None),
        "identifier: {} (scheme {}; anchor {}/{})",
        id.canonical_path(),
        id.scheme().namespace,
        cx.root,
        id.public_path()
    );
    let query = Query::from_parts(
        &raw_query,
        request.accept,
        request.accept_language,
        cx.vocabulary,
    );
    let levels = id.levels();
    let paths: Vec<&str> = levels.iter().map(|l| l.canonical_path()).collect();
    let records = cx.store.get_many(&paths).await?;
    let _ = writeln!(
        out.at(Part::Levels, None),
        "levels (most specific first, read in one store round trip):"
    );
    for (path, record) in paths.iter().zip(&records) {
        let state = match record {
            None => "nothing registered".to_string(),
            Some(r) => format!(
                "version {}, {} links, default link type {}",
                r.version,
                r.record.links.len(),
                r.record
                    .default_link_type
                    .as_deref()
                    .map_or("(inherited)".into(), |t| curie(cx.vocabulary, t))
            ),
        };
        let _ = writeln!(out.at(Part::Level, Some(path)), "  {path:<50} {state}");
    }
    let wanted = match &query.link_type {
        LinkTypeQuery::Default => records
            .iter()
            .flatten()
            .find_map(|r| r.record.default_link_type.clone()),
        LinkTypeQuery::Type(uri) => Some(uri.clone()),
        LinkTypeQuery::Linkset | LinkTypeQuery::Unknown(_) => None,
    };
    let _ = writeln!(
        out.at(Part::AskedFor, None),
        "asked for: {}",
        describe_query(&query, cx.vocabulary)
    );
    let verdicts = match verdicts {
        Some(source) => Some(source.verdicts(&paths).await?),
        None => None,
    };
    let refusal = |anchor: &str, link: &Link| -> Option<String> {
        let at = paths.iter().position(|p| *p == anchor)?;
        let verdicts = verdicts.as_ref()?.get(at)?.as_deref()?;
        let verdict = verdicts.verdict(&link.link_type, &link.href)?;
        verdict
            .status
            .is_refused()
            .then(|| crate::linkset::words(verdict.status, Some(verdict)))
    };
    let pass_over = |anchor: &str, link_type: &str, href: &str| {
        let Some(at) = paths.iter().position(|p| *p == anchor) else {
            return false;
        };
        verdicts
            .as_ref()
            .and_then(|v| v.get(at)?.as_deref()?.verdict(link_type, href))
            .is_some_and(|v| v.status.is_refused())
    };
    let resolved = resolution::resolve(
        cx.store,
        id,
        &query,
        cx.root,
        cx.delegations,
        verdicts
            .is_some()
            .then_some(&pass_over as resolution::PassOver<'_>),
    )
    .await?;
    if verdicts.is_some() {
        passed_over(&mut out, cx, &paths, &records, &refusal);
    }
    if let Some(link_type) = wanted.filter(|_| !query.accept_linkset) {
        candidates(
            &mut out,
            cx,
            &query,
            &levels,
            &records,
            &link_type,
            &resolved.outcome,
        );
    }
    let _ = writeln!(
        out.at(Part::Answer, None),
        "answer: {}",
        answer(&resolved.outcome, &raw_query)
    );
    Ok(out.lines)
}

fn candidates(
    out: &mut Out,
    cx: &Context<'_>,
    query: &Query,
    levels: &[crate::identifier::Identifier],
    records: &[Option<std::sync::Arc<crate::registry::StoredAnchor>>],
    link_type: &str,
    outcome: &Outcome,
) {
    let chosen = match outcome {
        Outcome::Redirect { href, .. } => Some(href.as_str()),
        _ => None,
    };
    let found = levels.iter().zip(records).find_map(|(level, r)| {
        let links: Vec<&Link> = r
            .as_ref()?
            .record
            .links
            .iter()
            .filter(|l| cx.vocabulary.matches(link_type, &l.link_type))
            .collect();
        (!links.is_empty()).then_some((level, links))
    });
    let Some((level, links)) = found else {
        let _ = writeln!(
            out.at(Part::Candidates, None),
            "no level holds {} links",
            curie(cx.vocabulary, link_type)
        );
        return;
    };
    out.at(Part::Candidates, Some(level.canonical_path()));
    let _ = writeln!(
        out,
        "candidates of type {} at {} (first best wins; the publisher's order breaks ties):",
        curie(cx.vocabulary, link_type),
        level.canonical_path()
    );
    for link in links {
        let mark = if Some(link.href.as_str()) == chosen {
            "→"
        } else {
            " "
        };
        let note = if link.is_redirect_target() {
            ""
        } else {
            " (listed only: earlier version or action)"
        };
        let _ = writeln!(
            out,
            "  {mark} {} [type {}, hreflang {}, context {}] {}{note}",
            link.href,
            link.media_type.as_deref().unwrap_or("-"),
            if link.hreflang.is_empty() {
                "-".into()
            } else {
                link.hreflang.join(",")
            },
            if link.context.is_empty() {
                "-".into()
            } else {
                link.context.join(",")
            },
            query.preferences.describe(link)
        );
    }
}

/// Each target a scan passes over (`verification.mode = enforce`), level by level, and why.
fn passed_over(
    out: &mut Out,
    cx: &Context<'_>,
    paths: &[&str],
    records: &[Option<std::sync::Arc<crate::registry::StoredAnchor>>],
    refusal: &dyn Fn(&str, &Link) -> Option<String>,
) {
    for (path, record) in paths.iter().zip(records) {
        let links = record.iter().flat_map(|r| r.record.links.iter());
        for link in links {
            if let Some(why) = refusal(path, link) {
                let _ = writeln!(
                    out.at(Part::PassedOver, Some(path)),
                    "passed over: {} ({} at {path}): its credential failed verification ({why})",
                    link.href,
                    curie(cx.vocabulary, &link.link_type)
                );
            }
        }
    }
}

fn describe_query(q: &Query, vocab: &Vocabulary) -> String {
    let what = match &q.link_type {
        LinkTypeQuery::Default => "the default link".to_string(),
        LinkTypeQuery::Linkset => "the linkset".to_string(),
        LinkTypeQuery::Type(uri) => format!("link type {}", curie(vocab, uri)),
        LinkTypeQuery::Unknown(t) => format!("link type {t:?}, which no vocabulary knows"),
    };
    if q.accept_linkset {
        format!("{what} (Accept asks for the linkset)")
    } else {
        what
    }
}

fn answer(outcome: &Outcome, raw_query: &str) -> String {
    match outcome {
        Outcome::Redirect {
            href,
            forward_query: true,
        } => format!(
            "307 Location: {}",
            crate::resolution::forward_query(href, raw_query)
        ),
        Outcome::Redirect { href, .. } => {
            format!("307 Location: {href} (the link's fwqs is false)")
        }
        Outcome::Delegated { target } => format!("307 to another resolver (handledBy): {target}"),
        Outcome::Linkset(body) => format!("200 linkset with {} context objects", body.len()),
        Outcome::MultipleChoices(_) => "300 Multiple Choices (indistinguishable links)".into(),
        Outcome::UnknownIdentifier => "404: nothing is registered at any level".into(),
        Outcome::NoSuchLinkType(t) => format!("404: no link of type {t} at any level"),
    }
}

fn curie(vocab: &Vocabulary, uri: &str) -> String {
    vocab
        .by_uri(uri)
        .map_or(uri.to_string(), |d| d.curie.clone())
}

/// The origin anchors are printed under, and why that one: the configured root when there is one (the server uses it
/// whatever a request's Host says), else the URI's own origin (as the server would take it from the Host), else
/// `http://localhost` for a bare path.
pub fn origin(fixed_root: Option<&str>, uri: &str) -> (String, String) {
    let own = origin_of(uri);
    match (fixed_root, own) {
        (Some(root), Some(own)) if origin_of(root).as_deref() != Some(own.as_str()) => (
            root.to_string(),
            format!(
                "resolver.resolver_root; the server answers under it whatever the request's host, not {own}"
            ),
        ),
        (Some(root), _) => (root.to_string(), "resolver.resolver_root".into()),
        (None, Some(own)) => (own, "the URI's origin".into()),
        (None, None) => (
            "http://localhost".into(),
            "a path has no origin: give an absolute URI or set resolver.resolver_root".into(),
        ),
    }
}

/// `https://id.example.com:8443` of an absolute http(s) URI.
fn origin_of(uri: &str) -> Option<String> {
    url::Url::parse(uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .map(|u| u.origin().ascii_serialization())
}

/// `https://id.example.com/01/…?x=1` or `/01/…?x=1` → (path, raw query).
fn split_uri(uri: &str) -> (String, String) {
    let rest = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            after.find('/').map_or("/", |p| &after[p..])
        }
        None => uri,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (rest.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::embedded::EmbeddedStore;
    use crate::registry::{AnchorRecord, Precondition};
    use crate::verification::{LinkVerdict, Status};
    use std::sync::Arc;

    const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

    /// Verdicts held in memory, by anchor.
    struct Held(Vec<(&'static str, AnchorVerdicts)>);

    #[async_trait::async_trait]
    impl Verdicts for Held {
        async fn verdicts(
            &self,
            anchors: &[&str],
        ) -> Result<Vec<Option<Arc<AnchorVerdicts>>>, StoreError> {
            Ok(anchors
                .iter()
                .map(|a| {
                    let held = self.0.iter().find(|(path, _)| path == a);
                    held.map(|(_, v)| Arc::new(v.clone()))
                })
                .collect())
        }
    }

    fn passport(href: &str, language: &str) -> Link {
        Link {
            link_type: DPP.into(),
            href: href.into(),
            title: "Passport".into(),
            media_type: Some("application/vc+jwt".into()),
            hreflang: vec![language.into()],
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: false,
            id: None,
            contributor: None,
        }
    }

    #[tokio::test]
    async fn a_target_passed_over_is_named_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (good, forged) = ("https://c.example/dpp/fr", "https://c.example/dpp/en");
        let record = AnchorRecord {
            item_description: "Battery".into(),
            default_link_type: Some(DPP.into()),
            links: vec![passport(forged, "en"), passport(good, "fr")],
        };
        store
            .put("01/09520123456788", record, Precondition::None, "test")
            .await
            .unwrap();
        let parser = Parser::embedded().unwrap();
        let vocabulary = Arc::new(Vocabulary::embedded());
        let delegations = Delegations::default();
        let cx = Context {
            store: &store,
            parser: &parser,
            vocabulary: &vocabulary,
            delegations: &delegations,
            root: "https://id.example.com",
        };
        let request = Request {
            uri: "https://id.example.com/01/09520123456788",
            accept: None,
            accept_language: Some("en"),
        };
        let failed = LinkVerdict {
            status: Status::Failed,
            reason: Some("the passport is about another product".into()),
            ..LinkVerdict::pending(DPP, forged)
        };
        let held = Held(vec![(
            "01/09520123456788",
            AnchorVerdicts {
                version: 1,
                links: vec![failed],
            },
        )]);
        let plain = explain(&cx, &request).await.unwrap();
        assert!(
            plain.contains(&format!("answer: 307 Location: {forged}")),
            "{plain}"
        );
        assert!(!plain.contains("passed over"), "{plain}");
        let enforced = explain_verified(&cx, &request, Some(&held)).await.unwrap();
        assert!(
            enforced.contains(&format!(
                "passed over: {forged} (untp:dpp at 01/09520123456788): its credential failed verification \
                 (Not verified: the passport is about another product)"
            )),
            "{enforced}"
        );
        assert!(
            enforced.contains(&format!("answer: 307 Location: {good}")),
            "{enforced}"
        );
    }

    #[test]
    fn anchors_take_the_configured_root_else_the_uri_origin() {
        let uri = "https://id.example.com:8443/01/09520123456788?linkType=all";
        assert_eq!(super::origin(None, uri).0, "https://id.example.com:8443");
        assert_eq!(
            super::origin(None, "/01/09520123456788").0,
            "http://localhost"
        );
        let (root, why) = super::origin(Some("https://other.example/dl"), uri);
        assert_eq!(root, "https://other.example/dl");
        assert!(why.contains("not https://id.example.com:8443"), "{why}");
        let (root, why) = super::origin(Some("https://id.example.com:8443"), uri);
        assert_eq!(
            (root.as_str(), why.as_str()),
            ("https://id.example.com:8443", "resolver.resolver_root")
        );
    }

    #[test]
    fn uris_split_into_path_and_raw_query() {
        assert_eq!(
            super::split_uri("https://id.example.com/01/09520123456788?linkType=gs1:pip#x"),
            ("/01/09520123456788".into(), "linkType=gs1:pip".into())
        );
        assert_eq!(
            super::split_uri("/01/1/10/A%2FB"),
            ("/01/1/10/A%2FB".into(), String::new())
        );
        assert_eq!(
            super::split_uri("https://id.example.com"),
            ("/".into(), String::new())
        );
    }
}

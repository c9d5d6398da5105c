//! Content negotiation among links of one type: `context`, `Accept-Language` (q-values, RFC 4647 lookup
//! fallback), then `Accept` media types.

use crate::registry::Link;

/// The client's stated preferences, parsed once per request.
#[derive(Clone, Debug, Default)]
pub struct Preferences {
    /// Lower-cased language ranges with q in thousandths, q > 0 only.
    languages: Vec<(String, u32)>,
    /// Lower-cased media ranges with q in thousandths, q > 0 only.
    media: Vec<(String, u32)>,
    context: Option<String>,
}

/// The outcome of choosing among candidate links.
#[derive(Debug, PartialEq, Eq)]
pub enum Choice<'a> {
    One(&'a Link),
    /// Indistinguishable candidates (same media type, languages and context): `300 Multiple Choices`.
    Tie(Vec<&'a Link>),
}

impl Preferences {
    pub fn new(accept_language: Option<&str>, accept: Option<&str>, context: Option<&str>) -> Self {
        Preferences {
            languages: accept_language.map(parse_weighted).unwrap_or_default(),
            media: accept.map(parse_weighted).unwrap_or_default(),
            context: context
                .filter(|c| !c.is_empty())
                .map(str::to_ascii_lowercase),
        }
    }

    /// The best candidate; a link a lifecycle contributor added only when the owner has no target among them. Among equally good candidates the publisher's order decides (the first registered is the
    /// default variant; an owner's link before any a lifecycle contributor added), unless the first one has an indistinguishable twin and `ties_allowed`, which is a true tie.
    pub fn choose<'a>(&self, candidates: &[&'a Link], ties_allowed: bool) -> Option<Choice<'a>> {
        // Old versions and action endpoints are chosen only when nothing else of the type exists; links lifecycle
        // contributors added only when the owner has no target of the type (they rank after every owner link, so a
        // contributor cannot take the owner's scans by a better-matching language or media type).
        let owners: Vec<&'a Link> = candidates
            .iter()
            .copied()
            .filter(|l| l.is_redirect_target() && l.contributor.is_none())
            .collect();
        let targets: Vec<&'a Link> = if owners.is_empty() {
            candidates
                .iter()
                .copied()
                .filter(|l| l.is_redirect_target())
                .collect()
        } else {
            owners
        };
        let pool = if targets.is_empty() {
            candidates
        } else {
            &targets
        };
        let scores: Vec<Score> = pool.iter().map(|l| self.score(l)).collect();
        let best = *scores.iter().max()?;
        let winners: Vec<&'a Link> = pool
            .iter()
            .zip(&scores)
            .filter(|(_, s)| **s == best)
            .map(|(l, _)| *l)
            .collect();
        // The owner's links before those lifecycle contributors added, whatever the stored order.
        let first = *winners
            .iter()
            .find(|l| l.contributor.is_none())
            .or(winners.first())?;
        let twins: Vec<&Link> = std::iter::once(first)
            .chain(winners.iter().copied().filter(|l| {
                !std::ptr::eq(*l, first)
                    && l.negotiation_attributes() == first.negotiation_attributes()
            }))
            .collect();
        if ties_allowed && twins.len() > 1 {
            Some(Choice::Tie(twins))
        } else {
            Some(Choice::One(first))
        }
    }

    /// How well a link matches, for `idr resolve`'s explanation: context, language and media scores (q × 1000).
    pub fn describe(&self, link: &Link) -> String {
        let s = self.score(link);
        format!(
            "context {} · language {} · media {}",
            s.context, s.language, s.media
        )
    }

    fn score(&self, link: &Link) -> Score {
        let context = match &self.context {
            Some(c) => link.context.iter().any(|x| x.eq_ignore_ascii_case(c)) as u32,
            None => 0,
        };
        let language = link
            .hreflang
            .iter()
            .map(|t| self.language_score(t))
            .max()
            .unwrap_or(0);
        let media = link
            .media_type
            .as_deref()
            .map(|t| self.media_score(t))
            .unwrap_or(0);
        Score {
            context,
            language,
            media,
        }
    }

    fn language_score(&self, tag: &str) -> u32 {
        self.languages
            .iter()
            .map(|(range, q)| q * language_match(range, tag))
            .max()
            .unwrap_or(0)
    }

    fn media_score(&self, media_type: &str) -> u32 {
        self.media
            .iter()
            .map(|(range, q)| q * media_match(range, media_type))
            .max()
            .unwrap_or(0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    context: u32,
    language: u32,
    media: u32,
}

/// How well a language range matches a link's tag, 0-100.
fn language_match(range: &str, tag: &str) -> u32 {
    if range == "*" {
        return 1;
    }
    if range.eq_ignore_ascii_case(tag) {
        return 100;
    }
    // RFC 4647 lookup: truncate the range (`de-ch` -> `de`) until it equals the tag.
    let mut r = range;
    while let Some(cut) = r.rfind('-') {
        r = &r[..cut];
        // A trailing singleton (the `x` of `-x-foo`) goes with the subtag it introduced.
        if r.len() >= 2 && r.as_bytes()[r.len() - 2] == b'-' {
            r = &r[..r.len() - 2];
        }
        if r.eq_ignore_ascii_case(tag) {
            return 90;
        }
    }
    // Basic filtering: range `de` covers tag `de-CH`.
    let covers = tag.len() > range.len()
        && tag.as_bytes()[range.len()] == b'-'
        && tag[..range.len()].eq_ignore_ascii_case(range);
    if covers { 80 } else { 0 }
}

/// How well a media range matches a link's media type, 0-100.
fn media_match(range: &str, media_type: &str) -> u32 {
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    if range.eq_ignore_ascii_case(media_type) {
        return 100;
    }
    match range.split_once('/') {
        Some(("*", "*")) => 1,
        Some((main, "*")) => {
            let same = media_type
                .split('/')
                .next()
                .is_some_and(|m| m.eq_ignore_ascii_case(main));
            if same { 50 } else { 0 }
        }
        _ => 0,
    }
}

/// Whether the client asks for the linkset itself (`Accept: application/linkset+json` with q > 0).
pub fn wants_linkset(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| lists_linkset(&parse_weighted(a)))
}

fn lists_linkset(media: &[(String, u32)]) -> bool {
    media.iter().any(|(m, _)| m == LINKSET)
}

const LINKSET: &str = "application/linkset+json";
const JSON_LD: &str = "application/ld+json";

/// The answers about a linkset's form, from the `Accept` already parsed for choosing among links: a linkset request
/// asks all three, and need not parse the header again for each (docs/performance.md).
impl Preferences {
    /// `Accept` lists `application/linkset+json` with q > 0.
    pub fn wants_linkset(&self) -> bool {
        lists_linkset(&self.media)
    }

    /// Whether a linkset should be served as JSON-LD: `application/ld+json` is preferred over
    /// `application/linkset+json` (ties go to the order in the header).
    pub fn prefers_json_ld(&self) -> bool {
        self.first_of(&[JSON_LD, LINKSET]) == Some(JSON_LD)
    }

    /// Whether a linkset should be served as an HTML page: `text/html` is preferred over every JSON form (ties go to
    /// the order in the header). Browsers ask this way; `*/*` alone does not, so command-line clients keep getting
    /// JSON.
    pub fn prefers_html(&self) -> bool {
        const HTML: &str = "text/html";
        self.first_of(&[HTML, "application/json", LINKSET, JSON_LD]) == Some(HTML)
    }

    /// The first of `types` in order of preference.
    fn first_of(&self, types: &[&str]) -> Option<&str> {
        self.media
            .iter()
            .map(|(m, _)| m.as_str())
            .find(|m| types.contains(m))
    }
}

/// Parses `a, b;q=0.5, c;q=0` into lower-cased values with q in thousandths, dropping q=0, highest q first.
fn parse_weighted(header: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let value = parts.next()?.trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .map(parse_q)
                .next()
                .unwrap_or(Some(1000))?;
            (!value.is_empty() && q > 0).then_some((value, q))
        })
        .collect();
    out.sort_by_key(|(_, q)| std::cmp::Reverse(*q));
    out
}

/// `1`, `0.5`, `0.125` → thousandths; anything malformed → `None` (the item is ignored).
fn parse_q(s: &str) -> Option<u32> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let thousandths = format!("{frac:0<3}").parse::<u32>().ok()?;
    let q = whole + thousandths;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(href: &str, lang: &[&str], media: Option<&str>, context: &[&str]) -> Link {
        Link {
            link_type: "https://gs1.org/voc/pip".into(),
            href: href.into(),
            title: href.into(),
            media_type: media.map(Into::into),
            hreflang: lang.iter().map(|s| s.to_string()).collect(),
            context: context.iter().map(|s| s.to_string()).collect(),
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: true,
            id: None,
            contributor: None,
        }
    }

    fn pick<'a>(p: &Preferences, links: &'a [Link], ties: bool) -> Choice<'a> {
        let refs: Vec<&Link> = links.iter().collect();
        p.choose(&refs, ties).unwrap()
    }

    fn href(c: Choice<'_>) -> &str {
        match c {
            Choice::One(l) => &l.href,
            Choice::Tie(_) => "TIE",
        }
    }

    #[test]
    fn language_lookup_falls_back_from_region() {
        let links = [
            link("en", &["en"], None, &[]),
            link("de", &["de"], None, &[]),
        ];
        let p = Preferences::new(Some("de-CH, de;q=0.9, en;q=0.5"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "de");
        let p = Preferences::new(Some("en-GB,de;q=0.8"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "en");
        let p = Preferences::new(Some("DE"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "de");
    }

    #[test]
    fn no_match_falls_back_to_the_first_registered_variant() {
        let links = [
            link("en", &["en"], None, &[]),
            link("de", &["de"], None, &[]),
        ];
        for header in [Some("fr"), None, Some("garbage;q=x")] {
            let p = Preferences::new(header, None, None);
            assert_eq!(pick(&p, &links, true), Choice::One(&links[0]), "{header:?}");
        }
    }

    #[test]
    fn q_values_order_preferences() {
        let links = [
            link("en", &["en"], None, &[]),
            link("de", &["de"], None, &[]),
        ];
        let p = Preferences::new(Some("en;q=0.2, de;q=0.7"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "de");
        let p = Preferences::new(Some("en;q=0, de;q=0.001"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "de");
    }

    #[test]
    fn region_tags_are_covered_by_a_bare_range() {
        let links = [
            link("en", &["en"], None, &[]),
            link("pt", &["pt-BR"], None, &[]),
        ];
        let p = Preferences::new(Some("pt"), None, None);
        assert_eq!(href(pick(&p, &links, true)), "pt");
    }

    #[test]
    fn identical_attributes_are_a_true_tie_only_when_allowed() {
        let links = [
            link("a", &["en"], Some("video/mp4"), &[]),
            link("b", &["en"], Some("video/mp4"), &[]),
        ];
        let p = Preferences::new(None, None, None);
        match pick(&p, &links, true) {
            Choice::Tie(t) => assert_eq!(t.len(), 2),
            other => panic!("expected a tie, got {other:?}"),
        }
        assert_eq!(pick(&p, &links, false), Choice::One(&links[0]));
    }

    #[test]
    fn previous_versions_and_actions_are_not_redirect_targets() {
        let mut old = link("v1", &["en"], Some("application/vc+jwt"), &[]);
        old.rel = vec!["predecessor-version".into()];
        let mut edit = link("edit", &["en"], Some("application/vc+jwt"), &[]);
        edit.method = vec!["POST".into()];
        let latest = link("v2", &["en"], Some("application/vc+jwt"), &[]);
        let links = [old.clone(), edit, latest];
        let p = Preferences::new(None, None, None);
        assert_eq!(
            href(pick(&p, &links, true)),
            "v2",
            "no 300, and the latest version wins"
        );
        let only_old = [old];
        assert_eq!(
            href(pick(&p, &only_old, true)),
            "v1",
            "better an old version than nothing"
        );
    }

    #[test]
    fn links_for_different_roles_are_not_twins() {
        let mut customer = link("c", &["en"], None, &[]);
        customer.access_role = vec!["untp:accessRole#Customer".into()];
        let anyone = link("a", &["en"], None, &[]);
        let links = [customer, anyone];
        assert_eq!(
            href(pick(&Preferences::new(None, None, None), &links, true)),
            "c"
        );
    }

    #[test]
    fn context_then_media_type_decide() {
        let links = [
            link("html", &["en"], Some("text/html"), &["us"]),
            link("json", &["en"], Some("application/ld+json"), &["eu"]),
        ];
        let p = Preferences::new(None, None, Some("EU"));
        assert_eq!(href(pick(&p, &links, true)), "json");
        let p = Preferences::new(None, Some("application/ld+json"), None);
        assert_eq!(href(pick(&p, &links, true)), "json");
        let p = Preferences::new(None, Some("text/*"), None);
        assert_eq!(href(pick(&p, &links, true)), "html");
    }

    fn prefers_json_ld(accept: Option<&str>) -> bool {
        Preferences::new(None, accept, None).prefers_json_ld()
    }

    fn prefers_html(accept: Option<&str>) -> bool {
        Preferences::new(None, accept, None).prefers_html()
    }

    #[test]
    fn json_ld_only_when_preferred() {
        assert!(prefers_json_ld(Some("application/ld+json")));
        assert!(prefers_json_ld(Some(
            "application/linkset+json;q=0.5, application/ld+json"
        )));
        assert!(!prefers_json_ld(Some(
            "application/linkset+json, application/ld+json"
        )));
        assert!(!prefers_json_ld(Some("text/html")));
        assert!(!prefers_json_ld(None));
    }

    #[test]
    fn html_only_when_preferred_over_json() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(prefers_html(Some(browser)));
        assert!(prefers_html(Some("TEXT/HTML")));
        assert!(prefers_html(Some(
            "application/linkset+json;q=0.5, text/html"
        )));
        assert!(prefers_html(Some("text/html, application/json")));
        assert!(!prefers_html(Some("application/json, text/html")));
        assert!(!prefers_html(Some(
            "text/html;q=0.4, application/linkset+json"
        )));
        assert!(!prefers_html(Some("text/html;q=0.5, application/ld+json")));
        assert!(!prefers_html(Some("text/html;q=0")));
        assert!(!prefers_html(Some("*/*")));
        assert!(!prefers_html(None));
    }

    #[test]
    fn linkset_is_requested_only_with_positive_q() {
        let parsed = |a: &str| Preferences::new(None, Some(a), None).wants_linkset();
        for accept in [
            "application/linkset+json",
            "text/html, application/linkset+json;q=0.5",
            "application/linkset+json;q=0",
            "application/json",
        ] {
            assert_eq!(parsed(accept), wants_linkset(Some(accept)), "{accept}");
        }
        assert!(wants_linkset(Some("application/linkset+json")));
        assert!(wants_linkset(Some(
            "text/html, application/linkset+json;q=0.5"
        )));
        assert!(!wants_linkset(Some("application/linkset+json;q=0")));
        assert!(!wants_linkset(Some("application/json")));
        assert!(!wants_linkset(None));
    }

    #[test]
    fn q_parsing() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
        assert_eq!(parse_q("x"), None);
    }
}

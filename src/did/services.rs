//! A DID document's services as typed links (UNTP: `service.id` is the anchor plus a fragment, `service.type` the
//! link type, `serviceEndpoint` the link target object), and the choice among them for one request.
//!
//! Output must validate against the UNTP 0.7 linkset schema, so only what it accepts is carried over: relation
//! keys that are known link types (emitted as their canonical URI), lowercase registered-style names (`linkset`) or
//! http(s) URIs of letters, digits, `.` and `/`; targets with an http(s) `href`; `hreflang` values of the form `ll`
//! or `ll-cc`; `type` values that look like media types. A service whose types are none of these is left out of the
//! linkset but can still be chosen by `?service=`.

use crate::linkset::target_object;
use crate::negotiate::{Choice, Preferences};
use crate::registry::Link;
use crate::vocabulary::{self, Vocabulary};
use serde_json::{Map, Value, json};
use ssi::dids::Document;
use ssi::dids::document::service::{Endpoint, Service};

/// The link type a request gets when it names none, if the document has it: UNTP's product passport.
pub const DEFAULT_TYPE: &str = "untp:dpp";

/// One endpoint of one service, under one of the service's types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceLink {
    /// The whole service id, e.g. `did:web:example.com#dpp`.
    pub service_id: String,
    /// What follows `#` in the service id (the whole id when there is no `#`); `?service=` matches it.
    pub fragment: String,
    /// The linkset relation key, `None` when no type of the service can be one.
    pub relation: Option<String>,
    /// The target; `link_type` holds the relation key (empty when there is none).
    pub link: Link,
}

/// Every usable endpoint of every service, in document order.
pub fn links(document: &Document, vocab: &Vocabulary) -> Vec<ServiceLink> {
    document
        .service
        .iter()
        .flat_map(|s| service_links(s, vocab))
        .collect()
}

fn service_links(service: &Service, vocab: &Vocabulary) -> Vec<ServiceLink> {
    let service_id = service.id.as_str().to_string();
    let fragment = service_id
        .split_once('#')
        .map_or(service_id.as_str(), |(_, f)| f)
        .to_string();
    let mut relations: Vec<(Option<String>, Option<String>)> = service
        .type_
        .as_slice()
        .iter()
        .filter_map(|t| relation(t, vocab))
        .map(|(key, title)| (Some(key), title))
        .collect();
    if relations.is_empty() {
        relations.push((None, None));
    }
    let endpoints = service
        .service_endpoint
        .as_ref()
        .map_or(&[][..], |e| e.as_slice());
    let mut out = Vec::new();
    for endpoint in endpoints {
        let Some(target) = target(endpoint) else {
            continue;
        };
        for (relation, type_title) in &relations {
            let mut link = target.clone();
            link.link_type = relation.clone().unwrap_or_default();
            if link.title.is_empty() {
                link.title = type_title.clone().unwrap_or_else(|| fragment.clone());
            }
            out.push(ServiceLink {
                service_id: service_id.clone(),
                fragment: fragment.clone(),
                relation: relation.clone(),
                link,
            });
        }
    }
    out
}

/// The relation key (and the vocabulary's title) for a service type, if a linkset can carry it.
fn relation(service_type: &str, vocab: &Vocabulary) -> Option<(String, Option<String>)> {
    match vocab.lookup(service_type) {
        // defaultLink is derived, never published as a type of its own.
        Some(def) if vocabulary::is_default_link(&def.uri) => None,
        // IANA's registry names relations without titles: the service's own name says more.
        Some(def) if def.prefix() == "iana" => Some((vocab.emitted(&def.uri).to_string(), None)),
        Some(def) => Some((vocab.emitted(&def.uri).to_string(), Some(def.title.clone()))),
        None if is_schema_relation(service_type) => Some((service_type.to_string(), None)),
        None => None,
    }
}

/// A relation key the UNTP 0.7 (and GS1) linkset schemas accept: a lowercase name that does not start with a member
/// name of the context object, or an http(s) URI made of letters, digits, `.` and `/`.
fn is_schema_relation(name: &str) -> bool {
    let registered = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !name.starts_with("anchor")
        && !name.starts_with("description");
    let uri = ["https://", "http://"].iter().any(|scheme| {
        name.strip_prefix(scheme).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
        })
    });
    registered || uri
}

/// A link target from a `serviceEndpoint` entry: a URI string, or an object with `href` and optional `title`,
/// `type`, `hreflang` and the UNTP extensions.
fn target(endpoint: &Endpoint) -> Option<Link> {
    match endpoint {
        Endpoint::Uri(uri) => Some(bare_link(http_url(uri.as_str())?)),
        Endpoint::Map(Value::String(s)) => Some(bare_link(http_url(s)?)),
        Endpoint::Map(Value::Object(map)) => object_target(map),
        Endpoint::Map(_) => None,
    }
}

/// A link from a target object (`href`, `title`, `type`, `hreflang` and the UNTP members); also reads the targets
/// of a fetched linkset (`did::linksets`).
pub(crate) fn object_target(map: &Map<String, Value>) -> Option<Link> {
    let href = http_url(map.get("href")?.as_str()?)?;
    let text = |name: &str| {
        map.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut link = bare_link(href);
    link.title = text("title").unwrap_or_default();
    link.media_type = text("type").filter(|t| is_media_type(t));
    link.hreflang = strings(map.get("hreflang"))
        .into_iter()
        .filter(|l| is_hreflang(l))
        .collect();
    link.context = strings(map.get("context"));
    link.rel = strings(map.get("rel"));
    link.method = strings(map.get("method"));
    link.encryption_method = text("encryptionMethod");
    link.access_role = strings(map.get("accessRole"));
    Some(link)
}

fn bare_link(href: String) -> Link {
    Link {
        link_type: String::new(),
        href,
        title: String::new(),
        media_type: None,
        hreflang: vec![],
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

/// An absolute http(s) URL in its normalised form, which is always safe in a `Location` header. The schemas also
/// want a letter, digit, `.` or `/` right after `//`, which rules out IPv6 literals.
fn http_url(s: &str) -> Option<String> {
    let url = url::Url::parse(s.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let text = url.to_string();
    let after = text.split_once("://")?.1.bytes().next()?;
    (after.is_ascii_alphanumeric() || after == b'.' || after == b'/').then_some(text)
}

/// A string or an array of strings (other items are ignored).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The schemas' `(^\w{2}$)|(^\w{2}-\w{2}$)`.
fn is_hreflang(tag: &str) -> bool {
    let b = tag.as_bytes();
    let pair = |i: usize| is_word(b[i]) && is_word(b[i + 1]);
    match b.len() {
        2 => pair(0),
        5 => pair(0) && b[2] == b'-' && pair(3),
        _ => false,
    }
}

/// The schemas' `\w+/[-+.\w]+`, searched anywhere in the value.
fn is_media_type(value: &str) -> bool {
    let b = value.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| {
        b[i] == b'/' && is_word(b[i - 1]) && (is_word(b[i + 1]) || b"-+.".contains(&b[i + 1]))
    })
}

/// `{"linkset": [ … ]}` with one context object: the DID under our root, its relations in document order.
pub fn linkset(anchor: &str, did: &str, links: &[ServiceLink]) -> Value {
    let mut object = Map::new();
    object.insert("anchor".into(), Value::String(anchor.to_string()));
    object.insert("itemDescription".into(), Value::String(did.to_string()));
    for l in links {
        let Some(relation) = &l.relation else {
            continue;
        };
        let entry = object
            .entry(relation.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(targets) = entry {
            targets.push(target_object(&l.link));
        }
    }
    json!({ "linkset": [Value::Object(object)] })
}

/// What a request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    /// `linkType=linkset|all` or `Accept: application/linkset+json`.
    pub linkset: bool,
    /// `service=`: a service id fragment (or whole id).
    pub service: Option<String>,
    /// `linkType=` / `serviceType=`, as a relation key.
    pub relation: Option<String>,
}

impl Selector {
    /// From the request's parameters: `link_type` is `linkType=` (where `linkset`/`all` mean the linkset),
    /// `service_type` is `serviceType=` (always a type). Known types in any spelling become their canonical URI;
    /// `gs1:defaultLink` means no type.
    pub fn new(
        wants_linkset: bool,
        service: Option<String>,
        link_type: Option<String>,
        service_type: Option<String>,
        vocab: &Vocabulary,
    ) -> Selector {
        let is_linkset =
            |t: &String| t.eq_ignore_ascii_case("linkset") || t.eq_ignore_ascii_case("all");
        let linkset = wants_linkset || link_type.as_ref().is_some_and(is_linkset);
        let relation = link_type
            .filter(|t| !is_linkset(t))
            .or(service_type)
            .and_then(|t| match vocab.lookup(&t) {
                Some(def) if vocabulary::is_default_link(&def.uri) => None,
                Some(def) => Some(def.uri.clone()),
                None => Some(t),
            });
        Selector {
            linkset,
            service,
            relation,
        }
    }
}

/// The answer to a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Selection<'a> {
    Linkset,
    Redirect(&'a Link),
    /// Nothing matches; the text says what was asked for.
    NoMatch(String),
}

/// Chooses among the links. With a selector: the links it matches, negotiated by `Accept-Language` (and `Accept`),
/// the first in document order when equally good. Without one: the `untp:dpp` links if there are any, else the only
/// service's links if there is one service, else the linkset.
pub fn select<'a>(
    links: &'a [ServiceLink],
    selector: &Selector,
    preferences: &Preferences,
    vocab: &Vocabulary,
) -> Selection<'a> {
    if selector.linkset {
        return Selection::Linkset;
    }
    let candidates: Vec<&ServiceLink> = if selector.service.is_none() && selector.relation.is_none()
    {
        match default_candidates(links, vocab) {
            Some(c) => c,
            None => return Selection::Linkset,
        }
    } else {
        links
            .iter()
            .filter(|l| matches(l, selector, vocab))
            .collect()
    };
    let refs: Vec<&Link> = candidates.iter().map(|l| &l.link).collect();
    match preferences.choose(&refs, false) {
        Some(Choice::One(link)) => Selection::Redirect(link),
        Some(Choice::Tie(tied)) => tied
            .first()
            .map_or(Selection::NoMatch(wanted(selector)), |l| {
                Selection::Redirect(l)
            }),
        None => Selection::NoMatch(wanted(selector)),
    }
}

fn matches(link: &ServiceLink, selector: &Selector, vocab: &Vocabulary) -> bool {
    let service_ok = selector
        .service
        .as_ref()
        .is_none_or(|s| *s == link.fragment || *s == link.service_id);
    let type_ok = selector.relation.as_ref().is_none_or(|r| {
        link.relation
            .as_ref()
            .is_some_and(|l| vocab.same_relation(r, l))
    });
    service_ok && type_ok
}

fn default_candidates<'a>(
    links: &'a [ServiceLink],
    vocab: &Vocabulary,
) -> Option<Vec<&'a ServiceLink>> {
    if let Some(dpp) = vocab.lookup(DEFAULT_TYPE) {
        let passports: Vec<&ServiceLink> = links
            .iter()
            .filter(|l| {
                l.relation
                    .as_deref()
                    .is_some_and(|r| vocab.same_relation(&dpp.uri, r))
            })
            .collect();
        if !passports.is_empty() {
            return Some(passports);
        }
    }
    let first = links.first()?;
    links
        .iter()
        .all(|l| l.service_id == first.service_id)
        .then(|| links.iter().collect())
}

fn wanted(selector: &Selector) -> String {
    match (&selector.service, &selector.relation) {
        (Some(s), Some(r)) => format!("service \"{s}\" of type {r}"),
        (Some(s), None) => format!("service \"{s}\""),
        (None, Some(r)) => format!("service of type {r}"),
        (None, None) => "service".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
    const DIA: &str = "https://test.uncefact.org/vocabulary/linkTypes/dia";

    fn document(services: Value) -> Document {
        serde_json::from_value(json!({"id": "did:web:h.example", "service": services}))
            .expect("a DID document")
    }

    fn sample() -> Vec<ServiceLink> {
        let doc = document(json!([
            {"id": "did:web:h.example#dpp", "type": "untp:dpp", "serviceEndpoint": [
                {"href": "https://h.example/dpp/en", "title": "Passport", "type": "application/vc+jwt",
                 "hreflang": ["en", "zh-Hant"]},
                {"href": "https://h.example/dpp/de", "title": "Pass", "hreflang": "de",
                 "type": "not a media type", "accessRole": ["untp:accessRole#Customer"]}
            ]},
            {"id": "did:web:h.example#dia", "type": ["untp:dia", "LinkedDomains"],
             "serviceEndpoint": "https://h.example/dia.json"},
            {"id": "did:web:h.example#resolver", "type": "linkset",
             "serviceEndpoint": {"href": "https://h.example/linkset", "type": "application/linkset+json"}},
            {"id": "did:web:h.example#domains", "type": "LinkedDomains",
             "serviceEndpoint": {"origins": ["https://h.example"]}},
            {"id": "did:web:h.example#web", "type": "LinkedDomains", "serviceEndpoint": "https://h.example/"},
            {"id": "did:web:h.example#mail", "type": "https://example.org/types/Mail",
             "serviceEndpoint": "mailto:info@h.example"},
            {"id": "did:web:h.example#ext", "type": "https://example.org/types/x-y",
             "serviceEndpoint": "https://h.example/ext"}
        ]));
        links(&doc, &Vocabulary::embedded())
    }

    #[test]
    fn services_become_links() {
        let links = sample();
        let summary: Vec<(&str, Option<&str>, &str, &str)> = links
            .iter()
            .map(|l| {
                (
                    l.fragment.as_str(),
                    l.relation.as_deref(),
                    l.link.href.as_str(),
                    l.link.title.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("dpp", Some(DPP), "https://h.example/dpp/en", "Passport"),
                ("dpp", Some(DPP), "https://h.example/dpp/de", "Pass"),
                (
                    "dia",
                    Some(DIA),
                    "https://h.example/dia.json",
                    "Digital Identity Anchor"
                ),
                (
                    "resolver",
                    Some("linkset"),
                    "https://h.example/linkset",
                    "resolver"
                ),
                ("web", None, "https://h.example/", "web"),
                ("ext", None, "https://h.example/ext", "ext"),
            ],
            "object endpoints without href and non-http endpoints are skipped"
        );
        let en = &links[0].link;
        assert_eq!(en.hreflang, vec!["en"], "zh-Hant does not fit the schema");
        assert_eq!(en.media_type.as_deref(), Some("application/vc+jwt"));
        let de = &links[1].link;
        assert_eq!(de.hreflang, vec!["de"]);
        assert_eq!(de.media_type, None);
        assert_eq!(de.access_role, vec!["untp:accessRole#Customer"]);
    }

    #[test]
    fn relation_keys_fit_the_schema() {
        assert!(is_schema_relation("linkset"));
        assert!(is_schema_relation("service-doc"));
        assert!(is_schema_relation("https://example.org/types/x"));
        assert!(!is_schema_relation("LinkedDomains"));
        assert!(!is_schema_relation("anchors"));
        assert!(!is_schema_relation("descriptions"));
        assert!(!is_schema_relation("https://example.org/x-y"));
        assert!(!is_schema_relation("https://example.org/x#y"));
        assert!(!is_schema_relation("https://"));
        assert!(!is_schema_relation(""));
    }

    #[test]
    fn value_checks_follow_the_schema_patterns() {
        assert!(is_hreflang("en") && is_hreflang("en-GB") && !is_hreflang("zh-Hant"));
        assert!(!is_hreflang("e") && !is_hreflang("en_GB1"));
        assert!(is_media_type("application/ld+json") && is_media_type("text/html; charset=utf-8"));
        assert!(!is_media_type("json") && !is_media_type("/x") && !is_media_type("a/"));
        assert_eq!(
            http_url("https://a.example").as_deref(),
            Some("https://a.example/")
        );
        assert_eq!(http_url("ftp://a.example/x"), None);
        assert_eq!(http_url("https://[::1]/x"), None);
        assert_eq!(
            http_url("https://a.example/a b").as_deref(),
            Some("https://a.example/a%20b")
        );
    }

    #[test]
    fn linkset_lists_typed_links_only() {
        let v = linkset(
            "https://r.example/did:web:h.example",
            "did:web:h.example",
            &sample(),
        );
        let object = &v["linkset"][0];
        assert_eq!(object["anchor"], "https://r.example/did:web:h.example");
        assert_eq!(object["itemDescription"], "did:web:h.example");
        let keys: Vec<&str> = object
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, vec!["anchor", "itemDescription", DPP, DIA, "linkset"]);
        assert_eq!(
            object[DPP][0],
            json!({"href": "https://h.example/dpp/en", "title": "Passport",
                   "type": "application/vc+jwt", "hreflang": ["en"]})
        );
        assert_eq!(object[DPP].as_array().unwrap().len(), 2);
    }

    fn pick(selector: Selector, accept_language: Option<&str>) -> Selection<'static> {
        let links: &'static [ServiceLink] = Box::leak(sample().into_boxed_slice());
        let prefs = Preferences::new(accept_language, None, None);
        select(links, &selector, &prefs, &Vocabulary::embedded())
    }

    fn href(selection: Selection<'_>) -> String {
        match selection {
            Selection::Redirect(l) => l.href.clone(),
            other => format!("{other:?}"),
        }
    }

    fn selector(
        service: Option<&str>,
        link_type: Option<&str>,
        service_type: Option<&str>,
    ) -> Selector {
        let own = |s: Option<&str>| s.map(str::to_string);
        Selector::new(
            false,
            own(service),
            own(link_type),
            own(service_type),
            &Vocabulary::embedded(),
        )
    }

    #[test]
    fn selection_by_service_type_and_language() {
        assert_eq!(
            href(pick(selector(Some("dia"), None, None), None)),
            "https://h.example/dia.json"
        );
        assert_eq!(
            href(pick(selector(Some("web"), None, None), None)),
            "https://h.example/",
            "an untyped service can still be chosen by id"
        );
        assert_eq!(
            href(pick(
                selector(Some("did:web:h.example#dia"), None, None),
                None
            )),
            "https://h.example/dia.json"
        );
        assert_eq!(
            href(pick(
                selector(None, Some("untp:dpp"), None),
                Some("de-CH, en;q=0.5")
            )),
            "https://h.example/dpp/de"
        );
        assert_eq!(
            href(pick(selector(None, Some(DPP), None), None)),
            "https://h.example/dpp/en",
            "the first in document order by default"
        );
        assert_eq!(
            href(pick(selector(None, None, Some("linkset")), None)),
            "https://h.example/linkset",
            "serviceType=linkset is a type"
        );
        assert_eq!(
            pick(selector(None, Some("linkset"), None), None),
            Selection::Linkset
        );
        assert_eq!(
            pick(selector(None, Some("ALL"), None), None),
            Selection::Linkset
        );
        assert_eq!(
            pick(selector(Some("nope"), None, None), None),
            Selection::NoMatch("service \"nope\"".into())
        );
        assert_eq!(
            pick(selector(Some("dia"), Some("untp:dpp"), None), None),
            Selection::NoMatch(format!("service \"dia\" of type {DPP}"))
        );
        assert!(matches!(
            pick(selector(None, Some("gs1:pip"), None), None),
            Selection::NoMatch(_)
        ));
    }

    #[test]
    fn without_a_selector() {
        assert_eq!(
            href(pick(Selector::default(), None)),
            "https://h.example/dpp/en",
            "the passport when there is one"
        );
        let vocab = Vocabulary::embedded();
        let prefs = Preferences::default();
        let two = links(
            &document(json!([
                {"id": "did:web:h.example#a", "type": "untp:dia", "serviceEndpoint": "https://h.example/a"},
                {"id": "did:web:h.example#b", "type": "linkset", "serviceEndpoint": "https://h.example/b"}
            ])),
            &vocab,
        );
        assert_eq!(
            select(&two, &Selector::default(), &prefs, &vocab),
            Selection::Linkset
        );
        let one = &two[..1];
        assert_eq!(
            href(select(one, &Selector::default(), &prefs, &vocab)),
            "https://h.example/a",
            "the only service"
        );
        assert_eq!(
            select(&[], &Selector::default(), &prefs, &vocab),
            Selection::Linkset
        );
    }

    /// UNTP's current text spells the passport service `"type": "dpp"` (GS1's `dpp`, the same relation as
    /// `untp:dpp`): it is the default, and `linkType=untp:dpp` selects it.
    #[test]
    fn a_bare_dpp_service_is_the_passport() {
        let vocab = Vocabulary::embedded();
        let prefs = Preferences::default();
        let found = links(
            &document(json!([
                {"id": "did:web:h.example#a", "type": "untp:dia", "serviceEndpoint": "https://h.example/a"},
                {"id": "did:web:h.example#p", "type": "dpp", "serviceEndpoint": "https://h.example/p"}
            ])),
            &vocab,
        );
        assert_eq!(
            found[1].relation.as_deref(),
            Some("https://gs1.org/voc/dpp")
        );
        assert_eq!(
            href(select(&found, &Selector::default(), &prefs, &vocab)),
            "https://h.example/p"
        );
        for spelling in ["untp:dpp", "dpp", "gs1:dpp", DPP] {
            let selector = Selector::new(false, None, Some(spelling.into()), None, &vocab);
            assert_eq!(
                href(select(&found, &selector, &prefs, &vocab)),
                "https://h.example/p",
                "{spelling}"
            );
        }
    }
}

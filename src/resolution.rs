//! The resolution algorithm: walk up the qualifier tree in at most one store round trip (a local store stops at the
//! first level that settles the answer), then pick the linkset, the requested link type or the default link, level
//! by level.

use crate::identifier::Identifier;
use crate::identifier::pattern::PathPattern;
use crate::identifier::scheme::UnknownLinkType;
use crate::linkset::{self, Level, Linkset};
use crate::negotiate::{Choice, Preferences};
use crate::registry::{AnchorRecord, AnchorStore, Link, Settles, StoreError, StoredAnchor};
use crate::vocabulary::{Relation, Vocabulary};
use std::sync::Arc;

/// What the client asked for with `linkType` (already mapped through the vocabulary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkTypeQuery {
    /// No `linkType`: the default link.
    Default,
    /// `linkset` or `all`.
    Linkset,
    /// A known link type, as its canonical URI.
    Type(String),
    /// A spelling no configured vocabulary knows.
    Unknown(String),
}

/// The first non-empty value of a query parameter, percent-decoded. Parameters are `&`-separated, as in GS1
/// Digital Link, and an empty value counts as absent.
pub fn query_param(raw_query: &str, name: &str) -> Option<String> {
    raw_query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != name {
            return None;
        }
        let value = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
        (!value.trim().is_empty()).then(|| value.into_owned())
    })
}

/// GS1: the entire raw query string is passed on to the target, appended with `&` when it already has one.
pub fn forward_query(href: &str, raw_query: &str) -> String {
    if raw_query.is_empty() {
        return href.to_string();
    }
    let (base, fragment) = href.split_at(href.find('#').unwrap_or(href.len()));
    let separator = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{separator}{raw_query}{fragment}")
}

impl Query {
    /// What a request asks for, from its raw query and its `Accept` / `Accept-Language` headers.
    pub fn from_parts(
        raw_query: &str,
        accept: Option<&str>,
        accept_language: Option<&str>,
        vocabulary: &Arc<Vocabulary>,
    ) -> Query {
        let param = |name: &str| query_param(raw_query, name);
        let link_type = match param("linkType") {
            None => LinkTypeQuery::Default,
            Some(t) if t.eq_ignore_ascii_case("linkset") || t.eq_ignore_ascii_case("all") => {
                LinkTypeQuery::Linkset
            }
            Some(t) => match vocabulary.lookup(&t) {
                // Every linkset lists defaultLink, so asking for it means the default link.
                Some(def) if crate::vocabulary::is_default_link(&def.uri) => LinkTypeQuery::Default,
                Some(def) => LinkTypeQuery::Type(def.uri.clone()),
                None => LinkTypeQuery::Unknown(t),
            },
        };
        let context = param("context");
        // UNTP's `language=` overrides Accept-Language.
        let language = param("language");
        let preferences = Preferences::new(
            language.as_deref().or(accept_language),
            accept,
            context.as_deref(),
        );
        Query {
            link_type,
            accept_linkset: preferences.wants_linkset(),
            preferences,
            access_role: param("accessRole").map(|r| normalise_access_role(&r)),
            vocabulary: vocabulary.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Query {
    pub link_type: LinkTypeQuery,
    /// `Accept: application/linkset+json`.
    pub accept_linkset: bool,
    pub preferences: Preferences,
    /// UNTP `accessRole`, normalised to `untp:accessRole#Name`.
    pub access_role: Option<String>,
    /// The vocabulary the request is answered with (which link types are the same relation, how linksets spell
    /// them).
    pub vocabulary: Arc<Vocabulary>,
}

#[derive(Debug)]
pub enum Outcome {
    /// `forward_query`: whether the scan's query string goes along (the link's `fwqs`).
    Redirect {
        href: String,
        forward_query: bool,
    },
    Linkset(Linkset),
    /// Indistinguishable candidates for the requested type: a linkset of just those.
    MultipleChoices(Linkset),
    /// Nothing is registered here, but another resolver holds this identifier: `target` is its canonical URI there.
    Delegated {
        target: String,
    },
    /// Nothing is registered at any level of this identifier.
    UnknownIdentifier,
    /// The identifier is known but has no link of the requested type at any level.
    NoSuchLinkType(String),
}

/// An outcome, and whether it was computed from records the store could not confirm (a cache during an outage).
#[derive(Debug)]
pub struct Resolved {
    pub outcome: Outcome,
    pub stale: bool,
}

/// Identifier patterns held by other resolvers, in configuration order.
#[derive(Clone, Debug, Default)]
pub struct Delegations {
    rules: Vec<(PathPattern, String)>,
    /// The canonical URI of `untp:idr`, when a vocabulary defines it.
    idr_link_type: Option<String>,
}

/// IANA-style relation GS1 uses for delegation, in `rel` of a secondary-resolver link.
const HANDLED_BY: &str = "https://gs1.org/voc/handledBy";

impl Delegations {
    /// `(pattern, resolver root without trailing slash)` pairs.
    pub fn new(rules: Vec<(PathPattern, String)>, idr_link_type: Option<String>) -> Self {
        Delegations {
            rules,
            idr_link_type,
        }
    }

    fn target(&self, key: &Identifier) -> Option<String> {
        let path = key.canonical_path();
        let (_, root) = self
            .rules
            .iter()
            .find(|(pattern, _)| pattern.covers(path))?;
        Some(format!("{root}/{path}"))
    }

    /// UNTP secondary resolvers (item 93): when only coarser levels are held here and another resolver holds this
    /// identifier, the linkset lists that resolver under the requested anchor.
    fn secondary(&self, key: &Identifier, found: &[Found<'_>]) -> Option<AnchorRecord> {
        if found
            .first()
            .is_some_and(|f| f.key.canonical_path() == key.canonical_path())
        {
            return None;
        }
        let target = self.target(key)?;
        let link_type = self.idr_link_type.clone()?;
        Some(AnchorRecord {
            item_description: "Held by another resolver".into(),
            default_link_type: None,
            links: vec![Link {
                link_type,
                href: target,
                title: "Secondary identity resolver".into(),
                media_type: Some("application/linkset+json".into()),
                hreflang: vec![],
                context: vec![],
                rel: vec!["untp:idr".into(), HANDLED_BY.into()],
                method: vec![],
                encryption_method: None,
                access_role: vec![],
                forwards_query: true,
                id: None,
                contributor: None,
            }],
        })
    }
}

/// Whether a scan passes over a target, asked with the level's canonical path, the link type's canonical URI and the
/// href: in `verification.mode = enforce`, a target whose credential failed verification
/// (`crate::verification::Verification::refused`). Resolution knows nothing else of verification: it decides as if a
/// target passed over were not registered, and only that. Asked once per candidate of the type a scan looks for.
pub type PassOver<'a> = &'a (dyn Fn(&str, &str, &str) -> bool + Sync);

/// Passes over nothing: verification off or `report` (`resolve` is then given `None`).
fn pass_over_nothing(_: &str, _: &str, _: &str) -> bool {
    false
}

/// The links a request may see (`keep`), and the targets a scan passes over at a level (`PassOver`, unbounded).
type Filters<'a> = (
    &'a dyn Fn(&Link) -> bool,
    &'a dyn Fn(&str, &str, &str) -> bool,
);

/// A level of the request's qualifier tree that has a record.
struct Found<'a> {
    key: &'a Identifier,
    anchor: Arc<StoredAnchor>,
}

pub async fn resolve(
    store: &dyn AnchorStore,
    key: &Identifier,
    query: &Query,
    root: &str,
    delegations: &Delegations,
    pass_over: Option<PassOver<'_>>,
) -> Result<Resolved, StoreError> {
    let candidates = key.levels();
    let paths: Vec<&str> = candidates.iter().map(|k| k.canonical_path()).collect();
    let settles = settling(query, &paths, pass_over);
    let settles = settles.as_ref().map(|f| f as Settles<'_>);
    let lookup = store.lookup_until(&paths, settles).await?;
    let (stale, complete) = (lookup.stale, lookup.complete);
    let mut records = lookup.records;
    let patterned =
        complete && stand_in_pattern(store, key, &mut records, candidates.len()).await?;
    let mut outcome = decide(
        key,
        &candidates,
        records,
        query,
        (root, delegations),
        pass_over,
    );
    // The pattern stands in for the key level, the last candidate.
    if let (true, Some(level)) = (patterned, candidates.last()) {
        if let Outcome::Linkset(linkset) | Outcome::MultipleChoices(linkset) = &mut outcome {
            linkset.served_by_pattern(&level.uri_under(root));
        }
    }
    // From a cache with gaps during an outage, "not found" may only mean "not cached": never a 404 for that.
    if !complete
        && matches!(
            outcome,
            Outcome::UnknownIdentifier | Outcome::NoSuchLinkType(_)
        )
    {
        return Err(StoreError::Unavailable(
            "the link store is unreachable and this answer is not cached".into(),
        ));
    }
    Ok(Resolved { outcome, stale })
}

/// A pattern registration stands in for the key level (the last, least specific one) when the walk reached it and
/// found no anchor there: exact anchors at every level win over patterns, and more specific levels' anchors are
/// still read first. The longest pattern whose prefix the key value starts with applies, its hrefs expanded for this
/// request (`crate::patterns`). The record cache answers this from memory: no round trip beyond the walk's. Whether
/// a pattern stood in.
async fn stand_in_pattern(
    store: &dyn AnchorStore,
    key: &Identifier,
    records: &mut [Option<Arc<StoredAnchor>>],
    levels: usize,
) -> Result<bool, StoreError> {
    if records.len() != levels {
        return Ok(false);
    }
    let Some(last @ None) = records.last_mut() else {
        return Ok(false);
    };
    if let Some((_, pattern)) = crate::patterns::serving(store, key).await? {
        *last = crate::patterns::expand(&pattern, key).map(Arc::new);
    }
    Ok(last.is_some())
}

fn decide(
    key: &Identifier,
    candidates: &[Identifier],
    records: Vec<Option<Arc<StoredAnchor>>>,
    query: &Query,
    (root, delegations): (&str, &Delegations),
    pass_over: Option<PassOver<'_>>,
) -> Outcome {
    let pass_over = pass_over.unwrap_or(&pass_over_nothing);
    let found: Vec<Found<'_>> = candidates
        .iter()
        .zip(records)
        .filter_map(|(key, anchor)| anchor.map(|anchor| Found { key, anchor }))
        .collect();
    if found.is_empty() {
        return match delegations.target(key) {
            Some(target) => Outcome::Delegated { target },
            None => Outcome::UnknownIdentifier,
        };
    }
    let keep = |l: &Link| role_allows(query.access_role.as_deref(), l);
    let default_keep = |l: &Link| owners_default(l) && keep(l);
    let linkset = || {
        let secondary = delegations.secondary(key, &found);
        let secondary_level = secondary.map(|record| {
            let level = Level {
                anchor: key.uri_under(root),
                record: Arc::new(StoredAnchor { version: 0, record }),
            };
            (key.canonical_path(), level)
        });
        let (paths, levels): (Vec<&str>, Vec<Level>) = secondary_level
            .into_iter()
            .chain(
                found
                    .iter()
                    .map(|f| (f.key.canonical_path(), level(f, root))),
            )
            .unzip();
        // The linkset lists a target passed over (with its verification state), but never as its default link.
        let passed_over = |i: usize, l: &Link| pass_over(paths[i], &l.link_type, &l.href);
        Outcome::Linkset(linkset::build_passing_over(
            &levels,
            &keep,
            &passed_over,
            &query.vocabulary,
        ))
    };
    if query.accept_linkset || query.link_type == LinkTypeQuery::Linkset {
        return linkset();
    }
    // Whether a candidate was passed over: then "nothing of the type" would not be true, and the linkset, which
    // shows the target and why it was passed over, answers instead of a 404.
    let passed = std::cell::Cell::new(false);
    let pass_over = |anchor: &str, link_type: &str, href: &str| {
        let refused = pass_over(anchor, link_type, href);
        passed.set(passed.get() | refused);
        refused
    };
    let outcome = match &query.link_type {
        LinkTypeQuery::Type(uri) => by_type(&found, uri, query, root, (&keep, &pass_over)),
        LinkTypeQuery::Unknown(name) => Outcome::NoSuchLinkType(name.clone()),
        LinkTypeQuery::Default | LinkTypeQuery::Linkset => {
            default_link(&found, query, (&default_keep, &pass_over))
        }
    };
    // UNTP schemes answer a link type they do not hold with the default link; GS1 answers 404.
    let outcome = match outcome {
        Outcome::NoSuchLinkType(_)
            if !matches!(
                query.link_type,
                LinkTypeQuery::Default | LinkTypeQuery::Linkset
            ) && key.scheme().unknown_link_type == UnknownLinkType::Default =>
        {
            default_link(&found, query, (&default_keep, &pass_over))
        }
        outcome => outcome,
    };
    match outcome {
        Outcome::NoSuchLinkType(_) if passed.get() => linkset(),
        outcome => outcome,
    }
}

/// Whether a record, as the most specific level that has one, decides the answer alone, so the levels above it need
/// not be read; `None` when no single level can (a linkset lists every level, and an unknown type may fall back to
/// the default link of any level). It must agree with `decide`: only a redirect (or, for a requested type, a set of
/// choices) taken from that level's own links settles.
///
/// A level whose candidate is passed over (`PassOver`) does not settle. The store does not say which level the record
/// is (`paths` holds them all), so a candidate passed over at any level of the request counts: reading on costs a
/// read, never a wrong answer. With nothing passed over (verification not enforced) no check is made.
fn settling<'a>(
    query: &'a Query,
    paths: &'a [&'a str],
    pass_over: Option<PassOver<'a>>,
) -> Option<impl Fn(&StoredAnchor) -> bool + Sync + 'a> {
    if query.accept_linkset
        || !matches!(
            query.link_type,
            LinkTypeQuery::Default | LinkTypeQuery::Type(_)
        )
    {
        return None;
    }
    Some(move |anchor: &StoredAnchor| {
        let passed_over =
            |l: &Link| pass_over.is_some_and(|f| paths.iter().any(|p| f(p, &l.link_type, &l.href)));
        let record = &anchor.record;
        let settles_with = |relation: &Relation<'_>, keep: &dyn Fn(&Link) -> bool, ties: bool| {
            let links = links_of(record, relation, keep);
            !links.iter().any(|l| passed_over(l))
                && query.preferences.choose(&links, ties).is_some()
        };
        let keep = |l: &Link| role_allows(query.access_role.as_deref(), l);
        match &query.link_type {
            LinkTypeQuery::Default => record.default_link_type.as_deref().is_some_and(|t| {
                let keep = |l: &Link| owners_default(l) && keep(l);
                settles_with(&query.vocabulary.relation(t), &keep, false)
            }),
            LinkTypeQuery::Type(uri) => settles_with(&query.vocabulary.relation(uri), &keep, true),
            LinkTypeQuery::Linkset | LinkTypeQuery::Unknown(_) => false,
        }
    })
}

/// A record's links of one relation that the request may see.
fn links_of<'a>(
    record: &'a AnchorRecord,
    relation: &Relation<'_>,
    keep: &dyn Fn(&Link) -> bool,
) -> Vec<&'a Link> {
    record
        .links
        .iter()
        .filter(|l| relation.matches(&l.link_type) && keep(l))
        .collect()
}

fn level(f: &Found<'_>, root: &str) -> Level {
    Level {
        anchor: f.key.uri_under(root),
        record: f.anchor.clone(),
    }
}

/// The most specific level holding links of the type decides; negotiation picks among them.
fn by_type(
    found: &[Found<'_>],
    uri: &str,
    query: &Query,
    root: &str,
    (keep, pass_over): Filters<'_>,
) -> Outcome {
    let relation = query.vocabulary.relation(uri);
    for f in found {
        let keep = passing_over(f, keep, pass_over);
        let links = links_of(&f.anchor.record, &relation, &keep);
        match query.preferences.choose(&links, true) {
            Some(Choice::One(link)) => {
                return Outcome::Redirect {
                    href: link.href.clone(),
                    forward_query: link.forwards_query,
                };
            }
            Some(Choice::Tie(tied)) => {
                let record = AnchorRecord {
                    item_description: f.anchor.record.item_description.clone(),
                    default_link_type: None,
                    links: tied.into_iter().cloned().collect(),
                };
                let levels = [Level {
                    anchor: f.key.uri_under(root),
                    record: Arc::new(StoredAnchor { version: 0, record }),
                }];
                return Outcome::MultipleChoices(linkset::build(
                    &levels,
                    &|_| true,
                    &query.vocabulary,
                ));
            }
            None => continue,
        }
    }
    Outcome::NoSuchLinkType(uri.to_string())
}

/// The default link type of the most specific level that sets one, then its best variant from the most specific
/// level that has it. Never a 300: a request without `linkType` always gets an answer.
fn default_link(found: &[Found<'_>], query: &Query, (keep, pass_over): Filters<'_>) -> Outcome {
    let default_type = found
        .iter()
        .find_map(|f| f.anchor.record.default_link_type.as_deref());
    let of_type = |t: &str| {
        let relation = query.vocabulary.relation(t);
        found.iter().find_map(|f| {
            let keep = passing_over(f, keep, pass_over);
            let links = links_of(&f.anchor.record, &relation, &keep);
            match query.preferences.choose(&links, false) {
                Some(Choice::One(link)) => Some(link),
                _ => None,
            }
        })
    };
    let link = default_type.and_then(of_type).or_else(|| {
        // A default whose links were all deleted (or passed over): fall back to the most specific link rather than
        // fail.
        found.iter().find_map(|f| {
            let keep = passing_over(f, keep, pass_over);
            f.anchor.record.links.iter().find(|l| keep(l))
        })
    });
    match link {
        Some(link) => Outcome::Redirect {
            href: link.href.clone(),
            forward_query: link.forwards_query,
        },
        None => Outcome::NoSuchLinkType("the default link".into()),
    }
}

/// `keep` at the level `f`, without the targets passed over there. `keep` first: a link it drops is not asked about.
fn passing_over<'a>(
    f: &'a Found<'_>,
    keep: &'a dyn Fn(&Link) -> bool,
    pass_over: &'a dyn Fn(&str, &str, &str) -> bool,
) -> impl Fn(&Link) -> bool + 'a {
    let path = f.key.canonical_path();
    move |l: &Link| keep(l) && !pass_over(path, &l.link_type, &l.href)
}

/// Whether a scan without a link type may be sent to `link`: the owner decides where a plain scan goes, so a link a
/// lifecycle contributor added (`Link::contributor`) never is; it is reached by its link type, or in the linkset.
fn owners_default(link: &Link) -> bool {
    link.contributor.is_none()
}

/// UNTP variant-based disclosure: without a role every variant is listed; with one, the links for that role plus
/// the links that name no role.
fn role_allows(role: Option<&str>, link: &Link) -> bool {
    match role {
        None => true,
        Some(role) => {
            link.access_role.is_empty()
                || link
                    .access_role
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(role))
        }
    }
}

/// `customer` → `untp:accessRole#Customer`; full values pass through.
pub fn normalise_access_role(value: &str) -> String {
    if value.contains(':') || value.contains('#') {
        return value.to_string();
    }
    let mut chars = value.chars();
    let capitalised: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("untp:accessRole#{capitalised}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::cache::CachedStore;
    use crate::registry::embedded::EmbeddedStore;
    use crate::registry::format::Payload;
    use crate::registry::{AnchorSink, Precondition, PutOutcome};
    use proptest::prelude::*;

    const TYPES: [&str; 3] = [
        "https://gs1.org/voc/pip",
        "https://gs1.org/voc/certificationInfo",
        "https://test.uncefact.org/vocabulary/linkTypes/dpp",
    ];
    const ROLES: [&str; 2] = ["untp:accessRole#Customer", "untp:accessRole#Regulator"];

    /// (type, language, role, an old version) of one link, as indexes.
    type LinkSpec = (usize, usize, usize, bool);
    /// A level's record: its default type and links; `None` when nothing is registered there.
    type LevelSpec = Option<(Option<usize>, Vec<LinkSpec>)>;

    /// The embedded store read as a shared one is (every remaining level in one fetch, decoded as the walk takes
    /// them), so that the proptest below covers that read as well. Only reads are ever asked of it.
    struct AsShared(Arc<EmbeddedStore>);

    #[async_trait::async_trait]
    impl AnchorStore for AsShared {
        async fn get_many(
            &self,
            keys: &[&str],
        ) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
            self.0.get_many(keys).await
        }
        fn local_reads(&self) -> bool {
            false
        }
        async fn patterns(&self) -> Result<Vec<(String, Arc<StoredAnchor>)>, StoreError> {
            self.0.patterns().await
        }
        async fn put(
            &self,
            _: &str,
            _: AnchorRecord,
            _: Precondition,
            _: &str,
        ) -> Result<PutOutcome, StoreError> {
            unreachable!("reads only")
        }
        async fn delete(&self, _: &str, _: Precondition, _: &str) -> Result<bool, StoreError> {
            unreachable!("reads only")
        }
        async fn restore(&self, _: &str, _: &str) -> Result<Option<PutOutcome>, StoreError> {
            unreachable!("reads only")
        }
        async fn list(
            &self,
            _: &crate::registry::ListQuery<'_>,
        ) -> Result<crate::registry::Page, StoreError> {
            unreachable!("reads only")
        }
        async fn delete_hard(&self, _: &str, _: Precondition, _: &str) -> Result<bool, StoreError> {
            unreachable!("reads only")
        }
        async fn put_batch(&self, _: Vec<(String, Payload)>, _: &str) -> Result<(), StoreError> {
            unreachable!("reads only")
        }
        async fn for_each(&self, _: &mut AnchorSink<'_>) -> Result<(), StoreError> {
            unreachable!("reads only")
        }
        async fn is_empty(&self) -> Result<bool, StoreError> {
            unreachable!("reads only")
        }
    }

    fn record((default, links): &(Option<usize>, Vec<LinkSpec>)) -> AnchorRecord {
        AnchorRecord {
            item_description: "Thing".into(),
            default_link_type: default.map(|t| TYPES[t].to_string()),
            links: links
                .iter()
                .enumerate()
                .map(|(i, &(t, lang, role, old))| Link {
                    link_type: TYPES[t].into(),
                    href: format!("https://example.com/{i}/{t}/{lang}/{role}"),
                    title: "A link".into(),
                    media_type: Some("text/html".into()),
                    hreflang: vec![["en", "fr"][lang % 2].into()],
                    context: vec![],
                    rel: if old {
                        vec!["predecessor-version".into()]
                    } else {
                        vec![]
                    },
                    method: vec![],
                    encryption_method: None,
                    access_role: ROLES
                        .get(role)
                        .map(|r| vec![r.to_string()])
                        .unwrap_or_default(),
                    forwards_query: true,
                    id: None,
                    contributor: None,
                })
                .collect(),
        }
    }

    fn level_spec() -> impl Strategy<Value = LevelSpec> {
        let link = (
            0..3usize,
            0..2usize,
            0..3usize,
            proptest::bool::weighted(0.2),
        );
        proptest::option::weighted(
            0.7,
            (
                proptest::option::of(0..3usize),
                proptest::collection::vec(link, 0..4),
            ),
        )
    }

    fn query_spec() -> impl Strategy<Value = Query> {
        let link_type = prop_oneof![
            Just(LinkTypeQuery::Default),
            Just(LinkTypeQuery::Linkset),
            (0..3usize).prop_map(|t| LinkTypeQuery::Type(TYPES[t].into())),
        ];
        let language = proptest::option::of(prop_oneof![Just("fr"), Just("en")]);
        let role = proptest::option::of(0..2usize);
        (link_type, any::<bool>(), language, role).prop_map(
            |(link_type, accept_linkset, language, role)| Query {
                link_type,
                accept_linkset,
                preferences: Preferences::new(language, None, None),
                access_role: role.map(|r| ROLES[r].to_string()),
                vocabulary: Arc::new(Vocabulary::embedded()),
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Stopping at the level that settles the answer answers exactly as reading every level (the bare store)
        /// does: read level by level (the cached embedded store) or all levels in one fetch (the same store read as
        /// a shared one).
        #[test]
        fn stopping_early_gives_the_answer_of_every_level(
            levels in proptest::collection::vec(level_spec(), 4),
            query in query_spec(),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let parser = crate::identifier::Parser::embedded().unwrap();
            let key = parser.parse_request("/01/09520123456788/10/ABC/21/S1", "").unwrap().identifier;
            let paths: Vec<String> = key.levels().iter().map(|k| k.canonical_path().to_string()).collect();
            prop_assert_eq!(paths.len(), 4);
            let (full, lazy, shared) = runtime.block_on(async {
                let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
                for (path, spec) in paths.iter().zip(&levels) {
                    if let Some(spec) = spec {
                        store.put(path, record(spec), Precondition::None, "test").await.unwrap();
                    }
                }
                let settings = crate::config::CacheSettings { max_bytes: 1 << 20, ttl_seconds: 60, negative_ttl_ms: 60_000 };
                let cached = CachedStore::wrap(store.clone(), store.as_ref(), &settings);
                let shared = CachedStore::wrap(Arc::new(AsShared(store.clone())), store.as_ref(), &settings);
                let none = Delegations::default();
                let root = "https://id.example.com";
                let full = resolve(store.as_ref(), &key, &query, root, &none, None).await.unwrap();
                let lazy = resolve(cached.as_ref(), &key, &query, root, &none, None).await.unwrap();
                let shared = resolve(shared.as_ref(), &key, &query, root, &none, None).await.unwrap();
                let show = |r: Resolved| format!("{:?}", r.outcome);
                (show(full), show(lazy), show(shared))
            });
            prop_assert_eq!(&full, &lazy);
            prop_assert_eq!(&full, &shared);
        }
    }

    /// The levels of `/01/09520123456788/10/ABC/21/S1`, most specific first.
    fn paths_of(key: &Identifier) -> Vec<String> {
        key.levels()
            .iter()
            .map(|k| k.canonical_path().to_string())
            .collect()
    }

    /// Resolves `query` for `path` over `levels` (most specific first, `None` where nothing is registered), passing
    /// over the targets `refused` names as (level index, href): the outcome, written with `{:?}`.
    fn resolve_passing_over(
        path: &str,
        levels: &[Option<AnchorRecord>],
        query: &Query,
        refused: Option<&[(usize, String)]>,
    ) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let parser = crate::identifier::Parser::embedded().unwrap();
        let key = parser.parse_request(path, "").unwrap().identifier;
        let paths = paths_of(&key);
        let pass_over = |anchor: &str, _: &str, href: &str| {
            refused
                .unwrap_or_default()
                .iter()
                .any(|(level, h)| paths.get(*level).is_some_and(|p| p == anchor) && h == href)
        };
        runtime.block_on(async {
            let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
            for (path, record) in paths.iter().zip(levels) {
                if let Some(record) = record {
                    store
                        .put(path, record.clone(), Precondition::None, "test")
                        .await
                        .unwrap();
                }
            }
            let settings = crate::config::CacheSettings {
                max_bytes: 1 << 20,
                ttl_seconds: 60,
                negative_ttl_ms: 60_000,
            };
            let cached = CachedStore::wrap(store.clone(), store.as_ref(), &settings);
            let pass_over = refused.map(|_| &pass_over as PassOver<'_>);
            let root = "https://id.example.com";
            let none = Delegations::default();
            let outcome = resolve(cached.as_ref(), &key, query, root, &none, pass_over)
                .await
                .unwrap()
                .outcome;
            format!("{outcome:?}")
        })
    }

    fn query(raw: &str, accept_language: Option<&str>) -> Query {
        Query::from_parts(
            raw,
            None,
            accept_language,
            &Arc::new(Vocabulary::embedded()),
        )
    }

    fn dpp(href: &str, language: &str) -> Link {
        let mut link = record(&(None, vec![(2, 0, 2, false)])).links.remove(0);
        link.href = href.into();
        link.hreflang = vec![language.into()];
        link
    }

    fn anchor(default: Option<usize>, links: Vec<Link>) -> Option<AnchorRecord> {
        Some(AnchorRecord {
            item_description: "Thing".into(),
            default_link_type: default.map(|t| TYPES[t].to_string()),
            links,
        })
    }

    fn redirect(href: &str) -> String {
        format!(
            "{:?}",
            Outcome::Redirect {
                href: href.into(),
                forward_query: true
            }
        )
    }

    const GTIN: &str = "/01/09520123456788";
    const SERIAL: &str = "/01/09520123456788/21/S1";
    const DPP_EN: &str = "https://c.example/dpp/en";
    const DPP_FR: &str = "https://c.example/dpp/fr";

    #[test]
    fn a_refused_passport_falls_to_the_next_variant_of_its_type() {
        let levels = [anchor(Some(2), vec![dpp(DPP_EN, "en"), dpp(DPP_FR, "fr")])];
        let q = query("linkType=untp:dpp", Some("en"));
        assert_eq!(
            resolve_passing_over(GTIN, &levels, &q, None),
            redirect(DPP_EN)
        );
        let refused = [(0, DPP_EN.to_string())];
        assert_eq!(
            resolve_passing_over(GTIN, &levels, &q, Some(&refused)),
            redirect(DPP_FR),
            "negotiation among the rest"
        );
        // The plain scan (default link type untp:dpp) too.
        let plain = query("", Some("en"));
        assert_eq!(
            resolve_passing_over(GTIN, &levels, &plain, Some(&refused)),
            redirect(DPP_FR)
        );
        // Refusing another level's target changes nothing here.
        let elsewhere = [(1, DPP_EN.to_string())];
        assert_eq!(
            resolve_passing_over(GTIN, &levels, &q, Some(&elsewhere)),
            redirect(DPP_EN)
        );
    }

    #[test]
    fn a_refused_passport_falls_to_an_ancestors_link() {
        let gtin_dpp = "https://c.example/dpp/model";
        let levels = [
            anchor(None, vec![dpp(DPP_EN, "en")]),
            anchor(Some(2), vec![dpp(gtin_dpp, "en")]),
        ];
        let q = query("linkType=untp:dpp", None);
        assert_eq!(
            resolve_passing_over(SERIAL, &levels, &q, None),
            redirect(DPP_EN)
        );
        let refused = [(0, DPP_EN.to_string())];
        assert_eq!(
            resolve_passing_over(SERIAL, &levels, &q, Some(&refused)),
            redirect(gtin_dpp)
        );
        assert_eq!(
            resolve_passing_over(SERIAL, &levels, &query("", None), Some(&refused)),
            redirect(gtin_dpp),
            "the default link type's next link"
        );
    }

    #[test]
    fn a_refused_default_link_falls_to_another_link_then_to_the_linkset() {
        let pip = "https://b.example/info";
        let mut info = dpp(pip, "en");
        info.link_type = TYPES[0].into();
        let levels = [anchor(Some(2), vec![dpp(DPP_EN, "en"), info])];
        let refused = [(0, DPP_EN.to_string())];
        assert_eq!(
            resolve_passing_over(GTIN, &levels, &query("", None), Some(&refused)),
            redirect(pip),
            "as if the passport were not registered: the most specific link"
        );
        // Nothing but the refused passport: the linkset, which lists it (with its state), not a 404.
        let only = [anchor(Some(2), vec![dpp(DPP_EN, "en")])];
        for raw in ["", "linkType=untp:dpp"] {
            let answer = resolve_passing_over(GTIN, &only, &query(raw, None), Some(&refused));
            assert!(answer.starts_with("Linkset("), "{raw}: {answer}");
            assert!(answer.contains(DPP_EN), "{answer}");
            assert!(
                !answer.contains("default: Some"),
                "never the linkset's default link: {answer}"
            );
        }
        // Another type absent: the 404 as before (nothing was passed over).
        let pip_query = query("linkType=gs1:pip", None);
        let answer = resolve_passing_over(GTIN, &only, &pip_query, Some(&refused));
        assert!(answer.starts_with("NoSuchLinkType("), "{answer}");
    }

    #[test]
    fn the_linkset_lists_a_refused_target_but_not_as_its_default_link() {
        let levels = [anchor(Some(2), vec![dpp(DPP_EN, "en"), dpp(DPP_FR, "fr")])];
        let q = query("linkType=linkset", None);
        let refused = [(0, DPP_EN.to_string())];
        let answer = resolve_passing_over(GTIN, &levels, &q, Some(&refused));
        assert!(answer.contains(DPP_EN), "{answer}");
        assert!(
            answer.contains(&format!("default: Some((\"{DPP_FR}\"")),
            "{answer}"
        );
        let answer = resolve_passing_over(GTIN, &levels, &q, None);
        assert!(
            answer.contains(&format!("default: Some((\"{DPP_EN}\"")),
            "{answer}"
        );
    }

    fn refusals() -> impl Strategy<Value = Vec<(usize, usize)>> {
        proptest::collection::vec((0..4usize, 0..4usize), 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// A predicate that refuses nothing decides exactly as no predicate does, whatever the records and request.
        #[test]
        fn refusing_nothing_changes_nothing(
            levels in proptest::collection::vec(level_spec(), 4),
            query in query_spec(),
        ) {
            let records: Vec<Option<AnchorRecord>> = levels.iter().map(|l| l.as_ref().map(record)).collect();
            let path = "/01/09520123456788/10/ABC/21/S1";
            prop_assert_eq!(
                resolve_passing_over(path, &records, &query, None),
                resolve_passing_over(path, &records, &query, Some(&[]))
            );
        }

        /// A redirect or a set of choices made while passing over targets is the one made with those targets not
        /// registered at all (the linkset, and a 404's replacement by it, are the only differences).
        #[test]
        fn passing_over_is_deciding_as_if_the_target_were_absent(
            levels in proptest::collection::vec(level_spec(), 4),
            query in query_spec(),
            refused in refusals(),
        ) {
            let path = "/01/09520123456788/10/ABC/21/S1";
            let records: Vec<Option<AnchorRecord>> = levels.iter().map(|l| l.as_ref().map(record)).collect();
            let named: Vec<(usize, String)> = refused
                .iter()
                .filter_map(|&(level, i)| {
                    let link = records[level].as_ref()?.links.get(i)?;
                    Some((level, link.href.clone()))
                })
                .collect();
            let without: Vec<Option<AnchorRecord>> = records
                .iter()
                .enumerate()
                .map(|(level, r)| {
                    r.clone().map(|mut r| {
                        r.links.retain(|l| !named.contains(&(level, l.href.clone())));
                        r
                    })
                })
                .collect();
            let passing = resolve_passing_over(path, &records, &query, Some(&named));
            let absent = resolve_passing_over(path, &without, &query, None);
            if absent.starts_with("Redirect") || absent.starts_with("MultipleChoices") {
                prop_assert_eq!(passing, absent);
            } else if absent.starts_with("NoSuchLinkType") {
                prop_assert!(passing.starts_with("NoSuchLinkType") || passing.starts_with("Linkset("), "{}", passing);
            }
        }
    }

    #[test]
    fn access_role_shorthand() {
        assert_eq!(
            normalise_access_role("customer"),
            "untp:accessRole#Customer"
        );
        assert_eq!(
            normalise_access_role("untp:accessRole#Regulator"),
            "untp:accessRole#Regulator"
        );
    }
}

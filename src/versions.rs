//! UNTP versioned targets (IDR-10), and the one rule by which a write merges into the record it replaces.
//!
//! When a write gives a variant a new `href`, the target it replaces stays in the record as
//! `rel: ["predecessor-version"]`, newest first, right after the variant's current link: the default always points at
//! the latest, and the linkset shows the history. Every write path (the native API, the Pyx-compatible API, an
//! import) stores `merge(previous, submitted)`.
//!
//! The rule is idempotent by construction: `merge(Some(&merge(R, S)), S) == merge(R, S)`, so a record read back and
//! written again is the same record, and a client that repeats a write changes nothing.

use crate::limits::Limits;
use crate::registry::record::PREDECESSOR;
use crate::registry::{AnchorRecord, Link};
use crate::vocabulary::Vocabulary;

/// How many earlier targets one variant keeps; older ones are dropped so a record cannot grow without bound.
pub const MAX_PREDECESSORS: usize = 20;

/// The record to store when `submitted` is written over `previous`.
///
/// - Exact duplicates in the submission collapse.
/// - Current links keep the submitted order. Each variant's history follows its first current link: the targets
///   `previous` had for it and replaced now, then the history `previous` kept, then predecessors the submission
///   offers that are not known yet. Each target appears once per variant, never as a copy of a current `href`.
/// - Predecessors submitted for a variant with no current link are kept, in their order, after the rest. A variant
///   the submission drops loses its stored history.
/// - At most `MAX_PREDECESSORS` per variant and `limits.links` in all are kept; the oldest go first.
pub fn merge(
    previous: Option<&AnchorRecord>,
    mut submitted: AnchorRecord,
    limits: &Limits,
    vocab: &Vocabulary,
) -> AnchorRecord {
    submitted.collapse_duplicates();
    let (current, offered): (Vec<Link>, Vec<Link>) = std::mem::take(&mut submitted.links)
        .into_iter()
        .partition(|l| !l.is_predecessor());
    let before: &[Link] = previous.map_or(&[], |p| &p.links);
    let mut history = History {
        links: Vec::with_capacity(current.len() + offered.len()),
        left: limits.links,
        vocab,
    };
    for (i, link) in current.iter().enumerate() {
        if current[..i].iter().any(|c| c.same_variant(link, vocab)) {
            history.links.push(link.clone());
            continue;
        }
        let live: Vec<&str> = current
            .iter()
            .filter(|c| c.same_variant(link, vocab))
            .map(|c| c.href.as_str())
            .collect();
        let of_variant = |o: &&Link| o.same_variant(link, vocab);
        let replaced = before
            .iter()
            .filter(|o| !o.is_predecessor())
            .filter(of_variant)
            .map(as_predecessor);
        let kept = before
            .iter()
            .filter(|o| o.is_predecessor())
            .filter(of_variant)
            .cloned();
        let offers = offered.iter().filter(of_variant).cloned();
        history
            .links
            .push(keep_name(link.clone(), before, &current, vocab));
        for old in replaced.chain(kept).chain(offers) {
            history.keep(old, &live);
        }
    }
    for old in offered {
        if !current.iter().any(|c| c.same_variant(&old, vocab)) {
            history.keep(old, &[]);
        }
    }
    submitted.links = history.links;
    submitted
}

/// A variant's first current `link`, with the stable name (the Pyx API's link ID) its variant had in `before` when
/// it names none itself and no current link of the submission holds that name.
fn keep_name(mut link: Link, before: &[Link], current: &[Link], vocab: &Vocabulary) -> Link {
    if link.id.is_none() {
        link.id = before
            .iter()
            .find(|o| !o.is_predecessor() && o.same_variant(&link, vocab))
            .and_then(|o| o.id.clone())
            .filter(|id| !current.iter().any(|c| c.id.as_ref() == Some(id)));
    }
    link
}

/// The links being assembled, and how many more predecessors the anchor may keep.
struct History<'v> {
    links: Vec<Link>,
    left: usize,
    vocab: &'v Vocabulary,
}

impl History<'_> {
    /// Appends `old` unless its variant already has it (or has it as a current target in `live`), or has its
    /// `MAX_PREDECESSORS`, or the anchor has no room left.
    fn keep(&mut self, old: Link, live: &[&str]) {
        if self.left == 0 || live.contains(&old.href.as_str()) {
            return;
        }
        let mut earlier = self
            .links
            .iter()
            .filter(|l| l.same_variant(&old, self.vocab));
        let mut count = 0;
        let known = earlier.any(|l| {
            count += usize::from(l.is_predecessor());
            l.href == old.href
        });
        // `any` stopped early only when it found it; otherwise `count` covers the whole variant.
        if known || count >= MAX_PREDECESSORS {
            return;
        }
        self.links.push(old);
        self.left -= 1;
    }
}

/// A replaced current link as a predecessor entry: `predecessor-version` first among its relations.
fn as_predecessor(link: &Link) -> Link {
    let mut old = link.clone();
    // An earlier target is not addressed by the link's name.
    old.id = None;
    old.rel.retain(|r| !r.eq_ignore_ascii_case(PREDECESSOR));
    old.rel.insert(0, PREDECESSOR.to_string());
    old
}

/// A variant's targets, newest first: what `GET …/history` lists.
pub fn history<'a>(record: &'a AnchorRecord, vocab: &Vocabulary) -> Vec<(&'a Link, Vec<&'a Link>)> {
    record
        .links
        .iter()
        .filter(|l| !l.is_predecessor())
        .map(|current| {
            let earlier = record
                .links
                .iter()
                .filter(|l| l.is_predecessor() && l.same_variant(current, vocab))
                .collect();
            (current, earlier)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    static VOCAB: std::sync::LazyLock<Vocabulary> = std::sync::LazyLock::new(Vocabulary::embedded);

    const UNTP_DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
    const GS1_DPP: &str = "https://gs1.org/voc/dpp";

    /// `merge` under the shipped limits and vocabularies.
    fn merge(previous: Option<&AnchorRecord>, submitted: AnchorRecord) -> AnchorRecord {
        super::merge(previous, submitted, &Limits::default(), &VOCAB)
    }

    #[test]
    fn a_respelled_replacement_keeps_the_predecessor() {
        // untp:dpp and gs1:dpp are one relation: a new target under the other spelling replaces the old one.
        let mut a = dpp("https://a/v1", "en");
        a.link_type = UNTP_DPP.into();
        let mut b = dpp("https://a/v2", "en");
        b.link_type = GS1_DPP.into();
        let v1 = merge(None, record(vec![a.clone()]));
        let v2 = merge(Some(&v1), record(vec![b.clone()]));
        assert_eq!(
            hrefs(&v2),
            expect(&[("https://a/v2", false), ("https://a/v1", true)])
        );
        assert_eq!(v2.links[1].link_type, UNTP_DPP);
        let listed = history(&v2, &VOCAB);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].1[0].href, "https://a/v1");
    }

    fn dpp(href: &str, lang: &str) -> Link {
        Link {
            link_type: "untp:dpp".into(),
            href: href.into(),
            title: "DPP".into(),
            media_type: Some("application/vc+jwt".into()),
            hreflang: vec![lang.into()],
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

    fn old(href: &str, lang: &str) -> Link {
        as_predecessor(&dpp(href, lang))
    }

    fn record(links: Vec<Link>) -> AnchorRecord {
        AnchorRecord {
            item_description: "x".into(),
            default_link_type: None,
            links,
        }
    }

    fn hrefs(r: &AnchorRecord) -> Vec<(String, bool)> {
        r.links
            .iter()
            .map(|l| (l.href.clone(), l.is_predecessor()))
            .collect()
    }

    fn expect(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(h, p)| (h.to_string(), *p)).collect()
    }

    #[test]
    fn a_replaced_target_becomes_a_predecessor_version() {
        let v1 = record(vec![dpp("https://a/v1", "en"), dpp("https://a/de1", "de")]);
        let v2 = merge(
            Some(&v1),
            record(vec![dpp("https://a/v2", "en"), dpp("https://a/de1", "de")]),
        );
        assert_eq!(
            hrefs(&v2),
            expect(&[
                ("https://a/v2", false),
                ("https://a/v1", true),
                ("https://a/de1", false)
            ])
        );
        assert_eq!(v2.links[1].rel, ["predecessor-version"]);
        let v3 = merge(
            Some(&v2),
            record(vec![dpp("https://a/v3", "en"), dpp("https://a/de1", "de")]),
        );
        let en: Vec<&str> = v3
            .links
            .iter()
            .filter(|l| l.hreflang == ["en"])
            .map(|l| l.href.as_str())
            .collect();
        assert_eq!(
            en,
            ["https://a/v3", "https://a/v2", "https://a/v1"],
            "newest first"
        );
        let history = history(&v3, &VOCAB);
        assert_eq!(history.len(), 2);
        assert_eq!(history[0].0.href, "https://a/v3");
        assert_eq!(history[0].1.len(), 2);
        assert!(history[1].1.is_empty());
    }

    /// The report of issue 19: re-target twice, then write back what a read returned.
    #[test]
    fn a_record_written_back_is_the_same_record() {
        let v1 = merge(None, record(vec![dpp("https://a/v1", "en")]));
        let v2 = merge(Some(&v1), record(vec![dpp("https://a/v2", "en")]));
        let v3 = merge(Some(&v2), record(vec![dpp("https://a/v3", "en")]));
        assert_eq!(
            hrefs(&v3),
            expect(&[
                ("https://a/v3", false),
                ("https://a/v2", true),
                ("https://a/v1", true)
            ])
        );
        let mut again = v3.clone();
        for _ in 0..5 {
            again = merge(Some(&again), again.clone());
            assert_eq!(again, v3);
        }
    }

    #[test]
    fn rewriting_the_same_target_or_rolling_back_adds_no_duplicate() {
        let v1 = record(vec![dpp("https://a/v1", "en")]);
        let same = merge(Some(&v1), record(vec![dpp("https://a/v1", "en")]));
        assert_eq!(same.links.len(), 1);
        let v2 = merge(Some(&v1), record(vec![dpp("https://a/v2", "en")]));
        let back = merge(Some(&v2), record(vec![dpp("https://a/v1", "en")]));
        assert_eq!(
            hrefs(&back),
            expect(&[("https://a/v1", false), ("https://a/v2", true)])
        );
    }

    #[test]
    fn damaged_records_heal_when_written() {
        let damaged = record(vec![
            dpp("https://a/v2", "en"),
            old("https://a/v1", "en"),
            old("https://a/v1", "en"),
            old("https://a/v1", "en"),
        ]);
        let healed = merge(Some(&damaged), damaged.clone());
        assert_eq!(
            hrefs(&healed),
            expect(&[("https://a/v2", false), ("https://a/v1", true)])
        );
    }

    #[test]
    fn submitted_history_is_kept_but_never_repeats_a_current_target() {
        let submitted = record(vec![
            dpp("https://a/v2", "en"),
            old("https://a/v2", "en"),
            old("https://a/v0", "en"),
            old("https://a/fr0", "fr"),
        ]);
        let stored = merge(None, submitted);
        assert_eq!(
            hrefs(&stored),
            expect(&[
                ("https://a/v2", false),
                ("https://a/v0", true),
                ("https://a/fr0", true)
            ]),
            "an orphan predecessor is kept after the rest"
        );
    }

    #[test]
    fn dropped_variants_lose_their_history_and_history_is_bounded() {
        let mut r = record(vec![dpp("https://a/0", "en")]);
        for i in 1..=(MAX_PREDECESSORS + 5) {
            r = merge(Some(&r), record(vec![dpp(&format!("https://a/{i}"), "en")]));
        }
        assert_eq!(r.links.len(), 1 + MAX_PREDECESSORS);
        assert_eq!(
            r.links[1].href,
            format!("https://a/{}", MAX_PREDECESSORS + 4)
        );
        let other = merge(Some(&r), record(vec![dpp("https://a/fr", "fr")]));
        assert_eq!(
            other.links.len(),
            1,
            "the en variant was removed with its history"
        );
    }

    #[test]
    fn an_anchor_keeps_at_most_the_link_limit_of_predecessors() {
        let max = Limits::default().links;
        let langs: Vec<String> = (0..max + 10).map(|i| format!("l{i}")).collect();
        let first = record(langs.iter().map(|l| dpp("https://a/1", l)).collect());
        let second = merge(
            Some(&first),
            record(langs.iter().map(|l| dpp("https://a/2", l)).collect()),
        );
        let predecessors = second.links.iter().filter(|l| l.is_predecessor()).count();
        assert_eq!(predecessors, max);
        assert_eq!(merge(Some(&second), second.clone()), second);
    }

    #[test]
    fn the_limits_passed_in_bound_the_predecessors() {
        let limits = Limits {
            links: 3,
            ..Limits::default()
        };
        let langs: Vec<String> = (0..5).map(|i| format!("l{i}")).collect();
        let first = record(langs.iter().map(|l| dpp("https://a/1", l)).collect());
        let second = super::merge(
            Some(&first),
            record(langs.iter().map(|l| dpp("https://a/2", l)).collect()),
            &limits,
            &VOCAB,
        );
        let predecessors = second.links.iter().filter(|l| l.is_predecessor()).count();
        assert_eq!(predecessors, 3);
    }

    /// Links drawn from a small space, so that variants, targets and predecessors collide often.
    fn link() -> impl Strategy<Value = Link> {
        (0..3u8, 0..4u8, 0..2u8, any::<bool>(), 0..2u8, any::<bool>()).prop_map(
            |(variant, target, title, pred, rel, gs1)| {
                let mut l = dpp(
                    &format!("https://a/{target}"),
                    ["en", "de", "fr"][usize::from(variant)],
                );
                // Two spellings of one relation: one variant whichever is used.
                l.link_type = if gs1 { GS1_DPP } else { UNTP_DPP }.into();
                l.title = format!("t{title}");
                if rel == 1 {
                    l.rel.push("alternate".into());
                }
                if pred {
                    l = as_predecessor(&l);
                }
                l
            },
        )
    }

    fn any_record() -> impl Strategy<Value = AnchorRecord> {
        proptest::collection::vec(link(), 0..8).prop_map(record)
    }

    proptest! {
        /// For any stored record R and any submission S, writing S again changes nothing.
        #[test]
        fn merging_is_idempotent(r in any_record(), s in any_record()) {
            let once = merge(Some(&r), s.clone());
            prop_assert_eq!(&merge(Some(&once), s), &once);
        }

        /// A record written back unchanged is the same record (same links, same order).
        #[test]
        fn a_written_record_written_back_is_unchanged(r in any_record(), s in any_record()) {
            let stored = merge(Some(&r), s);
            prop_assert_eq!(&merge(Some(&stored), stored.clone()), &stored);
        }

        /// A target appears once per variant, and never both as current and as a predecessor.
        #[test]
        fn each_target_appears_once_per_variant(r in any_record(), s in any_record()) {
            let stored = merge(Some(&r), s);
            for (i, a) in stored.links.iter().enumerate() {
                for b in &stored.links[..i] {
                    let twice = a.same_variant(b, &VOCAB) && a.href == b.href && (a.is_predecessor() || b.is_predecessor());
                    prop_assert!(!twice && a != b, "{:?} repeats {:?}", a, b);
                }
            }
        }
    }
}

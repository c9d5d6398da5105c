//! Lifecycle contributions: links a party proven by a Digital Identity Anchor (`auth::dia`) adds to an anchor
//! someone else owns. The rules, on the records themselves:
//!
//! - **Additive.** A contributor writes the whole record, as it read it, plus its links: every link it did not add
//!   must come back unchanged, and the description and default link type stay. It may change or drop only the links
//!   it added itself, and only of the link types its role allows (a link of its own sent back unchanged stays, even
//!   if its role no longer allows its type). It adds to an anchor that exists; it never creates one (an anchor it
//!   created would take over the scans of that level).
//! - **After the owner's.** Its links are stored after every link it did not add, whatever order it sends; a scan
//!   without a link type never goes to a contributed link (`resolution`), and one for a link type only when the owner
//!   has none of it (`negotiate`), so it cannot take over the owner's scans.
//! - **Attributed.** Every link a contributor adds carries its DID (`Link::contributor`), set here whatever the
//!   request said.
//! - **Not lost silently.** An owner's write that leaves contributed links out keeps them (an owner's tools need not
//!   know about them); an owner removes them by asking for it (`?contributions=replace`), or by deleting the anchor.
//!   Nobody but the contributor can attribute a link to it: a submitted `contributor` is accepted only on a link that
//!   already had it.
//!
//! Both rules are idempotent, like `versions::merge`: a record read back and written again is the same record.

use crate::registration::FieldError;
use crate::registry::{AnchorRecord, Link};

/// The party adding links, and the canonical link types its role lets it add.
#[derive(Clone, Debug)]
pub struct Contributor {
    pub did: String,
    pub link_types: Vec<String>,
    /// The roles that allow it, for messages (`registrationScopeList` entries).
    pub roles: Vec<String>,
}

/// What an owner's write does with the links contributors added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerWrite {
    /// Contributed links the submission leaves out are kept.
    KeepContributions,
    /// The submission says which contributed links stay.
    ReplaceContributions,
}

/// Equal but for the stable name (`id`), which a client may or may not send back.
fn equal(a: &Link, b: &Link) -> bool {
    let mut a = a.clone();
    a.id.clone_from(&b.id);
    a == *b
}

/// The record to merge for an owner's write of `submitted` over `previous`.
pub fn as_owner(
    previous: Option<&AnchorRecord>,
    mut submitted: AnchorRecord,
    mode: OwnerWrite,
) -> Result<AnchorRecord, Vec<FieldError>> {
    let before: &[Link] = previous.map_or(&[], |p| &p.links);
    let forged: Vec<FieldError> = submitted
        .links
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contributor.is_some() && !before.iter().any(|b| equal(l, b)))
        .map(|(i, l)| {
            FieldError::new(
                format!("links[{i}].contributor"),
                format!(
                    "is set by the resolver on a link a lifecycle contributor added; this link is not one {} added \
                     (leave contributor out on your own links)",
                    l.contributor.as_deref().unwrap_or_default()
                ),
            )
        })
        .collect();
    if !forged.is_empty() {
        return Err(forged);
    }
    if mode == OwnerWrite::KeepContributions {
        let kept: Vec<Link> = before
            .iter()
            .filter(|b| b.contributor.is_some() && !b.is_predecessor())
            .filter(|b| !submitted.links.iter().any(|l| equal(l, b)))
            .cloned()
            .collect();
        submitted.links.extend(kept);
    }
    Ok(submitted)
}

/// The record to merge for `who`'s contribution `submitted` over `previous`, or `403`s naming the rule broken.
///
/// The links stored are every link it did not add, in their stored order, then its own, in the order it sent them:
/// among equally good candidates a scan follows the first, so a contributor cannot put its link before the owner's.
pub fn as_contributor(
    previous: Option<&AnchorRecord>,
    mut submitted: AnchorRecord,
    who: &Contributor,
) -> Result<AnchorRecord, Vec<FieldError>> {
    let Some(previous) = previous else {
        return Err(vec![FieldError::refused(
            "identifier",
            "a lifecycle contributor adds links to an anchor its owner registered, and there is none here (rule: contributions are additive)",
        )]);
    };
    let mut errors = Vec::new();
    if submitted.item_description != previous.item_description {
        errors.push(FieldError::refused(
            "itemDescription",
            "belongs to the identifier's owner; send it back as read (rule: contributions are additive)",
        ));
    }
    match &submitted.default_link_type {
        None => submitted.default_link_type.clone_from(&previous.default_link_type),
        Some(t) if Some(t) == previous.default_link_type.as_ref() => {}
        Some(_) => errors.push(FieldError::refused(
            "defaultLinkType",
            "belongs to the identifier's owner; send it back as read (rule: contributions are additive)",
        )),
    }
    let is_mine = |l: &Link| l.contributor.as_deref() == Some(who.did.as_str());
    let others: Vec<&Link> = previous.links.iter().filter(|l| !is_mine(l)).collect();
    for kept in &others {
        if !submitted.links.iter().any(|l| equal(l, kept)) {
            let by = kept
                .contributor
                .as_deref()
                .map_or("the identifier's owner".to_string(), str::to_string);
            errors.push(FieldError::refused(
                "links",
                format!(
                    "the {} link to {} was added by {by}: a lifecycle contributor cannot replace or delete links it did not add (rule: contributions are additive)",
                    kept.link_type, kept.href
                ),
            ));
        }
    }
    let mut mine = Vec::new();
    for (i, mut link) in std::mem::take(&mut submitted.links).into_iter().enumerate() {
        if others.iter().any(|p| equal(&link, p)) {
            continue;
        }
        let named = link.contributor.replace(who.did.clone());
        // A link of its own it sends back unchanged stays, whatever its role allows today.
        if previous.links.iter().any(|p| is_mine(p) && equal(&link, p)) {
            mine.push(link);
            continue;
        }
        if named.as_deref().is_some_and(|d| d != who.did) {
            errors.push(FieldError::refused(
                format!("links[{i}].contributor"),
                "names another party; the resolver attributes the links you add to you",
            ));
        }
        if !who.link_types.contains(&link.link_type) {
            errors.push(FieldError::refused(
                format!("links[{i}].linkType"),
                format!(
                    "{} may not be added by this contributor: its role ({}) allows {} (rule: trust_anchors.contributors.link_types)",
                    link.link_type,
                    who.roles.join(", "),
                    who.link_types.join(", ")
                ),
            ));
        }
        mine.push(link);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    submitted.links = others.into_iter().cloned().chain(mine).collect();
    Ok(submitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DTE: &str = "https://test.uncefact.org/vocabulary/linkTypes/dte";
    const PIP: &str = "https://gs1.org/voc/pip";
    const RECYCLER: &str = "did:web:recycler.example";

    fn link(link_type: &str, href: &str) -> Link {
        Link {
            link_type: link_type.into(),
            href: href.into(),
            title: "t".into(),
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

    fn by(mut l: Link, did: &str) -> Link {
        l.contributor = Some(did.into());
        l
    }

    fn record(links: Vec<Link>) -> AnchorRecord {
        AnchorRecord {
            item_description: "Battery".into(),
            default_link_type: Some(PIP.into()),
            links,
        }
    }

    fn recycler() -> Contributor {
        Contributor {
            did: RECYCLER.into(),
            link_types: vec![DTE.into()],
            roles: vec!["https://register.example/scope/recycler".into()],
        }
    }

    fn refused_fields(result: Result<AnchorRecord, Vec<FieldError>>) -> Vec<String> {
        let errors = result.unwrap_err();
        assert!(errors.iter().all(|e| e.refused), "{errors:?}");
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_contributor_adds_attributed_links() {
        let owner = record(vec![link(PIP, "https://brand.example/pip")]);
        let mut submitted = owner.clone();
        submitted.default_link_type = None;
        submitted
            .links
            .push(link(DTE, "https://recycler.example/e/1"));
        let out = as_contributor(Some(&owner), submitted, &recycler()).unwrap();
        assert_eq!(out.links[0], owner.links[0]);
        assert_eq!(
            out.links[1],
            by(link(DTE, "https://recycler.example/e/1"), RECYCLER)
        );
        assert_eq!(out.default_link_type.as_deref(), Some(PIP));
        // Read back and written again: the same record.
        assert_eq!(
            as_contributor(Some(&out), out.clone(), &recycler()).unwrap(),
            out
        );
    }

    #[test]
    fn a_contributors_links_come_after_the_others_whatever_order_it_sends() {
        let owner = record(vec![
            link(DTE, "https://brand.example/e/1"),
            link(PIP, "https://brand.example/pip"),
        ]);
        let mut submitted = owner.clone();
        submitted
            .links
            .insert(0, link(DTE, "https://recycler.example/e/1"));
        let out = as_contributor(Some(&owner), submitted, &recycler()).unwrap();
        assert_eq!(
            out.links,
            [
                link(DTE, "https://brand.example/e/1"),
                link(PIP, "https://brand.example/pip"),
                by(link(DTE, "https://recycler.example/e/1"), RECYCLER),
            ]
        );
    }

    #[test]
    fn a_contributor_cannot_replace_drop_or_create() {
        let owner = record(vec![link(PIP, "https://brand.example/pip")]);
        let mut replaced = owner.clone();
        replaced.links[0].href = "https://recycler.example/pip".into();
        assert_eq!(
            refused_fields(as_contributor(Some(&owner), replaced, &recycler())),
            ["links", "links[0].linkType"]
        );
        let dropped = record(vec![link(DTE, "https://recycler.example/e/1")]);
        assert_eq!(
            refused_fields(as_contributor(Some(&owner), dropped, &recycler())),
            ["links"]
        );
        let mut renamed = owner.clone();
        renamed.item_description = "Mine".into();
        assert_eq!(
            refused_fields(as_contributor(Some(&owner), renamed, &recycler())),
            ["itemDescription"]
        );
        assert_eq!(
            refused_fields(as_contributor(None, owner.clone(), &recycler())),
            ["identifier"]
        );
        let mut other_type = owner.clone();
        other_type
            .links
            .push(link(PIP, "https://recycler.example/pip"));
        assert_eq!(
            refused_fields(as_contributor(Some(&owner), other_type, &recycler())),
            ["links[1].linkType"]
        );
    }

    #[test]
    fn contributors_keep_their_hands_off_each_other() {
        let other = by(
            link(DTE, "https://repairer.example/e/1"),
            "did:web:repairer.example",
        );
        let owner = record(vec![link(PIP, "https://brand.example/pip"), other.clone()]);
        let mut dropped = owner.clone();
        dropped.links.pop();
        assert_eq!(
            refused_fields(as_contributor(Some(&owner), dropped, &recycler())),
            ["links"]
        );
        // Its own links it may change and drop.
        let mine = record(vec![
            owner.links[0].clone(),
            other.clone(),
            by(link(DTE, "https://recycler.example/e/1"), RECYCLER),
        ]);
        let mut changed = mine.clone();
        changed.links[2].href = "https://recycler.example/e/2".into();
        assert_eq!(
            as_contributor(Some(&mine), changed, &recycler())
                .unwrap()
                .links[2]
                .href,
            "https://recycler.example/e/2"
        );
        assert_eq!(
            as_contributor(Some(&mine), owner.clone(), &recycler()).unwrap(),
            owner
        );
    }

    #[test]
    fn owners_keep_contributed_links_unless_they_ask() {
        let contributed = by(link(DTE, "https://recycler.example/e/1"), RECYCLER);
        let stored = record(vec![
            link(PIP, "https://brand.example/pip"),
            contributed.clone(),
        ]);
        let fresh = record(vec![link(PIP, "https://brand.example/pip2")]);
        let kept = as_owner(Some(&stored), fresh.clone(), OwnerWrite::KeepContributions).unwrap();
        assert_eq!(kept.links, [fresh.links[0].clone(), contributed.clone()]);
        assert_eq!(
            as_owner(Some(&stored), stored.clone(), OwnerWrite::KeepContributions).unwrap(),
            stored
        );
        let replaced = as_owner(
            Some(&stored),
            fresh.clone(),
            OwnerWrite::ReplaceContributions,
        )
        .unwrap();
        assert_eq!(replaced, fresh);
        // An owner cannot attribute its own links to someone else.
        let mut forged = fresh.clone();
        forged
            .links
            .push(by(link(DTE, "https://brand.example/e"), RECYCLER));
        let errors = as_owner(Some(&stored), forged, OwnerWrite::KeepContributions).unwrap_err();
        assert_eq!(errors[0].field, "links[1].contributor");
        assert!(!errors[0].refused);
    }

    use proptest::prelude::*;

    /// Links from a small space, so that types, targets and contributors collide often.
    fn any_link() -> impl Strategy<Value = Link> {
        (0..2u8, 0..3u8, 0..3u8).prop_map(|(t, href, who)| {
            let l = link(
                [PIP, DTE][usize::from(t)],
                &format!("https://x.example/{href}"),
            );
            match who {
                0 => l,
                1 => by(l, RECYCLER),
                _ => by(l, "did:web:repairer.example"),
            }
        })
    }

    fn any_record() -> impl Strategy<Value = AnchorRecord> {
        proptest::collection::vec(any_link(), 0..6).prop_map(record)
    }

    proptest! {
        /// Whatever a contributor submits, what it may store keeps every link it did not add, in their stored order
        /// and before its own, and everything else in it is its own, of its types; and the stored record written back
        /// by it is the same record. A plausible submission (what it read, with or without its own links, plus new
        /// links of its type in any order among them) always succeeds.
        #[test]
        fn contributions_are_additive_and_attributed(
            previous in any_record(),
            extra in any_record(),
            keep_own in any::<bool>(),
            whole in any::<bool>(),
            at in any::<prop::sample::Index>(),
        ) {
            // Mostly a plausible submission, sometimes anything at all.
            let submitted = if whole {
                let mut s = previous.clone();
                s.links.retain(|l| keep_own || l.contributor.as_deref() != Some(RECYCLER));
                let position = at.index(s.links.len() + 1);
                let added = extra.links.into_iter().map(|mut l| {
                    l.link_type = DTE.into();
                    l.contributor = l.contributor.filter(|d| d == RECYCLER);
                    l
                });
                s.links.splice(position..position, added);
                s
            } else {
                extra
            };
            let result = as_contributor(Some(&previous), submitted, &recycler());
            if whole {
                prop_assert!(result.is_ok(), "{:?}", result);
            }
            if let Ok(out) = result {
                let others: Vec<&Link> =
                    previous.links.iter().filter(|l| l.contributor.as_deref() != Some(RECYCLER)).collect();
                let first: Vec<&Link> = out.links.iter().take(others.len()).collect();
                prop_assert_eq!(first, others);
                for added in out.links.iter().skip(previous.links.iter().filter(|l| l.contributor.as_deref() != Some(RECYCLER)).count()) {
                    prop_assert_eq!(added.contributor.as_deref(), Some(RECYCLER));
                    let stored_mine = previous.links.contains(added);
                    prop_assert!(stored_mine || added.link_type == DTE, "{:?}", added);
                }
                prop_assert_eq!(&as_contributor(Some(&out), out.clone(), &recycler()).unwrap(), &out);
            }
        }

        /// An owner's write (keeping contributions) loses no contributed current link, and is idempotent.
        #[test]
        fn owners_lose_no_contribution_silently(previous in any_record(), mut submitted in any_record()) {
            submitted.links.retain(|l| l.contributor.is_none());
            let out = as_owner(Some(&previous), submitted.clone(), OwnerWrite::KeepContributions).unwrap();
            for c in previous.links.iter().filter(|l| l.contributor.is_some()) {
                prop_assert!(out.links.contains(c), "{:?} lost", c);
            }
            let again = as_owner(Some(&out), submitted, OwnerWrite::KeepContributions).unwrap();
            prop_assert_eq!(again, out);
        }
    }
}

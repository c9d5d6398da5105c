//! A partial rewrite of an anchor: a write that names only some of a record's fields (the console's CSV upload,
//! whose columns cannot express every attribute of a link). It is applied inside the write, over the record the write
//! read, so nothing outside the write decides from an older read.

use crate::registry::{AnchorRecord, Link};
use crate::vocabulary::Vocabulary;

/// Which of a link's attributes a partial write sets (the others are kept from the stored link it matches).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkFields {
    pub title: bool,
    pub hreflang: bool,
    pub media_type: bool,
    pub context: bool,
}

/// What a partial write sets besides its links, which replace the stored list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Patch {
    /// The write names a description: else the stored one is kept (a new anchor takes the submitted one).
    pub description: bool,
    /// The write names a default link type: else the stored one is kept.
    pub default_link_type: bool,
    pub links: LinkFields,
}

impl Patch {
    /// The record `submitted` means over `stored`. Each submitted link that matches a stored one (the same variant,
    /// `Link::same_variant`, or else the same relation and `href`; each stored link matched once; predecessors and
    /// contributors' links never) starts from the stored link and takes the submitted relation, `href` and the
    /// fields this patch sets: attributes the write cannot express (`accessRole`, `encryptionMethod`, `fwqs`, `rel`,
    /// `method`, `id`) survive. Stored links no submitted one matches are dropped, as in a `PUT`; the stored default is kept only while a submitted link has its type.
    pub fn apply(
        &self,
        stored: Option<&AnchorRecord>,
        mut submitted: AnchorRecord,
        vocab: &Vocabulary,
    ) -> AnchorRecord {
        let Some(stored) = stored else {
            return submitted;
        };
        if !self.description {
            submitted
                .item_description
                .clone_from(&stored.item_description);
        }
        if !self.default_link_type {
            // The stored default only while a submitted link still has its type: a write that drops the type would
            // otherwise be refused for a default it never named.
            let kept = stored.default_link_type.as_deref().filter(|default| {
                let key = vocab.relation_key(default);
                submitted
                    .links
                    .iter()
                    .any(|l| vocab.relation_key(&l.link_type) == key)
            });
            submitted.default_link_type = kept.map(str::to_string);
        }
        let mut free: Vec<&Link> = stored
            .links
            .iter()
            .filter(|l| !l.is_predecessor() && l.contributor.is_none())
            .collect();
        for link in &mut submitted.links {
            let found = free
                .iter()
                .position(|s| s.same_variant(link, vocab))
                .or_else(|| {
                    free.iter().position(|s| {
                        s.href == link.href
                            && vocab.relation_key(&s.link_type)
                                == vocab.relation_key(&link.link_type)
                    })
                });
            if let Some(at) = found {
                *link = self.overlay(free.remove(at), link);
            }
        }
        submitted
    }

    fn overlay(&self, stored: &Link, submitted: &Link) -> Link {
        let mut link = stored.clone();
        link.link_type.clone_from(&submitted.link_type);
        link.href.clone_from(&submitted.href);
        let fields = self.links;
        if fields.title {
            link.title.clone_from(&submitted.title);
        }
        if fields.hreflang {
            link.hreflang.clone_from(&submitted.hreflang);
        }
        if fields.media_type {
            link.media_type.clone_from(&submitted.media_type);
        }
        if fields.context {
            link.context.clone_from(&submitted.context);
        }
        link
    }
}

//! Settling an anchor's default link type against its ancestors (GS1: every identifier has a default link).

use super::FieldError;
use crate::registry::AnchorRecord;

/// What to do when an anchor sets no default link type and no ancestor has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Make the first link's type the default (a single write through the API).
    FirstLink,
    /// Refuse for now: an ancestor later in the same import may supply it.
    Wait,
}

/// What settling a default link type reads of an ancestor level.
pub trait Ancestor {
    fn default_link_type(&self) -> Option<&str>;
    fn has_link_type(&self, link_type: &str) -> bool;
}

impl Ancestor for AnchorRecord {
    fn default_link_type(&self) -> Option<&str> {
        self.default_link_type.as_deref()
    }

    fn has_link_type(&self, link_type: &str) -> bool {
        AnchorRecord::has_link_type(self, link_type)
    }
}

/// Settles the anchor's default link type against its ancestors (most specific first).
///
/// Every identifier must have a default link at its own level or above (GS1). An explicit `defaultLinkType` must
/// name a type registered at this level or an ancestor. Without one, the anchor inherits its ancestors' default; with
/// nothing to inherit, the first link's type becomes the default.
pub fn settle_default<A: Ancestor>(
    record: &mut AnchorRecord,
    ancestors: &[Option<&A>],
    fallback: Fallback,
) -> Result<(), FieldError> {
    let ancestors = || ancestors.iter().flatten();
    if let Some(t) = &record.default_link_type {
        let above = ancestors().any(|a| a.has_link_type(t));
        if !settles_alone(record) && !above {
            let msg =
                format!("no link of type {t} is registered at this level or an ancestor level");
            return Err(FieldError::new("defaultLinkType", msg));
        }
        return Ok(());
    }
    if ancestors().any(|a| a.default_link_type().is_some()) {
        return Ok(());
    }
    match record.links.first() {
        Some(_) if fallback == Fallback::Wait => Err(FieldError::new(
            "defaultLinkType",
            "no default link type here and none inherited from an ancestor",
        )),
        Some(first) => {
            record.default_link_type = Some(first.link_type.clone());
            Ok(())
        }
        None => Err(FieldError::new(
            "defaultLinkType",
            "this identifier would have no default link: register at least one link here or at an ancestor level",
        )),
    }
}

/// Whether `settle_default` accepts the record, unchanged, whatever its ancestors hold: it names its default link
/// type among its own links.
pub fn settles_alone(record: &AnchorRecord) -> bool {
    record
        .default_link_type
        .as_deref()
        .is_some_and(|t| record.has_link_type(t))
}

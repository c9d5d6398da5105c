//! Where the verdicts of verified links are kept (`crate::verification`): one JSON document per anchor, with the
//! record version it was computed for, beside the anchor in the same store, so every replica reads the same.
//!
//! The registry does not read the documents: they are opaque JSON, stored with the version they belong to, and a
//! write is refused unless that is the version of the anchor's record at the moment of the write. A store shared
//! between replicas announces each write on its invalidation feed (`changed`), so each replica's index of refused
//! targets follows. Deleting an anchor leaves its verdicts: they name links of a record that is gone, which nothing
//! asks about, and a record written there again is checked again after the write.

use super::StoreError;

/// What a shared store publishes on its invalidation feed when the verdicts of `anchor` changed:
/// `:verdicts:{anchor}`. No canonical path starts with `:`, so a record cache that hears it forgets nothing.
pub fn changed(anchor: &str) -> String {
    format!("{CHANGED}{anchor}")
}

/// The prefix of `changed` events.
pub const CHANGED: &str = ":verdicts:";

/// The anchor of a `changed` event; `None` for any other event.
pub fn changed_anchor(event: &str) -> Option<&str> {
    event.strip_prefix(CHANGED)
}

/// Receives every stored verdict document: (canonical path, JSON).
pub type VerdictSink<'s> = dyn FnMut(&str, &str) -> Result<(), StoreError> + Send + 's;

/// The stored value: `{version} {revision} {json}`, so a conditional write compares the record's version and the
/// document's revision (`VerdictStore::put_verdicts_over`) without reading the JSON.
pub fn encode(version: u64, revision: u64, json: &str) -> String {
    format!("{version} {revision} {json}")
}

/// A stored verdict document, read back (`decode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored<'s> {
    /// The record version the verdicts were computed for.
    pub version: u64,
    /// How many times the document was written: each write adds one (`put_verdicts_over`).
    pub revision: u64,
    pub json: &'s str,
}

/// A stored value read back; `None` when it is not one. A value written before revisions (`{version} {json}`) is
/// revision 0.
pub fn decode(stored: &str) -> Option<Stored<'_>> {
    let (version, rest) = stored.split_once(' ')?;
    let version = version.parse().ok()?;
    if rest.starts_with('{') {
        return Some(Stored {
            version,
            revision: 0,
            json: rest,
        });
    }
    let (revision, json) = rest.split_once(' ')?;
    Some(Stored {
        version,
        revision: revision.parse().ok()?,
        json,
    })
}

/// What a conditional write of verdicts did (`VerdictStore::put_verdicts_over`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    Written,
    /// Not written: the anchor's record is at another version, or gone.
    Moved,
    /// Not written: the stored verdicts are no longer the revision they were read at (another check stored its
    /// verdicts meanwhile): read them again, merge and try again.
    Changed,
}

/// The stored verdicts of one anchor as read for a conditional write: the document's revision (0 when there is
/// none) and its JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Revised {
    pub revision: u64,
    pub json: Option<String>,
}

/// The verdicts of verified links, one document per anchor.
#[async_trait::async_trait]
pub trait VerdictStore: Send + Sync + 'static {
    /// The documents of `anchors` (canonical paths), in order; `None` where there is none. One round trip.
    async fn verdicts(&self, anchors: &[&str]) -> Result<Vec<Option<String>>, StoreError>;

    /// The document of `anchor` with its revision, to write over with `put_verdicts_over`.
    async fn revised(&self, anchor: &str) -> Result<Revised, StoreError>;

    /// Stores `json` as the verdicts of `anchor` for record `version`, when that is the version of the anchor's
    /// record now and, when `seen` is given, the stored document is still at revision `seen` (0: none stored). The
    /// store compares both in the same step as the write (one Lua script on Redis, the anchor and its verdicts in
    /// one hash slot; one redb write transaction), so verdicts for a record that has moved on, or for an anchor that
    /// is gone, are never written (`Put::Moved`), and a check never writes over verdicts another check stored after
    /// it read them (`Put::Changed`), whatever runs meanwhile, on any replica. The verdicts stored before are
    /// replaced whatever version they were for: the same version's (a re-check), an older one's, or a version above
    /// the record's (stale: left from a store restored from an export, or records recreated from version 1). Each
    /// write adds one to the revision. Tells the other replicas (`changed`).
    async fn put_verdicts_over(
        &self,
        anchor: &str,
        version: u64,
        seen: Option<u64>,
        json: &str,
    ) -> Result<Put, StoreError>;

    /// `put_verdicts_over` whatever the stored revision: whether written.
    async fn put_verdicts(
        &self,
        anchor: &str,
        version: u64,
        json: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.put_verdicts_over(anchor, version, None, json).await? == Put::Written)
    }

    /// Calls `sink` with every stored document (the recheck, `idr verify --all`, loading the refused index).
    async fn for_each_verdicts(&self, sink: &mut VerdictSink<'_>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_and_events_read_back() {
        assert_eq!(encode(7, 2, "{\"a\":1}"), "7 2 {\"a\":1}");
        let read = |version, revision, json| {
            Some(Stored {
                version,
                revision,
                json,
            })
        };
        assert_eq!(decode("7 2 {\"a\":1}"), read(7, 2, "{\"a\":1}"));
        assert_eq!(
            decode("7 {\"a\":1}"),
            read(7, 0, "{\"a\":1}"),
            "before revisions"
        );
        assert_eq!(decode("x {}"), None);
        assert_eq!(decode("7 x {}"), None);
        assert_eq!(decode("7"), None);
        assert_eq!(changed("01/09520123456788"), ":verdicts:01/09520123456788");
        assert_eq!(
            changed_anchor(":verdicts:01/09520123456788"),
            Some("01/09520123456788")
        );
        assert_eq!(changed_anchor(":linktypes"), None);
        assert_eq!(changed_anchor("01/09520123456788"), None);
    }
}

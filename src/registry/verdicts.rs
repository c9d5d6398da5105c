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

/// The stored value: `{version} {json}`, so a conditional write compares versions without reading the JSON.
pub fn encode(version: u64, json: &str) -> String {
    format!("{version} {json}")
}

/// `(version, json)` from a stored value; `None` when it is not one.
pub fn decode(stored: &str) -> Option<(u64, &str)> {
    let (version, json) = stored.split_once(' ')?;
    Some((version.parse().ok()?, json))
}

/// The verdicts of verified links, one document per anchor.
#[async_trait::async_trait]
pub trait VerdictStore: Send + Sync + 'static {
    /// The documents of `anchors` (canonical paths), in order; `None` where there is none. One round trip.
    async fn verdicts(&self, anchors: &[&str]) -> Result<Vec<Option<String>>, StoreError>;

    /// Stores `json` as the verdicts of `anchor` for record `version`, when that is the version of the anchor's
    /// record now. The store compares the two in the same step as the write (one Lua script on Redis, the anchor and
    /// its verdicts in one hash slot; one redb write transaction), so verdicts for a record that has moved on, or
    /// for an anchor that is gone, are never written (`Ok(false)`), whatever runs meanwhile. The verdicts stored
    /// before are replaced whatever version they were for: the same version's (a re-check), an older one's, or a
    /// version above the record's (stale: left from a store restored from an export, or records recreated from
    /// version 1). Tells the other replicas (`changed`).
    async fn put_verdicts(
        &self,
        anchor: &str,
        version: u64,
        json: &str,
    ) -> Result<bool, StoreError>;

    /// Calls `sink` with every stored document (the recheck, `idr verify --all`, loading the refused index).
    async fn for_each_verdicts(&self, sink: &mut VerdictSink<'_>) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_and_events_read_back() {
        assert_eq!(encode(7, "{\"a\":1}"), "7 {\"a\":1}");
        assert_eq!(decode("7 {\"a\":1}"), Some((7, "{\"a\":1}")));
        assert_eq!(decode("x {}"), None);
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

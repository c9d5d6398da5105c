//! The audit trail: one entry per accepted write, appended by the store in the same atomic step as the write
//! (the embedded store's transaction, the Redis write script), so a write is never without its entry nor an entry
//! without its write.
//!
//! Entries are partitioned by primary key (`01/09520123456788`, `abr/abn/51824753556`): on Redis Cluster one
//! list per primary key lives in the anchor's slot, which a script can write atomically with the anchor.

use serde::{Deserialize, Serialize};

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Create,
    Replace,
    Delete,
    Restore,
    /// A hard delete of the copy a soft delete kept.
    Purge,
    /// A bulk import (CLI or API) wrote the anchor.
    Import,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Replace => "replace",
            Operation::Delete => "delete",
            Operation::Restore => "restore",
            Operation::Purge => "purge",
            Operation::Import => "import",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        [
            Operation::Create,
            Operation::Replace,
            Operation::Delete,
            Operation::Restore,
            Operation::Purge,
            Operation::Import,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One accepted write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Where the entry sits in its partition; pass it back as `after` for the next page. Opaque: a sequence number
    /// in the embedded store, an index in the primary key's list on Redis.
    pub cursor: String,
    /// Unix milliseconds, by the store's clock.
    pub at_ms: u64,
    /// The credential: an API key's name, `admin`, or a DID.
    pub who: String,
    /// The canonical path written.
    pub identifier: String,
    pub operation: Operation,
    /// The anchor's version before the write (none when it did not exist).
    pub before: Option<u64>,
    /// The anchor's version after the write (none when it no longer exists).
    pub after: Option<u64>,
}

/// Which entries to read from one partition.
#[derive(Clone, Debug)]
pub struct AuditQuery<'a> {
    /// Entries for this canonical path and the paths below it.
    pub identifier: &'a str,
    /// Only entries at or after this time (unix milliseconds).
    pub since_ms: u64,
    /// Only entries after this cursor (the `cursor` of an entry of an earlier page; see `parse_cursor`).
    pub after: Option<u64>,
    pub limit: usize,
}

/// The largest cursor accepted: 2^53 - 1, the largest integer every JSON reader holds exactly. Both stores hand out
/// far smaller ones (a sequence number, a list index), and a read after this one finds nothing.
pub const MAX_CURSOR: u64 = (1 << 53) - 1;

/// A cursor as a client passes it back (`after`): decimal digits only (no sign, no spaces), at most `MAX_CURSOR`.
/// `None` for anything else, the same on every store.
pub fn parse_cursor(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok().filter(|c| *c <= MAX_CURSOR)
}

impl AuditQuery<'_> {
    /// Whether an entry for `path` belongs to the answer: the identifier itself or one below it.
    pub fn covers(&self, path: &str) -> bool {
        path.strip_prefix(self.identifier)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// The primary key of a canonical path, which names its audit partition (and its Redis hash tag). GS1 paths start
/// with a numeric AI (`01/…`: two segments); other schemes with their namespace and key type (three).
pub fn partition(canonical: &str) -> &str {
    let gs1 = canonical.bytes().next().is_some_and(|b| b.is_ascii_digit());
    let split = canonical
        .match_indices('/')
        .nth(if gs1 { 1 } else { 2 })
        .map_or(canonical.len(), |(i, _)| i);
    &canonical[..split]
}

/// The operation a put performed, from the version it found.
pub fn put_operation(before: Option<u64>) -> Operation {
    if before.is_some() {
        Operation::Replace
    } else {
        Operation::Create
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_primary_keys() {
        assert_eq!(
            partition("01/09520123456788/10/ABC/21/1"),
            "01/09520123456788"
        );
        assert_eq!(partition("01/09520123456788"), "01/09520123456788");
        assert_eq!(
            partition("abr/abn/51824753556/branch/001"),
            "abr/abn/51824753556"
        );
        assert_eq!(partition("abr/abn/51824753556"), "abr/abn/51824753556");
    }

    #[test]
    fn a_query_covers_the_identifier_and_below() {
        let q = AuditQuery {
            identifier: "01/09520123456788/10/AB",
            since_ms: 0,
            after: None,
            limit: 10,
        };
        assert!(q.covers("01/09520123456788/10/AB"));
        assert!(q.covers("01/09520123456788/10/AB/21/1"));
        assert!(!q.covers("01/09520123456788/10/ABC"));
        assert!(!q.covers("01/09520123456788"));
    }

    #[test]
    fn cursors_are_bounded_whole_numbers() {
        assert_eq!(parse_cursor("0"), Some(0));
        assert_eq!(parse_cursor("42"), Some(42));
        assert_eq!(parse_cursor("9007199254740991"), Some(MAX_CURSOR));
        for bad in [
            "",
            "9007199254740992",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "+1",
            " 1",
            "1.5",
            "x",
        ] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn operations_round_trip() {
        for op in ["create", "replace", "delete", "restore", "purge", "import"] {
            assert_eq!(Operation::parse(op).unwrap().as_str(), op);
        }
        assert_eq!(Operation::parse("update"), None);
    }
}

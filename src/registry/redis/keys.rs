//! The key layout. `{prefix}:{kind}:{primary key}…`: the part in braces is the Redis Cluster hash tag, so an
//! anchor, its tombstone, its deleted copy and its audit list share a slot.

use crate::registry::audit;

/// `{prefix}:{kind}:{01/09520123456788}/10/ABC`: the hash tag is the primary key (its value is percent-encoded
/// and cannot contain braces), so every level of one identifier lives in one cluster slot and a walk-up is one
/// MGET. GS1 paths start with a numeric AI (`01/…`: two segments); other schemes with their namespace and key type
/// (`abr/abn/51824753556/branch/001`: three).
pub fn key(prefix: &str, kind: &str, canonical: &str) -> String {
    let (primary, rest) = canonical.split_at(audit::partition(canonical).len());
    format!("{prefix}:{kind}:{{{primary}}}{rest}")
}

/// The canonical path back from an anchor key.
pub fn canonical_of(prefix: &str, key: &str) -> Option<String> {
    let tagged = key.strip_prefix(prefix)?.strip_prefix(":a:{")?;
    let (primary, rest) = tagged.split_once('}')?;
    Some(format!("{primary}{rest}"))
}

/// The canonical path back from a key of `kind` (`v`: verdicts).
pub fn canonical_of_kind(prefix: &str, kind: &str, key: &str) -> Option<String> {
    let tagged = key
        .strip_prefix(prefix)?
        .strip_prefix(':')?
        .strip_prefix(kind)?;
    let (primary, rest) = tagged.strip_prefix(":{")?.split_once('}')?;
    Some(format!("{primary}{rest}"))
}

/// The primary key (audit partition) of an audit list key: `{prefix}:audit:{01/09520123456788}`.
pub fn audit_partition_of(prefix: &str, key: &str) -> Option<String> {
    let tagged = key.strip_prefix(prefix)?.strip_prefix(":audit:{")?;
    let (primary, rest) = tagged.split_once('}')?;
    Some(format!("{primary}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::super::cluster::slot;
    use super::*;

    #[test]
    fn keys_share_a_slot_per_primary_key() {
        let k = |c| key("idr", "a", c);
        assert_eq!(
            k("01/09520123456788/10/ABC"),
            "idr:a:{01/09520123456788}/10/ABC"
        );
        assert_eq!(k("01/09520123456788"), "idr:a:{01/09520123456788}");
        assert_eq!(
            slot(&k("01/09520123456788/10/ABC")),
            slot(&k("01/09520123456788/21/1"))
        );
        assert_eq!(
            canonical_of("idr", "idr:a:{01/09520123456788}/10/ABC").as_deref(),
            Some("01/09520123456788/10/ABC")
        );
        assert_eq!(canonical_of("idr", "other:a:{01/1}"), None);
        let verdicts = key("idr", "v", "01/09520123456788/21/1");
        assert_eq!(verdicts, "idr:v:{01/09520123456788}/21/1");
        assert_eq!(slot(&verdicts), slot(&k("01/09520123456788/21/1")));
        assert_eq!(
            canonical_of_kind("idr", "v", &verdicts).as_deref(),
            Some("01/09520123456788/21/1")
        );
        assert_eq!(canonical_of_kind("idr", "a", &verdicts), None);
        assert_eq!(
            k("abr/abn/51824753556/branch/001"),
            "idr:a:{abr/abn/51824753556}/branch/001"
        );
        assert_ne!(
            slot(&k("abr/abn/51824753556")),
            slot(&k("abr/abn/53004085616")),
            "one scheme's identifiers spread over the cluster"
        );
        assert_eq!(
            canonical_of("idr", "idr:a:{abr/abn/51824753556}/branch/001").as_deref(),
            Some("abr/abn/51824753556/branch/001")
        );
    }
}

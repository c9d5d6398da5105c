//! Pattern registrations as the registry holds them: anchor records stored under reserved paths
//! (`~pattern/{key}/{prefix}`, which no identifier's canonical path can be), and the in-memory index a replica
//! answers pattern lookups from.

use super::StoredAnchor;
use std::collections::HashMap;
use std::sync::Arc;

/// What every stored pattern path starts with. `~` never begins a canonical identifier path (GS1 paths start with
/// an AI, other schemes with a namespace of letters and digits).
pub const ROOT: &str = "~pattern/";

/// `8004/9520123` → `~pattern/8004/9520123`.
pub fn stored_path(pattern: &str) -> String {
    format!("{ROOT}{pattern}")
}

/// `~pattern/8004/9520123` → `8004/9520123`; `None` for an anchor's path.
pub fn pattern_of(stored: &str) -> Option<&str> {
    stored.strip_prefix(ROOT)
}

/// The stored paths of the patterns that could match a key value, longest first: `~pattern/{key}/{value[..n]}` for
/// every `n` down to 1 (at character boundaries). A store without the index reads them in one `get_many`.
pub fn candidates(key: &str, value: &str) -> Vec<String> {
    (1..=value.len())
        .rev()
        .filter(|&n| value.is_char_boundary(n))
        .map(|n| format!("{ROOT}{key}/{}", &value[..n]))
        .collect()
}

/// Every pattern, by key (`8004`, `abr/abn`) and then by prefix, with the prefix lengths of each key, longest
/// first, so that the longest match is a few hash probes and allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct PatternIndex {
    keys: HashMap<String, Prefixes>,
}

#[derive(Clone, Debug, Default)]
struct Prefixes {
    by_prefix: HashMap<String, Arc<StoredAnchor>>,
    lengths: Vec<usize>,
}

impl PatternIndex {
    /// From `(stored path, record)` pairs; paths that are not pattern paths are ignored.
    pub fn from_records(records: impl IntoIterator<Item = (String, Arc<StoredAnchor>)>) -> Self {
        let mut index = PatternIndex::default();
        for (path, record) in records {
            index.set(&path, Some(record));
        }
        index
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.values().map(|p| p.by_prefix.len()).sum()
    }

    /// Adds, replaces (`Some`) or removes (`None`) the pattern stored at `path`.
    pub fn set(&mut self, path: &str, record: Option<Arc<StoredAnchor>>) {
        let Some((key, prefix)) = pattern_of(path).and_then(|p| p.rsplit_once('/')) else {
            return;
        };
        let entry = self.keys.entry(key.to_string()).or_default();
        match record {
            Some(record) => {
                entry.by_prefix.insert(prefix.to_string(), record);
            }
            None => {
                entry.by_prefix.remove(prefix);
            }
        }
        let mut lengths: Vec<usize> = entry.by_prefix.keys().map(|p| p.len()).collect();
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        lengths.dedup();
        entry.lengths = lengths;
        if entry.by_prefix.is_empty() {
            self.keys.remove(key);
        }
    }

    /// The longest pattern of `key` that `value` starts with: its pattern path (`8004/9520123`) and record.
    pub fn longest(&self, key: &str, value: &str) -> Option<(String, Arc<StoredAnchor>)> {
        let prefixes = self.keys.get(key)?;
        prefixes.lengths.iter().find_map(|&n| {
            let prefix = value.get(..n)?;
            let record = prefixes.by_prefix.get(prefix)?;
            Some((format!("{key}/{prefix}"), record.clone()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::AnchorRecord;

    fn record(description: &str) -> Arc<StoredAnchor> {
        Arc::new(StoredAnchor {
            version: 1,
            record: AnchorRecord {
                item_description: description.into(),
                default_link_type: None,
                links: vec![],
            },
        })
    }

    #[test]
    fn the_longest_prefix_of_the_same_key_wins() {
        let mut index = PatternIndex::from_records([
            ("~pattern/8004/952".to_string(), record("short")),
            ("~pattern/8004/9520123".to_string(), record("long")),
            ("~pattern/8003/09520123".to_string(), record("grai")),
            ("01/09520123456788".to_string(), record("an anchor")),
        ]);
        assert_eq!(index.len(), 3);
        let found = |index: &PatternIndex, key, value| {
            index
                .longest(key, value)
                .map(|(p, r)| (p, r.record.item_description.clone()))
        };
        assert_eq!(
            found(&index, "8004", "9520123ABC"),
            Some(("8004/9520123".into(), "long".into()))
        );
        assert_eq!(
            found(&index, "8004", "9529"),
            Some(("8004/952".into(), "short".into()))
        );
        assert_eq!(found(&index, "8004", "95"), None);
        assert_eq!(found(&index, "8003", "9520123"), None);
        assert_eq!(found(&index, "01", "9520123"), None);
        index.set("~pattern/8004/9520123", None);
        assert_eq!(
            found(&index, "8004", "9520123ABC"),
            Some(("8004/952".into(), "short".into()))
        );
        index.set("~pattern/8004/952", None);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn candidates_are_every_prefix_longest_first() {
        assert_eq!(
            candidates("8004", "952"),
            ["~pattern/8004/952", "~pattern/8004/95", "~pattern/8004/9"]
        );
        assert_eq!(pattern_of("~pattern/8004/952"), Some("8004/952"));
        assert_eq!(pattern_of("8004/952"), None);
        assert_eq!(stored_path("8004/952"), "~pattern/8004/952");
    }
}

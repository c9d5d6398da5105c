//! The levels of an identifier read for a resolution, and the rule that says when the levels above need no reading.

use super::{Lookup, Settles, StoredAnchor};
use std::sync::Arc;

/// The levels of a resolution read so far, most specific first.
pub(super) struct Walk {
    pub(super) records: Vec<Option<Arc<StoredAnchor>>>,
    /// Levels the resolution has.
    levels: usize,
    found: bool,
}

impl Walk {
    pub(super) fn new(levels: usize) -> Walk {
        Walk {
            records: Vec::with_capacity(levels),
            levels,
            found: false,
        }
    }

    /// Adds the next level. `true` when it is the first level with a record and it settles the answer. The last level
    /// is not asked: nothing above it would be saved (a cached single-level scan pays no second choice of link).
    pub(super) fn push(
        &mut self,
        record: Option<Arc<StoredAnchor>>,
        settles: Option<Settles<'_>>,
    ) -> bool {
        let first = !self.found && record.is_some();
        self.found |= record.is_some();
        let last = self.records.len() + 1 >= self.levels;
        let done = first
            && !last
            && record
                .as_deref()
                .is_some_and(|r| settles.is_some_and(|f| f(r)));
        self.records.push(record);
        done
    }

    pub(super) fn lookup(self) -> Lookup {
        Lookup {
            records: self.records,
            stale: false,
            complete: true,
        }
    }
}

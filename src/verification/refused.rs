//! The targets `enforce` mode passes over, in memory: (anchor, link type, href) whose last verdict refuses them.
//! Rare by design, so an empty index costs a scan one atomic load.

use super::AnchorVerdicts;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Targets = HashMap<String, Vec<(String, String)>>;

#[derive(Default)]
pub struct RefusedIndex {
    any: AtomicBool,
    targets: ArcSwap<Targets>,
    /// Serialises updates (each copies the map): readers never wait.
    writing: std::sync::Mutex<()>,
}

impl RefusedIndex {
    /// Whether the last verdict on the link (`link_type`, `href`) of `anchor` refuses it.
    pub fn contains(&self, anchor: &str, link_type: &str, href: &str) -> bool {
        if !self.any.load(Ordering::Acquire) {
            return false;
        }
        self.targets
            .load()
            .get(anchor)
            .is_some_and(|t| t.iter().any(|(l, h)| l == link_type && h == href))
    }

    /// Follows the verdicts now stored for `anchor` (`None`: none).
    pub fn set(&self, anchor: &str, verdicts: Option<&AnchorVerdicts>) {
        let refused = refused_of(verdicts);
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.targets.load();
        if current.get(anchor).map(Vec::as_slice).unwrap_or_default() == refused.as_slice() {
            return;
        }
        let mut next = Targets::clone(&current);
        if refused.is_empty() {
            next.remove(anchor);
        } else {
            next.insert(anchor.to_string(), refused);
        }
        self.publish(next);
    }

    /// Replaces the whole index (start-up, after a gap in the invalidation feed).
    pub fn replace(&self, all: impl IntoIterator<Item = (String, AnchorVerdicts)>) {
        let next: Targets = all
            .into_iter()
            .map(|(anchor, v)| (anchor, refused_of(Some(&v))))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.publish(next);
    }

    fn publish(&self, next: Targets) {
        let any = !next.is_empty();
        self.targets.store(Arc::new(next));
        self.any.store(any, Ordering::Release);
    }

    /// Anchors with a refused target.
    pub fn len(&self) -> usize {
        self.targets.load().len()
    }

    pub fn is_empty(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }
}

fn refused_of(verdicts: Option<&AnchorVerdicts>) -> Vec<(String, String)> {
    verdicts
        .map(|v| {
            v.links
                .iter()
                .filter(|l| l.status.is_refused())
                .map(|l| (l.link_type.clone(), l.href.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::{LinkVerdict, Status};
    use super::*;

    fn verdict(href: &str, status: Status) -> LinkVerdict {
        LinkVerdict {
            status,
            ..LinkVerdict::pending("https://test.uncefact.org/vocabulary/untp/dpp", href)
        }
    }

    #[test]
    fn follows_each_anchors_last_verdicts() {
        let index = RefusedIndex::default();
        let dpp = "https://test.uncefact.org/vocabulary/untp/dpp";
        assert!(index.is_empty());
        assert!(!index.contains("01/1", dpp, "https://a.example/x"));
        let v = AnchorVerdicts {
            version: 3,
            links: vec![
                verdict("https://a.example/x", Status::Failed),
                verdict("https://a.example/y", Status::Verified),
                verdict("https://a.example/z", Status::Unreachable),
                verdict("https://a.example/w", Status::NotACredential),
            ],
        };
        index.set("01/1", Some(&v));
        assert!(index.contains("01/1", dpp, "https://a.example/x"));
        assert!(index.contains("01/1", dpp, "https://a.example/w"));
        assert!(!index.contains("01/1", dpp, "https://a.example/y"));
        assert!(!index.contains("01/1", dpp, "https://a.example/z"));
        assert!(!index.contains("01/2", dpp, "https://a.example/x"));
        assert!(!index.contains("01/1", "other", "https://a.example/x"));
        let fixed = AnchorVerdicts {
            version: 4,
            links: vec![verdict("https://a.example/x", Status::Verified)],
        };
        index.set("01/1", Some(&fixed));
        assert!(!index.contains("01/1", dpp, "https://a.example/x"));
        assert!(index.is_empty());
        index.replace([("01/7".to_string(), v)]);
        assert!(index.contains("01/7", dpp, "https://a.example/x"));
        assert_eq!(index.len(), 1);
    }
}

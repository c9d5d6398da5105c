//! The cache entry of one fetch, shared by every cache of fetched things (DID documents, DIDs' linksets, status
//! lists): empty while its fetch runs, so concurrent callers wait for that one fetch, then kept as long as its
//! outcome says (a success its freshness, a failure the failure memory).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fetch's cache entry.
pub type Slot<T> = Arc<tokio::sync::OnceCell<T>>;

/// What a fetch's outcome says about how long to keep it.
pub trait Kept {
    fn ttl(&self) -> Duration;
}

/// Each entry lives as long as its outcome says; a pending one no longer than its fetch may take (`pending`).
pub struct SlotExpiry {
    pub pending: Duration,
}

impl SlotExpiry {
    fn lifetime<T: Kept>(&self, slot: &Slot<T>) -> Option<Duration> {
        Some(slot.get().map_or(self.pending, Kept::ttl))
    }
}

impl<T: Kept> moka::Expiry<String, Slot<T>> for SlotExpiry {
    fn expire_after_create(&self, _: &String, slot: &Slot<T>, _: Instant) -> Option<Duration> {
        self.lifetime(slot)
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &Slot<T>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.lifetime(slot)
    }
}

/// `text` cut to at most `max` bytes (on a character boundary), with `...` when cut: reasons quoting remote text.
pub fn shorten(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use moka::Expiry;

    struct Outcome(Duration);

    impl Kept for Outcome {
        fn ttl(&self) -> Duration {
            self.0
        }
    }

    #[test]
    fn a_pending_slot_lives_as_long_as_a_fetch_then_as_its_outcome() {
        let expiry = SlotExpiry {
            pending: Duration::from_secs(4),
        };
        let slot: Slot<Outcome> = Arc::default();
        let key = String::new();
        let now = Instant::now();
        assert_eq!(
            expiry.expire_after_create(&key, &slot, now),
            Some(Duration::from_secs(4))
        );
        slot.set(Outcome(Duration::from_secs(60))).ok().unwrap();
        assert_eq!(
            expiry.expire_after_update(&key, &slot, now, None),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn shortened_text_ends_on_a_character() {
        assert_eq!(shorten("abc".into(), 5), "abc");
        assert_eq!(shorten("abcdef".into(), 3), "abc...");
        assert_eq!(shorten("aé".into(), 2), "a...");
    }
}

//! One subscription to a store's invalidation feed, shared by everything in a replica that listens (the record
//! cache, the run-time link-type vocabularies): a replica holds one pub/sub connection however many listen.

use super::{Coordination, InvalidationSink, Sink, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// A store's `Coordination`, whose `subscribe` adds a listener to one shared subscription.
pub struct SharedFeed {
    inner: Arc<dyn Coordination>,
    fanout: Arc<Fanout>,
    /// What the store's own `subscribe` answered, once asked.
    subscribed: OnceLock<bool>,
}

impl SharedFeed {
    pub fn new(inner: Arc<dyn Coordination>) -> SharedFeed {
        SharedFeed {
            inner,
            fanout: Arc::new(Fanout::default()),
            subscribed: OnceLock::new(),
        }
    }
}

/// Hands every event to every listener.
#[derive(Default)]
struct Fanout {
    sinks: RwLock<Vec<Sink>>,
    connected: AtomicBool,
}

impl Fanout {
    fn each(&self, event: impl Fn(&Sink)) {
        let sinks = self.sinks.read().unwrap_or_else(|e| e.into_inner());
        sinks.iter().for_each(event);
    }
}

impl InvalidationSink for Fanout {
    fn invalidate(&self, key: &str) {
        self.each(|s| s.invalidate(key));
    }

    fn connected(&self) {
        self.connected.store(true, Ordering::Release);
        self.each(|s| s.connected());
    }

    fn disconnected(&self) {
        self.connected.store(false, Ordering::Release);
        self.each(|s| s.disconnected());
    }
}

#[async_trait::async_trait]
impl Coordination for SharedFeed {
    async fn claim_first_start(&self) -> Result<bool, StoreError> {
        self.inner.claim_first_start().await
    }

    async fn claim_nonce(&self, nonce: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.claim_nonce(nonce, ttl).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready().await
    }

    /// Adds `sink` to the shared subscription (made on the first call). A listener added while the feed is up is
    /// told `connected` at once, as the first one was.
    fn subscribe(&self, sink: Sink) -> bool {
        self.fanout
            .sinks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(sink.clone());
        let subscribed = *self
            .subscribed
            .get_or_init(|| self.inner.subscribe(self.fanout.clone()));
        if subscribed && self.fanout.connected.load(Ordering::Acquire) {
            sink.connected();
        }
        subscribed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    /// A store whose feed is a sink we drive by hand.
    #[derive(Default)]
    struct Store {
        subscriptions: AtomicUsize,
        sink: Mutex<Option<Sink>>,
    }

    #[async_trait::async_trait]
    impl Coordination for Store {
        async fn claim_first_start(&self) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn claim_nonce(&self, _: &str, _: Duration) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn ready(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn subscribe(&self, sink: Sink) -> bool {
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
            *self.sink.lock().unwrap() = Some(sink);
            true
        }
    }

    #[derive(Default)]
    struct Heard(Mutex<Vec<String>>);

    impl InvalidationSink for Heard {
        fn invalidate(&self, key: &str) {
            self.0.lock().unwrap().push(key.to_string());
        }
        fn connected(&self) {
            self.0.lock().unwrap().push("connected".into());
        }
        fn disconnected(&self) {
            self.0.lock().unwrap().push("disconnected".into());
        }
    }

    #[test]
    fn listeners_share_one_subscription_and_hear_everything() {
        let store = Arc::new(Store::default());
        let feed = SharedFeed::new(store.clone());
        let (first, second) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        assert!(feed.subscribe(first.clone()));
        let driver = store.sink.lock().unwrap().clone().unwrap();
        driver.connected();
        driver.invalidate("01/09520123456788");
        assert!(feed.subscribe(second.clone()));
        driver.invalidate(":linktypes");
        driver.disconnected();
        assert_eq!(store.subscriptions.load(Ordering::SeqCst), 1);
        assert_eq!(
            *first.0.lock().unwrap(),
            [
                "connected",
                "01/09520123456788",
                ":linktypes",
                "disconnected"
            ]
        );
        assert_eq!(
            *second.0.lock().unwrap(),
            ["connected", ":linktypes", "disconnected"],
            "told the feed is up when it joins"
        );
    }
}

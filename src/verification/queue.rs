//! The queue of anchors waiting to be checked, and the per-host turns that keep checks polite.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Which credential links of an anchor a check looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every one (after a write, the sweep, on demand).
    All,
    /// Only these (link type, href): those whose check was deferred, tried again (`engine::DEFERRED_RETRIES`).
    Links(BTreeSet<(String, String)>),
}

impl Scope {
    /// Whether the link (`link_type`, `href`) is checked.
    pub fn includes(&self, link_type: &str, href: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Links(links) => links.contains(&(link_type.to_string(), href.to_string())),
        }
    }

    /// What one check must look at to cover both.
    fn widen(&mut self, other: Scope) {
        match (&mut *self, other) {
            (Scope::All, _) => {}
            (_, Scope::All) => *self = Scope::All,
            (Scope::Links(mine), Scope::Links(theirs)) => mine.extend(theirs),
        }
    }
}

/// Anchors waiting to be checked, each at most once (with the links to check), at most `capacity` of them.
pub struct Queue {
    state: Mutex<Waiting>,
    notify: tokio::sync::Notify,
    capacity: usize,
}

#[derive(Default)]
struct Waiting {
    order: VecDeque<String>,
    queued: HashMap<String, Scope>,
}

/// What `Queue::push` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Already waiting: one check will see the latest record.
    Already,
    /// The queue is full: not queued (the schedule checks it later).
    Dropped,
}

impl Queue {
    pub fn new(capacity: usize) -> Queue {
        Queue {
            state: Mutex::new(Waiting::default()),
            notify: tokio::sync::Notify::new(),
            capacity: capacity.max(1),
        }
    }

    /// Queues `anchor` for a check of every link, unless it is waiting already (then its check will look at every
    /// link) or the queue is full.
    pub fn push(&self, anchor: &str) -> Pushed {
        self.push_scoped(anchor, Scope::All)
    }

    /// Queues `anchor` for a check of the links in `scope`; when it is waiting already, its check looks at those
    /// too.
    pub fn push_scoped(&self, anchor: &str, scope: Scope) -> Pushed {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(waiting) = state.queued.get_mut(anchor) {
            waiting.widen(scope);
            return Pushed::Already;
        }
        if state.order.len() >= self.capacity {
            return Pushed::Dropped;
        }
        state.queued.insert(anchor.to_string(), scope);
        state.order.push_back(anchor.to_string());
        drop(state);
        self.notify.notify_one();
        Pushed::Queued
    }

    /// The anchor waiting longest, once there is one. One consumer.
    pub async fn pop(&self) -> String {
        self.pop_scoped().await.0
    }

    /// The anchor waiting longest and the links to check, once there is one. One consumer.
    pub async fn pop_scoped(&self) -> (String, Scope) {
        loop {
            if let Some(waiting) = self.try_pop() {
                return waiting;
            }
            self.notify.notified().await;
        }
    }

    fn try_pop(&self) -> Option<(String, Scope)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let anchor = state.order.pop_front()?;
        let scope = state.queued.remove(&anchor).unwrap_or(Scope::All);
        Some((anchor, scope))
    }

    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .order
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One turn per host: a host's targets are fetched one at a time, whatever the concurrency.
#[derive(Default)]
pub struct HostTurns {
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl HostTurns {
    /// Runs `work` when `host` has no other check running, if that is before `deadline` (else `None`, and `work`
    /// does not run).
    pub async fn take_until<T>(
        &self,
        host: &str,
        deadline: tokio::time::Instant,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let turn = self
            .hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(host.to_string())
            .or_default()
            .clone();
        let result = match tokio::time::timeout_at(deadline, turn.lock()).await {
            Ok(_turn) => Some(work.await),
            Err(_) => None,
        };
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        // Nobody else holds or waits for this host's turn (they clone it under this lock): forget the host.
        if Arc::strong_count(&turn) == 2 {
            hosts.remove(host);
        }
        result
    }

    /// Hosts with a check running or waiting.
    pub fn busy(&self) -> usize {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_once_in_order_and_bounded() {
        let queue = Queue::new(2);
        assert_eq!(queue.push("01/1"), Pushed::Queued);
        assert_eq!(queue.push("01/1"), Pushed::Already);
        assert_eq!(queue.push("01/2"), Pushed::Queued);
        assert_eq!(queue.push("01/3"), Pushed::Dropped);
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.pop().await, "01/1");
        // Taken off the queue: a later write queues it again.
        assert_eq!(queue.push("01/1"), Pushed::Queued);
        assert_eq!(queue.pop().await, "01/2");
        assert_eq!(queue.pop().await, "01/1");
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn a_check_of_some_links_widens_to_what_each_push_asked() {
        let links = |hrefs: &[&str]| {
            Scope::Links(
                hrefs
                    .iter()
                    .map(|h| ("dpp".to_string(), h.to_string()))
                    .collect(),
            )
        };
        let queue = Queue::new(4);
        assert_eq!(queue.push_scoped("01/1", links(&["a"])), Pushed::Queued);
        assert_eq!(queue.push_scoped("01/1", links(&["b"])), Pushed::Already);
        assert_eq!(queue.push_scoped("01/2", links(&["a"])), Pushed::Queued);
        assert_eq!(queue.push("01/2"), Pushed::Already);
        assert_eq!(queue.push_scoped("01/2", links(&["c"])), Pushed::Already);
        let (anchor, scope) = queue.pop_scoped().await;
        assert_eq!((anchor.as_str(), &scope), ("01/1", &links(&["a", "b"])));
        assert!(scope.includes("dpp", "b"));
        assert!(!scope.includes("dpp", "c"));
        assert!(!scope.includes("dcc", "a"));
        assert_eq!(queue.pop_scoped().await, ("01/2".to_string(), Scope::All));
    }

    #[tokio::test]
    async fn a_pop_waits_for_a_push() {
        let queue = Arc::new(Queue::new(4));
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.pop().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        queue.push("01/9");
        assert_eq!(waiting.await.unwrap(), "01/9");
    }

    #[tokio::test]
    async fn a_turn_not_come_by_the_deadline_runs_nothing() {
        let turns = Arc::new(HostTurns::default());
        let (release, held) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn({
            let turns = turns.clone();
            async move {
                let far = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
                turns
                    .take_until("a.example", far, async { held.await.ok() })
                    .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(50);
        let ran = std::sync::atomic::AtomicBool::new(false);
        let waited = turns
            .take_until("a.example", soon, async {
                ran.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .await;
        assert_eq!(waited, None, "the turn was held past the deadline");
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        // Another host is not held up.
        assert_eq!(
            turns.take_until("b.example", soon, async { 1 }).await,
            Some(1)
        );
        release.send(()).unwrap();
        assert_eq!(holder.await.unwrap(), Some(Some(())));
        assert_eq!(turns.busy(), 0);
    }

    #[tokio::test]
    async fn hosts_are_forgotten_after_their_turn() {
        let turns = HostTurns::default();
        let soon = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let n = turns.take_until("a.example", soon, async { 7 }).await;
        assert_eq!(n, Some(7));
        assert_eq!(turns.busy(), 0);
    }
}

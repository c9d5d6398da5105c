//! The queue of anchors waiting to be checked, and the per-host turns that keep checks polite.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Anchors waiting to be checked, each at most once, at most `capacity` of them.
pub struct Queue {
    state: Mutex<Waiting>,
    notify: tokio::sync::Notify,
    capacity: usize,
}

#[derive(Default)]
struct Waiting {
    order: VecDeque<String>,
    queued: HashSet<String>,
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

    /// Queues `anchor` unless it is waiting already or the queue is full.
    pub fn push(&self, anchor: &str) -> Pushed {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.queued.contains(anchor) {
            return Pushed::Already;
        }
        if state.order.len() >= self.capacity {
            return Pushed::Dropped;
        }
        state.queued.insert(anchor.to_string());
        state.order.push_back(anchor.to_string());
        drop(state);
        self.notify.notify_one();
        Pushed::Queued
    }

    /// The anchor waiting longest, once there is one. One consumer.
    pub async fn pop(&self) -> String {
        loop {
            if let Some(anchor) = self.try_pop() {
                return anchor;
            }
            self.notify.notified().await;
        }
    }

    fn try_pop(&self) -> Option<String> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let anchor = state.order.pop_front()?;
        state.queued.remove(&anchor);
        Some(anchor)
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

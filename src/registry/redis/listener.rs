//! The invalidation feed: a subscription to the store's pub/sub channel, on which every write publishes the
//! canonical path it changed, delivered to the record cache (`Sink`). While the feed is down the cache does not
//! trust itself.

use super::dial::Dialer;
use super::target::{Addr, Topology};
use crate::registry::Sink;
use futures_util::StreamExt;
use redis::{RedisError, RedisResult};
use std::sync::Arc;
use std::time::Duration;

/// How often an idle invalidation subscription is checked.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Follows the invalidation channel forever, reconnecting when it drops: to the next node of a cluster, or to the
/// master the sentinels name now. A cluster broadcasts every `PUBLISH` to all nodes, so any one node will do.
pub async fn listen(dialer: Arc<Dialer>, channel: String, sink: Sink, timeout: Duration) {
    let mut attempt: u32 = 0;
    loop {
        let node = match &dialer.target.topology {
            Topology::Cluster(seeds) => Ok(seeds[attempt as usize % seeds.len()].clone()),
            _ => dialer.master().await,
        };
        let subscribed = match node {
            Ok(node) => subscribe_once(&dialer, &node, &channel, timeout)
                .await
                .map(|pubsub| (node, pubsub)),
            Err(e) => Err(RedisError::from(e)),
        };
        match subscribed {
            Ok((node, pubsub)) => {
                let node = node.to_string();
                let node = node.as_str();
                attempt = 0;
                sink.connected();
                tracing::info!(node, "invalidation feed connected");
                follow(pubsub, &sink, timeout).await;
                sink.disconnected();
                metrics::counter!(crate::telemetry::names::STORE_RECONNECTS).increment(1);
                tracing::warn!(
                    node,
                    "invalidation feed lost; cached records are not trusted until it is back"
                );
            }
            Err(e) => {
                sink.disconnected();
                attempt = attempt.saturating_add(1);
                tracing::debug!(error = %e, "invalidation feed unavailable");
            }
        }
        let backoff = 50u64.saturating_mul(1 << attempt.min(4));
        tokio::time::sleep(Duration::from_millis(backoff)).await;
    }
}

/// Delivers invalidations until the subscription ends or stops answering. A half-open connection (a peer that
/// vanished without a reset) never ends the stream, so the subscription is pinged every `HEARTBEAT`; a ping not
/// answered within the command timeout counts as lost, and the cache stops trusting itself.
async fn follow(pubsub: redis::aio::PubSub, sink: &Sink, timeout: Duration) {
    let (mut control, mut messages) = pubsub.split();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    if let Ok(key) = message.get_payload::<String>() {
                        sink.invalidate(&key);
                    }
                }
                None => return,
            },
            _ = heartbeat.tick() => {
                let ping = tokio::time::timeout(timeout.max(Duration::from_millis(500)), control.ping::<redis::Value>());
                if !matches!(ping.await, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

async fn subscribe_once(
    dialer: &Dialer,
    node: &Addr,
    channel: &str,
    timeout: Duration,
) -> RedisResult<redis::aio::PubSub> {
    let connect = async {
        let mut pubsub = dialer.pubsub(node).await?;
        pubsub.subscribe(channel).await?;
        Ok(pubsub)
    };
    match tokio::time::timeout(timeout * 4, connect).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "subscribe timed out",
        ))),
    }
}

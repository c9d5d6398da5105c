//! Audit retention (`audit.retain_days`): a background task removes audit entries older than the retention, on
//! either store, at start-up and then hourly, in steps of bounded work.

use super::AuditStore;
use std::sync::Arc;
use std::time::Duration;

/// Entries one step looks at, at most: an embedded step is one write transaction (other writes wait for it), a Redis
/// step a few hundred short scripts.
pub const STEP_BUDGET: usize = 10_000;
/// Between passes over the whole trail.
const EVERY: Duration = Duration::from_secs(3600);
/// Between the steps of an unfinished pass: other writes get the store in between.
const BETWEEN_STEPS: Duration = Duration::from_millis(200);
/// After a failed step (the store is down): try again well before the next hour.
const AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Trims the trail forever, keeping `retain` of it.
pub async fn run(store: Arc<dyn AuditStore>, retain: Duration) {
    let mut resume = None;
    let mut removed = 0u64;
    loop {
        let before = cutoff(now_ms(), retain);
        let pause = match store.trim_audit(before, STEP_BUDGET, resume.take()).await {
            Ok(step) => {
                removed += step.removed;
                resume = step.resume;
                if resume.is_some() {
                    BETWEEN_STEPS
                } else {
                    if removed > 0 {
                        tracing::info!(
                            removed,
                            before_ms = before,
                            "audit entries past their retention removed"
                        );
                    }
                    removed = 0;
                    EVERY
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "audit trim failed; trying again later");
                AFTER_FAILURE
            }
        };
        tokio::time::sleep(pause).await;
    }
}

/// Entries written before this time (unix ms) are past their retention.
pub fn cutoff(now_ms: u64, retain: Duration) -> u64 {
    now_ms.saturating_sub(u64::try_from(retain.as_millis()).unwrap_or(u64::MAX))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cutoff_is_the_retention_before_now() {
        let day = std::time::Duration::from_secs(86_400);
        assert_eq!(
            super::cutoff(1_800_000_000_000, day * 30),
            1_800_000_000_000 - 30 * 86_400_000
        );
        assert_eq!(super::cutoff(1000, day), 0, "never before the epoch");
    }
}

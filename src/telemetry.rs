//! Logs and metrics: `tracing` output as text or JSON (every line of a request carries its request id), and the
//! Prometheus recorder behind `/metrics`.

use crate::config::LogFormat;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Starts logging to standard error. `RUST_LOG` picks levels (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests, tools) keeps the first.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Latency buckets (seconds): a cached scan answers in well under a millisecond, a cold Redis walk-up in a few.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often the recorder's histograms are drained into their buckets. Until then every recorded duration is kept
/// (8 bytes and more each): without it a server nobody scrapes grew by about 20 bytes a request, and the fresh memory
/// it kept faulting in stalled a worker for milliseconds at a time (benchmark sweep, docs/performance.md).
const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// Installs the process-wide metrics recorder once, and returns its handle for `/metrics`.
pub fn metrics() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("idr_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    spawn_upkeep(handle.clone());
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// `install_recorder` leaves upkeep to its caller; a thread of its own keeps it off the workers' runtimes.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started: /metrics scrapes alone will drain histograms");
    }
}

/// Metric names, shared with the Grafana dashboard in `deploy/grafana/`.
pub mod names {
    pub const RESOLUTIONS: &str = "idr_resolutions_total";
    pub const REQUEST_DURATION: &str = "idr_request_duration_seconds";
    pub const CACHE_HITS: &str = "idr_cache_hits_total";
    pub const CACHE_MISSES: &str = "idr_cache_misses_total";
    pub const CACHE_ENTRIES: &str = "idr_cache_entries";
    pub const CACHE_BYTES: &str = "idr_cache_bytes";
    pub const STORE_ERRORS: &str = "idr_store_errors_total";
    pub const STORE_RECONNECTS: &str = "idr_store_reconnects_total";
    pub const WRITES: &str = "idr_writes_total";
    /// Outbound fetches by `outcome` only: hosts are chosen by clients, so they are never a label.
    pub const OUTBOUND_FETCHES: &str = "idr_outbound_fetches_total";
}

#[cfg(test)]
mod tests {
    /// Names of this process's threads (Linux).
    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .expect("/proc/self/task")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_string())
            .collect()
    }

    #[test]
    fn installing_the_recorder_starts_the_thread_that_drains_its_histograms() {
        assert!(super::metrics().is_some(), "recorder installed");
        // A new thread names itself once it runs; until then it carries its parent's name.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut names = thread_names();
        while !names.iter().any(|name| name == "metrics-upkeep")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
            names = thread_names();
        }
        assert!(
            names.iter().any(|name| name == "metrics-upkeep"),
            "threads: {names:?}"
        );
    }
}

//! Logs and metrics: `tracing` output as text or JSON (every line of a request carries its request id), and the
//! Prometheus recorder behind `/metrics`.

use crate::config::LogFormat;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Starts logging to standard error. `RUST_LOG` picks levels (default `info`). Text is coloured only on a terminal:
/// a file, a pipe or a log collector gets plain lines.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry()
        .with(ClientErrors::start())
        .with(filter);
    // A second initialisation (tests, tools) keeps the first.
    let _ = match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry
            .with(fmt.json().with_current_span(true).with_span_list(false))
            .try_init(),
    };
}

/// Where client protocol errors are logged again, at debug level (`RUST_LOG=idr::client=debug` shows them).
pub const CLIENT_ERRORS_TARGET: &str = "idr::client";

/// actix-http logs a client's protocol error (a malformed request, a body cut short, a connection reset) at ERROR
/// as `stream error: …`, after answering it (`400`) or dropping the connection: on a public server that is anyone's
/// to trigger, and it buried real errors. This layer takes those events out of the log and counts them
/// (`idr_client_errors_total`); a thread of its own logs each again at debug level under `idr::client` (an event
/// cannot be emitted from inside the handling of another). actix-http's other ERROR events (a response stream that
/// failed, a service that would not start) are the server's and stay as they are.
pub struct ClientErrors {
    relay: std::sync::mpsc::SyncSender<String>,
}

/// Client errors waiting to be logged again; beyond this many they are only counted.
const CLIENT_ERROR_BACKLOG: usize = 1024;

impl ClientErrors {
    /// The layer, with the thread that logs what it takes out.
    pub fn start() -> ClientErrors {
        let (relay, queue) = std::sync::mpsc::sync_channel::<String>(CLIENT_ERROR_BACKLOG);
        let spawned = std::thread::Builder::new()
            .name("client-errors".into())
            .spawn(move || {
                for error in queue {
                    tracing::debug!(target: CLIENT_ERRORS_TARGET, %error, "client protocol error");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "client-error log thread not started: client errors are only counted");
        }
        ClientErrors { relay }
    }

    /// The message of an actix-http client protocol error, if `event` is one.
    fn client_error(event: &tracing::Event<'_>) -> Option<String> {
        let meta = event.metadata();
        if *meta.level() != tracing::Level::ERROR || meta.target() != "actix_http::h1::dispatcher" {
            return None;
        }
        let mut message = Message(None);
        event.record(&mut message);
        message.0.filter(|m| m.starts_with("stream error"))
    }
}

/// The `message` field of an event.
struct Message(Option<String>);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ClientErrors {
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        let Some(error) = Self::client_error(event) else {
            return true;
        };
        metrics::counter!(names::CLIENT_ERRORS).increment(1);
        let _ = self.relay.try_send(error);
        false
    }
}

/// Latency buckets (seconds): a cached scan answers in well under a millisecond, a cold Redis walk-up in a few.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often the recorder's histograms are drained into their buckets. Until then every recorded duration is kept
/// (8 bytes and more each): without it a server nobody scrapes grows with every request, and faulting in the fresh
/// memory stalls its workers (measured in docs/performance.md).
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
    /// Malformed requests and broken connections from clients (see `ClientErrors`).
    pub const CLIENT_ERRORS: &str = "idr_client_errors_total";
    /// Verified links: verdicts reached, by `status` (`verification::Status::as_str`).
    pub const VERIFICATION_VERDICTS: &str = "idr_verification_verdicts_total";
    /// Anchors not queued for a check because the queue was full (the recheck schedule finds them).
    pub const VERIFICATION_QUEUE_DROPPED: &str = "idr_verification_queue_dropped_total";
}

#[cfg(test)]
mod tests {
    use super::ClientErrors;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Keeps (level, target, message) of every event that reaches it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<(tracing::Level, String, String)>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let mut message = super::Message(None);
            event.record(&mut message);
            let meta = event.metadata();
            self.0.lock().unwrap().push((
                *meta.level(),
                meta.target().to_string(),
                message.0.unwrap_or_default(),
            ));
        }
    }

    #[test]
    fn client_protocol_errors_leave_the_error_level_and_server_errors_stay() {
        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(ClientErrors::start())
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: {}", "Parse(Header)");
            tracing::error!(target: "actix_http::h1::dispatcher", "Response payload stream error: {:?}", "boom");
            tracing::error!(target: "idr::http::problem", "store failure");
            tracing::warn!(target: "actix_http::h1::dispatcher", "stream error: not an ERROR event");
        });
        let seen = seen.0.lock().unwrap();
        let errors: Vec<&str> = seen
            .iter()
            .filter(|(level, _, _)| *level == tracing::Level::ERROR)
            .map(|(_, _, m)| m.as_str())
            .collect();
        assert_eq!(
            errors,
            ["Response payload stream error: \"boom\"", "store failure"]
        );
        assert!(
            seen.iter()
                .any(|(l, _, m)| *l == tracing::Level::WARN && m.starts_with("stream error"))
        );
    }

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

//! The application in process, on a port the OS picks (bound before anyone connects, so no port race), with its own
//! data folder and its own runtime on a thread of its own (so a test that blocks its thread, say on a CLI call,
//! does not starve the app's background tasks: the Redis invalidation listener, refreshes); stopped on drop. For HTTP-only tests: no CLI, no signals, no restarts, no log scraping, and no
//! `/metrics` values (the Prometheus recorder is process-wide, shared by every app in the test binary). Those stay
//! on `Server`, the subprocess.

use super::client::{ADMIN_TOKEN, Api};
use idr::app::Application;
use idr::config::{Overrides, Settings};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    pub port: u16,
    pub base: String,
    data: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    /// An empty resolver (no demo data) whose public root is `http://127.0.0.1:{port}`.
    pub async fn start() -> TestApp {
        Self::start_with(&["--no-demo"]).await
    }

    /// Starts with the `idr serve` arguments the subprocess takes (`--no-demo`, `--resolver-root`, `--config`,
    /// `--redis-url`).
    pub async fn start_with(args: &[&str]) -> TestApp {
        Self::start_with_env(args, &[]).await
    }

    /// Like `start_with`, with settings from `IDR_…` variables (e.g. `IDR_LIMITS__MAX_TEXT_BYTES`), read from this
    /// list and not from the process environment, which tests must not change.
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> TestApp {
        Self::start_checking_with(args, env, None).await
    }

    /// Like `start_with_env`, with `checker` checking verified links' targets in place of the real checker
    /// (`Application::build_checking_with`).
    pub async fn start_checking_with(
        args: &[&str],
        env: &[(&str, &str)],
        checker: Option<Arc<dyn idr::verification::Check>>,
    ) -> TestApp {
        let data = tempfile::tempdir().expect("temp dir");
        let mut overrides = overrides(args);
        overrides.listen = Some("127.0.0.1:0".into());
        overrides.data_dir = Some(data.path().to_path_buf());
        // What the subprocess sees: this process's environment, the admin token, then the test's variables.
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        vars.insert("IDR_ADMIN_TOKEN".into(), ADMIN_TOKEN.into());
        // Verified links off unless the test sets its own mode: nothing a test writes is fetched from elsewhere.
        vars.insert("IDR_VERIFICATION__MODE".into(), "off".into());
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut settings = Settings::load_with_env(&overrides, &vars).expect("settings");
        if settings.server.workers == 0 {
            // Not one worker per core for each of the many apps a test run starts at once.
            settings.server.workers = 2;
        }
        // This process is the test binary: Data Integrity proofs are verified by the `idr` binary.
        settings.verifier_program = Some(env!("CARGO_BIN_EXE_idr").into());
        let (started, addr) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || serve(settings, checker, started, stopped));
        let addr = match addr.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => panic!("application starts: {e}"),
            Err(_) => panic!("application starts: its thread ended"),
        };
        TestApp {
            addr,
            port: addr.port(),
            base: format!("http://{addr}"),
            data,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        Api::url(self, path_and_query)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// An HTTP client that follows no redirects.
    pub fn client() -> reqwest::Client {
        super::client::client()
    }
}

impl Api for TestApp {
    fn base(&self) -> &str {
        &self.base
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The app's thread: builds the application on a runtime of its own, reports its address, and serves until `stopped`.
/// Then the server future is dropped (which stops its workers and closes the listener) and the runtime with it,
/// without the graceful drain a real shutdown waits out.
fn serve(
    settings: Settings,
    checker: Option<Arc<dyn idr::verification::Check>>,
    started: std::sync::mpsc::Sender<Result<SocketAddr, String>>,
    stopped: oneshot::Receiver<()>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let application = match Application::build_checking_with(settings, checker).await {
            Ok(application) => application,
            Err(e) => {
                let _ = started.send(Err(e.to_string()));
                return;
            }
        };
        let _ = started.send(Ok(application.addr()));
        tokio::select! {
            _ = application.run_until(std::future::pending()) => {}
            _ = stopped => {}
        }
    });
    runtime.shutdown_background();
}

/// The command-line settings `Server::start_with` passes to `idr serve`, read the way clap reads them.
fn overrides(args: &[&str]) -> Overrides {
    let mut overrides = Overrides::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (*arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().map(|v| v.to_string()))
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match name {
            "--no-demo" => overrides.no_demo = true,
            "--resolver-root" => overrides.resolver_root = Some(value()),
            "--config" => overrides.config_file = Some(PathBuf::from(value())),
            "--redis-url" => overrides.redis_url = Some(value()),
            other => panic!("TestApp does not take {other}: use Server"),
        }
    }
    overrides
}

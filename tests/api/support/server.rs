//! Spawns the real `idr` binary with its own data folder, and stops it on drop. The child binds port 0 itself and
//! the address it logs (`idr listening addr=…`) is read from its standard error, so no other process can take the
//! port in between. For the CLI, signals, restarts and `kill -9`; HTTP-only tests use `TestApp` (in process).

pub use super::client::ADMIN_TOKEN;
use super::client::Api;
use super::client::client;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub base: String,
    data: tempfile::TempDir,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Server {
    /// An empty resolver (no demo data) whose public root is `http://127.0.0.1:{port}`.
    pub async fn start() -> Server {
        Self::start_with(&["--no-demo"]).await
    }

    /// Starts with extra `idr serve` arguments (e.g. `--resolver-root`, `--config`).
    pub async fn start_with(args: &[&str]) -> Server {
        Self::start_with_env(args, &[]).await
    }

    /// Like `start_with`, with environment variables for the process (e.g. `IDR_STORE__…` settings).
    pub async fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let extra_args = args.iter().map(|s| s.to_string()).collect();
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut server = Server {
            child: None,
            port: 0,
            base: String::new(),
            data,
            extra_args,
            env,
        };
        server.launch().await;
        server
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    async fn launch(&mut self) {
        let mut cmd = command();
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data.path())
            .args(&self.extra_args)
            .env("IDR_ADMIN_TOKEN", ADMIN_TOKEN)
            // After the default token: a caller's `IDR_ADMIN_TOKEN` wins (the docs test uses each doc's token).
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Errors, and the start-up line that names the bound address.
            .env("RUST_LOG", "error,idr::app=info")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn idr");
        let bound = relay_stderr(&mut child);
        self.child = Some(child);
        let port = tokio::time::timeout(Duration::from_secs(20), bound)
            .await
            .expect("idr logged its address within 20 s")
            .expect("idr exited before it listened");
        self.port = port;
        self.base = format!("http://127.0.0.1:{port}");
        wait_healthy(&self.base).await;
    }

    /// The server's process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops the server (the data folder stays), e.g. to run `idr import` on it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("reap");
        }
    }

    /// Starts a stopped server again on its data folder.
    pub async fn resume(&mut self) {
        self.launch().await;
    }

    /// `kill -9`, then start again on the same data folder.
    pub async fn crash_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
        self.launch().await;
    }

    /// An HTTP client that follows no redirects.
    pub fn client() -> reqwest::Client {
        client()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        Api::url(self, path_and_query)
    }
}

impl Api for Server {
    fn base(&self) -> &str {
        &self.base
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A command running the `idr` binary with verified links off (`IDR_VERIFICATION__MODE=off`), as every test server
/// runs unless a test opts in with its own value: a record a test writes is never fetched from elsewhere (the
/// network rule: tests reach loopback only).
pub fn command() -> Command {
    let mut cmd = Command::new(binary());
    cmd.env("IDR_VERIFICATION__MODE", "off");
    cmd
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idr"))
}

/// Reads the child's standard error on a thread: the port of its `idr listening` line goes to the receiver, every
/// other line to this process's standard error as before, except `idr::app`'s non-error lines (asked for only to
/// see that one).
fn relay_stderr(child: &mut Child) -> tokio::sync::oneshot::Receiver<u16> {
    let stderr = child.stderr.take().expect("piped stderr");
    let (found, bound) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(port) = listening_port(&line) {
                if let Some(found) = found.take() {
                    let _ = found.send(port);
                }
            } else if !line.contains("idr::app") || line.contains("ERROR") {
                eprintln!("{line}");
            }
        }
    });
    bound
}

/// The port of the public listener's start-up line, in text (`addr=127.0.0.1:4321`) or JSON (`"addr":"…"`) logs.
fn listening_port(line: &str) -> Option<u16> {
    if !line.contains("idr listening") {
        return None;
    }
    let at = line
        .find("addr=")
        .map(|i| i + "addr=".len())
        .or_else(|| line.find("\"addr\":\"").map(|i| i + "\"addr\":\"".len()))?;
    let addr: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    addr.parse::<std::net::SocketAddr>().ok().map(|a| a.port())
}

async fn wait_healthy(base: &str) {
    let client = Server::client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("idr did not become healthy at {base}");
}

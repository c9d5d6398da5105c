//! Spawns the real `idr` binary on a free loopback port with its own data folder, and stops it on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_TOKEN: &str = "test-admin-token";

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
        let port = free_port();
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(self.data.path())
            .args(&self.extra_args)
            .env("IDR_ADMIN_TOKEN", ADMIN_TOKEN)
            // After the default token: a caller's `IDR_ADMIN_TOKEN` wins (the docs test uses each doc's token).
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "error")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.child = Some(cmd.spawn().expect("spawn idr"));
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

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    /// PUT an anchor as the admin; panics unless it is accepted.
    pub async fn put_anchor(&self, identifier: &str, body: serde_json::Value) -> serde_json::Value {
        let response = Self::client()
            .put(self.url(&format!("/api/v1/anchors/{identifier}")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("PUT");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "PUT {identifier} → {status}: {text}");
        serde_json::from_str(&text).expect("JSON answer")
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

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_idr"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
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

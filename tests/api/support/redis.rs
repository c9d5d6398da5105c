//! Real `redis-server` processes for the Redis store tests: a standalone server (AOF, `appendfsync always`) that can
//! be killed with `kill -9` and restarted on the same port and data folder, and a three-master Redis Cluster (in the
//! clear, or on TLS only). Tests talk to Redis through `redis-cli`; every process is stopped on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MISSING: &str = "redis-server not found: run ./scripts/test, which installs it";

/// A program on `PATH`, if any.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn redis_server_binary() -> PathBuf {
    on_path("redis-server").unwrap_or_else(|| panic!("{MISSING}"))
}

fn redis_cli_binary() -> PathBuf {
    on_path("redis-cli")
        .unwrap_or_else(|| panic!("redis-cli not found: run ./scripts/test, which installs it"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A free port whose cluster bus port (PORT + 10000) is free too.
fn cluster_port() -> u16 {
    for _ in 0..1000 {
        let port = free_port();
        if port <= 55535 && TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

/// Runs `redis-cli -p PORT ARGS…` and returns its standard output, trimmed (`Err` with stderr when it fails).
pub fn cli_on(port: u16, args: &[&str]) -> Result<String, String> {
    cli_with(port, &[], args)
}

/// `cli_on` with connection arguments before the command (e.g. `--tls --cacert …`).
pub fn cli_with(port: u16, connection: &[String], args: &[&str]) -> Result<String, String> {
    let output = Command::new(redis_cli_binary())
        .arg("-h")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(port.to_string())
        .args(connection)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("redis-cli: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() && !stdout.starts_with("ERR") && !stdout.starts_with("Could not") {
        Ok(stdout)
    } else {
        Err(format!(
            "redis-cli -p {port} {args:?}: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Every key matching `pattern` on one node (`--scan`, so it never blocks the server).
pub fn scan_on(port: u16, pattern: &str) -> Vec<String> {
    scan_with(port, &[], pattern)
}

fn scan_with(port: u16, connection: &[String], pattern: &str) -> Vec<String> {
    let out =
        cli_with(port, connection, &["--scan", "--pattern", pattern]).expect("redis-cli --scan");
    let mut keys: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    keys.sort();
    keys
}

/// A standalone `redis-server` on a free loopback port with its own data folder.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
    /// For a server on TLS only (`port` is then its TLS port): `redis-cli`'s TLS arguments (`--tls --cacert …`).
    tls_cli: Option<Vec<String>>,
}

impl RedisServer {
    /// A standalone server with an append-only file synced on every write.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Like [`RedisServer::start`], with more `redis-server` arguments.
    pub fn start_with(extra_args: &[&str]) -> RedisServer {
        Self::start_on_free_port(extra_args, None, free_port)
    }

    /// Starts on a port from `pick`, trying again with another port when that one turns out to be taken (a free
    /// port can be taken between our probe and redis-server's bind). With `tls_cli`, the server listens on TLS only
    /// (`--port 0 --tls-port PORT`; `extra_args` give its certificates) and `redis-cli` reaches it with those
    /// arguments.
    fn start_on_free_port(
        extra_args: &[&str],
        tls_cli: Option<&[String]>,
        pick: impl Fn() -> u16,
    ) -> RedisServer {
        let binary = redis_server_binary();
        let mut last_error = String::new();
        for _ in 0..5 {
            let mut server = RedisServer {
                child: None,
                port: pick(),
                dir: tempfile::tempdir().expect("temp dir"),
                extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
                tls_cli: tls_cli.map(<[String]>::to_vec),
            };
            match server.launch(&binary) {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn launch(&mut self, binary: &Path) -> Result<(), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))
            .map_err(|e| format!("log file: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let port = self.port.to_string();
        let listen: &[&str] = match self.tls_cli {
            None => &["--port", &port],
            Some(_) => &["--port", "0", "--tls-port", &port],
        };
        let child = Command::new(binary)
            .args(listen)
            .args(["--bind", "127.0.0.1", "--dir"])
            .arg(self.dir.path())
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--protected-mode", "no"])
            .args(&self.extra_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawn redis-server: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Whoever answers must be the process just started: after a `kill9`, another test may have taken the
            // port, and its server would answer our ping (then our server fails to bind and exits).
            if self.try_cli(&["ping"]).is_ok_and(|out| out == "PONG") && self.answers_itself() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.stop();
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                return Err(format!(
                    "port {}: {exited:?}; log tail (newest first):\n{}",
                    self.port,
                    tail.join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server on `port` is this one's child process (`INFO server` names its process id).
    fn answers_itself(&self) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let info = self.try_cli(&["INFO", "server"]).unwrap_or_default();
        info.lines()
            .find_map(|l| l.trim().strip_prefix("process_id:"))
            .is_some_and(|pid| pid.trim() == child.id().to_string())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `kill -9` (SIGKILL): no shutdown, no final fsync beyond what `appendfsync always` already did.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("redis-server is running");
        child.kill().expect("kill -9 redis-server");
        child.wait().expect("reap redis-server");
    }

    /// Starts again on the same port and data folder (after [`RedisServer::kill9`]).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart: redis-server still running");
        let binary = redis_server_binary();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.launch(&binary) {
                Ok(()) => return,
                // The port can linger briefly after the kill; try again.
                Err(e) if Instant::now() > deadline => panic!("redis-server restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `redis-cli -p PORT ARGS…` against this server (over TLS when it listens on TLS only).
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        cli_with(self.port, self.tls_cli.as_deref().unwrap_or_default(), args)
    }

    /// `try_cli`; panics when it fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every key matching `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        scan_with(
            self.port,
            self.tls_cli.as_deref().unwrap_or_default(),
            pattern,
        )
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of three masters (no replicas), each node a [`RedisServer`] in its own folder.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        Self::start_with(&[], None)
    }

    /// A cluster on TLS only: clients, the cluster bus and replication (`tls-cluster yes`, `tls-replication yes`,
    /// no plain port). `server_args` give the nodes their certificates (`--tls-cert-file` …, and
    /// `--tls-client-cert-file` … when they check clients' certificates, since a node is the client on the bus);
    /// `tls_cli` are `redis-cli`'s (`--tls --cacert … [--cert … --key …]`).
    pub fn start_tls_only(server_args: &[&str], tls_cli: &[String]) -> RedisCluster {
        let mut args = server_args.to_vec();
        args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"]);
        Self::start_with(&args, Some(tls_cli))
    }

    fn start_with(server_args: &[&str], tls_cli: Option<&[String]>) -> RedisCluster {
        // The cluster bus listens on PORT + 10000 (the TLS port's, on TLS only): pick ports where both are free (no
        // `--cluster-port`, which Redis 6 lacks).
        let mut args = vec![
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            "2000",
        ];
        args.extend_from_slice(server_args);
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::start_on_free_port(&args, tls_cli, cluster_port))
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        // Bounded: a node that cannot reach the others' bus leaves `--cluster create` waiting for the join forever.
        let log = nodes[0].dir().join("cluster-create.log");
        let out = File::create(&log).expect("cluster-create.log");
        let mut create = Command::new(redis_cli_binary())
            .args(tls_cli.unwrap_or_default())
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("redis-cli --cluster create");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = create.try_wait().expect("redis-cli --cluster create") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = create.kill();
                let _ = create.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            status.is_some_and(|s| s.success()),
            "redis-cli --cluster create: {}: {}",
            status.map_or("not done within 30 s".to_string(), |s| s.to_string()),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let states: Vec<String> = cluster
                .nodes
                .iter()
                .map(|n| {
                    n.try_cli(&["cluster", "info"])
                        .unwrap_or_default()
                        .lines()
                        .find(|l| l.starts_with("cluster_state:"))
                        .unwrap_or("cluster_state:?")
                        .trim()
                        .to_string()
                })
                .collect();
            if states.iter().all(|s| s == "cluster_state:ok") {
                return cluster;
            }
            assert!(
                Instant::now() < deadline,
                "cluster did not become ok: {states:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    /// `CLUSTER KEYSLOT key`.
    pub fn keyslot(&self, key: &str) -> u16 {
        self.nodes[0]
            .cli(&["cluster", "keyslot", key])
            .parse()
            .expect("slot number")
    }
}

/// A valid GTIN-14 (`0952012` + six digits of `n` + check digit), for tests that need many primary keys.
pub fn gtin(n: u32) -> String {
    let body = format!("0952012{:06}", n % 1_000_000);
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| c.to_digit(10).expect("digit") * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

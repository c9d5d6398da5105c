//! Redis the way operators run it: behind Sentinel (a master, two replicas and three sentinels, the master killed with
//! SIGKILL under load through two idr replicas), over TLS with a test CA (server-only and mutual), as an ACL user
//! allowed only the commands idr needs (no CONFIG, no KEYS), and a Redis Cluster on TLS only with such a user. Real
//! processes on loopback only.

use crate::support;
use crate::support::client::Api;

use crate::support::redis::{RedisCluster, RedisServer, cli_on, gtin};
use crate::support::server::{ADMIN_TOKEN, Server};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MASTER: &str = "mymaster";

fn product(href: &str) -> Value {
    json!({"itemDescription": "HA", "defaultLinkType": "gs1:pip", "links": [
        {"linkType": "gs1:pip", "href": href, "title": "Product information"}]})
}

async fn send(server: &Server, method: Method, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut r = Server::client()
        .request(method.clone(), server.url(path))
        .timeout(Duration::from_secs(10));
    if path.starts_with("/api/") {
        r = r.bearer_auth(ADMIN_TOKEN);
    }
    if let Some(body) = body {
        r = r.json(body);
    }
    match r.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let location = r
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = r.text().await.unwrap_or_default();
            (status, location.unwrap_or(text))
        }
        Err(e) => (0, format!("{method} {path}: no answer: {e}")),
    }
}

/// `GET /01/{gtin}`: its status and `Location`.
async fn scan(server: &Server, path: &str) -> (u16, String) {
    send(server, Method::GET, &format!("/{path}"), None).await
}

fn write_config(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One field of `SENTINEL MASTER` / `INFO` style output, given as alternating lines or `field:value`.
fn field(text: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    if let Some(i) = lines.iter().position(|l| *l == name) {
        return lines.get(i + 1).map(|v| v.to_string());
    }
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::to_string)
}

/// A `redis-server --sentinel` watching `master_port` (quorum 2, down after 1 s), on a free loopback port.
struct Sentinel {
    child: Child,
    port: u16,
    /// `requirepass` of the sentinel itself.
    password: Option<String>,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    fn start(master_port: u16) -> Sentinel {
        Self::start_with(master_port, "", None)
    }

    /// With more configuration lines (e.g. TLS) and a password of its own.
    fn start_with(master_port: u16, extra: &str, password: Option<&str>) -> Sentinel {
        let requirepass = password
            .map(|p| format!("requirepass {p}\n"))
            .unwrap_or_default();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        // The sentinel rewrites its configuration file as it learns: it must be writable.
        let conf = write_config(
            dir.path(),
            "sentinel.conf",
            &format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel failover-timeout {MASTER} 5000\n\
                 sentinel parallel-syncs {MASTER} 2\n{extra}{requirepass}",
                dir.path().display()
            ),
        );
        let log = std::fs::File::create(dir.path().join("sentinel.log")).unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("redis-server --sentinel");
        let sentinel = Sentinel {
            child,
            port,
            password: password.map(str::to_string),
            _dir: dir,
        };
        wait_until("sentinel answers", Duration::from_secs(10), || {
            sentinel.cli(&["PING"]).is_ok_and(|p| p == "PONG")
        });
        sentinel
    }

    /// `redis-cli` against the sentinel's plain port, with its password.
    fn cli(&self, args: &[&str]) -> Result<String, String> {
        let mut full: Vec<&str> = Vec::new();
        if let Some(password) = &self.password {
            full.extend(["-a", password, "--no-auth-warning"]);
        }
        full.extend_from_slice(args);
        cli_on(self.port, &full)
    }

    fn master(&self) -> String {
        self.cli(&["SENTINEL", "MASTER", MASTER])
            .unwrap_or_default()
    }

    /// The master's port as this sentinel names it.
    fn master_port(&self) -> Option<u16> {
        let out = self
            .cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER])
            .ok()?;
        out.lines().nth(1)?.trim().parse().ok()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replication_up(replica: &RedisServer) -> bool {
    cli_on(replica.port, &["INFO", "replication"])
        .is_ok_and(|info| info.contains("master_link_status:up"))
}

/// What the load saw while the master was killed.
#[derive(Default)]
struct Seen {
    scans: u64,
    scan_failures: Vec<String>,
    /// (identifier, started at) of writes answered 2xx.
    acknowledged: Vec<(String, Instant)>,
    /// Answers other than 2xx and 503.
    bad_writes: Vec<String>,
    refused_writes: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_keeps_cached_scans_and_every_acknowledged_write() {
    // Where the failover figures go; the first test to set a subscriber in this binary wins.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let mut master = RedisServer::start();
    let of = master.port.to_string();
    let replicas = [
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &of]),
        RedisServer::start_with(&["--replicaof", "127.0.0.1", &of]),
    ];
    wait_until("replicas in sync", Duration::from_secs(15), || {
        replicas.iter().all(replication_up)
    });
    let sentinels: Vec<Sentinel> = (0..3).map(|_| Sentinel::start(master.port)).collect();
    wait_until(
        "sentinels know each other and the replicas",
        Duration::from_secs(20),
        || {
            sentinels.iter().all(|s| {
                let m = s.master();
                field(&m, "num-other-sentinels").as_deref() == Some("2")
                    && field(&m, "num-slaves").as_deref() == Some("2")
            })
        },
    );

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "ha.toml",
        "[store]\nredis_wait_replicas = 1\nredis_wait_timeout_ms = 1000\n",
    );
    let hosts: Vec<String> = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect();
    let url = format!("redis+sentinel://{}/{MASTER}", hosts.join(","));
    let args = [
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        config.to_str().unwrap(),
    ];
    let a = Arc::new(Server::start_with(&args).await);
    let b = Arc::new(Server::start_with(&args).await);

    // Records both replicas have cached before the failover.
    let mut cached: Vec<(String, String)> = (0..10)
        .map(|i| (format!("01/{}", gtin(i)), format!("https://ha.example/{i}")))
        .collect();
    for (path, href) in &cached {
        a.put_anchor(path, product(href)).await;
    }
    for server in [&a, &b] {
        for (path, href) in &cached {
            assert_eq!(scan(server, path).await, (307, href.clone()), "{path}");
        }
    }
    wait_until("both feeds subscribed", Duration::from_secs(10), || {
        numsub(master.port) == 2
    });

    let seen = through_failover([&a, &b], &cached, 0, "SIGKILL of the master", || {
        master.kill9()
    })
    .await;
    assert!(seen.refused_writes > 0, "the kill interrupted no write");
    let new_master = sentinels[0].master_port().expect("a master");
    assert_ne!(new_master, master.port, "the sentinels promoted a replica");
    assert_on(new_master, &seen);

    // The invalidation feed follows the new master: both replicas subscribe there, and a write through A is seen at
    // once through B, whose cache held the old record.
    wait_until(
        "both feeds on the new master",
        Duration::from_secs(10),
        || numsub(new_master) == 2,
    );
    let path = cached[0].0.clone();
    assert_eq!(scan(&b, &path).await.0, 307);
    let moved = "https://ha.example/after-failover";
    // The other replica may still be resyncing with the new master, and a write no replica confirmed is a 503 that
    // says to repeat it (the PUT is idempotent): repeated as a client would, for a bounded time.
    let anchor = format!("/api/v1/anchors/{path}");
    let start = Instant::now();
    loop {
        let (status, text) = send(&a, Method::PUT, &anchor, Some(&product(moved))).await;
        if (200..300).contains(&status) {
            break;
        }
        assert_eq!(status, 503, "{text}");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no replica confirmed a write 20 s after the failover: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let start = Instant::now();
    while scan(&b, &path).await != (307, moved.to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "B still serves the old record"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cached[0].1 = moved.to_string();

    // A planned failover: the old master comes back (the sentinels make it a replica), then SENTINEL FAILOVER. The
    // demoted master stays up; Sentinel closes its clients, and idr follows to the new one.
    master.restart();
    wait_until(
        "two replicas follow the new master",
        Duration::from_secs(20),
        || {
            cli_on(new_master, &["INFO", "replication"])
                .is_ok_and(|info| info.contains("connected_slaves:2"))
        },
    );
    let sentinel = &sentinels[0];
    let seen = through_failover([&a, &b], &cached, 50_000, "SENTINEL FAILOVER", || {
        let started = sentinel.cli(&["SENTINEL", "FAILOVER", MASTER]);
        assert_eq!(started.unwrap(), "OK");
        // The command only starts it: go on once the sentinels name the new master.
        wait_until(
            "the sentinels name another master",
            Duration::from_secs(30),
            || sentinel.master_port().is_some_and(|p| p != new_master),
        );
    })
    .await;
    assert_on(sentinel.master_port().unwrap(), &seen);
}

/// Runs scans of the `cached` records and fresh writes through both idr replicas, calls `disrupt`, and goes on until a
/// write sent after it is acknowledged (at most 60 s), and one second more. Asserts that every scan answered the
/// cached record and every write `2xx` or `503`; prints how long writes were refused.
async fn through_failover(
    servers: [&Arc<Server>; 2],
    cached: &[(String, String)],
    first: u32,
    what: &str,
    disrupt: impl FnOnce(),
) -> Seen {
    let (a, b) = (servers[0].clone(), servers[1].clone());
    let cached = cached.to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut load = Vec::new();
    for server in [a.clone(), b.clone()] {
        let (stop, seen, cached) = (stop.clone(), seen.clone(), cached.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for (path, href) in &cached {
                    let (status, location) = scan(&server, path).await;
                    let mut seen = seen.lock().unwrap();
                    seen.scans += 1;
                    if (status, &location) != (307, href) {
                        seen.scan_failures
                            .push(format!("{path}: {status} {location}"));
                    }
                }
            }
        }));
    }
    for (w, server) in [a.clone(), b.clone()].into_iter().enumerate() {
        let (stop, seen) = (stop.clone(), seen.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let path = format!("01/{}", gtin(100_000 * (w as u32 + 1) + first + n));
                let body = product(&format!("https://ha.example/w/{n}"));
                let started = Instant::now();
                let (status, text) = send(
                    &server,
                    Method::PUT,
                    &format!("/api/v1/anchors/{path}"),
                    Some(&body),
                )
                .await;
                {
                    let mut seen = seen.lock().unwrap();
                    match status {
                        200..=299 => seen.acknowledged.push((path, started)),
                        503 => seen.refused_writes += 1,
                        _ => seen.bad_writes.push(format!("{path}: {status} {text}")),
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let disrupted = Instant::now();
    disrupt();
    // Writes are back when one sent after the disruption is acknowledged.
    let deadline = disrupted + Duration::from_secs(60);
    let back = loop {
        let first = seen
            .lock()
            .unwrap()
            .acknowledged
            .iter()
            .find(|(_, at)| *at > disrupted)
            .map(|(_, at)| *at);
        if let Some(at) = first {
            break at.duration_since(disrupted);
        }
        assert!(
            Instant::now() < deadline,
            "no write acknowledged within 60 s of the {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    let seen = Arc::try_unwrap(seen).ok().unwrap().into_inner().unwrap();
    let mut starts: Vec<Instant> = seen.acknowledged.iter().map(|(_, at)| *at).collect();
    starts.sort();
    let outage = starts
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    // The figures docs/redis.md records (`cargo test --test api redis_ha::sentinel -- --nocapture`).
    tracing::info!(
        what,
        writes_back_after_s = back.as_secs_f64(),
        longest_gap_s = outage.as_secs_f64(),
        scans = seen.scans,
        acknowledged = seen.acknowledged.len(),
        refused = seen.refused_writes,
        "failover"
    );
    assert!(
        seen.scan_failures.is_empty(),
        "scans of cached records failed: {:?}",
        seen.scan_failures
    );
    assert!(
        seen.bad_writes.is_empty(),
        "writes answered other than 2xx or 503: {:?}",
        seen.bad_writes
    );
    seen
}

/// Every acknowledged write is on the master at `port`.
fn assert_on(port: u16, seen: &Seen) {
    let missing: Vec<&String> = seen
        .acknowledged
        .iter()
        .map(|(path, _)| path)
        .filter(|path| {
            let key = format!("idr:a:{{{path}}}");
            cli_on(port, &["EXISTS", &key]).as_deref() != Ok("1")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes missing on the new master: {missing:?}"
    );
}

/// Subscribers of the invalidation channel on a node.
fn numsub(port: u16) -> u32 {
    cli_on(port, &["PUBSUB", "NUMSUB", "idr:invalidate"])
        .ok()
        .and_then(|out| out.lines().nth(1).and_then(|n| n.trim().parse().ok()))
        .unwrap_or(0)
}

/// A test CA and the PEM files made with it.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for `localhost` and 127.0.0.1, a client certificate, and an unrelated CA.
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let (_, other_pem) = new_ca("some other CA");
        let (ca, ca_pem) = new_ca("idr redis test CA");
        std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
        std::fs::write(dir.path().join("wrong-ca.pem"), other_pem).unwrap();
        let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf(&ca, server, &dir.path().join("server"));
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client.distinguished_name.push(DnType::CommonName, "idr");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        leaf(&ca, client, &dir.path().join("client"));
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A Redis that speaks TLS on a second port (its plain port is the test's own, for `redis-cli`).
    fn redis(&self, auth_clients: bool) -> (RedisServer, u16) {
        let tls_port = free_port().to_string();
        let (cert, key, ca) = (
            self.path("server.pem"),
            self.path("server.key"),
            self.path("ca.pem"),
        );
        let redis = RedisServer::start_with(&[
            "--tls-port",
            &tls_port,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            if auth_clients { "yes" } else { "no" },
        ]);
        (redis, tls_port.parse().unwrap())
    }

    /// A three-master cluster on TLS only (clients, cluster bus), checking clients' certificates: the nodes show
    /// the client certificate to each other on the bus, and `redis-cli` shows it too.
    fn cluster(&self) -> RedisCluster {
        let (cert, key, ca) = (
            self.path("server.pem"),
            self.path("server.key"),
            self.path("ca.pem"),
        );
        let (client_cert, client_key) = (self.path("client.pem"), self.path("client.key"));
        RedisCluster::start_tls_only(
            &[
                "--tls-cert-file",
                &cert,
                "--tls-key-file",
                &key,
                "--tls-ca-cert-file",
                &ca,
                "--tls-client-cert-file",
                &client_cert,
                "--tls-client-key-file",
                &client_key,
                "--tls-auth-clients",
                "yes",
            ],
            &[
                "--tls".to_string(),
                "--cacert".to_string(),
                ca.clone(),
                "--cert".to_string(),
                client_cert.clone(),
                "--key".to_string(),
                client_key.clone(),
            ],
        )
    }
}

fn new_ca(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    (Issuer::new(params, key), pem)
}

fn leaf(issuer: &Issuer<'static, KeyPair>, params: CertificateParams, stem: &Path) {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(stem.with_extension("pem"), cert.pem()).unwrap();
    std::fs::write(stem.with_extension("key"), key.serialize_pem()).unwrap();
}

/// Runs `idr ARGS` to its end (within 30 s): exit success and standard error.
fn run_idr(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut child = crate::support::server::command()
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn idr");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("idr {args:?} still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A write and a scan through a resolver, and the record on the server.
async fn write_and_scan(server: &Server, redis: &RedisServer, n: u32) {
    let path = format!("01/{}", gtin(n));
    let href = format!("https://tls.example/{n}");
    server.put_anchor(&path, product(&href)).await;
    assert_eq!(scan(server, &path).await, (307, href));
    let key = format!("idr:a:{{{path}}}");
    assert_eq!(redis.cli(&["EXISTS", &key]), "1");
}

#[tokio::test]
async fn tls_with_a_private_ca_and_a_client_certificate() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();

    // Server-only TLS: the CA file is enough.
    let (redis, tls_port) = pki.redis(false);
    let url = format!("rediss://localhost:{tls_port}");
    let ca_only = write_config(
        dir.path(),
        "ca.toml",
        &format!("[store]\nredis_ca_file = {:?}\n", pki.path("ca.pem")),
    );
    let server = Server::start_with(&[
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        ca_only.to_str().unwrap(),
    ])
    .await;
    write_and_scan(&server, &redis, 1).await;
    assert_eq!(send(&server, Method::GET, "/readyz", None).await.0, 200);
    drop(server);

    // A CA that did not sign the server's certificate: a start-up error that says so.
    let wrong = write_config(
        dir.path(),
        "wrong.toml",
        &format!("[store]\nredis_ca_file = {:?}\n", pki.path("wrong-ca.pem")),
    );
    let (ok, stderr) = run_idr(
        &[
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            &url,
            "--config",
            wrong.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok, "started with the wrong CA: {stderr}");
    assert!(
        stderr.contains("TLS handshake failed") && stderr.contains("UnknownIssuer"),
        "{stderr}"
    );
    drop(redis);

    // Mutual TLS: the server checks the client's certificate.
    let (redis, tls_port) = pki.redis(true);
    let url = format!("rediss://localhost:{tls_port}");
    // Without a client certificate: refused, at start-up.
    let (ok, stderr) = run_idr(
        &[
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            &url,
            "--config",
            ca_only.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok, "a client without a certificate was let in: {stderr}");
    assert!(
        stderr.contains("CertificateRequired") && stderr.contains("store.redis_client_cert_file"),
        "{stderr}"
    );
    let mutual = write_config(
        dir.path(),
        "mutual.toml",
        &format!(
            "[store]\nredis_ca_file = {:?}\nredis_client_cert_file = {:?}\nredis_client_key_file = {:?}\n",
            pki.path("ca.pem"),
            pki.path("client.pem"),
            pki.path("client.key")
        ),
    );
    let server = Server::start_with(&[
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        mutual.to_str().unwrap(),
    ])
    .await;
    write_and_scan(&server, &redis, 2).await;
}

#[tokio::test]
async fn sentinel_over_tls() {
    let pki = Pki::new();
    let (redis, tls_port) = pki.redis(false);
    let sentinel_tls = free_port();
    // The sentinel watches the master on its TLS port (so it names that port to clients) and serves TLS itself.
    let sentinel = Sentinel::start_with(
        tls_port,
        &format!(
            "tls-port {sentinel_tls}\ntls-replication yes\ntls-auth-clients no\ntls-cert-file {}\n\
             tls-key-file {}\ntls-ca-cert-file {}\n",
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem")
        ),
        Some("sentinel-pa55"),
    );
    wait_until(
        "the sentinel reaches the master",
        Duration::from_secs(10),
        || {
            let flags = field(&sentinel.master(), "flags").unwrap_or_default();
            flags == "master"
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "tls.toml",
        &format!("[store]\nredis_ca_file = {:?}\n", pki.path("ca.pem")),
    );
    let url = format!("rediss+sentinel://localhost:{sentinel_tls}/{MASTER}");
    let args = [
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        config.to_str().unwrap(),
    ];
    // The sentinel's own password is needed: without it, a start-up error.
    let mut serve = vec!["serve", "--listen", "127.0.0.1:0"];
    serve.extend_from_slice(&args);
    let (ok, stderr) = run_idr(&serve, &[]);
    assert!(!ok, "started without the sentinel's password: {stderr}");
    assert!(
        stderr.contains(&format!("localhost:{sentinel_tls}"))
            && stderr.contains("password was refused"),
        "{stderr}"
    );
    let server = Server::start_with_env(
        &args,
        &[("IDR_STORE__REDIS_SENTINEL_PASSWORD", "sentinel-pa55")],
    )
    .await;
    write_and_scan(&server, &redis, 3).await;
    assert_eq!(send(&server, Method::GET, "/readyz", None).await.0, 200);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The ACL of a managed Redis that allows only what idr needs: its keys and channel, Lua scripts, pub/sub, and the
/// commands below. No CONFIG, no KEYS, no FLUSH*, no DEBUG.
const ACL: &[&str] = &[
    "idr",
    "on",
    ">pa55-w0rd!",
    "~idr:*",
    "&idr:*",
    "-@all",
    "+get",
    "+mget",
    "+set",
    "+del",
    "+hset",
    "+hdel",
    "+hgetall",
    "+lrange",
    "+rpush",
    "+lindex",
    "+lpop",
    "+incrby",
    "+time",
    "+scan",
    "+ping",
    "+eval",
    "+evalsha",
    "+script|load",
    "+wait",
    "+publish",
    "+subscribe",
    "+unsubscribe",
];

#[tokio::test]
async fn an_acl_user_with_only_the_commands_idr_needs() {
    let mut args = vec!["--user"];
    args.extend_from_slice(ACL);
    let redis = RedisServer::start_with(&args);
    let url = format!("redis://idr@127.0.0.1:{}", redis.port);
    // An audit entry past the retention, for the background trim (its script's commands are checked too).
    let old_list = format!("idr:audit:{{01/{}}}", gtin(8));
    let old_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 400 * 86_400_000;
    let old_entry = format!(r#"[{old_ms},"create",null,1,"01/{}","admin"]"#, gtin(8));
    redis.cli(&["RPUSH", &old_list, &old_entry]);
    let dir = tempfile::tempdir().unwrap();
    let password_file = write_config(dir.path(), "password", "pa55-w0rd!\n");
    let config = write_config(
        dir.path(),
        "acl.toml",
        &format!("[store]\nredis_password_file = {password_file:?}\n[audit]\nretain_days = 30\n"),
    );
    let a = Server::start_with(&[
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        config.to_str().unwrap(),
    ])
    .await;
    // The password from the environment instead of the file.
    let b_url = format!("redis://127.0.0.1:{}", redis.port);
    let b = Server::start_with_env(
        &["--no-demo", "--redis-url", &b_url],
        &[
            ("IDR_STORE__REDIS_USERNAME", "idr"),
            ("IDR_STORE__REDIS_PASSWORD", "pa55-w0rd!"),
        ],
    )
    .await;

    let path = format!("01/{}", gtin(7));
    a.put_anchor(&path, product("https://acl.example/1")).await;
    assert_eq!(
        scan(&b, &path).await,
        (307, "https://acl.example/1".to_string())
    );
    a.put_anchor(&path, product("https://acl.example/2")).await;
    let start = Instant::now();
    while scan(&b, &path).await.1 != "https://acl.example/2" {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "B missed the invalidation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = send(&a, Method::DELETE, &format!("/api/v1/anchors/{path}"), None).await;
    assert!((200..300).contains(&status), "DELETE: {status}");
    let (status, text) = send(
        &a,
        Method::GET,
        &format!("/api/v1/audit?identifier={path}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "audit: {text}");
    assert_eq!(send(&a, Method::GET, "/readyz", None).await.0, 200);
    let (ok, stderr) = run_idr(
        &[
            "export",
            "--redis-url",
            &url,
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok, "export as the ACL user: {stderr}");
    let start = Instant::now();
    while redis.cli(&["LLEN", &old_list]) != "0" {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the audit entry past the retention was not trimmed: ACL LOG {}",
            redis.cli(&["ACL", "LOG"])
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing idr did was refused.
    assert_eq!(
        redis.cli(&["ACL", "LOG"]),
        "",
        "commands refused by the ACL"
    );

    // A wrong password: a clear start-up error, without the password.
    let (ok, stderr) = run_idr(
        &[
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--redis-url",
            &format!("redis://idr:not-the-pa55@127.0.0.1:{}", redis.port),
        ],
        &[],
    );
    assert!(!ok, "started with a wrong password: {stderr}");
    assert!(
        stderr.contains("ACL user or password was refused"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-pa55"),
        "the password was shown: {stderr}"
    );
}

#[tokio::test]
async fn a_cluster_as_an_acl_user() {
    let cluster = support::redis::RedisCluster::start();
    // The cluster client learns the topology with CLUSTER SLOTS; export lists the primaries with CLUSTER NODES.
    let mut acl = vec!["ACL", "SETUSER"];
    acl.extend_from_slice(ACL);
    acl.extend_from_slice(&["+cluster|slots", "+cluster|nodes"]);
    for port in cluster.ports() {
        assert_eq!(cli_on(port, &acl).unwrap(), "OK");
    }
    let url = cluster
        .url()
        .replace("redis+cluster://", "redis+cluster://idr@");
    let server = Server::start_with_env(
        &["--no-demo", "--redis-url", &url],
        &[("IDR_STORE__REDIS_PASSWORD", "pa55-w0rd!")],
    )
    .await;
    // Enough primary keys to land on every master.
    for n in 0..12 {
        let path = format!("01/{}", gtin(n));
        let href = format!("https://cluster.example/{n}");
        server.put_anchor(&path, product(&href)).await;
        assert_eq!(scan(&server, &path).await, (307, href));
    }
    let (ok, stderr) = run_idr(
        &["export", "--redis-url", &url],
        &[("IDR_STORE__REDIS_PASSWORD", "pa55-w0rd!")],
    );
    assert!(ok, "export from the cluster as the ACL user: {stderr}");
    for port in cluster.ports() {
        assert!(
            !support::redis::scan_on(port, "idr:a:*").is_empty(),
            "a master holds no anchor"
        );
        assert_eq!(
            cli_on(port, &["ACL", "LOG"]).unwrap(),
            "",
            "refused on {port}"
        );
    }
}

/// A cluster on TLS only (no plain port, the cluster bus on TLS too) that checks clients' certificates, as an ACL user:
/// every connection idr makes — the cluster client's to the seeds and to the nodes `CLUSTER SLOTS` names, the
/// invalidation feed's, export's scans of the primaries `CLUSTER NODES` lists — speaks TLS with the CA file and the
/// client certificate, and sends the user's credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_over_tls_as_an_acl_user() {
    let pki = Pki::new();
    let cluster = pki.cluster();
    let mut acl = vec!["ACL", "SETUSER"];
    acl.extend_from_slice(ACL);
    acl.extend_from_slice(&["+cluster|slots", "+cluster|nodes"]);
    for node in &cluster.nodes {
        assert_eq!(node.cli(&acl), "OK");
        // Nothing in the clear: the port idr is given speaks TLS only.
        let plain = cli_on(node.port, &["PING"]);
        assert!(
            plain.is_err(),
            "{} answered in the clear: {plain:?}",
            node.port
        );
    }
    // The seeds by name (the certificate's DNS name); the nodes the cluster names are 127.0.0.1 (its IP address).
    let seeds: Vec<String> = cluster
        .ports()
        .iter()
        .map(|p| format!("localhost:{p}"))
        .collect();
    let url = format!("rediss+cluster://idr@{}", seeds.join(","));
    let dir = tempfile::tempdir().unwrap();
    let toml = |name: &str, ca: &str, client: bool| {
        let mut text = format!("[store]\nredis_ca_file = {:?}\n", pki.path(ca));
        if client {
            text += &format!(
                "redis_client_cert_file = {:?}\nredis_client_key_file = {:?}\n",
                pki.path("client.pem"),
                pki.path("client.key")
            );
        }
        write_config(dir.path(), name, &text)
    };
    let mutual = toml("mutual.toml", "ca.pem", true);
    let password = [("IDR_STORE__REDIS_PASSWORD", "pa55-w0rd!")];
    let args = [
        "--no-demo",
        "--redis-url",
        &url,
        "--config",
        mutual.to_str().unwrap(),
    ];
    let a = Server::start_with_env(&args, &password).await;
    let b = Server::start_with_env(&args, &password).await;

    // Written through A, scanned through B: enough primary keys to land on every master.
    for n in 0..12 {
        let path = format!("01/{}", gtin(n));
        let href = format!("https://cluster-tls.example/{n}");
        a.put_anchor(&path, product(&href)).await;
        assert_eq!(scan(&b, &path).await, (307, href), "{path}");
    }
    // B's cache follows A's writes through the invalidation feed.
    let path = format!("01/{}", gtin(0));
    let moved = "https://cluster-tls.example/moved";
    a.put_anchor(&path, product(moved)).await;
    let start = Instant::now();
    while scan(&b, &path).await.1 != moved {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "B missed the invalidation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, text) = send(
        &a,
        Method::GET,
        &format!("/api/v1/audit?identifier={path}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "audit: {text}");
    for server in [&a, &b] {
        assert_eq!(send(server, Method::GET, "/readyz", None).await.0, 200);
    }
    let mut export = vec!["export"];
    export.extend_from_slice(&args[1..]);
    let (ok, stderr) = run_idr(&export, &password);
    assert!(ok, "export from the cluster over TLS: {stderr}");
    for node in &cluster.nodes {
        assert!(
            !node.keys("idr:a:*").is_empty(),
            "{} holds no anchor",
            node.port
        );
        assert_eq!(node.cli(&["ACL", "LOG"]), "", "refused on {}", node.port);
    }

    // A CA that did not sign the nodes' certificates, and no client certificate: start-up errors that say so.
    let serve = |config: &Path| {
        run_idr(
            &[
                "serve",
                "--no-demo",
                "--listen",
                "127.0.0.1:0",
                "--redis-url",
                &url,
                "--config",
                config.to_str().unwrap(),
            ],
            &password,
        )
    };
    let (ok, stderr) = serve(&toml("wrong.toml", "wrong-ca.pem", true));
    assert!(!ok, "started with the wrong CA: {stderr}");
    assert!(
        stderr.contains("TLS handshake failed")
            && stderr.contains("UnknownIssuer")
            && stderr.contains("store.redis_ca_file"),
        "{stderr}"
    );
    let (ok, stderr) = serve(&toml("ca.toml", "ca.pem", false));
    assert!(!ok, "a client without a certificate was let in: {stderr}");
    assert!(
        stderr.contains("CertificateRequired") && stderr.contains("store.redis_client_cert_file"),
        "{stderr}"
    );
}

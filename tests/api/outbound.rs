//! The outbound guard over real sockets, loopback only: listeners on 127.0.0.1 and ::1 that count every TCP
//! connection they accept must see none, whatever spelling of a loopback address a client uses (through
//! `GET /did:web:…` on the real binary, and through the outbound client directly, past the DID parser). With the
//! allow-list the local HTTPS did:web host still resolves; per-host memory and rate limits bound the connections
//! that path and port variations can cause. Expected values come from the issue and docs/security.md.

use crate::support::did_host::{DidHost, Reply};
use crate::support::server::Server;
use idr::config::{Overrides, Settings};
use idr::outbound::{FetchError, Outbound, Request};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A TCP listener that counts the connections it accepts and closes each at once.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn bind(ip: &str) -> Option<Listener> {
        let addr: SocketAddr = format!("{ip}:0").parse().ok()?;
        let listener = tokio::net::TcpListener::bind(addr).await.ok()?;
        let port = listener.local_addr().ok()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Some(Listener {
            port,
            accepted,
            task,
        })
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listeners on 127.0.0.1 and, where the machine has it, ::1.
async fn loopback_listeners() -> (Listener, Option<Listener>) {
    let v4 = Listener::bind("127.0.0.1").await.expect("bind 127.0.0.1");
    let v6 = Listener::bind("[::1]").await;
    (v4, v6)
}

/// Names this machine's hosts file maps to a loopback address (always `localhost`; Debian adds `ip6-localhost`,
/// many machines their own host name), as a did:web may carry them. Never a public DNS name.
fn loopback_names() -> Vec<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut names = vec!["localhost".to_string()];
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(address) = fields.next().and_then(|a| a.parse::<IpAddr>().ok()) else {
            continue;
        };
        if !address.is_loopback() {
            continue;
        }
        for name in fields {
            let plain = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && !name.ends_with('.');
            let name = name.to_ascii_lowercase();
            if plain && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// The ports a name may be connected on: the IPv4 listener's, and the IPv6 one's where there is one.
fn ports(v4: &Listener, v6: &Option<Listener>) -> Vec<u16> {
    let mut ports = vec![v4.port];
    ports.extend(v6.as_ref().map(|l| l.port));
    ports
}

fn accepted(v4: &Listener, v6: &Option<Listener>) -> usize {
    v4.accepted() + v6.as_ref().map_or(0, Listener::accepted)
}

/// Starts idr with a config file holding `toml`.
async fn start_idr(dir: &std::path::Path, toml: &str) -> Server {
    let config = dir.join(format!("idr-{}.toml", std::process::id() ^ rand_suffix()));
    std::fs::write(&config, toml).expect("write config");
    Server::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await
}

fn rand_suffix() -> u32 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst) as u32
}

/// Words of transport errors and addresses that must never reach a client's answer.
const TRANSPORT_WORDS: &[&str] = &[
    "127.0.0.1",
    "::1",
    "refused",
    "dns",
    "connect",
    "certificate",
    "tls",
    "loopback",
    "resolves",
    "corrupt",
];

/// Asserts the generic 502 problem for `did` and nothing of the transport.
async fn assert_generic_502(response: reqwest::Response, did: &str) {
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{did}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("problem JSON");
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Bad gateway", "status": 502,
               "detail": format!("the DID document of {did} could not be fetched")}),
        "{did}"
    );
    let text = body["detail"].as_str().unwrap().replace(did, "");
    for word in TRANSPORT_WORDS {
        assert!(!text.to_lowercase().contains(word), "{did}: {body}");
    }
}

/// `idr_outbound_fetches_total` by outcome, from `/metrics`; also checks that it has no other label.
async fn fetch_counts(server: &Server) -> HashMap<String, u64> {
    let text = Server::client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut counts = HashMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("idr_outbound_fetches_total"))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let labels = series
            .strip_prefix("idr_outbound_fetches_total{")
            .and_then(|l| l.strip_suffix('}'))
            .unwrap_or_else(|| panic!("unlabelled series: {line}"));
        let outcome = labels
            .strip_prefix("outcome=\"")
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("a label besides outcome: {line}"));
        counts.insert(outcome.to_string(), value.parse().unwrap());
    }
    counts
}

#[tokio::test]
async fn scans_cannot_make_idr_connect_to_loopback_by_any_name() {
    let (v4, v6) = loopback_listeners().await;
    let dir = tempfile::tempdir().unwrap();
    // No memory of failed hosts: every request below goes through the resolver and its check.
    let server = start_idr(dir.path(), "[outbound]\nfailure_cache_seconds = 0\n").await;
    let mut dids = Vec::new();
    for name in loopback_names() {
        for port in ports(&v4, &v6) {
            dids.push(format!("did:web:{name}%3A{port}"));
            dids.push(format!("did:web:{name}%3A{port}:products:battery"));
        }
    }
    dids.push(format!("did:web:LOCALHOST%3A{}", v4.port));
    dids.push(format!("did:web:LocalHost%3A{}:x", v4.port));
    for did in &dids {
        let r = Server::client()
            .get(server.url(&format!("/{did}")))
            .send()
            .await
            .unwrap();
        assert_generic_502(r, did).await;
    }
    assert_eq!(accepted(&v4, &v6), 0, "no connection for {dids:?}");
    let counts = fetch_counts(&server).await;
    assert_eq!(
        counts.get("refused"),
        Some(&(dids.len() as u64)),
        "{counts:?}"
    );
    assert_eq!(counts.get("fetched"), None, "{counts:?}");
}

fn outbound_settings(toml: &str) -> Settings {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idr.toml");
    std::fs::write(&file, toml).unwrap();
    let overrides = Overrides {
        config_file: Some(file),
        ..Default::default()
    };
    Settings::load_with_env(&overrides, &HashMap::new()).expect("settings")
}

async fn get(outbound: &Outbound, url: &str) -> Result<u16, FetchError> {
    let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let request = Request {
        url: &url,
        accept: "application/json",
        timeout: Duration::from_secs(2),
        max_bytes: 1024,
    };
    outbound.get(request).await.map(|r| r.status)
}

#[tokio::test]
async fn the_outbound_client_refuses_every_spelling_of_loopback_before_connecting() {
    let (v4, v6) = loopback_listeners().await;
    let strict =
        Outbound::new(&outbound_settings("[outbound]\nfailure_cache_seconds = 0\n").outbound)
            .unwrap();
    let p = v4.port;
    let mut urls: Vec<String> = [
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "127.0.0.1",
        "127.0.0.1.",
        "%31%32%37.0.0.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ]
    .iter()
    .map(|host| format!("https://{host}:{p}/did.json"))
    .collect();
    if let Some(v6) = &v6 {
        urls.push(format!("https://[::1]:{}/did.json", v6.port));
        urls.push(format!("https://[0:0:0:0:0:0:0:1]:{}/", v6.port));
    }
    for url in &urls {
        assert_eq!(get(&strict, url).await, Err(FetchError::Refused), "{url}");
    }
    // Names: refused once resolved; `localhost.` may not resolve at all without DNS (then unreachable), and
    // either way nothing connects.
    let mut names = Vec::new();
    for name in loopback_names() {
        for port in ports(&v4, &v6) {
            names.push(format!("https://{name}:{port}/.well-known/did.json"));
            names.push(format!("https://{}:{port}/x", name.to_uppercase()));
        }
    }
    names.push(format!("https://localhost.:{p}/did.json"));
    for url in &names {
        let result = get(&strict, url).await;
        assert!(
            matches!(result, Err(FetchError::Refused | FetchError::Unreachable)),
            "{url}: {result:?}"
        );
        if !url.contains("localhost.") {
            assert_eq!(result, Err(FetchError::Refused), "{url}");
        }
    }
    urls.extend(names);
    assert_eq!(accepted(&v4, &v6), 0, "no connection for {urls:?}");

    // The same client, allowed to: the listener does see the connection (and the TLS handshake fails on it).
    let open = Outbound::new(
        &outbound_settings(
            "[outbound]\nfailure_cache_seconds = 0\nallow = [\"127.0.0.0/8\", \"::1\"]\n",
        )
        .outbound,
    )
    .unwrap();
    let result = get(&open, &format!("https://127.0.0.1:{p}/did.json")).await;
    assert_eq!(result, Err(FetchError::Unreachable));
    assert_eq!(v4.accepted(), 1, "the control connection");
}

fn document(did: &str) -> Value {
    json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": did,
           "service": [{"id": format!("{did}#dpp"), "type": "untp:dpp",
                        "serviceEndpoint": "https://brand.example/dpp"}]})
}

#[tokio::test]
async fn the_allow_list_and_allow_private_addresses_admit_the_local_did_host() {
    let host = DidHost::start().await;
    let ca = format!(
        "extra_ca_file = {:?}\n",
        host.ca_file().display().to_string()
    );
    let cases = [
        ("allow = [\"localhost\"]", true),
        (
            "allow = [\"*.example\", \"127.0.0.0/8\", \"::1/128\"]",
            true,
        ),
        ("allow_private_addresses = true", true),
        ("", false),
        ("allow = [\"10.0.0.0/8\", \"other.example\"]", false),
    ];
    for (i, (setting, admitted)) in cases.into_iter().enumerate() {
        let path = format!("case{i}");
        let did = host.did(&[&path]);
        host.serve(
            &DidHost::document_path(&[&path]),
            Reply::json(&document(&did)),
        );
        let server = start_idr(host.dir(), &format!("[outbound]\n{ca}{setting}\n")).await;
        let r = Server::client()
            .get(server.url(&format!("/{did}")))
            .send()
            .await
            .unwrap();
        if admitted {
            assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{setting}");
            assert_eq!(r.headers()["location"], "https://brand.example/dpp");
            assert_eq!(host.hits(&DidHost::document_path(&[&path])), 1, "{setting}");
        } else {
            assert_generic_502(r, &did).await;
            assert_eq!(host.hits(&DidHost::document_path(&[&path])), 0, "{setting}");
        }
    }
}

/// A failing host and port is remembered whatever the path: 20 DIDs on it cost one connection. It is remembered per
/// port: a client naming closed ports of the host first does not make the host's real port fail (those attempts are
/// bounded by the per-host budget instead).
#[tokio::test]
async fn path_variations_cost_one_connection_and_a_closed_port_blocks_only_itself() {
    let listener = Listener::bind("127.0.0.1").await.unwrap();
    // Closed ports on the same host: bound, noted, released.
    let mut closed = Vec::new();
    for _ in 0..5 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        closed.push(l.local_addr().unwrap().port());
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_idr(
        dir.path(),
        "[outbound]\nallow = [\"localhost\", \"127.0.0.0/8\", \"::1\"]\nfailure_cache_seconds = 8\n",
    )
    .await;
    let mut dids: Vec<String> = closed
        .iter()
        .map(|port| format!("did:web:localhost%3A{port}"))
        .collect();
    dids.extend((0..20).map(|i| format!("did:web:localhost%3A{}:p{i}", listener.port)));
    for did in &dids {
        let r = Server::client()
            .get(server.url(&format!("/{did}")))
            .send()
            .await
            .unwrap();
        assert_generic_502(r, did).await;
    }
    assert_eq!(
        listener.accepted(),
        1,
        "one connection for the 20 DIDs on the listening port, despite the closed ports' failures"
    );
    let counts = fetch_counts(&server).await;
    assert_eq!(
        counts.get("failed"),
        Some(&(closed.len() as u64 + 1)),
        "{counts:?}"
    );
    assert_eq!(counts.get("failing_host"), Some(&19), "{counts:?}");

    // Once the memory expires, the host is tried again. (Eight seconds: the 25 requests above must all fall inside
    // it, on a loaded machine too.)
    tokio::time::sleep(Duration::from_millis(8500)).await;
    let did = format!("did:web:localhost%3A{}:again", listener.port);
    let r = Server::client()
        .get(server.url(&format!("/{did}")))
        .send()
        .await
        .unwrap();
    assert_generic_502(r, &did).await;
    assert_eq!(listener.accepted(), 2);
}

#[tokio::test]
async fn fetches_per_host_are_rate_limited_and_counted() {
    let host = DidHost::start().await;
    let ca = format!(
        "extra_ca_file = {:?}\n",
        host.ca_file().display().to_string()
    );
    let toml = format!(
        "[outbound]\n{ca}allow = [\"localhost\"]\nper_host_burst = 3\nper_host_requests_per_second = 0.01\n"
    );
    let server = start_idr(host.dir(), &toml).await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let path = format!("p{i}");
        let did = host.did(&[&path]);
        host.serve(
            &DidHost::document_path(&[&path]),
            Reply::json(&document(&did)),
        );
        let r = Server::client()
            .get(server.url(&format!("/{did}")))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=100).contains(&retry), "{retry}");
            let body: Value = r.json().await.unwrap();
            assert!(body["detail"].as_str().unwrap().contains(&did), "{body}");
        }
    }
    assert_eq!(statuses, [307, 307, 307, 503, 503, 503, 503, 503]);
    let hits: usize = (0..8)
        .map(|i| host.hits(&DidHost::document_path(&[&format!("p{i}")])))
        .sum();
    assert_eq!(hits, 3, "the burst, then nothing");
    // Cached documents cost no fetch and stay available.
    let r = Server::client()
        .get(server.url(&format!("/{}", host.did(&["p0"]))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let counts = fetch_counts(&server).await;
    assert_eq!(counts.get("fetched"), Some(&3), "{counts:?}");
    assert_eq!(counts.get("rate_limited"), Some(&5), "{counts:?}");
}

//! A local HTTPS host for did:web documents: its own CA (generated with rcgen, written to a PEM file for idr's
//! `did_web.extra_ca_file`), a certificate for `localhost`, and a minimal HTTP/1.1 server on a free loopback port
//! that answers each path with a configurable reply, counts requests per path, and can stall or send an endless body.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// What the host answers for one path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// Waits this long before answering.
    pub delay: Duration,
    /// Sends this many bytes of body without a `Content-Length`, instead of `body`.
    pub stream_bytes: Option<usize>,
}

impl Reply {
    pub fn json(value: &serde_json::Value) -> Reply {
        Reply {
            status: 200,
            body: value.to_string().into_bytes(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            delay: Duration::ZERO,
            stream_bytes: None,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            body: Vec::new(),
            headers: Vec::new(),
            delay: Duration::ZERO,
            stream_bytes: None,
        }
    }

    /// A body of `bytes` bytes (spaces inside a JSON object), streamed with no `Content-Length`.
    pub fn endless(bytes: usize) -> Reply {
        Reply {
            stream_bytes: Some(bytes),
            ..Reply::status(200)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Routes {
    replies: HashMap<String, Reply>,
    hits: HashMap<String, usize>,
}

pub struct DidHost {
    pub port: u16,
    routes: Arc<Mutex<Routes>>,
    dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl DidHost {
    /// Generates the CA and the `localhost` certificate and starts serving (every path 404 until `serve`).
    pub async fn start() -> DidHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_pem, acceptor) = tls();
        std::fs::write(dir.path().join("ca.pem"), ca_pem).expect("write CA");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = routes.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let routes = shared.clone();
                tokio::spawn(async move {
                    let _ = answer(acceptor, tcp, routes).await;
                });
            }
        });
        DidHost {
            port,
            routes,
            dir,
            task,
        }
    }

    /// The PEM file of this host's CA.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `did:web:localhost%3A{port}` plus `:`-joined `path` segments.
    pub fn did(&self, path: &[&str]) -> String {
        let mut did = format!("did:web:localhost%3A{}", self.port);
        for segment in path {
            did.push(':');
            did.push_str(segment);
        }
        did
    }

    /// The URL path at which the document of `did(path)` is fetched.
    pub fn document_path(path: &[&str]) -> String {
        if path.is_empty() {
            "/.well-known/did.json".into()
        } else {
            format!("/{}/did.json", path.join("/"))
        }
    }

    pub fn serve(&self, url_path: &str, reply: Reply) {
        let mut routes = self.routes.lock().expect("routes");
        routes.replies.insert(url_path.to_string(), reply);
    }

    /// Requests received for `url_path` so far.
    pub fn hits(&self, url_path: &str) -> usize {
        let routes = self.routes.lock().expect("routes");
        routes.hits.get(url_path).copied().unwrap_or(0)
    }
}

impl Drop for DidHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fresh CA (returned as PEM) and a TLS acceptor with a `localhost` certificate it signed.
fn tls() -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "idr did:web test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).expect("CA certificate").pem();
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server config");
    (ca_pem, TlsAcceptor::from(Arc::new(config)))
}

/// Serves one request on one connection, then closes it.
async fn answer(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    routes: Arc<Mutex<Routes>>,
) -> std::io::Result<()> {
    let mut stream = acceptor.accept(tcp).await?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let reply = {
        let mut routes = routes.lock().expect("routes");
        *routes.hits.entry(path.clone()).or_insert(0) += 1;
        routes
            .replies
            .get(&path)
            .cloned()
            .unwrap_or_else(|| Reply::status(404))
    };
    tokio::time::sleep(reply.delay).await;
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    match reply.stream_bytes {
        None => {
            out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
            stream.write_all(out.as_bytes()).await?;
            stream.write_all(&reply.body).await?;
        }
        Some(total) => {
            out.push_str("\r\n{");
            stream.write_all(out.as_bytes()).await?;
            let chunk = vec![b' '; 16 * 1024];
            let mut sent = 1;
            while sent < total {
                let n = chunk.len().min(total - sent);
                stream.write_all(&chunk[..n]).await?;
                sent += n;
            }
        }
    }
    stream.shutdown().await
}

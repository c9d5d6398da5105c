//! DID-signed writes over real sockets: the real `idr` binary, trusting the CA of a local HTTPS did:web host
//! (`tests/api/support/did_host.rs`) that serves an issuer's DID document with keys generated here. Expected behaviour
//! comes from issue 5: ES256 and EdDSA accepted, a token bound to method, URL, body hash and a short expiry,
//! replays refused, 401 with `WWW-Authenticate` for a missing or bad credential and 403 for an out-of-scope write,
//! both problem+json naming the scope needed, and nothing written on any refusal.

use crate::support::app::TestApp;
use crate::support::client::problem;
use crate::support::client::{Api, client};
use crate::support::did_host::{DidHost, Reply};
use crate::support::redis::RedisServer;
use crate::support::server::{ADMIN_TOKEN, Server};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ssi::JWK;
use ssi::jwk::Algorithm;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The resolver's public origin: what `htu` names, whatever address the test connects to.
const ROOT: &str = "https://resolver.example";
const GTIN: &str = "01/09520123456788";
const GTIN_2: &str = "01/09520123456795";
/// Outside the writer's scope `01/0952012*`.
const OTHER: &str = "01/09506000134369";
const SCOPE: &str = "01/0952012*";
const PIP: &str = "https://brand.example/products/09520123456788";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A fresh `jti` per token.
fn jti() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{nanos}-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn product(description: &str) -> Vec<u8> {
    json!({
        "itemDescription": description,
        "defaultLinkType": "gs1:pip",
        "links": [{"linkType": "gs1:pip", "href": PIP, "title": "Product information",
                   "type": "text/html", "hreflang": ["en"]}]
    })
    .to_string()
    .into_bytes()
}

fn anchor_path(identifier: &str) -> String {
    format!("/api/v1/anchors/{identifier}")
}

/// A signing key and the DID URL it is published under.
struct Signer {
    key: JWK,
    alg: Algorithm,
    kid: String,
}

impl Signer {
    /// The claims of a correct token for this request: issued now, valid two minutes.
    fn claims(method: &str, path: &str, body: &[u8]) -> Value {
        let now = unix_now();
        json!({"htm": method, "htu": format!("{ROOT}{path}"), "bh": b64(&Sha256::digest(body)),
               "iat": now, "exp": now + 120, "jti": jti()})
    }

    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg.to_string(), "kid": self.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            ssi::claims::jws::sign_bytes(self.alg, input.as_bytes(), &self.key).expect("sign");
        format!("{input}.{}", b64(&signature))
    }

    fn token(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.sign(&Self::claims(method, path, body))
    }

    /// The same signer publishing under another key id (or impersonating one).
    fn as_kid(&self, kid: &str) -> Signer {
        Signer {
            key: self.key.clone(),
            alg: self.alg,
            kid: kid.to_string(),
        }
    }
}

/// An issuer's DID document: a P-256 key as a JWK and an Ed25519 key as a Multikey, both for authentication, and
/// a key for signing credentials only.
fn document(did: &str, p256: &JWK, ed: &JWK, vc: &JWK) -> Value {
    let multibase = ssi::security::MultibaseBuf::encode(
        ssi::security::multibase::Base::Base58Btc,
        ed.to_multicodec().expect("multicodec").as_bytes(),
    );
    json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {"id": format!("{did}#p256"), "type": "JsonWebKey2020", "controller": did,
             "publicKeyJwk": p256.to_public()},
            {"id": format!("{did}#ed"), "type": "Multikey", "controller": did,
             "publicKeyMultibase": multibase.as_str()},
            {"id": format!("{did}#vc"), "type": "JsonWebKey2020", "controller": did,
             "publicKeyJwk": vc.to_public()}
        ],
        "authentication": ["#p256", format!("{did}#ed")],
        "assertionMethod": [format!("{did}#vc")]
    })
}

/// The did:web host, the issuer's keys, and `did_writers` config for it (TOML).
struct Issuer {
    host: DidHost,
    did: String,
    es256: Signer,
    eddsa: Signer,
    vc: Signer,
}

impl Issuer {
    async fn start() -> Issuer {
        let host = DidHost::start().await;
        let did = host.did(&["brand"]);
        let (p256, ed, vc) = (
            JWK::generate_p256(),
            JWK::generate_ed25519().expect("Ed25519 key"),
            JWK::generate_p256(),
        );
        host.serve(
            &DidHost::document_path(&["brand"]),
            Reply::json(&document(&did, &p256, &ed, &vc)),
        );
        let signer = |key: JWK, alg, fragment: &str| Signer {
            key,
            alg,
            kid: format!("{did}#{fragment}"),
        };
        Issuer {
            es256: signer(p256, Algorithm::ES256, "p256"),
            eddsa: signer(ed, Algorithm::EdDSA, "ed"),
            vc: signer(vc, Algorithm::ES256, "vc"),
            did,
            host,
        }
    }

    /// `[did_web]` trusting the host's CA (plus `did_web` lines), the issuer as a writer for `01/0952012*`, and
    /// `extra` TOML.
    fn config_with(&self, did_web: &str, extra: &str) -> String {
        let path = self.host.dir().join(format!("idr-{}.toml", jti()));
        let toml = format!(
            "{extra}\n[outbound]\nallow = [\"localhost\"]\n[did_web]\nextra_ca_file = {:?}\n{did_web}\n\n[[did_writers]]\ndid = {:?}\nscopes = [{SCOPE:?}]\n",
            self.host.ca_file().display().to_string(),
            self.did
        );
        std::fs::write(&path, toml).expect("write config");
        path.display().to_string()
    }

    fn config(&self, extra: &str) -> String {
        self.config_with("", extra)
    }

    async fn start_with_config(config: &str) -> TestApp {
        TestApp::start_with(&["--no-demo", "--resolver-root", ROOT, "--config", config]).await
    }

    async fn server(&self, extra: &str) -> TestApp {
        Self::start_with_config(&self.config(extra)).await
    }

    /// As `server`, as a subprocess (to restart it).
    async fn subprocess(&self, extra: &str) -> Server {
        let config = self.config(extra);
        Server::start_with(&["--no-demo", "--resolver-root", ROOT, "--config", &config]).await
    }
}

async fn send(
    server: &impl Api,
    method: Method,
    path: &str,
    body: &[u8],
    authorization: Option<String>,
) -> Response {
    let mut request = client().request(method, server.url(path));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    request.send().await.expect("request")
}

/// Sends a request with a correct token for it.
async fn signed(
    server: &impl Api,
    signer: &Signer,
    method: Method,
    path: &str,
    body: &[u8],
) -> Response {
    let token = signer.token(method.as_str(), path, body);
    send(server, method, path, body, Some(format!("DID {token}"))).await
}

/// A 401 problem whose detail contains `needle`.
async fn refused(r: Response, needle: &str) -> Value {
    let body = problem(r, 401).await;
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(needle), "expected {needle:?} in: {detail}");
    body
}

/// The stored version of an anchor (read with the admin token), or None.
async fn version(server: &impl Api, identifier: &str) -> Option<u64> {
    let r = client()
        .get(server.url(&anchor_path(identifier)))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET");
    match r.status().as_u16() {
        404 => None,
        200 => r.json::<Value>().await.expect("JSON")["version"].as_u64(),
        other => panic!("GET {identifier}: {other}"),
    }
}

#[tokio::test]
async fn es256_and_eddsa_signed_writes_are_accepted_and_resolve() {
    let issuer = Issuer::start().await;
    let server = issuer.server("").await;

    let path = anchor_path(GTIN);
    let r = signed(&server, &issuer.es256, Method::PUT, &path, &product("Pack")).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let scan = client()
        .get(server.url(&format!("/{GTIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 307);
    assert_eq!(scan.headers()["location"], PIP);

    // EdDSA, with the key published as a Multikey; a replace, then a signed read.
    let r = signed(
        &server,
        &issuer.eddsa,
        Method::PUT,
        &path,
        &product("Pack v2"),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = signed(&server, &issuer.eddsa, Method::GET, &path, b"").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["itemDescription"],
        "Pack v2"
    );

    // The Pyx-compatible API reads its body through the same check.
    let pyx = json!({
        "namespace": "gs1", "identificationKeyType": "01", "identificationKey": &GTIN_2[3..],
        "itemDescription": "", "qualifierPath": "/", "active": true,
        "responses": [{"linkType": "gs1:pip", "ianaLanguage": "en", "context": "au", "mimeType": "text/html",
                       "linkTitle": "Product information", "targetUrl": PIP, "defaultLinkType": true,
                       "defaultMimeType": false, "defaultIanaLanguage": false, "defaultContext": false,
                       "fwqs": false}]
    })
    .to_string()
    .into_bytes();
    let r = signed(
        &server,
        &issuer.es256,
        Method::POST,
        "/api/2.0.0/resolver",
        &pyx,
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(version(&server, GTIN_2).await, Some(1));

    let r = signed(&server, &issuer.eddsa, Method::DELETE, &path, b"").await;
    assert_eq!(r.status(), 204);
    assert_eq!(version(&server, GTIN).await, None);

    // The audit trail names the DID as the writer; it is read with a signed request too.
    let audit = format!("/api/v1/audit?identifier={GTIN}");
    let r = signed(&server, &issuer.es256, Method::GET, &audit, b"").await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    let rows: Vec<(String, String)> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().into(),
                e["operation"].as_str().unwrap().into(),
            )
        })
        .collect();
    let did = issuer.did.clone();
    assert_eq!(
        rows,
        [
            (did.clone(), "create".into()),
            (did.clone(), "replace".into()),
            (did, "delete".into())
        ]
    );
}

/// DID writers' documents are fetched with a budget and failure memory of their own: anonymous scans that spend the
/// writer's host's public budget (made-up DIDs on it) or make it fail (a closed port of it) leave signature checks
/// unaffected.
#[tokio::test]
async fn anonymous_scans_cannot_starve_a_did_writer() {
    let issuer = Issuer::start().await;
    let config = issuer.config("");
    let server = TestApp::start_with_env(
        &["--no-demo", "--resolver-root", ROOT, "--config", &config],
        &[
            ("IDR_OUTBOUND__PER_HOST_BURST", "2"),
            ("IDR_OUTBOUND__PER_HOST_REQUESTS_PER_SECOND", "0.01"),
        ],
    )
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut statuses = Vec::new();
    for path in [
        format!("/did:web:localhost%3A{closed}"),
        format!("/{}:made-up-1", issuer.did),
        format!("/{}:made-up-2", issuer.did),
        format!("/{}", issuer.did),
    ] {
        let r = client().get(server.url(&path)).send().await.unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(
        statuses,
        [502, 404, 503, 503],
        "the public budget of the host is spent"
    );
    let r = signed(
        &server,
        &issuer.es256,
        Method::PUT,
        &anchor_path(GTIN),
        &product("Pack"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn did_writers_work_with_public_did_resolution_off() {
    let issuer = Issuer::start().await;
    let server = Issuer::start_with_config(&issuer.config_with("enabled = false", "")).await;
    let r = signed(
        &server,
        &issuer.es256,
        Method::PUT,
        &anchor_path(GTIN),
        &product("Pack"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let public = client()
        .get(server.url(&format!("/{}", issuer.did)))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "GET /did:web:… stays off");
}

#[tokio::test]
async fn out_of_scope_writes_are_403_naming_the_scope_and_write_nothing() {
    let issuer = Issuer::start().await;
    let server = issuer.server("").await;
    let r = signed(
        &server,
        &issuer.es256,
        Method::PUT,
        &anchor_path(OTHER),
        &product("Not ours"),
    )
    .await;
    let body = problem(r, 403).await;
    assert_eq!(body["scope"], OTHER, "the scope needed: {body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(SCOPE) && detail.contains(OTHER), "{detail}");
    assert_eq!(version(&server, OTHER).await, None);
}

#[tokio::test]
async fn replayed_expired_and_misbound_tokens_are_refused_and_write_nothing() {
    let issuer = Issuer::start().await;
    let server = issuer.server("").await;
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let signer = &issuer.es256;

    let token = signer.token("PUT", &path, &body);
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    assert_eq!(r.status(), 201);
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    refused(r, "already used").await;
    assert_eq!(
        version(&server, GTIN).await,
        Some(1),
        "the replay wrote nothing"
    );

    let path_2 = anchor_path(GTIN_2);
    let put = |claims: Value, body: Vec<u8>| {
        let token = signer.sign(&claims);
        let path_2 = path_2.clone();
        let server = &server;
        async move {
            send(
                server,
                Method::PUT,
                &path_2,
                &body,
                Some(format!("DID {token}")),
            )
            .await
        }
    };
    let now = unix_now();
    let mut expired = Signer::claims("PUT", &path_2, &body);
    expired["iat"] = json!(now - 400);
    expired["exp"] = json!(now - 300);
    refused(put(expired, body.clone()).await, "expired").await;
    let mut long = Signer::claims("PUT", &path_2, &body);
    long["exp"] = json!(now + 3600);
    refused(put(long, body.clone()).await, "max_token_seconds").await;
    let mut future = Signer::claims("PUT", &path_2, &body);
    future["iat"] = json!(now + 100);
    future["exp"] = json!(now + 200);
    refused(put(future, body.clone()).await, "future").await;

    // Bound to another method, another identifier, another origin, or another body.
    let wrong_method = Signer::claims("POST", &path_2, &body);
    refused(put(wrong_method, body.clone()).await, "`htm`").await;
    let wrong_path = Signer::claims("PUT", &path, &body);
    refused(put(wrong_path, body.clone()).await, "`htu`").await;
    let mut wrong_origin = Signer::claims("PUT", &path_2, &body);
    wrong_origin["htu"] = json!(server.url(&path_2));
    refused(put(wrong_origin, body.clone()).await, "`htu`").await;
    let other_body = Signer::claims("PUT", &path_2, &product("Something else"));
    refused(put(other_body, body.clone()).await, "`bh`").await;
    assert_eq!(version(&server, GTIN_2).await, None, "nothing written");

    // The query is signed too: a token for a soft delete cannot be used for a hard one.
    let token = signer.token("DELETE", &path, b"");
    let hard = format!("{path}?hard=true");
    let r = send(
        &server,
        Method::DELETE,
        &hard,
        b"",
        Some(format!("DID {token}")),
    )
    .await;
    refused(r, "`htu`").await;
    assert_eq!(version(&server, GTIN).await, Some(1));
}

#[tokio::test]
async fn keys_and_dids_outside_the_configuration_are_refused() {
    let issuer = Issuer::start().await;
    // Another DID on the same host, with a valid document, but not among did_writers.
    let stranger_did = issuer.host.did(&["stranger"]);
    let stranger_key = JWK::generate_p256();
    let stranger_doc = DidHost::document_path(&["stranger"]);
    issuer.host.serve(
        &stranger_doc,
        Reply::json(&document(
            &stranger_did,
            &stranger_key,
            &JWK::generate_ed25519().unwrap(),
            &JWK::generate_p256(),
        )),
    );
    let server = issuer.server("").await;
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let put = |signer: Signer| {
        let (path, body, server) = (path.clone(), body.clone(), &server);
        async move { signed(server, &signer, Method::PUT, &path, &body).await }
    };

    // A key the issuer never published, presented under its key id.
    let forger = Signer {
        key: JWK::generate_p256(),
        alg: Algorithm::ES256,
        kid: issuer.es256.kid.clone(),
    };
    refused(put(forger).await, "signature does not verify").await;
    // A published key that is for signing credentials, not for authentication.
    refused(
        put(issuer.vc.as_kid(&issuer.vc.kid)).await,
        "authentication",
    )
    .await;
    // A key id the document does not have, and one without a fragment.
    let missing = format!("{}#nope", issuer.did);
    refused(put(issuer.es256.as_kid(&missing)).await, "authentication").await;
    refused(put(issuer.es256.as_kid(&issuer.did)).await, "fragment").await;
    // The Ed25519 key presented as ES256: refused, whatever the signature.
    let confused = Signer {
        key: issuer.es256.key.clone(),
        alg: Algorithm::ES256,
        kid: issuer.eddsa.kid.clone(),
    };
    refused(put(confused).await, "key type").await;
    // A DID that is not a writer: refused before its document is fetched.
    let stranger = Signer {
        key: stranger_key,
        alg: Algorithm::ES256,
        kid: format!("{stranger_did}#p256"),
    };
    refused(put(stranger).await, "not a DID writer").await;
    assert_eq!(issuer.host.hits(&stranger_doc), 0);
    assert_eq!(version(&server, GTIN).await, None);
}

#[tokio::test]
async fn malformed_tokens_are_401_not_a_crash() {
    let issuer = Issuer::start().await;
    let server = issuer.server("").await;
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let token = issuer.es256.token("PUT", &path, &body);
    // The last character of a 64-byte signature carries 4 bits; 'B' sets a trailing bit that must be zero. ssi-jws
    // 0.5 panics on this (crate notes, trap 2).
    let malformed = format!("{}B", &token[..token.len() - 1]);
    assert_ne!(malformed, token);
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {malformed}")),
    )
    .await;
    refused(r, "signature").await;
    for junk in [
        "DID".to_string(),
        "DID ".to_string(),
        "DID a.b".to_string(),
        "DID ...".to_string(),
        format!("DID {token}.x"),
        format!("DID {}", token.replace('.', "=")),
        format!("DID {token}="),
    ] {
        let r = send(&server, Method::PUT, &path, &body, Some(junk.clone())).await;
        refused(r, "DID request token").await;
    }
    // Still serving, and the token whose signature was mangled was never used.
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn missing_credentials_get_both_challenges_naming_the_scope() {
    let issuer = Issuer::start().await;
    let server = issuer.server("").await;
    // A GTIN-13 in the path: the scope named is the canonical identifier.
    let r = send(
        &server,
        Method::PUT,
        "/api/v1/anchors/01/9520123456788",
        &product("Pack"),
        None,
    )
    .await;
    let challenges: Vec<String> = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        challenges,
        [
            format!("Bearer realm=\"idr\", scope=\"{GTIN}\""),
            format!("DID realm=\"idr\", algs=\"ES256 EdDSA\", scope=\"{GTIN}\""),
        ]
    );
    let body = refused(r, "missing credentials").await;
    assert_eq!(body["scope"], GTIN);
    assert!(body["detail"].as_str().unwrap().contains(GTIN), "{body}");
    assert_eq!(version(&server, GTIN).await, None);
}

#[tokio::test]
async fn signed_requests_are_rate_limited_per_did() {
    let issuer = Issuer::start().await;
    let server = issuer
        .server("[limits]\nmanagement_requests_per_second = 0.5\nmanagement_burst = 2\n")
        .await;
    let path = anchor_path(GTIN);
    for _ in 0..2 {
        let r = signed(&server, &issuer.es256, Method::GET, &path, b"").await;
        assert_eq!(r.status(), 404, "within the burst");
    }
    // The other key of the same DID draws on the same bucket: the credential is the DID.
    let r = signed(&server, &issuer.eddsa, Method::GET, &path, b"").await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn replays_are_refused_across_replicas_sharing_redis() {
    let redis = RedisServer::start();
    let issuer = Issuer::start().await;
    let config = issuer.config("");
    let replica = || {
        let (config, url) = (config.clone(), redis.url());
        async move {
            Server::start_with(&[
                "--no-demo",
                "--resolver-root",
                ROOT,
                "--config",
                &config,
                "--redis-url",
                &url,
            ])
            .await
        }
    };
    let (a, b) = (replica().await, replica().await);
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let token = issuer.es256.token("PUT", &path, &body);
    let r = send(&a, Method::PUT, &path, &body, Some(format!("DID {token}"))).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = send(&b, Method::PUT, &path, &body, Some(format!("DID {token}"))).await;
    refused(r, "already used").await;
    assert_eq!(version(&b, GTIN).await, Some(1));
    // One remembered token, kept no longer than its lifetime plus the clock skew allowance.
    let nonces = redis.keys("idr:nonce:*");
    assert_eq!(nonces.len(), 1, "{nonces:?}");
    let ttl: i64 = redis.cli(&["PTTL", &nonces[0]]).parse().expect("PTTL");
    assert!(ttl > 0 && ttl <= (120 + 30 + 1) * 1000, "{ttl}");
}

#[test]
fn bad_did_writers_stop_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, field) in [
        (
            "[[did_writers]]\ndid = \"did:web:brand.example#key-1\"\nscopes = [\"01/0952012*\"]\n",
            "did_writers[0].did",
        ),
        (
            "[[did_writers]]\ndid = \"did:web:brand.example\"\nscopes = [\"01/0952012*\", \"gtin/0952*\"]\n",
            "did_writers[0].scopes[1]",
        ),
    ] {
        let config = dir.path().join("idr.toml");
        std::fs::write(&config, toml).unwrap();
        let mut child = crate::support::server::command()
            .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "error")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn idr");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                child.kill().ok();
                panic!("idr started with a bad did_writers entry: {toml}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!status.success(), "{toml}");
        assert!(stderr.contains(field), "{field}: {stderr}");
    }
}

/// The embedded store keeps claimed token ids in its file: a token replayed after a restart, within its lifetime, is
/// refused as it would have been before.
#[tokio::test]
async fn replays_are_refused_after_a_restart_of_the_embedded_store() {
    let issuer = Issuer::start().await;
    let mut server = issuer.subprocess("").await;
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let token = issuer.es256.token("PUT", &path, &body);
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    server.stop();
    server.resume().await;
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    refused(r, "already used").await;
    assert_eq!(
        version(&server, GTIN).await,
        Some(1),
        "the replay wrote nothing"
    );
    // And after a crash (kill -9) too, with a fresh token still accepted.
    server.crash_and_restart().await;
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    refused(r, "already used").await;
    let r = signed(&server, &issuer.es256, Method::PUT, &path, &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(version(&server, GTIN).await, Some(2));
}

/// With `store.redis_wait_replicas`, a token's claim waits for the replica like any write (`WAIT` after the
/// `SET NX`): one `WAIT` for the claim, one for the write, and the claim is on the replica when the answer comes.
#[tokio::test]
async fn the_redis_claim_of_a_token_waits_for_the_replica() {
    let primary = RedisServer::start();
    let replica_of = primary.port.to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &replica_of]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !replica
        .cli(&["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(std::time::Instant::now() < deadline, "replica did not sync");
        std::thread::sleep(Duration::from_millis(50));
    }
    let issuer = Issuer::start().await;
    let config = issuer.config("[store]\nredis_wait_replicas = 1\nredis_wait_timeout_ms = 2000\n");
    let server = TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--config",
        &config,
        "--redis-url",
        &primary.url(),
    ])
    .await;
    let waits = || {
        primary
            .cli(&["INFO", "commandstats"])
            .lines()
            .find_map(|l| l.strip_prefix("cmdstat_wait:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = waits();
    let path = anchor_path(GTIN);
    let body = product("Pack");
    let token = issuer.es256.token("PUT", &path, &body);
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        waits(),
        before + 2,
        "a WAIT for the claim and one for the write"
    );
    assert_eq!(
        replica.keys("idr:nonce:*").len(),
        1,
        "the claim is on the replica"
    );
    let r = send(
        &server,
        Method::PUT,
        &path,
        &body,
        Some(format!("DID {token}")),
    )
    .await;
    refused(r, "already used").await;
    assert_eq!(
        waits(),
        before + 2,
        "a refused claim wrote nothing to wait for"
    );
}

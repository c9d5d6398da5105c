//! Verified links, the checker (issue 26): `Checker` called directly against a local HTTPS host
//! (`support/did_host.rs`, loopback only, allowed explicitly) that serves did:web issuer documents, credentials signed
//! here with freshly generated keys, a status list, an encrypted payload and a page. Each case must reach the status
//! the issue documents, with a reason naming what failed.

use crate::support::did_host::{DidHost, Reply};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idr::verification::check::Checker;
use idr::verification::check::verifier::Verifier;
use idr::verification::is_deferred;
use idr::verification::{Check, LinkVerdict, Status, Target};
use serde_json::{Value, json};
use ssi::JWK;
use ssi::jwk::Algorithm;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const ANCHOR: &str = "01/09520123456788/21/12345";
const PRODUCT: &str = "https://id.gs1.org/01/09520123456788";
const OTHER_PRODUCT: &str = "https://id.gs1.org/01/09506000134352";
const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const DCC: &str = "https://test.uncefact.org/vocabulary/linkTypes/dcc";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 3339, `seconds` from now.
pub(crate) fn at(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A compact JWS of `payload`, ES256 or EdDSA after the key.
fn jws(key: &JWK, kid: &str, payload: &Value) -> String {
    let alg = match key.params {
        ssi::jwk::Params::OKP(_) => Algorithm::EdDSA,
        _ => Algorithm::ES256,
    };
    let header = json!({"alg": alg.to_string(), "kid": kid, "typ": "vc+jwt", "cty": "vc"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = ssi::claims::jws::sign_bytes(alg, input.as_bytes(), key).expect("sign");
    format!("{input}.{}", b64(&signature))
}

/// An issuer with a P-256 key, its document at `/{name}/did.json` listing `#k` under `assertionMethod`.
pub(crate) struct Issuer {
    pub(crate) did: String,
    key: JWK,
}

impl Issuer {
    pub(crate) fn publish(host: &DidHost, name: &str) -> Issuer {
        let did = host.did(&[name]);
        let key = JWK::generate_p256();
        publish_document(host, name, &did, "k", &key);
        Issuer { did, key }
    }

    fn kid(&self) -> String {
        format!("{}#k", self.did)
    }

    pub(crate) fn sign(&self, credential: &Value) -> String {
        jws(&self.key, &self.kid(), credential)
    }
}

fn publish_document(host: &DidHost, name: &str, did: &str, fragment: &str, key: &JWK) {
    let kid = format!("{did}#{fragment}");
    let document = json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [{"id": kid, "type": "JsonWebKey2020", "controller": did,
                                "publicKeyJwk": key.to_public()}],
        "assertionMethod": [kid]
    });
    host.serve(&DidHost::document_path(&[name]), Reply::json(&document));
}

pub(crate) fn credential(issuer: &str, kind: &str, subject: Value, valid_until: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://test.uncefact.org/vocabulary/untp/dpp/0.6.0/"],
        "type": [kind, "VerifiableCredential"],
        "id": "https://issuer.example/credentials/1",
        "issuer": {"type": ["CredentialIssuer"], "id": issuer, "name": "An issuer"},
        "validFrom": at(-60),
        "validUntil": valid_until,
        "credentialSubject": subject
    })
}

/// A DPP 0.6 subject about `product`.
pub(crate) fn passport_of(product: &str) -> Value {
    json!({"type": ["ProductPassport"], "id": "example:passport/1",
           "product": {"type": ["Product"], "id": product, "name": "Battery"}})
}

/// A DCC subject attesting `product`.
fn attestation_of(product: &str) -> Value {
    json!({"type": ["ConformityAttestation"], "id": "https://certifier.example/attestations/1",
           "assessment": [{"type": ["ConformityAssessment"],
                           "assessedProduct": [{"product": {"id": product}, "IDverifiedByCAB": true}]}]})
}

pub(crate) fn vc_jwt(body: String) -> Reply {
    Reply {
        body: body.into_bytes(),
        headers: vec![("Content-Type".into(), "application/vc+jwt".into())],
        ..Reply::status(200)
    }
}

fn page(content_type: &str, body: &[u8]) -> Reply {
    Reply {
        body: body.to_vec(),
        headers: vec![("Content-Type".into(), content_type.into())],
        ..Reply::status(200)
    }
}

struct World {
    host: DidHost,
    issuer: Issuer,
}

impl World {
    async fn start() -> World {
        let host = DidHost::start().await;
        let issuer = Issuer::publish(&host, "issuer");
        World { host, issuer }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.host.port)
    }

    fn status_url(&self) -> String {
        self.url("/status/1")
    }

    /// The issuer's revocation list with `revoked` set.
    fn publish_status(&self, revoked: &[u64]) {
        let mut bits = vec![0u8; 16 * 1024];
        for &i in revoked {
            bits[(i / 8) as usize] |= 0x80 >> (i % 8);
        }
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&bits).unwrap();
        let list = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": self.status_url(),
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.issuer.did, "validFrom": at(-60),
            "credentialSubject": {"id": format!("{}#list", self.status_url()), "type": "BitstringStatusList",
                "statusPurpose": "revocation", "encodedList": format!("u{}", b64(&gzip.finish().unwrap()))}
        });
        self.host
            .serve("/status/1", vc_jwt(self.issuer.sign(&list)));
    }

    fn with_status(&self, mut credential: Value, index: u64) -> Value {
        credential["credentialStatus"] = json!({"id": format!("{}#{index}", self.status_url()),
            "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
            "statusListIndex": index.to_string(), "statusListCredential": self.status_url()});
        credential
    }

    /// A checker trusting the host's CA, with `extra` configuration.
    fn checker(&self, extra: &str) -> Result<Checker, idr::config::ConfigError> {
        self.checker_with("", extra)
    }

    /// A checker trusting the host's CA, with `outbound` settings added to that section, and `extra` configuration.
    fn checker_with(
        &self,
        outbound: &str,
        extra: &str,
    ) -> Result<Checker, idr::config::ConfigError> {
        self.checker_running(Path::new(env!("CARGO_BIN_EXE_idr")), outbound, extra)
    }

    /// As `checker_with`, running `program` as the Data Integrity verifier (the `idr` binary, or a script around
    /// it): the test binary is not `idr`.
    fn checker_running(
        &self,
        program: &Path,
        outbound: &str,
        extra: &str,
    ) -> Result<Checker, idr::config::ConfigError> {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = self
            .host
            .dir()
            .join(format!("idr-{}.toml", N.fetch_add(1, Ordering::Relaxed)));
        let toml = format!(
            "[resolver]\nresolver_root = \"https://resolver.example\"\n\
             [outbound]\nallow = [\"localhost\"]\nextra_ca_file = {:?}\n{outbound}\n{extra}\n",
            self.host.ca_file().display().to_string()
        );
        std::fs::write(&path, toml).expect("write config");
        let overrides = idr::config::Overrides {
            config_file: Some(path),
            ..Default::default()
        };
        let mut settings = idr::config::Settings::load_with_env(&overrides, &Default::default())?;
        settings.verifier_program = Some(program.to_path_buf());
        // `check_config` builds a checker too (so `idr check-config` reports trust lists): its error is the one
        let (vocabulary, parser) = match idr::app::check_config(&settings) {
            Ok(checked) => checked,
            Err(idr::app::StartupError::Config(e)) => return Err(e),
            Err(e) => panic!("configuration: {e}"),
        };
        let vocabularies = Arc::new(idr::vocabulary::Vocabularies::new((*vocabulary).clone()));
        let outbound = Arc::new(idr::outbound::Outbound::new(&settings.outbound)?);
        Checker::new(&settings, outbound, parser, vocabularies)
    }
}

async fn check(checker: &Checker, link_type: &str, href: &str) -> LinkVerdict {
    checker
        .check(Target {
            anchor: ANCHOR,
            link_type,
            href,
            media_type: None,
            encryption_method: None,
        })
        .await
}

/// The verdict has `status` and its reason contains every one of `words`.
fn assert_verdict(verdict: &LinkVerdict, status: Status, words: &[&str]) {
    assert_eq!(verdict.status, status, "{verdict:?}");
    let reason = verdict.reason.as_deref().unwrap_or("");
    for word in words {
        assert!(reason.contains(word), "{word:?} not in {reason:?}");
    }
    assert!(verdict.checked_at.is_some(), "{verdict:?}");
}

#[tokio::test]
async fn good_passports_verify_enveloped_either_way() {
    let world = World::start().await;
    world.publish_status(&[7]);
    let valid_until = at(86_400);
    let dpp = world.with_status(
        credential(
            &world.issuer.did,
            "DigitalProductPassport",
            passport_of(PRODUCT),
            &valid_until,
        ),
        5,
    );
    let token = world.issuer.sign(&dpp);
    world.host.serve("/dpp.jwt", vc_jwt(token.clone()));
    let enveloped = json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{token}")});
    world.host.serve(
        "/dpp.json",
        page("application/ld+json", enveloped.to_string().as_bytes()),
    );
    let checker = world.checker("").unwrap();

    for path in ["/dpp.jwt", "/dpp.json"] {
        let href = world.url(path);
        let verdict = check(&checker, DPP, &href).await;
        assert_eq!(verdict.status, Status::Verified, "{path}: {verdict:?}");
        assert_eq!(verdict.reason, None);
        assert_eq!(verdict.link_type, DPP);
        assert_eq!(verdict.href, href);
        assert_eq!(verdict.issuer.as_deref(), Some(world.issuer.did.as_str()));
        assert_eq!(
            verdict.credential_type.as_deref(),
            Some("DigitalProductPassport")
        );
        assert_eq!(verdict.valid_until.as_deref(), Some(valid_until.as_str()));
        let checked = verdict.checked_at.as_deref().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(checked).is_ok(),
            "{checked}"
        );
    }
    // The status list was read (and cached): a check reads the list the credential names.
    assert!(world.host.hits("/status/1") >= 1);
}

#[tokio::test]
async fn a_did_key_issuer_verifies_without_any_fetch_of_its_key() {
    let world = World::start().await;
    let key = JWK::generate_ed25519().expect("Ed25519 key");
    let did = ssi::dids::DIDKey::generate(&key).unwrap().to_string();
    let kid = ssi::dids::DIDKey::generate_url(&key).unwrap().to_string();
    let dpp = credential(
        &did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &at(3600),
    );
    world.host.serve("/key.jwt", vc_jwt(jws(&key, &kid, &dpp)));
    let checker = world.checker("").unwrap();
    let verdict = check(&checker, DPP, &world.url("/key.jwt")).await;
    assert_eq!(verdict.status, Status::Verified, "{verdict:?}");
    assert_eq!(verdict.issuer.as_deref(), Some(did.as_str()));
}

#[tokio::test]
async fn forged_stale_and_unrelated_credentials_fail_saying_why() {
    let world = World::start().await;
    world.publish_status(&[7]);
    let issuer = &world.issuer;
    let year = at(365 * 86_400);

    // About another GTIN.
    let other = credential(
        &issuer.did,
        "DigitalProductPassport",
        passport_of(OTHER_PRODUCT),
        &year,
    );
    world.host.serve("/other.jwt", vc_jwt(issuer.sign(&other)));
    // Tampered: the payload of a good credential changed after signing.
    let good = credential(
        &issuer.did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    );
    let signed = issuer.sign(&good);
    let mut forged = good.clone();
    forged["credentialSubject"]["product"]["name"] = json!("A greener battery");
    let parts: Vec<&str> = signed.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(forged.to_string().as_bytes()),
        parts[2]
    );
    world.host.serve("/tampered.jwt", vc_jwt(tampered));
    // An expired conformity credential.
    let expired = credential(
        &issuer.did,
        "DigitalConformityCredential",
        attestation_of(PRODUCT),
        &at(-3600),
    );
    world
        .host
        .serve("/expired.jwt", vc_jwt(issuer.sign(&expired)));
    // A revoked one (bit 7 of the list is set).
    let revoked = world.with_status(
        credential(
            &issuer.did,
            "DigitalConformityCredential",
            attestation_of(PRODUCT),
            &year,
        ),
        7,
    );
    world
        .host
        .serve("/revoked.jwt", vc_jwt(issuer.sign(&revoked)));
    // A conformity credential behind a passport link.
    world.host.serve(
        "/dcc.jwt",
        vc_jwt(issuer.sign(&credential(
            &issuer.did,
            "DigitalConformityCredential",
            attestation_of(PRODUCT),
            &year,
        ))),
    );
    // Signed with a key the issuer's document no longer lists (rotated away).
    let rotated_did = world.host.did(&["rotated"]);
    let old_key = JWK::generate_p256();
    publish_document(
        &world.host,
        "rotated",
        &rotated_did,
        "new",
        &JWK::generate_p256(),
    );
    let by_rotated = credential(
        &rotated_did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    );
    world.host.serve(
        "/rotated.jwt",
        vc_jwt(jws(&old_key, &format!("{rotated_did}#old"), &by_rotated)),
    );

    let checker = world.checker("").unwrap();
    let cases: [(&str, &str, &[&str]); 6] = [
        (
            "/other.jwt",
            DPP,
            &["about 01/09506000134352", "not 01/09520123456788/21/12345"],
        ),
        ("/tampered.jwt", DPP, &["signature does not verify", "#k"]),
        ("/expired.jwt", DCC, &["expired", "validUntil"]),
        ("/revoked.jwt", DCC, &["revoked", "bit 7", "/status/1"]),
        (
            "/dcc.jwt",
            DPP,
            &[
                "DigitalConformityCredential",
                "untp:dpp",
                "DigitalProductPassport",
            ],
        ),
        ("/rotated.jwt", DPP, &["#old", "assertionMethod"]),
    ];
    for (path, link_type, words) in cases {
        let verdict = check(&checker, link_type, &world.url(path)).await;
        assert_verdict(&verdict, Status::Failed, words);
    }
    // What was read before the failing check is reported.
    let expired = check(&checker, DCC, &world.url("/expired.jwt")).await;
    assert_eq!(
        expired.credential_type.as_deref(),
        Some("DigitalConformityCredential")
    );
    assert_eq!(expired.issuer.as_deref(), Some(issuer.did.as_str()));
    assert!(expired.valid_until.is_some());
}

#[tokio::test]
async fn what_is_no_credential_or_cannot_be_fetched_says_so() {
    let world = World::start().await;
    world.host.serve(
        "/page.html",
        page(
            "text/html; charset=utf-8",
            b"<!doctype html><h1>Battery</h1>",
        ),
    );
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let checker = world.checker("").unwrap();

    let html = check(&checker, DPP, &world.url("/page.html")).await;
    assert_verdict(
        &html,
        Status::NotACredential,
        &["text/html", "not a credential"],
    );
    let refused = check(
        &checker,
        DPP,
        &format!("https://localhost:{closed}/dpp.jwt"),
    )
    .await;
    assert_verdict(&refused, Status::Unreachable, &["could not be fetched"]);
    assert!(!is_deferred(&refused), "{refused:?}");
}

#[tokio::test]
async fn a_target_that_can_never_verify_fails_and_only_a_passing_condition_is_unreachable() {
    let world = World::start().await;
    // Answers that say the credential is not there (a redirect is never followed) fail.
    for status in [404, 410, 403, 401, 400, 302] {
        world
            .host
            .serve(&format!("/answers/{status}"), Reply::status(status));
    }
    // Answers that may pass are unreachable.
    for status in [503, 500, 429, 408] {
        world
            .host
            .serve(&format!("/answers/{status}"), Reply::status(status));
    }
    let huge = "x".repeat(4096);
    world
        .host
        .serve("/huge.jwt", vc_jwt(format!("{huge}.{huge}.{huge}")));
    let checker = world
        .checker("[verification]\nmax_credential_bytes = 2048\n")
        .unwrap();

    for status in [404, 410, 403, 401, 400, 302] {
        let verdict = check(&checker, DPP, &world.url(&format!("/answers/{status}"))).await;
        assert_verdict(
            &verdict,
            Status::Failed,
            &[&format!("the target answers {status}")],
        );
    }
    for status in [503, 500, 429, 408] {
        let verdict = check(&checker, DPP, &world.url(&format!("/answers/{status}"))).await;
        assert_verdict(&verdict, Status::Unreachable, &[&status.to_string()]);
        assert!(!is_deferred(&verdict), "{verdict:?}");
    }
    let plain = check(
        &checker,
        DPP,
        &format!("http://localhost:{}/page.html", world.host.port),
    )
    .await;
    assert_verdict(
        &plain,
        Status::Failed,
        &["not an https URL", "must be https"],
    );
    let huge = check(&checker, DPP, &world.url("/huge.jwt")).await;
    assert_verdict(
        &huge,
        Status::Failed,
        &["verification.max_credential_bytes", "2048"],
    );
    // An IP address the outbound rules refuse (only `localhost` is allowed here; 127.0.0.1 by number is not) is
    // never fetched, so it never verifies. (A host *name* that resolves to such an address stays `unreachable`:
    // names may resolve elsewhere later.)
    let guarded = check(&checker, DPP, "https://127.0.0.1:1/dpp.jwt").await;
    assert_verdict(
        &guarded,
        Status::Failed,
        &["IP address is not reachable from this resolver"],
    );
    assert_eq!(world.host.hits("/page.html"), 0, "http:// is never fetched");
}

#[tokio::test]
async fn the_outbound_rate_limit_defers_a_check() {
    let world = World::start().await;
    world
        .host
        .serve("/page.html", page("text/html", b"<h1>Battery</h1>"));
    // One fetch from the host, then none for a day.
    let checker = world
        .checker_with(
            "per_host_burst = 1\nper_host_requests_per_second = 0.0001\n",
            "",
        )
        .unwrap();
    let first = check(&checker, DPP, &world.url("/page.html")).await;
    assert_eq!(first.status, Status::NotACredential, "{first:?}");
    let second = check(&checker, DPP, &world.url("/page.html")).await;
    assert_verdict(
        &second,
        Status::Unreachable,
        &["Check deferred", "too many fetches", "previous verdict"],
    );
    assert!(is_deferred(&second), "{second:?}");
    assert!(!is_deferred(&first));
    assert_eq!(world.host.hits("/page.html"), 1);
}

#[tokio::test]
async fn encrypted_targets_are_checked_for_reachability_and_media_type_only() {
    let world = World::start().await;
    let envelope = json!({"cipherText": "q83vEjRWeJA=", "iv": "AAAAAAAAAAAAAAAA", "tag": "AAAAAAAAAAAAAAAAAAAAAA==",
                          "type": "aes-256-gcm"});
    world.host.serve(
        "/sealed",
        page("application/json", envelope.to_string().as_bytes()),
    );
    world
        .host
        .serve("/sealed-page", page("text/html", b"<html>log in</html>"));
    let checker = &world.checker("").unwrap();
    let encrypted = |href: String, registered: Option<&'static str>| async move {
        checker
            .check(Target {
                anchor: ANCHOR,
                link_type: DPP,
                href: &href,
                media_type: registered,
                encryption_method: Some("AES-256"),
            })
            .await
    };
    let sealed = encrypted(world.url("/sealed"), Some("application/json")).await;
    assert_verdict(
        &sealed,
        Status::Encrypted,
        &["AES-256", "application/json", "not checked"],
    );
    assert!(
        !sealed.reason.as_deref().unwrap().contains("the link says"),
        "{sealed:?}"
    );
    // The link's type, spelt with parameters and in capitals, is the same media type.
    let same = encrypted(
        world.url("/sealed"),
        Some("Application/JSON; charset=utf-8"),
    )
    .await;
    assert_verdict(&same, Status::Encrypted, &["application/json"]);
    assert!(
        !same.reason.as_deref().unwrap().contains("the link says"),
        "{same:?}"
    );
    // Served as another plausible type than the link says: still encrypted, and the reason says so.
    let other = encrypted(world.url("/sealed"), Some("application/jose")).await;
    assert_verdict(
        &other,
        Status::Encrypted,
        &["the link says application/jose, the host serves application/json"],
    );
    // A page where the link says JOSE: failed, naming both.
    let html = encrypted(world.url("/sealed-page"), Some("application/jose")).await;
    assert_verdict(
        &html,
        Status::Failed,
        &[
            "not an encrypted payload",
            "the link says application/jose, the host serves text/html",
        ],
    );
    let missing = encrypted(world.url("/nothing-here"), None).await;
    assert_verdict(&missing, Status::Failed, &["the target answers 404"]);
    // Marked encrypted but readable (second review of issue 26): `encrypted` is never refused, so a credential in the
    // clear, or a page sent without a media type, would escape every check.
    let year = at(365 * 86_400);
    let forged = world.issuer.sign(&credential(
        &world.issuer.did,
        "DigitalProductPassport",
        passport_of(OTHER_PRODUCT),
        &year,
    ));
    world.host.serve("/clear.jwt", vc_jwt(forged));
    let clear = encrypted(world.url("/clear.jwt"), None).await;
    assert_verdict(
        &clear,
        Status::Failed,
        &["encryptionMethod AES-256", "readable credential"],
    );
    world.host.serve(
        "/untyped-page",
        Reply {
            body: b"  <!doctype html><p>Our passport</p>".to_vec(),
            ..Reply::status(200)
        },
    );
    let untyped = encrypted(world.url("/untyped-page"), None).await;
    assert_verdict(&untyped, Status::Failed, &["a page (HTML or XML)"]);
}

#[tokio::test]
async fn trust_lists_admit_only_their_issuers() {
    let world = World::start().await;
    let certifier = Issuer::publish(&world.host, "certifier");
    let year = at(365 * 86_400);
    let by = |issuer: &Issuer| {
        issuer.sign(&credential(
            &issuer.did,
            "DigitalConformityCredential",
            attestation_of(PRODUCT),
            &year,
        ))
    };
    world
        .host
        .serve("/by-issuer.jwt", vc_jwt(by(&world.issuer)));
    world
        .host
        .serve("/by-certifier.jwt", vc_jwt(by(&certifier)));
    world.host.serve(
        "/dpp.jwt",
        vc_jwt(world.issuer.sign(&credential(
            &world.issuer.did,
            "DigitalProductPassport",
            passport_of(PRODUCT),
            &year,
        ))),
    );
    let trust = format!(
        "[[verification.trust]]\nlink_type = \"untp:dcc\"\nissuers = [{:?}]\n",
        certifier.did
    );
    let checker = world.checker(&trust).unwrap();

    let untrusted = check(&checker, DCC, &world.url("/by-issuer.jwt")).await;
    assert_verdict(
        &untrusted,
        Status::Failed,
        &[world.issuer.did.as_str(), "trust list", "untp:dcc"],
    );
    let trusted = check(&checker, DCC, &world.url("/by-certifier.jwt")).await;
    assert_eq!(trusted.status, Status::Verified, "{trusted:?}");
    // A link type without a trust list takes any issuer whose signature verifies.
    let other = check(&checker, DPP, &world.url("/dpp.jwt")).await;
    assert_eq!(other.status, Status::Verified, "{other:?}");

    let unknown = "[[verification.trust]]\nlink_type = \"untp:nonsense\"\nissuers = [\"did:web:a.example\"]\n";
    let error = world
        .checker(unknown)
        .err()
        .expect("an unknown link type is refused")
        .to_string();
    assert!(error.contains("verification.trust[0].link_type"), "{error}");
}

/// DID resolution for signing in tests: one did:web document given as data, did:key offline.
struct TestDids {
    did: String,
    document: Vec<u8>,
}

impl ssi::dids::DIDResolver for TestDids {
    async fn resolve_representation<'a>(
        &'a self,
        did: &'a ssi::dids::DID,
        options: ssi::dids::resolution::Options,
    ) -> Result<ssi::dids::resolution::Output<Vec<u8>>, ssi::dids::resolution::Error> {
        use ssi::dids::DIDMethodResolver;
        if did.method_name() == "key" {
            return ssi::dids::DIDKey
                .resolve_method_representation(did.method_specific_id(), options)
                .await;
        }
        if did.as_str() == self.did {
            return Ok(ssi::dids::resolution::Output::from_content(
                self.document.clone(),
                Some("application/did+json".into()),
            ));
        }
        Err(ssi::dids::resolution::Error::NotFound)
    }
}

/// `credential` with a Data Integrity proof by `key`, whose verification method is `method`.
async fn sign_di(key: &JWK, method: &str, dids: TestDids, credential: &Value) -> Value {
    use ssi::claims::data_integrity::{AnySuite, CryptographicSuite, ProofOptions};
    use ssi::dids::DIDResolver;
    use ssi::verification_methods::{AnyMethod, ReferenceOrOwned, SingleSecretSigner};
    let vc: ssi::claims::vc::v2::JsonCredential =
        serde_json::from_value(credential.clone()).expect("a VC 2.0 credential");
    let iri = ssi::json_ld::IriBuf::new(method.to_string()).expect("IRI");
    let options = ProofOptions::from_method_and_options(
        ReferenceOrOwned::<AnyMethod>::Reference(iri),
        Default::default(),
    );
    // A P-256 key in a JsonWebKey2020 method signs with JsonWebSignature2020 (`pick` would want another method type).
    let suite = match key.params {
        ssi::jwk::Params::EC(_) => AnySuite::JsonWebSignature2020,
        _ => AnySuite::pick(key, options.verification_method.as_ref()).expect("a suite"),
    };
    let resolver = dids.into_vm_resolver::<AnyMethod>();
    let signer = SingleSecretSigner::new(key.clone()).into_local();
    let signed = suite
        .sign(vc, &resolver, &signer, options)
        .await
        .expect("sign");
    serde_json::to_value(&signed).expect("JSON")
}

/// A credential with contexts ssi holds offline: VC 2.0 and its examples context, whose `@vocab` covers UNTP's
/// terms (ssi's copy of the VC 2.0 context has no `@vocab`, and the UNTP contexts are not shipped).
fn plain_context(mut credential: Value) -> Value {
    credential["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://www.w3.org/ns/credentials/examples/v2"
    ]);
    credential
}

#[tokio::test]
async fn data_integrity_proofs_are_verified_offline() {
    let world = World::start().await;
    let year = at(365 * 86_400);
    let no_dids = || TestDids {
        did: String::new(),
        document: Vec::new(),
    };
    // did:key, Ed25519.
    let key = JWK::generate_ed25519().expect("Ed25519 key");
    let did = ssi::dids::DIDKey::generate(&key).unwrap().to_string();
    let method = ssi::dids::DIDKey::generate_url(&key).unwrap().to_string();
    let dpp = plain_context(credential(
        &did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    ));
    let signed = sign_di(&key, &method, no_dids(), &dpp).await;
    world.host.serve(
        "/di-key.json",
        page("application/ld+json", signed.to_string().as_bytes()),
    );
    let mut tampered = signed.clone();
    tampered["credentialSubject"]["product"]["name"] = json!("A greener battery");
    world.host.serve(
        "/di-tampered.json",
        page("application/ld+json", tampered.to_string().as_bytes()),
    );
    let other = plain_context(credential(
        &did,
        "DigitalProductPassport",
        passport_of(OTHER_PRODUCT),
        &year,
    ));
    let other = sign_di(&key, &method, no_dids(), &other).await;
    world.host.serve(
        "/di-other.json",
        page("application/ld+json", other.to_string().as_bytes()),
    );
    // did:web, P-256, the issuer's document as the host serves it.
    let issuer = &world.issuer;
    let document = json!({
        "@context": ["https://www.w3.org/ns/did/v1"], "id": issuer.did,
        "verificationMethod": [{"id": issuer.kid(), "type": "JsonWebKey2020", "controller": issuer.did,
                                "publicKeyJwk": issuer.key.to_public()}],
        "assertionMethod": [issuer.kid()]
    });
    let dids = TestDids {
        did: issuer.did.clone(),
        document: document.to_string().into_bytes(),
    };
    let dcc = plain_context(credential(
        &issuer.did,
        "DigitalConformityCredential",
        attestation_of(PRODUCT),
        &year,
    ));
    let web = sign_di(&issuer.key, &issuer.kid(), dids, &dcc).await;
    world.host.serve(
        "/di-web.json",
        page("application/ld+json", web.to_string().as_bytes()),
    );
    // The UNTP context, which this resolver does not hold: refused by name, nothing fetched.
    let mut untp = signed.clone();
    untp["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://test.uncefact.org/vocabulary/untp/dpp/0.6.0/"
    ]);
    world.host.serve(
        "/di-untp.json",
        page("application/ld+json", untp.to_string().as_bytes()),
    );
    let checker = world.checker("").unwrap();

    let good = check(&checker, DPP, &world.url("/di-key.json")).await;
    assert_eq!(good.status, Status::Verified, "{good:?}");
    assert_eq!(good.issuer.as_deref(), Some(did.as_str()));
    let good_web = check(&checker, DCC, &world.url("/di-web.json")).await;
    assert_eq!(good_web.status, Status::Verified, "{good_web:?}");
    let bad = check(&checker, DPP, &world.url("/di-tampered.json")).await;
    assert_verdict(
        &bad,
        Status::Failed,
        &["Data Integrity proof", "not verify"],
    );
    let unrelated = check(&checker, DPP, &world.url("/di-other.json")).await;
    assert_verdict(&unrelated, Status::Failed, &["about 01/09506000134352"]);
    let unknown = check(&checker, DPP, &world.url("/di-untp.json")).await;
    assert_verdict(
        &unknown,
        Status::Failed,
        &[
            "https://test.uncefact.org/vocabulary/untp/dpp/0.6.0/",
            "not known to this resolver",
        ],
    );
    // An operator who turns Data Integrity off: the same good credential fails, saying what to publish instead.
    let off = world
        .checker("[verification]\ndata_integrity = false\n")
        .unwrap();
    let refused = check(&off, DPP, &world.url("/di-key.json")).await;
    assert_verdict(
        &refused,
        Status::Failed,
        &["verification.data_integrity = false", "application/vc+jwt"],
    );
}

#[tokio::test]
async fn what_a_check_needs_from_elsewhere_unreachable_is_unreachable() {
    let world = World::start().await;
    let year = at(365 * 86_400);
    // The status list the credential names is not there.
    let mut missing_list = world.with_status(
        credential(
            &world.issuer.did,
            "DigitalProductPassport",
            passport_of(PRODUCT),
            &year,
        ),
        3,
    );
    missing_list["credentialStatus"]["statusListCredential"] = json!(world.url("/status/missing"));
    world.host.serve(
        "/missing-list.jwt",
        vc_jwt(world.issuer.sign(&missing_list)),
    );
    // The issuer's DID is on a host that does not answer (a closed loopback port).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let gone_did = format!("did:web:localhost%3A{closed}:issuer");
    let key = JWK::generate_p256();
    let by_gone = credential(
        &gone_did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    );
    world.host.serve(
        "/gone-issuer.jwt",
        vc_jwt(jws(&key, &format!("{gone_did}#k"), &by_gone)),
    );
    // A Data Integrity proof by a key the issuer's document does not list under assertionMethod.
    let stranger = Issuer::publish(&world.host, "stranger");
    let mut by_stranger_key = plain_context(credential(
        &world.issuer.did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    ));
    by_stranger_key = sign_di(
        &stranger.key,
        &world.issuer.kid().replace("#k", "#other"),
        TestDids {
            did: world.issuer.did.clone(),
            document: json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": world.issuer.did,
                "verificationMethod": [{"id": world.issuer.kid().replace("#k", "#other"), "type": "JsonWebKey2020",
                    "controller": world.issuer.did, "publicKeyJwk": stranger.key.to_public()}],
                "assertionMethod": [world.issuer.kid().replace("#k", "#other")]})
            .to_string()
            .into_bytes(),
        },
        &by_stranger_key,
    )
    .await;
    world.host.serve(
        "/di-stranger.json",
        page(
            "application/ld+json",
            by_stranger_key.to_string().as_bytes(),
        ),
    );
    let checker = world.checker("").unwrap();

    let list = check(&checker, DPP, &world.url("/missing-list.jwt")).await;
    assert_verdict(
        &list,
        Status::Unreachable,
        &["status list", "/status/missing"],
    );
    let issuer = check(&checker, DPP, &world.url("/gone-issuer.jwt")).await;
    assert_verdict(
        &issuer,
        Status::Unreachable,
        &["DID document", "could not be fetched"],
    );
    let di = check(&checker, DPP, &world.url("/di-stranger.json")).await;
    assert_verdict(&di, Status::Failed, &["#other", "assertionMethod"]);
}

#[tokio::test]
async fn at_most_four_status_entries_are_checked() {
    let world = World::start().await;
    world.publish_status(&[]);
    let entries = |n: u64| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let list = world.url(&format!("/status/many-{i}"));
                json!({"id": format!("{list}#{i}"), "type": "BitstringStatusListEntry",
                       "statusPurpose": "revocation", "statusListIndex": i.to_string(),
                       "statusListCredential": list})
            })
            .collect()
    };
    let year = at(365 * 86_400);
    let mut five = credential(
        &world.issuer.did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &year,
    );
    five["credentialStatus"] = json!(entries(5));
    world
        .host
        .serve("/five.jwt", vc_jwt(world.issuer.sign(&five)));
    // Four entries on the one list the issuer publishes are checked.
    let mut four = five.clone();
    four["credentialStatus"] = json!(
        (0..4u64)
            .map(|i| world.with_status(json!({}), i)["credentialStatus"].clone())
            .collect::<Vec<_>>()
    );
    world
        .host
        .serve("/four.jwt", vc_jwt(world.issuer.sign(&four)));
    let checker = world.checker("").unwrap();

    let refused = check(&checker, DPP, &world.url("/five.jwt")).await;
    assert_verdict(
        &refused,
        Status::Failed,
        &["more than 4 status entries", "credentialStatus"],
    );
    for i in 0..5 {
        assert_eq!(world.host.hits(&format!("/status/many-{i}")), 0, "list {i}");
    }
    let checked = check(&checker, DPP, &world.url("/four.jwt")).await;
    assert_eq!(checked.status, Status::Verified, "{checked:?}");
}

/// A did:key DPP with a Data Integrity proof that looks right: the bounds are checked before the proof is read.
fn unproven_di_credential(subject: Value) -> (Value, String) {
    let key = JWK::generate_ed25519().expect("Ed25519 key");
    let did = ssi::dids::DIDKey::generate(&key).unwrap().to_string();
    let method = ssi::dids::DIDKey::generate_url(&key).unwrap().to_string();
    let mut dpp = plain_context(credential(
        &did,
        "DigitalProductPassport",
        subject,
        &at(3600),
    ));
    dpp["proof"] = json!({"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "proofPurpose": "assertionMethod", "verificationMethod": method, "created": at(-60),
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk"});
    (dpp, did)
}

#[tokio::test]
async fn data_integrity_credentials_beyond_the_bounds_fail_naming_the_bound() {
    let world = World::start().await;
    let mut large = passport_of(PRODUCT);
    large["product"]["description"] = json!("a long text ".repeat(6_000));
    let (large, _) = unproven_di_credential(large);
    let mut many = passport_of(PRODUCT);
    many["product"]["materials"] = json!(
        (0..300)
            .map(|i| json!({"name": format!("material {i}")}))
            .collect::<Vec<_>>()
    );
    let (many, _) = unproven_di_credential(many);
    let mut labelled = passport_of(PRODUCT);
    labelled["product"]["madeBy"] = json!({"id": "_:maker", "partOf": "_:maker"});
    let (labelled, _) = unproven_di_credential(labelled);
    for (path, body) in [
        ("/large.json", &large),
        ("/many.json", &many),
        ("/labelled.json", &labelled),
    ] {
        world.host.serve(
            path,
            page("application/ld+json", body.to_string().as_bytes()),
        );
    }
    let checker = world.checker("").unwrap();

    let cases: [(&str, &[&str]); 3] = [
        ("/large.json", &["65536 bytes", "enveloped"]),
        ("/many.json", &["more than 256 objects without an id"]),
        ("/labelled.json", &["_:maker", "labelled blank nodes"]),
    ];
    for (path, words) in cases {
        let verdict = check(&checker, DPP, &world.url(path)).await;
        assert_verdict(&verdict, Status::Failed, words);
    }
}

/// A shell script around the `idr` binary, run as the Data Integrity verifier: `before` runs first, then `idr` with
/// the verifier's arguments (through `exec` when `after` is empty, so the script's pid is the verifier's).
fn verifier_script(dir: &Path, name: &str, before: &str, after: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let idr = env!("CARGO_BIN_EXE_idr");
    let run = match after {
        "" => format!("exec {idr} \"$@\""),
        _ => format!("{idr} \"$@\"\nrc=$?\n{after}\nexit $rc"),
    };
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{before}\n{run}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A DPP within every Data Integrity bound (110 objects without an id, no labels) whose canonicalisation takes
/// minutes: ten identical anonymous nodes, each with ten identical anonymous nodes (measured: six by six takes
/// 1.4 s in a debug build, ten by ten more than 20 s).
fn costly_passport(outer: usize, inner: usize) -> Value {
    let mut subject = passport_of(PRODUCT);
    subject["parts"] = json!(vec![json!({"part": vec![json!({}); inner]}); outer]);
    unproven_di_credential(subject).0
}

/// The pids a `verifier_script` wrote are of processes that are gone: killed and reaped, not even zombies.
fn assert_gone(pids: &Path) {
    let pids = std::fs::read_to_string(pids).expect("the verifier ran");
    assert!(!pids.trim().is_empty());
    for pid in pids.lines() {
        let proc = format!("/proc/{pid}");
        let state = std::fs::read_to_string(format!("{proc}/stat")).unwrap_or_default();
        assert!(
            !Path::new(&proc).exists(),
            "verifier {pid} is left: {state}"
        );
    }
}

#[tokio::test]
async fn a_data_integrity_proof_too_costly_to_check_fails_at_the_time_limit_and_its_verifier_is_gone()
 {
    let world = World::start().await;
    world.host.serve(
        "/costly.json",
        page(
            "application/ld+json",
            costly_passport(10, 10).to_string().as_bytes(),
        ),
    );
    // Two identical anonymous nodes with twenty each: canonicalisation takes memory faster than time.
    world.host.serve(
        "/greedy.json",
        page(
            "application/ld+json",
            costly_passport(2, 20).to_string().as_bytes(),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let program = verifier_script(
        dir.path(),
        "idr-verifier",
        &format!("echo $$ >> {}", pids.display()),
        "",
    );
    // One second of processor time per verification. The wall-clock bound, four seconds with these settings, is a
    // minute here: on a loaded machine a verifier may get less than a quarter of a core, and would then be deferred.
    let checker = world
        .checker_running(&program, "", "[verification]\ntimeout_ms = 1000\n")
        .unwrap()
        .with_verifier(
            Verifier::new(program.clone(), 4, Duration::from_secs(1))
                .with_wall_bound(Duration::from_secs(60)),
        );

    let started = std::time::Instant::now();
    let costly = check(&checker, DPP, &world.url("/costly.json")).await;
    let took = started.elapsed();
    assert_verdict(
        &costly,
        Status::Failed,
        &[
            "within 1 s of processor time",
            "verification.timeout_ms",
            "application/vc+jwt",
        ],
    );
    assert!(!is_deferred(&costly), "{costly:?}");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_gone(&pids);

    let roomy = world
        .checker_running(&program, "", "")
        .unwrap()
        .with_verifier(
            Verifier::new(program.clone(), 4, Duration::from_secs(20))
                .with_wall_bound(Duration::from_secs(120)),
        );
    let greedy = check(&roomy, DPP, &world.url("/greedy.json")).await;
    assert_verdict(
        &greedy,
        Status::Failed,
        &["stopped without a verdict", "512 MiB of memory"],
    );
    assert_gone(&pids);
}

/// A Data Integrity credential signed with a fresh key of `did`, and the DID document listing that key.
async fn signed_by_web_issuer(did: &str) -> (Value, Value, JWK) {
    let key = JWK::generate_p256();
    let kid = format!("{did}#k");
    let document = json!({
        "@context": ["https://www.w3.org/ns/did/v1"], "id": did,
        "verificationMethod": [{"id": kid, "type": "JsonWebKey2020", "controller": did,
                                "publicKeyJwk": key.to_public()}],
        "assertionMethod": [kid]
    });
    let dids = TestDids {
        did: did.to_string(),
        document: document.to_string().into_bytes(),
    };
    let dpp = plain_context(credential(
        did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &at(86_400),
    ));
    (sign_di(&key, &kid, dids, &dpp).await, document, key)
}

/// A DPP with a Data Integrity proof by a fresh did:key.
async fn signed_by_key() -> Value {
    let key = JWK::generate_ed25519().expect("Ed25519 key");
    let did = ssi::dids::DIDKey::generate(&key).unwrap().to_string();
    let method = ssi::dids::DIDKey::generate_url(&key).unwrap().to_string();
    let no_dids = TestDids {
        did: String::new(),
        document: Vec::new(),
    };
    let dpp = plain_context(credential(
        &did,
        "DigitalProductPassport",
        passport_of(PRODUCT),
        &at(86_400),
    ));
    sign_di(&key, &method, no_dids, &dpp).await
}

#[tokio::test]
async fn with_every_verifier_busy_a_data_integrity_check_is_deferred() {
    let world = World::start().await;
    let passport = signed_by_key().await;
    world.host.serve(
        "/di.json",
        page("application/ld+json", passport.to_string().as_bytes()),
    );
    // One verifier at a time, one second to wait for it (timeout_ms); the first holds it for five seconds without
    // using any processor time (within a wall bound of a minute).
    let dir = tempfile::tempdir().unwrap();
    let program = verifier_script(dir.path(), "idr-verifier", "sleep 5", "");
    let checker = world
        .checker_running(&program, "", "[verification]\ntimeout_ms = 1000\n")
        .unwrap()
        .with_verifier(
            Verifier::new(program.clone(), 1, Duration::from_secs(1))
                .with_wall_bound(Duration::from_secs(60)),
        );

    let href = world.url("/di.json");
    let (a, b) = tokio::join!(check(&checker, DPP, &href), check(&checker, DPP, &href));
    // Whichever took the verifier first verified; the other waited its second and was deferred.
    let (verified, deferred) = if a.status == Status::Verified {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(verified.status, Status::Verified, "{verified:?}");
    assert!(is_deferred(&deferred), "{deferred:?}");
    assert_verdict(
        &deferred,
        Status::Unreachable,
        &["all 1 verifier slots (verification.concurrency)"],
    );
}

#[tokio::test]
async fn data_integrity_checks_run_at_once_each_in_its_own_verifier() {
    let world = World::start().await;
    let issuer = &world.issuer;
    let by_key = signed_by_key().await;
    world.host.serve(
        "/di-a.json",
        page("application/ld+json", by_key.to_string().as_bytes()),
    );
    let document = json!({
        "@context": ["https://www.w3.org/ns/did/v1"], "id": issuer.did,
        "verificationMethod": [{"id": issuer.kid(), "type": "JsonWebKey2020", "controller": issuer.did,
                                "publicKeyJwk": issuer.key.to_public()}],
        "assertionMethod": [issuer.kid()]
    });
    let dids = TestDids {
        did: issuer.did.clone(),
        document: document.to_string().into_bytes(),
    };
    let dcc = plain_context(credential(
        &issuer.did,
        "DigitalConformityCredential",
        attestation_of(PRODUCT),
        &at(86_400),
    ));
    let by_web = sign_di(&issuer.key, &issuer.kid(), dids, &dcc).await;
    world.host.serve(
        "/di-b.json",
        page("application/ld+json", by_web.to_string().as_bytes()),
    );
    // Each verifier notes its start, holds for a second, then verifies and notes its end: one at a time would
    // write start, end, start, end.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let program = verifier_script(
        dir.path(),
        "idr-verifier",
        &format!("echo start >> {0}; sleep 1", log.display()),
        &format!("echo end >> {}", log.display()),
    );
    let checker = world.checker_running(&program, "", "").unwrap();

    let (href_a, href_b) = (world.url("/di-a.json"), world.url("/di-b.json"));
    let (a, b) = tokio::join!(check(&checker, DPP, &href_a), check(&checker, DCC, &href_b));
    assert_eq!(a.status, Status::Verified, "{a:?}");
    assert_eq!(b.status, Status::Verified, "{b:?}");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "start\nstart\nend\nend\n"
    );
}

#[test]
fn the_verifier_resolves_the_issuer_only_from_what_it_is_given() {
    // The issuer's did:web host is a closed loopback port: a verifier that fetched the document would not find it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let did = format!("did:web:localhost%3A{closed}:issuer");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (signed, document, _) = runtime.block_on(signed_by_web_issuer(&did));
    // The same DID with another key under the same id.
    let (_, other_document, _) = runtime.block_on(signed_by_web_issuer(&did));
    let run = |document: &Value| -> Value {
        let request =
            json!({"credential": signed.to_string(), "issuer": did, "document": document});
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_idr"))
            .args([
                idr::verification::check::verifier::SUBCOMMAND,
                "--cpu-seconds",
                "10",
                "--memory-bytes",
                &idr::verification::check::verifier::MEMORY_BYTES.to_string(),
            ])
            .env("MIMALLOC_ARENA_RESERVE", "64MiB")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };

    assert_eq!(run(&document), json!({"outcome": "verified"}));
    let refused = run(&other_document);
    assert_eq!(refused["outcome"], "failed", "{refused}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{refused}"
    );
}

#[test]
fn the_verifier_subcommand_is_not_listed_in_help() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_idr"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("verify"), "{help}");
    assert!(
        !help.contains(idr::verification::check::verifier::SUBCOMMAND),
        "{help}"
    );
}

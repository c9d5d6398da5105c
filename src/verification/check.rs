//! Fetching a credential link's target and checking it: the one `Check` implementation.
//!
//! The target is fetched through the guarded outbound client (`verification.timeout_ms`,
//! `verification.max_credential_bytes`), read as a credential (`envelope`: a compact JWS, an
//! `EnvelopedVerifiableCredential`, or a JSON-LD credential with a Data Integrity proof), then checked in this order,
//! the first failure being the verdict: the credential type against the link type, the issuer against the link
//! type's trust list, the signature (a key the issuer lists under `assertionMethod`: did:web through idr's own
//! resolver, did:key decoded offline; a Data Integrity proof by ssi in `integrity`, fed only what idr fetched), the
//! validity period, its BitstringStatusList entries, and last the subject (`subject`): one identifier it names must
//! be the anchor's or one above it.
//!
//! An encrypted target (the link has an `encryptionMethod`) is fetched for reachability and media type only: idr
//! holds no key and never decrypts.

pub mod envelope;
pub mod integrity;
pub mod subject;

use super::{Check, LinkVerdict, Status, Target};
use crate::config::{ConfigError, Settings};
use crate::credential::jws::{Issuer, Jws, KeyError};
use crate::credential::keys::{Relationship, listed_key};
use crate::credential::status::{StatusEntry, StatusError, StatusLists};
use crate::credential::window::{Window, WindowError};
use crate::credential::{credential_of, excerpt, issuer_of, strings};
use crate::did::{DidError, DidResolver};
use crate::identifier::Parser;
use crate::outbound::{FetchError, Outbound, Request};
use crate::vocabulary::{Vocabularies, Vocabulary};
use envelope::Envelope;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// What a credential target is asked for: enveloped credentials first (UNTP's MUST), JSON-LD after.
pub const ACCEPT: &str = "application/vc+jwt, application/vc, application/ld+json;q=0.9, application/json;q=0.8, */*;q=0.1";

/// Why a target is not `verified`: the status and a reason an issuer can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub reason: String,
}

impl Refusal {
    fn new(status: Status, reason: impl Into<String>) -> Refusal {
        Refusal {
            status,
            reason: reason.into(),
        }
    }

    fn failed(reason: impl Into<String>) -> Refusal {
        Refusal::new(Status::Failed, reason)
    }

    fn unreachable(reason: impl Into<String>) -> Refusal {
        Refusal::new(Status::Unreachable, reason)
    }
}

/// Fetches targets through the guarded outbound client and verifies them.
pub struct Checker {
    outbound: Arc<Outbound>,
    /// did:web issuers' documents, fetched over `outbound` with a cache of their own.
    resolver: DidResolver,
    parser: Arc<Parser>,
    vocabularies: Arc<Vocabularies>,
    statuses: StatusLists,
    /// Per relation (`Vocabulary::relation_key`): the only issuers trusted for it.
    trust: HashMap<String, Vec<String>>,
    timeout: Duration,
    max_bytes: usize,
    skew: i64,
    /// This resolver's root, whose URIs name identifiers by the path after it.
    root: Option<String>,
}

impl Checker {
    /// The checker of `settings.verification`, fetching through `outbound` (give it a `sibling()`, so that scans
    /// cannot spend or poison what checks need). A trust list naming a link type no vocabulary knows is an error
    /// naming `verification.trust[i].link_type`.
    pub fn new(
        settings: &Settings,
        outbound: Arc<Outbound>,
        parser: Arc<Parser>,
        vocabularies: Arc<Vocabularies>,
    ) -> Result<Checker, ConfigError> {
        let vocabulary = vocabularies.current();
        let mut trust: HashMap<String, Vec<String>> = HashMap::new();
        for (i, t) in settings.verification.trust.iter().enumerate() {
            let def = vocabulary.lookup(&t.link_type).ok_or_else(|| {
                ConfigError::invalid(
                    format!("verification.trust[{i}].link_type"),
                    format!("no link-type vocabulary knows {:?}", t.link_type),
                )
            })?;
            trust
                .entry(vocabulary.relation_key(&def.uri).to_string())
                .or_default()
                .extend(t.issuers.iter().cloned());
        }
        let verification = &settings.verification;
        Ok(Checker {
            resolver: DidResolver::new(&settings.did_web, outbound.clone()),
            outbound,
            parser,
            vocabularies,
            statuses: StatusLists::new(&settings.dia, settings.outbound.failure_cache_seconds),
            trust,
            timeout: Duration::from_millis(verification.timeout_ms),
            max_bytes: verification.max_credential_bytes,
            skew: i64::try_from(settings.did_auth.clock_skew_seconds).unwrap_or(0),
            root: settings
                .fixed_root()
                .map(|r| r.trim_end_matches('/').to_string()),
        })
    }

    /// GETs `href` within the bounds; a transport failure or a non-2xx answer is `unreachable`.
    async fn fetch(&self, href: &str) -> Result<(Option<String>, Vec<u8>), Refusal> {
        let url = Url::parse(href)
            .map_err(|e| Refusal::failed(format!("the target is not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(Refusal::unreachable(
                "the target is not an https URL; credentials are fetched over https only",
            ));
        }
        let request = Request {
            url: &url,
            accept: ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let response = self.outbound.get(request).await.map_err(|e| match e {
            FetchError::TooLarge(limit) => Refusal::failed(format!(
                "the target is larger than verification.max_credential_bytes ({limit} bytes)"
            )),
            other => Refusal::unreachable(format!("the target could not be fetched: {other}")),
        })?;
        if !(200..300).contains(&response.status) {
            return Err(Refusal::unreachable(format!(
                "the target answered HTTP {}",
                response.status
            )));
        }
        let media_type = response
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty());
        Ok((media_type, response.body))
    }

    /// An encrypted target: reachable, with a media type an encrypted payload may have. Never decrypted.
    async fn check_encrypted(&self, target: &Target<'_>, method: &str) -> Refusal {
        let (media_type, body) = match self.fetch(target.href).await {
            Ok(answer) => answer,
            Err(refusal) => return refusal,
        };
        let seen = media_type.as_deref().unwrap_or("no media type");
        if body.is_empty() {
            return Refusal::failed("the encrypted target answered with an empty body");
        }
        if !envelope::plausibly_encrypted(media_type.as_deref()) {
            return Refusal::failed(format!(
                "the encrypted target answered {seen}, not an encrypted payload (JSON, JOSE or binary)"
            ));
        }
        Refusal::new(
            Status::Encrypted,
            format!(
                "encrypted ({}): the target is reachable and answered {seen}; its content is not checked, as the \
                 resolver holds no key",
                excerpt(method)
            ),
        )
    }

    /// Every check of a credential target, filling what it learns into `verdict`.
    async fn verify(&self, target: &Target<'_>, verdict: &mut LinkVerdict) -> Result<(), Refusal> {
        let (media_type, body) = self.fetch(target.href).await?;
        let envelope = Envelope::read(media_type.as_deref(), &body, self.max_bytes)?;
        let vocabulary = self.vocabularies.current();
        match envelope {
            Envelope::Jws(text) => self.verify_jws(&text, target, &vocabulary, verdict).await,
            Envelope::DataIntegrity(credential) => {
                self.verify_integrity(credential, target, &vocabulary, verdict)
                    .await
            }
        }
    }

    async fn verify_jws(
        &self,
        text: &str,
        target: &Target<'_>,
        vocabulary: &Vocabulary,
        verdict: &mut LinkVerdict,
    ) -> Result<(), Refusal> {
        let jws = Jws::parse(text, self.max_bytes)
            .map_err(|e| Refusal::failed(format!("the vc+jwt is malformed: {e}")))?;
        let jwt: Value = serde_json::from_slice(&jws.payload).map_err(|e| {
            Refusal::failed(format!("the vc+jwt payload is not a JSON credential: {e}"))
        })?;
        let vc = credential_of(&jwt);
        if !vc.is_object() {
            return Err(Refusal::failed(
                "the vc+jwt payload is not a JSON credential",
            ));
        }
        let issuer = self.describe(&jwt, vc, target, vocabulary, verdict)?;
        jws.verify_by(&issuer, Some(&self.resolver))
            .await
            .map_err(key_refusal)?;
        self.check_window(&jwt, vc, verdict)?;
        self.check_status(vc, &issuer).await?;
        self.check_subject(vc, target)
    }

    /// A JSON-LD credential with a Data Integrity proof: each proof's `verificationMethod` must be a key the
    /// issuer lists under `assertionMethod`, then ssi verifies the proof (nothing fetched by ssi).
    async fn verify_integrity(
        &self,
        credential: Value,
        target: &Target<'_>,
        vocabulary: &Vocabulary,
        verdict: &mut LinkVerdict,
    ) -> Result<(), Refusal> {
        let issuer = self.describe(&credential, &credential, target, vocabulary, verdict)?;
        let methods = match &credential["proof"] {
            Value::Array(proofs) => proofs.iter().collect(),
            one => vec![one],
        };
        let methods: Vec<&str> = methods
            .iter()
            .map(|p| p["verificationMethod"].as_str().unwrap_or(""))
            .collect();
        for method in &methods {
            let (did, fragment) = method.split_once('#').unwrap_or((method, ""));
            if did != issuer.as_str() || fragment.is_empty() {
                return Err(Refusal::failed(format!(
                    "the proof's verificationMethod {:?} is not a key of the issuer {issuer} (issuer#key)",
                    excerpt(method)
                )));
            }
        }
        let document = match &issuer {
            Issuer::Key(_) => None,
            Issuer::Web(web) => {
                let document = self.resolver.resolve(web).await.map_err(|error| {
                    key_refusal(KeyError::Resolution {
                        did: web.to_string(),
                        error,
                    })
                })?;
                for method in &methods {
                    listed_key(&document, method, Relationship::AssertionMethod).map_err(
                        |reason| {
                            key_refusal(KeyError::Key {
                                kid: excerpt(method),
                                reason,
                            })
                        },
                    )?;
                }
                Some(serde_json::to_vec(&*document).map_err(|e| {
                    Refusal::failed(format!("the issuer's DID document cannot be read: {e}"))
                })?)
            }
        };
        // ssi checks the validity period with the proof; checked here first to say so in the same words as for JWS.
        self.check_window(&credential, &credential, verdict)?;
        integrity::verify(
            credential.to_string(),
            issuer.as_str().to_string(),
            document,
        )
        .await
        .map_err(Refusal::failed)?;
        self.check_status(&credential, &issuer).await?;
        self.check_subject(&credential, target)
    }

    /// `validFrom`/`validUntil` (and a JWT's `nbf`/`exp`), with the configured clock skew.
    fn check_window(
        &self,
        jwt: &Value,
        vc: &Value,
        verdict: &mut LinkVerdict,
    ) -> Result<(), Refusal> {
        let window = Window::read(jwt).map_err(Refusal::failed)?;
        if let Some((_, text)) = &window.valid_until {
            verdict.valid_until = Some(valid_until_text(vc, text));
        }
        window.check(now(), self.skew).map_err(|e| match e {
            WindowError::Expired(t) => Refusal::failed(format!(
                "the credential expired at {t} (validUntil); the issuer must issue a new one"
            )),
            WindowError::NotYetValid(t) => Refusal::failed(format!(
                "the credential is not valid before {t} (validFrom)"
            )),
        })
    }

    /// Reads the issuer and type into `verdict`, then checks the type against the link type and the issuer against
    /// the link type's trust list.
    fn describe(
        &self,
        jwt: &Value,
        vc: &Value,
        target: &Target<'_>,
        vocabulary: &Vocabulary,
        verdict: &mut LinkVerdict,
    ) -> Result<Issuer, Refusal> {
        let types = strings(&vc["type"]);
        if !types.iter().any(|t| t == "VerifiableCredential") {
            return Err(Refusal::failed(
                "the credential's type does not include VerifiableCredential",
            ));
        }
        let issuer = issuer_of(jwt);
        if !issuer.is_empty() {
            verdict.issuer = Some(excerpt(&issuer));
        }
        let expected = vocabulary.credential_types(target.link_type);
        let found = types
            .iter()
            .find(|t| expected.contains(&t.as_str()))
            .or_else(|| types.iter().find(|t| *t != "VerifiableCredential"));
        verdict.credential_type = found.map(|t| excerpt(t));
        if !expected.is_empty() && !types.iter().any(|t| expected.contains(&t.as_str())) {
            return Err(Refusal::failed(format!(
                "the credential is of type {}, but a {} link must point to a {}",
                excerpt(&types.join(", ")),
                curie(vocabulary, target.link_type),
                expected.join(" or ")
            )));
        }
        if issuer.is_empty() {
            return Err(Refusal::failed("the credential names no issuer"));
        }
        if let Some(trusted) = self.trust.get(vocabulary.relation_key(target.link_type)) {
            if !trusted.contains(&issuer) {
                return Err(Refusal::failed(format!(
                    "the issuer {} is not on this resolver's trust list for {} links (verification.trust)",
                    excerpt(&issuer),
                    curie(vocabulary, target.link_type)
                )));
            }
        }
        Issuer::parse(&issuer).map_err(|e| {
            Refusal::failed(format!(
                "the issuer's key cannot be found: {e}; issuers are did:web or did:key DIDs"
            ))
        })
    }

    /// Every revocation or suspension entry: its bit must be clear in a list the issuer signed.
    async fn check_status(&self, vc: &Value, issuer: &Issuer) -> Result<(), Refusal> {
        let entries = StatusEntry::read(vc).map_err(Refusal::failed)?;
        for entry in entries
            .iter()
            .filter(|e| matches!(e.purpose.as_str(), "revocation" | "suspension"))
        {
            let outcome = self
                .statuses
                .check(
                    entry,
                    issuer,
                    now(),
                    self.skew,
                    Some(&self.resolver),
                    Some(&self.outbound),
                )
                .await;
            outcome.map_err(|e| match e {
                StatusError::Revoked {
                    list,
                    index,
                    purpose,
                } => Refusal::failed(format!(
                    "the issuer has {} this credential (bit {index} of its status list {list} is set)",
                    if purpose == "suspension" {
                        "suspended"
                    } else {
                        "revoked"
                    }
                )),
                StatusError::Failed { list, reason } => Refusal::failed(format!(
                    "the credential's status list {list} could not be checked: {reason}"
                )),
                StatusError::Unavailable { list, reason, .. } => Refusal::unreachable(format!(
                    "the credential's status list {list} cannot be fetched now ({reason})"
                )),
            })?;
        }
        Ok(())
    }

    /// One identifier the subject names must be the anchor's or one above it.
    fn check_subject(&self, vc: &Value, target: &Target<'_>) -> Result<(), Refusal> {
        let named = subject::identifiers(&vc["credentialSubject"]);
        let canonical: Vec<String> = named
            .iter()
            .filter_map(|id| subject::canonical(id, &self.parser, self.root.as_deref()))
            .collect();
        subject::about(&canonical, target.anchor, &self.parser).map_err(Refusal::failed)
    }
}

#[async_trait::async_trait]
impl Check for Checker {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        let mut verdict = LinkVerdict::pending(target.link_type, target.href);
        let outcome = match target.encryption_method {
            Some(method) => Err(self.check_encrypted(&target, method).await),
            None => self.verify(&target, &mut verdict).await,
        };
        match outcome {
            Ok(()) => verdict.status = Status::Verified,
            Err(refusal) => {
                verdict.status = refusal.status;
                verdict.reason = Some(refusal.reason);
            }
        }
        verdict.checked_at =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        tracing::debug!(
            anchor = target.anchor,
            link_type = target.link_type,
            href = %excerpt(target.href),
            status = verdict.status.as_str(),
            "credential link checked"
        );
        verdict
    }
}

/// Why the signature could not be verified: the issuer's document not fetched now is `unreachable`; a document or
/// key that is wrong, or a signature that does not verify, is `failed`.
fn key_refusal(error: KeyError) -> Refusal {
    match error {
        KeyError::Resolution { did, error } => match error {
            DidError::Unreachable { .. }
            | DidError::Timeout { .. }
            | DidError::Busy { .. }
            | DidError::Status { .. } => {
                Refusal::unreachable(format!("the signature cannot be checked now: {error}"))
            }
            other => Refusal::failed(format!("the issuer {did} could not be resolved: {other}")),
        },
        KeyError::Key { kid, reason } => Refusal::failed(format!(
            "the credential is signed with the key {kid}, which cannot verify it: {reason}"
        )),
        KeyError::Signature(kid) => Refusal::failed(format!(
            "the signature does not verify with the issuer's key {kid}: the credential was altered or not signed \
             by its issuer"
        )),
    }
}

/// `validUntil` as written, or the JWT's `exp` as an RFC 3339 time.
fn valid_until_text(vc: &Value, window_text: &str) -> String {
    match (vc["validUntil"].as_str(), window_text.parse::<i64>()) {
        (_, Ok(seconds)) => chrono::DateTime::from_timestamp(seconds, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| window_text.to_string()),
        (Some(text), _) => excerpt(text),
        (None, _) => excerpt(window_text),
    }
}

/// The link type as issuers write it (`untp:dpp`), or its URI.
fn curie<'a>(vocabulary: &'a Vocabulary, uri: &'a str) -> &'a str {
    vocabulary.by_uri(uri).map_or(uri, |d| d.curie.as_str())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

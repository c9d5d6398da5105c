//! Fetching a credential link's target and checking it: the one `Check` implementation.
//!
//! The target is fetched through the guarded outbound client (`verification.timeout_ms`,
//! `verification.max_credential_bytes`), read as a credential (`envelope`: a compact JWS, an
//! `EnvelopedVerifiableCredential`, or a JSON-LD credential with a Data Integrity proof), then checked in this order,
//! the first failure being the verdict: the credential type against the link type, the issuer against the link
//! type's trust list, the signature (a key the issuer lists under `assertionMethod`: did:web through idr's own
//! resolver, did:key decoded offline; a Data Integrity proof by ssi in `integrity`, fed only what idr fetched, in a
//! process of its own killed at its time limit, `verifier`), the validity period, its BitstringStatusList entries,
//! and last the subject (`subject`): one identifier it names must be the anchor's or one above it.
//!
//! An encrypted target (the link has an `encryptionMethod`) is fetched for reachability and media type only (compared
//! with the link's registered `type`): idr holds no key and never decrypts.
//!
//! A target that can never verify is `failed`; `unreachable` is kept for what may pass on a later check (time-outs,
//! 5xx, 408, 429). A check that did not run because of the resolver's own limits (the outbound client's per-host
//! budget, every Data Integrity verifier slot taken, the verifier unable to run or starved of processor time) is
//! `unreachable` with a reason starting `DEFERRED` (`verification::is_deferred`): whoever stores verdicts keeps the link's previous one.

pub mod envelope;
pub mod integrity;
pub mod subject;
pub mod verifier;

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
use verifier::{IntegrityError, Verifier};

/// What a credential target is asked for: enveloped credentials first (UNTP's MUST), JSON-LD after.
pub const ACCEPT: &str = "application/vc+jwt, application/vc, application/ld+json;q=0.9, application/json;q=0.8, */*;q=0.1";

/// At most this many `credentialStatus` entries are checked; a credential listing more fails (each entry may name
/// a list on another host, all fetched by this resolver).
pub const MAX_STATUS_ENTRIES: usize = 4;

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
    /// `verification.data_integrity`: whether Data Integrity proofs are verified.
    data_integrity: bool,
    /// Runs each Data Integrity verification in a process of its own, killed at its time limit.
    verifier: Verifier,
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
            data_integrity: verification.data_integrity,
            verifier: Verifier::new(
                settings
                    .verifier_program
                    .clone()
                    .unwrap_or_else(Verifier::this_executable),
                verification.concurrency,
                Duration::from_millis(verification.timeout_ms),
            ),
            skew: i64::try_from(settings.did_auth.clock_skew_seconds).unwrap_or(0),
            root: settings
                .fixed_root()
                .map(|r| r.trim_end_matches('/').to_string()),
        })
    }

    /// This checker with `verifier` running its Data Integrity verifications instead of the one its settings make.
    pub fn with_verifier(mut self, verifier: Verifier) -> Checker {
        self.verifier = verifier;
        self
    }

    /// GETs `href` within the bounds. What can never verify is `failed` (not https, an IP address the resolver may
    /// not fetch, a 3xx or a 4xx other than 408/429, a body over the bound); only what may pass is `unreachable`
    /// (connection or time-out, 5xx, 408, 429, a host name resolving to an address the resolver may not fetch), and
    /// the outbound client's own rate limit is `unreachable` *deferred* (`is_deferred`), which says nothing about
    /// the target.
    async fn fetch(&self, href: &str) -> Result<(Option<String>, Vec<u8>), Refusal> {
        let url = Url::parse(href)
            .map_err(|e| Refusal::failed(format!("the target is not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(Refusal::failed(format!(
                "the target is not an https URL ({}:); a credential link must be https",
                url.scheme()
            )));
        }
        let request = Request {
            url: &url,
            accept: ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let literal = matches!(url.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)));
        let response = self
            .outbound
            .get(request)
            .await
            .map_err(|e| fetch_refusal(e, literal))?;
        if let Some(refusal) = answer_refusal(response.status) {
            return Err(refusal);
        }
        let media_type = essence(
            response
                .headers
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        Ok((media_type, response.body))
    }

    /// An encrypted target: reachable, with a media type an encrypted payload may have, compared with the link's
    /// registered `type` when both are known. Never decrypted.
    async fn check_encrypted(&self, target: &Target<'_>, method: &str) -> Refusal {
        let (media_type, body) = match self.fetch(target.href).await {
            Ok(answer) => answer,
            Err(refusal) => return refusal,
        };
        let seen = media_type.as_deref().unwrap_or("no media type");
        let registered = essence(target.media_type);
        // Said when the host serves another media type than the link registers.
        let differs = match (&registered, &media_type) {
            (Some(said), Some(served)) if said != served => {
                format!(
                    " (the link says {}, the host serves {served})",
                    excerpt(said)
                )
            }
            _ => String::new(),
        };
        if body.is_empty() {
            return Refusal::failed("the encrypted target answered with an empty body");
        }
        if !envelope::plausibly_encrypted(media_type.as_deref()) {
            return Refusal::failed(format!(
                "the encrypted target answered {seen}, not an encrypted payload (JSON, JOSE or binary){differs}"
            ));
        }
        // `encrypted` is never refused, so a link marked encrypted must not serve what can be read: a credential in
        // the clear would escape every check, a page would be shown to consumers as something only authorised
        // parties can read.
        if Envelope::read(media_type.as_deref(), &body, self.max_bytes).is_ok() {
            return Refusal::failed(format!(
                "the link has encryptionMethod {}, but its target is a readable credential: register it without \
                 encryptionMethod so that it is verified, or publish it encrypted",
                excerpt(method)
            ));
        }
        if envelope::looks_like_markup(&body) {
            return Refusal::failed(format!(
                "the link has encryptionMethod {}, but its target is a page (HTML or XML), not an encrypted payload",
                excerpt(method)
            ));
        }
        Refusal::new(
            Status::Encrypted,
            format!(
                "encrypted ({}): the target is reachable and answered {seen}{differs}; its content is not checked, \
                 as the resolver holds no key",
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
        if !self.data_integrity {
            return Err(Refusal::failed(
                "Data Integrity proofs are not verified by this resolver (verification.data_integrity = false); \
                 publish the credential enveloped (application/vc+jwt)",
            ));
        }
        let text = credential.to_string();
        integrity::bounded(&credential, &text).map_err(Refusal::failed)?;
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
                Some(serde_json::to_value(&*document).map_err(|e| {
                    Refusal::failed(format!("the issuer's DID document cannot be read: {e}"))
                })?)
            }
        };
        // ssi checks the validity period with the proof; checked here first to say so in the same words as for JWS.
        self.check_window(&credential, &credential, verdict)?;
        let request = verifier::Request {
            credential: text,
            issuer: issuer.as_str().to_string(),
            document,
        };
        self.verifier
            .verify(&request, self.timeout)
            .await
            .map_err(|e| match e {
                IntegrityError::Failed(reason) => Refusal::failed(reason),
                IntegrityError::Deferred(reason) => deferred(reason),
            })?;
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

    /// Every revocation or suspension entry (at most `MAX_STATUS_ENTRIES`): its bit must be clear in a list the
    /// issuer signed.
    async fn check_status(&self, vc: &Value, issuer: &Issuer) -> Result<(), Refusal> {
        if vc["credentialStatus"]
            .as_array()
            .is_some_and(|a| a.len() > MAX_STATUS_ENTRIES)
        {
            return Err(Refusal::failed(format!(
                "the credential lists more than {MAX_STATUS_ENTRIES} status entries (credentialStatus); this \
                 resolver checks at most {MAX_STATUS_ENTRIES}"
            )));
        }
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
                StatusError::Unavailable { list, reason, .. }
                    if reason == FetchError::RateLimited(Duration::ZERO).to_string() =>
                {
                    deferred(format!(
                        "the credential's status list {list} cannot be fetched now ({reason})"
                    ))
                }
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

/// The reason of a deferred check starts with this: the check did not run (the outbound client's own rate limit, or
/// the Data Integrity verifier busy or unable to run), so it says nothing about the target.
pub const DEFERRED: &str = "Check deferred: ";

/// A deferred check's refusal, saying why it did not run.
fn deferred(why: impl std::fmt::Display) -> Refusal {
    Refusal::unreachable(format!(
        "{DEFERRED}{why}; the link keeps its previous verdict until it is checked again"
    ))
}

/// Why a fetch of the target gave no answer: the answer is larger than allowed (`failed`); the address is one the
/// resolver may not fetch, `failed` when the href names it as an IP address (`literal`: that never changes), but
/// `unreachable` when a host name resolved to it (names may resolve elsewhere later); the outbound client's rate
/// limit (deferred); or transient (`unreachable`).
fn fetch_refusal(error: FetchError, literal: bool) -> Refusal {
    match error {
        FetchError::TooLarge(limit) => Refusal::failed(format!(
            "the target is larger than verification.max_credential_bytes ({limit} bytes)"
        )),
        FetchError::Refused if literal => Refusal::failed(
            "the target's IP address is not reachable from this resolver (a non-public address not listed in \
             outbound.allow), so it can never be checked",
        ),
        FetchError::Refused => Refusal::unreachable(
            "the target's host name resolves to an address this resolver may not fetch (a non-public address not \
             listed in outbound.allow)",
        ),
        FetchError::RateLimited(_) => deferred(format!("the target could not be fetched: {error}")),
        FetchError::Unreachable | FetchError::Timeout => {
            Refusal::unreachable(format!("the target could not be fetched: {error}"))
        }
    }
}

/// The refusal an HTTP answer's status means, if any: a 2xx is read; 5xx, 408 and 429 may pass (`unreachable`);
/// a redirect (never followed) or any other 4xx says the target is not there (`failed`).
fn answer_refusal(status: u16) -> Option<Refusal> {
    match status {
        200..=299 => None,
        408 | 429 | 500..=599 => Some(Refusal::unreachable(format!(
            "the target answers {status} just now"
        ))),
        300..=399 => Some(Refusal::failed(format!(
            "the target answers {status} (a redirect); credential targets are fetched without following \
             redirects, so register the address the credential is served at"
        ))),
        _ => Some(Refusal::failed(format!("the target answers {status}"))),
    }
}

/// A media type's essence (`type/subtype`, lower case, no parameters), if any.
fn essence(media_type: Option<&str>) -> Option<String> {
    media_type
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty())
}

/// Why the signature could not be verified: the issuer's document not fetched now is `unreachable`; a document or
/// key that is wrong, or a signature that does not verify, is `failed`.
fn key_refusal(error: KeyError) -> Refusal {
    match error {
        KeyError::Resolution { error, .. } if matches!(error, DidError::Busy { .. }) => {
            deferred(format!("the signature cannot be checked now: {error}"))
        }
        KeyError::Resolution { did, error } => match error {
            DidError::Unreachable { .. } | DidError::Timeout { .. } | DidError::Status { .. } => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verification::is_deferred;

    #[test]
    fn only_answers_that_may_pass_are_unreachable() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            let refusal = answer_refusal(status).unwrap();
            assert_eq!(refusal.status, Status::Unreachable, "{status}");
            assert!(refusal.reason.contains(&status.to_string()), "{refusal:?}");
        }
        for status in [301, 302, 400, 401, 403, 404, 410, 451, 499] {
            let refusal = answer_refusal(status).unwrap();
            assert_eq!(refusal.status, Status::Failed, "{status}");
            assert!(
                refusal
                    .reason
                    .contains(&format!("the target answers {status}")),
                "{refusal:?}"
            );
        }
        assert_eq!(answer_refusal(200), None);
        assert_eq!(answer_refusal(204), None);
    }

    #[test]
    fn only_the_outbound_rate_limit_defers_a_fetch() {
        let verdict = |refusal: Refusal| LinkVerdict {
            status: refusal.status,
            reason: Some(refusal.reason),
            ..LinkVerdict::pending("t", "https://a.example/")
        };
        let limited = verdict(fetch_refusal(
            FetchError::RateLimited(Duration::from_secs(1)),
            false,
        ));
        assert!(is_deferred(&limited), "{limited:?}");
        for error in [
            FetchError::Unreachable,
            FetchError::Timeout,
            FetchError::Refused,
        ] {
            let transient = verdict(fetch_refusal(error, false));
            assert_eq!(transient.status, Status::Unreachable);
            assert!(!is_deferred(&transient), "{transient:?}");
        }
        for (error, literal) in [
            (FetchError::Refused, true),
            (FetchError::TooLarge(10), false),
        ] {
            let refusal = fetch_refusal(error, literal);
            assert_eq!(refusal.status, Status::Failed, "{error:?}");
        }
        // A failed verdict is never deferred, whatever its reason says.
        let failed = LinkVerdict {
            status: Status::Failed,
            reason: Some(format!("{DEFERRED}x")),
            ..LinkVerdict::pending("t", "https://a.example/")
        };
        assert!(!is_deferred(&failed));
    }
}

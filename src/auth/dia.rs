//! Digital Identity Anchors (UNTP DIA): a credential in which an authoritative register binds a DID to an identity
//! it registered. A DID-signed request (`auth::did`) may carry one, enveloped as a JWT, in the `DIA` header; when
//! its issuer is a configured trust anchor, the signer needs no `did_writers` entry:
//!
//! - the DIA's `registeredId` (through the anchor's `identifier` template) names what the signer owns here, within
//!   the anchor's `namespaces`;
//! - each `registrationScopeList` entry the anchor maps to a contributor role lets the signer add links of that
//!   role's types to anchors others own (`crate::contribution` holds what "add" means).
//!
//! A DIA is refused unless: it parses as a VC 2.0 credential of type `DigitalIdentityAnchor` (or a VC 1.1 JWT with a
//! `vc` claim), its issuer is a trust anchor, its signature verifies with a key the anchor's DID document lists
//! under `assertionMethod` (ssi verifies it; the JWS is decoded here first, crate notes trap 2), its subject `id` is
//! the signing DID, it is within `validFrom`/`validUntil` (and the JWT's `nbf`/`exp`), and no `BitstringStatusList`
//! entry of it is set. Status lists are fetched through the guarded outbound client (one fetch per list at a time),
//! must be signed by the same anchor, and are cached at most `dia.status_list_cache_seconds`; one that cannot be
//! fetched refuses the request with `503` (the failure remembered `outbound.failure_cache_seconds`).
//!
//! Order of checks: everything that needs no fetch first, so a DIA from an unknown issuer or for another DID costs
//! nothing; then the anchor's DID document (a configured DID) and the DIA's signature; then (in `auth::did`) the
//! signer's document, the request's signature and its `jti`; the status list (an address the anchor signed) last,
//! so a copy of a public DIA on a forged request fetches no list.

use super::Scope;
use super::did::{
    Relationship, SignatureFailure, algorithm, excerpt, listed_key, verify_signature,
};
use crate::config::{ConfigError, DiaSettings, Settings};
use crate::did::{DidError, DidResolver};
use crate::identifier::Parser;
use crate::identifier::did_web::DidWeb;
use crate::identifier::pattern::LINK_TYPES_SCOPE;
use crate::outbound::{FetchError, Outbound, Request};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use ssi::jwk::Algorithm;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The request header that carries a DIA (a compact JWS whose payload is the credential).
pub const HEADER: &str = "DIA";
/// A DIA is a few kilobytes; the bound caps the work spent on junk.
const MAX_DIA_BYTES: usize = 16 * 1024;
/// Decoded status lists are at most this large (the W3C minimum is 16 KiB; 2 MiB holds 16 M entries).
const MAX_DECODED_LIST: u64 = 2 * 1024 * 1024;
const STATUS_ACCEPT: &str = "application/vc+jwt, application/jwt;q=0.9, */*;q=0.1";

/// Why a DIA was refused. Each names the check that failed; all are answered `401`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiaError {
    #[error("DIA header: malformed credential: {0}")]
    Malformed(String),
    #[error(
        "DIA header: the credential's issuer {0} is not a trust anchor of this resolver (trust_anchors)"
    )]
    NotTrustAnchor(String),
    #[error("DIA header: cannot resolve the trust anchor {did} to check the signature: {error}")]
    IssuerResolution { did: String, error: DidError },
    #[error("DIA header: issuer key {kid}: {reason}")]
    IssuerKey { kid: String, reason: String },
    #[error("DIA header: the signature does not verify with the issuer's key {0}")]
    Signature(String),
    #[error(
        "DIA header: the credential's subject is {subject:?}, but the request is signed by {signer}; a DIA works only for the DID it names"
    )]
    SubjectMismatch { subject: String, signer: String },
    #[error("DIA header: the credential expired at {0} (validUntil)")]
    Expired(String),
    #[error("DIA header: the credential is not valid before {0} (validFrom)")]
    NotYetValid(String),
    #[error(
        "DIA header: the credential is revoked: bit {index} of the status list {list} is set ({purpose})"
    )]
    Revoked {
        list: String,
        index: u64,
        purpose: String,
    },
    #[error("DIA header: the credential's status list {list} could not be checked: {reason}")]
    Status { list: String, reason: String },
    /// The status list could not be fetched (its host, not the caller): `503` with `Retry-After`.
    #[error(
        "DIA header: the credential's status list {list} cannot be fetched now ({reason}); retry in {retry_after} s"
    )]
    StatusUnavailable {
        list: String,
        reason: String,
        retry_after: u64,
    },
}

/// A lifecycle contributor role: the link types (canonical or as configured) a DIA listing `scope` may add, and where.
#[derive(Clone, Debug)]
pub struct ContributorRole {
    pub scope: String,
    pub link_types: Vec<String>,
    pub namespaces: Vec<Scope>,
}

impl ContributorRole {
    pub fn covers(&self, canonical_path: &str) -> bool {
        self.namespaces.iter().any(|n| n.covers(canonical_path))
    }
}

/// What a verified DIA grants its subject.
#[derive(Clone, Debug)]
pub struct DiaGrant {
    /// The trust anchor that issued it.
    pub issuer: String,
    pub registered_id: String,
    /// What the subject owns here, or why the DIA makes it the owner of nothing (named in a `403`).
    pub owner: Result<Scope, String>,
    /// The contributor roles of its `registrationScopeList` that the anchor maps.
    pub roles: Vec<ContributorRole>,
}

impl DiaGrant {
    /// The roles whose namespaces cover `canonical_path`.
    pub fn roles_at<'a>(
        &'a self,
        canonical_path: &'a str,
    ) -> impl Iterator<Item = &'a ContributorRole> {
        self.roles.iter().filter(move |r| r.covers(canonical_path))
    }
}

struct TrustAnchor {
    namespaces: Vec<Scope>,
    identifier: String,
    roles: Vec<ContributorRole>,
}

/// The configured trust anchors and the status-list cache.
pub struct TrustAnchors {
    anchors: HashMap<String, TrustAnchor>,
    statuses: StatusLists,
    skew: i64,
}

impl TrustAnchors {
    /// Parses `trust_anchors`; a namespace that cannot match any canonical identifier is a configuration error.
    pub fn from_settings(
        settings: &Settings,
        parser: &Parser,
    ) -> Result<TrustAnchors, ConfigError> {
        let mut anchors = HashMap::new();
        for (i, a) in settings.trust_anchors.iter().enumerate() {
            let scopes = |list: &[String], field: &str| {
                list.iter()
                    .enumerate()
                    .map(|(j, s)| {
                        Scope::parse_canonical(s, parser).map_err(|e| {
                            ConfigError::invalid(format!("trust_anchors[{i}].{field}[{j}]"), e)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            let namespaces = scopes(&a.namespaces, "namespaces")?;
            let mut roles = Vec::new();
            for (j, c) in a.contributors.iter().enumerate() {
                roles.push(ContributorRole {
                    scope: c.scope.trim().to_string(),
                    link_types: c.link_types.clone(),
                    namespaces: scopes(&c.namespaces, &format!("contributors[{j}].namespaces"))?,
                });
            }
            let anchor = TrustAnchor {
                namespaces,
                identifier: a.identifier.clone(),
                roles,
            };
            anchors.insert(a.did.clone(), anchor);
        }
        Ok(TrustAnchors {
            anchors,
            statuses: StatusLists::new(&settings.dia, settings.outbound.failure_cache_seconds),
            skew: i64::try_from(settings.did_auth.clock_skew_seconds).unwrap_or(0),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Every contributor link type configured, as spelled (checked against the vocabularies at start-up).
    pub fn link_types(&self) -> impl Iterator<Item = &str> {
        self.anchors
            .values()
            .flat_map(|a| a.roles.iter())
            .flat_map(|r| r.link_types.iter().map(String::as_str))
    }

    /// Verifies `dia` for a request signed by `signer`, at `now` (Unix seconds), except its status lists: the caller
    /// checks the request's own signature first, then [`TrustAnchors::check_status`]. `parser` reads the identifier
    /// it names.
    pub async fn verify(
        &self,
        dia: &str,
        signer: &DidWeb,
        now: i64,
        fetch: Fetchers<'_>,
        parser: &Parser,
    ) -> Result<UncheckedStatus, DiaError> {
        let jws = Jws::parse(dia)?;
        let credential = Credential::parse(&jws.payload)?;
        let anchor = self
            .anchors
            .get(&credential.issuer)
            .ok_or_else(|| DiaError::NotTrustAnchor(excerpt(&credential.issuer)))?;
        if credential.subject != signer.as_str() {
            return Err(DiaError::SubjectMismatch {
                subject: excerpt(&credential.subject),
                signer: signer.to_string(),
            });
        }
        credential.check_time(now, self.skew)?;
        let issuer = DidWeb::parse(&credential.issuer)
            .map_err(|e| DiaError::Malformed(format!("issuer: {e}")))?;
        let resolver = fetch.resolver.ok_or_else(|| DiaError::IssuerResolution {
            did: issuer.to_string(),
            error: DidError::Disabled,
        })?;
        jws.verify_by(&issuer, resolver).await?;
        let grant = DiaGrant {
            owner: owner(anchor, &credential, parser),
            roles: anchor
                .roles
                .iter()
                .filter(|r| credential.scopes.contains(&r.scope))
                .cloned()
                .collect(),
            issuer: credential.issuer,
            registered_id: credential.registered_id,
        };
        Ok(UncheckedStatus {
            grant,
            issuer,
            status: credential.status,
        })
    }

    /// The last check of a verified DIA: no entry of it is set in its status list (fetched at most once per list
    /// at a time, and a failure remembered). Called only once the request's own signature has verified, so a copy
    /// of a public DIA on a forged request fetches nothing.
    pub async fn check_status(
        &self,
        unchecked: UncheckedStatus,
        now: i64,
        fetch: Fetchers<'_>,
    ) -> Result<DiaGrant, DiaError> {
        let UncheckedStatus {
            grant,
            issuer,
            status,
        } = unchecked;
        let Some(resolver) = fetch.resolver else {
            return Err(DiaError::IssuerResolution {
                did: issuer.to_string(),
                error: DidError::Disabled,
            });
        };
        for entry in &status {
            self.statuses
                .check(entry, &issuer, now, self.skew, resolver, fetch.outbound)
                .await?;
        }
        Ok(grant)
    }
}

/// A DIA whose signature, issuer, subject and validity have been checked, but not yet its status lists.
pub struct UncheckedStatus {
    grant: DiaGrant,
    issuer: DidWeb,
    status: Vec<StatusEntry>,
}

/// What fetches a DIA's check: the trust anchors' DID documents, and status lists.
#[derive(Clone, Copy)]
pub struct Fetchers<'a> {
    pub resolver: Option<&'a DidResolver>,
    pub outbound: Option<&'a Outbound>,
}

/// The identifier a DIA makes its subject the owner of, within the anchor's namespaces.
fn owner(anchor: &TrustAnchor, credential: &Credential, parser: &Parser) -> Result<Scope, String> {
    let id = credential.registered_id.as_str();
    if id.is_empty() {
        return Err("the DIA names no registeredId".into());
    }
    let path = if anchor.identifier.is_empty() {
        if id.contains('*') {
            return Err(format!(
                "registeredId {:?} is not an identifier",
                excerpt(id)
            ));
        }
        id.to_string()
    } else {
        let plain = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !plain {
            return Err(format!(
                "registeredId {:?} must be letters, digits, '.', '_' or '-' for this trust anchor's identifier template",
                excerpt(id)
            ));
        }
        anchor.identifier.replace("{registeredId}", id)
    };
    let scope = identifier_scope(&path, parser).map_err(|e| {
        format!(
            "the DIA's registeredId {:?} names no identifier here: {e}",
            excerpt(id)
        )
    })?;
    if anchor.namespaces.iter().any(|n| within(&scope, n)) {
        return Ok(scope);
    }
    let held: Vec<String> = anchor.namespaces.iter().map(|n| n.to_string()).collect();
    Err(format!(
        "the trust anchor {} is not authoritative for {scope} (its namespaces: {})",
        credential.issuer,
        if held.is_empty() {
            "none".into()
        } else {
            held.join(", ")
        }
    ))
}

/// The scope of the one identifier `path` names, and everything beneath it. Only an identifier: never a pattern,
/// `admin` or `*`, nor a `linktypes/` scope (which would let a DIA register link-type vocabularies).
fn identifier_scope(path: &str, parser: &Parser) -> Result<Scope, String> {
    let key = path.trim().trim_start_matches('/');
    if key.starts_with(LINK_TYPES_SCOPE) || key.contains('*') || key == "admin" {
        return Err("a DIA grants identifiers only".into());
    }
    let key = parser.parse_key(key).map_err(|e| e.to_string())?;
    let canonical = key.canonical_path().trim_end_matches('/');
    if canonical.starts_with(LINK_TYPES_SCOPE) {
        return Err("a DIA grants identifiers only".into());
    }
    Ok(Scope::Subtree(canonical.to_string()))
}

/// Whether every path `inner` covers is covered by `outer`.
fn within(inner: &Scope, outer: &Scope) -> bool {
    match (inner, outer) {
        (_, Scope::All) => true,
        (Scope::All, _) => false,
        (Scope::Subtree(p), outer) => outer.covers(p),
        (Scope::Prefix(p), Scope::Prefix(q)) => p.starts_with(q.as_str()),
        (Scope::Prefix(_), Scope::Subtree(_)) => false,
    }
}

/// A compact JWS, decoded (never handed to ssi undecoded: crate notes, trap 2).
struct Jws {
    alg: Algorithm,
    kid: String,
    payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Jws {
    fn parse(text: &str) -> Result<Jws, DiaError> {
        let text = text.trim();
        if text.len() > MAX_DIA_BYTES {
            return Err(DiaError::Malformed(format!(
                "longer than {MAX_DIA_BYTES} bytes"
            )));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(DiaError::Malformed(
                "an enveloped credential (vc+jwt) is three base64url parts separated by dots"
                    .into(),
            ));
        };
        let header: Value = serde_json::from_slice(&decode("header", header)?)
            .map_err(|e| DiaError::Malformed(format!("header: {e}")))?;
        if header.get("crit").is_some() {
            return Err(DiaError::Malformed(
                "no crit header parameter is understood here".into(),
            ));
        }
        let alg = header["alg"]
            .as_str()
            .and_then(algorithm)
            .ok_or_else(|| DiaError::Malformed("header alg must be ES256 or EdDSA".into()))?;
        let kid = header["kid"]
            .as_str()
            .ok_or_else(|| {
                DiaError::Malformed(
                    "the header has no kid (the DID URL of the issuer's key)".into(),
                )
            })?
            .to_string();
        let signed = text.rfind('.').unwrap_or(0);
        Ok(Jws {
            alg,
            kid,
            payload: decode("payload", payload)?,
            signing_input: text.as_bytes()[..signed].to_vec(),
            signature: decode("signature", signature)?,
        })
    }

    /// Verifies the signature with a key `issuer`'s document lists under `assertionMethod`.
    async fn verify_by(&self, issuer: &DidWeb, resolver: &DidResolver) -> Result<(), DiaError> {
        let key_error = |reason: String| DiaError::IssuerKey {
            kid: excerpt(&self.kid),
            reason,
        };
        let (did, fragment) = self.kid.split_once('#').unwrap_or((&self.kid, ""));
        if did != issuer.as_str() || fragment.is_empty() {
            return Err(key_error(format!(
                "must be a DID URL of the issuer {issuer} naming one of its keys (issuer#key)"
            )));
        }
        let document =
            resolver
                .resolve(issuer)
                .await
                .map_err(|error| DiaError::IssuerResolution {
                    did: issuer.to_string(),
                    error,
                })?;
        let key =
            listed_key(&document, &self.kid, Relationship::AssertionMethod).map_err(key_error)?;
        verify_signature(self.alg, &key, &self.signing_input, &self.signature).map_err(
            |e| match e {
                SignatureFailure::KeyType => {
                    key_error(format!("its key type cannot verify {}", self.alg))
                }
                SignatureFailure::Invalid => DiaError::Signature(excerpt(&self.kid)),
            },
        )
    }
}

fn decode(name: &str, part: &str) -> Result<Vec<u8>, DiaError> {
    if part.is_empty() {
        return Err(DiaError::Malformed(format!("the {name} is empty")));
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| DiaError::Malformed(format!("the {name} is not unpadded base64url: {e}")))
}

/// What a DIA says, read from its JSON (VC 2.0: the payload is the credential; VC 1.1 JWT: its `vc` claim).
#[derive(Debug, PartialEq, Eq)]
struct Credential {
    issuer: String,
    subject: String,
    registered_id: String,
    scopes: Vec<String>,
    /// Unix seconds, with the text as given.
    valid_from: Option<(i64, String)>,
    valid_until: Option<(i64, String)>,
    status: Vec<StatusEntry>,
}

#[derive(Debug, PartialEq, Eq)]
struct StatusEntry {
    list: String,
    index: u64,
    purpose: String,
}

impl Credential {
    fn parse(payload: &[u8]) -> Result<Credential, DiaError> {
        let bad = |m: String| DiaError::Malformed(m);
        let jwt: Value =
            serde_json::from_slice(payload).map_err(|e| bad(format!("payload: {e}")))?;
        let vc = jwt.get("vc").filter(|v| v.is_object()).unwrap_or(&jwt);
        let types = strings(&vc["type"]);
        if !types.iter().any(|t| t == "VerifiableCredential") {
            return Err(bad("type must include VerifiableCredential".into()));
        }
        if !types.iter().any(|t| t == "DigitalIdentityAnchor") {
            return Err(bad(
                "type must include DigitalIdentityAnchor (a UNTP Digital Identity Anchor)".into(),
            ));
        }
        let issuer = match &vc["issuer"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => jwt["iss"].as_str().unwrap_or("").to_string(),
        };
        if issuer.is_empty() {
            return Err(bad("the credential names no issuer".into()));
        }
        let subject = match &vc["credentialSubject"] {
            Value::Array(a) if a.len() == 1 => &a[0],
            Value::Object(_) => &vc["credentialSubject"],
            _ => return Err(bad("credentialSubject must be one object".into())),
        };
        let subject_id = subject["id"]
            .as_str()
            .ok_or_else(|| {
                bad("credentialSubject.id (the registered party's DID) is missing".into())
            })?
            .to_string();
        let registered_id = subject["registeredId"]
            .as_str()
            .unwrap_or("")
            .trim()
            .to_string();
        let mut valid_from = time(vc, "validFrom")?.or(time(vc, "issuanceDate")?);
        let mut valid_until = time(vc, "validUntil")?.or(time(vc, "expirationDate")?);
        // The JWT's own window, when it has one, applies as well.
        if let Some(nbf) = jwt["nbf"].as_i64() {
            valid_from =
                Some(valid_from.map_or((nbf, nbf.to_string()), |v| v.max((nbf, nbf.to_string()))));
        }
        if let Some(exp) = jwt["exp"].as_i64() {
            valid_until =
                Some(valid_until.map_or((exp, exp.to_string()), |v| v.min((exp, exp.to_string()))));
        }
        let status = match &vc["credentialStatus"] {
            Value::Null => Vec::new(),
            Value::Array(a) => a.iter().map(StatusEntry::parse).collect::<Result<_, _>>()?,
            one => vec![StatusEntry::parse(one)?],
        };
        Ok(Credential {
            issuer,
            subject: subject_id,
            registered_id,
            scopes: strings(&subject["registrationScopeList"]),
            valid_from,
            valid_until,
            status,
        })
    }

    fn check_time(&self, now: i64, skew: i64) -> Result<(), DiaError> {
        if let Some((until, text)) = &self.valid_until {
            if now > until.saturating_add(skew) {
                return Err(DiaError::Expired(text.clone()));
            }
        }
        if let Some((from, text)) = &self.valid_from {
            if *from > now.saturating_add(skew) {
                return Err(DiaError::NotYetValid(text.clone()));
            }
        }
        Ok(())
    }
}

impl StatusEntry {
    fn parse(value: &Value) -> Result<StatusEntry, DiaError> {
        let bad = |m: &str| DiaError::Malformed(format!("credentialStatus: {m}"));
        let kind = strings(&value["type"]);
        if !kind.iter().any(|t| t == "BitstringStatusListEntry") {
            return Err(bad("only BitstringStatusListEntry is understood"));
        }
        let list = value["statusListCredential"]
            .as_str()
            .ok_or_else(|| bad("statusListCredential is missing"))?
            .to_string();
        let index = match &value["statusListIndex"] {
            Value::String(s) => s.parse::<u64>().ok(),
            n => n.as_u64(),
        }
        .ok_or_else(|| bad("statusListIndex must be a non-negative integer"))?;
        let purpose = value["statusPurpose"]
            .as_str()
            .unwrap_or("revocation")
            .to_string();
        Ok(StatusEntry {
            list,
            index,
            purpose,
        })
    }
}

/// A string or an array of strings, as a list.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// An RFC 3339 time member, as Unix seconds and as written.
fn time(vc: &Value, name: &str) -> Result<Option<(i64, String)>, DiaError> {
    match &vc[name] {
        Value::Null => Ok(None),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some((t.timestamp(), s.clone())))
            .map_err(|e| DiaError::Malformed(format!("{name} {s:?} is not an RFC 3339 time: {e}"))),
        _ => Err(DiaError::Malformed(format!(
            "{name} must be an RFC 3339 time"
        ))),
    }
}

/// Decoded status lists by URL, kept at most `dia.status_list_cache_seconds`, bounded in bytes. One fetch per list
/// at a time (concurrent checks wait for it), and a failed fetch is remembered `outbound.failure_cache_seconds` (at
/// most the list's own bound), so DIAs naming a list that cannot be fetched do not make idr fetch it again and again.
struct StatusLists {
    cache: moka::sync::Cache<String, ListSlot>,
    timeout: Duration,
    max_bytes: usize,
    /// How long a fetched list is believed (`dia.status_list_cache_seconds`), and a failed fetch remembered.
    ttl: Duration,
    failure_ttl: Duration,
}

/// A cache entry: empty while its fetch runs.
type ListSlot = Arc<tokio::sync::OnceCell<FetchedList>>;

/// The outcome of one fetch of a status list, and how long it is kept.
struct FetchedList {
    outcome: Result<Arc<StatusList>, DiaError>,
    ttl: Duration,
}

/// One verified status list: its issuer, purpose and bits.
struct StatusList {
    issuer: String,
    purpose: String,
    bits: Vec<u8>,
}

/// Each entry lives as long as its outcome says; a pending one no longer than its fetch may take.
struct ListExpiry {
    pending: Duration,
}

impl ListExpiry {
    fn lifetime(&self, slot: &ListSlot) -> Option<Duration> {
        Some(slot.get().map_or(self.pending, |f| f.ttl))
    }
}

impl moka::Expiry<String, ListSlot> for ListExpiry {
    fn expire_after_create(
        &self,
        _: &String,
        slot: &ListSlot,
        _: std::time::Instant,
    ) -> Option<Duration> {
        self.lifetime(slot)
    }

    fn expire_after_update(
        &self,
        _: &String,
        slot: &ListSlot,
        _: std::time::Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.lifetime(slot)
    }
}

impl StatusLists {
    fn new(settings: &DiaSettings, failure_cache_seconds: u64) -> StatusLists {
        let timeout = Duration::from_millis(settings.timeout_ms);
        let ttl = Duration::from_secs(settings.status_list_cache_seconds);
        StatusLists {
            cache: moka::sync::Cache::builder()
                .max_capacity(settings.status_list_cache_bytes)
                .weigher(|url: &String, slot: &ListSlot| {
                    let bits = slot
                        .get()
                        .and_then(|f| f.outcome.as_ref().ok())
                        .map_or(0, |l| l.bits.len());
                    u32::try_from(url.len() + bits + 64).unwrap_or(u32::MAX)
                })
                .expire_after(ListExpiry {
                    pending: timeout + Duration::from_secs(1),
                })
                .build(),
            timeout,
            max_bytes: settings.max_status_list_bytes,
            ttl,
            failure_ttl: Duration::from_secs(failure_cache_seconds.max(1)).min(ttl),
        }
    }

    /// The list at `url`: cached, or fetched now by this check or one running at the same time.
    async fn list(
        &self,
        entry: &StatusEntry,
        issuer: &DidWeb,
        now: i64,
        skew: i64,
        resolver: &DidResolver,
        outbound: Option<&Outbound>,
    ) -> Result<Arc<StatusList>, DiaError> {
        let key = entry.list.clone();
        let slot = self
            .cache
            .get_with(key.clone(), || Arc::new(tokio::sync::OnceCell::new()));
        let mut fetched_here = false;
        let fetched = slot
            .get_or_init(|| async {
                fetched_here = true;
                let outcome = match outbound {
                    Some(outbound) => self
                        .fetch(&entry.list, issuer, now, skew, resolver, outbound)
                        .await
                        .map(Arc::new),
                    None => Err(self.unavailable(&entry.list, "outbound fetches are off".into())),
                };
                let ttl = match &outcome {
                    Ok(_) => self.ttl,
                    Err(_) => self.failure_ttl,
                };
                if let Err(error) = &outcome {
                    tracing::info!(list = %excerpt(&entry.list), %error, "status list not fetched");
                }
                FetchedList { outcome, ttl }
            })
            .await;
        if fetched_here {
            // Re-inserting makes the cache read the entry's lifetime from the settled outcome.
            self.cache.insert(key, slot.clone());
        }
        fetched.outcome.clone()
    }

    fn unavailable(&self, list: &str, reason: String) -> DiaError {
        DiaError::StatusUnavailable {
            list: excerpt(list),
            reason,
            retry_after: self.failure_ttl.as_secs().max(1),
        }
    }

    /// Refuses the DIA when `entry`'s bit is set in its list, or when the list cannot be fetched and verified.
    async fn check(
        &self,
        entry: &StatusEntry,
        issuer: &DidWeb,
        now: i64,
        skew: i64,
        resolver: &DidResolver,
        outbound: Option<&Outbound>,
    ) -> Result<(), DiaError> {
        let failed = |reason: String| DiaError::Status {
            list: excerpt(&entry.list),
            reason,
        };
        let list = self
            .list(entry, issuer, now, skew, resolver, outbound)
            .await?;
        if list.issuer != issuer.as_str() {
            return Err(failed(format!(
                "it was issued by {}, not by the DIA's issuer",
                list.issuer
            )));
        }
        if list.purpose != entry.purpose {
            return Err(failed(format!(
                "its statusPurpose is {:?}, the DIA's entry says {:?}",
                list.purpose, entry.purpose
            )));
        }
        let byte = usize::try_from(entry.index / 8)
            .ok()
            .and_then(|i| list.bits.get(i))
            .ok_or_else(|| {
                failed(format!(
                    "statusListIndex {} is beyond the list",
                    entry.index
                ))
            })?;
        // Bit 0 is the most significant bit of the first byte (W3C Bitstring Status List).
        if byte >> (7 - entry.index % 8) & 1 == 1 {
            return Err(DiaError::Revoked {
                list: excerpt(&entry.list),
                index: entry.index,
                purpose: entry.purpose.clone(),
            });
        }
        Ok(())
    }

    async fn fetch(
        &self,
        list: &str,
        issuer: &DidWeb,
        now: i64,
        skew: i64,
        resolver: &DidResolver,
        outbound: &Outbound,
    ) -> Result<StatusList, DiaError> {
        let failed = |reason: String| DiaError::Status {
            list: excerpt(list),
            reason,
        };
        let url = Url::parse(list).map_err(|e| failed(format!("not a URL: {e}")))?;
        if url.scheme() != "https" {
            return Err(failed("status lists are fetched over https only".into()));
        }
        let request = Request {
            url: &url,
            accept: STATUS_ACCEPT,
            timeout: self.timeout,
            max_bytes: self.max_bytes,
        };
        let response = outbound.get(request).await.map_err(|e| match e {
            FetchError::TooLarge(limit) => failed(format!(
                "larger than dia.max_status_list_bytes ({limit} bytes)"
            )),
            other => self.unavailable(list, other.to_string()),
        })?;
        if !(200..300).contains(&response.status) {
            return Err(self.unavailable(list, format!("HTTP {}", response.status)));
        }
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| failed("not a vc+jwt (not text)".into()))?;
        let jws = Jws::parse(text).map_err(|e| failed(format!("not a vc+jwt: {e}")))?;
        let value: Value =
            serde_json::from_slice(&jws.payload).map_err(|e| failed(format!("payload: {e}")))?;
        let vc = value.get("vc").filter(|v| v.is_object()).unwrap_or(&value);
        let list_issuer = match &vc["issuer"] {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        if list_issuer != issuer.as_str() {
            return Err(failed(format!(
                "it was issued by {:?}, not by the DIA's issuer {issuer}",
                excerpt(&list_issuer)
            )));
        }
        jws.verify_by(issuer, resolver)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if let Ok(Some((until, text))) = time(vc, "validUntil") {
            if now > until.saturating_add(skew) {
                return Err(failed(format!("the list expired at {text}")));
            }
        }
        let subject = &vc["credentialSubject"];
        let purpose = subject["statusPurpose"].as_str().unwrap_or("").to_string();
        let encoded = subject["encodedList"]
            .as_str()
            .ok_or_else(|| failed("credentialSubject.encodedList is missing".into()))?;
        let bits = decode_list(encoded).map_err(failed)?;
        Ok(StatusList {
            issuer: list_issuer,
            purpose,
            bits,
        })
    }
}

/// `encodedList`: multibase base64url (`u`, no padding) of the GZIP-compressed bitstring; decompressed within
/// `MAX_DECODED_LIST` so a small list cannot expand without bound.
fn decode_list(encoded: &str) -> Result<Vec<u8>, String> {
    let body = encoded
        .strip_prefix('u')
        .ok_or("encodedList must be multibase base64url (starting with 'u')")?;
    let gzip = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("encodedList is not base64url: {e}"))?;
    let mut bits = Vec::new();
    flate2::read::GzDecoder::new(gzip.as_slice())
        .take(MAX_DECODED_LIST + 1)
        .read_to_end(&mut bits)
        .map_err(|e| format!("encodedList is not GZIP: {e}"))?;
    if bits.len() as u64 > MAX_DECODED_LIST {
        return Err(format!(
            "encodedList expands beyond {MAX_DECODED_LIST} bytes"
        ));
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(value: Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn dia() -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", "DigitalIdentityAnchor"],
            "issuer": {"id": "did:web:register.example", "name": "Register"},
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2027-01-01T00:00:00Z",
            "credentialSubject": {
                "type": ["RegisteredIdentity", "Identifier"],
                "id": "did:web:brand.example", "registeredId": "01/09520123456788",
                "registrationScopeList": ["https://register.example/scope/recycler"]
            },
            "credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                "statusListIndex": "94567", "statusListCredential": "https://register.example/status/1"}
        })
    }

    #[test]
    fn a_dia_parses_into_what_it_grants() {
        let c = Credential::parse(&payload(dia())).unwrap();
        assert_eq!(c.issuer, "did:web:register.example");
        assert_eq!(c.subject, "did:web:brand.example");
        assert_eq!(c.registered_id, "01/09520123456788");
        assert_eq!(c.scopes, ["https://register.example/scope/recycler"]);
        // 2027-01-01T00:00:00Z, by `date -d 2027-01-01T00:00:00Z +%s`.
        assert_eq!(c.valid_until.as_ref().unwrap().0, 1_798_761_600);
        assert_eq!(
            c.status,
            [StatusEntry {
                list: "https://register.example/status/1".into(),
                index: 94567,
                purpose: "revocation".into()
            }]
        );
        assert!(c.check_time(1_798_761_600, 0).is_ok());
        assert!(matches!(
            c.check_time(1_798_761_601, 0),
            Err(DiaError::Expired(_))
        ));
        assert!(matches!(
            c.check_time(1_767_225_599, 0),
            Err(DiaError::NotYetValid(_))
        ));
    }

    #[test]
    fn other_credentials_are_not_dias() {
        for (field, value, needle) in [
            (
                "type",
                json!(["VerifiableCredential", "DigitalProductPassport"]),
                "DigitalIdentityAnchor",
            ),
            ("issuer", json!(7), "issuer"),
            (
                "credentialSubject",
                json!([{"id": "a"}, {"id": "b"}]),
                "credentialSubject",
            ),
            ("validUntil", json!("next year"), "validUntil"),
            (
                "credentialStatus",
                json!({"type": "StatusList2021Entry"}),
                "credentialStatus",
            ),
        ] {
            let mut v = dia();
            v[field] = value;
            let err = Credential::parse(&payload(v)).unwrap_err().to_string();
            assert!(err.contains(needle), "{field}: {err}");
        }
    }

    #[test]
    fn a_vc_1_1_jwt_and_its_window_are_read() {
        let mut vc = dia();
        vc.as_object_mut().unwrap().remove("validUntil");
        let jwt = json!({"iss": "did:web:register.example", "exp": 1_800_000_000, "vc": vc});
        let c = Credential::parse(&payload(jwt)).unwrap();
        assert_eq!(c.valid_until.unwrap().0, 1_800_000_000);
    }

    /// A trust anchor authoritative for everything (`namespaces = ["*"]`, no identifier template) still grants one
    /// identifier: a registeredId naming a link-type vocabulary, `admin` or a pattern owns nothing.
    #[test]
    fn a_dia_owns_identifiers_only() {
        let parser = Parser::embedded().unwrap();
        let anchor = TrustAnchor {
            namespaces: vec![Scope::All],
            identifier: String::new(),
            roles: Vec::new(),
        };
        let owns = |id: &str| {
            let mut v = dia();
            v["credentialSubject"]["registeredId"] = json!(id);
            owner(&anchor, &Credential::parse(&payload(v)).unwrap(), &parser)
        };
        assert_eq!(
            owns("01/09520123456788").unwrap(),
            Scope::Subtree("01/09520123456788".into())
        );
        for id in [
            "linktypes/untp",
            "/linktypes/acme",
            "linktypes/*",
            "admin",
            "*",
            "01/0952012*",
        ] {
            let err = owns(id).unwrap_err();
            assert!(
                err.contains("names no identifier") || err.contains("not an identifier"),
                "{id}: {err}"
            );
        }
        // Nor through a template that puts the registeredId under `linktypes/`.
        let templated = TrustAnchor {
            identifier: "linktypes/{registeredId}".into(),
            ..anchor
        };
        let mut v = dia();
        v["credentialSubject"]["registeredId"] = json!("untp");
        let c = Credential::parse(&payload(v)).unwrap();
        assert!(owner(&templated, &c, &parser).is_err());
    }

    #[test]
    fn scopes_nest() {
        let p = |s: &str| Scope::parse(s);
        assert!(within(&p("01/09520123456788"), &p("01/0952012*")));
        assert!(within(&p("01/0952012345*"), &p("01/0952012*")));
        assert!(!within(&p("01/095201*"), &p("01/0952012*")));
        assert!(!within(&p("01/09506000134369"), &p("01/0952012*")));
        assert!(within(
            &p("01/09520123456788/10/A"),
            &p("01/09520123456788")
        ));
        assert!(!within(&p("01/0952012345678*"), &p("01/09520123456788")));
        assert!(within(&p("abr/abn/1"), &p("*")));
        assert!(!within(&p("*"), &p("01/*")));
    }

    #[test]
    fn status_lists_decode_and_bound_their_size() {
        use std::io::Write;
        let gzip = |bytes: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let mut bits = vec![0u8; 16 * 1024];
        bits[1] = 0b0100_0000; // index 9
        let encoded = format!("u{}", URL_SAFE_NO_PAD.encode(gzip(&bits)));
        assert_eq!(decode_list(&encoded).unwrap(), bits);
        let bomb = format!(
            "u{}",
            URL_SAFE_NO_PAD.encode(gzip(&vec![0u8; 3 * 1024 * 1024]))
        );
        assert!(decode_list(&bomb).unwrap_err().contains("expands"));
        assert!(decode_list("zabc").unwrap_err().contains("multibase"));
        assert!(decode_list("uAAAA").unwrap_err().contains("GZIP"));
    }

    #[test]
    fn malformed_jws_are_errors_not_panics() {
        for text in [
            "",
            "a.b",
            "a.b.c.d",
            "e30.e30.",
            "e30.e30.AB",
            &"a".repeat(MAX_DIA_BYTES + 1),
        ] {
            assert!(
                matches!(Jws::parse(text), Err(DiaError::Malformed(_))),
                "{text:.20}"
            );
        }
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"did:web:a.example#k"}"#);
        // Trap 2: a last signature character with non-zero trailing bits.
        let text = format!("{header}.e30.{}B", "A".repeat(84));
        assert!(matches!(Jws::parse(&text), Err(DiaError::Malformed(_))));
    }
}

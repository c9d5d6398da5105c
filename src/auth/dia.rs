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
use crate::config::{ConfigError, Settings};
use crate::credential::jws::{Issuer, Jws, KeyError};
use crate::credential::status::{StatusEntry, StatusError, StatusLists};
use crate::credential::window::{Window, WindowError};
use crate::credential::{credential_of, excerpt, issuer_of, strings};
use crate::did::{DidError, DidResolver};
use crate::identifier::Parser;
use crate::identifier::did_web::DidWeb;
use crate::identifier::pattern::LINK_TYPES_SCOPE;
use crate::outbound::Outbound;
use serde_json::Value;
use std::collections::HashMap;

/// The request header that carries a DIA (a compact JWS whose payload is the credential).
pub const HEADER: &str = "DIA";
/// A DIA is a few kilobytes; the bound caps the work spent on junk.
const MAX_DIA_BYTES: usize = 16 * 1024;

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

impl From<KeyError> for DiaError {
    fn from(error: KeyError) -> DiaError {
        match error {
            KeyError::Resolution { did, error } => DiaError::IssuerResolution { did, error },
            KeyError::Key { kid, reason } => DiaError::IssuerKey { kid, reason },
            KeyError::Signature(kid) => DiaError::Signature(kid),
        }
    }
}

impl From<StatusError> for DiaError {
    fn from(error: StatusError) -> DiaError {
        match error {
            StatusError::Revoked {
                list,
                index,
                purpose,
            } => DiaError::Revoked {
                list,
                index,
                purpose,
            },
            StatusError::Failed { list, reason } => DiaError::Status { list, reason },
            StatusError::Unavailable {
                list,
                reason,
                retry_after,
            } => DiaError::StatusUnavailable {
                list,
                reason,
                retry_after,
            },
        }
    }
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
        let jws = Jws::parse(dia, MAX_DIA_BYTES).map_err(DiaError::Malformed)?;
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
            .map(Issuer::Web)
            .map_err(|e| DiaError::Malformed(format!("issuer: {e}")))?;
        let resolver = fetch.resolver.ok_or_else(|| DiaError::IssuerResolution {
            did: issuer.to_string(),
            error: DidError::Disabled,
        })?;
        jws.verify_by(&issuer, Some(resolver))
            .await
            .map_err(DiaError::from)?;
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
                .check(
                    entry,
                    &issuer,
                    now,
                    self.skew,
                    Some(resolver),
                    fetch.outbound,
                )
                .await
                .map_err(DiaError::from)?;
        }
        Ok(grant)
    }
}

/// A DIA whose signature, issuer, subject and validity have been checked, but not yet its status lists.
pub struct UncheckedStatus {
    grant: DiaGrant,
    issuer: Issuer,
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

/// What a DIA says, read from its JSON (VC 2.0: the payload is the credential; VC 1.1 JWT: its `vc` claim).
#[derive(Debug, PartialEq, Eq)]
struct Credential {
    issuer: String,
    subject: String,
    registered_id: String,
    scopes: Vec<String>,
    window: Window,
    status: Vec<StatusEntry>,
}

impl Credential {
    fn parse(payload: &[u8]) -> Result<Credential, DiaError> {
        let bad = |m: String| DiaError::Malformed(m);
        let jwt: Value =
            serde_json::from_slice(payload).map_err(|e| bad(format!("payload: {e}")))?;
        let vc = credential_of(&jwt);
        let types = strings(&vc["type"]);
        if !types.iter().any(|t| t == "VerifiableCredential") {
            return Err(bad("type must include VerifiableCredential".into()));
        }
        if !types.iter().any(|t| t == "DigitalIdentityAnchor") {
            return Err(bad(
                "type must include DigitalIdentityAnchor (a UNTP Digital Identity Anchor)".into(),
            ));
        }
        let issuer = issuer_of(&jwt);
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
        Ok(Credential {
            issuer,
            subject: subject_id,
            registered_id,
            scopes: strings(&subject["registrationScopeList"]),
            window: Window::read(&jwt).map_err(bad)?,
            status: StatusEntry::read(vc).map_err(bad)?,
        })
    }

    fn check_time(&self, now: i64, skew: i64) -> Result<(), DiaError> {
        self.window.check(now, skew).map_err(|e| match e {
            WindowError::Expired(t) => DiaError::Expired(t),
            WindowError::NotYetValid(t) => DiaError::NotYetValid(t),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
        assert_eq!(c.window.valid_until.as_ref().unwrap().0, 1_798_761_600);
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
        assert_eq!(c.window.valid_until.unwrap().0, 1_800_000_000);
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
    fn malformed_jws_are_errors_not_panics() {
        for text in [
            "",
            "a.b",
            "a.b.c.d",
            "e30.e30.",
            "e30.e30.AB",
            &"a".repeat(MAX_DIA_BYTES + 1),
        ] {
            assert!(Jws::parse(text, MAX_DIA_BYTES).is_err(), "{text:.20}");
        }
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"did:web:a.example#k"}"#);
        // Trap 2: a last signature character with non-zero trailing bits.
        let text = format!("{header}.e30.{}B", "A".repeat(84));
        assert!(Jws::parse(&text, MAX_DIA_BYTES).is_err());
    }
}

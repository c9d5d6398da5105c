//! Authentication for the management API, and identifier-prefix scopes. Two schemes: `Bearer` API keys (here) and
//! `DID`-signed requests from issuers listed in `did_writers` (`did`).
//!
//! Secrets are never stored: configured keys carry the SHA-256 of their secret, and a presented token is hashed and
//! compared in constant time against every key.

pub mod dia;
pub mod did;

use crate::config::{ConfigError, Settings};
use crate::did::{DidError, DidResolver};
use crate::identifier::Parser;
pub use crate::identifier::pattern::PathPattern as Scope;
use crate::registry::{Coordination, StoreError};
pub use did::{RequestTarget, SignedBody};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "missing credentials: send Authorization: Bearer <API key> or Authorization: DID <signed request token>"
    )]
    Missing,
    #[error("unknown or malformed bearer token")]
    Invalid,
    /// Nothing can write: no admin token, no configured or stored key, no DID writer.
    #[error(
        "this server has no credentials at all: start it with IDR_ADMIN_TOKEN set, add [[keys]] to its configuration, \
         or create a key with `idr keys create --name NAME --scope admin`"
    )]
    NoCredentials,
    #[error("this key expired; create a new one with `idr keys create`")]
    Expired,
    #[error("malformed DID request token: {0}")]
    DidToken(String),
    #[error("DID request token claim `{claim}`: {reason}")]
    DidClaim { claim: &'static str, reason: String },
    #[error(
        "{0} is not a DID writer on this resolver (did_writers); a party registered with a trust anchor sends its Digital Identity Anchor in the DIA header"
    )]
    UnknownSigner(String),
    /// Boxed: the DID error inside keeps every other error large otherwise.
    #[error(transparent)]
    Dia(Box<dia::DiaError>),
    #[error("cannot resolve {did} to check the signature: {error}")]
    DidResolution { did: String, error: DidError },
    #[error("key {kid}: {reason}")]
    DidKey { kid: String, reason: String },
    #[error("the signature does not verify with the key {0}")]
    Signature(String),
    #[error(
        "this DID request token was already used (its jti is remembered until it expires); sign a new token for every request"
    )]
    Replay,
    /// The replay check could not reach the store: the request is refused as unavailable, not unauthorised.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<dia::DiaError> for AuthError {
    fn from(error: dia::DiaError) -> Self {
        AuthError::Dia(Box::new(error))
    }
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The Digital Identity Anchor the request carried, verified: its owner scope is in `scopes` already; its
    /// contributor roles and the reason it owns nothing (if so) are here.
    pub dia: Option<Arc<dia::DiaGrant>>,
}

impl Principal {
    pub fn may_access(&self, canonical_path: &str) -> bool {
        self.scopes.iter().any(|s| s.covers(canonical_path))
    }
}

struct ApiKey {
    digest: [u8; 32],
    principal: Principal,
    /// Unix seconds after which the key no longer authenticates.
    expires: Option<u64>,
}

/// Keys from the config file and `IDR_ADMIN_TOKEN` (fixed for the process), plus keys created with `idr keys`
/// (read from the store at start-up and re-read periodically, so a revocation reaches every replica).
pub struct Authenticator {
    keys: Vec<ApiKey>,
    stored: RwLock<Arc<Vec<ApiKey>>>,
    did: did::DidWriters,
}

/// A key created with `idr keys create`, as stored: only the secret's hash.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredKey {
    pub name: String,
    pub sha256: String,
    pub scopes: Vec<String>,
    /// Unix seconds.
    pub created: u64,
    pub expires: Option<u64>,
    pub revoked: bool,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Authenticator {
    /// Builds the key table and the DID writers; a scope that cannot match any canonical identifier is a
    /// configuration error. DID-signed requests also need `with_did_resolver`.
    pub fn from_settings(
        settings: &Settings,
        parser: &Parser,
    ) -> Result<Authenticator, ConfigError> {
        let mut keys = Vec::with_capacity(settings.keys.len() + 1);
        for (i, k) in settings.keys.iter().enumerate() {
            let digest = parse_hex_digest(&k.sha256).ok_or_else(|| {
                ConfigError::invalid(format!("keys[{i}].sha256"), "must be 64 hex digits")
            })?;
            let scopes = k
                .scopes
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    Scope::parse_canonical(s, parser)
                        .map_err(|e| ConfigError::invalid(format!("keys[{i}].scopes[{j}]"), e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            keys.push(ApiKey {
                digest,
                principal: Principal {
                    name: k.name.clone(),
                    scopes,
                    dia: None,
                },
                expires: None,
            });
        }
        if let Some(token) = &settings.admin_token {
            let principal = Principal {
                name: "admin".into(),
                scopes: vec![Scope::All],
                dia: None,
            };
            keys.push(ApiKey {
                digest: digest(token),
                principal,
                expires: None,
            });
        }
        Ok(Authenticator {
            keys,
            stored: RwLock::new(Arc::new(Vec::new())),
            did: did::DidWriters::from_settings(settings, parser)?,
        })
    }

    /// The resolver that fetches the DID documents of `did_writers`, of trust anchors and of DIA holders, and the
    /// client that fetches DIA status lists.
    pub fn with_did_resolver(
        mut self,
        resolver: Arc<DidResolver>,
        outbound: Arc<crate::outbound::Outbound>,
    ) -> Authenticator {
        self.did.set_resolver(resolver);
        self.did.set_outbound(outbound);
        self
    }

    /// The configured trust anchors.
    pub fn trust_anchors(&self) -> &dia::TrustAnchors {
        self.did.trust_anchors()
    }

    pub fn has_did_writers(&self) -> bool {
        !self.did.is_empty()
    }

    /// Whether any credential could authenticate: the admin token, a configured or stored key, a DID writer.
    pub fn has_credentials(&self) -> bool {
        !self.keys.is_empty()
            || self.has_did_writers()
            || !self
                .stored
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
    }

    /// A server without any credential says so, rather than calling every token unknown.
    fn unless_empty(&self, error: AuthError) -> AuthError {
        match error {
            AuthError::Missing | AuthError::Invalid if !self.has_credentials() => {
                AuthError::NoCredentials
            }
            other => other,
        }
    }

    /// Replaces the stored keys with `records` (name, JSON): revoked ones are dropped, and one that no longer
    /// parses (a scope whose scheme is gone) is skipped with a warning rather than locking everyone out.
    pub fn load_stored(&self, records: &[(String, String)], parser: &Parser) {
        let mut keys = Vec::new();
        for (name, json) in records {
            let parsed = serde_json::from_str::<StoredKey>(json)
                .map_err(|e| e.to_string())
                .and_then(|k| api_key(&k, parser));
            match parsed {
                Ok(Some(key)) => keys.push(key),
                Ok(None) => {}
                Err(e) => tracing::warn!(key = name, error = %e, "stored API key skipped"),
            }
        }
        *self.stored.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }

    /// Checks an `Authorization` header value of either scheme against the request it came with. A DID-signed
    /// request also yields the SHA-256 its body must have; `nonces` remembers its token so it works once.
    pub async fn authenticate_request(
        &self,
        authorization: Option<&str>,
        target: &RequestTarget<'_>,
        nonces: &dyn Coordination,
        parser: &Parser,
    ) -> Result<(Principal, Option<SignedBody>), AuthError> {
        let header = authorization.ok_or_else(|| self.unless_empty(AuthError::Missing))?;
        let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if !scheme.eq_ignore_ascii_case(did::SCHEME) {
            return self.authenticate(Some(header)).map(|p| (p, None));
        }
        let (principal, body) = self
            .did
            .authenticate(token.trim(), target, nonces, parser)
            .await?;
        Ok((principal, Some(body)))
    }

    /// Checks an `Authorization: Bearer` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        self.bearer(authorization).map_err(|e| self.unless_empty(e))
    }

    fn bearer(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let header = authorization.ok_or(AuthError::Missing)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Invalid);
        }
        self.by_digest(&digest(token.trim()))
    }

    /// The key whose secret has this SHA-256, while it is neither revoked nor expired: how a console session, which
    /// keeps the digest and never the secret, re-checks its key on every request.
    pub fn by_digest(&self, presented: &[u8; 32]) -> Result<Principal, AuthError> {
        let stored = self
            .stored
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        // Compare against every key so timing does not reveal which one matched.
        let mut found = None;
        for key in self.keys.iter().chain(stored.iter()) {
            if bool::from(key.digest.ct_eq(presented)) {
                found = Some(key);
            }
        }
        let key = found.ok_or(AuthError::Invalid)?;
        if key.expires.is_some_and(|e| now() >= e) {
            return Err(AuthError::Expired);
        }
        Ok(key.principal.clone())
    }
}

fn api_key(k: &StoredKey, parser: &Parser) -> Result<Option<ApiKey>, String> {
    if k.revoked {
        return Ok(None);
    }
    let digest = parse_hex_digest(&k.sha256).ok_or("sha256 must be 64 hex digits")?;
    let scopes = k
        .scopes
        .iter()
        .map(|s| Scope::parse_canonical(s, parser))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(ApiKey {
        digest,
        principal: Principal {
            name: k.name.clone(),
            scopes,
            dia: None,
        },
        expires: k.expires,
    }))
}

pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Lower-case hex of a secret's SHA-256, as written in the `[[keys]]` config.
pub fn hex_digest(secret: &str) -> String {
    digest(secret).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeySettings, Overrides};

    fn authenticator() -> Authenticator {
        let mut settings =
            Settings::load_with_env(&Overrides::default(), &Default::default()).unwrap();
        settings.admin_token = Some("root-secret".into());
        settings.keys = vec![KeySettings {
            name: "acme".into(),
            // sha256("acme-secret"), computed with coreutils sha256sum.
            sha256: "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c".into(),
            scopes: vec!["01/0952012*".into(), "414/9520123456788".into()],
        }];
        Authenticator::from_settings(&settings, &Parser::embedded().unwrap()).unwrap()
    }

    #[test]
    fn tokens_are_checked_against_hashes() {
        let auth = authenticator();
        assert!(matches!(
            auth.authenticate(None).unwrap_err(),
            AuthError::Missing
        ));
        assert!(matches!(
            auth.authenticate(Some("Bearer nope")).unwrap_err(),
            AuthError::Invalid
        ));
        assert!(matches!(
            auth.authenticate(Some("Basic acme-secret")).unwrap_err(),
            AuthError::Invalid
        ));
        assert_eq!(
            auth.authenticate(Some("Bearer root-secret")).unwrap().name,
            "admin"
        );
        assert_eq!(
            auth.authenticate(Some("bearer  acme-secret "))
                .unwrap()
                .name,
            "acme"
        );
    }

    #[test]
    fn scopes_cover_prefixes_and_subtrees() {
        let acme = authenticator()
            .authenticate(Some("Bearer acme-secret"))
            .unwrap();
        assert!(acme.may_access("01/09520123456788"));
        assert!(acme.may_access("01/09520123456788/10/ABC"));
        assert!(!acme.may_access("01/09506000134369"));
        assert!(acme.may_access("414/9520123456788"));
        assert!(acme.may_access("414/9520123456788/254/1"));
        assert!(!acme.may_access("414/95201234567880"));
        assert!(!acme.may_access("00/095201200000000003"));
    }

    #[test]
    fn unmatchable_scopes_stop_start_up() {
        let mut settings =
            Settings::load_with_env(&Overrides::default(), &Default::default()).unwrap();
        settings.keys = vec![KeySettings {
            name: "typo".into(),
            sha256: "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c".into(),
            scopes: vec!["01/9520123456788".into(), "gtin/0952*".into()],
        }];
        let err = Authenticator::from_settings(&settings, &Parser::embedded().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("keys[0].scopes[1]"), "{err}");
    }

    #[test]
    fn unmatchable_did_writer_scopes_stop_start_up() {
        let mut settings =
            Settings::load_with_env(&Overrides::default(), &Default::default()).unwrap();
        settings.did_writers = vec![crate::config::DidWriterSettings {
            did: "did:web:brand.example".into(),
            scopes: vec!["01/0952012*".into(), "gtin/0952*".into()],
        }];
        let err = Authenticator::from_settings(&settings, &Parser::embedded().unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("did_writers[0].scopes[1]"), "{err}");
    }

    #[tokio::test]
    async fn did_tokens_of_unknown_signers_are_refused_before_any_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::registry::embedded::EmbeddedStore::open(dir.path()).unwrap();
        let auth = authenticator();
        let target = RequestTarget {
            method: "PUT",
            url: "http://localhost/api/v1/anchors/01/09520123456788",
            dia: None,
        };
        let b64 = |v: serde_json::Value| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = b64(serde_json::json!({"alg": "EdDSA", "kid": "did:web:nobody.example#k"}));
        let claims = b64(serde_json::json!({"htm": "PUT", "htu": target.url,
            "bh": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", "iat": now(), "exp": now() + 60, "jti": "1"}));
        let token = format!("DID {header}.{claims}.{}", "A".repeat(86));
        let err = auth
            .authenticate_request(Some(&token), &target, &store, &Parser::embedded().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::UnknownSigner(ref did) if did == "did:web:nobody.example"),
            "{err}"
        );
        // Bearer keys still work through the same entry point, with no body hash to check.
        let (principal, body) = auth
            .authenticate_request(
                Some("Bearer acme-secret"),
                &target,
                &store,
                &Parser::embedded().unwrap(),
            )
            .await
            .unwrap();
        assert_eq!((principal.name.as_str(), body), ("acme", None));
    }

    #[test]
    fn hex_digest_matches_known_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            hex_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

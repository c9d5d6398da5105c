//! DID-signed requests: an issuer signs each management request with a key from its own did:web DID document, so
//! the resolver holds nothing secret for it and the issuer rotates keys by editing its document.
//!
//! `Authorization: DID <compact JWS>`. The protected header carries `alg` (`ES256` or `EdDSA`) and `kid`, an absolute
//! DID URL (`did:web:brand.example#key-1`) naming a verification method listed under the document's
//! `authentication`. The payload binds the token to one request, after DPoP (RFC 9449): `htm` (the method), `htu`
//! (the URL as received: public origin, path and query), `bh` (base64url SHA-256 of the body), `iat`, `exp` and
//! `jti`. docs/security.md states the rules for clients.
//!
//! The token is split and base64url-decoded here, strictly, before ssi sees any of it: ssi-jws 0.5 panics on a
//! signature with a malformed last character (crate notes, trap 2), so ssi only ever gets decoded bytes.

use super::dia::{Fetchers, TrustAnchors, UncheckedStatus};
use super::{AuthError, Principal, Scope, now};
use crate::config::{ConfigError, Settings};
pub(super) use crate::credential::excerpt;
use crate::credential::keys::{Relationship, SignatureFailure, listed_key, verify_signature};
use crate::did::{DidError, DidResolver};
use crate::identifier::Parser;
use crate::identifier::did_web::DidWeb;
use crate::outbound::Outbound;
use crate::registry::Coordination;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use ssi::dids::Document;
use ssi::jwk::{Algorithm, JWK};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The `Authorization` scheme.
pub const SCHEME: &str = "DID";
/// The signature algorithms accepted, as advertised in `WWW-Authenticate`.
pub const ALGORITHMS: &str = "ES256 EdDSA";
/// Real tokens are a few hundred bytes; the bound caps the work spent on junk.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_JTI_BYTES: usize = 256;

/// The SHA-256 a DID-signed request's body must have (its `bh` claim); checked where the body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedBody(pub [u8; 32]);

impl SignedBody {
    /// Compares with the body as received; a mismatch names the `bh` claim.
    pub fn check(&self, body: &[u8]) -> Result<(), AuthError> {
        let actual: [u8; 32] = Sha256::digest(body).into();
        if actual == self.0 {
            return Ok(());
        }
        Err(claim(
            "bh",
            format!(
                "the body's SHA-256 is {}, the token signed {}",
                URL_SAFE_NO_PAD.encode(actual),
                URL_SAFE_NO_PAD.encode(self.0)
            ),
        ))
    }
}

/// What a token must match: the request as this resolver received it.
#[derive(Clone, Copy, Debug)]
pub struct RequestTarget<'a> {
    pub method: &'a str,
    /// Public origin, then the path and query exactly as received.
    pub url: &'a str,
    /// The `DIA` header, a Digital Identity Anchor credential for the signer (`auth::dia`).
    pub dia: Option<&'a str>,
}

#[derive(Clone)]
struct Writer {
    did: DidWeb,
    scopes: Vec<Scope>,
}

/// The configured `did_writers` and what checking their tokens needs.
pub struct DidWriters {
    writers: HashMap<String, Writer>,
    anchors: TrustAnchors,
    resolver: Option<Arc<DidResolver>>,
    /// Fetches status lists of DIAs.
    outbound: Option<Arc<Outbound>>,
    max_lifetime: i64,
    skew: i64,
}

impl DidWriters {
    /// Parses `did_writers`; a scope that cannot match any canonical identifier is a configuration error.
    pub fn from_settings(settings: &Settings, parser: &Parser) -> Result<DidWriters, ConfigError> {
        let mut writers = HashMap::new();
        for (i, w) in settings.did_writers.iter().enumerate() {
            let did = DidWeb::parse(&w.did).map_err(|e| {
                ConfigError::invalid(format!("did_writers[{i}].did"), e.to_string())
            })?;
            let scopes = w
                .scopes
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    Scope::parse_canonical(s, parser).map_err(|e| {
                        ConfigError::invalid(format!("did_writers[{i}].scopes[{j}]"), e)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            writers.insert(w.did.clone(), Writer { did, scopes });
        }
        let limits = &settings.did_auth;
        Ok(DidWriters {
            writers,
            anchors: TrustAnchors::from_settings(settings, parser)?,
            resolver: None,
            outbound: None,
            max_lifetime: i64::try_from(limits.max_token_seconds).unwrap_or(i64::MAX),
            skew: i64::try_from(limits.clock_skew_seconds).unwrap_or(i64::MAX),
        })
    }

    /// No DID can write: no `did_writers` and no `trust_anchors`.
    pub fn is_empty(&self) -> bool {
        self.writers.is_empty() && self.anchors.is_empty()
    }

    pub fn trust_anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    pub fn set_resolver(&mut self, resolver: Arc<DidResolver>) {
        self.resolver = Some(resolver);
    }

    pub fn set_outbound(&mut self, outbound: Arc<Outbound>) {
        self.outbound = Some(outbound);
    }

    /// Verifies a token for `target` and remembers its `jti` in `nonces` (shared by every replica of a Redis
    /// store), so a second use is refused. The cheap checks come first: a DID document is fetched only for a
    /// configured DID and a token that is otherwise in order.
    pub async fn authenticate(
        &self,
        token: &str,
        target: &RequestTarget<'_>,
        nonces: &dyn Coordination,
        parser: &Parser,
    ) -> Result<(Principal, SignedBody), AuthError> {
        let token = Token::parse(token)?;
        let signer = self.signer(&token.kid, target.dia.is_some())?;
        let at = now_signed();
        token
            .claims
            .check(target, at, self.max_lifetime, self.skew)?;
        // A DIA's signature is checked before the signer's document is fetched: only a DID a trust anchor vouches
        // for makes this resolver contact its host. Its status list comes last, after the request's own signature
        // and jti: a copy of a public DIA on a forged request fetches no list.
        let unchecked = match target.dia {
            Some(dia) => Some(self.dia(dia, &signer.did, at, parser).await?),
            None => None,
        };
        let document = self.document(&signer.did).await?;
        let key = authentication_key(&document, &token.kid)?;
        token.verify(&key)?;
        self.claim_jti(signer.did.as_str(), &token.claims, at, nonces)
            .await?;
        let grant = match unchecked {
            Some(unchecked) => Some(
                self.anchors
                    .check_status(unchecked, at, self.fetchers())
                    .await?,
            ),
            None => None,
        };
        let mut scopes = signer.scopes;
        if let Some(Ok(owned)) = grant.as_ref().map(|g| &g.owner) {
            scopes.push(owned.clone());
        }
        let principal = Principal {
            name: signer.did.to_string(),
            scopes,
            dia: grant.map(Arc::new),
        };
        Ok((principal, SignedBody(token.claims.body_sha256)))
    }

    async fn dia(
        &self,
        dia: &str,
        signer: &DidWeb,
        at: i64,
        parser: &Parser,
    ) -> Result<UncheckedStatus, AuthError> {
        Ok(self
            .anchors
            .verify(dia, signer, at, self.fetchers(), parser)
            .await?)
    }

    fn fetchers(&self) -> Fetchers<'_> {
        Fetchers {
            resolver: self.resolver.as_deref(),
            outbound: self.outbound.as_deref(),
        }
    }

    /// The signer named by the DID part of `kid`: a configured writer, or (with a DIA, when trust anchors are
    /// configured) any did:web DID, with no scopes of its own.
    fn signer(&self, kid: &str, has_dia: bool) -> Result<Writer, AuthError> {
        match self.writer(kid) {
            Ok(writer) => Ok(writer.clone()),
            Err(AuthError::UnknownSigner(did)) if has_dia && !self.anchors.is_empty() => {
                let did = DidWeb::parse(&did).map_err(|e| {
                    malformed(format!(
                        "kid: {:?} is not a did:web DID: {e}",
                        excerpt(&did)
                    ))
                })?;
                Ok(Writer {
                    did,
                    scopes: Vec::new(),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The writer named by the DID part of `kid`. Unknown DIDs are refused before anything is fetched, so a
    /// token cannot make the resolver contact hosts the operator did not list.
    fn writer(&self, kid: &str) -> Result<&Writer, AuthError> {
        let (did, fragment) = kid.split_once('#').unwrap_or((kid, ""));
        if fragment.is_empty() {
            return Err(malformed(format!(
                "kid {:?} must be a DID URL whose fragment names the key, e.g. did:web:brand.example#key-1",
                excerpt(kid)
            )));
        }
        self.writers
            .get(did)
            .ok_or_else(|| AuthError::UnknownSigner(excerpt(did)))
    }

    async fn document(&self, did: &DidWeb) -> Result<Arc<Document>, AuthError> {
        let failed = |error| AuthError::DidResolution {
            did: did.to_string(),
            error,
        };
        let resolver = self
            .resolver
            .as_ref()
            .ok_or_else(|| failed(DidError::Disabled))?;
        resolver.resolve(did).await.map_err(failed)
    }

    /// Remembers the token's `jti` until the token can no longer be accepted (`exp` plus the skew allowance).
    async fn claim_jti(
        &self,
        did: &str,
        claims: &Claims,
        at: i64,
        nonces: &dyn Coordination,
    ) -> Result<(), AuthError> {
        let remaining = claims.exp.saturating_add(self.skew).saturating_sub(at);
        let ttl = Duration::from_secs(u64::try_from(remaining).unwrap_or(0) + 1);
        // Hashed: a fixed-size key whatever the jti holds, and no jti bytes in store key names.
        let nonce: String = Sha256::digest(format!("{did}\n{}", claims.jti))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if nonces.claim_nonce(&nonce, ttl).await? {
            Ok(())
        } else {
            Err(AuthError::Replay)
        }
    }
}

/// A compact JWS, decoded but not yet verified.
struct Token<'a> {
    alg: Algorithm,
    kid: String,
    claims: Claims,
    /// `header.payload`, as signed.
    signing_input: &'a [u8],
    signature: Vec<u8>,
}

/// The protected header. No `flatten` or `untagged` here (crate notes, trap 1).
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawClaims {
    htm: String,
    htu: String,
    bh: String,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(Debug, PartialEq, Eq)]
struct Claims {
    htm: String,
    htu: String,
    body_sha256: [u8; 32],
    iat: i64,
    exp: i64,
    jti: String,
}

impl<'a> Token<'a> {
    fn parse(token: &'a str) -> Result<Token<'a>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(malformed(
                "a compact JWS is three base64url parts separated by dots",
            ));
        };
        let header: Header = json_part("header", header)?;
        let claims = Claims::parse(&decode_part("payload", payload)?)?;
        let signature = decode_part("signature", signature)?;
        if header.crit.is_some() {
            return Err(malformed("no crit header parameter is understood here"));
        }
        let alg = match header.alg.as_str() {
            "ES256" => Algorithm::ES256,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                return Err(malformed(format!(
                    "alg {:?} is not accepted; use ES256 or EdDSA",
                    excerpt(other)
                )));
            }
        };
        let kid = header
            .kid
            .ok_or_else(|| malformed("the header has no kid (the DID URL of the signing key)"))?;
        let signed = token.rfind('.').unwrap_or(0);
        Ok(Token {
            alg,
            kid,
            claims,
            signing_input: &token.as_bytes()[..signed],
            signature,
        })
    }

    /// Checks the signature with ssi, after checking that the key is of the kind `alg` names (ssi would verify an
    /// Ed25519 key whatever `alg` says).
    fn verify(&self, key: &JWK) -> Result<(), AuthError> {
        verify_signature(self.alg, key, self.signing_input, &self.signature).map_err(|e| match e {
            SignatureFailure::KeyType => AuthError::DidKey {
                kid: excerpt(&self.kid),
                reason: format!("its key type cannot verify {}", self.alg),
            },
            SignatureFailure::Invalid => AuthError::Signature(excerpt(&self.kid)),
        })
    }
}

impl Claims {
    fn parse(payload: &[u8]) -> Result<Claims, AuthError> {
        let mut json = serde_json::Deserializer::from_slice(payload);
        let raw: RawClaims = serde_path_to_error::deserialize(&mut json).map_err(|e| {
            match e.path().to_string().as_str() {
                "." => malformed(format!("payload: {}", e.inner())),
                path => malformed(format!("payload claim `{path}`: {}", e.inner())),
            }
        })?;
        let body_sha256 = URL_SAFE_NO_PAD
            .decode(&raw.bh)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                claim(
                    "bh",
                    "must be the base64url (unpadded) SHA-256 of the request body",
                )
            })?;
        if raw.jti.is_empty() || raw.jti.len() > MAX_JTI_BYTES {
            return Err(claim(
                "jti",
                format!("must be 1-{MAX_JTI_BYTES} bytes, unique per token"),
            ));
        }
        Ok(Claims {
            htm: raw.htm,
            htu: raw.htu,
            body_sha256,
            iat: raw.iat,
            exp: raw.exp,
            jti: raw.jti,
        })
    }

    /// The request binding and the time window, at `now` (Unix seconds).
    fn check(
        &self,
        target: &RequestTarget<'_>,
        now: i64,
        max_lifetime: i64,
        skew: i64,
    ) -> Result<(), AuthError> {
        if self.htm != target.method {
            return Err(claim(
                "htm",
                format!(
                    "the token is for {:?}, the request is {}",
                    excerpt(&self.htm),
                    target.method
                ),
            ));
        }
        if self.htu != target.url {
            return Err(claim(
                "htu",
                format!(
                    "the token is for {:?}, the request is for {:?} (public origin, path and query as sent)",
                    excerpt(&self.htu),
                    excerpt(target.url)
                ),
            ));
        }
        self.check_time(now, max_lifetime, skew)
    }

    fn check_time(&self, now: i64, max_lifetime: i64, skew: i64) -> Result<(), AuthError> {
        let lifetime = self.exp.saturating_sub(self.iat);
        if lifetime <= 0 {
            return Err(claim("exp", "must be later than iat"));
        }
        if lifetime > max_lifetime {
            return Err(claim(
                "exp",
                format!(
                    "the token is valid for {lifetime} s; at most {max_lifetime} s is accepted (did_auth.max_token_seconds)"
                ),
            ));
        }
        if self.iat > now.saturating_add(skew) {
            return Err(claim(
                "iat",
                format!(
                    "is {} s in the future (check the signer's clock)",
                    self.iat - now
                ),
            ));
        }
        if now > self.exp.saturating_add(skew) {
            return Err(claim(
                "exp",
                format!("the token expired {} s ago", now - self.exp),
            ));
        }
        Ok(())
    }
}

/// The public key of the verification method `kid`, which must be listed under the document's `authentication`:
/// a key the issuer lists only for signing credentials (`assertionMethod`) cannot write here.
fn authentication_key(document: &Document, kid: &str) -> Result<JWK, AuthError> {
    listed_key(document, kid, Relationship::Authentication).map_err(|reason| AuthError::DidKey {
        kid: excerpt(kid),
        reason,
    })
}

pub(super) fn decode_part(name: &str, part: &str) -> Result<Vec<u8>, AuthError> {
    if part.is_empty() {
        return Err(malformed(format!("the {name} is empty")));
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| malformed(format!("the {name} is not unpadded base64url: {e}")))
}

fn json_part<T: serde::de::DeserializeOwned>(name: &str, part: &str) -> Result<T, AuthError> {
    serde_json::from_slice(&decode_part(name, part)?).map_err(|e| malformed(format!("{name}: {e}")))
}

fn malformed(reason: impl Into<String>) -> AuthError {
    AuthError::DidToken(reason.into())
}

fn claim(claim: &'static str, reason: impl Into<String>) -> AuthError {
    AuthError::DidClaim {
        claim,
        reason: reason.into(),
    }
}

pub(super) fn now_signed() -> i64 {
    i64::try_from(now()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const URL: &str = "https://id.example.com/api/v1/anchors/01/09520123456788";
    const TARGET: RequestTarget<'static> = RequestTarget {
        method: "PUT",
        url: URL,
        dia: None,
    };

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn claims_json() -> serde_json::Value {
        json!({
            "htm": "PUT", "htu": URL, "bh": b64(&Sha256::digest(b"{}")),
            "iat": NOW, "exp": NOW + 60, "jti": "4b1c0e7a"
        })
    }

    fn token(header: &serde_json::Value, claims: &serde_json::Value, signature: &str) -> String {
        format!(
            "{}.{}.{signature}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        )
    }

    fn header() -> serde_json::Value {
        json!({"alg": "ES256", "kid": "did:web:brand.example#key-1", "typ": "JWT"})
    }

    fn parse_error(token: &str) -> String {
        match Token::parse(token) {
            Ok(_) => panic!("{token} parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn claims_parse_into_the_request_binding() {
        let sig = b64(&[7; 64]);
        let text = token(&header(), &claims_json(), &sig);
        let parsed = Token::parse(&text).unwrap();
        assert_eq!(parsed.alg, Algorithm::ES256);
        assert_eq!(parsed.kid, "did:web:brand.example#key-1");
        assert_eq!(parsed.signature, vec![7; 64]);
        assert_eq!(
            parsed.signing_input,
            text.rsplit_once('.').unwrap().0.as_bytes()
        );
        let expected: [u8; 32] = Sha256::digest(b"{}").into();
        assert_eq!(parsed.claims.body_sha256, expected);
        assert_eq!((parsed.claims.iat, parsed.claims.exp), (NOW, NOW + 60));
        assert!(parsed.claims.check(&TARGET, NOW, 300, 30).is_ok());
        // Extra claims (iss, aud…) are ignored; numbers work with ssi's arbitrary_precision on.
        let mut extra = claims_json();
        extra["iss"] = json!("did:web:brand.example");
        extra["nested"] = json!({"ratio": 0.5, "n": 1});
        assert!(Token::parse(&token(&header(), &extra, &sig)).is_ok());
    }

    #[test]
    fn each_missing_or_bad_claim_is_named() {
        let sig = b64(&[7; 64]);
        for name in ["htm", "htu", "bh", "iat", "exp", "jti"] {
            let mut claims = claims_json();
            claims.as_object_mut().unwrap().remove(name);
            let err = parse_error(&token(&header(), &claims, &sig));
            assert!(err.contains(&format!("`{name}`")), "{name}: {err}");
        }
        for (name, value) in [
            ("bh", json!("not base64!")),
            ("bh", json!(b64(b"too short"))),
            ("jti", json!("")),
            ("iat", json!(1.5)),
            ("exp", json!("soon")),
        ] {
            let mut claims = claims_json();
            claims[name] = value.clone();
            let err = parse_error(&token(&header(), &claims, &sig));
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn headers_are_checked() {
        let sig = b64(&[7; 64]);
        for (header, needle) in [
            (json!({"alg": "HS256", "kid": "did:web:a.example#k"}), "alg"),
            (json!({"alg": "none", "kid": "did:web:a.example#k"}), "alg"),
            (json!({"alg": "ES256"}), "kid"),
            (
                json!({"alg": "ES256", "kid": "did:web:a.example#k", "crit": ["exp"]}),
                "crit",
            ),
        ] {
            let err = parse_error(&token(&header, &claims_json(), &sig));
            assert!(err.contains(needle), "{header}: {err}");
        }
    }

    #[test]
    fn malformed_base64_and_shapes_are_errors_not_panics() {
        let good = token(&header(), &claims_json(), &b64(&[7; 64]));
        // Trap 2: a last signature character with non-zero trailing bits.
        let trailing = format!("{}B", &good[..good.len() - 1]);
        assert!(parse_error(&trailing).contains("signature"));
        for bad in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{good}="),
            format!("{good}*"),
            good.replacen('.', "..", 1),
            format!("{}.{}", good, "x"),
            "x".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            parse_error(&bad);
        }
    }

    #[test]
    fn the_request_binding_is_compared_exactly() {
        let claims = Claims::parse(claims_json().to_string().as_bytes()).unwrap();
        let check = |method: &str, url: &str| {
            claims
                .check(
                    &RequestTarget {
                        method,
                        url,
                        dia: None,
                    },
                    NOW,
                    300,
                    30,
                )
                .unwrap_err()
                .to_string()
        };
        let with_query = format!("{URL}?hard=true");
        assert!(check("DELETE", URL).contains("`htm`"));
        assert!(check("put", URL).contains("`htm`"));
        assert!(check("PUT", &with_query).contains("`htu`"));
        assert!(
            check(
                "PUT",
                "http://id.example.com/api/v1/anchors/01/09520123456788"
            )
            .contains("`htu`")
        );
    }

    #[test]
    fn the_time_window_is_bounded() {
        let claims = |iat: i64, exp: i64| Claims {
            htm: "PUT".into(),
            htu: URL.into(),
            body_sha256: [0; 32],
            iat,
            exp,
            jti: "j".into(),
        };
        let window = |c: Claims, now| c.check_time(now, 300, 30).map_err(|e| e.to_string());
        assert!(window(claims(NOW, NOW + 300), NOW).is_ok());
        assert!(window(claims(NOW, NOW + 60), NOW + 89).is_ok(), "skew");
        assert!(window(claims(NOW + 29, NOW + 60), NOW).is_ok(), "skew");
        assert!(
            window(claims(NOW, NOW + 60), NOW + 91)
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            window(claims(NOW + 31, NOW + 60), NOW)
                .unwrap_err()
                .contains("`iat`")
        );
        assert!(
            window(claims(NOW, NOW + 301), NOW)
                .unwrap_err()
                .contains("max_token_seconds")
        );
        assert!(window(claims(NOW, NOW), NOW).unwrap_err().contains("`exp`"));
        assert!(
            window(claims(i64::MIN, i64::MAX), NOW).is_err(),
            "no overflow"
        );
        assert!(
            window(claims(i64::MAX - 1, i64::MAX), NOW).is_err(),
            "no overflow"
        );
    }

    #[test]
    fn keys_come_from_the_authentication_relationship() {
        let p256 = JWK::generate_p256().to_public();
        let ed = JWK::generate_ed25519().unwrap();
        let multibase = ssi::security::MultibaseBuf::encode(
            ssi::security::multibase::Base::Base58Btc,
            ed.to_multicodec().unwrap().as_bytes(),
        );
        let did = "did:web:brand.example";
        let document: Document = serde_json::from_value(json!({
            "id": did,
            "verificationMethod": [
                {"id": format!("{did}#p256"), "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": p256},
                {"id": format!("{did}#ed"), "type": "Multikey", "controller": did,
                 "publicKeyMultibase": multibase.as_str()},
                {"id": format!("{did}#vc"), "type": "JsonWebKey2020", "controller": did, "publicKeyJwk": p256}
            ],
            "authentication": ["#p256", format!("{did}#ed"), format!("{did}#ghost")],
            "assertionMethod": [format!("{did}#vc")]
        }))
        .unwrap();
        assert_eq!(
            authentication_key(&document, &format!("{did}#p256")).unwrap(),
            p256
        );
        assert_eq!(
            authentication_key(&document, &format!("{did}#ed")).unwrap(),
            ed.to_public()
        );
        let err = |kid: &str| authentication_key(&document, kid).unwrap_err().to_string();
        assert!(err(&format!("{did}#vc")).contains("authentication"));
        assert!(err(&format!("{did}#nope")).contains("authentication"));
        assert!(err(&format!("{did}#ghost")).contains("does not define"));
    }

    fn signed(alg: Algorithm, key: &JWK) -> String {
        let header = json!({"alg": alg.to_string(), "kid": "did:web:brand.example#k"});
        let unsigned = token(&header, &claims_json(), "");
        let input = unsigned.trim_end_matches('.');
        let signature = ssi::claims::jws::sign_bytes(alg, input.as_bytes(), key).unwrap();
        format!("{input}.{}", b64(&signature))
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_type() {
        let p256 = JWK::generate_p256();
        let ed = JWK::generate_ed25519().unwrap();
        for (alg, key, other) in [
            (Algorithm::ES256, &p256, JWK::generate_p256()),
            (Algorithm::EdDSA, &ed, JWK::generate_ed25519().unwrap()),
        ] {
            let text = signed(alg, key);
            let token = Token::parse(&text).unwrap();
            token.verify(&key.to_public()).unwrap();
            assert!(matches!(
                token.verify(&other.to_public()),
                Err(AuthError::Signature(_))
            ));
            let mut flipped = Token::parse(&text).unwrap();
            flipped.signature[10] ^= 1;
            assert!(flipped.verify(&key.to_public()).is_err());
        }
        // An EdDSA key cannot stand in for ES256, whatever ssi would do with it.
        let text = signed(Algorithm::EdDSA, &ed);
        let mut confused = Token::parse(&text).unwrap();
        confused.alg = Algorithm::ES256;
        assert!(matches!(
            confused.verify(&ed.to_public()),
            Err(AuthError::DidKey { .. })
        ));
    }

    #[test]
    fn body_hashes_compare_exactly() {
        let signed = SignedBody(Sha256::digest(b"{\"a\":1}").into());
        assert!(signed.check(b"{\"a\":1}").is_ok());
        assert!(
            signed
                .check(b"{\"a\":2}")
                .unwrap_err()
                .to_string()
                .contains("`bh`")
        );
        let empty = SignedBody(Sha256::digest(b"").into());
        assert_eq!(
            b64(&empty.0),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
            "SHA-256 of nothing, as in the docs"
        );
    }

    proptest! {
        #[test]
        fn any_text_is_refused_without_a_panic(text in "[A-Za-z0-9_\\-.=+/]{0,200}") {
            let _ = Token::parse(&text);
        }

        #[test]
        fn any_signature_suffix_is_refused_without_a_panic(suffix in "[A-Za-z0-9_\\-=+/*]{0,100}") {
            let prefix = token(&header(), &claims_json(), "");
            let _ = Token::parse(&format!("{prefix}{suffix}"));
        }
    }
}

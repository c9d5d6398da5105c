//! Compact JWS (an enveloped credential, `vc+jwt`), decoded here, strictly, before ssi sees any of it (ssi panics
//! on a signature with a malformed last character: crate notes, trap 2), and verified with a key its issuer lists
//! under `assertionMethod`.

use super::excerpt;
use super::keys::{
    Relationship, SignatureFailure, algorithm, did_key, listed_key, verify_signature,
};
use crate::did::{DidError, DidResolver};
use crate::identifier::did_web::DidWeb;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use ssi::jwk::Algorithm;

/// A compact JWS, decoded.
pub struct Jws {
    pub alg: Algorithm,
    /// The DID URL of the signing key.
    pub kid: String,
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// A credential issuer whose key can be found: did:web (its document fetched through idr's resolver) or did:key
/// (the key is the DID; nothing is fetched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Issuer {
    Web(DidWeb),
    Key(String),
}

impl Issuer {
    /// `did` as an issuer, or why its key cannot be found.
    pub fn parse(did: &str) -> Result<Issuer, String> {
        if did.starts_with("did:key:") {
            did_key(did)?;
            return Ok(Issuer::Key(did.to_string()));
        }
        if did.starts_with("did:web:") {
            return DidWeb::parse(did)
                .map(Issuer::Web)
                .map_err(|e| e.to_string());
        }
        Err(format!(
            "the issuer {} is neither a did:web nor a did:key DID",
            excerpt(did)
        ))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Issuer::Web(did) => did.as_str(),
            Issuer::Key(did) => did,
        }
    }
}

impl std::fmt::Display for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a JWS did not verify with its issuer's key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The issuer's DID document could not be had.
    #[error("cannot resolve {did}: {error}")]
    Resolution { did: String, error: DidError },
    /// The `kid` names no usable key of the issuer.
    #[error("issuer key {kid}: {reason}")]
    Key { kid: String, reason: String },
    #[error("the signature does not verify with the issuer's key {0}")]
    Signature(String),
}

impl Jws {
    /// Splits and decodes `text` (at most `max_bytes`); `Err` says what is malformed.
    pub fn parse(text: &str, max_bytes: usize) -> Result<Jws, String> {
        let text = text.trim();
        if text.len() > max_bytes {
            return Err(format!("longer than {max_bytes} bytes"));
        }
        let parts: Vec<&str> = text.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(
                "an enveloped credential (vc+jwt) is three base64url parts separated by dots"
                    .into(),
            );
        };
        let header: Value = serde_json::from_slice(&decode("header", header)?)
            .map_err(|e| format!("header: {e}"))?;
        if header.get("crit").is_some() {
            return Err("no crit header parameter is understood here".into());
        }
        let alg = header["alg"]
            .as_str()
            .and_then(algorithm)
            .ok_or("header alg must be ES256 or EdDSA")?;
        let kid = header["kid"]
            .as_str()
            .ok_or("the header has no kid (the DID URL of the issuer's key)")?
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

    /// Verifies the signature with a key `issuer` lists under `assertionMethod` (a did:key's one key). A did:web
    /// issuer's document is fetched through `resolver`; with none, resolution is `DidError::Disabled`.
    pub async fn verify_by(
        &self,
        issuer: &Issuer,
        resolver: Option<&DidResolver>,
    ) -> Result<(), KeyError> {
        let key_error = |reason: String| KeyError::Key {
            kid: excerpt(&self.kid),
            reason,
        };
        let (did, fragment) = self.kid.split_once('#').unwrap_or((&self.kid, ""));
        if did != issuer.as_str() || fragment.is_empty() {
            return Err(key_error(format!(
                "must be a DID URL of the issuer {issuer} naming one of its keys (issuer#key)"
            )));
        }
        let key = match issuer {
            Issuer::Key(did) => did_key(did).map_err(key_error)?,
            Issuer::Web(web) => {
                let resolution = |error| KeyError::Resolution {
                    did: web.to_string(),
                    error,
                };
                let resolver = resolver.ok_or_else(|| resolution(DidError::Disabled))?;
                let document = resolver.resolve(web).await.map_err(resolution)?;
                listed_key(&document, &self.kid, Relationship::AssertionMethod)
                    .map_err(key_error)?
            }
        };
        verify_signature(self.alg, &key, &self.signing_input, &self.signature).map_err(
            |e| match e {
                SignatureFailure::KeyType => {
                    key_error(format!("its key type cannot verify {}", self.alg))
                }
                SignatureFailure::Invalid => KeyError::Signature(excerpt(&self.kid)),
            },
        )
    }
}

fn decode(name: &str, part: &str) -> Result<Vec<u8>, String> {
    if part.is_empty() {
        return Err(format!("the {name} is empty"));
    }
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| format!("the {name} is not unpadded base64url: {e}"))
}

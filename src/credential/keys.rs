//! Issuers' keys: the key a DID document lists for a relationship (`listed_key`), the key a did:key is
//! (`did_key`, decoded offline: nothing is fetched), and a signature checked with one (`verify_signature`).

use ssi::dids::document::{DIDVerificationMethod, ResourceRef};
use ssi::dids::{DIDURL, Document};
use ssi::jwk::{Algorithm, JWK, Params};

/// The verification relationship a key must be listed under.
#[derive(Clone, Copy, Debug)]
pub enum Relationship {
    /// Signing requests.
    Authentication,
    /// Signing credentials.
    AssertionMethod,
}

/// The public key of the verification method `kid`, listed under `relationship` in `document`, or why not.
pub fn listed_key(
    document: &Document,
    kid: &str,
    relationship: Relationship,
) -> Result<JWK, String> {
    let url = DIDURL::new(kid).map_err(|_| "not a DID URL".to_string())?;
    let relationships = &document.verification_relationships;
    let (methods, name) = match relationship {
        Relationship::Authentication => (&relationships.authentication, "authentication"),
        Relationship::AssertionMethod => (&relationships.assertion_method, "assertionMethod"),
    };
    let listed = methods
        .iter()
        .any(|v| *v.id().resolve(document.id.as_did()) == *url);
    if !listed {
        return Err(format!("the DID document does not list it under {name}"));
    }
    match document.find_resource(url) {
        Some(ResourceRef::VerificationMethod(method)) => public_key(method),
        _ => Err(format!(
            "the DID document lists it under {name} but does not define it"
        )),
    }
}

/// Verifies a JWS signature (already base64url-decoded) with ssi, after checking that the key is of the kind `alg`
/// names (ssi would verify an Ed25519 key whatever `alg` says). `Err` says which check failed.
pub fn verify_signature(
    alg: Algorithm,
    key: &JWK,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureFailure> {
    let fits = match (&key.params, alg) {
        (Params::EC(ec), Algorithm::ES256) => ec.curve.as_deref() == Some("P-256"),
        (Params::OKP(okp), Algorithm::EdDSA) => okp.curve == "Ed25519",
        _ => false,
    };
    if !fits {
        return Err(SignatureFailure::KeyType);
    }
    // Both ES256 (r‖s) and Ed25519 signatures are 64 bytes.
    if signature.len() != 64 {
        return Err(SignatureFailure::Invalid);
    }
    ssi::claims::jws::verify_bytes(alg, signing_input, key, signature)
        .map_err(|_| SignatureFailure::Invalid)
}

/// Why `verify_signature` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFailure {
    /// The key cannot verify the algorithm named.
    KeyType,
    Invalid,
}

/// `ES256` or `EdDSA`, the algorithms accepted.
pub fn algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// `publicKeyJwk`, or a `publicKeyMultibase` holding a multicodec Ed25519 or P-256 public key.
pub fn public_key(method: &DIDVerificationMethod) -> Result<JWK, String> {
    if let Some(jwk) = method.properties.get("publicKeyJwk") {
        let jwk: JWK =
            serde_json::from_value(jwk.clone()).map_err(|e| format!("publicKeyJwk: {e}"))?;
        // A document that publishes private parts is broken, but only the public key is used either way.
        return Ok(jwk.to_public());
    }
    if let Some(value) = method.properties.get("publicKeyMultibase") {
        let text = value
            .as_str()
            .ok_or("publicKeyMultibase must be a string")?;
        return multibase_key(text).map_err(|e| format!("publicKeyMultibase: {e}"));
    }
    Err("the verification method has neither publicKeyJwk nor publicKeyMultibase".into())
}

/// The public key a `did:key` DID is (its method-specific id is the multibase multicodec key): Ed25519 or P-256.
pub fn did_key(did: &str) -> Result<JWK, String> {
    let id = did.strip_prefix("did:key:").ok_or("not a did:key DID")?;
    let id = id.split(['#', '?', '/']).next().unwrap_or("");
    multibase_key(id).map_err(|e| format!("did:key: {e}"))
}

/// A multibase multicodec Ed25519 or P-256 public key.
fn multibase_key(text: &str) -> Result<JWK, String> {
    let (_, bytes) = ssi::security::Multibase::new(text)
        .decode()
        .map_err(|e| e.to_string())?;
    let encoded = ssi::multicodec::MultiEncoded::new(&bytes).map_err(|e| e.to_string())?;
    let (codec, _) = encoded.parts();
    if codec != ssi::multicodec::ED25519_PUB && codec != ssi::multicodec::P256_PUB {
        return Err("only Ed25519 and P-256 public keys are accepted".into());
    }
    JWK::from_multicodec(encoded).map_err(|e| e.to_string())
}

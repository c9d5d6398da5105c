//! What a fetched target is: a credential enveloped as a compact JWS (a `vc+jwt` body, or an
//! `EnvelopedVerifiableCredential` whose `id` is a `data:` URL of one), a JSON-LD credential with a Data Integrity
//! proof, or no credential at all.

use super::Refusal;
use crate::credential::{excerpt, strings};
use crate::verification::Status;
use serde_json::Value;

/// The `data:` URL prefixes of an enveloped credential (`vc-ld+jwt` is an earlier draft's name, which ssi writes).
const DATA_PREFIXES: [&str; 3] = [
    "data:application/vc+jwt,",
    "data:application/vc-ld+jwt,",
    "data:application/jwt,",
];
/// Media types of a compact JWS body.
const JWS_TYPES: [&str; 3] = [
    "application/vc+jwt",
    "application/vc-ld+jwt",
    "application/jwt",
];

/// A credential as published.
#[derive(Clone, Debug, PartialEq)]
pub enum Envelope {
    /// A compact JWS whose payload is the credential.
    Jws(String),
    /// A JSON-LD credential with an embedded `proof`.
    DataIntegrity(Value),
}

impl Envelope {
    /// Reads `body` (served as `media_type`). No credential is `not-a-credential`; a credential that cannot be
    /// checked (an envelope that is not a `vc+jwt`, a credential with no proof) is `failed`.
    pub fn read(
        media_type: Option<&str>,
        body: &[u8],
        max_bytes: usize,
    ) -> Result<Envelope, Refusal> {
        let seen = media_type.unwrap_or("no media type");
        let not_credential = |what: String| Refusal::new(Status::NotACredential, what);
        let text = std::str::from_utf8(body)
            .map_err(|_| {
                not_credential(format!("the target is {seen}, not a credential (not text)"))
            })?
            .trim();
        if media_type.is_some_and(|m| JWS_TYPES.contains(&m)) || is_compact_jws(text) {
            return Ok(Envelope::Jws(text.to_string()));
        }
        if text.len() > max_bytes {
            return Err(Refusal::failed("the target is too large"));
        }
        let Ok(json) = serde_json::from_str::<Value>(text) else {
            return Err(not_credential(format!(
                "the target is {seen}, not a credential (a vc+jwt, or JSON with a proof)"
            )));
        };
        let types = strings(&json["type"]);
        if types.iter().any(|t| t == "EnvelopedVerifiableCredential") {
            let id = json["id"].as_str().unwrap_or("");
            return DATA_PREFIXES
                .iter()
                .find_map(|p| id.strip_prefix(p))
                .map(|jws| Envelope::Jws(jws.trim().to_string()))
                .ok_or_else(|| {
                    Refusal::failed(format!(
                        "the EnvelopedVerifiableCredential's id {:?} is not a data:application/vc+jwt, URL",
                        excerpt(id)
                    ))
                });
        }
        if !types.iter().any(|t| t == "VerifiableCredential") {
            return Err(not_credential(format!(
                "the target is {seen} but no verifiable credential (its type does not include VerifiableCredential)"
            )));
        }
        if json.get("proof").is_none_or(Value::is_null) {
            return Err(Refusal::failed(
                "the credential carries no proof: publish it enveloped (application/vc+jwt) or with a Data Integrity \
                 proof",
            ));
        }
        Ok(Envelope::DataIntegrity(json))
    }
}

/// Three non-empty base64url parts separated by dots.
fn is_compact_jws(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Whether an encrypted target's media type can be an encrypted payload: JSON (UNTP's de-facto envelope, a JWE in
/// JSON), JOSE (a compact JWE), binary or text, or none at all. A page (HTML) or an image is not.
pub fn plausibly_encrypted(media_type: Option<&str>) -> bool {
    match media_type {
        None => true,
        Some(m) => {
            m.ends_with("json")
                || m.ends_with("+jwt")
                || m.starts_with("application/jose")
                || m == "application/jwe"
                || m == "application/octet-stream"
                || m == "text/plain"
        }
    }
}

/// Whether a body is markup (an HTML or XML page), whatever its media type says: its first non-blank byte is `<`.
pub fn looks_like_markup(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markup_is_told_by_its_first_byte() {
        assert!(looks_like_markup(b"  <!doctype html><p>hi</p>"));
        assert!(looks_like_markup(b"<?xml version=\"1.0\"?><a/>"));
        assert!(!looks_like_markup(
            br#"{"cipherText":"AAEC","iv":"AA","tag":"AA"}"#
        ));
        assert!(!looks_like_markup(
            b"eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn"
        ));
        assert!(!looks_like_markup(b""));
    }

    const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJ0eXBlIjpbXX0.c2lnbmF0dXJl";

    fn read(media_type: Option<&str>, body: &str) -> Result<Envelope, Refusal> {
        Envelope::read(media_type, body.as_bytes(), 1 << 20)
    }

    #[test]
    fn enveloped_credentials_are_read_in_each_spelling() {
        assert_eq!(
            read(Some("application/vc+jwt"), JWS),
            Ok(Envelope::Jws(JWS.into()))
        );
        // A compact JWS served under a generic type is still one.
        assert_eq!(
            read(Some("text/plain"), &format!("{JWS}\n")),
            Ok(Envelope::Jws(JWS.into()))
        );
        for prefix in ["data:application/vc+jwt,", "data:application/vc-ld+jwt,"] {
            let body = json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": "EnvelopedVerifiableCredential", "id": format!("{prefix}{JWS}")});
            assert_eq!(
                read(Some("application/ld+json"), &body.to_string()),
                Ok(Envelope::Jws(JWS.into()))
            );
        }
    }

    #[test]
    fn data_integrity_credentials_are_recognised() {
        let body = json!({"type": ["DigitalProductPassport", "VerifiableCredential"],
            "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022"}});
        assert!(matches!(
            read(Some("application/ld+json"), &body.to_string()),
            Ok(Envelope::DataIntegrity(_))
        ));
    }

    #[test]
    fn what_is_no_credential_says_what_it_is() {
        let html = read(Some("text/html"), "<!doctype html><title>Product</title>").unwrap_err();
        assert_eq!(html.status, Status::NotACredential);
        assert!(html.reason.contains("text/html"), "{}", html.reason);
        let png = Envelope::read(
            Some("image/png"),
            &[0x89, b'P', b'N', b'G', 0xff, 0xfe],
            100,
        )
        .unwrap_err();
        assert_eq!(png.status, Status::NotACredential);
        assert!(png.reason.contains("image/png"), "{}", png.reason);
        let json = read(Some("application/json"), r#"{"name": "a product"}"#).unwrap_err();
        assert_eq!(json.status, Status::NotACredential);
        assert!(
            json.reason.contains("VerifiableCredential"),
            "{}",
            json.reason
        );
        assert_eq!(
            read(None, "a.b").unwrap_err().status,
            Status::NotACredential
        );
    }

    #[test]
    fn credentials_that_cannot_be_checked_fail() {
        let unsigned = json!({"type": ["VerifiableCredential"], "issuer": "did:web:a.example"});
        let r = read(Some("application/ld+json"), &unsigned.to_string()).unwrap_err();
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("no proof"), "{}", r.reason);
        let odd =
            json!({"type": "EnvelopedVerifiableCredential", "id": "data:application/cose,AAAA"});
        let r = read(None, &odd.to_string()).unwrap_err();
        assert_eq!(r.status, Status::Failed);
        assert!(r.reason.contains("data:application/vc+jwt"), "{}", r.reason);
    }

    #[test]
    fn encrypted_payloads_are_json_jose_or_binary() {
        for m in [
            None,
            Some("application/json"),
            Some("application/jose"),
            Some("application/octet-stream"),
        ] {
            assert!(plausibly_encrypted(m), "{m:?}");
        }
        for m in ["text/html", "image/png", "application/pdf"] {
            assert!(!plausibly_encrypted(Some(m)), "{m}");
        }
    }
}

//! Data Integrity proofs (a JSON-LD credential with an embedded `proof`), verified with ssi's cryptosuites
//! (`AnySuite`: eddsa-rdfc-2022, ecdsa-rdfc-2019, Ed25519Signature2020, JsonWebSignature2020 and the others ssi
//! builds with; not the JCS suites, which ssi 0.16 lacks).
//!
//! ssi fetches nothing here: the issuer's DID document is resolved beforehand through idr's own did:web resolver
//! (guarded outbound client) and handed to ssi as data, a did:key is decoded by ssi offline, and JSON-LD contexts come
//! only from ssi's static set. A context outside it is refused by name before any proof work.
//!
//! ssi's RDF canonicalisation has no work limit. So before any of it: the credential is at most `MAX_BYTES` of JSON,
//! has at most `MAX_BLANK_NODES` objects without an `id`, and names no blank node by label (`_:…`, which lets a
//! writer wire blank nodes into the graphs that make canonicalisation explode). These bounds do not bound the work
//! (a credential of 21 objects within them took 18.5 s), so `verify_offline` runs only in the verifier process
//! (`super::verifier`), which is killed at its time limit. What is left, and why the enveloped form is preferred:
//! docs/security.md.

use ssi::claims::VerificationParameters;
use ssi::claims::data_integrity::{AnySuite, DataIntegrity};
use ssi::claims::vc::AnyJsonCredential;
use ssi::dids::{
    DID, DIDKey, DIDMethodResolver, DIDResolver, VerificationMethodDIDResolver, resolution,
};
use ssi::json_ld::{ContextLoader, Iri, Loader, StaticLoader};
use ssi::verification_methods::AnyMethod;

/// A Data Integrity credential is at most this many bytes of JSON.
pub const MAX_BYTES: usize = 64 * 1024;
/// A Data Integrity credential has at most this many JSON objects without an `id` (blank nodes once read as RDF).
pub const MAX_BLANK_NODES: usize = 256;

/// Refuses, before any canonicalisation, a credential (`text`, read as `credential`) beyond the bounds, naming the
/// bound.
pub fn bounded(credential: &serde_json::Value, text: &str) -> Result<(), String> {
    if text.len() > MAX_BYTES {
        return Err(format!(
            "the Data Integrity credential is {} bytes, more than the {MAX_BYTES} bytes this resolver \
             canonicalises; publish it enveloped (application/vc+jwt)",
            text.len()
        ));
    }
    let mut blank = 0;
    count_blank_nodes(credential, &mut blank)?;
    Ok(())
}

/// Counts objects without an `id` into `blank` (stopping past `MAX_BLANK_NODES`), outside `@context`; refuses a
/// blank node label anywhere.
fn count_blank_nodes(value: &serde_json::Value, blank: &mut usize) -> Result<(), String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.starts_with("_:") => Err(format!(
            "the Data Integrity credential names the blank node {}; this resolver does not canonicalise labelled \
             blank nodes: give the object an IRI id, or publish the credential enveloped (application/vc+jwt)",
            crate::credential::excerpt(s)
        )),
        Value::Array(items) => items.iter().try_for_each(|v| count_blank_nodes(v, blank)),
        Value::Object(map) => {
            let is_node = !["@value", "@list", "@set"]
                .iter()
                .any(|k| map.contains_key(*k));
            if is_node && !map.contains_key("id") && !map.contains_key("@id") {
                *blank += 1;
                if *blank > MAX_BLANK_NODES {
                    return Err(format!(
                        "the Data Integrity credential has more than {MAX_BLANK_NODES} objects without an id \
                         (blank nodes), more than this resolver canonicalises; publish it enveloped \
                         (application/vc+jwt)"
                    ));
                }
            }
            map.iter()
                .filter(|(key, _)| key.as_str() != "@context")
                .try_for_each(|(_, v)| count_blank_nodes(v, blank))
        }
        _ => Ok(()),
    }
}

/// DID resolution from what was fetched beforehand: the one did:web document, or a did:key decoded offline.
struct Prefetched {
    did: String,
    document: Option<Vec<u8>>,
}

impl DIDResolver for Prefetched {
    async fn resolve_representation<'a>(
        &'a self,
        did: &'a DID,
        options: resolution::Options,
    ) -> Result<resolution::Output<Vec<u8>>, resolution::Error> {
        match did.method_name() {
            "key" => {
                DIDKey
                    .resolve_method_representation(did.method_specific_id(), options)
                    .await
            }
            "web" => match &self.document {
                Some(bytes) if did.as_str() == self.did => Ok(resolution::Output::from_content(
                    bytes.clone(),
                    Some("application/did+json".to_owned()),
                )),
                _ => Err(resolution::Error::NotFound),
            },
            other => Err(resolution::Error::MethodNotSupported(other.to_owned())),
        }
    }
}

/// Verifies the Data Integrity credential `text` (within `bounded`) of `issuer`, whose DID document (did:web) is
/// `document`, here and now: nothing is fetched, and nothing bounds the time it takes (`super::verifier` runs it in
/// a process of its own). A did:key is decoded offline; any other DID than `issuer` is not found.
pub async fn verify_offline(
    text: &str,
    issuer: String,
    document: Option<Vec<u8>>,
) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the credential is not JSON: {e}"))?;
    // Checked again here: the verifier process trusts nothing it reads.
    bounded(&json, text)?;
    known_contexts(&json["@context"]).await?;
    let credential: DataIntegrity<AnyJsonCredential, AnySuite> =
        ssi::claims::data_integrity::from_json_str(text).map_err(|e| {
            format!("the credential or its Data Integrity proof cannot be read: {e}")
        })?;
    let resolver = VerificationMethodDIDResolver::<_, AnyMethod>::new(Prefetched {
        did: issuer,
        document,
    });
    let params = VerificationParameters::from_resolver(resolver)
        .with_json_ld_loader(ContextLoader::default());
    match credential.verify(params).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(invalid)) => Err(format!(
            "the Data Integrity proof does not verify: {invalid}"
        )),
        Err(error) => Err(format!(
            "the Data Integrity proof could not be checked: {error}"
        )),
    }
}

/// Every context named by IRI must be one of ssi's static contexts: nothing is fetched.
async fn known_contexts(context: &serde_json::Value) -> Result<(), String> {
    let named: Vec<&str> = match context {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(items) => items.iter().filter_map(|c| c.as_str()).collect(),
        _ => Vec::new(),
    };
    for iri in named {
        let known = match Iri::new(iri) {
            Ok(iri) => StaticLoader.load(iri).await.is_ok(),
            Err(_) => false,
        };
        if !known {
            return Err(format!(
                "the JSON-LD context {} is not known to this resolver, so its Data Integrity proof cannot be \
                 checked; publish the credential enveloped (application/vc+jwt)",
                crate::credential::excerpt(iri)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bound_of(credential: &serde_json::Value) -> Result<(), String> {
        bounded(credential, &credential.to_string())
    }

    #[test]
    fn credentials_within_the_bounds_pass() {
        let objects: Vec<_> = (0..MAX_BLANK_NODES - 2)
            .map(|i| json!({"name": format!("part {i}")}))
            .collect();
        // The credential and its subject are two more objects without an id; `@context` objects do not count.
        let credential = json!({"@context": [{"@vocab": "https://a.example/"}], "type": ["VerifiableCredential"],
            "credentialSubject": {"parts": objects, "mass": {"@value": "1"}}});
        assert_eq!(bound_of(&credential), Ok(()));
    }

    #[test]
    fn each_bound_is_named() {
        let big = json!({"type": ["VerifiableCredential"], "note": "x".repeat(MAX_BYTES)});
        let error = bound_of(&big).unwrap_err();
        assert!(error.contains("65536 bytes"), "{error}");
        let objects: Vec<_> = (0..MAX_BLANK_NODES).map(|i| json!({"n": i})).collect();
        let many = json!({"id": "urn:a", "credentialSubject": {"id": "urn:b", "parts": objects}});
        assert_eq!(bound_of(&many["credentialSubject"]["parts"]), Ok(()));
        let error = bound_of(&json!([many, {"n": 0}])).unwrap_err();
        assert!(
            error.contains("more than 256 objects without an id"),
            "{error}"
        );
        let labelled = json!({"id": "urn:a", "knows": {"id": "_:b0", "knows": "_:b1"}});
        let error = bound_of(&labelled).unwrap_err();
        assert!(error.contains("_:b0"), "{error}");
    }

    #[tokio::test]
    async fn offline_verification_reads_the_credential_within_the_bounds() {
        let error = verify_offline("{", "did:key:z".into(), None)
            .await
            .unwrap_err();
        assert!(error.contains("not JSON"), "{error}");
        let labelled = json!({"id": "urn:a", "knows": "_:b0"}).to_string();
        let error = verify_offline(&labelled, "did:key:z".into(), None)
            .await
            .unwrap_err();
        assert!(error.contains("_:b0"), "{error}");
        let error = verify_offline("{}", "did:key:z".into(), None)
            .await
            .unwrap_err();
        assert!(error.contains("cannot be read"), "{error}");
    }
}

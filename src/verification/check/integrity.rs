//! Data Integrity proofs (a JSON-LD credential with an embedded `proof`), verified with ssi's cryptosuites
//! (`AnySuite`: eddsa-rdfc-2022, ecdsa-rdfc-2019, Ed25519Signature2020, JsonWebSignature2020 and the others ssi
//! builds with; not the JCS suites, which ssi 0.16 lacks).
//!
//! ssi fetches nothing here: the issuer's DID document is resolved beforehand through idr's own did:web resolver
//! (guarded outbound client) and handed to ssi as data, a did:key is decoded by ssi offline, and JSON-LD contexts come
//! only from ssi's static set. A context outside it is refused by name before any proof work.

use ssi::claims::VerificationParameters;
use ssi::claims::data_integrity::{AnySuite, DataIntegrity};
use ssi::claims::vc::AnyJsonCredential;
use ssi::dids::{
    DID, DIDKey, DIDMethodResolver, DIDResolver, VerificationMethodDIDResolver, resolution,
};
use ssi::json_ld::{ContextLoader, Iri, Loader, StaticLoader};
use ssi::verification_methods::AnyMethod;

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

/// Verifies the Data Integrity credential `text` of `issuer`, whose DID document (did:web) is `document`. Runs on
/// the blocking pool: canonicalisation is CPU work, and ssi's futures need not be `Send`. `Err` is the reason.
pub async fn verify(text: String, issuer: String, document: Option<Vec<u8>>) -> Result<(), String> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(verify_here(&text, issuer, document)))
        .await
        .unwrap_or_else(|_| Err("the Data Integrity proof could not be checked".into()))
}

async fn verify_here(text: &str, issuer: String, document: Option<Vec<u8>>) -> Result<(), String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the credential is not JSON: {e}"))?;
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

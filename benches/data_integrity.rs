//! One Data Integrity verification in process against one in a verifier process (`verification::check::verifier`),
//! alternately, on one good did:key credential (eddsa-rdfc-2022, contexts ssi holds offline).
//! `cargo bench --bench data_integrity -- [rounds]` prints the median and the 10th and 90th percentiles of each, in
//! milliseconds; docs/performance.md records the figures.

use idr::verification::check::{integrity, verifier};
use ssi::claims::data_integrity::{AnySuite, CryptographicSuite, ProofOptions};
use ssi::verification_methods::{AnyMethod, ReferenceOrOwned, SingleSecretSigner};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A DPP about a GTIN, signed with a Data Integrity proof by a fresh did:key; with its issuer.
async fn signed() -> (String, String) {
    let key = ssi::JWK::generate_ed25519().expect("Ed25519 key");
    let did = ssi::dids::DIDKey::generate(&key).unwrap().to_string();
    let method = ssi::dids::DIDKey::generate_url(&key).unwrap().to_string();
    let credential = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["DigitalProductPassport", "VerifiableCredential"],
        "id": "https://issuer.example/credentials/1",
        "issuer": {"type": ["CredentialIssuer"], "id": did, "name": "An issuer"},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"type": ["ProductPassport"], "id": "example:passport/1",
            "product": {"type": ["Product"], "id": "https://id.gs1.org/01/09520123456788", "name": "Battery"}}
    });
    let vc: ssi::claims::vc::v2::JsonCredential = serde_json::from_value(credential).unwrap();
    let options = ProofOptions::from_method_and_options(
        ReferenceOrOwned::<AnyMethod>::Reference(ssi::json_ld::IriBuf::new(method).unwrap()),
        Default::default(),
    );
    let suite = AnySuite::pick(&key, options.verification_method.as_ref()).expect("a suite");
    let resolver = ssi::dids::DIDResolver::into_vm_resolver::<AnyMethod>(ssi::dids::DIDKey);
    let signer = SingleSecretSigner::new(key).into_local();
    let signed = suite
        .sign(vc, &resolver, &signer, options)
        .await
        .expect("sign");
    (serde_json::to_string(&signed).unwrap(), did)
}

/// Median, 10th and 90th percentile, in milliseconds.
fn summary(mut times: Vec<f64>) -> String {
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:.1} ms, p10 {:.1}, p90 {:.1}",
        at(0.5),
        at(0.1),
        at(0.9)
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (credential, issuer) = signed().await;
        let program = PathBuf::from(env!("CARGO_BIN_EXE_idr"));
        let runner = verifier::Verifier::new(program, 1, Duration::from_secs(5));
        let request = verifier::Request {
            credential: credential.clone(),
            issuer: issuer.clone(),
            document: None,
        };
        let (mut here, mut apart) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            integrity::verify_offline(&credential, issuer.clone(), None)
                .await
                .expect("verifies in process");
            here.push(started.elapsed().as_secs_f64() * 1000.0);
            let started = Instant::now();
            runner
                .verify(&request, Duration::from_secs(5))
                .await
                .expect("verifies in a verifier process");
            apart.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        println!("in process:          {}", summary(here));
        println!("in a verifier process: {}", summary(apart));
    });
}

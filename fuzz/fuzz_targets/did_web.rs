//! Any string as a did:web DID: the mapper answers Ok or Err, never panics, and an accepted DID maps to an https URL
//! on a host that is not an IP address.
#![no_main]

use idr::identifier::did_web::DidWeb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(did) = DidWeb::parse(&text) {
        let url = did.document_url();
        assert_eq!(url.scheme(), "https");
        assert!(matches!(url.host(), Some(url::Host::Domain(_))), "{url}");
        assert!(url.path().ends_with("/did.json"));
    }
});

//! Any bytes as a management API body (native anchor or Pyx registration): parsing and validation answer with
//! field errors, never panic.
#![no_main]

use idr::codelist::AccessCodes;
use idr::identifier::scheme::SchemeSet;
use idr::vocabulary::Vocabulary;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static FIXTURE: OnceLock<(Vocabulary, SchemeSet, AccessCodes)> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let (vocab, schemes, codes) = FIXTURE.get_or_init(|| {
        (Vocabulary::embedded(), SchemeSet::embedded().expect("schemes"), AccessCodes::embedded())
    });
    if idr::http::guard::json_depth(data) > 32 {
        return; // refused before parsing by the server
    }
    if let Ok(submission) = idr::registration::parse(data) {
        let gs1 = schemes.gs1().expect("gs1");
        let _ = idr::registration::validate(submission, vocab, gs1, &idr::limits::Limits::default(), codes);
    }
    let _ = serde_json::from_slice::<idr::peer_formats::pyx::Body>(data);
    if let Ok(registration) = serde_json::from_slice::<idr::identifier::scheme::registered::Registration>(data) {
        let _ = registration.compile();
    }
});

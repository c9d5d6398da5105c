//! Any bytes as a request path and query: the parser answers Ok or Err, never panics (GS1 Digital Link compressed
//! segments included: any base64url last segment is tried), and an accepted identifier's canonical path parses back
//! to itself, as does its compressed form.
#![no_main]

use idr::identifier::Parser;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static PARSER: OnceLock<Parser> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let parser = PARSER.get_or_init(|| Parser::embedded().expect("shipped schemes"));
    let text = String::from_utf8_lossy(data);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    if let Ok(request) = parser.parse_request(path, query) {
        let canonical = request.identifier.canonical_path().to_string();
        let again = parser.parse_key(&canonical).expect("a canonical path parses");
        assert_eq!(again.canonical_path(), canonical);
        let _ = request.identifier.levels();
        if let Some(segment) = request.identifier.as_gs1().and_then(idr::identifier::gs1::compressed_path) {
            let again = parser
                .parse_request(&format!("/{segment}"), "")
                .expect("a compressed key parses");
            assert_eq!(again.identifier.canonical_path(), canonical);
        }
    }
});

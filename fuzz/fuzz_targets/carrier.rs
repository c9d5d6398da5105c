//! Any bytes as carrier data (scanner output, element strings, EPC URIs, Digital Link URIs): the conversion answers
//! Ok or Err, never panics, and what it accepts converts back from its element string, bracketed and unbracketed,
//! to the same URI.
#![no_main]

use idr::identifier::gs1::ParseOptions;
use idr::identifier::gs1::carrier::convert;
use libfuzzer_sys::fuzz_target;

const ROOT: &str = "https://r.example";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = ParseOptions::default();
    if let Ok(carrier) = convert(&text, &opts) {
        let uri = carrier.uri_under(ROOT);
        for back in [carrier.element_string(), carrier.barcode_data(), uri.clone()] {
            let again = convert(&back, &opts).expect("converted data converts back");
            assert_eq!(again.uri_under(ROOT), uri);
        }
    }
});

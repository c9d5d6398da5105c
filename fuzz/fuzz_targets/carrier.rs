//! Any bytes as carrier data (scanner output, element strings, EPC URIs, Digital Link URIs): the conversion answers
//! Ok or Err, never panics, and what it accepts converts back from its element string, bracketed and unbracketed,
//! to the same URI; and back to an EPC URI (the first byte choosing the company prefix length, a tag encoding and a
//! filter), which converts to the same key and writes the same EPC URI again.
#![no_main]

use idr::identifier::gs1::ParseOptions;
use idr::identifier::gs1::carrier::{Carrier, convert};
use libfuzzer_sys::fuzz_target;

const ROOT: &str = "https://r.example";
const TAGS: &[&str] = &["sgtin-96", "sgtin-198", "sscc-96", "sgln-96", "sgln-195", "grai-96", "giai-96",
    "giai-202", "gsrn-96", "gdti-96", "gdti-113", "gdti-174", "sgcn-96", "cpi-96", "cpi-var", "itip-110"];

fuzz_target!(|data: &[u8]| {
    let choice = data.first().copied().unwrap_or(0);
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let opts = ParseOptions::default();
    let Ok(carrier) = convert(&text, &opts) else {
        return;
    };
    let uri = carrier.uri_under(ROOT);
    for back in [carrier.element_string(), carrier.barcode_data(), uri.clone()] {
        let again = convert(&back, &opts).expect("converted data converts back");
        assert_eq!(again.uri_under(ROOT), uri);
    }
    let gcp = 6 + usize::from(choice % 7);
    let Ok(epc) = carrier.epc(Some(gcp)) else {
        return;
    };
    let pure = epc.pure_identity();
    let again = convert(&pure, &opts).expect("a written EPC URI converts");
    assert_same_key_but(&again, &carrier, &epc.not_carried);
    assert_eq!(again.epc(None).expect("its EPC").pure_identity(), pure);
    let tag = TAGS[usize::from(choice) % TAGS.len()];
    if let Ok(tag_uri) = epc.tag_uri(tag, choice % 8) {
        let again = convert(&tag_uri, &opts).expect("a written tag URI converts");
        assert_same_key_but(&again, &carrier, &epc.not_carried);
    }
});

/// `back` (converted from an EPC) has the key of `original` without the qualifiers the EPC does not carry, and
/// every qualifier it has with the original's value.
fn assert_same_key_but(back: &Carrier, original: &Carrier, not_carried: &[String]) {
    let (b, o) = (&back.link.key, &original.link.key);
    assert_eq!((b.primary_ai(), b.primary_value()), (o.primary_ai(), o.primary_value()));
    let kept: Vec<(&str, &str)> = o.qualifiers().filter(|(ai, _)| !not_carried.iter().any(|n| n == ai)).collect();
    assert_eq!(b.qualifiers().collect::<Vec<_>>(), kept);
}

//! GS1 Digital Link identifier parsing: request paths (with custom stems, compressed
//! EPC binary strings and Digital Link compressed segments), query-string AI attributes,
//! canonical key paths and the walk-up hierarchy used by the resolver.
//!
//! AI formats and primary-key/qualifier rules come from the GS1 Barcode
//! Syntax Dictionary via the generated `ai_table.rs`
//! (`scripts/gen-gs1-ai-table`). Verdicts follow GS1's reference syntax engine: every
//! linter the dictionary names (`lint`), the `req=`/`ex=` rules between the AIs of a
//! URI (`associations`), and its data-attribute rules (`request`).

#[rustfmt::skip]
mod ai_info;
#[rustfmt::skip]
mod ai_table;
mod associations;
pub mod carrier;
mod charset;
mod check_digit;
mod compression;
mod epc;
mod epc_uri;
mod error;
mod format;
mod key;
mod lint;
pub(crate) mod percent;
mod request;
mod segments;
pub mod to_epc;

pub(crate) use check_digit::mod10_valid;
pub use error::Gs1Error;
pub(crate) use error::excerpt;
pub use key::Gs1Key;
pub use request::parse_request;

/// Legacy leniency switches; both default to on.
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// Accept GTIN-8/12/13 under AI (01) and left-pad them to 14 digits.
    pub legacy_gtin: bool,
    /// Accept DL 1.1 convenience alphas (`gtin`, `lot`, `ser`, ...) as path AIs.
    pub convenience_alphas: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            legacy_gtin: true,
            convenience_alphas: true,
        }
    }
}

/// A parsed resolver request.
#[derive(Clone, Debug)]
pub struct DigitalLink {
    pub key: Gs1Key,
    /// Validated numeric-AI query attributes, decoded.
    pub attributes: Vec<(&'static str, String)>,
    /// The request was compressed: an EPC binary string or a Digital Link compressed segment.
    pub compressed: bool,
    /// The query to act on instead of the request's, when compressed data carried one: its attributes and other
    /// pairs (percent-encoded, in stream order; an EPC string's data attributes), then the request's own query.
    pub query: Option<String>,
    /// The data attributes (AIs) compressed data carried besides the key, as a query (percent-encoded): the
    /// uncompressed URI's data attributes, without the request's own query or non-AI pairs.
    pub carried: Option<String>,
    /// The EPC scheme of an EPC binary string.
    pub epc: Option<EpcScheme>,
}

/// The EPC scheme an EPC binary string was in (GS1 EPC Tag Data Standard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpcScheme {
    /// `SGTIN-96`, `DSGTIN+`, …
    pub name: &'static str,
    /// Its 8-bit header.
    pub header: u8,
    /// A TDS 1.x scheme's filter value and company prefix length in digits (the "+" schemes have neither).
    pub form: Option<(u8, usize)>,
}

impl EpcScheme {
    /// The tag encoding's name in a tag URI (`SGTIN-96` → `sgtin-96`), for the TDS 1.x schemes.
    pub fn tag_encoding(&self) -> Option<String> {
        self.form.map(|_| self.name.to_ascii_lowercase())
    }
}

/// The primary-key AIs we support, e.g. ["00","01","253",...].
pub fn primary_keys() -> &'static [&'static str] {
    ai_table::PRIMARY_KEYS
}

/// Whether a path segment is a GS1 Digital Link element: a known numeric AI or a convenience alpha (`gtin`).
pub fn is_path_alpha(segment: &str) -> bool {
    key::resolve_ai(segment, &ParseOptions::default()).is_some()
}

/// Whether some spelling of `segment` in another letter case could be a compressed URI segment the parser
/// decompresses: what a case-insensitive first-segment match would capture. For EPC binary strings that is `eh` +
/// lower-case hex or `ex` + base64url of 96 bits or more, or of at least the shortest EPC binary string of a key
/// (`epc::MIN_BITS`, 32 bits: a GIAI+) that begins with the header of a scheme idr decodes; others, like `example`
/// (header 0x6A), never decompress to a key. For Digital Link compression it is a spelling that decodes to a valid
/// key: every spelling for names of up to `CASE_VARIANT_LETTERS` letters, else the name as written, in lower and
/// in upper case. Ordinary words (`acme`, `products`) do not decode (the first bits of a segment must name an AI
/// or an optimisation, the values must fit and pass their checks).
pub fn could_be_compressed(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    if lower.starts_with("eh") && epc::could_be_epc(&lower) {
        return true;
    }
    // base64url has both cases: `ex` in any case followed by base64url characters as written.
    if lower.starts_with("ex") && epc::could_be_epc(&format!("ex{}", &segment[2..])) {
        return true;
    }
    compression::looks_compressed(segment)
        && case_variants(segment).any(|spelling| {
            parse_request(&spelling, "", &ParseOptions::default()).is_ok_and(|dl| dl.compressed)
        })
}

/// Names with more letters than this are checked in three spellings only (2^14 parses at most otherwise).
const CASE_VARIANT_LETTERS: u32 = 14;

/// Spellings of `segment` in other letter cases (`segment` itself first).
fn case_variants(segment: &str) -> impl Iterator<Item = String> + '_ {
    let letters: Vec<usize> = segment
        .bytes()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    let n = letters.len() as u32;
    let every = n <= CASE_VARIANT_LETTERS;
    let few = [
        segment.to_string(),
        segment.to_ascii_lowercase(),
        segment.to_ascii_uppercase(),
    ];
    let all = (0..if every { 1u32 << n } else { 0 }).map(move |mask| {
        let mut bytes = segment.as_bytes().to_vec();
        for (bit, &i) in letters.iter().enumerate() {
            bytes[i] = if mask >> bit & 1 == 1 {
                bytes[i].to_ascii_uppercase()
            } else {
                bytes[i].to_ascii_lowercase()
            };
        }
        String::from_utf8(bytes).unwrap_or_default()
    });
    few.into_iter().filter(move |_| !every).chain(all)
}

/// The key as a Digital Link compressed segment (`DBHKVAdpQgowOQ` for `01/09780345418913/21/12345`), written as
/// GS1's toolkit writes it; `None` if one of its AIs has no compressed form (or a value does not fit it).
pub fn compressed_path(key: &Gs1Key) -> Option<String> {
    let elements: Vec<_> = key.elements().collect();
    compression::compress(&elements, &[])
}

/// The AI a Digital Link convenience alpha or Pyx shortcode stands for (`gtin` → `01`).
pub fn ai_for_shortcode(shortcode: &str) -> Option<&'static str> {
    format::alpha_to_ai(&shortcode.to_ascii_lowercase())
}

/// Whether `ai` is a known AI (any AI in the dictionary, including ranges).
pub fn is_known_ai(ai: &str) -> bool {
    format::lookup_ai(ai).is_some()
}

/// A value as canonical paths hold it (percent-encoded as the GS1 Digital Link grammar requires).
pub fn encode_value(value: &str) -> String {
    let mut out = String::new();
    percent::encode_into(&mut out, value);
    out
}

/// A percent-encoded path segment decoded.
pub fn decode_value(segment: &str) -> Result<String, Gs1Error> {
    percent::decode(segment).map(|v| v.into_owned())
}

/// Whether `prefix` (decoded) can begin a value of the primary-key AI `ai`: `Err` says why not.
pub fn check_key_prefix(ai: &str, prefix: &str) -> Result<(), String> {
    if !primary_keys().contains(&ai) {
        return Err(format!("{ai} is not a GS1 primary key AI"));
    }
    let entry = format::lookup_ai(ai).ok_or_else(|| format!("{ai} is not a known AI"))?;
    format::validate_prefix(entry, prefix).map_err(|why| format!("the prefix {why}"))
}

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdict_tests;

//! W3C Verifiable Credentials as idr reads them, shared by Digital Identity Anchors (`auth::dia`) and verified links
//! (`verification::check`): compact JWS decoding and the issuer's key (`jws`, `keys`), the validity period
//! (`window`), BitstringStatusList entries and the status-list cache (`status`). The domain rules live here once.

pub mod jws;
pub mod keys;
pub mod status;
pub mod window;

use serde_json::Value;

/// Longest excerpt of a caller-supplied value quoted in an error.
const MAX_EXCERPT: usize = 160;

/// At most `MAX_EXCERPT` bytes of `text` (on a character boundary), marked when cut.
pub fn excerpt(text: &str) -> String {
    if text.len() <= MAX_EXCERPT {
        return text.to_string();
    }
    let mut end = MAX_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// A string or an array of strings, as a list.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// The credential inside a JWT payload: VC 2.0 (the payload is the credential) or VC 1.1 (its `vc` claim).
pub fn credential_of(jwt: &Value) -> &Value {
    jwt.get("vc").filter(|v| v.is_object()).unwrap_or(jwt)
}

/// The issuer a credential names (`issuer` as a string or an object's `id`, else the JWT's `iss`); empty if none.
pub fn issuer_of(jwt: &Value) -> String {
    match &credential_of(jwt)["issuer"] {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => jwt["iss"].as_str().unwrap_or("").to_string(),
    }
}

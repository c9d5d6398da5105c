//! did:web identifiers: a DID string is parsed once into a [`DidWeb`] that knows the URL of its DID document.
//!
//! The mapping follows the did:web method exactly: the method-specific identifier is a domain name (never an IP
//! address) with an optional port whose colon is percent-encoded (`%3A`), then optional `:`-separated path segments.
//! `did:web:example.com%3A3000:user:alice` is fetched from `https://example.com:3000/user/alice/did.json`; a DID with
//! no path from `https://{domain}/.well-known/did.json`.

use std::net::{IpAddr, Ipv6Addr};
use url::Url;

/// Longest DID accepted; real ones are far shorter, and this bounds error messages and cache keys.
const MAX_DID_BYTES: usize = 2048;
/// Longest excerpt of a DID quoted in an error message.
const MAX_EXCERPT: usize = 80;
const PREFIX: &str = "did:web:";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DidWebError {
    #[error("\"{0}\" is not a DID: {1}")]
    Syntax(String, String),
    #[error("the DID is longer than {MAX_DID_BYTES} characters")]
    TooLong,
    #[error("\"{0}\": the scheme `did` and the method name must be lowercase (did:web:…)")]
    Case(String),
    #[error("DID method `{0}` is not resolved here; only did:web is")]
    UnsupportedMethod(String),
    #[error("\"{0}\": did:web does not allow IP addresses, only domain names")]
    IpAddress(String),
    #[error("\"{0}\" is not a domain name: {1}")]
    Host(String, String),
    #[error("\"{0}\": the port must be 1-65535, written after `%3A`")]
    Port(String),
    #[error("\"{0}\": path segments must not be empty, `.` or `..`")]
    Segment(String),
    #[error("DID URL paths are not resolved (\"{0}\"); select a service with ?service=")]
    DidUrlPath(String),
    #[error("\"{0}\" is not an origin a did:web can name")]
    Origin(String),
}

/// A syntactically valid did:web DID and the URL of its DID document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DidWeb {
    did: String,
    document_url: Url,
}

impl DidWeb {
    /// Parses a DID exactly as given (no case folding: the DID document's `id` must equal this string).
    pub fn parse(did: &str) -> Result<DidWeb, DidWebError> {
        if did.len() > MAX_DID_BYTES {
            return Err(DidWebError::TooLong);
        }
        check_method(did)?;
        // ssi checks the generic DID syntax (allowed characters, percent-encoding, no trailing `:`).
        ssi::dids::DID::new(did).map_err(|e| DidWebError::Syntax(excerpt(did), e.1.to_string()))?;
        let specific = &did[PREFIX.len()..];
        let mut parts = specific.split(':');
        let authority = parts.next().unwrap_or_default();
        let (host, port) = split_authority(authority)?;
        let segments: Vec<&str> = parts.collect();
        if segments.iter().any(|s| is_dot_or_empty(s)) {
            return Err(DidWebError::Segment(excerpt(did)));
        }
        let path = if segments.is_empty() {
            ".well-known".to_string()
        } else {
            segments.join("/")
        };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let document_url = Url::parse(&format!("https://{host}{port}/{path}/did.json"))
            .map_err(|e| DidWebError::Host(excerpt(authority), e.to_string()))?;
        Ok(DidWeb {
            did: did.to_string(),
            document_url,
        })
    }

    /// The DID for a document hosted at `origin` (e.g. `https://id.example.com`) under `path` (`01/09520123456788`,
    /// segments as they appear in the URL): `did:web:id.example.com:01:09520123456788`. Characters a DID may not
    /// hold unencoded are percent-encoded; a port becomes `%3A{port}`.
    pub fn for_location(origin: &str, path: &str) -> Result<DidWeb, DidWebError> {
        let url = Url::parse(origin).map_err(|_| DidWebError::Origin(excerpt(origin)))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(_) => return Err(DidWebError::IpAddress(excerpt(origin))),
            None => return Err(DidWebError::Origin(excerpt(origin))),
        };
        let mut did = format!("{PREFIX}{host}");
        if let Some(port) = url.port() {
            did.push_str(&format!("%3A{port}"));
        }
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            did.push(':');
            did.push_str(&encode_segment(segment));
        }
        DidWeb::parse(&did)
    }

    pub fn as_str(&self) -> &str {
        &self.did
    }

    /// `https://…/did.json`, where the DID document lives.
    pub fn document_url(&self) -> &Url {
        &self.document_url
    }
}

impl std::fmt::Display for DidWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.did)
    }
}

/// `did:web:` exactly; a wrong case or another method gets its own message.
fn check_method(did: &str) -> Result<(), DidWebError> {
    if did.starts_with(PREFIX) {
        return Ok(());
    }
    let mut parts = did.splitn(3, ':');
    let (scheme, method) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !scheme.eq_ignore_ascii_case("did") || parts.next().is_none() {
        return Err(DidWebError::Syntax(
            excerpt(did),
            "expected did:{method}:{identifier}".into(),
        ));
    }
    if method.eq_ignore_ascii_case("web") || scheme != "did" {
        return Err(DidWebError::Case(excerpt(did)));
    }
    Err(DidWebError::UnsupportedMethod(excerpt(method)))
}

/// Splits `host[%3Aport]` into a domain name and port. Only the port colon may be percent-encoded: anything else
/// encoded in the host (`%2F`, `%40`…) could smuggle a path or user info into the URL.
fn split_authority(authority: &str) -> Result<(String, Option<u16>), DidWebError> {
    if let Some(ip) = ip_literal(authority) {
        return Err(DidWebError::IpAddress(ip.to_string()));
    }
    let lower = authority.to_ascii_lowercase();
    let (host, port) = match lower.find("%3a") {
        Some(at) => (&authority[..at], Some(&authority[at + 3..])),
        None => (authority, None),
    };
    let port = port.map(parse_port).transpose()?;
    check_domain(host)?;
    Ok((host.to_string(), port))
}

fn parse_port(port: &str) -> Result<u16, DidWebError> {
    let valid = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if valid && p > 0 => Ok(p),
        _ => Err(DidWebError::Port(excerpt(port))),
    }
}

/// Letters, digits, `-` and `_` in non-empty labels of at most 63 characters; and not something a URL parser would
/// read as an IPv4 address (`127.1`, `0x7f.0.0.1` and `2130706433` all are).
fn check_domain(host: &str) -> Result<(), DidWebError> {
    let bad = |reason: &str| Err(DidWebError::Host(excerpt(host), reason.into()));
    if host.is_empty() {
        return bad("the domain is empty");
    }
    if host.len() > 253 {
        return bad("longer than 253 characters");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !host.split('.').all(label_ok) {
        return bad(
            "labels must be 1-63 letters, digits, '-' or '_' (only the port colon may be percent-encoded)",
        );
    }
    match url::Host::parse(host) {
        Ok(url::Host::Domain(_)) => Ok(()),
        Ok(_) => Err(DidWebError::IpAddress(excerpt(host))),
        Err(e) => bad(&e.to_string()),
    }
}

/// An IP address hidden in an authority, found after decoding every percent-escape: `1.2.3.4`, `1.2.3.4%3A80`,
/// `%5B%3A%3A1%5D` (`[::1]`), `%3A%3A1`.
fn ip_literal(authority: &str) -> Option<IpAddr> {
    let decoded = percent_encoding::percent_decode_str(authority).decode_utf8_lossy();
    let bracketed = decoded
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map(|(inside, _)| inside);
    if let Ok(v6) = bracketed.unwrap_or(&decoded).parse::<Ipv6Addr>() {
        return Some(IpAddr::V6(v6));
    }
    let host = decoded.rsplit_once(':').map_or(&*decoded, |(h, _)| h);
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Ok(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}

/// URL parsers resolve `.` and `..` (also as `%2E`) before fetching, so such a segment would fetch a document at
/// another path than the DID names.
fn is_dot_or_empty(segment: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    matches!(&*decoded, "" | "." | "..")
}

/// Keeps what a DID allows unencoded (letters, digits, `.`, `-`, `_`) and existing `%XX` escapes; encodes the rest.
fn encode_segment(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(segment.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if b.is_ascii_alphanumeric() || b".-_".contains(&b) || escaped {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// At most `MAX_EXCERPT` bytes of request data in a message (on a char boundary).
fn excerpt(s: &str) -> String {
    if s.len() <= MAX_EXCERPT {
        return s.to_string();
    }
    let mut end = MAX_EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(did: &str) -> String {
        DidWeb::parse(did)
            .unwrap_or_else(|e| panic!("{did}: {e}"))
            .document_url()
            .to_string()
    }

    #[test]
    fn spec_examples_map_to_their_document_urls() {
        assert_eq!(
            url("did:web:w3c-ccg.github.io"),
            "https://w3c-ccg.github.io/.well-known/did.json"
        );
        assert_eq!(
            url("did:web:w3c-ccg.github.io:user:alice"),
            "https://w3c-ccg.github.io/user/alice/did.json"
        );
        assert_eq!(
            url("did:web:example.com%3A3000:user:alice"),
            "https://example.com:3000/user/alice/did.json"
        );
        assert_eq!(
            url("did:web:sample-company.example:products:123456789"),
            "https://sample-company.example/products/123456789/did.json"
        );
        assert_eq!(
            url("did:web:localhost%3a8443"),
            "https://localhost:8443/.well-known/did.json",
            "percent-escapes are case-insensitive"
        );
    }

    #[test]
    fn path_segments_keep_their_escapes() {
        assert_eq!(
            url("did:web:example.com:a%2Fb:c"),
            "https://example.com/a%2Fb/c/did.json"
        );
    }

    #[test]
    fn the_did_is_kept_exactly() {
        let did = DidWeb::parse("did:web:Example.COM:x").unwrap();
        assert_eq!(did.as_str(), "did:web:Example.COM:x");
        assert_eq!(
            did.document_url().as_str(),
            "https://example.com/x/did.json"
        );
    }

    #[test]
    fn ip_addresses_are_refused() {
        for did in [
            "did:web:1.2.3.4",
            "did:web:1.2.3.4%3A8080",
            "did:web:127.1",
            "did:web:0x7f.0.0.1",
            "did:web:2130706433",
            "did:web:%5B%3A%3A1%5D",
            "did:web:%5B2001%3Adb8%3A%3A1%5D%3A443",
            "did:web:%3A%3A1",
        ] {
            assert!(
                matches!(DidWeb::parse(did), Err(DidWebError::IpAddress(_))),
                "{did}: {:?}",
                DidWeb::parse(did)
            );
        }
    }

    #[test]
    fn malformed_dids_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("did:web:", "not a DID"),
            ("did:web:example.com:", "not a DID"),
            ("did:web:exa mple.com", "not a DID"),
            ("did:web:example.com%ZZ", "not a DID"),
            ("DID:web:example.com", "lowercase"),
            ("did:WEB:example.com", "lowercase"),
            ("did:key:z6Mk", "only did:web"),
            ("https://example.com", "not a DID"),
            ("did:web:example.com%2Fevil", "not a domain name"),
            ("did:web:user%40example.com", "not a domain name"),
            ("did:web:example..com", "not a domain name"),
            ("did:web:example.com%3A", "port"),
            ("did:web:example.com%3A0", "port"),
            ("did:web:example.com%3A70000", "port"),
            ("did:web:example.com%3A80%3A81", "port"),
            ("did:web:example.com::x", "path segments"),
            ("did:web:example.com:..:x", "path segments"),
            ("did:web:example.com:%2E%2E", "path segments"),
        ];
        for (did, words) in cases {
            let err = DidWeb::parse(did).expect_err(did).to_string();
            assert!(err.contains(words), "{did}: {err}");
        }
        let long = format!("did:web:{}", "a".repeat(MAX_DID_BYTES));
        assert_eq!(DidWeb::parse(&long), Err(DidWebError::TooLong));
    }

    #[test]
    fn locations_map_to_dids() {
        let did = DidWeb::for_location("https://id.example.com", "01/09520123456788").unwrap();
        assert_eq!(did.as_str(), "did:web:id.example.com:01:09520123456788");
        assert_eq!(
            did.document_url().as_str(),
            "https://id.example.com/01/09520123456788/did.json"
        );
        let did = DidWeb::for_location(
            "https://id.example.com:8443/",
            "/01/09520123456788/10/A%2FB!",
        )
        .unwrap();
        assert_eq!(
            did.as_str(),
            "did:web:id.example.com%3A8443:01:09520123456788:10:A%2FB%21"
        );
        assert_eq!(
            did.document_url().as_str(),
            "https://id.example.com:8443/01/09520123456788/10/A%2FB%21/did.json"
        );
        assert_eq!(
            DidWeb::for_location("https://id.example.com", "")
                .unwrap()
                .as_str(),
            "did:web:id.example.com"
        );
        assert!(matches!(
            DidWeb::for_location("https://10.0.0.1", "01/1"),
            Err(DidWebError::IpAddress(_))
        ));
        assert!(DidWeb::for_location("not a url", "01/1").is_err());
        assert!(DidWeb::for_location("https://id.example.com", "10/..").is_err());
    }
}

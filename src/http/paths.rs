//! How a native management path reads: `/api/v1/anchors/{identifier}`, `…/{identifier}/history` and
//! `…/{identifier}:restore`. The one parser of these paths, used by the handlers and by the 401 answer that names
//! the scope a credential needs.

use super::problem::ApiError;
use crate::identifier::{Identifier, Parser};
use actix_web::http::Method;

/// Where the native API's anchors live; what follows is the identifier, as received (still percent-encoded).
pub const ANCHORS: &str = "/api/v1/anchors/";
/// The methods an anchor (or a restore) path allows.
pub const ANCHOR_ALLOW: &str = "GET, PUT, DELETE, OPTIONS";
/// The methods a history path allows.
pub const HISTORY_ALLOW: &str = "GET, HEAD, OPTIONS";
/// The methods a verification path allows.
pub const VERIFICATION_ALLOW: &str = "GET, HEAD, POST, OPTIONS";
/// What browsers may send under `/api/v1/anchors/`, including `POST …:restore`.
pub const PREFLIGHT_ALLOW: &str = "GET, PUT, DELETE, POST, OPTIONS";

/// What a path under `/api/v1/anchors/` names.
#[derive(Debug)]
pub enum AnchorPath {
    /// `{identifier}`: the anchor itself.
    Anchor(Identifier),
    /// `{identifier}/history` (a trailing slash allowed).
    History(Identifier),
    /// `{identifier}:restore`, read only for POST.
    Restore(Identifier),
    /// `{identifier}/verification` (a trailing slash allowed): the verdicts on its credential links.
    Verification(Identifier),
}

impl AnchorPath {
    /// Reads `path` (the request's, from `/api/v1/anchors/` on) for a request of `method`. A history comes first;
    /// `:restore` is read only for POST, so that `…:restore` cannot be mistaken for a value ending in ":restore",
    /// and a POST to anything else is not allowed.
    pub fn parse(parser: &Parser, path: &str, method: &Method) -> Result<AnchorPath, ApiError> {
        let raw = raw(path);
        if let Some(key) = history_of(parser, raw) {
            return Ok(AnchorPath::History(key));
        }
        if let Some(key) = suffixed(parser, raw, "/verification") {
            return Ok(AnchorPath::Verification(key));
        }
        if method == Method::POST {
            let id = raw
                .strip_suffix(":restore")
                .ok_or(ApiError::MethodNotAllowed(ANCHOR_ALLOW))?;
            return Ok(AnchorPath::Restore(parser.parse_key(id)?));
        }
        Ok(AnchorPath::Anchor(parser.parse_key(raw)?))
    }

    /// The identifier `path` names, whatever the method: a history's, a restore's, or the anchor's. `None` when the
    /// path is not under `/api/v1/anchors/` or names none.
    pub fn named(parser: &Parser, path: &str) -> Option<Identifier> {
        let raw = path.strip_prefix(ANCHORS)?;
        history_of(parser, raw)
            .or_else(|| suffixed(parser, raw, "/verification"))
            .or_else(|| parser.parse_key(raw.strip_suffix(":restore")?).ok())
            .or_else(|| parser.parse_key(raw).ok())
    }

    pub fn key(&self) -> &Identifier {
        match self {
            AnchorPath::Anchor(key)
            | AnchorPath::History(key)
            | AnchorPath::Restore(key)
            | AnchorPath::Verification(key) => key,
        }
    }

    /// The methods this path allows, for a 405.
    pub fn allow(&self) -> &'static str {
        match self {
            AnchorPath::History(_) => HISTORY_ALLOW,
            AnchorPath::Verification(_) => VERIFICATION_ALLOW,
            AnchorPath::Anchor(_) | AnchorPath::Restore(_) => ANCHOR_ALLOW,
        }
    }
}

fn raw(path: &str) -> &str {
    path.strip_prefix(ANCHORS).unwrap_or("")
}

/// `{identifier}/history`, when what precedes `/history` is an identifier (`01/…/10/history` is a batch called
/// "history", since `01/…/10` is not an identifier).
fn history_of(parser: &Parser, raw: &str) -> Option<Identifier> {
    suffixed(parser, raw, "/history")
}

/// `{identifier}{suffix}` (a trailing slash allowed), when what precedes the suffix is an identifier.
fn suffixed(parser: &Parser, raw: &str, suffix: &str) -> Option<Identifier> {
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    let id = raw.strip_suffix(suffix)?;
    parser.parse_key(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(path: &str, method: Method) -> Result<AnchorPath, ApiError> {
        AnchorPath::parse(&Parser::embedded().unwrap(), path, &method)
    }

    fn key_of(path: &str, method: Method) -> String {
        parse(path, method)
            .unwrap()
            .key()
            .canonical_path()
            .to_string()
    }

    #[test]
    fn reads_anchor_history_and_restore() {
        let anchor = "/api/v1/anchors/01/09520123456788/10/ABC";
        assert!(matches!(
            parse(anchor, Method::GET),
            Ok(AnchorPath::Anchor(_))
        ));
        assert_eq!(key_of(anchor, Method::PUT), "01/09520123456788/10/ABC");
        for history in [format!("{anchor}/history"), format!("{anchor}/history/")] {
            assert!(matches!(
                parse(&history, Method::GET),
                Ok(AnchorPath::History(_))
            ));
            assert_eq!(key_of(&history, Method::DELETE), "01/09520123456788/10/ABC");
            assert_eq!(parse(&history, Method::GET).unwrap().allow(), HISTORY_ALLOW);
        }
        let restore = "/api/v1/anchors/01/09520123456788:restore";
        assert!(matches!(
            parse(restore, Method::POST),
            Ok(AnchorPath::Restore(_))
        ));
        assert_eq!(key_of(restore, Method::POST), "01/09520123456788");
    }

    #[test]
    fn restore_is_read_only_for_post() {
        // Elsewhere `:restore` is part of the value: a serial may end in it (canonically percent-encoded).
        let path = "/api/v1/anchors/01/09520123456788/21/ABC:restore";
        assert_eq!(
            key_of(path, Method::GET),
            "01/09520123456788/21/ABC%3Arestore"
        );
        assert_eq!(key_of(path, Method::POST), "01/09520123456788/21/ABC");
        let post_elsewhere = parse("/api/v1/anchors/01/09520123456788", Method::POST);
        assert!(matches!(
            post_elsewhere,
            Err(ApiError::MethodNotAllowed(ANCHOR_ALLOW))
        ));
    }

    #[test]
    fn reads_verification_for_every_method() {
        let path = "/api/v1/anchors/01/09520123456788/verification";
        for method in [Method::GET, Method::POST, Method::PUT] {
            let parsed = parse(path, method).unwrap();
            assert!(matches!(parsed, AnchorPath::Verification(_)));
            assert_eq!(parsed.allow(), VERIFICATION_ALLOW);
        }
        assert_eq!(key_of(path, Method::POST), "01/09520123456788");
        // `01/…/10` is no identifier: `10/verification` is a batch number.
        let batch = "/api/v1/anchors/01/09520123456788/10/verification";
        assert!(matches!(
            parse(batch, Method::GET),
            Ok(AnchorPath::Anchor(_))
        ));
        assert_eq!(
            AnchorPath::named(&Parser::embedded().unwrap(), path)
                .unwrap()
                .canonical_path(),
            "01/09520123456788"
        );
    }

    #[test]
    fn a_batch_called_history_is_an_anchor() {
        // `01/…/10` is not an identifier, so `10/history` is a batch number.
        let path = "/api/v1/anchors/01/09520123456788/10/history";
        assert!(matches!(
            parse(path, Method::GET),
            Ok(AnchorPath::Anchor(_))
        ));
        assert_eq!(key_of(path, Method::GET), "01/09520123456788/10/history");
    }

    #[test]
    fn named_is_the_identifier_whatever_the_method() {
        let parser = Parser::embedded().unwrap();
        let named = |p: &str| AnchorPath::named(&parser, p).map(|k| k.canonical_path().to_string());
        assert_eq!(
            named("/api/v1/anchors/01/09520123456788/history").as_deref(),
            Some("01/09520123456788")
        );
        assert_eq!(
            named("/api/v1/anchors/01/09520123456788:restore").as_deref(),
            Some("01/09520123456788")
        );
        assert_eq!(named("/api/v1/anchors/nonsense"), None);
        assert_eq!(named("/api/v1/audit"), None);
    }
}

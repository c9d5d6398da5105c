//! Patterns over canonical identifier paths, used by key scopes and delegation rules.

use super::{Parser, gs1};

/// `*` (everything), `01/0952012*` (every canonical path starting with `01/0952012`), or `01/09520123456788` (that
/// identifier and every level beneath it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    All,
    Prefix(String),
    Subtree(String),
}

/// What a scope that names link-type vocabularies starts with (`linktypes/acme`).
pub const LINK_TYPES_SCOPE: &str = "linktypes/";

impl PathPattern {
    pub fn parse(pattern: &str) -> PathPattern {
        let p = pattern.trim().trim_start_matches('/');
        match p {
            "*" | "admin" => PathPattern::All,
            _ => match p.strip_suffix('*') {
                Some(prefix) => PathPattern::Prefix(prefix.to_string()),
                None => PathPattern::Subtree(p.trim_end_matches('/').to_string()),
            },
        }
    }

    /// Parses a configured pattern into the canonical form stored keys use, so `01/9520123456788` (GTIN-13) or
    /// `gtin/…` cannot silently never match.
    pub fn parse_canonical(pattern: &str, parser: &Parser) -> Result<PathPattern, String> {
        // `linktypes/acme`: the link-type vocabulary `acme` (`linktypes/*`: every run-time vocabulary).
        if let Some(prefix) = pattern
            .trim()
            .trim_start_matches('/')
            .strip_prefix(LINK_TYPES_SCOPE)
        {
            let ok = prefix == "*"
                || (!prefix.is_empty()
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            return match ok {
                true => Ok(Self::parse(pattern)),
                false => Err(format!(
                    "{pattern:?} must name a link-type vocabulary prefix, e.g. linktypes/acme"
                )),
            };
        }
        match Self::parse(pattern) {
            PathPattern::All => Ok(PathPattern::All),
            PathPattern::Subtree(p) => parser
                .parse_key(&p)
                .map(|k| PathPattern::Subtree(k.canonical_path().to_string()))
                .map_err(|e| format!("{pattern:?} is not an identifier: {e}")),
            PathPattern::Prefix(p) => {
                let (first, rest) = p.split_once('/').unwrap_or((&p, ""));
                let known = gs1::primary_keys().contains(&first) || parser.is_namespace(first);
                let partial_ai =
                    rest.is_empty() && !p.contains('/') && p.bytes().all(|b| b.is_ascii_digit());
                if known || partial_ai {
                    Ok(PathPattern::Prefix(p))
                } else {
                    Err(format!(
                        "{pattern:?} must start with a numeric GS1 primary-key AI or a scheme namespace, e.g. 01/0952012* or abr/*"
                    ))
                }
            }
        }
    }

    pub fn covers(&self, canonical_path: &str) -> bool {
        match self {
            PathPattern::All => true,
            PathPattern::Prefix(p) => canonical_path.starts_with(p.as_str()),
            PathPattern::Subtree(p) => {
                canonical_path == p
                    || canonical_path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

impl std::fmt::Display for PathPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathPattern::All => f.write_str("*"),
            PathPattern::Prefix(p) => write!(f, "{p}*"),
            PathPattern::Subtree(p) => f.write_str(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let prefix = PathPattern::parse("01/0952012*");
        assert!(prefix.covers("01/09520123456788/10/A"));
        assert!(!prefix.covers("01/09506000134369"));
        let subtree = PathPattern::parse("/414/9520123456783");
        assert!(subtree.covers("414/9520123456783"));
        assert!(subtree.covers("414/9520123456783/254/1"));
        assert!(!subtree.covers("414/95201234567830"));
        assert!(PathPattern::parse("*").covers("00/1"));
        assert_eq!(prefix.to_string(), "01/0952012*");
    }

    #[test]
    fn link_type_scopes_name_vocabularies() {
        let parser = Parser::embedded().unwrap();
        let acme = PathPattern::parse_canonical("linktypes/acme", &parser).unwrap();
        assert!(acme.covers("linktypes/acme"));
        assert!(!acme.covers("linktypes/acme2"));
        assert!(!acme.covers("linktypes/beta"));
        let any = PathPattern::parse_canonical("linktypes/*", &parser).unwrap();
        assert!(any.covers("linktypes/beta"));
        assert!(!any.covers("01/09520123456788"));
        let gtins = PathPattern::parse_canonical("01/0952012*", &parser).unwrap();
        assert!(!gtins.covers("linktypes/acme"));
        for bad in ["linktypes/", "linktypes/a/b", "linktypes/a b"] {
            let err = PathPattern::parse_canonical(bad, &parser).unwrap_err();
            assert!(err.contains("linktypes/acme"), "{bad}: {err}");
        }
    }

    #[test]
    fn configured_patterns_are_canonicalised() {
        let o = Parser::embedded().unwrap();
        let gtin13 = PathPattern::parse_canonical("01/9520123456788", &o).unwrap();
        assert_eq!(gtin13, PathPattern::Subtree("01/09520123456788".into()));
        let alpha = PathPattern::parse_canonical("gtin/09520123456788/lot/A", &o).unwrap();
        assert_eq!(alpha, PathPattern::Subtree("01/09520123456788/10/A".into()));
        assert!(
            PathPattern::parse_canonical("01/09520123456787", &o).is_err(),
            "bad check digit"
        );
        assert!(PathPattern::parse_canonical("gtin/0952*", &o).is_err());
        assert!(PathPattern::parse_canonical("01/0952*", &o).is_ok());
        assert!(PathPattern::parse_canonical("41*", &o).is_ok());
        assert_eq!(PathPattern::parse_canonical("*", &o), Ok(PathPattern::All));
    }
}

//! Patterns over canonical identifier paths, used by key scopes and delegation rules.

/// `*` (everything), `01/0952012*` (every canonical path starting with `01/0952012`), or `01/09520123456788` (that
/// identifier and every level beneath it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathPattern {
    All,
    Prefix(String),
    Subtree(String),
}

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
}

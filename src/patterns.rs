//! Pattern registrations: one anchor body for every identifier whose GS1 primary-key value starts with a prefix
//! (`8004/9520123`: every GIAI of company prefix 9520123), its hrefs RFC 6570 level-1 templates over the request's
//! AI values (`https://assets.example/giai/{8004}`).
//!
//! - A pattern is stored as an anchor record at `registry::patterns::stored_path` (versions, audit, soft deletes
//!   and both backends as for anchors); its hrefs are stored as templates.
//! - Variables: an AI of the request's path (`{8004}`, `{01}`, `{10}`, `{21}`, …) and `{identifier}`, the value of
//!   the request's primary key (the GIAI, the GTIN, …). Values are percent-encoded as RFC 6570 simple expansion
//!   says: every byte of their UTF-8 but the unreserved characters `A-Z a-z 0-9 - . _ ~`.
//! - A link whose template names an AI the request does not carry does not apply to that request (it is left out,
//!   never expanded empty).

use crate::codelist::AccessCodes;
use crate::identifier::gs1;
use crate::identifier::pattern::PathPattern;
use crate::identifier::scheme::Scheme;
use crate::identifier::{Identifier, Parser};
use crate::limits::Limits;
use crate::registration::{self, FieldError, Submission};
use crate::registry::{
    AnchorRecord, AnchorStore, Precondition, PutOutcome, StoreError, StoredAnchor, patterns,
};
use crate::vocabulary::Vocabulary;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What RFC 6570 simple expansion leaves as it is: the unreserved characters.
const SIMPLE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The variable every template may name besides AIs: the primary key's value.
pub const IDENTIFIER_VARIABLE: &str = "identifier";

/// A pattern's name: a GS1 primary key and a prefix its values may start with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    ai: &'static str,
    /// Canonical form (percent-encoded as in canonical paths), so that it is a prefix of the canonical values it
    /// matches.
    prefix: String,
}

impl Pattern {
    /// `8004/9520123` (also `giai/9520123`; the prefix percent-encoded as in a Digital Link path). Errors name the
    /// field: `key` or `prefix`.
    pub fn parse(path: &str) -> Result<Pattern, FieldError> {
        let path = path.trim_matches('/');
        let (key, prefix) = path.split_once('/').unwrap_or((path, ""));
        let ai = gs1::primary_keys()
            .iter()
            .find(|k| **k == key)
            .copied()
            .or_else(|| gs1::ai_for_shortcode(key).filter(|a| gs1::primary_keys().contains(a)))
            .ok_or_else(|| {
                FieldError::new(
                    "key",
                    format!("{key:?} is not a GS1 primary key (an AI such as 8004, or giai); patterns are registered under GS1 keys"),
                )
            })?;
        let decoded = gs1::decode_value(prefix)
            .map_err(|e| FieldError::new("prefix", format!("{prefix:?}: {e}")))?;
        gs1::check_key_prefix(ai, &decoded).map_err(|why| {
            FieldError::new(
                "prefix",
                format!("{decoded:?} cannot begin a value of AI {ai}: {why}"),
            )
        })?;
        Ok(Pattern {
            ai,
            prefix: gs1::encode_value(&decoded),
        })
    }

    /// `8004/9520123`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.ai, self.prefix)
    }

    /// Where the record is stored (`~pattern/8004/9520123`).
    pub fn stored_path(&self) -> String {
        patterns::stored_path(&self.path())
    }

    /// A scope covers a pattern when it covers every identifier the pattern can match: `*`, or a prefix scope the
    /// pattern's path starts with (`8004/952012*` and `8004/9520123*` cover `8004/9520123`). A scope naming one
    /// identifier (`8004/9520123`, no `*`) covers no pattern.
    pub fn covered_by(&self, scope: &PathPattern) -> bool {
        match scope {
            PathPattern::All => true,
            PathPattern::Prefix(p) => self.path().starts_with(p.as_str()),
            PathPattern::Subtree(_) => false,
        }
    }
}

/// One piece of a template.
#[derive(Debug, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    Variable(&'a str),
}

/// Splits an RFC 6570 level-1 template: `{name}` with `name` made of letters, digits and `_` (no operators).
fn parse_template(href: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = href;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(format!("a '}}' without '{{' at {:?}", &rest[open..]));
        }
        if open > 0 {
            parts.push(Part::Literal(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("an unclosed '{{' at {:?}", &rest[open..]))?;
        let name = &after[..close];
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(format!(
                "{{{name}}} is not a level-1 template variable (an AI such as {{8004}} or {{identifier}}; no operators)"
            ));
        }
        parts.push(Part::Variable(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest));
    }
    Ok(parts)
}

/// Whether a template variable names something a GS1 request can carry.
fn known_variable(name: &str) -> bool {
    name == IDENTIFIER_VARIABLE
        || (name.bytes().all(|b| b.is_ascii_digit()) && gs1::is_known_ai(name))
}

/// Stand-ins for variables while a body is validated as an anchor's (URLs checked with them in place): lower-case
/// letters and digits, which URL normalisation leaves as they are.
fn stand_in(n: usize) -> String {
    format!("xidrtemplatevar{n}x")
}

/// A pattern body validated as `PUT /api/v1/anchors` validates an anchor's (limits, code lists, vocabulary, URLs
/// with each variable in place), its hrefs kept as templates. Template errors name `links[i].href`.
pub fn validate(
    mut submission: Submission,
    vocabulary: &Vocabulary,
    scheme: &Scheme,
    limits: &Limits,
    codes: &AccessCodes,
) -> Result<registration::Validated, Vec<FieldError>> {
    let mut variables: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for (i, href) in submission.hrefs_mut().enumerate() {
        let field = format!("links[{i}].href");
        let parts = match parse_template(href) {
            Ok(parts) => parts,
            Err(why) => {
                errors.push(FieldError::new(field, why));
                continue;
            }
        };
        let mut replaced = String::new();
        for part in parts {
            match part {
                Part::Literal(text) => replaced.push_str(text),
                Part::Variable(name) if known_variable(name) => {
                    let n = match variables.iter().position(|v| v == name) {
                        Some(n) => n,
                        None => {
                            variables.push(name.to_string());
                            variables.len() - 1
                        }
                    };
                    replaced.push_str(&stand_in(n));
                }
                Part::Variable(name) => errors.push(FieldError::new(
                    field.clone(),
                    format!("{{{name}}} names neither a GS1 AI nor {{identifier}}"),
                )),
            }
        }
        *href = replaced;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut validated = registration::validate(submission, vocabulary, scheme, limits, codes)?;
    for link in &mut validated.record.links {
        for (n, name) in variables.iter().enumerate() {
            link.href = link.href.replace(&stand_in(n), &format!("{{{name}}}"));
        }
    }
    Ok(validated)
}

/// The GS1 scheme a pattern body is validated for.
pub fn gs1_scheme(parser: &Parser) -> Option<std::sync::Arc<Scheme>> {
    parser.schemes().gs1().cloned()
}

/// Creates or replaces a pattern: merged over the one it replaces (replaced targets kept as predecessor versions,
/// so a body written back as read is no change), its default link type settled, written only over the version it
/// was computed from (retried after a concurrent write unless the client set its own precondition).
pub async fn write(
    store: &dyn AnchorStore,
    pattern: &Pattern,
    record: AnchorRecord,
    asked: Precondition,
    limits: &Limits,
    vocabulary: &crate::vocabulary::Vocabulary,
    who: &str,
) -> Result<PutOutcome, registration::WriteError> {
    let path = pattern.stored_path();
    for attempt in 1.. {
        let current = store.get(&path).await?;
        let precondition = match (&asked, &current) {
            (Precondition::None, Some(c)) => Precondition::Version(vec![c.version]),
            (Precondition::None, None) => Precondition::Absent,
            (asked, _) => asked.clone(),
        };
        let mut merged = crate::versions::merge(
            current.as_ref().map(|c| &c.record),
            record.clone(),
            limits,
            vocabulary,
        );
        registration::settle_default::<AnchorRecord>(
            &mut merged,
            &[],
            registration::Fallback::FirstLink,
        )
        .map_err(|e| registration::WriteError::Invalid(vec![e]))?;
        match store.put(&path, merged, precondition, who).await {
            Err(StoreError::PreconditionFailed { .. })
                if asked == Precondition::None && attempt < 8 =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(5 * attempt)).await;
            }
            result => return Ok(result?),
        }
    }
    unreachable!("the loop returns")
}

/// The pattern's record for one request: each href expanded over the request's values; links naming an AI the
/// request lacks left out. `None` when no link applies.
pub fn expand(pattern: &StoredAnchor, request: &Identifier) -> Option<StoredAnchor> {
    let key = request.as_gs1()?;
    let value_of = |name: &str| -> Option<&str> {
        if name == IDENTIFIER_VARIABLE || name == key.primary_ai() {
            return Some(key.primary_value());
        }
        key.qualifiers().find(|(ai, _)| *ai == name).map(|(_, v)| v)
    };
    let links: Vec<_> = pattern
        .record
        .links
        .iter()
        .filter_map(|link| {
            let href = expand_href(&link.href, &value_of)?;
            Some(crate::registry::Link {
                href,
                ..link.clone()
            })
        })
        .collect();
    if links.is_empty() {
        return None;
    }
    Some(StoredAnchor {
        version: pattern.version,
        record: AnchorRecord {
            item_description: pattern.record.item_description.clone(),
            default_link_type: pattern.record.default_link_type.clone(),
            links,
        },
    })
}

/// One template expanded; `None` when a variable has no value.
fn expand_href<'v>(href: &str, value_of: &dyn Fn(&str) -> Option<&'v str>) -> Option<String> {
    let parts = parse_template(href).ok()?;
    let mut out = String::with_capacity(href.len() + 16);
    for part in parts {
        match part {
            Part::Literal(text) => out.push_str(text),
            Part::Variable(name) => out.extend(utf8_percent_encode(value_of(name)?, SIMPLE)),
        }
    }
    Some(out)
}

/// The pattern registered for `request`'s key level, if any: the longest whose prefix its key value starts with
/// (`AnchorStore::find_pattern`), as (its name, its record). The one lookup for resolution (which expands it) and
/// for the management API (which says a pattern serves the identifier).
pub async fn serving(
    store: &dyn crate::registry::AnchorStore,
    request: &Identifier,
) -> Result<Option<(String, std::sync::Arc<StoredAnchor>)>, crate::registry::StoreError> {
    match key_of(request) {
        Some((ai, value)) => store.find_pattern(ai, value).await,
        None => Ok(None),
    }
}

/// The key (`8004`) and canonical value of the primary key of a GS1 request, the level a pattern stands in for.
pub fn key_of(request: &Identifier) -> Option<(&'static str, &str)> {
    let key = request.as_gs1()?;
    let path = key.canonical_path();
    let value = path
        .strip_prefix(key.primary_ai())?
        .strip_prefix('/')?
        .split('/')
        .next()?;
    Some((key.primary_ai(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Identifier {
        Parser::embedded().unwrap().parse_key(path).unwrap()
    }

    fn pattern_record(hrefs: &[&str]) -> StoredAnchor {
        StoredAnchor {
            version: 3,
            record: AnchorRecord {
                item_description: "Assets".into(),
                default_link_type: Some("https://gs1.org/voc/pip".into()),
                links: hrefs
                    .iter()
                    .map(|h| crate::registry::Link {
                        link_type: "https://gs1.org/voc/pip".into(),
                        href: h.to_string(),
                        title: "t".into(),
                        media_type: None,
                        hreflang: vec![],
                        context: vec![],
                        rel: vec![],
                        method: vec![],
                        encryption_method: None,
                        access_role: vec![],
                        forwards_query: true,
                        id: None,
                        contributor: None,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn prefixes_are_checked_against_the_ai() {
        let p = Pattern::parse("8004/9520123").unwrap();
        assert_eq!(p.path(), "8004/9520123");
        assert_eq!(p.stored_path(), "~pattern/8004/9520123");
        assert_eq!(Pattern::parse("giai/95201").unwrap().path(), "8004/95201");
        // GIAI is N4+ company prefix then CSET 82; a slash is encoded in canonical form.
        assert_eq!(
            Pattern::parse("8004/9520%2FA").unwrap().path(),
            "8004/9520%2FA"
        );
        assert_eq!(Pattern::parse("01/0952A").unwrap_err().field, "prefix");
        assert_eq!(Pattern::parse("00/").unwrap_err().field, "prefix");
        assert_eq!(
            Pattern::parse("01/095201234567890").unwrap_err().field,
            "prefix"
        );
        assert_eq!(Pattern::parse("10/ABC").unwrap_err().field, "key");
        assert_eq!(Pattern::parse("abr/abn/1").unwrap_err().field, "key");
    }

    #[test]
    fn scopes_cover_patterns_they_contain() {
        let p = Pattern::parse("8004/9520123").unwrap();
        assert!(p.covered_by(&PathPattern::parse("*")));
        assert!(p.covered_by(&PathPattern::parse("8004/952012*")));
        assert!(p.covered_by(&PathPattern::parse("8004/9520123*")));
        assert!(!p.covered_by(&PathPattern::parse("8004/95201234*")));
        assert!(!p.covered_by(&PathPattern::parse("8004/9520123")));
        assert!(!p.covered_by(&PathPattern::parse("01/*")));
    }

    #[test]
    fn templates_expand_simple_and_drop_links_missing_a_value() {
        let record = pattern_record(&[
            "https://assets.example/giai/{8004}?id={identifier}",
            "https://assets.example/{8004}/serial/{21}",
        ]);
        let id = request("8004/9520123A%2Fb%26c");
        let out = expand(&record, &id).unwrap();
        assert_eq!(out.version, 3);
        assert_eq!(out.record.links.len(), 1, "{{21}} is not in the request");
        assert_eq!(
            out.record.links[0].href,
            "https://assets.example/giai/9520123A%2Fb%26c?id=9520123A%2Fb%26c"
        );
        let gtin = request("01/09520123456788/21/S%2B1");
        let record = pattern_record(&["https://x.example/{01}/{21}", "https://x.example/{10}"]);
        let out = expand(&record, &gtin).unwrap();
        assert_eq!(out.record.links.len(), 1);
        assert_eq!(
            out.record.links[0].href,
            "https://x.example/09520123456788/S%2B1"
        );
        assert!(expand(&pattern_record(&["https://x.example/{10}"]), &gtin).is_none());
    }

    #[test]
    fn template_syntax() {
        assert_eq!(
            parse_template("a{8004}b").unwrap(),
            [
                Part::Literal("a"),
                Part::Variable("8004"),
                Part::Literal("b")
            ]
        );
        assert!(parse_template("a{+x}").is_err());
        assert!(parse_template("a{x").is_err());
        assert!(parse_template("a}x").is_err());
        assert!(parse_template("{}").is_err());
        assert!(known_variable("identifier") && known_variable("21") && !known_variable("serial"));
    }

    #[test]
    fn the_key_level_value() {
        assert_eq!(
            key_of(&request("01/09520123456788/10/L1")),
            Some(("01", "09520123456788"))
        );
        assert_eq!(
            key_of(&request("8004/95201%2F1")),
            Some(("8004", "95201%2F1"))
        );
    }
}

//! The scheme file format (`resolver-config/schemes/*.toml`), as written by operators. `compile` turns it into a
//! `Scheme` once, at start-up; every rule that can be checked there is checked there.

use super::{CanonicalForm, Case, Issuer, KeyType, Qualifier, Scheme, UnknownLinkType, WalkUp};
use crate::identifier::check_digit::CheckDigit;
use serde::Deserialize;

/// Compiled patterns may use at most this much memory, so no scheme file can make matching expensive. The `regex`
/// crate matches in time linear in the input, so a pattern cannot hang the server either.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;
/// Longest pattern source we accept.
const PATTERN_MAX_LEN: usize = 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeFile {
    /// The first path segment of the UNTP form `/{namespace}/{keyType}/{key}`.
    pub(super) namespace: String,
    #[serde(default)]
    pub(super) title: String,
    /// `gs1`: the built-in GS1 Digital Link parser (key types come from the GS1 Syntax Dictionary).
    #[serde(default)]
    pub(super) native: Option<String>,
    #[serde(default = "default_unknown")]
    pub(super) unknown_link_type: UnknownLinkType,
    /// Vocabulary prefixes (`gs1`, `untp`) whose link types may be registered; empty means all.
    #[serde(default)]
    pub(super) vocabularies: Vec<String>,
    #[serde(default)]
    pub(super) canonical: CanonicalForm,
    #[serde(default)]
    pub(super) walk_up: WalkUp,
    #[serde(default)]
    pub(super) key_types: Vec<KeyTypeFile>,
    /// Native GS1 only: the first segments of the custom stems the operator's GS1 URIs use (`/dl/01/…` → `dl`),
    /// which no other scheme's namespace or root path may take.
    #[serde(default)]
    pub(super) custom_stems: Vec<String>,
    /// Walk-up from a key to the anchor of the party that issued it (ISO/IEC 15459: issuing agency code and
    /// company identification number), when the key itself has none.
    #[serde(default)]
    pub(super) issuer: Option<IssuerFile>,
}

/// `[issuer]`: which key types' values begin with an issuer part, how to find it, and the key type its anchor has.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerFile {
    /// The key type whose value is the issuer part alone (MH10.8.2 `18V`: IAC + CIN).
    pub(super) key_type: String,
    /// Matched at the start of a key value; the text it matches is the issuer part.
    pub(super) pattern: String,
    /// The key types that fall back to their issuer (`25S`, `1J`, …).
    pub(super) from: Vec<String>,
}

fn default_unknown() -> UnknownLinkType {
    UnknownLinkType::NotFound
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyTypeFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    pub(super) pattern: String,
    #[serde(default)]
    pub(super) check_digit: Option<CheckDigit>,
    #[serde(default)]
    pub(super) case: Case,
    /// Also answer `/{root_path}/{key}…` at the resolver root.
    #[serde(default)]
    pub(super) root_path: Option<String>,
    #[serde(default)]
    pub(super) qualifiers: Vec<QualifierFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QualifierFile {
    pub(super) name: String,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    pub(super) pattern: String,
    #[serde(default)]
    pub(super) case: Case,
}

/// A problem in one field of one scheme file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {reason}")]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

fn problem(field: impl Into<String>, reason: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Parses TOML, naming the field that does not fit (`key_types[0].check_digit`).
pub fn parse(text: &str) -> Result<SchemeFile, FieldProblem> {
    let de = toml::Deserializer::parse(text).map_err(|e| problem("(file)", e.to_string()))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let reason = e.into_inner().message().to_string();
        problem(if field == "." { "(file)".into() } else { field }, reason)
    })
}

impl SchemeFile {
    pub fn compile(self) -> Result<Scheme, FieldProblem> {
        check_segment("namespace", &self.namespace)?;
        let native_gs1 = match self.native.as_deref() {
            None => false,
            Some("gs1") => true,
            Some(other) => {
                return Err(problem(
                    "native",
                    format!("unknown native parser {other:?}; known: \"gs1\""),
                ));
            }
        };
        if native_gs1 && !self.key_types.is_empty() {
            return Err(problem(
                "key_types",
                "a native scheme takes its key types from its parser",
            ));
        }
        if !native_gs1 && self.key_types.is_empty() {
            return Err(problem("key_types", "at least one key type is needed"));
        }
        if !native_gs1 && !self.custom_stems.is_empty() {
            return Err(problem(
                "custom_stems",
                "only the native GS1 scheme has custom stems",
            ));
        }
        for (i, stem) in self.custom_stems.iter().enumerate() {
            check_segment(&format!("custom_stems[{i}]"), stem)?;
        }
        if self.canonical == CanonicalForm::Root
            && !self.key_types.iter().all(|k| k.root_path.is_some())
        {
            return Err(problem(
                "canonical",
                "\"root\" needs a root_path on every key type",
            ));
        }
        let key_types = self
            .key_types
            .into_iter()
            .enumerate()
            .map(|(i, k)| k.compile(&format!("key_types[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique(
            "key_types",
            key_types
                .iter()
                .flat_map(|k| std::iter::once(&k.name).chain(&k.aliases)),
        )?;
        check_unique(
            "key_types[].root_path",
            key_types.iter().filter_map(|k| k.root_path.as_ref()),
        )?;
        let issuer = self.issuer.map(|i| i.compile(&key_types)).transpose()?;
        Ok(Scheme {
            source: String::new(),
            registered: false,
            definition: String::new(),
            title: if self.title.is_empty() {
                self.namespace.clone()
            } else {
                self.title
            },
            namespace: self.namespace,
            native_gs1,
            unknown_link_type: self.unknown_link_type,
            vocabularies: self.vocabularies,
            canonical: self.canonical,
            walk_up: self.walk_up,
            key_types,
            custom_stems: self.custom_stems,
            issuer,
        })
    }
}

impl IssuerFile {
    fn compile(self, key_types: &[KeyType]) -> Result<Issuer, FieldProblem> {
        let index = |field: &str, name: &str| {
            key_types
                .iter()
                .position(|k| k.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| problem(field, format!("{name:?} is not a key type of this scheme")))
        };
        let key_type = index("issuer.key_type", &self.key_type)?;
        if self.from.is_empty() {
            return Err(problem("issuer.from", "name at least one key type"));
        }
        let mut from = Vec::with_capacity(self.from.len());
        for (i, name) in self.from.iter().enumerate() {
            let field = format!("issuer.from[{i}]");
            let k = index(&field, name)?;
            if k == key_type {
                return Err(problem(
                    field,
                    format!("{name:?} is the issuer's own key type"),
                ));
            }
            from.push(k);
        }
        let pattern = compile_prefix("issuer.pattern", &self.pattern)?;
        Ok(Issuer {
            key_type,
            pattern,
            from,
        })
    }
}

impl KeyTypeFile {
    fn compile(self, at: &str) -> Result<KeyType, FieldProblem> {
        check_name(&format!("{at}.name"), &self.name)?;
        for (i, a) in self.aliases.iter().enumerate() {
            check_name(&format!("{at}.aliases[{i}]"), a)?;
        }
        if let Some(root) = &self.root_path {
            check_segment(&format!("{at}.root_path"), root)?;
        }
        let qualifiers = self
            .qualifiers
            .into_iter()
            .enumerate()
            .map(|(i, q)| q.compile(&format!("{at}.qualifiers[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique(
            &format!("{at}.qualifiers"),
            qualifiers
                .iter()
                .flat_map(|q| std::iter::once(&q.name).chain(&q.aliases)),
        )?;
        Ok(KeyType {
            pattern: compile_pattern(&format!("{at}.pattern"), &self.pattern)?,
            title: if self.title.is_empty() {
                self.name.clone()
            } else {
                self.title
            },
            name: self.name,
            aliases: self.aliases,
            check_digit: self.check_digit,
            case: self.case,
            root_path: self.root_path,
            qualifiers,
        })
    }
}

impl QualifierFile {
    fn compile(self, at: &str) -> Result<Qualifier, FieldProblem> {
        check_name(&format!("{at}.name"), &self.name)?;
        Ok(Qualifier {
            pattern: compile_pattern(&format!("{at}.pattern"), &self.pattern)?,
            title: if self.title.is_empty() {
                self.name.clone()
            } else {
                self.title
            },
            name: self.name,
            aliases: self.aliases,
            case: self.case,
        })
    }
}

/// Anchors the pattern (a value must match as a whole) and bounds its compiled size.
pub(super) fn compile_pattern(field: &str, source: &str) -> Result<regex::Regex, FieldProblem> {
    if source.is_empty() {
        return Err(problem(field, "must not be empty"));
    }
    if source.len() > PATTERN_MAX_LEN {
        return Err(problem(
            field,
            format!("longer than {PATTERN_MAX_LEN} characters"),
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{source})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| problem(field, e.to_string().replace('\n', " ")))
}

/// Like `compile_pattern`, but anchored at the start only: it finds a prefix of a value.
fn compile_prefix(field: &str, source: &str) -> Result<regex::Regex, FieldProblem> {
    if source.is_empty() {
        return Err(problem(field, "must not be empty"));
    }
    if source.len() > PATTERN_MAX_LEN {
        return Err(problem(
            field,
            format!("longer than {PATTERN_MAX_LEN} characters"),
        ));
    }
    regex::RegexBuilder::new(&format!("^(?:{source})"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| problem(field, e.to_string().replace('\n', " ")))
}

/// Key-type and qualifier names: path segments after the namespace, where digits (GS1-style AIs) are fine.
fn check_name(field: &str, value: &str) -> Result<(), FieldProblem> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(problem(
            field,
            format!("{value:?} must be 1-64 ASCII letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// Names that appear as path segments: short, lower-case-insensitive ASCII, never a GS1 AI (all digits) or a DID.
fn check_segment(field: &str, value: &str) -> Result<(), FieldProblem> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !value.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(problem(
            field,
            format!(
                "{value:?} must be 1-64 ASCII letters, digits, '-', '_' or '.', and not all digits"
            ),
        ))
    }
}

fn check_unique<'a>(
    field: &str,
    names: impl Iterator<Item = &'a String>,
) -> Result<(), FieldProblem> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(problem(field, format!("{name:?} is used twice")));
        }
    }
    Ok(())
}

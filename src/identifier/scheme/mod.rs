//! Identifier schemes as configuration: one TOML file per scheme under `resolver-config/schemes/`. A scheme names its
//! namespace (the UNTP path form `/{namespace}/{keyType}/{key}[/{qualifier}/{value}]*`), its key types with their
//! ordered qualifiers and validation rules, its canonical form, its walk-up rule and its policies. GS1 is one such
//! scheme whose rules come from its native parser.

mod file;
mod key;
pub mod registered;

pub use file::FieldProblem;
pub use key::{SchemeError, SchemeKey};

use crate::identifier::check_digit::CheckDigit;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// The schemes shipped in `resolver-config/schemes/`, compiled in so the binary starts anywhere.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "gs1.toml",
        include_str!("../../../resolver-config/schemes/gs1.toml"),
    ),
    (
        "lei.toml",
        include_str!("../../../resolver-config/schemes/lei.toml"),
    ),
    (
        "abr.toml",
        include_str!("../../../resolver-config/schemes/abr.toml"),
    ),
    (
        "frs.toml",
        include_str!("../../../resolver-config/schemes/frs.toml"),
    ),
    (
        "iso15459.toml",
        include_str!("../../../resolver-config/schemes/iso15459.toml"),
    ),
];

/// What a request for a link type that is registered nowhere up the tree gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownLinkType {
    /// GS1 (§5.18): `404`.
    NotFound,
    /// UNTP's flowchart: the default link.
    Default,
}

/// Which path form anchors, `owl:sameAs` and Link headers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CanonicalForm {
    /// `/{namespace}/{keyType}/{key}…`
    #[default]
    Namespace,
    /// `/{root_path}/{key}…` (every key type must have a `root_path`).
    Root,
}

/// Which levels a request falls back to when its own level has no links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalkUp {
    /// Drop qualifiers from the right, one at a time, down to the bare key.
    #[default]
    Qualifiers,
    /// Only the requested level.
    None,
}

/// How values are normalised before they are matched and stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    #[default]
    Preserve,
    Upper,
    Lower,
}

impl Case {
    fn apply<'a>(self, value: &'a str) -> std::borrow::Cow<'a, str> {
        match self {
            Case::Preserve => value.into(),
            Case::Upper => value.to_uppercase().into(),
            Case::Lower => value.to_lowercase().into(),
        }
    }
}

#[derive(Debug)]
pub struct Scheme {
    /// The file it came from, for error messages.
    pub source: String,
    /// Registered at run time (and stored), not read from a file.
    pub registered: bool,
    /// The stored definition of a registered scheme (to tell when another replica changed it).
    pub definition: String,
    pub namespace: String,
    pub title: String,
    pub native_gs1: bool,
    pub unknown_link_type: UnknownLinkType,
    pub vocabularies: Vec<String>,
    pub canonical: CanonicalForm,
    pub walk_up: WalkUp,
    pub key_types: Vec<KeyType>,
    /// Native GS1 only: first segments of the custom stems its URIs use (see `SchemeSet::check_shadowing`).
    pub custom_stems: Vec<String>,
    /// The issuer fallback of the walk-up (`[issuer]`), if the scheme declares one.
    pub issuer: Option<Issuer>,
}

/// How a key's value begins with the identifier of the party that issued it, and where that party's anchor is: a
/// key of a listed type with no anchor of its own resolves through `{namespace}/{key_type}/{issuer part}`.
#[derive(Debug)]
pub struct Issuer {
    /// Index into `Scheme::key_types` of the key type whose value is the issuer part alone.
    pub key_type: usize,
    /// Anchored at the start of a value: what it matches is the issuer part.
    pub pattern: regex::Regex,
    /// Indexes of the key types that fall back to their issuer.
    pub from: Vec<usize>,
}

#[derive(Debug)]
pub struct KeyType {
    pub name: String,
    pub title: String,
    pub aliases: Vec<String>,
    pub pattern: regex::Regex,
    pub check_digit: Option<CheckDigit>,
    pub case: Case,
    pub root_path: Option<String>,
    pub qualifiers: Vec<Qualifier>,
}

#[derive(Debug)]
pub struct Qualifier {
    pub name: String,
    pub title: String,
    pub aliases: Vec<String>,
    pub pattern: regex::Regex,
    pub case: Case,
}

impl Scheme {
    /// Whether links from the vocabulary with this prefix (`gs1`, `untp`) may be registered under this scheme.
    pub fn allows_vocabulary(&self, prefix: &str) -> bool {
        self.vocabularies.is_empty()
            || self
                .vocabularies
                .iter()
                .any(|v| v.eq_ignore_ascii_case(prefix))
    }

    fn key_type(&self, name: &str) -> Option<(usize, &KeyType)> {
        self.key_types.iter().enumerate().find(|(_, k)| {
            k.name.eq_ignore_ascii_case(name)
                || k.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }
}

impl KeyType {
    fn qualifier(&self, name: &str) -> Option<(usize, &Qualifier)> {
        self.qualifiers.iter().enumerate().find(|(_, q)| {
            q.name.eq_ignore_ascii_case(name)
                || q.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SchemeLoadError {
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: FieldProblem },
    #[error("{file}: {reason}")]
    Io { file: String, reason: String },
}

/// Every configured scheme, checked against each other.
#[derive(Clone, Debug, Default)]
pub struct SchemeSet {
    schemes: Vec<Arc<Scheme>>,
    /// First path segments of GS1 custom stems no scheme may take: the native scheme's `custom_stems` and the path
    /// of the resolver root (see `with_stem`), each with where it was configured.
    stems: Vec<(String, String)>,
}

impl SchemeSet {
    /// Loads every `*.toml` in `dir` (sorted by name), or the shipped schemes when `dir` does not exist.
    pub fn load(dir: &Path) -> Result<SchemeSet, SchemeLoadError> {
        if !dir.is_dir() {
            return Self::embedded();
        }
        let io = |file: &Path, e: std::io::Error| SchemeLoadError::Io {
            file: file.display().to_string(),
            reason: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Self::from_sources(files)
    }

    pub fn embedded() -> Result<SchemeSet, SchemeLoadError> {
        Self::from_sources(
            EMBEDDED
                .iter()
                .map(|(n, t)| (format!("(built in) schemes/{n}"), t.to_string())),
        )
    }

    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<SchemeSet, SchemeLoadError> {
        let mut set = SchemeSet::default();
        for (file, text) in sources {
            let invalid = |problem| SchemeLoadError::Invalid {
                file: file.clone(),
                problem,
            };
            let mut scheme = file::parse(&text)
                .and_then(|f| f.compile())
                .map_err(invalid)?;
            scheme.source = file.clone();
            set.check_clashes(&scheme).map_err(invalid)?;
            for stem in &scheme.custom_stems {
                set.stems
                    .push((stem.clone(), format!("custom_stems of {file}")));
            }
            set.schemes.push(Arc::new(scheme));
        }
        // After every file: the GS1 file, which names the stems, may come after the schemes they bind.
        set.check_all_shadowing()?;
        Ok(set)
    }

    /// Reserves the first segment of a GS1 custom stem configured elsewhere (`origin` names where), e.g. the path of
    /// the resolver root: a scheme file that takes it is an error.
    pub fn with_stem(mut self, stem: &str, origin: &str) -> Result<SchemeSet, SchemeLoadError> {
        self.stems.push((stem.to_string(), origin.to_string()));
        self.check_all_shadowing()?;
        Ok(self)
    }

    fn check_all_shadowing(&self) -> Result<(), SchemeLoadError> {
        for scheme in &self.schemes {
            self.check_shadowing(scheme)
                .map_err(|problem| SchemeLoadError::Invalid {
                    file: scheme.source.clone(),
                    problem,
                })?;
        }
        Ok(())
    }

    /// A scheme is chosen by a path's first segment before GS1 is tried (`Parser::parse_request`), so a namespace or
    /// root path equal to a first segment GS1 answers would capture those URIs: a compressed GS1 Digital Link URI
    /// (`/eh…`/`/ex…`, one segment, matched case-insensitively like every namespace) or a URI under a configured
    /// custom stem (`/dl/01/…`). Neither may be claimed.
    pub fn check_shadowing(&self, scheme: &Scheme) -> Result<(), FieldProblem> {
        if scheme.native_gs1 || self.gs1().is_none() {
            return Ok(());
        }
        for (field, claim) in claims(scheme) {
            let shadow = |reason: String| {
                Err(FieldProblem {
                    field: field.into(),
                    reason,
                })
            };
            if crate::identifier::gs1::could_be_compressed(claim) {
                return shadow(format!(
                    "{claim:?} has the form of a compressed GS1 Digital Link URI (an EPC binary string: \"eh\" or \
                     \"ex\" and then at least 24 hex or 16 base64url characters, or 8 hex or 6 base64url characters \
                     beginning with the header of an EPC scheme; or a Digital Link compressed segment of a valid key, as \
                     written or in another letter case: every case for names of up to 14 letters, lower and upper \
                     case for longer ones): /{claim} would be read as this scheme's, not decompressed; \
                     choose another name"
                ));
            }
            if let Some((stem, origin)) = self
                .stems
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(claim))
            {
                return shadow(format!(
                    "{claim:?} is the custom stem {stem:?} of GS1 Digital Link URIs ({origin}): /{stem}/01/… would be \
                     read as this scheme's; choose another name"
                ));
            }
        }
        Ok(())
    }

    /// Namespaces and root paths share the first path segment: no two may claim the same one, nor may they take
    /// a segment the resolver itself or GS1 uses.
    fn check_clashes(&self, scheme: &Scheme) -> Result<(), FieldProblem> {
        let claims = |s: &Scheme| {
            let roots = s.key_types.iter().filter_map(|k| k.root_path.clone());
            std::iter::once(s.namespace.clone())
                .chain(roots)
                .collect::<Vec<_>>()
        };
        let taken: Vec<String> = self.schemes.iter().flat_map(|s| claims(s)).collect();
        for (i, claim) in claims(scheme).iter().enumerate() {
            let field = if i == 0 {
                "namespace"
            } else {
                "key_types[].root_path"
            };
            let clash = |reason: String| {
                Err(FieldProblem {
                    field: field.into(),
                    reason,
                })
            };
            if taken.iter().any(|t| t.eq_ignore_ascii_case(claim)) {
                return clash(format!("{claim:?} is already used by another scheme"));
            }
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(claim)) {
                return clash(format!("{claim:?} is reserved by the resolver"));
            }
            if !scheme.native_gs1 && crate::identifier::gs1::is_path_alpha(claim) {
                return clash(format!("{claim:?} is a GS1 Digital Link path element"));
            }
        }
        Ok(())
    }

    /// This set with a scheme registered at run time added, replacing an earlier registration of its namespace.
    /// A namespace defined by a file stays the file's, and GS1 stays native.
    pub fn with_registered(&self, scheme: Scheme) -> Result<SchemeSet, FieldProblem> {
        if let Some(owner) = self
            .schemes
            .iter()
            .find(|s| s.namespace.eq_ignore_ascii_case(&scheme.namespace) && !s.registered)
        {
            return Err(FieldProblem {
                field: "namespace".into(),
                reason: format!(
                    "{:?} is defined by {}; change that file instead",
                    scheme.namespace, owner.source
                ),
            });
        }
        let mut set = SchemeSet {
            stems: self.stems.clone(),
            schemes: self
                .schemes
                .iter()
                .filter(|s| !s.namespace.eq_ignore_ascii_case(&scheme.namespace))
                .cloned()
                .collect(),
        };
        set.check_clashes(&scheme)?;
        set.check_shadowing(&scheme)?;
        set.schemes.push(Arc::new(scheme));
        Ok(set)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Scheme>> {
        self.schemes.iter()
    }

    /// The native GS1 scheme, when configured.
    pub fn gs1(&self) -> Option<&Arc<Scheme>> {
        self.schemes.iter().find(|s| s.native_gs1)
    }

    /// The non-native scheme that owns a first path segment, by namespace or by a key type's root path.
    pub(crate) fn by_first_segment(&self, segment: &str) -> Option<(&Arc<Scheme>, Option<usize>)> {
        self.schemes.iter().filter(|s| !s.native_gs1).find_map(|s| {
            if s.namespace.eq_ignore_ascii_case(segment) {
                return Some((s, None));
            }
            let root = s.key_types.iter().position(|k| {
                k.root_path
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(segment))
            })?;
            Some((s, Some(root)))
        })
    }
}

/// The first path segments a scheme claims, with the field that names each: its namespace, its root paths.
fn claims(scheme: &Scheme) -> impl Iterator<Item = (&'static str, &str)> {
    std::iter::once(("namespace", scheme.namespace.as_str())).chain(
        scheme
            .key_types
            .iter()
            .filter_map(|k| k.root_path.as_deref())
            .map(|r| ("key_types[].root_path", r)),
    )
}

/// First path segments the resolver answers itself.
const RESERVED: &[&str] = &[
    "api",
    "voc",
    ".well-known",
    "healthz",
    "readyz",
    "metrics",
    "robots.txt",
];

#[cfg(test)]
mod tests;

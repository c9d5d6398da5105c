//! Link-type vocabularies, loaded as data from `resolver-config/linktypes/*.json`.
//!
//! Every spelling a client may use (CURIE, full URI under any known namespace, bare term, term alias) maps to one
//! canonical URI, which is what we store and emit.

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The GS1 relation under which the default link is published in linksets.
pub const DEFAULT_LINK: &str = "https://gs1.org/voc/defaultLink";
const DEFAULT_LINK_MULTI: &str = "https://gs1.org/voc/defaultLinkMulti";

/// `defaultLink` and `defaultLinkMulti` are derived from an anchor's default link type, never registered.
pub fn is_default_link(uri: &str) -> bool {
    uri == DEFAULT_LINK || uri == DEFAULT_LINK_MULTI
}

/// The vocabularies we ship, compiled in as the fallback when no config folder is present.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "gs1.json",
        include_str!("../resolver-config/linktypes/gs1.json"),
    ),
    (
        "untp.json",
        include_str!("../resolver-config/linktypes/untp.json"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("link-type vocabulary {file}: {reason}")]
    Invalid { file: String, reason: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VocabularyFile {
    prefix: String,
    namespace: String,
    #[serde(default)]
    namespace_aliases: Vec<String>,
    terms: BTreeMap<String, TermFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TermFile {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    aliases: Vec<String>,
}

/// One known link type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkTypeDef {
    /// Canonical relation URI, e.g. `https://gs1.org/voc/pip`.
    pub uri: String,
    /// e.g. `gs1:pip`.
    pub curie: String,
    pub title: String,
    pub description: String,
}

impl LinkTypeDef {
    /// The vocabulary prefix, e.g. `gs1` for `gs1:pip`.
    pub fn prefix(&self) -> &str {
        self.curie.split(':').next().unwrap_or("")
    }
}

/// A namespace we emit, for the resolver description file.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub prefix: String,
    pub uri: String,
}

#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    defs: Vec<LinkTypeDef>,
    /// Lower-cased spelling → index into `defs`.
    lookup: HashMap<String, usize>,
    namespaces: Vec<Namespace>,
}

impl Vocabulary {
    /// Loads every `*.json` in `dir` (sorted by file name; earlier files win bare-term clashes). Falls back to the
    /// shipped vocabularies when `dir` does not exist.
    pub fn load(dir: &Path) -> Result<Self, VocabularyError> {
        if !dir.is_dir() {
            return Self::from_sources(
                EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())),
            );
        }
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_error(dir, e))?.path();
            if path.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&path).map_err(|e| io_error(&path, e))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        Self::from_sources(files.into_iter())
    }

    pub fn embedded() -> Self {
        Self::from_sources(EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string())))
            .unwrap_or_default()
    }

    fn from_sources(
        sources: impl Iterator<Item = (String, String)>,
    ) -> Result<Self, VocabularyError> {
        let mut vocab = Vocabulary::default();
        for (name, text) in sources {
            let file: VocabularyFile =
                serde_json::from_str(&text).map_err(|e| VocabularyError::Invalid {
                    file: name.clone(),
                    reason: e.to_string(),
                })?;
            vocab.add(&name, file)?;
        }
        if vocab.defs.is_empty() {
            return Err(VocabularyError::Invalid {
                file: "linktypes/".into(),
                reason: "no link types defined".into(),
            });
        }
        Ok(vocab)
    }

    fn add(&mut self, name: &str, file: VocabularyFile) -> Result<(), VocabularyError> {
        let bad = |reason: String| VocabularyError::Invalid {
            file: name.to_string(),
            reason,
        };
        let prefix_ok = !file.prefix.is_empty()
            && file
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err(bad(format!(
                "prefix {:?} must be letters, digits, '_' or '-'",
                file.prefix
            )));
        }
        // Relation keys must pass the linkset schemas: a slash-form http(s) URI with no '#'.
        let ns_ok = (file.namespace.starts_with("https://")
            || file.namespace.starts_with("http://"))
            && file.namespace.ends_with('/')
            && !file.namespace.contains('#');
        if !ns_ok {
            return Err(bad(format!(
                "namespace {:?} must be an http(s) URI ending in '/'",
                file.namespace
            )));
        }
        if self.namespaces.iter().any(|n| n.prefix == file.prefix) {
            return Err(bad(format!("prefix {:?} is defined twice", file.prefix)));
        }
        for (term, def) in &file.terms {
            if term.is_empty() || !term.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad(format!(
                    "term {term:?} must be ASCII letters and digits"
                )));
            }
            let index = self.defs.len();
            self.defs.push(LinkTypeDef {
                uri: format!("{}{}", file.namespace, term),
                curie: format!("{}:{}", file.prefix, term),
                title: def.title.clone(),
                description: def.description.clone(),
            });
            let spellings = std::iter::once(term).chain(def.aliases.iter());
            for spelling in spellings {
                self.index_spelling(&file, spelling, index);
            }
        }
        self.namespaces.push(Namespace {
            prefix: file.prefix,
            uri: file.namespace,
        });
        Ok(())
    }

    fn index_spelling(&mut self, file: &VocabularyFile, spelling: &str, index: usize) {
        let s = spelling.to_ascii_lowercase();
        let namespaces = std::iter::once(&file.namespace).chain(file.namespace_aliases.iter());
        for ns in namespaces {
            self.lookup
                .insert(format!("{}{s}", ns.to_ascii_lowercase()), index);
        }
        self.lookup
            .insert(format!("{}:{s}", file.prefix.to_ascii_lowercase()), index);
        // Bare terms: the first vocabulary to define one keeps it.
        self.lookup.entry(s).or_insert(index);
    }

    /// Finds a link type by any accepted spelling, case-insensitively.
    pub fn lookup(&self, spelling: &str) -> Option<&LinkTypeDef> {
        let key = spelling.trim();
        let hit = match self.lookup.get(key) {
            Some(i) => Some(*i),
            None => self.lookup.get(&key.to_ascii_lowercase()).copied(),
        };
        hit.map(|i| &self.defs[i])
    }

    /// Finds a link type by its canonical URI (as stored).
    pub fn by_uri(&self, uri: &str) -> Option<&LinkTypeDef> {
        self.lookup(uri).filter(|d| d.uri == uri)
    }

    pub fn all(&self) -> &[LinkTypeDef] {
        &self.defs
    }

    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }
}

fn io_error(path: &Path, e: std::io::Error) -> VocabularyError {
    VocabularyError::Invalid {
        file: path.display().to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gs1_input_spelling_maps_to_the_emitted_uri() {
        let v = Vocabulary::embedded();
        for s in [
            "gs1:pip",
            "GS1:PIP",
            "https://gs1.org/voc/pip",
            "https://ref.gs1.org/voc/pip",
            "https://www.gs1.org/voc/pip",
            "pip",
            "Pip",
        ] {
            assert_eq!(
                v.lookup(s).map(|d| d.uri.as_str()),
                Some("https://gs1.org/voc/pip"),
                "{s}"
            );
        }
        assert_eq!(
            v.lookup("gs1:relatedvideo").unwrap().uri,
            "https://gs1.org/voc/relatedVideo"
        );
        assert!(v.lookup("gs1:nosuchlt").is_none());
        assert!(v.lookup("untp:pip").is_none());
    }

    #[test]
    fn untp_spellings_map_to_the_slash_form() {
        let v = Vocabulary::embedded();
        for s in [
            "untp:dpp",
            "https://vocabulary.uncefact.org/untp/linkType#dpp",
            "https://vocabulary.uncefact.org/untp/linkType#digitalProductPassport",
            "https://test.uncefact.org/vocabulary/linkTypes/dpp",
            "untp:digitalProductPassport",
        ] {
            assert_eq!(
                v.lookup(s).map(|d| d.uri.as_str()),
                Some("https://test.uncefact.org/vocabulary/linkTypes/dpp"),
                "{s}"
            );
        }
        assert_eq!(v.lookup("untp:dia").unwrap().curie, "untp:dia");
        // A bare term defined by both vocabularies goes to the first file (gs1.json).
        assert_eq!(v.lookup("dpp").unwrap().uri, "https://gs1.org/voc/dpp");
    }

    #[test]
    fn shipped_gs1_vocabulary_is_complete() {
        let v = Vocabulary::embedded();
        let gs1 = v
            .all()
            .iter()
            .filter(|d| d.curie.starts_with("gs1:"))
            .count();
        assert_eq!(gs1, 60, "gs1-linktypes.json lists 60 ratified link types");
        for t in [
            "defaultLink",
            "defaultLinkMulti",
            "handledBy",
            "epcis",
            "certificationInfo",
        ] {
            assert!(v.lookup(&format!("gs1:{t}")).is_some(), "{t}");
        }
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("x.json"),
            r##"{"prefix":"x","namespace":"https://x.example/voc#","terms":{}}"##,
        )
        .unwrap();
        let err = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("x.json") && err.contains("namespace"), "{err}");
    }
}

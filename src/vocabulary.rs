//! Link-type vocabularies: the files in `resolver-config/linktypes/*.json` (compiled in as the fallback), the
//! built-in IANA link-relation registry (`iana`), and vocabularies issuers register at run time.
//!
//! Every spelling a client may use (CURIE, full URI under any known namespace, bare term, term alias) maps to one
//! link type, whose canonical URI is what we store. Link types may be declared the same relation (`sameAs`, e.g.
//! `untp:dpp` and `gs1:dpp`): one rule, [`Vocabulary::matches`], decides whether a stored link answers a request
//! for a type, and [`Vocabulary::emitted`] which spelling a linkset shows (the `[linktypes] emit` setting).
//!
//! A `Vocabulary` is an immutable value; the server holds the current one in a [`Vocabularies`] cell and swaps in a
//! new one when an issuer registers or deletes a vocabulary, so a request reads one consistent snapshot.

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The GS1 relation under which the default link is published in linksets.
pub const DEFAULT_LINK: &str = "https://gs1.org/voc/defaultLink";
const DEFAULT_LINK_MULTI: &str = "https://gs1.org/voc/defaultLinkMulti";

/// The namespace of IANA's registered link relations (RFC 8288), whose linkset keys are the bare names.
pub const IANA_NAMESPACE: &str = "http://www.iana.org/assignments/relation/";

/// Prefixes no issuer may register or delete: the shipped vocabularies and IANA's.
pub const RESERVED_PREFIXES: [&str; 3] = ["gs1", "untp", "iana"];

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

/// IANA's registered link relations whose names a linkset key can carry (`[a-z-]+`), always present.
const IANA: &str = include_str!("vocabulary/iana.json");

#[derive(Debug, thiserror::Error)]
pub enum VocabularyError {
    #[error("link-type vocabulary {file}: {reason}")]
    Invalid { file: String, reason: String },
}

/// A vocabulary an issuer submits at run time could not be accepted: `field` names the part of the JSON at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
    pub kind: ProblemKind,
}

/// What kind of refusal a [`FieldProblem`] is, for the HTTP status the management API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The submission itself is wrong (`400`).
    Invalid,
    /// It clashes with what the resolver already knows: a spelling, or the number of vocabularies (`409`).
    Conflict,
    /// It is larger than a limit allows (`413`).
    TooLarge,
}

fn problem(field: impl Into<String>, reason: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        reason: reason.into(),
        kind: ProblemKind::Invalid,
    }
}

fn conflict(field: impl Into<String>, reason: impl Into<String>) -> FieldProblem {
    FieldProblem {
        kind: ProblemKind::Conflict,
        ..problem(field, reason)
    }
}

/// A vocabulary file, and the body of `PUT /api/v1/linktypes/{prefix}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VocabularyFile {
    /// The CURIE prefix, e.g. `acme` for `acme:warranty`.
    pub prefix: String,
    /// The namespace URI each term is appended to, ending in `/`.
    pub namespace: String,
    /// Other namespaces accepted as input spellings (never emitted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_aliases: Vec<String>,
    /// Term → its title and description.
    pub terms: BTreeMap<String, TermFile>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TermFile {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Other spellings of the term (input only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Link types (any spelling) that are the same relation; configuration files only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<String>,
    /// The W3C credential types (`type` values, e.g. `DigitalProductPassport`) a target of this link type is: a
    /// link type with any is a credential link type, whose targets verified links check (`crate::verification`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_types: Vec<String>,
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
    /// The relation key a linkset shows for a link of this type (after the `emit` setting): a URI, or for an IANA
    /// relation its bare name.
    pub key: String,
    /// The credential types its targets are (`TermFile::credential_types`); empty for a link type that is no credential.
    pub credential_types: Vec<String>,
    /// Index of its relation (the set of link types declared the same) in the vocabulary.
    relation: usize,
}

impl LinkTypeDef {
    /// The vocabulary prefix, e.g. `gs1` for `gs1:pip`.
    pub fn prefix(&self) -> &str {
        self.curie.split(':').next().unwrap_or("")
    }

    /// The term, e.g. `pip` for `gs1:pip`.
    pub fn term(&self) -> &str {
        self.curie.split_once(':').map_or("", |(_, t)| t)
    }
}

/// A namespace we know, for the resolver description file and the vocabulary listings.
#[derive(Clone, Debug)]
pub struct Namespace {
    pub prefix: String,
    pub uri: String,
    /// Registered by an issuer at run time (not from the configuration).
    pub registered: bool,
}

/// Which spelling linksets show for a relation that several vocabularies name (`[linktypes] emit`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Emit {
    /// Each link under the link type it was registered with.
    #[default]
    Registered,
    /// The link type of this vocabulary prefix (`gs1`, `untp`) when the relation has one, else as registered.
    Prefer(String),
}

impl Emit {
    /// `registered` or a vocabulary prefix.
    pub fn parse(s: &str) -> Emit {
        match s.trim() {
            "" | "registered" => Emit::Registered,
            p => Emit::Prefer(p.to_string()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    defs: Vec<LinkTypeDef>,
    /// Lower-cased spelling → index into `defs`.
    lookup: HashMap<String, usize>,
    /// Canonical URI or linkset key, exactly → index into `defs`.
    exact: HashMap<String, usize>,
    /// Each relation's link types (indices into `defs`), in load order.
    relations: Vec<Vec<usize>>,
    namespaces: Vec<Namespace>,
    /// The configuration's vocabularies (files or embedded), kept to rebuild with run-time ones.
    configured: Arc<Vec<(String, VocabularyFile)>>,
    /// The run-time vocabularies, by prefix.
    registered: BTreeMap<String, VocabularyFile>,
    emit: Emit,
    /// A digest of everything above (the files, the run-time vocabularies, `emit`): equal vocabularies, on any
    /// replica, have equal fingerprints. Linkset `ETag`s include it, since relation keys and grouping depend on it.
    fingerprint: u64,
}

impl Vocabulary {
    /// Loads every `*.json` in `dir` (sorted by file name; earlier files win bare-term clashes). Falls back to the
    /// shipped vocabularies when `dir` does not exist. IANA's relations are always added.
    pub fn load(dir: &Path) -> Result<Self, VocabularyError> {
        Self::load_with(dir, Emit::Registered)
    }

    /// As `load`, emitting relations as `emit` says.
    pub fn load_with(dir: &Path, emit: Emit) -> Result<Self, VocabularyError> {
        if !dir.is_dir() {
            return Self::from_sources(embedded_sources(), emit);
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
        Self::from_sources(files.into_iter(), emit)
    }

    pub fn embedded() -> Self {
        Self::from_sources(embedded_sources(), Emit::Registered).unwrap_or_default()
    }

    fn from_sources(
        sources: impl Iterator<Item = (String, String)>,
        emit: Emit,
    ) -> Result<Self, VocabularyError> {
        let mut files = Vec::new();
        for (name, text) in sources {
            let file: VocabularyFile =
                serde_json::from_str(&text).map_err(|e| VocabularyError::Invalid {
                    file: name.clone(),
                    reason: e.to_string(),
                })?;
            if file.prefix.eq_ignore_ascii_case("iana") {
                return Err(VocabularyError::Invalid {
                    file: name,
                    reason: "the prefix \"iana\" is built in".into(),
                });
            }
            files.push((name, file));
        }
        let iana: VocabularyFile =
            serde_json::from_str(IANA).map_err(|e| VocabularyError::Invalid {
                file: "iana (built in)".into(),
                reason: e.to_string(),
            })?;
        files.push(("iana (built in)".into(), iana));
        if let Emit::Prefer(p) = &emit
            && !files.iter().any(|(_, f)| &f.prefix == p)
        {
            return Err(VocabularyError::Invalid {
                file: "linktypes.emit".into(),
                reason: format!(
                    "{p:?} is neither \"registered\" nor a configured vocabulary's prefix"
                ),
            });
        }
        Self::build(Arc::new(files), BTreeMap::new(), emit).map_err(|(file, p)| {
            VocabularyError::Invalid {
                file,
                reason: p.to_string(),
            }
        })
    }

    /// Indexes the configured vocabularies, then the run-time ones; `Err` names the file (or prefix) and the field.
    fn build(
        configured: Arc<Vec<(String, VocabularyFile)>>,
        registered: BTreeMap<String, VocabularyFile>,
        emit: Emit,
    ) -> Result<Self, (String, FieldProblem)> {
        let mut vocab = Vocabulary {
            configured: configured.clone(),
            emit,
            ..Default::default()
        };
        for (name, file) in configured.iter() {
            vocab.add(file, false).map_err(|p| (name.clone(), p))?;
        }
        for (prefix, file) in &registered {
            vocab.add(file, true).map_err(|p| (prefix.clone(), p))?;
        }
        if vocab.defs.is_empty() {
            return Err((
                "linktypes/".into(),
                problem("terms", "no link types defined"),
            ));
        }
        for (name, file) in configured.iter() {
            vocab.join_same_as(file).map_err(|p| (name.clone(), p))?;
        }
        vocab.fingerprint = fingerprint(&configured, &registered, &vocab.emit);
        vocab.registered = registered;
        vocab.settle_relations();
        Ok(vocab)
    }

    fn add(&mut self, file: &VocabularyFile, registered: bool) -> Result<(), FieldProblem> {
        let iana = !registered && file.prefix == "iana";
        check_prefix(&file.prefix)?;
        check_namespace(&file.namespace, iana)?;
        if self
            .namespaces
            .iter()
            .any(|n| n.prefix.eq_ignore_ascii_case(&file.prefix))
        {
            return Err(problem(
                "prefix",
                format!("prefix {:?} is defined twice", file.prefix),
            ));
        }
        let namespaces = std::iter::once(&file.namespace).chain(&file.namespace_aliases);
        for (i, ns) in namespaces.enumerate() {
            let field = match i {
                0 => "namespace".to_string(),
                n => format!("namespaceAliases[{}]", n - 1),
            };
            if !ns.ends_with('/') && !ns.ends_with('#') {
                return Err(problem(field, format!("{ns:?} must end in '/' or '#'")));
            }
            if let Some(other) = self.namespace_owner(ns) {
                return Err(problem(
                    field,
                    format!("{ns:?} is already the namespace of the {other:?} vocabulary"),
                ));
            }
            if registered && let Some(other) = self.configured_host(ns) {
                return Err(problem(
                    field,
                    format!(
                        "{ns:?} is on the host of the {other:?} vocabulary's namespace; a registered vocabulary \
                         cannot be published under a configured vocabulary's host"
                    ),
                ));
            }
        }
        if file.terms.is_empty() {
            return Err(problem("terms", "a vocabulary needs at least one term"));
        }
        for (term, def) in &file.terms {
            let field = format!("terms.{term}");
            let term_ok = !term.is_empty()
                && term.len() <= 64
                && if iana {
                    term.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                } else {
                    term.bytes().all(|b| b.is_ascii_alphanumeric())
                };
            if !term_ok {
                return Err(problem(field, "a term is 1 to 64 ASCII letters and digits"));
            }
            if def.title.trim().is_empty() {
                return Err(problem(format!("{field}.title"), "a term needs a title"));
            }
            if registered && !def.same_as.is_empty() {
                return Err(problem(
                    format!("{field}.sameAs"),
                    "equivalences are declared in the resolver's configuration files, not at run time",
                ));
            }
            for (n, alias) in def.aliases.iter().enumerate() {
                if alias.is_empty()
                    || !alias
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(problem(
                        format!("{field}.aliases[{n}]"),
                        "an alias is ASCII letters, digits and '-'",
                    ));
                }
            }
            let uri = format!("{}{}", file.namespace, term);
            let index = self.defs.len();
            self.defs.push(LinkTypeDef {
                key: if iana { term.clone() } else { uri.clone() },
                uri,
                curie: format!("{}:{}", file.prefix, term),
                title: def.title.clone(),
                description: def.description.clone(),
                credential_types: def.credential_types.clone(),
                relation: index,
            });
            for spelling in std::iter::once(term).chain(def.aliases.iter()) {
                // Bare terms are the configuration's: an issuer's terms are spelt with their prefix or namespace,
                // so no registration changes what a bare name means.
                self.index_spelling(file, spelling, index, !registered)
                    .map_err(|reason| conflict(format!("terms.{term}"), reason))?;
            }
        }
        self.namespaces.push(Namespace {
            prefix: file.prefix.clone(),
            uri: file.namespace.clone(),
            registered,
        });
        Ok(())
    }

    /// The prefix of the vocabulary whose namespace (or alias) `ns` is.
    fn namespace_owner(&self, ns: &str) -> Option<String> {
        let lower = ns.to_ascii_lowercase();
        self.lookup
            .iter()
            .find(|(k, _)| k.starts_with(&lower) && !k[lower.len()..].contains(['/', '#']))
            .map(|(_, &i)| self.defs[i].prefix().to_string())
    }

    /// The configured vocabulary (its prefix) whose namespace, or a namespace alias, is on the host of `ns` or a
    /// host within or around it (`gs1.org` covers `ref.gs1.org`, `www.iana.org` covers `iana.org`).
    fn configured_host(&self, ns: &str) -> Option<String> {
        let host = |uri: &str| {
            url::Url::parse(uri).ok().and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            })
        };
        let mine = host(ns)?;
        let related = |a: &str, b: &str| {
            a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
        };
        self.configured.iter().find_map(|(_, f)| {
            std::iter::once(&f.namespace)
                .chain(&f.namespace_aliases)
                .filter_map(|n| host(n))
                .any(|h| related(&mine, &h))
                .then(|| f.prefix.clone())
        })
    }

    /// Indexes one spelling of a term under every namespace and the prefix. A spelling an earlier vocabulary (or
    /// term) already has is never taken over: the vocabulary is refused, naming the spelling.
    fn index_spelling(
        &mut self,
        file: &VocabularyFile,
        spelling: &str,
        index: usize,
        bare: bool,
    ) -> Result<(), String> {
        let s = spelling.to_ascii_lowercase();
        let namespaces = std::iter::once(&file.namespace).chain(file.namespace_aliases.iter());
        let keys: Vec<String> = namespaces
            .map(|ns| format!("{}{s}", ns.to_ascii_lowercase()))
            .chain(std::iter::once(format!(
                "{}:{s}",
                file.prefix.to_ascii_lowercase()
            )))
            .collect();
        for key in keys {
            match self.lookup.get(&key) {
                Some(&other) if other != index => {
                    return Err(format!(
                        "the spelling {key:?} already names the link type {}",
                        self.defs[other].curie
                    ));
                }
                _ => {
                    self.lookup.insert(key, index);
                }
            }
        }
        // Bare terms: the first vocabulary to define one keeps it (files in name order, then IANA).
        if bare {
            self.lookup.entry(s).or_insert(index);
        }
        Ok(())
    }

    /// Joins each term of `file` with the link types its `sameAs` names into one relation.
    fn join_same_as(&mut self, file: &VocabularyFile) -> Result<(), FieldProblem> {
        for (term, def) in &file.terms {
            let curie = format!("{}:{term}", file.prefix).to_ascii_lowercase();
            let Some(&me) = self.lookup.get(&curie) else {
                return Err(problem(
                    format!("terms.{term}"),
                    format!("{curie:?} was not indexed"),
                ));
            };
            for (n, other) in def.same_as.iter().enumerate() {
                let field = format!("terms.{term}.sameAs[{n}]");
                let Some(&them) = self.lookup.get(&other.to_ascii_lowercase()) else {
                    return Err(problem(
                        field,
                        format!("{other:?} is not a known link type"),
                    ));
                };
                let (a, b) = (self.root(me), self.root(them));
                self.defs[a.max(b)].relation = a.min(b);
            }
        }
        Ok(())
    }

    fn root(&self, mut i: usize) -> usize {
        while self.defs[i].relation != i {
            i = self.defs[i].relation;
        }
        i
    }

    /// Numbers the relations, and sets each link type's linkset key and the exact-match index.
    fn settle_relations(&mut self) {
        let mut number: HashMap<usize, usize> = HashMap::new();
        for i in 0..self.defs.len() {
            let root = self.root(i);
            let next = number.len();
            let n = *number.entry(root).or_insert(next);
            if n == self.relations.len() {
                self.relations.push(Vec::new());
            }
            self.relations[n].push(i);
        }
        for i in 0..self.defs.len() {
            self.defs[i].relation = number[&self.root(i)];
        }
        for i in 0..self.defs.len() {
            let preferred = match &self.emit {
                Emit::Prefer(p) => self.relations[self.defs[i].relation]
                    .iter()
                    .copied()
                    .find(|&j| self.defs[j].prefix() == p),
                Emit::Registered => None,
            };
            if let Some(j) = preferred {
                self.defs[i].key = self.defs[j].key.clone();
            }
            self.exact.insert(self.defs[i].uri.clone(), i);
        }
        // Natural keys (an IANA relation's bare name) last, so a URI always finds its own link type.
        for i in 0..self.defs.len() {
            if self.defs[i].prefix() == "iana" {
                let bare = self.defs[i].term().to_string();
                self.exact.entry(bare).or_insert(i);
            }
        }
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

    /// Finds a link type by its canonical URI (as stored) or by the key a linkset shows for it.
    pub fn by_uri(&self, uri: &str) -> Option<&LinkTypeDef> {
        self.exact.get(uri).map(|&i| &self.defs[i])
    }

    /// The matching rule: whether a link stored with type `stored` answers a request for `wanted` (both canonical
    /// URIs): the same link type, or one declared the same relation.
    pub fn matches(&self, wanted: &str, stored: &str) -> bool {
        self.relation(wanted).matches(stored)
    }

    /// The matching rule for relation keys as linksets and DID services carry them (a canonical URI, or an IANA
    /// relation's bare name): whether `a` and `b` are the same relation.
    pub fn same_relation(&self, a: &str, b: &str) -> bool {
        a == b
            || match (self.by_uri(a), self.by_uri(b)) {
                (Some(x), Some(y)) => self.matches(&x.uri, &y.uri),
                _ => false,
            }
    }

    /// The relation of the link type `uri`, to match many stored links against with one look-up.
    pub fn relation<'a>(&'a self, uri: &'a str) -> Relation<'a> {
        let members = match self.exact.get(uri) {
            Some(&i) => self.relations[self.defs[i].relation].as_slice(),
            None => &[],
        };
        Relation {
            uri,
            members,
            defs: &self.defs,
        }
    }

    /// One URI standing for the relation of the link type `uri`: the same for every link type declared the same
    /// relation (its first member's URI), `uri` itself for a URI no vocabulary knows. What two links are compared by
    /// when spelling must not matter (`Link::variant_key`).
    pub fn relation_key<'a>(&'a self, uri: &'a str) -> &'a str {
        match self.exact.get(uri) {
            Some(&i) => self.relations[self.defs[i].relation]
                .first()
                .map_or(uri, |&j| self.defs[j].uri.as_str()),
            None => uri,
        }
    }

    /// The credential types a target of link type `uri` may be: those declared on any link type of its relation
    /// (`gs1:dpp` is a DPP link because `untp:dpp`, the same relation, says so). Empty: not a credential link type.
    pub fn credential_types(&self, uri: &str) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .equivalents(uri)
            .into_iter()
            .flat_map(|d| d.credential_types.iter().map(String::as_str))
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// Whether a target of link type `uri` is a credential (`credential_types` is not empty), without allocating.
    pub fn is_credential_type(&self, uri: &str) -> bool {
        self.exact.get(uri).is_some_and(|&i| {
            self.relations[self.defs[i].relation]
                .iter()
                .any(|&j| !self.defs[j].credential_types.is_empty())
        })
    }

    /// Every link type that is the same relation as `uri` (itself included); empty for a URI no vocabulary knows.
    pub fn equivalents(&self, uri: &str) -> Vec<&LinkTypeDef> {
        match self.exact.get(uri) {
            Some(&i) => self.relations[self.defs[i].relation]
                .iter()
                .map(|&j| &self.defs[j])
                .collect(),
            None => Vec::new(),
        }
    }

    /// The other link types declared the same relation as `def`, as CURIEs.
    pub fn same_as(&self, def: &LinkTypeDef) -> Vec<&str> {
        self.relations[def.relation]
            .iter()
            .map(|&j| self.defs[j].curie.as_str())
            .filter(|c| *c != def.curie)
            .collect()
    }

    /// The relations that more than one link type names, each as CURIEs.
    pub fn equivalences(&self) -> Vec<Vec<&str>> {
        self.relations
            .iter()
            .filter(|r| r.len() > 1)
            .map(|r| r.iter().map(|&j| self.defs[j].curie.as_str()).collect())
            .collect()
    }

    /// The relation key a linkset shows for a link stored with type `uri`: per the `emit` setting, and an IANA
    /// relation's bare name; a URI no vocabulary knows as it is.
    pub fn emitted<'a>(&'a self, uri: &'a str) -> &'a str {
        if self.emit == Emit::Registered && !uri.starts_with(IANA_NAMESPACE) {
            return uri;
        }
        self.exact
            .get(uri)
            .map_or(uri, |&i| self.defs[i].key.as_str())
    }

    pub fn all(&self) -> &[LinkTypeDef] {
        &self.defs
    }

    pub fn namespaces(&self) -> &[Namespace] {
        &self.namespaces
    }

    /// Every vocabulary as its file form, configured ones first, each with whether it was registered at run time.
    pub fn files(&self) -> impl Iterator<Item = (&VocabularyFile, bool)> {
        self.configured
            .iter()
            .map(|(_, f)| (f, false))
            .chain(self.registered.values().map(|f| (f, true)))
    }

    /// The run-time vocabularies, by prefix.
    pub fn registered(&self) -> &BTreeMap<String, VocabularyFile> {
        &self.registered
    }

    /// Whether `prefix` names a vocabulary of the configuration (or IANA's), which no issuer may change.
    pub fn is_configured(&self, prefix: &str) -> bool {
        RESERVED_PREFIXES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(prefix))
            || self
                .configured
                .iter()
                .any(|(_, f)| f.prefix.eq_ignore_ascii_case(prefix))
    }

    /// Whether `prefix` is a vocabulary of a configuration file (or the compiled-in fallback): those a scheme's
    /// `vocabularies` list restricts. IANA's relations and the vocabularies issuers register are open to every
    /// scheme (registering one is governed by `linktypes/{prefix}` scopes).
    pub fn is_file_vocabulary(&self, prefix: &str) -> bool {
        prefix != "iana" && self.configured.iter().any(|(_, f)| f.prefix == prefix)
    }

    /// Whether `file` fits the bounds on run-time vocabularies (checked when one is submitted, not when a stored one is
    /// re-read): how many there are, their size, and their texts (bounded, no control characters).
    pub fn admit(
        &self,
        file: &VocabularyFile,
        limits: &RegistrationLimits,
    ) -> Result<(), FieldProblem> {
        if !self.registered.contains_key(&file.prefix)
            && self.registered.len() >= limits.max_vocabularies
        {
            return Err(conflict(
                "prefix",
                format!(
                    "{} vocabularies are registered, the most limits.max_link_type_vocabularies allows",
                    self.registered.len()
                ),
            ));
        }
        if file.terms.len() > limits.max_terms {
            return Err(FieldProblem {
                kind: ProblemKind::TooLarge,
                ..problem(
                    "terms",
                    format!(
                        "{} terms; limits.max_link_type_terms allows {}",
                        file.terms.len(),
                        limits.max_terms
                    ),
                )
            });
        }
        if file.namespace_aliases.len() > MAX_ALIASES {
            return Err(problem(
                "namespaceAliases",
                format!("at most {MAX_ALIASES} namespace aliases"),
            ));
        }
        for (term, def) in &file.terms {
            if def.aliases.len() > MAX_ALIASES {
                return Err(problem(
                    format!("terms.{term}.aliases"),
                    format!("at most {MAX_ALIASES} aliases"),
                ));
            }
            for (name, text) in [("title", &def.title), ("description", &def.description)] {
                let field = format!("terms.{term}.{name}");
                if text.len() > limits.max_text_bytes {
                    return Err(problem(
                        field,
                        format!(
                            "{} bytes; limits.max_text_bytes allows {}",
                            text.len(),
                            limits.max_text_bytes
                        ),
                    ));
                }
                if text.chars().any(char::is_control) {
                    return Err(problem(field, "control characters are not allowed"));
                }
            }
        }
        Ok(())
    }

    /// This vocabulary with the run-time vocabulary `file` added (or replacing the one of its prefix).
    pub fn with_registered(&self, file: VocabularyFile) -> Result<Vocabulary, FieldProblem> {
        if self.is_configured(&file.prefix) {
            return Err(problem(
                "prefix",
                format!(
                    "{:?} is a vocabulary of the resolver's configuration and cannot be redefined",
                    file.prefix
                ),
            ));
        }
        let mut registered = self.registered.clone();
        registered.insert(file.prefix.clone(), file);
        Self::build(self.configured.clone(), registered, self.emit.clone()).map_err(|(_, p)| p)
    }

    /// This vocabulary without the run-time vocabulary `prefix`.
    pub fn without_registered(&self, prefix: &str) -> Vocabulary {
        let mut registered = self.registered.clone();
        registered.remove(prefix);
        Self::build(self.configured.clone(), registered, self.emit.clone())
            .unwrap_or_else(|_| self.clone())
    }

    /// This vocabulary with exactly the run-time vocabularies `stored` (as read from the store: `(prefix, JSON)`);
    /// an entry that no longer fits (e.g. the configuration now defines its prefix) is skipped with a warning.
    pub fn with_stored(&self, stored: &[(String, String)]) -> Vocabulary {
        let mut vocab = Self::build(self.configured.clone(), BTreeMap::new(), self.emit.clone())
            .unwrap_or_else(|_| self.clone());
        for (prefix, json) in stored {
            let added = serde_json::from_str::<VocabularyFile>(json)
                .map_err(|e| problem("body", e.to_string()))
                .and_then(|f| vocab.with_registered(f));
            match added {
                Ok(v) => vocab = v,
                Err(e) => {
                    tracing::warn!(prefix, error = %e, "registered link-type vocabulary skipped")
                }
            }
        }
        vocab
    }

    /// A digest of this vocabulary's sources and `emit` setting (see the field).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The JSON of a run-time vocabulary as stored (and answered by `GET /api/v1/linktypes/{prefix}`).
    pub fn registered_json(file: &VocabularyFile) -> String {
        serde_json::to_string(file).unwrap_or_default()
    }
}

/// The first 8 bytes of a SHA-256 over the sources in order (their JSON is deterministic: terms are a `BTreeMap`).
/// Run once per vocabulary built, never per request.
fn fingerprint(
    configured: &[(String, VocabularyFile)],
    registered: &BTreeMap<String, VocabularyFile>,
    emit: &Emit,
) -> u64 {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let files = configured.iter().map(|(n, f)| (n, f)).chain(registered);
    for (name, file) in files {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(serde_json::to_vec(file).unwrap_or_default());
        digest.update([0]);
    }
    digest.update(format!("{emit:?}").as_bytes());
    let bytes = digest.finalize();
    u64::from_be_bytes(bytes[..8].try_into().unwrap_or_default())
}

/// A relation: a link type and those declared the same (`sameAs`).
#[derive(Clone, Copy, Debug)]
pub struct Relation<'a> {
    uri: &'a str,
    members: &'a [usize],
    defs: &'a [LinkTypeDef],
}

impl Relation<'_> {
    /// Whether a link stored with the link type `stored` (a canonical URI) is of this relation.
    pub fn matches(&self, stored: &str) -> bool {
        self.uri == stored || self.members.iter().any(|&j| self.defs[j].uri == stored)
    }

    /// Every canonical URI of this relation: the one asked for and those declared the same.
    pub fn uris(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.uri).chain(self.members.iter().map(|&j| self.defs[j].uri.as_str()))
    }
}

/// Namespace aliases per vocabulary, and aliases per term, a registered vocabulary may have.
const MAX_ALIASES: usize = 16;

/// Bounds on the vocabularies issuers register at run time (`[limits]`).
#[derive(Clone, Copy, Debug)]
pub struct RegistrationLimits {
    pub max_terms: usize,
    pub max_vocabularies: usize,
    pub max_text_bytes: usize,
}

impl RegistrationLimits {
    pub fn from_settings(limits: &crate::config::LimitSettings) -> Self {
        RegistrationLimits {
            max_terms: limits.max_link_type_terms,
            max_vocabularies: limits.max_link_type_vocabularies,
            max_text_bytes: limits.max_text_bytes,
        }
    }
}

/// The vocabulary in force, swapped whole when a run-time vocabulary is registered or deleted: readers take a
/// snapshot (`current`) without a lock and keep it for the request.
pub struct Vocabularies {
    current: ArcSwap<Vocabulary>,
}

impl Vocabularies {
    pub fn new(vocabulary: Vocabulary) -> Self {
        Vocabularies {
            current: ArcSwap::from_pointee(vocabulary),
        }
    }

    pub fn current(&self) -> Arc<Vocabulary> {
        self.current.load_full()
    }

    pub fn replace(&self, vocabulary: Vocabulary) {
        self.current.store(Arc::new(vocabulary));
    }

    /// Re-reads the run-time vocabularies from their stored form, when they differ from those in force.
    pub fn reload(&self, stored: &[(String, String)]) {
        let current = self.current();
        let same = stored.len() == current.registered.len()
            && stored.iter().all(|(p, json)| {
                current.registered.get(p).is_some_and(|f| {
                    serde_json::from_str::<VocabularyFile>(json).ok().as_ref() == Some(f)
                })
            });
        if !same {
            self.replace(current.with_stored(stored));
            tracing::info!(
                count = stored.len(),
                "registered link-type vocabularies loaded"
            );
        }
    }
}

/// A prefix as a CURIE and a description file accept it: a lower-case letter, then lower-case letters, digits, `_`
/// or `-`. CURIE prefixes are matched case-insensitively, so one spelling per prefix keeps `UNTP` from being a
/// second vocabulary beside `untp`.
fn check_prefix(prefix: &str) -> Result<(), FieldProblem> {
    let ok = prefix.len() <= 32
        && prefix
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(problem(
            "prefix",
            format!(
                "prefix {prefix:?} must be 1 to 32 lower-case letters, digits, '_' or '-', starting with a letter"
            ),
        ))
    }
}

/// Relation keys must pass both linkset schemas: `http(s)://` then only letters, digits, `.` and `/`, ending in
/// `/` (IANA's keys are bare names, so its namespace is exempt).
fn check_namespace(ns: &str, iana: bool) -> Result<(), FieldProblem> {
    let rest = ns
        .strip_prefix("https://")
        .or_else(|| ns.strip_prefix("http://"));
    let ok = iana
        || rest.is_some_and(|r| {
            r.len() > 1
                && r.ends_with('/')
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
        });
    if ok {
        Ok(())
    } else {
        Err(problem(
            "namespace",
            format!(
                "namespace {ns:?} must be an http(s) URI ending in '/' made of letters, digits, '.' and '/' \
                 (linkset schemas accept no other characters in a relation URI)"
            ),
        ))
    }
}

fn embedded_sources() -> impl Iterator<Item = (String, String)> {
    EMBEDDED.iter().map(|(n, t)| (n.to_string(), t.to_string()))
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

    const GS1_DPP: &str = "https://gs1.org/voc/dpp";
    const UNTP_DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

    /// UNTP's vocabulary declares its credential link types; GS1's dpp is one through its equivalence to untp:dpp.
    #[test]
    fn credential_link_types_follow_their_relation() {
        let v = Vocabulary::embedded();
        assert_eq!(v.credential_types(UNTP_DPP), ["DigitalProductPassport"]);
        assert_eq!(v.credential_types(GS1_DPP), ["DigitalProductPassport"]);
        assert!(v.is_credential_type(GS1_DPP));
        let dcc = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
        assert_eq!(v.credential_types(dcc), ["DigitalConformityCredential"]);
        for plain in ["https://gs1.org/voc/pip", "https://unknown.example/x"] {
            assert!(v.credential_types(plain).is_empty(), "{plain}");
            assert!(!v.is_credential_type(plain), "{plain}");
        }
    }

    #[test]
    fn dpp_is_one_relation_in_every_spelling() {
        let v = Vocabulary::embedded();
        for wanted in [
            "dpp",
            "gs1:dpp",
            "untp:dpp",
            GS1_DPP,
            UNTP_DPP,
            "https://ref.gs1.org/voc/dpp",
        ] {
            let uri = &v.lookup(wanted).unwrap().uri;
            assert!(v.matches(uri, GS1_DPP), "{wanted} finds a gs1:dpp link");
            assert!(v.matches(uri, UNTP_DPP), "{wanted} finds an untp:dpp link");
        }
        assert!(!v.matches(GS1_DPP, "https://gs1.org/voc/pip"));
        assert!(!v.matches(
            UNTP_DPP,
            "https://test.uncefact.org/vocabulary/linkTypes/dcc"
        ));
        // GS1 has no dcc or dfr: their bare names are UNTP's.
        assert_eq!(v.lookup("dcc").unwrap().curie, "untp:dcc");
        assert_eq!(v.lookup("dfr").unwrap().curie, "untp:dfr");
        assert_eq!(v.same_as(v.by_uri(UNTP_DPP).unwrap()), vec!["gs1:dpp"]);
        assert_eq!(v.equivalences(), vec![vec!["gs1:dpp", "untp:dpp"]]);
    }

    #[test]
    fn iana_relations_are_built_in_and_emitted_bare() {
        let v = Vocabulary::embedded();
        for s in [
            "describedby",
            "iana:describedby",
            "http://www.iana.org/assignments/relation/describedby",
            "https://www.iana.org/assignments/relation/DescribedBy",
        ] {
            assert_eq!(
                v.lookup(s).map(|d| d.uri.as_str()),
                Some("http://www.iana.org/assignments/relation/describedby"),
                "{s}"
            );
        }
        let doc = v.lookup("service-doc").unwrap();
        assert_eq!(v.emitted(&doc.uri), "service-doc");
        assert_eq!(v.by_uri("service-doc").unwrap().curie, "iana:service-doc");
        assert!(v.lookup("license").is_some() && v.lookup("predecessor-version").is_some());
        // A GS1 term keeps its bare name: files come before IANA.
        assert_eq!(v.lookup("pip").unwrap().curie, "gs1:pip");
    }

    fn with_emit(emit: &str) -> Vocabulary {
        Vocabulary::from_sources(embedded_sources(), Emit::parse(emit)).unwrap()
    }

    #[test]
    fn emit_chooses_the_spelling_of_a_shared_relation() {
        let registered = with_emit("registered");
        assert_eq!(registered.emitted(UNTP_DPP), UNTP_DPP);
        assert_eq!(registered.emitted(GS1_DPP), GS1_DPP);
        let gs1 = with_emit("gs1");
        assert_eq!(gs1.emitted(UNTP_DPP), GS1_DPP);
        assert_eq!(gs1.emitted(GS1_DPP), GS1_DPP);
        let dcc = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
        assert_eq!(gs1.emitted(dcc), dcc, "no GS1 form: as registered");
        let untp = with_emit("untp");
        assert_eq!(untp.emitted(GS1_DPP), UNTP_DPP);
        assert_eq!(
            untp.emitted("https://gs1.org/voc/pip"),
            "https://gs1.org/voc/pip"
        );
        let err = Vocabulary::from_sources(embedded_sources(), Emit::parse("acme"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("linktypes.emit"), "{err}");
    }

    fn acme() -> VocabularyFile {
        serde_json::from_value(serde_json::json!({
            "prefix": "acme",
            "namespace": "https://id.acme.example/voc/",
            "terms": {"warranty": {"title": "Warranty", "description": "Terms"}}
        }))
        .unwrap()
    }

    #[test]
    fn registered_vocabularies_are_spelt_with_their_prefix() {
        let v = Vocabulary::embedded().with_registered(acme()).unwrap();
        let def = v.lookup("acme:warranty").unwrap();
        assert_eq!(def.uri, "https://id.acme.example/voc/warranty");
        assert_eq!(
            v.lookup("https://id.acme.example/voc/warranty")
                .unwrap()
                .curie,
            "acme:warranty"
        );
        assert!(
            v.lookup("warranty").is_none(),
            "no bare names for run-time vocabularies"
        );
        assert!(
            v.namespaces()
                .iter()
                .any(|n| n.prefix == "acme" && n.registered)
        );
        let without = v.without_registered("acme");
        assert!(without.lookup("acme:warranty").is_none());
        // Stored form → the same vocabulary.
        let stored = vec![("acme".to_string(), Vocabulary::registered_json(&acme()))];
        let reloaded = Vocabulary::embedded().with_stored(&stored);
        assert_eq!(reloaded.registered(), v.registered());
    }

    #[test]
    fn bad_registrations_name_the_field() {
        let v = Vocabulary::embedded();
        let refused = |f: VocabularyFile| v.with_registered(f).unwrap_err().field;
        for reserved in ["gs1", "untp", "iana"] {
            let mut f = acme();
            f.prefix = reserved.into();
            assert_eq!(refused(f), "prefix", "{reserved}");
        }
        let mut f = acme();
        f.namespace = "https://id.acme-corp.example/voc/".into();
        assert_eq!(refused(f), "namespace");
        let mut f = acme();
        f.namespace = "https://gs1.org/voc/".into();
        assert_eq!(refused(f), "namespace");
        let mut f = acme();
        f.terms.get_mut("warranty").unwrap().same_as = vec!["gs1:pip".into()];
        assert_eq!(refused(f), "terms.warranty.sameAs");
        let mut f = acme();
        f.terms
            .insert("bad-term".into(), f.terms["warranty"].clone());
        assert_eq!(refused(f), "terms.bad-term");
        let mut f = acme();
        f.terms.get_mut("warranty").unwrap().title = " ".into();
        assert_eq!(refused(f), "terms.warranty.title");
        let mut f = acme();
        f.prefix = "1acme".into();
        assert_eq!(refused(f), "prefix");
    }

    /// A reserved or configured prefix in another case is the same prefix: refused, and no spelling of the shipped
    /// vocabularies changes (`UNTP` once took over `untp:dpp`).
    #[test]
    fn a_prefix_in_another_case_takes_nothing_over() {
        let v = Vocabulary::embedded();
        for prefix in ["GS1", "Untp", "IANA", "uNtP"] {
            let mut f = acme();
            f.prefix = prefix.into();
            f.terms = BTreeMap::from([("dpp".to_string(), acme().terms["warranty"].clone())]);
            assert!(v.is_configured(prefix), "{prefix}");
            let refused = v.with_registered(f).unwrap_err();
            assert_eq!(refused.field, "prefix", "{prefix}");
        }
        // A new prefix with a capital is refused too: prefixes are lower-case.
        let mut f = acme();
        f.prefix = "Acme".into();
        assert_eq!(v.with_registered(f).unwrap_err().field, "prefix");
        assert_eq!(v.lookup("untp:dpp").unwrap().uri, UNTP_DPP);
        assert_eq!(v.lookup("UNTP:DPP").unwrap().uri, UNTP_DPP);
    }

    /// A spelling an earlier vocabulary (or term) has is never overwritten: the registration is refused with a
    /// conflict naming it.
    #[test]
    fn a_colliding_spelling_is_refused_not_overwritten() {
        let v = Vocabulary::embedded().with_registered(acme()).unwrap();
        let mut f = acme();
        f.terms.insert(
            "zmanual".into(),
            TermFile {
                aliases: vec!["Warranty".into()],
                ..f.terms["warranty"].clone()
            },
        );
        let refused = Vocabulary::embedded().with_registered(f).unwrap_err();
        assert_eq!(refused.kind, ProblemKind::Conflict, "{refused}");
        assert_eq!(refused.field, "terms.zmanual");
        assert!(
            refused.reason.contains("acme.example/voc/warranty\"")
                && refused.reason.ends_with("link type acme:warranty"),
            "{refused}"
        );
        assert_eq!(v.lookup("acme:warranty").unwrap().term(), "warranty");
    }

    /// A configuration file whose prefix has a capital letter is a named error, not a panic.
    #[test]
    fn a_configured_prefix_with_a_capital_is_a_named_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("acme.json"),
            r#"{"prefix":"Acme","namespace":"https://acme.example/voc/","terms":{"w":{"title":"W","sameAs":["acme:w"]}}}"#,
        )
        .unwrap();
        let err = Vocabulary::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("acme.json") && err.contains("prefix"), "{err}");
    }

    /// No registered namespace on (or around) the host of a configured one: an issuer cannot publish under GS1's,
    /// UNTP's or IANA's host.
    #[test]
    fn configured_hosts_are_not_registrable() {
        let v = Vocabulary::embedded();
        for ns in [
            "https://gs1.org/voc/x/",
            "https://gs1.org/",
            "https://ref.gs1.org/other/",
            "https://evil.gs1.org/voc/",
            "https://test.uncefact.org/vocabulary/linkTypes/extra/",
            "https://vocabulary.uncefact.org/mine/",
            "https://uncefact.org/voc/",
            "https://www.iana.org/assignments/relation/x/",
            "http://iana.org/voc/",
        ] {
            let mut f = acme();
            f.namespace = ns.into();
            let refused = v.with_registered(f).unwrap_err();
            assert_eq!(refused.field, "namespace", "{ns}: {refused}");
        }
        let mut f = acme();
        f.namespace_aliases = vec!["https://gs1.org/acme/".into()];
        assert_eq!(
            v.with_registered(f).unwrap_err().field,
            "namespaceAliases[0]"
        );
        // Another host is fine, even one whose name contains a configured host's.
        let mut f = acme();
        f.namespace = "https://notgs1.org.example/voc/".into();
        assert!(v.with_registered(f).is_ok());
    }

    #[test]
    fn registrations_are_bounded() {
        let limits = RegistrationLimits {
            max_terms: 2,
            max_vocabularies: 1,
            max_text_bytes: 20,
        };
        let v = Vocabulary::embedded();
        assert!(v.admit(&acme(), &limits).is_ok());
        let mut f = acme();
        for t in ["a", "b"] {
            f.terms.insert(t.into(), acme().terms["warranty"].clone());
        }
        let refused = v.admit(&f, &limits).unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.kind),
            ("terms", ProblemKind::TooLarge)
        );
        let mut f = acme();
        f.terms.get_mut("warranty").unwrap().title = "x".repeat(21);
        assert_eq!(
            v.admit(&f, &limits).unwrap_err().field,
            "terms.warranty.title"
        );
        let mut f = acme();
        f.terms.get_mut("warranty").unwrap().description = "a\u{7}b".into();
        assert_eq!(
            v.admit(&f, &limits).unwrap_err().field,
            "terms.warranty.description"
        );
        let with_one = v.with_registered(acme()).unwrap();
        assert!(with_one.admit(&acme(), &limits).is_ok(), "a replacement");
        let mut beta = acme();
        beta.prefix = "beta".into();
        let refused = with_one.admit(&beta, &limits).unwrap_err();
        assert_eq!(
            (refused.field.as_str(), refused.kind),
            ("prefix", ProblemKind::Conflict)
        );
    }

    /// A relation key both linkset schemas accept: a registered-relation name (`[a-z-]+`, not starting with a
    /// context object's member name) or `http(s)://` followed by letters, digits, `.` and `/` only.
    fn schema_key(key: &str) -> bool {
        let name = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && !["anchor", "itemDescription", "description"]
                .iter()
                .any(|m| key.starts_with(m));
        let uri = ["https://", "http://"].iter().any(|scheme| {
            key.strip_prefix(scheme).is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
            })
        });
        name || uri
    }

    /// Over every link type, in every emit mode, with a run-time vocabulary: the linkset key passes both schemas and
    /// names the same relation; matching is an equivalence (reflexive, symmetric, transitive); every CURIE and URI
    /// finds its own link type.
    #[test]
    fn every_link_type_in_every_mode_keeps_the_invariants() {
        for emit in ["registered", "gs1", "untp"] {
            let v = with_emit(emit).with_registered(acme()).unwrap();
            let defs = v.all();
            for a in defs {
                let key = v.emitted(&a.uri);
                assert!(schema_key(key), "{emit}: {} → {key}", a.curie);
                assert!(v.same_relation(key, &a.uri), "{emit}: {key} is {}", a.curie);
                assert_eq!(v.lookup(&a.curie).map(|d| &d.uri), Some(&a.uri));
                assert_eq!(v.lookup(&a.uri).map(|d| &d.uri), Some(&a.uri));
                assert_eq!(v.by_uri(&a.uri).map(|d| &d.curie), Some(&a.curie));
                assert!(v.matches(&a.uri, &a.uri));
                for b in defs {
                    let ab = v.matches(&a.uri, &b.uri);
                    assert_eq!(ab, v.matches(&b.uri, &a.uri), "{} {}", a.curie, b.curie);
                    assert_eq!(
                        ab,
                        v.emitted(&a.uri) == v.emitted(&b.uri) || emit == "registered" && ab
                    );
                }
            }
            for class in v.equivalences() {
                for x in &class {
                    for y in &class {
                        let (x, y) = (v.lookup(x).unwrap(), v.lookup(y).unwrap());
                        assert!(
                            v.matches(&x.uri, &y.uri),
                            "transitive: {} {}",
                            x.curie,
                            y.curie
                        );
                    }
                }
            }
        }
    }
}

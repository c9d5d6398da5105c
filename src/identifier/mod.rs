//! Identifiers: raw request paths are turned into typed, canonical identifiers here, once, at the edge.
//!
//! `Parser` routes a path to its scheme: a configured namespace or root path (first segment) selects that scheme;
//! everything else is GS1 Digital Link (root form, custom stems such as `/gs1/…`, compressed URIs).

pub mod check_digit;
pub mod did_web;
pub mod gs1;
pub mod pattern;
pub mod scheme;

use gs1::{Gs1Error, Gs1Key, ParseOptions};
use scheme::{FieldProblem, Scheme, SchemeError, SchemeKey, SchemeLoadError, SchemeSet};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A validated identifier of any configured scheme, at one level of its qualifier tree.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identifier {
    Gs1(Gs1Key, Arc<SchemeRef>),
    Scheme(SchemeKey),
}

/// The scheme an identifier belongs to, compared by namespace (so identifiers compare by value alone).
#[derive(Debug)]
pub struct SchemeRef(pub Arc<Scheme>);

impl PartialEq for SchemeRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.namespace == other.0.namespace
    }
}
impl Eq for SchemeRef {}
impl std::hash::Hash for SchemeRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.namespace.hash(state)
    }
}

impl Identifier {
    /// The stored form, without a leading slash: the key of its record, and what scopes and delegations match.
    pub fn canonical_path(&self) -> &str {
        match self {
            Identifier::Gs1(k, _) => k.canonical_path(),
            Identifier::Scheme(k) => k.canonical_path(),
        }
    }

    /// The path under the resolver root that anchors and `owl:sameAs` use.
    pub fn public_path(&self) -> Cow<'_, str> {
        match self {
            Identifier::Gs1(k, _) => k.canonical_path().into(),
            Identifier::Scheme(k) => k.public_path(),
        }
    }

    /// The absolute URI of the identifier under a resolver root (no trailing slash).
    pub fn uri_under(&self, root: &str) -> String {
        let path = self.public_path();
        let mut uri = String::with_capacity(root.len() + 1 + path.len());
        uri.push_str(root);
        uri.push('/');
        uri.push_str(&path);
        uri
    }

    pub fn scheme(&self) -> &Scheme {
        match self {
            Identifier::Gs1(_, s) => &s.0,
            Identifier::Scheme(k) => k.scheme(),
        }
    }

    /// Walk-up candidates, most specific first (self first).
    pub fn levels(&self) -> Vec<Identifier> {
        match self {
            Identifier::Gs1(k, s) => k
                .levels()
                .into_iter()
                .map(|k| Identifier::Gs1(k, s.clone()))
                .collect(),
            Identifier::Scheme(k) => k.levels().into_iter().map(Identifier::Scheme).collect(),
        }
    }

    pub fn qualifier_count(&self) -> usize {
        match self {
            Identifier::Gs1(k, _) => k.qualifiers().count(),
            Identifier::Scheme(k) => k.qualifier_count(),
        }
    }

    pub fn as_gs1(&self) -> Option<&Gs1Key> {
        match self {
            Identifier::Gs1(k, _) => Some(k),
            Identifier::Scheme(_) => None,
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical_path())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error(transparent)]
    Gs1(#[from] Gs1Error),
    #[error(transparent)]
    Scheme(#[from] SchemeError),
    #[error("no configured identifier scheme answers paths starting /{0}")]
    NoScheme(String),
}

/// A parsed resolver request path.
#[derive(Clone, Debug)]
pub struct Request {
    pub identifier: Identifier,
    /// The request was a compressed GS1 Digital Link URI.
    pub compressed: bool,
    /// The query to act on instead of the request's own, when a compressed segment carried one (its attributes and
    /// other pairs, then the request's query): what the uncompressed URI would have had.
    pub query: Option<String>,
    /// The data attributes (AIs) the compressed data carried besides the key (percent-encoded): the query of the
    /// uncompressed URI that `owl:sameAs` names.
    pub carried: Option<String>,
    /// The EPC scheme of an EPC binary string.
    pub epc: Option<gs1::EpcScheme>,
}

/// Every configured scheme plus the GS1 parser's switches: the one way from a raw path to an `Identifier`.
///
/// Schemes registered at run time join the set by swapping it whole: a request clones the current `Arc` under a
/// read lock held for no longer than that (never across an await).
#[derive(Debug)]
pub struct Parser {
    schemes: RwLock<Arc<SchemeSet>>,
    gs1: Option<Arc<SchemeRef>>,
    pub gs1_options: ParseOptions,
}

impl Parser {
    pub fn new(schemes: SchemeSet, gs1_options: ParseOptions) -> Parser {
        let gs1 = schemes.gs1().map(|s| Arc::new(SchemeRef(s.clone())));
        Parser {
            schemes: RwLock::new(Arc::new(schemes)),
            gs1,
            gs1_options,
        }
    }

    /// Adds (or replaces) a scheme registered at run time.
    pub fn register(&self, scheme: Scheme) -> Result<(), FieldProblem> {
        let mut guard = self.schemes.write().unwrap_or_else(|e| e.into_inner());
        let next = guard.with_registered(scheme)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// The shipped schemes with default GS1 switches (tests, tools).
    pub fn embedded() -> Result<Parser, SchemeLoadError> {
        Ok(Parser::new(SchemeSet::embedded()?, ParseOptions::default()))
    }

    /// The schemes in force now.
    pub fn schemes(&self) -> Arc<SchemeSet> {
        self.schemes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether GS1 Digital Link is configured.
    pub fn has_gs1(&self) -> bool {
        self.gs1.is_some()
    }

    /// Parses a raw (undecoded) request path and query.
    pub fn parse_request(
        &self,
        raw_path: &str,
        raw_query: &str,
    ) -> Result<Request, IdentifierError> {
        let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
        let path = path.strip_suffix('/').unwrap_or(path);
        if let Some(key) = self.parse_scheme(path)? {
            return Ok(Request {
                identifier: Identifier::Scheme(key),
                compressed: false,
                query: None,
                carried: None,
                epc: None,
            });
        }
        let gs1 = self.gs1_scheme(path)?;
        let link = gs1::parse_request(raw_path, raw_query, &self.gs1_options)?;
        Ok(Request {
            identifier: Identifier::Gs1(link.key, gs1),
            compressed: link.compressed,
            query: link.query,
            carried: link.carried,
            epc: link.epc,
        })
    }

    /// Parses an identifier as written in the management API and import files (`01/09520123456788/10/ABC`,
    /// `abr/abn/51824753556`), no query.
    pub fn parse_key(&self, path: &str) -> Result<Identifier, IdentifierError> {
        let path = path.trim_start_matches('/');
        let path = path.strip_suffix('/').unwrap_or(path);
        if let Some(key) = self.parse_scheme(path)? {
            return Ok(Identifier::Scheme(key));
        }
        let gs1 = self.gs1_scheme(path)?;
        Ok(Identifier::Gs1(
            Gs1Key::parse_key(path, &self.gs1_options)?,
            gs1,
        ))
    }

    /// The identifier of a GS1 record stored under `path` (a canonical path, as `idr export` lists it) that no
    /// longer parses: see `Gs1Key::stored`. For the management API's read and delete of such records only.
    pub fn stored_key(&self, path: &str) -> Option<Identifier> {
        let gs1 = self.gs1.clone()?;
        // a path a scheme claims is that scheme's, never GS1's
        if self.parse_scheme(path).ok()?.is_some() {
            return None;
        }
        Some(Identifier::Gs1(Gs1Key::stored(path)?, gs1))
    }

    /// `Some` when the first segment belongs to a configured scheme.
    fn parse_scheme(&self, path: &str) -> Result<Option<SchemeKey>, IdentifierError> {
        let mut segs = path.split('/');
        let first = segs.next().unwrap_or("");
        let first = gs1::percent::decode(first)?;
        let schemes = self.schemes();
        match schemes.by_first_segment(&first) {
            Some((scheme, root)) => Ok(Some(SchemeKey::parse(scheme, root, segs)?)),
            None => Ok(None),
        }
    }

    fn gs1_scheme(&self, path: &str) -> Result<Arc<SchemeRef>, IdentifierError> {
        self.gs1.clone().ok_or_else(|| {
            let first = path.split('/').next().unwrap_or("");
            IdentifierError::NoScheme(gs1::excerpt(first))
        })
    }

    /// Whether a first path segment names a configured non-GS1 namespace (for scope and delegation patterns).
    pub fn is_namespace(&self, segment: &str) -> bool {
        self.schemes()
            .iter()
            .any(|s| !s.native_gs1 && s.namespace == segment)
    }
}

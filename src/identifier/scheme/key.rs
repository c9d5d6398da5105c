//! `SchemeKey`: a validated identifier of a configured (non-GS1) scheme, with its ordered qualifiers.

use super::{CanonicalForm, Scheme, WalkUp};
use crate::identifier::gs1::excerpt;
use crate::identifier::gs1::percent;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("{namespace}: expected /{namespace}/{{keyType}}/{{key}}[/{{qualifier}}/{{value}}]*")]
    Shape { namespace: String },
    #[error("{namespace}: unknown key type \"{found}\"; known: {known}")]
    UnknownKeyType {
        namespace: String,
        found: String,
        known: String,
    },
    #[error("{namespace} {key_type}: \"{value}\" does not match the pattern of the scheme")]
    Pattern {
        namespace: String,
        key_type: String,
        value: String,
    },
    #[error("{namespace} {key_type}: \"{value}\" fails the {algorithm} check digit")]
    CheckDigit {
        namespace: String,
        key_type: String,
        value: String,
        algorithm: &'static str,
    },
    #[error(
        "{namespace} {key_type}: \"{found}\" is not a qualifier of this key type; known: {known}"
    )]
    UnknownQualifier {
        namespace: String,
        key_type: String,
        found: String,
        known: String,
    },
    #[error(
        "{namespace} {key_type}: qualifier \"{name}\" is out of order or repeated; order: {known}"
    )]
    QualifierOrder {
        namespace: String,
        key_type: String,
        name: String,
        known: String,
    },
    #[error("{namespace} {key_type} qualifier {name}: \"{value}\" does not match its pattern")]
    QualifierPattern {
        namespace: String,
        key_type: String,
        name: String,
        value: String,
    },
    #[error("{0}")]
    Encoding(String),
}

/// A validated identifier of one configured scheme. Canonical path: `{namespace}/{keyType}/{key}[/{q}/{v}]*`,
/// values percent-encoded as GS1 values are. Compared and hashed by that path.
#[derive(Clone, Debug)]
pub struct SchemeKey {
    scheme: Arc<Scheme>,
    key_type: usize,
    canonical: Box<str>,
    /// End of each level in `canonical`: `[key, key+q1, …]`; the last is the whole path.
    level_ends: Vec<usize>,
}

impl PartialEq for SchemeKey {
    fn eq(&self, other: &Self) -> bool {
        self.canonical == other.canonical
    }
}
impl Eq for SchemeKey {}
impl Hash for SchemeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.canonical.hash(state)
    }
}

impl fmt::Display for SchemeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl SchemeKey {
    /// Parses the segments after the namespace (`keyType/key/q/v…`), or after a key type's root path
    /// (`key/q/v…`) when `root_type` is given. Segments are raw (percent-encoded once).
    pub(crate) fn parse<'a>(
        scheme: &Arc<Scheme>,
        root_type: Option<usize>,
        mut segs: impl Iterator<Item = &'a str>,
    ) -> Result<SchemeKey, SchemeError> {
        let shape = || SchemeError::Shape {
            namespace: scheme.namespace.clone(),
        };
        let kt_index = match root_type {
            Some(i) => i,
            None => {
                let raw = segs.next().ok_or_else(shape)?;
                let name = decode(raw)?;
                scheme.key_type(&name).map(|(i, _)| i).ok_or_else(|| {
                    SchemeError::UnknownKeyType {
                        namespace: scheme.namespace.clone(),
                        found: excerpt(&name),
                        known: scheme
                            .key_types
                            .iter()
                            .map(|k| k.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                })?
            }
        };
        let kt = &scheme.key_types[kt_index];
        let value = decode(segs.next().ok_or_else(shape)?)?;
        let value = kt.case.apply(&value);
        let err_ctx = || (scheme.namespace.clone(), kt.name.clone(), excerpt(&value));
        if value.is_empty() || !kt.pattern.is_match(&value) {
            let (namespace, key_type, value) = err_ctx();
            return Err(SchemeError::Pattern {
                namespace,
                key_type,
                value,
            });
        }
        if let Some(algorithm) = kt.check_digit.filter(|c| !c.is_valid(&value)) {
            let (namespace, key_type, value) = err_ctx();
            return Err(SchemeError::CheckDigit {
                namespace,
                key_type,
                value,
                algorithm: algorithm.name(),
            });
        }
        let mut canonical = format!("{}/{}/", scheme.namespace, kt.name);
        percent::encode_into(&mut canonical, &value);
        let mut level_ends = vec![canonical.len()];
        let mut next_allowed = 0;
        while let Some(raw_name) = segs.next() {
            let name = decode(raw_name)?;
            let raw_value = segs.next().ok_or_else(shape)?;
            let (index, q) = qualifier(scheme, kt, &name, next_allowed)?;
            next_allowed = index + 1;
            let value = decode(raw_value)?;
            let value = q.case.apply(&value);
            if value.is_empty() || !q.pattern.is_match(&value) {
                return Err(SchemeError::QualifierPattern {
                    namespace: scheme.namespace.clone(),
                    key_type: kt.name.clone(),
                    name: q.name.clone(),
                    value: excerpt(&value),
                });
            }
            canonical.push('/');
            canonical.push_str(&q.name);
            canonical.push('/');
            percent::encode_into(&mut canonical, &value);
            level_ends.push(canonical.len());
        }
        Ok(SchemeKey {
            scheme: scheme.clone(),
            key_type: kt_index,
            canonical: canonical.into(),
            level_ends,
        })
    }

    pub fn scheme(&self) -> &Arc<Scheme> {
        &self.scheme
    }

    pub fn canonical_path(&self) -> &str {
        &self.canonical
    }

    /// The path anchors use: the namespace form, or the key type's root form when the scheme says so.
    pub fn public_path(&self) -> std::borrow::Cow<'_, str> {
        match (
            self.scheme.canonical,
            &self.scheme.key_types[self.key_type].root_path,
        ) {
            (CanonicalForm::Root, Some(root)) => {
                // Skip `{namespace}/{keyType}/`.
                let skip = self.scheme.namespace.len()
                    + self.scheme.key_types[self.key_type].name.len()
                    + 2;
                format!("{root}/{}", &self.canonical[skip..]).into()
            }
            _ => self.canonical.as_ref().into(),
        }
    }

    pub fn qualifier_count(&self) -> usize {
        self.level_ends.len() - 1
    }

    /// Walk-up candidates, most specific first: the key's own levels (qualifiers dropped from the right, as
    /// `walk_up` says), then its issuer's key when the scheme declares an `[issuer]` for this key type.
    pub fn levels(&self) -> Vec<SchemeKey> {
        let ends: &[usize] = match self.scheme.walk_up {
            WalkUp::Qualifiers => &self.level_ends,
            WalkUp::None => &self.level_ends[self.level_ends.len() - 1..],
        };
        let mut levels: Vec<SchemeKey> = ends
            .iter()
            .rev()
            .map(|&end| SchemeKey {
                scheme: self.scheme.clone(),
                key_type: self.key_type,
                canonical: self.canonical[..end].into(),
                level_ends: self
                    .level_ends
                    .iter()
                    .copied()
                    .filter(|&e| e <= end)
                    .collect(),
            })
            .collect();
        levels.extend(self.issuer());
        levels
    }

    /// The key of the party that issued this one (`iso15459/18V/UN043325711` for
    /// `iso15459/25S/UN043325711MH8031200000000001`): only for key types the scheme's `[issuer]` lists, when the
    /// issuer pattern matches a proper prefix of the value and that prefix is a valid key of the issuer's type.
    pub fn issuer(&self) -> Option<SchemeKey> {
        let issuer = self.scheme.issuer.as_ref()?;
        if !issuer.from.contains(&self.key_type) {
            return None;
        }
        let value = percent::decode(self.key_value()).ok()?;
        let prefix = issuer.pattern.find(&value)?.as_str();
        if prefix.is_empty() || prefix.len() == value.len() {
            return None;
        }
        let kt = &self.scheme.key_types[issuer.key_type];
        if !kt.pattern.is_match(prefix) || kt.check_digit.is_some_and(|c| !c.is_valid(prefix)) {
            return None;
        }
        let mut canonical = format!("{}/{}/", self.scheme.namespace, kt.name);
        percent::encode_into(&mut canonical, prefix);
        Some(SchemeKey {
            scheme: self.scheme.clone(),
            key_type: issuer.key_type,
            level_ends: vec![canonical.len()],
            canonical: canonical.into(),
        })
    }

    /// The key's value as it appears in the canonical path (percent-encoded).
    fn key_value(&self) -> &str {
        let start =
            self.scheme.namespace.len() + self.scheme.key_types[self.key_type].name.len() + 2;
        &self.canonical[start..self.level_ends[0]]
    }
}

/// The qualifier called `name`, which must come at or after position `from` in the key type's order.
fn qualifier<'s>(
    scheme: &Scheme,
    kt: &'s super::KeyType,
    name: &str,
    from: usize,
) -> Result<(usize, &'s super::Qualifier), SchemeError> {
    let known = || {
        kt.qualifiers
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match kt.qualifier(name) {
        Some((i, q)) if i >= from => Ok((i, q)),
        Some((_, q)) => Err(SchemeError::QualifierOrder {
            namespace: scheme.namespace.clone(),
            key_type: kt.name.clone(),
            name: q.name.clone(),
            known: known(),
        }),
        None => Err(SchemeError::UnknownQualifier {
            namespace: scheme.namespace.clone(),
            key_type: kt.name.clone(),
            found: excerpt(name),
            known: if kt.qualifiers.is_empty() {
                "none".into()
            } else {
                known()
            },
        }),
    }
}

fn decode(raw: &str) -> Result<String, SchemeError> {
    percent::decode(raw)
        .map(|c| c.into_owned())
        .map_err(|e| SchemeError::Encoding(e.to_string()))
}

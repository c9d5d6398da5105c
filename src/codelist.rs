//! UNTP's access code lists, loaded as data from `resolver-config/codelists/untp-access.json`, and the access rule
//! of a link (UNTP Decentralised Access Control, "Confidential data discovery"): `encryptionMethod` comes from the
//! encryption method code list, and an encrypted target names who may hold its key (`accessRole`).
//!
//! UNTP's code list (`untp-core:encryptionMethodCode`) has two codes, `none` and `AES`; UNTP's own texts and the
//! reference implementation write AES with its key length (`AES-128`, `AES-256`, `AES-256-GCM`), so each code may
//! list such refinements. `accessRole` values are URIs matched against the `registrationScopeList` of Digital
//! Identity Anchor credentials: any URI is accepted, except that names in UNTP's own namespace (`untp:accessRole#`)
//! must be ones it defines, and a bare role name (`customer`) is written out in that namespace, as the `accessRole`
//! query parameter is.

use serde::Deserialize;
use std::path::Path;

/// The code lists we ship, compiled in as the fallback when the config folder has no `codelists/`.
const EMBEDDED: &str = include_str!("../resolver-config/codelists/untp-access.json");
/// The file read from `{config_dir}/codelists/`.
pub const FILE: &str = "untp-access.json";

#[derive(Debug, thiserror::Error)]
#[error("code list {file}: {reason}")]
pub struct CodeListError {
    file: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CodeListFile {
    encryption_method: MethodList,
    access_role: RoleList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodList {
    #[serde(default)]
    #[allow(dead_code)]
    source: String,
    codes: Vec<Method>,
}

/// One encryption method code.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub code: String,
    pub title: String,
    /// Whether a target so marked is encrypted (`none` is not).
    pub encrypted: bool,
    /// Other accepted spellings that refine the code (`AES-128` for `AES`).
    #[serde(default)]
    pub refinements: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleList {
    #[serde(default)]
    #[allow(dead_code)]
    source: String,
    namespace: String,
    roles: Vec<Role>,
}

/// One access role UNTP names.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    pub title: String,
}

/// UNTP's access code lists.
#[derive(Clone, Debug)]
pub struct AccessCodes {
    methods: Vec<Method>,
    namespace: String,
    roles: Vec<Role>,
}

/// What is wrong with a link's access attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccessProblem {
    /// `encryptionMethod` is not in the code list.
    Method(String),
    /// `accessRole[i]` is not a URI, or not a role of UNTP's namespace.
    Role(usize, String),
    /// The target is encrypted and `accessRole` is empty.
    NoRole(String),
}

/// A link's access attributes as stored: the code list's spellings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub encryption_method: Option<String>,
    pub access_role: Vec<String>,
}

impl AccessCodes {
    /// Reads `{dir}/untp-access.json`, or the shipped lists when `dir` does not exist.
    pub fn load(dir: &Path) -> Result<AccessCodes, CodeListError> {
        if !dir.is_dir() {
            return Self::parse("shipped code lists", EMBEDDED);
        }
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| CodeListError {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// The shipped lists.
    pub fn embedded() -> AccessCodes {
        Self::parse("shipped code lists", EMBEDDED).expect("the shipped code lists are valid")
    }

    fn parse(file: &str, text: &str) -> Result<AccessCodes, CodeListError> {
        let invalid = |reason: String| CodeListError {
            file: file.to_string(),
            reason,
        };
        let parsed: CodeListFile =
            serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let methods = parsed.encryption_method.codes;
        let mut seen = std::collections::HashSet::new();
        for m in &methods {
            for spelling in std::iter::once(&m.code).chain(&m.refinements) {
                if spelling.trim().is_empty() || spelling.chars().any(char::is_whitespace) {
                    return Err(invalid(format!(
                        "encryption method {spelling:?} is not a code"
                    )));
                }
                if !seen.insert(spelling.to_ascii_lowercase()) {
                    return Err(invalid(format!(
                        "encryption method {spelling:?} is listed twice"
                    )));
                }
            }
        }
        if !methods.iter().any(|m| !m.encrypted) {
            return Err(invalid(
                "no encryption method says \"not encrypted\" (none)".into(),
            ));
        }
        let RoleList {
            namespace, roles, ..
        } = parsed.access_role;
        if !is_uri(&namespace) {
            return Err(invalid(format!(
                "access role namespace {namespace:?} is not a URI prefix"
            )));
        }
        if let Some(r) = roles.iter().find(|r| !is_role_name(&r.name)) {
            return Err(invalid(format!("access role {:?} is not a name", r.name)));
        }
        Ok(AccessCodes {
            methods,
            namespace,
            roles,
        })
    }

    /// The encryption method codes.
    pub fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// UNTP's access roles (names in `namespace()`).
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The code list's spelling of `value` (any case) and whether it means encrypted.
    pub fn encryption(&self, value: &str) -> Option<(&str, bool)> {
        self.methods.iter().find_map(|m| {
            std::iter::once(&m.code)
                .chain(&m.refinements)
                .find(|s| s.eq_ignore_ascii_case(value))
                .map(|s| (s.as_str(), m.encrypted))
        })
    }

    /// The stored form of one `accessRole` value: a UNTP role's full name (from `customer` or any case of
    /// `untp:accessRole#Customer`), or another URI as given. `Err`: why it is none of these.
    pub fn access_role(&self, value: &str) -> Result<String, String> {
        let role = |name: &str| {
            self.roles
                .iter()
                .find(|r| r.name.eq_ignore_ascii_case(name))
        };
        let in_namespace = value
            .get(..self.namespace.len())
            .filter(|p| p.eq_ignore_ascii_case(&self.namespace))
            .map(|_| &value[self.namespace.len()..]);
        if let Some(name) = in_namespace {
            return match role(name) {
                Some(r) => Ok(format!("{}{}", self.namespace, r.name)),
                None => Err(format!(
                    "{value:?} is not one of UNTP's access roles ({})",
                    self.role_names()
                )),
            };
        }
        if let Some(r) = role(value) {
            return Ok(format!("{}{}", self.namespace, r.name));
        }
        if is_uri(value) {
            return Ok(value.to_string());
        }
        Err(format!(
            "{value:?} is neither a URI (such as {}Customer, or a scope URI a Digital Identity Anchor names) nor a \
             UNTP access role ({})",
            self.namespace,
            self.role_names()
        ))
    }

    /// Checks a link's `encryptionMethod` and `accessRole` and returns them as stored: UNTP Decentralised Access
    /// Control's rule that a method comes from the code list and an encrypted target names its access roles.
    pub fn check(
        &self,
        encryption_method: Option<&str>,
        access_role: &[String],
    ) -> Result<Access, Vec<AccessProblem>> {
        let mut problems = Vec::new();
        let method = encryption_method.map(|m| match self.encryption(m) {
            Some((spelling, encrypted)) => Some((spelling.to_string(), encrypted)),
            None => {
                problems.push(AccessProblem::Method(format!(
                    "{m:?} is not in UNTP's encryption method code list ({})",
                    self.method_names()
                )));
                None
            }
        });
        let mut roles = Vec::with_capacity(access_role.len());
        for (i, r) in access_role.iter().enumerate() {
            match self.access_role(r) {
                Ok(r) => roles.push(r),
                Err(msg) => problems.push(AccessProblem::Role(i, msg)),
            }
        }
        if let Some(Some((spelling, true))) = &method {
            if access_role.is_empty() {
                problems.push(AccessProblem::NoRole(format!(
                    "an encrypted target (encryptionMethod {spelling:?}) must say who may obtain its key: add \
                     accessRole, e.g. [\"{}Anonymous\"] for anyone given the key with the product",
                    self.namespace
                )));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Access {
            encryption_method: method.flatten().map(|(s, _)| s),
            access_role: roles,
        })
    }

    /// `none, AES (also AES-128, …)`, for messages.
    pub fn method_names(&self) -> String {
        let one = |m: &Method| match m.refinements.is_empty() {
            true => m.code.clone(),
            false => format!("{} (also {})", m.code, m.refinements.join(", ")),
        };
        self.methods.iter().map(one).collect::<Vec<_>>().join(", ")
    }

    fn role_names(&self) -> String {
        let names: Vec<&str> = self.roles.iter().map(|r| r.name.as_str()).collect();
        names.join(", ")
    }
}

/// An RFC 3986 scheme, a colon and something after it, without whitespace.
fn is_uri(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !rest.is_empty()
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_role_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> AccessCodes {
        AccessCodes::embedded()
    }

    #[test]
    fn methods_come_from_untp_code_list() {
        let c = codes();
        assert_eq!(c.encryption("none"), Some(("none", false)));
        assert_eq!(c.encryption("AES"), Some(("AES", true)));
        assert_eq!(c.encryption("aes-128"), Some(("AES-128", true)));
        assert_eq!(c.encryption("AES-256-GCM"), Some(("AES-256-GCM", true)));
        assert_eq!(c.encryption("ROT13"), None);
        assert_eq!(c.encryption(""), None);
    }

    #[test]
    fn an_encrypted_target_needs_a_role() {
        let c = codes();
        let problems = c.check(Some("AES-128"), &[]).unwrap_err();
        assert!(matches!(&problems[..], [AccessProblem::NoRole(m)] if m.contains("accessRole")));
        // `none` and no method need none.
        assert_eq!(
            c.check(Some("NONE"), &[]).unwrap(),
            Access {
                encryption_method: Some("none".into()),
                access_role: vec![]
            }
        );
        assert!(c.check(None, &[]).is_ok());
        let ok = c.check(Some("aes"), &["anonymous".to_string()]).unwrap();
        assert_eq!(ok.encryption_method.as_deref(), Some("AES"));
        assert_eq!(ok.access_role, ["untp:accessRole#Anonymous"]);
    }

    #[test]
    fn an_unknown_method_is_not_also_missing_a_role() {
        let problems = codes().check(Some("DES"), &[]).unwrap_err();
        assert!(matches!(&problems[..], [AccessProblem::Method(m)] if m.contains("none, AES")));
    }

    #[test]
    fn roles_are_uris_or_untp_names() {
        let c = codes();
        assert_eq!(
            c.access_role("untp:accessRole#recycler").unwrap(),
            "untp:accessRole#Recycler"
        );
        assert_eq!(
            c.access_role("https://register.example/scopes/recycler")
                .unwrap(),
            "https://register.example/scopes/recycler"
        );
        assert_eq!(c.access_role("acme:role#Admin").unwrap(), "acme:role#Admin");
        assert!(
            c.access_role("untp:accessRole#Boss")
                .unwrap_err()
                .contains("Anonymous")
        );
        assert!(
            c.access_role("admin")
                .unwrap_err()
                .contains("neither a URI")
        );
        assert!(c.access_role("a b:c").is_err());
        let problems = c.check(None, &["ok:x".into(), "bad".into()]).unwrap_err();
        assert!(matches!(&problems[..], [AccessProblem::Role(1, _)]));
    }

    use proptest::prelude::*;

    fn method() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            prop::sample::select(vec![
                "none",
                "NONE",
                "AES",
                "aes-128",
                "AES-256-GCM",
                "DES",
                "",
                "rot13"
            ])
            .prop_map(|m| Some(m.to_string())),
        ]
    }

    fn roles() -> impl Strategy<Value = Vec<String>> {
        let role = prop::sample::select(vec![
            "anonymous",
            "untp:accessRole#Customer",
            "untp:accessRole#customer",
            "untp:accessRole#Boss",
            "https://register.example/scope/recycler",
            "admin",
            "",
        ]);
        prop::collection::vec(role.prop_map(String::from), 0..3)
    }

    proptest! {
        /// The rule, stated independently of the code: accepted exactly when the method (if any) is on the list,
        /// every role is a URI or a UNTP name, and an encrypted method has a role; what is stored is accepted
        /// again unchanged (a record read back and written again is the same record).
        #[test]
        fn accepted_exactly_by_the_rule_and_stable(method in method(), roles in roles()) {
            let c = codes();
            let known = |m: &str| ["none", "aes", "aes-128", "aes-256-gcm"].contains(&m.to_ascii_lowercase().as_str());
            let encrypted = method.as_deref().is_some_and(|m| known(m) && !m.eq_ignore_ascii_case("none"));
            let role_ok = |r: &String| {
                r == "anonymous"
                    || r.eq_ignore_ascii_case("untp:accessRole#Customer")
                    || r.starts_with("https://")
            };
            let expected = method.as_deref().is_none_or(known)
                && roles.iter().all(role_ok)
                && (!encrypted || !roles.is_empty());
            let got = c.check(method.as_deref(), &roles);
            prop_assert_eq!(got.is_ok(), expected, "{:?} {:?} -> {:?}", method, roles, got);
            if let Ok(access) = got {
                let again = c.check(access.encryption_method.as_deref(), &access.access_role).unwrap();
                prop_assert_eq!(again, access);
            }
        }
    }

    #[test]
    fn files_are_checked() {
        let twice = r#"{"encryptionMethod": {"codes": [{"code": "none", "title": "n", "encrypted": false},
            {"code": "AES", "title": "a", "encrypted": true, "refinements": ["aes"]}]},
            "accessRole": {"namespace": "untp:accessRole#", "roles": []}}"#;
        assert!(
            AccessCodes::parse("t", twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let no_none = r#"{"encryptionMethod": {"codes": [{"code": "AES", "title": "a", "encrypted": true}]},
            "accessRole": {"namespace": "untp:accessRole#", "roles": []}}"#;
        assert!(AccessCodes::parse("t", no_none).is_err());
    }
}

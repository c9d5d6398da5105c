//! Schemes registered at run time through the Pyx-compatible API (`POST /api/{v}/identifiers`), in Pyx's shape:
//! `{"namespace", "applicationIdentifiers": [{"title", "label", "shortcode", "ai", "type": "I"|"Q"|"D", "regex",
//! "qualifiers": ["10", …]}]}`. They become ordinary schemes: `I` entries are key types (named by `ai`, else
//! `shortcode`, the other accepted as an alias), the `Q` entries a key type lists are its qualifiers in that order,
//! `D` entries (data attributes) take no part in paths. Patterns are anchored, compiled once and size-limited, as
//! in scheme files; a UNTP scheme answers an unknown link type with the default link.

use super::file::{FieldProblem, KeyTypeFile, QualifierFile, SchemeFile};
use super::{CanonicalForm, Case, Scheme, UnknownLinkType, WalkUp};
use serde::{Deserialize, Serialize};

/// A Pyx identifier scheme.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"namespace": "acme", "applicationIdentifiers": [
    {"title": "Product", "label": "Product", "shortcode": "product", "ai": "p", "type": "I", "regex": "[0-9]{5}",
     "qualifiers": ["ser"]},
    {"title": "Serial", "label": "Serial", "shortcode": "ser", "ai": "s", "type": "Q", "regex": "[A-Z0-9]{1,10}"}]}))]
pub struct Registration {
    pub namespace: String,
    pub application_identifiers: Vec<ApplicationIdentifier>,
}

#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ApplicationIdentifier {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub shortcode: String,
    #[serde(default)]
    pub ai: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub regex: String,
    #[serde(default)]
    pub qualifiers: Vec<String>,
}

fn problem(field: String, reason: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field,
        reason: reason.into(),
    }
}

impl ApplicationIdentifier {
    fn name(&self) -> &str {
        if self.ai.is_empty() {
            &self.shortcode
        } else {
            &self.ai
        }
    }

    fn aliases(&self) -> Vec<String> {
        let alias =
            (!self.ai.is_empty() && !self.shortcode.is_empty() && self.shortcode != self.ai)
                .then(|| self.shortcode.clone());
        alias.into_iter().collect()
    }

    fn title(&self) -> String {
        if self.title.is_empty() {
            self.label.clone()
        } else {
            self.title.clone()
        }
    }

    fn names(&self, name: &str) -> bool {
        [&self.ai, &self.shortcode]
            .iter()
            .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(name))
    }
}

impl Registration {
    /// Compiles the registration, with every problem named by its field in the submitted body.
    pub fn compile(&self) -> Result<Scheme, FieldProblem> {
        let at = |i: usize| format!("applicationIdentifiers[{i}]");
        for (i, entry) in self.application_identifiers.iter().enumerate() {
            if !matches!(entry.kind.as_str(), "I" | "Q" | "D") {
                return Err(problem(
                    format!("{}.type", at(i)),
                    "must be \"I\", \"Q\" or \"D\"",
                ));
            }
            if entry.name().is_empty() {
                return Err(problem(at(i), "needs an \"ai\" or a \"shortcode\""));
            }
            // Checked here, so an error names the body's field rather than the scheme file's.
            super::file::compile_pattern(&format!("{}.regex", at(i)), &entry.regex)?;
        }
        let mut key_types = Vec::new();
        for (i, entry) in self
            .application_identifiers
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == "I")
        {
            let mut qualifiers = Vec::new();
            for (j, q) in entry.qualifiers.iter().enumerate() {
                let found = self
                    .application_identifiers
                    .iter()
                    .find(|e| e.kind == "Q" && e.names(q));
                let Some(found) = found else {
                    let field = format!("{}.qualifiers[{j}]", at(i));
                    return Err(problem(
                        field,
                        format!("{q:?} is not the ai or shortcode of a \"Q\" entry"),
                    ));
                };
                qualifiers.push(QualifierFile {
                    name: found.name().to_string(),
                    title: found.title(),
                    aliases: found.aliases(),
                    pattern: found.regex.clone(),
                    case: Case::Preserve,
                });
            }
            key_types.push(KeyTypeFile {
                name: entry.name().to_string(),
                title: entry.title(),
                aliases: entry.aliases(),
                pattern: entry.regex.clone(),
                check_digit: None,
                case: Case::Preserve,
                root_path: None,
                qualifiers,
            });
        }
        if key_types.is_empty() {
            return Err(problem(
                "applicationIdentifiers".into(),
                "at least one entry of type \"I\" is needed",
            ));
        }
        let file = SchemeFile {
            namespace: self.namespace.clone(),
            title: self.namespace.clone(),
            native: None,
            unknown_link_type: UnknownLinkType::Default,
            vocabularies: vec![],
            canonical: CanonicalForm::Namespace,
            walk_up: WalkUp::Qualifiers,
            key_types,
            custom_stems: vec![],
            issuer: None,
        };
        let mut scheme = file.compile().map_err(|p| self.rename(p))?;
        scheme.source = "(registered through the API)".into();
        scheme.registered = true;
        Ok(scheme)
    }

    /// Maps a scheme-file field (`key_types[1].qualifiers[0].name`) back to the submitted body.
    fn rename(&self, p: FieldProblem) -> FieldProblem {
        let field = if p.field.starts_with("key_types") {
            "applicationIdentifiers".to_string()
        } else {
            p.field
        };
        FieldProblem {
            field,
            reason: p.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registration(v: serde_json::Value) -> Registration {
        serde_json::from_value(v).unwrap()
    }

    fn gtin_like() -> serde_json::Value {
        json!({"namespace": "acme", "applicationIdentifiers": [
            {"title": "Product", "label": "product", "shortcode": "product", "ai": "01", "type": "I",
             "regex": "(\\d{12,14}|\\d{8})", "qualifiers": ["10", "ser"]},
            {"title": "Batch", "label": "batch", "shortcode": "lot", "ai": "10", "type": "Q", "regex": "[A-Z0-9]{1,20}"},
            {"title": "Serial", "label": "serial", "shortcode": "ser", "ai": "21", "type": "Q", "regex": "[0-9]{1,20}"},
            {"title": "Expiry", "label": "exp", "shortcode": "exp", "ai": "17", "type": "D", "regex": "\\d{6}"}]})
    }

    #[test]
    fn key_types_and_ordered_qualifiers_come_from_the_entries() {
        let scheme = registration(gtin_like()).compile().unwrap();
        assert!(scheme.registered);
        assert_eq!(scheme.unknown_link_type, UnknownLinkType::Default);
        let kt = &scheme.key_types[0];
        assert_eq!(
            (kt.name.as_str(), kt.aliases.as_slice()),
            ("01", &["product".to_string()][..])
        );
        let q: Vec<&str> = kt.qualifiers.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(q, ["10", "21"]);
        // Anchored, unlike Pyx's own matching: "x12345678y" is not a product.
        assert!(kt.pattern.is_match("12345678") && !kt.pattern.is_match("x12345678y"));
    }

    #[test]
    fn bad_entries_name_the_field() {
        let mut v = gtin_like();
        v["applicationIdentifiers"][1]["regex"] = json!("[A-Z");
        let e = registration(v).compile().unwrap_err();
        assert_eq!(e.field, "applicationIdentifiers[1].regex");
        let mut v = gtin_like();
        v["applicationIdentifiers"][0]["qualifiers"] = json!(["99"]);
        assert_eq!(
            registration(v).compile().unwrap_err().field,
            "applicationIdentifiers[0].qualifiers[0]"
        );
        let mut v = gtin_like();
        v["applicationIdentifiers"][2]["type"] = json!("X");
        assert_eq!(
            registration(v).compile().unwrap_err().field,
            "applicationIdentifiers[2].type"
        );
        let mut v = gtin_like();
        v["namespace"] = json!("api");
        assert!(
            registration(v).compile().is_ok(),
            "clashes are checked when the scheme joins the set"
        );
        let mut v = gtin_like();
        v["namespace"] = json!("a/b");
        assert_eq!(registration(v).compile().unwrap_err().field, "namespace");
    }
}

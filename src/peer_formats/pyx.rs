//! Pyx identity resolver v4 registration bodies: `{"namespace", "identificationKeyType", "identificationKey",
//! "itemDescription", "qualifierPath", "active", "responses": [{"linkType", "targetUrl", "title", "mimeType",
//! "hreflang", "context", "defaultLinkType", "defaultMimeType", "defaultIanaLanguage", "defaultContext", …}]}`.
//!
//! Pyx registrations append variants, so several bodies for one identifier merge into one anchor, in file order.
//! Pyx's per-variant default flags become order: a flagged variant comes first among its link type, which is the
//! variant our negotiation falls back to.

use super::{Converted, OneOrMany, from_entry};
use crate::identifier::{Parser, gs1};
use serde::Deserialize;
use serde_json::{Value, json};

/// A Pyx registration: one identifier's links.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
    "itemDescription": "Battery pack", "qualifierPath": "/10/ABC", "active": true,
    "responses": [{"linkType": "untp:dpp", "ianaLanguage": "en", "context": "au", "mimeType": "application/vc+jwt",
                   "linkTitle": "Digital Product Passport", "targetUrl": "https://credentials.example/dpp/abc.jwt",
                   "defaultLinkType": true, "defaultMimeType": false, "defaultIanaLanguage": false,
                   "defaultContext": false, "fwqs": false}]}))]
pub struct Body {
    pub namespace: String,
    pub identification_key_type: String,
    pub identification_key: String,
    #[serde(default, alias = "description")]
    pub item_description: Option<String>,
    #[serde(default)]
    pub qualifier_path: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub responses: Vec<Response>,
}

fn yes() -> bool {
    true
}

/// One link variant of a Pyx registration (v2 names; v4's `title` and `hreflang` are accepted too).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub link_type: String,
    pub target_url: String,
    /// v2's name for the title.
    #[serde(default)]
    pub link_title: Option<String>,
    /// v4's name; the reference implementation's older EPCIS code sends both, alike.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default, alias = "ianaLanguage")]
    #[schema(value_type = Option<Vec<String>>)]
    pub hreflang: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub context: OneOrMany,
    #[serde(default)]
    pub default_link_type: bool,
    #[serde(default)]
    pub default_mime_type: bool,
    #[serde(default)]
    pub default_iana_language: bool,
    #[serde(default)]
    pub default_context: bool,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub access_role: OneOrMany,
    #[serde(default)]
    pub encryption_method: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub method: OneOrMany,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub rel: OneOrMany,
    /// Whether a redirect to this target carries the scan's query string ("forward query string").
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub fwqs: bool,
}

impl Body {
    /// The identifier path: GS1 keys in Digital Link form (`01/…`), other namespaces in the UNTP form.
    pub fn identifier_path(&self) -> String {
        let qualifiers = self
            .qualifier_path
            .as_deref()
            .unwrap_or("/")
            .trim_matches('/');
        let key_type = &self.identification_key_type;
        let mut path = if self.namespace.eq_ignore_ascii_case("gs1") {
            let ai = gs1::ai_for_shortcode(key_type).unwrap_or(key_type);
            format!("{ai}/{}", self.identification_key)
        } else {
            format!("{}/{key_type}/{}", self.namespace, self.identification_key)
        };
        if !qualifiers.is_empty() {
            path.push('/');
            path.push_str(qualifiers);
        }
        path
    }
}

impl Response {
    fn is_default_variant(&self) -> bool {
        self.default_mime_type || self.default_iana_language || self.default_context
    }

    /// The link's title, from `linkTitle` or `title`, which may both be sent when they agree. `Err`: they differ.
    pub fn title(&self) -> Result<&str, TitlesDiffer> {
        match (&self.link_title, &self.title) {
            (Some(a), Some(b)) if a != b => Err(TitlesDiffer),
            (Some(t), _) | (None, Some(t)) => Ok(t),
            (None, None) => Ok(""),
        }
    }

    /// The native link object.
    pub fn to_link(&self) -> Result<Value, TitlesDiffer> {
        let mut link =
            json!({"linkType": self.link_type, "href": self.target_url, "title": self.title()?});
        if let Some(t) = self.mime_type.as_ref().filter(|t| !t.is_empty()) {
            link["type"] = json!(t);
        }
        let lists = [
            ("hreflang", &self.hreflang),
            ("context", &self.context),
            ("accessRole", &self.access_role),
            ("method", &self.method),
            ("rel", &self.rel),
        ];
        for (name, list) in lists {
            if !list.0.is_empty() {
                link[name] = json!(list.0);
            }
        }
        if let Some(m) = self
            .encryption_method
            .as_ref()
            .filter(|m| !m.is_empty() && *m != "none")
        {
            link["encryptionMethod"] = json!(m);
        }
        if !self.fwqs {
            link["fwqs"] = json!(false);
        }
        Ok(link)
    }
}

/// A response whose `linkTitle` and `title` differ: which one is meant is not ours to guess.
#[derive(Debug, thiserror::Error)]
#[error("linkTitle and title differ; send one of them, or both alike")]
pub struct TitlesDiffer;

/// One anchor being assembled from one or more bodies.
struct Merged {
    at: String,
    identifier: String,
    description: String,
    default_link_type: Option<String>,
    /// (is a default variant, link)
    links: Vec<(bool, Value)>,
}

pub fn convert_all(entries: Vec<(String, Value)>, parser: &Parser, out: &mut Converted) {
    let mut merged: Vec<Merged> = Vec::new();
    for (at, entry) in entries {
        let body: Body = match from_entry(entry) {
            Ok(b) => b,
            Err(e) => {
                out.errors.push((at, e));
                continue;
            }
        };
        if !body.active {
            continue;
        }
        let identifier = match parser.parse_key(&body.identifier_path()) {
            Ok(id) => id.canonical_path().to_string(),
            Err(e) => {
                out.errors
                    .push((at, format!("identifier {}: {e}", body.identifier_path())));
                continue;
            }
        };
        let index = match merged.iter().position(|m| m.identifier == identifier) {
            Some(i) => i,
            None => {
                merged.push(Merged {
                    at: at.clone(),
                    identifier,
                    description: String::new(),
                    default_link_type: None,
                    links: vec![],
                });
                merged.len() - 1
            }
        };
        if let Err(e) = add(&mut merged[index], body) {
            out.errors.push((at, e));
        }
    }
    for m in merged {
        let mut links = m.links;
        // Stable: flagged variants first, otherwise file order.
        links.sort_by_key(|(default, _)| !default);
        // Pyx makes the description optional; every linkset context object here carries one, so an identifier
        // registered without one is described by itself.
        let description = if m.description.is_empty() {
            m.identifier.clone()
        } else {
            m.description
        };
        let mut line = json!({
            "identifier": m.identifier,
            "itemDescription": description,
            "links": links.into_iter().map(|(_, l)| l).collect::<Vec<_>>(),
        });
        if let Some(t) = m.default_link_type {
            line["defaultLinkType"] = json!(t);
        }
        out.lines.push((m.at, line));
    }
}

fn add(m: &mut Merged, body: Body) -> Result<(), String> {
    if let Some(d) = body.item_description.filter(|d| !d.trim().is_empty()) {
        m.description = d;
    }
    for (i, r) in body
        .responses
        .into_iter()
        .enumerate()
        .filter(|(_, r)| r.active)
    {
        if r.default_link_type {
            m.default_link_type = Some(r.link_type.clone());
        }
        let link = r.to_link().map_err(|e| format!("responses[{i}]: {e}"))?;
        // Registering the same variant twice does not duplicate it (Pyx answers 409; an import just keeps the first).
        if !m.links.iter().any(|(_, l)| same_but_fwqs(l, &link)) {
            m.links.push((r.is_default_variant(), link));
        }
    }
    Ok(())
}

/// Two native link objects equal apart from `fwqs`: registered again with another `fwqs`, a link is still the same
/// link, not a second one (which validation would then refuse as a duplicate).
fn same_but_fwqs(a: &Value, b: &Value) -> bool {
    fn fields(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
        let object = v.as_object().into_iter().flatten();
        object.filter(|(name, _)| *name != "fwqs")
    }
    fields(a).eq(fields(b))
}

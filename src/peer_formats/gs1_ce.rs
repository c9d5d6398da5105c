//! GS1 Resolver CE v3 data-entry documents: `{"anchor": "/01/…", "itemDescription", "defaultLinktype",
//! "qualifiers": [{"10": "LOT"}], "links": [{"linktype", "href", "title", "type", "hreflang", "context"}]}`.

use super::{OneOrMany, from_entry};
use crate::identifier::Parser;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    anchor: String,
    #[serde(default)]
    item_description: Option<String>,
    #[serde(default, rename = "defaultLinktype", alias = "defaultLinkType")]
    default_link_type: Option<String>,
    #[serde(default)]
    qualifiers: Vec<BTreeMap<String, String>>,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Link {
    #[serde(alias = "linkType")]
    linktype: String,
    href: String,
    #[serde(default)]
    title: String,
    #[serde(default, rename = "type")]
    media_type: Option<String>,
    #[serde(default)]
    hreflang: OneOrMany,
    #[serde(default)]
    context: OneOrMany,
}

pub fn convert(entry: Value, parser: &Parser) -> Result<Value, String> {
    let mut doc: Document = from_entry(entry)?;
    let mut path = doc.anchor.trim_matches('/').to_string();
    // CE's URI-template variables (`{"21": "{serialnumber}"}`): each stands for the request's value of its AI.
    let mut variables: Vec<(String, String)> = Vec::new();
    for qualifier in &doc.qualifiers {
        for (ai, value) in qualifier {
            if let Some(name) = value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
                variables.push((name.to_string(), ai.clone()));
                continue;
            }
            if !variables.is_empty() {
                return Err(format!(
                    "qualifiers: {ai} follows a template qualifier; a pattern stands for the key level, so only the \
                     last qualifiers may be templates"
                ));
            }
            path.push_str(&format!(
                "/{ai}/{}",
                percent_encoding::utf8_percent_encode(value, SEGMENT)
            ));
        }
    }
    let templated = doc.links.iter().any(|l| l.href.contains('{'));
    let identifier = match parser.parse_key(&path) {
        Ok(identifier) if variables.is_empty() && !templated => {
            identifier.canonical_path().to_string()
        }
        parsed => {
            // A template entry: a pattern over the key (CE's GIAI/GRAI/SSCC prefix entries name a prefix of the
            // key, a qualifier template the whole key). Other template variables stand for the key's value.
            let as_pattern = crate::patterns::Pattern::parse(&path);
            let pattern = match (as_pattern, parsed) {
                (Ok(p), _) if templated || !variables.is_empty() => p,
                (_, Err(e)) => return Err(format!("anchor: {e}")),
                (Err(e), Ok(_)) => return Err(format!("anchor: {}", e.message)),
                (Ok(_), Ok(_)) => unreachable!("a key without templates is an anchor"),
            };
            if path.matches('/').count() > 1 && !variables.is_empty() {
                return Err(format!(
                    "anchor: the fixed qualifiers of {path} before a template qualifier have no equivalent in a \
                     pattern (patterns stand for the key level)"
                ));
            }
            for link in &mut doc.links {
                link.href = ce_template(&link.href, &variables);
            }
            return Ok(line(doc, "pattern", pattern.path()));
        }
    };
    Ok(line(doc, "identifier", identifier))
}

/// A CE href template in idr's terms: a qualifier variable becomes its AI (`{serialnumber}` → `{21}`); any other
/// variable, the key's value (`{identifier}`).
fn ce_template(href: &str, variables: &[(String, String)]) -> String {
    let mut out = String::with_capacity(href.len());
    let mut rest = href;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..open + close];
        match variables.iter().find(|(v, _)| v == name) {
            Some((_, ai)) => out.push_str(&format!("{{{ai}}}")),
            None => out.push_str("{identifier}"),
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// A native line: `field` (`identifier` or `pattern`) naming where it goes.
fn line(doc: Document, field: &str, name: String) -> Value {
    let links: Vec<Value> = doc
        .links
        .into_iter()
        .map(|l| {
            let mut link = json!({"linkType": l.linktype, "href": l.href, "title": l.title});
            if let Some(t) = l.media_type.filter(|t| !t.is_empty()) {
                link["type"] = json!(t);
            }
            // CE stores `und` as "no language"; it is not a tag to negotiate on.
            let languages: Vec<String> = l.hreflang.0.into_iter().filter(|t| t != "und").collect();
            if !languages.is_empty() {
                link["hreflang"] = json!(languages);
            }
            if !l.context.0.is_empty() {
                link["context"] = json!(l.context.0);
            }
            link
        })
        .collect();
    let mut line = json!({
        field: name,
        "itemDescription": doc.item_description.unwrap_or_default(),
        "links": links,
    });
    if let Some(t) = doc.default_link_type.filter(|t| !t.is_empty()) {
        line["defaultLinkType"] = json!(t);
    }
    line
}

/// Characters escaped in a path segment value (`/` above all, so a value cannot add segments).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b'%')
    .add(b'?')
    .add(b'#')
    .add(b'"');

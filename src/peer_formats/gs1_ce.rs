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
    let doc: Document = from_entry(entry)?;
    let mut path = doc.anchor.trim_matches('/').to_string();
    for (i, qualifier) in doc.qualifiers.iter().enumerate() {
        for (ai, value) in qualifier {
            if value.starts_with('{') && value.ends_with('}') {
                return Err(format!(
                    "qualifiers[{i}]: the template value {value:?} (CE substitutes it into hrefs) has no equivalent \
                     here; register the links at {} or per {ai} value",
                    doc.anchor
                ));
            }
            path.push_str(&format!(
                "/{ai}/{}",
                percent_encoding::utf8_percent_encode(value, SEGMENT)
            ));
        }
    }
    let identifier = parser
        .parse_key(&path)
        .map_err(|e| format!("anchor: {e}"))?;
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
        "identifier": identifier.canonical_path(),
        "itemDescription": doc.item_description.unwrap_or_default(),
        "links": links,
    });
    if let Some(t) = doc.default_link_type.filter(|t| !t.is_empty()) {
        line["defaultLinkType"] = json!(t);
    }
    Ok(line)
}

/// Characters escaped in a path segment value (`/` above all, so a value cannot add segments).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b'%')
    .add(b'?')
    .add(b'#')
    .add(b'"');

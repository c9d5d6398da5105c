//! RFC 9264 linksets in the profile both the GS1 and the UNTP 0.7 linkset schemas accept: one context object per
//! level, each with `anchor` and `itemDescription`, relation keys as full URIs.

use crate::registry::{AnchorRecord, Link};
use serde_json::{Map, Value, json};

use crate::vocabulary::DEFAULT_LINK;

/// One level of the qualifier tree that has a record.
pub struct Level<'a> {
    /// Absolute canonical URI of the level (no query).
    pub anchor: String,
    pub record: &'a AnchorRecord,
}

/// Builds `{"linkset": [...]}` from levels ordered most specific first, keeping only links `keep` accepts.
pub fn build(levels: &[Level<'_>], keep: &dyn Fn(&Link) -> bool) -> Value {
    let objects: Vec<Value> = levels
        .iter()
        .enumerate()
        .map(|(i, level)| context_object(level, &levels[i..], keep))
        .collect();
    json!({ "linkset": objects })
}

fn context_object(
    level: &Level<'_>,
    from_here_up: &[Level<'_>],
    keep: &dyn Fn(&Link) -> bool,
) -> Value {
    let mut object = Map::new();
    object.insert("anchor".into(), Value::String(level.anchor.clone()));
    object.insert(
        "itemDescription".into(),
        Value::String(level.record.item_description.clone()),
    );
    if let Some(default) = default_target(level.record, from_here_up, keep) {
        // GS1: the defaultLink entry carries only href and title; its target also appears under its own type.
        let entry = json!([{ "href": default.href, "title": default.title }]);
        object.insert(DEFAULT_LINK.into(), entry);
    }
    for link in level.record.links.iter().filter(|l| keep(l)) {
        let entry = object
            .entry(link.link_type.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(targets) = entry {
            targets.push(target_object(link));
        }
    }
    Value::Object(object)
}

/// The default variant of this level's default link type, looked for from this level upwards.
fn default_target<'a>(
    record: &AnchorRecord,
    from_here_up: &'a [Level<'a>],
    keep: &dyn Fn(&Link) -> bool,
) -> Option<&'a Link> {
    let link_type = record.default_link_type.as_deref()?;
    let of_type = |x: &&Link| x.link_type == link_type && keep(x);
    let links = || from_here_up.iter().flat_map(|l| l.record.links.iter());
    // The latest version of the default type, not a predecessor or an action endpoint, unless that is all there is.
    links()
        .filter(of_type)
        .find(|x| x.is_redirect_target())
        .or_else(|| links().find(of_type))
}

/// A link target object: RFC 9264 attributes plus the UNTP 0.7 extensions.
pub fn target_object(link: &Link) -> Value {
    let mut t = Map::new();
    t.insert("href".into(), Value::String(link.href.clone()));
    t.insert("title".into(), Value::String(link.title.clone()));
    if let Some(media) = &link.media_type {
        t.insert("type".into(), Value::String(media.clone()));
    }
    let languages: Vec<&String> = link
        .hreflang
        .iter()
        .filter(|l| !l.eq_ignore_ascii_case("und"))
        .collect();
    insert_list(&mut t, "hreflang", &languages);
    insert_list(&mut t, "context", &link.context.iter().collect::<Vec<_>>());
    insert_list(&mut t, "rel", &link.rel.iter().collect::<Vec<_>>());
    insert_list(&mut t, "method", &link.method.iter().collect::<Vec<_>>());
    if let Some(method) = &link.encryption_method {
        t.insert("encryptionMethod".into(), Value::String(method.clone()));
    }
    insert_list(
        &mut t,
        "accessRole",
        &link.access_role.iter().collect::<Vec<_>>(),
    );
    Value::Object(t)
}

fn insert_list(target: &mut Map<String, Value>, name: &str, values: &[&String]) {
    if !values.is_empty() {
        let list = values.iter().map(|v| Value::String((*v).clone())).collect();
        target.insert(name.into(), Value::Array(list));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(t: &str, href: &str, lang: &[&str]) -> Link {
        Link {
            link_type: t.into(),
            href: href.into(),
            title: format!("title {href}"),
            media_type: Some("text/html".into()),
            hreflang: lang.iter().map(|s| s.to_string()).collect(),
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
        }
    }

    const PIP: &str = "https://gs1.org/voc/pip";
    const DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";

    #[test]
    fn one_context_object_per_level_with_a_single_default_link() {
        let gtin = AnchorRecord {
            item_description: "Product".into(),
            default_link_type: Some(PIP.into()),
            links: vec![
                link(PIP, "https://b.example/en", &["en"]),
                link(PIP, "https://b.example/de", &["de", "und"]),
            ],
        };
        let serial = AnchorRecord {
            item_description: "Serial".into(),
            default_link_type: None,
            links: vec![link(DPP, "https://c.example/dpp", &[])],
        };
        let levels = [
            Level {
                anchor: "https://r.example/01/1/21/2".into(),
                record: &serial,
            },
            Level {
                anchor: "https://r.example/01/1".into(),
                record: &gtin,
            },
        ];
        let v = build(&levels, &|_| true);
        let set = v["linkset"].as_array().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[0]["anchor"], "https://r.example/01/1/21/2");
        assert_eq!(set[0]["itemDescription"], "Serial");
        assert!(set[0].get(DEFAULT_LINK).is_none());
        assert_eq!(set[0][DPP][0]["href"], "https://c.example/dpp");
        assert_eq!(
            set[1][DEFAULT_LINK],
            json!([{"href": "https://b.example/en", "title": "title https://b.example/en"}])
        );
        assert_eq!(set[1][PIP].as_array().unwrap().len(), 2);
        assert_eq!(
            set[1][PIP][1]["hreflang"],
            json!(["de"]),
            "`und` is an internal placeholder"
        );
    }

    #[test]
    fn filtered_links_are_left_out() {
        let r = AnchorRecord {
            item_description: "x".into(),
            default_link_type: None,
            links: vec![
                link(PIP, "https://a.example/1", &[]),
                link(PIP, "https://a.example/2", &[]),
            ],
        };
        let levels = [Level {
            anchor: "https://r.example/01/1".into(),
            record: &r,
        }];
        let v = build(&levels, &|l| l.href.ends_with('2'));
        assert_eq!(
            v["linkset"][0][PIP],
            json!([{"href": "https://a.example/2", "title": "title https://a.example/2", "type": "text/html"}])
        );
    }
}

//! `idr check-data`: every stored record checked against the rules a write checks today (link types, limits,
//! UNTP's access rules, …), read-only. Records stored before a rule existed are reported, never altered: writing one
//! back gives the same `422` the report names.

use crate::codelist::AccessCodes;
use crate::identifier::Parser;
use crate::limits::Limits;
use crate::registration::{self, Submission};
use crate::registry::{AnchorStore, StoreError};
use crate::vocabulary::Vocabulary;

/// One broken rule in one stored record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The canonical identifier (the store's key).
    pub identifier: String,
    /// The field as a write's `422` names it (`links[3].encryptionMethod`).
    pub field: String,
    /// The `href` of the link the field belongs to, if it belongs to one.
    pub href: Option<String>,
    pub message: String,
}

/// What the rules need.
pub struct Rules<'a> {
    pub vocabulary: &'a Vocabulary,
    pub parser: &'a Parser,
    pub limits: &'a Limits,
    pub codes: &'a AccessCodes,
}

/// Checks every record of `store`. Returns the findings and how many records were read.
pub async fn check(
    store: &dyn AnchorStore,
    rules: &Rules<'_>,
) -> Result<(Vec<Finding>, usize), StoreError> {
    let mut findings = Vec::new();
    let mut count = 0;
    store
        .for_each(&mut |key, anchor| {
            count += 1;
            findings.extend(check_record(key, &anchor.record, rules));
            Ok(())
        })
        .await?;
    Ok((findings, count))
}

/// The rules `record`, stored under `key`, breaks.
pub fn check_record(
    key: &str,
    record: &crate::registry::AnchorRecord,
    rules: &Rules<'_>,
) -> Vec<Finding> {
    let finding = |field: String, message: String| Finding {
        identifier: key.to_string(),
        href: link_index(&field)
            .and_then(|i| record.links.get(i))
            .map(|l| l.href.clone()),
        field,
        message,
    };
    if let Some(pattern) = crate::registry::patterns::pattern_of(key) {
        return check_pattern(pattern, record, rules)
            .into_iter()
            .map(|e| finding(e.field, e.message))
            .collect();
    }
    let identifier = match rules.parser.parse_key(key) {
        Ok(id) if id.canonical_path() == key => id,
        Ok(id) => {
            let why = format!("not the canonical form, {}", id.canonical_path());
            return vec![finding("identifier".into(), why)];
        }
        Err(e) => return vec![finding("identifier".into(), e.to_string())],
    };
    let submission = Submission::of(record);
    match registration::validate(
        submission,
        rules.vocabulary,
        identifier.scheme(),
        rules.limits,
        rules.codes,
    ) {
        Ok(_) => vec![],
        Err(errors) => errors
            .into_iter()
            .map(|e| finding(e.field, e.message))
            .collect(),
    }
}

/// A pattern registration against the rules of `PUT /api/v1/patterns/…`.
fn check_pattern(
    pattern: &str,
    record: &crate::registry::AnchorRecord,
    rules: &Rules<'_>,
) -> Vec<registration::FieldError> {
    if let Err(e) = crate::patterns::Pattern::parse(pattern) {
        return vec![e];
    }
    let Some(scheme) = crate::patterns::gs1_scheme(rules.parser) else {
        return vec![registration::FieldError::new(
            "pattern",
            "the GS1 scheme is not configured",
        )];
    };
    let submission = Submission::of(record);
    crate::patterns::validate(
        submission,
        rules.vocabulary,
        &scheme,
        rules.limits,
        rules.codes,
    )
    .err()
    .unwrap_or_default()
}

/// `3` from `links[3].encryptionMethod`.
fn link_index(field: &str) -> Option<usize> {
    field
        .strip_prefix("links[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AnchorRecord, Link};

    fn link(href: &str, method: Option<&str>, roles: &[&str]) -> Link {
        Link {
            link_type: "https://test.uncefact.org/vocabulary/linkTypes/dte".into(),
            href: href.into(),
            title: "Events".into(),
            media_type: None,
            hreflang: vec![],
            context: vec![],
            rel: vec![],
            method: vec![],
            encryption_method: method.map(String::from),
            access_role: roles.iter().map(|r| r.to_string()).collect(),
            forwards_query: true,
            id: None,
            contributor: None,
        }
    }

    #[test]
    fn reports_each_broken_link_with_its_target() {
        let record = AnchorRecord {
            item_description: "d".into(),
            default_link_type: None,
            links: vec![
                link(
                    "https://a.example/ok",
                    Some("AES-128"),
                    &["untp:accessRole#Owner"],
                ),
                link("https://a.example/no-role", Some("AES-128"), &[]),
                link(
                    "https://a.example/rot13",
                    Some("ROT13"),
                    &["untp:accessRole#Owner"],
                ),
            ],
        };
        let parser = Parser::embedded().unwrap();
        let rules = Rules {
            vocabulary: &Vocabulary::embedded(),
            parser: &parser,
            limits: &Limits::default(),
            codes: &AccessCodes::embedded(),
        };
        let found = check_record("01/09520123456788", &record, &rules);
        let got: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|f| (f.field.as_str(), f.href.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("links[1].accessRole", Some("https://a.example/no-role")),
                ("links[2].encryptionMethod", Some("https://a.example/rot13"))
            ]
        );
        assert!(found.iter().all(|f| f.identifier == "01/09520123456788"));
        assert_eq!(link_index("links[12].x"), Some(12));
        assert_eq!(link_index("itemDescription"), None);
    }
}

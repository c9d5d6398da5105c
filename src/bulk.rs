//! NDJSON import and export: one `{"identifier": …, …anchor}` per line. Import is all-or-nothing per line and
//! reports every bad line; export writes what import reads.

use crate::identifier::{Identifier, Parser};
use crate::registration::{self, Fallback, FieldError};
use crate::registry::{AnchorRecord, LinkStore, StoreError, StoredAnchor};
use crate::vocabulary::Vocabulary;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::Arc;

/// Lines written per store transaction.
const BATCH: usize = 5_000;

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: usize,
    /// (1-based line number, message).
    pub rejected: Vec<(usize, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

pub async fn import(
    store: &dyn LinkStore,
    vocab: &Vocabulary,
    parser: &Parser,
    input: impl BufRead,
    who: &str,
) -> Result<ImportReport, BulkError> {
    let mut report = ImportReport::default();
    let mut batch = Batch::default();
    // Lines whose default link type lives at an ancestor that comes later in the file.
    let mut deferred: Vec<(usize, Identifier, AnchorRecord)> = Vec::new();
    // Canonical paths (identifiers hold compiled patterns, which are not hash keys).
    let mut deferred_keys: HashSet<String> = HashSet::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match import_line(vocab, parser, &line) {
            Ok((key, record)) => {
                // A later line for the same identifier wins over an earlier deferred one.
                if deferred_keys.remove(key.canonical_path()) {
                    deferred.retain(|(_, k, _)| k != &key);
                }
                match settle(store, &key, record.clone(), &mut batch, Fallback::Wait).await? {
                    Ok(settled) => batch.add(&key, settled),
                    Err(_) => {
                        deferred_keys.insert(key.canonical_path().to_string());
                        deferred.push((index + 1, key, record));
                    }
                }
            }
            Err(e) => report.reject(index + 1, &e),
        }
        if batch.order.len() >= BATCH {
            batch.flush(store, who).await?;
        }
    }
    batch.flush(store, who).await?;
    report.imported = batch.written;
    retry_deferred(store, deferred, &mut report, who).await?;
    report.rejected.sort();
    Ok(report)
}

/// Settles deferred lines now that the whole file is stored, repeating while that makes progress (a chain of
/// levels listed deepest first). What still inherits nothing then takes its first link's type as the default,
/// shallowest level first so deeper ones can inherit from it, exactly as one `PUT` at a time would have.
async fn retry_deferred(
    store: &dyn LinkStore,
    mut deferred: Vec<(usize, Identifier, AnchorRecord)>,
    report: &mut ImportReport,
    who: &str,
) -> Result<(), BulkError> {
    loop {
        let mut batch = Batch::default();
        let mut still = Vec::new();
        for (line, key, record) in deferred {
            match settle(store, &key, record.clone(), &mut batch, Fallback::Wait).await? {
                Ok(settled) => batch.add(&key, settled),
                Err(_) => still.push((line, key, record)),
            }
        }
        batch.flush(store, who).await?;
        report.imported += batch.written;
        deferred = still;
        if batch.written == 0 || deferred.is_empty() {
            break;
        }
    }
    deferred.sort_by_key(|(_, key, _)| key.qualifier_count());
    let mut batch = Batch::default();
    for (line, key, record) in deferred {
        match settle(store, &key, record, &mut batch, Fallback::FirstLink).await? {
            Ok(settled) => batch.add(&key, settled),
            Err(e) => report.reject(line, &e),
        }
    }
    batch.flush(store, who).await?;
    report.imported += batch.written;
    Ok(())
}

impl ImportReport {
    fn reject(&mut self, line: usize, e: &FieldError) {
        self.rejected
            .push((line, format!("{}: {}", e.field, e.message)));
    }
}

/// Validated records waiting for one store transaction.
#[derive(Default)]
struct Batch {
    pending: HashMap<String, Arc<StoredAnchor>>,
    order: Vec<String>,
    written: usize,
    /// Levels already read or written, so a GTIN is fetched once for all its batches and serials, not per line.
    known: HashMap<String, Option<Arc<StoredAnchor>>>,
}

/// Entries of `Batch::known` kept at most (a long import stays bounded in memory).
const KNOWN_MAX: usize = 200_000;

impl Batch {
    fn add(&mut self, key: &Identifier, record: AnchorRecord) {
        let key = key.canonical_path().to_string();
        let stored = Arc::new(StoredAnchor { version: 0, record });
        if self.pending.insert(key.clone(), stored).is_none() {
            self.order.push(key);
        }
    }

    async fn flush(&mut self, store: &dyn LinkStore, who: &str) -> Result<(), StoreError> {
        if self.known.len() > KNOWN_MAX {
            self.known.clear();
        }
        let mut batch = Vec::with_capacity(self.order.len());
        for key in self.order.drain(..) {
            if let Some(stored) = self.pending.remove(&key) {
                batch.push((key.clone(), stored.record.clone()));
                self.known.insert(key, Some(stored));
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.written += batch.len();
        store.put_batch(batch, who).await
    }

    /// Ancestor records of `key`, most specific first: this import's own lines first, then the store (one read
    /// for the levels not seen before).
    async fn ancestors(
        &mut self,
        store: &dyn LinkStore,
        key: &Identifier,
    ) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
        let levels = key.levels();
        let paths: Vec<&str> = levels.iter().skip(1).map(|k| k.canonical_path()).collect();
        let unseen: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| !self.pending.contains_key(*p) && !self.known.contains_key(*p))
            .collect();
        if !unseen.is_empty() {
            for (path, record) in unseen.iter().zip(store.get_many(&unseen).await?) {
                self.known.insert((*path).to_string(), record);
            }
        }
        Ok(paths
            .iter()
            .map(|p| match self.pending.get(*p) {
                Some(stored) => Some(stored.clone()),
                None => self.known.get(*p).cloned().flatten(),
            })
            .collect())
    }
}

/// Whether a line would be accepted, without touching a store (peer-format imports check every entry first).
pub fn check_line(vocab: &Vocabulary, parser: &Parser, line: &str) -> Result<(), FieldError> {
    import_line(vocab, parser, line).map(|_| ())
}

/// Parses and validates one line; the default link type is settled separately (it needs the store).
fn import_line(
    vocab: &Vocabulary,
    parser: &Parser,
    line: &str,
) -> Result<(Identifier, AnchorRecord), FieldError> {
    let mut value: Value = serde_json::from_str(line)
        .map_err(|e| FieldError::new("line", format!("not JSON: {e}")))?;
    let identifier = match value.as_object_mut().and_then(|o| o.remove("identifier")) {
        Some(Value::String(s)) => s,
        _ => {
            return Err(FieldError::new(
                "identifier",
                "a string identifier is required",
            ));
        }
    };
    let key = parser
        .parse_key(&identifier)
        .map_err(|e| FieldError::new("identifier", e.to_string()))?;
    let submission = registration::parse_value(value)?;
    let validated = registration::validate(submission, vocab, key.scheme())
        .map_err(|mut errors| errors.remove(0))?;
    Ok((key, validated.record))
}

async fn settle(
    store: &dyn LinkStore,
    key: &Identifier,
    mut record: AnchorRecord,
    batch: &mut Batch,
    fallback: Fallback,
) -> Result<Result<AnchorRecord, FieldError>, StoreError> {
    let ancestors = batch.ancestors(store, key).await?;
    Ok(registration::settle_default(&mut record, &ancestors, fallback).map(|()| record))
}

/// Writes every anchor as one NDJSON line. Returns the number written.
pub async fn export(
    store: &dyn LinkStore,
    out: &mut (dyn Write + Send),
) -> Result<usize, BulkError> {
    let mut count = 0;
    let mut io_error = None;
    store
        .for_each(&mut |key, anchor| {
            let mut line = serde_json::to_value(&anchor.record).unwrap_or(Value::Null);
            if let Some(object) = line.as_object_mut() {
                object.insert("identifier".into(), Value::String(key.to_string()));
            }
            if let Err(e) = writeln!(out, "{line}") {
                io_error = Some(e);
                return Err(StoreError::Unavailable("output closed".into()));
            }
            count += 1;
            Ok(())
        })
        .await
        .map_err(|e| match io_error.take() {
            Some(io) => BulkError::Io(io),
            None => BulkError::Store(e),
        })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::embedded::EmbeddedStore;

    const G: &str = "01/09520123456788";

    #[tokio::test]
    async fn lines_may_name_a_default_defined_later_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let input = format!(
            r#"{{"identifier":"{G}/10/B7/21/S9","itemDescription":"full","defaultLinkType":"untp:dpp","links":[{{"linkType":"gs1:certificationInfo","href":"https://a.example/c","title":"c"}}]}}
{{"identifier":"{G}/21/S9","itemDescription":"serial","defaultLinkType":"untp:dpp","links":[{{"linkType":"untp:dpp","href":"https://a.example/d","title":"d"}}]}}
{{"identifier":"{G}/10/ZZ","itemDescription":"orphan","defaultLinkType":"gs1:pip","links":[]}}
not json
"#
        );
        let report = import(
            &store,
            &Vocabulary::embedded(),
            &Parser::embedded().unwrap(),
            input.as_bytes(),
            "test",
        )
        .await
        .unwrap();
        assert_eq!(report.imported, 2);
        let lines: Vec<usize> = report.rejected.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4]);
        assert!(
            report.rejected[0].1.starts_with("defaultLinkType"),
            "{:?}",
            report.rejected
        );
        let got = store
            .get_many(&[&format!("{G}/10/B7/21/S9"), &format!("{G}/21/S9")])
            .await
            .unwrap();
        assert!(got.iter().all(Option::is_some));
    }

    #[tokio::test]
    async fn a_level_listed_before_its_ancestor_inherits_rather_than_defaulting() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let input = format!(
            r#"{{"identifier":"{G}/10/B","itemDescription":"batch","links":[{{"linkType":"untp:dcc","href":"https://a.example/c","title":"c"}}]}}
{{"identifier":"{G}","itemDescription":"gtin","defaultLinkType":"gs1:pip","links":[{{"linkType":"gs1:pip","href":"https://a.example/p","title":"p"}}]}}
{{"identifier":"01/09506000134369/10/X","itemDescription":"orphan batch","links":[{{"linkType":"untp:dcc","href":"https://a.example/x","title":"x"}}]}}
"#
        );
        let report = import(
            &store,
            &Vocabulary::embedded(),
            &Parser::embedded().unwrap(),
            input.as_bytes(),
            "test",
        )
        .await
        .unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(report.imported, 3);
        let batch = store.get(&format!("{G}/10/B")).await.unwrap().unwrap();
        assert_eq!(
            batch.record.default_link_type, None,
            "inherits the GTIN's default, as when written in order"
        );
        let orphan = store.get("01/09506000134369/10/X").await.unwrap().unwrap();
        let dcc = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
        assert_eq!(
            orphan.record.default_link_type.as_deref(),
            Some(dcc),
            "nothing to inherit: its first link"
        );
    }

    #[tokio::test]
    async fn a_later_line_for_the_same_identifier_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let input = format!(
            r#"{{"identifier":"{G}/10/B","itemDescription":"first","defaultLinkType":"gs1:pip","links":[]}}
{{"identifier":"{G}/10/B","itemDescription":"second","links":[{{"linkType":"gs1:pip","href":"https://a.example/p","title":"p"}}]}}
{{"identifier":"{G}","itemDescription":"gtin","links":[{{"linkType":"gs1:pip","href":"https://a.example/g","title":"g"}}]}}
"#
        );
        let report = import(
            &store,
            &Vocabulary::embedded(),
            &Parser::embedded().unwrap(),
            input.as_bytes(),
            "test",
        )
        .await
        .unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let got = store.get(&format!("{G}/10/B")).await.unwrap().unwrap();
        assert_eq!(got.record.item_description, "second");
    }
}

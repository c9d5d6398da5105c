//! NDJSON import and export: one `{"identifier": …, …anchor}` per line. Import is all-or-nothing per line and
//! reports every bad line; export writes what import reads.

use crate::identifier::gs1::{Gs1Key, ParseOptions};
use crate::registration::{self, FieldError};
use crate::registry::{AnchorRecord, LinkStore, StoreError, StoredAnchor};
use crate::vocabulary::Vocabulary;
use serde_json::Value;
use std::collections::HashMap;
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
    options: &ParseOptions,
    input: impl BufRead,
) -> Result<ImportReport, BulkError> {
    let mut report = ImportReport::default();
    let mut pending: HashMap<String, AnchorRecord> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match import_line(store, vocab, options, &line, &pending).await? {
            Ok((key, record)) => {
                if pending.insert(key.clone(), record).is_none() {
                    order.push(key);
                }
                report.imported += 1;
            }
            Err(e) => report
                .rejected
                .push((index + 1, format!("{}: {}", e.field, e.message))),
        }
        if order.len() >= BATCH {
            flush(store, &mut pending, &mut order).await?;
        }
    }
    flush(store, &mut pending, &mut order).await?;
    Ok(report)
}

async fn flush(
    store: &dyn LinkStore,
    pending: &mut HashMap<String, AnchorRecord>,
    order: &mut Vec<String>,
) -> Result<(), StoreError> {
    let batch = order
        .drain(..)
        .filter_map(|k| pending.remove(&k).map(|r| (k, r)))
        .collect::<Vec<_>>();
    if batch.is_empty() {
        return Ok(());
    }
    store.put_batch(batch).await
}

type LineResult = Result<(String, AnchorRecord), FieldError>;

async fn import_line(
    store: &dyn LinkStore,
    vocab: &Vocabulary,
    options: &ParseOptions,
    line: &str,
    pending: &HashMap<String, AnchorRecord>,
) -> Result<LineResult, StoreError> {
    let mut value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Ok(Err(FieldError::new("line", format!("not JSON: {e}")))),
    };
    let identifier = match value.as_object_mut().and_then(|o| o.remove("identifier")) {
        Some(Value::String(s)) => s,
        _ => {
            return Ok(Err(FieldError::new(
                "identifier",
                "a string identifier is required",
            )));
        }
    };
    let key = match Gs1Key::parse_key(&identifier, options) {
        Ok(k) => k,
        Err(e) => return Ok(Err(FieldError::new("identifier", e.to_string()))),
    };
    let submission = match registration::parse(value.to_string().as_bytes()) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let mut validated = match registration::validate(submission, vocab) {
        Ok(v) => v,
        Err(mut errors) => return Ok(Err(errors.remove(0))),
    };
    let ancestors = ancestors(store, &key, pending).await?;
    if let Err(e) = registration::settle_default(&mut validated.record, &ancestors) {
        return Ok(Err(e));
    }
    Ok(Ok((key.canonical_path().to_string(), validated.record)))
}

/// Ancestor records, preferring ones earlier in the same file that are not yet written.
async fn ancestors(
    store: &dyn LinkStore,
    key: &Gs1Key,
    pending: &HashMap<String, AnchorRecord>,
) -> Result<Vec<Option<Arc<StoredAnchor>>>, StoreError> {
    let levels = key.levels();
    let paths: Vec<&str> = levels.iter().skip(1).map(|k| k.canonical_path()).collect();
    let stored = store.get_many(&paths).await?;
    Ok(paths
        .iter()
        .zip(stored)
        .map(|(path, s)| match pending.get(*path) {
            Some(record) => Some(Arc::new(StoredAnchor {
                version: 0,
                record: record.clone(),
            })),
            None => s,
        })
        .collect())
}

/// Writes every anchor as one NDJSON line. Returns the number written.
pub fn export(store: &dyn LinkStore, out: &mut dyn Write) -> Result<usize, BulkError> {
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
        .map_err(|e| match io_error.take() {
            Some(io) => BulkError::Io(io),
            None => BulkError::Store(e),
        })?;
    Ok(count)
}

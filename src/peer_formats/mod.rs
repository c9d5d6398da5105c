//! Other resolvers' data, for `idr import --format gs1-ce|pyx`: each entry becomes one or more native import lines
//! (`{"identifier": …, …anchor}`), so peer data goes through exactly the validation and store path of our own format.
//!
//! A file is a JSON array of entries, one JSON object, or one object per line (NDJSON). Every entry that cannot be
//! converted is reported with its position, and nothing is imported unless every entry converts and validates.

mod gs1_ce;
pub mod pyx;

use crate::identifier::Parser;
use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Our own NDJSON (`idr export` output).
    Native,
    /// GS1 Resolver CE v3 data-entry documents.
    Gs1Ce,
    /// Pyx identity resolver v4 registration bodies.
    Pyx,
}

/// Native lines, each with the position of the entry it came from, plus the entries that failed.
#[derive(Debug, Default)]
pub struct Converted {
    pub lines: Vec<(String, Value)>,
    pub errors: Vec<(String, String)>,
}

/// Converts a peer file. `Format::Native` is not converted here (it streams through `bulk::import`).
pub fn convert(format: Format, text: &str, parser: &Parser) -> Converted {
    let mut out = Converted::default();
    let entries = match entries(text) {
        Ok(entries) => entries,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    match format {
        Format::Native => out.errors.push((
            "file".into(),
            "the native format is imported as it is".into(),
        )),
        Format::Gs1Ce => {
            for (at, entry) in entries {
                match gs1_ce::convert(entry, parser) {
                    Ok(line) => out.lines.push((at, line)),
                    Err(e) => out.errors.push((at, e)),
                }
            }
        }
        Format::Pyx => pyx::convert_all(entries, parser, &mut out),
    }
    out
}

/// Splits a file into `(position, entry)`: a JSON array ("entry N"), one object, or NDJSON ("line N").
fn entries(text: &str) -> Result<Vec<(String, Value)>, (String, String)> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let all: Vec<Value> = serde_json::from_str(trimmed)
            .map_err(|e| ("file".to_string(), format!("not a JSON array: {e}")))?;
        return Ok(all
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("entry {}", i + 1), v))
            .collect());
    }
    if let Ok(one @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
        return Ok(vec![("entry 1".into(), one)]);
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        match serde_json::from_str(line) {
            Ok(v) => out.push((at, v)),
            Err(e) => return Err((at, format!("not JSON: {e}"))),
        }
    }
    Ok(out)
}

/// A value peers write either as `"x"` or as `["x", …]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "OneOrManyRepr")]
pub struct OneOrMany(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrManyRepr {
    One(String),
    Many(Vec<String>),
}

impl From<OneOrManyRepr> for OneOrMany {
    fn from(r: OneOrManyRepr) -> Self {
        match r {
            OneOrManyRepr::One(s) if s.is_empty() => OneOrMany(vec![]),
            OneOrManyRepr::One(s) => OneOrMany(vec![s]),
            OneOrManyRepr::Many(v) => OneOrMany(v),
        }
    }
}

/// Deserialises an entry, naming the field that does not fit.
fn from_entry<T: serde::de::DeserializeOwned>(entry: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(entry).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

#[cfg(test)]
mod tests;

//! NDJSON import and export: one `{"identifier": …, …anchor}` per line. Import is all-or-nothing per line and
//! reports every bad line; export writes what import reads.
//!
//! Import is a pipeline. Chunks of lines are parsed and validated on the blocking pool, several at once; their
//! results are settled (default link types, which may depend on earlier lines) here, one at a time in input order;
//! full batches go to a writer that stores them while later lines are parsed. The outcome is that of reading the
//! file one line at a time and storing each batch before reading on.

use crate::codelist::AccessCodes;
use crate::identifier::{Identifier, Parser};
use crate::limits::Limits;
use crate::registration::{self, Ancestor, Fallback, FieldError};
use crate::registry::format::Payload;
use crate::registry::{AnchorRecord, AnchorStore, StoreError};
use crate::vocabulary::Vocabulary;
use serde_json::Value;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Write};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Lines written per store transaction.
const BATCH: usize = 5_000;
/// Lines parsed per blocking task: enough that handing a chunk over costs nothing per line.
const CHUNK: usize = 256;
/// Batches waiting for the writer besides the one it is writing (memory stays bounded when the store is slow).
const QUEUED: usize = 1;

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
    store: &dyn AnchorStore,
    vocab: &Arc<Vocabulary>,
    parser: &Arc<Parser>,
    limits: &Limits,
    codes: &Arc<AccessCodes>,
    input: impl BufRead,
    who: &str,
) -> Result<ImportReport, BulkError> {
    let (to_writer, from_reader) = mpsc::channel(QUEUED);
    let checks = Checks {
        vocab: vocab.clone(),
        parser: parser.clone(),
        limits: *limits,
        codes: codes.clone(),
    };
    let lines = ParsedLines::new(input, checks);
    let (read, written) = tokio::join!(
        read_all(store, lines, Writer(to_writer)),
        write_all(store, who, from_reader),
    );
    // A failed write closes the channel, which stops the reading: the write's error is the cause.
    let written = written?;
    let mut report = read?;
    report.imported = written;
    report.rejected.sort();
    Ok(report)
}

/// A line that waits for its default link type, which an ancestor later in the file may supply.
type Deferred = (usize, Identifier, AnchorRecord);

/// A valid line as parsing hands it over.
struct Line {
    /// The canonical path: the store's key.
    path: String,
    payload: Payload,
    settle: Settle,
}

enum Settle {
    /// Names its default link type among its own links, so it settles whatever its ancestors hold
    /// (`registration::settles_alone`): only what its descendants will read of it is kept.
    Alone(DefaultSource),
    /// Needs its ancestors, perhaps ones later in the file.
    WithAncestors(Identifier, AnchorRecord),
}

/// Settles every line in input order and hands full batches to the writer. `imported` is left to the writer.
async fn read_all(
    store: &dyn AnchorStore,
    mut lines: ParsedLines<impl BufRead>,
    writer: Writer,
) -> Result<ImportReport, BulkError> {
    let mut report = ImportReport::default();
    let mut batch = Batch::default();
    let mut deferred: Vec<Deferred> = Vec::new();
    // Canonical paths (an identifier is equal to another exactly when their canonical paths are).
    let mut deferred_paths: HashSet<String> = HashSet::new();
    while let Some(chunk) = lines.next().await? {
        for (number, parsed) in chunk {
            let line = match parsed {
                Ok(line) => line,
                Err(e) => {
                    report.reject(number, &e);
                    continue;
                }
            };
            // A later line for the same identifier wins over an earlier deferred one.
            if deferred_paths.remove(&line.path) {
                deferred.retain(|(_, key, _)| key.canonical_path() != line.path);
            }
            match line.settle {
                Settle::Alone(source) => batch.add(line.path, source, line.payload),
                // Waiting changes no record: the payload encoded with it stays right.
                Settle::WithAncestors(key, record) => {
                    match settle(store, &key, record, &mut batch, Fallback::Wait).await? {
                        Ok(settled) => {
                            batch.add(line.path, DefaultSource::of(settled), line.payload)
                        }
                        Err((record, _)) => {
                            deferred_paths.insert(line.path);
                            deferred.push((number, key, record));
                        }
                    }
                }
            }
            if batch.order.len() >= BATCH {
                batch.flush(&writer).await?;
            }
        }
        // Lets the writer take the batch just sent while parsing goes on.
        tokio::task::yield_now().await;
    }
    batch.flush(&writer).await?;
    retry_deferred(store, deferred, &mut report, &writer).await?;
    Ok(report)
}

/// Settles deferred lines now that the whole file is stored, repeating while that makes progress (a chain of
/// levels listed deepest first). What still inherits nothing then takes its first link's type as the default,
/// shallowest level first so deeper ones can inherit from it, exactly as one `PUT` at a time would have.
async fn retry_deferred(
    store: &dyn AnchorStore,
    mut deferred: Vec<Deferred>,
    report: &mut ImportReport,
    writer: &Writer,
) -> Result<(), BulkError> {
    loop {
        // Each pass reads from the store what the lines and passes before it wrote.
        writer.sync().await?;
        let mut batch = Batch::default();
        let mut still = Vec::new();
        for (line, key, record) in deferred {
            match settle(store, &key, record, &mut batch, Fallback::Wait).await? {
                Ok(settled) => batch.add_encoding(&key, settled),
                Err((record, _)) => still.push((line, key, record)),
            }
        }
        let written = batch.flush(writer).await?;
        deferred = still;
        if written == 0 || deferred.is_empty() {
            break;
        }
    }
    writer.sync().await?;
    deferred.sort_by_key(|(_, key, _)| key.qualifier_count());
    let mut batch = Batch::default();
    for (line, key, record) in deferred {
        match settle(store, &key, record, &mut batch, Fallback::FirstLink).await? {
            Ok(settled) => batch.add_encoding(&key, settled),
            Err((_, e)) => report.reject(line, &e),
        }
    }
    batch.flush(writer).await?;
    Ok(())
}

impl ImportReport {
    fn reject(&mut self, line: usize, e: &FieldError) {
        self.rejected
            .push((line, format!("{}: {}", e.field, e.message)));
    }
}

/// Anchors for one store transaction, as the store takes them.
type Anchors = Vec<(String, Payload)>;

enum ToWriter {
    Batch(Anchors),
    /// Answered once every batch sent before it is stored.
    Sync(oneshot::Sender<()>),
}

/// The reading side's end of the channel to `write_all`.
struct Writer(mpsc::Sender<ToWriter>);

impl Writer {
    async fn send(&self, lines: Anchors) -> Result<(), BulkError> {
        self.0
            .send(ToWriter::Batch(lines))
            .await
            .map_err(|_| writer_stopped())
    }

    /// Waits until the store holds every batch sent so far.
    async fn sync(&self) -> Result<(), BulkError> {
        let (done, stored) = oneshot::channel();
        self.0
            .send(ToWriter::Sync(done))
            .await
            .map_err(|_| writer_stopped())?;
        stored.await.map_err(|_| writer_stopped())
    }
}

/// Only seen when the writer failed, and then its own error is reported instead.
fn writer_stopped() -> BulkError {
    StoreError::Unavailable("the import's writer stopped".into()).into()
}

/// Stores batches in the order received, until the reading side is done. Returns the number of anchors written.
async fn write_all(
    store: &dyn AnchorStore,
    who: &str,
    mut from_reader: mpsc::Receiver<ToWriter>,
) -> Result<usize, StoreError> {
    let mut written = 0;
    while let Some(message) = from_reader.recv().await {
        match message {
            ToWriter::Batch(lines) => {
                written += lines.len();
                store.put_batch(lines, who).await?;
            }
            ToWriter::Sync(done) => {
                let _ = done.send(());
            }
        }
    }
    Ok(written)
}

/// The result of parsing one line, with its 1-based number.
type ParsedLine = (usize, Result<Line, FieldError>);

/// Lines parsed and validated ahead on the blocking pool, handed back in input order, a chunk at a time.
/// What every line is checked against.
#[derive(Clone)]
struct Checks {
    vocab: Arc<Vocabulary>,
    parser: Arc<Parser>,
    limits: Limits,
    codes: Arc<AccessCodes>,
}

struct ParsedLines<R> {
    input: std::iter::Enumerate<std::io::Lines<R>>,
    checks: Checks,
    running: VecDeque<JoinHandle<Vec<ParsedLine>>>,
    /// Chunks parsed at once: one per core and one more, so a core that finishes early finds work.
    ahead: usize,
    /// The input ended (or failed).
    ended: bool,
    /// A read error, reported after the lines read before it.
    failed: Option<std::io::Error>,
}

impl<R: BufRead> ParsedLines<R> {
    fn new(input: R, checks: Checks) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        ParsedLines {
            input: input.lines().enumerate(),
            checks,
            running: VecDeque::new(),
            ahead: cores + 1,
            ended: false,
            failed: None,
        }
    }

    /// The next chunk of parsed lines (blank lines are skipped), `None` at the end of the input.
    async fn next(&mut self) -> Result<Option<Vec<ParsedLine>>, BulkError> {
        while !self.ended && self.running.len() < self.ahead {
            self.start_chunk();
        }
        match self.running.pop_front() {
            Some(task) => match task.await {
                Ok(chunk) => Ok(Some(chunk)),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(StoreError::Unavailable(format!("import stopped: {e}")).into()),
            },
            None => self.failed.take().map_or(Ok(None), |e| Err(e.into())),
        }
    }

    /// Reads up to `CHUNK` lines and starts parsing them.
    fn start_chunk(&mut self) {
        let mut chunk = Vec::with_capacity(CHUNK);
        while chunk.len() < CHUNK {
            match self.input.next() {
                Some((index, Ok(line))) if !line.trim().is_empty() => chunk.push((index + 1, line)),
                Some((_, Ok(_))) => {}
                Some((_, Err(e))) => {
                    self.failed = Some(e);
                    self.ended = true;
                    break;
                }
                None => {
                    self.ended = true;
                    break;
                }
            }
        }
        if chunk.is_empty() {
            return;
        }
        let c = self.checks.clone();
        self.running.push_back(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|(number, line)| {
                    let prepared = prepare(&c.vocab, &c.parser, &c.limits, &c.codes, &line);
                    (number, prepared)
                })
                .collect()
        }));
    }
}

/// Validated records waiting for one store transaction.
#[derive(Default)]
struct Batch {
    pending: HashMap<String, (DefaultSource, Payload)>,
    order: Vec<String>,
    /// Levels already read or written, so a GTIN is fetched once for all its batches and serials, not per line.
    known: HashMap<String, Option<DefaultSource>>,
}

/// What settling reads of a level (`registration::Ancestor`): all an import keeps of a line once it is settled,
/// rather than the whole record.
struct DefaultSource {
    default_link_type: Option<String>,
    link_types: Vec<String>,
}

impl DefaultSource {
    fn of(record: AnchorRecord) -> Self {
        DefaultSource {
            default_link_type: record.default_link_type,
            link_types: record.links.into_iter().map(|l| l.link_type).collect(),
        }
    }
}

impl Ancestor for DefaultSource {
    fn default_link_type(&self) -> Option<&str> {
        self.default_link_type.as_deref()
    }

    fn has_link_type(&self, link_type: &str) -> bool {
        self.link_types.iter().any(|t| t == link_type)
    }
}

/// Entries of `Batch::known` kept at most (a long import stays bounded in memory).
const KNOWN_MAX: usize = 200_000;

impl Batch {
    /// Adds a settled line (a later line for the same identifier replaces it in place).
    fn add(&mut self, path: String, source: DefaultSource, payload: Payload) {
        if self
            .pending
            .insert(path.clone(), (source, payload))
            .is_none()
        {
            self.order.push(path);
        }
    }

    fn add_encoding(&mut self, key: &Identifier, record: AnchorRecord) {
        let payload = Payload::of(&record);
        let path = key.canonical_path().to_string();
        self.add(path, DefaultSource::of(record), payload);
    }

    /// Hands the pending lines to the writer, remembering them as known levels. Returns how many there were.
    async fn flush(&mut self, writer: &Writer) -> Result<usize, BulkError> {
        if self.known.len() > KNOWN_MAX {
            // What is forgotten is read from the store again, so the store must hold it first.
            writer.sync().await?;
            // Freeing this many entries takes a while: another thread does it while lines are settled.
            let known = std::mem::take(&mut self.known);
            tokio::task::spawn_blocking(move || drop(known));
        }
        let mut lines = Vec::with_capacity(self.order.len());
        for key in self.order.drain(..) {
            if let Some((source, payload)) = self.pending.remove(&key) {
                self.known.insert(key.clone(), Some(source));
                lines.push((key, payload));
            }
        }
        let count = lines.len();
        if count > 0 {
            writer.send(lines).await?;
        }
        Ok(count)
    }

    /// Makes sure every level in `paths` is pending or known: this import's own lines first, then the store (one
    /// read for the levels not seen before).
    async fn load(&mut self, store: &dyn AnchorStore, paths: &[&str]) -> Result<(), StoreError> {
        let unseen: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| !self.pending.contains_key(*p) && !self.known.contains_key(*p))
            .collect();
        if !unseen.is_empty() {
            for (path, stored) in unseen.iter().zip(store.get_many(&unseen).await?) {
                let record = stored.map(|s| DefaultSource::of(Arc::unwrap_or_clone(s).record));
                self.known.insert((*path).to_string(), record);
            }
        }
        Ok(())
    }

    /// The level at `path`, once `load` has seen it, if there is a record there.
    fn get(&self, path: &str) -> Option<&DefaultSource> {
        match self.pending.get(path) {
            Some((source, _)) => Some(source),
            None => self.known.get(path)?.as_ref(),
        }
    }
}

/// Whether a line would be accepted, without touching a store (peer-format imports check every entry first).
pub fn check_line(
    vocab: &Vocabulary,
    parser: &Parser,
    limits: &Limits,
    codes: &AccessCodes,
    line: &str,
) -> Result<(), FieldError> {
    if let Some(pattern) = pattern_line(vocab, parser, limits, codes, line) {
        return pattern.map(|_| ());
    }
    import_line(vocab, parser, limits, codes, line).map(|_| ())
}

/// A pattern registration's line (`{"pattern": "8004/9520123", …anchor}`, as `export` writes it): its stored path
/// and record, validated as `PUT /api/v1/patterns/…` validates, the default settled on its own links. `None` when
/// the line is not a pattern line.
fn pattern_line(
    vocab: &Vocabulary,
    parser: &Parser,
    limits: &Limits,
    codes: &AccessCodes,
    line: &str,
) -> Option<Result<(String, AnchorRecord), FieldError>> {
    if !line.contains("\"pattern\"") {
        return None;
    }
    let mut value: Value = serde_json::from_str(line).ok()?;
    let name = match value.as_object_mut()?.remove("pattern")? {
        Value::String(s) => s,
        _ => {
            return Some(Err(FieldError::new(
                "pattern",
                "a string pattern is required",
            )));
        }
    };
    Some((|| {
        let pattern = crate::patterns::Pattern::parse(&name)
            .map_err(|e| FieldError::new(format!("pattern ({})", e.field), e.message))?;
        let submission = registration::parse_value(value)?;
        let scheme = crate::patterns::gs1_scheme(parser)
            .ok_or_else(|| FieldError::new("pattern", "the GS1 scheme is not configured"))?;
        let validated = crate::patterns::validate(submission, vocab, &scheme, limits, codes)
            .map_err(|mut errors| errors.remove(0))?;
        let mut record = crate::versions::merge(None, validated.record, limits, vocab);
        registration::settle_default::<AnchorRecord>(&mut record, &[], Fallback::FirstLink)?;
        Ok((pattern.stored_path(), record))
    })())
}

/// `import_line`, with all that can be done before settling (on whichever core parses the line): the record
/// encoded, and, when it settles alone, cut down to what settling its descendants will read.
fn prepare(
    vocab: &Vocabulary,
    parser: &Parser,
    limits: &Limits,
    codes: &AccessCodes,
    line: &str,
) -> Result<Line, FieldError> {
    if let Some(pattern) = pattern_line(vocab, parser, limits, codes, line) {
        let (path, record) = pattern?;
        return Ok(Line {
            path,
            payload: Payload::of(&record),
            settle: Settle::Alone(DefaultSource::of(record)),
        });
    }
    let (key, record) = import_line(vocab, parser, limits, codes, line)?;
    let payload = Payload::of(&record);
    let path = key.canonical_path().to_string();
    let settle = if registration::settles_alone(&record) {
        Settle::Alone(DefaultSource::of(record))
    } else {
        Settle::WithAncestors(key, record)
    };
    Ok(Line {
        path,
        payload,
        settle,
    })
}

/// Parses and validates one line; the default link type is settled separately (it needs the store). The bulk
/// write over HTTP reads its lines with this too.
pub fn import_line(
    vocab: &Vocabulary,
    parser: &Parser,
    limits: &Limits,
    codes: &AccessCodes,
    line: &str,
) -> Result<(Identifier, AnchorRecord), FieldError> {
    match registration::parse_line(line) {
        Some((identifier, submission)) => {
            let key = parse_identifier(parser, &identifier)?;
            validate(vocab, limits, codes, key, submission)
        }
        None => import_line_via_value(vocab, parser, limits, codes, line),
    }
}

/// `import_line` through a `serde_json::Value`: slower, but it accepts what the direct reading does not (such as
/// repeated keys, the last one winning) and names what is wrong, in this order of checks.
fn import_line_via_value(
    vocab: &Vocabulary,
    parser: &Parser,
    limits: &Limits,
    codes: &AccessCodes,
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
    let key = parse_identifier(parser, &identifier)?;
    let submission = registration::parse_value(value)?;
    validate(vocab, limits, codes, key, submission)
}

fn parse_identifier(parser: &Parser, identifier: &str) -> Result<Identifier, FieldError> {
    parser
        .parse_key(identifier)
        .map_err(|e| FieldError::new("identifier", e.to_string()))
}

fn validate(
    vocab: &Vocabulary,
    limits: &Limits,
    codes: &AccessCodes,
    key: Identifier,
    submission: registration::Submission,
) -> Result<(Identifier, AnchorRecord), FieldError> {
    let validated = registration::validate(submission, vocab, key.scheme(), limits, codes)
        .map_err(|mut errors| errors.remove(0))?;
    // The file is authoritative, as after an export: a line replaces what is stored, in the shape every write
    // stores (each variant's history after it, each target once).
    Ok((
        key,
        crate::versions::merge(None, validated.record, limits, vocab),
    ))
}

/// Settles the record's default link type against its ancestors. `Err` hands the record back, unchanged, with
/// the reason.
async fn settle(
    store: &dyn AnchorStore,
    key: &Identifier,
    mut record: AnchorRecord,
    batch: &mut Batch,
    fallback: Fallback,
) -> Result<Result<AnchorRecord, (AnchorRecord, FieldError)>, StoreError> {
    let levels = key.levels();
    let paths: Vec<&str> = levels
        .iter()
        .skip(1)
        .map(Identifier::canonical_path)
        .collect();
    batch.load(store, &paths).await?;
    let ancestors: Vec<Option<&DefaultSource>> = paths.iter().map(|p| batch.get(p)).collect();
    Ok(
        match registration::settle_default(&mut record, &ancestors, fallback) {
            Ok(()) => Ok(record),
            Err(e) => Err((record, e)),
        },
    )
}

/// Writes every anchor whose canonical path starts with `prefix` as one NDJSON line, moving `progress` by one per
/// line. Returns the number written.
pub async fn export(
    store: &dyn AnchorStore,
    out: &mut (dyn Write + Send),
    prefix: &str,
    progress: &indicatif::ProgressBar,
) -> Result<usize, BulkError> {
    let mut count = 0;
    let mut io_error = None;
    store
        .for_each(&mut |key, anchor| {
            if !key.starts_with(prefix) {
                return Ok(());
            }
            progress.inc(1);
            let mut line = serde_json::to_value(&anchor.record).unwrap_or(Value::Null);
            if let Some(object) = line.as_object_mut() {
                // Pattern registrations are told apart by their field: `pattern` rather than `identifier`.
                match crate::registry::patterns::pattern_of(key) {
                    Some(pattern) => object.insert("pattern".into(), Value::String(pattern.into())),
                    None => object.insert("identifier".into(), Value::String(key.to_string())),
                };
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
    use crate::registry::AuditStore;
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
            &Arc::new(Vocabulary::embedded()),
            &Arc::new(Parser::embedded().unwrap()),
            &Limits::default(),
            &Arc::new(AccessCodes::embedded()),
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
            &Arc::new(Vocabulary::embedded()),
            &Arc::new(Parser::embedded().unwrap()),
            &Limits::default(),
            &Arc::new(AccessCodes::embedded()),
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
            &Arc::new(Vocabulary::embedded()),
            &Arc::new(Parser::embedded().unwrap()),
            &Limits::default(),
            &Arc::new(AccessCodes::embedded()),
            input.as_bytes(),
            "test",
        )
        .await
        .unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let got = store.get(&format!("{G}/10/B")).await.unwrap().unwrap();
        assert_eq!(got.record.item_description, "second");
    }

    /// A contributed link (`contributor`) survives export and import, and importing an export again changes nothing.
    #[tokio::test]
    async fn contributed_links_round_trip_through_export_and_import() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (vocab, parser) = setup();
        let input = format!(
            r#"{{"identifier":"{G}","itemDescription":"d","links":[{{"linkType":"gs1:pip","href":"https://a.example/p","title":"p"}},{{"linkType":"untp:dte","href":"https://r.example/e","title":"e","contributor":"did:web:r.example"}}]}}
"#
        );
        let load = |bytes: Vec<u8>| {
            let (store, vocab, parser) = (&store, &vocab, &parser);
            async move {
                let report = import(
                    store,
                    vocab,
                    parser,
                    &Limits::default(),
                    &Arc::new(AccessCodes::embedded()),
                    bytes.as_slice(),
                    "t",
                )
                .await
                .unwrap();
                assert!(report.rejected.is_empty(), "{:?}", report.rejected);
                let mut out = Vec::new();
                export(store, &mut out, "", &indicatif::ProgressBar::hidden())
                    .await
                    .unwrap();
                out
            }
        };
        let first = load(input.into_bytes()).await;
        let stored = store.get(G).await.unwrap().unwrap();
        assert_eq!(stored.record.links.len(), 2);
        assert_eq!(
            stored.record.links[1].contributor.as_deref(),
            Some("did:web:r.example")
        );
        let second = load(first.clone()).await;
        assert_eq!(second, first);
        assert_eq!(store.get(G).await.unwrap().unwrap().record, stored.record);
    }

    fn setup() -> (Arc<Vocabulary>, Arc<Parser>) {
        (
            Arc::new(Vocabulary::embedded()),
            Arc::new(Parser::embedded().unwrap()),
        )
    }

    #[test]
    fn reading_a_line_directly_answers_as_through_a_json_value() {
        let (vocab, parser) = setup();
        let codes = AccessCodes::embedded();
        let link = r#"{"linkType":"gs1:pip","href":"https://a.example/p","title":"P","type":"text/html","hreflang":["en"]}"#;
        let direct = [
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","defaultLinkType":"gs1:pip","links":[{link}]}}"#
            ),
            format!(
                r#"  {{"itemDescription":" d\u0041 ","links":[{link}],"identifier":"{G}/10/B"}} "#
            ),
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","defaultLinkType":null,"links":[]}}"#
            ),
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","links":[{{"linkType":"untp:dpp","href":"https://a.example/é","title":"t","hreflang":"en","method":"POST"}}]}}"#
            ),
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","links":[["gs1:pip","https://a.example/p","P"]]}}"#
            ),
            format!(r#"{{"identifier":"{G}","itemDescription":"","links":[]}}"#),
            format!(r#"{{"identifier":"{G}","itemDescription":"d","links":[{link},{link}]}}"#),
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","links":[{{"linkType":"gs1:nope","href":"ftp://x","title":" "}}]}}"#
            ),
            r#"{"identifier":"01/123","itemDescription":"d","links":[]}"#.to_string(),
        ];
        let via_value_only = [
            format!(
                r#"{{"identifier":"{G}","itemDescription":"a","itemDescription":"b","links":[]}}"#
            ),
            format!(
                r#"{{"identifier":"{G}","identifier":"{G}/10/B","itemDescription":"a","links":[]}}"#
            ),
            format!(r#"["{G}","d",null,[]]"#),
            format!(r#"{{"identifier":"{G}","itemDescription":"d","links":[],"extra":1}}"#),
            format!(
                r#"{{"identifier":"{G}","itemDescription":"d","links":[{{"linkType":"gs1:pip","href":"https://a.example","title":"t","hreflang":[1]}}]}}"#
            ),
            format!(r#"{{"identifier":"{G}","links":[]}}"#),
            format!(r#"{{"identifier":"{G}","itemDescription":"d","links":[]}} x"#),
            r#"{"identifier":1,"itemDescription":"d","links":[]}"#.to_string(),
            r#"{"itemDescription":"d","links":[]}"#.to_string(),
            "not json".to_string(),
            "[]".to_string(),
        ];
        for line in &direct {
            assert!(registration::parse_line(line).is_some(), "{line}");
        }
        for line in &via_value_only {
            assert!(registration::parse_line(line).is_none(), "{line}");
        }
        for line in direct.iter().chain(&via_value_only) {
            assert_eq!(
                import_line(&vocab, &parser, &Limits::default(), &codes, line),
                import_line_via_value(&vocab, &parser, &Limits::default(), &codes, line),
                "{line}"
            );
        }
    }

    /// A GTIN-14 of `n` with its check digit.
    fn gtin(n: usize) -> String {
        let body = format!("0952{n:09}");
        let sum: u32 = body
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        format!("{body}{}", (10 - sum % 10) % 10)
    }

    fn anchor_line(identifier: &str, description: &str, default: bool) -> String {
        let default = if default {
            r#""defaultLinkType":"untp:dcc","#
        } else {
            ""
        };
        format!(
            r#"{{"identifier":"{identifier}","itemDescription":"{description}",{default}"links":[{{"linkType":"untp:dcc","href":"https://a.example/{description}","title":"t"}}]}}"#
        )
    }

    /// Lines are parsed in chunks on several threads and written in batches while later ones are parsed: bad lines,
    /// duplicates and deferred lines on either side of chunk and batch boundaries come out as when read one by one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunk_and_batch_boundaries_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (vocab, parser) = setup();
        let total = BATCH + 300;
        let bad = [CHUNK, CHUNK + 1, 2 * CHUNK, BATCH, BATCH + 1];
        let blank = [100, 3000];
        let lines: Vec<String> = (1..=total)
            .map(|n| match n {
                _ if bad.contains(&n) => format!("not json {n}"),
                _ if blank.contains(&n) => String::new(),
                // Duplicates in one batch, across a chunk boundary, and in two batches.
                260 => anchor_line(&format!("01/{}", gtin(250)), "second", true),
                5200 => anchor_line(&format!("01/{}", gtin(4900)), "second", true),
                // Waits for its GTIN, in a later chunk.
                510 => anchor_line(&format!("01/{}/10/B", gtin(600)), "batch", false),
                // Waits, but a later line for the same identifier replaces it.
                700 => anchor_line(&format!("01/{}/10/C", gtin(900)), "first", false),
                800 => anchor_line(&format!("01/{}/10/C", gtin(900)), "later", true),
                n => anchor_line(&format!("01/{}", gtin(n)), "first", true),
            })
            .collect();
        let input = lines.join("\n");
        let report = import(
            &store,
            &vocab,
            &parser,
            &Limits::default(),
            &Arc::new(AccessCodes::embedded()),
            input.as_bytes(),
            "test",
        )
        .await
        .unwrap();
        let rejected: Vec<usize> = report.rejected.iter().map(|(l, _)| *l).collect();
        assert_eq!(rejected, bad);
        assert!(report.rejected[0].1.starts_with("line: not JSON: "));
        // Every valid line is written once, except the duplicate within a batch and the replaced waiting line.
        assert_eq!(report.imported, total - bad.len() - blank.len() - 2);
        let description = |key: String| {
            let store = &store;
            async move {
                let got = store.get(&key).await.unwrap().unwrap();
                (got.version, got.record.item_description.clone())
            }
        };
        let g250 = format!("01/{}", gtin(250));
        let g4900 = format!("01/{}", gtin(4900));
        assert_eq!(description(g250.clone()).await, (1, "second".into()));
        assert_eq!(description(g4900.clone()).await, (2, "second".into()));
        assert_eq!(
            description(format!("01/{}/10/C", gtin(900))).await,
            (1, "later".into())
        );
        let waited = store
            .get(&format!("01/{}/10/B", gtin(600)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(waited.record.default_link_type, None, "inherits");
        for (key, entries) in [(g250, 1), (g4900, 2)] {
            let query = crate::registry::AuditQuery {
                identifier: &key,
                since_ms: 0,
                after: None,
                limit: 10,
            };
            assert_eq!(store.audit(&query).await.unwrap().len(), entries, "{key}");
        }
    }
}

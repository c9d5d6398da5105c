//! `POST /api/v1/anchors` with `application/x-ndjson`: a bulk write in the `idr export` format. The body is read
//! as it arrives, a chunk of lines at a time (never whole); each line is parsed and validated as `idr import` reads
//! it (`bulk::import_line`), checked against the caller's scopes, and written on its own through the write path of
//! `PUT` (`registration::write_each`). The answer counts every line and lists the lines that failed (every line
//! with `?report=all`).

use super::AppState;
use super::access::Caller;
use super::problem::{ApiError, problem_body};
use crate::contribution::{self, OwnerWrite};
use crate::identifier::Identifier;
use crate::registration::{self, Each, FieldError, Patch, WriteError, Written};
use crate::registry::{AnchorRecord, StoreError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use tokio::task::JoinHandle;

/// The media type of a bulk write (and of `idr export`).
pub const NDJSON: &str = "application/x-ndjson";
/// Lines parsed per blocking task and written per store transaction.
const CHUNK: usize = 1_000;
/// Chunks parsed ahead of the one being written.
const AHEAD: usize = 3;
/// Failed lines listed at most by default (the totals count every one).
const MAX_LISTED: usize = 10_000;

/// What happened to one line.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineOutcome {
    /// 1-based line number in the body.
    pub line: usize,
    /// The canonical identifier (or the line's `identifier` as sent, when it does not parse; `null` without one).
    pub identifier: Option<String>,
    /// `201` created, `200` replaced; `400`/`422` invalid, `403` outside the caller's scopes, `503` not written;
    /// `304` unchanged (the console's upload only, which does not write a record that would be stored as it is).
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Counts over every line read.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Lines read (blank lines are not counted).
    pub lines: usize,
    pub created: usize,
    pub replaced: usize,
    pub failed: usize,
    /// Lines whose record was stored already exactly so (the console's upload only; never in the API's answer).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schema(ignore)]
    pub unchanged: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The answer to a bulk write.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReport {
    pub totals: Totals,
    /// The number of the last line read and handled: every line up to it was written or is listed as failed.
    pub last_line: usize,
    /// `false` when the body was cut short (`413`): send the lines after `lastLine` again.
    pub complete: bool,
    /// Failed lines (every line with `?report=all`), in order.
    pub outcomes: Vec<LineOutcome>,
    /// Failed lines not listed (beyond the first 10,000).
    pub outcomes_omitted: usize,
}

/// A line as parsing hands it over: its number, and its identifier and record or why it was refused.
type Parsed = (usize, Result<(Identifier, AnchorRecord), Refusal>);

/// A line refused before writing: the identifier it named (if readable) and the problem.
struct Refusal {
    identifier: Option<String>,
    status: u16,
    detail: String,
}

#[utoipa::path(post, path = "/api/v1/anchors", tag = "anchors", summary = "Write many anchors (NDJSON)",
    params(("report" = Option<String>, Query, description = "`failures` (default): list the lines that failed; `all`: every line")),
    security(("bearer" = [])),
    request_body(content = String, content_type = "application/x-ndjson", description = "One anchor per line, as `idr export` writes them: `{\"identifier\": \"01/…\", …anchor}`"),
    responses(
        (status = 200, description = "Every line was read; each was written on its own (`201`/`200` in `outcomes`) or failed, named by line", body = BulkReport),
        (status = 400, description = "Not `application/x-ndjson`, a bad `report`, or a DID-signed request (bulk takes bearer tokens)", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 413, description = "The body exceeded `limits.max_import_bytes`: the lines up to `lastLine` were handled and stay written; the rest were not read", body = BulkReport)
    ))]
pub async fn write(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_content_type(&req)?;
    let all = match crate::resolution::query_param(req.uri().query().unwrap_or(""), "report")
        .as_deref()
    {
        None | Some("failures") => false,
        Some("all") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "report={other:?}: use failures (the default) or all"
            )));
        }
    };
    if super::credential::is_signed(&req) {
        // The signature covers a hash of the whole body, known only once every line would have been written.
        return Err(ApiError::BadRequest(
            "a bulk write cannot be DID-signed (the signature covers the whole body, which is written as it is read): use a bearer token, or PUT each anchor".into(),
        ));
    }
    let mut run = Run::new(&state, &caller, all, false);
    let limit = state.settings.limits.max_import_bytes;
    let mut outcome = run.read(payload, limit).await;
    let (report, store_error) = run.finish().await;
    if let Some(e) = store_error {
        tracing::error!(error = %e, "store failure during a bulk write");
        outcome = Err(Stop::Store);
    }
    match outcome {
        Ok(()) => {
            tracing::info!(
                credential = caller.name,
                lines = report.totals.lines,
                failed = report.totals.failed,
                "bulk write"
            );
            Ok(HttpResponse::Ok()
                .insert_header(("cache-control", "no-store"))
                .json(report))
        }
        Err(Stop::TooLarge) => Ok(cut_short(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the body exceeded limits.max_import_bytes ({limit} bytes): lines up to {} were handled and stay written; send the lines after it again",
                report.last_line
            ),
            report,
        )),
        Err(Stop::Store) => Ok(cut_short(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "the link store failed: lines up to {} were handled; send the lines after it again",
                report.last_line
            ),
            report,
        )),
        Err(Stop::Body(e)) => Ok(cut_short(
            StatusCode::BAD_REQUEST,
            &format!(
                "could not read the body ({e}): lines up to {} were handled",
                report.last_line
            ),
            report,
        )),
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let media = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some(NDJSON) => Ok(()),
        other => Err(ApiError::BadRequest(format!(
            "Content-Type {}: a bulk write is {NDJSON}, one anchor per line (PUT /api/v1/anchors/{{identifier}} writes one)",
            other.unwrap_or("(none)")
        ))),
    }
}

/// A problem document that carries the report of what was done before the stop.
fn cut_short(status: StatusCode, detail: &str, mut report: BulkReport) -> HttpResponse {
    report.complete = false;
    let title = status.canonical_reason().unwrap_or("Error");
    let mut body = problem_body(status, title, detail);
    if let (Some(object), Ok(serde_json::Value::Object(more))) =
        (body.as_object_mut(), serde_json::to_value(&report))
    {
        object.extend(more);
    }
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .content_type("application/problem+json")
        .body(body.to_string())
}

/// Why reading stopped early.
enum Stop {
    TooLarge,
    /// The store failed (the error is logged); nothing after it was written.
    Store,
    Body(String),
}

/// One bulk write in progress: chunks being parsed, in order, and the report so far.
struct Run<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    all: bool,
    parsing: VecDeque<JoinHandle<Vec<Parsed>>>,
    lines: Vec<(usize, String)>,
    report: BulkReport,
    /// A store failure stops the run: the lines after it are not written.
    failed: Option<StoreError>,
    /// Leave a record that would be stored as it is alone (`304`), rather than write it as a new version.
    keep_same: bool,
    /// Lines (by number) that name only some fields of their anchor (`registration::Patch`).
    patches: BTreeMap<usize, Patch>,
}

/// The bulk write of lines already read (the console's upload, `console::bulk`): each `(line number, line)` parsed,
/// checked against `caller`'s scopes and written exactly as a line of `POST /api/v1/anchors` is, except that a
/// record that would be stored as it is stored now is left alone (`304`), and a line in `patches` is applied over
/// the stored record inside the write (`registration::Patch`). Every line's outcome is listed. `Err` when the store
/// failed: the lines before it stay written, as in the API.
pub async fn write_lines(
    state: &AppState,
    caller: &Caller,
    lines: Vec<(usize, String)>,
    patches: BTreeMap<usize, Patch>,
) -> Result<BulkReport, StoreError> {
    let mut run = Run::new(state, caller, true, true);
    run.patches = patches;
    for (number, line) in lines {
        if run.line(number, line.into_bytes()).await.is_err() {
            break;
        }
    }
    match run.finish().await {
        (_, Some(e)) => Err(e),
        (report, None) => Ok(report),
    }
}

impl<'a> Run<'a> {
    fn new(state: &'a AppState, caller: &'a Caller, all: bool, keep_same: bool) -> Self {
        Run {
            state,
            caller,
            all,
            keep_same,
            parsing: VecDeque::new(),
            lines: Vec::with_capacity(CHUNK),
            report: BulkReport::default(),
            failed: None,
            patches: BTreeMap::new(),
        }
    }

    /// Reads the body line by line, handing full chunks to parsing and parsed chunks to the store, until the body
    /// ends or `limit` bytes were read (the lines wholly within it are still written).
    async fn read(&mut self, mut payload: web::Payload, limit: u64) -> Result<(), Stop> {
        let mut partial: Vec<u8> = Vec::new();
        let (mut read, mut number) = (0u64, 0usize);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| Stop::Body(e.to_string()))?;
            let room = limit.saturating_sub(read);
            let over = chunk.len() as u64 > room;
            let usable = if over {
                &chunk[..room as usize]
            } else {
                &chunk[..]
            };
            read += usable.len() as u64;
            let mut rest = usable;
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                partial.extend_from_slice(&rest[..end]);
                number += 1;
                self.line(number, std::mem::take(&mut partial)).await?;
                rest = &rest[end + 1..];
            }
            partial.extend_from_slice(rest);
            if over {
                return Err(Stop::TooLarge);
            }
        }
        if !partial.is_empty() {
            number += 1;
            self.line(number, partial).await?;
        }
        Ok(())
    }

    async fn line(&mut self, number: usize, bytes: Vec<u8>) -> Result<(), Stop> {
        if self.failed.is_some() {
            return Err(Stop::Store);
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(_) => "\u{FFFD}".to_string(),
        };
        if text.trim().is_empty() {
            return Ok(());
        }
        self.lines.push((number, text));
        if self.lines.len() >= CHUNK {
            self.start_parsing();
            while self.parsing.len() > AHEAD {
                self.write_next().await;
            }
        }
        Ok(())
    }

    fn start_parsing(&mut self) {
        let lines = std::mem::replace(&mut self.lines, Vec::with_capacity(CHUNK));
        if lines.is_empty() {
            return;
        }
        let (vocab, parser, limits, codes) = (
            self.state.vocabulary(),
            self.state.parser.clone(),
            self.state.limits,
            self.state.codes.clone(),
        );
        self.parsing.push_back(tokio::task::spawn_blocking(move || {
            lines
                .into_iter()
                .map(|(number, line)| {
                    let parsed = if is_pattern_line(&line) {
                        Err(refusal(&line, FieldError::new("pattern", PATTERN_LINES)))
                    } else {
                        crate::bulk::import_line(&vocab, &parser, &limits, &codes, &line)
                            .map_err(|e| refusal(&line, e))
                    };
                    (number, parsed)
                })
                .collect()
        }));
    }

    /// Writes the oldest parsed chunk (unless the store failed before).
    async fn write_next(&mut self) {
        let Some(task) = self.parsing.pop_front() else {
            return;
        };
        let parsed = match task.await {
            Ok(parsed) => parsed,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                self.failed = Some(StoreError::Unavailable(format!("bulk write stopped: {e}")));
                return;
            }
        };
        if self.failed.is_some() {
            return;
        }
        let last = parsed.last().map_or(self.report.last_line, |(n, _)| *n);
        if let Err(e) = self.write_chunk(parsed).await {
            self.failed = Some(e);
            return;
        }
        self.report.last_line = last;
    }

    async fn write_chunk(&mut self, parsed: Vec<Parsed>) -> Result<(), StoreError> {
        let mut items = Vec::with_capacity(parsed.len());
        let mut numbers = Vec::with_capacity(parsed.len());
        let mut outcomes: Vec<Option<LineOutcome>> = Vec::with_capacity(parsed.len());
        for (number, line) in parsed {
            match line {
                Ok((key, _)) if !self.caller.may_access(key.canonical_path()) => {
                    let held: Vec<String> =
                        self.caller.scopes.iter().map(|s| s.to_string()).collect();
                    outcomes.push(Some(LineOutcome {
                        line: number,
                        identifier: Some(key.canonical_path().to_string()),
                        status: 403,
                        detail: Some(format!(
                            "this credential's scopes ({}) do not cover {}",
                            held.join(", "),
                            key.canonical_path()
                        )),
                    }));
                }
                Ok((key, record)) => {
                    numbers.push((outcomes.len(), number, key.canonical_path().to_string()));
                    outcomes.push(None);
                    let patch = self.patches.get(&number).copied();
                    items.push(Each { key, record, patch });
                }
                Err(refused) => outcomes.push(Some(LineOutcome {
                    line: number,
                    identifier: refused.identifier,
                    status: refused.status,
                    detail: Some(refused.detail),
                })),
            }
        }
        let state = self.state;
        let build = |previous: Option<&AnchorRecord>, record: AnchorRecord| {
            contribution::as_owner(previous, record, OwnerWrite::KeepContributions)
        };
        let (vocabulary, who) = (state.vocabulary(), &self.caller.name);
        let (store, limits, codes) = (state.store.as_ref(), &state.limits, &state.codes);
        let written: Vec<Result<Written, WriteError>> = if self.keep_same {
            registration::write_each_changed(store, &vocabulary, limits, codes, items, who, &build)
                .await?
        } else {
            registration::write_each(store, &vocabulary, limits, codes, items, who, &build)
                .await?
                .into_iter()
                .map(|r| r.map(Written::Put))
                .collect()
        };
        for ((index, number, path), result) in numbers.into_iter().zip(written) {
            let (status, detail) = match result {
                Ok(Written::Put(outcome)) if outcome.created => (201, None),
                Ok(Written::Put(_)) => (200, None),
                Ok(Written::Unchanged(_)) => (304, None),
                Ok(Written::Deleted) => unreachable!("a bulk write always builds a record"),
                Err(WriteError::Invalid(errors)) => (422, Some(fields(&errors))),
                Err(WriteError::Store(e)) => (503, Some(e.to_string())),
            };
            if status < 300 {
                super::observe::record_write(self.caller, "bulk");
            }
            outcomes[index] = Some(LineOutcome {
                line: number,
                identifier: Some(path),
                status,
                detail,
            });
        }
        for outcome in outcomes.into_iter().flatten() {
            self.count(outcome);
        }
        Ok(())
    }

    fn count(&mut self, outcome: LineOutcome) {
        let totals = &mut self.report.totals;
        totals.lines += 1;
        let failed = outcome.status >= 300 && outcome.status != 304;
        match outcome.status {
            201 => totals.created += 1,
            200 => totals.replaced += 1,
            304 => totals.unchanged += 1,
            _ => totals.failed += 1,
        }
        if self.all || (failed && self.report.outcomes.len() < MAX_LISTED) {
            self.report.outcomes.push(outcome);
        } else if failed {
            self.report.outcomes_omitted += 1;
        }
    }

    /// Writes what is parsed and still to parse (unless the store failed); the report, and the store's failure.
    async fn finish(mut self) -> (BulkReport, Option<StoreError>) {
        self.start_parsing();
        while !self.parsing.is_empty() {
            self.write_next().await;
        }
        self.report.complete = self.failed.is_none();
        (self.report, self.failed)
    }
}

/// Why a line was refused, with the identifier it named if that can be read.
/// Why a pattern registration's line (as `idr export` writes it) is refused here.
const PATTERN_LINES: &str = "pattern registrations are not taken by the bulk write: PUT each to \
                             /api/v1/patterns/{pattern}, or load the file with `idr import`";

/// Whether an export line is a pattern registration's (`{"pattern": …}`) rather than an anchor's.
fn is_pattern_line(line: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Named {
        pattern: Option<serde_json::Value>,
    }
    line.contains("\"pattern\"")
        && serde_json::from_str::<Named>(line).is_ok_and(|n| n.pattern.is_some())
}

fn refusal(line: &str, e: FieldError) -> Refusal {
    #[derive(serde::Deserialize)]
    struct Named {
        identifier: Option<String>,
    }
    let identifier = serde_json::from_str::<Named>(line)
        .ok()
        .and_then(|n| n.identifier);
    let status = if e.field == "line" || e.field == "identifier" || e.field == "pattern" {
        400
    } else {
        422
    };
    Refusal {
        identifier,
        status,
        detail: format!("{}: {}", e.field, e.message),
    }
}

fn fields(errors: &[FieldError]) -> String {
    let each: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    each.join("; ")
}

//! Bulk (`/console/bulk`): upload an NDJSON file (the `idr export` format) or a CSV file (a header row; see
//! `/console/bulk/template.csv`) from an `<input type=file>`, and get a report line by line. Every anchor is written
//! through the bulk write of `POST /api/v1/anchors` (`http::bulk::write_lines`: `bulk::import_line`, the caller's
//! scopes line by line, `registration::write_each_changed`), so the same validation, scopes and limits apply, and a
//! record that would be stored unchanged is left alone (no new version).
//!
//! A file that cannot be read as a whole (not UTF-8, a CSV syntax error, a wrong header, over the size limit) is
//! refused with the line and the field named, and nothing of it is written. Otherwise each anchor stands alone, as
//! in the API: a bad one is refused (nothing of it written) and named by line and field; the others are written.
//!
//! CSV: the columns `identifier`, `link type` and `href` are required; `title`, `language` (one or more, separated by
//! spaces, commas or semicolons), `type` (media type), `context`, `description` and `default link type` are
//! optional (any case; spaces, `-` and `_` in names ignored; a UTF-8 BOM is ignored). The rows of one identifier
//! become one anchor with their links in file order. Its links replace the stored ones, but the file says only what
//! its columns say (`registration::Patch`, applied inside the write over the record it read): a row that matches a
//! stored link (the same variant, or the same link type and `href`) starts from that link and sets only the CSV's
//! columns, so attributes a CSV cannot express (`accessRole`, `encryptionMethod`, `fwqs`, `rel`, `method`, `id`)
//! stay; a stored description or default link type stays unless a row names one (a new anchor without a description
//! takes its first row's title). A variant whose target changed keeps the old target as `predecessor-version` (the
//! API's one merge rule, `versions::merge`).

use super::layout::{self, Nav};
use super::{ConsoleError, Signed, url};
use crate::http::AppState;
use crate::http::access::Caller;
use crate::http::bulk::{BulkReport, LineOutcome, write_lines};
use crate::http::problem::ApiError;
use crate::registration::{LinkFields, Patch};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use maud::{Markup, html};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The largest file the console takes (and at most `limits.max_import_bytes`): it is held in memory and reported
/// line by line on one page; larger files go to `POST /api/v1/anchors` or `idr import --server`.
pub const MAX_UPLOAD: u64 = 8 * 1024 * 1024;

/// The most anchors one console upload writes (its report lists every one on one page); more go to
/// `POST /api/v1/anchors` or `idr import --server`.
pub const MAX_ANCHORS: usize = 10_000;

/// The CSV template: the header row and an example of the common case, two links of one anchor.
const TEMPLATE: &str = "identifier,link type,href,title,language\r\n\
01/09520123456788,gs1:pip,https://brand.example/products/09520123456788,Product information,en\r\n\
01/09520123456788,untp:dpp,https://brand.example/dpp/09520123456788.jwt,Digital Product Passport,en\r\n";

/// `GET /console/bulk`: the upload form.
pub async fn form(signed: Signed) -> Result<HttpResponse, ConsoleError> {
    Ok(layout::ok(page(&signed, None, None)))
}

/// `GET /console/bulk/template.csv`.
pub async fn template(_signed: Signed) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"idr-anchors-template.csv\"",
        ))
        .body(TEMPLATE)
}

/// `POST /console/bulk` (multipart/form-data): the CSRF token is checked before anything is read from the file.
pub async fn upload(
    req: HttpRequest,
    signed: Signed,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(boundary) = boundary(&req) else {
        // Not a multipart form: it cannot carry this session's token.
        signed.check_csrf(&req, None)?;
        return Err(ConsoleError::UnsupportedForm);
    };
    let limit = MAX_UPLOAD.min(state.settings.limits.max_import_bytes);
    let body = read(payload, limit).await?;
    let (parts, closed) = parts(&body, &boundary);
    let token = parts
        .iter()
        .find(|p| p.name == super::csrf::FIELD)
        .and_then(|p| std::str::from_utf8(p.body).ok());
    signed.check_csrf(&req, token)?;
    if !closed {
        return Ok(refused(
            &signed,
            "the upload ended before its closing boundary (cut short?): send the file again".into(),
        ));
    }
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return Ok(refused(&signed, "choose a file to upload".into()));
    };
    let lines = match read_file(&state, file) {
        Ok(Read::Ndjson(lines)) => Lines {
            lines,
            rows: BTreeMap::new(),
            patches: BTreeMap::new(),
        },
        Ok(Read::Csv(anchors)) => anchor_lines(anchors),
        Err(problem) => return Ok(refused(&signed, problem)),
    };
    if lines.lines.is_empty() {
        return Ok(refused(&signed, "the file holds no anchors".into()));
    }
    if lines.lines.len() > MAX_ANCHORS {
        return Ok(refused(
            &signed,
            format!(
                "the file holds {} anchors; the console takes at most {MAX_ANCHORS} in one upload (its report lists \
                 each): split it, or send it to POST /api/v1/anchors or with idr import --server",
                lines.lines.len()
            ),
        ));
    }
    let caller = Caller(signed.principal.clone());
    let report = write_lines(&state, &caller, lines.lines, lines.patches)
        .await
        .map_err(ApiError::Store)?;
    tracing::info!(
        credential = signed.principal.name,
        lines = report.totals.lines,
        failed = report.totals.failed,
        "console bulk upload"
    );
    Ok(layout::ok(page(
        &signed,
        Some(&Uploaded {
            name: file.filename.clone(),
            report,
            rows: lines.rows,
        }),
        None,
    )))
}

/// What was uploaded and what became of it.
struct Uploaded {
    name: String,
    report: BulkReport,
    /// For CSV: an anchor's line (its first row) → the rows of its links, in order.
    rows: BTreeMap<usize, Vec<usize>>,
}

fn refused(signed: &Signed, problem: String) -> HttpResponse {
    layout::respond(StatusCode::BAD_REQUEST, page(signed, None, Some(&problem)))
}

fn page(signed: &Signed, uploaded: Option<&Uploaded>, problem: Option<&str>) -> Markup {
    let described = match problem {
        Some(_) => "file-hint file-error",
        None => "file-hint",
    };
    let body = html! {
        h1 { "Bulk upload" }
        @if let Some(uploaded) = uploaded { (report_view(uploaded)) }
        p { "Upload many anchors at once: a CSV file (start from the "
            a #template href=(url("/bulk/template.csv")) download { "CSV template" }
            ": identifier, link type, href, title, language; one row per link) or NDJSON (one anchor per line, as "
            code { "idr export" } " writes it). Each anchor is written as the API writes it, and only within your scopes." }
        @if let Some(problem) = problem {
            div #form-errors role="alert" {
                p { "Nothing was written: " a href="#file" { (problem) } }
            }
        }
        form #bulk-form method="post" action=(url("/bulk")) enctype="multipart/form-data" {
            (signed.csrf_field())
            div.field {
                label for="file" { "File (CSV or NDJSON)" }
                p.hint #file-hint { "at most " (MAX_UPLOAD / (1024 * 1024)) " MiB and " (MAX_ANCHORS) " anchors (more: "
                    code { "POST /api/v1/anchors" } " or " code { "idr import --server" } "); .csv is read as CSV, anything else whose first character is { as NDJSON" }
                input #file type="file" name="file" accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson"
                    required aria-describedby=(described) aria-invalid=[problem.map(|_| "true")];
                @if let Some(problem) = problem { p.error #file-error { (problem) } }
            }
            div.field { button #upload type="submit" { "Upload" } }
        }
        h2 { "How rows become anchors" }
        ul {
            li { "The rows of one identifier are its links after the upload, in file order; links not in the file are removed, as a PUT of the anchor would remove them. A target that changed is kept as its link's earlier version." }
            li { "A file uploaded again changes nothing: an anchor that would be stored as it is gets no new version." }
            li { "A row for a link already stored (the same link type and address, or the same variant) changes only what the file's columns say: what a CSV cannot express (access roles, encryption, fwqs, rel, method, the link's id) is kept." }
            li { "Optional columns: description, type (media type), context, default link type. Without a description (or default link type) an existing anchor keeps its own; a new one takes its first row's title." }
        }
    };
    layout::page(signed, Nav::Bulk, "Bulk upload", body)
}

fn report_view(uploaded: &Uploaded) -> Markup {
    let totals = &uploaded.report.totals;
    html! {
        section #report-section aria-labelledby="report-title" {
            h2 #report-title { "Report: " (uploaded.name) }
            p #summary.notice role="status" {
                (totals.lines) " anchors: " (totals.created) " created, " (totals.replaced) " replaced, "
                (totals.unchanged) " unchanged, " (totals.failed) " refused."
            }
            table #report.cards {
                thead { tr { th scope="col" { "Line" } th scope="col" { "Identifier" } th scope="col" { "Outcome" }
                    th scope="col" { "Problem" } } }
                tbody {
                    @for outcome in &uploaded.report.outcomes {
                        tr class=(if outcome.status >= 300 && outcome.status != 304 { "refused" } else { "written" }) {
                            td data-label="Line" { (lines_of(uploaded, outcome)) }
                            td data-label="Identifier" { code { (outcome.identifier.as_deref().unwrap_or("")) } }
                            td data-label="Outcome" { (outcome_text(outcome.status)) }
                            td data-label="Problem" { (problem_text(uploaded, outcome)) }
                        }
                    }
                }
            }
        }
    }
}

/// The line of an outcome: the CSV rows of its anchor (`3, 5`), or the NDJSON line.
fn lines_of(uploaded: &Uploaded, outcome: &LineOutcome) -> String {
    match uploaded.rows.get(&outcome.line) {
        Some(rows) => rows
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        None => outcome.line.to_string(),
    }
}

/// The problem, with each `links[i]` of a CSV anchor named by its row.
fn problem_text(uploaded: &Uploaded, outcome: &LineOutcome) -> String {
    let mut detail = outcome.detail.clone().unwrap_or_default();
    if let Some(rows) = uploaded.rows.get(&outcome.line) {
        for (i, row) in rows.iter().enumerate() {
            detail = detail.replace(&format!("links[{i}]"), &format!("line {row}: links[{i}]"));
        }
    }
    detail
}

fn outcome_text(status: u16) -> String {
    match status {
        201 => "created".into(),
        200 => "replaced".into(),
        304 => "unchanged".into(),
        403 => "refused (403): outside your scopes".into(),
        s => format!("refused ({s})"),
    }
}

/// The body, at most `limit` bytes (`413` beyond).
async fn read(mut payload: web::Payload, limit: u64) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the upload: {e}")))?;
        // The multipart framing around the file is allowed for (a few hundred bytes).
        if (body.len() + chunk.len()) as u64 > limit + 16 * 1024 {
            return Err(ApiError::PayloadTooLarge(
                usize::try_from(limit).unwrap_or(usize::MAX),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The boundary of a `multipart/form-data` body.
fn boundary(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mut params = value.split(';');
    let media = params.next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// One part of a multipart body, borrowed from it.
#[derive(Debug)]
struct Part<'a> {
    name: String,
    filename: String,
    body: &'a [u8],
}

/// The parts of a `multipart/form-data` body (RFC 7578), as slices of it: each delimiter is CRLF `--boundary` (the
/// first may start the body), the part's headers end at an empty line, and the last delimiter is followed by `--`.
/// Parts without a `Content-Disposition: form-data; name=…` are skipped. The second value says whether the closing
/// delimiter came: without it the body was cut short, and its last part is not among the parts.
fn parts<'a>(body: &'a [u8], boundary: &str) -> (Vec<Part<'a>>, bool) {
    let delimiter = format!("\r\n--{boundary}");
    let opening = &delimiter.as_bytes()[2..];
    // Where each delimiter's `--boundary` starts.
    let mut at: Vec<usize> = Vec::new();
    if body.starts_with(opening) {
        at.push(0);
    }
    at.extend(memchr::memmem::find_iter(body, delimiter.as_bytes()).map(|i| i + 2));
    let closed = at
        .last()
        .is_some_and(|last| body[last + opening.len()..].starts_with(b"--"));
    let mut parts = Vec::new();
    for pair in at.windows(2) {
        // The part runs from after its delimiter to the CRLF before the next one.
        let Some(segment) = body
            .get(pair[0] + opening.len()..pair[1] - 2)
            .and_then(|s| s.strip_prefix(b"\r\n"))
        else {
            continue;
        };
        let Some(end) = memchr::memmem::find(segment, b"\r\n\r\n") else {
            continue;
        };
        let headers = String::from_utf8_lossy(&segment[..end]);
        let Some((name, filename)) = disposition(&headers) else {
            continue;
        };
        parts.push(Part {
            name,
            filename,
            body: &segment[end + 4..],
        });
    }
    (parts, closed)
}

/// `name` and `filename` of a part's `Content-Disposition: form-data` header. Parameters are split on `;` outside
/// quoted strings, and a quoted value may hold `;`, `=` and backslash-escaped characters (`filename="a;b.csv"`).
fn disposition(headers: &str) -> Option<(String, String)> {
    let line = headers.split("\r\n").find(|l| {
        l.split(':')
            .next()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case("content-disposition"))
    })?;
    let (_, value) = line.split_once(':')?;
    let params = parameters(value);
    let param = |wanted: &str| {
        params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.clone())
    };
    Some((param("name")?, param("filename").unwrap_or_default()))
}

/// The `name=value` parameters of a header value (the leading token, such as `form-data`, has no `=` and is
/// skipped); quoted values unquoted.
fn parameters(value: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        // A parameter's name, up to `=` (or the next `;`: a token without a value).
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let Some(c) = chars.next() else { break };
        if c == ';' {
            continue;
        }
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut v = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => v.extend(chars.next()),
                    c => v.push(c),
                }
            }
            // Anything after the closing quote up to `;` is ignored.
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
                v.push(c);
            }
            v = v.trim().to_string();
        }
        params.push((name.trim().to_string(), v));
    }
    params
}

/// The lines to write, and for CSV which rows each came from.
struct Lines {
    lines: Vec<(usize, String)>,
    rows: BTreeMap<usize, Vec<usize>>,
    /// CSV anchors name only some fields: each line's patch, by line number.
    patches: BTreeMap<usize, Patch>,
}

/// An uploaded file, read as a whole: NDJSON lines, or anchors gathered from CSV rows.
enum Read {
    Ndjson(Vec<(usize, String)>),
    Csv(Vec<Gathered>),
}

/// The anchors of an uploaded file, or why the file as a whole cannot be read.
fn read_file(state: &AppState, file: &Part) -> Result<Read, String> {
    let bytes = file.body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file.body);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("line {line}: the file is not UTF-8 text")
    })?;
    let is_csv =
        file.filename.to_ascii_lowercase().ends_with(".csv") || !text.trim_start().starts_with('{');
    if is_csv {
        return csv_anchors(state, text).map(Read::Csv);
    }
    Ok(Read::Ndjson(
        text.split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r').to_string()))
            .filter(|(_, l)| !l.trim().is_empty())
            .collect(),
    ))
}

/// A CSV column, by its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Identifier,
    LinkType,
    Href,
    Title,
    Language,
    MediaType,
    Context,
    Description,
    DefaultLinkType,
}

fn column(header: &str) -> Option<Column> {
    let name: String = header
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    Some(match name.as_str() {
        "identifier" => Column::Identifier,
        "linktype" => Column::LinkType,
        "href" => Column::Href,
        "title" => Column::Title,
        "language" | "hreflang" | "lang" => Column::Language,
        "type" | "mediatype" => Column::MediaType,
        "context" => Column::Context,
        "description" | "itemdescription" => Column::Description,
        "defaultlinktype" => Column::DefaultLinkType,
        _ => return None,
    })
}

/// One anchor being gathered from CSV rows.
struct Gathered {
    first_row: usize,
    identifier: String,
    description: Option<String>,
    default_link_type: Option<String>,
    links: Vec<Value>,
    rows: Vec<usize>,
    first_title: String,
    /// What the CSV's columns set (the rest is kept from the stored record, inside the write).
    patch: Patch,
}

/// CSV rows → one anchor per identifier (rows of one identifier gathered in file order).
fn csv_anchors(state: &AppState, text: &str) -> Result<Vec<Gathered>, String> {
    let newlines = newlines_of(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("line 1: {}", csv_problem(&e)))?
        .clone();
    let mut columns = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let c = column(h).ok_or_else(|| {
            format!(
                "line 1, column {}: {h:?} is not a column this upload knows (identifier, link type, href, title, \
                 language, type, context, description, default link type)",
                i + 1
            )
        })?;
        if columns.contains(&c) {
            return Err(format!("line 1, column {}: {h:?} appears twice", i + 1));
        }
        columns.push(c);
    }
    for required in [Column::Identifier, Column::LinkType, Column::Href] {
        if !columns.contains(&required) {
            return Err(format!(
                "line 1: the header has no {} column",
                match required {
                    Column::Identifier => "identifier",
                    Column::LinkType => "link type",
                    _ => "href",
                }
            ));
        }
    }
    let has = |c: Column| columns.contains(&c);
    let links = LinkFields {
        title: has(Column::Title),
        hreflang: has(Column::Language),
        media_type: has(Column::MediaType),
        context: has(Column::Context),
    };
    let mut anchors: Vec<Gathered> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e
                .position()
                .map_or(0, |p| line_at(text, &newlines, p.byte()));
            format!("line {line}: {}", csv_problem(&e))
        })?;
        let row = record
            .position()
            .map_or(0, |p| line_at(text, &newlines, p.byte()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |c: Column| {
            columns
                .iter()
                .position(|x| *x == c)
                .and_then(|i| record.get(i))
                .unwrap_or("")
        };
        let identifier = cell(Column::Identifier).to_string();
        // Rows of one identifier in any spelling are one anchor.
        let group = state
            .parser
            .parse_key(identifier.trim_start_matches('/'))
            .map_or_else(|_| identifier.clone(), |k| k.canonical_path().to_string());
        let at = *index.entry(group).or_insert_with(|| {
            anchors.push(Gathered {
                first_row: row,
                identifier: identifier.clone(),
                description: None,
                default_link_type: None,
                links: Vec::new(),
                rows: Vec::new(),
                first_title: cell(Column::Title).to_string(),
                patch: Patch {
                    links,
                    ..Patch::default()
                },
            });
            anchors.len() - 1
        });
        let anchor = &mut anchors[at];
        anchor.rows.push(row);
        for (c, slot) in [
            (Column::Description, &mut anchor.description),
            (Column::DefaultLinkType, &mut anchor.default_link_type),
        ] {
            let value = cell(c);
            if !value.is_empty() && slot.is_none() {
                *slot = Some(value.to_string());
            }
        }
        let mut link = Map::new();
        link.insert("linkType".into(), json!(cell(Column::LinkType)));
        link.insert("href".into(), json!(cell(Column::Href)));
        link.insert("title".into(), json!(cell(Column::Title)));
        // One rule for a list in a cell, as the edit form reads its languages.
        let list = crate::registration::languages;
        let languages = list(cell(Column::Language));
        if !languages.is_empty() {
            link.insert("hreflang".into(), json!(languages));
        }
        let contexts = list(cell(Column::Context));
        if !contexts.is_empty() {
            link.insert("context".into(), json!(contexts));
        }
        if !cell(Column::MediaType).is_empty() {
            link.insert("type".into(), json!(cell(Column::MediaType)));
        }
        anchor.links.push(Value::Object(link));
    }
    Ok(anchors)
}

/// The gathered anchors as bulk-write lines, each with the patch its columns make (`registration::Patch`, applied
/// over the stored record inside the write): a stored description or default link type is kept unless a row names
/// one; a new anchor without a description takes its first row's title.
fn anchor_lines(anchors: Vec<Gathered>) -> Lines {
    let mut lines = Vec::with_capacity(anchors.len());
    let mut rows = BTreeMap::new();
    let mut patches = BTreeMap::new();
    for anchor in anchors {
        let mut patch = anchor.patch;
        patch.description = anchor.description.is_some();
        patch.default_link_type = anchor.default_link_type.is_some();
        let mut line = json!({
            "identifier": anchor.identifier,
            "itemDescription": anchor.description.unwrap_or(anchor.first_title),
            "links": anchor.links,
        });
        if let Some(default) = anchor.default_link_type {
            line["defaultLinkType"] = json!(default);
        }
        lines.push((anchor.first_row, line.to_string()));
        rows.insert(anchor.first_row, anchor.rows);
        patches.insert(anchor.first_row, patch);
    }
    Lines {
        lines,
        rows,
        patches,
    }
}

/// The 1-based line of the record that starts at `byte` (the reader's own line count lags behind with CRLF line
/// ends, whose `\n` it counts as the start of the next record).
/// `newlines` are the offsets of the text's `\n`s (`newlines_of`), so that each row costs a binary search, not a
/// count from the start.
fn line_at(text: &str, newlines: &[usize], byte: u64) -> usize {
    let start = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
    let skipped = text.as_bytes()[start..]
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    newlines.partition_point(|&i| i < start) + skipped + 1
}

/// The offsets of the `\n`s of `text`, for `line_at`.
fn newlines_of(text: &str) -> Vec<usize> {
    memchr::memchr_iter(b'\n', text.as_bytes()).collect()
}

/// A CSV error in words, naming the field where it has one.
fn csv_problem(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} fields where the header has {expected_len} (a comma inside a field needs quotes)"
        ),
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not UTF-8", err.field() + 1),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_browser_upload_are_found() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\n\
identifier,href\r\n--not-the-boundary\r\n--XyZ--\r\n";
        let (parts, closed) = parts(body, "XyZ");
        assert!(closed);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "csrf");
        assert_eq!(parts[0].body, b"tok");
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].filename, "a.csv");
        assert_eq!(parts[1].body, b"identifier,href\r\n--not-the-boundary");
    }

    #[test]
    fn a_body_without_its_closing_delimiter_is_known_cut_short() {
        let body =
            b"--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nidentifier,href\r\n01/1,";
        let (parts, closed) = parts(body, "XyZ");
        assert!(!closed);
        assert_eq!(parts.len(), 1, "the token is still found");
        assert_eq!(parts[0].body, b"tok");
    }

    #[test]
    fn quoted_parameters_may_hold_separators() {
        let headers =
            "Content-Disposition: form-data; name=\"file\"; filename=\"a;b=\\\"c\\\".csv\"";
        assert_eq!(
            disposition(headers),
            Some(("file".to_string(), "a;b=\"c\".csv".to_string()))
        );
        assert_eq!(
            disposition("content-disposition: form-data;name=csrf"),
            Some(("csrf".to_string(), String::new()))
        );
    }

    #[test]
    fn header_names_are_read_loosely() {
        assert_eq!(column("Link Type"), Some(Column::LinkType));
        assert_eq!(column("link_type"), Some(Column::LinkType));
        assert_eq!(column("hreflang"), Some(Column::Language));
        assert_eq!(column("colour"), None);
    }

    #[test]
    fn lines_are_counted_with_either_line_end() {
        let text = "a,b\r\n1,2\r\n\r\n3,4\n";
        let newlines = newlines_of(text);
        assert_eq!(line_at(text, &newlines, 0), 1);
        assert_eq!(
            line_at(text, &newlines, 3),
            2,
            "a record read from the CRLF before it"
        );
        assert_eq!(line_at(text, &newlines, 5), 2);
        assert_eq!(line_at(text, &newlines, 10), 4, "a blank line between");
    }
}

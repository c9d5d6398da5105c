//! Check (`/console/check?uri=&lang=&accept=`): what a scan of a URI gets, explained as `idr resolve` explains it
//! (`explain::explain_verified`, with the stored verdicts in `verification.mode = enforce`, as the CLI does), plus
//! the links to the identifier's public linkset (the HTML view in a browser) and its label.
//!
//! Scope: any URI may be checked, since anyone may scan it. Within the caller's scopes the whole explanation is
//! shown (levels, versions, every candidate and how it scored); outside them only what the scan itself answers
//! (the request, the identifier and the answer), since the reasoning names links a scan does not reveal (a
//! candidate that lost, one an access role hides from the public linkset).

use super::layout::{self, Field, Nav};
use super::{ConsoleError, Signed, url};
use crate::explain::{self, Context, Request};
use crate::http::AppState;
use crate::identifier::Identifier;
use crate::resolution::query_param;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The longest URI checked (longer is refused beside the field).
const MAX_URI: usize = 4096;

/// `GET /console/check`: the form, and with `uri` the explanation.
pub async fn page(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let raw = req.query_string().replace('+', "%20");
    let param = |name| query_param(&raw, name).unwrap_or_default();
    let (uri, lang, accept) = (param("uri"), param("lang"), param("accept"));
    let (uri, lang, accept) = (uri.trim(), lang.trim(), accept.trim());
    let mut error = None;
    let result = if uri.is_empty() {
        None
    } else if uri.len() > MAX_URI {
        error = Some(format!("at most {MAX_URI} characters"));
        None
    } else {
        match check(&req, &signed, &state, uri, lang, accept).await? {
            Ok(checked) => Some(checked),
            Err(e) => {
                error = Some(e);
                None
            }
        }
    };
    let body = html! {
        h1 { "Check a scan" }
        p { "What a phone or scanner gets for a URI, with the reasons: the same explanation as "
            code { "idr resolve" } "." }
        form method="get" action=(url("/check")) {
            (layout::input(&Field { id: "uri", name: "uri", label: "URI or identifier", kind: "text", value: uri,
                hint: Some("a full http(s) URI, a path such as /01/09520123456788?linkType=gs1:pip, or an identifier"),
                error: error.as_deref(), autocomplete: Some("off") }))
            (layout::input(&Field { id: "lang", name: "lang", label: "Language (Accept-Language)", kind: "text",
                value: lang, hint: Some("e.g. de-CH, fr;q=0.8 — empty: none sent"), error: None, autocomplete: Some("off") }))
            (layout::input(&Field { id: "accept", name: "accept", label: "Media type (Accept)", kind: "text",
                value: accept, hint: Some("e.g. application/pdf, or application/linkset+json — empty: none sent"),
                error: None, autocomplete: Some("off") }))
            div.field { button #check type="submit" { "Check" } }
        }
        @if let Some(checked) = &result { (checked.view()) }
    };
    let status = if error.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(layout::respond(
        status,
        layout::page(&signed, Nav::Check, "Check a scan", body),
    ))
}

/// A checked URI: the explanation, and where the identifier's pages are.
struct Checked {
    origin: String,
    why_origin: String,
    lines: Vec<String>,
    /// The identifier, when the path parses as one.
    key: Option<Identifier>,
    public_uri: Option<String>,
    /// Only what the scan answers is shown (outside the caller's scopes).
    answer_only: bool,
}

impl Checked {
    fn view(&self) -> Markup {
        let answer = self
            .lines
            .iter()
            .find_map(|l| l.strip_prefix("answer: "))
            .unwrap_or("");
        html! {
            section #result aria-labelledby="result-title" {
                h2 #result-title { "What the scan gets" }
                p #answer.notice role="status" { strong { (answer) } }
                p.meta { "Origin " code { (self.origin) } " (" (self.why_origin) ")" }
                @if self.answer_only {
                    p #answer-only { "This identifier is outside your scopes: only what a scan answers is shown." }
                }
                // One line each, wrapping at phone width (a <pre> would run off the screen); indents kept.
                div #explanation.explanation {
                    @for line in &self.lines {
                        code { (indented(line)) } br;
                    }
                }
                @if let (Some(key), Some(public)) = (&self.key, &self.public_uri) {
                    h2 { "Its pages" }
                    ul #pages {
                        li { a #linkset href=(format!("{public}?linkType=linkset")) { "Public linkset" }
                            " — a browser gets the HTML view; a client asking "
                            code { "Accept: application/linkset+json" } " the JSON" }
                        li { a #qr-page href=(url(&format!("/qr/{}", key.canonical_path()))) { "Label (QR code)" } }
                        li { a #anchor-page href=(super::anchor_url(key, "")) { "Anchor page" } }
                    }
                }
            }
        }
    }
}

/// The explanation of a scan of `uri`, or why it cannot be checked (shown beside the field).
async fn check(
    req: &HttpRequest,
    signed: &Signed,
    state: &AppState,
    uri: &str,
    lang: &str,
    accept: &str,
) -> Result<Result<Checked, String>, ConsoleError> {
    let absolute = uri.contains("://");
    if absolute && !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Ok(Err("an http or https URI, or a path".into()));
    }
    // A path is checked under this resolver's public origin, as a scan of it would be answered.
    let (origin, why_origin, uri) = if absolute {
        let (origin, why) = explain::origin(state.settings.fixed_root(), uri);
        (origin, why, uri.to_string())
    } else {
        let path = format!("/{}", uri.trim_start_matches('/'));
        (
            state.origin(req).into_owned(),
            "this resolver's public origin".to_string(),
            path,
        )
    };
    let vocabulary = state.vocabulary();
    let cx = Context {
        store: state.store.as_ref(),
        parser: &state.parser,
        vocabulary: &vocabulary,
        delegations: &state.delegations,
        root: &origin,
    };
    let request = Request {
        uri: &uri,
        accept: Some(accept).filter(|a| !a.is_empty()),
        accept_language: Some(lang).filter(|l| !l.is_empty()),
    };
    // In enforce mode the stored verdicts decide what a scan passes over, as `idr resolve` reads them.
    let enforce = state.settings.verification.mode == crate::config::VerificationMode::Enforce;
    let verdicts: Option<&dyn explain::Verdicts> = if enforce {
        Some(state.verification.as_ref())
    } else {
        None
    };
    let explained = explain::explain_lines(&cx, &request, verdicts)
        .await
        .map_err(crate::http::problem::ApiError::Store)?;
    let key = identifier_of(state, &uri);
    let answer_only = key
        .as_ref()
        .is_none_or(|k| !signed.principal.may_access(k.canonical_path()));
    let lines = shown(explained, answer_only, |level| {
        signed.principal.may_access(level)
    });
    let public_uri = key.as_ref().map(|k| k.uri_under(&origin));
    Ok(Ok(Checked {
        origin,
        why_origin,
        lines,
        key,
        public_uri,
        answer_only,
    }))
}

/// What of an explanation the caller sees: outside its scopes only what a scan answers (`answer_only`); else all,
/// except that a level outside its scopes shows only that it is there (its records, candidates and passed-over
/// targets are another issuer's).
fn shown(
    explained: Vec<explain::Line>,
    answer_only: bool,
    may_access: impl Fn(&str) -> bool,
) -> Vec<String> {
    use explain::Part;
    let mut lines = Vec::new();
    let mut hidden_candidates = false;
    for line in explained {
        let public = matches!(
            line.part,
            Part::Request | Part::Decompressed | Part::Identifier | Part::Answer
        );
        if answer_only && !public {
            continue;
        }
        match line.level.as_deref() {
            Some(level) if !may_access(level) => match line.part {
                Part::Level => lines.push(format!("  {level:<50} outside your scopes")),
                Part::Candidates if !hidden_candidates => {
                    hidden_candidates = true;
                    lines.push(format!("candidates at {level}: outside your scopes"));
                }
                _ => {}
            },
            _ => lines.push(line.text),
        }
    }
    lines
}

/// The identifier a URI's path names, as a scan would parse it.
fn identifier_of(state: &AppState, uri: &str) -> Option<Identifier> {
    let without_query = uri.split(['?', '#']).next().unwrap_or(uri);
    let path = match without_query.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => without_query,
    };
    state
        .parser
        .parse_request(path, "")
        .ok()
        .map(|p| p.identifier)
}

/// A line with its leading spaces as no-break spaces, so that its indent shows outside a `<pre>`.
fn indented(line: &str) -> String {
    let rest = line.trim_start_matches(' ');
    let indent = line.len() - rest.len();
    format!("{}{rest}", "\u{a0}".repeat(indent))
}

/// A link to this page checking `uri`.
pub fn link(uri: &str) -> String {
    format!(
        "{}?uri={}",
        url("/check"),
        utf8_percent_encode(uri, NON_ALPHANUMERIC)
    )
}

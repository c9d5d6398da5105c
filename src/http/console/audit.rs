//! Audit (`/console/audit?identifier=&since=&after=&mine=1`): the changes to an identifier and those below it, a
//! page at a time, read exactly as `GET /api/v1/audit` reads them (`http::audit::read_trail`: the same store, the
//! same parameters, `403` outside the caller's scopes and only the entries its scopes cover). `mine=1` keeps only
//! the writes of the signed-in credential.
//!
//! The trail is kept per primary key (`registry::audit`), so the page asks for an identifier; the form offers the
//! caller's own anchors (the first page of Browse) to pick from.

use super::layout::{self, Field, Nav};
use super::{ConsoleError, Signed, url};
use crate::http::AppState;
use crate::http::audit::{AuditView, Trail, read_trail};
use crate::http::problem::ApiError;
use crate::resolution::query_param;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// Entries per page.
const PAGE: usize = 50;
/// Anchors offered to pick from.
const OFFERED: usize = 25;

/// `GET /console/audit`.
pub async fn page(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let raw = req.query_string().replace('+', "%20");
    let param = |name| query_param(&raw, name).unwrap_or_default();
    let (identifier, since) = (param("identifier"), param("since"));
    let (identifier, since) = (identifier.trim(), since.trim());
    let mine = param("mine") == "1";
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut status = actix_web::http::StatusCode::OK;
    let mut trail: Option<Trail> = None;
    if !identifier.is_empty() {
        // The page's own limit, whatever the address says: the user's parameters but `limit`, then it.
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            if name != "limit" {
                query.append_pair(&name, &value);
            }
        }
        // `query_param` reads `+` as itself: spaces as `%20` (a `+` of the value is `%2B` already).
        let query = query
            .append_pair("limit", &PAGE.to_string())
            .finish()
            .replace('+', "%20");
        match read_trail(&state, &signed.principal, &query).await {
            Ok(found) => trail = Some(found),
            // A bad parameter or an identifier outside the scopes: beside its field, with the API's status.
            Err(
                e @ (ApiError::BadBody(_) | ApiError::Identifier(_) | ApiError::Forbidden { .. }),
            ) => {
                use actix_web::ResponseError;
                status = e.status_code();
                let field = match &e {
                    ApiError::BadBody(f) => f.field.clone(),
                    _ => "identifier".to_string(),
                };
                let message = match e {
                    ApiError::BadBody(f) => f.message,
                    other => other.to_string(),
                };
                errors.push((field, message));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    };
    let offered = if identifier.is_empty() {
        crate::http::listing::read_page(&state, &signed.principal, "", None, OFFERED).await?
    } else {
        Vec::new()
    };
    let entries: Vec<AuditView> = trail
        .as_ref()
        .map(|t| {
            t.entries
                .iter()
                .filter(|e| !mine || e.who == signed.principal.name)
                .cloned()
                .map(AuditView::from)
                .collect()
        })
        .unwrap_or_default();
    let next = trail.as_ref().and_then(|t| t.next.as_ref()).map(|cursor| {
        let mut link = format!(
            "{}?identifier={}&after={}",
            url("/audit"),
            encode(identifier),
            encode(cursor)
        );
        if !since.is_empty() {
            link.push_str(&format!("&since={}", encode(since)));
        }
        if mine {
            link.push_str("&mine=1");
        }
        link
    });
    let body = html! {
        h1 { "Recent changes" }
        @if !errors.is_empty() {
            div #form-errors role="alert" {
                p { "The trail could not be read:" }
                ul { @for (field, message) in &errors { li { a href=(format!("#{field}")) { (field) ": " (message) } } } }
            }
        }
        form.search method="get" action=(url("/audit")) {
            (layout::input(&Field { id: "identifier", name: "identifier", label: "Identifier", kind: "text",
                value: identifier, hint: Some("its changes and those of the identifiers below it, e.g. 01/09520123456788"),
                error: error_of("identifier"), autocomplete: Some("off") }))
            (layout::input(&Field { id: "since", name: "since", label: "Since", kind: "text", value: since,
                hint: Some("an RFC 3339 time (2026-12-01T00:00:00Z) or Unix seconds; empty: from the start"),
                error: error_of("since"), autocomplete: Some("off") }))
            div.field.checkbox {
                input #mine type="checkbox" name="mine" value="1" checked[mine];
                label for="mine" { "Only this key's writes" }
            }
            div.field { button #show type="submit" { "Show" } }
        }
        @if let Some(trail) = &trail {
            @if entries.is_empty() {
                p #no-changes { "No changes" @if mine { " by " (signed.principal.name) } " on this page." }
            } @else {
                table #changes.cards {
                    caption.meta { "Changes at " code { (trail.key.canonical_path()) } " and below, oldest first" }
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "Identifier" }
                        th scope="col" { "Change" } th scope="col" { "Versions" } } }
                    tbody {
                        @for e in &entries {
                            tr {
                                td data-label="When" { (e.at) }
                                td data-label="Who" { (e.who) }
                                td data-label="Identifier" { a href=(url(&format!("/anchor/{}", e.identifier))) { code { (e.identifier) } } }
                                td data-label="Change" { (e.operation) }
                                td data-label="Versions" { (e.before.map_or("—".into(), |v| v.to_string())) " → " (e.after.map_or("—".into(), |v| v.to_string())) }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &next {
                p.pager { a #next-page href=(next) { "Later changes" } }
            }
        } @else if identifier.is_empty() {
            @if offered.is_empty() {
                p { "None of your anchors yet." }
            } @else {
                h2 { "Your anchors" }
                ul #offered {
                    @for (path, _) in &offered {
                        li { a href=(format!("{}?identifier={}", url("/audit"), encode(path))) { code { (path) } } }
                    }
                }
            }
        }
    };
    Ok(layout::respond(
        status,
        layout::page(&signed, Nav::Audit, "Recent changes", body),
    ))
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

//! Browse (`/console/anchors`): the caller's anchors, by prefix, a page at a time, searchable by identifier and
//! description, read with the API listing's own code (`listing::read_page`); and the anchor page
//! (`/console/anchor/{identifier}`): its levels, links, default, version and the verification of its credential
//! links.

use super::layout::{self, Field, Nav};
use super::{AnchorAction, ConsoleError, Signed, anchor_url, url};
use crate::http::AppState;
use crate::http::access::authorise;
use crate::http::problem::ApiError;
use crate::identifier::Identifier;
use crate::registry::StoredAnchor;
use crate::verification::AnchorVerdicts;
use crate::vocabulary::Vocabulary;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use maud::{Markup, html};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// Anchors shown per page.
const PAGE: usize = 25;
/// Anchors a Browse page reads from the store at most, counted in every scope range read (each listing read takes up
/// to `PAGE * 4` per range when searching): a search of a large registry goes on from the next page.
const SEARCH_BUDGET: usize = 500;

/// `GET /console/anchors?prefix=&q=&page=`: a page of the anchors the key's scopes cover, starting with `prefix`;
/// with `q`, only those whose identifier or description contains it (any case). `page` is where the page starts (the
/// last identifier before it, opaque).
pub async fn browse(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let query = req.query_string().replace('+', "%20");
    let param = |name| crate::resolution::query_param(&query, name).unwrap_or_default();
    let prefix = param("prefix");
    let prefix = prefix.trim().trim_start_matches('/');
    let q = param("q");
    let q = q.trim();
    let after = match param("page") {
        cursor if cursor.is_empty() => None,
        cursor => Some(
            URL_SAFE_NO_PAD
                .decode(&cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::BadRequest("this page link is not one the console gave".into())
                })?,
        ),
    };
    let found = find(&state, &signed, prefix, q, after).await?;
    let vocabulary = state.vocabulary();
    let checks = verification_summaries(&state, &vocabulary, &found.anchors).await?;
    let next = found.resume.as_ref().map(|last| {
        let mut link = format!("{}?page={}", url("/anchors"), URL_SAFE_NO_PAD.encode(last));
        for (name, value) in [("prefix", prefix), ("q", q)] {
            if !value.is_empty() {
                link.push_str(&format!(
                    "&{name}={}",
                    utf8_percent_encode(value, NON_ALPHANUMERIC)
                ));
            }
        }
        link
    });
    let body = html! {
        h1 { "Your anchors" }
        form.search method="get" action=(url("/anchors")) role="search" {
            (layout::input(&Field { id: "prefix", name: "prefix", label: "Identifier starts with", kind: "text",
                value: prefix, hint: Some("e.g. 01/09520123"), error: None, autocomplete: Some("off") }))
            (layout::input(&Field { id: "q", name: "q", label: "Search identifier and description", kind: "search",
                value: q, hint: None, error: None, autocomplete: Some("off") }))
            div.field { button #search type="submit" { "Search" } }
        }
        p.actions { a.button href=(url("/anchors/new")) { "New anchor" } }
        @if found.anchors.is_empty() {
            p #no-anchors {
                @if found.resume.is_some() { "None of the anchors read so far match." }
                @else { "No anchors here yet." }
            }
        } @else {
            table #anchors.cards {
                caption.meta { "Anchors " @if !prefix.is_empty() { "starting with " code { (prefix) } } }
                thead { tr { th scope="col" { "Identifier" } th scope="col" { "Description" }
                    th scope="col" { "Links" } th scope="col" { "Default" } th scope="col" { "Version" }
                    @if checks.is_some() { th scope="col" { "Verification" } } } }
                tbody {
                    @for (i, (path, stored)) in found.anchors.iter().enumerate() {
                        tr {
                            td {
                                a href=(url(&format!("/anchor/{path}"))) { code { (path) } }
                                @if let Some(parent) = parent_of(&state, path) {
                                    span.meta { " under " a href=(url(&format!("/anchor/{parent}"))) { code { (parent) } } }
                                }
                            }
                            td data-label="Description" { (stored.record.item_description) }
                            td data-label="Links" { (link_summary(&stored.record, &vocabulary)) }
                            td data-label="Default" { (stored.record.default_link_type.as_deref().map(|t| curie(&vocabulary, t)).unwrap_or_default()) }
                            td data-label="Version" { (stored.version) }
                            @if let Some(checks) = &checks { td data-label="Verification" { (checks[i]) } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next {
            p.pager { a #next-page href=(next) { "Next page" } }
        }
    };
    Ok(layout::ok(layout::page(
        &signed,
        Nav::Browse,
        "Your anchors",
        body,
    )))
}

/// The verification of each anchor's credential links in words (`2 verified, 1 failed`; `—` without credential
/// links), from one read of the page's stored verdicts; `None` when verification is off.
async fn verification_summaries(
    state: &AppState,
    vocabulary: &Vocabulary,
    anchors: &crate::registry::Page,
) -> Result<Option<Vec<String>>, ApiError> {
    if state.verification.mode() == crate::config::VerificationMode::Off {
        return Ok(None);
    }
    let paths: Vec<&str> = anchors.iter().map(|(p, _)| p.as_str()).collect();
    let known = state.verification.verdicts(&paths).await?;
    let summaries = anchors
        .iter()
        .zip(known)
        .map(|((_, stored), known)| {
            let report = crate::verification::report_of(vocabulary, stored, known.as_deref());
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for verdict in &report.links {
                let status = verdict.status.as_str();
                match counts.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((status, 1)),
                }
            }
            if counts.is_empty() {
                return "—".to_string();
            }
            counts
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    Ok(Some(summaries))
}

/// What a Browse page shows, and where the next one starts.
struct Found {
    anchors: crate::registry::Page,
    /// The last identifier read, when there may be more.
    resume: Option<String>,
}

/// Up to `PAGE` anchors after `after` that match `q`, reading at most about `SEARCH_BUDGET` (a search of a large
/// registry goes on from the next page, rather than reading it all at once). One match more than a page is looked
/// for, so that a next page is offered only when there is one (or when the budget ran out before the end).
async fn find(
    state: &AppState,
    signed: &Signed,
    prefix: &str,
    q: &str,
    mut after: Option<String>,
) -> Result<Found, ApiError> {
    let needle = q.to_lowercase();
    let matches = |path: &str, stored: &StoredAnchor| {
        needle.is_empty()
            || path.to_lowercase().contains(&needle)
            || stored
                .record
                .item_description
                .to_lowercase()
                .contains(&needle)
    };
    let chunk = if needle.is_empty() {
        PAGE + 1
    } else {
        PAGE * 4
    };
    let (mut anchors, mut read) = (Vec::new(), 0);
    loop {
        let (page, listed) = crate::http::listing::read_page_counted(
            state,
            &signed.principal,
            prefix,
            after.as_deref(),
            chunk,
        )
        .await?;
        let full = page.len() == chunk;
        read += listed;
        for (path, stored) in page {
            after = Some(path.clone());
            if matches(&path, &stored) {
                anchors.push((path, stored));
                if anchors.len() > PAGE {
                    anchors.truncate(PAGE);
                    let resume = anchors.last().map(|(p, _)| p.clone());
                    return Ok(Found { anchors, resume });
                }
            }
        }
        if !full {
            return Ok(Found {
                anchors,
                resume: None,
            });
        }
        if read >= SEARCH_BUDGET {
            return Ok(Found {
                anchors,
                resume: after,
            });
        }
    }
}

/// The level an anchor's links fall back to (batch → product), when it has one: the anchor's place in its tree.
fn parent_of(state: &AppState, path: &str) -> Option<String> {
    let key = state.parser.parse_key(path).ok()?;
    key.levels()
        .get(1)
        .map(|parent| parent.canonical_path().to_string())
}

/// The link types of a record, short (`gs1:pip ×2, untp:dpp`).
fn link_summary(record: &crate::registry::AnchorRecord, vocabulary: &Vocabulary) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for link in &record.links {
        let name = curie(vocabulary, &link.link_type);
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, n)) => *n += 1,
            None => counts.push((name, 1)),
        }
    }
    counts
        .into_iter()
        .map(|(n, c)| if c > 1 { format!("{n} ×{c}") } else { n })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A link type as people write it (`gs1:pip`), or the URI when no vocabulary names it.
pub fn curie(vocabulary: &Vocabulary, uri: &str) -> String {
    vocabulary
        .by_uri(uri)
        .map_or_else(|| uri.to_string(), |d| d.curie.clone())
}

/// `GET` under `/console/anchor/`: the anchor page, or its edit form (`…/edit`).
pub async fn get(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    match AnchorAction::parse(&state, req.uri().path())? {
        AnchorAction::View(key) => view(&req, &signed, &state, &key).await,
        AnchorAction::Edit(key) => super::edit::edit_form(&signed, &state, &key).await,
        AnchorAction::Delete(_) | AnchorAction::Restore(_) => {
            Err(ApiError::MethodNotAllowed("POST").into())
        }
    }
}

/// The anchor page: what is stored, the levels above it, and the actions.
async fn view(
    req: &HttpRequest,
    signed: &Signed,
    state: &AppState,
    key: &Identifier,
) -> Result<HttpResponse, ConsoleError> {
    authorise(&signed.principal, key)?;
    let path = key.canonical_path();
    let levels = key.levels();
    let paths: Vec<&str> = levels.iter().map(|k| k.canonical_path()).collect();
    let mut records = state.store.get_many(&paths).await?.into_iter();
    let stored = records.next().flatten();
    let above: Vec<(&str, Option<std::sync::Arc<StoredAnchor>>)> =
        paths[1..].iter().copied().zip(records).collect();
    let vocabulary = state.vocabulary();
    let notice =
        crate::resolution::query_param(req.query_string(), "notice").and_then(|n| notice_text(&n));
    let title = stored
        .as_ref()
        .map_or(path.to_string(), |s| s.record.item_description.clone());
    let body = match &stored {
        Some(stored) => {
            let verdicts = match state.verification.mode() {
                crate::config::VerificationMode::Off => None,
                _ => Some(state.verification.report(&vocabulary, path, stored).await?),
            };
            html! {
                @if let Some(text) = notice { (layout::notice(text)) }
                p.kicker { "Anchor" }
                h1 { (stored.record.item_description) }
                p.meta { code #identifier { (path) } " · version " span #version { (stored.version) } }
                (record_view(stored, &vocabulary, verdicts.as_ref()))
                div.actions {
                    a.button #edit href=(anchor_url(key, "/edit")) { "Edit" }
                    a.button.secondary #label-link href=(url(&format!("/qr/{path}"))) { "Label" }
                    form method="post" action=(anchor_url(key, "/delete")) {
                        (signed.csrf_field())
                        input type="hidden" name="version" value=(stored.version);
                        button #delete.danger type="submit" { "Delete" }
                    }
                }
                p.meta { "Public address: " a href=(key.uri_under(&state.origin(req))) { (key.uri_under(&state.origin(req))) } }
                (levels_view(&above, &vocabulary, &signed.principal))
            }
        }
        None => html! {
            @if let Some(text) = notice { (layout::notice(text)) }
            p.kicker { "Anchor" }
            h1 { code { (path) } }
            p #not-found { "Nothing is registered at this identifier. If it was deleted, it can be restored." }
            div.actions {
                form method="post" action=(anchor_url(key, "/restore")) {
                    (signed.csrf_field())
                    button #restore type="submit" { "Restore" }
                }
                a.button.secondary href=(format!("{}?identifier={}", url("/anchors/new"), utf8_percent_encode(path, NON_ALPHANUMERIC))) { "Create it" }
            }
            (levels_view(&above, &vocabulary, &signed.principal))
        },
    };
    let status = if stored.is_some() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::NOT_FOUND
    };
    Ok(layout::respond(
        status,
        layout::page(signed, Nav::None, &title, body),
    ))
}

/// The fixed texts a redirect after an action may ask for (`?notice=`).
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Created.",
        "saved" => "Saved as a new version.",
        "unchanged" => "Nothing changed: no new version was written.",
        "deleted" => "Deleted. It can be restored from this page.",
        "restored" => "Restored as a new version.",
        _ => return None,
    })
}

/// A stored record: its default and links, each with its attributes and, for credential links, the verdict.
pub fn record_view(
    stored: &StoredAnchor,
    vocabulary: &Vocabulary,
    verdicts: Option<&AnchorVerdicts>,
) -> Markup {
    let record = &stored.record;
    html! {
        dl #record-summary {
            dt { "Default link type" }
            dd { (record.default_link_type.as_deref().map(|t| curie(vocabulary, t)).unwrap_or_else(|| "none (the first link's type)".into())) }
            dt { "Links" }
            dd { (record.links.len()) }
        }
        h2 { "Links" }
        @if record.links.is_empty() {
            p { "No links." }
        }
        ul.links {
            @for (i, link) in record.links.iter().enumerate() {
                li id=(format!("stored-link-{i}")) {
                    span.title { (curie(vocabulary, &link.link_type)) ": " (link.title) }
                    @if let Some(verdict) = verdicts.and_then(|v| v.verdict(&link.link_type, &link.href)) {
                        p class=(format!("check {}", verdict.status.as_str())) {
                            strong { "Verification: " (verdict.status.as_str()) }
                            @if let Some(reason) = &verdict.reason { " — " (reason) }
                        }
                    }
                    dl {
                        dt { "Address" } dd { (link.href) }
                        @if !link.hreflang.is_empty() { dt { "Language" } dd { (link.hreflang.join(", ")) } }
                        @if let Some(t) = &link.media_type { dt { "Media type" } dd { (t) } }
                        @if !link.context.is_empty() { dt { "Context" } dd { (link.context.join(", ")) } }
                        @if !link.access_role.is_empty() { dt { "Access" } dd { (link.access_role.join(", ")) } }
                        @if let Some(m) = &link.encryption_method { dt { "Encryption" } dd { (m) } }
                        @if !link.rel.is_empty() { dt { "Relation" } dd { (link.rel.join(", ")) } }
                        @if !link.method.is_empty() { dt { "Method" } dd { (link.method.join(", ")) } }
                        @if !link.forwards_query { dt { "Query string" } dd { "not forwarded" } }
                    }
                }
            }
        }
    }
}

/// The levels above an anchor (batch → product), each with what it holds, since their links apply too; a level
/// outside the caller's scopes shows only that something is registered there (its description and links are another
/// issuer's, and may include links hidden by `accessRole`).
fn levels_view(
    above: &[(&str, Option<std::sync::Arc<StoredAnchor>>)],
    vocabulary: &Vocabulary,
    principal: &crate::auth::Principal,
) -> Markup {
    html! {
        @if !above.is_empty() {
            h2 { "Levels above" }
            ul #levels {
                @for (path, stored) in above {
                    li {
                        @if principal.may_access(path) {
                            a href=(url(&format!("/anchor/{path}"))) { code { (path) } }
                            @match stored {
                                Some(s) => { " — " (s.record.item_description) " (" (link_summary(&s.record, vocabulary)) ")" }
                                None => { " — nothing registered" }
                            }
                        } @else {
                            code { (path) }
                            @match stored {
                                Some(_) => { " — registered, outside your scopes" }
                                None => { " — nothing registered" }
                            }
                        }
                    }
                }
            }
        }
    }
}

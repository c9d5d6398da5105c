//! `/api/v1/patterns/{key}/{prefix}`: pattern registrations (`crate::patterns`) — create or replace, read, delete.
//! Bearer-authenticated; a credential writes a pattern only where its scopes cover every identifier the pattern
//! can match (`Pattern::covered_by`).

use super::AppState;
use super::access::{Caller, read_body};
use super::problem::ApiError;
use crate::patterns::{self, Pattern};
use crate::registration;
use crate::registry::StoredAnchor;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// Where the native pattern API is mounted.
pub const PATTERNS: &str = "/api/v1/patterns/";

const ALLOW: &str = "GET, HEAD, PUT, DELETE, OPTIONS";

/// `OPTIONS`: anonymous.
pub async fn preflight() -> HttpResponse {
    super::guard::preflight(ALLOW)
}

/// Any other method: `405`, after authentication.
pub async fn other_method(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(ALLOW))
}

/// The pattern the path names, once the caller's scopes are known to cover it.
fn authorised(req: &HttpRequest, caller: &Caller) -> Result<Pattern, ApiError> {
    let raw = req.uri().path().strip_prefix(PATTERNS).unwrap_or("");
    let pattern = Pattern::parse(raw).map_err(ApiError::BadBody)?;
    if caller.scopes.iter().any(|s| pattern.covered_by(s)) {
        return Ok(pattern);
    }
    let held: Vec<String> = caller.scopes.iter().map(|s| s.to_string()).collect();
    Err(ApiError::Forbidden {
        identifier: format!("{}* (every identifier the pattern matches)", pattern.path()),
        held: held.join(", "),
    })
}

#[utoipa::path(get, path = "/api/v1/patterns/{key}/{prefix}", operation_id = "get_pattern", tag = "patterns", summary = "Read a pattern registration",
    params(("key" = String, Path, description = "GS1 primary-key AI (or its shortcode)", example = "8004"),
        ("prefix" = String, Path, description = "What the key's values start with (percent-encoded as in a Digital Link path)", example = "9520123")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pattern; hrefs are RFC 6570 templates; `ETag` is its version", body = super::views::PatternView, example = json!(super::views::pattern_example())),
        (status = 400, description = "Not a GS1 primary key, or a prefix no value of it can start with (`errors[].field`: `key` or `prefix`)", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 403, description = "The credential's scopes do not cover every identifier the pattern matches", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No pattern here", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub async fn read(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pattern = authorised(&req, &caller)?;
    match state.store.get(&pattern.stored_path()).await? {
        Some(stored) => Ok(response(HttpResponse::Ok(), &pattern, &stored, &[])),
        None => Err(not_found(&pattern)),
    }
}

#[utoipa::path(put, path = "/api/v1/patterns/{key}/{prefix}", operation_id = "put_pattern", tag = "patterns", summary = "Create or replace a pattern registration",
    params(("key" = String, Path, description = "GS1 primary-key AI (or its shortcode)", example = "8004"),
        ("prefix" = String, Path, description = "What the key's values start with", example = "9520123")),
    security(("bearer" = [])),
    request_body(content = crate::registration::Submission, description = "An anchor body whose hrefs may be RFC 6570 level-1 templates over the request's AIs (`{8004}`, `{01}`, `{21}`, …) and `{identifier}` (the primary key's value)"),
    responses(
        (status = 201, description = "Created; `Location` and `ETag` set", body = super::views::PatternView, example = json!(super::views::pattern_example())),
        (status = 200, description = "Replaced (a body written back as read changes nothing)", body = super::views::PatternView, example = json!(super::views::pattern_example())),
        (status = 400, description = "Malformed JSON, a bad key or prefix, a bad template, or an unknown link type", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 403, description = "The credential's scopes do not cover every identifier the pattern matches", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 412, description = "`If-Match` / `If-None-Match` failed", body = super::views::Problem, example = json!(super::views::problem_example(412))),
        (status = 422, description = "Invalid link data, named by field", body = super::views::Problem, example = json!(super::views::problem_example(422)))
    ))]
pub async fn put(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pattern = authorised(&req, &caller)?;
    let asked = super::manage::precondition(&req);
    let body = read_body(payload, &state, &req).await?;
    let submission = registration::parse(&body).map_err(ApiError::BadBody)?;
    if let Some(named) = submission.identifier() {
        if Pattern::parse(named).map(|p| p.path()) != Ok(pattern.path()) {
            let msg = format!("names {named:?}, but this writes {}", pattern.path());
            return Err(ApiError::Invalid(vec![registration::FieldError::new(
                "identifier",
                msg,
            )]));
        }
    }
    let scheme = patterns::gs1_scheme(&state.parser)
        .ok_or_else(|| ApiError::BadRequest("the GS1 scheme is not configured".into()))?;
    let vocabulary = state.vocabulary();
    let validated = patterns::validate(
        submission,
        &vocabulary,
        &scheme,
        &state.limits,
        &state.codes,
    )
    .map_err(ApiError::Invalid)?;
    let outcome = patterns::write(
        state.store.as_ref(),
        &pattern,
        validated.record,
        asked,
        &state.limits,
        &vocabulary,
        &caller.name,
    )
    .await?;
    tracing::info!(
        pattern = pattern.path(),
        version = outcome.stored.version,
        credential = caller.name,
        "pattern written"
    );
    super::observe::record_write(&caller, "put");
    let status = match outcome.created {
        true => HttpResponse::Created(),
        false => HttpResponse::Ok(),
    };
    let mut response = response(status, &pattern, &outcome.stored, &validated.warnings);
    if outcome.created {
        if let Ok(location) =
            header::HeaderValue::from_str(&format!("{PATTERNS}{}", pattern.path()))
        {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    Ok(response)
}

#[utoipa::path(delete, path = "/api/v1/patterns/{key}/{prefix}", operation_id = "delete_pattern", tag = "patterns", summary = "Delete a pattern registration",
    params(("key" = String, Path, description = "GS1 primary-key AI (or its shortcode)", example = "8004"),
        ("prefix" = String, Path, description = "What the key's values start with", example = "9520123")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The credential's scopes do not cover every identifier the pattern matches", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No pattern here", body = super::views::Problem, example = json!(super::views::problem_example(404))),
        (status = 412, description = "`If-Match` failed", body = super::views::Problem, example = json!(super::views::problem_example(412)))
    ))]
pub async fn remove(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pattern = authorised(&req, &caller)?;
    let asked = super::manage::precondition(&req);
    if !state
        .store
        .delete_hard(&pattern.stored_path(), asked, &caller.name)
        .await?
    {
        return Err(not_found(&pattern));
    }
    tracing::info!(
        pattern = pattern.path(),
        credential = caller.name,
        "pattern deleted"
    );
    super::observe::record_write(&caller, "delete");
    Ok(HttpResponse::NoContent().finish())
}

fn not_found(pattern: &Pattern) -> ApiError {
    ApiError::NotFound(format!("no pattern {}", pattern.path()))
}

fn response(
    mut builder: actix_web::HttpResponseBuilder,
    pattern: &Pattern,
    stored: &StoredAnchor,
    warnings: &[String],
) -> HttpResponse {
    let body = super::views::PatternView {
        identifier: pattern.path(),
        version: stored.version,
        item_description: stored.record.item_description.clone(),
        default_link_type: stored.record.default_link_type.clone(),
        links: stored.record.links.clone(),
        warnings: warnings.to_vec(),
    };
    builder
        .insert_header((header::ETAG, format!("\"{}\"", stored.version)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(serde_json::to_string(&body).unwrap_or_default())
}

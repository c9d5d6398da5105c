//! The management API: `/api/v1/anchors/{identifier}` — create or replace, read, delete. Bearer-authenticated
//! and scoped to identifier prefixes.

use super::AppState;
use super::access::{Access, Caller, read_body};
use super::paths::{ANCHORS, AnchorPath, PREFLIGHT_ALLOW};
use super::problem::ApiError;
use crate::contribution::{self, OwnerWrite};
use crate::identifier::Identifier;
use crate::registration;
use crate::registry::{Precondition, StoredAnchor};
use crate::vocabulary::Vocabulary;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use std::sync::Arc;

/// `OPTIONS` anywhere under `/api/v1/anchors/`: anonymous.
pub async fn preflight() -> HttpResponse {
    super::guard::preflight(PREFLIGHT_ALLOW)
}

/// `GET`/`HEAD`: an anchor or its history.
pub async fn read(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match authorised_or_stored(&req, &caller, &state).await? {
        (AnchorPath::History(key), _, _) => history(&state, &key, &req).await,
        (AnchorPath::Verification(key), _, _) => super::verify::read(&state, &key).await,
        (path, _, None) => get(&state, path.key(), &req).await,
        (path, _, Some(reason)) => {
            let mut response = get(&state, path.key(), &req).await?;
            warn_stored(&mut response, &reason);
            Ok(response)
        }
    }
}

/// `PUT`: create or replace an anchor.
pub async fn replace(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let vocabulary = state.vocabulary();
    let (path, access) = authorised(&req, &caller, &state, &vocabulary)?;
    let key = anchor_of(path)?;
    let response = put(
        &state,
        &key,
        &req,
        payload,
        (&caller.name, &access),
        vocabulary,
    )
    .await?;
    accepted(&key, &caller, "put");
    Ok(response)
}

/// `DELETE`: delete an anchor (soft unless `?hard=true`).
pub async fn remove(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (path, access, stored) = authorised_or_stored(&req, &caller, &state).await?;
    access.owner_only(path.key(), "DELETE")?;
    let key = anchor_of(path)?;
    let mut response = delete(&state, &key, &req, &caller.name).await?;
    if let Some(reason) = stored {
        warn_stored(&mut response, &reason);
    }
    accepted(&key, &caller, "delete");
    Ok(response)
}

/// `POST …:restore`: bring back what a soft delete kept.
pub async fn bring_back(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (path, access) = authorised(&req, &caller, &state, &state.vocabulary())?;
    if let AnchorPath::Verification(key) = &path {
        // A re-check changes no record: whoever may read the anchor may ask for it.
        return super::verify::recheck(&state, key).await;
    }
    access.owner_only(path.key(), "POST")?;
    let AnchorPath::Restore(key) = path else {
        return Err(ApiError::MethodNotAllowed(path.allow()));
    };
    let response = restore(&state, &key, &req, &caller.name).await?;
    tracing::info!(
        identifier = key.canonical_path(),
        credential = caller.name,
        "anchor restored"
    );
    super::observe::record_write(&caller, "restore");
    Ok(response)
}

/// Any other method: 405 — after authentication and the scope check, as for the methods allowed.
pub async fn other_method(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (path, _) = authorised(&req, &caller, &state, &state.vocabulary())?;
    Err(ApiError::MethodNotAllowed(path.allow()))
}

/// What the request's path names, once the caller is known to own it or to be a contributor there.
fn authorised(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
    vocabulary: &Vocabulary,
) -> Result<(AnchorPath, Access), ApiError> {
    let path = AnchorPath::parse(&state.parser, req.uri().path(), req.method())?;
    let access = caller.access(path.key(), vocabulary)?;
    Ok((path, access))
}

/// Like `authorised`, for a read or a delete: when the path does not parse under today's rules but is exactly the
/// key of a record stored under looser ones (`Parser::stored_key`), and the caller's scopes cover it, that record's
/// identifier, with why it no longer parses. Anyone else (a caller without the scope, a path with no such record)
/// gets the parse error as before, so the fallback tells them nothing.
async fn authorised_or_stored(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
) -> Result<(AnchorPath, Access, Option<String>), ApiError> {
    let refused = match authorised(req, caller, state, &state.vocabulary()) {
        Ok((path, access)) => return Ok((path, access, None)),
        Err(e @ ApiError::Identifier(_)) => e,
        Err(e) => return Err(e),
    };
    let raw = req.uri().path().strip_prefix(ANCHORS).unwrap_or("");
    let Some(key) = state.parser.stored_key(raw) else {
        return Err(refused);
    };
    if caller.authorise(&key).is_err() || state.store.get(key.canonical_path()).await?.is_none() {
        return Err(refused);
    }
    tracing::warn!(
        identifier = key.canonical_path(),
        reason = %refused,
        "a stored anchor's identifier no longer parses; answered for read or delete only"
    );
    // Only an owner reaches such a record (a contributor's rules need a parsed identifier).
    Ok((
        AnchorPath::Anchor(key),
        Access::Owner,
        Some(refused.to_string()),
    ))
}

/// `Warning: 299`: the record is one an earlier version stored, whose identifier today's rules refuse.
fn warn_stored(response: &mut HttpResponse, reason: &str) {
    let text = format!(
        "299 idr \"stored under earlier rules; this identifier no longer parses ({}): it can be read and deleted, not \
         replaced or resolved\"",
        reason.replace(['"', '\\'], "'")
    );
    if let Ok(value) = header::HeaderValue::from_str(&text) {
        response.headers_mut().insert(header::WARNING, value);
    }
}

/// The anchor a PUT or DELETE writes; a history path allows neither.
fn anchor_of(path: AnchorPath) -> Result<Identifier, ApiError> {
    match path {
        AnchorPath::Anchor(key) => Ok(key),
        other => Err(ApiError::MethodNotAllowed(other.allow())),
    }
}

fn accepted(key: &Identifier, caller: &Caller, operation: &'static str) {
    tracing::info!(
        identifier = key.canonical_path(),
        credential = caller.name,
        operation,
        "write accepted"
    );
    super::observe::record_write(caller, operation);
}

#[utoipa::path(get, path = "/api/v1/anchors/{identifier}", tag = "anchors", summary = "Read an anchor",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788/10/ABC")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stored anchor; `ETag` is its version", body = super::views::AnchorView, example = json!(super::views::anchor_example())),
        (status = 401, description = "No or unknown bearer token", body = super::views::Problem, example = json!(super::views::problem_example(401))),
        (status = 403, description = "The credential's scopes do not cover the identifier", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No anchor here", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn get(
    state: &AppState,
    key: &Identifier,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    match state.store.get(key.canonical_path()).await? {
        Some(stored) => Ok(record_response(
            HttpResponse::Ok(),
            key,
            &stored,
            &[],
            &state.origin(req),
        )),
        None => Err(ApiError::NotFound(format!(
            "no anchor {}",
            key.canonical_path()
        ))),
    }
}

#[utoipa::path(put, path = "/api/v1/anchors/{identifier}", tag = "anchors", summary = "Create or replace an anchor",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788/10/ABC"),
        ("contributions" = Option<String>, Query, description = "`keep` (default): links lifecycle contributors added and the body leaves out are kept; `replace`: the body says which stay"),
        ("DIA" = Option<String>, Header, description = "With `Authorization: DID …`: a Digital Identity Anchor (vc+jwt) from a configured trust anchor, for the signer")),
    security(("bearer" = [])),
    request_body(content = crate::registration::Submission, description = "The anchor's links"),
    responses(
        (status = 201, description = "Created; `Location` and `ETag` set", body = super::views::AnchorView, example = json!(super::views::anchor_example())),
        (status = 200, description = "Replaced; a changed `href` keeps the old target as a predecessor version", body = super::views::AnchorView, example = json!(super::views::anchor_example())),
        (status = 400, description = "Malformed JSON, unknown field, invalid identifier or unknown link type", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 403, description = "The credential does not cover the identifier, or a lifecycle contributor broke a rule (replacing or removing links it did not add, a link type its role does not allow)", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 412, description = "`If-Match` / `If-None-Match` failed", body = super::views::Problem, example = json!(super::views::problem_example(412))),
        (status = 422, description = "Invalid link data, named by field", body = super::views::Problem, example = json!(super::views::problem_example(422)))
    ))]
pub(super) async fn put(
    state: &AppState,
    key: &Identifier,
    req: &HttpRequest,
    payload: web::Payload,
    (who, access): (&str, &Access),
    vocabulary: Arc<Vocabulary>,
) -> Result<HttpResponse, ApiError> {
    let asked = precondition(req);
    let owner_write = owner_write(req)?;
    let body = read_body(payload, state, req).await?;
    let (written, warnings) = write_body(
        state,
        key,
        &body,
        Write {
            asked,
            owner_write,
            who,
            access,
            keep_same: false,
        },
        vocabulary,
    )
    .await?;
    let registration::Written::Put(outcome) = written else {
        unreachable!("a PUT always builds a record")
    };
    tracing::info!(
        identifier = key.canonical_path(),
        version = outcome.stored.version,
        "anchor written"
    );
    let status = if outcome.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    let mut response = record_response(status, key, &outcome.stored, &warnings, &state.origin(req));
    super::verify::warn_refused(state, key, &outcome.stored, &mut response);
    if outcome.created {
        let location = format!("{ANCHORS}{}", key.canonical_path());
        response.headers_mut().insert(
            header::LOCATION,
            header::HeaderValue::from_str(&location).map_err(bad)?,
        );
    }
    Ok(response)
}

/// How `write_body` writes: the condition, the contributions rule, who writes and as what, and whether a record
/// that would be stored unchanged is written again (the API: yes, a new version; the console: no).
pub(crate) struct Write<'a> {
    pub asked: Precondition,
    pub owner_write: OwnerWrite,
    pub who: &'a str,
    pub access: &'a Access,
    pub keep_same: bool,
}

/// A PUT from its JSON body on, the one path the API and the console both write an anchor through: the body parsed
/// and validated as a submission (`registration`), built over the stored record by the writer's rules
/// (`contribution`), merged, settled and validated again, and stored (`registration::write`). Also the validation's
/// warnings.
pub(crate) async fn write_body(
    state: &AppState,
    key: &Identifier,
    body: &[u8],
    how: Write<'_>,
    vocabulary: Arc<Vocabulary>,
) -> Result<(registration::Written, Vec<String>), ApiError> {
    let Write {
        asked,
        owner_write,
        who,
        access,
        keep_same,
    } = how;
    let submission = registration::parse(body).map_err(ApiError::BadBody)?;
    if let Some(named) = submission.identifier() {
        let same = state
            .parser
            .parse_key(named)
            .is_ok_and(|k| k.canonical_path() == key.canonical_path());
        if !same {
            let msg = format!("names {named:?}, but this writes {}", key.canonical_path());
            return Err(ApiError::Invalid(vec![registration::FieldError::new(
                "identifier",
                msg,
            )]));
        }
    }
    let validated = registration::validate(
        submission,
        &vocabulary,
        key.scheme(),
        &state.limits,
        &state.codes,
    )
    .map_err(ApiError::Invalid)?;
    let record = validated.record;
    let snapshot = vocabulary.clone();
    let build = |previous: Option<&crate::registry::AnchorRecord>| {
        let record = record.clone();
        // The stored record in the form the submission was just put in, so that links sent back as read
        // compare equal even when stored under older rules (`accessRole: customer` before it meant
        // `untp:accessRole#Customer`).
        let previous = previous.map(|p| {
            registration::normalised(p, &snapshot, key.scheme(), &state.limits, &state.codes)
        });
        let previous = previous.as_ref();
        match access {
            Access::Owner => contribution::as_owner(previous, record, owner_write),
            Access::Contributor(who) => contribution::as_contributor(previous, record, who),
        }
        .map(Some)
    };
    let target = state.write_target_with(key, vocabulary);
    let written = if keep_same {
        registration::write_changed(target, asked, who, build).await?
    } else {
        registration::write(target, asked, who, build).await?
    };
    Ok((written, validated.warnings))
}

/// `?contributions=replace`: the owner's submission says which contributed links stay (default: those it leaves
/// out are kept).
fn owner_write(req: &HttpRequest) -> Result<OwnerWrite, ApiError> {
    let query = req.uri().query().unwrap_or("");
    match crate::resolution::query_param(query, "contributions").as_deref() {
        None | Some("keep") => Ok(OwnerWrite::KeepContributions),
        Some("replace") => Ok(OwnerWrite::ReplaceContributions),
        Some(other) => Err(ApiError::BadRequest(format!(
            "contributions={other:?}: use keep (the default: contributed links left out are kept) or replace"
        ))),
    }
}

#[utoipa::path(delete, path = "/api/v1/anchors/{identifier}", tag = "anchors", summary = "Delete an anchor",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788/10/ABC"),
        ("hard" = Option<bool>, Query, description = "`true`: delete for good, keeping nothing to restore (and dropping what an earlier delete kept)")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted; with `?hard=true`, the anchor and the copy a soft delete kept are gone for good (a hard delete of an anchor deleted before purges that copy)"),
        (status = 404, description = "No anchor here (with `?hard=true`: nor a kept copy)", body = super::views::Problem, example = json!(super::views::problem_example(404))),
        (status = 412, description = "`If-Match` failed", body = super::views::Problem, example = json!(super::views::problem_example(412)))
    ))]
pub(super) async fn delete(
    state: &AppState,
    key: &Identifier,
    req: &HttpRequest,
    who: &str,
) -> Result<HttpResponse, ApiError> {
    let (path, asked) = (key.canonical_path(), precondition(req));
    // Deletes are soft: the store keeps the record for `…:restore`, unless the client asks for a hard delete, which
    // also drops a copy kept before, in the same atomic step.
    let hard = crate::resolution::query_param(req.uri().query().unwrap_or(""), "hard").as_deref()
        == Some("true");
    let removed = if hard {
        state.store.delete_hard(path, asked, who).await?
    } else {
        state.store.delete(path, asked, who).await?
    };
    if !removed {
        return Err(ApiError::NotFound(format!("no anchor {path}")));
    }
    tracing::info!(identifier = path, hard, "anchor deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/anchors/{identifier}:restore`: brings back the last deleted record as a new version.
#[utoipa::path(post, path = "/api/v1/anchors/{identifier}:restore", tag = "anchors", summary = "Restore a deleted anchor",
    params(("identifier" = String, Path, description = "Canonical identifier path", example = "01/09520123456788")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Restored as a new version", body = super::views::AnchorView, example = json!(super::views::anchor_example())),
        (status = 404, description = "Nothing deleted to restore (or deleted with ?hard=true)", body = super::views::Problem, example = json!(super::views::problem_example(404))),
        (status = 412, description = "An anchor exists there now", body = super::views::Problem, example = json!(super::views::problem_example(412)))
    ))]
pub(super) async fn restore(
    state: &AppState,
    key: &Identifier,
    req: &HttpRequest,
    who: &str,
) -> Result<HttpResponse, ApiError> {
    match state.store.restore(key.canonical_path(), who).await? {
        Some(outcome) => Ok(record_response(
            HttpResponse::Created(),
            key,
            &outcome.stored,
            &[],
            &state.origin(req),
        )),
        None => Err(ApiError::NotFound(format!(
            "nothing deleted to restore at {}",
            key.canonical_path()
        ))),
    }
}

/// Every variant's current target and the targets it replaced, newest first (UNTP IDR-10).
#[utoipa::path(get, path = "/api/v1/anchors/{identifier}/history", tag = "anchors", summary = "List each variant's targets, newest first",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788/10/ABC")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Versions per variant", body = super::views::HistoryView, example = json!(super::views::history_example())),
        (status = 404, description = "No anchor here", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn history(
    state: &AppState,
    key: &Identifier,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Some(stored) = state.store.get(key.canonical_path()).await? else {
        return Err(ApiError::NotFound(format!(
            "no anchor {}",
            key.canonical_path()
        )));
    };
    let vocabulary = state.vocabulary();
    let variants: Vec<serde_json::Value> = crate::versions::history(&stored.record, &vocabulary)
        .into_iter()
        .map(|(current, earlier)| {
            let curie = |uri: &str| {
                vocabulary
                    .by_uri(uri)
                    .map_or(uri.to_string(), |d| d.curie.clone())
            };
            let versions: Vec<serde_json::Value> = std::iter::once(current)
                .chain(earlier)
                .enumerate()
                .map(|(i, l)| json!({"href": l.href, "title": l.title, "latest": i == 0}))
                .collect();
            json!({
                "linkType": curie(&current.link_type),
                "type": current.media_type,
                "hreflang": current.hreflang,
                "context": current.context,
                "accessRole": current.access_role,
                "versions": versions,
            })
        })
        .collect();
    let body = json!({
        "identifier": key.canonical_path(),
        "anchor": key.uri_under(&state.origin(req)),
        "version": stored.version,
        "variants": variants,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body.to_string()))
}

fn record_response(
    mut builder: actix_web::HttpResponseBuilder,
    key: &Identifier,
    stored: &StoredAnchor,
    warnings: &[String],
    root: &str,
) -> HttpResponse {
    let body = super::views::AnchorView {
        identifier: key.canonical_path().to_string(),
        anchor: key.uri_under(root),
        version: stored.version,
        item_description: stored.record.item_description.clone(),
        default_link_type: stored.record.default_link_type.clone(),
        links: stored.record.links.clone(),
        warnings: warnings.to_vec(),
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    builder
        .insert_header((header::ETAG, etag(stored.version)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body.to_string())
}

fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// `If-Match: "N", "M"` / `If-Match: *` / `If-None-Match: *`. If-Match compares strongly (RFC 9110 §13.1.1):
/// weak or unparseable tags match nothing.
pub(super) fn precondition(req: &HttpRequest) -> Precondition {
    if let Some(value) = header_str(req, header::IF_MATCH) {
        let value = value.trim();
        if value == "*" {
            return Precondition::Exists;
        }
        let strong = value.split(',').filter_map(|tag| {
            tag.trim()
                .strip_prefix('"')?
                .strip_suffix('"')?
                .parse()
                .ok()
        });
        return Precondition::Version(strong.collect());
    }
    match header_str(req, header::IF_NONE_MATCH) {
        Some(v) if v.trim() == "*" => Precondition::Absent,
        _ => Precondition::None,
    }
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

//! `/api/v1/linktypes[/{prefix}]`: link-type vocabularies issuers register at run time, in the JSON of a vocabulary
//! file. A credential registers only the prefixes its scopes name (`linktypes/{prefix}`); the configuration's
//! vocabularies (`gs1`, `untp`, IANA's `iana`, and any other file) cannot be changed here. Stored through
//! `DocumentStore`, heard by the other replicas on the invalidation feed, and in force for the next request.

use super::AppState;
use super::access::{Caller, read_body};
use super::problem::ApiError;
use crate::auth::Principal;
use crate::registration::FieldError;
use crate::vocabulary::{
    FieldProblem, ProblemKind, RegistrationLimits, Vocabulary, VocabularyFile,
};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Vocabulary writes through this process, one at a time: each computes the next vocabulary from the one in force,
/// so two at once would lose one of them here until the next reload. Held only for that step and the store write:
/// the in-use scan (every stored anchor; minutes at millions) runs before it, and the write is refused with `409`
/// if the vocabulary changed meanwhile. Anchor writes never wait for it.
static WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What `OPTIONS` allows on a vocabulary.
const ALLOW: &str = "GET, HEAD, PUT, DELETE, OPTIONS";

pub async fn preflight() -> HttpResponse {
    super::guard::preflight(ALLOW)
}

pub async fn other_method(_caller: Caller) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(ALLOW))
}

/// `GET /api/v1/linktypes`: every vocabulary, configured and registered.
#[utoipa::path(get, path = "/api/v1/linktypes", operation_id = "list_link_types", tag = "linktypes", summary = "List link-type vocabularies",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every vocabulary: prefix, namespace, where it comes from, its terms", body = Vec<super::views::VocabularySummary>),
        (status = 401, description = "No credential", body = super::views::Problem, example = json!(super::views::problem_example(401)))
    ))]
pub async fn list(_caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let vocabulary = state.vocabulary();
    let all: Vec<Value> = vocabulary
        .files()
        .map(|(f, registered)| {
            json!({
                "prefix": f.prefix,
                "namespace": f.namespace,
                "source": source(&f.prefix, registered),
                "terms": f.terms.keys().collect::<Vec<_>>(),
                "href": format!("/api/v1/linktypes/{}", f.prefix),
            })
        })
        .collect();
    Ok(json_response(HttpResponse::Ok(), Value::Array(all)))
}

/// `GET /api/v1/linktypes/{prefix}`: one vocabulary in the JSON of a vocabulary file.
#[utoipa::path(get, path = "/api/v1/linktypes/{prefix}", operation_id = "read_link_types", tag = "linktypes", summary = "Read one link-type vocabulary",
    params(("prefix" = String, Path, description = "The vocabulary prefix", example = "acme")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The vocabulary, as a vocabulary file", body = crate::vocabulary::VocabularyFile),
        (status = 404, description = "No such vocabulary", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub async fn read(
    req: HttpRequest,
    _caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let prefix = prefix_of(&req);
    let vocabulary = state.vocabulary();
    let file = vocabulary
        .files()
        .find(|(f, _)| f.prefix == prefix)
        .map(|(f, _)| f.clone())
        .ok_or_else(|| not_found(&prefix))?;
    Ok(json_response(HttpResponse::Ok(), json!(file)))
}

/// `PUT /api/v1/linktypes/{prefix}`: registers or replaces a vocabulary.
#[utoipa::path(put, path = "/api/v1/linktypes/{prefix}", operation_id = "put_link_types", tag = "linktypes", summary = "Register or replace a link-type vocabulary",
    params(("prefix" = String, Path, description = "The vocabulary prefix; the credential's scopes must name linktypes/{prefix}", example = "acme")),
    security(("bearer" = [])),
    request_body(content = crate::vocabulary::VocabularyFile, example = json!(super::views::vocabulary_example())),
    responses(
        (status = 201, description = "Registered: usable in the next write, on every replica", body = crate::vocabulary::VocabularyFile),
        (status = 200, description = "Replaced, or already exactly this (nothing written)", body = crate::vocabulary::VocabularyFile),
        (status = 400, description = "A bad field, named in errors[0].field", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 403, description = "The credential's scopes do not name linktypes/{prefix}", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 409, description = "A configured vocabulary (gs1, untp, iana, … in any case), a spelling another link type has, limits.max_link_type_vocabularies reached, or a term removed while a stored link uses it", body = super::views::Problem, example = json!(super::views::problem_example(409))),
        (status = 413, description = "More terms than limits.max_link_type_terms, named in errors[0].field", body = super::views::Problem)
    ))]
pub async fn put(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let prefix = prefix_of(&req);
    let vocabulary = state.vocabulary();
    refuse_configured(&vocabulary, &prefix)?;
    authorise(&caller, &prefix)?;
    let bytes = read_body(payload, &state, &req).await?;
    let (file, created) = register(&state, &caller, &prefix, &bytes).await?;
    let status = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(json_response(status, json!(file)))
}

/// Registers or replaces the vocabulary `prefix` from `bytes` (the JSON of a vocabulary file), as
/// `PUT /api/v1/linktypes/{prefix}` does: refused for a configured prefix or outside `principal`'s scopes
/// (`linktypes/{prefix}`), checked, then stored and put in force. `true` when it is new. The console's Link types
/// page writes through this too.
pub async fn register(
    state: &AppState,
    principal: &Principal,
    prefix: &str,
    bytes: &[u8],
) -> Result<(VocabularyFile, bool), ApiError> {
    let prefix = prefix.to_string();
    let vocabulary = state.vocabulary();
    refuse_configured(&vocabulary, &prefix)?;
    authorise(principal, &prefix)?;
    let file = parse(bytes)?;
    if file.prefix != prefix {
        return Err(ApiError::BadBody(FieldError::new(
            "prefix",
            format!(
                "the body's prefix {:?} is not the path's {prefix:?}",
                file.prefix
            ),
        )));
    }
    let limits = RegistrationLimits::from_settings(&state.settings.limits);
    vocabulary.admit(&file, &limits).map_err(refusal)?;
    let previous = vocabulary.registered().get(&prefix).cloned();
    if previous.as_ref() == Some(&file) {
        return Ok((file, false));
    }
    // Checked against the snapshot first, so a bad body costs no scan.
    vocabulary.with_registered(file.clone()).map_err(refusal)?;
    if let Some(previous) = &previous {
        let dropped: BTreeSet<String> = uris(previous).difference(&uris(&file)).cloned().collect();
        // A scan of every stored anchor, outside the lock (see `WRITES`).
        in_use(state, &dropped, &prefix).await?;
    }
    let _one_at_a_time = WRITES.lock().await;
    let current = state.vocabulary();
    unchanged_since_checked(&current, &prefix, previous.as_ref())?;
    current.admit(&file, &limits).map_err(refusal)?;
    let next = current.with_registered(file.clone()).map_err(refusal)?;
    state
        .documents
        .put_link_types(&prefix, &Vocabulary::registered_json(&file))
        .await?;
    state.vocabularies.replace(next);
    tracing::info!(
        prefix,
        credential = principal.name,
        "link-type vocabulary registered"
    );
    super::observe::record_write(principal, "linktypes");
    Ok((file, previous.is_none()))
}

/// `DELETE /api/v1/linktypes/{prefix}`: removes a vocabulary no stored link uses.
#[utoipa::path(delete, path = "/api/v1/linktypes/{prefix}", operation_id = "delete_link_types", tag = "linktypes", summary = "Delete a link-type vocabulary",
    params(("prefix" = String, Path, description = "The vocabulary prefix", example = "acme")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "The credential's scopes do not name linktypes/{prefix}", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No such registered vocabulary", body = super::views::Problem, example = json!(super::views::problem_example(404))),
        (status = 409, description = "A configured vocabulary, or one a stored link still uses (the detail names an identifier)", body = super::views::Problem, example = json!(super::views::problem_example(409)))
    ))]
pub async fn remove(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    unregister(&state, &caller, &prefix_of(&req)).await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Deletes the registered vocabulary `prefix`, as `DELETE /api/v1/linktypes/{prefix}` does: refused for a configured
/// prefix, outside `principal`'s scopes, or while a stored link uses one of its terms (`409` naming the anchor).
pub async fn unregister(
    state: &AppState,
    principal: &Principal,
    prefix: &str,
) -> Result<(), ApiError> {
    let prefix = prefix.to_string();
    let vocabulary = state.vocabulary();
    refuse_configured(&vocabulary, &prefix)?;
    authorise(principal, &prefix)?;
    let Some(file) = vocabulary.registered().get(&prefix).cloned() else {
        return Err(not_found(&prefix));
    };
    // A scan of every stored anchor, outside the lock (see `WRITES`).
    in_use(state, &uris(&file), &prefix).await?;
    let _one_at_a_time = WRITES.lock().await;
    let current = state.vocabulary();
    unchanged_since_checked(&current, &prefix, Some(&file))?;
    state.documents.delete_link_types(&prefix).await?;
    state
        .vocabularies
        .replace(current.without_registered(&prefix));
    tracing::info!(
        prefix,
        credential = principal.name,
        "link-type vocabulary deleted"
    );
    super::observe::record_write(principal, "linktypes");
    Ok(())
}

/// `acme` from `/api/v1/linktypes/acme`.
fn prefix_of(req: &HttpRequest) -> String {
    req.match_info().get("prefix").unwrap_or("").to_string()
}

/// Where a vocabulary comes from, as the listing says.
pub fn source(prefix: &str, registered: bool) -> &'static str {
    match (registered, prefix) {
        (true, _) => "registered",
        (false, "iana") => "built-in",
        (false, _) => "configuration",
    }
}

/// A refused vocabulary as the management API answers it: `400`, `409` or `413`, naming the field.
fn refusal(p: FieldProblem) -> ApiError {
    let error = FieldError::new(p.field, p.reason);
    match p.kind {
        ProblemKind::Invalid => ApiError::BadBody(error),
        ProblemKind::Conflict => ApiError::Conflict(error),
        ProblemKind::TooLarge => ApiError::TooLargeField(error),
    }
}

/// `409` when the registered vocabulary `prefix` is no longer `checked` (another write came between the in-use scan
/// and the lock): the caller repeats the request.
fn unchanged_since_checked(
    current: &Vocabulary,
    prefix: &str,
    checked: Option<&VocabularyFile>,
) -> Result<(), ApiError> {
    if current.registered().get(prefix) == checked {
        return Ok(());
    }
    Err(ApiError::Conflict(FieldError::new(
        "prefix",
        format!(
            "the vocabulary {prefix:?} changed while this request checked it; repeat the request"
        ),
    )))
}

fn refuse_configured(vocabulary: &Vocabulary, prefix: &str) -> Result<(), ApiError> {
    if vocabulary.is_configured(prefix) {
        return Err(ApiError::Conflict(FieldError::new(
            "prefix",
            format!(
                "{prefix:?} is a vocabulary of the resolver's configuration (gs1, untp and iana are reserved); it \
                 cannot be registered, replaced or deleted through the API"
            ),
        )));
    }
    Ok(())
}

/// The scope that names a vocabulary: `linktypes/{prefix}` (or `admin`/`*`, which cover everything).
fn authorise(principal: &Principal, prefix: &str) -> Result<(), ApiError> {
    let scope = format!("linktypes/{prefix}");
    if principal.may_access(&scope) {
        return Ok(());
    }
    let held: Vec<String> = principal.scopes.iter().map(|s| s.to_string()).collect();
    Err(ApiError::Forbidden {
        identifier: scope,
        held: held.join(", "),
    })
}

fn parse(bytes: &[u8]) -> Result<VocabularyFile, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::BadBody(FieldError::new(field, e.into_inner().to_string()))
    })
}

/// The canonical URIs of a vocabulary's terms.
fn uris(file: &VocabularyFile) -> BTreeSet<String> {
    file.terms
        .keys()
        .map(|t| format!("{}{t}", file.namespace))
        .collect()
}

/// `409` naming one stored anchor whose links (or default link type) use one of `uris`.
async fn in_use(state: &AppState, uris: &BTreeSet<String>, prefix: &str) -> Result<(), ApiError> {
    if uris.is_empty() {
        return Ok(());
    }
    let mut user: Option<(String, String)> = None;
    let scan = state
        .store
        .for_each(&mut |path, anchor| {
            let record = &anchor.record;
            let used = record
                .links
                .iter()
                .map(|l| l.link_type.as_str())
                .chain(record.default_link_type.as_deref())
                .find(|t| uris.contains(*t));
            match used {
                Some(t) => {
                    user = Some((path.to_string(), t.to_string()));
                    // Stops the scan: one user is enough to refuse.
                    Err(crate::registry::StoreError::Unavailable("found".into()))
                }
                None => Ok(()),
            }
        })
        .await;
    if let Some((path, link_type)) = user {
        return Err(ApiError::Conflict(FieldError::new(
            "prefix",
            format!(
                "the link type {link_type} of vocabulary {prefix:?} is still used by the anchor {path}; change or \
                 delete its links first"
            ),
        )));
    }
    scan?;
    Ok(())
}

fn not_found(prefix: &str) -> ApiError {
    ApiError::NotFound(format!("no registered link-type vocabulary {prefix:?}"))
}

fn json_response(mut builder: actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body.to_string())
}

//! `/api/v1/anchors/{identifier}/verification`: the verdicts on an anchor's credential links (`GET`), and a re-check
//! now (`POST`). Scoped like reading the anchor; `manage` hands these paths here.

use super::AppState;
use super::problem::ApiError;
use crate::config::VerificationMode;
use crate::identifier::Identifier;
use crate::registration::FieldError;
use crate::registry::StoredAnchor;
use crate::verification::{AnchorVerdicts, LinkVerdict};
use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

/// The verdicts on one anchor's credential links.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationView {
    /// The anchor's canonical identifier path.
    pub identifier: String,
    /// The record version the links are read from (the anchor's current one).
    pub version: u64,
    /// `verification.mode`: `off`, `report` or `enforce`.
    pub mode: &'static str,
    /// Every credential link of the record (link types with credential types), with its last verdict, or
    /// `pending` when it has none for this target yet.
    pub links: Vec<LinkVerdict>,
}

#[utoipa::path(get, path = "/api/v1/anchors/{identifier}/verification", tag = "anchors",
    summary = "Read the verification of an anchor's credential links",
    description = "Every link whose link type is a credential type (`untp:dpp`, `untp:dcc`, …), with the verdict \
        on its target: `verified`, `failed`, `unreachable`, `encrypted`, `not-a-credential`, or `pending` while not \
        checked. Targets are checked after each write, every `verification.recheck_hours`, and on `POST`.",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verdicts", body = VerificationView),
        (status = 401, description = "No or unknown bearer token", body = super::views::Problem, example = json!(super::views::problem_example(401))),
        (status = 403, description = "The credential's scopes do not cover the identifier", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No anchor here (also when a pattern registration serves the identifier: links served by a pattern are not checked)", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn read(state: &AppState, key: &Identifier) -> Result<HttpResponse, ApiError> {
    let stored = current(state, key).await?;
    let report = state
        .verification
        .report(&state.vocabulary(), key.canonical_path(), &stored)
        .await?;
    Ok(answer(state, key, report))
}

#[utoipa::path(post, path = "/api/v1/anchors/{identifier}/verification", tag = "anchors",
    summary = "Check an anchor's credential links now",
    description = "Fetches and checks the target of every credential link of the current record now, stores the \
        verdicts and answers them. A POST while a check of the anchor runs joins it. The answer comes within one \
        check's bound (`verification.timeout_ms` × 3 + 1 s): links whose check takes longer are answered `pending`, \
        and their verdicts are stored when it ends.",
    params(("identifier" = String, Path, description = "Canonical identifier path without the leading slash", example = "01/09520123456788")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The fresh verdicts", body = VerificationView),
        (status = 401, description = "No or unknown bearer token", body = super::views::Problem, example = json!(super::views::problem_example(401))),
        (status = 403, description = "The credential's scopes do not cover the identifier", body = super::views::Problem, example = json!(super::views::problem_example(403))),
        (status = 404, description = "No anchor here (also when a pattern registration serves the identifier: links served by a pattern are not checked)", body = super::views::Problem, example = json!(super::views::problem_example(404))),
        (status = 409, description = "Verification is off (`verification.mode`)", body = super::views::Problem, example = json!(super::views::problem_example(409)))
    ))]
pub(super) async fn recheck(state: &AppState, key: &Identifier) -> Result<HttpResponse, ApiError> {
    if state.verification.mode() == VerificationMode::Off {
        return Err(ApiError::Conflict(FieldError::new(
            "verification.mode",
            "verification is off on this resolver (verification.mode = \"off\"): nothing is fetched or checked",
        )));
    }
    let Some(checked) = state
        .verification
        .check_bounded(key.canonical_path())
        .await?
    else {
        return Err(absent(state, key).await);
    };
    Ok(answer(state, key, checked))
}

async fn current(
    state: &AppState,
    key: &Identifier,
) -> Result<std::sync::Arc<StoredAnchor>, ApiError> {
    match state.store.get(key.canonical_path()).await? {
        Some(stored) => Ok(stored),
        None => Err(absent(state, key).await),
    }
}

/// No anchor at `key`: a `404` saying so, and whether a pattern serves the identifier (its links are never checked:
/// a pattern's targets are expanded per request, and no anchor holds them).
async fn absent(state: &AppState, key: &Identifier) -> ApiError {
    match crate::patterns::serving(state.store.as_ref(), key).await {
        Ok(Some((pattern, _))) => ApiError::NotFound(format!(
            "no anchor {}: its links are served by the pattern {pattern}, and links served by a pattern are not \
             checked (register an anchor for the identifier to have its credential links checked)",
            key.canonical_path()
        )),
        Ok(None) => not_found(key),
        Err(e) => e.into(),
    }
}

fn not_found(key: &Identifier) -> ApiError {
    ApiError::NotFound(format!("no anchor {}", key.canonical_path()))
}

fn answer(state: &AppState, key: &Identifier, verdicts: AnchorVerdicts) -> HttpResponse {
    let view = VerificationView {
        identifier: key.canonical_path().to_string(),
        version: verdicts.version,
        mode: mode_name(state.verification.mode()),
        links: verdicts.links,
    };
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view)
}

fn mode_name(mode: VerificationMode) -> &'static str {
    match mode {
        VerificationMode::Off => "off",
        VerificationMode::Report => "report",
        VerificationMode::Enforce => "enforce",
    }
}

/// In `enforce` mode, `Warning: 299` on a write's answer naming each link of the written record whose last verdict
/// refuses it (scans pass over it). In memory: nothing is fetched or read.
pub(super) fn warn_refused(
    state: &AppState,
    key: &Identifier,
    stored: &StoredAnchor,
    response: &mut HttpResponse,
) {
    let vocabulary = state.vocabulary();
    let refused: Vec<String> = crate::verification::credential_links(&vocabulary, &stored.record)
        .into_iter()
        .filter(|l| {
            state
                .verification
                .refused(key.canonical_path(), &l.link_type, &l.href)
        })
        .map(|l| {
            let name = vocabulary
                .by_uri(&l.link_type)
                .map_or(l.link_type.as_str(), |d| d.curie.as_str());
            format!("{name} {}", l.href)
        })
        .collect();
    if refused.is_empty() {
        return;
    }
    let text = format!(
        "299 idr \"verification refused these targets at their last check, so scans are not sent there: {} (GET {}{}/verification says why)\"",
        refused.join(", ").replace(['"', '\\'], "'"),
        super::paths::ANCHORS,
        key.canonical_path()
    );
    if let Ok(value) = header::HeaderValue::from_str(&text) {
        response.headers_mut().append(header::WARNING, value);
    }
}

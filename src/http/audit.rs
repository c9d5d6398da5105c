//! `GET /api/v1/audit?identifier=…&since=…`: the audit trail of one identifier and the identifiers below it, paged,
//! within the caller's scopes.

use super::AppState;
use super::access::Caller;
use super::problem::ApiError;
use crate::registration::FieldError;
use crate::registry::{AuditEntry, AuditQuery, audit};
use crate::resolution::query_param;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[utoipa::path(get, path = "/api/v1/audit", tag = "anchors", summary = "Read the audit trail",
    description = "Every accepted write (create, replace, delete, restore, purge, import) of the identifier and the \
        identifiers below it, oldest first: who wrote (key name, `admin` or DID), when, and the versions before and \
        after. A page holds at most `limit` entries; when there may be more, `next` (and a `Link: rel=\"next\"` \
        header) gives the cursor to pass as `after`.",
    params(
        ("identifier" = String, Query, description = "Canonical identifier path; entries below it are included", example = "01/09520123456788"),
        ("since" = Option<String>, Query, description = "RFC 3339 time or Unix seconds: only entries at or after it", example = "2026-12-01T00:00:00Z"),
        ("after" = Option<String>, Query, description = "The `next` cursor of the previous page: a whole number from 0 to 2^53 - 1", example = "42"),
        ("limit" = Option<usize>, Query, description = "Entries per page, 1 to 1000 (default 100)", example = 100)
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of entries", body = AuditPage, example = json!(audit_example())),
        (status = 400, description = "A missing or malformed parameter, named in the problem", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 401, description = "No or unknown credential", body = super::views::Problem, example = json!(super::views::problem_example(401))),
        (status = 403, description = "The credential's scopes do not cover the identifier", body = super::views::Problem, example = json!(super::views::problem_example(403)))
    ))]
pub async fn audit(
    req: HttpRequest,
    principal: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let raw = req.uri().query().unwrap_or("");
    let Trail {
        key,
        entries,
        next,
        limit,
    } = read_trail(&state, &principal, raw).await?;
    let page = AuditPage {
        identifier: key.canonical_path().to_string(),
        entries: entries.into_iter().map(AuditView::from).collect(),
        next: next.clone(),
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cursor) = next {
        let link = format!(
            "<{}/api/v1/audit?identifier={}&after={}&limit={}>; rel=\"next\"",
            state.origin(&req),
            encode(key.canonical_path()),
            encode(&cursor),
            limit
        );
        response.insert_header((header::LINK, link));
    }
    Ok(response
        .content_type("application/json")
        .body(serde_json::to_string(&page).unwrap_or_default()))
}

/// One page of an identifier's trail as `principal` may read it.
pub struct Trail {
    pub key: crate::identifier::Identifier,
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page, when there may be one.
    pub next: Option<String>,
    pub limit: usize,
}

/// The page the query parameters `raw` ask for (`identifier`, `since`, `after`, `limit`), read and filtered as
/// `GET /api/v1/audit` does: `403` unless `principal`'s scopes cover the identifier, and only the entries its scopes
/// cover. A bad parameter is a `400` naming it (`errors[0].field`). The console's Audit page reads the same.
pub async fn read_trail(
    state: &AppState,
    principal: &crate::auth::Principal,
    raw: &str,
) -> Result<Trail, ApiError> {
    let identifier = query_param(raw, "identifier")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| bad("identifier", "required: the identifier whose trail to read"))?;
    let key = state.parser.parse_key(identifier.trim_start_matches('/'))?;
    super::access::authorise(principal, &key)?;
    let query = AuditQuery {
        identifier: key.canonical_path(),
        since_ms: since(raw)?,
        after: after(raw)?,
        limit: limit(raw)?,
    };
    let mut entries = state.audit.audit(&query).await?;
    let next = (entries.len() >= query.limit)
        .then(|| entries.last().map(|e| e.cursor.clone()))
        .flatten();
    // Scopes cover whole subtrees, so this only matters for a scope narrower than the identifier asked for.
    entries.retain(|e| principal.may_access(&e.identifier));
    let limit = query.limit;
    Ok(Trail {
        key,
        entries,
        next,
        limit,
    })
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::BadBody(FieldError::new(field, message.to_string()))
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `since` as Unix milliseconds: an RFC 3339 time or Unix seconds.
fn since(raw: &str) -> Result<u64, ApiError> {
    let Some(value) = query_param(raw, "since").filter(|v| !v.is_empty()) else {
        return Ok(0);
    };
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(secs.saturating_mul(1000));
    }
    let time = DateTime::parse_from_rfc3339(&value).map_err(|_| {
        bad(
            "since",
            "must be an RFC 3339 time (2026-12-01T00:00:00Z) or Unix seconds",
        )
    })?;
    Ok(u64::try_from(time.timestamp_millis()).unwrap_or(0))
}

/// `after`: the `next` cursor of an earlier page, checked here so that every store refuses the same values alike.
/// Empty counts as absent.
fn after(raw: &str) -> Result<Option<u64>, ApiError> {
    let Some(value) = query_param(raw, "after").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let rule = format!(
        "must be the `next` value of an earlier page: a whole number from 0 to {}",
        audit::MAX_CURSOR
    );
    audit::parse_cursor(&value)
        .map(Some)
        .ok_or_else(|| bad("after", &rule))
}

fn limit(raw: &str) -> Result<usize, ApiError> {
    match query_param(raw, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad("limit", "must be a whole number from 1 to 1000")),
    }
}

/// One page of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub identifier: String,
    pub entries: Vec<AuditView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One accepted write.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    /// The credential: an API key's name, `admin`, a DID, or `cli (idr import)`.
    pub who: String,
    pub identifier: String,
    /// create, replace, delete, restore, purge or import.
    pub operation: String,
    /// The version before the write (null: the anchor did not exist).
    pub before: Option<u64>,
    /// The version after the write (null: the anchor no longer exists).
    pub after: Option<u64>,
    pub cursor: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> AuditView {
        let at = DateTime::from_timestamp_millis(i64::try_from(e.at_ms).unwrap_or(i64::MAX))
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default();
        AuditView {
            at,
            who: e.who,
            identifier: e.identifier,
            operation: e.operation.as_str().to_string(),
            before: e.before,
            after: e.after,
            cursor: e.cursor,
        }
    }
}

pub fn audit_example() -> serde_json::Value {
    json!({"identifier": "01/09520123456788", "entries": [
        {"at": "2026-12-04T09:15:02.117Z", "who": "acme-dpp", "identifier": "01/09520123456788",
         "operation": "create", "before": null, "after": 1, "cursor": "41"},
        {"at": "2026-12-04T09:20:45.003Z", "who": "did:web:issuer.example", "identifier": "01/09520123456788/10/ABC",
         "operation": "replace", "before": 2, "after": 3, "cursor": "42"}],
        "next": "42"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_rfc3339_or_seconds() {
        assert_eq!(since("since=1700000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            since("since=2023-11-14T22%3A13%3A20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            since("since=2023-11-14T23:13:20.5%2B01:00").unwrap(),
            1_700_000_000_500
        );
        assert_eq!(since("").unwrap(), 0);
        assert!(since("since=yesterday").is_err());
    }

    #[test]
    fn cursors_are_checked_before_any_store_sees_them() {
        assert_eq!(after("").unwrap(), None);
        assert_eq!(after("after=").unwrap(), None);
        assert_eq!(after("after=41").unwrap(), Some(41));
        assert!(after("after=18446744073709551615").is_err());
        assert!(after("after=%2B1").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit("").unwrap(), 100);
        assert_eq!(limit("limit=1000").unwrap(), 1000);
        assert!(limit("limit=0").is_err());
        assert!(limit("limit=1001").is_err());
        assert!(limit("limit=x").is_err());
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        let view = AuditView::from(AuditEntry {
            cursor: "1".into(),
            at_ms: 1_700_000_000_123,
            who: "k".into(),
            identifier: "01/09520123456788".into(),
            operation: crate::registry::Operation::Create,
            before: None,
            after: Some(1),
        });
        assert_eq!(view.at, "2023-11-14T22:13:20.123Z");
        assert_eq!(view.operation, "create");
    }
}

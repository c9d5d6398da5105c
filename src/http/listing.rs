//! `GET /api/v1/anchors?prefix=…&limit=…&cursor=…`: the caller's anchors (only within its scopes), a page at a time,
//! in canonical identifier order. The cursor is the last identifier of the page before (opaque to clients:
//! base64url), so anchors that exist throughout are listed once each, whatever is written meanwhile.

use super::AppState;
use super::access::Caller;
use super::problem::ApiError;
use crate::registry::ListQuery;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

/// Anchors per page unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1_000;

/// A page of anchors.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListingView {
    pub anchors: Vec<super::views::AnchorView>,
    /// The next page's URL (also in `Link: <…>; rel="next"`); absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/anchors", tag = "anchors", summary = "List anchors, a page at a time",
    params(
        ("prefix" = Option<String>, Query, description = "Only canonical identifiers starting with this (a string prefix, e.g. `01/0952012`)", example = "01/0952012"),
        ("limit" = Option<usize>, Query, description = "Anchors per page, 1 to 1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: the `cursor` of the previous page's `next` link (opaque)")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Anchors within the caller's scopes, in canonical identifier order; `Link: <…>; rel=\"next\"` when there may be more", body = ListingView),
        (status = 400, description = "A bad `limit` or `cursor`", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 401, description = "No or unknown bearer token", body = super::views::Problem, example = json!(super::views::problem_example(401)))
    ))]
pub async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = req.uri().query().unwrap_or("");
    let param = |name| crate::resolution::query_param(query, name);
    let prefix = param("prefix").unwrap_or_default();
    let prefix = prefix.trim_start_matches('/');
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "limit={v:?}: a number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let after = match param("cursor") {
        None => None,
        Some(cursor) => Some(decode_cursor(&cursor)?),
    };
    let page = read_page(&state, &caller, prefix, after.as_deref(), limit).await?;
    let origin = state.origin(&req);
    let next = (page.len() == limit).then(|| {
        let last = page.last().map_or("", |(path, _)| path.as_str());
        let mut url = format!(
            "{origin}/api/v1/anchors?limit={limit}&cursor={}",
            URL_SAFE_NO_PAD.encode(last)
        );
        if !prefix.is_empty() {
            url.push_str("&prefix=");
            url.extend(percent_encoding::utf8_percent_encode(
                prefix,
                percent_encoding::NON_ALPHANUMERIC,
            ));
        }
        url
    });
    let anchors = page
        .into_iter()
        .map(|(path, stored)| {
            let anchor = match state.parser.parse_key(&path) {
                Ok(key) => key.uri_under(&origin),
                Err(_) => format!("{origin}/{path}"),
            };
            super::views::AnchorView {
                identifier: path,
                anchor,
                version: stored.version,
                item_description: stored.record.item_description.clone(),
                default_link_type: stored.record.default_link_type.clone(),
                links: stored.record.links.clone(),
                warnings: Vec::new(),
            }
        })
        .collect();
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(next) = &next {
        response.insert_header((header::LINK, format!("<{next}>; rel=\"next\"")));
    }
    Ok(response.json(ListingView { anchors, next }))
}

/// A page of the anchors `principal`'s scopes cover whose identifiers start with `prefix`, strictly after `after`,
/// at most `limit`, in canonical identifier order: the listing of the API and of the console's Browse.
pub(crate) async fn read_page(
    state: &AppState,
    principal: &crate::auth::Principal,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<crate::registry::Page, ApiError> {
    Ok(read_page_counted(state, principal, prefix, after, limit)
        .await?
        .0)
}

/// `read_page`, and how many anchors the store listed (and decoded) for it: up to `limit` per scope range, before
/// the ranges are merged and cut to `limit`.
pub(crate) async fn read_page_counted(
    state: &AppState,
    principal: &crate::auth::Principal,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<(crate::registry::Page, usize), ApiError> {
    // Pattern registrations live beside anchors under a reserved root; they are listed by their own API.
    let keep = |path: &str| {
        principal.may_access(path) && !path.starts_with(crate::registry::patterns::ROOT)
    };
    // One range per scope that meets the prefix, so a narrow key never walks the whole registry to fill a page.
    let mut page = Vec::new();
    for range in ranges(&principal.scopes, prefix) {
        let part = state
            .store
            .list(&ListQuery {
                prefix: &range,
                after,
                limit,
                keep: &keep,
            })
            .await?;
        page.extend(part);
    }
    let listed = page.len();
    page.sort_by(|a, b| a.0.cmp(&b.0));
    page.dedup_by(|a, b| a.0 == b.0);
    page.truncate(limit);
    Ok((page, listed))
}

/// The prefixes to read for `prefix` under `scopes`: where each scope meets it (the longer of the two when one starts
/// the other), without those inside another.
fn ranges(scopes: &[crate::auth::Scope], prefix: &str) -> Vec<String> {
    use crate::auth::Scope;
    let mut ranges: Vec<String> = scopes
        .iter()
        .filter_map(|scope| {
            let literal = match scope {
                Scope::All => "",
                Scope::Prefix(p) | Scope::Subtree(p) => p.as_str(),
            };
            if literal.starts_with(prefix) {
                Some(literal.to_string())
            } else if prefix.starts_with(literal) {
                Some(prefix.to_string())
            } else {
                None
            }
        })
        .collect();
    ranges.sort();
    ranges.dedup();
    let all = ranges.clone();
    ranges.retain(|r| !all.iter().any(|o| o != r && r.starts_with(o.as_str())));
    ranges
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "cursor={cursor:?} is not a cursor this server gave (take it from the previous page's next link)"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::ranges;
    use crate::auth::Scope;

    #[test]
    fn a_listing_reads_only_where_the_scopes_meet_the_prefix() {
        let scopes = vec![
            Scope::parse("01/0952012*"),
            Scope::parse("01/09506000134369"),
            Scope::parse("414/*"),
        ];
        assert_eq!(
            ranges(&scopes, ""),
            vec!["01/09506000134369", "01/0952012", "414/"]
        );
        assert_eq!(ranges(&scopes, "01/09520123"), vec!["01/09520123"]);
        assert_eq!(
            ranges(&scopes, "01/095"),
            vec!["01/09506000134369", "01/0952012"]
        );
        assert!(ranges(&scopes, "01/0999").is_empty());
        assert_eq!(ranges(&[Scope::All], "01/0952"), vec!["01/0952"]);
        assert_eq!(
            ranges(&[Scope::All, Scope::parse("01/0952012*")], ""),
            vec![""],
            "a range inside another is read once"
        );
    }
}

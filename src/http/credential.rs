//! Who is calling the management APIs: the `Authorization` header checked against this request (its method and URL
//! now, and for a DID-signed request its body when the body is read), and the scope a refused request needed.

use super::AppState;
use super::problem::ApiError;
use crate::auth::{AuthError, Principal, RequestTarget, SignedBody};
use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};

/// Authenticates the request. A DID-signed request leaves the body hash it signed in the request's extensions,
/// for `check_body`.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let url = signed_url(req, state);
    let target = RequestTarget {
        method: req.method().as_str(),
        url: &url,
        dia: req
            .headers()
            .get(crate::auth::dia::HEADER)
            .and_then(|v| v.to_str().ok()),
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (principal, body) = state
        .auth
        .authenticate_request(
            authorization,
            &target,
            state.coordination.as_ref(),
            &state.parser,
        )
        .await
        .map_err(|e| refused(e, req, state))?;
    if let Some(body) = body {
        req.extensions_mut().insert(body);
    }
    Ok(principal)
}

/// Checks a DID-signed request's body against its `bh` claim before anything uses the body; other requests pass.
/// Whether the request is DID-signed (its signature covers a hash of the body).
pub fn is_signed(req: &HttpRequest) -> bool {
    req.extensions().get::<SignedBody>().is_some()
}

pub fn check_body(req: &HttpRequest, state: &AppState, body: &[u8]) -> Result<(), ApiError> {
    let signed = req.extensions().get::<SignedBody>().copied();
    match signed {
        Some(signed) => signed.check(body).map_err(|e| refused(e, req, state)),
        None => Ok(()),
    }
}

/// What a DID-signed token's `htu` must equal: the public origin (as in anchors), then the path and query exactly
/// as received. The query is included because it can change what a request does (`DELETE …?hard=true`).
fn signed_url(req: &HttpRequest, state: &AppState) -> String {
    let uri = req.uri();
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    format!("{}{path_and_query}", state.origin(req))
}

fn refused(error: AuthError, req: &HttpRequest, state: &AppState) -> ApiError {
    match ApiError::from(error) {
        ApiError::Unauthorized { error, .. } => ApiError::Unauthorized {
            error,
            scope: needed_scope(req, state),
        },
        other => other,
    }
}

/// The canonical identifier a native-API request names, which a credential's scopes must cover. Pyx requests name
/// theirs in the body, which is not read before authentication.
fn needed_scope(req: &HttpRequest, state: &AppState) -> Option<String> {
    super::paths::AnchorPath::named(&state.parser, req.path())
        .map(|key| key.canonical_path().to_string())
}

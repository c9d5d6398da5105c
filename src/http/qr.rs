//! `GET /api/v1/qr/{identifier}`: a QR code of the identifier's public URI, for labels.
//!
//! Public, like resolution: it reads no record and only encodes a URI anyone can derive from the identifier, so
//! there is nothing to protect, and label tools and browsers can fetch it without a key.

use super::AppState;
use super::guard::preflight;
use super::problem::ApiError;
use crate::did::DidError;
use crate::qr::{self, Options};
use crate::resolution::query_param;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

const PREFIX: &str = "/api/v1/qr/";
const ALLOW: &str = "GET, HEAD, OPTIONS";

pub async fn code(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return Ok(preflight(ALLOW)),
        _ => return Err(ApiError::MethodNotAllowed(ALLOW)),
    }
    let subject = req.uri().path().strip_prefix(PREFIX).unwrap_or("");
    if qr::is_did(subject) && state.did_web.is_none() {
        // The resolver would answer 404 for the DID's URL; a label for it would be a dead end.
        return Err(ApiError::Did(DidError::Disabled));
    }
    let uri = qr::label_uri(&state.parser, &state.origin(&req), subject)?;
    let raw_query = req.uri().query().unwrap_or("");
    let options = Options::from_params(|name| query_param(raw_query, name))?;
    // A 4096-pixel PNG takes tens of milliseconds of CPU: off the async workers.
    let bytes = web::block(move || qr::render(&uri, &options))
        .await
        .map_err(|e| ApiError::Qr(qr::QrError::Encode(e.to_string())))??;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, options.format.media_type()));
    // The image depends only on the URL and the resolver root, so caches may keep it.
    response.insert_header((header::CACHE_CONTROL, "public, max-age=86400"));
    if state.settings.fixed_root().is_none() {
        // The root then comes from these headers.
        response.insert_header((header::VARY, "X-Forwarded-Host, X-Forwarded-Proto"));
    }
    Ok(response.body(bytes))
}

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

#[utoipa::path(get, path = "/api/v1/qr/{identifier}", tag = "labels",
    summary = "A QR code of an identifier's public URI, for labels (anonymous)",
    description = "Draws `{resolver root}/{identifier}` (the identifier as the management API writes it, or a \
        did:web DID). With `compressed=true` a GS1 identifier is drawn as its GS1 Digital Link compressed URI \
        (`https://id.example.com/DBHKVAdpQgowOQ` for `01/09780345418913/21/12345`): a shorter URI and a code no larger, \
        which the resolver answers exactly like the uncompressed one.",
    params(
        ("identifier" = String, Path, example = "01/09780345418913/21/12345"),
        ("compressed" = Option<bool>, Query, description = "Draw the GS1 Digital Link compressed URI (GS1 \
            identifiers only; an AI that compression cannot carry is a 400)", example = true),
        ("format" = Option<String>, Query, description = "svg (default) or png", example = "svg"),
        ("size" = Option<u32>, Query, description = "Edge in pixels, 64-4096 (default 512)", example = 512),
        ("margin" = Option<u32>, Query, description = "Quiet zone in modules, 0-16 (default 4)", example = 4),
        ("ecc" = Option<String>, Query, description = "Error correction: L, M (default), Q or H", example = "M")
    ),
    responses(
        (status = 200, description = "The image: image/svg+xml, or image/png with format=png"),
        (status = 400, description = "Not a valid identifier, or a bad parameter (errors[0].field names it)",
            body = super::views::Problem, example = json!(super::views::problem_example(400)))
    )
)]
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
    let raw_query = req.uri().query().unwrap_or("");
    let root = state.origin(&req);
    let uri = if qr::compressed_param(query_param(raw_query, "compressed").as_deref())? {
        qr::compressed_label_uri(&state.parser, &root, subject)?
    } else {
        qr::label_uri(&state.parser, &root, subject)?
    };
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

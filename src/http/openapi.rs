//! The OpenAPI 3.1 description of the management APIs, generated from the handlers' annotations and the request
//! types (utoipa), served at `/api/openapi.json`, with a self-contained browsable page at `/api/docs`.

use super::problem::ApiError;
use crate::registry::Link;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

pub(super) use super::pyx::LinkUpdate as PyxLinkUpdate;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idr management API",
        description = "Register and manage the links an identity resolver serves. Every call needs \
            `Authorization: Bearer <key>`; keys are scoped to identifier prefixes. Errors are RFC 9457 \
            `application/problem+json` naming the offending field. Public resolution (`GET /{identifier}`) is \
            described in docs/resolution.md.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::manage::get, super::manage::put, super::manage::delete, super::manage::history,
        super::manage::restore, super::audit::audit,
        super::pyx::register, super::pyx::get_link, super::pyx::update_link, super::pyx::delete_link,
        super::pyx::register_scheme, link_types, health_check, public_uri
    ),
    components(schemas(AnchorView, HistoryView, super::audit::AuditPage, super::audit::AuditView, Problem, PyxRegistered, PyxLink, crate::registration::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "anchors", description = "The native API: one anchor (identifier at one level) per call"),
        (name = "pyx", description = "Pyx-compatible API used by the UNTP reference implementation")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key. Issuers listed in `did_writers` may instead send `Authorization: DID <JWS>`, \
                         a token signed with a key from their did:web DID document (docs/security.md).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document, as JSON.
pub fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null)
}

pub async fn openapi_json(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    read_only(&req)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(document().to_string()))
}

/// A page that renders `/api/openapi.json` in the browser: no build-time download, no third-party script.
pub async fn docs(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    read_only(&req)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        ))
        .content_type("text/html; charset=utf-8")
        .body(DOCS_PAGE))
}

fn read_only(req: &HttpRequest) -> Result<(), ApiError> {
    match *req.method() {
        actix_web::http::Method::GET | actix_web::http::Method::HEAD => Ok(()),
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD")),
    }
}

const DOCS_PAGE: &str = include_str!("openapi_page.html");

#[utoipa::path(get, path = "/api/{version}/voc", tag = "pyx", summary = "Every configured link type",
    params(("version" = String, Path, example = "2.0.0"), ("show" = Option<String>, Query, example = "linktypes")),
    responses((status = 200, description = "Every link type of every vocabulary", body = Vec<LinkTypeEntry>,
        example = json!([{"namespace": "untp", "type": "dpp", "title": "Digital Product Passport",
                          "description": "A UNTP Digital Product Passport credential"}])))
)]
#[allow(dead_code)]
fn link_types() {}

#[utoipa::path(get, path = "/api/{version}/health-check", tag = "pyx", summary = "Health check (anonymous)",
    params(("version" = String, Path, description = "Any 2.x.y or 4.x.y", example = "2.0.2")),
    responses((status = 200, description = "The resolver answers", content_type = "application/json", example = json!({"status": "ok"})))
)]
#[allow(dead_code)]
fn health_check() {}

#[utoipa::path(get, path = "/api/{version}/{namespace}/{identifier}", tag = "pyx",
    summary = "Resolve a public URI the reference implementation builds (anonymous)",
    description = "`/api/{version}/{namespace}/{keyType}/{key}…` resolves exactly as `/{namespace}/{keyType}/{key}…`         does: a `307` to the chosen link, or the linkset. `namespace` is `gs1` or a registered scheme's.",
    params(("version" = String, Path, example = "2.0.2"), ("namespace" = String, Path, example = "gs1"),
        ("identifier" = String, Path, description = "The rest of the identifier path", example = "01/09520123456788")),
    responses(
        (status = 307, description = "Redirect to the chosen link (`Location`)"),
        (status = 400, description = "Not a valid identifier", body = Problem, example = json!(problem_example(400))),
        (status = 404, description = "Nothing registered", body = Problem, example = json!(problem_example(404)))
    )
)]
#[allow(dead_code)]
fn public_uri() {}

/// One link type, as the Pyx API lists them.
#[derive(Serialize, ToSchema)]
pub struct LinkTypeEntry {
    /// The vocabulary prefix, e.g. `untp`.
    pub namespace: String,
    #[serde(rename = "type")]
    pub term: String,
    pub title: String,
    pub description: Option<String>,
}

/// A short confirmation.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: String,
    pub namespace: Option<String>,
}

/// An anchor as stored: what `GET`/`PUT /api/v1/anchors/{identifier}` answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnchorView {
    /// Canonical identifier path.
    pub identifier: String,
    /// Public URI of this level.
    pub anchor: String,
    /// Increases with every write; the `ETag`.
    pub version: u64,
    pub item_description: String,
    /// Canonical URI of the default link type (inherited from an ancestor when absent).
    pub default_link_type: Option<String>,
    pub links: Vec<Link>,
    /// Accepted, but worth the issuer's attention (e.g. a language tag the linkset schemas reject).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// RFC 9457 problem details.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every offending field, when the problem is in the body.
    pub errors: Option<Vec<crate::registration::FieldError>>,
    /// On 401 and 403: the canonical identifier a credential's scopes must cover (when the path names one).
    pub scope: Option<String>,
}

/// Each variant's targets, newest first.
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub identifier: String,
    pub anchor: String,
    pub version: u64,
    pub variants: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PyxRegistered {
    pub resolver_uri: String,
    pub identifier: String,
    pub link_responses: Vec<PyxLink>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PyxLink {
    pub link_id: String,
    pub link_type: String,
    pub target_url: String,
    pub link_title: String,
    pub mime_type: Option<String>,
    pub iana_language: Option<String>,
    pub context: Option<String>,
    pub resolver_uri: String,
    /// Whether a redirect to this target carries the scan's query string (`fwqs: false` in the registration: no).
    pub fwqs: bool,
}

pub fn anchor_example() -> Value {
    json!({"identifier": "01/09520123456788", "anchor": "https://id.example.com/01/09520123456788", "version": 3,
           "itemDescription": "Battery pack, model X", "defaultLinkType": "https://gs1.org/voc/pip",
           "links": [{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/products/09520123456788",
                      "title": "Product information", "type": "text/html", "hreflang": ["en"]}]})
}

pub fn history_example() -> Value {
    json!({"identifier": "01/09520123456788/21/12345", "anchor": "https://id.example.com/01/09520123456788/21/12345",
           "version": 3, "variants": [{"linkType": "untp:dpp", "type": "application/vc+jwt", "hreflang": ["en"],
           "context": [], "accessRole": [], "versions": [
               {"href": "https://credentials.example/dpp/v3.jwt", "title": "DPP", "latest": true},
               {"href": "https://credentials.example/dpp/v2.jwt", "title": "DPP", "latest": false}]}]})
}

pub fn problem_example(status: u16) -> Value {
    let (title, detail, errors) = match status {
        400 => (
            "Bad request",
            "links[0].linkType: unknown link type \"gs1:nope\"",
            json!([{"field": "links[0].linkType", "message": "unknown link type \"gs1:nope\"; see /voc?show=linktypes"}]),
        ),
        401 => (
            "Unauthorized",
            "missing credentials: send Authorization: Bearer <API key> or Authorization: DID <signed request token> \
             (this request needs a credential whose scopes cover 01/09506000134369)",
            Value::Null,
        ),
        403 => (
            "Forbidden",
            "this credential's scopes (01/0952012*) do not cover 01/09506000134369",
            Value::Null,
        ),
        404 => ("Not found", "no anchor 01/09506000134369", Value::Null),
        409 => (
            "Conflict",
            "\"exBrand\" has the form of a compressed GS1 Digital Link URI (\"eh\" or \"ex\" and then hex or base64url): \
             /exBrand would be read as this scheme's, not decompressed; choose another name",
            json!([{"field": "namespace", "message": "\"exBrand\" has the form of a compressed GS1 Digital Link URI"}]),
        ),
        412 => (
            "Precondition failed",
            "the anchor is at version 4",
            Value::Null,
        ),
        _ => (
            "Invalid anchor",
            "the submitted anchor is invalid",
            json!([{"field": "links[1].href", "message": "must be an absolute http(s) URL"}]),
        ),
    };
    let mut body =
        json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    if matches!(status, 401 | 403) {
        body["scope"] = json!("01/09506000134369");
    }
    if !errors.is_null() {
        body["errors"] = errors;
    }
    body
}

pub fn pyx_link_example() -> Value {
    json!({"linkId": "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55", "linkType": "untp:dpp",
           "targetUrl": "https://credentials.example/dpp/abc.jwt", "linkTitle": "Digital Product Passport",
           "mimeType": "application/vc+jwt", "ianaLanguage": "en", "context": "au",
           "resolverUri": "https://id.example.com/01/09520123456788", "fwqs": false})
}

pub fn pyx_registered_example() -> Value {
    json!({"resolverUri": "https://id.example.com/01/09520123456788/10/ABC", "identifier": "01/09520123456788/10/ABC",
           "linkResponses": [pyx_link_example()]})
}

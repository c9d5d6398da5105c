//! The OpenAPI 3.1 description of the management APIs, generated from the handlers' annotations and the request
//! types (utoipa), served at `/api/openapi.json`, with a self-contained browsable page at `/api/docs`.

use super::problem::ApiError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::views::{
    AnchorView, HistoryView, LinkTypeEntry, Problem, PyxLink, PyxRegistered, problem_example,
};

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
        super::manage::restore, super::verify::read, super::verify::recheck, super::listing::list, super::bulk::write, super::audit::audit,
        super::patterns::read, super::patterns::put, super::patterns::remove,
        super::linktypes::list, super::linktypes::read, super::linktypes::put, super::linktypes::remove,
        super::pyx::register, super::pyx::get_link, super::pyx::update_link, super::pyx::delete_link,
        super::pyx::register_scheme, link_types, health_check, public_uri, super::convert::convert, super::qr::code
    ),
    components(schemas(AnchorView, super::verify::VerificationView, crate::verification::LinkVerdict, crate::verification::Status, super::views::PatternView, HistoryView, super::listing::ListingView, super::bulk::BulkReport, super::bulk::LineOutcome, super::bulk::Totals, super::audit::AuditPage, super::audit::AuditView, Problem, PyxRegistered, PyxLink, crate::registration::FieldError, super::convert::ConversionView, super::convert::SymbologyView, super::convert::ElementView, super::convert::EpcView, super::views::VocabularySummary, crate::vocabulary::VocabularyFile, crate::vocabulary::TermFile)),
    modifiers(&BearerAuth),
    tags(
        (name = "anchors", description = "The native API: one anchor (identifier at one level) per call"),
        (name = "patterns", description = "Pattern registrations: one anchor body, its hrefs RFC 6570 templates, for every identifier whose key value starts with a prefix (scope: a prefix scope covering key/prefix)"),
        (name = "linktypes", description = "Link-type vocabularies issuers register at run time (scope linktypes/{prefix})"),
        (name = "pyx", description = "Pyx-compatible API used by the UNTP reference implementation"),
        (name = "convert", description = "Carrier data (barcode scanner output, element strings, EPC URIs) to GS1 Digital Link URIs")
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

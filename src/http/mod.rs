//! HTTP: routing, shared state, and headers common to every answer.

pub mod access;
pub mod audit;
pub mod bulk;
pub mod console;
pub mod convert;
pub mod credential;
pub mod did;
pub mod freshness;
pub mod guard;
pub mod home;
pub mod html;
pub mod linktypes;
pub mod listing;
pub mod manage;
pub mod observe;
pub mod openapi;
pub mod paths;
pub mod patterns;
pub mod problem;
pub mod pyx;
pub mod qr;
pub mod resolve;
pub mod verify;
pub mod views;
pub mod wellknown;

use crate::auth::Authenticator;
use crate::config::Settings;
use crate::identifier::Parser;
use crate::limits::Limits;
use crate::registry::{AnchorStore, AuditStore, Coordination, DocumentStore};
use crate::resolution::Delegations;
use crate::vocabulary::{Vocabularies, Vocabulary};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, middleware, web};
use observe::RouteLabel;
use std::sync::Arc;

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    /// The anchors, behind the record cache.
    pub store: Arc<dyn AnchorStore>,
    /// The audit trail (`/api/v1/audit`).
    pub audit: Arc<dyn AuditStore>,
    /// Schemes registered at run time and API keys.
    pub documents: Arc<dyn DocumentStore>,
    /// Nonces of signed requests and readiness.
    pub coordination: Arc<dyn Coordination>,
    /// Console sessions (`console::session`).
    pub sessions: Arc<dyn crate::registry::SessionStore>,
    /// The link-type vocabulary in force (swapped when an issuer registers or deletes one).
    pub vocabularies: Arc<Vocabularies>,
    /// UNTP's access code lists (`encryptionMethod`, `accessRole`), checked by every write.
    pub codes: Arc<crate::codelist::AccessCodes>,
    pub auth: Arc<Authenticator>,
    pub settings: Settings,
    /// The size limits of one anchor (`[limits]`), checked by every write.
    pub limits: Limits,
    pub parser: Arc<Parser>,
    /// Resolutions in flight may not exceed this (`limits.max_concurrent_resolutions`).
    pub resolutions: Arc<tokio::sync::Semaphore>,
    pub rate_limiter: guard::RateLimiter,
    /// `/api/v1/convert` per client address (`limits.convert_requests_per_second`).
    pub convert_limiter: guard::RateLimiter,
    /// Who a request comes from, for the limits per client address (`server.trusted_proxies`).
    pub client_addresses: guard::ClientAddresses,
    /// Set on SIGTERM/SIGINT: readiness fails while in-flight requests finish.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub delegations: Delegations,
    /// `Cache-Control` and `ETag`s of resolution answers (`resolver.cache_max_age_seconds`).
    pub freshness: freshness::Freshness,
    /// `None` when `did_web.enabled` is false.
    pub did_web: Option<Arc<crate::did::DidResolver>>,
    /// Verified links: verdicts, the targets `enforce` mode passes over, and the checks' queue.
    pub verification: Arc<crate::verification::Verification>,
}

impl AppState {
    /// The public origin: the configured resolver root, else the forwarded or direct host of this request.
    pub fn origin(&self, req: &HttpRequest) -> std::borrow::Cow<'_, str> {
        if let Some(root) = self.settings.fixed_root() {
            return root.into();
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match header("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let host = header("x-forwarded-host")
            .or_else(|| header("host"))
            .filter(|h| is_host(h));
        format!("{scheme}://{}", host.unwrap_or("localhost")).into()
    }
}

impl AppState {
    /// A snapshot of the vocabulary in force, for one request.
    pub fn vocabulary(&self) -> Arc<Vocabulary> {
        self.vocabularies.current()
    }

    /// Where a write to `key` goes, with a snapshot of its own. Only the Pyx handlers still use it (src/http/pyx.rs
    /// is being changed on another branch; it moves to `write_target_with` when that lands).
    pub fn write_target<'a>(
        &'a self,
        key: &'a crate::identifier::Identifier,
    ) -> crate::registration::Target<'a> {
        self.write_target_with(key, self.vocabulary())
    }

    /// Where a write to `key` goes, with the vocabulary snapshot the request already checked its links against, so
    /// one request sees one vocabulary.
    pub fn write_target_with<'a>(
        &'a self,
        key: &'a crate::identifier::Identifier,
        vocabulary: Arc<Vocabulary>,
    ) -> crate::registration::Target<'a> {
        crate::registration::Target {
            store: self.store.as_ref(),
            vocabulary,
            limits: &self.limits,
            codes: &self.codes,
            key,
        }
    }
}

/// Query parameters whose values are secrets (UNTP: the key that decrypts a target, or a shared-secret key).
const SECRET_PARAMS: &[&str] = &["key", "decryptionkey"];

/// The raw query with the values of secret parameters replaced, for logs. Nothing else may log a raw query.
pub fn redact_query(raw: &str) -> std::borrow::Cow<'_, str> {
    let secret = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(k, _)| k);
        let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
        SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s))
    };
    if !raw.split('&').any(secret) {
        return raw.into();
    }
    let parts: Vec<String> = raw
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if secret(pair) => format!("{k}=REDACTED"),
            _ => pair.to_string(),
        })
        .collect();
    parts.join("&").into()
}

/// A host[:port] that is safe to echo into Link headers and JSON.
fn is_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
}

/// Headers every response carries. CORS depends on the audience and is set by `guard::public` and `guard::management`.
pub fn common_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff"))
}

/// Every endpoint, its methods and its handler; its audience (wrapped in `guard::public` or `guard::management`,
/// which decide shedding and CORS); and the `route` label of its latency (`observe::RouteLabel`, as resource data).
/// Everything under `/api` but the API description, QR codes and carrier-data conversion is for management. Resolution is the fallback:
/// whatever no route claims is an identifier path (or a DID), so it comes last at each level. Routes with variables
/// are kept inside scopes, whose prefixes are plain string tests: actix matches a route with variables by a regular
/// expression, and a scan, which matches none of them, would otherwise run every one (docs/performance.md, "Choices
/// the figures rest on").
///
/// Handlers that read their path raw (percent-encoding intact, which actix's match info has lost) spell their mount
/// point once more: `paths::ANCHORS`, `qr::PREFIX` and the `/api/{version}/` reading in `pyx`. A mount point moved
/// here moves there too.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(RouteLabel::RESOLVE)
        .service(
            web::scope("/api")
                .app_data(RouteLabel::PYX)
                // The public part of /api: the API's description, QR codes, and carrier data to URIs.
                .service(
                    other("/openapi.json")
                        .wrap(from_fn(guard::public))
                        .route(web::route().to(openapi::openapi_json)),
                )
                .service(
                    other("/docs")
                        .wrap(from_fn(guard::public))
                        .route(web::route().to(openapi::docs)),
                )
                .service(
                    other("/v1/qr/{identifier:.*}")
                        .wrap(from_fn(guard::public))
                        .route(web::route().to(qr::code)),
                )
                .service(
                    other("/v1/convert")
                        .wrap(from_fn(guard::public))
                        .route(web::route().to(convert::convert)),
                )
                // Everything else under /api is for management: credentials, configured origins only.
                .service(
                    web::scope("")
                        .wrap(from_fn(guard::management))
                        .configure(management),
                ),
        )
        // The issuer console: 404 throughout unless the operator has it on (`console::switch`, outermost).
        .service(
            web::scope(console::ROOT)
                .app_data(RouteLabel::OTHER)
                .wrap(from_fn(console::layout::headers))
                .wrap(from_fn(guard::management))
                .wrap(from_fn(console::switch))
                .configure(console),
        )
        .service(
            web::scope("")
                .wrap(from_fn(guard::public))
                .service(other("/").route(web::route().to(home::home)))
                .service(other("/healthz").route(web::route().to(wellknown::healthz)))
                .service(other("/readyz").route(web::route().to(wellknown::readyz)))
                .service(other("/robots.txt").route(web::route().to(wellknown::robots)))
                .service(other("/metrics").route(web::route().to(wellknown::metrics)))
                .service(
                    other("/.well-known/gs1resolver")
                        .route(web::route().to(wellknown::description)),
                )
                .service(
                    other("/.well-known/resolver").route(web::route().to(wellknown::description)),
                )
                .service(
                    web::scope("/voc")
                        .app_data(RouteLabel::OTHER)
                        .route("", web::route().to(wellknown::vocabulary))
                        .route("/", web::route().to(wellknown::vocabulary))
                        .route("/{term}", web::route().to(wellknown::term))
                        .default_service(web::route().to(resolve::resolve)),
                )
                .default_service(web::route().to(resolve::resolve)),
        )
        // A request target that is no path (`OPTIONS *`) matches no scope: it is answered as a public resolution
        // too (a preflight), with the public guard's limits and CORS.
        .default_service(
            web::route()
                .to(resolve::resolve)
                .wrap(from_fn(guard::public)),
        );
}

/// The management routes under `/api`: the native API, the audit trail, and the Pyx-compatible API.
fn management(cfg: &mut web::ServiceConfig) {
    // The native management API. `{tail}` is the identifier, maybe with `/history` or `:restore` after it:
    // `paths::AnchorPath` reads it. Every method but OPTIONS authenticates first.
    cfg.service(
        // The collection: a listing (GET) and a bulk write (POST, NDJSON).
        web::resource("/v1/anchors")
            .app_data(RouteLabel::MANAGE)
            .route(
                web::route()
                    .method(Method::OPTIONS)
                    .to(collection_preflight),
            )
            .route(reading().to(listing::list))
            .route(web::post().to(bulk::write))
            .default_service(web::to(collection_refused)),
    )
    .service(
        web::resource("/v1/anchors/{tail:.*}")
            .app_data(RouteLabel::MANAGE)
            .route(web::route().method(Method::OPTIONS).to(manage::preflight))
            .route(reading().to(manage::read))
            .route(web::put().to(manage::replace))
            .route(web::delete().to(manage::remove))
            .route(web::post().to(manage::bring_back))
            .default_service(web::to(manage::other_method)),
    )
    // Pattern registrations (`patterns::Pattern`): `{key}/{prefix}`, read from the raw path.
    .service(
        web::resource("/v1/patterns/{tail:.*}")
            .app_data(RouteLabel::MANAGE)
            .route(web::route().method(Method::OPTIONS).to(patterns::preflight))
            .route(reading().to(patterns::read))
            .route(web::put().to(patterns::put))
            .route(web::delete().to(patterns::remove))
            .default_service(web::to(patterns::other_method)),
    )
    .service(
        web::resource("/v1/audit")
            .app_data(RouteLabel::MANAGE)
            .route(web::route().method(Method::OPTIONS).to(read_only_preflight))
            .route(reading().to(audit::audit))
            .default_service(web::to(read_only_refused)),
    )
    // Link-type vocabularies registered at run time (`linktypes/{prefix}` scopes).
    .service(
        web::resource("/v1/linktypes")
            .app_data(RouteLabel::MANAGE)
            .route(web::route().method(Method::OPTIONS).to(read_only_preflight))
            .route(reading().to(linktypes::list))
            .default_service(web::to(read_only_refused)),
    )
    .service(
        web::resource("/v1/linktypes/{prefix}")
            .app_data(RouteLabel::MANAGE)
            .route(
                web::route()
                    .method(Method::OPTIONS)
                    .to(linktypes::preflight),
            )
            .route(reading().to(linktypes::read))
            .route(web::put().to(linktypes::put))
            .route(web::delete().to(linktypes::remove))
            .default_service(web::to(linktypes::other_method)),
    )
    // After the native API: everything else under /api/{version}/ is the Pyx-compatible API.
    .service(
        web::scope("/{version}")
            .guard(actix_web::guard::fn_guard(|ctx| {
                pyx::spoken_path(ctx.head().uri.path())
            }))
            .route("/voc", reading().to(pyx::voc))
            .route("/health-check", reading().to(pyx::health))
            .route("/resolver", web::post().to(pyx::post_resolver))
            .route("/identifiers", web::post().to(pyx::post_identifiers))
            .service(
                web::resource("/resolver/links/{link:.*}")
                    .route(web::route().method(Method::OPTIONS).to(pyx::preflight))
                    .route(reading().to(pyx::read_link))
                    .route(web::put().to(pyx::put_link))
                    .route(web::delete().to(pyx::remove_link))
                    .default_service(web::to(pyx::link_other_method)),
            )
            // Preflights, other methods, and the public URIs of scheme namespaces.
            .default_service(web::to(pyx::other)),
    )
    .route(
        "/{version}/{rest:.*}",
        web::route().to(pyx::unknown_version),
    )
    .default_service(web::route().to(resolve::resolve));
}

/// The console's pages (`console`), under `/console`. Anchor identifiers contain slashes: `{tail}` takes the rest of
/// the path, and `console::AnchorAction` reads it (`…/edit`, `…/delete`, `…/restore`).
fn console(cfg: &mut web::ServiceConfig) {
    use console::{anchors, session};
    cfg.route("", reading().to(console::start))
        .route("/", reading().to(console::start))
        .route("/sign-in", reading().to(session::sign_in_form))
        .route("/sign-in", web::post().to(session::sign_in))
        .route("/sign-out", web::post().to(session::sign_out))
        .route("/anchors", reading().to(anchors::browse))
        .route("/anchors/new", reading().to(console::edit::new_form))
        .route("/anchors/new", web::post().to(console::edit::create))
        .service(
            web::resource("/anchor/{tail:.*}")
                .route(reading().to(anchors::get))
                .route(web::post().to(console::edit::post)),
        )
        .route("/check", reading().to(console::check::page))
        .route("/qr/{tail:.*}", reading().to(console::qr::page))
        .route("/bulk", reading().to(console::bulk::form))
        .route("/bulk", web::post().to(console::bulk::upload))
        .route("/bulk/template.csv", reading().to(console::bulk::template))
        .route("/audit", reading().to(console::audit::page))
        .route("/linktypes", reading().to(console::linktypes::list))
        .route("/linktypes", web::post().to(console::linktypes::save))
        .route("/linktypes/{prefix}", reading().to(console::linktypes::one))
        .route(
            "/linktypes/{prefix}/delete",
            web::post().to(console::linktypes::delete),
        )
        .default_service(web::to(console::not_found));
}

/// A resource labelled `other` in the latency metric.
fn other(path: &str) -> actix_web::Resource {
    web::resource(path).app_data(RouteLabel::OTHER)
}

/// GET or HEAD: every read answers HEAD as it answers GET.
fn reading() -> actix_web::Route {
    web::route().guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
}

/// A preflight of an endpoint that only reads.
async fn read_only_preflight() -> actix_web::HttpResponse {
    guard::preflight(READ_ONLY)
}

/// Any method but GET, HEAD and OPTIONS on an endpoint that only reads: 405, before authentication.
async fn read_only_refused() -> Result<actix_web::HttpResponse, problem::ApiError> {
    Err(problem::ApiError::MethodNotAllowed(READ_ONLY))
}

const READ_ONLY: &str = "GET, HEAD, OPTIONS";

async fn collection_preflight() -> actix_web::HttpResponse {
    guard::preflight(COLLECTION)
}

/// Any method but GET, HEAD, POST and OPTIONS on `/api/v1/anchors`: 405, before authentication.
async fn collection_refused() -> Result<actix_web::HttpResponse, problem::ApiError> {
    Err(problem::ApiError::MethodNotAllowed(COLLECTION))
}

const COLLECTION: &str = "GET, HEAD, POST, OPTIONS";

/// The admin listener (`server.admin_listen`): metrics, readiness with its detail, liveness; nothing else.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::route().to(wellknown::healthz))
        .route("/readyz", web::route().to(wellknown::admin_readyz))
        .route("/metrics", web::route().to(wellknown::admin_metrics))
        .default_service(web::route().to(wellknown::admin_not_found));
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn secrets_never_reach_the_logs() {
        assert_eq!(redact_query("linkType=untp:dte"), "linkType=untp:dte");
        assert_eq!(
            redact_query("linkType=untp:dte&key=s3cret&decryptionKey=abc"),
            "linkType=untp:dte&key=REDACTED&decryptionKey=REDACTED"
        );
        assert_eq!(
            redact_query("KEY=x&%6Bey=y&keys=z"),
            "KEY=REDACTED&%6Bey=REDACTED&keys=z"
        );
        assert_eq!(redact_query("key"), "key");
        assert_eq!(redact_query(""), "");
    }
}

//! Discovery: the resolver description file (GS1 and UNTP paths), the link-type vocabulary, and health.

use super::AppState;
use super::problem::ApiError;
use crate::identifier::gs1;
use crate::identifier::scheme::CanonicalForm;
use crate::vocabulary::{LinkTypeDef, Vocabulary};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

const JSONLD_CONTEXT: &str = "https://ref.gs1.org/standards/resolver/1.2.0/linkset-context";

pub(super) fn read_only(req: &HttpRequest) -> Result<Option<HttpResponse>, ApiError> {
    match *req.method() {
        Method::GET | Method::HEAD => Ok(None),
        Method::OPTIONS => Ok(Some(super::guard::preflight("GET, HEAD, OPTIONS"))),
        _ => Err(ApiError::MethodNotAllowed("GET, HEAD, OPTIONS")),
    }
}

/// Liveness: the process serves HTTP. It does not touch the store, so a replica whose Redis is down stays up and
/// keeps answering scans from its cache.
pub async fn healthz(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#))
}

/// `/robots.txt`: no crawling (UNTP: resolver data must not be indexed; answers also carry `X-Robots-Tag: noindex`
/// where they hold data). A resolver's URIs are printed on products, not linked for search engines.
pub async fn robots(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("User-agent: *\nDisallow: /\n"))
}

/// Whether `/metrics` and the readiness detail moved to the admin listener (`server.admin_listen`).
fn has_admin_listener(state: &AppState) -> bool {
    state.settings.server.admin_addr().is_some()
}

/// Prometheus metrics on the public port: there only while no admin listener is configured.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if has_admin_listener(&state) {
        return Err(ApiError::NotFound("not found".into()));
    }
    admin_metrics(req, state).await
}

/// Prometheus metrics. Cache gauges are read at scrape time.
pub async fn admin_metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let Some(handle) = crate::telemetry::metrics() else {
        return Err(ApiError::NotFound(
            "metrics are not available in this process".into(),
        ));
    };
    if let Some(stats) = state.store.cache_stats() {
        use crate::telemetry::names;
        metrics::gauge!(names::CACHE_ENTRIES).set(stats.entries as f64);
        metrics::gauge!(names::CACHE_BYTES).set(stats.bytes as f64);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; version=0.0.4")
        .body(handle.render()))
}

/// Readiness on the public port. With an admin listener it is the bare status a load balancer needs
/// (`{"ready":true|false}`, `200`/`503`); the store kind and the reason stay on the admin listener.
pub async fn readyz(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let (status, mut body) = readiness(&state).await;
    if has_admin_listener(&state) {
        body = json!({"ready": status == StatusCode::OK});
    }
    Ok(readiness_response(status, body))
}

/// Readiness with its detail (store kind, why not ready), on the admin listener.
pub async fn admin_readyz(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let (status, body) = readiness(&state).await;
    Ok(readiness_response(status, body))
}

/// Anything else asked of the admin listener.
pub async fn admin_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(
        "the admin listener serves /metrics, /readyz and /healthz".into(),
    ))
}

/// Readiness: the store answers now, and the server is not draining for shutdown.
async fn readiness(state: &AppState) -> (StatusCode, Value) {
    let kind = if state.settings.redis_url().is_some() {
        "redis"
    } else {
        "embedded"
    };
    if state.draining.load(std::sync::atomic::Ordering::Acquire) {
        let body = json!({"ready": false, "store": kind, "detail": "shutting down"});
        return (StatusCode::SERVICE_UNAVAILABLE, body);
    }
    match state.coordination.ready().await {
        Ok(()) => (StatusCode::OK, json!({"ready": true, "store": kind})),
        Err(e) => {
            // What the store said is for the log; anyone may call /readyz.
            tracing::warn!(error = %e, "not ready: the store cannot be reached");
            let detail = "the store cannot be reached";
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"ready": false, "store": kind, "detail": detail}),
            )
        }
    }
}

fn readiness_response(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body.to_string())
}

/// One document satisfying both `/.well-known/gs1resolver` (GS1) and `/.well-known/resolver` (UNTP 0.7 IDR-14).
pub async fn description(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let root = state.origin(&req);
    let profile = format!("{root}/voc?show=linktypes");
    let vocabulary = state.vocabulary();
    let link_types: Vec<Value> = vocabulary
        .namespaces()
        .iter()
        .map(|ns| json!({"namespace": ns.uri, "prefix": format!("{}:", ns.prefix), "profile": profile}))
        .collect();
    let body = json!({
        "name": state.settings.resolver.name,
        "resolverRoot": root,
        "supportedPrimaryKeys": if state.parser.has_gs1() { gs1::primary_keys() } else { &[] },
        "supportedLinkType": link_types,
        // The Pyx/UNTP reference implementation's shape: [{"namespace", "type", "title", "description"}].
        "supportedLinkTypes": super::pyx::link_types(&state),
        // Link types that are one relation: a query in any of them finds a link registered in any other.
        "linkTypeEquivalences": vocabulary.equivalences(),
        "identifierSchemes": schemes(&state, &root),
        "linkTypeDefaultCanBeLinkset": false,
        "jsonLdContextLocation": JSONLD_CONTEXT,
    });
    Ok(json_response(body))
}

/// The configured schemes with a resolver URI template per key type (UNTP's identifier-scheme register asks for one).
fn schemes(state: &AppState, root: &str) -> Vec<Value> {
    state
        .parser
        .schemes()
        .iter()
        .map(|s| {
            let key_types: Vec<Value> = s
                .key_types
                .iter()
                .map(|k| {
                    let qualifiers: Vec<&str> = k.qualifiers.iter().map(|q| q.name.as_str()).collect();
                    let mut template = format!("{root}/{}/{}/{{key}}", s.namespace, k.name);
                    if let (CanonicalForm::Root, Some(r)) = (s.canonical, &k.root_path) {
                        template = format!("{root}/{r}/{{key}}");
                    }
                    json!({"name": k.name, "title": k.title, "qualifiers": qualifiers, "resolverUriTemplate": template})
                })
                .collect();
            let mut scheme = json!({"namespace": s.namespace, "title": s.title, "keyTypes": key_types});
            if s.native_gs1 {
                scheme["resolverUriTemplate"] = json!(format!("{root}/{{ai}}/{{value}}"));
            }
            scheme
        })
        .collect()
}

/// `/voc?show=linktypes` (and `/voc`): every link type we know, keyed by CURIE.
pub async fn vocabulary(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let vocabulary = state.vocabulary();
    let mut all = serde_json::Map::new();
    for def in vocabulary.all() {
        all.insert(def.curie.clone(), term_json(&vocabulary, def));
    }
    Ok(json_response(Value::Object(all)))
}

/// `/voc/{term}`: one link type, by any accepted spelling.
pub async fn term(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(r) = read_only(&req)? {
        return Ok(r);
    }
    let term = req.match_info().get("term").unwrap_or("");
    let vocabulary = state.vocabulary();
    match vocabulary.lookup(term) {
        Some(def) => {
            let mut body = term_json(&vocabulary, def);
            body["curie"] = json!(def.curie);
            Ok(json_response(body))
        }
        None => Err(ApiError::NotFound(format!("unknown link type {term:?}"))),
    }
}

/// One link type as the vocabulary views show it: its URI, the key linksets show, title, description, and the
/// link types declared the same relation (a query in any of them finds a link registered in any other).
fn term_json(vocabulary: &Vocabulary, def: &LinkTypeDef) -> Value {
    let mut body = json!({"uri": def.uri, "title": def.title, "description": def.description});
    if def.key != def.uri {
        body["linksetKey"] = json!(def.key);
    }
    let same = vocabulary.same_as(def);
    if !same.is_empty() {
        body["sameAs"] = json!(same);
    }
    body
}

fn json_response(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .content_type("application/json")
        .body(body.to_string())
}

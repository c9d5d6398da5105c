//! Per-request telemetry: a request id on every log line of the request (taken from `X-Request-Id` when the caller
//! sends a sane one, echoed back), latency by route, and resolution outcomes by link type.

use crate::telemetry::names;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The link type a resolution asked for (`gs1:pip`, `default`, `linkset`, `unknown`), for the outcome metric.
#[derive(Clone, Debug)]
pub struct LinkTypeLabel(pub std::borrow::Cow<'static, str>);

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let route = route_of(req.path());
    let id = request_id(req.headers().get(&REQUEST_ID));
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed().as_secs_f64();
    metrics::histogram!(names::REQUEST_DURATION, "route" => route).record(elapsed);
    if route == "resolve" {
        let outcome = outcome_of(res.status().as_u16());
        let link_type = res
            .request()
            .extensions()
            .get::<LinkTypeLabel>()
            .map_or(std::borrow::Cow::Borrowed("none"), |l| l.0.clone());
        metrics::counter!(names::RESOLUTIONS, "outcome" => outcome, "link_type" => link_type)
            .increment(1);
    }
    Ok(res)
}

/// Counts an accepted write by the credential that made it.
pub fn record_write(principal: &crate::auth::Principal, operation: &'static str) {
    metrics::counter!(names::WRITES, "credential" => principal.name.clone(), "operation" => operation).increment(1);
}

fn route_of(path: &str) -> &'static str {
    match path {
        p if p.starts_with("/api/v1/qr/") => "other",
        "/api/openapi.json" | "/api/docs" => "other",
        p if p.starts_with("/api/v1/") => "manage",
        p if p.starts_with("/api/") => "pyx",
        p if p.starts_with("/did:") => "did",
        "/healthz" | "/readyz" | "/metrics" => "other",
        p if p.starts_with("/.well-known/") || p.starts_with("/voc") => "other",
        _ => "resolve",
    }
}

fn outcome_of(status: u16) -> &'static str {
    match status {
        307 => "redirect",
        200 => "linkset",
        300 => "multiple_choices",
        404 => "not_found",
        503 => "unavailable",
        204 => "preflight",
        400..=499 => "bad_request",
        _ => "error",
    }
}

/// The caller's id when it is short and plain (it goes into logs and a header), else a new one.
fn request_id(given: Option<&HeaderValue>) -> String {
    let sane = |s: &&str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    };
    if let Some(id) = given.and_then(|v| v.to_str().ok()).filter(sane) {
        return id.to_string();
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ u64::from(std::process::id()).rotate_left(32)
    });
    format!("{seed:016x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        let given = HeaderValue::from_static("abc-123");
        assert_eq!(request_id(Some(&given)), "abc-123");
        let hostile = HeaderValue::from_static("a b\"c");
        let made = request_id(Some(&hostile));
        assert_ne!(made, "a b\"c");
        assert_ne!(request_id(None), request_id(None), "unique per request");
    }

    #[test]
    fn routes_and_outcomes() {
        assert_eq!(route_of("/01/09520123456788"), "resolve");
        assert_eq!(route_of("/api/v1/anchors/01/1"), "manage");
        assert_eq!(route_of("/api/2.0.0/resolver"), "pyx");
        assert_eq!(route_of("/did:web:a.example"), "did");
        assert_eq!(route_of("/.well-known/resolver"), "other");
        assert_eq!(outcome_of(307), "redirect");
        assert_eq!(outcome_of(422), "bad_request");
    }
}

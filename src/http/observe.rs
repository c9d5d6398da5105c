//! Per-request telemetry: a request id on every log line of the request (taken from `X-Request-Id` when the caller
//! sends a sane one, echoed back), latency by route, and resolution outcomes by link type.

use crate::telemetry::names;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::time::Instant;
use tracing::Instrument;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `route` label of a request's latency. Each part of the route table (`http::routes`) names its label as
/// resource data; actix hands the matched resource's data to the request while routing it, so `observe`, which wraps
/// the whole table, reads the label after the response. The resolution fallback tells DIDs apart itself (a route
/// for them would be a pattern every scan is matched against) and names `DID` in the request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteLabel(pub &'static str);

impl RouteLabel {
    /// Scans: whatever no route claims.
    pub const RESOLVE: RouteLabel = RouteLabel("resolve");
    /// did:web resolution.
    pub const DID: RouteLabel = RouteLabel("did");
    /// The native management API and the audit trail.
    pub const MANAGE: RouteLabel = RouteLabel("manage");
    /// The Pyx-compatible API.
    pub const PYX: RouteLabel = RouteLabel("pyx");
    /// The home page, discovery, health, metrics, vocabularies, QR codes, the API description.
    pub const OTHER: RouteLabel = RouteLabel("other");

    /// The label of the route that answered `req`.
    pub fn of(req: &actix_web::HttpRequest) -> RouteLabel {
        let label = req
            .app_data::<RouteLabel>()
            .copied()
            .unwrap_or(Self::RESOLVE);
        if label == Self::RESOLVE {
            if let Some(refined) = req.extensions().get::<RouteLabel>() {
                return *refined;
            }
        }
        label
    }
}

/// The link type a resolution asked for (`gs1:pip`, `default`, `linkset`, `unknown`), for the outcome metric.
#[derive(Clone, Debug)]
pub struct LinkTypeLabel(pub std::borrow::Cow<'static, str>);

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = request_id(req.headers().get(&REQUEST_ID));
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let route = RouteLabel::of(res.request());
    HANDLES.with_borrow_mut(|handles| {
        handles.duration(route.0).record(elapsed);
        if route == RouteLabel::RESOLVE {
            let outcome = outcome_of(res.status().as_u16());
            let extensions = res.request().extensions();
            let link_type = extensions.get::<LinkTypeLabel>().map_or("none", |l| &l.0);
            handles.count_resolution(outcome, link_type);
        }
    });
    Ok(res)
}

thread_local! {
    static HANDLES: std::cell::RefCell<Handles> = std::cell::RefCell::default();
}

/// Metric handles by label values, per worker thread. Looking a handle up in the recorder hashes its name and labels
/// and takes a lock shared by the workers, on every request; the label sets are few (routes, and outcomes by the
/// link types of the vocabulary), so each is looked up there once per thread.
#[derive(Default)]
struct Handles {
    durations: Vec<(&'static str, Histogram)>,
    resolutions: Vec<(&'static str, HashMap<Box<str>, Counter>)>,
}

impl Handles {
    fn duration(&mut self, route: &'static str) -> &Histogram {
        slot(
            &mut self.durations,
            route,
            || metrics::histogram!(names::REQUEST_DURATION, "route" => route),
        )
    }

    /// One hash of the link type per request: looked up, and inserted only the first time.
    fn count_resolution(&mut self, outcome: &'static str, link_type: &str) {
        let by_type = slot(&mut self.resolutions, outcome, HashMap::new);
        if let Some(counter) = by_type.get(link_type) {
            counter.increment(1);
            return;
        }
        let counter = metrics::counter!(names::RESOLUTIONS, "outcome" => outcome, "link_type" => link_type.to_owned());
        counter.increment(1);
        by_type.insert(link_type.into(), counter);
    }
}

/// The value kept for `key`, made the first time it is asked for.
fn slot<'a, V>(
    slots: &'a mut Vec<(&'static str, V)>,
    key: &'static str,
    make: impl FnOnce() -> V,
) -> &'a mut V {
    let at = match slots.iter().position(|(k, _)| *k == key) {
        Some(at) => at,
        None => {
            slots.push((key, make()));
            slots.len() - 1
        }
    };
    &mut slots[at].1
}

/// Counts an accepted write by the credential that made it.
pub fn record_write(principal: &crate::auth::Principal, operation: &'static str) {
    metrics::counter!(names::WRITES, "credential" => credential_label(principal), "operation" => operation)
        .increment(1);
}

/// The `credential` label: the credential's name, except for a party proven by a Digital Identity Anchor, which is
/// counted under its trust anchor (`dia:{issuer DID}`). Anyone a register vouches for may write, so their DIDs would
/// make the label's values unbounded; the configured anchors are few.
fn credential_label(principal: &crate::auth::Principal) -> String {
    match &principal.dia {
        Some(grant) => format!("dia:{}", grant.issuer),
        None => principal.name.clone(),
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
    new_request_id()
}

/// 128 random bits as 32 lowercase hex digits. Random, not a counter: ids reach clients (the `X-Request-Id` header)
/// and a sequence would tell them how many requests the resolver serves. The thread's ChaCha generator (seeded from
/// the OS) costs no system call per id.
fn new_request_id() -> String {
    use rand::Rng;
    let bits: u128 = rand::rng().random();
    let mut id = String::with_capacity(32);
    // Hex digits pushed by hand rather than `format!`: this runs for every request, and the formatting machinery
    // costs more than the id is worth (docs/performance.md, "Choices the figures rest on").
    for shift in (0..32).rev() {
        id.push(char::from(
            b"0123456789abcdef"[(bits >> (shift * 4)) as usize & 0xf],
        ));
    }
    id
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
        assert_eq!(made.len(), 32);
    }

    /// Made ids are 128-bit random hex: distinct, the right shape, and no counter shows through (neither in the
    /// numbers nor in a shared prefix).
    #[test]
    fn made_request_ids_reveal_no_sequence() {
        let ids: Vec<String> = (0..1000).map(|_| request_id(None)).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "ids repeat");
        let values: Vec<u128> = ids
            .iter()
            .map(|id| u128::from_str_radix(id, 16).unwrap())
            .collect();
        let rising = values.windows(2).filter(|w| w[1] > w[0]).count();
        // A counter rises 999 times out of 999; random values about half the time.
        assert!(
            (300..700).contains(&rising),
            "{rising} of 999 consecutive ids rose"
        );
        let differences: std::collections::HashSet<u128> =
            values.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        assert!(
            differences.len() > 990,
            "ids step by a constant: {} distinct steps",
            differences.len()
        );
        // No shared leading digits (a per-process prefix plus a counter had 17).
        let shared = ids.windows(2).filter(|w| w[0][..4] == w[1][..4]).count();
        assert!(
            shared < 10,
            "{shared} consecutive ids share their first 4 hex digits"
        );
        // Another thread's generator is seeded on its own.
        let other = std::thread::spawn(|| request_id(None)).join().unwrap();
        assert!(!ids.contains(&other));
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome_of(307), "redirect");
        assert_eq!(outcome_of(422), "bad_request");
    }
}

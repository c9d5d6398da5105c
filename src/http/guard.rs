//! What protects the server from bad input and floods before any handler runs: URI, header and path-segment limits,
//! a global cap on concurrent resolutions (excess shed at once with 503, never queued), a per-credential rate limit
//! for the management API, a JSON nesting limit, and CORS by audience (any origin may read public resolution; only
//! configured origins may script the management API).

use super::AppState;
use super::problem::{PROBLEM_JSON, problem_body};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Who a route is for. The route table (`http::routes`) wraps each route in `public` or `management`, so a route's
/// audience is where it sits in the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Scans, discovery, QR codes, API descriptions: anonymous, any origin.
    Public,
    /// The management APIs: credentials, configured origins only.
    Management,
}

/// The URI, path-segment and header limits a request exceeds, as the status and detail of its refusal.
fn over_limits(
    req: &ServiceRequest,
    limits: &crate::config::LimitSettings,
) -> Option<(StatusCode, String)> {
    let uri_bytes = req.uri().path().len() + req.uri().query().map_or(0, |q| q.len() + 1);
    if uri_bytes > limits.max_uri_bytes {
        let detail = format!("the URI is longer than {} bytes", limits.max_uri_bytes);
        return Some((StatusCode::URI_TOO_LONG, detail));
    }
    let segments = req.uri().path().split('/').count().saturating_sub(1);
    if segments > limits.max_path_segments {
        let detail = format!(
            "the path has more than {} segments",
            limits.max_path_segments
        );
        return Some((StatusCode::URI_TOO_LONG, detail));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > limits.max_header_bytes {
        let detail = format!(
            "the headers are larger than {} bytes",
            limits.max_header_bytes
        );
        return Some((StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, detail));
    }
    None
}

/// The middleware of the public routes in the table (`http::routes`): resolution capacity, and CORS for any origin.
pub async fn public(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    admit(Audience::Public, req, next).await
}

/// The middleware of the management routes in the table: CORS for the configured origins only, and no share of the
/// resolution capacity (the rate limit of each credential, `access::Caller`, bounds them instead).
pub async fn management(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    admit(Audience::Management, req, next).await
}

/// What every route gets, by its audience: the URI, path-segment and header limits; for public requests a permit of
/// resolution capacity while in flight (none left: shed at once with 503, never queued); and the audience's CORS
/// headers on every answer, refusals included.
async fn admit(
    audience: Audience,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if let Some((status, detail)) = over_limits(&req, &state.settings.limits) {
        return Ok(refuse(req, audience, status, detail, &state));
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let _permit = match audience {
        Audience::Public => match state.resolutions.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let mut res = refuse(
                    req,
                    audience,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the resolver is at capacity; retry shortly".into(),
                    &state,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return Ok(res);
            }
        },
        Audience::Management => None,
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    cors(res.headers_mut(), audience, origin.as_ref(), &state);
    Ok(res)
}

fn refuse(
    req: ServiceRequest,
    audience: Audience,
    status: StatusCode,
    detail: String,
    state: &AppState,
) -> ServiceResponse<BoxBody> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let title = status.canonical_reason().unwrap_or("Refused");
    let body = problem_body(status, title, &detail);
    let response = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.to_string());
    let mut res = req.into_response(response);
    cors(res.headers_mut(), audience, origin.as_ref(), state);
    res
}

fn cors(
    headers: &mut header::HeaderMap,
    audience: Audience,
    origin: Option<&HeaderValue>,
    state: &AppState,
) {
    let allowed = match audience {
        Audience::Public => Some(HeaderValue::from_static("*")),
        Audience::Management => origin
            .filter(|o| {
                o.to_str().is_ok_and(|o| {
                    state
                        .settings
                        .server
                        .management_cors_origins
                        .iter()
                        .any(|a| a == o)
                })
            })
            .cloned(),
    };
    if audience == Audience::Management {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    let Some(allowed) = allowed else { return };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_METHODS) {
        // GS1's conformance suite reads the allowed methods from a plain GET, not only from preflights.
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, OPTIONS"),
        );
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Link, Location, ETag, Retry-After, X-Request-Id"),
    );
}

/// Answers a CORS preflight.
pub fn preflight(allow: &'static str) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ALLOW, allow))
        .insert_header(("Access-Control-Allow-Methods", allow))
        .insert_header((
            "Access-Control-Allow-Headers",
            "Accept, Accept-Language, Authorization, Content-Type, DIA, If-Match, If-None-Match",
        ))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

/// Who a request comes from, for limits per client address: the peer, or, when the peer is a proxy the operator
/// trusts (`server.trusted_proxies`), the nearest address in `X-Forwarded-For` that is not one of them. Without
/// trusted proxies the header is ignored: anyone could write it.
#[derive(Clone, Debug, Default)]
pub struct ClientAddresses {
    trusted: Vec<ipnet::IpNet>,
}

impl ClientAddresses {
    /// From `server.trusted_proxies`: addresses or CIDRs; a bad entry names its index.
    pub fn from_settings(
        entries: &[String],
    ) -> Result<ClientAddresses, crate::config::ConfigError> {
        let trusted = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        crate::config::ConfigError::invalid(
                            format!("server.trusted_proxies[{i}]"),
                            format!("{entry:?} is neither an IP address nor a CIDR"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(ClientAddresses { trusted })
    }

    fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: walking from the peer back through `X-Forwarded-For` (right to left) while the hop
    /// is a trusted proxy; a hop that is not an address stops the walk at the proxy that wrote it.
    pub fn of(&self, req: &actix_web::HttpRequest) -> String {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return String::new();
        };
        let mut client = peer;
        if self.trusts(peer) {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect::<Vec<_>>();
            for hop in forwarded.iter().rev() {
                match hop.trim().parse::<std::net::IpAddr>() {
                    Ok(ip) => {
                        client = ip;
                        if !self.trusts(ip) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        client.to_string()
    }
}

/// A token bucket per client: per credential for the management API, per address for conversions. Buckets that
/// have refilled are forgotten once more than `MAX_BUCKETS` are held, so many clients cannot grow it without bound.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Buckets held before the full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate: rate.max(0.001),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `credential`, or says how long until one is available.
    pub fn check(&self, credential: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(credential) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = buckets
            .entry(credential.to_string())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// How deeply a JSON document nests (objects and arrays), without parsing it: refused before serde recurses.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a": [1, {"b": "[[[{{{"}]}"#), 3);
        assert_eq!(json_depth(br#"{"a": "\"[[["}"#), 1);
        assert_eq!(json_depth(b"[[[[[]]]]]"), 5);
        assert_eq!(json_depth(b"12"), 0);
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let limiter = RateLimiter::new(1000.0, 2.0);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(wait <= Duration::from_millis(2), "{wait:?}");
        assert!(limiter.check("b").is_ok(), "buckets are per credential");
        std::thread::sleep(Duration::from_millis(5));
        assert!(limiter.check("a").is_ok());
    }
}

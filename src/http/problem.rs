//! The one place where errors become HTTP answers: RFC 9457 `application/problem+json`.

use crate::auth::AuthError;
use crate::auth::dia::DiaError;
use crate::did::DidError;
use crate::identifier::IdentifierError;
use crate::identifier::gs1::carrier::CarrierError;
use crate::identifier::gs1::to_epc::ToEpcError;
use crate::qr::QrError;
use crate::registration::FieldError;
use crate::registry::StoreError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The `detail` of store failures (`503`), the same on every store.
const STORE_UNAVAILABLE: &str = "the link store cannot answer now; try again shortly";
const STORE_UNCERTAIN: &str = "the link store did not confirm the write: it may or may not have been applied; \
    repeat it (with If-Match if it matters)";
const STORE_UNREADABLE: &str =
    "a stored record could not be read (the server's log says which and why)";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Identifier(#[from] IdentifierError),
    /// No credential, or one that does not hold for this request. `scope` is the scope the request needed, when
    /// the path names an identifier.
    #[error("{error}{}", scope.as_ref().map(|s| format!(" (this request needs a credential whose scopes cover {s})")).unwrap_or_default())]
    Unauthorized {
        error: AuthError,
        scope: Option<String>,
    },
    /// `identifier` is also the scope that was needed.
    #[error("this credential's scopes ({held}) do not cover {identifier}")]
    Forbidden { identifier: String, held: String },
    /// A rule refuses this credential this request on `identifier` (a DIA that names another identifier, a
    /// lifecycle contributor deleting): `403` naming the rule.
    #[error("{reason}")]
    Refused { identifier: String, reason: String },
    #[error("{}", .0.message)]
    BadBody(FieldError),
    /// The request conflicts with what is configured (a scheme namespace that would capture GS1 URIs).
    #[error("{}", .0.message)]
    Conflict(FieldError),
    #[error("the submitted anchor is invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("method not allowed; allowed: {0}")]
    MethodNotAllowed(&'static str),
    #[error("request body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Something this request depends on upstream cannot be fetched now (a DIA's status list): `503` with
    /// `Retry-After`.
    #[error("{message}")]
    Unavailable { message: String, retry_after: u64 },
    /// A part of the body larger than a limit allows (`413` naming the field).
    #[error("{}", .0.message)]
    TooLargeField(FieldError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Did(#[from] DidError),
    /// A QR code option or size problem (identifier and DID problems become `Identifier` and `Did`).
    #[error("{0}")]
    Qr(QrError),
    /// Carrier data (`/api/v1/convert`) that does not convert.
    #[error("{0}")]
    Carrier(#[from] CarrierError),
    /// Converted data that has no EPC URI of the kind asked for (`/api/v1/convert?gcpLength=…`).
    #[error("{0}")]
    ToEpc(#[from] ToEpcError),
    #[error("too many management requests from this credential; retry in {} s", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    /// The public conversion endpoint's limit per client address (`limits.convert_requests_per_second`).
    #[error("too many conversion requests from this address; retry in {} s", .0.as_secs().max(1))]
    TooManyConversions(std::time::Duration),
    /// A failure of the server's own code (a bug): `500`, logged; the client gets a fixed text.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<QrError> for ApiError {
    fn from(e: QrError) -> Self {
        match e {
            QrError::Identifier(e) => ApiError::Identifier(e),
            QrError::Did(e) => ApiError::Did(DidError::Syntax(e)),
            other => ApiError::Qr(other),
        }
    }
}

/// A store failure during authentication (the replay check) is the store's problem, not the caller's; so is a DID
/// document not fetched because its host's fetch budget is spent (`503` with `Retry-After`, like a scan).
impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(e) => ApiError::Store(e),
            AuthError::DidResolution {
                error: error @ DidError::Busy { .. },
                ..
            } => ApiError::Did(error),
            // The trust anchor's host or its status list failing is not the caller's fault: 504 or 503.
            AuthError::Dia(dia) => match *dia {
                DiaError::IssuerResolution {
                    error: error @ (DidError::Timeout { .. } | DidError::Busy { .. }),
                    ..
                } => ApiError::Did(error),
                error @ DiaError::StatusUnavailable { retry_after, .. } => ApiError::Unavailable {
                    message: error.to_string(),
                    retry_after,
                },
                other => ApiError::Unauthorized {
                    error: AuthError::Dia(Box::new(other)),
                    scope: None,
                },
            },
            error => ApiError::Unauthorized { error, scope: None },
        }
    }
}

impl From<crate::registration::WriteError> for ApiError {
    fn from(e: crate::registration::WriteError) -> Self {
        match e {
            crate::registration::WriteError::Invalid(errors) => ApiError::Invalid(errors),
            crate::registration::WriteError::Store(e) => ApiError::Store(e),
        }
    }
}

impl ApiError {
    fn title(&self) -> &'static str {
        match self {
            ApiError::Identifier(_) => "Invalid identifier",
            ApiError::Unauthorized { .. } => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::BadBody(_) | ApiError::BadRequest(_) => "Bad request",
            ApiError::Conflict(_) => "Conflict",
            ApiError::Invalid(errors) if errors.iter().any(|e| e.refused) => "Forbidden",
            ApiError::Invalid(_) => "Invalid anchor",
            ApiError::Refused { .. } => "Forbidden",
            ApiError::NotFound(_) => "Not found",
            ApiError::Store(StoreError::PreconditionFailed { .. }) => "Precondition failed",
            ApiError::Store(_) | ApiError::Unavailable { .. } => "Service unavailable",
            ApiError::MethodNotAllowed(_) => "Method not allowed",
            ApiError::PayloadTooLarge(_) | ApiError::TooLargeField(_) => "Payload too large",
            ApiError::TooManyRequests(_) | ApiError::TooManyConversions(_) => "Too many requests",
            ApiError::Did(DidError::Syntax(_)) => "Invalid DID",
            ApiError::Did(DidError::Disabled | DidError::NotFound { .. }) => "Not found",
            ApiError::Did(DidError::Timeout { .. } | DidError::LinksetTimeout { .. }) => {
                "Gateway timeout"
            }
            ApiError::Did(DidError::Busy { .. } | DidError::LinksetBusy { .. }) => {
                "Service unavailable"
            }
            ApiError::Did(_) => "Bad gateway",
            ApiError::Qr(QrError::Encode(_)) | ApiError::Internal(_) => "Internal server error",
            ApiError::Qr(_) => "Bad request",
            ApiError::Carrier(_) => "Invalid carrier data",
            ApiError::ToEpc(_) => "No EPC URI",
        }
    }

    /// The scope a refused request needed (RFC 6750's `scope`), as a problem member.
    fn needed_scope(&self) -> Option<&str> {
        match self {
            ApiError::Unauthorized { scope, .. } => scope.as_deref(),
            ApiError::Forbidden { identifier, .. } | ApiError::Refused { identifier, .. } => {
                Some(identifier)
            }
            _ => None,
        }
    }

    /// The problem's `detail`. A store failure gets a fixed text per kind: what the store said (a Redis or redb
    /// message, a key, a decoding error) is for the operator's log, not for the client.
    pub(crate) fn detail(&self) -> String {
        match self {
            ApiError::Store(StoreError::Unavailable(_)) => STORE_UNAVAILABLE.to_string(),
            ApiError::Store(StoreError::Uncertain(_)) => STORE_UNCERTAIN.to_string(),
            ApiError::Store(StoreError::Decode { .. }) => STORE_UNREADABLE.to_string(),
            ApiError::Internal(_) => "the server failed to answer (its log says why)".to_string(),
            ApiError::Invalid(errors) if errors.iter().any(|e| e.refused) => {
                let refused = errors.iter().filter(|e| e.refused);
                let texts: Vec<String> = refused
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                texts.join("; ")
            }
            other => other.to_string(),
        }
    }

    /// What every answer to an error does besides answering, whatever renders it (a problem document here, an
    /// HTML page in the console): a store failure is counted (`STORE_ERRORS`) and logged with the store's own
    /// words, which go nowhere else; an internal error is logged.
    pub(crate) fn observe(&self, status: StatusCode) {
        if let ApiError::Store(e) = self {
            let kind = match e {
                StoreError::PreconditionFailed { .. } => None,
                StoreError::Unavailable(_) => Some("unavailable"),
                StoreError::Uncertain(_) => Some("uncertain"),
                StoreError::Decode { .. } => Some("decode"),
            };
            if let Some(kind) = kind {
                metrics::counter!(crate::telemetry::names::STORE_ERRORS, "kind" => kind)
                    .increment(1);
                // The only place the store's own words go: the answer's detail is generic (`detail`).
                tracing::error!(kind, error = %self, "store failure");
            }
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "internal error");
        }
    }

    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Invalid(errors) => errors.clone(),
            ApiError::BadBody(e) | ApiError::Conflict(e) | ApiError::TooLargeField(e) => {
                vec![e.clone()]
            }
            ApiError::Identifier(e) => vec![FieldError::new("identifier", e.to_string())],
            ApiError::Qr(QrError::Option { parameter, reason }) => {
                vec![FieldError::new(*parameter, reason.clone())]
            }
            ApiError::Qr(e @ QrError::TooLong { .. }) => {
                vec![FieldError::new("ecc", e.to_string())]
            }
            ApiError::Carrier(e) => vec![FieldError::new("data", e.to_string())],
            ApiError::ToEpc(e) => vec![FieldError::new(e.parameter(), e.to_string())],
            _ => vec![],
        }
    }
}

/// One challenge per accepted scheme: API keys, and DID-signed requests with the algorithms accepted (as DPoP,
/// RFC 9449, advertises `algs`).
fn challenges(scope: Option<&str>) -> Vec<HeaderValue> {
    // Canonical paths are plain ASCII; anything a quoted-string cannot carry as is is left out.
    let quotable = |s: &&str| {
        s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    };
    let scope = scope
        .filter(quotable)
        .map(|s| format!(", scope=\"{s}\""))
        .unwrap_or_default();
    let did = crate::auth::did::SCHEME;
    let algs = crate::auth::did::ALGORITHMS;
    [
        format!("Bearer realm=\"idr\"{scope}"),
        format!("{did} realm=\"idr\", algs=\"{algs}\"{scope}"),
    ]
    .into_iter()
    .filter_map(|c| HeaderValue::from_str(&c).ok())
    .collect()
}

/// The RFC 9457 members every problem document has.
pub fn problem_body(status: StatusCode, title: &str, detail: &str) -> serde_json::Value {
    json!({"type": "about:blank", "title": title, "status": status.as_u16(), "detail": detail})
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Identifier(_) | ApiError::BadBody(_) | ApiError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } | ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            // The issue contract: a link type no vocabulary knows is a 400; other broken rules are 422.
            ApiError::Invalid(errors) if errors.iter().any(|e| e.refused) => StatusCode::FORBIDDEN,
            ApiError::Invalid(errors) if errors.iter().any(|e| e.unknown_term) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(StoreError::PreconditionFailed { .. }) => {
                StatusCode::PRECONDITION_FAILED
            }
            ApiError::Store(_) | ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) | ApiError::TooLargeField(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::TooManyRequests(_) | ApiError::TooManyConversions(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            // A bad DID is the client's fault; anything the DID's host did wrong is an upstream failure.
            ApiError::Did(DidError::Syntax(_)) => StatusCode::BAD_REQUEST,
            ApiError::Did(DidError::Disabled | DidError::NotFound { .. }) => StatusCode::NOT_FOUND,
            ApiError::Did(DidError::Timeout { .. } | DidError::LinksetTimeout { .. }) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            ApiError::Did(DidError::Busy { .. } | DidError::LinksetBusy { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Did(_) => StatusCode::BAD_GATEWAY,
            // Encoding into a buffer we own fails only on a bug; everything else is the request's options.
            ApiError::Qr(QrError::Encode(_)) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Qr(_) => StatusCode::BAD_REQUEST,
            ApiError::Carrier(_) => StatusCode::BAD_REQUEST,
            ApiError::ToEpc(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        self.observe(status);
        let mut body = problem_body(status, self.title(), &self.detail());
        let errors = self.errors();
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        if let Some(scope) = self.needed_scope() {
            body["scope"] = json!(scope);
        }
        if let ApiError::Carrier(e) = self {
            if let Some(position) = e.position() {
                // where in `data` the problem is (a byte offset from 0)
                body["position"] = json!(position);
            }
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::Unauthorized { scope, .. } => {
                for challenge in challenges(scope.as_deref()) {
                    response.append_header((header::WWW_AUTHENTICATE, challenge));
                }
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, *allow));
            }
            ApiError::Store(StoreError::Unavailable(_) | StoreError::Uncertain(_)) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Did(
                DidError::Busy { seconds, .. } | DidError::LinksetBusy { seconds, .. },
            ) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            ApiError::Unavailable { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after.max(&1).to_string()));
            }
            ApiError::TooManyRequests(wait) | ApiError::TooManyConversions(wait) => {
                let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (u16, serde_json::Value) {
        let response = error.error_response();
        let status = response.status().as_u16();
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn did_fetch_failures_name_the_did_only() {
        let did = "did:web:brand.example";
        let (status, body) =
            body_of(ApiError::Did(DidError::Unreachable { did: did.into() })).await;
        assert_eq!(status, 502);
        assert_eq!(
            body["detail"],
            format!("the DID document of {did} could not be fetched")
        );
        let busy = DidError::Busy {
            did: did.into(),
            seconds: 7,
        };
        let response = ApiError::from(AuthError::DidResolution {
            did: did.into(),
            error: busy,
        })
        .error_response();
        assert_eq!(
            response.status(),
            503,
            "a spent fetch budget is not the caller's fault"
        );
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "7");
        let unreachable = ApiError::from(AuthError::DidResolution {
            did: did.into(),
            error: DidError::Unreachable { did: did.into() },
        });
        assert_eq!(unreachable.status_code(), 401);
    }

    #[tokio::test]
    async fn store_failures_keep_the_store_words_out_of_the_answer() {
        let secret = "ResponseError: value is not an integer or out of range";
        let decode = StoreError::Decode {
            key: "01/09520123456788".into(),
            source: crate::registry::record::DecodeError::Corrupt(secret.into()),
        };
        for (error, detail) in [
            (StoreError::Unavailable(secret.into()), STORE_UNAVAILABLE),
            (StoreError::Uncertain(secret.into()), STORE_UNCERTAIN),
            (decode, STORE_UNREADABLE),
        ] {
            let (status, body) = body_of(ApiError::Store(error)).await;
            assert_eq!(status, 503);
            assert_eq!(body["detail"], detail);
            assert!(!body.to_string().contains("integer"), "{body}");
        }
        let (status, body) = body_of(ApiError::Store(StoreError::PreconditionFailed {
            current: Some(3),
        }))
        .await;
        assert_eq!(status, 412);
        assert!(
            body["detail"].as_str().unwrap().contains("version 3"),
            "{body}"
        );
    }
}

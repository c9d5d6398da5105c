//! Console sessions: an API key (or the admin token) is exchanged once for a session cookie, and the browser never
//! holds the key again.
//!
//! The cookie holds a random 256-bit id only (HttpOnly, SameSite=Strict, Path=/console, Max-Age = the session's
//! lifetime, Secure when the public origin is https). The store holds, under the SHA-256 of that id, which key it is
//! (the SHA-256 of the key's secret, as the key store does: never the secret), its expiry and its CSRF token, with a
//! TTL, in the shared store (embedded or Redis), so any replica accepts it and a sign-out on one ends it on all. Every
//! request looks the key up again (`Authenticator::by_digest`), so a revoked or expired key ends its sessions at
//! once, and takes a token from the key's rate limit, as an API request does.

use super::form::Form;
use super::{ConsoleError, csrf, layout, url};
use crate::auth::Principal;
use crate::http::AppState;
use crate::http::problem::ApiError;
use crate::registry::sessions::id_digest;
use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::LocalBoxFuture;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

/// The session cookie.
pub const COOKIE: &str = "idr_console";
/// The sign-in form's own CSRF cookie (double submit: the form carries the same value), before any session exists.
pub const SIGN_IN_COOKIE: &str = "idr_console_sign_in";
/// How long a sign-in form may wait to be submitted.
const SIGN_IN_SECONDS: u64 = 3600;

/// What the store keeps of a session.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// Lower-case hex SHA-256 of the key's secret: which key signed in.
    key: String,
    /// The CSRF token every form of this session carries.
    csrf: String,
    /// Unix seconds.
    expires: u64,
}

/// A signed-in request: the principal of the session's key (looked up again for this request), and the session's
/// CSRF token. As a handler argument, a request without a live session is sent to the sign-in page.
pub struct Signed {
    pub principal: Principal,
    /// For the hidden `csrf` field of every form (`csrf::field`).
    pub csrf: String,
    /// The name the session is stored under (`id_digest` of the cookie).
    name: String,
}

impl Signed {
    /// The session of `req`, if it has a live one whose key still authenticates.
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Signed, ConsoleError> {
        let Some(id) = cookie(req, COOKIE) else {
            return Err(ConsoleError::SignIn {
                stale_cookie: false,
            });
        };
        let stale = ConsoleError::SignIn { stale_cookie: true };
        let name = id_digest(id);
        let Some(document) = state.sessions.session(&name).await? else {
            return Err(stale);
        };
        let Ok(stored) = serde_json::from_str::<Stored>(&document) else {
            return Err(stale);
        };
        if stored.expires <= crate::auth::now() {
            return Err(stale);
        }
        let Some(digest) = crate::auth::parse_hex_digest(&stored.key) else {
            return Err(stale);
        };
        let Ok(principal) = state.auth.by_digest(&digest) else {
            // Revoked or expired since sign-in: the session ends with it.
            let _ = state.sessions.delete_session(&name).await;
            return Err(stale);
        };
        state
            .rate_limiter
            .check(&principal.name)
            .map_err(ApiError::TooManyRequests)?;
        Ok(Signed {
            principal,
            csrf: stored.csrf,
            name,
        })
    }

    /// `Ok` when `presented` is this session's CSRF token and the request is not from another site; else 403.
    /// `Posted` does this for urlencoded forms; a handler reading another kind of body calls it with the token it
    /// found there.
    pub fn check_csrf(
        &self,
        req: &HttpRequest,
        presented: Option<&str>,
    ) -> Result<(), ConsoleError> {
        csrf::check(req, &self.csrf, presented)
    }

    /// The hidden CSRF input for a form of this session.
    pub fn csrf_field(&self) -> Markup {
        csrf::field(&self.csrf)
    }
}

impl FromRequest for Signed {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Signed, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Err(ConsoleError::SignIn {
                    stale_cookie: false,
                });
            };
            Signed::of(&req, &state).await
        })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for the console: HttpOnly, SameSite=Strict, Path=/console, `Max-Age`, and Secure when the
/// public origin is https (a plain-http origin, such as a local test server, could not set a Secure cookie).
fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{name}={value}; Max-Age={max_age}; Path={}; HttpOnly; SameSite=Strict{secure}",
        super::ROOT
    )
}

/// The session cookie, expired.
pub fn expired_cookie() -> String {
    set_cookie(COOKIE, "", 0, false)
}

fn is_https(req: &HttpRequest, state: &AppState) -> bool {
    state.origin(req).starts_with("https://")
}

/// A random 256-bit value, base64url.
pub(super) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `GET /console/sign-in`: the form, with a fresh sign-in CSRF cookie.
pub async fn sign_in_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    // A sign-in form open in another tab keeps working: its cookie's token is reused while it lasts.
    let token = cookie(&req, SIGN_IN_COOKIE)
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(random_token, str::to_string);
    let mut response = layout::respond(StatusCode::OK, sign_in_page(&token, None));
    append_cookie(
        &mut response,
        &set_cookie(
            SIGN_IN_COOKIE,
            &token,
            SIGN_IN_SECONDS,
            is_https(&req, &state),
        ),
    );
    response
}

/// `POST /console/sign-in`: `key` (an API key or the admin token) and `csrf` (the sign-in cookie's value).
/// Success: a new session, its cookie, and `303` to Browse. A wrong key: `401`, the form again with the error beside
/// the field.
pub async fn sign_in(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Form::read(&req, payload, &state).await?;
    let expected = cookie(&req, SIGN_IN_COOKIE).ok_or(ConsoleError::Csrf)?;
    csrf::check(&req, expected, form.get("csrf"))?;
    // Guessing keys costs the same as through the API: one token of this address's bucket per attempt.
    let address = state.client_addresses.of(&req);
    state
        .rate_limiter
        .check(&format!("console sign-in from {address}"))
        .map_err(ApiError::TooManyRequests)?;
    let key = form.get("key").unwrap_or("").trim();
    let principal = match key {
        "" => Err("enter an API key"),
        key => match state.auth.authenticate(Some(&format!("Bearer {key}"))) {
            Ok(principal) => Ok(principal),
            Err(crate::auth::AuthError::Expired) => Err("this key expired; ask for a new one"),
            Err(_) => Err("this key is not known here, or was revoked"),
        },
    };
    let principal = match principal {
        Ok(principal) => principal,
        Err(error) => {
            tracing::info!(%address, "console sign-in refused");
            return Ok(layout::respond(
                StatusCode::UNAUTHORIZED,
                sign_in_page(expected, Some(error)),
            ));
        }
    };
    // Signing in again replaces the browser's session: the one it held ends on the server too.
    if let Some(previous) = cookie(&req, COOKIE) {
        state.sessions.delete_session(&id_digest(previous)).await?;
    }
    let id = random_token();
    let lifetime = state.settings.console.session_lifetime();
    let stored = Stored {
        key: crate::auth::hex_digest(key),
        csrf: random_token(),
        expires: crate::auth::now() + lifetime.as_secs(),
    };
    let document = serde_json::to_string(&stored)
        .map_err(|e| ApiError::Internal(format!("session record: {e}")))?;
    state
        .sessions
        .put_session(&id_digest(&id), &document, lifetime)
        .await?;
    tracing::info!(credential = principal.name, "console session opened");
    let secure = is_https(&req, &state);
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url("/anchors")))
        .finish();
    append_cookie(
        &mut response,
        &set_cookie(COOKIE, &id, lifetime.as_secs(), secure),
    );
    append_cookie(&mut response, &set_cookie(SIGN_IN_COOKIE, "", 0, secure));
    Ok(response)
}

/// `POST /console/sign-out` (with the session's CSRF token): the session is deleted from the store, so the cookie,
/// replayed, opens nothing; the cookie is expired; `303` to the sign-in page.
pub async fn sign_out(
    req: HttpRequest,
    posted: super::Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    state.sessions.delete_session(&posted.signed.name).await?;
    tracing::info!(
        credential = posted.signed.principal.name,
        "console session closed"
    );
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url("/sign-in")))
        .finish();
    append_cookie(
        &mut response,
        &set_cookie(COOKIE, "", 0, is_https(&req, &state)),
    );
    Ok(response)
}

fn append_cookie(response: &mut HttpResponse, value: &str) {
    if let Ok(v) = header::HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The sign-in page: one password field (so the key is not shown or remembered as plain text), its error beside it.
fn sign_in_page(token: &str, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Sign in" }
        p { "Sign in with an API key of this resolver (or its admin token). The key is exchanged for a session; it "
            "is not kept in this browser." }
        form method="post" action=(url("/sign-in")) novalidate {
            @if let Some(error) = error {
                div #form-errors role="alert" tabindex="-1" {
                    p { "Sign-in failed:" }
                    ul { li { a href="#key" { (error) } } }
                }
            }
            (csrf::field(token))
            (layout::input(&layout::Field {
                id: "key",
                name: "key",
                label: "API key",
                kind: "password",
                value: "",
                hint: None,
                error,
                autocomplete: Some("current-password"),
            }))
            button #sign-in type="submit" { "Sign in" }
        }
    };
    layout::bare("Sign in", body)
}

//! The issuer console, `/console`: pages in the browser for the people who register links, behind the same
//! credentials and scopes as the management API, and writing through the same functions.
//!
//! - `session`: signing in with an API key (exchanged for a session cookie; the key never reaches the browser
//!   again), signing out, and `Signed`, the extractor that gives a handler the signed-in principal;
//! - `csrf`: the token every form carries, and the check every `POST` makes (`Posted` does both);
//! - `form`: reading an `application/x-www-form-urlencoded` body within the size limit;
//! - `layout`: the page shell (skip link, nav, sign-out form), the style, the security headers (`headers`);
//! - `anchors`: Browse and the anchor page; `edit`: creating, editing, deleting and restoring an anchor.
//!
//! The route table (`http::routes`) mounts these under `web::scope("/console")`, behind `switch` (the operator's
//! `console.enabled`: off, every `/console` path answers `404`), `guard::management` (request limits) and
//! `layout::headers` (CSP, no caching, no framing).

pub mod anchors;
pub mod audit;
pub mod bulk;
pub mod check;
pub mod csrf;
pub mod edit;
pub mod form;
pub mod layout;
pub mod linktypes;
pub mod qr;
pub mod session;

pub use csrf::Posted;
pub use session::Signed;

use super::AppState;
use super::problem::ApiError;
use crate::identifier::Identifier;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use maud::html;

/// Where the console is mounted. Cookies are scoped to it (`Path=/console`).
pub const ROOT: &str = "/console";

/// The operator's switch (`console.enabled`), the outermost middleware of the console's scope: when off, every
/// `/console` path, whatever the method, answers `404` before any handler runs, as a path nothing serves.
pub async fn switch(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let enabled = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.console.enabled);
    if enabled {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let status = StatusCode::NOT_FOUND;
    let body = super::problem::problem_body(status, "Not Found", "nothing is served at this path");
    let response = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, super::problem::PROBLEM_JSON))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.to_string());
    Ok(req.into_response(response))
}

/// A link under the console: `ROOT` then `path`.
pub fn url(path: &str) -> String {
    format!("{ROOT}{path}")
}

/// The console page of an anchor (`/console/anchor/{identifier}`), with `action` after it (`""`, `/edit`, …).
pub fn anchor_url(key: &Identifier, action: &str) -> String {
    format!("{ROOT}/anchor/{}{action}", key.canonical_path())
}

/// What a path under `/console/anchor/` names: an anchor and what to do with it.
#[derive(Debug)]
pub enum AnchorAction {
    /// `{identifier}`: the anchor page.
    View(Identifier),
    /// `{identifier}/edit`: the edit form (GET) or its save (POST).
    Edit(Identifier),
    /// `{identifier}/delete` (POST).
    Delete(Identifier),
    /// `{identifier}/restore` (POST).
    Restore(Identifier),
}

/// The mount point of anchor pages, as the raw request path spells it.
const ANCHOR: &str = "/console/anchor/";

impl AnchorAction {
    /// Reads the request's raw path (percent-encoding intact). A suffix is an action only when what precedes it is
    /// an identifier (`01/09520123456788/10/edit` is the batch called "edit"), as in `paths::AnchorPath`.
    pub fn parse(state: &AppState, raw_path: &str) -> Result<AnchorAction, ApiError> {
        let raw = raw_path.strip_prefix(ANCHOR).unwrap_or("");
        let raw = raw.strip_suffix('/').unwrap_or(raw);
        let suffixed = |suffix: &str| {
            raw.strip_suffix(suffix)
                .and_then(|id| state.parser.parse_key(id).ok())
        };
        if let Some(key) = suffixed("/edit") {
            return Ok(AnchorAction::Edit(key));
        }
        if let Some(key) = suffixed("/delete") {
            return Ok(AnchorAction::Delete(key));
        }
        if let Some(key) = suffixed("/restore") {
            return Ok(AnchorAction::Restore(key));
        }
        Ok(AnchorAction::View(state.parser.parse_key(raw)?))
    }

    pub fn key(&self) -> &Identifier {
        match self {
            AnchorAction::View(k)
            | AnchorAction::Edit(k)
            | AnchorAction::Delete(k)
            | AnchorAction::Restore(k) => k,
        }
    }
}

/// Why a console request was not answered with its page. Statuses come from the API's mapping (`problem.rs`); the
/// answer is an HTML page, or a redirect to sign in.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No session, or one that ended (signed out, expired, its key revoked or expired): sign in again.
    #[error("sign in to continue")]
    SignIn {
        /// A session cookie was presented: it is expired in the answer.
        stale_cookie: bool,
    },
    /// A form without the session's CSRF token, or a request from another site: nothing was done.
    #[error(
        "this form has expired or did not come from this console; reload the page and try again"
    )]
    Csrf,
    /// A form body that is not `application/x-www-form-urlencoded`.
    #[error("send the form as application/x-www-form-urlencoded")]
    UnsupportedForm,
    #[error("{0}")]
    Api(#[from] ApiError),
}

impl From<crate::registry::StoreError> for ConsoleError {
    fn from(e: crate::registry::StoreError) -> Self {
        ConsoleError::Api(ApiError::Store(e))
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Csrf => StatusCode::FORBIDDEN,
            ConsoleError::UnsupportedForm => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ConsoleError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn { stale_cookie } = self {
            let mut response = HttpResponse::SeeOther();
            response.insert_header((header::LOCATION, url("/sign-in")));
            if *stale_cookie {
                response.insert_header((header::SET_COOKIE, session::expired_cookie()));
            }
            return response.finish();
        }
        let status = self.status_code();
        let title = status.canonical_reason().unwrap_or("Error");
        // The API's own mapping: the same logging and metrics, and the same detail (a store's words never shown).
        let detail = match self {
            ConsoleError::Api(e) => {
                e.observe(status);
                e.detail()
            }
            other => other.to_string(),
        };
        let body = html! {
            h1 { (title) }
            p #problem role="alert" { (detail) }
            p { a href=(url("/anchors")) { "Back to your anchors" } }
        };
        let mut response = layout::respond(status, layout::bare(title, body));
        if let ConsoleError::Api(ApiError::TooManyRequests(wait)) = self
            && let Ok(v) = header::HeaderValue::from_str(&wait.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Any other path under `/console`: 404, as a page.
pub async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ApiError::NotFound("there is no such console page".into()).into())
}

/// `GET /console`: to Browse when signed in, else to the sign-in page.
pub async fn start(signed: Option<Signed>) -> HttpResponse {
    let to = if signed.is_some() {
        url("/anchors")
    } else {
        url("/sign-in")
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

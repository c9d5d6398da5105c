//! Cross-site request forgery: every console form carries a token (`field`), and every `POST` is refused with `403`,
//! before anything is written, unless it presents it (`check`). The token of a session is random (256 bits),
//! kept with the session in the store, and compared in constant time; the sign-in form, before any session,
//! compares its field with a cookie of its own. Requests a browser marks as coming from another site
//! (`Sec-Fetch-Site: cross-site` or `same-site`) are refused too. The cookies are `SameSite=Strict` as well, so a
//! forged cross-site request carries no session in the first place.

use super::form::Form;
use super::{ConsoleError, Signed};
use crate::http::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use maud::{Markup, html};
use subtle::ConstantTimeEq;

/// The name of the hidden field.
pub const FIELD: &str = "csrf";

/// The hidden input that carries `token`.
pub fn field(token: &str) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(token); }
}

/// `Ok` when `presented` equals `expected` and the browser does not say the request came from another site.
pub fn check(
    req: &HttpRequest,
    expected: &str,
    presented: Option<&str>,
) -> Result<(), ConsoleError> {
    let from_elsewhere = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.eq_ignore_ascii_case("cross-site") || v.eq_ignore_ascii_case("same-site")
        });
    let matches = presented.is_some_and(|p| {
        !expected.is_empty() && bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
    });
    if matches && !from_elsewhere {
        Ok(())
    } else {
        tracing::info!(
            path = req.path(),
            from_elsewhere,
            "console form refused: CSRF"
        );
        Err(ConsoleError::Csrf)
    }
}

/// A posted console form: signed in, its CSRF token checked, its fields read. The extractor of every urlencoded
/// `POST` handler; nothing is done for a request without a live session (`303` to sign in) or the right token
/// (`403`).
pub struct Posted {
    pub signed: Signed,
    pub form: Form,
}

impl FromRequest for Posted {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Posted, ConsoleError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload).into_inner();
        Box::pin(async move {
            let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
                return Err(ConsoleError::SignIn {
                    stale_cookie: false,
                });
            };
            let signed = Signed::of(&req, &state).await?;
            let payload = payload.map_err(|_| ConsoleError::UnsupportedForm)?;
            let form = Form::read(&req, payload, &state).await?;
            signed.check_csrf(&req, form.get(FIELD))?;
            Ok(Posted { signed, form })
        })
    }
}

//! The console's page shell: a skip link, the nav (with the sign-out form), `<main id="main">`, and one style sheet,
//! the HTML view's look (`http::html`) plus forms; and the headers of every console answer (`headers`).
//!
//! Every page is built here: a handler makes its content and calls `page` (signed in) or `bare` (sign-in, errors),
//! then `respond`. Nothing is loaded from anywhere: no scripts, fonts or images; the style is allowed by its hash.

use super::{Signed, url};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use base64::Engine;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Which nav entry a page belongs to (marked `aria-current="page"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    Browse,
    New,
    Check,
    Bulk,
    Audit,
    LinkTypes,
    /// A page of no entry (an anchor's page).
    None,
}

/// The nav: (entry, path under the console, text).
const NAV: [(Nav, &str, &str); 6] = [
    (Nav::Browse, "/anchors", "Browse"),
    (Nav::New, "/anchors/new", "New anchor"),
    (Nav::Check, "/check", "Check"),
    (Nav::Bulk, "/bulk", "Bulk"),
    (Nav::Audit, "/audit", "Audit"),
    (Nav::LinkTypes, "/linktypes", "Link types"),
];

/// A page of a signed-in user: the nav, who is signed in, the sign-out form, and `body` (which starts with its
/// `h1`).
pub fn page(signed: &Signed, current: Nav, title: &str, body: Markup) -> Markup {
    let scopes: Vec<String> = signed
        .principal
        .scopes
        .iter()
        .map(|s| s.to_string())
        .collect();
    let header = html! {
        header.top {
            nav aria-label="Console" {
                ul {
                    @for (entry, path, text) in NAV {
                        li {
                            @if entry == current {
                                a href=(url(path)) aria-current="page" { (text) }
                            } @else {
                                a href=(url(path)) { (text) }
                            }
                        }
                    }
                }
            }
            div.who {
                p.meta {
                    "Signed in as " strong { (signed.principal.name) }
                    " · scopes " code { (scopes.join(", ")) }
                }
                form method="post" action=(url("/sign-out")) {
                    (signed.csrf_field())
                    button #sign-out.secondary type="submit" { "Sign out" }
                }
            }
        }
    };
    shell(title, Some(header), body)
}

/// A page without the nav: the sign-in page, and errors.
pub fn bare(title: &str, body: Markup) -> Markup {
    shell(title, None, body)
}

fn shell(title: &str, header: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · idr console" }
                style { (PreEscaped(STYLE.as_str())) }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                @if let Some(header) = header { (header) }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// An HTML answer of `status`.
pub fn respond(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(crate::http::html::CONTENT_TYPE)
        .body(markup.into_string())
}

/// A `200` HTML answer.
pub fn ok(markup: Markup) -> HttpResponse {
    respond(StatusCode::OK, markup)
}

/// A message after an action (`id="notice"`, `role="status"`), e.g. on the page a save redirected to.
pub fn notice(text: &str) -> Markup {
    html! { p #notice.notice role="status" { (text) } }
}

/// A labelled input, with a hint and an error beside it: the error has the id `{id}-error`, and the input points to
/// it (`aria-describedby`) and is marked `aria-invalid`.
pub struct Field<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub label: &'a str,
    /// The input's `type` (`text`, `password`, `url`, …).
    pub kind: &'a str,
    pub value: &'a str,
    pub hint: Option<&'a str>,
    pub error: Option<&'a str>,
    pub autocomplete: Option<&'a str>,
}

pub fn input(field: &Field<'_>) -> Markup {
    let hint_id = format!("{}-hint", field.id);
    let error_id = format!("{}-error", field.id);
    let described: Vec<&str> = [
        field.hint.map(|_| hint_id.as_str()),
        field.error.map(|_| error_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div.field {
            label for=(field.id) { (field.label) }
            @if let Some(hint) = field.hint {
                p.hint id=(hint_id) { (hint) }
            }
            input id=(field.id) name=(field.name) type=(field.kind) value=(field.value)
                autocomplete=[field.autocomplete] aria-describedby=[described]
                aria-invalid=[field.error.map(|_| "true")];
            @if let Some(error) = field.error {
                p.error id=(error_id) { (error) }
            }
        }
    }
}

/// The headers of every console answer: its own CSP (only its style, by hash; forms post to this host only; no
/// framing), no caching anywhere, no referrer to other sites. Set unless the handler set its own.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    let mut set = |name: header::HeaderName, value: HeaderValue| {
        if !headers.contains_key(&name) {
            headers.insert(name, value);
        }
    };
    if let Ok(csp) = HeaderValue::from_str(&CONTENT_SECURITY_POLICY) {
        set(header::CONTENT_SECURITY_POLICY, csp);
    }
    set(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}

/// The console's style: the HTML view's, then forms, the nav, and the states of fields.
pub static STYLE: LazyLock<String> =
    LazyLock::new(|| format!("{}{CONSOLE_CSS}", super::super::html::CSS));

/// Only the console's style may apply (by hash); images from this host (QR codes) or inline data; forms post to
/// this host only; nothing may frame a console page.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
});

/// Mobile first, as the HTML view: one column up to 40rem; tap targets of at least 44px; a visible focus ring on
/// everything focusable; colours with AA contrast in light and dark schemes (errors #b3261e on white 6.5:1, #ffb4ab
/// on #121212 10:1).
const CONSOLE_CSS: &str = "\
:root{--err:#b3261e;--ok:#1e7b34;--btn:#0b57d0;--btnfg:#fff}\
@media (prefers-color-scheme:dark){:root{--err:#ffb4ab;--ok:#8fd19e;--btn:#8ab4f8;--btnfg:#0b1d3a}}\
main{max-width:60rem}\
h1,a{overflow-wrap:anywhere}\
main h2{margin-top:1.75rem}\
:focus-visible{outline:3px solid var(--link);outline-offset:2px}\
.skip{position:absolute;left:-999rem;top:0;background:var(--bg);padding:.5rem 1rem;z-index:1}\
.skip:focus{left:.5rem}\
header.top{border-bottom:1px solid var(--line);padding:.5rem 1rem;max-width:60rem;margin:0 auto}\
nav ul{display:flex;flex-wrap:wrap;gap:.25rem .75rem;list-style:none;margin:0;padding:0}\
nav li{background:none;border:0;padding:0;margin:0}\
nav a{display:inline-block;padding:.6rem .25rem;min-height:44px}\
nav a[aria-current=page]{font-weight:700;text-decoration-thickness:3px}\
.who{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem}\
.who form{margin:0}\
.field{margin:0 0 1rem}\
label{display:block;font-weight:600;margin:0 0 .25rem}\
.hint{color:var(--muted);font-size:.875rem;margin:0 0 .25rem}\
input,select,textarea{font:inherit;width:100%;max-width:40rem;padding:.5rem;min-height:44px;\
border:1px solid var(--muted);border-radius:.25rem;background:var(--bg);color:var(--fg)}\
input[aria-invalid=true]{border:2px solid var(--err)}\
input[readonly]{background:var(--card);border-style:dashed}\
.checkbox{display:flex;align-items:center;gap:.5rem}\
.checkbox input{width:1.5rem;height:1.5rem;min-height:0;margin:0}\
.checkbox label{display:inline;margin:0}\
.error{color:var(--err);font-weight:600;margin:.25rem 0 0}\
button,.button{display:inline-block;font:inherit;font-weight:600;padding:.55rem 1.1rem;min-height:44px;\
border-radius:.25rem;border:2px solid var(--btn);background:var(--btn);color:var(--btnfg);cursor:pointer;\
text-decoration:none}\
button.secondary,.button.secondary{background:var(--bg);color:var(--link)}\
button.danger{background:var(--bg);color:var(--err);border-color:var(--err)}\
#form-errors{border:2px solid var(--err);border-radius:.5rem;padding:.5rem 1rem;margin:0 0 1rem}\
#form-errors a{color:var(--err)}\
#form-errors li{background:none;border:0;border-radius:0;padding:.2rem 0;margin:0}\
.notice{border-left:4px solid var(--ok);padding:.5rem 1rem;background:var(--card)}\
fieldset{border:1px solid var(--line);border-radius:.5rem;margin:0 0 1rem;padding:.75rem}\
legend{font-weight:600;padding:0 .25rem}\
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}\
.actions form{margin:0}\
.search{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:end}\
.search .field{flex:1 1 14rem}\
.pager{display:flex;gap:1rem;margin:1rem 0}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;\
overflow-wrap:anywhere}\
.conflict{border:2px solid var(--err);border-radius:.5rem;padding:.5rem 1rem;margin:0 0 1rem}\
@media (min-width:40rem){header.top{padding:.5rem 2rem}}\
@media (max-width:40rem){table.cards thead{position:absolute;left:-999rem}\
table.cards tr{display:block;border:1px solid var(--line);border-radius:.5rem;margin:0 0 .5rem;padding:.25rem .5rem}\
table.cards td{display:block;border:0;padding:.1rem 0}\
table.cards td[data-label]::before{content:attr(data-label) \": \";color:var(--muted)}}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_style_the_pages_carry() {
        let html = bare("Sign in", html! { h1 { "Sign in" } }).into_string();
        let style = html
            .split("<style>")
            .nth(1)
            .and_then(|rest| rest.split("</style>").next())
            .unwrap();
        let hash =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
        assert!(
            CONTENT_SECURITY_POLICY.contains(&format!("style-src 'sha256-{hash}';")),
            "{}",
            *CONTENT_SECURITY_POLICY
        );
        assert!(!CONTENT_SECURITY_POLICY.contains("script-src"));
        assert!(!html.contains("<script"), "no script on any page");
    }
}

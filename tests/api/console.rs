//! The issuer console (`/console`) over real HTTP, as a browser without JavaScript uses it: forms posted as
//! `application/x-www-form-urlencoded`, cookies kept by hand, nothing followed automatically. Sign-in and the session
//! cookie's attributes, sign-out ending the session on the server, CSRF, the operator's switch, scopes, and writes
//! through the forms read back through the API.

use crate::support::app::TestApp;
use crate::support::client::{ADMIN_TOKEN, Api, client};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::path::Path;

pub(crate) const ACME: &str = "acme-secret";
#[allow(dead_code)]
pub(crate) const OTHER: &str = "other-secret";
pub(crate) const G: &str = "01/09520123456788";

/// Two scoped keys (hashes computed with coreutils `sha256sum`): acme on `01/0952012*`, other on `01/0950600*`.
fn config(dir: &Path) -> String {
    let path = dir.join("console-test.toml");
    std::fs::write(
        &path,
        r#"
[[keys]]
name = "acme"
sha256 = "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c"
scopes = ["01/0952012*"]

[[keys]]
name = "other"
sha256 = "9c0ee26e4a1fbb028187486a7ea91f81f8ab81fcf467cba75107dbd3a64244d7"
scopes = ["01/0950600*"]
"#,
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

pub(crate) async fn app() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let app = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    (app, dir)
}

/// One browser: its cookies for `/console` (name → value), kept by hand from `Set-Cookie`.
pub(crate) struct Browser {
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub(crate) fn new(app: &impl Api) -> Self {
        Browser {
            base: app.base().to_string(),
            cookies: Vec::new(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Keeps the cookies an answer sets (an empty value or `Max-Age=0` removes one).
    pub(crate) fn keep(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !v.is_empty() && !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), v.to_string()));
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Response {
        let response = client()
            .get(self.url(path))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// GET a page and read it: (status, HTML).
    pub(crate) async fn page(&mut self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }

    /// POST a form as a browser encodes it.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let body = url_encode(fields);
        let response = client()
            .post(self.url(path))
            .header(COOKIE, self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// Opens the sign-in page and signs in with `key`; the answer to the POST.
    pub(crate) async fn sign_in(&mut self, key: &str) -> Response {
        let (status, html) = self.page("/console/sign-in").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let csrf = csrf_of(&html);
        self.post("/console/sign-in", &[("csrf", &csrf), ("key", key)])
            .await
    }

    /// The CSRF token of the forms of a signed-in page.
    pub(crate) async fn csrf(&mut self) -> String {
        let (status, html) = self.page("/console/anchors").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        csrf_of(&html)
    }
}

fn url_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of the first hidden `csrf` input of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    attribute_after(html, r#"name="csrf" value=""#)
}

/// The attribute value that follows `marker` (which ends with its opening quote).
fn attribute_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

pub(crate) fn location(response: &Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

/// The `Set-Cookie` value that sets `name`.
fn set_cookie(response: &Response, name: &str) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
}

fn anchor(description: &str, href: &str) -> Value {
    json!({"itemDescription": description,
           "links": [{"linkType": "gs1:pip", "href": href, "title": "Product information"}]})
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_session_cookie_and_never_the_key() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    let (status, html) = browser.page("/console/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"<label for="key">API key</label>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"id="key" name="key" type="password""#),
        "{html}"
    );
    assert!(html.contains(r#"id="sign-in""#), "{html}");

    let signed_in = browser.sign_in(ACME).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/console/anchors");
    let cookie = set_cookie(&signed_in, "idr_console");
    let id = cookie
        .strip_prefix("idr_console=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    // 256 bits, base64url without padding: 43 characters.
    assert_eq!(id.len(), 43, "{cookie}");
    assert!(!cookie.contains(ACME), "the key is never in a cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=3600",
    ] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    assert!(
        !cookie.contains("Secure"),
        "a plain-http origin cannot keep a Secure cookie: {cookie}"
    );

    let (status, html) = browser.page("/console/anchors").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Signed in as <strong>acme</strong>"),
        "{html}"
    );
    assert!(!html.contains(ACME), "the key is never in a page");
    for id in [r#"id="main""#, r#"id="sign-out""#, "Skip to content"] {
        assert!(html.contains(id), "{id} in {html}");
    }
    let start = client()
        .get(app.url("/console"))
        .header(COOKIE, browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&start), "/console/anchors");
}

#[tokio::test]
async fn a_wrong_key_is_refused_beside_the_field_and_opens_no_session() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    let refused = browser.sign_in("not-a-key").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("idr_console=")),
        "no session cookie"
    );
    let html = refused.text().await.unwrap();
    assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    assert!(html.contains(r#"aria-describedby="key-error""#), "{html}");
    assert!(
        html.contains(
            r#"<p class="error" id="key-error">this key is not known here, or was revoked</p>"#
        ),
        "{html}"
    );
    assert!(html.contains(r#"id="form-errors" role="alert""#), "{html}");
    // Still not signed in.
    let anchors = browser.get("/console/anchors").await;
    assert_eq!(anchors.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anchors), "/console/sign-in");
    let start = browser.get("/console").await;
    assert_eq!(location(&start), "/console/sign-in");
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in(ADMIN_TOKEN).await.status(),
        StatusCode::SEE_OTHER
    );
    let old_cookies = browser.cookie_header();
    let csrf = browser.csrf().await;
    let out = browser.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/console/sign-in");
    let expired = set_cookie(&out, "idr_console");
    assert!(
        expired.starts_with("idr_console=;") && expired.contains("Max-Age=0"),
        "{expired}"
    );
    // The old cookie, replayed by someone who kept it, opens nothing.
    let replayed = client()
        .get(app.url("/console/anchors"))
        .header(COOKIE, old_cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replayed), "/console/sign-in");
}

#[tokio::test]
async fn a_form_without_the_right_csrf_token_is_refused_and_does_nothing() {
    let (app, _dir) = app().await;
    app.put_anchor(G, anchor("Soap", "https://brand.example/soap"))
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csrf = browser.csrf().await;
    for fields in [vec![], vec![("csrf", "wrong")], vec![("csrf", "")]] {
        let out = browser.post("/console/sign-out", &fields).await;
        assert_eq!(out.status(), StatusCode::FORBIDDEN, "{fields:?}");
        let deleted = browser
            .post(
                &format!("/console/anchor/{G}/delete"),
                &[fields.as_slice(), &[("version", "1")]].concat(),
            )
            .await;
        assert_eq!(deleted.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    // The right token from another site (as a browser marks it) is refused too.
    let forged = client()
        .post(app.url("/console/sign-out"))
        .header(COOKIE, browser.cookie_header())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("Sec-Fetch-Site", "cross-site")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Nothing was written: the anchor is still at version 1, and the session still open.
    let stored: Value = app.get_anchor(G).await.json().await.unwrap();
    assert_eq!(stored["version"], 1);
    assert_eq!(browser.page("/console/anchors").await.0, StatusCode::OK);
    // The sign-in form checks its own token too.
    let mut other = Browser::new(&app);
    other.page("/console/sign-in").await;
    let refused = other
        .post("/console/sign-in", &[("csrf", "forged"), ("key", ACME)])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn the_operator_switch_off_makes_every_console_path_404() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with_env(&["--no-demo"], &[("IDR_CONSOLE__ENABLED", "false")]).await;
    drop(dir);
    for (method, path) in [
        (Method::GET, "/console"),
        (Method::GET, "/console/sign-in"),
        (Method::POST, "/console/sign-in"),
        (Method::GET, "/console/anchors"),
        (Method::GET, &format!("/console/anchor/{G}") as &str),
        (Method::POST, "/console/sign-out"),
    ] {
        let r = client()
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert!(r.headers().get(SET_COOKIE).is_none());
    }
    // The API is unaffected.
    app.put_anchor(G, anchor("Soap", "https://brand.example/soap"))
        .await;
}

#[tokio::test]
async fn every_console_answer_has_its_own_security_headers() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    let page = browser.get("/console/sign-in").await;
    let header = |name: &str| page.headers()[name].to_str().unwrap().to_string();
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'sha256-",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("script-src"), "no script may run: {csp}");
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "same-origin");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"), "no scripts");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing loaded from elsewhere: {html}"
    );
}

#[tokio::test]
async fn browse_lists_only_the_keys_own_prefix_and_searches_descriptions() {
    let (app, _dir) = app().await;
    app.put_anchor(G, anchor("Lavender soap", "https://brand.example/soap"))
        .await;
    app.put_anchor(
        "01/09520123456795",
        anchor("Olive oil", "https://brand.example/oil"),
    )
    .await;
    app.put_anchor(
        "01/09506000134352",
        anchor("Someone else's", "https://other.example/x"),
    )
    .await;
    let mut acme = Browser::new(&app);
    acme.sign_in(ACME).await;
    let (status, html) = acme.page("/console/anchors").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(G) && html.contains("01/09520123456795"),
        "{html}"
    );
    assert!(
        !html.contains("01/09506000134352") && !html.contains("Someone else"),
        "{html}"
    );
    let (_, found) = acme.page("/console/anchors?q=SOAP").await;
    assert!(
        found.contains("Lavender soap") && !found.contains("Olive oil"),
        "{found}"
    );
    let (_, by_id) = acme.page("/console/anchors?q=123456795").await;
    assert!(
        by_id.contains("Olive oil") && !by_id.contains("Lavender soap"),
        "{by_id}"
    );
    let (_, prefixed) = acme.page("/console/anchors?prefix=01/095201234567").await;
    assert!(
        prefixed.contains("Lavender soap") && prefixed.contains("Olive oil"),
        "{prefixed}"
    );

    // Another key's anchor: refused by the API's rule, and not shown.
    let (status, html) = acme.page("/console/anchor/01/09506000134352").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(!html.contains("Someone else"), "{html}");
    assert!(html.contains("do not cover 01/09506000134352"), "{html}");
}

//! The issuer console (`/console`) over real HTTP, as a browser without JavaScript uses it: forms posted as
//! `application/x-www-form-urlencoded`, cookies kept by hand, nothing followed automatically. Sign-in and the session
//! cookie's attributes, sign-out ending the session on the server, CSRF, the operator's switch, scopes, and writes
//! through the forms read back through the API.

use crate::support::app::TestApp;
use crate::support::client::{ADMIN_TOKEN, Api, client};
use crate::support::redis::RedisServer;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::path::Path;

pub(crate) const ACME: &str = "acme-secret";
pub(crate) const OTHER: &str = "other-secret";
/// A key for the serials of G only (`01/09520123456788/21/*`), not G itself.
pub(crate) const SERIALS: &str = "serials-secret";
pub(crate) const G: &str = "01/09520123456788";

/// Three scoped keys (hashes computed with coreutils `sha256sum`): acme on `01/0952012*`, other on `01/0950600*`,
/// serials on `01/09520123456788/21/*`.
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

[[keys]]
name = "serials"
sha256 = "39d96f26840bf076f731b9d88a2f65e93640723cc3ad6a5b41bdbf88e71acaa3"
scopes = ["01/09520123456788/21/*"]
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
    // Signing in again in the same browser ends the session it held.
    let first = browser.cookie_header();
    assert_eq!(browser.sign_in(ACME).await.status(), StatusCode::SEE_OTHER);
    assert_ne!(browser.cookie_header(), first, "a new session id");
    let old = client()
        .get(app.url("/console/anchors"))
        .header(COOKIE, first)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::SEE_OTHER,
        "the replaced session is gone"
    );
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
        let record = [
            ("version", "1"),
            ("itemDescription", "Forged"),
            ("link-0-type", "gs1:pip"),
            ("link-0-href", "https://evil.example"),
            ("link-0-title", "x"),
        ];
        let edited = browser
            .post(
                &format!("/console/anchor/{G}/edit"),
                &[fields.as_slice(), &record].concat(),
            )
            .await;
        assert_eq!(edited.status(), StatusCode::FORBIDDEN, "{fields:?}");
        let created = browser
            .post(
                "/console/anchors/new",
                &[
                    fields.as_slice(),
                    &[("identifier", "01/09520123456795")],
                    &record[1..],
                ]
                .concat(),
            )
            .await;
        assert_eq!(created.status(), StatusCode::FORBIDDEN, "{fields:?}");
        let page = created.text().await.unwrap();
        assert!(page.contains(r#"id="problem" role="alert""#), "{page}");
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
    // Nothing was written: the anchor is still at version 1, nothing was created, and the session is still open.
    let stored: Value = app.get_anchor(G).await.json().await.unwrap();
    assert_eq!(
        (stored["version"].clone(), stored["itemDescription"].clone()),
        (json!(1), json!("Soap"))
    );
    assert_eq!(
        app.get_anchor("01/09520123456795").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(browser.page("/console/anchors").await.0, StatusCode::OK);
    // The sign-in form checks its own token too; a second sign-in page (another tab) keeps the first one's token.
    let mut other = Browser::new(&app);
    let (_, first_tab) = other.page("/console/sign-in").await;
    let (_, second_tab) = other.page("/console/sign-in").await;
    assert_eq!(csrf_of(&first_tab), csrf_of(&second_tab));
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

/// The fields a browser submits for the form `form_id` of a page, as it shows them: every input with a name (hidden
/// ones included; checkboxes only when checked), values unescaped. No submit button is included (the `save` button
/// has no name).
fn form_fields(html: &str, form_id: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!(r#"<form id="{form_id}""#))
        .unwrap_or_else(|| panic!("form {form_id} in {html}"));
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    let mut fields = Vec::new();
    for tag in form.split("<input ").skip(1) {
        let tag = &tag[..tag.find('>').unwrap()];
        let attribute = |name: &str| {
            let marker = format!(r#" {name}=""#);
            let padded = format!(" {tag}");
            padded.find(&marker).map(|i| {
                padded[i + marker.len()..]
                    .split('"')
                    .next()
                    .unwrap()
                    .to_string()
            })
        };
        let Some(name) = attribute("name") else {
            continue;
        };
        let kind = attribute("type").unwrap_or_default();
        if kind == "checkbox" && !tag.contains(" checked") {
            continue;
        }
        let value = attribute("value").unwrap_or_default();
        fields.push((name, unescape(&value)));
    }
    fields
}

fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `fields` with `changes` applied (a name not there is added).
fn with(fields: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = fields.to_vec();
    for (name, value) in changes {
        match out.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value.to_string(),
            None => out.push((name.to_string(), value.to_string())),
        }
    }
    out
}

fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The form of an edit page (or the new-anchor page) as a browser would submit it, after `changes`.
async fn filled(
    browser: &mut Browser,
    page: &str,
    changes: &[(&str, &str)],
) -> Vec<(String, String)> {
    let (status, html) = browser.page(page).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    with(&form_fields(&html, "anchor-form"), changes)
}

/// The audit trail of `identifier` as (who, operation, before, after).
async fn trail(app: &TestApp, identifier: &str) -> Vec<(String, String, Value, Value)> {
    let page: Value = app
        .admin(
            Method::GET,
            &format!("/api/v1/audit?identifier={identifier}"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["who"].as_str().unwrap().to_string(),
                e["operation"].as_str().unwrap().to_string(),
                e["before"].clone(),
                e["after"].clone(),
            )
        })
        .collect()
}

fn entry(who: &str, op: &str, before: Value, after: Value) -> (String, String, Value, Value) {
    (who.into(), op.into(), before, after)
}

async fn api_record(app: &TestApp, identifier: &str) -> Value {
    let r = app.get_anchor(identifier).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn create_edit_conflict_delete_and_restore_through_the_forms() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;

    // Create, as a browser submits the new-anchor form (the empty extra row included).
    let form = filled(
        &mut browser,
        "/console/anchors/new",
        &[
            ("identifier", G),
            ("itemDescription", "Lavender soap"),
            ("link-0-type", "gs1:pip"),
            ("link-0-href", "https://brand.example/soap"),
            ("link-0-title", "Product information"),
            ("link-0-lang", "en, fr"),
            ("link-0-media", "text/html"),
        ],
    )
    .await;
    assert!(
        form.iter()
            .any(|(k, v)| k == "link-0-type" && v == "gs1:pip")
    );
    let created = browser.post("/console/anchors/new", &pairs(&form)).await;
    assert_eq!(
        created.status(),
        StatusCode::SEE_OTHER,
        "{}",
        created.text().await.unwrap()
    );
    assert_eq!(
        location(&created),
        format!("/console/anchor/{G}?notice=created")
    );
    let record = api_record(&app, G).await;
    assert_eq!(record["version"], 1);
    assert_eq!(record["itemDescription"], "Lavender soap");
    assert_eq!(
        record["links"],
        json!([{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/soap",
                "title": "Product information", "type": "text/html", "hreflang": ["en", "fr"]}])
    );
    let (_, page) = browser.page(location(&created)).await;
    assert!(
        page.contains(r#"id="notice""#) && page.contains("Created."),
        "{page}"
    );

    // What the form made is an API record: read back and written again unchanged, the API takes it as it is.
    let mut back = record.clone();
    for field in ["identifier", "anchor", "version"] {
        back.as_object_mut().unwrap().remove(field);
    }
    let rewritten = app.put_anchor(G, back).await;
    assert_eq!(rewritten["version"], 2);
    assert_eq!(rewritten["links"], record["links"]);
    assert_eq!(rewritten["itemDescription"], record["itemDescription"]);

    // The edit form saved unchanged writes nothing: no new version, no audit entry.
    let unchanged = filled(&mut browser, &format!("/console/anchor/{G}/edit"), &[]).await;
    assert!(
        unchanged.iter().any(|(k, v)| k == "version" && v == "2"),
        "{unchanged:?}"
    );
    let saved = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&unchanged))
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&saved),
        format!("/console/anchor/{G}?notice=unchanged")
    );
    assert_eq!(api_record(&app, G).await["version"], 2);

    // Edit: a new title, and a second link in the empty row.
    let edited = filled(
        &mut browser,
        &format!("/console/anchor/{G}/edit"),
        &[
            ("link-0-title", "Product page"),
            ("link-1-type", "gs1:sustainabilityInfo"),
            ("link-1-href", "https://brand.example/soap/green"),
            ("link-1-title", "Sustainability"),
        ],
    )
    .await;
    let saved = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&edited))
        .await;
    assert_eq!(
        location(&saved),
        format!("/console/anchor/{G}?notice=saved")
    );
    let record = api_record(&app, G).await;
    assert_eq!(record["version"], 3);
    let titles: Vec<&str> = record["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Product page", "Sustainability"]);

    // A conflict: the form was loaded at version 3, the API wrote version 4 meanwhile.
    let stale = filled(
        &mut browser,
        &format!("/console/anchor/{G}/edit"),
        &[("itemDescription", "Soap, from the form")],
    )
    .await;
    let api_write = app
        .put_anchor(
            G,
            anchor("Soap, from the API", "https://brand.example/soap"),
        )
        .await;
    assert_eq!(api_write["version"], 4);
    let lost = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&stale))
        .await;
    assert_eq!(lost.status(), StatusCode::CONFLICT);
    let html = lost.text().await.unwrap();
    assert!(html.contains(r#"id="conflict""#), "{html}");
    let conflict = &html
        [html.find(r#"id="conflict""#).unwrap()..html.find(r#"<form id="anchor-form""#).unwrap()];
    assert!(
        conflict.contains("Soap, from the API") && conflict.contains("Soap, from the form"),
        "{conflict}"
    );
    assert!(conflict.contains("version 4"), "{conflict}");
    let record = api_record(&app, G).await;
    assert_eq!(
        (record["version"].clone(), record["itemDescription"].clone()),
        (json!(4), json!("Soap, from the API"))
    );
    // Saving the conflict form again replaces version 4 with the form's record.
    let again = form_fields(&html, "anchor-form");
    assert!(
        again.iter().any(|(k, v)| k == "version" && v == "4"),
        "{again:?}"
    );
    let saved = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&again))
        .await;
    assert_eq!(
        location(&saved),
        format!("/console/anchor/{G}?notice=saved")
    );
    let record = api_record(&app, G).await;
    assert_eq!(
        (record["version"].clone(), record["itemDescription"].clone()),
        (json!(5), json!("Soap, from the form"))
    );

    // Delete from the anchor page, then restore.
    let (_, page) = browser.page(&format!("/console/anchor/{G}")).await;
    let delete_form = &page[page
        .find(&format!(r#"action="/console/anchor/{G}/delete""#))
        .unwrap()..];
    let deleted = browser
        .post(
            &format!("/console/anchor/{G}/delete"),
            &[("csrf", &csrf_of(delete_form)), ("version", "5")],
        )
        .await;
    assert_eq!(
        location(&deleted),
        format!("/console/anchor/{G}?notice=deleted")
    );
    assert_eq!(app.get_anchor(G).await.status(), StatusCode::NOT_FOUND);
    let (status, page) = browser.page(location(&deleted)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains(r#"id="restore""#), "{page}");
    let restored = browser
        .post(
            &format!("/console/anchor/{G}/restore"),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(
        location(&restored),
        format!("/console/anchor/{G}?notice=restored")
    );
    let record = api_record(&app, G).await;
    assert_eq!(
        (record["version"].clone(), record["itemDescription"].clone()),
        (json!(6), json!("Soap, from the form"))
    );

    // The console's writes are in the audit trail as the API's are, under the key's name.
    assert_eq!(
        trail(&app, G).await,
        vec![
            entry("acme", "create", Value::Null, json!(1)),
            entry("admin", "replace", json!(1), json!(2)),
            entry("acme", "replace", json!(2), json!(3)),
            entry("admin", "replace", json!(3), json!(4)),
            entry("acme", "replace", json!(4), json!(5)),
            entry("acme", "delete", json!(5), Value::Null),
            entry("acme", "restore", Value::Null, json!(6)),
        ]
    );
}

#[tokio::test]
async fn a_validation_error_is_shown_beside_its_field_and_nothing_is_written() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let form = filled(
        &mut browser,
        "/console/anchors/new",
        &[
            ("identifier", G),
            ("itemDescription", "Soap"),
            ("link-0-type", "gs1:pip"),
            ("link-0-href", "not a URL"),
            ("link-0-title", "Product information"),
        ],
    )
    .await;
    let refused = browser.post("/console/anchors/new", &pairs(&form)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains(r#"id="form-errors" role="alert""#), "{html}");
    assert!(
        html.contains(r##"<a href="#link-0-href">"##),
        "the summary links to the field: {html}"
    );
    let input = &html[html.find(r#"<input id="link-0-href""#).unwrap()..];
    let input = &input[..input.find('>').unwrap()];
    assert!(
        input.contains(r#"aria-invalid="true""#)
            && input.contains(r#"aria-describedby="link-0-href-error""#),
        "{input}"
    );
    assert!(
        input.contains(r#"value="not a URL""#),
        "what was typed is kept: {input}"
    );
    assert!(
        html.contains(r#"<p class="error" id="link-0-href-error">"#),
        "{html}"
    );
    assert!(
        !html.contains(r#"id="item-description-error""#),
        "only the field at fault: {html}"
    );
    assert_eq!(app.get_anchor(G).await.status(), StatusCode::NOT_FOUND);

    // An unknown link type, in a second row after an empty one: beside that row's link type.
    let fixed = with(
        &form_fields(&html, "anchor-form"),
        &[
            ("link-0-href", "https://brand.example/soap"),
            ("link-2-type", "gs1:noSuchType"),
            ("link-2-href", "https://brand.example/x"),
            ("link-2-title", "X"),
        ],
    );
    let refused = browser.post("/console/anchors/new", &pairs(&fixed)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains(r#"<p class="error" id="link-2-type-error">"#),
        "{html}"
    );
    assert!(!html.contains(r#"id="link-0-href-error""#), "{html}");
    assert_eq!(app.get_anchor(G).await.status(), StatusCode::NOT_FOUND);

    // Fixed: saved.
    let fixed = with(
        &form_fields(&html, "anchor-form"),
        &[("link-2-remove", "1")],
    );
    let saved = browser.post("/console/anchors/new", &pairs(&fixed)).await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
    assert_eq!(
        api_record(&app, G).await["links"].as_array().unwrap().len(),
        1
    );

    // A bad identifier is named beside the identifier.
    let bad = with(&fixed, &[("identifier", "01/09520123456789")]);
    let refused = browser.post("/console/anchors/new", &pairs(&bad)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains(r#"<p class="error" id="identifier-error">"#),
        "{html}"
    );
}

#[tokio::test]
async fn another_link_row_is_added_without_script_and_without_saving() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let form = filled(
        &mut browser,
        "/console/anchors/new",
        &[("identifier", G), ("link-0-type", "gs1:pip")],
    )
    .await;
    assert!(
        !form.iter().any(|(k, _)| k == "link-1-type"),
        "one empty row to start: {form:?}"
    );
    let more = browser
        .post(
            "/console/anchors/new",
            &pairs(&with(&form, &[("add-link", "1")])),
        )
        .await;
    assert_eq!(more.status(), StatusCode::OK);
    let html = more.text().await.unwrap();
    for id in [
        "link-0-type",
        "link-1-type",
        "link-2-type",
        "link-2-href",
        "link-2-title",
        "link-2-lang",
    ] {
        assert!(
            html.contains(&format!(r#"<label for="{id}">"#)),
            "{id}: {html}"
        );
    }
    assert!(
        html.contains(r#"value="gs1:pip""#),
        "what was typed is kept"
    );
    assert_eq!(app.get_anchor(G).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_scoped_key_sees_and_edits_only_its_own_prefix() {
    let (app, _dir) = app().await;
    const THEIRS: &str = "01/09506000134352";
    app.put_anchor(THEIRS, anchor("Someone else's", "https://other.example/x"))
        .await;
    let mut acme = Browser::new(&app);
    acme.sign_in(ACME).await;
    let csrf = acme.csrf().await;
    for page in [
        format!("/console/anchor/{THEIRS}"),
        format!("/console/anchor/{THEIRS}/edit"),
    ] {
        let (status, html) = acme.page(&page).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
        assert!(!html.contains("Someone else"), "{html}");
        assert!(
            html.contains("(01/0952012*) do not cover 01/09506000134352"),
            "the API's words: {html}"
        );
    }
    let edit = [
        ("csrf", csrf.as_str()),
        ("version", "1"),
        ("itemDescription", "Taken over"),
        ("link-0-type", "gs1:pip"),
        ("link-0-href", "https://evil.example"),
        ("link-0-title", "x"),
    ];
    for action in ["edit", "delete", "restore"] {
        let r = acme
            .post(&format!("/console/anchor/{THEIRS}/{action}"), &edit)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let created = acme
        .post(
            "/console/anchors/new",
            &[
                ("identifier", "01/09506000134369"),
                ("csrf", &csrf),
                ("version", ""),
                ("itemDescription", "x"),
                ("link-0-type", "gs1:pip"),
                ("link-0-href", "https://evil.example"),
                ("link-0-title", "x"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::FORBIDDEN);
    assert!(
        created
            .text()
            .await
            .unwrap()
            .contains(r#"id="identifier-error""#)
    );
    assert_eq!(
        app.get_anchor("01/09506000134369").await.status(),
        StatusCode::NOT_FOUND
    );
    let record = api_record(&app, THEIRS).await;
    assert_eq!(
        (record["version"].clone(), record["itemDescription"].clone()),
        (json!(1), json!("Someone else's"))
    );

    // The key whose prefix it is sees and edits it.
    let mut other = Browser::new(&app);
    other.sign_in(OTHER).await;
    let (status, html) = other.page(&format!("/console/anchor/{THEIRS}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Someone else"), "{html}");
    let form = filled(
        &mut other,
        &format!("/console/anchor/{THEIRS}/edit"),
        &[("itemDescription", "Mine, edited")],
    )
    .await;
    let saved = other
        .post(&format!("/console/anchor/{THEIRS}/edit"), &pairs(&form))
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        api_record(&app, THEIRS).await["itemDescription"],
        "Mine, edited"
    );
}

/// `idr keys …` against a Redis store; its standard output.
fn keys_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = crate::support::server::command()
        .arg("keys")
        .args(args)
        .args(["--redis-url", &redis.url()])
        .env("RUST_LOG", "error")
        .output()
        .expect("run idr keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Lower-case hex SHA-256 (the expected values come from the `sha2` crate, not from idr's code).
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn sessions_live_in_redis_shared_by_replicas_and_end_with_their_key() {
    let redis = RedisServer::start();
    let scope = ["--scope", "01/0952012*"];
    let doomed = keys_cli(
        &redis,
        &[&["create", "--name", "doomed"][..], &scope].concat(),
    );
    let brief = keys_cli(
        &redis,
        &[
            &["create", "--name", "brief", "--expires-in", "8s"][..],
            &scope,
        ]
        .concat(),
    );
    // The command read the clock before it returned: the key has expired 8 s after this at the latest.
    let brief_created = std::time::Instant::now();
    let one = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    let two = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;

    // A key that expires ends its session then, though the session itself would last an hour.
    let mut short = Browser::new(&one);
    assert_eq!(short.sign_in(&brief).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(short.page("/console/anchors").await.0, StatusCode::OK);

    // The session is stored in Redis under the SHA-256 of the cookie's id, with the session's lifetime, and holds
    // neither the id nor the key.
    let mut admin = Browser::new(&one);
    admin.sign_in(ADMIN_TOKEN).await;
    let id = admin
        .cookies
        .iter()
        .find(|(k, _)| k == "idr_console")
        .unwrap()
        .1
        .clone();
    let name = format!("idr:session:{}", sha256_hex(&id));
    assert!(
        redis.keys("idr:session:*").contains(&name),
        "{:?}",
        redis.keys("idr:session:*")
    );
    let ttl: i64 = redis.cli(&["PTTL", &name]).trim().parse().unwrap();
    assert!(ttl > 3_500_000 && ttl <= 3_600_000, "{ttl}");
    let stored = redis.cli(&["GET", &name]);
    assert!(
        !stored.contains(&id) && !stored.contains(ADMIN_TOKEN),
        "{stored}"
    );
    assert!(
        stored.contains(&sha256_hex(ADMIN_TOKEN)),
        "which key, by its hash: {stored}"
    );

    // Another replica accepts it, and a sign-out there ends it here.
    let mut elsewhere = Browser::new(&two);
    elsewhere.cookies = admin.cookies.clone();
    assert_eq!(elsewhere.page("/console/anchors").await.0, StatusCode::OK);
    let csrf = elsewhere.csrf().await;
    let out = elsewhere
        .post("/console/sign-out", &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!redis.keys("idr:session:*").contains(&name));
    let replayed = admin.get("/console/anchors").await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replayed), "/console/sign-in");

    // A revoked key ends its session as soon as the replica knows of the revocation (its key refresh, 10 s).
    let mut revoked = Browser::new(&one);
    assert_eq!(
        revoked.sign_in(&doomed).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(revoked.page("/console/anchors").await.0, StatusCode::OK);
    keys_cli(&redis, &["revoke", "--name", "doomed"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = client()
            .get(one.url("/console/anchors"))
            .header(COOKIE, revoked.cookie_header())
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::SEE_OTHER {
            assert_eq!(location(&r), "/console/sign-in");
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            std::time::Instant::now() < deadline,
            "the session outlived its revoked key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // The API refuses the key at the same time: the session held nothing more than the key.
    let api = one
        .scoped(&doomed, Method::GET, "/api/v1/anchors")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let expired_at = brief_created + std::time::Duration::from_millis(8100);
    tokio::time::sleep_until(expired_at.into()).await;
    let ended = short.get("/console/anchors").await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&ended), "/console/sign-in");
}

#[tokio::test]
async fn a_record_with_every_attribute_saved_unchanged_is_not_written_again() {
    let (app, _dir) = app().await;
    app.put_anchor(
        G,
        json!({"itemDescription": "Battery <pack> & \"cells\"", "defaultLinkType": "untp:dpp",
            "links": [
                {"linkType": "untp:dpp", "href": "https://brand.example/dpp/1.jwt", "title": "Passport",
                 "type": "application/vc+jwt", "hreflang": ["en", "de"], "context": ["au"],
                 "accessRole": ["customer"], "fwqs": false},
                {"linkType": "gs1:pip", "href": "https://brand.example/p?a=1&b=2", "title": "Info ünïcode"},
                {"linkType": "gs1:certificationInfo", "href": "https://brand.example/cert", "title": "Cert",
                 "encryptionMethod": "AES-256", "accessRole": ["regulator"]}
            ]}),
    )
    .await;
    // A changed target: the old one is kept as a predecessor version, a link of its own in the record.
    let mut body = api_record(&app, G).await;
    body["links"][1]["href"] = json!("https://brand.example/p2");
    for field in ["identifier", "anchor", "version"] {
        body.as_object_mut().unwrap().remove(field);
    }
    app.put_anchor(G, body).await;
    let before = api_record(&app, G).await;
    assert_eq!(before["version"], 2);
    assert!(before["links"].as_array().unwrap().len() >= 4, "{before}");

    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let form = filled(&mut browser, &format!("/console/anchor/{G}/edit"), &[]).await;
    let saved = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&form))
        .await;
    assert_eq!(
        location(&saved),
        format!("/console/anchor/{G}?notice=unchanged")
    );
    assert_eq!(api_record(&app, G).await, before);
    assert_eq!(
        trail(&app, G).await.len(),
        2,
        "no audit entry for a save that wrote nothing"
    );
}

#[tokio::test]
async fn the_anchor_page_shows_levels_links_default_version_and_verification() {
    // `report` mode; the credential's target is a closed loopback port, so its state is pending, then unreachable.
    let app =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_VERIFICATION__MODE", "report")]).await;
    app.put_anchor(
        G,
        anchor("Battery pack", "https://localhost:1/battery.html"),
    )
    .await;
    let lot = format!("{G}/10/LOT42");
    app.put_anchor(
        &lot,
        json!({"itemDescription": "Battery pack, lot 42", "defaultLinkType": "untp:dpp", "links": [
            {"linkType": "untp:dpp", "href": "https://localhost:1/dpp/lot42.jwt", "title": "Passport",
             "type": "application/vc+jwt", "hreflang": ["en"]},
            {"linkType": "gs1:pip", "href": "https://localhost:1/lot42.html", "title": "Lot page"}]}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let (status, html) = browser.page(&format!("/console/anchor/{lot}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Battery pack, lot 42</h1>"), "{html}");
    assert!(html.contains(r#"<span id="version">1</span>"#), "{html}");
    assert!(
        html.contains("<dt>Default link type</dt><dd>untp:dpp</dd>"),
        "{html}"
    );
    let passport = &html
        [html.find(r#"id="stored-link-0""#).unwrap()..html.find(r#"id="stored-link-1""#).unwrap()];
    assert!(
        passport.contains("untp:dpp: Passport")
            && passport.contains("https://localhost:1/dpp/lot42.jwt"),
        "{passport}"
    );
    assert!(
        passport.contains("Verification: pending")
            || passport.contains("Verification: unreachable"),
        "{passport}"
    );
    let page_link = &html[html.find(r#"id="stored-link-1""#).unwrap()..];
    let page_link = &page_link[..page_link.find("</li>").unwrap()];
    assert!(
        !page_link.contains("Verification"),
        "only credential links are verified: {page_link}"
    );
    // Browse says it too, per anchor, with the level each falls back to.
    let (_, browse) = browser.page("/console/anchors").await;
    assert!(
        browse.contains(&format!(
            r#"<span class="meta"> under <a href="/console/anchor/{G}"><code>{G}</code></a></span>"#
        )),
        "{browse}"
    );
    assert!(
        browse.contains(r#"<th scope="col">Verification</th>"#),
        "{browse}"
    );
    assert!(
        browse.contains(r#"<td data-label="Verification">1 pending</td>"#)
            || browse.contains(r#"<td data-label="Verification">1 unreachable</td>"#),
        "{browse}"
    );
    assert!(
        browse.contains(r#"<td data-label="Verification">—</td>"#),
        "the product level has no credential link: {browse}"
    );
    // The level above, with what it holds.
    let levels = &html[html.find(r#"id="levels""#).unwrap()..];
    assert!(
        levels.contains(&format!(r#"href="/console/anchor/{G}""#))
            && levels.contains("Battery pack (gs1:pip)"),
        "{levels}"
    );
}

#[tokio::test]
async fn browse_pages_through_every_anchor_once() {
    let (app, _dir) = app().await;
    // 30 serials under acme's prefix: a page holds 25.
    let serials: Vec<String> = (0..30).map(|i| format!("{G}/21/S{i:02}")).collect();
    for (i, serial) in serials.iter().enumerate() {
        let description = if i % 10 == 7 {
            format!("Special {i}")
        } else {
            format!("Item {i}")
        };
        app.put_anchor(serial, anchor(&description, "https://brand.example/x"))
            .await;
    }
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let mut seen = Vec::new();
    let mut page = "/console/anchors?prefix=01/09520123456788/21/".to_string();
    for _ in 0..3 {
        let (status, html) = browser.page(&page).await;
        assert_eq!(status, StatusCode::OK);
        for serial in &serials {
            if html.contains(&format!(r#"href="/console/anchor/{serial}""#)) {
                seen.push(serial.clone());
            }
        }
        match html.find(r#"<a id="next-page" href=""#) {
            Some(_) => page = unescape(&attribute_after(&html, r#"<a id="next-page" href=""#)),
            None => break,
        }
    }
    assert_eq!(seen, serials, "each once, in order, over two pages");
    // A search goes through the pages too: the three "Special" ones.
    let (_, html) = browser.page("/console/anchors?q=special").await;
    let found: Vec<&String> = serials
        .iter()
        .filter(|s| html.contains(&format!(r#"href="/console/anchor/{s}""#)))
        .collect();
    assert_eq!(found, [&serials[7], &serials[17], &serials[27]]);

    // Exactly a page's worth left (S00 to S24): no next page that would be empty.
    for serial in &serials[25..] {
        assert_eq!(
            app.delete_anchor(serial).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    let (_, html) = browser
        .page("/console/anchors?prefix=01/09520123456788/21/")
        .await;
    assert!(html.contains(&format!(r#"href="/console/anchor/{}""#, serials[24])));
    assert!(!html.contains(r#"id="next-page""#), "{html}");
}

#[tokio::test]
async fn behind_https_the_cookie_is_secure_and_lives_as_long_as_configured() {
    let app =
        TestApp::start_with_env(&["--no-demo"], &[("IDR_CONSOLE__SESSION_MINUTES", "5")]).await;
    let https = ("X-Forwarded-Proto", "https");
    let form = client()
        .get(app.url("/console/sign-in"))
        .header(https.0, https.1)
        .send()
        .await
        .unwrap();
    let sign_in_cookie = set_cookie(&form, "idr_console_sign_in");
    assert!(sign_in_cookie.ends_with("; Secure"), "{sign_in_cookie}");
    let token = sign_in_cookie
        .strip_prefix("idr_console_sign_in=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = form.text().await.unwrap();
    assert_eq!(
        csrf_of(&html),
        token,
        "the sign-in form's token is its cookie's"
    );
    let signed_in = client()
        .post(app.url("/console/sign-in"))
        .header(https.0, https.1)
        .header(COOKIE, format!("idr_console_sign_in={token}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(url_encode(&[("csrf", &token), ("key", ADMIN_TOKEN)]))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&signed_in, "idr_console");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=300",
        "Secure",
    ] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
}

/// A store failure on a console page says what the API says (a fixed text), never the store's own words (here the
/// record's key and the decoder's complaint), which are for the operator's log.
#[tokio::test]
async fn a_store_failure_shows_the_apis_text_not_the_stores_words() {
    let redis = RedisServer::start();
    let app = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    app.put_anchor(
        G,
        json!({"itemDescription": "X", "links": [{"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "P"}]}),
    )
    .await;
    let key = format!("idr:a:{{{G}}}");
    assert_eq!(redis.cli(&["SET", &key, "not a record"]).trim(), "OK");

    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let (status, html) = browser.page(&format!("/console/anchor/{G}")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{html}");
    assert!(
        html.contains("a stored record could not be read"),
        "the API's detail: {html}"
    );
    assert!(
        !html.contains("idr:a:") && !html.contains(&format!("record {G}")),
        "the store's words stay in the log: {html}"
    );
}

/// A form body of nothing but numbered empty link rows, as large as the body limit allows: the form is read at most
/// one row past `limits.max_links_per_anchor` (500), and the answer is the form with an error on that row, nothing
/// written. (Before, each row cost a scan of every field: about 2e10 comparisons for this body.)
#[tokio::test]
async fn a_form_of_too_many_link_rows_is_refused_on_the_first_row_too_many() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csrf = browser.csrf().await;
    let mut body = format!("csrf={csrf}&identifier={G}&itemDescription=Soap");
    let mut n = 0;
    while body.len() < 1_000_000 {
        body.push_str(&format!("&link-{n}-type="));
        n += 1;
    }
    let response = client()
        .post(browser.url("/console/anchors/new"))
        .header(COOKIE, browser.cookie_header())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Link 501, link type: an anchor has at most 500 links"),
        "in the summary: {html}"
    );
    assert!(
        !html.contains(r#"id="link-501-type""#),
        "rows past it were not read"
    );
    assert_eq!(app.get_anchor(G).await.status(), StatusCode::NOT_FOUND);
}

/// A level above the caller's anchor that is outside its scopes is shown as registered, nothing more: not its
/// description or links on the anchor page, and not its candidates in Check's explanation.
#[tokio::test]
async fn levels_outside_the_scopes_are_named_not_shown() {
    let (app, _dir) = app().await;
    app.put_anchor(
        G,
        json!({"itemDescription": "Secret product", "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/hidden-from-serials", "title": "P"},
            {"linkType": "gs1:pip", "href": "https://brand.example/other", "title": "P2", "hreflang": ["de"]}]}),
    )
    .await;
    let serial = format!("{G}/21/S1");
    app.put_anchor(
        &serial,
        json!({"itemDescription": "Serial one", "links": [
            {"linkType": "gs1:certificationInfo", "href": "https://brand.example/cert", "title": "C"}]}),
    )
    .await;
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in(SERIALS).await.status(),
        StatusCode::SEE_OTHER
    );
    let (status, html) = browser.page(&format!("/console/anchor/{serial}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let levels = &html[html.find(r#"id="levels""#).unwrap()..];
    assert!(
        levels.contains("registered, outside your scopes"),
        "{levels}"
    );
    assert!(!html.contains("Secret product"), "{html}");
    assert!(!levels.contains("gs1:pip"), "{levels}");

    let (status, html) = browser
        .page(&format!(
            "/console/check?uri=%2F{}%3FlinkType%3Dgs1%3Apip&lang=en",
            serial.replace('/', "%2F")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(&format!("candidates at {G}: outside your scopes")),
        "{html}"
    );
    assert!(!html.contains("https://brand.example/other"), "{html}");
    assert!(!html.contains("candidates of type"), "{html}");
    assert!(
        html.contains("Serial one")
            || html.contains("gs1:certificationInfo")
            || html.contains("1 links"),
        "its own level is shown: {html}"
    );
}

/// An app on a Redis holding G at version 1 with an own link and a link a lifecycle contributor added, written as the
/// store's own format (idr's encoder), since making one through the API needs a DIA holder.
async fn with_a_contributed_link() -> (RedisServer, TestApp) {
    use idr::registry::{AnchorRecord, Link, StoredAnchor};
    let redis = RedisServer::start();
    let link = |href: &str, contributor: Option<&str>| Link {
        link_type: "https://gs1.org/voc/pip".into(),
        href: href.into(),
        title: "T".into(),
        media_type: None,
        hreflang: if contributor.is_some() {
            vec!["de".into()]
        } else {
            vec![]
        },
        context: vec![],
        rel: vec![],
        method: vec![],
        encryption_method: None,
        access_role: vec![],
        forwards_query: true,
        id: None,
        contributor: contributor.map(str::to_string),
    };
    let stored = StoredAnchor {
        version: 1,
        record: AnchorRecord {
            item_description: "Pack".into(),
            default_link_type: None,
            links: vec![
                link("https://brand.example/own", None),
                link(
                    "https://recycler.example/e",
                    Some("did:web:recycler.example"),
                ),
            ],
        },
    };
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("idr:a:{{{G}}}");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(stored.encode())
        .query_async(&mut connection)
        .await
        .unwrap();
    let app = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    (redis, app)
}

/// A save that met a conflict lists the contributed links it did not know of, so saving again (which replaces the
/// whole list) keeps them: here "New anchor" names an identifier that exists with a contributor's link.
#[tokio::test]
async fn saving_after_a_conflict_keeps_contributed_links_the_form_did_not_list() {
    let (_redis, app) = with_a_contributed_link().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let fields = filled(
        &mut browser,
        "/console/anchors/new",
        &[
            ("identifier", G),
            ("itemDescription", "Pack"),
            ("link-0-type", "gs1:pip"),
            ("link-0-href", "https://brand.example/new"),
            ("link-0-title", "N"),
        ],
    )
    .await;
    let conflict = browser.post("/console/anchors/new", &pairs(&fields)).await;
    let status = conflict.status();
    let html = conflict.text().await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(html.contains(r#"id="conflict""#), "{html}");
    let again = form_fields(&html, "anchor-form");
    let action = if html.contains(&format!(r#"action="/console/anchor/{G}/edit""#)) {
        format!("/console/anchor/{G}/edit")
    } else {
        "/console/anchors/new".to_string()
    };
    let saved = browser.post(&action, &pairs(&again)).await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
    let after = api_record(&app, G).await;
    let hrefs: Vec<&str> = after["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert!(hrefs.contains(&"https://brand.example/new"), "{after}");
    assert!(hrefs.contains(&"https://recycler.example/e"), "{after}");
}

/// Removing a link a lifecycle contributor added, on the edit form, removes it (the owner may, as with
/// `PUT ?contributions=replace`), and the other links stay as they were. The contributed link is written into Redis as
/// the store's own format (idr's encoder), since making one through the API needs a DIA holder.
#[tokio::test]
async fn removing_a_contributed_link_on_the_form_removes_it() {
    let (_redis, app) = with_a_contributed_link().await;
    let before = api_record(&app, G).await;
    assert_eq!(
        before["links"][1]["contributor"], "did:web:recycler.example",
        "{before}"
    );

    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    let fields = filled(
        &mut browser,
        &format!("/console/anchor/{G}/edit"),
        &[("link-1-remove", "1")],
    )
    .await;
    let saved = browser
        .post(&format!("/console/anchor/{G}/edit"), &pairs(&fields))
        .await;
    assert_eq!(
        saved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        saved.text().await.unwrap()
    );
    assert_eq!(
        location(&saved),
        format!("/console/anchor/{G}?notice=saved")
    );
    let after = api_record(&app, G).await;
    assert_eq!(after["version"], 2);
    assert_eq!(
        after["links"],
        json!([{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/own", "title": "T"}])
    );
}

/// A delete from a page loaded before the anchor changed deletes nothing and says so, with a link to the current
/// version (not a bare 412 error page).
#[tokio::test]
async fn a_delete_from_a_stale_page_shows_the_current_version() {
    let (app, _dir) = app().await;
    let body = |d: &str| {
        json!({"itemDescription": d, "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "P"}]})
    };
    app.put_anchor(G, body("First")).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let (_, page) = browser.page(&format!("/console/anchor/{G}")).await;
    assert!(
        page.contains(&format!(r#"id="label-link" href="/console/qr/{G}""#)),
        "the anchor page links to its label: {page}"
    );
    let csrf = csrf_of(&page);
    app.put_anchor(G, body("Second")).await;
    let response = browser
        .post(
            &format!("/console/anchor/{G}/delete"),
            &[("csrf", &csrf), ("version", "1")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"id="conflict""#), "{html}");
    assert!(html.contains("at version 2 now"), "{html}");
    assert!(
        html.contains(&format!(
            r#"id="current-version" href="/console/anchor/{G}""#
        )),
        "{html}"
    );
    assert_eq!(api_record(&app, G).await["itemDescription"], "Second");
}

//! The HTML view over real HTTP: a browser asking for a linkset, or getting a `300`, receives a page for people with
//! the same linkset embedded for machines; every other answer is unchanged. Then headless Chromium renders the page
//! at phone width and the screenshot must show something.

use crate::support::app::TestApp;
use crate::support::browser::{Browser, DESKTOP, PHONE, assert_not_blank, processes_of};
use crate::support::client::Api;
use crate::support::client::client;
use serde_json::{Value, json};
use std::path::Path;

/// What Chromium and Firefox send for a page.
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const GTIN: &str = "01/09520123456788";
const SERIAL: &str = "01/09520123456788/21/12345";

/// A product with pages in two languages, and a serial whose passport has an earlier version and an update action.
async fn register(server: &TestApp) {
    server
        .put_anchor(
            GTIN,
            json!({"itemDescription": "Battery pack model X", "defaultLinkType": "gs1:pip", "links": [
                {"linkType": "gs1:pip", "href": "https://brand.example/en", "title": "Product information",
                 "type": "text/html", "hreflang": ["en"]},
                {"linkType": "gs1:pip", "href": "https://brand.example/de", "title": "Produktinformationen",
                 "type": "text/html", "hreflang": ["de"]}
            ]}),
        )
        .await;
    let serial = |dpp: &str| {
        json!({"itemDescription": "Battery pack model X, serial 12345", "defaultLinkType": "untp:dpp", "links": [
            {"linkType": "untp:dpp", "href": dpp, "title": "Digital Product Passport",
             "type": "application/vc+jwt", "hreflang": ["en"]},
            {"linkType": "untp:dpp", "href": "https://cred.example/dpp/update", "title": "Update the passport",
             "type": "application/vc+jwt", "rel": "edit", "method": "POST",
             "accessRole": ["untp:accessRole#Owner"]},
            {"linkType": "untp:dte", "href": "https://cred.example/dte.enc", "title": "Traceability events",
             "type": "application/vc+jwt", "encryptionMethod": "AES-128", "context": ["eu"],
             "accessRole": ["untp:accessRole#Customer"]}
        ]})
    };
    // The second PUT keeps the first passport as a predecessor version.
    server
        .put_anchor(SERIAL, serial("https://cred.example/dpp/v1.jwt"))
        .await;
    server
        .put_anchor(SERIAL, serial("https://cred.example/dpp/v2.jwt"))
        .await;
}

/// The JSON inside `<script type="application/linkset+json">`.
fn embedded_linkset(html: &str) -> Value {
    let open = "<script type=\"application/linkset+json\">";
    let start = html.find(open).expect("an embedded linkset") + open.len();
    let end = start + html[start..].find("</script>").expect("closed");
    serde_json::from_str(&html[start..end]).expect("the embedded linkset is JSON")
}

async fn html_page(server: &TestApp, path: &str, status: u16) -> String {
    let r = server.get_with(path, &[("accept", BROWSER)]).await;
    assert_eq!(r.status(), status, "{path}");
    let h = r.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["x-robots-tag"], "noindex");
    assert_eq!(h["vary"], "Accept, Accept-Language");
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "no scripts are allowed");
    let link = h["link"].to_str().unwrap();
    assert!(
        link.contains("?linkType=linkset>; rel=\"linkset\""),
        "{link}"
    );
    r.text().await.expect("body")
}

async fn json_linkset(server: &TestApp, path: &str) -> Value {
    let r = server
        .get_with(path, &[("accept", "application/linkset+json")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/linkset+json");
    r.json().await.expect("JSON")
}

#[tokio::test]
async fn a_browser_asking_for_the_linkset_gets_a_page_with_the_same_linkset_inside() {
    let server = TestApp::start().await;
    register(&server).await;
    let html = html_page(&server, &format!("/{SERIAL}?linkType=linkset"), 200).await;
    for text in [
        "<html lang=\"en\">",
        "<meta name=\"viewport\"",
        "<main>",
        "<h1>Battery pack model X, serial 12345</h1>",
        "<h2 id=\"level-1\">Battery pack model X</h2>",
        // Link types by their vocabulary titles, links by theirs.
        "Digital Product Passport <span class=\"meta\"><code>untp:dpp</code>",
        "Product Information Page",
        ">Produktinformationen</a>",
        "hreflang=\"de\"",
        "<dt>Encryption</dt><dd>AES-128</dd>",
        "<dt>Access</dt><dd>Customer</dd>",
        "<dt>Context</dt><dd>eu</dd>",
        "previous version",
        "action (POST)",
    ] {
        assert!(html.contains(text), "missing {text:?} in {html}");
    }
    assert!(!html.contains("<script>"), "no executable script");
    let json = json_linkset(&server, &format!("/{SERIAL}")).await;
    assert_eq!(embedded_linkset(&html), json);
    // linkType=all is the same request.
    let all = html_page(&server, &format!("/{SERIAL}?linkType=all"), 200).await;
    assert_eq!(embedded_linkset(&all), json);
}

#[tokio::test]
async fn everything_else_is_unchanged() {
    let server = TestApp::start().await;
    register(&server).await;
    // A scan from a browser still redirects.
    let r = server
        .get_with(&format!("/{GTIN}"), &[("accept", BROWSER)])
        .await;
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "https://brand.example/en");
    let r = server
        .get_with(
            &format!("/{GTIN}?linkType=gs1:pip"),
            &[("accept", "text/html")],
        )
        .await;
    assert_eq!(r.status(), 307);
    // JSON wherever JSON is preferred or HTML not asked for.
    for accept in [
        "application/linkset+json",
        "application/linkset+json, text/html",
        "text/html;q=0.5, application/json",
        "*/*",
    ] {
        let r = server
            .get_with(&format!("/{GTIN}?linkType=linkset"), &[("accept", accept)])
            .await;
        assert_eq!(r.status(), 200, "{accept}");
        assert_eq!(
            r.headers()["content-type"],
            "application/linkset+json",
            "{accept}"
        );
    }
    let r = server
        .get_with(
            &format!("/{GTIN}?linkType=linkset"),
            &[("accept", "application/ld+json")],
        )
        .await;
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    // The linkset asked for by Accept, with text/html ranked above it: the page.
    let r = server
        .get_with(
            &format!("/{GTIN}"),
            &[("accept", "text/html, application/linkset+json;q=0.5")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
}

#[tokio::test]
async fn multiple_choices_are_a_page_listing_the_candidates() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            GTIN,
            json!({"itemDescription": "Battery pack", "links": [
                {"linkType": "gs1:certificationInfo", "href": "https://cert.example/a", "title": "Certificate A",
                 "type": "application/pdf", "hreflang": ["en"]},
                {"linkType": "gs1:certificationInfo", "href": "https://cert.example/b", "title": "Certificate B",
                 "type": "application/pdf", "hreflang": ["en"]}
            ]}),
        )
        .await;
    let path = format!("/{GTIN}?linkType=gs1:certificationInfo");
    let html = html_page(&server, &path, 300).await;
    assert!(html.contains("choose one"), "{html}");
    assert!(html.contains("<a href=\"https://cert.example/a\""));
    assert!(html.contains("<a href=\"https://cert.example/b\""));
    assert!(html.contains("Certification Information"));
    let r = server
        .get_with(&path, &[("accept", "application/json")])
        .await;
    assert_eq!(r.status(), 300);
    assert_eq!(r.headers()["content-type"], "application/linkset+json");
    let json: Value = r.json().await.unwrap();
    assert_eq!(embedded_linkset(&html), json);
}

#[tokio::test]
async fn hostile_titles_are_escaped() {
    let server = TestApp::start().await;
    let attack = "</script><script>alert(1)</script>";
    server
        .put_anchor(
            GTIN,
            json!({"itemDescription": format!("Battery {attack}"), "links": [
                {"linkType": "gs1:pip", "href": "https://brand.example/p?a=1&b=<2>",
                 "title": "<img src=x onerror=alert(2)> \"quoted\" & more", "hreflang": ["en"]}
            ]}),
        )
        .await;
    let html = html_page(&server, &format!("/{GTIN}?linkType=linkset"), 200).await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert_eq!(
        html.matches("</script>").count(),
        1,
        "only the data block's own end tag"
    );
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &amp; more"));
    let json = json_linkset(&server, &format!("/{GTIN}")).await;
    assert_eq!(embedded_linkset(&html), json, "escaping loses nothing");
}

/// The page in headless Chromium over WebDriver (the harness the console's browser tests use): what it renders,
/// at phone and laptop width, that it sets no cookie, and that a same-origin download (the label's QR code) lands in
/// the browser's download folder.
#[tokio::test]
async fn chromium_renders_the_page_at_phone_and_laptop_width() {
    let Some(browser) =
        Browser::start("html_view::chromium_renders_the_page_at_phone_and_laptop_width").await
    else {
        return;
    };
    let server = TestApp::start().await;
    register(&server).await;
    browser
        .goto(&server.url(&format!("/{SERIAL}?linkType=linkset")))
        .await;
    assert_eq!(browser.path().await, format!("/{SERIAL}?linkType=linkset"));
    assert_eq!(
        browser.title().await,
        format!("Battery pack model X, serial 12345 · {SERIAL}")
    );
    let headings = browser.all("h1").await;
    assert_eq!(headings.len(), 1);
    assert_eq!(
        headings[0].text().await.unwrap(),
        "Battery pack model X, serial 12345"
    );
    assert_eq!(browser.text("level-1").await, "Battery pack model X");
    // Nothing on the page needs a script, and nothing is broken by the CSP: every link is rendered and visible.
    let links = browser.all("main a[href^='https://']").await;
    let mut hrefs = Vec::new();
    for link in &links {
        assert!(link.is_displayed().await.unwrap());
        hrefs.push(link.attr("href").await.unwrap().unwrap());
    }
    assert!(
        hrefs.contains(&"https://cred.example/dpp/v2.jwt".to_string()),
        "{hrefs:?}"
    );
    assert!(
        browser.cookies().await.is_empty(),
        "the public page sets no cookie"
    );
    // At phone width nothing is wider than the screen (no sideways scrolling).
    let scroll_width: u32 = browser
        .script("return document.documentElement.scrollWidth")
        .await
        .convert()
        .unwrap();
    assert_eq!(scroll_width, PHONE.0);
    assert_eq!(browser.csp_violations().await, Vec::<String>::new());
    let phone = browser.screenshot("html-view-390").await;
    assert_not_blank(&phone, PHONE);
    browser.resize(DESKTOP).await;
    let desktop = browser.screenshot("html-view-1280").await;
    assert_not_blank(&desktop, DESKTOP);
    // The policy is enforced (and its refusals seen): a style element added to the page is not applied.
    browser
        .script("const s = document.createElement('style'); s.textContent = 'main{color:red}'; document.head.append(s);")
        .await;
    let refused = browser.csp_violations().await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("style-src"), "{refused:?}");
    // A download as a person starts one: a same-origin link with a `download` attribute, clicked.
    browser
        .script(&format!(
            "const a = document.createElement('a'); a.id = 'qr'; a.textContent = 'QR code'; \
             a.href = '/api/v1/qr/{SERIAL}?format=png'; a.download = 'label.png'; \
             document.querySelector('main').prepend(a);"
        ))
        .await;
    let download = browser.download("#qr").await;
    assert_eq!(download.name, "label.png");
    let image = image::load_from_memory(&download.bytes)
        .expect("a PNG")
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    let (_, text) = grids[0].decode().expect("the code decodes");
    assert_eq!(text, server.url(&format!("/{SERIAL}")));
    browser.quit().await;
}

/// The harness leaves nothing behind: a browser dropped without quitting (as a failing test drops it) takes
/// chromedriver and every Chromium process with it.
#[tokio::test]
async fn a_dropped_browser_leaves_no_process_behind() {
    let Some(browser) =
        Browser::start("html_view::a_dropped_browser_leaves_no_process_behind").await
    else {
        return;
    };
    let server = TestApp::start().await;
    browser.goto(&server.url("/")).await;
    let (group, dir) = browser.identity();
    let running = browser.processes();
    assert!(
        running.len() > 2,
        "chromedriver and Chromium's processes: {running:?}"
    );
    assert!(
        !processes_of(0, &dir).is_empty(),
        "the crash handler and Chromium name the temporary directory"
    );
    drop(browser);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = processes_of(group, &dir);
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running 10 s after the drop: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Regenerates `docs/html-view-phone.png` from the demo data:
/// `cargo test --test api -- --ignored html_view::docs_screenshot`.
#[tokio::test]
#[ignore = "writes docs/html-view-phone.png; run by hand"]
async fn docs_screenshot() {
    let browser = Browser::start("html_view::docs_screenshot")
        .await
        .expect("browser tests are not skipped");
    let server = TestApp::start_with(&["--resolver-root", "https://id.example.com"]).await;
    browser
        .goto(&server.url(&format!("/{SERIAL}?linkType=linkset")))
        .await;
    let shot = browser.screenshot("html-view-phone").await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/html-view-phone.png");
    std::fs::copy(&shot, &out).expect("copy to docs/");
    assert_not_blank(&out, PHONE);
    browser.quit().await;
}

/// `GET /` in a browser: a page saying what this is, with a form that resolves on this host and links that work; it
/// loads nothing (no scripts, fonts, images or style sheets from anywhere).
#[tokio::test]
async fn the_root_is_a_home_page_for_browsers() {
    let server = TestApp::start().await;
    let response = server.get_with("/", &[("accept", BROWSER)]).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["vary"], "Accept");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-"),
        "{csp}"
    );
    assert!(csp.contains("form-action 'self'"), "{csp}");
    let html = response.text().await.unwrap();
    // The page's one style is the one the policy allows.
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .expect("a style element")
        .0;
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    for forbidden in [
        "<script",
        "<link",
        "<img",
        "src=",
        "@import",
        "url(",
        "@font-face",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} in {html}");
    }
    assert!(html.contains(r#"<form action="/" method="get">"#), "{html}");
    assert!(html.contains(r#"name="id""#), "{html}");
    // Every link on the page leads somewhere that answers.
    let hrefs: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    for expected in ["/.well-known/resolver", "/api/docs", "/api/openapi.json"] {
        assert!(hrefs.contains(&expected), "{expected} not in {hrefs:?}");
    }
    for href in hrefs {
        let target = server.get_with(href, &[("accept", "*/*")]).await;
        assert_eq!(target.status(), 200, "{href}");
    }
}

/// Other clients get JSON pointing to the description file; `HEAD` is the same without a body.
#[tokio::test]
async fn the_root_points_other_clients_to_the_description_file() {
    let server = TestApp::start().await;
    for accept in ["*/*", "application/json", ""] {
        let response = server.get_with("/", &[("accept", accept)]).await;
        assert_eq!(response.status(), 200, "Accept: {accept}");
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.headers()["link"].to_str().unwrap(),
            format!(
                "<{}/.well-known/resolver>; rel=\"describedby\"; type=\"application/json\"",
                server.base
            )
        );
        let body: Value = response.json().await.unwrap();
        let description = body["resolverDescription"].as_str().unwrap();
        assert_eq!(description, format!("{}/.well-known/resolver", server.base));
        let described: Value = client()
            .get(description)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(described["resolverRoot"], server.base);
    }
    for accept in ["*/*", BROWSER] {
        let head = client()
            .head(server.url("/"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        let expected = if accept == BROWSER {
            "text/html; charset=utf-8"
        } else {
            "application/json"
        };
        assert_eq!(head.headers()["content-type"], expected);
        assert!(head.bytes().await.unwrap().is_empty());
    }
    let post = client().post(server.url("/")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD, OPTIONS");
}

/// The form's submission (`/?id=…`) is a `303` to the identifier's path on this host, whatever was typed.
#[tokio::test]
async fn the_home_form_resolves_on_this_host() {
    let server = TestApp::start().await;
    register(&server).await;
    let cases = [
        ("01%2F09520123456788", "/01/09520123456788"),
        ("+%2F01%2F09520123456788+", "/01/09520123456788"),
        (
            "https%3A%2F%2Fid.example.com%2F01%2F09520123456788%3FlinkType%3Dgs1%3Apip",
            "/01/09520123456788?linkType=gs1:pip",
        ),
        ("%2F%2Fevil.example%2Fx", "/evil.example/x"),
        ("%2F%5Cevil.example", "/evil.example"),
    ];
    for (typed, location) in cases {
        let response = server
            .get_with(&format!("/?id={typed}"), &[("accept", BROWSER)])
            .await;
        assert_eq!(response.status(), 303, "{typed}");
        assert_eq!(response.headers()["location"], location, "{typed}");
    }
    // Followed, the first one is the scan a phone would make.
    let scan = server
        .get_with("/01/09520123456788", &[("accept", "*/*")])
        .await;
    assert_eq!(scan.status(), 307);
    assert_eq!(scan.headers()["location"], "https://brand.example/en");
    // Nothing typed: the page again.
    assert_eq!(
        server
            .get_with("/?id=", &[("accept", BROWSER)])
            .await
            .status(),
        200
    );
}

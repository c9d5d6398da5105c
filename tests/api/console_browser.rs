//! The issuer console (`/console`) in a real browser: headless Chromium over WebDriver (`support/browser.rs`), a
//! person's clicks and key presses against the contract's URLs and element ids. One browser session per scenario.
//! What a browser does on its own is what is tested here: following redirects, keeping (and dropping) the session
//! cookie, submitting forms with their hidden CSRF token, moving focus, downloading; the cookie's attributes and CSRF
//! refusals over plain HTTP are `console.rs`'s.
//!
//! Screenshots at 390 and 1280 px wide go to `target/screenshots/console-*.png`.

use crate::support::app::TestApp;
use crate::support::browser::{Browser, DESKTOP, PHONE, assert_not_blank};
use crate::support::client::{ADMIN_TOKEN, Api, client};
use serde_json::{Value, json};
use std::path::Path;
use thirtyfour::Key;

/// Two scoped keys (hashes computed with coreutils `sha256sum`): acme on `01/0952012*`, other on `01/0950600*`.
const ACME: &str = "acme-secret";
const OTHER: &str = "other-secret";
const KEYS: &str = r#"
[[keys]]
name = "acme"
sha256 = "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c"
scopes = ["01/0952012*"]

[[keys]]
name = "other"
sha256 = "9c0ee26e4a1fbb028187486a7ea91f81f8ab81fcf467cba75107dbd3a64244d7"
scopes = ["01/0950600*"]
"#;

/// acme's product (GTIN check digits computed by hand), a second one of acme's, and one of other's.
const PRODUCT: &str = "01/09520123456788";
const SECOND: &str = "01/09520123000011";
const OUTSIDE: &str = "01/09506000134352";
/// What the scenario creates through the form.
const LOT: &str = "01/09520123456788/10/LOT42";

async fn app() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("console-keys.toml");
    std::fs::write(&config, KEYS).unwrap();
    let app = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    (app, dir)
}

/// Registers acme's two products and other's one through the API (as the admin).
async fn register(app: &TestApp) {
    for (path, description) in [
        (PRODUCT, "Battery pack model X"),
        (SECOND, "Charger 65 W"),
        (OUTSIDE, "Someone else's drill"),
    ] {
        app.put_anchor(
            path,
            json!({"itemDescription": description, "links": [
                {"linkType": "gs1:pip", "href": "https://brand.example/info", "title": "Product information"}
            ]}),
        )
        .await;
    }
}

/// Opens the sign-in page (from `/console`, as a bookmark would) and signs in with `key` by mouse.
async fn sign_in(browser: &Browser, app: &TestApp, key: &str) {
    browser.goto(&app.url("/console")).await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser.fill("key", key).await;
    browser.click("sign-in").await;
    assert_eq!(browser.path().await, "/console/anchors", "signed in");
}

/// The identifiers Browse lists (the first column's links).
async fn listed(browser: &Browser) -> Vec<String> {
    let mut paths = Vec::new();
    for link in browser.all("#anchors tbody tr td:first-child > a").await {
        paths.push(link.text().await.unwrap());
    }
    paths
}

/// At phone width nothing may be wider than the screen (no sideways scrolling).
async fn assert_fits(browser: &Browser, width: u32) {
    let scroll_width: u32 = browser
        .script("return document.documentElement.scrollWidth")
        .await
        .convert()
        .unwrap();
    let wide: Vec<String> = browser
        .script(&format!(
            "return [...document.body.querySelectorAll('*')] \
               .filter(e => e.getBoundingClientRect().right > {width} + 0.5 \
                   || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')) \
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim().slice(0, 40))"
        ))
        .await
        .convert()
        .unwrap();
    assert_eq!(
        scroll_width,
        width,
        "{} scrolls sideways at {width} px; wider than the screen: {wide:?}",
        browser.path().await
    );
}

/// Screenshots the page at phone and laptop width (in that order, leaving the phone size set), checking that it
/// fits, is not blank, has no script and that its Content Security Policy refused nothing.
async fn screenshots(browser: &Browser, name: &str) {
    assert_eq!(
        browser.csp_violations().await,
        Vec::<String>::new(),
        "the page's own policy refuses nothing it needs"
    );
    let scripts: u32 = browser
        .script("return document.scripts.length")
        .await
        .convert()
        .unwrap();
    assert_eq!(scripts, 0, "the console needs no script");
    for size in [PHONE, DESKTOP] {
        browser.resize(size).await;
        browser.script("window.scrollTo(0, 0)").await;
        let png = browser.screenshot(&format!("{name}-{}", size.0)).await;
        assert_not_blank(&png, size);
        assert_fits(browser, size.0).await;
    }
    browser.resize(PHONE).await;
}

/// The text of the one QR code in a PNG.
fn qr_text(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().expect("the code decodes").1
}

async fn api_anchor(app: &TestApp, path: &str) -> Value {
    let r = app.get_anchor(path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.unwrap()
}

/// The whole round an issuer makes: sign in, find their anchors, create one (with a mistake, shown beside the field,
/// then fixed), see it in Browse, follow its public URI to where a scan lands, delete and restore it, and sign out.
#[tokio::test]
async fn an_issuer_signs_in_creates_an_anchor_fixes_a_mistake_resolves_it_and_signs_out() {
    let Some(browser) = Browser::start(
        "console_browser::an_issuer_signs_in_creates_an_anchor_fixes_a_mistake_resolves_it_and_signs_out",
    ).await else {
        return;
    };
    let (app, _dir) = app().await;
    register(&app).await;
    // Where a scan of the new anchor should land: a page of this very server, so the browser can follow it.
    let landing = app.url("/robots.txt");

    sign_in(&browser, &app, ACME).await;
    // The session is a cookie scripts cannot read, and the key is in no cookie.
    let cookies = browser.cookies().await;
    assert_eq!(cookies.len(), 1, "one session cookie: {cookies:?}");
    let session = cookies[0].clone();
    assert!(!session.value.contains(ACME));
    let readable: String = browser
        .script("return document.cookie")
        .await
        .convert()
        .unwrap();
    assert_eq!(readable, "", "HttpOnly: scripts see no cookie");

    // Browse: acme's two anchors, not other's.
    assert_eq!(listed(&browser).await, [SECOND, PRODUCT]);
    // Search by description.
    browser.fill("q", "charger").await;
    browser.click("search").await;
    assert_eq!(listed(&browser).await, [SECOND]);
    browser.fill("q", "").await;
    browser.click("search").await;
    screenshots(&browser, "console-browse").await;

    // New anchor, with a link whose address is not a URL.
    browser.click_css("a[href='/console/anchors/new']").await;
    assert_eq!(browser.path().await, "/console/anchors/new");
    browser.fill("identifier", LOT).await;
    browser
        .fill("item-description", "Battery pack model X, lot 42")
        .await;
    browser.choose("link-0-type", "gs1:pip").await;
    browser.fill("link-0-href", "brand.example/lot42").await;
    browser.fill("link-0-title", "Lot 42 information").await;
    browser.fill("link-0-lang", "en").await;
    browser.click("save").await;
    // Nothing was written, and the form is back with what was typed and the error beside the field.
    assert_eq!(app.get_anchor(LOT).await.status(), 404);
    assert_eq!(browser.value("identifier").await, LOT);
    assert_eq!(browser.value("link-0-href").await, "brand.example/lot42");
    assert_eq!(browser.value("link-0-title").await, "Lot 42 information");
    let error = browser.text("link-0-href-error").await;
    assert!(!error.is_empty(), "an error text beside the field");
    assert_eq!(
        browser.attr("link-0-href", "aria-invalid").await.as_deref(),
        Some("true")
    );
    let described = browser
        .attr("link-0-href", "aria-describedby")
        .await
        .unwrap_or_default();
    assert!(
        described
            .split_whitespace()
            .any(|id| id == "link-0-href-error"),
        "aria-describedby={described:?}"
    );
    // The error follows the field in the page, and the fields without errors are not marked.
    let follows: bool = browser
        .script(
            "const f = document.getElementById('link-0-href'), e = document.getElementById('link-0-href-error'); \
             return (f.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0 \
                 && f.closest('div, fieldset, td, li') === e.closest('div, fieldset, td, li');",
        )
        .await
        .convert()
        .unwrap();
    assert!(follows, "the error is right after its field");
    assert_eq!(browser.attr("link-0-title", "aria-invalid").await, None);
    screenshots(&browser, "console-edit-error").await;
    // The summary at the top is announced and leads to the field.
    assert_eq!(
        browser.attr("form-errors", "role").await.as_deref(),
        Some("alert")
    );
    browser
        .by_css("#form-errors a[href='#link-0-href']")
        .await
        .click()
        .await
        .unwrap();
    assert_eq!(browser.focused_id().await, "link-0-href");

    // Fixed and saved: the anchor page, with a notice, and the record in the store as typed.
    browser.fill("link-0-href", &landing).await;
    browser.click("save").await;
    assert_eq!(
        browser.current_url().await.path(),
        format!("/console/anchor/{LOT}")
    );
    assert!(!browser.text("notice").await.is_empty());
    assert_eq!(
        browser.attr("notice", "role").await.as_deref(),
        Some("status")
    );
    let stored = api_anchor(&app, LOT).await;
    assert_eq!(stored["itemDescription"], "Battery pack model X, lot 42");
    let links = stored["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "the empty row added no link: {stored}");
    assert_eq!(links[0]["href"], landing.as_str());
    assert_eq!(links[0]["title"], "Lot 42 information");
    assert_eq!(links[0]["hreflang"], json!(["en"]));

    // Browse shows it, under its product.
    browser.click_css("nav a[href='/console/anchors']").await;
    assert_eq!(listed(&browser).await, [SECOND, PRODUCT, LOT]);
    let under = browser
        .by_css(&format!("#anchors a[href='/console/anchor/{LOT}']"))
        .await
        .find(thirtyfour::By::XPath("following-sibling::*//a"))
        .await
        .expect("a link to the level above")
        .attr("href")
        .await
        .unwrap();
    assert_eq!(
        under.as_deref(),
        Some(format!("/console/anchor/{PRODUCT}").as_str())
    );

    // Checking it: the Check page says what a scan gets (the redirect to the link), and leads to the public linkset
    // page and to the label, whose QR codes download and decode to URIs that resolve to the same link.
    let public = app.url(&format!("/{LOT}"));
    browser.click_css("nav a[href='/console/check']").await;
    browser.fill("uri", &public).await;
    browser.click("check").await;
    let answer = browser.text("answer").await;
    assert!(
        answer.contains("307") && answer.contains(&landing),
        "{answer}"
    );
    assert!(browser.text("explanation").await.contains(&landing));
    screenshots(&browser, "console-check").await;
    browser.click("linkset").await;
    assert_eq!(browser.path().await, format!("/{LOT}?linkType=linkset"));
    assert_eq!(
        browser.all("h1").await[0].text().await.unwrap(),
        "Battery pack model X, lot 42"
    );
    assert!(
        !browser
            .all(&format!("main a[href='{landing}']"))
            .await
            .is_empty()
    );
    browser.mark().await;
    browser.back().await;
    browser.wait_for_new_page("back").await;
    browser.click("qr-page").await;
    assert_eq!(browser.path().await, format!("/console/qr/{LOT}"));
    let png = browser.download("#download-png").await;
    assert_eq!(png.name, "01_09520123456788_10_LOT42.png");
    assert_eq!(qr_text(&png.bytes), public);
    let svg = browser.download("#download-svg").await;
    assert_eq!(svg.name, "01_09520123456788_10_LOT42.svg");
    let svg_text = String::from_utf8(svg.bytes).expect("an SVG is text");
    assert!(svg_text.contains("<svg"), "{svg_text}");
    let compressed = browser.download("#download-png-compressed").await;
    let short = qr_text(&compressed.bytes);
    assert_ne!(short, public);
    assert!(short.starts_with(&app.url("/")), "{short}");
    let r = client().get(&short).send().await.unwrap();
    assert_eq!(r.status(), 307, "{short}");
    assert_eq!(r.headers()["location"], landing.as_str());
    screenshots(&browser, "console-qr").await;

    // Resolving it: the anchor's public URI answers 307 to the link, and a browser following it lands there.
    let r = client().get(&public).send().await.unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], landing.as_str());
    browser
        .click_css(&format!("a[href='/console/anchor/{LOT}']"))
        .await;
    browser.click_css(&format!("main a[href='{public}']")).await;
    assert_eq!(browser.current_url().await.as_str(), landing);
    assert!(browser.source().await.contains("Disallow: /"));

    // Deleted, a scan walks up to the product; restored, it lands on the lot's link again.
    browser
        .goto(&app.url(&format!("/console/anchor/{LOT}")))
        .await;
    browser.click("delete").await;
    assert_eq!(
        browser.current_url().await.path(),
        format!("/console/anchor/{LOT}")
    );
    assert_eq!(app.get_anchor(LOT).await.status(), 404);
    let r = client().get(&public).send().await.unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "https://brand.example/info");
    browser.click("restore").await;
    assert!(!browser.text("notice").await.is_empty());
    let r = client().get(&public).send().await.unwrap();
    assert_eq!(r.headers()["location"], landing.as_str());
    browser.goto(&app.url("/console/anchors")).await;

    // Signing out: back to the sign-in page, the cookie gone, and the console closed to this browser.
    browser.click("sign-out").await;
    assert_eq!(browser.path().await, "/console/sign-in");
    let cookies = browser.cookies().await;
    assert!(
        cookies
            .iter()
            .all(|c| c.name != session.name && c.value != session.value),
        "the session cookie is gone: {cookies:?}"
    );
    browser.goto(&app.url("/console/anchors")).await;
    assert_eq!(browser.path().await, "/console/sign-in");
    browser
        .goto(&app.url(&format!("/console/anchor/{LOT}/edit")))
        .await;
    assert_eq!(browser.path().await, "/console/sign-in");
    // The back button shows no signed-in page from a cache (no-store): it asks again and is sent to sign in.
    browser.mark().await;
    browser.back().await;
    browser.wait_for_new_page("back").await;
    assert_eq!(browser.path().await, "/console/sign-in");
    assert!(!browser.exists("anchors").await);
    browser.quit().await;
}

/// A key scoped to a prefix sees and edits only anchors under it: another prefix's anchor is absent from Browse
/// and from search, its pages refuse without showing it, and the form does not create one there; its own anchor
/// is edited, a link added through the add-a-row button, and a save that lost a race shows the conflict.
#[tokio::test]
async fn a_scoped_key_sees_and_edits_only_its_own_prefix() {
    let Some(browser) =
        Browser::start("console_browser::a_scoped_key_sees_and_edits_only_its_own_prefix").await
    else {
        return;
    };
    let (app, _dir) = app().await;
    register(&app).await;

    sign_in(&browser, &app, OTHER).await;
    assert_eq!(listed(&browser).await, [OUTSIDE]);
    sign_out(&browser).await;

    sign_in(&browser, &app, ACME).await;
    assert_eq!(listed(&browser).await, [SECOND, PRODUCT]);
    assert!(!browser.source().await.contains("Someone else"));
    for query in ["q=drill", "prefix=01/0950600", &format!("q={OUTSIDE}")] {
        browser
            .goto(&app.url(&format!("/console/anchors?{query}")))
            .await;
        assert!(listed(&browser).await.is_empty(), "{query}");
        assert!(!browser.source().await.contains("Someone else"), "{query}");
    }
    // Its anchor page and its edit page refuse, and show nothing of it.
    for page in [
        format!("/console/anchor/{OUTSIDE}"),
        format!("/console/anchor/{OUTSIDE}/edit"),
    ] {
        browser.goto(&app.url(&page)).await;
        assert!(browser.exists("problem").await, "{page} refuses");
        assert!(!browser.source().await.contains("Someone else"), "{page}");
        assert!(!browser.exists("save").await, "{page} has no form");
    }
    // Its own anchor's edit page is a form that saves; another prefix typed into the new-anchor form is refused.
    browser
        .goto(&app.url(&format!("/console/anchor/{PRODUCT}/edit")))
        .await;
    assert_eq!(
        browser.value("item-description").await,
        "Battery pack model X"
    );
    browser
        .fill("item-description", "Battery pack model X, 2027 edition")
        .await;
    // Another link, through the button that adds a row (no script).
    assert!(!browser.exists("link-2-href").await);
    browser.click("add-link").await;
    assert_eq!(
        browser.value("item-description").await,
        "Battery pack model X, 2027 edition",
        "what was typed survives adding a row"
    );
    browser.choose("link-2-type", "gs1:certificationInfo").await;
    browser
        .fill("link-2-href", "https://brand.example/certificate")
        .await;
    browser.fill("link-2-title", "Certificate").await;
    browser.click("save").await;
    assert!(!browser.text("notice").await.is_empty());
    let stored = api_anchor(&app, PRODUCT).await;
    assert_eq!(
        stored["itemDescription"],
        "Battery pack model X, 2027 edition"
    );
    assert_eq!(stored["version"], 2);
    let hrefs: Vec<&str> = stored["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        hrefs,
        [
            "https://brand.example/info",
            "https://brand.example/certificate"
        ]
    );

    // Two people at once: the form was loaded at version 2, someone saves version 3, this save is a conflict that
    // shows both and writes nothing; saving again replaces version 3.
    browser
        .goto(&app.url(&format!("/console/anchor/{PRODUCT}/edit")))
        .await;
    let mut elsewhere = api_anchor(&app, PRODUCT).await;
    elsewhere["itemDescription"] = json!("Changed elsewhere");
    app.put_anchor(PRODUCT, elsewhere).await;
    browser.fill("item-description", "Changed here").await;
    browser.click("save").await;
    assert!(
        browser
            .text("conflict-stored")
            .await
            .contains("Changed elsewhere")
    );
    assert!(
        browser
            .text("conflict-submitted")
            .await
            .contains("Changed here")
    );
    assert_eq!(
        api_anchor(&app, PRODUCT).await["itemDescription"],
        "Changed elsewhere"
    );
    browser.click("save").await;
    assert!(!browser.exists("conflict").await);
    let stored = api_anchor(&app, PRODUCT).await;
    assert_eq!(stored["itemDescription"], "Changed here");
    assert_eq!(stored["version"], 4);

    browser.goto(&app.url("/console/anchors/new")).await;
    browser.fill("identifier", "01/09506000999999").await;
    browser.fill("item-description", "Not mine").await;
    browser.choose("link-0-type", "gs1:pip").await;
    browser
        .fill("link-0-href", "https://brand.example/not-mine")
        .await;
    browser.click("save").await;
    assert_eq!(app.get_anchor("01/09506000999999").await.status(), 404);
    assert!(!browser.exists("notice").await);
    browser.quit().await;
}

async fn sign_out(browser: &Browser) {
    browser.click("sign-out").await;
    assert_eq!(browser.path().await, "/console/sign-in");
}

/// Signing in with the keyboard only: Tab reaches the skip link first, then the key field; Enter submits. A wrong
/// key is an error beside the field, the field keeps the focus order, and the right key signs in.
#[tokio::test]
async fn the_sign_in_form_works_from_the_keyboard() {
    let Some(browser) =
        Browser::start("console_browser::the_sign_in_form_works_from_the_keyboard").await
    else {
        return;
    };
    let (app, _dir) = app().await;
    browser.goto(&app.url("/console/sign-in")).await;
    browser.press(Key::Tab).await;
    let first: String = browser
        .script("return document.activeElement.getAttribute('href') || ''")
        .await
        .convert()
        .unwrap();
    assert_eq!(first, "#main", "the first stop is the skip link");
    assert_visible_focus(&browser).await;
    tab_to(&browser, "key").await;
    assert_visible_focus(&browser).await;
    browser.press("not-a-key").await;
    browser.mark().await;
    browser.press(Key::Enter).await;
    browser.wait_for_new_page("Enter").await;
    assert_eq!(browser.path().await, "/console/sign-in");
    assert!(!browser.text("key-error").await.is_empty());
    assert_eq!(
        browser.attr("key", "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(
        browser.value("key").await,
        "",
        "a refused key is not shown again"
    );
    assert!(
        browser
            .cookies()
            .await
            .iter()
            .all(|c| !c.value.contains("not-a-key"))
    );

    tab_to(&browser, "key").await;
    browser.press(ACME).await;
    browser.mark().await;
    browser.press(Key::Enter).await;
    browser.wait_for_new_page("Enter").await;
    assert_eq!(browser.path().await, "/console/anchors");
    browser.quit().await;
}

/// Presses Tab until the field with this id has the focus (at most 10 times).
async fn tab_to(browser: &Browser, id: &str) {
    for _ in 0..10 {
        if browser.focused_id().await == id {
            return;
        }
        browser.press(Key::Tab).await;
    }
    panic!("Tab never reached #{id}");
}

/// The focused element shows that it has the focus: an outline or a box shadow.
async fn assert_visible_focus(browser: &Browser) {
    let style: Vec<String> = browser
        .script(
            "const s = getComputedStyle(document.activeElement); \
             return [s.outlineStyle, s.outlineWidth, s.boxShadow];",
        )
        .await
        .convert()
        .unwrap();
    let outline = style[0] != "none" && style[1] != "0px";
    let shadow = style[2] != "none";
    assert!(outline || shadow, "no visible focus: {style:?}");
}

/// Regenerates `docs/console-phone.png` (Browse over the demo data at phone width, for the README):
/// `cargo test --test api -- --ignored console_browser::docs_screenshot`.
#[tokio::test]
#[ignore = "writes docs/console-phone.png; run by hand"]
async fn docs_screenshot() {
    let browser = Browser::start("console_browser::docs_screenshot")
        .await
        .expect("browser tests are not skipped");
    let app = TestApp::start_with(&["--resolver-root", "https://id.example.com"]).await;
    sign_in(&browser, &app, ADMIN_TOKEN).await;
    let shot = browser.screenshot("console-phone").await;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console-phone.png");
    std::fs::copy(&shot, &out).expect("copy to docs/");
    assert_not_blank(&out, PHONE);
    browser.quit().await;
}

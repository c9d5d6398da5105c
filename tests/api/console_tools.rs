//! The console's tools over real HTTP (`/console/check`, `/console/qr`, `/console/bulk`, `/console/audit`,
//! `/console/linktypes`), signed in as a browser without JavaScript is (the `Browser` of `console.rs`): a check
//! against an actual scan of the same URI, QR downloads decoded back to the URI, CSV and NDJSON uploads read back
//! through the API, the audit trail within the key's scopes, link-type vocabularies, and CSRF on every POST.

use crate::console::{ACME, Browser, G, OTHER, app, csrf_of, location};
use crate::qr::{decode_png, decode_svg};
use crate::support::client::{ADMIN_TOKEN, Api, client};
use crate::support::did_host::DidHost;
use crate::verification::{checking, html_page, recheck_status};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// Another GTIN of acme's prefix (`01/0952012*`), and one of other's (`01/0950600*`).
const G2: &str = "01/09520123456795";
const THEIRS: &str = "01/09506000134352";

/// The text of the element with `id`, tags removed and the few entities maud writes decoded.
fn text_of(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let open = at + html[at..].find('>').unwrap() + 1;
    let tag_start = html[..at].rfind('<').unwrap() + 1;
    let tag: String = html[tag_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let close = open + html[open..].find(&format!("</{tag}>")).unwrap();
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[open..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A `multipart/form-data` body as a browser sends a file input (and the hidden `csrf` field when given).
fn multipart(csrf: Option<&str>, filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----idrTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    if let Some(token) = csrf {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads a file in the Bulk form with the page's CSRF token: (status, HTML).
async fn upload(browser: &mut Browser, filename: &str, content: &[u8]) -> (StatusCode, String) {
    let (status, form) = browser.page("/console/bulk").await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains(r#"enctype="multipart/form-data""#), "{form}");
    let csrf = csrf_of(&form);
    let response = upload_with(browser, Some(&csrf), filename, content).await;
    (response.status(), response.text().await.unwrap())
}

async fn upload_with(
    browser: &mut Browser,
    csrf: Option<&str>,
    filename: &str,
    content: &[u8],
) -> Response {
    let (content_type, body) = multipart(csrf, filename, content);
    client()
        .post(browser.url("/console/bulk"))
        .header(COOKIE, browser.cookie_header())
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The report's rows: (lines, identifier, outcome, problem), from the `<tbody>` of `#report`.
fn report_rows(html: &str) -> Vec<[String; 4]> {
    let start = html
        .find(r#"id="report""#)
        .unwrap_or_else(|| panic!("{html}"));
    let body = &html[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .split("<td")
                .skip(1)
                .map(|c| &c[c.find('>').unwrap() + 1..])
                .map(|c| {
                    let mut text = String::new();
                    let mut in_tag = false;
                    for ch in c.chars() {
                        match ch {
                            '<' => in_tag = true,
                            '>' => in_tag = false,
                            ch if !in_tag => text.push(ch),
                            _ => {}
                        }
                    }
                    text.replace("&quot;", "\"").replace("&amp;", "&")
                })
                .collect();
            [
                cells[0].clone(),
                cells[1].clone(),
                cells[2].clone(),
                cells[3].clone(),
            ]
        })
        .collect()
}

async fn version_of(app: &impl Api, identifier: &str) -> Option<u64> {
    let response = app.get_anchor(identifier).await;
    if response.status() == StatusCode::NOT_FOUND {
        return None;
    }
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["version"].as_u64()
}

fn two_links() -> Value {
    json!({"itemDescription": "Lavender soap", "links": [
        {"linkType": "gs1:pip", "href": "https://brand.example/en/soap", "title": "Soap", "hreflang": ["en"]},
        {"linkType": "gs1:pip", "href": "https://brand.example/de/seife", "title": "Seife", "hreflang": ["de"]},
        {"linkType": "gs1:certificationInfo", "href": "https://brand.example/soap.pdf", "title": "Certificate",
         "type": "application/pdf"},
        {"linkType": "gs1:certificationInfo", "href": "https://brand.example/soap.html", "title": "Certificate",
         "type": "text/html"}]})
}

#[tokio::test]
async fn check_answers_what_an_actual_scan_of_the_same_uri_gets() {
    let (app, _dir) = app().await;
    app.put_anchor(G, two_links()).await;
    app.put_anchor(
        THEIRS,
        json!({"itemDescription": "Theirs", "links": [
            {"linkType": "gs1:pip", "href": "https://other.example/x", "title": "X"}]}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    // (path and query, Accept-Language, Accept): each checked and then scanned.
    let cases = [
        (format!("/{G}"), "", ""),
        (format!("/{G}"), "de-CH", ""),
        (format!("/{G}?linkType=gs1:pip"), "fr, de;q=0.5", ""),
        (
            format!("/{G}?linkType=gs1:certificationInfo"),
            "",
            "application/pdf",
        ),
        (
            format!("/{G}?linkType=gs1:certificationInfo"),
            "",
            "text/html",
        ),
        (format!("/{G}/10/LOT1?linkType=gs1:pip"), "de", ""),
        (format!("/{THEIRS}"), "", ""),
    ];
    for (uri, lang, accept) in &cases {
        for spelled in [uri.clone(), app.url(uri)] {
            let (status, html) = browser
                .page(&format!(
                    "/console/check?uri={}&lang={}&accept={}",
                    encode(&spelled),
                    encode(lang),
                    encode(accept)
                ))
                .await;
            assert_eq!(status, StatusCode::OK, "{html}");
            let answer = text_of(&html, "answer");
            let mut headers = Vec::new();
            if !lang.is_empty() {
                headers.push(("accept-language", *lang));
            }
            if !accept.is_empty() {
                headers.push(("accept", *accept));
            }
            let scan = app.get_with(uri, &headers).await;
            assert_eq!(scan.status(), StatusCode::TEMPORARY_REDIRECT, "{uri}");
            let target = scan.headers()["location"].to_str().unwrap().to_string();
            assert_eq!(
                answer,
                format!("307 Location: {target}"),
                "{spelled} {lang} {accept}"
            );
        }
    }
    // The explanation of the key's own identifier names the candidates; another's shows only the answer.
    let (_, own) = browser
        .page(&format!("/console/check?uri={}", encode(&format!("/{G}"))))
        .await;
    assert!(
        text_of(&own, "explanation").contains("candidates of type gs1:pip"),
        "{own}"
    );
    assert!(!own.contains(r#"id="answer-only""#));
    let (_, theirs) = browser.page(&format!("/console/check?uri=/{THEIRS}")).await;
    assert!(theirs.contains(r#"id="answer-only""#), "{theirs}");
    let explained = text_of(&theirs, "explanation");
    assert!(explained.contains("answer: 307 Location: https://other.example/x"));
    assert!(!explained.contains("candidates"), "{explained}");

    // Nothing registered: the check and the scan both say 404.
    let (_, missing) = browser.page("/console/check?uri=/01/09520123456719").await;
    assert!(text_of(&missing, "answer").starts_with("404"), "{missing}");
    assert_eq!(
        app.resolve("/01/09520123456719").await.status(),
        StatusCode::NOT_FOUND
    );
    // Not an identifier: the check says 400, as a scan does.
    let (_, bad) = browser.page("/console/check?uri=/01/123").await;
    assert!(text_of(&bad, "answer").starts_with("400"), "{bad}");
    assert_eq!(
        app.resolve("/01/123").await.status(),
        StatusCode::BAD_REQUEST
    );

    // The public linkset, as JSON for machines and the HTML view for browsers, at the link the page gives.
    let linkset = format!("{}/{G}?linkType=linkset", app.base());
    assert!(
        own.contains(&format!(r#"href="{linkset}""#)),
        "{linkset} in {own}"
    );
    let json = client()
        .get(&linkset)
        .header("accept", "application/linkset+json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::OK);
    let body: Value = json.json().await.unwrap();
    assert!(body["linkset"][0]["anchor"].as_str().unwrap().ends_with(G));
    let page = client()
        .get(&linkset)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("Lavender soap"));
    assert!(own.contains(&format!(r#"href="/console/qr/{G}""#)), "{own}");

    // A URI of another scheme than http(s) is refused beside the field.
    let (status, refused) = browser.page("/console/check?uri=ftp%3A%2F%2Fx%2F01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains(r#"id="uri-error""#), "{refused}");
    assert!(
        refused.contains(r#"aria-describedby="uri-hint uri-error""#),
        "{refused}"
    );
}

#[tokio::test]
async fn the_label_downloads_decode_to_the_anchors_uri_and_its_compressed_form() {
    let (app, _dir) = app().await;
    let id = format!("{G}/10/ABC");
    app.put_anchor(&id, two_links()).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let expected = format!("{}/{id}", app.base());

    let svg = browser.get(&format!("/console/qr/{id}?format=svg")).await;
    assert_eq!(svg.status(), StatusCode::OK);
    assert_eq!(svg.headers()[CONTENT_TYPE], "image/svg+xml");
    assert_eq!(
        svg.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"01_09520123456788_10_ABC.svg\""
    );
    assert_eq!(decode_svg(&svg.bytes().await.unwrap()).0, expected);

    let png = browser.get(&format!("/console/qr/{id}?format=png")).await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(
        png.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"01_09520123456788_10_ABC.png\""
    );
    assert_eq!(decode_png(&png.bytes().await.unwrap()).0, expected);

    // Compressed: a shorter URI that the resolver answers as the uncompressed one.
    let compressed = browser
        .get(&format!("/console/qr/{id}?format=png&compressed=1"))
        .await;
    assert_eq!(compressed.status(), StatusCode::OK);
    assert_eq!(
        compressed.headers()[CONTENT_DISPOSITION],
        "attachment; filename=\"01_09520123456788_10_ABC-compressed.png\""
    );
    let short = decode_png(&compressed.bytes().await.unwrap()).0;
    assert!(
        short.starts_with(app.base()) && short.len() < expected.len(),
        "{short}"
    );
    assert!(!short.contains("/01/"), "{short}");
    let path = &short[app.base().len()..];
    let (scan_short, scan_long) = (
        app.resolve(path).await,
        app.resolve(&format!("/{id}")).await,
    );
    assert_eq!(scan_short.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        scan_short.headers()["location"],
        scan_long.headers()["location"]
    );
    let compressed_svg = browser
        .get(&format!("/console/qr/{id}?format=svg&compressed=1"))
        .await;
    assert_eq!(decode_svg(&compressed_svg.bytes().await.unwrap()).0, short);
    // The same image as the API draws.
    let api = app
        .resolve(&format!("/api/v1/qr/{id}?format=png&compressed=true"))
        .await;
    let again = browser
        .get(&format!("/console/qr/{id}?format=png&compressed=1"))
        .await;
    assert_eq!(api.bytes().await.unwrap(), again.bytes().await.unwrap());

    // The label section: a preview and the four downloads.
    let (status, html) = browser.page(&format!("/console/qr/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains(r#"src="data:image/svg+xml;base64,"#),
        "{html}"
    );
    for link in [
        "?format=svg\"",
        "?format=png&amp;size=1024\"",
        "?format=svg&amp;compressed=1\"",
        "?format=png&amp;size=1024&amp;compressed=1\"",
    ] {
        assert!(
            html.contains(&format!("href=\"/console/qr/{id}{link}")),
            "{link} in {html}"
        );
    }
    // A bad option is a 400 naming it; not an identifier, a 400 too.
    let bad = browser.get(&format!("/console/qr/{id}?format=gif")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("format"));
    assert_eq!(
        browser.get("/console/qr/01/123?format=svg").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_csv_upload_writes_one_anchor_per_identifier_and_again_changes_nothing() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let template = browser.get("/console/bulk/template.csv").await;
    assert_eq!(template.status(), StatusCode::OK);
    assert!(
        template.headers()[CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=")
    );
    let template = template.text().await.unwrap();
    assert!(
        template.starts_with("identifier,link type,href,title,language\r\n"),
        "{template}"
    );

    // A BOM, a quoted field with a comma and a quote, two rows for G (in two spellings), one for G2.
    let csv = format!(
        "\u{FEFF}Identifier,Link Type,href,title,language,description\r\n\
         {G},gs1:pip,https://brand.example/soap,\"Soap, lavender \"\"fine\"\"\",en,Lavender soap\r\n\
         {G2},untp:dpp,https://brand.example/oil.jwt,Passport,en de,\r\n\
         01/9520123456788,untp:dpp,https://brand.example/soap.jwt,Passport,,\r\n"
    );
    let (status, html) = upload(&mut browser, "anchors.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let rows = report_rows(&html);
    assert_eq!(
        rows,
        vec![
            [
                "2, 4".to_string(),
                G.to_string(),
                "created".into(),
                "".into()
            ],
            ["3".into(), G2.into(), "created".into(), "".into()],
        ],
        "{html}"
    );
    let stored: Value = app.get_anchor(G).await.json().await.unwrap();
    assert_eq!(stored["itemDescription"], "Lavender soap");
    let links = stored["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{stored}");
    assert_eq!(links[0]["title"], "Soap, lavender \"fine\"");
    assert_eq!(links[0]["hreflang"], json!(["en"]));
    assert_eq!(links[1]["href"], "https://brand.example/soap.jwt");
    let oil: Value = app.get_anchor(G2).await.json().await.unwrap();
    assert_eq!(oil["links"][0]["hreflang"], json!(["en", "de"]));
    // Without a description a new anchor takes its first row's title.
    assert_eq!(oil["itemDescription"], "Passport");

    // The same file again: no new versions.
    let (_, again) = upload(&mut browser, "anchors.csv", csv.as_bytes()).await;
    let rows = report_rows(&again);
    assert!(
        rows.iter().all(|r| r[2] == "unchanged"),
        "{rows:?}\n{again}"
    );
    assert!(
        again.contains("0 created, 0 replaced, 2 unchanged, 0 refused"),
        "{again}"
    );
    assert_eq!(version_of(&app, G).await, Some(1));
    assert_eq!(version_of(&app, G2).await, Some(1));

    // What the API reads back, uploaded as NDJSON: no new versions either.
    let mut ndjson = String::new();
    for id in [G, G2] {
        let mut record: Value = app.get_anchor(id).await.json().await.unwrap();
        record["identifier"] = json!(id);
        ndjson.push_str(&format!("{record}\n"));
    }
    let (status, html) = upload(&mut browser, "export.ndjson", ndjson.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let rows = report_rows(&html);
    assert_eq!(rows.len(), 2, "{html}");
    assert!(rows.iter().all(|r| r[2] == "unchanged"), "{rows:?}");
    assert_eq!(version_of(&app, G).await, Some(1));

    // A changed target of the same variant (type, languages, title): the CSV replaces the links as PUT does,
    // keeping the old target as an earlier version.
    let changed = format!(
        "identifier,link type,href,title,language\n{G2},untp:dpp,https://brand.example/oil-v2.jwt,Passport,en;de\n"
    );
    let (_, html) = upload(&mut browser, "change.csv", changed.as_bytes()).await;
    assert_eq!(report_rows(&html)[0][2], "replaced", "{html}");
    let oil: Value = app.get_anchor(G2).await.json().await.unwrap();
    assert_eq!(oil["version"], 2);
    assert_eq!(oil["itemDescription"], "Passport", "the stored one is kept");
    assert_eq!(oil["links"][0]["href"], "https://brand.example/oil-v2.jwt");
    assert_eq!(
        oil["links"][1]["href"], "https://brand.example/oil.jwt",
        "{oil}"
    );
    assert_eq!(oil["links"][1]["rel"], json!(["predecessor-version"]));
}

/// A CSV names only some of a link's attributes: a row matching a stored link changes what its columns say and
/// keeps the rest (here `accessRole`, `encryptionMethod`, `fwqs: false`, and the anchor's description and explicit
/// default link type, which the file has no column for).
#[tokio::test]
async fn a_csv_row_changes_only_its_columns_of_a_stored_link() {
    let (app, _dir) = app().await;
    app.put_anchor(
        G,
        json!({"itemDescription": "Lavender soap", "defaultLinkType": "untp:dpp", "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/soap", "title": "Soap", "hreflang": ["en"]},
            {"linkType": "untp:dpp", "href": "https://brand.example/soap.jwt", "title": "Passport",
             "hreflang": ["en"], "accessRole": ["untp:accessRole#Owner"], "encryptionMethod": "AES-128",
             "fwqs": false}]}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csv = format!(
        "identifier,link type,href,title,language\n\
         {G},gs1:pip,https://brand.example/soap,Soap,en\n\
         {G},untp:dpp,https://brand.example/soap.jwt,Product passport,en\n"
    );
    let (status, html) = upload(&mut browser, "titles.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(report_rows(&html)[0][2], "replaced", "{html}");
    let stored: Value = app.get_anchor(G).await.json().await.unwrap();
    assert_eq!(stored["itemDescription"], "Lavender soap", "{stored}");
    assert_eq!(
        stored["defaultLinkType"], "https://test.uncefact.org/vocabulary/linkTypes/dpp",
        "{stored}"
    );
    let links = stored["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{stored}");
    let dpp = &links[1];
    assert_eq!(dpp["title"], "Product passport", "{stored}");
    assert_eq!(
        dpp["accessRole"],
        json!(["untp:accessRole#Owner"]),
        "{stored}"
    );
    assert_eq!(dpp["encryptionMethod"], "AES-128", "{stored}");
    assert_eq!(dpp["fwqs"], false, "{stored}");
    assert_eq!(links[0]["title"], "Soap", "{stored}");
}

/// A CSV without a default column that drops the stored default's link type is written (the default follows the
/// links, as in a `PUT` without one), not refused for a default it never named; a row that moves a link to a new
/// address keeps what the CSV cannot say (`fwqs`).
#[tokio::test]
async fn a_csv_that_drops_the_default_type_or_moves_a_target_is_written_as_meant() {
    let (app, _dir) = app().await;
    app.put_anchor(
        G,
        json!({"itemDescription": "Lavender soap", "defaultLinkType": "untp:dpp", "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/soap", "title": "Soap", "hreflang": ["en"],
             "fwqs": false},
            {"linkType": "untp:dpp", "href": "https://brand.example/soap.jwt", "title": "Passport",
             "hreflang": ["en"]}]}),
    )
    .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csv = format!(
        "identifier,link type,href,title,language\n\
         {G},gs1:pip,https://brand.example/soap-v2,Soap,en\n"
    );
    let (status, html) = upload(&mut browser, "pip-only.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(report_rows(&html)[0][2], "replaced", "{html}");
    let stored: Value = app.get_anchor(G).await.json().await.unwrap();
    assert_eq!(
        stored["defaultLinkType"], "https://gs1.org/voc/pip",
        "{stored}"
    );
    let links = stored["links"].as_array().unwrap();
    let pip = links
        .iter()
        .find(|l| l["href"] == "https://brand.example/soap-v2")
        .unwrap_or_else(|| panic!("{stored}"));
    assert_eq!(pip["fwqs"], false, "{stored:#}");
    assert!(
        !links
            .iter()
            .any(|l| l["href"] == "https://brand.example/soap.jwt"),
        "{stored}"
    );
}

/// An upload cut short (no closing boundary) is refused as such, not written without its last part; a file of more
/// anchors than one console upload takes (10,000) is refused, pointing to the API; neither writes anything.
#[tokio::test]
async fn a_cut_short_or_too_long_upload_is_refused_and_writes_nothing() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csrf = csrf_of(&browser.page("/console/bulk").await.1);
    let csv = format!("identifier,link type,href,title\n{G},gs1:pip,https://brand.example/p,P\n");
    let (content_type, mut body) = multipart(Some(&csrf), "a.csv", csv.as_bytes());
    let cut = body.len() - "\r\n----idrTestBoundary7MA4YWxkTrZu0gW--\r\n".len();
    body.truncate(cut);
    let response = client()
        .post(browser.url("/console/bulk"))
        .header(COOKIE, browser.cookie_header())
        .header(CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(html.contains("ended before its closing boundary"), "{html}");
    assert_eq!(version_of(&app, G).await, None);

    let mut many = String::from("identifier,link type,href,title\n");
    for serial in 0..10_001 {
        many.push_str(&format!(
            "{G}/21/{serial},gs1:pip,https://brand.example/p,P\n"
        ));
    }
    let (status, html) = upload(&mut browser, "many.csv", many.as_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
    assert!(
        html.contains("holds 10001 anchors") && html.contains("idr import --server"),
        "{html}"
    );
    assert_eq!(version_of(&app, &format!("{G}/21/0")).await, None);
}

#[tokio::test]
async fn a_bad_line_is_refused_alone_and_a_bad_file_writes_nothing() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;

    // CSV: line 3's href is not a URL; line 2 is written, line 3 not.
    let csv = format!(
        "identifier,link type,href,title,language\n\
         {G},gs1:pip,https://brand.example/soap,Soap,en\n\
         {G2},gs1:pip,not a url,Oil,en\n"
    );
    let (status, html) = upload(&mut browser, "one-bad.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let rows = report_rows(&html);
    assert_eq!(rows[0][2], "created");
    assert_eq!(rows[1][0], "3");
    assert_eq!(rows[1][1], G2);
    assert!(rows[1][2].starts_with("refused"), "{rows:?}");
    assert!(
        rows[1][3].contains("line 3: links[0].href"),
        "the problem names line and field: {rows:?}"
    );
    assert_eq!(version_of(&app, G).await, Some(1));
    assert_eq!(version_of(&app, G2).await, None);

    // NDJSON: line 2 has an unknown link type.
    let ndjson = format!(
        "{}\n{}\n\n{}\n",
        json!({"identifier": G2, "itemDescription": "Oil", "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/oil", "title": "Oil"}]}),
        json!({"identifier": "01/09520123456801", "itemDescription": "X", "links": [
            {"linkType": "gs1:noSuchType", "href": "https://brand.example/x", "title": "X"}]}),
        json!({"identifier": "01/09520123456818", "itemDescription": "Y", "links": [
            {"linkType": "gs1:pip", "href": "https://brand.example/y", "title": "Y"}]}),
    );
    let (status, html) = upload(&mut browser, "lines.ndjson", ndjson.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let rows = report_rows(&html);
    assert_eq!(rows.len(), 3, "{html}");
    assert_eq!(rows[1][0], "2");
    assert!(rows[1][3].contains("linkType"), "{rows:?}");
    assert_eq!(rows[2][0], "4", "blank lines keep the numbering");
    assert_eq!(version_of(&app, G2).await, Some(1));
    assert_eq!(version_of(&app, "01/09520123456801").await, None);
    assert_eq!(version_of(&app, "01/09520123456818").await, Some(1));

    // Bad files: refused whole, naming line and field, nothing written.
    let fresh = "01/09520123456825";
    for (name, content, named) in [
        (
            "fields.csv",
            format!(
                "identifier,link type,href,title,language\n{fresh},gs1:pip,https://b.example/a,A,en\n{fresh},gs1:pip,https://b.example/b,B,en,extra\n"
            ),
            "line 3",
        ),
        (
            "header.csv",
            format!("identifier,link type,href,colour\n{fresh},gs1:pip,https://b.example/a,red\n"),
            "line 1, column 4: \"colour\"",
        ),
        (
            "header.csv",
            format!("identifier,href\n{fresh},https://b.example/a\n"),
            "line 1: the header has no link type column",
        ),
    ] {
        let (status, html) = upload(&mut browser, name, content.as_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{html}");
        let error = text_of(&html, "file-error");
        assert!(error.contains(named), "{named} in {error}");
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
        assert!(html.contains(r#"id="form-errors""#), "{html}");
        assert_eq!(version_of(&app, fresh).await, None, "{name}");
    }
    let mut latin1 =
        format!("identifier,link type,href,title\n{fresh},gs1:pip,https://b.example/a,")
            .into_bytes();
    latin1.extend_from_slice(b"Caf\xE9\n");
    let (status, html) = upload(&mut browser, "latin1.csv", &latin1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text_of(&html, "file-error").contains("line 2: the file is not UTF-8"),
        "{html}"
    );
    assert_eq!(version_of(&app, fresh).await, None);
}

#[tokio::test]
async fn a_scoped_keys_upload_is_refused_line_by_line_outside_its_scope() {
    let (app, _dir) = app().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(ACME).await;
    let csv = format!(
        "identifier,link type,href,title,language\n\
         {THEIRS},gs1:pip,https://brand.example/not-mine,Not mine,en\n\
         {G},gs1:pip,https://brand.example/soap,Soap,en\n"
    );
    let (status, html) = upload(&mut browser, "mixed.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let rows = report_rows(&html);
    assert_eq!(rows[0][1], THEIRS);
    assert!(rows[0][2].contains("403"), "{rows:?}");
    assert!(rows[0][3].contains("do not cover"), "{rows:?}");
    assert_eq!(rows[1][2], "created");
    assert_eq!(version_of(&app, THEIRS).await, None);
    assert_eq!(version_of(&app, G).await, Some(1));
}

#[tokio::test]
async fn audit_shows_the_changes_within_the_keys_scopes() {
    let (app, _dir) = app().await;
    app.put_anchor(G, two_links()).await;
    app.put_anchor(
        THEIRS,
        json!({"itemDescription": "Theirs", "links": [
            {"linkType": "gs1:pip", "href": "https://other.example/x", "title": "X"}]}),
    )
    .await;
    let mut acme = Browser::new(&app);
    acme.sign_in(ACME).await;
    let csv = format!(
        "identifier,link type,href,title,language\n{G}/10/LOT1,gs1:pip,https://brand.example/lot1,Lot 1,en\n"
    );
    let (status, _) = upload(&mut acme, "lot.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK);
    let mut other = Browser::new(&app);
    other.sign_in(OTHER).await;
    let csv = format!(
        "identifier,link type,href,title,language\n{THEIRS},gs1:pip,https://other.example/y,Y,en\n"
    );
    assert_eq!(
        upload(&mut other, "theirs.csv", csv.as_bytes()).await.0,
        StatusCode::OK
    );

    // Without an identifier: the key's own anchors to pick from, and no one else's.
    let (status, html) = acme.page("/console/audit").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let offered = text_of(&html, "offered");
    assert!(
        offered.contains(G) && !offered.contains(THEIRS),
        "{offered}"
    );

    let (status, html) = acme.page(&format!("/console/audit?identifier={G}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let changes = text_of(&html, "changes");
    assert!(
        changes.contains("admin") && changes.contains("acme"),
        "{changes}"
    );
    assert!(changes.contains(&format!("{G}/10/LOT1")), "{changes}");
    assert!(!changes.contains("other"), "{changes}");
    // A `limit` in the address does not shrink the page: the page sets its own.
    let (_, limited) = acme
        .page(&format!("/console/audit?identifier={G}&limit=1"))
        .await;
    let limited = text_of(&limited, "changes");
    assert!(
        limited.contains("admin") && limited.contains("acme"),
        "{limited}"
    );
    let (_, mine) = acme
        .page(&format!("/console/audit?identifier={G}&mine=1"))
        .await;
    let changes = text_of(&mine, "changes");
    assert!(
        changes.contains("acme") && !changes.contains("admin"),
        "{changes}"
    );
    assert_eq!(changes.matches("acme").count(), 1, "{changes}");

    // Another key's identifier: refused beside the field, nothing of its trail shown.
    let (status, html) = acme
        .page(&format!("/console/audit?identifier={THEIRS}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{html}");
    assert!(
        text_of(&html, "identifier-error").contains("do not cover"),
        "{html}"
    );
    assert!(!html.contains(r#"id="changes""#), "{html}");
    // A bad filter is named beside its field.
    let (status, html) = acme
        .page(&format!("/console/audit?identifier={G}&since=yesterday"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"id="since-error""#), "{html}");
    assert!(
        html.contains(r#"aria-describedby="since-hint since-error""#),
        "{html}"
    );
}

#[tokio::test]
async fn link_types_registered_in_the_console_are_in_the_vocabulary() {
    let (app, _dir) = app().await;
    let mut admin = Browser::new(&app);
    admin.sign_in(ADMIN_TOKEN).await;
    let (status, html) = admin.page("/console/linktypes").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text_of(&html, "vocabularies").contains("gs1"), "{html}");
    let csrf = csrf_of(&html);
    let terms = r#"{"warranty": {"title": "Warranty", "description": "The warranty terms."}}"#;
    let saved = admin
        .post(
            "/console/linktypes",
            &[
                ("csrf", &csrf),
                ("prefix", "acme"),
                ("namespace", "https://id.acme.example/voc/"),
                ("terms", terms),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/console/linktypes?notice=registered");
    let (_, html) = admin.page("/console/linktypes?notice=registered").await;
    assert!(text_of(&html, "vocabularies").contains("acme"), "{html}");
    assert!(html.contains(r#"id="notice""#));
    // In the API's vocabulary, and usable by a write.
    let api: Value = app
        .admin(Method::GET, "/api/v1/linktypes/acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api["namespace"], "https://id.acme.example/voc/");
    assert_eq!(api["terms"]["warranty"]["title"], "Warranty");
    app.put_anchor(
        G,
        json!({"itemDescription": "Soap", "links": [
            {"linkType": "acme:warranty", "href": "https://brand.example/warranty", "title": "Warranty"}]}),
    )
    .await;

    // The API's refusals, beside the field: not JSON, a bad term, a configured prefix.
    for (prefix, namespace, terms, field) in [
        ("acme2", "https://id.acme.example/v2/", "{not json", "terms"),
        (
            "acme2",
            "not a namespace",
            r#"{"a": {"title": "A"}}"#,
            "namespace",
        ),
        (
            "gs1",
            "https://gs1.org/voc/",
            r#"{"a": {"title": "A"}}"#,
            "prefix",
        ),
    ] {
        let refused = admin
            .post(
                "/console/linktypes",
                &[
                    ("csrf", &csrf),
                    ("prefix", prefix),
                    ("namespace", namespace),
                    ("terms", terms),
                ],
            )
            .await;
        let status = refused.status();
        let html = refused.text().await.unwrap();
        assert!(status.is_client_error(), "{status} {html}");
        assert!(
            html.contains(&format!(r#"id="{field}-error""#)),
            "{field} in {html}"
        );
        assert!(html.contains(r#"aria-invalid="true""#), "{html}");
    }
    let list: Value = app
        .admin(Method::GET, "/api/v1/linktypes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!list.to_string().contains("acme2"), "{list}");

    // A key without linktypes/acme in its scopes is refused beside the prefix.
    let mut acme = Browser::new(&app);
    acme.sign_in(ACME).await;
    let token = acme.csrf().await;
    let refused = acme
        .post(
            "/console/linktypes",
            &[
                ("csrf", &token),
                ("prefix", "mine"),
                ("namespace", "https://id.acme.example/mine/"),
                ("terms", r#"{"a": {"title": "A"}}"#),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains(r#"id="prefix-error""#)
    );

    // Deleting a vocabulary a stored link uses is refused; once unused, it goes.
    let in_use = admin
        .post("/console/linktypes/acme/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(in_use.status(), StatusCode::CONFLICT);
    app.delete_anchor(G).await;
    let purge = app
        .admin(Method::DELETE, &format!("/api/v1/anchors/{G}?hard=true"))
        .send()
        .await
        .unwrap();
    assert!(purge.status().is_success() || purge.status() == StatusCode::NOT_FOUND);
    let deleted = admin
        .post("/console/linktypes/acme/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        deleted.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        deleted.text().await
    );
    let gone = app
        .admin(Method::GET, "/api/v1/linktypes/acme")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_tools_post_without_the_csrf_token_is_403_and_writes_nothing() {
    let (app, _dir) = app().await;
    let mut admin = Browser::new(&app);
    admin.sign_in(ADMIN_TOKEN).await;
    let csrf = admin.csrf().await;
    // A vocabulary to try to delete.
    let saved = admin
        .post(
            "/console/linktypes",
            &[
                ("csrf", &csrf),
                ("prefix", "acme"),
                ("namespace", "https://id.acme.example/voc/"),
                ("terms", r#"{"warranty": {"title": "Warranty"}}"#),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let csv = format!(
        "identifier,link type,href,title,language\n{G},gs1:pip,https://brand.example/soap,Soap,en\n"
    );
    for token in [None, Some("wrong"), Some("")] {
        let refused = upload_with(&mut admin, token, "a.csv", csv.as_bytes()).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{token:?}");
        let fields: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
        let register = admin
            .post(
                "/console/linktypes",
                &[
                    fields.as_slice(),
                    &[
                        ("prefix", "other"),
                        ("namespace", "https://id.other.example/voc/"),
                        ("terms", r#"{"a": {"title": "A"}}"#),
                    ],
                ]
                .concat(),
            )
            .await;
        assert_eq!(register.status(), StatusCode::FORBIDDEN, "{token:?}");
        let delete = admin.post("/console/linktypes/acme/delete", &fields).await;
        assert_eq!(delete.status(), StatusCode::FORBIDDEN, "{token:?}");
    }
    // A urlencoded post to the upload cannot carry the token either.
    let plain = admin.post("/console/bulk", &[("csrf", &csrf)]).await;
    assert!(
        plain.status() == StatusCode::FORBIDDEN
            || plain.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // The right token from another site is refused too.
    let (content_type, body) = multipart(Some(&csrf), "a.csv", csv.as_bytes());
    let forged = client()
        .post(admin.url("/console/bulk"))
        .header(COOKIE, admin.cookie_header())
        .header(CONTENT_TYPE, content_type)
        .header("Sec-Fetch-Site", "cross-site")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // Nothing was written.
    assert_eq!(version_of(&app, G).await, None);
    let list: Value = app
        .admin(Method::GET, "/api/v1/linktypes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let prefixes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["prefix"].as_str().unwrap())
        .collect();
    assert!(
        prefixes.contains(&"acme") && !prefixes.contains(&"other"),
        "{prefixes:?}"
    );
    // And with the token, the same upload is written.
    let (status, html) = upload(&mut admin, "a.csv", csv.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert_eq!(version_of(&app, G).await, Some(1));
}

/// In `verification.mode = enforce` the check passes over what a scan passes over (a passport whose check refused
/// it), as `idr resolve` does, and names it. The next passport is signed here and verifies (an unchecked one of the
/// same link type would take on the refusal).
#[tokio::test]
async fn in_enforce_mode_the_check_passes_over_what_a_scan_passes_over() {
    use crate::verification_check::{Issuer, at, credential, passport_of, vc_jwt};
    let host = DidHost::start().await;
    let forged = format!("https://localhost:{}/dpp/forged", host.port);
    let next = format!("https://localhost:{}/dpp/next", host.port);
    host.serve("/dpp/forged", html_page());
    let issuer = Issuer::publish(&host, "issuer");
    host.serve(
        "/dpp/next",
        vc_jwt(issuer.sign(&credential(
            &issuer.did,
            "DigitalProductPassport",
            passport_of(&format!("https://id.gs1.org/{G}")),
            &at(86_400),
        ))),
    );
    let (app, _dir) = checking(&host, "enforce", None).await;
    app.put_anchor(
        G,
        json!({"itemDescription": "Battery pack", "defaultLinkType": "untp:dpp", "links": [
            {"linkType": "untp:dpp", "href": forged, "title": "Digital Product Passport"},
            {"linkType": "untp:dpp", "href": next, "title": "Digital Product Passport"}]}),
    )
    .await;
    assert_eq!(recheck_status(&app, G, &forged).await, "not-a-credential");
    assert_eq!(recheck_status(&app, G, &next).await, "verified");
    let mut browser = Browser::new(&app);
    browser.sign_in(ADMIN_TOKEN).await;
    for uri in [format!("/{G}?linkType=untp:dpp"), format!("/{G}")] {
        let scan = app.resolve(&uri).await;
        assert_eq!(
            scan.status(),
            StatusCode::TEMPORARY_REDIRECT,
            "{uri}: {:?}",
            scan.headers()
        );
        let target = scan.headers()["location"].to_str().unwrap().to_string();
        assert!(
            target.starts_with(&next),
            "the scan moved off the forged passport: {target}"
        );
        let (status, html) = browser
            .page(&format!("/console/check?uri={}", encode(&uri)))
            .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(text_of(&html, "answer"), format!("307 Location: {target}"));
        assert!(
            text_of(&html, "explanation").contains(&format!("passed over: {forged}")),
            "{html}"
        );
    }
}

//! GS1's resolver conformance test suite (github.com/gs1/GS1DL-resolver-testsuite,
//! `GS1DigitalLinkResolverTestSuite.js` with its `tester.php` helper), ported check by check to Rust and run
//! against the real `idr` binary over HTTP.
//!
//! How the suite works, and how it is mapped here:
//! * It is given one GS1 Digital Link URI (the "DL") and sends every request through `tester.php`, which fetches
//!   the URL with curl without following redirects. `getAllHeaders` sends `Origin:
//!   https://ref.gs1.org/test-suites/resolver/` (curl adds `Accept: */*`); `getLinksetHeaders` adds `Accept:
//!   application/linkset+json`; `getLinkset` sends only that `Accept`. `tester.php` refuses any URL that is not
//!   `https://`, so the DL must be https: the server runs with `--resolver-root https://resolver.example`, the
//!   tested DLs are `https://resolver.example/01/…`, and each request for such a URL goes to the same path on
//!   the loopback server ([`on`]). That root also makes the suite's anchor matching meaningful: it compares each
//!   linkset `anchor` with the DL *string*, so anchors must be `{root}/{path}` of the DL.
//! * Every check runs for the GTIN-level DL and for the batch-level DL (the suite walks anchors level by level).
//! * A check the suite only *warns* on (SHOULDs) is still asserted to reach the suite's `pass` condition.
//!
//! Not ported (they are about TLS / HTTP version of a deployed host; our server speaks plain HTTP/1.1 on
//! loopback): `tlsOK` (HEAD `https://{domain}`), `httpVersion` (`getHTTPversion`). `isHttps` is only a string
//! test of the given DL's scheme and is kept in the input checks. The compression checks
//! (`validDecompressCheck`, `exposeDecompressedLink`) are commented out of the current suite and are not ported.
//!
//! `basicWalkUp` is not in the suite version stored for reference (commit b38e088); it is named by later
//! versions, which append a qualifier the resolver does not know (`/10/KL8G` to a GTIN) and expect the resolver
//! to walk up to the less granular level. [`basic_walk_up`] follows that description.
//!
//! Where the suite's code does not do what its own message says, the intent is ported and the literal
//! behaviour is described in a comment (see [`redirect_per_link_type`] and [`methods_check`]).

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::schema::{self, SchemaKind};
use regex::Regex;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const ROOT: &str = "https://resolver.example";
const GTIN_DL: &str = "https://resolver.example/01/09520123456788";
const BATCH_DL: &str = "https://resolver.example/01/09520123456788/10/ABC";
const DLS: [&str; 2] = [GTIN_DL, BATCH_DL];

/// The `Origin` that `tester.php` sends.
const SUITE_ORIGIN: &str = "https://ref.gs1.org/test-suites/resolver/";
const LINKSET_JSON: &str = "application/linkset+json";

const PIP_EN: &str = "https://brand.example/en/product";
const PIP_DE: &str = "https://brand.example/de/produkt";
/// A target with its own query: the suite cuts the forwarded `&linkType=…` off before comparing.
const CERTS: &str = "https://brand.example/certificates?view=all";
const VIDEO_1: &str = "https://video.example/unboxing-1";
const VIDEO_2: &str = "https://video.example/unboxing-2";
const TRACE_ABC: &str = "https://brand.example/trace/ABC";

// ------------------------------------------------------------------------------------------------ fixture

/// A resolver rooted at [`ROOT`] holding the GTIN (pip in en and de, the default; a certificate; two videos the
/// request cannot tell apart) and its batch ABC (a traceability link of its own, no default of its own).
async fn start() -> TestApp {
    let server = TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({
                "itemDescription": "Example product",
                "defaultLinkType": "gs1:pip",
                "links": [
                    {"linkType": "gs1:pip", "href": PIP_EN, "title": "Product information",
                     "type": "text/html", "hreflang": ["en"]},
                    {"linkType": "gs1:pip", "href": PIP_DE, "title": "Produktinformation",
                     "type": "text/html", "hreflang": ["de"]},
                    {"linkType": "gs1:certificationInfo", "href": CERTS, "title": "Certificates",
                     "type": "text/html"},
                    {"linkType": "gs1:relatedVideo", "href": VIDEO_1, "title": "Unboxing video",
                     "type": "video/mp4", "hreflang": ["en"]},
                    {"linkType": "gs1:relatedVideo", "href": VIDEO_2, "title": "Unboxing video (mirror)",
                     "type": "video/mp4", "hreflang": ["en"]}
                ]
            }),
        )
        .await;
    server
        .put_anchor(
            "01/09520123456788/10/ABC",
            json!({
                "itemDescription": "Example product, batch ABC",
                "links": [
                    {"linkType": "gs1:traceability", "href": TRACE_ABC, "title": "Batch traceability",
                     "type": "text/html"}
                ]
            }),
        )
        .await;
    server
}

// ------------------------------------------------------------------------------------------------ HTTP

/// The loopback URL for a URL under [`ROOT`].
fn on(server: &TestApp, uri: &str) -> String {
    let path = uri
        .strip_prefix(ROOT)
        .unwrap_or_else(|| panic!("{uri} is not under {ROOT}"));
    server.url(path)
}

fn strip_query(uri: &str) -> &str {
    uri.split_once('?').map_or(uri, |(base, _)| base)
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    /// One value per header name, the last line winning, as `tester.php` flattens headers into an array.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
    }

    fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

async fn send(method: Method, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client().request(method.clone(), url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        body,
    }
}

/// `tester.php?test=getAllHeaders`: GET, no redirects followed, the suite's `Origin`, and `Accept` /
/// `Accept-Language` when the suite supplies a media type / language.
async fn get_all_headers(
    server: &TestApp,
    uri: &str,
    accept: Option<&str>,
    lang: Option<&str>,
) -> Reply {
    let mut headers = vec![("Origin", SUITE_ORIGIN)];
    if let Some(accept) = accept {
        headers.push(("Accept", accept));
    }
    if let Some(lang) = lang {
        headers.push(("Accept-Language", lang));
    }
    send(Method::GET, &on(server, uri), &headers).await
}

/// `tester.php?test=getLinksetHeaders`: as `getAllHeaders` with `Accept: application/linkset+json`.
async fn get_linkset_headers(server: &TestApp, uri: &str) -> Reply {
    let headers = [("Origin", SUITE_ORIGIN), ("Accept", LINKSET_JSON)];
    send(Method::GET, &on(server, uri), &headers).await
}

/// `tester.php?test=getLinkset`: GET with only `Accept: application/linkset+json`.
async fn get_linkset(server: &TestApp, uri: &str) -> Reply {
    send(Method::GET, &on(server, uri), &[("Accept", LINKSET_JSON)]).await
}

// ------------------------------------------------------------------------------------------------ verdicts

/// Collects the suite's verdicts for all DLs of a test, then fails listing every check that did not pass.
#[derive(Default)]
struct Verdicts {
    failed: Vec<String>,
}

impl Verdicts {
    fn check(&mut self, dl: &str, id: &str, pass: bool, detail: impl std::fmt::Display) {
        if !pass {
            self.failed.push(format!("{id} for {dl}: {detail}"));
        }
    }

    fn assert_all_pass(self) {
        assert!(
            self.failed.is_empty(),
            "GS1 suite checks not passed:\n  {}",
            self.failed.join("\n  ")
        );
    }
}

// ------------------------------------------------------------------------------------------------ the DL itself

/// `plausibleDL` with status `pass`: the DL spec's plausibility expression without convenience alphas (a
/// numeric primary key AI followed by a value starting with four digits), matched case-insensitively from the
/// start of the URL and not anchored at the end.
fn plausible_numeric(uri: &str) -> bool {
    Regex::new(
        r"(?i)^https?://[^/?#]*(?:/[^?#]*)?/(?:00|01|253|255|401|402|414|417|8003|8004|8006|8010|8013|8017|8018)/\d{4}[^/]+",
    )
    .unwrap()
    .is_match(uri)
}

/// GS1 mod-10 check digit over all digits but the last.
fn check_digit_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != digits.len() || d.is_empty() {
        return false;
    }
    let (body, last) = d.split_at(d.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { v * 3 } else { *v })
        .sum();
    (10 - sum % 10) % 10 == last[0]
}

/// `validDL`: what the suite asks of the GS1 Digital Link toolkit for a GTIN-based DL: the path parses into
/// AI/value pairs with exactly one primary key (a GTIN-14 with a correct check digit) and only the GTIN's key
/// qualifiers, each at most once and in the order CPV (22), batch (10), serial (21), TPX (235), values drawn
/// from GS1 character set 82.
fn valid_gtin_dl(uri: &str) -> Result<(), String> {
    const CSET82: &str =
        "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    const QUALIFIERS: [(&str, usize); 4] = [("22", 20), ("10", 20), ("21", 20), ("235", 28)];
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or("not http(s)")?;
    let path = strip_query(rest).split_once('/').map_or("", |(_, p)| p);
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if segments.len() % 2 != 0 {
        return Err(format!("odd number of path segments in /{path}"));
    }
    let pairs: Vec<(&str, &str)> = segments.chunks(2).map(|c| (c[0], c[1])).collect();
    let (ai, gtin) = pairs[0];
    if ai != "01" || gtin.len() != 14 || !check_digit_ok(gtin) {
        return Err(format!("{ai}/{gtin} is not a valid GTIN-14 primary key"));
    }
    let mut next = 0;
    for (ai, value) in &pairs[1..] {
        let position = QUALIFIERS[next..]
            .iter()
            .position(|(q, _)| q == ai)
            .ok_or_else(|| format!("{ai} is not a GTIN qualifier here"))?;
        let (_, max) = QUALIFIERS[next + position];
        if value.is_empty() || value.len() > max || !value.chars().all(|c| CSET82.contains(c)) {
            return Err(format!("{ai}/{value} is not a valid value"));
        }
        next += position + 1;
    }
    Ok(())
}

/// `isURL`, `isHttps`, `plausibleDL`, `validDL`: string checks of the given DL; the suite stops if they fail.
#[tokio::test]
async fn input_is_a_plausible_and_valid_dl_uri() {
    let mut v = Verdicts::default();
    for dl in DLS {
        let url = url::Url::parse(dl);
        let host = url
            .as_ref()
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let scheme = url.as_ref().map(|u| u.scheme().to_owned()).ok();
        v.check(
            dl,
            "isURL",
            matches!(scheme.as_deref(), Some("http" | "https"))
                && host.is_some_and(|h| h.contains('.')),
            "http(s) URL with a dotted host",
        );
        // A string test only; that the host serves TLS is `tlsOK`, not ported.
        v.check(dl, "isHttps", scheme.as_deref() == Some("https"), "https");
        // `warn` would mean it only matches with convenience alphas (`/gtin/`): we require `pass`.
        v.check(
            dl,
            "plausibleDL",
            plausible_numeric(dl),
            "plausible, numeric AIs",
        );
        let valid = valid_gtin_dl(dl);
        v.check(dl, "validDL", valid.is_ok(), format!("{valid:?}"));
    }
    v.assert_all_pass();
}

// ------------------------------------------------------------------------------------------------ description file

/// `rdFile`: the browser fetches `https://{domain}/.well-known/gs1resolver` (`Accept: application/json`,
/// redirects followed, CORS mode) and validates it against GS1's description file schema. Being a cross-origin
/// `fetch` from the suite's page, it also needs `Access-Control-Allow-Origin`, or the browser hides the answer.
#[tokio::test]
async fn rd_file() {
    let server = start().await;
    let mut v = Verdicts::default();
    let url = format!("{ROOT}/.well-known/gs1resolver");
    let r = send(
        Method::GET,
        &on(&server, &url),
        &[("Accept", "application/json"), ("Origin", SUITE_ORIGIN)],
    )
    .await;
    v.check(
        ROOT,
        "rdFile",
        r.status == 200,
        format!("HTTP {}", r.status),
    );
    v.check(
        ROOT,
        "rdFile",
        r.header("access-control-allow-origin").is_some(),
        "no CORS header: the browser would not read it",
    );
    let body: Value = serde_json::from_str(&r.body).expect("description file is JSON");
    schema::assert_valid(SchemaKind::Description, &body);
    // The minimum data the suite checked before it used the schema.
    let root = body["resolverRoot"].as_str().unwrap_or("");
    v.check(
        ROOT,
        "rdFile",
        Regex::new(r"(?i)^https?://[^/?#]+").unwrap().is_match(root),
        format!("resolverRoot {root:?}"),
    );
    v.check(
        ROOT,
        "rdFile",
        root == ROOT,
        format!("resolverRoot {root:?} ≠ {ROOT}"),
    );
    v.check(
        ROOT,
        "rdFile",
        !body["supportedPrimaryKeys"].is_null(),
        "no supportedPrimaryKeys",
    );
    v.assert_all_pass();
}

// ------------------------------------------------------------------------------------------------ header checks

/// `corsCheck`: `getAllHeaders` on the DL (query stripped); pass if `Access-Control-Allow-Origin` is present.
#[tokio::test]
async fn cors_check() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let r = get_all_headers(&server, strip_query(dl), None, None).await;
        v.check(
            dl,
            "corsCheck",
            r.header("access-control-allow-origin")
                .is_some_and(|o| !o.is_empty()),
            "no Access-Control-Allow-Origin",
        );
    }
    v.assert_all_pass();
}

/// `methodsCheck`: the suite reads `Access-Control-Allow-Methods` from the *same* `getAllHeaders` answer as
/// `corsCheck` (a plain GET of the DL, not a preflight) and passes if it names GET, HEAD and OPTIONS. A
/// resolver that lists its methods only in answers to OPTIONS preflights fails this check.
/// Also checked here, as the statement requires support for the methods themselves: HEAD answers like GET
/// without a body, and an OPTIONS preflight names the three methods.
#[tokio::test]
async fn methods_check() {
    let server = start().await;
    let mut v = Verdicts::default();
    let names_all = |m: Option<&str>| {
        m.is_some_and(|m| ["GET", "HEAD", "OPTIONS"].iter().all(|x| m.contains(x)))
    };
    for dl in DLS {
        let get = get_all_headers(&server, strip_query(dl), None, None).await;
        let methods = get.header("access-control-allow-methods");
        v.check(
            dl,
            "methodsCheck",
            names_all(methods),
            format!("Access-Control-Allow-Methods on GET is {methods:?}"),
        );

        let head = send(Method::HEAD, &on(&server, dl), &[("Origin", SUITE_ORIGIN)]).await;
        v.check(
            dl,
            "methodsCheck (HEAD)",
            head.status == get.status && head.location() == get.location() && head.body.is_empty(),
            format!(
                "HEAD {} {:?} vs GET {} {:?}",
                head.status,
                head.location(),
                get.status,
                get.location()
            ),
        );

        let options = send(
            Method::OPTIONS,
            &on(&server, dl),
            &[
                ("Origin", SUITE_ORIGIN),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
        let preflight = options.header("access-control-allow-methods");
        v.check(
            dl,
            "methodsCheck (OPTIONS)",
            (200..300).contains(&options.status) && names_all(preflight),
            format!("OPTIONS {} with {preflight:?}", options.status),
        );
    }
    v.assert_all_pass();
}

/// `linkOnRedirect` (a SHOULD: the suite warns) and `legacyLinkHeaders` (starts as pass, warns on any link
/// whose `rel` is a `gs1:` CURIE). The suite splits the `Link` header on `",` (a closing quote then a comma)
/// and looks for `rel="linkset"`. It does not look at the status, but the statement is about redirecting, so
/// the DL's default answer must also be a redirect here.
///
/// Which method the hosted `tester.php` uses cannot be read from its source (the stored copies GET, the older Perl
/// harness sent HEAD, and the suite's warning has been seen computed from an OPTIONS answer), so the same check
/// runs on all three, OPTIONS with and without `Access-Control-Request-Method`: 0 warnings on each, with one
/// `Link` line (`tester.php` keeps only the last line of a repeated header) identical to the GET's.
#[tokio::test]
async fn link_on_redirect_and_legacy_link_headers() {
    let server = start().await;
    let mut v = Verdicts::default();
    let preflight_headers = [
        ("Origin", SUITE_ORIGIN),
        ("Access-Control-Request-Method", "GET"),
    ];
    for dl in DLS {
        let get = get_all_headers(&server, strip_query(dl), None, None).await;
        v.check(
            dl,
            "linkOnRedirect (status)",
            (300..400).contains(&get.status),
            format!("GET answered {}", get.status),
        );
        let url = on(&server, strip_query(dl));
        let head = send(Method::HEAD, &url, &[("Origin", SUITE_ORIGIN)]).await;
        let options = send(Method::OPTIONS, &url, &[("Origin", SUITE_ORIGIN)]).await;
        let preflight = send(Method::OPTIONS, &url, &preflight_headers).await;
        for (method, r) in [
            ("GET", &get),
            ("HEAD", &head),
            ("OPTIONS", &options),
            ("OPTIONS preflight", &preflight),
        ] {
            let link = r.header("link").unwrap_or("");
            let links: Vec<String> = link.split("\",").map(|l| format!("{l}\"")).collect();
            v.check(
                dl,
                &format!("linkOnRedirect ({method})"),
                links.iter().any(|l| l.contains("rel=\"linkset\"")),
                format!("HTTP {} with Link {link:?}", r.status),
            );
            v.check(
                dl,
                &format!("legacyLinkHeaders ({method})"),
                !links.iter().any(|l| l.contains("rel=\"gs1:")),
                format!("Link {link:?}"),
            );
            v.check(
                dl,
                &format!("one Link line, as on GET ({method})"),
                r.headers.get_all("link").iter().count() == 1
                    && r.header("link") == get.header("link"),
                format!(
                    "{:?} vs GET {:?}",
                    r.headers.get_all("link"),
                    get.header("link")
                ),
            );
        }
        v.check(
            dl,
            "OPTIONS stays a preflight",
            preflight.status == 204
                && preflight.header("access-control-allow-methods") == Some("GET, HEAD, OPTIONS")
                && preflight.header("access-control-allow-origin") == Some("*"),
            format!("HTTP {} {:?}", preflight.status, preflight.headers),
        );
    }
    v.assert_all_pass();
}

/// OPTIONS on a path that is not an identifier is still a plain preflight (no `Link`, no 400).
#[tokio::test]
async fn options_on_a_non_identifier_is_a_plain_preflight() {
    let server = start().await;
    for path in ["/01/09520123456787", "/foo/bar"] {
        let r = send(
            Method::OPTIONS,
            &server.url(path),
            &[
                ("Origin", SUITE_ORIGIN),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("GET, HEAD, OPTIONS")
        );
        assert!(r.header("link").is_none(), "{path}: {:?}", r.header("link"));
    }
}

// ------------------------------------------------------------------------------------------------ errors, slash, query

/// `reportWith400` and `noErrorWith200`: `/foo` appended to the DL (query stripped) must be a 400; any code but
/// 200 passes `noErrorWith200`.
#[tokio::test]
async fn report_with_400_and_no_error_with_200() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let bad = format!("{}/foo", strip_query(dl));
        let r = get_all_headers(&server, &bad, None, None).await;
        v.check(
            dl,
            "reportWith400",
            r.status == 400,
            format!("{bad} → HTTP {}", r.status),
        );
        v.check(
            dl,
            "noErrorWith200",
            r.status != 200,
            format!("{bad} → HTTP {}", r.status),
        );
    }
    v.assert_all_pass();
}

/// `trailingSlash` (a SHOULD: the suite warns): the DL without query and without a trailing slash, then with
/// one; same status and same `Location`.
#[tokio::test]
async fn trailing_slash() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let base = strip_query(dl);
        let no_slash = base.strip_suffix('/').unwrap_or(base);
        let slash = format!("{no_slash}/");
        let a = get_all_headers(&server, no_slash, None, None).await;
        let b = get_all_headers(&server, &slash, None, None).await;
        v.check(
            dl,
            "trailingSlash",
            a.status == b.status && a.location() == b.location(),
            format!(
                "{} {:?} vs {} {:?}",
                a.status,
                a.location(),
                b.status,
                b.location()
            ),
        );
    }
    v.assert_all_pass();
}

/// `qsPassedOn` (the suite warns when it fails, and when there is no redirect at all): `?foo=bar` on the DL
/// must appear in the redirect's `Location`.
#[tokio::test]
async fn query_string_passed_on() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let r = get_all_headers(&server, &format!("{}?foo=bar", strip_query(dl)), None, None).await;
        v.check(
            dl,
            "qsPassedOn",
            r.location().is_some_and(|l| l.contains("foo=bar")),
            format!("HTTP {} Location {:?}", r.status, r.location()),
        );
    }
    v.assert_all_pass();
}

/// `specificLinkTypeNotFound`: `?linkType=gs1:nosuchlt` must be a 404.
#[tokio::test]
async fn specific_link_type_not_found() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let uri = format!("{}?linkType=gs1:nosuchlt", strip_query(dl));
        let r = get_all_headers(&server, &uri, None, None).await;
        v.check(
            dl,
            "specificLinkTypeNotFound",
            r.status == 404,
            format!("HTTP {}", r.status),
        );
    }
    v.assert_all_pass();
}

/// `basicWalkUp` (named by later suite versions, not in the stored one): a qualifier the resolver has no record
/// for, appended to the DL, must be answered from the less granular level, i.e. exactly as the DL itself.
/// To a GTIN the suite appends the batch `/10/KL8G`; the batch-level DL already has a batch, so the next
/// qualifier in the GTIN hierarchy is used: the serial `/21/KL8G`.
#[tokio::test]
async fn basic_walk_up() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let base = strip_query(dl);
        let extension = if base.contains("/10/") {
            "/21/KL8G"
        } else {
            "/10/KL8G"
        };
        let deeper = format!("{base}{extension}");
        let plain = get_all_headers(&server, base, None, None).await;
        let walked = get_all_headers(&server, &deeper, None, None).await;
        v.check(
            dl,
            "basicWalkUp",
            (300..400).contains(&walked.status)
                && walked.status == plain.status
                && walked.location() == plain.location(),
            format!(
                "{deeper} → {} {:?}, {base} → {} {:?}",
                walked.status,
                walked.location(),
                plain.status,
                plain.location()
            ),
        );
    }
    v.assert_all_pass();
}

// ------------------------------------------------------------------------------------------------ getting the linkset

/// `ltLinksetNoRedirect`: `?linkType=linkset` (no `Accept`) must be a 200. Only if it is not does the suite try
/// `ltAllNoRedirect` (`?linkType=all`), whose best verdict is a warning (deprecated since Resolver 1.0.0); a
/// redirect to a less granular prefix of the DL makes the suite retry there, which we do not expect.
/// Checked here: `linkset` is a 200 and not a redirect, and `all` still answers 200 (the suite's "warn").
#[tokio::test]
async fn lt_linkset_no_redirect_and_lt_all() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        for (id, value) in [
            ("ltLinksetNoRedirect", "linkset"),
            ("ltAllNoRedirect", "all"),
        ] {
            let uri = format!("{}?linkType={value}", strip_query(dl));
            let r = get_all_headers(&server, &uri, None, None).await;
            v.check(
                dl,
                id,
                r.status == 200 && r.location().is_none(),
                format!("HTTP {} Location {:?}", r.status, r.location()),
            );
        }
    }
    v.assert_all_pass();
}

/// `ltAcceptHeader`: `getLinksetHeaders` (`Accept: application/linkset+json`) must be a 200. The suite sends it
/// to `{DL}?linkType=all`, so the `Accept` header alone is never tested; we test both that URL and the bare DL,
/// which is what the statement is about.
#[tokio::test]
async fn lt_accept_header() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let base = strip_query(dl).to_string();
        for uri in [format!("{base}?linkType=all"), base] {
            let r = get_linkset_headers(&server, &uri).await;
            v.check(
                dl,
                "ltAcceptHeader",
                r.status == 200 && r.location().is_none(),
                format!("{uri} → HTTP {} Location {:?}", r.status, r.location()),
            );
        }
    }
    v.assert_all_pass();
}

/// The suite's way to the linkset: `getLinkset` on the DL, with no `linkType` when the `Accept` header worked
/// (`ltAcceptHeader`), else with `linkType=linkset`, else `linkType=all`.
async fn fetch_linkset(server: &TestApp, dl: &str) -> (Reply, Value) {
    let base = strip_query(dl);
    let uri = if get_linkset_headers(server, &format!("{base}?linkType=all"))
        .await
        .status
        == 200
    {
        base.to_string()
    } else if get_all_headers(server, &format!("{base}?linkType=linkset"), None, None)
        .await
        .status
        == 200
    {
        format!("{base}?linkType=linkset")
    } else {
        format!("{base}?linkType=all")
    };
    let reply = get_linkset(server, &uri).await;
    let value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("linkset of {uri} is not JSON ({e}): {}", reply.body));
    (reply, value)
}

/// `validLinkset` (the linkset validates against GS1's linkset schema; a `linkset` member that is not an array
/// would be flagged as `hackedLinkset`), `linksetJsonldCheck` (a SHOULD: some comma-separated piece of the
/// lower-case `link` header holds both `rel="http://www.w3.org/ns/json-ld#context"` and
/// `type="application/ld+json"`) and `declaredContentType` (`Content-Type` exactly `application/linkset+json`;
/// plain `application/json` only warns).
#[tokio::test]
async fn valid_linkset_jsonld_context_and_content_type() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let (reply, linkset) = fetch_linkset(&server, dl).await;
        v.check(
            dl,
            "validLinkset",
            reply.status == 200,
            format!("HTTP {}", reply.status),
        );
        v.check(
            dl,
            "validLinkset",
            linkset["linkset"].is_array(),
            "`linkset` is not an array (the suite's hackedLinkset)",
        );
        schema::assert_valid(SchemaKind::Gs1Linkset, &linkset);

        let link = reply.header("link").unwrap_or("");
        v.check(
            dl,
            "linksetJsonldCheck",
            link.split(',').any(|l| {
                l.contains("rel=\"http://www.w3.org/ns/json-ld#context\"")
                    && l.contains("type=\"application/ld+json\"")
            }),
            format!("Link {link:?}"),
        );
        let content_type = reply.header("content-type");
        v.check(
            dl,
            "declaredContentType",
            content_type == Some(LINKSET_JSON),
            format!("Content-Type {content_type:?}"),
        );
    }
    v.assert_all_pass();
}

// ------------------------------------------------------------------------------------------------ walking the linkset

/// What the suite's `linksetTests` finds in a linkset for a DL.
#[derive(Default, Debug)]
struct Walk {
    /// Link types in the order met (most specific anchor first, each type only at the first level that has it),
    /// GS1 namespaces reduced to `gs1:`.
    seen: Vec<String>,
    /// The `gs1:defaultLink` targets, if any level has them.
    default_link: Option<Vec<Value>>,
    /// Types with exactly one target: (type, href).
    single: Vec<(String, String)>,
    /// Types with several targets.
    multiple: Vec<(String, Vec<Value>)>,
    /// `gs1:defaultLinkMulti` with a single target (the suite warns `singleMultiLink`).
    lone_default_multi: bool,
}

/// The suite first rewrites `https://gs1.org/voc/`, `https://ref.gs1.org/voc/` and `https://www.gs1.org/voc/`
/// (any case) to `gs1:` everywhere in the serialised linkset (hrefs included), then matches each context
/// object's `anchor` against the DL without its query *as a string*, and walks up by removing the last two
/// path segments while more than the primary key's two segments remain.
fn walk_linkset(dl: &str, linkset: &Value) -> Walk {
    let namespaces = Regex::new(r"(?i)https://(?:ref\.|www\.)?gs1\.org/voc/").unwrap();
    let reduced: Value =
        serde_json::from_str(&namespaces.replace_all(&linkset.to_string(), "gs1:")).unwrap();
    let objects = reduced["linkset"].as_array().cloned().unwrap_or_default();
    let mut current = strip_query(dl).to_string();
    let path = current
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default();
    let mut segments = path.split('/').count();
    let mut walk = Walk::default();
    while segments > 2 {
        for object in objects.iter().filter(|o| o["anchor"] == current.as_str()) {
            for (link_type, targets) in object.as_object().into_iter().flatten() {
                if link_type == "anchor"
                    || link_type == "itemDescription"
                    || walk.seen.contains(link_type)
                {
                    continue;
                }
                walk.seen.push(link_type.clone());
                let targets = targets.as_array().cloned().unwrap_or_default();
                if link_type == "gs1:defaultLink" {
                    walk.default_link = Some(targets);
                } else if targets.len() == 1 {
                    if link_type == "gs1:defaultLinkMulti" {
                        walk.lone_default_multi = true;
                    } else {
                        let href = targets[0]["href"].as_str().unwrap_or("").to_string();
                        walk.single.push((link_type.clone(), href));
                    }
                } else if targets.len() > 1 {
                    walk.multiple.push((link_type.clone(), targets));
                }
            }
        }
        for _ in 0..2 {
            if let Some(i) = current.rfind('/') {
                current.truncate(i);
            }
        }
        segments -= 2;
    }
    walk
}

/// JavaScript truthiness of an optional attribute.
fn present(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        _ => true,
    }
}

/// The suite's `identicalAttributes`: `type`, `hreflang` and `context` both absent or equal. Arrays compare
/// element by element over the first one's length; a `context` that is not an array compares as a string.
fn identical_attributes(a: &Value, b: &Value) -> bool {
    let same = |name: &str| {
        let (x, y) = (&a[name], &b[name]);
        match (present(x), present(y)) {
            (false, false) => true,
            (true, true) => match (x.as_array(), y.as_array()) {
                (Some(xs), Some(ys)) => xs.iter().enumerate().all(|(i, v)| ys.get(i) == Some(v)),
                (None, None) => x == y,
                _ => false,
            },
            _ => false,
        }
    };
    same("type") && same("hreflang") && same("context")
}

/// The targets of one type that the suite expects a `300 Multiple Choices` for: those whose attributes are
/// identical to another target's.
fn three_hundreds(targets: &[Value]) -> Vec<usize> {
    (0..targets.len())
        .filter(|&i| {
            (0..targets.len()).any(|j| {
                j != i
                    && (identical_attributes(&targets[i], &targets[j])
                        || identical_attributes(&targets[j], &targets[i]))
            })
        })
        .collect()
}

/// The suite's reading of a redirect for `linkType=…`: drop the whole query when it starts with the
/// `linkType` parameter, or cut at `&linkType=` when that was appended to the target's own query.
fn target_of(location: &str, link_type: &str) -> String {
    if location.contains(&format!("?linkType={link_type}")) {
        strip_query(location).to_string()
    } else if location.contains(&format!("&linkType={link_type}")) {
        location[..location.find("&linkType=").unwrap()].to_string()
    } else {
        location.to_string()
    }
}

/// `defaultLinkExists` (some level has `gs1:defaultLink`), `singleDefaulLink` (sic: it has exactly one
/// target) and `defaultTarget` (a plain `getAllHeaders` on the DL redirects to exactly that target's href).
#[tokio::test]
async fn default_link_checks() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let (_, linkset) = fetch_linkset(&server, dl).await;
        let walk = walk_linkset(dl, &linkset);
        v.check(
            dl,
            "defaultLinkExists",
            walk.default_link.is_some(),
            format!("no gs1:defaultLink under an anchor matching the DL: {linkset}"),
        );
        let Some(defaults) = walk.default_link else {
            continue;
        };
        v.check(
            dl,
            "singleDefaulLink",
            defaults.len() == 1,
            format!("{} default links", defaults.len()),
        );
        let Some(href) = defaults.first().and_then(|d| d["href"].as_str()) else {
            continue;
        };
        let r = get_all_headers(&server, strip_query(dl), None, None).await;
        v.check(
            dl,
            "defaultTarget",
            r.location() == Some(href),
            format!("Location {:?}, default link {href}", r.location()),
        );
        // The fixture's default is the first registered pip variant.
        v.check(
            dl,
            "defaultTarget",
            href == PIP_EN,
            format!("default {href}"),
        );
    }
    v.assert_all_pass();
}

/// `loFor<type>` (one target: `{DL}?linkType=<type>` must redirect to its href) and `loFor<type><n>` (several
/// targets of a type). For several targets the suite sends, per target, its media type as `Accept`, its first
/// `hreflang` as `Accept-Language` and its first `context` as the `context` parameter, and expects a redirect to
/// that target, except for targets with identical attributes, where one request must get a `300`
/// (the suite only warns otherwise). `gs1:defaultLinkMulti` is never asked for by name.
///
/// Ported by intent. The stored suite code differs in ways that fail a correct resolver:
/// * for several targets it builds `?linkType=…` but never uses it, and puts the attributes into the resolver
///   URL as `?mediaType=<type>&lang=<lang>` (`mediaType=undefined` when a target has no type) instead of passing
///   them to `tester.php`, so the resolver sees a plain request, redirects to the default and the query string
///   it passes on makes the comparison fail;
/// * when two targets are identical it records the second one for the `300` (`push(m)` where `push(f)` was
///   meant), so the first identical target is tested for a redirect to itself, which a resolver that answers
///   `300` fails.
#[tokio::test]
async fn redirect_per_link_type() {
    let server = start().await;
    let mut v = Verdicts::default();
    for dl in DLS {
        let (_, linkset) = fetch_linkset(&server, dl).await;
        let walk = walk_linkset(dl, &linkset);
        let mut ids = Vec::new();
        v.check(
            dl,
            "singleMultiLink",
            !walk.lone_default_multi,
            "one gs1:defaultLinkMulti",
        );

        for (link_type, href) in &walk.single {
            let id = format!("loFor{}", link_type.replacen(':', "", 1));
            let uri = format!("{}?linkType={link_type}", strip_query(dl));
            let r = get_all_headers(&server, &uri, None, None).await;
            let target = r.location().map(|l| target_of(l, link_type));
            v.check(
                dl,
                &id,
                target.as_deref() == Some(href.as_str()),
                format!(
                    "HTTP {} Location {:?}, expected {href}",
                    r.status,
                    r.location()
                ),
            );
            ids.push(id);
        }

        for (link_type, targets) in &walk.multiple {
            let ties = three_hundreds(targets);
            let mut tested_300 = false;
            for (n, target) in targets.iter().enumerate() {
                if ties.contains(&n) && tested_300 {
                    continue;
                }
                let id = format!("loFor{}{n}", link_type.replacen(':', "", 1));
                let mut query = Vec::new();
                if link_type != "gs1:defaultLinkMulti" {
                    query.push(format!("linkType={link_type}"));
                }
                let context = match &target["context"] {
                    Value::Array(c) => c.first().and_then(Value::as_str),
                    other => other.as_str(),
                };
                if let Some(context) = context {
                    query.push(format!("context={context}"));
                }
                let mut uri = strip_query(dl).to_string();
                if !query.is_empty() {
                    uri = format!("{uri}?{}", query.join("&"));
                }
                let accept = target["type"].as_str();
                let lang = target["hreflang"][0].as_str();
                let r = get_all_headers(&server, &uri, accept, lang).await;
                if ties.contains(&n) {
                    tested_300 = true;
                    v.check(
                        dl,
                        &id,
                        r.status == 300,
                        format!("{uri} ({accept:?}, {lang:?}) → HTTP {}", r.status),
                    );
                } else {
                    let href = target["href"].as_str().unwrap_or("");
                    let got = r.location().map(|l| target_of(l, link_type));
                    v.check(
                        dl,
                        &id,
                        got.as_deref() == Some(href),
                        format!(
                            "{uri} ({accept:?}, {lang:?}) → HTTP {} Location {:?}, expected {href}",
                            r.status,
                            r.location()
                        ),
                    );
                }
                ids.push(id);
            }
        }

        // The fixture must have exercised every kind of check.
        let mut expected = vec![
            "loForgs1certificationInfo",
            "loForgs1pip0",
            "loForgs1pip1",
            "loForgs1relatedVideo0",
        ];
        if dl == BATCH_DL {
            expected.push("loForgs1traceability");
        }
        ids.sort();
        expected.sort();
        v.check(
            dl,
            "loFor*",
            ids == expected,
            format!("checks run: {ids:?}"),
        );
    }
    v.assert_all_pass();
}

/// `linkTypesDefined` (a SHOULD: the suite warns): every `gs1:` link type met while walking the linkset
/// (`gs1:defaultLink` included) must be a key of the ratified list, which the suite downloads from
/// `https://ref.gs1.org/voc/data/linktypes`; here the `terms` of our shipped GS1 vocabulary stand in for it.
/// They must also be listed by the resolver's own `/voc?show=linktypes`.
#[tokio::test]
async fn link_types_defined() {
    let vocabulary: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("resolver-config/linktypes/gs1.json"),
        )
        .expect("GS1 vocabulary file"),
    )
    .expect("GS1 vocabulary is JSON");
    let ratified = vocabulary["terms"].as_object().expect("terms");
    let server = start().await;
    let listed: Value = serde_json::from_str(
        &send(Method::GET, &server.url("/voc?show=linktypes"), &[])
            .await
            .body,
    )
    .expect("link type list is JSON");
    let mut v = Verdicts::default();
    for dl in DLS {
        let (_, linkset) = fetch_linkset(&server, dl).await;
        let walk = walk_linkset(dl, &linkset);
        let mut expected = vec![
            "gs1:defaultLink",
            "gs1:pip",
            "gs1:certificationInfo",
            "gs1:relatedVideo",
        ];
        if dl == BATCH_DL {
            expected.insert(0, "gs1:traceability");
        }
        v.check(
            dl,
            "linkTypesDefined",
            walk.seen == expected,
            format!("met {:?}", walk.seen),
        );
        for link_type in &walk.seen {
            if let Some(term) = link_type.strip_prefix("gs1:") {
                v.check(
                    dl,
                    "linkTypesDefined",
                    ratified.contains_key(term),
                    format!("{link_type} is not a ratified GS1 link type"),
                );
                v.check(
                    dl,
                    "linkTypesDefined",
                    listed.get(link_type).is_some(),
                    format!("{link_type} is not in /voc?show=linktypes"),
                );
            }
        }
    }
    v.assert_all_pass();
}

// ------------------------------------------------------------------------------------------------ self-checks

/// The port's own helpers, on the suite's model linkset shapes.
#[test]
fn helpers_follow_the_suite() {
    assert!(check_digit_ok("09520123456788"));
    assert!(!check_digit_ok("09520123456789"));
    assert!(valid_gtin_dl(BATCH_DL).is_ok());
    assert!(valid_gtin_dl(&format!("{GTIN_DL}/21/x/10/y")).is_err());
    assert!(!plausible_numeric(
        "https://resolver.example/gtin/09520123456788"
    ));
    let a = json!({"href": "a", "type": "text/html"});
    let b = json!({"href": "b", "type": "text/html"});
    let c = json!({"href": "c", "type": "text/html", "hreflang": ["en"]});
    assert_eq!(three_hundreds(&[a, c, b]), vec![0, 2]);
    assert_eq!(
        target_of("https://x.example/p?v=1&linkType=gs1:pip", "gs1:pip"),
        "https://x.example/p?v=1"
    );
    assert_eq!(
        target_of("https://x.example/p?linkType=gs1:pip&context=x", "gs1:pip"),
        "https://x.example/p"
    );
    let linkset = json!({"linkset": [
        {"anchor": "https://r.example/01/1/10/b", "itemDescription": "b",
         "https://ref.gs1.org/voc/pip": [{"href": "https://p/b", "title": "b"}]},
        {"anchor": "https://r.example/01/1", "itemDescription": "g",
         "https://gs1.org/voc/defaultLink": [{"href": "https://p/g", "title": "g"}],
         "https://www.gs1.org/voc/pip": [{"href": "https://p/g", "title": "g"}]}
    ]});
    let walk = walk_linkset("https://r.example/01/1/10/b?x=1", &linkset);
    assert_eq!(walk.seen, ["gs1:pip", "gs1:defaultLink"]);
    assert_eq!(
        walk.single,
        [("gs1:pip".to_string(), "https://p/b".to_string())]
    );
}

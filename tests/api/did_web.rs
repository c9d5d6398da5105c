//! did:web resolution over real sockets: the real `idr` binary, configured to trust a test CA, resolving DIDs of a
//! local HTTPS host (`tests/api/support/did_host.rs`). Nothing here needs the internet. Expected values come from the
//! did:web method, UNTP's DID-to-linkset mapping (requirements 102-104, test case T18) and the issue.

use crate::support::app::TestApp;
use crate::support::client::Api;
use crate::support::client::client;
use crate::support::client::{location, problem};
use crate::support::did_host::{DidHost, Reply};
use crate::support::schema::{SchemaKind, assert_valid};
use reqwest::{Response, StatusCode, header};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const ROOT: &str = "https://resolver.example";
const DPP_EN: &str = "https://brand.example/dpp/battery-en.jwt";
const DPP_DE: &str = "https://brand.example/dpp/battery-de.jwt";
const DIA: &str = "https://registry.example/dia/123";
const DPP_URI: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const DIA_URI: &str = "https://test.uncefact.org/vocabulary/linkTypes/dia";

/// The product DID document used by most tests: a passport in two languages, an identity anchor, and a service
/// with a type no linkset can carry. (A resolver service makes the DID answer with that resolver's linkset:
/// `did_resolvers.rs`.)
fn product_document(did: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": ["https://brand.example/products/battery"],
        "service": [
            {"id": format!("{did}#dpp"), "type": "untp:dpp", "serviceEndpoint": [
                {"href": DPP_EN, "title": "Product passport", "type": "application/vc+jwt", "hreflang": ["en"]},
                {"href": DPP_DE, "title": "Produktpass", "type": "application/vc+jwt", "hreflang": ["de"]}
            ]},
            {"id": format!("{did}#dia"), "type": "untp:dia", "serviceEndpoint": DIA},
            {"id": format!("{did}#web"), "type": "LinkedDomains", "serviceEndpoint": "https://brand.example/"}
        ]
    })
}

/// Starts idr trusting `host`'s CA and allowed to reach it (it is on loopback, which the outbound guard refuses
/// unless told otherwise), with extra `[did_web]` settings (TOML lines).
async fn start_idr(host: &DidHost, did_web: &str) -> TestApp {
    start_idr_with(host, did_web, "").await
}

/// As `start_idr`, with extra `[outbound]` settings too.
async fn start_idr_with(host: &DidHost, did_web: &str, outbound: &str) -> TestApp {
    let config = host.dir().join("idr.toml");
    let ca = host.ca_file();
    let toml = format!(
        "[outbound]\nextra_ca_file = {:?}\nallow = [\"localhost\"]\n{outbound}\n[did_web]\n{did_web}\n",
        ca.display().to_string()
    );
    std::fs::write(&config, toml).expect("write config");
    let config = config.display().to_string();
    TestApp::start_with(&["--no-demo", "--resolver-root", ROOT, "--config", &config]).await
}

/// Checks a problem document and returns its `detail`.
async fn problem_detail(response: Response, status: StatusCode) -> String {
    let body = problem(response, status.as_u16()).await;
    body["detail"].as_str().expect("detail").to_string()
}

#[tokio::test]
async fn a_valid_document_resolves_to_a_linkset_and_redirects() {
    let host = DidHost::start().await;
    let path = ["products", "battery"];
    let did = host.did(&path);
    let doc_path = DidHost::document_path(&path);
    host.serve(
        &doc_path,
        Reply::json(&product_document(&did)).header("Cache-Control", "max-age=300"),
    );
    let server = start_idr(&host, "").await;
    let at = |query: &str| format!("/{did}{query}");

    // T18: Accept: application/linkset+json → 200 linkset derived from the services.
    let r = server
        .get_with(&at(""), &[("Accept", "application/linkset+json")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/linkset+json"
    );
    assert_eq!(r.headers()["x-robots-tag"], "noindex");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let anchor = format!("{ROOT}/{did}");
    assert_eq!(
        r.headers()[header::LINK].to_str().unwrap(),
        format!("<{anchor}?linkType=linkset>; rel=\"linkset\"; type=\"application/linkset+json\"")
    );
    let linkset: Value = r.json().await.expect("linkset JSON");
    assert_valid(SchemaKind::UntpLinkset, &linkset);
    assert_valid(SchemaKind::Gs1Linkset, &linkset);
    let objects = linkset["linkset"].as_array().expect("linkset array");
    assert_eq!(objects.len(), 1);
    let object = &objects[0];
    assert_eq!(object["anchor"], anchor);
    let relations: Vec<&String> = object.as_object().unwrap().keys().collect();
    assert_eq!(
        relations,
        ["anchor", "itemDescription", DPP_URI, DIA_URI],
        "LinkedDomains is no linkset relation"
    );
    assert_eq!(
        object[DPP_URI],
        json!([
            {"href": DPP_EN, "title": "Product passport", "type": "application/vc+jwt", "hreflang": ["en"]},
            {"href": DPP_DE, "title": "Produktpass", "type": "application/vc+jwt", "hreflang": ["de"]}
        ])
    );
    assert_eq!(
        object[DIA_URI],
        json!([{"href": DIA, "title": "Digital Identity Anchor"}]),
        "a string endpoint takes the link type's title"
    );

    let r = server.get_with(&at("?linkType=linkset"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), linkset);

    // ?service= selects by id fragment, in UNTP's deep-link form with a trailing slash too.
    for query in ["?service=dia", "/?service=dia"] {
        let r = server.get_with(&at(query), &[]).await;
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{query}");
        assert_eq!(location(&r), format!("{DIA}?service=dia"), "{query}");
    }
    let r = server.get_with(&at("?service=web"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), "https://brand.example/?service=web");

    // T18: ?linkType=untp:dpp → 307 to the passport, negotiated by language.
    let r = server.get_with(&at("?linkType=untp:dpp"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), format!("{DPP_EN}?linkType=untp:dpp"));
    let r = server
        .get_with(
            &at("?linkType=untp:dpp"),
            &[("Accept-Language", "de-CH, en;q=0.3")],
        )
        .await;
    assert_eq!(location(&r), format!("{DPP_DE}?linkType=untp:dpp"));
    let r = server
        .get_with(&at("?serviceType=untp:dia&key=s3cret"), &[])
        .await;
    assert_eq!(
        location(&r),
        format!("{DIA}?serviceType=untp:dia&key=s3cret"),
        "the query goes to the target, as for GS1 scans"
    );

    // No selector: the passport, since the document has one.
    let r = server.get_with(&at(""), &[("Accept-Language", "de")]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), DPP_DE);

    // No match → 404.
    for query in [
        "?service=nope",
        "?linkType=gs1:pip",
        "?service=dia&linkType=untp:dpp",
    ] {
        let detail = problem_detail(
            server.get_with(&at(query), &[]).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(detail.contains(&did), "{query}: {detail}");
    }

    assert_eq!(
        host.hits(&doc_path),
        1,
        "max-age=300: every request after the first was answered from the cache"
    );
}

#[tokio::test]
async fn upstream_failures_are_502_or_504_with_a_named_cause() {
    let host = DidHost::start().await;
    // Each case is about one DID: no host-wide memory of the timeout below.
    let server = start_idr_with(
        &host,
        "timeout_ms = 500\nmax_document_bytes = 4096",
        "failure_cache_seconds = 0",
    )
    .await;

    // The document's id must be the DID resolved.
    let wrong = host.did(&["wrong"]);
    let other = host.did(&["other"]);
    host.serve(
        &DidHost::document_path(&["wrong"]),
        Reply::json(&product_document(&other)),
    );
    let detail = problem_detail(
        server.get_with(&format!("/{wrong}"), &[]).await,
        StatusCode::BAD_GATEWAY,
    )
    .await;
    assert!(
        detail.contains(&other) && detail.contains(&wrong),
        "{detail}"
    );

    // A host slower than timeout_ms: 504, and promptly.
    let slow = host.did(&["slow"]);
    let slow_doc = Reply::json(&product_document(&slow)).delayed(Duration::from_secs(10));
    host.serve(&DidHost::document_path(&["slow"]), slow_doc);
    let started = Instant::now();
    let detail = problem_detail(
        server.get_with(&format!("/{slow}"), &[]).await,
        StatusCode::GATEWAY_TIMEOUT,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        detail,
        format!("fetching the DID document of {slow} took longer than 500 ms")
    );

    // Too large, whether announced by Content-Length or streamed without one: 502 naming the limit.
    let big = host.did(&["big"]);
    let mut padded = product_document(&big);
    padded["padding"] = json!("x".repeat(5000));
    host.serve(&DidHost::document_path(&["big"]), Reply::json(&padded));
    let endless = host.did(&["endless"]);
    host.serve(
        &DidHost::document_path(&["endless"]),
        Reply::endless(50 * 1024 * 1024),
    );
    for did in [&big, &endless] {
        let started = Instant::now();
        let detail = problem_detail(
            server.get_with(&format!("/{did}"), &[]).await,
            StatusCode::BAD_GATEWAY,
        )
        .await;
        assert!(detail.contains("4096 bytes"), "{detail}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    // Not JSON, not a DID document, an HTTP error, a redirect (not followed).
    let cases = [
        (
            "garbage",
            Reply::status(200).header("Content-Type", "application/json"),
            "not a DID document",
        ),
        ("array", Reply::json(&json!([1, 2])), "not a DID document"),
        ("error", Reply::status(500), "HTTP 500"),
        (
            "moved",
            Reply::status(301).header("Location", "https://brand.example/did.json"),
            "redirect",
        ),
    ];
    for (name, reply, words) in cases {
        host.serve(&DidHost::document_path(&[name]), reply);
        let did = host.did(&[name]);
        let detail = problem_detail(
            server.get_with(&format!("/{did}"), &[]).await,
            StatusCode::BAD_GATEWAY,
        )
        .await;
        assert!(detail.contains(words), "{name}: {detail}");
    }

    // A document that is not there: 404.
    let missing = host.did(&["missing"]);
    let detail = problem_detail(
        server.get_with(&format!("/{missing}"), &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(detail.contains("/missing/did.json"), "{detail}");
}

#[tokio::test]
async fn bad_dids_are_400_without_any_fetch() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "").await;
    let cases: &[(&str, &str)] = &[
        ("/did:web:1.2.3.4", "IP address"),
        ("/did:web:192.168.1.10%3A8443:x", "IP address"),
        ("/did:web:%5B%3A%3A1%5D", "IP address"),
        ("/did:web:", "not a DID"),
        ("/did:web:exa%20mple.com", "not a domain name"),
        ("/did:web:example.com::x", "path segments"),
        ("/did:web:example.com%3A99999", "port"),
        ("/did:WEB:example.com", "lowercase"),
        (
            "/did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "did:web",
        ),
        ("/did:web:example.com/some/path", "DID URL paths"),
    ];
    for (path, words) in cases {
        let r = server.get_with(path, &[]).await;
        let detail = problem_detail(r, StatusCode::BAD_REQUEST).await;
        assert!(detail.contains(words), "{path}: {detail}");
    }
    let r = client()
        .post(server.url("/did:web:example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_cache_honours_max_age_above_a_floor() {
    let host = DidHost::start().await;
    // min_cache_seconds: 60 by default, for every document; 0 turns the floor off.
    let cases = [
        ("", "fresh", "public, max-age=60", 1),
        ("", "nostore", "no-store", 1),
        ("", "none", "", 1),
        ("", "short", "max-age=0", 1),
        ("min_cache_seconds = 0", "fresh0", "public, max-age=60", 1),
        ("min_cache_seconds = 0", "nostore0", "no-store", 3),
        (
            "min_cache_seconds = 0",
            "private0",
            "private, max-age=60",
            3,
        ),
        ("min_cache_seconds = 0", "none0", "", 3),
    ];
    let floor = start_idr(&host, "").await;
    let no_floor = start_idr(&host, "min_cache_seconds = 0").await;
    for (setting, name, cache_control, expected_hits) in cases {
        let server = if setting.is_empty() {
            &floor
        } else {
            &no_floor
        };
        let did = host.did(&[name]);
        let path = DidHost::document_path(&[name]);
        let mut reply = Reply::json(&product_document(&did));
        if !cache_control.is_empty() {
            reply = reply.header("Cache-Control", cache_control);
        }
        host.serve(&path, reply);
        for _ in 0..3 {
            let r = server.get_with(&format!("/{did}?service=dia"), &[]).await;
            assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{name}");
        }
        assert_eq!(
            host.hits(&path),
            expected_hits,
            "{setting:?} {name}: {cache_control:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "min_cache_seconds = 0").await;
    let did = host.did(&["busy"]);
    let path = DidHost::document_path(&["busy"]);
    // Not cacheable, and slow: every request arrives while the first fetch is still running.
    let reply = Reply::json(&product_document(&did))
        .header("Cache-Control", "no-store")
        .delayed(Duration::from_millis(400));
    host.serve(&path, reply);
    let url = format!("/{did}?service=dia");
    let requests = (0..6).map(|_| server.get_with(&url, &[]));
    for r in futures_util::future::join_all(requests).await {
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    }
    assert_eq!(host.hits(&path), 1);
    let r = server.get_with(&url, &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        host.hits(&path),
        2,
        "no-store: the next request fetches again"
    );
}

#[tokio::test]
async fn a_failure_is_cached_only_briefly() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "failure_cache_seconds = 1").await;
    let did = host.did(&["flaky"]);
    let path = DidHost::document_path(&["flaky"]);
    host.serve(&path, Reply::status(503));
    for _ in 0..2 {
        let r = server.get_with(&format!("/{did}"), &[]).await;
        assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    }
    assert_eq!(
        host.hits(&path),
        1,
        "the failure is remembered for a moment"
    );
    host.serve(
        &path,
        Reply::json(&product_document(&did)).header("Cache-Control", "max-age=60"),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = server.get_with(&format!("/{did}?service=dia"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(host.hits(&path), 2, "and retried once it has expired");
}

#[tokio::test]
async fn hosts_are_trusted_only_through_the_configured_ca() {
    let host = DidHost::start().await;
    let did = host.did(&[]);
    host.serve(
        &DidHost::document_path(&[]),
        Reply::json(&product_document(&did)),
    );
    // The system roots alone do not trust the test CA: a generic 502 naming the DID; the TLS error is logged only.
    let config = host.dir().join("no-ca.toml");
    std::fs::write(&config, "[outbound]\nallow = [\"localhost\"]\n").unwrap();
    let plain = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let detail = problem_detail(
        plain.get_with(&format!("/{did}"), &[]).await,
        StatusCode::BAD_GATEWAY,
    )
    .await;
    assert_eq!(
        detail,
        format!("the DID document of {did} could not be fetched")
    );
    assert_eq!(host.hits(&DidHost::document_path(&[])), 0);
    // With the CA configured, the same DID resolves.
    let trusting = start_idr(&host, "").await;
    let r = trusting.get_with(&format!("/{did}?service=dia"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
}

#[tokio::test]
async fn resolution_can_be_switched_off() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "enabled = false").await;
    let detail = problem_detail(
        server.get_with(&format!("/{}", host.did(&[])), &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(detail.contains("not enabled"), "{detail}");
    assert_eq!(host.hits(&DidHost::document_path(&[])), 0);
}

#[tokio::test]
async fn an_unreadable_ca_file_stops_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("idr.toml");
    let missing = dir.path().join("no-such-ca.pem");
    std::fs::write(
        &config,
        format!(
            "[did_web]\nextra_ca_file = {:?}\n",
            missing.display().to_string()
        ),
    )
    .unwrap();
    let mut child = crate::support::server::command()
        .args([
            "serve",
            "--no-demo",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("idr runs");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("idr started despite an unreadable CA file");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let output = child.wait_with_output().expect("output");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("did_web.extra_ca_file") && stderr.contains("no-such-ca.pem"),
        "{stderr}"
    );
}

/// An anchor registered on one idr gets a DID document at `/{path}/did.json`; published on that DID's host, it
/// resolves through another idr's did:web resolution to the same links.
#[tokio::test]
async fn a_hosted_did_document_round_trips_through_did_web_resolution() {
    let host = DidHost::start().await;
    let origin = format!("https://localhost:{}", host.port);
    let issuer = TestApp::start_with(&["--no-demo", "--resolver-root", &origin]).await;
    let body = json!({"itemDescription": "Battery pack", "defaultLinkType": "untp:dpp", "links": [
        {"linkType": "untp:dpp", "href": DPP_EN, "title": "Passport", "type": "application/vc+jwt", "hreflang": ["en"]},
        {"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "Product page", "type": "text/html"}]});
    issuer.put_anchor("01/09520123456788", body).await;

    let r = issuer.get_with("/01/09520123456788/did.json", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/did+json");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let document: Value = r.json().await.unwrap();
    let did = host.did(&["01", "09520123456788"]);
    assert_eq!(document["id"], did);
    assert_eq!(
        document["alsoKnownAs"],
        json!([format!("{origin}/01/09520123456788")])
    );
    let services = document["service"].as_array().unwrap();
    assert!(services.iter().any(|s| s["type"] == "IdentityResolver"
        && s["serviceEndpoint"]["href"] == format!("{origin}/01/09520123456788?linkType=linkset")));
    // Unregistered identifiers have no document; a batch called "did.json" is still a batch.
    assert_eq!(
        issuer
            .get_with("/01/09506000134369/did.json", &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        issuer
            .get_with("/01/09520123456788/10/did.json", &[])
            .await
            .status(),
        307
    );

    host.serve(
        &DidHost::document_path(&["01", "09520123456788"]),
        Reply::json(&document),
    );
    // The document's IdentityResolver service names the issuer's linkset, which the DID's host publishes.
    let linkset: Value = issuer
        .get_with("/01/09520123456788?linkType=linkset", &[])
        .await
        .json()
        .await
        .unwrap();
    let linkset_path = "/01/09520123456788?linkType=linkset";
    host.serve(linkset_path, Reply::json(&linkset));
    let verifier = start_idr(&host, "").await;
    let r = verifier
        .get_with(&format!("/{did}?linkType=gs1:pip"), &[])
        .await;
    assert_eq!(r.status(), 307);
    assert_eq!(location(&r), "https://brand.example/p?linkType=gs1:pip");
    let r = verifier.get_with(&format!("/{did}"), &[]).await;
    assert_eq!(location(&r), DPP_EN, "no selector: the passport");
    assert_eq!(
        host.hits(linkset_path),
        1,
        "answered from the fetched linkset"
    );
}

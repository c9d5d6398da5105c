//! DIDs as resolvers (UNTP Identity Resolver, "DID Documents as Resolvers"; issue 24 point 5): a did:web whose
//! document has an `IdentityResolver` or `linkset` service answers with the linkset that service publishes, fetched
//! through the guarded outbound client from the local HTTPS host (loopback, allowed explicitly), with GS1's
//! negotiation; failures are 502/504 naming the DID.

use crate::support::app::TestApp;
use crate::support::client::{Api, location, problem};
use crate::support::did_host::{DidHost, Reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const ROOT: &str = "https://resolver.example";
const DPP_EN: &str = "https://brand.example/dpp/en.jwt";
const DPP_DE: &str = "https://brand.example/dpp/de.jwt";
const DPP_OLD: &str = "https://brand.example/dpp/en-v1.jwt";
const PIP: &str = "https://brand.example/products/battery";
const DIA: &str = "https://registry.example/dia/123";

async fn start_idr(host: &DidHost, did_web: &str) -> TestApp {
    let config = host.dir().join("idr.toml");
    let toml = format!(
        "[outbound]\nextra_ca_file = {:?}\nallow = [\"localhost\"]\nfailure_cache_seconds = 0\n[did_web]\n{did_web}\n",
        host.ca_file().display().to_string()
    );
    std::fs::write(&config, toml).unwrap();
    let config = config.display().to_string();
    TestApp::start_with(&["--no-demo", "--resolver-root", ROOT, "--config", &config]).await
}

/// A DID document with a resolver service of `service_type` at `resolver_url`, and an identity anchor of its own.
fn document(did: &str, service_type: &str, resolver_url: &str) -> Value {
    json!({"@context": ["https://www.w3.org/ns/did/v1"], "id": did, "service": [
        {"id": format!("{did}#idr"), "type": service_type,
         "serviceEndpoint": {"href": resolver_url, "title": "Identity resolver", "type": "application/linkset+json"}},
        {"id": format!("{did}#dia"), "type": "untp:dia", "serviceEndpoint": DIA}
    ]})
}

/// The resolver's linkset: the item (passports in two languages, an earlier version) and the product class (a
/// product page, the default link).
fn item_linkset() -> Value {
    json!({"linkset": [
        {"anchor": "https://brand.example/products/battery/items/1", "itemDescription": "Battery 1",
         "https://test.uncefact.org/vocabulary/linkTypes/dpp": [
            {"href": DPP_EN, "title": "Passport", "type": "application/vc+jwt", "hreflang": ["en"]},
            {"href": DPP_DE, "title": "Pass", "type": "application/vc+jwt", "hreflang": ["de"]},
            {"href": DPP_OLD, "title": "Passport", "type": "application/vc+jwt", "hreflang": ["en"],
             "rel": ["predecessor-version"]}]},
        {"anchor": "https://brand.example/products/battery",
         "https://gs1.org/voc/pip": [{"href": PIP, "title": "Product page", "type": "text/html"}],
         "https://gs1.org/voc/defaultLink": [{"href": PIP, "title": "Product page", "type": "text/html"}]}
    ]})
}

/// Serves `document` for `did(path)` and `linkset` at `/resolver/{name}`; returns the DID and the resolver URL.
fn publish(host: &DidHost, path: &[&str], service_type: &str, linkset: Reply) -> (String, String) {
    let did = host.did(path);
    let url_path = format!("/resolver/{}", path.join("-"));
    let url = format!("https://localhost:{}{url_path}", host.port);
    host.serve(
        &DidHost::document_path(path),
        Reply::json(&document(&did, service_type, &url)),
    );
    host.serve(&url_path, linkset);
    (did, url)
}

async fn detail(response: reqwest::Response, status: StatusCode) -> String {
    problem(response, status.as_u16()).await["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_resolver_service_answers_with_its_linkset_negotiated_as_gs1_resolution() {
    let host = DidHost::start().await;
    let served = Reply::json(&item_linkset()).header("Cache-Control", "max-age=300");
    let (did, url) = publish(&host, &["battery"], "IdentityResolver", served);
    let server = start_idr(&host, "").await;
    let at = |query: &str| format!("/{did}{query}");

    // The linkset itself: Accept: application/linkset+json, linkType=all, linkType=linkset.
    let r = server
        .get_with(&at(""), &[("Accept", "application/linkset+json")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/linkset+json");
    assert_eq!(r.json::<Value>().await.unwrap(), item_linkset());
    for query in ["?linkType=all", "?linkType=linkset"] {
        let r = server.get_with(&at(query), &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{query}");
        assert_eq!(r.json::<Value>().await.unwrap(), item_linkset(), "{query}");
    }

    // A link type: 307 to its target, negotiated by language, never an earlier version; the query goes along.
    let r = server.get_with(&at("?linkType=untp:dpp"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), format!("{DPP_EN}?linkType=untp:dpp"));
    let r = server
        .get_with(&at("?linkType=untp:dpp"), &[("Accept-Language", "de-CH")])
        .await;
    assert_eq!(location(&r), format!("{DPP_DE}?linkType=untp:dpp"));
    // A type only the product class has: found in the linkset's next context.
    let r = server.get_with(&at("?linkType=gs1:pip"), &[]).await;
    assert_eq!(location(&r), format!("{PIP}?linkType=gs1:pip"));

    // A plain scan: the linkset's default link.
    let r = server.get_with(&at(""), &[("Accept", "text/html")]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), PIP);

    // What the linkset lacks, the document's own services answer; else 404.
    let r = server.get_with(&at("?linkType=untp:dia"), &[]).await;
    assert_eq!(location(&r), format!("{DIA}?linkType=untp:dia"));
    let r = server
        .get_with(&at("?linkType=gs1:certificationInfo"), &[])
        .await;
    assert!(detail(r, StatusCode::NOT_FOUND).await.contains(&did));
    // `service=` names the document's own services, the resolver among them.
    let r = server.get_with(&at("?service=idr"), &[]).await;
    assert_eq!(location(&r), format!("{url}?service=idr"));

    assert_eq!(
        host.hits("/resolver/battery"),
        1,
        "max-age=300: fetched once, then answered from the cache"
    );
}

#[tokio::test]
async fn a_plain_scan_without_a_default_goes_to_the_linkset_url() {
    let host = DidHost::start().await;
    let only_pip = json!({"linkset": [{"anchor": "https://brand.example/p",
        "https://gs1.org/voc/pip": [{"href": PIP, "title": "Product page"}]}]});
    let (did, url) = publish(&host, &["pip-only"], "linkset", Reply::json(&only_pip));
    let server = start_idr(&host, "").await;
    let r = server.get_with(&format!("/{did}"), &[]).await;
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(location(&r), url);
    let r = server
        .get_with(&format!("/{did}?linkType=gs1:pip"), &[])
        .await;
    assert_eq!(location(&r), format!("{PIP}?linkType=gs1:pip"));
}

#[tokio::test]
async fn a_broken_resolver_is_a_502_naming_the_did_and_the_cause() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "").await;
    let cases: [(&str, Reply, &str); 5] = [
        (
            "not-a-linkset",
            Reply::json(&json!({"links": []})),
            "no \"linkset\" array",
        ),
        (
            "no-anchor",
            Reply::json(&json!({"linkset": [{"pip": [{"href": PIP}]}]})),
            "no \"anchor\"",
        ),
        (
            "no-href",
            Reply::json(&json!({"linkset": [{"anchor": PIP, "pip": [{"title": "x"}]}]})),
            "linkset[0].pip[0]: no \"href\"",
        ),
        (
            "not-json",
            Reply::status(200).header("Content-Type", "text/html"),
            "RFC 9264",
        ),
        ("gone", Reply::status(404), "answered HTTP 404"),
    ];
    for (name, reply, cause) in cases {
        let (did, _) = publish(&host, &[name], "IdentityResolver", reply);
        for query in ["", "?linkType=untp:dpp", "?linkType=all"] {
            let r = server.get_with(&format!("/{did}{query}"), &[]).await;
            let text = detail(r, StatusCode::BAD_GATEWAY).await;
            assert!(
                text.contains(&did) && text.contains(cause),
                "{name}{query}: {text}"
            );
        }
    }
    // An http resolver is not fetched at all.
    let did = host.did(&["plain-http"]);
    let plain = format!("http://localhost:{}/resolver/plain-http", host.port);
    host.serve(
        &DidHost::document_path(&["plain-http"]),
        Reply::json(&document(&did, "IdentityResolver", &plain)),
    );
    let r = server.get_with(&format!("/{did}"), &[]).await;
    assert!(
        detail(r, StatusCode::BAD_GATEWAY)
            .await
            .contains("only https")
    );
    assert_eq!(host.hits("/resolver/plain-http"), 0);
    // The DID document chooses the address: one the outbound guard does not allow (an IP literal; only the name
    // `localhost` is allowed here) is never fetched, and the answer names the DID only.
    let did = host.did(&["ip-literal"]);
    let literal = format!("https://127.0.0.1:{}/resolver/ip-literal", host.port);
    host.serve(
        &DidHost::document_path(&["ip-literal"]),
        Reply::json(&document(&did, "IdentityResolver", &literal)),
    );
    host.serve("/resolver/ip-literal", Reply::json(&item_linkset()));
    let r = server.get_with(&format!("/{did}?linkType=all"), &[]).await;
    let text = detail(r, StatusCode::BAD_GATEWAY).await;
    assert_eq!(
        text,
        format!("the linkset of {did}'s resolver service could not be fetched")
    );
    assert_eq!(host.hits("/resolver/ip-literal"), 0);
}

#[tokio::test]
async fn a_slow_or_oversized_linkset_is_bounded() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "timeout_ms = 500\nmax_document_bytes = 4096").await;
    let slow = Reply::json(&item_linkset()).delayed(Duration::from_secs(5));
    let (did, _) = publish(&host, &["slow"], "IdentityResolver", slow);
    let started = std::time::Instant::now();
    let r = server.get_with(&format!("/{did}?linkType=all"), &[]).await;
    let text = detail(r, StatusCode::GATEWAY_TIMEOUT).await;
    assert!(text.contains(&did) && text.contains("500 ms"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(4), "not waited out");

    let (did, _) = publish(
        &host,
        &["big"],
        "IdentityResolver",
        Reply::endless(1_000_000),
    );
    let r = server.get_with(&format!("/{did}?linkType=all"), &[]).await;
    let text = detail(r, StatusCode::BAD_GATEWAY).await;
    assert!(text.contains(&did) && text.contains("4096 bytes"), "{text}");
}

/// A linkset keyed by UNTP's bare `dpp` answers a plain scan and `linkType=untp:dpp` with the passport (relations
/// match in any spelling), and the linkset idr serves back is its normalised copy: a `javascript:` target is gone.
#[tokio::test]
async fn a_bare_dpp_linkset_is_matched_by_relation_and_served_normalised() {
    let host = DidHost::start().await;
    let server = start_idr(&host, "").await;
    let passport = "https://c.example/dpp";
    let linkset = json!({"linkset": [{"anchor": "https://r.example/x",
        "dpp": [{"href": "javascript:alert(document.cookie)", "title": "Click"}, {"href": passport, "title": "DPP"}]}]});
    let (did, _) = publish(&host, &["bare"], "IdentityResolver", Reply::json(&linkset));
    for query in [
        "",
        "?linkType=untp:dpp",
        "?linkType=dpp",
        "?linkType=gs1:dpp",
    ] {
        let r = server.get_with(&format!("/{did}{query}"), &[]).await;
        assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT, "{query}");
        assert!(
            location(&r).starts_with(passport),
            "{query}: {}",
            location(&r)
        );
    }
    for (query, accept) in [
        ("?linkType=linkset", "*/*"),
        ("", "application/linkset+json"),
    ] {
        let r = server
            .get_with(&format!("/{did}{query}"), &[("accept", accept)])
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        assert!(!text.contains("javascript"), "{text}");
        let served: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            served["linkset"][0]["https://gs1.org/voc/dpp"],
            json!([{"href": passport, "title": "DPP"}]),
            "{served}"
        );
    }
}

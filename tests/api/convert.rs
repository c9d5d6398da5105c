//! `GET /api/v1/convert?data=…` over HTTP: scanner output, element strings and EPC URIs to the canonical Digital
//! Link URI on the resolver's root, anonymous; bad data is an RFC 9457 problem naming the AI and its position; and
//! the URI it answers resolves.

use crate::support::app::TestApp;
use crate::support::client::{Api, client};
use serde_json::{Value, json};

const ROOT: &str = "https://id.example.com";

async fn start() -> TestApp {
    TestApp::start_with(&["--no-demo", "--resolver-root", ROOT]).await
}

/// `data` percent-encoded as a client must (every byte outside unreserved).
fn convert_url(server: &TestApp, data: &str) -> String {
    let encoded =
        percent_encoding::utf8_percent_encode(data, percent_encoding::NON_ALPHANUMERIC).to_string();
    server.url(&format!("/api/v1/convert?data={encoded}"))
}

async fn get(server: &TestApp, data: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = client()
        .get(convert_url(server, data))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.json().await.unwrap(), headers)
}

#[tokio::test]
async fn a_gs1_datamatrix_scan_becomes_the_digital_link_uri() {
    let server = start().await;
    let (status, body, headers) = get(&server, "]d2010952012345678810ABC\u{1d}17201231\r\n").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        body,
        json!({
            "input": "scannerData",
            "symbology": {"identifier": "]d2", "name": "GS1 DataMatrix"},
            "uri": "https://id.example.com/01/09520123456788/10/ABC?17=201231",
            "elementString": "(01)09520123456788(10)ABC(17)201231",
            "barcodeData": "010952012345678810ABC\u{1d}17201231",
            "elements": [
                {"ai": "01", "title": "GTIN", "value": "09520123456788", "role": "primaryKey"},
                {"ai": "10", "title": "BATCH/LOT", "value": "ABC", "role": "keyQualifier"},
                {"ai": "17", "title": "USE BY or EXPIRY", "value": "201231", "role": "dataAttribute"}
            ]
        })
    );
}

#[tokio::test]
async fn every_form_of_the_same_item_gives_the_same_uri() {
    let server = start().await;
    let uri = "https://id.example.com/01/09520123456788/10/ABC%2F1/21/S1";
    for (data, input) in [
        ("]d2010952012345678810ABC/1\u{1d}21S1", "scannerData"),
        ("]Q3010952012345678810ABC/1\u{1d}21S1", "scannerData"),
        ("]C1010952012345678810ABC/1\u{1d}21S1", "scannerData"),
        ("]e0010952012345678810ABC/1\u{1d}21S1", "scannerData"),
        ("]J1010952012345678810ABC/1\u{1d}21S1", "scannerData"),
        ("(01)09520123456788(10)ABC/1(21)S1", "elementString"),
        ("(21)S1(10)ABC/1(01)09520123456788", "elementString"),
        ("^010952012345678810ABC/1^21S1", "barcodeData"),
        ("010952012345678810ABC/1\u{1d}21S1", "barcodeData"),
        (
            "]Q1https://brand.example/01/09520123456788/10/ABC%2F1/21/S1",
            "scannerData",
        ),
        (
            "https://id.gs1.org/01/9520123456788/10/ABC%2F1/21/S1",
            "digitalLink",
        ),
    ] {
        let (status, body, _) = get(&server, data).await;
        assert_eq!(status, 200, "{data:?}: {body}");
        assert_eq!(body["uri"], uri, "{data:?}");
        assert_eq!(body["input"], input, "{data:?}");
    }
}

#[tokio::test]
async fn epc_uris_become_their_gs1_keys() {
    let server = start().await;
    for (data, uri) in [
        (
            "urn:epc:id:sgtin:0614141.812345.6789",
            "https://id.example.com/01/80614141123458/21/6789",
        ),
        (
            "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
            "https://id.example.com/01/80614141123458/21/6789",
        ),
        (
            "urn:epc:id:sscc:0614141.1234567890",
            "https://id.example.com/00/106141412345678908",
        ),
        (
            "urn:epc:id:sgln:9521141.12345.5678",
            "https://id.example.com/414/9521141123454/254/5678",
        ),
    ] {
        let (status, body, _) = get(&server, data).await;
        assert_eq!(status, 200, "{data}: {body}");
        assert_eq!(body["uri"], uri, "{data}");
        assert_eq!(body["input"], "epcUri");
    }
}

async fn get_query(server: &TestApp, data: &str, extra: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{extra}", convert_url(server, data)))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn digital_links_convert_back_to_epc_uris_with_the_company_prefix_length() {
    let server = start().await;
    // an EPC URI comes back as it was, beside its Digital Link (TDS 1.x worked example)
    let tag = "urn:epc:tag:sgtin-96:3.0614141.812345.6789";
    let (status, body) = get_query(&server, tag, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epc"]["pureIdentity"],
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(body["epc"]["tag"], tag);
    // and the Digital Link it gave converts back to it, given the prefix length, encoding and filter
    let uri = body["uri"].as_str().unwrap().to_string();
    let (status, body) = get_query(&server, &uri, "&gcpLength=7&epcTag=sgtin-96&filter=3").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epc"]["pureIdentity"],
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(body["epc"]["tag"], tag);
    // TDS 2.3 Annex E.3 (SSCC-96): element string in, pure identity out
    let (status, body) = get_query(&server, "(00)095201234567891235", "&gcpLength=6").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epc"]["pureIdentity"],
        "urn:epc:id:sscc:952012.03456789123"
    );
    assert!(body["epc"].get("tag").is_none(), "{body}");
    assert!(body["epc"].get("notCarried").is_none(), "{body}");
    // an SGTIN has no field for a CPV or a batch beside the serial: the answer names what the EPC leaves out
    let (status, body) = get_query(
        &server,
        "(01)09520123456788(22)2A(10)ABC(21)12345",
        "&gcpLength=7",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epc"]["pureIdentity"],
        "urn:epc:id:sgtin:9520123.045678.12345"
    );
    assert_eq!(body["epc"]["notCarried"], serde_json::json!(["22", "10"]));
    // an EPC binary string of TDS 1.x in a Digital Link path tells its own prefix length, encoding and filter
    let (status, body) = get_query(&server, "/eh3074257bf7194e4000001a85", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["epc"]["pureIdentity"],
        "urn:epc:id:sgtin:0614141.812345.6789"
    );
    assert_eq!(body["epc"]["tag"], tag);
    // no EPC asked for: none written
    let (_, body) = get_query(&server, "(00)095201234567891235", "").await;
    assert!(body.get("epc").is_none(), "{body}");

    // each refusal is a problem naming its parameter
    let sgtin = "https://id.example.com/01/80614141123458/21/6789";
    for (data, extra, field, says) in [
        (sgtin, "&epcTag=sgtin-96", "gcpLength", "6 to 12"),
        (sgtin, "&gcpLength=5", "gcpLength", "6 to 12"),
        (sgtin, "&gcpLength=13", "gcpLength", "6 to 12"),
        (sgtin, "&gcpLength=seven", "gcpLength", "6 to 12"),
        (
            sgtin,
            "&gcpLength=7&epcTag=sgtin-97",
            "epcTag",
            "unknown EPC tag encoding",
        ),
        (sgtin, "&gcpLength=7&epcTag=sscc-96", "epcTag", "sscc"),
        (
            sgtin,
            "&gcpLength=7&epcTag=sgtin-96&filter=8",
            "filter",
            "0 to 7",
        ),
        (sgtin, "&filter=1", "filter", "epcTag"),
        (
            "(01)80614141123458(21)ABC",
            "&gcpLength=7&epcTag=sgtin-96",
            "epcTag",
            "integer",
        ),
        ("(01)80614141123458", "&gcpLength=7", "data", "serial"),
    ] {
        let (status, body) = get_query(&server, data, extra).await;
        assert_eq!(status, 400, "{data}{extra}: {body}");
        assert_eq!(body["title"], "No EPC URI", "{data}{extra}");
        assert_eq!(body["errors"][0]["field"], field, "{data}{extra}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{data}{extra}: {detail}");
    }
    // the TDS 2.x "+" schemes have no tag URI: the problem says so
    let (status, body) = get_query(&server, "urn:epc:tag:sgtin+:3.80614141123458.6789", "").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("binary only"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_data_is_a_problem_naming_the_ai_and_the_position() {
    let server = start().await;
    let (status, body, headers) = get(&server, "]d20109520123456787\u{1d}10ABC").await;
    assert_eq!(status, 400);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["title"], "Invalid carrier data");
    assert_eq!(body["position"], 3);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("AI (01)") && detail.contains("check digit"),
        "{detail}"
    );
    assert_eq!(body["errors"][0]["field"], "data");

    for (data, says) in [
        ("]X1ABC", "symbology identifier \"]X1\""),
        ("(10)ABC", "no GS1 Digital Link primary key"),
        ("urn:epc:id:gid:95100000.12345.400", "gid"),
        ("hello", "not carrier data"),
    ] {
        let (status, body, _) = get(&server, data).await;
        assert_eq!(status, 400, "{data}");
        assert!(
            body["detail"].as_str().unwrap().contains(says),
            "{data}: {body}"
        );
    }

    let r = client()
        .get(server.url("/api/v1/convert"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "no data");
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("`data`"),
        "{body}"
    );

    let r = client()
        .post(convert_url(&server, "(01)09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD, OPTIONS");
}

#[tokio::test]
async fn the_converted_uri_resolves() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            json!({"itemDescription": "x", "links": [
                {"linkType": "gs1:pip", "href": "https://brand.example/pip", "title": "pip"}]}),
        )
        .await;
    let (status, body, _) = get(&server, "]d2010952012345678810ABC\u{1d}17201231").await;
    assert_eq!(status, 200, "{body}");
    let uri = body["uri"].as_str().unwrap();
    assert!(uri.starts_with(&server.url("/")), "{uri}");
    let r = client().get(uri).send().await.unwrap();
    assert_eq!(r.status(), 307, "{uri}");
    assert_eq!(
        r.headers()["location"],
        "https://brand.example/pip?17=201231"
    );
}

/// Conversions are rate-limited per client address (`limits.convert_requests_per_second`, `convert_burst`): beyond
/// the burst a 429 problem with `Retry-After`; resolution is not affected.
#[tokio::test]
async fn conversions_are_rate_limited_per_address() {
    let server = TestApp::start_with_env(
        &["--no-demo", "--resolver-root", ROOT],
        &[
            ("IDR_LIMITS__CONVERT_REQUESTS_PER_SECOND", "0.01"),
            ("IDR_LIMITS__CONVERT_BURST", "3"),
        ],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(get(&server, "(01)09520123456788").await.0, 200);
    }
    let r = client()
        .get(convert_url(&server, "(01)09520123456788"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = r.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("too many conversion requests from this address"),
        "{problem}"
    );
    assert_eq!(server.resolve("/01/09520123456788").await.status(), 404);
}

/// Behind a proxy the operator trusts (`server.trusted_proxies`) each client named by `X-Forwarded-For` has its own
/// conversion limit; without that setting the header is ignored (anyone can write it) and the peer is the client.
#[tokio::test]
async fn the_conversion_limit_follows_x_forwarded_for_only_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxies.toml");
    std::fs::write(&config, "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n").unwrap();
    let limits = [
        ("IDR_LIMITS__CONVERT_REQUESTS_PER_SECOND", "0.01"),
        ("IDR_LIMITS__CONVERT_BURST", "1"),
    ];
    let from = |server: &TestApp, forwarded: &'static str| {
        client()
            .get(convert_url(server, "(01)09520123456788"))
            .header("X-Forwarded-For", forwarded)
            .send()
    };
    let behind_proxy = TestApp::start_with_env(
        &[
            "--no-demo",
            "--resolver-root",
            ROOT,
            "--config",
            config.to_str().unwrap(),
        ],
        &limits,
    )
    .await;
    // two clients behind the proxy (the second named after a hop the proxy added itself)
    assert_eq!(
        from(&behind_proxy, "192.0.2.1").await.unwrap().status(),
        200
    );
    assert_eq!(
        from(&behind_proxy, "192.0.2.1").await.unwrap().status(),
        429
    );
    assert_eq!(
        from(&behind_proxy, "192.0.2.2, 127.0.0.9")
            .await
            .unwrap()
            .status(),
        200
    );

    let direct = TestApp::start_with_env(&["--no-demo", "--resolver-root", ROOT], &limits).await;
    assert_eq!(from(&direct, "192.0.2.1").await.unwrap().status(), 200);
    assert_eq!(from(&direct, "192.0.2.2").await.unwrap().status(), 429);
}

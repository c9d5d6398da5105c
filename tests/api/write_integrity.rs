//! Write-path integrity (issue 19), as clients use it, over real HTTP on both stores: a record read back and written
//! again changes nothing; the UNTP reference implementation's Pyx adapter, replayed with its exact request bodies,
//! leaves no duplicates and keeps its link IDs; the Pyx API keeps the native API's limits; Pyx semantics its users rely
//! on (`active: false`, `title` with `linkTitle`, the `/api/{version}/{namespace}/…` public URIs, the health check).

use crate::support::app::TestApp;
use crate::support::client::ADMIN_TOKEN;
use crate::support::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};

const API: &str = "/api/2.0.0";
const GTIN: &str = "01/09520123456788";

/// An empty resolver on each store: the embedded one, then Redis (the Redis server lives as long as the pair).
async fn each_store() -> Vec<(&'static str, TestApp, Option<RedisServer>)> {
    let redis = RedisServer::start();
    let on_redis = TestApp::start_with(&["--no-demo", "--redis-url", &redis.url()]).await;
    vec![
        ("embedded", TestApp::start().await, None),
        ("redis", on_redis, Some(redis)),
    ]
}

async fn call(server: &TestApp, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut request = TestApp::client()
        .request(method, server.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn dpp(href: &str) -> Value {
    json!({"itemDescription": "Battery", "links": [
        {"linkType": "untp:dpp", "href": href, "title": "DPP", "type": "application/vc+jwt", "hreflang": ["en"]},
        {"linkType": "gs1:pip", "href": "https://brand.example/p", "title": "Product", "type": "text/html"}]})
}

/// The record's content: what a write may not change when it writes back what it read.
fn content(record: &Value) -> Value {
    json!({"itemDescription": record["itemDescription"], "defaultLinkType": record["defaultLinkType"],
           "links": record["links"]})
}

fn hrefs(record: &Value) -> Vec<String> {
    record["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["href"].as_str().expect("href").to_string())
        .collect()
}

#[tokio::test]
async fn a_record_read_back_and_written_again_is_unchanged() {
    for (store, server, _redis) in each_store().await {
        let anchor = format!("/api/v1/anchors/{GTIN}");
        for v in ["v1", "v2", "v3"] {
            let (status, _) = call(
                &server,
                Method::PUT,
                &anchor,
                Some(&dpp(&format!("https://c.example/{v}"))),
            )
            .await;
            assert!(status == 200 || status == 201, "{store}: {status}");
        }
        let (_, first) = call(&server, Method::GET, &anchor, None).await;
        assert_eq!(
            hrefs(&first),
            [
                "https://c.example/v3",
                "https://c.example/v2",
                "https://c.example/v1",
                "https://brand.example/p"
            ],
            "{store}: {first}"
        );
        let mut read = first.clone();
        for round in 1..=5 {
            // The body a client sends back is exactly what it read, read-only fields and all.
            let (status, written) = call(&server, Method::PUT, &anchor, Some(&read)).await;
            assert_eq!(status, 200, "{store}, round {round}: {written}");
            assert_eq!(content(&written), content(&first), "{store}, round {round}");
            let (_, again) = call(&server, Method::GET, &anchor, None).await;
            assert_eq!(content(&again), content(&first), "{store}, round {round}");
            assert_eq!(again["version"], first["version"].as_u64().unwrap() + round);
            read = again;
        }
        let (_, history) = call(&server, Method::GET, &format!("{anchor}/history"), None).await;
        let dpp_versions = history["variants"][0]["versions"]
            .as_array()
            .expect("versions")
            .len();
        assert_eq!(dpp_versions, 3, "{store}: {history}");
        let mut other = read.clone();
        other["identifier"] = json!("01/09506000134369");
        let (status, problem) = call(&server, Method::PUT, &anchor, Some(&other)).await;
        assert_eq!(
            status, 422,
            "{store}: a body naming another identifier: {problem}"
        );
        assert_eq!(problem["errors"][0]["field"], "identifier");
    }
}

/// The adapter's `publishLinks` body (`pyx-idr.adapter.ts`), one response per link, its default flags off and
/// `fwqs: false` as the adapter's defaults send them.
fn publish(links: &[(&str, &str, &str, &str)]) -> Value {
    let responses: Vec<Value> = links
        .iter()
        .map(|(rel, href, title, media)| {
            json!({"linkType": rel, "ianaLanguage": "en", "context": "au", "mimeType": media, "linkTitle": title,
                   "targetUrl": href, "defaultLinkType": false, "defaultMimeType": false,
                   "defaultIanaLanguage": false, "defaultContext": false, "fwqs": false})
        })
        .collect();
    json!({"namespace": "gs1", "identificationKeyType": "01", "identificationKey": "09520123456788",
           "itemDescription": "", "qualifierPath": "/", "active": true, "responses": responses})
}

/// The record of the GTIN, as the management API shows it.
async fn stored(server: &TestApp) -> Value {
    call(
        server,
        Method::GET,
        &format!("/api/v1/anchors/{GTIN}"),
        None,
    )
    .await
    .1
}

fn link_id(answer: &Value, i: usize) -> String {
    answer["linkResponses"][i]["linkId"]
        .as_str()
        .unwrap_or_else(|| panic!("no linkId in {answer}"))
        .to_string()
}

/// Every `(href, rel)` of the record, and that no two are the same target of the same link type.
async fn no_duplicates(server: &TestApp, store: &str) -> Value {
    let record = stored(server).await;
    let links = record["links"].as_array().expect("links");
    for (i, a) in links.iter().enumerate() {
        for b in &links[..i] {
            let same =
                a["linkType"] == b["linkType"] && a["href"] == b["href"] && a["type"] == b["type"];
            assert!(!same, "{store}: {a} repeats {b} in {record}");
        }
    }
    let linkset: Value = TestApp::client()
        .get(server.url(&format!("/{GTIN}?linkType=linkset")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (rel, targets) in linkset["linkset"][0].as_object().expect("context object") {
        let Some(targets) = targets.as_array() else {
            continue;
        };
        let mut seen: Vec<(&Value, &Value)> =
            targets.iter().map(|t| (&t["href"], &t["type"])).collect();
        let count = seen.len();
        seen.dedup();
        seen.sort_by_key(|(h, t)| format!("{h}{t}"));
        seen.dedup();
        assert_eq!(
            seen.len(),
            count,
            "{store}: {rel} lists a target twice: {linkset}"
        );
    }
    record
}

#[tokio::test]
async fn the_reference_implementations_flow_leaves_no_duplicates_and_keeps_link_ids() {
    for (store, server, _redis) in each_store().await {
        let resolver = format!("{API}/resolver");
        let dpp = |v: &str| format!("https://cred.example/dpp-{v}.json");
        let (status, first) = call(
            &server,
            Method::POST,
            &resolver,
            Some(&publish(&[(
                "untp:dpp",
                &dpp("v1"),
                "Digital Product Passport",
                "application/json",
            )])),
        )
        .await;
        assert_eq!(status, 201, "{store}: {first}");
        let id = link_id(&first, 0);
        // Re-issued twice: the adapter publishes the new passport the same way.
        for v in ["v2", "v3"] {
            let (status, answer) = call(
                &server,
                Method::POST,
                &resolver,
                Some(&publish(&[(
                    "untp:dpp",
                    &dpp(v),
                    "Digital Product Passport",
                    "application/json",
                )])),
            )
            .await;
            assert_eq!(status, 201, "{store}: {answer}");
            assert_eq!(
                link_id(&answer, 0),
                id,
                "{store}: a re-issued passport keeps its link ID"
            );
        }
        // An unrelated link, then the same again: the record grows by one link only.
        let conformity = (
            "untp:dcc",
            "https://cred.example/dcc.json",
            "Conformity",
            "application/json",
        );
        for _ in 0..3 {
            let (status, answer) = call(
                &server,
                Method::POST,
                &resolver,
                Some(&publish(&[conformity])),
            )
            .await;
            assert_eq!(status, 201, "{store}: {answer}");
        }
        let record = no_duplicates(&server, store).await;
        assert_eq!(
            hrefs(&record),
            [dpp("v3"), dpp("v2"), dpp("v1"), conformity.1.to_string()],
            "{store}: {record}"
        );
        let (_, history) = call(
            &server,
            Method::GET,
            &format!("/api/v1/anchors/{GTIN}/history"),
            None,
        )
        .await;
        assert_eq!(
            history["variants"][0]["versions"].as_array().unwrap().len(),
            3,
            "{store}: {history}"
        );

        // updateLink: a title, then a media type, then a link type: one ID throughout.
        let link = format!("{API}/resolver/links/{id}");
        for update in [
            json!({"linkTitle": "DPP (re-issued)"}),
            json!({"mimeType": "application/vc+jwt"}),
            json!({"linkType": "untp:dte", "targetUrl": dpp("v4")}),
        ] {
            let (status, answer) = call(&server, Method::PUT, &link, Some(&update)).await;
            assert_eq!(status, 200, "{store}: {update} → {answer}");
            assert_eq!(answer["linkId"], id, "{store}: {update} keeps the ID");
            let (status, read) = call(&server, Method::GET, &link, None).await;
            assert_eq!(
                status, 200,
                "{store}: the adapter reads its link back after {update}"
            );
            for (field, value) in update.as_object().unwrap() {
                let shown = if field == "linkType" {
                    json!("untp:dte")
                } else {
                    value.clone()
                };
                assert_eq!(read[field], shown, "{store}: {field}");
            }
        }
        let record = no_duplicates(&server, store).await;
        assert_eq!(
            record["links"].as_array().unwrap().len(),
            5,
            "{store}: {record}"
        );
        // Every further update still works (it failed with 422 once duplicates had piled up).
        let (status, answer) = call(
            &server,
            Method::PUT,
            &link,
            Some(&json!({"targetUrl": dpp("v5")})),
        )
        .await;
        assert_eq!(status, 200, "{store}: {answer}");

        // deleteLink: the link and its earlier targets go; the other link stays; the ID is then unknown.
        let (status, _) = call(&server, Method::DELETE, &link, None).await;
        assert_eq!(status, 200, "{store}");
        let (status, _) = call(&server, Method::GET, &link, None).await;
        assert_eq!(status, 404, "{store}");
        let record = no_duplicates(&server, store).await;
        assert_eq!(hrefs(&record), [conformity.1], "{store}: {record}");
    }
}

#[tokio::test]
async fn the_pyx_api_keeps_the_native_limits_and_writes_nothing_it_refuses() {
    for (store, server, _redis) in each_store().await {
        let resolver = format!("{API}/resolver");
        let many = |from: usize| -> Vec<(String, String)> {
            (from..from + 400)
                .map(|i| (format!("https://cred.example/{i}"), format!("l{i}")))
                .collect()
        };
        let body = |links: &[(String, String)]| {
            let responses: Vec<Value> = links
                .iter()
                .map(|(href, context)| {
                    json!({"linkType": "untp:dpp", "ianaLanguage": "en", "context": context,
                    "mimeType": "application/json", "linkTitle": "DPP", "targetUrl": href})
                })
                .collect();
            json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
                   "itemDescription": "Battery", "qualifierPath": "/", "active": true, "responses": responses})
        };
        let (status, answer) = call(&server, Method::POST, &resolver, Some(&body(&many(0)))).await;
        assert_eq!(status, 201, "{store}: {answer}");
        let (status, problem) =
            call(&server, Method::POST, &resolver, Some(&body(&many(400)))).await;
        assert_eq!(status, 422, "{store}: 800 links: {problem}");
        assert_eq!(
            problem["errors"][0]["field"], "responses",
            "{store}: {problem}"
        );
        let record = stored(&server).await;
        assert_eq!(
            record["links"].as_array().unwrap().len(),
            400,
            "{store}: nothing was written"
        );

        let mut long = body(&many(0)[..1]);
        long["itemDescription"] = json!("x".repeat(900_000));
        let (status, problem) = call(&server, Method::POST, &resolver, Some(&long)).await;
        assert!(
            status == 413 || status == 422,
            "{store}: {status} {problem}"
        );
        let record = stored(&server).await;
        assert_eq!(record["itemDescription"], "Battery", "{store}");
        long["itemDescription"] = json!("two\nlines");
        let (status, problem) = call(&server, Method::POST, &resolver, Some(&long)).await;
        assert_eq!(status, 422, "{store}: {problem}");
        assert_eq!(
            problem["errors"][0]["field"], "itemDescription",
            "{store}: {problem}"
        );

        // The record the server wrote can be written back whole through the native API.
        let (status, answer) = call(
            &server,
            Method::PUT,
            &format!("/api/v1/anchors/{GTIN}"),
            Some(&record),
        )
        .await;
        assert_eq!(status, 200, "{store}: {answer}");
    }
}

#[tokio::test]
async fn pyx_semantics_its_users_rely_on() {
    for (store, server, _redis) in each_store().await {
        pyx_semantics_on(store, &server).await;
    }
}

async fn pyx_semantics_on(store: &str, server: &TestApp) {
    let resolver = format!("{API}/resolver");
    let scan = |path: String| async move {
        let r = TestApp::client()
            .get(server.url(&path))
            .send()
            .await
            .unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (r.status().as_u16(), location)
    };

    // The older EPCIS code sends title and linkTitle alike: accepted. Different ones are refused.
    let mut body = publish(&[(
        "untp:dpp",
        "https://cred.example/a.json",
        "DPP",
        "application/json",
    )]);
    body["responses"][0]["title"] = json!("DPP");
    let (status, answer) = call(server, Method::POST, &resolver, Some(&body)).await;
    assert_eq!(status, 201, "{store}: {answer}");
    body["responses"][0]["title"] = json!("Another");
    let (status, problem) = call(server, Method::POST, &resolver, Some(&body)).await;
    assert_eq!(status, 400, "{store}: {problem}");
    assert_eq!(problem["errors"][0]["field"], "responses[0].linkTitle");
    let id = link_id(&answer, 0);
    let update = json!({"title": "Passport", "linkTitle": "Passport"});
    let (status, updated) = call(
        server,
        Method::PUT,
        &format!("{API}/resolver/links/{id}"),
        Some(&update),
    )
    .await;
    assert_eq!(status, 200, "{store}: {updated}");
    assert_eq!(updated["linkTitle"], "Passport");

    // The public URIs the reference implementation builds resolve, anonymously, as the root forms do.
    for path in [
        format!("{API}/gs1/01/09520123456788"),
        format!("{API}/gs1/01/09520123456788/21/999"),
        "/api/4.0.0/gs1/01/09520123456788".to_string(),
        "/api/2.0.2/gs1/01/09520123456788".to_string(),
    ] {
        assert_eq!(
            scan(path.clone()).await,
            (307, Some("https://cred.example/a.json".into())),
            "{store}: {path}"
        );
    }
    let (status, _) = scan(format!("{API}/gs1/01/09520123456789")).await;
    assert_eq!(status, 400, "a wrong check digit is the resolver's 400");
    let (status, _) = call(
        server,
        Method::GET,
        &format!("{API}/no-such-endpoint"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let health = TestApp::client()
        .get(server.url(&format!("{API}/health-check")))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    // active: false at the top level publishes nothing, and takes down what was published.
    let mut inactive = publish(&[(
        "untp:dcc",
        "https://cred.example/dcc.json",
        "DCC",
        "application/json",
    )]);
    inactive["identificationKey"] = json!("09506000134369");
    inactive["active"] = json!(false);
    let (status, answer) = call(server, Method::POST, &resolver, Some(&inactive)).await;
    assert!((200..300).contains(&status), "{store}: {answer}");
    assert_eq!(
        scan("/01/09506000134369".into()).await.0,
        404,
        "{store}: nothing published"
    );
    inactive["active"] = json!(true);
    call(server, Method::POST, &resolver, Some(&inactive)).await;
    assert_eq!(scan("/01/09506000134369".into()).await.0, 307);
    inactive["active"] = json!(false);
    call(server, Method::POST, &resolver, Some(&inactive)).await;
    assert_eq!(
        scan("/01/09506000134369".into()).await.0,
        404,
        "{store}: unpublished"
    );
    assert_eq!(
        scan(format!("/{GTIN}")).await.0,
        307,
        "{store}: other identifiers stay"
    );
}

/// `gs1:dpp` and `untp:dpp` are one relation: as one variant, a body naming one target under both is a duplicate
/// (`422`, never a repeated linkset entry or a `300` between a target and itself), and a new target under the other
/// spelling replaces the old one, which stays as its predecessor.
#[tokio::test]
async fn spellings_of_one_relation_are_one_variant() {
    let server = TestApp::start().await;
    let anchor = format!("/api/v1/anchors/{GTIN}");
    let link = |t: &str, href: &str| json!({"linkType": t, "href": href, "title": "DPP", "type": "application/vc+jwt"});
    let twins = json!({"itemDescription": "Battery", "links": [
        link("gs1:dpp", "https://c.example/a"), link("untp:dpp", "https://c.example/a")]});
    let (status, problem) = call(&server, Method::PUT, &anchor, Some(&twins)).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "links[1]", "{problem}");
    let first =
        json!({"itemDescription": "Battery", "links": [link("untp:dpp", "https://c.example/a")]});
    let (status, _) = call(&server, Method::PUT, &anchor, Some(&first)).await;
    assert_eq!(status, 201);
    let respelled =
        json!({"itemDescription": "Battery", "links": [link("gs1:dpp", "https://c.example/b")]});
    let (status, written) = call(&server, Method::PUT, &anchor, Some(&respelled)).await;
    assert_eq!(status, 200, "{written}");
    let links = written["links"].as_array().expect("links");
    assert_eq!(links.len(), 2, "{written}");
    assert_eq!(links[0]["href"], "https://c.example/b");
    assert_eq!(links[0]["linkType"], "https://gs1.org/voc/dpp");
    assert_eq!(links[1]["href"], "https://c.example/a");
    assert_eq!(links[1]["rel"], json!(["predecessor-version"]), "{written}");
    // A scan for either spelling gets the new target.
    for t in ["untp:dpp", "gs1:dpp"] {
        let response = TestApp::client()
            .get(server.url(&format!("/{GTIN}?linkType={t}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 307, "{t}");
        assert_eq!(
            crate::support::client::location(&response),
            format!("https://c.example/b?linkType={t}")
        );
    }
}

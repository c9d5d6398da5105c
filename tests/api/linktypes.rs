//! Link types (issue 24, points 1 and 2) over real HTTP: one relation in many spellings (`dpp` ≡ `gs1:dpp` ≡
//! `untp:dpp` ≡ their URIs), the built-in IANA relations, the `[linktypes] emit` setting with linksets valid against
//! both schemas in each mode, and vocabularies issuers register at run time (`/api/v1/linktypes/{prefix}`): scopes,
//! reserved prefixes, `409` while in use, idempotent writes, and a vocabulary registered on one Redis replica used
//! for a write on another.

use crate::support::app::TestApp;
use crate::support::client::{Api, problem};
use crate::support::redis::RedisServer;
use crate::support::schema::{SchemaKind, assert_valid};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const GS1_DPP: &str = "https://gs1.org/voc/dpp";
const UNTP_DPP: &str = "https://test.uncefact.org/vocabulary/linkTypes/dpp";
const UNTP_DCC: &str = "https://test.uncefact.org/vocabulary/linkTypes/dcc";
const ACME_NS: &str = "https://id.acme.example/voc/";
const ACME_WARRANTY: &str = "https://id.acme.example/voc/warranty";

/// Every spelling of the passport relation a client may send.
const DPP_SPELLINGS: [&str; 7] = [
    "dpp",
    "DPP",
    "gs1:dpp",
    "untp:dpp",
    GS1_DPP,
    UNTP_DPP,
    "https://ref.gs1.org/voc/dpp",
];

fn anchor(links: Vec<Value>) -> Value {
    json!({"itemDescription": "Battery pack", "links": links})
}

fn link(link_type: &str, href: &str, lang: &str) -> Value {
    json!({"linkType": link_type, "href": href, "title": format!("{link_type} {lang}"), "hreflang": [lang]})
}

async fn redirect(server: &impl Api, path: &str) -> (u16, String) {
    let r = server.resolve(path).await;
    let status = r.status().as_u16();
    // Without the query the resolver forwards.
    let location = crate::support::client::location(&r);
    (
        status,
        location.split('?').next().unwrap_or_default().to_string(),
    )
}

/// A link registered in any spelling answers a query in any other, in both directions.
#[tokio::test]
async fn a_relation_is_found_in_every_spelling() {
    let server = TestApp::start().await;
    let gtins = ["09520123456788", "09506000134352", "09506000134369"];
    for (gtin, registered) in gtins.iter().zip(["untp:dpp", "gs1:dpp", "dpp"]) {
        let href = format!("https://cred.example/{gtin}/passport.jwt");
        // UNTP's text names the default `dpp` whatever spelling the links use.
        let body = json!({"itemDescription": "Battery pack", "defaultLinkType": "dpp",
                          "links": [link(registered, &href, "en")]});
        server.put_anchor(&format!("01/{gtin}"), body).await;
        assert_eq!(
            redirect(&server, &format!("/01/{gtin}")).await,
            (307, href.clone())
        );
        for asked in DPP_SPELLINGS {
            let query = format!("/01/{gtin}?linkType={}", urlencode(asked));
            assert_eq!(
                redirect(&server, &query).await,
                (307, href.clone()),
                "registered as {registered}, asked for {asked}"
            );
        }
    }
    // dcc and dfr: GS1 names neither, so the bare names are UNTP's.
    server
        .put_anchor(
            "01/09520123456795",
            anchor(vec![
                link("dcc", "https://cred.example/dcc.jwt", "en"),
                link("untp:dfr", "https://cred.example/dfr.jwt", "en"),
            ]),
        )
        .await;
    for (asked, href) in [
        ("untp:dcc", "https://cred.example/dcc.jwt"),
        (UNTP_DCC, "https://cred.example/dcc.jwt"),
        ("dfr", "https://cred.example/dfr.jwt"),
    ] {
        let query = format!("/01/09520123456795?linkType={}", urlencode(asked));
        assert_eq!(
            redirect(&server, &query).await,
            (307, href.to_string()),
            "{asked}"
        );
    }
    // The stored type is the one registered.
    let stored: Value = server
        .get_anchor("01/09520123456795")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["links"][0]["linkType"], UNTP_DCC, "{stored}");
    // Another relation is not found through dpp.
    let (status, _) = redirect(&server, "/01/09520123456795?linkType=dpp").await;
    assert_eq!(status, 404);
}

/// IANA's registered relations are link types: `describedby`, `license`, `service-doc`, in linksets by bare name.
#[tokio::test]
async fn iana_relations_are_link_types() {
    let server = TestApp::start().await;
    server
        .put_anchor(
            "01/09520123456788",
            anchor(vec![
                link("describedby", "https://brand.example/schema.json", "en"),
                link("iana:license", "https://brand.example/licence", "en"),
                link(
                    "http://www.iana.org/assignments/relation/service-doc",
                    "https://brand.example/api-docs",
                    "en",
                ),
                link("gs1:pip", "https://brand.example/pip", "en"),
            ]),
        )
        .await;
    for (asked, href) in [
        ("iana:describedby", "https://brand.example/schema.json"),
        (
            "http://www.iana.org/assignments/relation/describedby",
            "https://brand.example/schema.json",
        ),
        ("license", "https://brand.example/licence"),
        ("service-doc", "https://brand.example/api-docs"),
    ] {
        let query = format!("/01/09520123456788?linkType={}", urlencode(asked));
        assert_eq!(
            redirect(&server, &query).await,
            (307, href.to_string()),
            "{asked}"
        );
    }
    let linkset: Value = server
        .linkset("/01/09520123456788")
        .await
        .json()
        .await
        .unwrap();
    let object = &linkset["linkset"][0];
    for key in ["describedby", "license", "service-doc"] {
        assert!(object[key].is_array(), "{key} as a bare relation: {object}");
    }
    assert_valid(SchemaKind::Gs1Linkset, &linkset);
    assert_valid(SchemaKind::UntpLinkset, &linkset);
    let voc: Value = server
        .resolve("/voc/describedby")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(voc["curie"], "iana:describedby", "{voc}");
}

/// The three emit modes, each linkset valid against the GS1 and the UNTP schema.
#[tokio::test]
async fn linksets_spell_shared_relations_as_configured_and_stay_valid() {
    for (emit, dpp_keys) in [
        ("registered", vec![(UNTP_DPP, 1), (GS1_DPP, 1)]),
        ("gs1", vec![(GS1_DPP, 2)]),
        ("untp", vec![(UNTP_DPP, 2)]),
    ] {
        let server =
            TestApp::start_with_env(&["--no-demo"], &[("IDR_LINKTYPES__EMIT", emit)]).await;
        server
            .put_anchor(
                "01/09520123456788",
                json!({"itemDescription": "Battery pack", "defaultLinkType": "dpp", "links": [
                    link("untp:dpp", "https://cred.example/dpp-en.jwt", "en"),
                    link("gs1:dpp", "https://cred.example/dpp-de.jwt", "de"),
                    link("untp:dcc", "https://cred.example/dcc.jwt", "en"),
                    link("service-doc", "https://brand.example/docs", "en"),
                    link("gs1:pip", "https://brand.example/pip", "en"),
                ]}),
            )
            .await;
        let linkset: Value = server
            .linkset("/01/09520123456788")
            .await
            .json()
            .await
            .unwrap();
        assert_valid(SchemaKind::Gs1Linkset, &linkset);
        assert_valid(SchemaKind::UntpLinkset, &linkset);
        let object = linkset["linkset"][0].as_object().unwrap();
        for (key, count) in &dpp_keys {
            assert_eq!(
                object.get(*key).and_then(Value::as_array).map(Vec::len),
                Some(*count),
                "emit = {emit}: {key} in {object:?}"
            );
        }
        let dpp_like = object.keys().filter(|k| k.ends_with("/dpp")).count();
        assert_eq!(dpp_like, dpp_keys.len(), "emit = {emit}: {object:?}");
        assert!(object.contains_key(UNTP_DCC), "emit = {emit}");
        assert!(object.contains_key("service-doc"), "emit = {emit}");
        // The default link follows the relation, whichever spelling holds it.
        assert!(
            object.contains_key("https://gs1.org/voc/defaultLink"),
            "emit = {emit}"
        );
        let (status, location) = redirect(&server, "/01/09520123456788").await;
        assert_eq!(status, 307, "emit = {emit}");
        // `dpp` (GS1's) as the default finds the untp:dpp link registered first.
        assert_eq!(location, "https://cred.example/dpp-en.jwt", "emit = {emit}");
        assert_eq!(
            object["https://gs1.org/voc/defaultLink"][0]["href"], "https://cred.example/dpp-en.jwt",
            "emit = {emit}"
        );
    }
}

/// `/voc`, `/voc/{term}`, the description file and the Pyx listing show the equivalences.
#[tokio::test]
async fn vocabulary_views_show_the_equivalences() {
    let server = TestApp::start().await;
    let all: Value = server
        .resolve("/voc?show=linktypes")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["untp:dpp"]["sameAs"],
        json!(["gs1:dpp"]),
        "{}",
        all["untp:dpp"]
    );
    assert_eq!(all["gs1:dpp"]["sameAs"], json!(["untp:dpp"]));
    assert!(all["iana:service-doc"].is_object());
    let term: Value = server.resolve("/voc/untp:dpp").await.json().await.unwrap();
    assert_eq!(term["sameAs"], json!(["gs1:dpp"]));
    let description: Value = server
        .resolve("/.well-known/gs1resolver")
        .await
        .json()
        .await
        .unwrap();
    assert_valid(SchemaKind::Description, &description);
    assert_eq!(
        description["linkTypeEquivalences"],
        json!([["gs1:dpp", "untp:dpp"]])
    );
    let prefixes: Vec<&str> = description["supportedLinkType"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["prefix"].as_str())
        .collect();
    assert!(prefixes.contains(&"iana:"), "{prefixes:?}");
    let pyx: Value = server
        .resolve("/api/2.0.0/voc?show=linktypes")
        .await
        .json()
        .await
        .unwrap();
    let dpp = pyx
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["namespace"] == "untp" && t["type"] == "dpp")
        .expect("untp dpp listed");
    assert_eq!(dpp["sameAs"], json!(["gs1:dpp"]));
}

fn acme_vocabulary() -> Value {
    json!({
        "prefix": "acme",
        "namespace": ACME_NS,
        "terms": {
            "warranty": {"title": "Warranty", "description": "A link to the warranty terms."},
            "repairGuide": {"title": "Repair guide", "description": "A link to repair instructions."}
        }
    })
}

/// Keys: `acme` may register the `acme` vocabulary and write its products; `other` only its products.
fn scoped_config(dir: &std::path::Path) -> String {
    let path = dir.join("linktypes-test.toml");
    std::fs::write(
        &path,
        r#"
[[keys]]
name = "acme"
sha256 = "307c609f87da43c3d563428a4f7efdf9857f4871fd10465732c4ab11a985a08c"
scopes = ["01/0952012*", "linktypes/acme"]

[[keys]]
name = "other"
sha256 = "9c0ee26e4a1fbb028187486a7ea91f81f8ab81fcf467cba75107dbd3a64244d7"
scopes = ["01/0950600*"]
"#,
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

const ACME: &str = "acme-secret";
const OTHER: &str = "other-secret";

async fn send(
    server: &impl Api,
    token: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = server.scoped(token, method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn an_issuer_registers_its_own_link_types_and_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = scoped_config(dir.path());
    let server = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    let path = "/api/v1/linktypes/acme";
    // Unknown before.
    let refused = server
        .admin(Method::PUT, "/api/v1/anchors/01/09520123456788")
        .json(&anchor(vec![link(
            "acme:warranty",
            "https://acme.example/w",
            "en",
        )]))
        .send()
        .await
        .unwrap();
    problem(refused, 400).await;
    let created = send(&server, ACME, Method::PUT, path, Some(&acme_vocabulary())).await;
    assert_eq!(created.status(), 201);
    // Read back, written again: nothing changes.
    let read: Value = send(&server, ACME, Method::GET, path, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, acme_vocabulary());
    let again = send(&server, ACME, Method::PUT, path, Some(&read)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), read);
    // Listed wherever vocabularies are listed.
    let listing: Value = send(&server, OTHER, Method::GET, "/api/v1/linktypes", None)
        .await
        .json()
        .await
        .unwrap();
    let acme = listing
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["prefix"] == "acme")
        .expect("listed");
    assert_eq!(acme["source"], "registered");
    assert_eq!(acme["namespace"], ACME_NS);
    assert!(
        listing
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["prefix"] == "iana" && v["source"] == "built-in")
    );
    let voc: Value = server
        .resolve("/voc?show=linktypes")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(voc["acme:warranty"]["uri"], ACME_WARRANTY);
    let description: Value = server
        .resolve("/.well-known/gs1resolver")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        description["supportedLinkType"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["prefix"] == "acme:")
    );
    assert_valid(SchemaKind::Description, &description);
    // Usable in the next write, and resolvable in its spellings.
    let body = anchor(vec![link("acme:warranty", "https://acme.example/w", "en")]);
    let written = send(
        &server,
        ACME,
        Method::PUT,
        "/api/v1/anchors/01/09520123456788",
        Some(&body),
    )
    .await;
    assert!(
        written.status().is_success(),
        "{}",
        written.text().await.unwrap()
    );
    for asked in ["acme:warranty", ACME_WARRANTY] {
        let query = format!("/01/09520123456788?linkType={}", urlencode(asked));
        assert_eq!(
            redirect(&server, &query).await,
            (307, "https://acme.example/w".to_string())
        );
    }
    let linkset: Value = server
        .linkset("/01/09520123456788")
        .await
        .json()
        .await
        .unwrap();
    assert!(linkset["linkset"][0][ACME_WARRANTY].is_array(), "{linkset}");
    assert_valid(SchemaKind::Gs1Linkset, &linkset);
    assert_valid(SchemaKind::UntpLinkset, &linkset);
    // No bare name: `warranty` alone is no link type.
    let (status, _) = redirect(&server, "/01/09520123456788?linkType=warranty").await;
    assert_eq!(status, 404);

    // A term dropped while in use, and a delete while in use: 409 naming the anchor.
    let mut fewer = acme_vocabulary();
    fewer["terms"].as_object_mut().unwrap().remove("warranty");
    let conflict = problem(
        send(&server, ACME, Method::PUT, path, Some(&fewer)).await,
        409,
    )
    .await;
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .contains("01/09520123456788"),
        "{conflict}"
    );
    let conflict = problem(send(&server, ACME, Method::DELETE, path, None).await, 409).await;
    assert!(
        conflict["detail"]
            .as_str()
            .unwrap()
            .contains("01/09520123456788"),
        "{conflict}"
    );
    assert_eq!(conflict["errors"][0]["field"], "prefix");
    // Once no link uses it, it goes; the next write with it is refused.
    assert_eq!(
        server.delete_anchor("01/09520123456788").await.status(),
        204
    );
    assert_eq!(
        send(&server, ACME, Method::DELETE, path, None)
            .await
            .status(),
        204
    );
    problem(send(&server, ACME, Method::GET, path, None).await, 404).await;
    problem(send(&server, ACME, Method::DELETE, path, None).await, 404).await;
    let refused = send(
        &server,
        ACME,
        Method::PUT,
        "/api/v1/anchors/01/09520123456788",
        Some(&body),
    )
    .await;
    let refused = problem(refused, 400).await;
    assert_eq!(
        refused["errors"][0]["field"], "links[0].linkType",
        "{refused}"
    );
}

#[tokio::test]
async fn only_the_scopes_prefixes_and_never_the_reserved_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = scoped_config(dir.path());
    let server = TestApp::start_with(&["--no-demo", "--config", &config]).await;
    // `other` holds no linktypes/ scope; `acme` holds only linktypes/acme.
    let refused = problem(
        send(
            &server,
            OTHER,
            Method::PUT,
            "/api/v1/linktypes/acme",
            Some(&acme_vocabulary()),
        )
        .await,
        403,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("linktypes/acme"),
        "{refused}"
    );
    let mut beta = acme_vocabulary();
    beta["prefix"] = json!("beta");
    beta["namespace"] = json!("https://beta.example/voc/");
    problem(
        send(
            &server,
            ACME,
            Method::PUT,
            "/api/v1/linktypes/beta",
            Some(&beta),
        )
        .await,
        403,
    )
    .await;
    problem(
        send(
            &server,
            OTHER,
            Method::DELETE,
            "/api/v1/linktypes/acme",
            None,
        )
        .await,
        403,
    )
    .await;
    problem(
        send(&server, "wrong", Method::GET, "/api/v1/linktypes", None).await,
        401,
    )
    .await;
    // Reserved even for the admin.
    for reserved in ["gs1", "untp", "iana"] {
        let mut body = acme_vocabulary();
        body["prefix"] = json!(reserved);
        let path = format!("/api/v1/linktypes/{reserved}");
        let put = server
            .admin(Method::PUT, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(put, 409).await["errors"][0]["field"],
            "prefix",
            "{reserved}"
        );
        let delete = server.admin(Method::DELETE, &path).send().await.unwrap();
        problem(delete, 409).await;
        // Configured vocabularies are readable in the same form.
        let read: Value = server
            .admin(Method::GET, &path)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["prefix"], reserved);
    }
    // Bad input: a problem naming the field, nothing stored.
    for (body, field) in [
        (
            json!({"prefix": "acme", "namespace": "https://acme-corp.example/voc/", "terms": {"w": {"title": "W"}}}),
            "namespace",
        ),
        (
            json!({"prefix": "acme", "namespace": ACME_NS, "terms": {"w": {"title": ""}}}),
            "terms.w.title",
        ),
        (
            json!({"prefix": "acme", "namespace": ACME_NS, "terms": {"w": {"title": "W", "sameAs": ["gs1:pip"]}}}),
            "terms.w.sameAs",
        ),
        (
            json!({"prefix": "acme", "namespace": ACME_NS, "terms": {"w": {"title": "W"}}, "colour": 1}),
            "colour",
        ),
        (
            json!({"prefix": "acme", "namespace": ACME_NS, "terms": {"w": {"titel": "W"}}}),
            "terms.w",
        ),
        (
            json!({"prefix": "acme", "namespace": ACME_NS, "terms": {}}),
            "terms",
        ),
        (
            json!({"prefix": "beta", "namespace": ACME_NS, "terms": {"w": {"title": "W"}}}),
            "prefix",
        ),
        (
            json!({"prefix": "acme", "namespace": "https://gs1.org/voc/", "terms": {"w": {"title": "W"}}}),
            "namespace",
        ),
    ] {
        let answer = send(
            &server,
            ACME,
            Method::PUT,
            "/api/v1/linktypes/acme",
            Some(&body),
        )
        .await;
        let p = problem(answer, 400).await;
        let named = p["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(named.starts_with(field), "{body} → {p}");
    }
    problem(
        send(&server, ACME, Method::GET, "/api/v1/linktypes/acme", None).await,
        404,
    )
    .await;
}

/// A vocabulary registered through one replica is usable for a write through another at once (the feed), and is
/// still there for a replica started later (the store).
#[tokio::test]
async fn a_vocabulary_registered_on_one_redis_replica_is_used_on_another() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = TestApp::start_with(&["--no-demo", "--redis-url", &url]).await;
    let b = TestApp::start_with(&["--no-demo", "--redis-url", &url]).await;
    let registered = a
        .admin(Method::PUT, "/api/v1/linktypes/acme")
        .json(&acme_vocabulary())
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let body = anchor(vec![link(
        "acme:repairGuide",
        "https://acme.example/repair",
        "en",
    )]);
    let started = Instant::now();
    loop {
        let written = b
            .admin(Method::PUT, "/api/v1/anchors/01/09520123456788")
            .json(&body)
            .send()
            .await
            .unwrap();
        if written.status().is_success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "replica b never knew acme: {}",
            written.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "took {:?}",
        started.elapsed()
    );
    let (status, href) = redirect(&b, "/01/09520123456788?linkType=acme:repairGuide").await;
    assert_eq!(
        (status, href.as_str()),
        (307, "https://acme.example/repair")
    );
    let c = TestApp::start_with(&["--no-demo", "--redis-url", &url]).await;
    let listing: Value = c
        .admin(Method::GET, "/api/v1/linktypes/acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listing, acme_vocabulary());
    // In use through b: a delete through a is refused; once unused, deleted everywhere.
    problem(
        a.admin(Method::DELETE, "/api/v1/linktypes/acme")
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert!(
        b.delete_anchor("01/09520123456788")
            .await
            .status()
            .is_success()
    );
    assert_eq!(
        a.admin(Method::DELETE, "/api/v1/linktypes/acme")
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let started = Instant::now();
    loop {
        let voc: Value = b.resolve("/voc?show=linktypes").await.json().await.unwrap();
        if voc.get("acme:warranty").is_none() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "replica b still lists acme"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        redis.keys("idr:linktypes").is_empty()
            || redis.cli(&["HLEN", "idr:linktypes"]).trim() == "0"
    );
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A registered vocabulary is durable in the embedded store: `idr import` uses it, and after a restart it is loaded
/// before the first request.
#[tokio::test]
async fn a_registered_vocabulary_survives_a_restart() {
    let mut server = crate::support::server::Server::start().await;
    let put = server
        .admin(Method::PUT, "/api/v1/linktypes/acme")
        .json(&acme_vocabulary())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    server
        .put_anchor(
            "01/09520123456788",
            anchor(vec![link("acme:warranty", "https://acme.example/w", "en")]),
        )
        .await;
    server.stop();
    // The importer knows the registered vocabulary too.
    let file = server.data_dir().join("acme.ndjson");
    let line = json!({"identifier": "01/09506000134352", "itemDescription": "Charger",
        "links": [link("acme:repairGuide", "https://acme.example/repair", "en")]});
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let import = crate::support::server::command()
        .arg("import")
        .arg("--data-dir")
        .arg(server.data_dir())
        .arg(&file)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    server.resume().await;
    let (status, href) = redirect(&server, "/01/09506000134352?linkType=acme:repairGuide").await;
    assert_eq!(
        (status, href.as_str()),
        (307, "https://acme.example/repair")
    );
    let read: Value = server
        .admin(Method::GET, "/api/v1/linktypes/acme")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, acme_vocabulary());
    let (status, href) = redirect(&server, "/01/09520123456788?linkType=acme:warranty").await;
    assert_eq!((status, href.as_str()), (307, "https://acme.example/w"));
}

/// A reserved prefix in another case is the same prefix (`UNTP` once took over `untp:dpp` on every replica), a
/// prefix is lower-case, and a registered namespace stays off the hosts of the configured ones.
#[tokio::test]
async fn a_reserved_prefix_in_any_case_or_host_is_refused() {
    let server = TestApp::start_with(&["--no-demo"]).await;
    for prefix in ["GS1", "Untp", "IANA", "UNTP"] {
        let body = json!({"prefix": prefix, "namespace": "https://evil.example/voc/",
                          "terms": {"dpp": {"title": "x"}, "pip": {"title": "x"}, "describedby": {"title": "x"}}});
        let put = server
            .admin(Method::PUT, &format!("/api/v1/linktypes/{prefix}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(put, 409).await["errors"][0]["field"],
            "prefix",
            "{prefix}"
        );
    }
    let lowercase_only = server
        .admin(Method::PUT, "/api/v1/linktypes/Acme")
        .json(&json!({"prefix": "Acme", "namespace": ACME_NS, "terms": {"w": {"title": "W"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(lowercase_only, 400).await["errors"][0]["field"],
        "prefix"
    );
    for ns in [
        "https://gs1.org/acme/",
        "https://id.gs1.org/voc/",
        "https://test.uncefact.org/vocabulary/linkTypes/acme/",
        "https://vocabulary.uncefact.org/acme/",
        "https://www.iana.org/acme/",
    ] {
        let put = server
            .admin(Method::PUT, "/api/v1/linktypes/acme")
            .json(&json!({"prefix": "acme", "namespace": ns, "terms": {"w": {"title": "W"}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            problem(put, 400).await["errors"][0]["field"],
            "namespace",
            "{ns}"
        );
    }
    let listed: Value = server
        .admin(Method::GET, "/api/v1/linktypes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["source"] != "registered"),
        "{listed}"
    );
    // untp:dpp, gs1:pip and describedby still name what they named.
    let written = server
        .admin(Method::PUT, "/api/v1/anchors/01/09520123456788")
        .json(&anchor(vec![
            link("UNTP:dpp", "https://example.com/dpp", "en"),
            link("Gs1:pip", "https://example.com/pip", "en"),
            link("IANA:describedby", "https://example.com/about", "en"),
        ]))
        .send()
        .await
        .unwrap();
    assert!(
        written.status().is_success(),
        "{}",
        written.text().await.unwrap()
    );
    let stored: Value = server
        .admin(Method::GET, "/api/v1/anchors/01/09520123456788")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = stored["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["linkType"].as_str().unwrap())
        .collect();
    for uri in [
        UNTP_DPP,
        "https://gs1.org/voc/pip",
        "http://www.iana.org/assignments/relation/describedby",
    ] {
        assert!(types.contains(&uri), "{uri} in {types:?}");
    }
}

/// Registered vocabularies are bounded: terms per vocabulary (413), how many (409), texts (400), each naming the
/// field; a spelling that collides is a 409 naming it.
#[tokio::test]
async fn registered_vocabularies_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_link_type_terms = 2\nmax_link_type_vocabularies = 1\nmax_text_bytes = 40\n",
    )
    .unwrap();
    let server = TestApp::start_with(&["--no-demo", "--config", config.to_str().unwrap()]).await;
    let put = |body: Value| {
        let prefix = body["prefix"].as_str().unwrap().to_string();
        server
            .admin(Method::PUT, &format!("/api/v1/linktypes/{prefix}"))
            .json(&body)
            .send()
    };
    let too_many_terms = json!({"prefix": "acme", "namespace": ACME_NS,
        "terms": {"a": {"title": "A"}, "b": {"title": "B"}, "c": {"title": "C"}}});
    let p = problem(put(too_many_terms).await.unwrap(), 413).await;
    assert_eq!(p["errors"][0]["field"], "terms", "{p}");
    for (term, field) in [
        (json!({"title": "x".repeat(41)}), "terms.w.title"),
        (
            json!({"title": "W", "description": "a\u{1b}[31mred"}),
            "terms.w.description",
        ),
    ] {
        let body = json!({"prefix": "acme", "namespace": ACME_NS, "terms": {"w": term}});
        let p = problem(put(body).await.unwrap(), 400).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let collides = json!({"prefix": "acme", "namespace": ACME_NS,
        "terms": {"manual": {"title": "M"}, "warranty": {"title": "W", "aliases": ["MANUAL"]}}});
    let p = problem(put(collides).await.unwrap(), 409).await;
    assert_eq!(p["errors"][0]["field"], "terms.warranty", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("acme:manual"), "{p}");
    assert_eq!(put(acme_vocabulary()).await.unwrap().status(), 201);
    let beta = json!({"prefix": "beta", "namespace": "https://beta.example/voc/", "terms": {"w": {"title": "W"}}});
    let p = problem(put(beta).await.unwrap(), 409).await;
    assert_eq!(p["errors"][0]["field"], "prefix", "{p}");
    // Replacing the one registered vocabulary is still allowed.
    let mut replaced = acme_vocabulary();
    replaced["terms"]["warranty"]["title"] = json!("Warranty terms");
    assert_eq!(put(replaced).await.unwrap().status(), 200);
}

//! Writes by parties proven by Digital Identity Anchors (issue 24 point 4), over real sockets: a local HTTPS did:web
//! host (`support/did_host.rs`) serves a register's DID document (the trust anchor), the DID documents of a brand and
//! of a recycler, and the register's BitstringStatusList, all with keys generated here. The register signs DIA
//! credentials (VC 2.0 enveloped as vc+jwt); the parties sign their requests (`Authorization: DID …`) and carry their
//! DIA in the `DIA` header. Expected behaviour comes from the issue and the brief: a first write with no prior listing,
//! refusals naming what failed (401 for the credential, 403 for what it does not cover), revocation and expiry, and
//! a contributor's additive, attributed links.

use crate::support::app::TestApp;
use crate::support::client::{Api, client, location, problem};
use crate::support::did_host::{DidHost, Reply};
use crate::support::schema::{SchemaKind, assert_valid};
use crate::support::server::ADMIN_TOKEN;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use ssi::JWK;
use ssi::jwk::Algorithm;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ROOT: &str = "https://resolver.example";
const GTIN: &str = "01/09520123456788";
/// In the register's namespace `01/0952012*`, but not the brand's.
const GTIN_2: &str = "01/09520123456795";
/// Outside the register's namespace.
const OUTSIDE: &str = "01/09506000134369";
const RECYCLER_ROLE: &str = "https://register.example/scope/recycler";
const DTE: &str = "https://test.uncefact.org/vocabulary/linkTypes/dte";
const PIP: &str = "https://brand.example/products/09520123456788";
const EVENT: &str = "https://recycler.example/events/42";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn jti() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", unix_now(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// RFC 3339, `seconds` from now.
fn at(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A compact ES256 JWS of `payload`.
fn jws(key: &JWK, kid: &str, typ: &str, payload: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": kid, "typ": typ});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature =
        ssi::claims::jws::sign_bytes(Algorithm::ES256, input.as_bytes(), key).expect("sign");
    format!("{input}.{}", b64(&signature))
}

/// A DID with a P-256 key, published on the host at `/{name}/did.json`: under `authentication` for a party, under
/// `assertionMethod` for the register.
struct Did {
    did: String,
    key: JWK,
}

impl Did {
    fn publish(host: &DidHost, name: &str, relationship: &str) -> Did {
        let did = host.did(&[name]);
        let key = JWK::generate_p256();
        let document = json!({
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "verificationMethod": [{"id": format!("{did}#k"), "type": "JsonWebKey2020",
                                    "controller": did, "publicKeyJwk": key.to_public()}],
            relationship: [format!("{did}#k")]
        });
        host.serve(&DidHost::document_path(&[name]), Reply::json(&document));
        Did { did, key }
    }

    fn kid(&self) -> String {
        format!("{}#k", self.did)
    }

    /// `Authorization` for one request.
    fn authorization(&self, method: &Method, path: &str, body: &[u8]) -> String {
        let now = unix_now();
        let claims = json!({"htm": method.as_str(), "htu": format!("{ROOT}{path}"),
            "bh": b64(&Sha256::digest(body)), "iat": now, "exp": now + 120, "jti": jti()});
        format!("DID {}", jws(&self.key, &self.kid(), "JWT", &claims))
    }
}

/// What a DIA says, changed per test.
struct Claims<'a> {
    subject: &'a str,
    registered_id: &'a str,
    scopes: &'a [&'a str],
    valid_until: String,
    status_index: Option<u64>,
}

impl<'a> Claims<'a> {
    fn of(subject: &'a str, registered_id: &'a str) -> Claims<'a> {
        Claims {
            subject,
            registered_id,
            scopes: &[],
            valid_until: at(3600),
            status_index: None,
        }
    }
}

struct World {
    host: DidHost,
    register: Did,
    brand: Did,
    recycler: Did,
}

impl World {
    async fn start() -> World {
        let host = DidHost::start().await;
        let register = Did::publish(&host, "register", "assertionMethod");
        let brand = Did::publish(&host, "brand", "authentication");
        let recycler = Did::publish(&host, "recycler", "authentication");
        World {
            host,
            register,
            brand,
            recycler,
        }
    }

    fn status_url(&self) -> String {
        format!("https://localhost:{}/status/1", self.host.port)
    }

    /// A DIA the register signs (with `signer` instead, when given).
    fn dia(&self, claims: &Claims<'_>, issuer: Option<&Did>) -> String {
        let issuer = issuer.unwrap_or(&self.register);
        let mut credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://test.uncefact.org/vocabulary/untp/dia/0.2.1/"],
            "type": ["VerifiableCredential", "DigitalIdentityAnchor"],
            "issuer": {"type": ["CredentialIssuer"], "id": issuer.did, "name": "Register"},
            "validFrom": at(-60),
            "validUntil": claims.valid_until,
            "credentialSubject": {
                "type": ["RegisteredIdentity", "Identifier"],
                "id": claims.subject, "name": "A registered party",
                "registeredId": claims.registered_id,
                "idScheme": {"type": ["IdentifierScheme"], "id": "https://register.example", "name": "Register"},
                "registerType": "Business",
                "registrationScopeList": claims.scopes
            }
        });
        if let Some(index) = claims.status_index {
            credential["credentialStatus"] = json!({"id": format!("{}#{index}", self.status_url()),
                "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                "statusListIndex": index.to_string(), "statusListCredential": self.status_url()});
        }
        jws(&issuer.key, &issuer.kid(), "vc+jwt", &credential)
    }

    /// Serves the register's status list with `revoked` set.
    fn publish_status(&self, revoked: &[u64]) {
        let mut bits = vec![0u8; 16 * 1024];
        for &i in revoked {
            bits[(i / 8) as usize] |= 0x80 >> (i % 8);
        }
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&bits).unwrap();
        let encoded = format!("u{}", b64(&gzip.finish().unwrap()));
        let list = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": self.status_url(),
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.register.did, "validFrom": at(-60),
            "credentialSubject": {"id": format!("{}#list", self.status_url()),
                "type": "BitstringStatusList", "statusPurpose": "revocation", "encodedList": encoded}
        });
        let body = jws(&self.register.key, &self.register.kid(), "vc+jwt", &list);
        let reply = Reply {
            body: body.into_bytes(),
            headers: vec![("Content-Type".into(), "application/vc+jwt".into())],
            ..Reply::status(200)
        };
        self.host.serve("/status/1", reply);
    }

    /// A server trusting the host's CA, with the register as a trust anchor for `01/0952012*` whose recyclers may
    /// add `untp:dte` links to any GTIN.
    async fn server(&self, extra: &str) -> TestApp {
        let config = self.config(extra);
        TestApp::start_with(&["--no-demo", "--resolver-root", ROOT, "--config", &config]).await
    }

    /// The configuration file of `server`.
    fn config(&self, extra: &str) -> String {
        let path = self.host.dir().join(format!("idr-{}.toml", jti()));
        let toml = format!(
            "{extra}\n[outbound]\nallow = [\"localhost\"]\n[did_web]\nextra_ca_file = {:?}\n\n\
             [[trust_anchors]]\ndid = {:?}\nnamespaces = [\"01/0952012*\"]\n\
             [[trust_anchors.contributors]]\nscope = {RECYCLER_ROLE:?}\nlink_types = [\"untp:dte\"]\nnamespaces = [\"01/*\"]\n",
            self.host.ca_file().display().to_string(),
            self.register.did
        );
        std::fs::write(&path, toml).expect("write config");
        path.display().to_string()
    }
}

async fn send(
    server: &impl Api,
    who: &Did,
    dia: Option<&str>,
    method: Method,
    path: &str,
    body: &[u8],
) -> Response {
    let mut request = client()
        .request(method.clone(), server.url(path))
        .header("authorization", who.authorization(&method, path, body));
    if let Some(dia) = dia {
        request = request.header("DIA", dia);
    }
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    request.send().await.expect("request")
}

fn anchor(identifier: &str) -> String {
    format!("/api/v1/anchors/{identifier}")
}

fn product(description: &str) -> Vec<u8> {
    json!({"itemDescription": description, "defaultLinkType": "gs1:pip",
           "links": [{"linkType": "gs1:pip", "href": PIP, "title": "Product information", "type": "text/html"}]})
    .to_string()
    .into_bytes()
}

/// A problem with `status` whose detail contains `needle`.
async fn refused(r: Response, status: u16, needle: &str) -> Value {
    let body = problem(r, status).await;
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains(needle), "expected {needle:?} in: {detail}");
    body
}

async fn admin_get(server: &TestApp, identifier: &str) -> Option<Value> {
    let r = client()
        .get(server.url(&anchor(identifier)))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET");
    match r.status().as_u16() {
        404 => None,
        200 => Some(r.json().await.expect("JSON")),
        other => panic!("GET {identifier}: {other}"),
    }
}

#[tokio::test]
async fn a_dia_holder_writes_its_identifier_and_nothing_else() {
    let world = World::start().await;
    let server = world.server("").await;
    let dia = world.dia(&Claims::of(&world.brand.did, GTIN), None);
    let path = anchor(GTIN);

    // Without the DIA the brand is nobody here.
    let r = send(
        &server,
        &world.brand,
        None,
        Method::PUT,
        &path,
        &product("Pack"),
    )
    .await;
    refused(r, 401, "not a DID writer").await;
    assert!(admin_get(&server, GTIN).await.is_none());

    // The first write, with no prior listing.
    let r = send(
        &server,
        &world.brand,
        Some(&dia),
        Method::PUT,
        &path,
        &product("Pack"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let scan = client()
        .get(server.url(&format!("/{GTIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status(), 307);
    assert_eq!(scan.headers()["location"], PIP);
    // Qualifier levels beneath it are its own too.
    let lot = format!("{GTIN}/10/LOT1");
    let r = send(
        &server,
        &world.brand,
        Some(&dia),
        Method::PUT,
        &anchor(&lot),
        &product("Lot 1"),
    )
    .await;
    assert_eq!(r.status(), 201);

    // Another identifier of the same register's namespace: 403 naming what the DIA does cover.
    let r = send(
        &server,
        &world.brand,
        Some(&dia),
        Method::PUT,
        &anchor(GTIN_2),
        &product("X"),
    )
    .await;
    let body = refused(r, 403, &format!("owner of {GTIN}, not of {GTIN_2}")).await;
    assert_eq!(body["scope"], GTIN_2);
    assert!(admin_get(&server, GTIN_2).await.is_none());

    // A DIA for an identifier outside the register's namespaces grants nothing.
    let outside = world.dia(&Claims::of(&world.brand.did, OUTSIDE), None);
    let r = send(
        &server,
        &world.brand,
        Some(&outside),
        Method::PUT,
        &anchor(OUTSIDE),
        &product("X"),
    )
    .await;
    refused(r, 403, "is not authoritative for 01/09506000134369").await;
    assert!(admin_get(&server, OUTSIDE).await.is_none());

    // Issued by someone who is not a trust anchor (the brand vouching for itself).
    let self_made = world.dia(&Claims::of(&world.brand.did, GTIN), Some(&world.brand));
    let r = send(
        &server,
        &world.brand,
        Some(&self_made),
        Method::PUT,
        &path,
        &product("Y"),
    )
    .await;
    refused(r, 401, "is not a trust anchor").await;

    // The recycler presenting the brand's DIA.
    let r = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &path,
        &product("Y"),
    )
    .await;
    refused(r, 401, "a DIA works only for the DID it names").await;

    // A DIA whose signature is not the register's: signed with another key under the register's key id.
    let forger = Did {
        did: world.register.did.clone(),
        key: JWK::generate_p256(),
    };
    let forged = world.dia(&Claims::of(&world.brand.did, GTIN), Some(&forger));
    let r = send(
        &server,
        &world.brand,
        Some(&forged),
        Method::PUT,
        &path,
        &product("Y"),
    )
    .await;
    refused(r, 401, "signature does not verify").await;

    // Expired (validUntil an hour ago).
    let expired = world.dia(
        &Claims {
            valid_until: at(-3600),
            ..Claims::of(&world.brand.did, GTIN)
        },
        None,
    );
    let r = send(
        &server,
        &world.brand,
        Some(&expired),
        Method::PUT,
        &path,
        &product("Y"),
    )
    .await;
    refused(r, 401, "expired").await;
    // A malformed DIA is named, not a 500.
    let r = send(
        &server,
        &world.brand,
        Some("not.a.dia"),
        Method::PUT,
        &path,
        &product("Y"),
    )
    .await;
    refused(r, 401, "DIA header").await;

    // None of the refusals wrote anything.
    assert_eq!(
        admin_get(&server, GTIN).await.unwrap()["itemDescription"],
        "Pack"
    );
}

#[tokio::test]
async fn a_revoked_dia_stops_working_within_the_cache_bound() {
    let world = World::start().await;
    world.publish_status(&[7]);
    let server = world.server("[dia]\nstatus_list_cache_seconds = 1\n").await;
    let dia = |index| {
        world.dia(
            &Claims {
                status_index: Some(index),
                ..Claims::of(&world.brand.did, GTIN)
            },
            None,
        )
    };
    let path = anchor(GTIN);
    let r = send(
        &server,
        &world.brand,
        Some(&dia(7)),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    refused(r, 401, "revoked: bit 7 of the status list").await;
    assert!(admin_get(&server, GTIN).await.is_none());

    let good = dia(3);
    let r = send(
        &server,
        &world.brand,
        Some(&good),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = send(
        &server,
        &world.brand,
        Some(&good),
        Method::PUT,
        &path,
        &product("P2"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(world.host.hits("/status/1"), 1, "the list is cached");

    // The register revokes entry 3: refused once the cached list is older than the bound.
    world.publish_status(&[3, 7]);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = send(
        &server,
        &world.brand,
        Some(&good),
        Method::PUT,
        &path,
        &product("P3"),
    )
    .await;
    refused(r, 401, "revoked: bit 3").await;
    assert_eq!(
        admin_get(&server, GTIN).await.unwrap()["itemDescription"],
        "P2"
    );

    // A list that cannot be fetched refuses the request rather than ignoring the DIA's status: the register's host
    // failing is a 503, not the caller's credential.
    world.host.serve("/status/1", Reply::status(500));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let r = send(
        &server,
        &world.brand,
        Some(&good),
        Method::PUT,
        &path,
        &product("P3"),
    )
    .await;
    assert!(r.headers().contains_key("retry-after"));
    refused(r, 503, "cannot be fetched now (HTTP 500)").await;
    assert_eq!(
        admin_get(&server, GTIN).await.unwrap()["itemDescription"],
        "P2"
    );
}

#[tokio::test]
async fn a_contributor_adds_attributed_links_and_nothing_more() {
    let world = World::start().await;
    let server = world.server("").await;
    let brand_dia = world.dia(&Claims::of(&world.brand.did, GTIN), None);
    let recycler_dia = world.dia(
        &Claims {
            scopes: &[RECYCLER_ROLE],
            ..Claims::of(&world.recycler.did, "RC-0042")
        },
        None,
    );
    let path = anchor(GTIN);
    let r = send(
        &server,
        &world.brand,
        Some(&brand_dia),
        Method::PUT,
        &path,
        &product("Pack"),
    )
    .await;
    assert_eq!(r.status(), 201);

    // The recycler reads the record, adds its event link and writes it back.
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::GET,
        &path,
        b"",
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut record: Value = r.json().await.unwrap();
    let read_back = record.clone();
    record["links"]
        .as_array_mut()
        .unwrap()
        .push(json!({"linkType": "untp:dte",
        "href": EVENT, "title": "Recycling event", "type": "application/vc+jwt"}));
    let body = record.to_string().into_bytes();
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::PUT,
        &path,
        &body,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let stored = admin_get(&server, GTIN).await.unwrap();
    let links = stored["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["href"], PIP);
    assert!(
        links[0].get("contributor").is_none(),
        "the owner's link is the owner's"
    );
    assert_eq!(links[1]["linkType"], DTE);
    assert_eq!(links[1]["contributor"], world.recycler.did.as_str());

    // Read back and written again by either party: the same record.
    for (who, dia) in [(&world.recycler, &recycler_dia), (&world.brand, &brand_dia)] {
        let body = json!({"itemDescription": stored["itemDescription"], "defaultLinkType": stored["defaultLinkType"],
                          "links": stored["links"]})
        .to_string()
        .into_bytes();
        let r = send(&server, who, Some(dia), Method::PUT, &path, &body).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        assert_eq!(
            admin_get(&server, GTIN).await.unwrap()["links"],
            stored["links"]
        );
    }

    // Scans see the link, and the linkset says who added it, valid against both schemas.
    let scan = client()
        .get(server.url(&format!("/{GTIN}?linkType=untp:dte")))
        .send()
        .await
        .unwrap();
    // The scan's query string is forwarded (GS1's default).
    assert_eq!(
        scan.headers()["location"],
        format!("{EVENT}?linkType=untp:dte").as_str()
    );
    let linkset: Value = client()
        .get(server.url(&format!("/{GTIN}?linkType=linkset")))
        .header("accept", "application/linkset+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_valid(SchemaKind::UntpLinkset, &linkset);
    assert_valid(SchemaKind::Gs1Linkset, &linkset);
    let objects = linkset["linkset"].as_array().unwrap();
    assert_eq!(objects[0][DTE][0]["href"], EVENT);
    let attribution = objects
        .iter()
        .find(|o| o["anchor"] == EVENT)
        .expect("an attribution of the event link");
    assert_eq!(
        attribution["author"][0]["title"],
        world.recycler.did.as_str()
    );
    assert_eq!(
        attribution["author"][0]["href"],
        format!("https://localhost:{}/recycler/did.json", world.host.port)
    );
    assert!(
        objects.iter().filter(|o| o["anchor"] == PIP).count() == 0,
        "owner links are not attributed"
    );

    // The page for people says it in words.
    let page = client()
        .get(server.url(&format!("/{GTIN}?linkType=linkset")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!(
            "{}, a lifecycle contributor proven by a Digital Identity Anchor, not the owner",
            world.recycler.did
        )),
        "{page}"
    );
    assert!(page.contains("added by a contributor"));

    // The audit trail names the recycler.
    let audit: Value = client()
        .get(server.url(&format!("/api/v1/audit?identifier={GTIN}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let who: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["who"].as_str().unwrap())
        .collect();
    assert!(who.contains(&world.recycler.did.as_str()), "{who:?}");

    // It cannot replace the owner's link, drop it, add other link types, rename the item or delete the anchor.
    let mut replace = read_back.clone();
    replace["links"][0]["href"] = json!("https://recycler.example/not-the-brand");
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::PUT,
        &path,
        replace.to_string().as_bytes(),
    )
    .await;
    refused(r, 403, "cannot replace or delete links it did not add").await;
    let drop = json!({"itemDescription": "Pack", "links": [{"linkType": "untp:dte", "href": EVENT, "title": "Recycling event"}]});
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::PUT,
        &path,
        drop.to_string().as_bytes(),
    )
    .await;
    refused(r, 403, "cannot replace or delete links it did not add").await;
    let mut other_type = stored.clone();
    other_type
        .as_object_mut()
        .unwrap()
        .retain(|k, _| ["itemDescription", "defaultLinkType", "links"].contains(&k.as_str()));
    other_type["links"].as_array_mut().unwrap().push(json!({"linkType": "gs1:pip", "href": "https://recycler.example/pip", "title": "Mine", "hreflang": ["fr"]}));
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::PUT,
        &path,
        other_type.to_string().as_bytes(),
    )
    .await;
    refused(r, 403, "may not be added by this contributor").await;
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::DELETE,
        &path,
        b"",
    )
    .await;
    refused(r, 403, "lifecycle contributor").await;
    // Nor create an anchor where the owner has none.
    let lot = format!("{GTIN}/10/LOT9");
    let r = send(
        &server,
        &world.recycler,
        Some(&recycler_dia),
        Method::PUT,
        &anchor(&lot),
        drop.to_string().as_bytes(),
    )
    .await;
    refused(r, 403, "there is none here").await;
    assert!(admin_get(&server, &lot).await.is_none());
    assert_eq!(
        admin_get(&server, GTIN).await.unwrap()["links"],
        stored["links"]
    );

    // The owner's own write that leaves the contributed link out keeps it; asking to replace contributions drops it.
    let r = send(
        &server,
        &world.brand,
        Some(&brand_dia),
        Method::PUT,
        &path,
        &product("Pack v2"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let kept = admin_get(&server, GTIN).await.unwrap();
    assert_eq!(kept["links"][1]["contributor"], world.recycler.did.as_str());
    // An owner cannot attribute a link to someone else.
    let forged = json!({"itemDescription": "Pack", "links": [{"linkType": "untp:dte", "href": "https://brand.example/e",
                        "title": "E", "contributor": world.recycler.did}]});
    let r = send(
        &server,
        &world.brand,
        Some(&brand_dia),
        Method::PUT,
        &path,
        forged.to_string().as_bytes(),
    )
    .await;
    let body = problem(r, 422).await;
    assert_eq!(body["errors"][0]["field"], "links[0].contributor");
    let replace_path = format!("{path}?contributions=replace");
    let r = send(
        &server,
        &world.brand,
        Some(&brand_dia),
        Method::PUT,
        &replace_path,
        &product("Pack v3"),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let links = admin_get(&server, GTIN).await.unwrap()["links"].clone();
    assert!(
        links.as_array().unwrap().iter().all(|l| l["href"] != EVENT),
        "{links}"
    );
}

#[tokio::test]
async fn a_contributor_role_is_bounded_by_its_namespaces() {
    let world = World::start().await;
    // Recyclers of this register may add links to GTINs of 0952012 only.
    let path = world.host.dir().join("narrow.toml");
    std::fs::write(
        &path,
        format!(
            "[outbound]\nallow = [\"localhost\"]\n[did_web]\nextra_ca_file = {:?}\n[[trust_anchors]]\ndid = {:?}\n\
             [[trust_anchors.contributors]]\nscope = {RECYCLER_ROLE:?}\nlink_types = [\"untp:dte\"]\nnamespaces = [\"01/0952012*\"]\n",
            world.host.ca_file().display().to_string(),
            world.register.did
        ),
    )
    .unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--config",
        &path.display().to_string(),
    ])
    .await;
    for identifier in [GTIN, OUTSIDE] {
        let r = client()
            .put(server.url(&anchor(identifier)))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(product("Owned"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let dia = world.dia(
        &Claims {
            scopes: &[RECYCLER_ROLE],
            ..Claims::of(&world.recycler.did, "RC-0042")
        },
        None,
    );
    let body = with_event(&server, GTIN).await;
    let r = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &anchor(GTIN),
        &body,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let body = with_event(&server, OUTSIDE).await;
    let r = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &anchor(OUTSIDE),
        &body,
    )
    .await;
    refused(r, 403, "do not cover 01/09506000134369").await;
    // The DIA names no identifier here (no identifier template, and RC-0042 is none): said so.
    let detail = problem(
        send(
            &server,
            &world.recycler,
            Some(&dia),
            Method::PUT,
            &anchor(OUTSIDE),
            &body,
        )
        .await,
        403,
    )
    .await["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("RC-0042"), "{detail}");
    assert!(
        admin_get(&server, OUTSIDE).await.unwrap()["links"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
}

/// The record at `identifier` as read, plus a recycling event link.
async fn with_event(server: &TestApp, identifier: &str) -> Vec<u8> {
    let mut record = admin_get(server, identifier).await.unwrap();
    record["links"]
        .as_array_mut()
        .unwrap()
        .push(json!({"linkType": "untp:dte", "href": EVENT, "title": "E"}));
    record.to_string().into_bytes()
}

/// Who chooses the addresses idr fetches: nothing a DIA names is fetched before the DIA verified. A DIA from a
/// register that is not a trust anchor, or a forged one pointing at a status list, costs no fetch of the signer's
/// document or of the list; only a verified DIA leads to the signer's document.
#[tokio::test]
async fn nothing_a_dia_names_is_fetched_before_it_verifies() {
    let world = World::start().await;
    world.publish_status(&[]);
    let server = world.server("").await;
    let path = anchor(GTIN);
    let claims = Claims {
        status_index: Some(1),
        ..Claims::of(&world.recycler.did, GTIN)
    };
    // Issued by the brand, which is no trust anchor.
    let self_made = world.dia(&claims, Some(&world.brand));
    let r = send(
        &server,
        &world.recycler,
        Some(&self_made),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    refused(r, 401, "is not a trust anchor").await;
    // Signed by someone holding another key than the register's.
    let forger = Did {
        did: world.register.did.clone(),
        key: JWK::generate_p256(),
    };
    let forged = world.dia(&claims, Some(&forger));
    let r = send(
        &server,
        &world.recycler,
        Some(&forged),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    refused(r, 401, "signature does not verify").await;
    assert_eq!(world.host.hits("/status/1"), 0);
    assert_eq!(world.host.hits(&DidHost::document_path(&["recycler"])), 0);
    assert_eq!(world.host.hits(&DidHost::document_path(&["brand"])), 0);

    // A copy of the genuine (public) DIA on a request someone else signed: the DIA verifies, so the signer's
    // document is fetched, but the request's signature does not, and the status list is never fetched.
    let genuine = world.dia(&claims, None);
    let impostor = Did {
        did: world.recycler.did.clone(),
        key: JWK::generate_p256(),
    };
    for _ in 0..3 {
        let r = send(
            &server,
            &impostor,
            Some(&genuine),
            Method::PUT,
            &path,
            &product("P"),
        )
        .await;
        assert_eq!(r.status(), 401, "{}", r.text().await.unwrap());
    }
    assert_eq!(
        world.host.hits("/status/1"),
        0,
        "no list for a forged request"
    );
    assert_eq!(world.host.hits(&DidHost::document_path(&["recycler"])), 1);

    let r = send(
        &server,
        &world.recycler,
        Some(&genuine),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(world.host.hits("/status/1"), 1);
    assert_eq!(world.host.hits(&DidHost::document_path(&["recycler"])), 1);
}

/// A status list that cannot be fetched is the register's host failing, not the caller: 503 with Retry-After. The
/// failure is remembered and concurrent checks share one fetch, so DIAs naming the list do not make idr fetch it again
/// and again.
#[tokio::test]
async fn a_status_list_that_cannot_be_fetched_is_fetched_once_and_answers_503() {
    let world = World::start().await;
    world.host.serve(
        "/status/1",
        Reply::status(500).delayed(Duration::from_millis(300)),
    );
    let server = world.server("").await;
    let path = anchor(GTIN);
    let claims = Claims {
        status_index: Some(1),
        ..Claims::of(&world.recycler.did, GTIN)
    };
    // Warm the DID documents with a DIA naming no list, so the requests below contend for the list only.
    let plain = world.dia(&Claims::of(&world.recycler.did, GTIN), None);
    let warm = send(
        &server,
        &world.recycler,
        Some(&plain),
        Method::GET,
        &path,
        b"",
    )
    .await;
    assert_eq!(warm.status(), 404, "{}", warm.text().await.unwrap());
    let dia = world.dia(&claims, None);
    let body = product("P");
    let answers = futures_util::future::join_all((0..4).map(|_| {
        send(
            &server,
            &world.recycler,
            Some(&dia),
            Method::PUT,
            &path,
            &body,
        )
    }))
    .await;
    assert_eq!(
        world.host.hits("/status/1"),
        1,
        "one fetch for concurrent checks"
    );
    for r in answers {
        assert_eq!(r.status(), 503);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=5).contains(&retry), "Retry-After {retry}");
        let p = problem(r, 503).await;
        assert!(p["detail"].as_str().unwrap().contains("status list"), "{p}");
    }
    let again = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &path,
        &product("P"),
    )
    .await;
    assert_eq!(again.status(), 503);
    assert_eq!(world.host.hits("/status/1"), 1, "the failure is remembered");
    assert!(admin_get(&server, GTIN).await.is_none(), "nothing written");
}

/// `idr check-config` (and start-up) refuses trust anchor settings it cannot honour, naming the field: a contributor
/// link type no vocabulary knows, a namespace that can match no identifier.
#[test]
fn trust_anchor_settings_are_checked_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let check = |toml: &str| {
        let config = dir.path().join("idr.toml");
        std::fs::write(&config, toml).unwrap();
        let out = crate::support::server::command()
            .args(["check-config", "--config", config.to_str().unwrap()])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("RUST_LOG", "error")
            .output()
            .expect("run idr");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let anchor =
        "[[trust_anchors]]\ndid = \"did:web:register.example\"\nnamespaces = [\"01/0952012*\"]\n";
    let role = |link_type: &str| {
        format!(
            "[[trust_anchors.contributors]]\nscope = \"https://r.example/recycler\"\nlink_types = [\"{link_type}\"]\n"
        )
    };
    let (ok, err) = check(&format!("{anchor}{}", role("untp:dte")));
    assert!(ok, "{err}");
    let (ok, err) = check(&format!("{anchor}{}", role("untp:recycling")));
    assert!(!ok);
    assert!(
        err.contains("trust_anchors[0].contributors[0].link_types[0]"),
        "{err}"
    );
    let (ok, err) = check(
        "[[trust_anchors]]\ndid = \"did:web:register.example\"\nnamespaces = [\"gtin/0952*\"]\n",
    );
    assert!(!ok);
    assert!(err.contains("trust_anchors[0].namespaces[0]"), "{err}");
}

/// Writes with a DIA are counted under the trust anchor, not under each party's DID: the `credential` label stays
/// bounded however many parties a register vouches for. (A subprocess: the metrics recorder is process-wide.)
#[tokio::test]
async fn dia_writes_are_counted_under_their_trust_anchor() {
    let world = World::start().await;
    let config = world.config("");
    let server = crate::support::server::Server::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--config",
        &config,
    ])
    .await;
    let dia = world.dia(&Claims::of(&world.brand.did, GTIN), None);
    let r = send(
        &server,
        &world.brand,
        Some(&dia),
        Method::PUT,
        &anchor(GTIN),
        &product("P"),
    )
    .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = format!(
        "idr_writes_total{{credential=\"dia:{}\",operation=\"put\"}} 1",
        world.register.did
    );
    assert!(text.contains(&line), "{line} not in:\n{text}");
    assert!(!text.contains(&format!("credential=\"{}\"", world.brand.did)));
}

/// A contributor cannot take over the owner's scans by putting its link first: idr stores it after the owner's, a
/// plain scan never goes to it, and for its link type the owner's link wins the tie.
#[tokio::test]
async fn a_contributor_cannot_take_over_the_owners_scans() {
    let world = World::start().await;
    let server = world.server("").await;
    let owners = "https://brand.example/events/1";
    let body = json!({"itemDescription": "Pack", "defaultLinkType": "untp:dte",
        "links": [{"linkType": "untp:dte", "href": owners, "title": "Made"}]});
    let r = client()
        .put(server.url(&anchor(GTIN)))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dia = world.dia(
        &Claims {
            scopes: &[RECYCLER_ROLE],
            ..Claims::of(&world.recycler.did, "RC-0042")
        },
        None,
    );
    let mut record = admin_get(&server, GTIN).await.unwrap();
    record["links"].as_array_mut().unwrap().insert(
        0,
        json!({"linkType": "untp:dte", "href": EVENT, "title": "Recycled", "type": "application/vc+jwt"}),
    );
    let body = record.to_string().into_bytes();
    let r = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &anchor(GTIN),
        &body,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored = admin_get(&server, GTIN).await.unwrap();
    assert_eq!(stored["links"][0]["href"], owners, "{stored}");
    assert_eq!(stored["links"][1]["href"], EVENT, "{stored}");
    for query in ["", "?linkType=untp:dte", "?linkType=gs1:defaultLink"] {
        let r = client()
            .get(server.url(&format!("/{GTIN}{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 307, "{query}");
        assert!(
            location(&r).starts_with(owners),
            "{query}: {}",
            location(&r)
        );
    }
}

/// A role naming the bare `dpp` allows the relation in every spelling (`untp:dpp`, `gs1:dpp`).
#[tokio::test]
async fn a_role_naming_dpp_allows_every_spelling_of_it() {
    let world = World::start().await;
    let role = "https://register.example/scope/passports";
    let path = world.host.dir().join("passports.toml");
    std::fs::write(
        &path,
        format!(
            "[outbound]\nallow = [\"localhost\"]\n[did_web]\nextra_ca_file = {:?}\n[[trust_anchors]]\ndid = {:?}\n\
             [[trust_anchors.contributors]]\nscope = {role:?}\nlink_types = [\"dpp\"]\nnamespaces = [\"01/*\"]\n",
            world.host.ca_file().display().to_string(),
            world.register.did
        ),
    )
    .unwrap();
    let server = TestApp::start_with(&[
        "--no-demo",
        "--resolver-root",
        ROOT,
        "--config",
        &path.display().to_string(),
    ])
    .await;
    let r = client()
        .put(server.url(&anchor(GTIN)))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(product("Pack"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dia = world.dia(
        &Claims {
            scopes: &[role],
            ..Claims::of(&world.recycler.did, "RC-0042")
        },
        None,
    );
    for (n, spelling) in ["untp:dpp", "gs1:dpp"].into_iter().enumerate() {
        let mut record = admin_get(&server, GTIN).await.unwrap();
        let language = ["en", "de"][n];
        record["links"].as_array_mut().unwrap().push(json!({"linkType": spelling,
            "href": format!("https://recycler.example/dpp/{n}"), "title": "Passport", "hreflang": [language]}));
        let body = record.to_string().into_bytes();
        let r = send(
            &server,
            &world.recycler,
            Some(&dia),
            Method::PUT,
            &anchor(GTIN),
            &body,
        )
        .await;
        assert_eq!(r.status(), 200, "{spelling}: {}", r.text().await.unwrap());
    }
    let stored = admin_get(&server, GTIN).await.unwrap();
    assert_eq!(stored["links"].as_array().unwrap().len(), 3, "{stored}");
}

/// The Pyx-compatible API keeps the contributor rules: a registration replacing the variant of a contributed link
/// keeps it (as the native API's owner writes do), and an update of a contributed link is refused (`403`).
#[tokio::test]
async fn the_pyx_api_keeps_contributed_links_attributed() {
    let world = World::start().await;
    let server = world.server("").await;
    let r = client()
        .put(server.url(&anchor(GTIN)))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(product("Pack"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let dia = world.dia(
        &Claims {
            scopes: &[RECYCLER_ROLE],
            ..Claims::of(&world.recycler.did, "RC-0042")
        },
        None,
    );
    let body = with_event(&server, GTIN).await;
    let r = send(
        &server,
        &world.recycler,
        Some(&dia),
        Method::PUT,
        &anchor(GTIN),
        &body,
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // The contributed link's Pyx ID: the identifier, then the digest of its variant.
    let digest = Sha256::digest([DTE, "", "", "", ""].join("\u{1f}"));
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let id = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(GTIN));
    let r = client()
        .put(server.url(&format!("/api/2.0.0/resolver/links/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(json!({"targetUrl": "https://brand.example/mine"}).to_string())
        .send()
        .await
        .unwrap();
    refused(r, 403, "lifecycle contributor").await;
    let before = admin_get(&server, GTIN).await.unwrap();
    assert_eq!(before["links"][1]["href"], EVENT, "{before}");
    // The owner registers its own dte link of the same variant through the Pyx API.
    let register = json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
        "itemDescription": "Pack", "qualifierPath": "/", "active": true, "responses": [
            {"linkType": "untp:dte", "linkTitle": "Made", "targetUrl": "https://brand.example/events/1",
             "mimeType": "", "ianaLanguage": "", "context": "", "active": true, "fwqs": true,
             "defaultLinkType": false, "defaultIanaLanguage": false, "defaultContext": false, "defaultMimeType": false}]});
    let r = client()
        .post(server.url("/api/2.0.0/resolver"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(register.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let stored = admin_get(&server, GTIN).await.unwrap();
    let contributed: Vec<&Value> = stored["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["href"] == EVENT)
        .collect();
    assert_eq!(contributed.len(), 1, "{stored}");
    assert_eq!(contributed[0]["contributor"], world.recycler.did.as_str());
}

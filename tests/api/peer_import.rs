//! `idr import --format gs1-ce|pyx`: peer resolvers' data imported whole or not at all, resolvable afterwards, and
//! round-tripping through `idr export` / `idr import`.

use crate::support::server::{ADMIN_TOKEN, Server};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

fn idr(args: &[&str], data_dir: &Path) -> Output {
    crate::support::server::command()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "error")
        .output()
        .expect("run idr")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A GS1 Resolver CE v3 export: a GIAI, a GTIN with two languages, and a lot under it.
fn ce_documents() -> Value {
    json!([
        {"anchor": "/8004/0950600013430000001", "itemDescription": "Dal Giardino Fixed Asset", "defaultLinktype": "gs1:pip",
         "links": [{"linktype": "gs1:pip", "href": "https://dalgiardino.example/asset.html", "title": "Asset",
                    "type": "text/html", "hreflang": ["en"], "context": ["sales"]}]},
        {"anchor": "/01/09506000134376", "itemDescription": "Dal Giardino Tomato Soup", "defaultLinktype": "gs1:pip",
         "links": [{"linktype": "gs1:pip", "href": "https://dalgiardino.example/soup-en", "title": "Soup", "type": "text/html", "hreflang": ["en"]},
                   {"linktype": "gs1:pip", "href": "https://dalgiardino.example/soup-it", "title": "Zuppa", "type": "text/html", "hreflang": ["it"]}]},
        {"anchor": "/01/09506000134376", "qualifiers": [{"10": "LOT01"}], "itemDescription": "Lot 1",
         "links": [{"linktype": "gs1:recallStatus", "href": "https://dalgiardino.example/recall/LOT01", "title": "Recall", "type": "text/html"}]}
    ])
}

#[tokio::test]
async fn a_gs1_ce_export_resolves_and_round_trips() {
    let mut server = Server::start().await;
    server.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "ce.json", &ce_documents().to_string());
    let out = idr(&["import", "--format", "gs1-ce", &file], server.data_dir());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 3 anchors"));

    server.resume().await;
    let client = Server::client();
    let r = client
        .get(server.url("/01/09506000134376/10/LOT01?linkType=gs1:recallStatus"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://dalgiardino.example/recall/LOT01?linkType=gs1:recallStatus"
    );
    let r = client
        .get(server.url("/01/09506000134376/10/LOT01"))
        .header("accept-language", "it")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://dalgiardino.example/soup-it",
        "walks up to the GTIN's default"
    );
    let r = client
        .get(server.url("/8004/0950600013430000001"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://dalgiardino.example/asset.html"
    );
    server.stop();

    // export → import into an empty store → export: the same anchors.
    let first = idr(&["export"], server.data_dir());
    assert!(first.status.success());
    let native = write(
        dir.path(),
        "native.ndjson",
        &String::from_utf8_lossy(&first.stdout),
    );
    let copy = tempfile::tempdir().unwrap();
    assert!(idr(&["import", &native], copy.path()).status.success());
    let second = idr(&["export"], copy.path());
    let lines = |o: &Output| {
        let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(lines(&first).len(), 3);
    assert_eq!(lines(&first), lines(&second));
}

#[tokio::test]
async fn pyx_registrations_import_under_their_namespaces() {
    let mut server = Server::start().await;
    server.stop();
    let bodies = [
        json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
               "itemDescription": "Battery pack", "qualifierPath": "/", "active": true,
               "responses": [{"linkType": "untp:dpp", "targetUrl": "https://cred.example/dpp.jwt", "title": "DPP",
                              "mimeType": "application/vc+jwt", "ianaLanguage": "en", "defaultLinkType": true,
                              "defaultIanaLanguage": true, "fwqs": false, "active": true}]}),
        json!({"namespace": "gs1", "identificationKeyType": "01", "identificationKey": "09520123456788",
               "qualifierPath": "/21/12345",
               "responses": [{"linkType": "untp:dte", "targetUrl": "https://cred.example/dte.enc", "title": "Events",
                              "mimeType": "application/vc+jwt", "encryptionMethod": "AES-128",
                              "accessRole": ["untp:accessRole#Anonymous"]}]}),
        json!({"namespace": "abr", "identificationKeyType": "abn", "identificationKey": "51824753556",
               "description": "ATO", "responses": [{"linkType": "untp:dia", "targetUrl": "https://abr.example/dia.jwt", "title": "DIA"}]}),
    ];
    let ndjson: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pyx.ndjson", &ndjson.join("\n"));
    let out = idr(&["import", "--format", "pyx", &file], server.data_dir());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    server.resume().await;
    let client = Server::client();
    let r = client
        .get(server.url("/01/09520123456788/21/12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://cred.example/dpp.jwt",
        "the default type (dpp) is inherited from the GTIN"
    );
    let r = client
        .get(server.url("/01/09520123456788/21/12345?linkType=untp:dte"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["location"],
        "https://cred.example/dte.enc?linkType=untp:dte"
    );
    let r = client
        .get(server.url("/abn/51824753556"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "https://abr.example/dia.jwt");
    let r = client
        .get(server.url("/api/v1/anchors/01/09520123456788/21/12345"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let record: Value = r.json().await.unwrap();
    assert_eq!(record["links"][0]["encryptionMethod"], "AES-128");
    assert_eq!(
        record["itemDescription"], "01/09520123456788/21/12345",
        "a Pyx body without a description is described by its identifier"
    );
}

#[tokio::test]
async fn one_bad_entry_and_nothing_is_imported() {
    let mut server = Server::start().await;
    server.stop();
    let mut docs = ce_documents();
    docs.as_array_mut().unwrap().push(
        json!({"anchor": "/01/09506000134377", "itemDescription": "bad check digit", "links": []}),
    );
    docs.as_array_mut().unwrap().push(
        json!({"anchor": "/01/09506000134352", "itemDescription": "bad link",
        "links": [{"linktype": "gs1:noSuchType", "href": "https://a.example", "title": "x"}]}),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "ce.json", &docs.to_string());
    let out = idr(&["import", "--format", "gs1-ce", &file], server.data_dir());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("entry 4: rejected: anchor:"), "{stderr}");
    assert!(
        stderr.contains("entry 5: rejected: links[0].linkType"),
        "{stderr}"
    );
    let export = idr(&["export"], server.data_dir());
    assert_eq!(
        String::from_utf8_lossy(&export.stdout).trim(),
        "",
        "nothing was written"
    );
}

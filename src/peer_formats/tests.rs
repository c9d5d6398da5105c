use super::*;
use serde_json::json;

fn parser() -> Parser {
    Parser::embedded().unwrap()
}

const CE: &str = r#"[
 {"anchor": "/8004/0950600013430000001", "itemDescription": "Dal Giardino Fixed Asset", "defaultLinktype": "gs1:pip",
  "links": [{"linktype": "gs1:pip", "href": "https://dalgiardino.example/asset.html", "title": "Asset", "type": "text/html",
             "hreflang": ["en"], "context": ["sales", "marketing"]}]},
 {"anchor": "/01/09506000134376", "itemDescription": "Lot", "qualifiers": [{"10": "LOT/1"}],
  "links": [{"linktype": "gs1:certificationInfo", "href": "https://a.example/c", "title": "Certs", "hreflang": ["und"]}]},
 {"anchor": "/01/09506000134376", "itemDescription": "Serials", "qualifiers": [{"21": "{serialnumber}"}], "links": []},
 {"anchor": "/01/09506000134377", "itemDescription": "Bad check digit", "links": []}
]"#;

#[test]
fn gs1_ce_documents_become_native_lines() {
    let out = convert(Format::Gs1Ce, CE, &parser());
    assert_eq!(out.lines.len(), 3);
    let (at, giai) = &out.lines[0];
    assert_eq!(at, "entry 1");
    assert_eq!(
        giai,
        &json!({"identifier": "8004/0950600013430000001", "itemDescription": "Dal Giardino Fixed Asset",
                "defaultLinkType": "gs1:pip",
                "links": [{"linkType": "gs1:pip", "href": "https://dalgiardino.example/asset.html", "title": "Asset",
                           "type": "text/html", "hreflang": ["en"], "context": ["sales", "marketing"]}]})
    );
    // Qualifier values are path-encoded; `und` is dropped.
    assert_eq!(out.lines[1].1["identifier"], "01/09506000134376/10/LOT%2F1");
    assert!(out.lines[1].1["links"][0].get("hreflang").is_none());
    // A template qualifier makes a pattern over the key.
    assert_eq!(out.lines[2].1["pattern"], "01/09506000134376");
    let errors: Vec<&str> = out.errors.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(errors, ["entry 4"]);
    assert!(
        out.errors[0].1.starts_with("anchor:"),
        "{:?}",
        out.errors[0]
    );
}

#[test]
fn gs1_ce_template_entries_become_patterns() {
    let ce = r#"[
 {"anchor": "/01/09506000134376", "itemDescription": "Serials", "qualifiers": [{"21": "{serialnumber}"}],
  "links": [{"linktype": "gs1:pip", "href": "https://s.example/p/{serialnumber}?gtin=09506000134376", "title": "Serial"}]},
 {"anchor": "/8004/0950600013", "itemDescription": "Assets",
  "links": [{"linktype": "gs1:pip", "href": "https://assets.example/giai/{giai}", "title": "Asset"}]},
 {"anchor": "/8004/0950600013", "itemDescription": "No template", "links": []},
 {"anchor": "/01/09506000134376", "qualifiers": [{"10": "L1"}, {"21": "{serial}"}], "itemDescription": "x", "links": []}
]"#;
    let out = convert(Format::Gs1Ce, ce, &parser());
    assert_eq!(
        out.lines[0].1,
        json!({"pattern": "01/09506000134376", "itemDescription": "Serials",
               "links": [{"linkType": "gs1:pip", "href": "https://s.example/p/{21}?gtin=09506000134376", "title": "Serial"}]})
    );
    assert_eq!(out.lines[1].1["pattern"], "8004/0950600013");
    assert_eq!(
        out.lines[1].1["links"][0]["href"],
        "https://assets.example/giai/{identifier}"
    );
    let errors: Vec<&str> = out.errors.iter().map(|(at, _)| at.as_str()).collect();
    // Entry 3 is a GIAI (a whole one) without templates: an anchor, valid. Entry 4 fixes a lot before a template.
    assert_eq!(out.lines.len(), 3, "{:?}", out.errors);
    assert_eq!(out.lines[2].1["identifier"], "8004/0950600013");
    assert_eq!(errors, ["entry 4"]);
}

#[test]
fn pyx_bodies_merge_per_identifier_with_default_variants_first() {
    let ndjson = [
        json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "09520123456788",
               "itemDescription": "Battery", "qualifierPath": "/10/ABC", "active": true,
               "responses": [
                 {"linkType": "untp:dpp", "targetUrl": "https://c.example/dpp-de.jwt", "title": "DPP de",
                  "mimeType": "application/vc+jwt", "ianaLanguage": "de", "context": "au", "active": true},
                 {"linkType": "untp:dpp", "targetUrl": "https://c.example/dpp-en.jwt", "linkTitle": "DPP en",
                  "mimeType": "application/vc+jwt", "hreflang": ["en"], "defaultLinkType": true,
                  "defaultIanaLanguage": true, "defaultMimeType": true, "fwqs": false}]}),
        json!({"namespace": "gs1", "identificationKeyType": "01", "identificationKey": "09520123456788",
               "qualifierPath": "/10/ABC",
               "responses": [
                 {"linkType": "untp:dpp", "targetUrl": "https://c.example/dpp-en.jwt", "linkTitle": "DPP en",
                  "mimeType": "application/vc+jwt", "hreflang": ["en"]},
                 {"linkType": "gs1:pip", "targetUrl": "https://b.example/p", "title": "Page", "active": false},
                 {"linkType": "untp:dte", "targetUrl": "https://c.example/events", "title": "Events",
                  "method": "POST", "rel": ["edit"], "accessRole": ["untp:accessRole#Owner"], "encryptionMethod": "none"}]}),
        json!({"namespace": "abr", "identificationKeyType": "abn", "identificationKey": "51824753556", "qualifierPath": "/",
               "description": "ATO", "responses": [{"linkType": "untp:dia", "targetUrl": "https://abr.example/dia", "title": "DIA"}]}),
        json!({"namespace": "nowhere", "identificationKeyType": "x", "identificationKey": "1", "responses": []}),
        json!({"namespace": "gs1", "identificationKeyType": "gtin", "identificationKey": "1", "responses": [{"linkType": 5}]}),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let out = convert(Format::Pyx, &ndjson, &parser());
    assert_eq!(out.lines.len(), 2);
    let (at, batch) = &out.lines[0];
    assert_eq!(at, "line 1");
    assert_eq!(batch["identifier"], "01/09520123456788/10/ABC");
    assert_eq!(batch["itemDescription"], "Battery");
    assert_eq!(batch["defaultLinkType"], "untp:dpp");
    let hrefs: Vec<&str> = batch["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        hrefs,
        [
            "https://c.example/dpp-en.jwt",
            "https://c.example/dpp-de.jwt",
            "https://c.example/events"
        ],
        "flagged variant first, the repeated one once, the inactive one dropped"
    );
    assert_eq!(
        batch["links"][0]["fwqs"],
        json!(false),
        "the first registration of a variant is kept, fwqs and all"
    );
    assert!(
        batch["links"][1].get("fwqs").is_none(),
        "forwarding is the default"
    );
    assert_eq!(batch["links"][1]["hreflang"], json!(["de"]));
    assert_eq!(batch["links"][1]["context"], json!(["au"]));
    assert_eq!(batch["links"][2]["method"], json!(["POST"]));
    assert!(
        batch["links"][2].get("encryptionMethod").is_none(),
        "\"none\" is no encryption"
    );
    assert_eq!(out.lines[1].1["identifier"], "abr/abn/51824753556");
    assert_eq!(out.lines[1].1["itemDescription"], "ATO");
    let errors: Vec<&str> = out.errors.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(errors, ["line 4", "line 5"]);
    assert!(
        out.errors[1].1.contains("responses[0].linkType"),
        "{:?}",
        out.errors[1]
    );
}

#[test]
fn files_are_arrays_single_objects_or_ndjson() {
    let one = r#"{"anchor": "/01/09520123456788", "itemDescription": "x", "links": []}"#;
    assert_eq!(convert(Format::Gs1Ce, one, &parser()).lines.len(), 1);
    let broken = "{\"anchor\": \"/01/09520123456788\"}\n{not json";
    let out = convert(Format::Gs1Ce, broken, &parser());
    assert_eq!(out.errors[0].0, "line 2");
    assert!(out.lines.is_empty());
}

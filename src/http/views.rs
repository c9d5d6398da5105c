//! The JSON shapes the management APIs answer with, as the OpenAPI document describes them, with the examples it
//! shows; and the media types several handlers send.

use crate::registry::Link;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

pub const LINKSET_JSON: &str = "application/linkset+json";

/// One link type, as the Pyx API lists them.
#[derive(Serialize, ToSchema)]
pub struct LinkTypeEntry {
    /// The vocabulary prefix, e.g. `untp`.
    pub namespace: String,
    #[serde(rename = "type")]
    pub term: String,
    pub title: String,
    pub description: Option<String>,
    /// Link types that are the same relation (e.g. `gs1:dpp` for `untp:dpp`), as CURIEs; absent when none.
    #[serde(rename = "sameAs", skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<String>,
}

/// One vocabulary, as `GET /api/v1/linktypes` lists them.
#[derive(Serialize, ToSchema)]
pub struct VocabularySummary {
    pub prefix: String,
    pub namespace: String,
    /// `configuration` (a file), `built-in` (IANA) or `registered` (through this API).
    pub source: String,
    /// The terms, e.g. `warranty` for `acme:warranty`.
    pub terms: Vec<String>,
    /// Where the whole vocabulary is read.
    pub href: String,
}

/// A vocabulary as `PUT /api/v1/linktypes/{prefix}` takes it.
pub fn vocabulary_example() -> Value {
    json!({
        "prefix": "acme",
        "namespace": "https://id.acme.example/voc/",
        "terms": {
            "warranty": {"title": "Warranty", "description": "A link to the warranty terms of the product."},
            "repairGuide": {"title": "Repair guide", "description": "A link to instructions for repairing the product."}
        }
    })
}

/// A short confirmation.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: String,
    pub namespace: Option<String>,
}

/// An anchor as stored: what `GET`/`PUT /api/v1/anchors/{identifier}` answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnchorView {
    /// Canonical identifier path.
    pub identifier: String,
    /// Public URI of this level.
    pub anchor: String,
    /// Increases with every write; the `ETag`.
    pub version: u64,
    pub item_description: String,
    /// Canonical URI of the default link type (inherited from an ancestor when absent).
    pub default_link_type: Option<String>,
    pub links: Vec<Link>,
    /// Accepted, but worth the issuer's attention (e.g. a language tag the linkset schemas reject).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A pattern registration as stored: what `GET`/`PUT /api/v1/patterns/{key}/{prefix}` answer. Written back as it
/// is, it changes nothing.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatternView {
    /// The pattern: its key and prefix (`8004/9520123`).
    pub identifier: String,
    /// Increases with every write; the `ETag`.
    pub version: u64,
    pub item_description: String,
    pub default_link_type: Option<String>,
    /// hrefs are RFC 6570 level-1 templates.
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// RFC 9457 problem details.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every offending field, when the problem is in the body.
    pub errors: Option<Vec<crate::registration::FieldError>>,
    /// On 401 and 403: the canonical identifier a credential's scopes must cover (when the path names one).
    pub scope: Option<String>,
}

/// Each variant's targets, newest first.
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    pub identifier: String,
    pub anchor: String,
    pub version: u64,
    pub variants: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PyxRegistered {
    pub resolver_uri: String,
    pub identifier: String,
    pub link_responses: Vec<PyxLink>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PyxLink {
    pub link_id: String,
    pub link_type: String,
    pub target_url: String,
    pub link_title: String,
    pub mime_type: Option<String>,
    pub iana_language: Option<String>,
    pub context: Option<String>,
    pub resolver_uri: String,
    /// Whether a redirect to this target carries the scan's query string (`fwqs: false` in the registration: no).
    pub fwqs: bool,
}

pub fn anchor_example() -> Value {
    json!({"identifier": "01/09520123456788", "anchor": "https://id.example.com/01/09520123456788", "version": 3,
           "itemDescription": "Battery pack, model X", "defaultLinkType": "https://gs1.org/voc/pip",
           "links": [{"linkType": "https://gs1.org/voc/pip", "href": "https://brand.example/products/09520123456788",
                      "title": "Product information", "type": "text/html", "hreflang": ["en"]}]})
}

pub fn pattern_example() -> Value {
    json!({"identifier": "8004/9520123", "version": 1, "itemDescription": "Fixed assets of 9520123",
           "defaultLinkType": "https://gs1.org/voc/pip",
           "links": [{"linkType": "https://gs1.org/voc/pip", "href": "https://assets.example/giai/{8004}",
                      "title": "Asset record", "type": "text/html"}]})
}

pub fn history_example() -> Value {
    json!({"identifier": "01/09520123456788/21/12345", "anchor": "https://id.example.com/01/09520123456788/21/12345",
           "version": 3, "variants": [{"linkType": "untp:dpp", "type": "application/vc+jwt", "hreflang": ["en"],
           "context": [], "accessRole": [], "versions": [
               {"href": "https://credentials.example/dpp/v3.jwt", "title": "DPP", "latest": true},
               {"href": "https://credentials.example/dpp/v2.jwt", "title": "DPP", "latest": false}]}]})
}

pub fn problem_example(status: u16) -> Value {
    let (title, detail, errors) = match status {
        400 => (
            "Bad request",
            "links[0].linkType: unknown link type \"gs1:nope\"",
            json!([{"field": "links[0].linkType", "message": "unknown link type \"gs1:nope\"; see /voc?show=linktypes"}]),
        ),
        401 => (
            "Unauthorized",
            "missing credentials: send Authorization: Bearer <API key> or Authorization: DID <signed request token> \
             (this request needs a credential whose scopes cover 01/09506000134369)",
            Value::Null,
        ),
        403 => (
            "Forbidden",
            "this credential's scopes (01/0952012*) do not cover 01/09506000134369",
            Value::Null,
        ),
        404 => ("Not found", "no anchor 01/09506000134369", Value::Null),
        409 => (
            "Conflict",
            "\"exBrand\" has the form of a compressed GS1 Digital Link URI (\"eh\" or \"ex\" and then hex or base64url): \
             /exBrand would be read as this scheme's, not decompressed; choose another name",
            json!([{"field": "namespace", "message": "\"exBrand\" has the form of a compressed GS1 Digital Link URI"}]),
        ),
        412 => (
            "Precondition failed",
            "the anchor is at version 4",
            Value::Null,
        ),
        _ => (
            "Invalid anchor",
            "the submitted anchor is invalid",
            json!([{"field": "links[1].href", "message": "must be an absolute http(s) URL"}]),
        ),
    };
    let mut body =
        json!({"type": "about:blank", "title": title, "status": status, "detail": detail});
    if matches!(status, 401 | 403) {
        body["scope"] = json!("01/09506000134369");
    }
    if !errors.is_null() {
        body["errors"] = errors;
    }
    body
}

pub fn pyx_link_example() -> Value {
    json!({"linkId": "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55", "linkType": "untp:dpp",
           "targetUrl": "https://credentials.example/dpp/abc.jwt", "linkTitle": "Digital Product Passport",
           "mimeType": "application/vc+jwt", "ianaLanguage": "en", "context": "au",
           "resolverUri": "https://id.example.com/01/09520123456788", "fwqs": false})
}

pub fn pyx_registered_example() -> Value {
    json!({"resolverUri": "https://id.example.com/01/09520123456788/10/ABC", "identifier": "01/09520123456788/10/ABC",
           "linkResponses": [pyx_link_example()]})
}

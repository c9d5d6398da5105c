//! `GET /api/v1/convert?data=…`: carrier data (what a barcode scanner sends, an element string, an EPC URI or a
//! Digital Link URI) to the canonical GS1 Digital Link URI on this resolver, with its element string and each AI.
//!
//! Public, like resolution and QR codes: it reads no record, only rewrites what it is given, so a warehouse scanner
//! can resolve through idr without building URIs itself. It shares the resolution capacity (`guard::public`).

use super::AppState;
use super::guard::preflight;
use super::problem::ApiError;
use crate::identifier::gs1::carrier::{self, Carrier, GS};
use crate::resolution::query_param;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

const ALLOW: &str = "GET, HEAD, OPTIONS";

/// What carrier data converts to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversionView {
    /// What the data was: `scannerData`, `elementString`, `barcodeData`, `epcUri` or `digitalLink`.
    pub input: String,
    /// For scanner data: the symbology its identifier names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbology: Option<SymbologyView>,
    /// The canonical GS1 Digital Link URI on this resolver.
    pub uri: String,
    /// The element string with brackets: `(01)09520123456788(10)ABC`.
    pub element_string: String,
    /// The element string as a barcode carries it: no brackets, a GS (U+001D, FNC1) after each variable-length
    /// value that is not last.
    pub barcode_data: String,
    /// Each AI: the primary key, its qualifiers, then the data attributes.
    pub elements: Vec<ElementView>,
}

#[derive(Serialize, ToSchema)]
pub struct SymbologyView {
    /// The symbology identifier, e.g. `]d2`.
    pub identifier: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ElementView {
    pub ai: String,
    /// The GS1 Barcode Syntax Dictionary's title.
    pub title: String,
    pub value: String,
    /// `primaryKey`, `keyQualifier` or `dataAttribute`.
    pub role: String,
}

impl ConversionView {
    pub fn new(carrier: &Carrier, root: &str) -> ConversionView {
        let symbology = match carrier.source {
            carrier::Source::Scanned(s) => Some(SymbologyView {
                identifier: s.identifier.into(),
                name: s.name.into(),
            }),
            _ => None,
        };
        ConversionView {
            input: carrier.source.name().into(),
            symbology,
            uri: carrier.uri_under(root),
            element_string: carrier.element_string(),
            barcode_data: carrier.barcode_data(),
            elements: carrier
                .elements()
                .into_iter()
                .map(|e| ElementView {
                    ai: e.ai.into(),
                    title: e.title.into(),
                    value: e.value.into(),
                    role: e.placement.name().into(),
                })
                .collect(),
        }
    }
}

pub fn example() -> serde_json::Value {
    json!({
        "input": "scannerData",
        "symbology": {"identifier": "]d2", "name": "GS1 DataMatrix"},
        "uri": "https://id.example.com/01/09520123456788/10/ABC?17=201231",
        "elementString": "(01)09520123456788(10)ABC(17)201231",
        "barcodeData": format!("010952012345678810ABC{GS}17201231"),
        "elements": [
            {"ai": "01", "title": "GTIN", "value": "09520123456788", "role": "primaryKey"},
            {"ai": "10", "title": "BATCH/LOT", "value": "ABC", "role": "keyQualifier"},
            {"ai": "17", "title": "USE BY or EXPIRY", "value": "201231", "role": "dataAttribute"}
        ]
    })
}

#[utoipa::path(get, path = "/api/v1/convert", tag = "convert", summary = "Carrier data to a Digital Link URI (anonymous)",
    description = "Converts what a barcode scanner sends (a symbology identifier such as `]d2`, `]Q3`, `]C1`, `]e0`, \
        `]J1`, `]E0`, then the element string with GS, `%1D`, for FNC1), an element string with or without brackets \
        (`^` also stands for FNC1), an EPC URI (`urn:epc:id:sgtin:…`, `urn:epc:tag:sgtin-96:…`, \
        `urn:epc:class:lgtin:…`) or a Digital Link URI into the canonical Digital Link URI on this resolver, its \
        element string and each AI with its title. Percent-encode `data` (`&`, `+`, `#`, `%` and GS in particular).",
    params(("data" = String, Query, description = "The carrier data", example = "]d2010952012345678810ABC%1D17201231")),
    responses(
        (status = 200, description = "The Digital Link URI, the element string and the AIs", body = ConversionView, example = json!(example())),
        (status = 400, description = "Not carrier data, or a value its AI does not allow (named with its position)", body = super::views::Problem,
            example = json!({"type": "about:blank", "title": "Invalid carrier data", "status": 400,
                "detail": "AI (01) at position 3: value \"09520123456787\": invalid check digit",
                "errors": [{"field": "data", "message": "AI (01) at position 3: value \"09520123456787\": invalid check digit"}]})),
        (status = 429, description = "Over this client address's conversion rate (`limits.convert_requests_per_second`); see `Retry-After`", body = super::views::Problem)
    )
)]
pub async fn convert(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return Ok(preflight(ALLOW)),
        _ => return Err(ApiError::MethodNotAllowed(ALLOW)),
    }
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    state
        .convert_limiter
        .check(&address)
        .map_err(ApiError::TooManyRequests)?;
    if !state.parser.has_gs1() {
        return Err(ApiError::NotFound(
            "GS1 Digital Link is not configured on this resolver".into(),
        ));
    }
    let raw_query = req.uri().query().unwrap_or("");
    let data = query_param(raw_query, "data").ok_or_else(|| {
        ApiError::BadRequest(
            "the query parameter `data` (the carrier data, percent-encoded) is required".into(),
        )
    })?;
    let carrier = carrier::convert(&data, &state.parser.gs1_options)?;
    let view = ConversionView::new(&carrier, &state.origin(&req));
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.json(view))
}

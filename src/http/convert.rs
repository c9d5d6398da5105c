//! `GET /api/v1/convert?data=…`: carrier data (what a barcode scanner sends, an element string, an EPC URI or a
//! Digital Link URI) to the canonical GS1 Digital Link URI on this resolver, with its element string and each AI.
//!
//! Public, like resolution and QR codes: it reads no record, only rewrites what it is given, so a warehouse scanner
//! can resolve through idr without building URIs itself. It shares the resolution capacity (`guard::public`).

use super::AppState;
use super::guard::preflight;
use super::problem::ApiError;
use crate::identifier::gs1::carrier::{self, Carrier, GS};
use crate::identifier::gs1::to_epc::{self, ToEpcError};
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
    /// The EPC URIs of the key: when the data was an EPC URI, or `gcpLength` (or `epcTag`) was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epc: Option<EpcView>,
}

/// The EPC URIs of a key (GS1 EPC Tag Data Standard).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpcView {
    /// `urn:epc:id:sgtin:…` (an LGTIN: `urn:epc:class:lgtin:…`).
    pub pure_identity: String,
    /// `urn:epc:tag:sgtin-96:3.…`: with `epcTag` (and `filter`), or when the data was a tag URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Key qualifiers of the data that the EPC has no field for (e.g. `["22", "10"]` for an SGTIN of a GTIN with a
    /// CPV, a batch and a serial): the EPC names the key without them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_carried: Vec<String>,
}

/// What `/api/v1/convert` (and `idr convert`) is asked to write besides the Digital Link: the EPC URIs, with the
/// company prefix length, tag encoding and filter as given (text, checked here).
#[derive(Default)]
pub struct EpcRequest<'a> {
    pub gcp_length: Option<&'a str>,
    pub tag: Option<&'a str>,
    pub filter: Option<&'a str>,
}

impl EpcRequest<'_> {
    /// The EPC URIs, if asked for or if the data was an EPC URI; a parameter that is wrong or missing is an error
    /// naming it.
    pub fn view(&self, carrier: &Carrier) -> Result<Option<EpcView>, ToEpcError> {
        let input = carrier.input_form();
        if self.gcp_length.is_none() && self.tag.is_none() && input.is_none() {
            if let Some(filter) = self.filter {
                to_epc::filter_value(filter)?;
                return Err(ToEpcError::FilterWithoutTag);
            }
            return Ok(None);
        }
        let gcp = self.gcp_length.map(to_epc::gcp_length).transpose()?;
        let epc = carrier.epc(gcp)?;
        let filter = self.filter.map(to_epc::filter_value).transpose()?;
        let tag = match (self.tag, input.and_then(|f| f.tag)) {
            (Some(encoding), from_input) => {
                let filter = filter.or(from_input.map(|(_, f)| f)).unwrap_or(0);
                Some(epc.tag_uri(encoding, filter)?)
            }
            (None, Some((encoding, from_input))) => {
                Some(epc.tag_uri(encoding, filter.unwrap_or(from_input))?)
            }
            (None, None) if filter.is_some() => {
                return Err(ToEpcError::FilterWithoutTag);
            }
            (None, None) => None,
        };
        Ok(Some(EpcView {
            pure_identity: epc.pure_identity(),
            tag,
            not_carried: epc.not_carried,
        }))
    }
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
    pub fn new(carrier: &Carrier, root: &str, epc: Option<EpcView>) -> ConversionView {
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
            epc,
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
        element string and each AI with its title. Percent-encode `data` (`&`, `+`, `#`, `%` and GS in particular). \
        \n\nBack to EPC: an EPC URI as `data` comes back in `epc` as well (pure identity, and the tag URI for a tag URI), \
        and so does a TDS 1.x EPC binary string in a Digital Link path (`/eh30…`, its partition and filter read); \
        for any other data give `gcpLength`, the length of the GS1 Company Prefix (6 to 12 digits, which the key does \
        not tell), for the pure identity, and `epcTag` (a tag encoding, `sgtin-96`) with `filter` (0 to 7, default 0) \
        for the tag URI. A key with no EPC URI (a GTIN without serial or batch, a GMN, …), a missing or out-of-range \
        `gcpLength`, or a value the tag encoding cannot hold is a `400` naming the parameter. The TDS 2.x \"+\" \
        schemes have no EPC URI (their binary strings convert as Digital Link paths, `/eh…`).",
    params(
        ("data" = String, Query, description = "The carrier data", example = "]d2010952012345678810ABC%1D17201231"),
        ("gcpLength" = Option<u8>, Query, description = "GS1 Company Prefix length (6 to 12): asks for the EPC pure identity URI", example = 7),
        ("epcTag" = Option<String>, Query, description = "EPC tag encoding (sgtin-96, sgtin-198, sscc-96, sgln-96, sgln-195, grai-96, grai-170, giai-96, giai-202, gsrn-96, gsrnp-96, gdti-96, gdti-113, gdti-174, sgcn-96, cpi-96, cpi-var, itip-110, itip-212): asks for the tag URI too", example = "sgtin-96"),
        ("filter" = Option<u8>, Query, description = "EPC filter value for the tag URI (0 to 7; default 0, or the tag URI's own)", example = 3)
    ),
    responses(
        (status = 200, description = "The Digital Link URI, the element string and the AIs", body = ConversionView, example = json!(example())),
        (status = 400, description = "Not carrier data, or a value its AI does not allow (named with its position); or an EPC parameter missing or wrong (`gcpLength`, `epcTag`, `filter`, named in `errors[].field`)", body = super::views::Problem,
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
    let address = state.client_addresses.of(&req);
    state
        .convert_limiter
        .check(&address)
        .map_err(ApiError::TooManyConversions)?;
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
    let (gcp_length, tag, filter) = (
        query_param(raw_query, "gcpLength"),
        query_param(raw_query, "epcTag"),
        query_param(raw_query, "filter"),
    );
    let epc = EpcRequest {
        gcp_length: gcp_length.as_deref(),
        tag: tag.as_deref(),
        filter: filter.as_deref(),
    }
    .view(&carrier)?;
    let view = ConversionView::new(&carrier, &state.origin(&req), epc);
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(response.json(view))
}

//! The label (`/console/qr/{identifier}`): a preview of the QR code of an identifier's public URI and links to
//! download it; with `format=svg|png` the download itself (`Content-Disposition: attachment`). Drawn by the code of
//! `/api/v1/qr` (`qr::label_uri`, `qr::compressed_label_uri`, `qr::render`), so the console's label and the API's
//! are the same image. `compressed=1` (or `true`) draws the GS1 Digital Link compressed URI where the identifier
//! allows it.
//!
//! Scope: any identifier, as `/api/v1/qr` (which is anonymous): a label carries only a public URI anyone can
//! derive from the identifier, and reads no record.

use super::layout::{self, Nav};
use super::{ConsoleError, Signed, url};
use crate::http::AppState;
use crate::http::problem::ApiError;
use crate::qr::{self, Format, Options};
use crate::resolution::query_param;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use maud::html;

/// The mount point of labels, as the raw request path spells it.
const PREFIX: &str = "/console/qr/";

/// `GET /console/qr/{identifier}[?format=svg|png&compressed=1&size=&margin=&ecc=]`.
pub async fn page(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let subject = req.uri().path().strip_prefix(PREFIX).unwrap_or("");
    let subject = subject.trim_end_matches('/');
    if qr::is_did(subject) && state.did_web.is_none() {
        // As /api/v1/qr: the resolver would answer 404 for the DID's URL, so its label would be a dead end.
        return Err(ApiError::Did(crate::did::DidError::Disabled).into());
    }
    let raw = req.uri().query().unwrap_or("");
    let root = state.origin(&req).into_owned();
    let compressed = compressed(raw)?;
    let uri = if compressed {
        qr::compressed_label_uri(&state.parser, &root, subject)
    } else {
        qr::label_uri(&state.parser, &root, subject)
    }
    .map_err(ApiError::from)?;
    let options = Options::from_params(|name| query_param(raw, name)).map_err(ApiError::from)?;
    if query_param(raw, "format").is_some() {
        return download(subject, &uri, options, compressed).await;
    }
    preview(&signed, &state, subject, &root, &uri).await
}

/// `compressed`: absent, `1`/`true` or `0`/`false`.
fn compressed(raw: &str) -> Result<bool, ApiError> {
    let value = query_param(raw, "compressed");
    let value = match value.as_deref().map(str::trim) {
        Some("1") => Some("true"),
        Some("0") => Some("false"),
        other => other,
    };
    Ok(qr::compressed_param(value)?)
}

/// The image as an attachment, named for the identifier (`01_09520123456788_10_ABC.svg`).
async fn download(
    subject: &str,
    uri: &str,
    options: Options,
    compressed: bool,
) -> Result<HttpResponse, ConsoleError> {
    let bytes = render(uri, options).await?;
    let extension = match options.format {
        Format::Svg => "svg",
        Format::Png => "png",
    };
    let name = format!(
        "{}{}.{extension}",
        file_stem(subject),
        if compressed { "-compressed" } else { "" }
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, options.format.media_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .body(bytes))
}

/// A file name from an identifier: letters, digits, `-` and `.` kept, anything else `_`, at most 120 characters.
fn file_stem(subject: &str) -> String {
    let stem: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let stem = stem.trim_matches('.').to_string();
    if stem.is_empty() {
        "label".into()
    } else {
        stem
    }
}

/// A 4096-pixel PNG takes tens of milliseconds of CPU: off the async workers, as the API draws it.
async fn render(uri: &str, options: Options) -> Result<Vec<u8>, ApiError> {
    let uri = uri.to_string();
    web::block(move || qr::render(&uri, &options))
        .await
        .map_err(|e| ApiError::Qr(qr::QrError::Encode(e.to_string())))?
        .map_err(ApiError::from)
}

/// The label section: the code, the URI it carries, and the downloads (compressed ones when the identifier allows).
async fn preview(
    signed: &Signed,
    state: &AppState,
    subject: &str,
    root: &str,
    uri: &str,
) -> Result<HttpResponse, ConsoleError> {
    let image = render(uri, Options::default()).await?;
    let data = format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&image)
    );
    let compressed_uri = qr::compressed_label_uri(&state.parser, root, subject).ok();
    let base = url(&format!("/qr/{subject}"));
    let key = state.parser.parse_key(subject).ok();
    let body = html! {
        p.kicker { "Label" }
        h1 { code { (subject) } }
        section #label aria-labelledby="label-title" {
            h2 #label-title { "QR code" }
            img #qr-preview src=(data) width="256" height="256"
                alt=(format!("QR code of {uri}"));
            p { "It carries " a #label-uri href=(uri) { code { (uri) } } }
            ul #downloads {
                li { a #download-svg download href=(format!("{base}?format=svg")) { "Download SVG" } " (for print)" }
                li { a #download-png download href=(format!("{base}?format=png&size=1024")) { "Download PNG" } " (1024 px)" }
            }
            @if let Some(short) = &compressed_uri {
                h3 { "Compressed" }
                p { "The same identifier as a GS1 Digital Link compressed URI, " a href=(short) { code { (short) } }
                    ", which this resolver answers exactly like the one above." }
                ul #downloads-compressed {
                    li { a #download-svg-compressed download href=(format!("{base}?format=svg&compressed=1")) { "Download SVG (compressed)" } }
                    li { a #download-png-compressed download href=(format!("{base}?format=png&size=1024&compressed=1")) { "Download PNG (compressed)" } }
                }
            } @else {
                p #no-compressed.meta { "No compressed form: GS1 Digital Link compression applies to GS1 identifiers whose AIs it can carry." }
            }
            p.meta { "Other sizes, margins and error correction: the same parameters as "
                code { "/api/v1/qr" } " (" code { "size" } ", " code { "margin" } ", " code { "ecc" } ")." }
        }
        @if let Some(key) = &key {
            p.actions {
                a.button.secondary href=(super::check::link(uri)) { "Check what a scan gets" }
                a.button.secondary href=(super::anchor_url(key, "")) { "Anchor page" }
            }
        }
    };
    Ok(layout::ok(layout::page(signed, Nav::Check, "Label", body)))
}

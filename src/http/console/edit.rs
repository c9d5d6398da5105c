//! Creating and editing an anchor and its links, deleting and restoring it: forms that write through exactly the
//! functions the API's `PUT`, `DELETE` and `…:restore` use.

use super::form::Form;
use super::layout::{self, Nav};
use super::{AnchorAction, ConsoleError, Posted, Signed, anchor_url};
use crate::http::AppState;
use crate::http::access::authorise;
use crate::http::problem::ApiError;
use crate::identifier::Identifier;
use crate::registry::Precondition;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

/// `GET /console/anchor/{identifier}/edit`: the form, filled with the stored record.
pub async fn edit_form(
    signed: &Signed,
    _state: &AppState,
    key: &Identifier,
) -> Result<HttpResponse, ConsoleError> {
    authorise(&signed.principal, key)?;
    let body = html! { h1 { "Edit " code { (key.canonical_path()) } } };
    Ok(layout::ok(layout::page(signed, Nav::None, "Edit", body)))
}

/// `POST` under `/console/anchor/`: save the edit form (`…/edit`), delete (`…/delete`) or restore (`…/restore`).
pub async fn post(
    req: HttpRequest,
    posted: Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Posted { signed, form } = posted;
    match AnchorAction::parse(&state, req.uri().path())? {
        AnchorAction::Delete(key) => delete(&signed, &state, &key, &form).await,
        AnchorAction::Restore(key) => restore(&signed, &state, &key).await,
        AnchorAction::Edit(_) | AnchorAction::View(_) => {
            Err(ApiError::MethodNotAllowed("GET").into())
        }
    }
}

/// A soft delete, as `DELETE /api/v1/anchors/{identifier}` makes it (`AnchorStore::delete`, audited under the key's
/// name), on the condition of the version the page showed.
async fn delete(
    signed: &Signed,
    state: &AppState,
    key: &Identifier,
    form: &Form,
) -> Result<HttpResponse, ConsoleError> {
    authorise(&signed.principal, key)?;
    let precondition = version_of(form)?;
    let path = key.canonical_path();
    if !state
        .store
        .delete(path, precondition, &signed.principal.name)
        .await?
    {
        return Err(ApiError::NotFound(format!("no anchor {path}")).into());
    }
    tracing::info!(
        identifier = path,
        credential = signed.principal.name,
        "anchor deleted in the console"
    );
    Ok(see_other(&format!(
        "{}?notice=deleted",
        anchor_url(key, "")
    )))
}

/// Brings back what a delete kept, as `POST /api/v1/anchors/{identifier}:restore` does (`AnchorStore::restore`).
async fn restore(
    signed: &Signed,
    state: &AppState,
    key: &Identifier,
) -> Result<HttpResponse, ConsoleError> {
    authorise(&signed.principal, key)?;
    let path = key.canonical_path();
    if state
        .store
        .restore(path, &signed.principal.name)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound(format!("nothing deleted to restore at {path}")).into());
    }
    tracing::info!(
        identifier = path,
        credential = signed.principal.name,
        "anchor restored in the console"
    );
    Ok(see_other(&format!(
        "{}?notice=restored",
        anchor_url(key, "")
    )))
}

/// The condition of the form's hidden `version`: that version (`If-Match`), or none when the form has none.
fn version_of(form: &Form) -> Result<Precondition, ApiError> {
    match form.text("version") {
        "" => Ok(Precondition::None),
        v => v
            .parse()
            .map(|v| Precondition::Version(vec![v]))
            .map_err(|_| ApiError::BadRequest(format!("version={v:?} is not a version"))),
    }
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

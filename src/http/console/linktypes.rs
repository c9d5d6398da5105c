//! Link types (`/console/linktypes`): the vocabularies in force (configured, built-in and registered), and a form
//! to register, replace or delete a vocabulary where the caller's scopes name it (`linktypes/{prefix}`), written
//! through the functions of `PUT`/`DELETE /api/v1/linktypes/{prefix}` (`http::linktypes::register`,
//! `unregister`), whose refusals are shown beside the field they name.

use super::layout::{self, Field, Nav};
use super::{ConsoleError, Posted, Signed, url};
use crate::http::AppState;
use crate::http::linktypes::{register, source, unregister};
use crate::http::problem::ApiError;
use crate::vocabulary::VocabularyFile;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use maud::{Markup, html};
use serde_json::{Value, json};

const EXAMPLE_TERMS: &str = r#"{
  "warranty": {"title": "Warranty", "description": "The warranty terms of the product."}
}"#;

/// What the form shows: the values and the errors by field id.
#[derive(Default)]
struct Form {
    prefix: String,
    namespace: String,
    terms: String,
    errors: Vec<(&'static str, String)>,
}

impl Form {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    fn of(file: &VocabularyFile) -> Form {
        Form {
            prefix: file.prefix.clone(),
            namespace: file.namespace.clone(),
            terms: serde_json::to_string_pretty(&file.terms).unwrap_or_default(),
            errors: Vec::new(),
        }
    }
}

/// `GET /console/linktypes`: every vocabulary, and the form to register one.
pub async fn list(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let notice = crate::resolution::query_param(req.query_string(), "notice");
    let form = Form {
        terms: EXAMPLE_TERMS.into(),
        ..Form::default()
    };
    Ok(render(
        &signed,
        &state,
        StatusCode::OK,
        &form,
        notice.as_deref(),
    ))
}

/// `POST /console/linktypes`: register or replace the vocabulary the form names.
pub async fn save(
    posted: Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Posted { signed, form } = posted;
    let mut shown = Form {
        prefix: form.text("prefix").to_string(),
        namespace: form.text("namespace").to_string(),
        terms: form.get("terms").unwrap_or("").to_string(),
        errors: Vec::new(),
    };
    let terms: Value = match serde_json::from_str(&shown.terms) {
        Ok(terms) => terms,
        Err(e) => {
            shown.errors.push(("terms", format!("not JSON: {e}")));
            return Ok(render(
                &signed,
                &state,
                StatusCode::BAD_REQUEST,
                &shown,
                None,
            ));
        }
    };
    let body = json!({"prefix": shown.prefix, "namespace": shown.namespace, "terms": terms});
    match register(
        &state,
        &signed.principal,
        &shown.prefix,
        body.to_string().as_bytes(),
    )
    .await
    {
        Ok((_, created)) => Ok(see_other(&format!(
            "{}?notice={}",
            url("/linktypes"),
            if created { "registered" } else { "saved" }
        ))),
        Err(e) => {
            let status = e.status_code();
            match beside(e) {
                Ok(error) => {
                    shown.errors.push(error);
                    Ok(render(&signed, &state, status, &shown, None))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// `GET /console/linktypes/{prefix}`: one vocabulary, with its form when it is a registered one.
pub async fn one(
    req: HttpRequest,
    signed: Signed,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let prefix = req.match_info().get("prefix").unwrap_or("");
    let vocabulary = state.vocabulary();
    let Some((file, registered)) = vocabulary.files().find(|(f, _)| f.prefix == prefix) else {
        return Err(ApiError::NotFound(format!("no link-type vocabulary {prefix:?}")).into());
    };
    let may_change = registered && signed.principal.may_access(&format!("linktypes/{prefix}"));
    let body = html! {
        p.kicker { "Link types" }
        h1 { code { (file.prefix) } }
        p.meta { "Namespace " code { (file.namespace) } " · " (source(&file.prefix, registered)) }
        table #terms.cards {
            thead { tr { th scope="col" { "Link type" } th scope="col" { "Title" } th scope="col" { "Description" } } }
            tbody {
                @for (term, t) in &file.terms {
                    tr { td data-label="Link type" { code { (file.prefix) ":" (term) } } td data-label="Title" { (t.title) }
                        td data-label="Description" { (t.description) } }
                }
            }
        }
        @if may_change {
            h2 { "Replace" }
            (form_view(&signed, &Form::of(file)))
            h2 { "Delete" }
            p { "Only a vocabulary no stored link uses can be deleted." }
            form method="post" action=(url(&format!("/linktypes/{prefix}/delete"))) {
                (signed.csrf_field())
                button #delete.danger type="submit" { "Delete " (prefix) }
            }
        }
    };
    Ok(layout::ok(layout::page(
        &signed,
        Nav::LinkTypes,
        &file.prefix,
        body,
    )))
}

/// `POST /console/linktypes/{prefix}/delete`.
pub async fn delete(
    req: HttpRequest,
    posted: Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let prefix = req.match_info().get("prefix").unwrap_or("");
    unregister(&state, &posted.signed.principal, prefix).await?;
    Ok(see_other(&format!("{}?notice=deleted", url("/linktypes"))))
}

/// A refusal of `register` as an error beside one of the form's fields, or `Err` when it is not about the form.
fn beside(e: ApiError) -> Result<(&'static str, String), ApiError> {
    let (field, message) = match e {
        ApiError::BadBody(f) | ApiError::Conflict(f) | ApiError::TooLargeField(f) => {
            (f.field, f.message)
        }
        e @ ApiError::Forbidden { .. } => ("prefix".to_string(), e.to_string()),
        other => return Err(other),
    };
    let id = if field == "prefix" {
        "prefix"
    } else if field.starts_with("namespace") {
        "namespace"
    } else {
        "terms"
    };
    let message = if id == "terms" && field != "terms" && field != "body" {
        format!("{field}: {message}")
    } else {
        message
    };
    Ok((id, message))
}

fn render(
    signed: &Signed,
    state: &AppState,
    status: StatusCode,
    form: &Form,
    notice: Option<&str>,
) -> HttpResponse {
    let vocabulary = state.vocabulary();
    let notice = notice.and_then(|n| {
        Some(match n {
            "registered" => "Registered: usable in the next write.",
            "saved" => "Saved.",
            "deleted" => "Deleted.",
            _ => return None,
        })
    });
    let body = html! {
        @if let Some(text) = notice { (layout::notice(text)) }
        h1 { "Link types" }
        table #vocabularies.cards {
            thead { tr { th scope="col" { "Prefix" } th scope="col" { "Namespace" } th scope="col" { "Source" }
                th scope="col" { "Terms" } } }
            tbody {
                @for (file, registered) in vocabulary.files() {
                    tr {
                        td data-label="Prefix" { a href=(url(&format!("/linktypes/{}", file.prefix))) { code { (file.prefix) } } }
                        td data-label="Namespace" { code { (file.namespace) } }
                        td data-label="Source" { (source(&file.prefix, registered)) }
                        td data-label="Terms" { (file.terms.len()) }
                    }
                }
            }
        }
        h2 { "Register or replace a vocabulary" }
        p { "Your key needs the scope " code { "linktypes/{prefix}" } ". The vocabularies of the configuration ("
            code { "gs1" } ", " code { "untp" } ", " code { "iana" } ", …) cannot be changed here." }
        (form_view(signed, form))
    };
    layout::respond(
        status,
        layout::page(signed, Nav::LinkTypes, "Link types", body),
    )
}

fn form_view(signed: &Signed, form: &Form) -> Markup {
    let terms_error = form.error("terms");
    let described = match terms_error {
        Some(_) => "terms-hint terms-error",
        None => "terms-hint",
    };
    html! {
        form #vocabulary-form method="post" action=(url("/linktypes")) {
            (signed.csrf_field())
            @if !form.errors.is_empty() {
                div #form-errors role="alert" {
                    p { "The vocabulary was not saved:" }
                    ul { @for (field, message) in &form.errors { li { a href=(format!("#{field}")) { (message) } } } }
                }
            }
            (layout::input(&Field { id: "prefix", name: "prefix", label: "Prefix", kind: "text", value: &form.prefix,
                hint: Some("as in acme:warranty"), error: form.error("prefix"), autocomplete: Some("off") }))
            (layout::input(&Field { id: "namespace", name: "namespace", label: "Namespace", kind: "url",
                value: &form.namespace, hint: Some("each term is appended to it; ends in /, e.g. https://id.acme.example/voc/"),
                error: form.error("namespace"), autocomplete: Some("off") }))
            div.field {
                label for="terms" { "Terms (JSON)" }
                p.hint #terms-hint { "an object: term → {\"title\": …, \"description\": …}" }
                textarea #terms name="terms" rows="10" aria-describedby=(described)
                    aria-invalid=[terms_error.map(|_| "true")] { (form.terms) }
                @if let Some(error) = terms_error {
                    p.error #terms-error { (error) }
                }
            }
            div.field { button #save type="submit" { "Save" } }
        }
    }
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to))
        .finish()
}

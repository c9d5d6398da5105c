//! Creating and editing an anchor and its links, deleting and restoring it: forms that write through exactly the
//! functions the API's `PUT`, `DELETE` and `…:restore` use.
//!
//! A saved form becomes the JSON body a `PUT /api/v1/anchors/{identifier}` would carry, and goes through
//! `manage::write_body`, the API's own path from the body on (parse, validation, the owner's contribution rule, the
//! merge, the default's settling, the conditional write, the audit entry under the key's name), so a form is refused
//! exactly when the API would refuse the same anchor, and each problem, which the API names by field
//! (`links[2].href`), is shown beside that input (`link-2-href`). The differences: the write is conditional on the
//! version the form was loaded from (a change meanwhile is shown beside the form, both versions), and a form saved
//! unchanged writes nothing (`registration::write_changed`).
//!
//! Each link is a row of inputs: link type, address, title, languages (comma-separated) and media type; the other
//! attributes of a stored link (context, access roles, encryption, rel, method, `fwqs`, its id) ride along in a
//! hidden `link-N-more` field as the API's JSON, so a form saved unchanged is the record written back.

use super::form::Form;
use super::layout::{self, Field, Nav};
use super::{AnchorAction, ConsoleError, Posted, Signed, anchor_url, url};
use crate::http::AppState;
use crate::http::access::{Access, authorise};
use crate::http::manage::{Write, write_body};
use crate::http::problem::ApiError;
use crate::identifier::Identifier;
use crate::registration::{FieldError, Written};
use crate::registry::{Precondition, StoreError, StoredAnchor};
use crate::vocabulary::Vocabulary;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use maud::{Markup, html};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The attributes of a link that have inputs of their own; the others go in `link-N-more`.
const VISIBLE: [&str; 5] = ["linkType", "href", "title", "hreflang", "type"];

/// What the form holds: the anchor as typed (or as stored), the version it was loaded from, and its link rows.
#[derive(Clone, Debug, Default)]
struct Draft {
    identifier: String,
    description: String,
    default_link_type: String,
    /// The version the form was loaded from; empty for a new anchor.
    version: String,
    rows: Vec<Row>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Row {
    link_type: String,
    href: String,
    title: String,
    /// Languages, comma-separated.
    lang: String,
    media: String,
    /// The link's other attributes, as the API's JSON object (or empty).
    more: String,
    /// The "remove this link" box is ticked.
    remove: bool,
}

impl Row {
    fn is_empty(&self) -> bool {
        [
            &self.link_type,
            &self.href,
            &self.title,
            &self.lang,
            &self.media,
        ]
        .iter()
        .all(|v| v.trim().is_empty())
            && self.more.trim().is_empty()
    }
}

impl Draft {
    /// The stored record as the form shows it: link types as CURIEs where a vocabulary names them.
    fn of_stored(key: &Identifier, stored: &StoredAnchor, vocabulary: &Vocabulary) -> Draft {
        let record = &stored.record;
        let rows = record
            .links
            .iter()
            .map(|link| {
                let mut more = match serde_json::to_value(link) {
                    Ok(Value::Object(map)) => map,
                    _ => Map::new(),
                };
                more.retain(|k, _| !VISIBLE.contains(&k.as_str()));
                Row {
                    link_type: super::anchors::curie(vocabulary, &link.link_type),
                    href: link.href.clone(),
                    title: link.title.clone(),
                    lang: link.hreflang.join(", "),
                    media: link.media_type.clone().unwrap_or_default(),
                    more: if more.is_empty() {
                        String::new()
                    } else {
                        Value::Object(more).to_string()
                    },
                    remove: false,
                }
            })
            .collect();
        Draft {
            identifier: key.canonical_path().to_string(),
            description: record.item_description.clone(),
            default_link_type: record
                .default_link_type
                .as_deref()
                .map(|t| super::anchors::curie(vocabulary, t))
                .unwrap_or_default(),
            version: stored.version.to_string(),
            rows,
        }
    }

    /// Rows for the contributed links of `stored` this form does not list: the save after a conflict replaces the
    /// whole list, so a link a contributor added meanwhile goes only if its row is removed on purpose.
    fn keep_contributions_of(
        &mut self,
        key: &Identifier,
        stored: &StoredAnchor,
        vocabulary: &Vocabulary,
    ) {
        let listed: Vec<Row> = self
            .rows
            .iter()
            .map(|r| Row {
                remove: false,
                ..r.clone()
            })
            .collect();
        let contributed = Draft::of_stored(key, stored, vocabulary)
            .rows
            .into_iter()
            .zip(&stored.record.links)
            .filter(|(row, link)| link.contributor.is_some() && !listed.contains(row))
            .map(|(row, _)| row);
        let at = self
            .rows
            .iter()
            .rposition(|r| !r.is_empty())
            .map_or(0, |i| i + 1);
        let added: Vec<Row> = contributed.collect();
        self.rows.splice(at..at, added);
    }

    /// The form as posted. Rows are numbered from 0 with no gaps; reading stops at the first number missing, or after
    /// `max_rows` + 1 rows (one too many, which `too_many_rows` refuses), so a body of numbered fields costs at most
    /// that many rows of lookups.
    fn of_form(form: &Form, max_rows: usize) -> Draft {
        let mut rows = Vec::new();
        for n in 0..=max_rows {
            let name = |part: &str| format!("link-{n}-{part}");
            if !form.has(&name("type")) && !form.has(&name("href")) {
                break;
            }
            rows.push(Row {
                link_type: form.text(&name("type")).to_string(),
                href: form.text(&name("href")).to_string(),
                title: form.text(&name("title")).to_string(),
                lang: form.text(&name("lang")).to_string(),
                media: form.text(&name("media")).to_string(),
                more: form.text(&name("more")).to_string(),
                remove: form.has(&name("remove")),
            });
        }
        Draft {
            identifier: form.text("identifier").to_string(),
            description: form.text("itemDescription").to_string(),
            default_link_type: form.text("defaultLinkType").to_string(),
            version: form.text("version").to_string(),
            rows,
        }
    }

    /// The body a `PUT` of this draft carries, and which row each of its links came from (for errors). A row's
    /// `more` that is not a JSON object is an error on that row.
    fn submission(&self) -> Result<(Vec<u8>, Vec<usize>), Vec<FieldError>> {
        let mut links = Vec::new();
        let mut from_row = Vec::new();
        let mut errors = Vec::new();
        for (n, row) in self.rows.iter().enumerate() {
            if row.remove || row.is_empty() {
                continue;
            }
            let mut link = match row.more.trim() {
                "" => Map::new(),
                more => match serde_json::from_str::<Value>(more) {
                    Ok(Value::Object(map)) => map,
                    _ => {
                        errors.push(FieldError::new(
                            format!("links[{}].more", from_row.len()),
                            "the link's other attributes are not a JSON object",
                        ));
                        Map::new()
                    }
                },
            };
            link.insert("linkType".into(), json!(row.link_type));
            link.insert("href".into(), json!(row.href));
            link.insert("title".into(), json!(row.title));
            let languages = crate::registration::languages(&row.lang);
            if !languages.is_empty() {
                link.insert("hreflang".into(), json!(languages));
            }
            if !row.media.is_empty() {
                link.insert("type".into(), json!(row.media));
            }
            links.push(Value::Object(link));
            from_row.push(n);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut body = json!({"itemDescription": self.description, "links": links});
        if !self.default_link_type.is_empty() {
            body["defaultLinkType"] = json!(self.default_link_type);
        }
        Ok((body.to_string().into_bytes(), from_row))
    }
}

/// Problems to show: beside each input (by its id), and all of them in the summary at the top.
#[derive(Debug, Default)]
struct Problems {
    by_input: BTreeMap<String, Vec<String>>,
    /// (input id to jump to, if any; message).
    summary: Vec<(Option<String>, String)>,
}

impl Problems {
    fn is_empty(&self) -> bool {
        self.summary.is_empty()
    }

    /// A problem beside `input` (if any), and in the summary named by the input's label.
    fn add(&mut self, input: Option<String>, message: String) {
        let summary = match input.as_deref().and_then(label_of) {
            Some(label) => format!("{label}: {message}"),
            None => message.clone(),
        };
        self.push(input, message, summary);
    }

    fn push(&mut self, input: Option<String>, beside: String, summary: String) {
        if let Some(id) = &input {
            self.by_input.entry(id.clone()).or_default().push(beside);
        }
        self.summary.push((input, summary));
    }

    fn at(&self, id: &str) -> Option<String> {
        self.by_input.get(id).map(|m| m.join("; "))
    }

    /// The API's field errors, each beside the input it names: `itemDescription` → `item-description`,
    /// `links[i].href` → `link-{row}-href` (the row link `i` came from), and so on. A field with no input of its
    /// own (a link's `context`) is shown at its row's link type, naming the field.
    fn of_fields(errors: &[FieldError], from_row: &[usize]) -> Problems {
        let mut problems = Problems::default();
        for error in errors {
            match input_of(&error.field, from_row) {
                // A field without an input of its own: named, beside its row's link type and in the summary.
                (input, Some(field)) => {
                    let message = format!("{field}: {}", error.message);
                    problems.push(input, message.clone(), message);
                }
                (input, None) => problems.add(input, error.message.clone()),
            }
        }
        problems
    }
}

/// The label of an input, as the summary names it: `link-2-href` → "Link 3, address".
fn label_of(id: &str) -> Option<String> {
    let fixed = match id {
        "identifier" => "Identifier",
        "item-description" => "Description",
        "default-link-type" => "Default link type",
        _ => "",
    };
    if !fixed.is_empty() {
        return Some(fixed.to_string());
    }
    let (row, part) = id.strip_prefix("link-")?.split_once('-')?;
    let row: usize = row.parse().ok()?;
    let part = match part {
        "type" => "link type",
        "href" => "address",
        "title" => "title",
        "lang" => "languages",
        "media" => "media type",
        _ => return None,
    };
    Some(format!("Link {}, {part}", row + 1))
}

/// The input an API field name is shown beside, and a prefix naming the field when the input is not its own.
fn input_of(field: &str, from_row: &[usize]) -> (Option<String>, Option<String>) {
    match field {
        "identifier" => return (Some("identifier".into()), None),
        "itemDescription" => return (Some("item-description".into()), None),
        "defaultLinkType" => return (Some("default-link-type".into()), None),
        _ => {}
    }
    let Some(rest) = field.strip_prefix("links[") else {
        return (None, Some(field.to_string()));
    };
    let Some((index, attribute)) = rest.split_once(']') else {
        return (None, None);
    };
    let Some(row) = index.parse::<usize>().ok().and_then(|i| from_row.get(i)) else {
        return (None, Some(field.to_string()));
    };
    let attribute = attribute.trim_start_matches('.');
    let name = attribute.split('[').next().unwrap_or(attribute);
    let part = match name {
        "linkType" => "type",
        "href" => "href",
        "title" => "title",
        "hreflang" => "lang",
        "type" => "media",
        "" => {
            return (
                Some(format!("link-{row}-type")),
                Some(format!("link {}", row + 1)),
            );
        }
        _ => {
            return (
                Some(format!("link-{row}-type")),
                Some(format!("link {}, {attribute}", row + 1)),
            );
        }
    };
    (Some(format!("link-{row}-{part}")), None)
}

/// Whether the form edits a stored anchor or creates one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    New,
    Edit,
}

/// The stored record a save lost to, to show beside the form.
struct Conflict {
    stored: Option<std::sync::Arc<StoredAnchor>>,
    vocabulary: std::sync::Arc<Vocabulary>,
}

/// `GET /console/anchors/new?identifier=`: an empty form (the identifier filled in when given).
pub async fn new_form(
    req: HttpRequest,
    signed: Signed,
    _state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let query = req.query_string().replace('+', "%20");
    let identifier = crate::resolution::query_param(&query, "identifier").unwrap_or_default();
    let draft = Draft {
        identifier: identifier.trim().to_string(),
        ..Draft::default()
    };
    Ok(form_page(
        &signed,
        Mode::New,
        &draft,
        &Problems::default(),
        None,
        0,
        StatusCode::OK,
    ))
}

/// `GET /console/anchor/{identifier}/edit`: the form, filled with the stored record.
pub async fn edit_form(
    signed: &Signed,
    state: &AppState,
    key: &Identifier,
) -> Result<HttpResponse, ConsoleError> {
    authorise(&signed.principal, key)?;
    let Some(stored) = state.store.get(key.canonical_path()).await? else {
        return Err(ApiError::NotFound(format!("no anchor {}", key.canonical_path())).into());
    };
    let draft = Draft::of_stored(key, &stored, &state.vocabulary());
    Ok(form_page(
        signed,
        Mode::Edit,
        &draft,
        &Problems::default(),
        None,
        0,
        StatusCode::OK,
    ))
}

/// The form again with an error on its first row past `max` (`limits.max_links_per_anchor`), when it has one: rows
/// beyond it were not read.
fn too_many_rows(signed: &Signed, mode: Mode, draft: &Draft, max: usize) -> Option<HttpResponse> {
    if draft.rows.len() <= max {
        return None;
    }
    let mut problems = Problems::default();
    problems.add(
        Some(format!("link-{max}-type")),
        format!("an anchor has at most {max} links (limits.max_links_per_anchor)"),
    );
    Some(form_page(
        signed,
        mode,
        draft,
        &problems,
        None,
        0,
        StatusCode::UNPROCESSABLE_ENTITY,
    ))
}

/// `POST /console/anchors/new`: create the anchor the form names (only if nothing is registered there).
pub async fn create(
    posted: Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Posted { signed, form } = posted;
    let draft = Draft::of_form(&form, state.limits.links);
    if let Some(refused) = too_many_rows(&signed, Mode::New, &draft, state.limits.links) {
        return Ok(refused);
    }
    if form.has("add-link") {
        return Ok(form_page(
            &signed,
            Mode::New,
            &draft,
            &Problems::default(),
            None,
            1,
            StatusCode::OK,
        ));
    }
    let key = match state.parser.parse_key(&draft.identifier) {
        Ok(key) => key,
        Err(e) => {
            let mut problems = Problems::default();
            let message = if draft.identifier.is_empty() {
                "enter the identifier, e.g. 01/09520123456788".to_string()
            } else {
                e.to_string()
            };
            problems.add(Some("identifier".into()), message);
            return Ok(form_page(
                &signed,
                Mode::New,
                &draft,
                &problems,
                None,
                0,
                StatusCode::BAD_REQUEST,
            ));
        }
    };
    if let Err(refused) = authorise(&signed.principal, &key) {
        let mut problems = Problems::default();
        problems.add(Some("identifier".into()), refused.to_string());
        return Ok(form_page(
            &signed,
            Mode::New,
            &draft,
            &problems,
            None,
            0,
            StatusCode::FORBIDDEN,
        ));
    }
    save(&signed, &state, &key, Mode::New, draft).await
}

/// `POST` under `/console/anchor/`: save the edit form (`…/edit`), delete (`…/delete`) or restore (`…/restore`).
pub async fn post(
    req: HttpRequest,
    posted: Posted,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let Posted { signed, form } = posted;
    match AnchorAction::parse(&state, req.uri().path())? {
        AnchorAction::Edit(key) => {
            authorise(&signed.principal, &key)?;
            let mut draft = Draft::of_form(&form, state.limits.links);
            draft.identifier = key.canonical_path().to_string();
            if let Some(refused) = too_many_rows(&signed, Mode::Edit, &draft, state.limits.links) {
                return Ok(refused);
            }
            if form.has("add-link") {
                return Ok(form_page(
                    &signed,
                    Mode::Edit,
                    &draft,
                    &Problems::default(),
                    None,
                    1,
                    StatusCode::OK,
                ));
            }
            save(&signed, &state, &key, Mode::Edit, draft).await
        }
        AnchorAction::Delete(key) => delete(&signed, &state, &key, &form).await,
        AnchorAction::Restore(key) => restore(&signed, &state, &key).await,
        AnchorAction::View(_) => Err(ApiError::MethodNotAllowed("GET, HEAD").into()),
    }
}

/// Writes the draft as the API's `PUT` would, on the condition of the version the form was loaded from (none: the
/// anchor must not exist). Saved: `303` to the anchor page. Refused: the form again, each problem beside its input.
/// Lost to a change meanwhile: the form again, with the stored record beside it.
async fn save(
    signed: &Signed,
    state: &AppState,
    key: &Identifier,
    mode: Mode,
    mut draft: Draft,
) -> Result<HttpResponse, ConsoleError> {
    let asked = match draft.version.as_str() {
        "" => Precondition::Absent,
        v => match v.parse() {
            Ok(v) => Precondition::Version(vec![v]),
            Err(_) => {
                return Err(ApiError::BadRequest(format!("version={v:?} is not a version")).into());
            }
        },
    };
    let (body, from_row) = match draft.submission() {
        Ok(submission) => submission,
        Err(errors) => {
            let problems = Problems::of_fields(&errors, &(0..draft.rows.len()).collect::<Vec<_>>());
            return Ok(form_page(
                signed,
                mode,
                &draft,
                &problems,
                None,
                0,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
    };
    let how = Write {
        asked,
        // The form lists every stored link, contributed ones included (their attribution kept in `more`), and the
        // save holds only over the version the form was loaded from: the form is the whole list, so a contributed
        // link whose row was removed goes, as a `PUT ?contributions=replace` drops it.
        owner_write: crate::contribution::OwnerWrite::ReplaceContributions,
        who: &signed.principal.name,
        access: &Access::Owner,
        keep_same: true,
    };
    let written = write_body(state, key, &body, how, state.vocabulary()).await;
    let notice = match written {
        Ok((Written::Put(outcome), _)) if outcome.created => "created",
        Ok((Written::Put(_), _)) => "saved",
        Ok((Written::Unchanged(_), _)) => "unchanged",
        Ok((Written::Deleted, _)) => "deleted",
        Err(ApiError::Store(StoreError::PreconditionFailed { .. })) => {
            let stored = state.store.get(key.canonical_path()).await?;
            // Saving again replaces what is stored now (or creates the anchor again, if it was deleted).
            draft.version = stored
                .as_ref()
                .map(|s| s.version.to_string())
                .unwrap_or_default();
            if let Some(stored) = &stored {
                draft.keep_contributions_of(key, stored, &state.vocabulary());
            }
            let conflict = Conflict {
                stored,
                vocabulary: state.vocabulary(),
            };
            return Ok(form_page(
                signed,
                mode,
                &draft,
                &Problems::default(),
                Some(&conflict),
                0,
                StatusCode::CONFLICT,
            ));
        }
        Err(
            refused @ (ApiError::Invalid(_) | ApiError::BadBody(_) | ApiError::TooLargeField(_)),
        ) => {
            let status = refused.status_code();
            let errors = match refused {
                ApiError::Invalid(errors) => errors,
                ApiError::BadBody(e) | ApiError::TooLargeField(e) => vec![e],
                _ => Vec::new(),
            };
            let problems = Problems::of_fields(&errors, &from_row);
            return Ok(form_page(signed, mode, &draft, &problems, None, 0, status));
        }
        Err(other) => return Err(other.into()),
    };
    crate::http::observe::record_write(&signed.principal, "put");
    tracing::info!(
        identifier = key.canonical_path(),
        credential = signed.principal.name,
        notice,
        "console save"
    );
    Ok(see_other(&format!(
        "{}?notice={notice}",
        anchor_url(key, "")
    )))
}

/// The create or edit form, with its problems, and a conflict when a save lost to a change meanwhile. `extra` empty
/// rows are added after the one empty row every form has.
fn form_page(
    signed: &Signed,
    mode: Mode,
    draft: &Draft,
    problems: &Problems,
    conflict: Option<&Conflict>,
    extra: usize,
    status: StatusCode,
) -> HttpResponse {
    let (title, action) = match mode {
        Mode::New => ("New anchor".to_string(), url("/anchors/new")),
        Mode::Edit => (
            format!("Edit {}", draft.identifier),
            format!("{}/anchor/{}/edit", super::ROOT, draft.identifier),
        ),
    };
    let mut rows: Vec<Row> = draft.rows.clone();
    // One empty row to add a link, plus those asked for; trailing empty rows of the posted form are not repeated.
    while rows.last().is_some_and(Row::is_empty) {
        rows.pop();
    }
    rows.extend(std::iter::repeat_with(Row::default).take(1 + extra));
    let field = |id: &'static str,
                 name: &'static str,
                 label: &'static str,
                 value: &str,
                 hint: Option<&'static str>| {
        let error = problems.at(id);
        layout::input(&Field {
            id,
            name,
            label,
            kind: "text",
            value,
            hint,
            error: error.as_deref(),
            autocomplete: Some("off"),
        })
    };
    let body = html! {
        h1 { (title) }
        @if let Some(conflict) = conflict { (conflict_view(conflict, draft)) }
        @if !problems.is_empty() {
            div #form-errors role="alert" tabindex="-1" {
                p { "The anchor was not saved: " (problems.summary.len()) @if problems.summary.len() == 1 { " problem" } @else { " problems" } "." }
                ul {
                    @for (input, message) in &problems.summary {
                        li {
                            @if let Some(id) = input { a href=(format!("#{id}")) { (message) } }
                            @else { (message) }
                        }
                    }
                }
            }
        }
        form #anchor-form method="post" action=(action) novalidate {
            (signed.csrf_field())
            input type="hidden" name="version" value=(draft.version);
            @if mode == Mode::New {
                (field("identifier", "identifier", "Identifier", &draft.identifier, Some("The canonical path, e.g. 01/09520123456788 or 01/09520123456788/10/LOT42")))
            } @else {
                div.field {
                    label for="identifier" { "Identifier" }
                    p.hint #identifier-hint { "An anchor's identifier does not change; to use another, create a new anchor." }
                    input #identifier name="identifier" type="text" value=(draft.identifier) readonly aria-describedby="identifier-hint";
                }
            }
            (field("item-description", "itemDescription", "Description", &draft.description, Some("What the identifier stands for, e.g. the product's name")))
            (field("default-link-type", "defaultLinkType", "Default link type", &draft.default_link_type, Some("Where a plain scan goes, e.g. gs1:pip; empty: the first link's type")))
            fieldset #links {
                legend { "Links" }
                @for (n, row) in rows.iter().enumerate() {
                    (row_view(n, row, problems))
                }
            }
            div.actions {
                button #save type="submit" { "Save" }
                button #add-link.secondary type="submit" name="add-link" value="1" { "Add another link" }
                @if mode == Mode::Edit {
                    a.button.secondary href=(format!("{}/anchor/{}", super::ROOT, draft.identifier)) { "Cancel" }
                }
            }
        }
    };
    layout::respond(
        status,
        layout::page(
            signed,
            if mode == Mode::New {
                Nav::New
            } else {
                Nav::None
            },
            &title,
            body,
        ),
    )
}

/// One link's inputs.
fn row_view(n: usize, row: &Row, problems: &Problems) -> Markup {
    let ids: Vec<String> = ["type", "href", "title", "lang", "media"]
        .iter()
        .map(|part| format!("link-{n}-{part}"))
        .collect();
    let input = |i: usize, label: &str, kind: &str, value: &str, hint: Option<&str>| {
        let error = problems.at(&ids[i]);
        layout::input(&Field {
            id: &ids[i],
            name: &ids[i],
            label,
            kind,
            value,
            hint,
            error: error.as_deref(),
            autocomplete: Some("off"),
        })
    };
    let remove = format!("link-{n}-remove");
    html! {
        fieldset id=(format!("link-{n}")) {
            legend { "Link " (n + 1) @if row.is_empty() { " (new)" } }
            (input(0, "Link type", "text", &row.link_type, (n == 0).then_some("e.g. gs1:pip, untp:dpp")))
            (input(1, "Address (URL)", "url", &row.href, None))
            (input(2, "Title", "text", &row.title, None))
            (input(3, "Languages", "text", &row.lang, (n == 0).then_some("Comma-separated, e.g. en, fr")))
            (input(4, "Media type", "text", &row.media, (n == 0).then_some("e.g. text/html, application/vc+jwt")))
            @if !row.more.is_empty() {
                input type="hidden" name=(format!("link-{n}-more")) value=(row.more);
                p.meta { "Also: " code { (row.more) } }
            }
            @if !row.is_empty() {
                div.field.checkbox {
                    input id=(remove) name=(remove) type="checkbox" value="1" checked[row.remove];
                    label for=(remove) { "Remove this link" }
                }
            }
        }
    }
}

/// What a save lost to: the record stored now beside the one submitted.
fn conflict_view(conflict: &Conflict, draft: &Draft) -> Markup {
    let vocabulary = &conflict.vocabulary;
    html! {
        section #conflict.conflict role="alert" aria-labelledby="conflict-title" {
            h2 #conflict-title { "This anchor changed since you opened the form" }
            @match &conflict.stored {
                Some(stored) => {
                    p { "Someone saved version " (stored.version) " meanwhile. Your changes are below, not saved. Save again to replace version "
                        (stored.version) " with them, or open the anchor to start from what is stored." }
                    h3 { "Stored now (version " (stored.version) ")" }
                    div #conflict-stored {
                        p { strong { (stored.record.item_description) } }
                        (super::anchors::record_view(stored, vocabulary, None))
                    }
                }
                None => {
                    p { "It was deleted meanwhile (or created and deleted). Save again to create it with your changes." }
                }
            }
            h3 { "Yours (not saved)" }
            div #conflict-submitted {
                p { strong { (draft.description) } }
                ul {
                    @for row in draft.rows.iter().filter(|r| !r.is_empty() && !r.remove) {
                        li { (row.link_type) ": " (row.title) " — " (row.href) }
                    }
                }
            }
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
    let deleted = match state
        .store
        .delete(path, precondition, &signed.principal.name)
        .await
    {
        Err(StoreError::PreconditionFailed { current }) => {
            return Ok(stale_delete(signed, key, current));
        }
        other => other?,
    };
    if !deleted {
        return Err(ApiError::NotFound(format!("no anchor {path}")).into());
    }
    crate::http::observe::record_write(&signed.principal, "delete");
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

/// A delete from a page loaded before the anchor changed: nothing was deleted; the page says so and links to the
/// current version, where the delete can be made again (`412`, as the API answers).
fn stale_delete(signed: &Signed, key: &Identifier, current: Option<u64>) -> HttpResponse {
    let path = key.canonical_path();
    let body = html! {
        p.kicker { "Anchor" }
        h1 { "Not deleted: the anchor changed" }
        div #conflict.conflict role="alert" {
            p { "The anchor " code { (path) } " changed since this page was loaded"
                @match current {
                    Some(v) => { " (it is at version " (v) " now)" }
                    None => { " (it is no longer registered)" }
                }
                ". Nothing was deleted." }
            p { a #current-version href=(anchor_url(key, "")) { "See the current version" }
                @if current.is_some() { " and delete it from there if you still want to." } }
        }
    };
    layout::respond(
        StatusCode::PRECONDITION_FAILED,
        layout::page(signed, Nav::None, "Not deleted", body),
    )
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
    crate::http::observe::record_write(&signed.principal, "restore");
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

#[cfg(test)]
mod tests {
    use super::input_of;

    #[test]
    fn api_fields_map_to_the_inputs_of_their_rows() {
        // Submitted link 1 came from row 2 (row 1 was empty).
        let rows = [0, 2];
        let at = |f: &str| input_of(f, &rows).0;
        assert_eq!(at("itemDescription").as_deref(), Some("item-description"));
        assert_eq!(at("defaultLinkType").as_deref(), Some("default-link-type"));
        assert_eq!(at("links[1].href").as_deref(), Some("link-2-href"));
        assert_eq!(at("links[1].linkType").as_deref(), Some("link-2-type"));
        assert_eq!(at("links[0].hreflang[1]").as_deref(), Some("link-0-lang"));
        assert_eq!(at("links[0].type").as_deref(), Some("link-0-media"));
        assert_eq!(at("links[0].title").as_deref(), Some("link-0-title"));
        let (input, label) = input_of("links[1].accessRole[0]", &rows);
        assert_eq!(input.as_deref(), Some("link-2-type"));
        assert_eq!(label.as_deref(), Some("link 3, accessRole[0]"));
        assert_eq!(at("links"), None);
        assert_eq!(at("links[7].href"), None, "no such row");
        assert_eq!(
            super::label_of("link-2-href").as_deref(),
            Some("Link 3, address")
        );
        assert_eq!(
            super::label_of("item-description").as_deref(),
            Some("Description")
        );
        assert_eq!(super::label_of("link-x-href"), None);
    }
}

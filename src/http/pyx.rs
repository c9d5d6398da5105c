//! The Pyx-compatible management API (`/api/2.0.0/…`, `/api/4.0.0/…`): what the UNTP reference implementation's
//! Pyx adapter calls. Registrations go through the same write path, keys and scopes as the native API; link IDs
//! name an identifier and a variant, so they survive re-registration and target changes.

use super::AppState;
use super::access::{Caller, authorise, read_body};
use super::problem::ApiError;
use crate::contribution::{self, OwnerWrite};
use crate::identifier::Identifier;
use crate::identifier::scheme::registered::Registration;
use crate::peer_formats::pyx::Body;
use crate::registration::{self, FieldError, Written};
use crate::registry::record::PREDECESSOR;
use crate::registry::{AnchorRecord, Link, Precondition};
use crate::vocabulary::Vocabulary;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The Pyx API's major versions spoken here: any `2.x.y` (the reference implementation's adapter now asks for
/// `2.0.2`) and `4.x.y`.
fn is_spoken(version: &str) -> bool {
    let mut parts = version.split('.');
    let major = parts.next();
    let numeric = |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    matches!(major, Some("2" | "4")) && parts.clone().count() == 2 && parts.all(numeric)
}

/// Whether a request's path is under `/api/{version}/` with a version spoken here: the guard of the Pyx API's scope.
pub fn spoken_path(path: &str) -> bool {
    let version = path.strip_prefix("/api/").and_then(|p| p.split_once('/'));
    version.is_some_and(|(version, _)| is_spoken(version))
}

/// `/api/{version}/…` with any other version.
pub async fn unknown_version(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (version, _) = version_and_rest(&req);
    Err(ApiError::NotFound(format!(
        "no API version {version:?}; this resolver speaks 2.x.y and 4.x.y"
    )))
}

/// The version and what follows it, as received: `/api/{version}/{rest}`.
fn version_and_rest(req: &HttpRequest) -> (&str, &str) {
    let path = req.uri().path().strip_prefix("/api/").unwrap_or("");
    path.split_once('/').unwrap_or((path, ""))
}

/// `OPTIONS` anywhere under `/api/{version}/`: anonymous.
pub async fn preflight(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let allow = if names_a_namespace(&state, version_and_rest(&req).1) {
        "GET, HEAD, OPTIONS"
    } else {
        "GET, POST, PUT, DELETE, OPTIONS"
    };
    super::guard::preflight(allow)
}

/// `GET …/voc`: every configured link type (anonymous).
pub async fn voc(state: web::Data<AppState>) -> HttpResponse {
    json_response(HttpResponse::Ok(), link_types(&state))
}

/// `GET …/health-check` (anonymous).
pub async fn health() -> HttpResponse {
    json_response(HttpResponse::Ok(), json!({"status": "ok"}))
}

/// `POST …/resolver`.
pub async fn post_resolver(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, &state, &req).await?;
    register(&state, &req, &caller, &body).await
}

/// `POST …/identifiers`.
pub async fn post_identifiers(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, &state, &req).await?;
    register_scheme(&state, &caller, &body).await
}

/// `GET …/resolver/links/{linkId}`.
pub async fn read_link(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (key, link) = authorised_link(&req, &caller, &state)?;
    get_link(&state, &req, &key, &link).await
}

/// `PUT …/resolver/links/{linkId}`.
pub async fn put_link(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (key, link) = authorised_link(&req, &caller, &state)?;
    let bytes = read_body(payload, &state, &req).await?;
    let response = update_link(&state, &req, &key, &link, &bytes, &caller.name).await?;
    super::observe::record_write(&caller, "update_link");
    Ok(response)
}

/// `DELETE …/resolver/links/{linkId}`.
pub async fn remove_link(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (key, link) = authorised_link(&req, &caller, &state)?;
    let response = delete_link(&state, &key, &link, &caller.name).await?;
    super::observe::record_write(&caller, "delete_link");
    Ok(response)
}

/// Any other method on a link: 405, after authentication and the scope check.
pub async fn link_other_method(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    authorised_link(&req, &caller, &state)?;
    Err(ApiError::MethodNotAllowed("GET, PUT, DELETE, OPTIONS"))
}

/// The identifier and variant a link id names, once the caller's scopes are known to cover it.
fn authorised_link(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
) -> Result<(Identifier, String), ApiError> {
    let id = req.match_info().get("link").unwrap_or_default();
    let (key, link) = decode_link_id(state, id)?;
    caller.authorise(&key)?;
    Ok((key, link))
}

/// Anything else under `/api/{version}/` (preflights included): the public URIs the reference implementation builds
/// (`/api/{version}/{namespace}/{keyType}/{key}…`) resolve as `/{namespace}/…` does, anonymously; the rest is no
/// endpoint, said only to a caller with a credential.
pub async fn other(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if req.method() == Method::OPTIONS {
        return Ok(preflight(req, state).await);
    }
    let (version, rest) = version_and_rest(&req);
    if names_a_namespace(&state, rest) {
        let path = &req.uri().path()[req.uri().path().len() - rest.len() - 1..];
        return super::resolve::resolve_path(&req, &state, path).await;
    }
    Caller::of(&req, &state).await?;
    Err(ApiError::NotFound(format!(
        "no such endpoint /api/{version}/{rest}"
    )))
}

/// Whether `rest` starts with a namespace (`gs1` or a scheme's), as the public URIs the reference implementation
/// builds do; no API endpoint is named like one.
fn names_a_namespace(state: &AppState, rest: &str) -> bool {
    const ENDPOINTS: [&str; 4] = ["resolver", "identifiers", "voc", "health-check"];
    let first = rest.split('/').next().unwrap_or_default();
    !ENDPOINTS.contains(&first)
        && (first.eq_ignore_ascii_case("gs1") || state.parser.is_namespace(first))
}

/// `POST …/resolver`: one identifier's links, merged into its anchor.
#[utoipa::path(post, path = "/api/{version}/resolver", tag = "pyx", summary = "Register one identifier's links (Pyx-compatible)",
    params(("version" = String, Path, description = "2.0.0 or 4.0.0", example = "2.0.0")),
    security(("bearer" = [])),
    request_body(content = crate::peer_formats::pyx::Body),
    responses(
        (status = 201, description = "Registered", body = super::views::PyxRegistered, example = json!(super::views::pyx_registered_example())),
        (status = 400, description = "Malformed body or unknown namespace", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 403, description = "Out of scope", body = super::views::Problem, example = json!(super::views::problem_example(403)))
    ))]
pub(super) async fn register(
    state: &AppState,
    req: &HttpRequest,
    principal: &crate::auth::Principal,
    bytes: &[u8],
) -> Result<HttpResponse, ApiError> {
    let body: Body = parse_json(bytes)?;
    if !body.namespace.eq_ignore_ascii_case("gs1") && !state.parser.is_namespace(&body.namespace) {
        return Err(ApiError::BadBody(FieldError::new(
            "namespace",
            format!(
                "unknown namespace {:?}; register it first with POST /api/{{version}}/identifiers",
                body.namespace
            ),
        )));
    }
    let key = state.parser.parse_key(&body.identifier_path())?;
    authorise(principal, &key)?;
    let links = validated_links(state, &key, &body.responses)?;
    let root = state.origin(req);
    if !body.active {
        return unpublish(state, principal, &key, &root).await;
    }
    let publication = Publication::of(&body, links);
    let vocabulary = state.vocabulary();
    let written = registration::write(
        state.write_target(&key),
        Precondition::None,
        &principal.name,
        // Like the native API's owner writes: contributed links the publication replaced or took down are kept.
        |current| {
            let merged = publication.merge(current, &key, &vocabulary);
            contribution::as_owner(current, merged, OwnerWrite::KeepContributions).map(Some)
        },
    )
    .await
    .map_err(pyx_fields)?;
    tracing::info!(
        identifier = key.canonical_path(),
        credential = principal.name,
        "links registered (Pyx API)"
    );
    super::observe::record_write(principal, "register");
    let Written::Put(outcome) = written else {
        unreachable!("a registration keeps the anchor")
    };
    // Each submitted link as stored: the ID it has there, which a re-registration of its variant keeps.
    let stored = &outcome.stored.record;
    let responses: Vec<Value> = publication
        .links
        .iter()
        .filter(|(_, active, _)| *active)
        .filter_map(|(link, _, _)| find_variant(stored, link, &vocabulary))
        .map(|l| link_json(state, &root, &key, l))
        .collect();
    let answer = json!({
        "resolverUri": key.uri_under(&root),
        "identifier": key.canonical_path(),
        "linkResponses": responses,
    });
    Ok(json_response(HttpResponse::Created(), answer))
}

/// A registration whose top level says `active: false`: nothing is published, and what the identifier had is
/// taken down (a soft delete: `POST /api/v1/anchors/{identifier}:restore` brings it back).
async fn unpublish(
    state: &AppState,
    principal: &crate::auth::Principal,
    key: &Identifier,
    root: &str,
) -> Result<HttpResponse, ApiError> {
    registration::write(
        state.write_target(key),
        Precondition::None,
        &principal.name,
        |_| Ok(None),
    )
    .await?;
    tracing::info!(
        identifier = key.canonical_path(),
        credential = principal.name,
        "identifier unpublished (Pyx API, active: false)"
    );
    super::observe::record_write(principal, "unpublish");
    let answer = json!({
        "resolverUri": key.uri_under(root),
        "identifier": key.canonical_path(),
        "active": false,
        "linkResponses": [],
        "message": "the identifier is not published (active: false)",
    });
    Ok(json_response(HttpResponse::Ok(), answer))
}

/// Validates every response as a native link, naming fields the way the body does (`responses[2].targetUrl`).
fn validated_links(
    state: &AppState,
    key: &Identifier,
    responses: &[crate::peer_formats::pyx::Response],
) -> Result<Vec<Link>, ApiError> {
    let mut links = Vec::with_capacity(responses.len());
    for (i, r) in responses.iter().enumerate() {
        let link = r.to_link().map_err(|e| {
            ApiError::BadBody(FieldError::new(
                format!("responses[{i}].linkTitle"),
                e.to_string(),
            ))
        })?;
        links.push(link);
    }
    let submission = json!({"itemDescription": key.canonical_path(), "links": links});
    let parsed = registration::parse_value(submission).map_err(|e| ApiError::BadBody(rename(e)))?;
    let validated = registration::validate(
        parsed,
        &state.vocabulary(),
        key.scheme(),
        &state.limits,
        &state.codes,
    )
    .map_err(|errors| ApiError::Invalid(errors.into_iter().map(rename).collect()))?;
    Ok(validated.record.links)
}

/// A native field name as the Pyx body names it.
fn rename(mut e: FieldError) -> FieldError {
    if e.field == "links" {
        e.field = "responses".into();
    }
    e.field = e
        .field
        .replace("links[", "responses[")
        .replace(".href", ".targetUrl")
        .replace(".title", ".linkTitle")
        .replace(".type", ".mimeType")
        .replace(".hreflang", ".ianaLanguage");
    e
}

/// A write's refusal, named as the Pyx body names things where it can be (`responses` for the links).
fn pyx_fields(e: registration::WriteError) -> ApiError {
    match e {
        registration::WriteError::Invalid(errors) => {
            ApiError::Invalid(errors.into_iter().map(rename).collect())
        }
        e => e.into(),
    }
}

/// What one `POST …/resolver` asks for.
struct Publication {
    /// (link, active, flagged as its type's default variant), in body order.
    links: Vec<(Link, bool, bool)>,
    default_type: Option<String>,
    description: Option<String>,
}

impl Publication {
    fn of(body: &Body, links: Vec<Link>) -> Publication {
        let default_type = body
            .responses
            .iter()
            .zip(&links)
            .find(|(r, _)| r.active && r.default_link_type)
            .map(|(_, l)| l.link_type.clone());
        let links = body
            .responses
            .iter()
            .zip(links)
            .map(|(r, l)| {
                let flagged = r.default_mime_type || r.default_iana_language || r.default_context;
                (l, r.active, flagged)
            })
            .collect();
        let description = body
            .item_description
            .clone()
            .filter(|d| !d.trim().is_empty());
        Publication {
            links,
            default_type,
            description,
        }
    }

    /// The current record with the active variants added or replaced in place (a replaced link keeps its ID) and
    /// the inactive ones taken down. A variant flagged as a default moves first among its link type (the variant
    /// negotiation falls back to). Earlier targets are `versions::merge`'s business: the write path keeps them.
    fn merge(
        &self,
        current: Option<&AnchorRecord>,
        key: &Identifier,
        vocab: &Vocabulary,
    ) -> AnchorRecord {
        let mut record = current.cloned().unwrap_or_else(|| AnchorRecord {
            item_description: key.canonical_path().to_string(),
            default_link_type: None,
            links: vec![],
        });
        for (link, active, flagged) in &self.links {
            let replaced = record
                .links
                .iter()
                .find(|l| !l.is_predecessor() && l.same_variant(link, vocab))
                .map(tag_of);
            if !*active {
                record.links.retain(|l| !l.same_variant(link, vocab));
                continue;
            }
            record
                .links
                .retain(|l| l.is_predecessor() || !l.same_variant(link, vocab));
            let mut link = link.clone();
            let tag = replaced.unwrap_or_else(|| fresh_tag(&record, &link));
            set_tag(&mut link, tag);
            let position = if *flagged {
                record
                    .links
                    .iter()
                    .position(|l| l.link_type == link.link_type)
                    .unwrap_or(record.links.len())
            } else {
                record.links.len()
            };
            record.links.insert(position, link);
        }
        if let Some(t) = &self.default_type {
            record.default_link_type = Some(t.clone());
        }
        if let Some(d) = &self.description {
            record.item_description = d.clone();
        }
        record
    }
}

/// The stored link of `link`'s variant.
fn find_variant<'r>(record: &'r AnchorRecord, link: &Link, vocab: &Vocabulary) -> Option<&'r Link> {
    record
        .links
        .iter()
        .find(|l| !l.is_predecessor() && l.same_variant(link, vocab))
}

/// A digest of a variant's identity: link type, media type, languages, context and roles (what negotiation tells
/// apart), with `salt` when an earlier link holds the plain one.
fn variant_digest(l: &Link, salt: u32) -> String {
    // The link type as stored, not its relation: IDs given before spellings were one relation stay as they were.
    let (media_type, hreflang, context, access_role) = l.negotiation_attributes();
    let mut parts = vec![
        l.link_type.clone(),
        media_type.clone().unwrap_or_default(),
        hreflang.join(","),
        context.join(","),
        access_role.join(","),
    ];
    // Unsalted, the digest is the one IDs were made of before links kept their names.
    if salt > 0 {
        parts.push(salt.to_string());
    }
    let digest = Sha256::digest(parts.join("\u{1f}"));
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The part of a link's ID after the identifier: the one it was given when first registered, kept across every
/// change; for a link registered otherwise, its variant's digest.
fn tag_of(l: &Link) -> String {
    match stored_tag(l) {
        Some(tag) => tag.to_string(),
        None => variant_digest(l, 0),
    }
}

/// A tag for a new link: its variant's digest, unless another link of the record holds that one already (a link
/// that kept its ID through a change of variant).
fn fresh_tag(record: &AnchorRecord, link: &Link) -> String {
    let taken = |tag: &str| {
        record
            .links
            .iter()
            .any(|l| !l.is_predecessor() && tag_of(l) == tag)
    };
    (0..)
        .map(|salt| variant_digest(link, salt))
        .find(|tag| !taken(tag))
        .expect("some salt is free")
}

/// `{base64url(canonical identifier)}.{tag}`: resolvable without an index, stable while the link exists.
fn link_id(key: &Identifier, link: &Link) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(key.canonical_path()),
        tag_of(link)
    )
}

fn decode_link_id(state: &AppState, id: &str) -> Result<(Identifier, String), ApiError> {
    let unknown = || ApiError::NotFound(format!("no link {id:?}"));
    let (encoded, tag) = id.split_once('.').ok_or_else(unknown)?;
    let path = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unknown)?;
    let key = state.parser.parse_key(&path).map_err(|_| unknown())?;
    Ok((key, tag.to_string()))
}

fn link_json(state: &AppState, root: &str, key: &Identifier, l: &Link) -> Value {
    let curie = state
        .vocabulary()
        .by_uri(&l.link_type)
        .map_or(l.link_type.clone(), |d| d.curie.clone());
    json!({
        "linkId": link_id(key, l),
        "id": link_id(key, l),
        "linkType": curie,
        "targetUrl": l.href,
        "linkTitle": l.title,
        "title": l.title,
        "mimeType": l.media_type,
        "ianaLanguage": l.hreflang.first(),
        "hreflang": l.hreflang,
        "context": l.context.first(),
        "identifier": key.canonical_path(),
        "resolverUri": key.uri_under(root),
        "fwqs": l.forwards_query,
        "active": true,
    })
}

/// The current link named `tag` in `record`.
fn position_of(record: &AnchorRecord, tag: &str) -> Option<usize> {
    record
        .links
        .iter()
        .position(|l| !l.is_predecessor() && tag_of(l) == tag)
}

async fn find_link(state: &AppState, key: &Identifier, tag: &str) -> Result<Link, ApiError> {
    let record = state.store.get(key.canonical_path()).await?;
    record
        .and_then(|r| position_of(&r.record, tag).map(|at| r.record.links[at].clone()))
        .ok_or_else(|| ApiError::NotFound(format!("no such link for {}", key.canonical_path())))
}

#[utoipa::path(get, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Read one link",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The link", body = super::views::PyxLink, example = json!(super::views::pyx_link_example())),
        (status = 404, description = "Unknown or deleted link", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn get_link(
    state: &AppState,
    req: &HttpRequest,
    key: &Identifier,
    tag: &str,
) -> Result<HttpResponse, ApiError> {
    let link = find_link(state, key, tag).await?;
    Ok(json_response(
        HttpResponse::Ok(),
        link_json(state, &state.origin(req), key, &link),
    ))
}

/// Any subset of a link's fields to change.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct LinkUpdate {
    target_url: Option<String>,
    link_type: Option<String>,
    mime_type: Option<String>,
    link_title: Option<String>,
    /// v4's name for `linkTitle`; both may be sent when they agree.
    title: Option<String>,
}

impl LinkUpdate {
    /// `link` with the update applied. `Err`: an unknown link type, or two titles that differ.
    fn apply(&self, state: &AppState, mut link: Link) -> Result<Link, ApiError> {
        if let Some(t) = &self.link_type {
            let vocabulary = state.vocabulary();
            let def = vocabulary.lookup(t).ok_or_else(|| {
                ApiError::BadBody(FieldError::new(
                    "linkType",
                    format!("unknown link type {t:?}; see /voc?show=linktypes"),
                ))
            })?;
            link.link_type = def.uri.clone();
        }
        if let Some(u) = &self.target_url {
            link.href = u.clone();
        }
        if let Some(m) = &self.mime_type {
            link.media_type = Some(m.clone()).filter(|m| !m.is_empty());
        }
        match (&self.link_title, &self.title) {
            (Some(a), Some(b)) if a != b => {
                return Err(ApiError::BadBody(FieldError::new(
                    "linkTitle",
                    "linkTitle and title differ; send one of them, or both alike",
                )));
            }
            (Some(t), _) | (None, Some(t)) => link.title = t.clone(),
            (None, None) => {}
        }
        Ok(link)
    }
}

/// `PUT …/resolver/links/{id}`: changes some of a link's fields. A new target keeps the old one as a predecessor;
/// the link keeps its ID whatever changes.
#[utoipa::path(put, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Change a link's target, type, media type or title",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration; it does not change", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    request_body(content = LinkUpdate, example = json!({"targetUrl": "https://credentials.example/dpp/abc-v2.jwt", "linkTitle": "DPP v2"})),
    responses(
        (status = 200, description = "The updated link", body = super::views::PyxLink, example = json!(super::views::pyx_link_example())),
        (status = 404, description = "Unknown link", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn update_link(
    state: &AppState,
    req: &HttpRequest,
    key: &Identifier,
    tag: &str,
    bytes: &[u8],
    who: &str,
) -> Result<HttpResponse, ApiError> {
    let update: LinkUpdate = parse_json(bytes)?;
    let found = find_link(state, key, tag).await?;
    if let Some(by) = &found.contributor {
        return Err(ApiError::Invalid(vec![contributed(by)]));
    }
    update.apply(state, found)?;
    let vocabulary = state.vocabulary();
    let gone = || vec![FieldError::new("linkId", "the link was deleted meanwhile")];
    let written = registration::write(
        state.write_target(key),
        Precondition::None,
        who,
        |current| {
            let mut record = current.ok_or_else(gone)?.clone();
            let at = position_of(&record, tag).ok_or_else(gone)?;
            let old = record.links[at].clone();
            if let Some(by) = &old.contributor {
                return Err(vec![contributed(by)]);
            }
            let mut link = update.apply(state, old.clone()).map_err(|_| gone())?;
            set_tag(&mut link, tag.to_string());
            // The link's earlier targets follow it into its new variant.
            for l in record
                .links
                .iter_mut()
                .filter(|l| l.is_predecessor() && l.same_variant(&old, &vocabulary))
            {
                l.link_type.clone_from(&link.link_type);
                l.media_type.clone_from(&link.media_type);
            }
            if !old.same_variant(&link, &vocabulary) && old.href != link.href {
                // The replaced target, which the merge would not find under the new variant.
                let mut replaced = old.clone();
                replaced.link_type.clone_from(&link.link_type);
                replaced.media_type.clone_from(&link.media_type);
                replaced.id = None;
                replaced.rel.insert(0, PREDECESSOR.to_string());
                record.links.insert(at + 1, replaced);
            }
            record.links[at] = link;
            forget_missing_default(&mut record);
            Ok(Some(record))
        },
    )
    .await
    .map_err(pyx_fields)?;
    let Written::Put(outcome) = written else {
        unreachable!("an update keeps the anchor")
    };
    let record = &outcome.stored.record;
    let at =
        position_of(record, tag).ok_or_else(|| ApiError::NotFound(format!("no link {tag}")))?;
    Ok(json_response(
        HttpResponse::Ok(),
        link_json(state, &state.origin(req), key, &record.links[at]),
    ))
}

/// Why a contributed link is not changed through the Pyx API: its `contributor` would then name a target the
/// contributor never chose.
fn contributed(by: &str) -> FieldError {
    FieldError::refused(
        "linkId",
        format!(
            "this link was added by {by}, a lifecycle contributor, and only it changes it; delete the link, or change              your own links (rule: contributed links stay attributed to what their contributor wrote)"
        ),
    )
}

/// `DELETE …/resolver/links/{id}`: removes the variant and its earlier targets; an anchor left with no links goes.
#[utoipa::path(delete, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Delete a link (and its earlier targets)",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = super::views::Message, example = json!({"message": "link deleted"})),
        (status = 404, description = "Unknown link", body = super::views::Problem, example = json!(super::views::problem_example(404)))
    ))]
pub(super) async fn delete_link(
    state: &AppState,
    key: &Identifier,
    tag: &str,
    who: &str,
) -> Result<HttpResponse, ApiError> {
    find_link(state, key, tag).await?;
    let vocabulary = state.vocabulary();
    registration::write(
        state.write_target(key),
        Precondition::None,
        who,
        |current| {
            let Some(current) = current else {
                return Ok(None);
            };
            let mut record = current.clone();
            let Some(at) = position_of(&record, tag) else {
                return Ok(Some(record));
            };
            let link = record.links.remove(at);
            record
                .links
                .retain(|l| !(l.is_predecessor() && l.same_variant(&link, &vocabulary)));
            if record.links.is_empty() {
                return Ok(None);
            }
            forget_missing_default(&mut record);
            Ok(Some(record))
        },
    )
    .await
    .map_err(pyx_fields)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"message":"link deleted"}"#))
}

/// A default link type whose last link changed type or went: the record inherits its ancestors' default again, or
/// takes its first link's type (`registration::settle_default`).
fn forget_missing_default(record: &mut AnchorRecord) {
    if let Some(t) = &record.default_link_type {
        if !record.has_link_type(t) {
            record.default_link_type = None;
        }
    }
}

/// The name a link keeps when its variant changes, if it has one (`Link::id`).
fn stored_tag(l: &Link) -> Option<&str> {
    l.id.as_deref()
}

/// Names `l` by `tag`, storing the name only where its variant would not give it anyway.
fn set_tag(l: &mut Link, tag: String) {
    l.id = (tag != variant_digest(l, 0)).then_some(tag);
}

/// `POST …/identifiers`: a scheme registered at run time, stored, then resolvable under `/{namespace}/…`.
#[utoipa::path(post, path = "/api/{version}/identifiers", tag = "pyx", summary = "Register an identifier scheme at run time",
    params(("version" = String, Path, description = "2.0.0 or 4.0.0", example = "2.0.0")),
    security(("bearer" = [])),
    request_body(content = crate::identifier::scheme::registered::Registration),
    responses(
        (status = 201, description = "Stored and resolvable under /{namespace}/…", body = super::views::Message, example = json!({"namespace": "acme", "message": "scheme registered"})),
        (status = 400, description = "A bad entry, named by field", body = super::views::Problem, example = json!(super::views::problem_example(400))),
        (status = 409, description = "The namespace would capture GS1 Digital Link URIs (a compressed segment, a configured custom stem); errors[0].field is namespace", body = super::views::Problem, example = json!(super::views::problem_example(409)))
    ))]
pub(super) async fn register_scheme(
    state: &AppState,
    principal: &crate::auth::Principal,
    bytes: &[u8],
) -> Result<HttpResponse, ApiError> {
    let registration: Registration = parse_json(bytes)?;
    if !principal.may_access(&format!("{}/", registration.namespace)) {
        return Err(ApiError::Forbidden {
            identifier: format!("{}/*", registration.namespace),
            held: principal
                .scopes
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if registration.namespace.eq_ignore_ascii_case("gs1") {
        // GS1 keeps its native validation whatever is posted.
        let body =
            json!({"namespace": "gs1", "message": "gs1 is built in; its native rules apply"});
        return Ok(json_response(HttpResponse::Ok(), body));
    }
    let definition =
        serde_json::to_string(&registration).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut scheme = registration.compile().map_err(scheme_error)?;
    scheme.definition = definition.clone();
    // Check against the set in force before storing, so nothing unusable is ever stored.
    let mut probe = registration.compile().map_err(scheme_error)?;
    probe.definition = definition.clone();
    let schemes = state.parser.schemes();
    // A namespace that would capture GS1 URIs conflicts with the GS1 scheme: 409, naming the field.
    schemes
        .check_shadowing(&probe)
        .map_err(|p| ApiError::Conflict(FieldError::new(p.field, p.reason)))?;
    schemes.with_registered(probe).map_err(scheme_error)?;
    state
        .documents
        .put_scheme(&registration.namespace, &definition)
        .await?;
    state.parser.register(scheme).map_err(scheme_error)?;
    tracing::info!(
        namespace = registration.namespace,
        credential = principal.name,
        "scheme registered"
    );
    Ok(json_response(
        HttpResponse::Created(),
        json!({"namespace": registration.namespace, "message": "scheme registered"}),
    ))
}

fn scheme_error(p: crate::identifier::scheme::FieldProblem) -> ApiError {
    ApiError::BadBody(FieldError::new(p.field, p.reason))
}

/// `…/voc?show=linktypes`: every link type as `{"namespace", "type", "title", "description"}`.
pub fn link_types(state: &AppState) -> Value {
    let vocabulary = state.vocabulary();
    let all: Vec<Value> = vocabulary
        .all()
        .iter()
        .map(|d| {
            let (prefix, term) = d.curie.split_once(':').unwrap_or(("", &d.curie));
            let mut entry = json!({"namespace": prefix, "type": term, "title": d.title, "description": d.description});
            let same = vocabulary.same_as(d);
            if !same.is_empty() {
                entry["sameAs"] = json!(same);
            }
            entry
        })
        .collect();
    Value::Array(all)
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::BadBody(FieldError::new(field, e.into_inner().to_string()))
    })
}

fn json_response(mut builder: actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    builder
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/json")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IDs handed out before links kept their names must still find their links: the unsalted digest is the one
    /// a780a3d made (SHA-256 of the variant's fields joined by U+001F, first 8 bytes; value computed outside Rust).
    #[test]
    fn ids_handed_out_earlier_still_name_their_links() {
        let link = Link {
            link_type: "https://test.uncefact.org/vocabulary/linkTypes/dpp".into(),
            href: "https://cred.example/dpp.json".into(),
            title: "DPP".into(),
            media_type: Some("application/json".into()),
            hreflang: vec!["en".into()],
            context: vec!["au".into()],
            rel: vec![],
            method: vec![],
            encryption_method: None,
            access_role: vec![],
            forwards_query: false,
            id: None,
            contributor: None,
        };
        assert_eq!(tag_of(&link), "27e4e9350f743f6f");
        assert_ne!(variant_digest(&link, 1), tag_of(&link));
    }
}

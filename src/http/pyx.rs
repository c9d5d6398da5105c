//! The Pyx-compatible management API (`/api/2.0.0/…`, `/api/4.0.0/…`): what the UNTP reference implementation's
//! Pyx adapter calls. Registrations go through the same write path, keys and scopes as the native API; link IDs
//! name an identifier and a variant, so they survive re-registration and target changes.

use super::AppState;
use super::manage::{authorise, read_body};
use super::problem::ApiError;
use crate::identifier::Identifier;
use crate::identifier::scheme::registered::Registration;
use crate::peer_formats::pyx::Body;
use crate::registration::{self, FieldError, Written};
use crate::registry::{AnchorRecord, Link, Precondition};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const VERSIONS: &[&str] = &["2.0.0", "4.0.0"];

pub async fn route(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let path = req.uri().path().strip_prefix("/api/").unwrap_or("");
    let (version, rest) = path.split_once('/').unwrap_or((path, ""));
    if !VERSIONS.contains(&version) {
        return Err(ApiError::NotFound(format!(
            "no API version {version:?}; this resolver speaks 2.0.0 and 4.0.0"
        )));
    }
    if req.method() == Method::OPTIONS {
        return Ok(super::resolve::preflight("GET, POST, PUT, DELETE, OPTIONS"));
    }
    if rest == "voc" && matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(json_response(HttpResponse::Ok(), link_types(&state)));
    }
    let principal = super::credential::authenticate(&req, &state).await?;
    state
        .rate_limiter
        .check(&principal.name)
        .map_err(ApiError::TooManyRequests)?;
    let body = |p| read_body(p, &state, &req);
    match (req.method().clone(), rest) {
        (Method::POST, "resolver") => {
            register(&state, &req, &principal, &body(payload).await?).await
        }
        (Method::POST, "identifiers") => {
            register_scheme(&state, &principal, &body(payload).await?).await
        }
        (method, rest) => match rest.strip_prefix("resolver/links/") {
            Some(id) => {
                let (key, variant) = decode_link_id(&state, id)?;
                authorise(&principal, &key)?;
                match method {
                    Method::GET | Method::HEAD => get_link(&state, &req, &key, &variant).await,
                    Method::PUT => {
                        let bytes = body(payload).await?;
                        let r = update_link(&state, &req, &key, &variant, &bytes, &principal.name)
                            .await?;
                        super::observe::record_write(&principal, "update_link");
                        Ok(r)
                    }
                    Method::DELETE => {
                        let r = delete_link(&state, &key, &variant, &principal.name).await?;
                        super::observe::record_write(&principal, "delete_link");
                        Ok(r)
                    }
                    _ => Err(ApiError::MethodNotAllowed("GET, PUT, DELETE, OPTIONS")),
                }
            }
            None => Err(ApiError::NotFound(format!(
                "no such endpoint /api/{version}/{rest}"
            ))),
        },
    }
}

/// `POST …/resolver`: one identifier's links, merged into its anchor.
#[utoipa::path(post, path = "/api/{version}/resolver", tag = "pyx", summary = "Register one identifier's links (Pyx-compatible)",
    params(("version" = String, Path, description = "2.0.0 or 4.0.0", example = "2.0.0")),
    security(("bearer" = [])),
    request_body(content = crate::peer_formats::pyx::Body),
    responses(
        (status = 201, description = "Registered", body = super::openapi::PyxRegistered, example = json!(super::openapi::pyx_registered_example())),
        (status = 400, description = "Malformed body or unknown namespace", body = super::openapi::Problem, example = json!(super::openapi::problem_example(400))),
        (status = 403, description = "Out of scope", body = super::openapi::Problem, example = json!(super::openapi::problem_example(403)))
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
    let submitted: Vec<_> = body.responses.iter().filter(|r| r.active).collect();
    let links = validated_links(state, &key, &submitted)?;
    let default_type = submitted
        .iter()
        .zip(&links)
        .find(|(r, _)| r.default_link_type)
        .map(|(_, l)| l.link_type.clone());
    let flagged: Vec<bool> = submitted
        .iter()
        .map(|r| r.default_mime_type || r.default_iana_language || r.default_context)
        .collect();
    let description = body
        .item_description
        .clone()
        .filter(|d| !d.trim().is_empty());
    registration::write(
        state.store.as_ref(),
        &key,
        Precondition::None,
        &principal.name,
        |current| {
            Ok(Some(merge(
                current,
                &key,
                &links,
                &flagged,
                default_type.as_deref(),
                description.as_deref(),
            )))
        },
    )
    .await?;
    tracing::info!(
        identifier = key.canonical_path(),
        credential = principal.name,
        "links registered (Pyx API)"
    );
    super::observe::record_write(principal, "register");
    let root = state.origin(req);
    let responses: Vec<Value> = links
        .iter()
        .map(|l| link_json(state, &root, &key, l))
        .collect();
    let answer = json!({
        "resolverUri": key.uri_under(&root),
        "identifier": key.canonical_path(),
        "linkResponses": responses,
    });
    Ok(json_response(HttpResponse::Created(), answer))
}

/// Validates the responses as native links, naming fields the way the body does (`responses[2].targetUrl`).
fn validated_links(
    state: &AppState,
    key: &Identifier,
    responses: &[&crate::peer_formats::pyx::Response],
) -> Result<Vec<Link>, ApiError> {
    let submission = json!({"itemDescription": key.canonical_path(), "links": responses.iter().map(|r| r.to_link()).collect::<Vec<_>>()});
    let rename = |mut e: FieldError| {
        e.field = e
            .field
            .replace("links[", "responses[")
            .replace(".href", ".targetUrl")
            .replace(".title", ".linkTitle")
            .replace(".type", ".mimeType")
            .replace(".hreflang", ".ianaLanguage");
        e
    };
    let parsed = registration::parse_value(submission).map_err(|e| ApiError::BadBody(rename(e)))?;
    let validated = registration::validate(parsed, &state.vocabulary, key.scheme())
        .map_err(|errors| ApiError::Invalid(errors.into_iter().map(rename).collect()))?;
    Ok(validated.record.links)
}

/// The current record with the submitted variants added or replaced in place; a variant flagged as a default moves
/// first among its link type (the variant negotiation falls back to).
fn merge(
    current: Option<&AnchorRecord>,
    key: &Identifier,
    links: &[Link],
    flagged: &[bool],
    default_type: Option<&str>,
    description: Option<&str>,
) -> AnchorRecord {
    let mut record = current.cloned().unwrap_or_else(|| AnchorRecord {
        item_description: key.canonical_path().to_string(),
        default_link_type: None,
        links: vec![],
    });
    for (link, &flag) in links.iter().zip(flagged) {
        record
            .links
            .retain(|l| !(is_current(l) && variant_id(l) == variant_id(link)));
        let position = if flag {
            record
                .links
                .iter()
                .position(|l| l.link_type == link.link_type)
                .unwrap_or(record.links.len())
        } else {
            record.links.len()
        };
        record.links.insert(position, link.clone());
    }
    if let Some(t) = default_type {
        record.default_link_type = Some(t.to_string());
    }
    if let Some(d) = description {
        record.item_description = d.to_string();
    }
    record
}

fn is_current(l: &Link) -> bool {
    !l.rel
        .iter()
        .any(|r| r.eq_ignore_ascii_case("predecessor-version"))
}

/// A variant's identity: link type, media type, languages, context and roles (what negotiation tells apart).
fn variant_id(l: &Link) -> String {
    let digest = Sha256::digest(
        [
            l.link_type.as_str(),
            l.media_type.as_deref().unwrap_or(""),
            &l.hreflang.join(","),
            &l.context.join(","),
            &l.access_role.join(","),
        ]
        .join("\u{1f}"),
    );
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `{base64url(canonical identifier)}.{variant}`: resolvable without an index, stable while the variant exists.
fn link_id(key: &Identifier, link: &Link) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(key.canonical_path()),
        variant_id(link)
    )
}

fn decode_link_id(state: &AppState, id: &str) -> Result<(Identifier, String), ApiError> {
    let unknown = || ApiError::NotFound(format!("no link {id:?}"));
    let (encoded, variant) = id.split_once('.').ok_or_else(unknown)?;
    let path = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unknown)?;
    let key = state.parser.parse_key(&path).map_err(|_| unknown())?;
    Ok((key, variant.to_string()))
}

fn link_json(state: &AppState, root: &str, key: &Identifier, l: &Link) -> Value {
    let curie = state
        .vocabulary
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

async fn find_link(state: &AppState, key: &Identifier, variant: &str) -> Result<Link, ApiError> {
    let record = state.store.get(key.canonical_path()).await?;
    record
        .and_then(|r| {
            r.record
                .links
                .iter()
                .find(|l| is_current(l) && variant_id(l) == variant)
                .cloned()
        })
        .ok_or_else(|| ApiError::NotFound(format!("no such link for {}", key.canonical_path())))
}

#[utoipa::path(get, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Read one link",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The link", body = super::openapi::PyxLink, example = json!(super::openapi::pyx_link_example())),
        (status = 404, description = "Unknown or deleted link", body = super::openapi::Problem, example = json!(super::openapi::problem_example(404)))
    ))]
pub(super) async fn get_link(
    state: &AppState,
    req: &HttpRequest,
    key: &Identifier,
    variant: &str,
) -> Result<HttpResponse, ApiError> {
    let link = find_link(state, key, variant).await?;
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
    #[serde(alias = "title")]
    link_title: Option<String>,
}

/// `PUT …/resolver/links/{id}`: changes some of a link's fields. A new target keeps the old one as a predecessor.
#[utoipa::path(put, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Change a link's target, type, media type or title",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    request_body(content = super::openapi::PyxLinkUpdate, example = json!({"targetUrl": "https://credentials.example/dpp/abc-v2.jwt", "linkTitle": "DPP v2"})),
    responses(
        (status = 200, description = "The updated link", body = super::openapi::PyxLink, example = json!(super::openapi::pyx_link_example())),
        (status = 404, description = "Unknown link", body = super::openapi::Problem, example = json!(super::openapi::problem_example(404)))
    ))]
pub(super) async fn update_link(
    state: &AppState,
    req: &HttpRequest,
    key: &Identifier,
    variant: &str,
    bytes: &[u8],
    who: &str,
) -> Result<HttpResponse, ApiError> {
    let update: LinkUpdate = parse_json(bytes)?;
    let mut link = find_link(state, key, variant).await?;
    if let Some(t) = &update.link_type {
        let def = state.vocabulary.lookup(t).ok_or_else(|| {
            ApiError::BadBody(FieldError::new(
                "linkType",
                format!("unknown link type {t:?}; see /voc?show=linktypes"),
            ))
        })?;
        link.link_type = def.uri.clone();
    }
    if let Some(u) = update.target_url {
        link.href = u;
    }
    if let Some(m) = update.mime_type {
        link.media_type = Some(m).filter(|m| !m.is_empty());
    }
    if let Some(t) = update.link_title {
        link.title = t;
    }
    let updated = link.clone();
    let written = registration::write(
        state.store.as_ref(),
        key,
        Precondition::None,
        who,
        |current| {
            let Some(current) = current else {
                return Err(vec![FieldError::new(
                    "linkId",
                    "the link was deleted meanwhile",
                )]);
            };
            let mut record = current.clone();
            let Some(at) = record
                .links
                .iter()
                .position(|l| is_current(l) && variant_id(l) == variant)
            else {
                return Err(vec![FieldError::new(
                    "linkId",
                    "the link was deleted meanwhile",
                )]);
            };
            record.links[at] = updated.clone();
            revalidate(state, key, record).map(Some)
        },
    )
    .await?;
    let Written::Put(_) = written else {
        unreachable!("an update keeps the anchor")
    };
    Ok(json_response(
        HttpResponse::Ok(),
        link_json(state, &state.origin(req), key, &link),
    ))
}

/// Runs the native validation over a record changed in place (a link type or media type may have changed).
fn revalidate(
    state: &AppState,
    key: &Identifier,
    record: AnchorRecord,
) -> Result<AnchorRecord, Vec<FieldError>> {
    let value =
        serde_json::to_value(&record).map_err(|e| vec![FieldError::new("body", e.to_string())])?;
    let parsed = registration::parse_value(value).map_err(|e| vec![e])?;
    registration::validate(parsed, &state.vocabulary, key.scheme()).map(|v| v.record)
}

/// `DELETE …/resolver/links/{id}`: removes the variant and its earlier targets; an anchor left with no links goes.
#[utoipa::path(delete, path = "/api/{version}/resolver/links/{linkId}", tag = "pyx", summary = "Delete a link (and its earlier targets)",
    params(("version" = String, Path, example = "2.0.0"), ("linkId" = String, Path, description = "As returned by registration", example = "MDEvMDk1MjAxMjM0NTY3ODg.3f2a9c1e0b7d4a55")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = super::openapi::Message, example = json!({"message": "link deleted"})),
        (status = 404, description = "Unknown link", body = super::openapi::Problem, example = json!(super::openapi::problem_example(404)))
    ))]
pub(super) async fn delete_link(
    state: &AppState,
    key: &Identifier,
    variant: &str,
    who: &str,
) -> Result<HttpResponse, ApiError> {
    find_link(state, key, variant).await?;
    registration::write(
        state.store.as_ref(),
        key,
        Precondition::None,
        who,
        |current| {
            let Some(current) = current else {
                return Ok(None);
            };
            let mut record = current.clone();
            record.links.retain(|l| variant_id(l) != variant);
            if record.links.is_empty() {
                return Ok(None);
            }
            if let Some(t) = &record.default_link_type {
                if !record.links.iter().any(|l| &l.link_type == t) {
                    record.default_link_type = None;
                }
            }
            Ok(Some(record))
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"message":"link deleted"}"#))
}

/// `POST …/identifiers`: a scheme registered at run time, stored, then resolvable under `/{namespace}/…`.
#[utoipa::path(post, path = "/api/{version}/identifiers", tag = "pyx", summary = "Register an identifier scheme at run time",
    params(("version" = String, Path, description = "2.0.0 or 4.0.0", example = "2.0.0")),
    security(("bearer" = [])),
    request_body(content = crate::identifier::scheme::registered::Registration),
    responses(
        (status = 201, description = "Stored and resolvable under /{namespace}/…", body = super::openapi::Message, example = json!({"namespace": "acme", "message": "scheme registered"})),
        (status = 400, description = "A bad entry, named by field", body = super::openapi::Problem, example = json!(super::openapi::problem_example(400)))
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
    state
        .parser
        .schemes()
        .with_registered(probe)
        .map_err(scheme_error)?;
    state
        .store
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
    let all: Vec<Value> = state
        .vocabulary
        .all()
        .iter()
        .map(|d| {
            let (prefix, term) = d.curie.split_once(':').unwrap_or(("", &d.curie));
            json!({"namespace": prefix, "type": term, "title": d.title, "description": d.description})
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

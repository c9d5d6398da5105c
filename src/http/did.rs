//! `GET /did:web:{…}`: resolves the DID and answers like a GS1 scan does, with a `307` to one service endpoint or
//! a `200` linkset of all of them (see `did::services` for the choice).

use super::AppState;
use super::guard::preflight;
use super::problem::ApiError;
use super::views::LINKSET_JSON;
use crate::did::DidError;
use crate::did::linksets;
use crate::did::services::{self, Selection, Selector};
use crate::identifier::did_web::{DidWeb, DidWebError};
use crate::negotiate::{self, Preferences};
use crate::resolution::{forward_query, query_param};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

const ALLOW: &str = "GET, HEAD, OPTIONS";

pub async fn resolve(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return Ok(preflight(ALLOW)),
        _ => return Err(ApiError::MethodNotAllowed(ALLOW)),
    }
    let raw_query = req.uri().query().unwrap_or("");
    tracing::debug!(path = req.uri().path(), query = %super::redact_query(raw_query), "did:web request");
    let resolver = state.did_web.as_deref().ok_or(DidError::Disabled)?;
    let did = did_in_path(req.uri().path())
        .and_then(DidWeb::parse)
        .map_err(DidError::from)?;
    let document = resolver.resolve(&did).await?;
    let links = services::links(&document, &state.vocabulary());
    let header = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let selector = Selector::new(
        negotiate::wants_linkset(header(header::ACCEPT)),
        query_param(raw_query, "service"),
        query_param(raw_query, "linkType"),
        query_param(raw_query, "serviceType"),
        &state.vocabulary(),
    );
    let preferences = Preferences::new(
        query_param(raw_query, "language")
            .as_deref()
            .or(header(header::ACCEPT_LANGUAGE)),
        header(header::ACCEPT),
        None,
    );
    let anchor = format!("{}/{}", state.origin(&req), did.as_str());
    let linkset_link =
        format!("<{anchor}?linkType=linkset>; rel=\"linkset\"; type=\"{LINKSET_JSON}\"");
    // `service=` names one of the document's own services, resolver or not.
    let resolver_service = linksets::resolver_service(&links, &state.vocabulary())
        .filter(|_| selector.service.is_none())
        .map(|s| &s.link);
    let delegated = match resolver_service {
        Some(service) => {
            let remote = resolver
                .linkset(&did, &service.href, &state.vocabulary())
                .await?;
            from_resolver(&remote, &selector, &preferences, &state, raw_query)
        }
        None => None,
    };
    let mut response = match delegated {
        Some(response) => response,
        None => match (
            services::select(&links, &selector, &preferences, &state.vocabulary()),
            resolver_service,
        ) {
            (Selection::Redirect(link), _) => redirect(forward_query(&link.href, raw_query)),
            // A plain scan the linkset has no default for: the resolver's linkset URL.
            (Selection::Linkset | Selection::NoMatch(_), Some(service))
                if !selector.linkset && selector.relation.is_none() =>
            {
                redirect(service.href.clone())
            }
            (Selection::Linkset, _) => {
                let body = services::linkset(&anchor, did.as_str(), &links);
                HttpResponse::Ok()
                    .insert_header((header::CONTENT_TYPE, LINKSET_JSON))
                    .insert_header(("X-Robots-Tag", "noindex"))
                    .body(body.to_string())
            }
            (Selection::NoMatch(wanted), _) => {
                return Err(ApiError::NotFound(format!(
                    "the DID document of {did} has no {wanted}"
                )));
            }
        },
    };
    finish(&mut response, &linkset_link);
    Ok(response)
}

/// The answer from the linkset a DID's resolver service publishes (GS1's negotiation): the linkset itself when one
/// is wanted; for a link type, a `307` to that type's best target; with none, a `307` to the default link (or the
/// `untp:dpp` link). `None`: the linkset has nothing of the type asked for, or no default, so
/// the document's own services answer (and, for a plain scan, the resolver's linkset URL after them).
fn from_resolver(
    remote: &linksets::RemoteLinkset,
    selector: &Selector,
    preferences: &Preferences,
    state: &AppState,
    raw_query: &str,
) -> Option<HttpResponse> {
    if selector.linkset {
        return Some(
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, LINKSET_JSON))
                .insert_header(("X-Robots-Tag", "noindex"))
                .body(remote.normalised(&state.vocabulary()).to_string()),
        );
    }
    let relation = selector.relation.as_deref();
    linksets::choose(remote, relation, preferences, &state.vocabulary())
        .map(|link| redirect(forward_query(&link.href, raw_query)))
}

fn redirect(location: String) -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The headers every did:web answer carries.
fn finish(response: &mut HttpResponse, linkset_link: &str) {
    let headers = response.headers_mut();
    headers.insert(
        header::VARY,
        header::HeaderValue::from_static("Accept, Accept-Language"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    if let Ok(value) = header::HeaderValue::from_str(linkset_link) {
        headers.insert(header::LINK, value);
    }
}

/// `GET /{identifier}/did.json`: a DID document for an identifier registered here, so that
/// `did:web:{host}:{path segments}` resolves through any did:web resolver to the same links as the anchor.
pub async fn hosted(
    req: &HttpRequest,
    state: &AppState,
    identifier: &crate::identifier::Identifier,
) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        actix_web::http::Method::GET | actix_web::http::Method::HEAD => {}
        actix_web::http::Method::OPTIONS => {
            return Ok(super::guard::preflight("GET, HEAD, OPTIONS"));
        }
        _ => return Err(ApiError::MethodNotAllowed("GET, HEAD, OPTIONS")),
    }
    let Some(stored) = state.store.get(identifier.canonical_path()).await? else {
        return Err(ApiError::NotFound(format!(
            "nothing is registered for {}, so it has no DID document",
            identifier.canonical_path()
        )));
    };
    let origin = state.origin(req);
    let path = identifier.public_path();
    let did = crate::did::hosting::did_for(&origin, &path)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let anchor = format!("{origin}/{path}");
    let document =
        crate::did::hosting::document(&did, &anchor, &stored.record, &state.vocabulary());
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/did+json"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(document.to_string()))
}

/// The DID in `/did:web:…`, allowing the one trailing slash of UNTP's deep-link form (`/did:web:x/?service=y`).
fn did_in_path(path: &str) -> Result<&str, DidWebError> {
    let did = path.strip_prefix('/').unwrap_or(path);
    let did = did.strip_suffix('/').unwrap_or(did);
    match did.split_once('/') {
        Some((_, rest)) => Err(DidWebError::DidUrlPath(rest.chars().take(80).collect())),
        None => Ok(did),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_did_is_the_whole_path() {
        assert_eq!(did_in_path("/did:web:a.example"), Ok("did:web:a.example"));
        assert_eq!(did_in_path("/did:web:a.example/"), Ok("did:web:a.example"));
        assert!(matches!(
            did_in_path("/did:web:a.example/path/x"),
            Err(DidWebError::DidUrlPath(rest)) if rest == "path/x"
        ));
    }
}

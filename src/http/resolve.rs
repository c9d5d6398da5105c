//! Public, anonymous resolution: GET, HEAD and OPTIONS on any identifier path.

use super::AppState;
use super::freshness::{EntityTag, Freshness};
use super::guard::preflight;
use super::html;
use super::observe::RouteLabel;
use super::problem::ApiError;
use super::views::LINKSET_JSON;
use crate::config::VerificationMode;
use crate::identifier::Identifier;
use crate::negotiate;
use crate::resolution::{self, LinkTypeQuery, Outcome, Query, forward_query};
use crate::vocabulary::Vocabulary;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

const JSONLD_CONTEXT: &str = "<https://ref.gs1.org/standards/resolver/linkset-context>; \
    rel=\"http://www.w3.org/ns/json-ld#context\"; type=\"application/ld+json\"";
const JSONLD_CONTEXT_URL: &str = "https://ref.gs1.org/standards/resolver/1.2.0/linkset-context";
const HANDLED_BY: &str = "https://gs1.org/voc/handledBy";
const ALLOW: &str = "GET, HEAD, OPTIONS";
// Fixed header values, built at compile time rather than validated on every scan.
const VARY: header::HeaderValue = header::HeaderValue::from_static("Accept, Accept-Language");
const NO_STORE: header::HeaderValue = header::HeaderValue::from_static("no-store");
const ROBOTS: header::HeaderName = header::HeaderName::from_static("x-robots-tag");
const NOINDEX: header::HeaderValue = header::HeaderValue::from_static("noindex");
const LINKSET_TYPE: header::HeaderValue = header::HeaderValue::from_static(LINKSET_JSON);
const JSON_LD_TYPE: header::HeaderValue = header::HeaderValue::from_static("application/ld+json");

pub async fn resolve(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if req.uri().path().starts_with("/did:") {
        req.extensions_mut().insert(RouteLabel::DID);
        return super::did::resolve(req, state).await;
    }
    if let Some(identifier) = hosted_did(&state, req.uri().path()) {
        if matches!(*req.method(), Method::GET | Method::HEAD) {
            return super::did::hosted(&req, &state, &identifier).await;
        }
    }
    resolve_path(&req, &state, req.uri().path()).await
}

/// Resolves `path` (an identifier path, with the request's query and headers): `/{path}` as a scan, whether it
/// came at the root or under another prefix (`/api/{version}/…`).
pub async fn resolve_path(
    req: &HttpRequest,
    state: &AppState,
    path: &str,
) -> Result<HttpResponse, ApiError> {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => return Ok(options(req, state, path)),
        _ => return Err(ApiError::MethodNotAllowed(ALLOW)),
    }
    let raw_query = req.uri().query().unwrap_or("");
    tracing::debug!(path, query = %super::redact_query(raw_query), "resolve");
    let request = state.parser.parse_request(path, raw_query)?;
    // A compressed segment may carry query pairs: answer as for the uncompressed URI.
    let raw_query = request.query.as_deref().unwrap_or(raw_query);
    // One vocabulary for the whole request, though an issuer may register one meanwhile.
    let vocabulary = state.vocabulary();
    let query = build_query(req, raw_query, &vocabulary);
    req.extensions_mut()
        .insert(link_type_label(&query.link_type, &vocabulary));
    let root = state.origin(req);
    let verification = state.verification.as_ref();
    // In `enforce` mode a scan passes over a target whose credential failed verification: one in-memory check per
    // candidate of the type looked for.
    let pass_over =
        |anchor: &str, link_type: &str, href: &str| verification.refused(anchor, link_type, href);
    let enforced = verification.mode() == VerificationMode::Enforce;
    let mut resolved = resolution::resolve(
        state.store.as_ref(),
        &request.identifier,
        &query,
        &root,
        &state.delegations,
        enforced.then_some(&pass_over as resolution::PassOver<'_>),
    )
    .await?;
    if let Outcome::Linkset(body) | Outcome::MultipleChoices(body) = &mut resolved.outcome {
        show_verification(verification, &request.identifier, &root, body).await;
    }
    let caching = Caching {
        freshness: &state.freshness,
        stale: resolved.stale,
        request: req,
        access_role: query.access_role.as_deref(),
    };
    let mut response = respond(
        resolved.outcome,
        (&request.identifier, request.carried.as_deref()),
        &root,
        raw_query,
        (&query.preferences, &vocabulary),
        &caching,
    );
    if resolved.stale {
        // The shared store could not be reached; this answer comes from the replica's cache.
        let warning = header::HeaderValue::from_static("110 - \"Response is Stale\"");
        response.headers_mut().insert(header::WARNING, warning);
    }
    Ok(response)
}

/// Unless verification is off, each credential link of a linkset (or a `300`'s choices) shows its verification state
/// (`Linkset::show_verification`): the verdicts of the levels shown, read in one call. A store that cannot give them
/// leaves the states out (logged) rather than failing the scan.
async fn show_verification(
    verification: &crate::verification::Verification,
    key: &Identifier,
    root: &str,
    body: &mut crate::linkset::Linkset,
) {
    // No store read for a linkset without credential links (most of them).
    if verification.mode() == VerificationMode::Off || !body.has_credential_links() {
        return;
    }
    let levels = key.levels();
    let uris: Vec<String> = levels.iter().map(|l| l.uri_under(root)).collect();
    let path_of = |anchor: &str| {
        let at = uris.iter().position(|u| u == anchor)?;
        Some(levels[at].canonical_path())
    };
    let shown: Vec<Option<&str>> = body.anchors().map(path_of).collect();
    let asked: Vec<&str> = shown.iter().flatten().copied().collect();
    let mut stored = match verification.verdicts(&asked).await {
        Ok(stored) => stored.into_iter(),
        Err(e) => {
            tracing::warn!(error = %e, "verification verdicts unavailable; linkset shown without them");
            return;
        }
    };
    let verdicts: Vec<_> = shown
        .iter()
        .map(|path| path.and_then(|_| stored.next().flatten()))
        .collect();
    let status_href = |anchor: &str| match path_of(anchor) {
        Some(path) => format!("{root}/api/v1/anchors/{path}/verification"),
        None => format!("{anchor}?linkType=linkset"),
    };
    body.show_verification(&verdicts, &status_href);
}

/// OPTIONS: the CORS preflight, with the `Link` header a GET carries when the path is an identifier (its linkset
/// and `owl:sameAs`; GS1's test suite reads `linkOnRedirect` from this answer). Neither depends on the store, so
/// nothing is looked up. A path that is not an identifier still gets its preflight, never a 400.
fn options(req: &HttpRequest, state: &AppState, path: &str) -> HttpResponse {
    let mut response = preflight(ALLOW);
    let raw_query = req.uri().query().unwrap_or("");
    if let Ok(request) = state.parser.parse_request(path, raw_query) {
        let canonical = request.identifier.uri_under(&state.origin(req));
        let same_as = same_as(&canonical, request.carried.as_deref());
        if let Ok(link) = header::HeaderValue::from_str(&linkset_link(&canonical, &same_as, "")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    response
}

/// `/{identifier}/did.json`, when what precedes `/did.json` is an identifier (`/01/…/10/did.json` is a batch called
/// "did.json", since `/01/…/10` is not an identifier).
fn hosted_did(state: &AppState, path: &str) -> Option<Identifier> {
    let id = path.strip_suffix("/did.json")?;
    state
        .parser
        .parse_request(id, "")
        .ok()
        .map(|r| r.identifier)
}

/// The requested link type as a metric label: bounded by the vocabulary (unknown spellings are one value).
fn link_type_label(q: &LinkTypeQuery, vocabulary: &Vocabulary) -> super::observe::LinkTypeLabel {
    use std::borrow::Cow;
    let label = match q {
        LinkTypeQuery::Default => Cow::Borrowed("default"),
        LinkTypeQuery::Linkset => Cow::Borrowed("linkset"),
        LinkTypeQuery::Unknown(_) => Cow::Borrowed("unknown"),
        LinkTypeQuery::Type(uri) => vocabulary
            .by_uri(uri)
            .map_or(Cow::Borrowed("unknown"), |d| Cow::Owned(d.curie.clone())),
    };
    super::observe::LinkTypeLabel(label)
}

fn header_value(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn build_query(
    req: &HttpRequest,
    raw_query: &str,
    vocabulary: &std::sync::Arc<Vocabulary>,
) -> Query {
    let header = |name: header::HeaderName| header_value(req, name);
    Query::from_parts(
        raw_query,
        header(header::ACCEPT),
        header(header::ACCEPT_LANGUAGE),
        vocabulary,
    )
}

/// What decides whether and how an answer may be cached.
struct Caching<'a> {
    freshness: &'a Freshness,
    /// Computed from the replica's cache while the store could not be reached.
    stale: bool,
    /// For `If-None-Match`.
    request: &'a HttpRequest,
    /// Filters a linkset's links, so its `ETag` depends on it.
    access_role: Option<&'a str>,
}

/// How a linkset (`200`) or a set of choices (`300`) is written, from `Accept`.
enum LinksetFormat<'a> {
    Json,
    JsonLd,
    /// For people: browsers prefer `text/html` to JSON.
    Html(&'a Vocabulary),
}

impl<'a> LinksetFormat<'a> {
    fn negotiate(accept: &negotiate::Preferences, vocabulary: &'a Vocabulary) -> Self {
        if accept.prefers_html() {
            LinksetFormat::Html(vocabulary)
        } else if accept.prefers_json_ld() {
            LinksetFormat::JsonLd
        } else {
            LinksetFormat::Json
        }
    }

    /// Tells the forms apart in an `ETag`.
    fn tag(&self) -> u8 {
        match self {
            LinksetFormat::Json => 0,
            LinksetFormat::JsonLd => 1,
            LinksetFormat::Html(_) => 2,
        }
    }
}

/// The URI `owl:sameAs` names: the canonical URI, with the data attributes compressed data carried (an EPC string's
/// +AIDC data or DSGTIN+ date, a compressed segment's AIs) as the uncompressed URI's query.
fn same_as(canonical: &str, carried: Option<&str>) -> String {
    match carried {
        Some(query) => format!("{canonical}?{query}"),
        None => canonical.to_string(),
    }
}

fn respond(
    outcome: Outcome,
    (key, carried): (&Identifier, Option<&str>),
    root: &str,
    raw_query: &str,
    (accept, vocabulary): (&negotiate::Preferences, &Vocabulary),
    caching: &Caching<'_>,
) -> HttpResponse {
    let canonical = key.uri_under(root);
    let same_as = same_as(&canonical, carried);
    let multiple_choices = matches!(outcome, Outcome::MultipleChoices(_));
    let mut response = match &outcome {
        Outcome::Redirect { .. } | Outcome::Delegated { .. } => HttpResponse::TemporaryRedirect(),
        Outcome::Linkset(_) => HttpResponse::Ok(),
        Outcome::MultipleChoices(_) => HttpResponse::build(StatusCode::MULTIPLE_CHOICES),
        Outcome::UnknownIdentifier | Outcome::NoSuchLinkType(_) => HttpResponse::NotFound(),
    };
    response.insert_header((header::VARY, VARY));
    // Errors (the 404s) are never cached; every other outcome is a redirect, a linkset or a set of choices.
    let cache_control = match outcome {
        Outcome::UnknownIdentifier | Outcome::NoSuchLinkType(_) => NO_STORE,
        _ => caching.freshness.cache_control(caching.stale),
    };
    response.insert_header((header::CACHE_CONTROL, cache_control));
    match outcome {
        Outcome::Redirect {
            href,
            forward_query: forward,
        } => {
            // A link registered with `fwqs: false` gets its bare target.
            let location = if forward {
                forward_query(&href, raw_query)
            } else {
                href
            };
            response.insert_header((header::LOCATION, location));
            response.insert_header((header::LINK, linkset_link(&canonical, &same_as, "")));
            response.finish()
        }
        Outcome::Delegated { target } => {
            // GS1: a delegation is annotated with handledBy instead of the linkset link.
            response.insert_header((header::LINK, format!("<{target}>; rel=\"{HANDLED_BY}\"")));
            response.insert_header((header::LOCATION, forward_query(&target, raw_query)));
            response.finish()
        }
        Outcome::Linkset(mut body) | Outcome::MultipleChoices(mut body) => {
            // Only a linkset's form is negotiated; a redirect needs none of it.
            let format = LinksetFormat::negotiate(accept, vocabulary);
            // A 300's choices depend on the negotiation, not only on versions: cached by max-age, no `ETag`.
            if !multiple_choices && caching.freshness.cacheable(caching.stale) {
                let etag = caching.freshness.linkset_etag(
                    &body,
                    format.tag(),
                    caching.access_role,
                    &canonical,
                );
                if etag.none_match(caching.request) {
                    return not_modified(caching, etag);
                }
                response.insert_header((header::ETAG, etag.header_value()));
            }
            response.insert_header((ROBOTS, NOINDEX));
            if let LinksetFormat::Html(vocabulary) = format {
                response.insert_header((header::LINK, linkset_link(&canonical, &same_as, "")));
                response.insert_header((header::CONTENT_TYPE, html::CONTENT_TYPE));
                let csp = html::CONTENT_SECURITY_POLICY.as_str();
                response.insert_header((header::CONTENT_SECURITY_POLICY, csp));
                return response.body(html::render(&html::Page {
                    identifier: key.canonical_path(),
                    uri: &canonical,
                    linkset: &body.to_value(),
                    multiple_choices,
                    vocabulary,
                    contributions: &body.contributions(),
                    verification: &body.verification(),
                }));
            }
            let links = linkset_link(&canonical, &same_as, JSONLD_CONTEXT);
            response.insert_header((header::LINK, links));
            if let LinksetFormat::JsonLd = format {
                body.context = Some(JSONLD_CONTEXT_URL);
                response.insert_header((header::CONTENT_TYPE, JSON_LD_TYPE));
            } else {
                response.insert_header((header::CONTENT_TYPE, LINKSET_TYPE));
            }
            response.body(body.to_json())
        }
        Outcome::UnknownIdentifier => {
            not_found(response, format!("nothing is registered for {canonical}"))
        }
        Outcome::NoSuchLinkType(t) => {
            response.insert_header((header::LINK, linkset_link(&canonical, &same_as, "")));
            not_found(
                response,
                format!("no link of type {t} is registered for {canonical} or its ancestors"),
            )
        }
    }
}

/// `Link`: the linkset of the identifier and its canonical URI as `owl:sameAs` (GS1: every answer points to its
/// linkset), then `more` links if not empty.
fn linkset_link(canonical: &str, same_as: &str, more: &str) -> String {
    const LINKSET: &str =
        "?linkType=linkset>; rel=\"linkset\"; type=\"application/linkset+json\", <";
    const SAME_AS: &str = ">; rel=\"owl:sameAs\"";
    let separator = if more.is_empty() { "" } else { ", " };
    let parts = ["<", canonical, LINKSET, same_as, SAME_AS, separator, more];
    let mut link = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        link.push_str(part);
    }
    link
}

/// `304` for a linkset the client holds: the headers a `200` would carry that a cache must update (RFC 9110 15.4.5),
/// no body.
fn not_modified(caching: &Caching<'_>, etag: EntityTag) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::VARY, VARY))
        .insert_header((
            header::CACHE_CONTROL,
            caching.freshness.cache_control(false),
        ))
        .insert_header((header::ETAG, etag.header_value()))
        .finish()
}

/// A resolution 404 keeps the resolution headers (`Vary`, the linkset `Link`), so it is built here with the shared
/// problem body rather than through `ApiError`.
fn not_found(mut response: actix_web::HttpResponseBuilder, detail: String) -> HttpResponse {
    let body = super::problem::problem_body(StatusCode::NOT_FOUND, "Not found", &detail);
    response.insert_header((header::CONTENT_TYPE, super::problem::PROBLEM_JSON));
    response.body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolution::query_param;

    #[test]
    fn the_link_header_names_the_linkset_and_the_canonical_uri() {
        assert_eq!(
            linkset_link(
                "https://id.example.com/01/09520123456788",
                "https://id.example.com/01/09520123456788",
                ""
            ),
            "<https://id.example.com/01/09520123456788?linkType=linkset>; rel=\"linkset\"; \
             type=\"application/linkset+json\", <https://id.example.com/01/09520123456788>; rel=\"owl:sameAs\""
        );
        assert_eq!(
            linkset_link(
                "https://r.example/01/1",
                "https://r.example/01/1?17=261231",
                "<https://c.example/>; rel=\"x\""
            ),
            "<https://r.example/01/1?linkType=linkset>; rel=\"linkset\"; type=\"application/linkset+json\", \
             <https://r.example/01/1?17=261231>; rel=\"owl:sameAs\", <https://c.example/>; rel=\"x\""
        );
    }

    #[test]
    fn query_forwarding() {
        assert_eq!(
            forward_query("https://a.example/p", ""),
            "https://a.example/p"
        );
        assert_eq!(
            forward_query("https://a.example/p", "foo=bar"),
            "https://a.example/p?foo=bar"
        );
        assert_eq!(
            forward_query("https://a.example/p?x=1", "foo=bar"),
            "https://a.example/p?x=1&foo=bar"
        );
        assert_eq!(
            forward_query("https://a.example/p?", "a;b"),
            "https://a.example/p?a;b"
        );
        assert_eq!(
            forward_query("https://a.example/p#top", "q=1"),
            "https://a.example/p?q=1#top"
        );
    }

    #[test]
    fn query_params_decode_once() {
        assert_eq!(
            query_param("a=1&linkType=gs1%3Apip", "linkType").as_deref(),
            Some("gs1:pip")
        );
        assert_eq!(
            query_param("accessRole=untp:accessRole%23Customer", "accessRole").as_deref(),
            Some("untp:accessRole#Customer")
        );
        assert_eq!(query_param("linkTypes=x", "linkType"), None);
        assert_eq!(
            query_param("linkType=&linkType=pip", "linkType").as_deref(),
            Some("pip")
        );
        assert_eq!(query_param("language=", "language"), None);
        assert_eq!(
            query_param("a=1;linkType=pip", "linkType"),
            None,
            "`;` is not a separator"
        );
    }
}

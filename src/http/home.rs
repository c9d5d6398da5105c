//! `GET /`: what a browser opening the resolver's root sees (what this is, a box to resolve an identifier, where the
//! description file and the API docs are), and, for every other client, a JSON pointer to the description file.
//! The page loads nothing from anywhere: no scripts, fonts or images; its style is the HTML view's, allowed by hash.

use super::AppState;
use super::problem::ApiError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use maud::{DOCTYPE, PreEscaped, html};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Where the resolver describes itself (GS1 and UNTP read it).
const DESCRIPTION: &str = "/.well-known/resolver";
const API_DOCS: &str = "/api/docs";
const OPENAPI: &str = "/api/openapi.json";

/// The HTML view's style plus the form's.
static STYLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}form{{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}}\
         input{{flex:1 1 16rem;font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:.25rem;\
         background:var(--card);color:var(--fg)}}\
         button{{font:inherit;padding:.5rem 1rem;border-radius:.25rem;border:1px solid var(--line)}}\
         label{{display:block;width:100%;font-weight:600}}",
        super::html::CSS
    )
});

/// Only the page's own style (by hash) may apply, and the form may only submit to this host.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
});

/// Characters escaped when a typed identifier becomes this host's path: everything a `Location` may not carry, and
/// `\`, which browsers read as `/` (`/\host` would leave this host).
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if let Some(r) = super::wellknown::read_only(&req)? {
        return Ok(r);
    }
    // A form submits a space as `+`.
    let query = req.query_string().replace('+', "%20");
    if let Some(target) = crate::resolution::query_param(&query, "id")
        .as_deref()
        .and_then(resolve_target)
    {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, target))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let root = state.origin(&req);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "max-age=300"))
        .insert_header((
            header::LINK,
            format!("<{root}{DESCRIPTION}>; rel=\"describedby\"; type=\"application/json\""),
        ));
    if crate::negotiate::Preferences::new(None, accept, None).prefers_html() {
        return Ok(response
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                CONTENT_SECURITY_POLICY.as_str(),
            ))
            .content_type(super::html::CONTENT_TYPE)
            .body(page(&state.settings.resolver.name, &root)));
    }
    let body = json!({
        "name": state.settings.resolver.name,
        "resolverDescription": format!("{root}{DESCRIPTION}"),
        "openapi": format!("{root}{OPENAPI}"),
        "apiDocs": format!("{root}{API_DOCS}"),
    });
    Ok(response
        .content_type("application/json")
        .body(body.to_string()))
}

/// The path on this host that resolves what someone typed into the form: an identifier path (`01/09520123456788`,
/// with or without the leading `/`) or a whole URI, whose path and query are kept and whose host is not (the form
/// resolves here, it never sends anyone elsewhere). `None` when nothing was typed.
fn resolve_target(typed: &str) -> Option<String> {
    let typed = typed.trim();
    let path = match url::Url::parse(typed) {
        Ok(uri) if matches!(uri.scheme(), "http" | "https") => {
            let mut path = uri.path().to_string();
            if let Some(query) = uri.query() {
                path.push('?');
                path.push_str(query);
            }
            path
        }
        _ => typed.to_string(),
    };
    let path = path.trim_start_matches(['/', '\\']);
    if path.is_empty() {
        return None;
    }
    Some(format!("/{}", utf8_percent_encode(path, PATH_ESCAPES)))
}

fn page(name: &str, root: &str) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (name) }
                style { (PreEscaped(STYLE.as_str())) }
            }
            body {
                main {
                    header {
                        p.kicker { "Identity resolver" }
                        h1 { (name) }
                    }
                    p {
                        "This is a link resolver (ISO/IEC 18975) for GS1 Digital Link and UN Transparency Protocol \
                         identifiers at " code { (root) } ". Scanning a product's QR code leads here; the resolver \
                         answers with the right target (a product page, a Digital Product Passport, a credential) \
                         or with the list of every link registered for the identifier."
                    }
                    form action="/" method="get" {
                        label for="id" { "Resolve an identifier" }
                        input #id name="id" type="text" required
                            placeholder="01/09520123456788/10/ABC"
                            autocomplete="off" spellcheck="false";
                        button type="submit" { "Resolve" }
                    }
                    section {
                        h2 { "For developers" }
                        ul {
                            li {
                                a href=(DESCRIPTION) { "Resolver description" }
                                p.meta { "The identifier schemes and link types this resolver knows (JSON)." }
                            }
                            li {
                                a href=(API_DOCS) { "Management API documentation" }
                                p.meta { "Registering links, keys and scopes (OpenAPI 3.1: " a href=(OPENAPI) { "openapi.json" } ")." }
                            }
                            li {
                                a href="/voc?show=linktypes" { "Link types" }
                                p.meta { "Every link type a link may be registered with." }
                            }
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}

#[cfg(test)]
mod tests {
    use super::resolve_target;

    #[test]
    fn typed_identifiers_become_paths_on_this_host() {
        assert_eq!(
            resolve_target(" 01/09520123456788/10/ABC ").as_deref(),
            Some("/01/09520123456788/10/ABC")
        );
        assert_eq!(
            resolve_target("/01/09520123456788").as_deref(),
            Some("/01/09520123456788")
        );
        assert_eq!(
            resolve_target("https://id.example.com/01/09520123456788?linkType=gs1:pip").as_deref(),
            Some("/01/09520123456788?linkType=gs1:pip")
        );
        assert_eq!(
            resolve_target("01/ABC DEF#x").as_deref(),
            Some("/01/ABC%20DEF%23x")
        );
        assert_eq!(resolve_target("   "), None);
        assert_eq!(resolve_target("https://evil.example"), None);
    }

    #[test]
    fn nothing_typed_leaves_this_host() {
        for typed in [
            "//evil.example/x",
            "\\\\evil.example",
            "/\\evil.example",
            "https://evil.example//evil.example/x",
        ] {
            let target = resolve_target(typed).expect("a path");
            assert!(target.starts_with('/'), "{typed} → {target}");
            assert!(
                !target.starts_with("//") && !target.starts_with("/\\"),
                "{typed} → {target}"
            );
        }
    }
}

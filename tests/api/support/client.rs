//! What the tests ask of a running resolver, whether it runs in process (`TestApp`) or as a subprocess (`Server`):
//! a request builder per endpoint, the admin and scoped request builders, and the checks tests make of answers.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

/// The admin token every test resolver is started with (`IDR_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// An HTTP client that follows no redirects: a resolver's answer is the redirect.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The endpoints of a running resolver. Implementors say where it listens.
#[allow(async_fn_in_trait)]
pub trait Api {
    /// `http://127.0.0.1:{port}`.
    fn base(&self) -> &str;

    fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base(), path_and_query)
    }

    /// An anonymous request.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        client().request(method, self.url(path))
    }

    /// A request as the admin (`ADMIN_TOKEN`).
    fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.scoped(ADMIN_TOKEN, method, path)
    }

    /// A request with a bearer token (an API key, a scoped token).
    fn scoped(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// PUT an anchor as the admin; panics unless it is accepted, and returns the JSON answer.
    async fn put_anchor(&self, identifier: &str, body: Value) -> Value {
        let response = self
            .admin(Method::PUT, &anchor_path(identifier))
            .json(&body)
            .send()
            .await
            .expect("PUT");
        let status = response.status();
        let text = response.text().await.expect("body");
        assert!(status.is_success(), "PUT {identifier} → {status}: {text}");
        serde_json::from_str(&text).expect("JSON answer")
    }

    /// GET an anchor as the admin.
    async fn get_anchor(&self, identifier: &str) -> Response {
        self.admin(Method::GET, &anchor_path(identifier))
            .send()
            .await
            .expect("GET")
    }

    /// DELETE an anchor as the admin.
    async fn delete_anchor(&self, identifier: &str) -> Response {
        self.admin(Method::DELETE, &anchor_path(identifier))
            .send()
            .await
            .expect("DELETE")
    }

    /// An anonymous request with these headers, sent (redirects are not followed).
    async fn send_with(&self, method: Method, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.request(method.clone(), path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// GET a path with these headers, as a scanner or browser would.
    async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.send_with(Method::GET, path, headers).await
    }

    /// GET a path as a scanner would (redirects are not followed).
    async fn resolve(&self, path: &str) -> Response {
        self.get_with(path, &[]).await
    }

    /// GET a path asking for its linkset (`Accept: application/linkset+json`).
    async fn linkset(&self, path: &str) -> Response {
        self.get_with(path, &[("accept", "application/linkset+json")])
            .await
    }
}

/// The management API path of an anchor.
pub fn anchor_path(identifier: &str) -> String {
    format!("/api/v1/anchors/{identifier}")
}

/// The `Location` header, or "" when there is none.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ASCII Location").to_string())
        .unwrap_or_default()
}

/// Asserts an RFC 9457 problem with `status` (status code, content type, `status` member) and returns its body.
pub async fn problem(response: Response, status: u16) -> Value {
    let url = response.url().clone();
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "{url}: {text}");
    assert_eq!(content_type, "application/problem+json", "{url}");
    let body: Value = serde_json::from_str(&text).expect("problem JSON");
    assert_eq!(body["status"], status, "{body}");
    body
}

//! A form as a browser posts it: `application/x-www-form-urlencoded`, within `server.max_body_bytes`.

use super::ConsoleError;
use crate::http::AppState;
use crate::http::problem::ApiError;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use std::collections::HashMap;

/// The fields of a posted form: the first value of each name (a name may repeat; later values are ignored), indexed
/// once so that a page reading many names costs one lookup each, whatever the size of the body.
#[derive(Debug, Default)]
pub struct Form {
    fields: HashMap<String, String>,
}

impl Form {
    /// Reads the body of `req`: `415` unless it is urlencoded, `413` beyond `server.max_body_bytes`.
    pub async fn read(
        req: &HttpRequest,
        mut payload: web::Payload,
        state: &AppState,
    ) -> Result<Form, ConsoleError> {
        let urlencoded = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !urlencoded {
            return Err(ConsoleError::UnsupportedForm);
        }
        let limit = state.settings.server.max_body_bytes;
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("could not read the form: {e}")))?;
            if body.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge(limit).into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Form::parse(&body))
    }

    /// The fields of an urlencoded body (`+` is a space).
    pub fn parse(body: &[u8]) -> Form {
        let mut fields = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if !fields.contains_key(name.as_ref()) {
                fields.insert(name.into_owned(), value.into_owned());
            }
        }
        Form { fields }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The first value of `name`, trimmed, or `""`.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }

    /// Whether the form has a field `name` (a submit button's name says which was pressed).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::Form;

    #[test]
    fn fields_are_decoded_as_browsers_encode_them() {
        let form = Form::parse(b"key=a+b%2Bc&csrf=x&key=second&empty=");
        assert_eq!(form.get("key"), Some("a b+c"));
        assert_eq!(form.get("csrf"), Some("x"));
        assert_eq!(form.get("empty"), Some(""));
        assert_eq!(form.get("missing"), None);
        assert!(form.has("empty"));
    }
}

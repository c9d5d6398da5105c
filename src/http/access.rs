//! Who may do what on the management APIs: the `Caller` (authenticated, then rate-limited), whether its scopes cover
//! an identifier, and reading a request body within the configured limits.

use super::AppState;
use super::problem::ApiError;
use crate::auth::Principal;
use crate::auth::dia::ContributorRole;
use crate::contribution::Contributor;
use crate::identifier::Identifier;
use crate::registration::FieldError;
use crate::vocabulary::Vocabulary;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

/// The credential behind a management request: authenticated against this request, and within its rate limit.
/// As a handler argument it is extracted before the handler runs; 401 and 429 answer before anything else.
pub struct Caller(pub Principal);

impl Caller {
    /// Authenticates `req`, then takes a token from the credential's rate limit.
    pub async fn of(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
        let principal = super::credential::authenticate(req, state).await?;
        state
            .rate_limiter
            .check(&principal.name)
            .map_err(ApiError::TooManyRequests)?;
        Ok(Caller(principal))
    }

    /// `Ok` when the caller's scopes cover `key`, else 403 naming the scopes held.
    pub fn authorise(&self, key: &Identifier) -> Result<(), ApiError> {
        authorise(&self.0, key)
    }

    /// What the caller may do at `key`: write it as its owner (its scopes cover it), or add links as a lifecycle
    /// contributor (a role of its Digital Identity Anchor covers it); else `403` naming what is missing.
    pub fn access(&self, key: &Identifier, vocabulary: &Vocabulary) -> Result<Access, ApiError> {
        let path = key.canonical_path();
        if self.may_access(path) {
            return Ok(Access::Owner);
        }
        let Some(grant) = &self.0.dia else {
            return authorise(&self.0, key).map(|()| Access::Owner);
        };
        let roles: Vec<&ContributorRole> = grant.roles_at(path).collect();
        if !roles.is_empty() {
            let mut link_types: Vec<String> = Vec::new();
            // A role allows a relation in every spelling (`dpp` also allows `untp:dpp` links).
            for spelling in roles.iter().flat_map(|r| r.link_types.iter()) {
                let uri = vocabulary
                    .lookup(spelling)
                    .map_or_else(|| spelling.clone(), |d| d.uri.clone());
                for same in vocabulary.relation(&uri).uris() {
                    if !link_types.iter().any(|t| t == same) {
                        link_types.push(same.to_owned());
                    }
                }
            }
            return Ok(Access::Contributor(Contributor {
                did: self.name.clone(),
                link_types,
                roles: roles.iter().map(|r| r.scope.clone()).collect(),
            }));
        }
        let mut reason = match &grant.owner {
            Ok(owned) => format!(
                "the Digital Identity Anchor from {} makes {} the owner of {owned}, not of {path}",
                grant.issuer, self.name
            ),
            Err(why) => format!(
                "the Digital Identity Anchor from {} grants no write here: {why}",
                grant.issuer
            ),
        };
        if !grant.roles.is_empty() {
            let names: Vec<&str> = grant.roles.iter().map(|r| r.scope.as_str()).collect();
            reason.push_str(&format!(
                "; its contributor roles ({}) do not cover {path}",
                names.join(", ")
            ));
        }
        Err(ApiError::Refused {
            identifier: path.to_string(),
            reason,
        })
    }
}

/// How a caller may write an anchor.
#[derive(Clone, Debug)]
pub enum Access {
    Owner,
    /// Only add links of some types (`crate::contribution`).
    Contributor(Contributor),
}

impl Access {
    /// `Ok` for an owner; a contributor's `403` for an operation that is not adding links.
    pub fn owner_only(&self, key: &Identifier, operation: &str) -> Result<(), ApiError> {
        match self {
            Access::Owner => Ok(()),
            Access::Contributor(c) => Err(ApiError::Refused {
                identifier: key.canonical_path().to_string(),
                reason: format!(
                    "{} is a lifecycle contributor here: it may add links with PUT, not {operation} (rule: contributions are additive)",
                    c.did
                ),
            }),
        }
    }
}

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Caller, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = web::Data::<AppState>::extract(&req).await?;
            Ok(Caller::of(&req, &state).await?)
        })
    }
}

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

/// `Ok` when `principal`'s scopes cover `key`, else 403 naming the scopes held.
pub fn authorise(principal: &Principal, key: &Identifier) -> Result<(), ApiError> {
    if principal.may_access(key.canonical_path()) {
        return Ok(());
    }
    let held: Vec<String> = principal.scopes.iter().map(|s| s.to_string()).collect();
    Err(ApiError::Forbidden {
        identifier: key.canonical_path().to_string(),
        held: held.join(", "),
    })
}

/// A management request's JSON body: within `server.max_body_bytes`, matching a DID-signed request's `bh` claim,
/// not empty, and nested no deeper than `limits.max_json_depth`.
pub async fn read_body(
    mut payload: web::Payload,
    state: &AppState,
    req: &HttpRequest,
) -> Result<web::Bytes, ApiError> {
    let limit = state.settings.server.max_body_bytes;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    super::credential::check_body(req, state, &body)?;
    if body.is_empty() {
        return Err(ApiError::BadBody(FieldError::new(
            "body",
            "a JSON anchor is required",
        )));
    }
    let max_depth = state.settings.limits.max_json_depth;
    if super::guard::json_depth(&body) > max_depth {
        return Err(ApiError::BadBody(FieldError::new(
            "body",
            format!("JSON nested deeper than {max_depth} levels"),
        )));
    }
    Ok(body.freeze())
}

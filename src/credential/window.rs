//! A credential's validity period: `validFrom`/`validUntil` (VC 1.1: `issuanceDate`/`expirationDate`), narrowed by
//! the JWT's own `nbf`/`exp` when it has them, checked with the configured clock skew.

use super::credential_of;
use serde_json::Value;

/// The period, as Unix seconds with the text as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub valid_from: Option<(i64, String)>,
    pub valid_until: Option<(i64, String)>,
}

/// Why a credential is outside its period; each holds the time as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("expired at {0}")]
    Expired(String),
    #[error("not valid before {0}")]
    NotYetValid(String),
}

impl Window {
    /// The period of the credential in `jwt` (a JWT payload, or a credential itself). `Err` names a member that is
    /// not an RFC 3339 time.
    pub fn read(jwt: &Value) -> Result<Window, String> {
        let vc = credential_of(jwt);
        let mut valid_from = time(vc, "validFrom")?.or(time(vc, "issuanceDate")?);
        let mut valid_until = time(vc, "validUntil")?.or(time(vc, "expirationDate")?);
        // The JWT's own window, when it has one, applies as well.
        if let Some(nbf) = jwt["nbf"].as_i64() {
            valid_from =
                Some(valid_from.map_or((nbf, nbf.to_string()), |v| v.max((nbf, nbf.to_string()))));
        }
        if let Some(exp) = jwt["exp"].as_i64() {
            valid_until =
                Some(valid_until.map_or((exp, exp.to_string()), |v| v.min((exp, exp.to_string()))));
        }
        Ok(Window {
            valid_from,
            valid_until,
        })
    }

    /// Whether `now` (Unix seconds) is within the period, `skew` seconds either way.
    pub fn check(&self, now: i64, skew: i64) -> Result<(), WindowError> {
        if let Some((until, text)) = &self.valid_until {
            if now > until.saturating_add(skew) {
                return Err(WindowError::Expired(text.clone()));
            }
        }
        if let Some((from, text)) = &self.valid_from {
            if *from > now.saturating_add(skew) {
                return Err(WindowError::NotYetValid(text.clone()));
            }
        }
        Ok(())
    }
}

/// An RFC 3339 time member, as Unix seconds and as written.
pub fn time(vc: &Value, name: &str) -> Result<Option<(i64, String)>, String> {
    match &vc[name] {
        Value::Null => Ok(None),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some((t.timestamp(), s.clone())))
            .map_err(|e| format!("{name} {s:?} is not an RFC 3339 time: {e}")),
        _ => Err(format!("{name} must be an RFC 3339 time")),
    }
}

//! The life of API keys created with `idr keys`: create (the secret is shown once; only its SHA-256 is stored),
//! list, revoke. Records live in the link store, so every replica sees them (see `auth`).

use crate::auth::{Scope, StoredKey, hex_digest, now};
use crate::identifier::Parser;
use crate::registry::{DocumentStore, StoreError};
use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key named {0:?} already exists (names stay taken after revocation: choose another)")]
    Exists(String),
    #[error("no key named {0:?}")]
    NotFound(String),
    #[error("--name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    Name(String),
    #[error("--scope {scope:?}: {reason}")]
    Scope { scope: String, reason: String },
    #[error("at least one --scope is needed (e.g. 01/0952012* or abr/* or admin)")]
    NoScope,
    #[error("no randomness available: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a key and returns its record and its secret (shown once, never stored).
pub async fn create(
    store: &dyn DocumentStore,
    parser: &Parser,
    name: &str,
    scopes: &[String],
    expires: Option<u64>,
    configured: &[String],
) -> Result<(StoredKey, String), KeyError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !name_ok || name == "admin" {
        return Err(KeyError::Name(name.to_string()));
    }
    if scopes.is_empty() {
        return Err(KeyError::NoScope);
    }
    let canonical = scopes
        .iter()
        .map(|s| {
            Scope::parse_canonical(s, parser)
                .map(|p| p.to_string())
                .map_err(|reason| KeyError::Scope {
                    scope: s.clone(),
                    reason,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let exists = store.api_keys().await?.iter().any(|(n, _)| n == name);
    if exists || configured.iter().any(|c| c == name) {
        return Err(KeyError::Exists(name.to_string()));
    }
    let secret = secret()?;
    let record = StoredKey {
        name: name.to_string(),
        sha256: hex_digest(&secret),
        scopes: canonical,
        created: now(),
        expires,
        revoked: false,
    };
    store.put_api_key(name, &to_json(&record)).await?;
    Ok((record, secret))
}

pub async fn list(store: &dyn DocumentStore) -> Result<Vec<StoredKey>, KeyError> {
    let mut keys: Vec<StoredKey> = store
        .api_keys()
        .await?
        .into_iter()
        .filter_map(|(_, json)| serde_json::from_str(&json).ok())
        .collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

/// Marks a key revoked (kept, so its name stays taken and the audit of who wrote what stays readable).
pub async fn revoke(store: &dyn DocumentStore, name: &str) -> Result<StoredKey, KeyError> {
    let mut key = list(store)
        .await?
        .into_iter()
        .find(|k| k.name == name)
        .ok_or_else(|| KeyError::NotFound(name.to_string()))?;
    key.revoked = true;
    store.put_api_key(name, &to_json(&key)).await?;
    Ok(key)
}

/// `idr_` and 32 random bytes, base64url: 256 bits, recognisable in a leaked-secret scan.
fn secret() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(format!(
        "idr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn to_json(key: &StoredKey) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

/// `90d`, `12h`, `30m`, `45s` → seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::embedded::EmbeddedStore;

    #[tokio::test]
    async fn keys_are_created_once_listed_and_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let parser = Parser::embedded().unwrap();
        let scopes = vec!["01/0952012*".to_string(), "abr/*".to_string()];
        let (record, secret) = create(&store, &parser, "acme", &scopes, None, &[])
            .await
            .unwrap();
        assert!(secret.starts_with("idr_") && secret.len() > 40);
        assert_eq!(record.sha256, hex_digest(&secret));
        assert!(
            !store.api_keys().await.unwrap()[0].1.contains(&secret),
            "the secret is never stored"
        );
        assert!(matches!(
            create(&store, &parser, "acme", &scopes, None, &[]).await,
            Err(KeyError::Exists(_))
        ));
        assert!(matches!(
            create(&store, &parser, "cfg", &scopes, None, &["cfg".into()]).await,
            Err(KeyError::Exists(_))
        ));
        let bad = create(&store, &parser, "x", &["gtin/0952*".into()], None, &[]).await;
        assert!(matches!(bad, Err(KeyError::Scope { .. })));
        assert!(matches!(
            create(&store, &parser, "a b", &scopes, None, &[]).await,
            Err(KeyError::Name(_))
        ));
        assert!(revoke(&store, "acme").await.unwrap().revoked);
        assert!(list(&store).await.unwrap()[0].revoked);
        assert!(matches!(
            revoke(&store, "nobody").await,
            Err(KeyError::NotFound(_))
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("2s"), Some(2));
        assert_eq!(parse_duration("5w"), None);
        assert_eq!(parse_duration("d"), None);
    }
}

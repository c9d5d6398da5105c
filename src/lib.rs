//! idr: an ISO/IEC 18975 identity resolver and GS1-conformant Digital Link resolution server.
//!
//! Data flows one way: HTTP (`http`) → identifier parsing (`identifier`) → registry lookup (`registry`) →
//! resolution and negotiation (`resolution`, `negotiate`, `linkset`) → response.

pub mod app;
pub mod auth;
pub mod bulk;
pub mod bulk_client;
pub mod codelist;
pub mod config;
pub mod contribution;
pub mod credential;
pub mod datacheck;
pub mod did;
pub mod explain;
pub mod http;
pub mod identifier;
pub mod keys;
pub mod limits;
pub mod linkset;
pub mod negotiate;
pub mod outbound;
pub mod patterns;
pub mod peer_formats;
pub mod progress;
pub mod qr;
pub mod registration;
pub mod registry;
pub mod resolution;
pub mod telemetry;
pub mod verification;
pub mod versions;
pub mod vocabulary;

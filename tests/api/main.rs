//! The integration tests: one binary, one module per area. Shared harness in `support/` (the server, Redis
//! processes, a local did:web host, the schema checker).

mod support;

mod access_rules;
mod audit;
mod bulk_http;
mod caching;
mod cli;
mod convert;
mod dia_writes;
mod did_auth;
mod did_resolvers;
mod did_web;
mod docs;
mod durability;
mod edge_cases;
mod first_hour;
mod gs1_conformance;
mod gs1_properties;
mod hardening;
mod html_view;
mod keys;
mod linktypes;
mod malformed;
mod management;
mod migration;
mod openapi;
mod operations;
mod options;
mod outbound;
mod patterns;
mod peer_import;
mod pyx_api;
mod qr;
mod query_forwarding;
mod redis_cluster;
mod redis_faults;
mod redis_ha;
mod redis_store;
mod redis_wait;
mod resolution;
mod schema_rules;
mod schemes;
mod store_contract;
mod untp_links;
mod write_integrity;

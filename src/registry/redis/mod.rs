//! Redis as the shared link registry for many resolver replicas: standalone Redis, Redis behind Sentinel, or Redis
//! Cluster; over TLS and with an ACL user when configured (`target`).
//!
//! Keys: `{prefix}:a:{01/09520123456788}/10/ABC`. The hash tag is the primary key, so every level of one
//! identifier lives in one slot and a resolution is one `MGET`, on a cluster too. Writes run as Lua scripts, so the
//! precondition check, the version bump and the invalidation message are one atomic step. Values are the same
//! stored format the embedded store writes (`registry::format`); a reader refuses formats it does not know.
//!
//! The modules, one job each:
//! - `store`: `RedisStore`, every part of the registry over Redis (reads, writes through the scripts, `WAIT`, scans,
//!   audit, documents, coordination);
//! - `scripts`: the Lua scripts (`scripts/*.lua`) and the one helper that calls a script and reads its reply;
//! - `conn`: the connections the store sends commands on, and how (a read retried once, a write sent once);
//! - `keys`: the key layout (hash tags) and its inverse;
//! - `cluster`: the cluster's primaries (`CLUSTER NODES`) and the slot a key lives in;
//! - `listener`: the pub/sub invalidation feed for the record cache;
//! - `target` parses the URL and settings, `dial` opens connections, `link` keeps one standalone connection alive.

mod cluster;
mod conn;
mod dial;
mod keys;
mod link;
mod listener;
mod scripts;
mod store;
mod target;

pub use store::RedisStore;
pub use target::Target;

/// The store cannot answer now (Redis down or refusing): `503`.
fn unavailable(e: impl std::fmt::Display) -> crate::registry::StoreError {
    crate::registry::StoreError::Unavailable(e.to_string())
}

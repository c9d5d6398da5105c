//! The Lua scripts, one `.lua` file each under `scripts/`, and `call`: the one way the store runs a script and
//! reads its reply.
//!
//! Templates in the files: `__FORMAT__` becomes the stored format's number (`registry::format`), `__AUDIT__` the
//! audit append (`audit.lua`). A write script that checks a precondition runs `check.lua` first.
//!
//! Each file's text is sent after a newline, as when the scripts were inline strings: the same bytes, so the same
//! SHA1 for `EVALSHA` as earlier releases.

use super::conn::{Conn, Written};
use super::link::Failure;
use super::unavailable;
use crate::registry::StoreError;
use redis::{FromRedisValue, ParsingError, Value};
use std::sync::LazyLock;

/// The start of both write scripts: read the current version (refusing a stored format we do not know) and check
/// the precondition. KEYS[1] is the anchor; ARGV[1] the precondition mode, ARGV[2] the accepted versions. On a failed
/// precondition the script returns {0, current version or -1}.
const CHECK: &str = include_str!("scripts/check.lua");

/// Appends the audit entry to the primary key's audit list (same hash tag, so the same slot as the anchor), as a
/// JSON array `[ms, op, before, after, path, who]` timed by the Redis clock. A list, not a stream: a stream
/// preallocates a node per key, far more than the few entries most identifiers have (measured in docs/redis.md).
/// Expects locals `log`, `path`, `who`, `op`, `before`, `after` (versions; false when absent).
const AUDIT: &str = include_str!("scripts/audit.lua");

/// Creates or replaces one anchor. KEYS: anchor, tombstone, deleted copy (dropped when the anchor is created anew),
/// audit list. ARGV[3..7]: record payload (`registry::format`), invalidation channel, canonical path, who, and
/// `put` or `import` (the audit operation). The `{format}:{version}:` header is the stored format's, written here so
/// the version bump is atomic with the check. Returns {1, version, created}.
pub static PUT: LazyLock<Script> =
    LazyLock::new(|| Script::checked("write", include_str!("scripts/put.lua")));

/// Deletes one anchor, leaving a tombstone with its last version. A soft delete keeps a copy of the record (see
/// `RESTORE`); a hard one (ARGV[6] `hard`) keeps none and drops a copy an earlier delete kept, in the same step, so a
/// restore racing it either came first (and is removed too) or finds nothing. KEYS as for `PUT`; ARGV[3..6]:
/// channel, canonical path, who, `soft` or `hard`. Audited as `delete` (a live anchor was removed), then `purge`
/// (a hard delete). Returns {1, existed}: whether there was a live anchor or a kept copy to remove.
pub static DELETE: LazyLock<Script> =
    LazyLock::new(|| Script::checked("delete", include_str!("scripts/delete.lua")));

/// Brings back the last deleted record as a new version. KEYS as for `PUT`; ARGV[1..3]: channel, canonical path,
/// who. Returns {1, version, stored value}, {1, 0} when there is nothing to restore, or {0, current version} when an
/// anchor exists.
pub static RESTORE: LazyLock<Script> =
    LazyLock::new(|| Script::write("restore", include_str!("scripts/restore.lua")));

/// Removes the oldest entries of one audit list while they are older than ARGV[1] (unix ms), at most ARGV[2] of
/// them, and adds their number to the list's base (KEYS[2]): a cursor is the base plus the list index, so the
/// entries that stay keep their cursors. KEYS: audit list, its base. Returns how many were removed.
pub static TRIM_AUDIT: LazyLock<Script> =
    LazyLock::new(|| Script::write("audit trim", include_str!("scripts/trim_audit.lua")));

/// Stores the verdicts of one anchor (`registry::verdicts`) when they are for the version of the anchor's record
/// now, read in the script, and (when a revision is given) the stored verdicts are still at that revision, and
/// announces the change. KEYS: the verdicts key, the anchor key (same hash slot). ARGV: version, revision seen (empty:
/// any), JSON, invalidation channel, event (`:verdicts:{anchor}`). Returns 1 when written, 0 when the record is at
/// another version or gone, 2 when the stored verdicts moved to another revision.
pub static PUT_VERDICTS: LazyLock<Script> =
    LazyLock::new(|| Script::write("verdicts", include_str!("scripts/put_verdicts.lua")));

/// One page of an audit list with the list's base, read in one step so a trim cannot shift the indices between
/// the two. KEYS: audit list, its base; ARGV: first cursor wanted, page size. Returns {base, first index read, entries}.
pub static READ_AUDIT: LazyLock<Script> =
    LazyLock::new(|| Script::read("audit read", include_str!("scripts/read_audit.lua")));

/// A Lua script, kept as source (for `EVAL`) and as a `redis::Script` (for `EVALSHA`).
pub struct Script {
    /// Names the script in errors.
    name: &'static str,
    pub source: String,
    pub compiled: redis::Script,
    /// Reads only: run on the read connection and sent again if its connection dropped; a write is sent once.
    read: bool,
}

impl Script {
    /// A write script that checks the precondition first (`CHECK`).
    fn checked(name: &'static str, text: &str) -> Script {
        Script::new(name, format!("{}{}", inline(CHECK), inline(text)), false)
    }

    fn write(name: &'static str, text: &str) -> Script {
        Script::new(name, inline(text), false)
    }

    fn read(name: &'static str, text: &str) -> Script {
        Script::new(name, inline(text), true)
    }

    /// Expands the templates: `__AUDIT__`, then `__FORMAT__`.
    fn new(name: &'static str, source: String, read: bool) -> Script {
        let source = source
            .replace("__AUDIT__", &inline(AUDIT))
            .replace("__FORMAT__", &crate::registry::format::FORMAT.to_string());
        Script {
            name,
            compiled: redis::Script::new(&source),
            source,
            read,
        }
    }
}

/// A file's text as the script held it inline: after a newline.
fn inline(text: &str) -> String {
    format!("\n{text}")
}

/// Runs `script` and reads its reply as `T`. A write goes on `writer`, once (`Conn::run`), and says which connection
/// it ran on (for `WAIT`); its failures are told apart by `script_error`, `key` naming the record. A read goes on
/// `reader` as `EVAL`, sent once more if its connection dropped. A reply that is not a `T` is an error naming the
/// script.
pub async fn call<T: FromRedisValue>(
    (reader, writer): (&Conn, &Conn),
    script: &Script,
    key: &str,
    keys: &[&str],
    args: &[&[u8]],
) -> Result<(T, Written), StoreError> {
    let (reply, written) = if script.read {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(&script.source).arg(keys.len()).arg(keys);
        for a in args {
            cmd.arg(*a);
        }
        let reply: Value = reader.query(&cmd).await.map_err(unavailable)?;
        (reply, None)
    } else {
        writer
            .run::<Value>(script, keys, args)
            .await
            .map_err(|e| script_error(key, e))?
    };
    match T::from_redis_value_ref(&reply) {
        Ok(value) => Ok((value, written)),
        Err(_) => Err(unavailable(format!(
            "unexpected reply from the {} script: {reply:?}",
            script.name
        ))),
    }
}

/// The reply of a write script with a precondition: `{1, …}` applied (the rest of the reply, as `T`), or
/// `{0, current version or -1}` refused.
pub enum Checked<T> {
    Applied(T),
    Refused { current: Option<u64> },
}

impl<T> Checked<T> {
    /// The applied reply, or the refusal as `StoreError::PreconditionFailed`.
    pub fn applied(self) -> Result<T, StoreError> {
        match self {
            Checked::Applied(value) => Ok(value),
            Checked::Refused { current } => Err(StoreError::PreconditionFailed { current }),
        }
    }
}

impl<T: FromRedisValue> FromRedisValue for Checked<T> {
    fn from_redis_value_ref(v: &Value) -> Result<Self, ParsingError> {
        let Value::Array(items) = v else {
            return Err(ParsingError::from(format!("not a script reply: {v:?}")));
        };
        match items.split_first() {
            Some((Value::Int(1), rest)) => Ok(Checked::Applied(T::from_redis_value(
                Value::Array(rest.to_vec()),
            )?)),
            Some((Value::Int(0), [Value::Int(now)])) => Ok(Checked::Refused {
                current: u64::try_from(*now).ok(),
            }),
            _ => Err(ParsingError::from(format!("not a script reply: {v:?}"))),
        }
    }

    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        Self::from_redis_value_ref(&v)
    }
}

/// What `RESTORE` applied: the stored value it brought back, or none when there was nothing to restore (`{1, 0}`).
pub struct Restored(pub Option<Vec<u8>>);

impl FromRedisValue for Restored {
    fn from_redis_value_ref(v: &Value) -> Result<Self, ParsingError> {
        match v {
            Value::Array(items) => match items.as_slice() {
                [Value::Int(0)] => Ok(Restored(None)),
                [Value::Int(_), value] => {
                    Ok(Restored(Some(Vec::<u8>::from_redis_value_ref(value)?)))
                }
                _ => Err(ParsingError::from(format!("not a restore reply: {v:?}"))),
            },
            _ => Err(ParsingError::from(format!("not a restore reply: {v:?}"))),
        }
    }

    fn from_redis_value(v: Value) -> Result<Self, ParsingError> {
        Self::from_redis_value_ref(&v)
    }
}

/// A write's error: about the data (a format we do not know), certainly not applied (no connection could be made,
/// or Redis refused it), or possibly applied (the connection failed or timed out after the script was sent).
pub fn script_error(key: &str, failure: Failure) -> StoreError {
    let e = match failure {
        Failure::Unsent(e) => return unavailable(e),
        Failure::Sent(e) => e,
    };
    let text = e.to_string();
    if text.contains("IDR_FORMAT") {
        let source = crate::registry::record::DecodeError::Corrupt(text);
        return StoreError::Decode {
            key: key.to_string(),
            source,
        };
    }
    if !e.is_connection_refusal() && (e.is_timeout() || e.is_connection_dropped()) {
        return StoreError::Uncertain(text);
    }
    unavailable(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_expanded_and_writes_check_first() {
        for script in [&*PUT, &*DELETE, &*RESTORE, &*TRIM_AUDIT, &*READ_AUDIT] {
            assert!(
                !script.source.contains("__"),
                "{}: {}",
                script.name,
                script.source
            );
        }
        let format = format!("'{}'", crate::registry::format::FORMAT);
        for script in [&*PUT, &*DELETE] {
            assert!(
                script
                    .source
                    .starts_with("\nlocal current = redis.call('GET', KEYS[1])")
            );
            assert!(script.source.contains(&format), "{}", script.name);
            assert!(
                script.source.contains("redis.call('RPUSH', log"),
                "{}",
                script.name
            );
        }
    }
}

//! The audit trail in Redis: one list per primary key (`{prefix}:audit:{01/…}`, beside the anchors in their slot),
//! appended to by the write scripts; entries are read by cursor (the list's base plus an index), trimmed from the
//! front by the retention, and exported list by list.

use super::RedisStore;
use crate::registry::audit::{self, AuditEntry, AuditQuery, Operation};
use crate::registry::redis::conn::Written;
use crate::registry::redis::keys::{audit_partition_of, key};
use crate::registry::redis::scripts::{READ_AUDIT, TRIM_AUDIT};
use crate::registry::redis::target::Addr;
use crate::registry::redis::unavailable;
use crate::registry::{AuditSink, StoreError, TrimStep};

/// How many entries one `LRANGE` of an audit read fetches.
const AUDIT_BATCH: usize = 500;
/// Audit lists asked for per `SCAN` of a trim or an export.
const AUDIT_SCAN_COUNT: usize = 100;

impl RedisStore {
    /// The primary key's audit list; same hash tag, so it shares the anchor's slot.
    pub(super) fn audit_key(&self, canonical: &str) -> String {
        key(&self.prefix, "audit", audit::partition(canonical))
    }

    /// How many entries were trimmed from the front of an audit list (`audit_key`): cursors are that plus the index.
    fn audit_base_key(&self, list: &str) -> String {
        let tagged = list
            .strip_prefix(&self.prefix)
            .and_then(|k| k.strip_prefix(":audit:"))
            .unwrap_or(list);
        format!("{}:audit-base:{tagged}", self.prefix)
    }

    /// Reads one primary key's audit list after the cursor (the list's base plus an index: entries are appended at
    /// the end and trimmed from the front), skipping entries before `since` or for other levels, until `limit`
    /// entries match or the list ends.
    pub(super) async fn read_audit(
        &self,
        query: &AuditQuery<'_>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // No list grows near `MAX_CURSOR`, so nothing follows a larger cursor; below it the index arithmetic (and
        // `LRANGE`'s signed 64-bit range) cannot overflow.
        let mut next: u64 = match query.after {
            Some(c) if c >= audit::MAX_CURSOR => return Ok(Vec::new()),
            Some(c) => c + 1,
            None => 0,
        };
        let list = self.audit_key(query.identifier);
        let keys = [list.clone(), self.audit_base_key(&list)];
        let mut out = Vec::new();
        loop {
            let args = [next.to_string(), AUDIT_BATCH.to_string()];
            let args = args.each_ref().map(|a| a.as_bytes());
            let ((base, from, page), _): ((u64, u64, Vec<String>), Written) =
                self.script(&READ_AUDIT, &list, &keys, &args).await?;
            let full = page.len() == AUDIT_BATCH;
            // Entries trimmed since `next` was handed out are skipped, not repeated.
            next = next.max(base + from);
            for raw in page {
                let entry = list_entry(&list, next, &raw)?;
                next += 1;
                if entry.at_ms >= query.since_ms && query.covers(&entry.identifier) {
                    out.push(entry);
                    if out.len() >= query.limit {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// Audit list keys found by `SCAN` on node `node` (an index into `scan_nodes`) from `cursor`: (next cursor, keys).
    async fn scan_audit_lists(
        &self,
        node: &Addr,
        cursor: u64,
    ) -> Result<(u64, Vec<String>), StoreError> {
        let mut conn = self.node_connection(node).await?;
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(format!("{}:audit:*", self.prefix))
            .arg("COUNT")
            .arg(AUDIT_SCAN_COUNT);
        cmd.query_async(&mut conn).await.map_err(unavailable)
    }

    /// Visits the audit lists with `SCAN`, node by node; `resume` is `{node index}:{SCAN cursor}:{last list done}`
    /// (a step that stops inside a batch scans that batch again and skips the lists before it had finished, so
    /// every step gets further). Every list visited costs one script, which removes at most the remaining budget.
    pub(super) async fn trim_audit_lists(
        &self,
        before_ms: u64,
        budget: usize,
        resume: Option<String>,
    ) -> Result<TrimStep, StoreError> {
        // In a fixed order: `CLUSTER NODES` lists them as the node asked sees them, and a resume names one by index.
        let mut nodes = self.scan_nodes().await?;
        nodes.sort();
        let (mut node, mut cursor, mut done) = parse_trim_resume(resume.as_deref());
        let mut left = budget.max(1) as u64;
        let mut removed = 0;
        while node < nodes.len() {
            let (next, lists) = self.scan_audit_lists(&nodes[node], cursor).await?;
            // Skip what the last step finished in this batch (all of it when that list is gone: emptied lists are
            // deleted, and seeing a finished list again costs one script).
            let skip = done
                .take()
                .and_then(|d| lists.iter().position(|l| *l == d))
                .map_or(0, |i| i + 1);
            let mut last_done: Option<&String> = None;
            for list in &lists[skip..] {
                let resume = |last_done: Option<&String>| {
                    let done = last_done.map_or("", |l| l.as_str());
                    Some(format!("{node}:{cursor}:{done}"))
                };
                if left == 0 {
                    return Ok(TrimStep {
                        removed,
                        resume: resume(last_done),
                    });
                }
                let base = self.audit_base_key(list);
                // No `WAIT`: a trim a failover loses is done again by the next step.
                let keys = [list.clone(), base];
                let args = [before_ms.to_string(), left.to_string()];
                let args = args.each_ref().map(|a| a.as_bytes());
                let (n, _): (u64, Written) = self.script(&TRIM_AUDIT, list, &keys, &args).await?;
                removed += n;
                if n == left {
                    // The list may hold more past the retention: it is not done.
                    return Ok(TrimStep {
                        removed,
                        resume: resume(last_done),
                    });
                }
                left -= n + 1;
                last_done = Some(list);
            }
            if next == 0 {
                node += 1;
                cursor = 0;
            } else {
                cursor = next;
            }
        }
        Ok(TrimStep {
            removed,
            resume: None,
        })
    }

    /// Every entry of every audit list, list by list, node by node.
    pub(super) async fn export_audit_lists(
        &self,
        sink: &mut AuditSink<'_>,
    ) -> Result<(), StoreError> {
        for node in self.scan_nodes().await? {
            let mut cursor = 0;
            loop {
                let (next, lists) = self.scan_audit_lists(&node, cursor).await?;
                for list in lists {
                    let Some(partition) = audit_partition_of(&self.prefix, &list) else {
                        continue;
                    };
                    let mut after = None;
                    loop {
                        let query = AuditQuery {
                            identifier: &partition,
                            since_ms: 0,
                            after,
                            limit: AUDIT_BATCH,
                        };
                        let page = self.read_audit(&query).await?;
                        let full = page.len() == AUDIT_BATCH;
                        after = page.last().and_then(|e| e.cursor.parse().ok());
                        for entry in page {
                            sink(entry)?;
                        }
                        if !full {
                            break;
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// `{node}:{cursor}:{last list done}` back into its parts; a start from the beginning for anything else.
fn parse_trim_resume(resume: Option<&str>) -> (usize, u64, Option<String>) {
    let mut parts = resume.unwrap_or("").splitn(3, ':');
    let node = parts.next().and_then(|n| n.parse().ok());
    let cursor = parts.next().and_then(|c| c.parse().ok());
    match (node, cursor) {
        (Some(node), Some(cursor)) => {
            let done = parts.next().filter(|d| !d.is_empty()).map(str::to_string);
            (node, cursor, done)
        }
        _ => (0, 0, None),
    }
}

/// An audit entry from its list index and its JSON array `[ms, op, before, after, path, who]`.
fn list_entry(list: &str, index: u64, raw: &str) -> Result<AuditEntry, StoreError> {
    type Raw = (u64, String, Option<u64>, Option<u64>, String, String);
    let (at_ms, op, before, after, identifier, who): Raw = serde_json::from_str(raw)
        .map_err(|e| unavailable(format!("audit entry {list}[{index}]: {e}")))?;
    let operation = Operation::parse(&op)
        .ok_or_else(|| unavailable(format!("audit entry {list}[{index}]: operation {op:?}")))?;
    Ok(AuditEntry {
        cursor: index.to_string(),
        at_ms,
        who,
        identifier,
        operation,
        before,
        after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_resumes_name_node_cursor_and_the_last_list_done() {
        assert_eq!(parse_trim_resume(None), (0, 0, None));
        assert_eq!(parse_trim_resume(Some("2:17:")), (2, 17, None));
        assert_eq!(
            parse_trim_resume(Some("1:0:idr:audit:{01/09520123456788}")),
            (1, 0, Some("idr:audit:{01/09520123456788}".to_string()))
        );
        assert_eq!(parse_trim_resume(Some("x:1:y")), (0, 0, None));
    }
}

//! Retention on the stepper's tables: an execution is deleted, with its
//! threads, history pages, task tokens, Map Runs and a Distributed Map's
//! children, a while after it ends (as AWS keeps one 90 days), in batches
//! so that the sweep never holds the writer for long.

use std::collections::HashSet;

use stepwise_asl::timestamp::Millis;
use stepwise_engine::stepper::PortError;

use super::SqliteStore;
use crate::retention::Retention;

impl SqliteStore {
    /// Deletes up to `limit` executions that ended before `before`, oldest
    /// first, and commits; how many it deleted.
    pub fn expire(&self, before: Millis, limit: usize) -> Result<usize, PortError> {
        let deleted = self.db.in_txn(|conn| {
            let arns: Vec<String> = conn
                .db
                .prepare(
                    "SELECT arn FROM st_executions WHERE stopped IS NOT NULL AND stopped < ?1
                       AND status <> 'RUNNING' ORDER BY stopped LIMIT ?2",
                )?
                .query_map(rusqlite::params![before, limit as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let gone: HashSet<&String> = arns.iter().collect();
            conn.threads.forget_executions(&gone);
            conn.executions.forget(&arns);
            for arn in &arns {
                conn.db.execute(
                    "DELETE FROM st_child_pages WHERE arn IN
                       (SELECT arn FROM st_children WHERE execution = ?1)",
                    [arn],
                )?;
                conn.db.execute(
                    "DELETE FROM st_tokens WHERE json_extract(body, '$.execution') = ?1",
                    [arn],
                )?;
                for table in ["st_threads", "st_pages"] {
                    let sql = format!("DELETE FROM {table} WHERE eid = {}", super::schema::eid!());
                    conn.db.execute(&sql, [arn])?;
                }
                for table in ["st_map_runs", "st_children"] {
                    conn.db
                        .execute(&format!("DELETE FROM {table} WHERE execution = ?1"), [arn])?;
                }
                conn.db
                    .execute("DELETE FROM st_executions WHERE arn = ?1", [arn])?;
            }
            Ok(arns.len())
        })?;
        self.db.flush()?;
        Ok(deleted)
    }
}

/// Sweeps `store` once now, then every `retention.every`.
pub fn start(store: SqliteStore, retention: Retention) {
    crate::retention::start_sweeps(retention, move |keep, limit| {
        let keep = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
        let before = stepwise_engine::memory::wall_clock().saturating_sub(keep);
        // What it deleted of a failed batch is committed with the next
        // work; the next sweep deletes the rest.
        store
            .expire(before, limit)
            .map_err(|e| crate::retention::Halt::Failed(e.to_string()))
    });
}

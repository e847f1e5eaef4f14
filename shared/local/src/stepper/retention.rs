//! Retention on the stepper's tables: an execution is deleted, with its
//! threads, history pages, task tokens, Map Runs and a Distributed Map's
//! children (and, once a sweep has deleted some, the activity tasks they
//! offered that no worker took), a while after it ends (as AWS keeps one
//! 90 days), in batches so that the sweep never holds the writer for long.
//! A thread of its own runs the sweeps, so a long-running `serve` does not
//! grow without bound.

use std::collections::HashSet;
use std::time::Duration;

use stepwise_asl::timestamp::Millis;
use stepwise_engine::stepper::PortError;
use stepwise_engine::stepper::token_hash;

use super::SqliteStore;

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

    /// Deletes the activity tasks offered under a token no longer kept
    /// (its execution expired, or it was answered), and commits; how many.
    /// An offer names no execution, only its token, kept by hash; a token
    /// is written before its offer, so an offer that can still be claimed
    /// always has one. Once per sweep: it reads every offer.
    pub fn forget_offers(&self) -> Result<usize, PortError> {
        let dropped = self.db.in_txn(|conn| {
            let offers: Vec<(i64, String)> = conn
                .db
                .prepare("SELECT n, token FROM st_offers")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut dropped = 0;
            for (n, token) in offers {
                let kept: bool = conn.db.query_row(
                    "SELECT EXISTS (SELECT 1 FROM st_tokens WHERE hash = ?1)",
                    [token_hash(&token)],
                    |r| r.get(0),
                )?;
                if !kept {
                    dropped += conn.db.execute("DELETE FROM st_offers WHERE n = ?1", [n])?;
                }
            }
            Ok(dropped)
        })?;
        self.db.flush()?;
        Ok(dropped)
    }
}

/// Sweeps `store` once now, then every `retention.every`, in a thread of
/// its own: each batch deletes up to [`BATCH`] executions that ended more
/// than `retention.keep` ago, until one deletes fewer. What a failed batch
/// deleted is committed with the next work; the next sweep deletes the rest.
pub fn start(store: SqliteStore, retention: Retention) {
    let keep = i64::try_from(retention.keep.as_millis()).unwrap_or(i64::MAX);
    let spawned = std::thread::Builder::new()
        .name("stepwise-retention".into())
        .spawn(move || {
            loop {
                let mut total = 0;
                loop {
                    let before = stepwise_engine::memory::wall_clock().saturating_sub(keep);
                    match store.expire(before, BATCH) {
                        Ok(n) => {
                            total += n;
                            if n < BATCH {
                                break;
                            }
                        }
                        Err(e) => {
                            eprintln!("stepwise: the retention sweep failed: {e}");
                            break;
                        }
                    }
                }
                if total > 0 {
                    eprintln!("stepwise: deleted {total} executions past retention");
                    if let Err(e) = store.forget_offers() {
                        eprintln!("stepwise: the retention sweep failed: {e}");
                    }
                }
                std::thread::sleep(retention.every);
            }
        });
    if let Err(e) = spawned {
        eprintln!("stepwise: the retention sweep cannot start: {e}");
    }
}

/// How long ended executions are kept, and how often they are looked for.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub keep: Duration,
    pub every: Duration,
}

/// Executions deleted per batch (a transaction).
const BATCH: usize = 1000;

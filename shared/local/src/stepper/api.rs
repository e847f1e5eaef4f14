//! What the API reads and claims of the stepper's records on SQLite: the
//! execution port (listing by machine, Map Runs, a Distributed Map's
//! children; the rest is the engine's `stepper::reads`), the catalog (the
//! embedded backend's table, through its adapter) and activity tasks.

use rusqlite::{OptionalExtension, params};
use stepwise_asl::exec::Ordered;
use stepwise_asl::{ChildRecord, MapRun, Thread};
use stepwise_engine::catalog::{Catalog, Entry, Key, Kind, Resource};
use stepwise_engine::executions::{ExecutionStore, ExecutionView, HistoryRow};
use stepwise_engine::stepper::service::{Activities, ActivityTask};
use stepwise_engine::stepper::{PortError, reads};

use super::{SqliteStore, parse};
use crate::catalog::SqlCatalog;

impl ExecutionStore for SqliteStore {
    async fn view(&self, arn: &str) -> Result<Option<ExecutionView>, PortError> {
        reads::view(self, arn).await
    }

    async fn list(
        &self,
        machine: &str,
        version: Option<&str>,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        max: usize,
    ) -> Result<(Vec<ExecutionView>, bool), PortError> {
        let (after_start, after_arn) = after.unwrap_or((i64::MAX, ""));
        self.read(|c| {
            // Newest first: by start, then the later stored.
            let mut q = c.prepare(
                "SELECT arn, version, alias, name, status, started, stopped FROM st_executions
                 WHERE machine = ?1 AND (?2 IS NULL OR version = ?2) AND (?3 IS NULL OR status = ?3)
                   AND (started < ?4 OR (started = ?4 AND rowid < COALESCE(
                        (SELECT rowid FROM st_executions WHERE arn = ?5), -1)))
                 ORDER BY started DESC, rowid DESC LIMIT ?6",
            )?;
            let rows = q.query_map(
                params![
                    machine,
                    version,
                    status,
                    after_start,
                    after_arn,
                    max as i64 + 1
                ],
                |r| {
                    let arn: String = r.get(0)?;
                    Ok(ExecutionView {
                        express: arn.contains(":express:"),
                        arn,
                        machine_arn: machine.to_owned(),
                        version: r.get(1)?,
                        alias: r.get(2)?,
                        name: r.get(3)?,
                        status: r.get(4)?,
                        started: r.get(5)?,
                        stopped: r.get(6)?,
                        ..ExecutionView::default()
                    })
                },
            )?;
            let mut page = rows.collect::<Result<Vec<_>, _>>()?;
            let more = page.len() > max;
            page.truncate(max);
            Ok((page, more))
        })
    }

    async fn history(
        &self,
        arn: &str,
        reverse: bool,
        offset: usize,
        max: usize,
    ) -> Result<(Vec<HistoryRow>, usize), PortError> {
        reads::history(self, arn, reverse, offset, max).await
    }

    async fn map_runs(&self, execution: &str) -> Result<Vec<MapRun>, PortError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT body FROM st_map_runs WHERE execution = ?1 ORDER BY start, rowid",
            )?;
            let bodies = q.query_map([execution], |r| r.get::<_, String>(0))?;
            bodies.map(|b| parse(&b?)).collect()
        })
    }

    async fn map_run(&self, arn: &str) -> Result<Option<(String, MapRun)>, PortError> {
        self.read(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT execution, body FROM st_map_runs WHERE arn = ?1",
                    [arn],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            row.map(|(execution, body)| Ok((execution, parse(&body)?)))
                .transpose()
        })
    }

    async fn thread(&self, execution: &str, id: &str) -> Result<Option<Thread>, PortError> {
        reads::thread(self, execution, id).await
    }

    async fn children(&self, arns: &[String]) -> Result<Vec<ChildRecord>, PortError> {
        self.read(|c| {
            let mut found = Vec::new();
            for arn in arns {
                let body: Option<String> = c
                    .query_row("SELECT body FROM st_children WHERE arn = ?1", [arn], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(body) = body {
                    found.push(parse(&body)?);
                }
            }
            Ok(found)
        })
    }

    async fn child_history(&self, arn: &str) -> Result<Vec<Ordered>, PortError> {
        self.read(|c| {
            let mut q = c.prepare(
                "SELECT body FROM st_child_pages WHERE arn = ?1 ORDER BY attempt, page, thread",
            )?;
            let mut events = Vec::new();
            for body in q.query_map([arn], |r| r.get::<_, String>(0))? {
                events.extend(parse::<Vec<Ordered>>(&body?)?);
            }
            Ok(events)
        })
    }
}

/// How many catalog entries the writer keeps in memory ([`Conn::catalog`]),
/// and the longest definition it keeps one with: 16 MB at most.
///
/// [`Conn::catalog`]: super::Conn
const KEPT_ENTRIES: usize = 256;
const KEPT_DEFINITION: usize = 64 << 10;

/// How long an entry's definition is (none for an alias or an activity).
fn definition_bytes(entry: &Entry) -> usize {
    match &entry.body {
        Resource::Machine(m) => m.settings.definition.len(),
        Resource::Version(v) => v.settings.definition.len(),
        Resource::Alias(_) | Resource::Activity(_) => 0,
    }
}

/// State machines, versions, aliases and activities: the embedded
/// backend's catalog table, through its adapter.
impl Catalog for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, PortError> {
        if self.committed {
            return self.read(|c| stepwise_engine::block_on(SqlCatalog(c).get(key)));
        }
        self.db.in_txn(|conn| {
            // By ARN alone, as the table is.
            if let Some(entry) = conn.catalog.get(&key.arn) {
                let key = key.clone();
                return Ok(Some(Entry {
                    key,
                    ..entry.clone()
                }));
            }
            let entry = stepwise_engine::block_on(SqlCatalog(&conn.db).get(key))?;
            if let Some(entry) = entry
                .as_ref()
                .filter(|e| definition_bytes(e) <= KEPT_DEFINITION)
            {
                if conn.catalog.len() >= KEPT_ENTRIES {
                    conn.catalog.clear();
                }
                conn.catalog.insert(key.arn.clone(), entry.clone());
            }
            Ok(entry)
        })
    }

    async fn put(&self, entry: &Entry, expected: Option<u64>) -> Result<bool, PortError> {
        self.db.in_txn(|conn| {
            conn.catalog.remove(&entry.key.arn);
            stepwise_engine::block_on(SqlCatalog(&conn.db).put(entry, expected))
        })
    }

    async fn delete(&self, key: &Key) -> Result<(), PortError> {
        self.db.in_txn(|conn| {
            conn.catalog.remove(&key.arn);
            stepwise_engine::block_on(SqlCatalog(&conn.db).delete(key))
        })
    }

    async fn list(&self, kind: Kind, parent: &str) -> Result<Vec<Entry>, PortError> {
        self.read(|c| stepwise_engine::block_on(SqlCatalog(c).list(kind, parent)))
    }
}

impl Activities for SqliteStore {
    /// The oldest task offered to `activity`, taken out of the table in the
    /// same statement that reads it: one worker gets it.
    async fn claim(&self, activity: &str) -> Result<Option<ActivityTask>, PortError> {
        self.db.with(|c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "DELETE FROM st_offers WHERE n = (SELECT MIN(n) FROM st_offers WHERE activity = ?1)
                     RETURNING token, input",
                    [activity],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(row.map(|(token, input)| ActivityTask { token, input }))
        })
    }

    fn attempt_again(&self) {
        self.db.attempt_again();
    }
}

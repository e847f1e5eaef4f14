//! The stepper's tables on SQLite: each record one row of JSON, as each is
//! one item on DynamoDB, with the columns its queries select by.

use stepwise_engine::stepper::PortError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS st_executions (
    eid INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, machine TEXT NOT NULL, version TEXT,
    alias TEXT, name TEXT NOT NULL, status TEXT NOT NULL, started INTEGER NOT NULL,
    stopped INTEGER, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS st_executions_by_machine ON st_executions (machine, started);
CREATE INDEX IF NOT EXISTS st_executions_by_stopped ON st_executions (stopped)
    WHERE stopped IS NOT NULL;
-- Threads and history pages by their execution's number (`eid`), not its
-- ARN: the rows of executions started together share pages, where keys by
-- ARN (a name, often random) put each in a page of its own.
CREATE TABLE IF NOT EXISTS st_threads (
    eid INTEGER NOT NULL, thread TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (eid, thread)
);
CREATE TABLE IF NOT EXISTS st_pages (
    eid INTEGER NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (eid, thread, page)
);
CREATE TABLE IF NOT EXISTS st_tokens (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS st_tokens_by_execution ON st_tokens (json_extract(body, '$.execution'));
CREATE TABLE IF NOT EXISTS st_offers (
    n INTEGER PRIMARY KEY AUTOINCREMENT, activity TEXT NOT NULL, token TEXT NOT NULL,
    input TEXT NOT NULL, at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS st_offers_by_activity ON st_offers (activity, n);
CREATE TABLE IF NOT EXISTS st_map_runs (
    arn TEXT PRIMARY KEY, execution TEXT NOT NULL, start INTEGER NOT NULL, stage INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS st_map_runs_by_execution ON st_map_runs (execution, start);
CREATE TABLE IF NOT EXISTS st_children (
    arn TEXT PRIMARY KEY, execution TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS st_children_by_execution ON st_children (execution);
CREATE TABLE IF NOT EXISTS st_child_pages (
    arn TEXT NOT NULL, attempt INTEGER NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (arn, attempt, thread, page)
);
CREATE TABLE IF NOT EXISTS st_queue (
    n INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL,
    receives INTEGER NOT NULL DEFAULT 0
);
";

/// The number of the execution `?1` names, in a statement.
macro_rules! eid {
    () => {
        "(SELECT eid FROM st_executions WHERE arn = ?1)"
    };
}
pub(super) use eid;

/// Moves a store written before threads and pages were kept by the
/// execution's number (`eid`) to the tables above: every execution, and
/// every thread and page of one (a row of an execution the store no longer
/// has was never read again).
pub fn migrate(conn: &rusqlite::Connection) -> Result<(), PortError> {
    once(
        conn,
        |c| Ok(has_column(c, "st_threads", "execution")?),
        |c| Ok(c.execute_batch(&move_over())?),
    )
    .map(|_| ())
}

/// Whether `table` has `column` (false when there is no such table).
pub(super) fn has_column(
    conn: &rusqlite::Connection,
    table: &str,
    column: &str,
) -> rusqlite::Result<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)";
    conn.query_row(sql, [table, column], |r| r.get(0))
}

/// Runs `work` once in a `BEGIN IMMEDIATE` transaction if `needed` says so,
/// looked at again with the write lock held (so two processes opening one
/// store move it once), rolled back on any error; what `work` returned,
/// `None` when there was nothing to do.
pub(super) fn once<T>(
    conn: &rusqlite::Connection,
    needed: impl Fn(&rusqlite::Connection) -> Result<bool, PortError>,
    work: impl FnOnce(&rusqlite::Connection) -> Result<T, PortError>,
) -> Result<Option<T>, PortError> {
    if !needed(conn)? {
        return Ok(None);
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = match needed(conn) {
        Ok(true) => work(conn).map(Some),
        other => other.map(|_| None),
    };
    match done {
        Ok(out) => {
            conn.execute_batch("COMMIT")?;
            Ok(out)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The statements that move the old tables' rows to the new ones.
fn move_over() -> String {
    let columns = "arn, machine, version, alias, name, status, started, stopped, body";
    format!(
        "DROP INDEX IF EXISTS st_executions_by_machine;
         DROP INDEX IF EXISTS st_executions_by_stopped;
         ALTER TABLE st_executions RENAME TO st_old_executions;
         ALTER TABLE st_threads RENAME TO st_old_threads;
         ALTER TABLE st_pages RENAME TO st_old_pages;
         {SCHEMA}
         INSERT INTO st_executions (eid, {columns})
           SELECT rowid, {columns} FROM st_old_executions ORDER BY rowid;
         INSERT INTO st_threads (eid, thread, seq, body)
           SELECT e.eid, t.thread, t.seq, t.body FROM st_old_threads t
           JOIN st_executions e ON e.arn = t.execution;
         INSERT INTO st_pages (eid, thread, page, body)
           SELECT e.eid, p.thread, p.page, p.body FROM st_old_pages p
           JOIN st_executions e ON e.arn = p.execution;
         DROP TABLE st_old_executions;
         DROP TABLE st_old_threads;
         DROP TABLE st_old_pages;"
    )
}

//! A store written by the embedded backend's former driver (its worker,
//! with tables of its own) moved to the stepper's tables when it opens.
//!
//! What moves: every ended execution, with its history (each event's
//! `previousEventId` as the worker numbered it: the stepper works links out
//! from threads, which the worker's rows do not name), where a redrive
//! starts, its task tokens, its Map Runs and a Distributed Map's child
//! executions with their history. A store of an older release of the
//! worker is first brought up to its last release's columns. The catalog
//! is shared and stays where it is. What cannot move: a running execution,
//! whose threads and queued messages are the worker's own shapes; a store
//! with one is refused, saying so, and left as it was. The worker's tables
//! are kept, renamed `moved_…`, so nothing is lost; an execution whose row
//! or history cannot be read stays there alone, and the count is said on
//! stderr.

use rusqlite::{Connection, params};
use serde_json::Value;
use stepwise_asl::exec::{EventType, Execution, HistoryEvent};
use stepwise_asl::{Outcome, StatesError};
use stepwise_engine::stepper::{ExecutionRecord, Logged, PortError};

use super::schema::{has_column, once};
use super::text;

/// The worker's tables, in the order they are renamed.
const TABLES: [&str; 9] = [
    "executions",
    "events",
    "history",
    "threads",
    "messages",
    "tokens",
    "map_runs",
    "child_executions",
    "child_pages",
];

/// Events per history page of a moved execution.
const PAGE: usize = 500;

/// Moves the worker's executions to the stepper's tables, once, in one
/// transaction; a store without the worker's tables is left alone.
pub fn move_worker_store(conn: &Connection) -> Result<(), PortError> {
    let worker = |c: &Connection| Ok(worker_tables(c)?);
    if let Some(Moved { unreadable, newer }) = once(conn, worker, move_all)? {
        if unreadable > 0 {
            eprintln!(
                "stepwise: {unreadable} executions of the earlier store could not be read; \
                     they are kept, unmoved, in its table moved_executions"
            );
        }
        if newer > 0 {
            eprintln!(
                "stepwise: {newer} executions of the earlier store were not moved: the store \
                 has newer ones by the same ARN (the earlier ones are kept in moved_executions)"
            );
        }
    }
    Ok(())
}

/// Whether the worker's execution table is there, not moved yet.
fn worker_tables(conn: &Connection) -> rusqlite::Result<bool> {
    has_column(conn, "executions", "next_event")
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let sql = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)";
    conn.query_row(sql, [name], |r| r.get(0))
}

/// Refuses a store of the worker's with a running execution, before
/// anything is written to it.
pub fn refuse_running(conn: &Connection) -> Result<(), PortError> {
    if !worker_tables(conn)? {
        return Ok(());
    }
    let running: i64 = conn.query_row(
        "SELECT COUNT(*) FROM executions WHERE status = 'RUNNING'",
        [],
        |r| r.get(0),
    )?;
    if running > 0 {
        let path = conn.path().unwrap_or("the store");
        return Err(format!(
            "{path} was written by an earlier Stepwise, whose embedded backend had a driver of \
             its own, and {running} of its executions are still running. Their state cannot be \
             moved to this version's tables: let them end (or stop them) with the Stepwise that \
             started them, then open the store with this one, which moves every ended execution \
             over. Nothing in the store was changed."
        )
        .into());
    }
    Ok(())
}

/// What a move left where it was.
#[derive(Default)]
struct Moved {
    /// Executions whose rows could not be read.
    unreadable: usize,
    /// Executions the stepper's tables already had by the same ARN.
    newer: usize,
}

/// Brings a store of an older release of the worker up to its last
/// release's columns, as that release did when it opened one: what an
/// execution ran, its alias and number, and its history by number.
fn bring_up(conn: &Connection) -> rusqlite::Result<()> {
    let has = |column: &str| has_column(conn, "executions", column);
    for column in ["definition", "alias", "redrive_point", "redrive_date"] {
        if !has(column)? {
            conn.execute_batch(&format!("ALTER TABLE executions ADD COLUMN {column} TEXT"))?;
        }
    }
    if !has("eid")? {
        conn.execute_batch("ALTER TABLE executions ADD COLUMN eid INTEGER")?;
    }
    conn.execute_batch(
        "UPDATE executions SET eid = (SELECT COALESCE(MAX(eid), 0) FROM executions) + rowid
           WHERE eid IS NULL;
         CREATE TABLE IF NOT EXISTS events (eid INTEGER NOT NULL, id INTEGER NOT NULL,
           previous INTEGER NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL);",
    )?;
    // History kept under the execution's ARN, before executions were numbered.
    if has_table(conn, "history")? {
        conn.execute_batch(
            "INSERT INTO events (eid, id, previous, ts, type, details)
               SELECT x.eid, h.id, h.previous, h.ts, h.type, h.details
               FROM history h JOIN executions x ON x.arn = h.execution
               WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.eid = x.eid AND e.id = h.id)
               ORDER BY x.eid, h.id;",
        )?;
    }
    Ok(())
}

/// Moves every ended execution.
fn move_all(conn: &Connection) -> Result<Moved, PortError> {
    // (Looked at again inside the transaction.)
    refuse_running(conn)?;
    bring_up(conn)?;
    let rows: Vec<Row> = {
        let mut stmt = conn.prepare(
            "SELECT x.arn, x.machine, x.version, x.alias, x.name, x.status, x.input, x.output,
                    x.error, x.cause, x.started, x.stopped, x.facts, x.redrive_date, x.eid,
                    COALESCE(x.definition, json_extract(c.body, '$.definition'), ''),
                    x.redrive_point
             FROM executions x LEFT JOIN catalog c ON c.arn = x.machine ORDER BY x.eid",
        )?;
        stmt.query_map([], Row::read)?.collect::<Result<_, _>>()?
    };
    // Which of the tables beside `executions` this store has, looked up once.
    let present = Present {
        map_runs: has_table(conn, "map_runs")?,
        tokens: has_table(conn, "tokens")?,
        children: has_table(conn, "child_executions")?,
    };
    let mut moved = Moved::default();
    for row in rows {
        let (Some(record), Some(history)) = (row.record(), history(conn, row.eid)?) else {
            moved.unreadable += 1;
            continue;
        };
        let body = text(&record)?;
        let n = conn.execute(
            "INSERT OR IGNORE INTO st_executions (arn, machine, version, alias, name, status, started, stopped, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![row.arn, row.machine, row.version, row.alias, row.name, row.status, row.started, row.stopped, body],
        )?;
        if n == 0 {
            // The stepper has one by that ARN already: it is the newer.
            moved.newer += 1;
            continue;
        }
        for (page, events) in history.chunks(PAGE).enumerate() {
            conn.execute(
                "INSERT INTO st_pages (eid, thread, page, body)
                 SELECT eid, 'moved', ?2, ?3 FROM st_executions WHERE arn = ?1",
                params![row.arn, page as i64, text(&events)?],
            )?;
        }
        move_children(conn, &row.arn, &present)?;
    }
    for table in TABLES {
        if has_table(conn, table)? {
            let to = free_name(conn, &format!("moved_{table}"))?;
            conn.execute_batch(&format!("ALTER TABLE {table} RENAME TO {to}"))?;
        }
    }
    Ok(moved)
}

/// `name`, or `name_2`, `name_3`… if taken: a store moved before, then
/// written by an earlier release again, keeps both sets of rows.
fn free_name(conn: &Connection, name: &str) -> rusqlite::Result<String> {
    let mut candidate = name.to_owned();
    let mut n = 1;
    while has_table(conn, &candidate)? {
        n += 1;
        candidate = format!("{name}_{n}");
    }
    Ok(candidate)
}

/// One execution as the worker kept it.
struct Row {
    arn: String,
    machine: String,
    version: Option<String>,
    alias: Option<String>,
    name: String,
    status: String,
    input: String,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    started: i64,
    stopped: Option<i64>,
    facts: String,
    redriven: Option<i64>,
    eid: Option<i64>,
    definition: String,
    redrive_point: Option<String>,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            arn: r.get(0)?,
            machine: r.get(1)?,
            version: r.get(2)?,
            alias: r.get(3)?,
            name: r.get(4)?,
            status: r.get(5)?,
            input: r.get(6)?,
            output: r.get(7)?,
            error: r.get(8)?,
            cause: r.get(9)?,
            started: r.get(10)?,
            stopped: r.get(11)?,
            facts: r.get(12)?,
            redriven: r.get(13)?,
            eid: r.get(14)?,
            definition: r.get(15)?,
            redrive_point: r.get(16)?,
        })
    }

    /// The stepper's record of it (`None` when its facts cannot be read).
    fn record(&self) -> Option<ExecutionRecord> {
        let facts: Execution = serde_json::from_str(&self.facts).ok()?;
        let error = || StatesError {
            error: self.error.clone(),
            cause: self.cause.clone(),
        };
        let outcome = match self.status.as_str() {
            "SUCCEEDED" => {
                let output = self.output.as_deref().unwrap_or("null");
                Outcome::Succeeded(serde_json::from_str(output).ok()?)
            }
            "FAILED" => Outcome::Failed(error()),
            "TIMED_OUT" => Outcome::TimedOut(error()),
            "ABORTED" => Outcome::Aborted(error()),
            _ => return None,
        };
        // (As written, where that is not how the facts' input prints.)
        let printed = facts.input.to_string();
        let input_text = (self.input != printed).then(|| self.input.clone());
        // (The worker kept asynchronous EXPRESS executions too.)
        let express = self.arn.contains(":express:");
        let mut record = ExecutionRecord::running(facts, self.definition.clone(), express);
        record.status = self.status.clone();
        record.outcome = Some(outcome);
        record.stopped = self.stopped;
        record.redriven = self.redriven;
        record.version = self.version.clone();
        record.alias = self.alias.clone();
        record.input_text = input_text;
        // (One that cannot be read is not redrivable, as it was not.)
        let point = self.redrive_point.as_deref();
        record.redrive_point = point.and_then(|p| serde_json::from_str(p).ok());
        Some(record)
    }
}

/// The execution's events after ExecutionStarted (which the stepper makes
/// from the facts), each with its stored id (its order, one less) and
/// `previousEventId`; `None` when one cannot be read.
fn history(conn: &Connection, eid: Option<i64>) -> Result<Option<Vec<Logged>>, PortError> {
    let Some(eid) = eid else { return Ok(None) };
    let mut stmt = conn.prepare(
        "SELECT id, previous, ts, type, details FROM events WHERE eid = ?1 AND id > 1 ORDER BY id",
    )?;
    let events = stmt
        .query_map([eid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let read = |(id, previous, ts, kind, details): (i64, i64, i64, String, String)| {
        Some(Logged {
            order: u64::try_from(id - 1).ok()?,
            event: HistoryEvent {
                timestamp: ts,
                kind: serde_json::from_value::<EventType>(Value::String(kind)).ok()?,
                thread: "root".into(),
                details: serde_json::from_str(&details).ok()?,
                with_entry: false,
                after: None,
            },
            previous: Some(u64::try_from(previous).ok()?),
        })
    };
    Ok(events.into_iter().map(read).collect())
}

/// The worker's tables an older release may not have had.
struct Present {
    map_runs: bool,
    tokens: bool,
    children: bool,
}

/// Its Map Runs, task tokens and a Distributed Map's children, whose
/// records are the same JSON in both drivers' tables.
fn move_children(conn: &Connection, arn: &str, present: &Present) -> Result<(), PortError> {
    if present.map_runs {
        conn.execute(
            "INSERT OR IGNORE INTO st_map_runs (arn, execution, start, stage, body)
             SELECT arn, execution, start,
               2 * COALESCE(json_extract(body, '$.redrive_count'), 0)
                 + (json_extract(body, '$.status') <> 'RUNNING'), body
             FROM map_runs WHERE execution = ?1",
            [arn],
        )?;
    }
    // The tokens of its tasks, so that a late answer to one is told the
    // task timed out, as before.
    if present.tokens {
        conn.execute(
            "INSERT OR IGNORE INTO st_tokens (hash, body)
             SELECT hash, json_object('execution', execution, 'thread', thread, 'wait', wait)
             FROM tokens WHERE execution = ?1",
            [arn],
        )?;
    }
    if present.children {
        conn.execute(
            "INSERT OR IGNORE INTO st_children (arn, execution, body)
             SELECT arn, execution, body FROM child_executions WHERE execution = ?1",
            [arn],
        )?;
        conn.execute(
            "INSERT OR IGNORE INTO st_child_pages (arn, attempt, thread, page, body)
             SELECT p.arn, p.attempt, p.thread, p.page, p.events FROM child_pages p
             JOIN child_executions c ON c.arn = p.arn WHERE c.execution = ?1",
            [arn],
        )?;
    }
    Ok(())
}

//! The stepper's ports on SQLite: a [`Store`] of thread and execution
//! records with the conditional save the stepper's exactly-once protocol
//! needs, and a durable [`Queue`] (also the poller's [`Inbox`]) whose
//! messages wait until they are due and come back when a handler fails.
//!
//! This is the first part of one driver for every backend: the same
//! load → step → conditional save with its outbox → send that runs on
//! DynamoDB and SQS runs here on one SQLite database (`stepwise run
//! --backend stepper`, chaos included, and `stepwise serve --backend
//! stepper`). Each record is one row of JSON, as each is one item on
//! DynamoDB. The API's reads and the catalog are in `api.rs`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, MapRun, Outcome};
use stepwise_engine::memory::wall_clock;
use stepwise_engine::stepper::service::view_of;
use stepwise_engine::stepper::{
    Delivery, Envelope, ExecutionRecord, Inbox, Logged, Offer, PortError, Queue, Record, Saved,
    Store, TokenTarget, status_of,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS st_executions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT, alias TEXT, name TEXT NOT NULL,
    status TEXT NOT NULL, started INTEGER NOT NULL, stopped INTEGER, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS st_executions_by_machine ON st_executions (machine, started);
CREATE TABLE IF NOT EXISTS st_threads (
    execution TEXT NOT NULL, thread TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution, thread)
);
CREATE TABLE IF NOT EXISTS st_pages (
    execution TEXT NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution, thread, page)
);
CREATE TABLE IF NOT EXISTS st_tokens (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
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
CREATE TABLE IF NOT EXISTS st_child_pages (
    arn TEXT NOT NULL, attempt INTEGER NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (arn, attempt, thread, page)
);
CREATE TABLE IF NOT EXISTS st_queue (
    n INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL,
    receives INTEGER NOT NULL DEFAULT 0, hidden INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS st_queue_by_due ON st_queue (at, n);
";

/// A received message stays hidden until its handler deletes or releases
/// it, however long a task it calls takes; the process that had it dying
/// is the one other way back (`Db::open`).
const HIDDEN: Millis = Millis::MAX;

/// One SQLite database shared by a store and its queue (and the catalog,
/// in the table the embedded backend keeps it in), on one connection.
///
/// Group commit is this adapter's: the connection keeps a transaction open
/// and commits it when a poller finishes a batch (its deletes, or its
/// releases) and before the API answers a request ([`Db::flush`]). Every caller
/// reads and writes through the one connection, in order, so what a crash
/// loses is a suffix of their operations — a state the stepper's protocol
/// survives anyway, as on DynamoDB, where every write is durable on its own
/// — and nothing an answer has promised.
#[derive(Clone)]
pub struct Db(Arc<Mutex<Conn>>);

struct Conn {
    db: crate::db::Db,
    /// A transaction is open (uncommitted work may be in it).
    open: bool,
    /// How many transactions were lost (a failed commit rolled one back):
    /// work begun before a loss must not be taken for done after it.
    epoch: u64,
}

impl Conn {
    /// Gives the open transaction up (its commit failed): whatever it held
    /// is lost, and work begun before is not done (see `epoch`): its
    /// messages come back, its answers are errors.
    fn lose(&mut self) {
        let _ = self.db.execute_batch("ROLLBACK");
        self.open = false;
        self.epoch += 1;
    }
}

/// The last user gone: what it did is committed.
impl Drop for Conn {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.execute_batch("COMMIT");
        }
    }
}

impl Db {
    /// Opens (or creates) the database at `path`; in memory without one.
    pub fn open(path: Option<&Path>) -> Result<Db, PortError> {
        let conn = crate::db::open(path)?;
        conn.execute_batch(SCHEMA)?;
        // One process serves a store: whatever an earlier one had received
        // and not finished (it was killed) is delivered again at once.
        conn.execute("UPDATE st_queue SET hidden = 0 WHERE hidden > 0", [])?;
        Ok(Db(Arc::new(Mutex::new(Conn {
            db: crate::db::Db::new(conn),
            open: false,
            epoch: 0,
        }))))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Conn>, PortError> {
        Ok(self
            .0
            .lock()
            .map_err(|_| "the stepper's database lock is poisoned")?)
    }

    /// Runs `f` inside the open transaction (opening one if none is).
    fn with<R>(
        &self,
        f: impl FnOnce(&mut crate::db::Db) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        self.in_epoch(|c, _| f(c))
    }

    /// The same, told which epoch the transaction belongs to.
    fn in_epoch<R>(
        &self,
        f: impl FnOnce(&mut crate::db::Db, u64) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        let mut conn = self.lock()?;
        if !conn.open {
            conn.db.execute_batch("BEGIN")?;
            conn.open = true;
        }
        let epoch = conn.epoch;
        let result = f(&mut conn.db, epoch);
        if conn.db.is_autocommit() {
            // SQLite gave the transaction up after an error: its work is lost.
            conn.open = false;
            conn.epoch += 1;
        }
        result
    }

    /// The current epoch: what an answer about to be given began in.
    pub fn epoch(&self) -> Result<u64, PortError> {
        Ok(self.lock()?.epoch)
    }

    /// Commits what every caller has done so far.
    pub fn flush(&self) -> Result<(), PortError> {
        Self::commit(&mut *self.lock()?)
    }

    fn commit(conn: &mut Conn) -> Result<(), PortError> {
        if conn.open {
            conn.open = false;
            if let Err(e) = conn.db.execute_batch("COMMIT") {
                conn.lose();
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// As a failed commit does (for tests).
    #[cfg(test)]
    fn lose(&self) -> Result<(), PortError> {
        self.lock()?.lose();
        Ok(())
    }

    /// Commits, and fails if work begun in `epoch` was lost since.
    pub fn flush_since(&self, epoch: u64) -> Result<(), PortError> {
        let mut conn = self.lock()?;
        Self::commit(&mut conn)?;
        if conn.epoch != epoch {
            return Err("the store lost this request's writes to a failed commit".into());
        }
        Ok(())
    }
}

fn text<T: Serialize>(value: &T) -> Result<String, PortError> {
    Ok(serde_json::to_string(value)?)
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, PortError> {
    Ok(serde_json::from_str(body)?)
}

/// The stepper's records in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
    /// Every activity a Task names exists (`stepwise run`, which serves no
    /// API to create them); otherwise the catalog says.
    every_activity: bool,
}

impl SqliteStore {
    pub fn new(db: Db) -> Self {
        SqliteStore {
            db,
            every_activity: false,
        }
    }

    /// The database the store is kept in (the API commits through it
    /// before it answers).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A store that takes every activity to exist, as the in-memory
    /// engines do.
    pub fn with_every_activity(self) -> Self {
        SqliteStore {
            every_activity: true,
            ..self
        }
    }

    fn body<T: DeserializeOwned>(
        &self,
        sql: &str,
        key: &[&dyn rusqlite::ToSql],
    ) -> Result<Option<T>, PortError> {
        self.db.with(|c| {
            let body: Option<String> = c.prepare(sql)?.query_row(key, |r| r.get(0)).optional()?;
            body.map(|b| parse(&b)).transpose()
        })
    }
}

impl Store for SqliteStore {
    async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, PortError> {
        self.body("SELECT body FROM st_executions WHERE arn = ?1", &[&arn])
    }

    async fn create(&self, record: &ExecutionRecord) -> Result<bool, PortError> {
        let body = text(record)?;
        self.db.with(|c| {
            let f = &record.facts;
            let machine = view_of(record).machine_arn;
            let n = c.execute(
                "INSERT OR IGNORE INTO st_executions (arn, machine, version, alias, name, status, started, stopped, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![f.arn, machine, record.version, record.alias, f.name, record.status, f.start_time, record.stopped, body],
            )?;
            Ok(n == 1)
        })
    }

    async fn load(&self, execution: &str, thread: &str) -> Result<Option<Record>, PortError> {
        self.body(
            "SELECT body FROM st_threads WHERE execution = ?1 AND thread = ?2",
            &[&execution, &thread],
        )
    }

    async fn save(
        &self,
        execution: &str,
        thread: &str,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<Saved, PortError> {
        let body = text(record)?;
        let seq = record.seq as i64;
        self.db.with(|c| {
            let n = match expected {
                None => c.execute(
                    "INSERT OR IGNORE INTO st_threads (execution, thread, seq, body) VALUES (?1, ?2, ?3, ?4)",
                    params![execution, thread, seq, body],
                )?,
                Some(e) => c.execute(
                    "UPDATE st_threads SET seq = ?3, body = ?4 WHERE execution = ?1 AND thread = ?2 AND seq = ?5",
                    params![execution, thread, seq, body, e as i64],
                )?,
            };
            Ok(if n == 1 { Saved::Done } else { Saved::Conflict })
        })
    }

    async fn put_page(
        &self,
        execution: &str,
        thread: &str,
        page: u32,
        events: &[Logged],
    ) -> Result<(), PortError> {
        let body = text(&events)?;
        self.db.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO st_pages (execution, thread, page, body) VALUES (?1, ?2, ?3, ?4)",
                params![execution, thread, page, body],
            )?;
            Ok(())
        })
    }

    async fn reopen(&self, record: &ExecutionRecord, from: &str) -> Result<bool, PortError> {
        let body = text(record)?;
        self.db.with(|c| {
            let n = c.execute(
                "UPDATE st_executions SET status = ?2, stopped = ?3, body = ?4 WHERE arn = ?1 AND status = ?5",
                params![record.facts.arn, record.status, record.stopped, body, from],
            )?;
            Ok(n == 1)
        })
    }

    async fn complete(
        &self,
        execution: &str,
        outcome: &Outcome,
        at: Millis,
    ) -> Result<Option<Outcome>, PortError> {
        self.db.with(|c| {
            let body: Option<String> = c
                .query_row(
                    "SELECT body FROM st_executions WHERE arn = ?1",
                    [execution],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(body) = body else {
                return Ok(None);
            };
            let mut record: ExecutionRecord = parse(&body)?;
            if record.status != "RUNNING" {
                return Ok(record.outcome);
            }
            record.status = status_of(outcome).into();
            record.outcome = Some(outcome.clone());
            record.stopped = Some(at);
            c.execute(
                "UPDATE st_executions SET status = ?2, stopped = ?3, body = ?4 WHERE arn = ?1",
                params![execution, record.status, at, text(&record)?],
            )?;
            Ok(None)
        })
    }

    async fn put_token(&self, hash: &str, target: &TokenTarget) -> Result<(), PortError> {
        let body = text(target)?;
        self.db.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO st_tokens (hash, body) VALUES (?1, ?2)",
                params![hash, body],
            )?;
            Ok(())
        })
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenTarget>, PortError> {
        self.body("SELECT body FROM st_tokens WHERE hash = ?1", &[&hash])
    }

    async fn delete_token(&self, hash: &str) -> Result<(), PortError> {
        self.db.with(|c| {
            c.execute("DELETE FROM st_tokens WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }

    async fn offer(&self, offer: &Offer, token: &str, at: Millis) -> Result<(), PortError> {
        let input = text(&offer.input)?;
        self.db.with(|c| {
            c.execute(
                "INSERT INTO st_offers (activity, token, input, at) VALUES (?1, ?2, ?3, ?4)",
                params![offer.activity, token, input, at],
            )?;
            Ok(())
        })
    }

    async fn activity_exists(&self, arn: &str) -> Result<bool, PortError> {
        if self.every_activity {
            return Ok(true);
        }
        stepwise_engine::catalog::activity_exists(self, arn).await
    }

    async fn history(&self, execution: &str) -> Result<Vec<Logged>, PortError> {
        let mut out = Vec::new();
        if let Some(r) = Store::execution(self, execution).await? {
            out.push(r.started());
        }
        self.db.with(|c| {
            let mut pages = c.prepare("SELECT body FROM st_pages WHERE execution = ?1")?;
            for body in pages.query_map([execution], |r| r.get::<_, String>(0))? {
                out.extend(parse::<Vec<Logged>>(&body?)?);
            }
            let mut threads = c.prepare("SELECT body FROM st_threads WHERE execution = ?1")?;
            for body in threads.query_map([execution], |r| r.get::<_, String>(0))? {
                // A thread record that cannot be read fails its execution
                // (`Stepper::handle_delivered`); the history shows the rest.
                if let Ok(record) = parse::<Record>(&body?) {
                    out.extend(record.page);
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    async fn put_map_run(&self, execution: &str, run: &MapRun) -> Result<(), PortError> {
        let body = text(run)?;
        // A late write of the start never replaces how the run ended, but a
        // redrive's start does: stages go start, end, redriven start, end…
        let stage = 2 * i64::from(run.redrive_count) + i64::from(run.status != "RUNNING");
        self.db.with(|c| {
            c.execute(
                "INSERT INTO st_map_runs (arn, execution, start, stage, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (arn) DO UPDATE SET start = excluded.start, stage = excluded.stage,
                   body = excluded.body WHERE excluded.stage >= st_map_runs.stage",
                params![run.arn, execution, run.start, stage, body],
            )?;
            Ok(())
        })
    }

    async fn put_child(&self, execution: &str, record: &ChildRecord) -> Result<(), PortError> {
        self.db.with(|c| {
            if !record.events.is_empty() {
                let thread = record.thread.clone().unwrap_or_default();
                c.execute(
                    "INSERT OR REPLACE INTO st_child_pages (arn, attempt, thread, page, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![record.arn, record.attempt, thread, record.page, text(&record.events)?],
                )?;
            }
            if !record.is_page() {
                let stored: Option<String> = c
                    .query_row(
                        "SELECT body FROM st_children WHERE arn = ?1",
                        [&record.arn],
                        |r| r.get(0),
                    )
                    .optional()?;
                let replace = match stored {
                    None => true,
                    Some(s) => record.replaces(&parse(&s)?),
                };
                if replace {
                    c.execute(
                        "INSERT OR REPLACE INTO st_children (arn, execution, body) VALUES (?1, ?2, ?3)",
                        params![record.arn, execution, text(&record.without_events())?],
                    )?;
                }
            }
            Ok(())
        })
    }
}

/// The step queue in SQLite. A message is delivered once it is due (or at
/// once, when the queue leaves delays to a fast-forward poller's virtual
/// clock); a received one is hidden until its handler deletes or releases
/// it, or until the process restarts when the handler died.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    /// Deliver messages before they are due, in the order sent: the
    /// poller's virtual clock holds them (`stepwise run --fast-forward`).
    pub early: bool,
    /// Wakes the pollers waiting for a message when one is sent.
    sent: Arc<tokio::sync::Notify>,
}

/// The longest a waiting receive sleeps: a message due later than it was
/// sent wakes no one.
const LONG_POLL: std::time::Duration = std::time::Duration::from_millis(50);

impl SqliteQueue {
    pub fn new(db: Db, early: bool) -> Self {
        SqliteQueue {
            db,
            early,
            sent: Arc::default(),
        }
    }

    /// How many messages are queued (received ones included).
    pub fn queued(&self) -> Result<usize, PortError> {
        self.db.with(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM st_queue", [], |r| r.get(0))?;
            Ok(n as usize)
        })
    }
}

impl Queue for SqliteQueue {
    async fn send(&self, messages: &[Envelope], _now: Millis) -> Result<(), PortError> {
        let bodies = messages
            .iter()
            .map(|e| Ok((e.at, text(e)?)))
            .collect::<Result<Vec<_>, PortError>>()?;
        self.db.with(|c| {
            let mut insert = c.prepare("INSERT INTO st_queue (at, body) VALUES (?1, ?2)")?;
            for (at, body) in &bodies {
                insert.execute(params![at, body])?;
            }
            Ok(())
        })?;
        self.sent.notify_waiters();
        Ok(())
    }
}

/// A received message: its row, and the epoch it was received in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    row: i64,
    epoch: u64,
}

impl Inbox for SqliteQueue {
    type Handle = Handle;

    async fn receive(&self, wait: bool) -> Result<Vec<Delivery<Handle>>, PortError> {
        // Listening before looking: a message sent in between still wakes it.
        let sent = self.sent.notified();
        tokio::pin!(sent);
        sent.as_mut().enable();
        let found = self.take()?;
        if !found.is_empty() || !wait {
            return Ok(found);
        }
        // As a long poll: until a message is sent, or a while.
        let _ = tokio::time::timeout(LONG_POLL, sent).await;
        self.take()
    }

    /// The end of a batch: what it did is committed with the deletes. A
    /// message received before a failed commit stays: its handler's work
    /// may have been lost with it (and its receipt was).
    async fn delete(&self, handles: &[Handle]) -> Result<(), PortError> {
        self.each(handles, "DELETE FROM st_queue WHERE n = ?1")?;
        self.db.flush()
    }

    async fn release(&self, handles: &[Handle]) -> Result<(), PortError> {
        self.each(handles, "UPDATE st_queue SET hidden = 0 WHERE n = ?1")?;
        self.db.flush()
    }
}

impl SqliteQueue {
    /// Runs `sql` for each message received in the current epoch.
    fn each(&self, handles: &[Handle], sql: &str) -> Result<(), PortError> {
        self.db.in_epoch(|c, epoch| {
            let mut statement = c.prepare(sql)?;
            for h in handles.iter().filter(|h| h.epoch == epoch) {
                statement.execute([h.row])?;
            }
            Ok(())
        })
    }

    /// Up to ten deliverable messages, hidden from the next receive. A
    /// body that is not a message is deleted: it would come back for ever
    /// and hold up the rest.
    fn take(&self) -> Result<Vec<Delivery<Handle>>, PortError> {
        let now = wall_clock();
        let due = if self.early { Millis::MAX } else { now };
        let order = if self.early { "n" } else { "at, n" };
        let (mut rows, epoch) = self.db.in_epoch(|c, epoch| {
            let mut take = c.prepare(&format!(
                "UPDATE st_queue SET hidden = ?3, receives = receives + 1 WHERE n IN
                   (SELECT n FROM st_queue WHERE hidden <= ?1 AND at <= ?2 ORDER BY {order} LIMIT 10)
                 RETURNING n, at, body, receives"
            ))?;
            let rows = take.query_map(params![now, due, HIDDEN], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })?;
            Ok((rows.collect::<Result<Vec<_>, _>>()?, epoch))
        })?;
        if self.early {
            rows.sort_by_key(|r| r.0);
        } else {
            rows.sort_by_key(|r| (r.1, r.0));
        }
        let mut out = Vec::with_capacity(rows.len());
        for (row, _, body, receives) in rows {
            match parse(&body) {
                Ok(envelope) => out.push(Delivery {
                    handle: Handle { row, epoch },
                    envelope,
                    receives,
                }),
                Err(e) => {
                    eprintln!("stepwise: dropped a queued message that is not one ({e})");
                    self.db.with(|c| {
                        c.execute("DELETE FROM st_queue WHERE n = ?1", [row])?;
                        Ok(())
                    })?;
                }
            }
        }
        Ok(out)
    }
}

mod api;

#[cfg(test)]
mod tests;

//! The stepper's ports on SQLite: a [`Store`] of thread and execution
//! records with the conditional save the stepper's exactly-once protocol
//! needs, and a durable [`Queue`] (also the poller's [`Inbox`]) whose
//! messages wait until they are due and come back when a handler fails.
//!
//! One driver for every backend: the same load → step → conditional save
//! with its outbox → send that runs on DynamoDB and SQS runs here on one
//! SQLite database (`stepwise serve`, and `stepwise run --backend sqlite`,
//! chaos included). Each record is one row of JSON, as each is one item on
//! DynamoDB. The API's reads and the catalog are in `api.rs`; a store the
//! former SQLite driver wrote is moved over in `moved.rs`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use commits::{Commit, OLDEST_UNCOMMITTED, start_flusher};
use rusqlite::{OptionalExtension, params};
use schema::eid;
use serde::Serialize;
use serde::de::DeserializeOwned;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, MapRun, Outcome};
use stepwise_engine::stepper::service::view_of;
use stepwise_engine::stepper::{
    ExecutionRecord, Logged, Offer, PortError, Record, Saved, Store, TokenTarget, status_of,
};

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
pub struct Db {
    conn: Arc<Mutex<Conn>>,
    /// Reader connections (file stores only: WAL lets them read what is
    /// committed while the one writer works), for the API's reads.
    readers: Option<Arc<crate::db::Readers>>,
    /// Execution records as committed, which the readers read first.
    committed: Arc<Mutex<kept::Committed>>,
    /// The last transaction committed, and the epoch.
    commits: Arc<tokio::sync::watch::Sender<Commit>>,
}

struct Conn {
    db: crate::db::Db,
    /// A transaction is open (uncommitted work may be in it).
    open: bool,
    /// How many transactions were lost (a failed commit rolled one back):
    /// work begun before a loss must not be taken for done after it.
    epoch: u64,
    /// How many transactions were begun: the open one's number.
    txn: u64,
    /// When the open transaction began.
    began: std::time::Instant,
    /// Keeps the write-ahead log short: the log only starts over when a
    /// checkpoint has copied all of it, which the background one rarely
    /// manages while this connection commits without pause.
    wal: crate::db::WalLimit,
    /// The queue's messages, as the open transaction has them.
    queue: queue::Pending,
    /// Thread records as last saved, in the open transaction or before.
    threads: threads::Threads,
    /// Execution records as last written, in the open transaction and as
    /// committed.
    executions: kept::Executions,
    /// Catalog entries (state machines, versions, aliases, activities) as
    /// the open transaction has them, by ARN, read by the writer
    /// (StartExecution reads its machine on every start); a write of one
    /// forgets it.
    catalog: HashMap<String, stepwise_engine::catalog::Entry>,
    /// How old uncommitted work gets ([`OLDEST_UNCOMMITTED`]).
    oldest: std::time::Duration,
    /// The last transaction committed and the epoch, for answers waiting
    /// for their work to be committed ([`Db::settle`]).
    commits: Arc<tokio::sync::watch::Sender<Commit>>,
}

/// How many states a thread steps through in one transition when nothing
/// else waits on them ([`Store::chain`]): rows are saved once for them all,
/// and a loop (a Choice back to a Pass) still yields to other messages.
const CHAIN: usize = 32;

impl Conn {
    /// Gives the open transaction up (its commit failed): whatever it held
    /// is lost, and work begun before is not done (see `epoch`): its
    /// messages come back, its answers are errors.
    fn lose(&mut self) {
        let _ = self.db.execute_batch("ROLLBACK");
        self.lost();
    }

    /// The open transaction is gone (rolled back): so are the messages it
    /// sent, and those it had received come back.
    fn lost(&mut self) {
        self.open = false;
        self.epoch += 1;
        let epoch = self.epoch;
        self.commits.send_modify(|c| c.epoch = epoch);
        self.threads.clear();
        self.catalog.clear();
        self.executions.lost();
        self.queue = queue::Pending::load(&self.db).unwrap_or_else(|e| {
            eprintln!(
                "stepwise: cannot read the step queue back ({e}); it is read again next time"
            );
            queue::Pending::stale()
        });
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
        moved::refuse_running(&conn)?;
        schema::migrate(&conn)?;
        conn.execute_batch(schema::SCHEMA)?;
        moved::move_worker_store(&conn)?;
        let wal = crate::db::WalLimit::new(&conn);
        let db = crate::db::Db::new(conn);
        // One process serves a store: whatever an earlier one had received
        // and not finished (it was killed) is delivered again at once.
        let queue = queue::Pending::load(&db)?;
        let executions = kept::Executions::new();
        let committed = executions.committed();
        let commits = Arc::new(tokio::sync::watch::Sender::new(Commit::default()));
        let conn = Arc::new(Mutex::new(Conn {
            db,
            open: false,
            epoch: 0,
            txn: 0,
            began: std::time::Instant::now(),
            wal,
            queue,
            threads: threads::Threads::default(),
            catalog: HashMap::new(),
            executions,
            oldest: OLDEST_UNCOMMITTED,
            commits: commits.clone(),
        }));
        start_flusher(Arc::downgrade(&conn));
        Ok(Db {
            conn,
            readers: path.map(|p| Arc::new(crate::db::Readers::new(p))),
            committed,
            commits,
        })
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Conn>, PortError> {
        Ok(self
            .conn
            .lock()
            .map_err(|_| "the stepper's database lock is poisoned")?)
    }

    /// Whether [`Db::read`] reads on connections of its own.
    pub fn has_readers(&self) -> bool {
        self.readers.is_some()
    }

    /// Runs `f` on a reader connection, which sees what is committed (on
    /// the writer's, in its open transaction, for a store in memory).
    fn read<R>(
        &self,
        f: impl FnOnce(&mut crate::db::Db) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        let Some(readers) = &self.readers else {
            return self.with(f);
        };
        let mut conn = readers.take()?;
        // One snapshot for all of `f`'s statements: a step that moves a
        // page of history out of a thread's record commits both at once.
        conn.execute_batch("BEGIN")?;
        let out = f(&mut conn);
        let _ = conn.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        readers.give(conn);
        out
    }

    /// Runs `f` inside the open transaction (opening one if none is).
    fn with<R>(
        &self,
        f: impl FnOnce(&mut crate::db::Db) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        self.in_txn(|conn| f(&mut conn.db))
    }

    /// The same, with the whole connection (its epoch, the queue's
    /// messages, the thread cache).
    fn in_txn<R>(&self, f: impl FnOnce(&mut Conn) -> Result<R, PortError>) -> Result<R, PortError> {
        let mut conn = self.lock()?;
        if !conn.open {
            conn.db.execute_batch("BEGIN")?;
            conn.open = true;
            conn.txn += 1;
            conn.began = std::time::Instant::now();
        }
        let result = f(&mut conn);
        if conn.db.is_autocommit() {
            // SQLite gave the transaction up after an error: its work is lost.
            conn.lost();
        }
        result
    }

    /// The current epoch: what an answer about to be given began in.
    pub fn epoch(&self) -> Result<u64, PortError> {
        Ok(self.lock()?.epoch)
    }
}

fn text<T: Serialize>(value: &T) -> Result<String, PortError> {
    Ok(serde_json::to_string(value)?)
}

fn parse<T: DeserializeOwned>(body: &str) -> Result<T, PortError> {
    serde_json::from_str(body).map_err(|e| format!("a stored record cannot be read: {e}").into())
}

/// The stepper's records in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    db: Db,
    /// Reads see what is committed, on reader connections (the API's
    /// reads); otherwise the writer's open transaction too.
    committed: bool,
    /// Every activity a Task names exists (`stepwise run`, which serves no
    /// API to create them); otherwise the catalog says.
    every_activity: bool,
}

impl SqliteStore {
    pub fn new(db: Db) -> Self {
        SqliteStore {
            db,
            committed: false,
            every_activity: false,
        }
    }

    /// The same store, reading what is committed on reader connections
    /// when it has them (the API's read actions, which then neither wait
    /// for the writer nor commit).
    pub fn reading_committed(&self) -> Self {
        SqliteStore {
            committed: self.db.has_readers(),
            ..self.clone()
        }
    }

    /// Runs a read: on a reader connection, or in the open transaction.
    fn read<R>(
        &self,
        f: impl FnOnce(&mut crate::db::Db) -> Result<R, PortError>,
    ) -> Result<R, PortError> {
        match self.committed {
            true => self.db.read(f),
            false => self.db.with(f),
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
        self.read(|c| row(c, sql, key))
    }
}

/// Whether the store has the execution `arn`.
fn execution_exists(c: &crate::db::Db, arn: &str) -> Result<bool, PortError> {
    let sql = "SELECT EXISTS (SELECT 1 FROM st_executions WHERE arn = ?1)";
    Ok(c.prepare(sql)?.query_row([arn], |r| r.get(0))?)
}

/// The JSON body the query `sql` finds for `key`, parsed.
fn row<T: DeserializeOwned>(
    c: &crate::db::Db,
    sql: &str,
    key: &[&dyn rusqlite::ToSql],
) -> Result<Option<T>, PortError> {
    let body: Option<String> = c.prepare(sql)?.query_row(key, |r| r.get(0)).optional()?;
    body.map(|b| parse(&b)).transpose()
}

impl Store for SqliteStore {
    async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, PortError> {
        let kept = match self.committed {
            true => kept::committed(&self.db.committed, arn),
            false => self.db.in_txn(|conn| Ok(conn.executions.get(arn)))?,
        };
        match kept {
            Some(record) => Ok(Some(ExecutionRecord::clone(&record))),
            None => self.body("SELECT body FROM st_executions WHERE arn = ?1", &[&arn]),
        }
    }

    async fn create(&self, record: &ExecutionRecord) -> Result<bool, PortError> {
        let body = text(record)?;
        self.db.in_txn(|conn| {
            let f = &record.facts;
            let machine = view_of(record).machine_arn;
            let n = conn.db.execute(
                "INSERT OR IGNORE INTO st_executions (arn, machine, version, alias, name, status, started, stopped, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![f.arn, machine, record.version, record.alias, f.name, record.status, f.start_time, record.stopped, body],
            )?;
            if n == 1 {
                conn.executions.wrote(record, body.len());
            }
            Ok(n == 1)
        })
    }

    async fn load(&self, execution: &str, thread: &str) -> Result<Option<Record>, PortError> {
        let sql = concat!(
            "SELECT body FROM st_threads WHERE eid = ",
            eid!(),
            " AND thread = ?2"
        );
        if self.committed {
            return self.body(sql, &[&execution, &thread]);
        }
        self.db.in_txn(|conn| {
            // Taken out: its step saves it back (or the next load reads it).
            let key = (execution.to_owned(), thread.to_owned());
            match conn.threads.take(&key) {
                Some(record) => Ok(Some(record)),
                None => row(&conn.db, sql, &[&execution, &thread]),
            }
        })
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
        self.db.in_txn(|conn| {
            let key = (execution.to_owned(), thread.to_owned());
            let n = match expected {
                // Nothing when its execution is gone.
                None => conn.db.execute(
                    "INSERT OR IGNORE INTO st_threads (eid, thread, seq, body)
                     SELECT eid, ?2, ?3, ?4 FROM st_executions WHERE arn = ?1",
                    params![execution, thread, seq, body],
                )?,
                Some(e) => conn.db.execute(
                    concat!(
                        "UPDATE st_threads SET seq = ?3, body = ?4 WHERE eid = ",
                        eid!(),
                        " AND thread = ?2 AND seq = ?5"
                    ),
                    params![execution, thread, seq, body, e as i64],
                )?,
            };
            if n != 1 {
                conn.threads.forget(&key);
                // A first save for an execution deleted since (retention):
                // nothing to keep, and nothing to step again.
                if expected.is_none() && !execution_exists(&conn.db, execution)? {
                    return Ok(Saved::Done);
                }
                return Ok(Saved::Conflict);
            }
            let epoch = conn.epoch;
            conn.threads.saved(key, record.seq, epoch, body.len());
            Ok(Saved::Done)
        })
    }

    fn chain(&self) -> usize {
        CHAIN
    }

    fn losses(&self) -> u64 {
        self.db.lock().map_or(u64::MAX, |conn| conn.epoch)
    }

    fn keep(&self, execution: &str, thread: &str, record: Record, since: u64) {
        let Ok(mut conn) = self.db.lock() else { return };
        let key = (execution.to_owned(), thread.to_owned());
        conn.threads.hand_back(&key, record, since);
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
            // Nothing, when the execution is gone.
            c.execute(
                "INSERT OR REPLACE INTO st_pages (eid, thread, page, body)
                 SELECT eid, ?2, ?3, ?4 FROM st_executions WHERE arn = ?1",
                params![execution, thread, page, body],
            )?;
            Ok(())
        })
    }

    async fn reopen(&self, record: &ExecutionRecord, from: &str) -> Result<bool, PortError> {
        let body = text(record)?;
        self.db.in_txn(|conn| {
            let n = conn.db.execute(
                "UPDATE st_executions SET status = ?2, stopped = ?3, body = ?4 WHERE arn = ?1 AND status = ?5",
                params![record.facts.arn, record.status, record.stopped, body, from],
            )?;
            if n == 1 {
                conn.executions.wrote(record, body.len());
            }
            Ok(n == 1)
        })
    }

    async fn complete(
        &self,
        execution: &str,
        outcome: &Outcome,
        at: Millis,
    ) -> Result<Option<Outcome>, PortError> {
        self.db.in_txn(|conn| {
            let record = match conn.executions.get(execution) {
                Some(kept) => ExecutionRecord::clone(&kept),
                None => {
                    let sql = "SELECT body FROM st_executions WHERE arn = ?1";
                    match row::<ExecutionRecord>(&conn.db, sql, &[&execution])? {
                        Some(record) => record,
                        None => return Ok(None),
                    }
                }
            };
            if record.status != "RUNNING" {
                return Ok(record.outcome);
            }
            let mut record = record;
            record.status = status_of(outcome).into();
            record.outcome = Some(outcome.clone());
            record.stopped = Some(at);
            let body = text(&record)?;
            conn.db.execute(
                "UPDATE st_executions SET status = ?2, stopped = ?3, body = ?4 WHERE arn = ?1",
                params![execution, record.status, at, body],
            )?;
            conn.executions.wrote(&record, body.len());
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
        self.read(|c| {
            let mut pages = c.prepare(concat!("SELECT body FROM st_pages WHERE eid = ", eid!()))?;
            for body in pages.query_map([execution], |r| r.get::<_, String>(0))? {
                out.extend(parse::<Vec<Logged>>(&body?)?);
            }
            let mut threads =
                c.prepare(concat!("SELECT body FROM st_threads WHERE eid = ", eid!()))?;
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

mod api;
mod commits;
mod kept;
mod moved;
mod queue;
pub mod retention;
mod schema;
mod threads;

pub use queue::{Handle, SqliteQueue};

#[cfg(test)]
mod tests;

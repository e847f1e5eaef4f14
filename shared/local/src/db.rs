//! The SQLite schema and connection settings. WAL with `synchronous=NORMAL`:
//! a committed transaction survives the process being killed (`kill -9`);
//! only an OS crash or power loss can lose the last commits.

use std::path::Path;

use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalog (
    arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL, rev INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_by_parent ON catalog (kind, parent);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT, name TEXT NOT NULL, status TEXT NOT NULL,
    input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, started INTEGER NOT NULL, stopped INTEGER,
    facts TEXT NOT NULL, next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_point TEXT, redrive_date INTEGER,
    parent TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (machine, started);
CREATE TABLE IF NOT EXISTS threads (
    execution TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (execution, id)
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, execution TEXT NOT NULL, thread TEXT NOT NULL,
    due INTEGER NOT NULL, event TEXT NOT NULL, dispatch TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_execution ON messages (execution);
-- History events, in the order they were written (`eid` is the execution's
-- number, executions.eid): the events of executions that run together land
-- in the same pages, and the index's entries are two integers.
CREATE TABLE IF NOT EXISTS events (
    eid INTEGER NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL, ts INTEGER NOT NULL,
    type TEXT NOT NULL, details TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_execution ON events (eid, id);
-- Distributed Map runs, as they started or ended (running counts are in
-- the Map state's thread).
CREATE TABLE IF NOT EXISTS map_runs (
    arn TEXT PRIMARY KEY, execution TEXT NOT NULL, start INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS map_runs_by_execution ON map_runs (execution, start);
-- A Distributed Map's child executions (ExecutionType STANDARD), as they
-- started or ended, and their history pages.
CREATE TABLE IF NOT EXISTS child_executions (
    arn TEXT PRIMARY KEY, execution TEXT NOT NULL, attempt INTEGER NOT NULL, status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS child_executions_by_execution ON child_executions (execution);
CREATE TABLE IF NOT EXISTS child_pages (
    arn TEXT NOT NULL, attempt INTEGER NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL,
    events TEXT NOT NULL, PRIMARY KEY (arn, attempt, thread, page)
);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, execution TEXT NOT NULL, thread TEXT NOT NULL, wait INTEGER NOT NULL,
    heartbeat INTEGER, activity TEXT, input TEXT, claimed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,
    token TEXT
);
CREATE INDEX IF NOT EXISTS tokens_by_activity ON tokens (activity, claimed, created);
-- What the retention sweep looks up and deletes by.
CREATE INDEX IF NOT EXISTS executions_by_stopped ON executions (stopped) WHERE stopped IS NOT NULL;
CREATE INDEX IF NOT EXISTS tokens_by_execution ON tokens (execution);
";

pub fn open(path: Option<&Path>) -> rusqlite::Result<Connection> {
    let conn = match path {
        Some(p) => Connection::open(p)?,
        None => Connection::open_in_memory()?,
    };
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA busy_timeout = 5000;",
    )?;
    conn.execute_batch(SCHEMA)?;
    let has = |table: &str, column: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )
    };
    // Stores written before nested executions lack the parent column.
    if !has("executions", "parent")? {
        conn.execute_batch("ALTER TABLE executions ADD COLUMN parent TEXT")?;
    }
    // Stores written before the catalog lack what an execution ran.
    if !has("executions", "definition")? {
        conn.execute_batch(
            "ALTER TABLE executions ADD COLUMN definition TEXT; ALTER TABLE executions ADD COLUMN alias TEXT;",
        )?;
    }
    // A `.sync` job's start answer, kept with its message.
    if !has("messages", "started")? {
        conn.execute_batch("ALTER TABLE messages ADD COLUMN started TEXT")?;
    }
    // Stores written before executions were numbered kept their history
    // under the execution's ARN: numbered, and the history moved over.
    // (An older binary that opened the store since wrote its executions
    // without a number and its history under the ARN again.)
    // How an execution's history is numbered, kept beside `next_event`
    // (without it, numbering goes on after `next_event`).
    if !has("executions", "numbering")? {
        conn.execute_batch("ALTER TABLE executions ADD COLUMN numbering TEXT")?;
    }
    if !has("executions", "eid")? {
        conn.execute_batch("ALTER TABLE executions ADD COLUMN eid INTEGER")?;
    }
    conn.execute_batch(
        "CREATE UNIQUE INDEX IF NOT EXISTS executions_by_eid ON executions (eid);
         UPDATE executions SET eid = (SELECT COALESCE(MAX(eid), 0) FROM executions) + rowid
         WHERE eid IS NULL;",
    )?;
    if has("history", "execution")? {
        conn.execute_batch(
            "BEGIN;
             INSERT OR IGNORE INTO events (eid, id, previous, ts, type, details)
               SELECT e.eid, h.id, h.previous, h.ts, h.type, h.details
               FROM history h JOIN executions e ON e.arn = h.execution ORDER BY e.eid, h.id;
             DROP TABLE history;
             COMMIT;",
        )?;
    }
    // A parent's nested executions, found when its `.sync` task gives up.
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS executions_by_parent
         ON executions (json_extract(parent, '$.execution')) WHERE parent IS NOT NULL",
    )?;
    if let Some(p) = path {
        // The worker never checkpoints (a checkpoint fsyncs); a background
        // thread does, so commits stay cheap and the WAL stays short.
        // After a checkpoint restarts the log, its file is cut back to this.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")?;
        start_checkpointer(p.to_path_buf());
    }
    Ok(conn)
}

/// When the write-ahead log passes this size, the worker lets it start over
/// (see [`WalLimit`]); a restarted log's file is cut back to it.
const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// Copies the log into the database in the background, so that commits
/// stay cheap (a checkpoint fsyncs). It never waits on anyone: a passive
/// checkpoint copies what no reader still needs. Restarting the log is the
/// worker's job ([`WalLimit`]): a checkpoint that tried it (TRUNCATE) would
/// wait for the API's readers while holding the write lock, stalling every
/// commit, and under steady load it would rarely find a moment anyway.
fn start_checkpointer(path: std::path::PathBuf) {
    std::thread::Builder::new()
        .name("stepwise-checkpoint".into())
        .spawn(move || {
            let Ok(conn) = Connection::open(&path) else {
                return;
            };
            let _ = conn.execute_batch("PRAGMA busy_timeout = 0;");
            loop {
                std::thread::sleep(std::time::Duration::from_millis(250));
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
        })
        .expect("checkpoint thread starts");
}

/// Copies the whole write-ahead log into the database and empties it (a
/// clean stop). SQLite runs one checkpoint at a time and answers "busy"
/// (in its result row, not as an error) when the periodic one is running,
/// so this tries again until one succeeds or `patience` has passed.
pub fn checkpoint_truncate(conn: &Db, patience: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + patience;
    loop {
        let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
        if matches!(busy, Ok(0)) {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Keeps the write-ahead log short under steady load. The log can only
/// start over from its beginning once every frame in it has been copied
/// while no writer added more; the worker is the only writer, so when the
/// log has grown past [`WAL_LIMIT`] it checkpoints itself between two
/// batches. Its next commit then restarts the log (readers that began
/// after the copy read the database file, so they do not hold it), and
/// `journal_size_limit` cuts the file back.
pub struct WalLimit {
    wal: Option<std::path::PathBuf>,
    checked: std::time::Instant,
}

impl WalLimit {
    pub fn new(conn: &Connection) -> WalLimit {
        WalLimit {
            wal: conn
                .path()
                .filter(|p| !p.is_empty())
                .map(|p| format!("{p}-wal").into()),
            checked: std::time::Instant::now(),
        }
    }

    /// After a commit: a few times a second, a look at the log's size.
    pub fn after_commit(&mut self, conn: &Db) {
        let Some(wal) = &self.wal else { return };
        if self.checked.elapsed() < std::time::Duration::from_millis(200) {
            return;
        }
        self.checked = std::time::Instant::now();
        if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        }
    }
}

/// A stored thread's state (JSON), if the thread is stored.
pub fn stored_thread(conn: &Db, execution: &str, id: &str) -> rusqlite::Result<Option<String>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT data FROM threads WHERE execution = ?1 AND id = ?2",
        [execution, id],
        |r| r.get(0),
    )
    .optional()
}

/// Reader connections to one database file, kept for the next read: WAL
/// lets them read what is committed while the one writer works.
pub struct Readers {
    path: std::path::PathBuf,
    idle: std::sync::Mutex<Vec<Db>>,
}

impl Readers {
    pub fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An idle reader connection, or a new one.
    pub fn take(&self) -> rusqlite::Result<Db> {
        match self.idle.lock().ok().and_then(|mut v| v.pop()) {
            Some(c) => Ok(c),
            None => Ok(Db::new(open_reader(&self.path)?)),
        }
    }

    /// Keeps `conn` for the next read (unless a transaction is left open).
    pub fn give(&self, conn: Db) {
        if conn.is_autocommit()
            && let Ok(mut v) = self.idle.lock()
        {
            v.push(conn);
        }
    }
}

/// A connection that only reads (the worker's writes are visible once committed).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

/// The connection, with every statement prepared once and cached: the
/// worker runs the same few dozen statements over and over.
pub struct Db(Connection);

impl Db {
    pub fn new(conn: Connection) -> Db {
        conn.set_prepared_statement_cache_capacity(256);
        Db(conn)
    }

    pub fn execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.0.prepare_cached(sql)?.execute(params)
    }

    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.0.prepare_cached(sql)?.query_row(params, f)
    }

    pub fn prepare(&self, sql: &str) -> rusqlite::Result<rusqlite::CachedStatement<'_>> {
        self.0.prepare_cached(sql)
    }

    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        self.0.execute_batch(sql)
    }

    pub fn last_insert_rowid(&self) -> i64 {
        self.0.last_insert_rowid()
    }

    /// No transaction is open (SQLite ends one itself after some errors).
    pub fn is_autocommit(&self) -> bool {
        self.0.is_autocommit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written before executions were numbered: its history, kept
    /// under each execution's ARN, is moved under the execution's number.
    #[test]
    fn an_older_store_keeps_its_history() {
        let dir = std::env::temp_dir().join(format!("stepwise-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("stepwise.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE executions (arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT, name TEXT NOT NULL,
               status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, started INTEGER NOT NULL,
               stopped INTEGER, facts TEXT NOT NULL, next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0,
               redrive_point TEXT, redrive_date INTEGER);
             CREATE TABLE history (execution TEXT NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL,
               ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL, PRIMARY KEY (execution, id));
             INSERT INTO executions (arn, machine, name, status, input, started, facts, next_event)
               VALUES ('b', 'm', 'b', 'SUCCEEDED', '{}', 1, '{}', 3), ('a', 'm', 'a', 'RUNNING', '{}', 2, '{}', 2);
             INSERT INTO history VALUES ('a', 1, 0, 5, 'ExecutionStarted', '{}'),
               ('b', 1, 0, 3, 'ExecutionStarted', '{}'), ('b', 2, 1, 4, 'ExecutionSucceeded', '{\"output\":1}');",
        )
        .unwrap();
        drop(old);
        let conn = open(Some(&path)).unwrap();
        let rows: Vec<(String, i64, i64, String)> = conn
            .prepare(
                "SELECT x.arn, e.id, e.ts, e.details FROM events e JOIN executions x ON x.eid = e.eid ORDER BY x.arn, e.id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("a".into(), 1, 5, "{}".into()),
                ("b".into(), 1, 3, "{}".into()),
                ("b".into(), 2, 4, "{\"output\":1}".into()),
            ]
        );
        let old_table: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'history'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old_table, 0);
        // An older binary opens it again: an execution without a number,
        // its history under the ARN.
        conn.execute_batch(
            "CREATE TABLE history (execution TEXT NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL,
               ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL, PRIMARY KEY (execution, id));
             INSERT INTO executions (arn, machine, name, status, input, started, facts, next_event)
               VALUES ('c', 'm', 'c', 'RUNNING', '{}', 3, '{}', 2);
             INSERT INTO history VALUES ('c', 1, 0, 6, 'ExecutionStarted', '{}');",
        )
        .unwrap();
        drop(conn);
        let conn = open(Some(&path)).unwrap();
        let eids: Vec<(String, i64, i64)> = conn
            .prepare("SELECT x.arn, x.eid, COUNT(e.id) FROM executions x LEFT JOIN events e ON e.eid = x.eid GROUP BY x.arn ORDER BY x.arn")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let numbers: std::collections::HashSet<i64> = eids.iter().map(|e| e.1).collect();
        assert_eq!(numbers.len(), 3, "each execution its own number: {eids:?}");
        let counts: Vec<i64> = eids.iter().map(|e| e.2).collect();
        assert_eq!(counts, [1, 2, 1]);
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

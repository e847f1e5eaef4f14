//! The SQLite schema and connection settings. WAL with `synchronous=NORMAL`:
//! a committed transaction survives the process being killed (`kill -9`);
//! only an OS crash or power loss can lose the last commits.

use std::path::Path;

use rusqlite::Connection;

/// The catalog (state machines, versions, aliases, activities and their
/// tags); the stepper's tables are in `stepper/schema.rs`.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalog (
    arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL, rev INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalog_by_parent ON catalog (kind, parent);
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
    if let Some(p) = path {
        // The writer never checkpoints (a checkpoint fsyncs); a background
        // thread does, so commits stay cheap and the WAL stays short.
        // After a checkpoint restarts the log, its file is cut back to this.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;")?;
        start_checkpointer(p.to_path_buf());
    }
    Ok(conn)
}

/// When the write-ahead log passes this size, the writer lets it start over
/// (see [`WalLimit`]); a restarted log's file is cut back to it.
const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// Copies the log into the database in the background, so that commits
/// stay cheap (a checkpoint fsyncs). It never waits on anyone: a passive
/// checkpoint copies what no reader still needs. Restarting the log is the
/// writer's job ([`WalLimit`]): a checkpoint that tried it (TRUNCATE) would
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
/// while no writer added more; the store's connection is the only writer, so when the
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

/// A connection that only reads (the writer's writes are visible once committed).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

/// The connection, with every statement prepared once and cached: the
/// store runs the same few dozen statements over and over.
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

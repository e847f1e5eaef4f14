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
CREATE TABLE IF NOT EXISTS history (
    execution TEXT NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL, ts INTEGER NOT NULL,
    type TEXT NOT NULL, details TEXT NOT NULL, PRIMARY KEY (execution, id)
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
    // Stores written before nested executions lack the parent column.
    let has_parent: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('executions') WHERE name = 'parent'",
        [],
        |r| r.get(0),
    )?;
    if has_parent == 0 {
        conn.execute_batch("ALTER TABLE executions ADD COLUMN parent TEXT")?;
    }
    // Stores written before the catalog lack what an execution ran.
    let has_definition: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('executions') WHERE name = 'definition'",
        [],
        |r| r.get(0),
    )?;
    if has_definition == 0 {
        conn.execute_batch(
            "ALTER TABLE executions ADD COLUMN definition TEXT; ALTER TABLE executions ADD COLUMN alias TEXT;",
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
}

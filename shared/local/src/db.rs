//! The SQLite schema and connection settings. WAL with `synchronous=NORMAL`:
//! a committed transaction survives the process being killed (`kill -9`);
//! only an OS crash or power loss can lose the last commits.

use std::path::Path;

use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state_machines (
    arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL, definition TEXT NOT NULL,
    role_arn TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL, revision INTEGER NOT NULL,
    description TEXT, logging TEXT NOT NULL, tracing TEXT NOT NULL, next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS versions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL,
    role_arn TEXT NOT NULL, revision INTEGER NOT NULL, description TEXT, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
    routing TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT, name TEXT NOT NULL, status TEXT NOT NULL,
    input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, started INTEGER NOT NULL, stopped INTEGER,
    facts TEXT NOT NULL, next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_point TEXT, redrive_date INTEGER
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
CREATE TABLE IF NOT EXISTS activities (
    arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    resource TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (resource, key)
);
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
    Ok(conn)
}

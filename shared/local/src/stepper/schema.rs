//! The stepper's tables on SQLite: each record one row of JSON, as each is
//! one item on DynamoDB, with the columns its queries select by.

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS st_executions (
    arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT, alias TEXT, name TEXT NOT NULL,
    status TEXT NOT NULL, started INTEGER NOT NULL, stopped INTEGER, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS st_executions_by_machine ON st_executions (machine, started);
CREATE INDEX IF NOT EXISTS st_executions_by_stopped ON st_executions (stopped)
    WHERE stopped IS NOT NULL;
CREATE TABLE IF NOT EXISTS st_threads (
    execution TEXT NOT NULL, thread TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution, thread)
);
CREATE TABLE IF NOT EXISTS st_pages (
    execution TEXT NOT NULL, thread TEXT NOT NULL, page INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution, thread, page)
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

//! A store written by the embedded backend's former worker: its ended
//! executions are read whole through the stepper's tables, and a store
//! with a running one is refused and left as it was.

use serde_json::json;
use stepwise_asl::Outcome;
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::stepper::{Store, merge_history};

use super::super::{Db, SqliteStore};
use super::scratch;

/// The worker's tables as its last release left them.
const WORKER: &str = "
CREATE TABLE catalog (arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL,
  rev INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE executions (arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT,
  name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT,
  cause TEXT, started INTEGER NOT NULL, stopped INTEGER, facts TEXT NOT NULL,
  next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0, redrive_point TEXT,
  redrive_date INTEGER, parent TEXT, definition TEXT, alias TEXT, numbering TEXT, eid INTEGER);
CREATE TABLE threads (execution TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
  data TEXT NOT NULL, PRIMARY KEY (execution, id));
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, execution TEXT NOT NULL,
  thread TEXT NOT NULL, due INTEGER NOT NULL, event TEXT NOT NULL, dispatch TEXT, started TEXT);
CREATE TABLE events (eid INTEGER NOT NULL, id INTEGER NOT NULL, previous INTEGER NOT NULL,
  ts INTEGER NOT NULL, type TEXT NOT NULL, details TEXT NOT NULL);
CREATE TABLE map_runs (arn TEXT PRIMARY KEY, execution TEXT NOT NULL, start INTEGER NOT NULL,
  body TEXT NOT NULL);
CREATE TABLE child_executions (arn TEXT PRIMARY KEY, execution TEXT NOT NULL,
  attempt INTEGER NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE child_pages (arn TEXT NOT NULL, attempt INTEGER NOT NULL, thread TEXT NOT NULL,
  page INTEGER NOT NULL, events TEXT NOT NULL, PRIMARY KEY (arn, attempt, thread, page));
CREATE TABLE tokens (hash TEXT PRIMARY KEY, execution TEXT NOT NULL, thread TEXT NOT NULL,
  wait INTEGER NOT NULL, heartbeat INTEGER, activity TEXT, input TEXT,
  claimed INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL, token TEXT);
";

/// A worker store with one execution of `status`, its Parallel's two
/// branches linked as the worker linked them.
fn worker_store(path: &std::path::Path, status: &str) -> String {
    let facts = local_execution("m", "e", json!({"n": 1}), 1_000, false);
    let arn = facts.arn.clone();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(WORKER).unwrap();
    conn.execute(
        "INSERT INTO executions (arn, machine, name, status, input, output, error, cause, started,
           stopped, facts, next_event, definition, eid)
         VALUES (?1, 'm', 'e', ?2, '{\"n\":  1}', NULL, 'E', 'broke', 1000, 1006, ?3, 7, '{\"d\":1}', 4)",
        rusqlite::params![arn, status, serde_json::to_string(&facts).unwrap()],
    )
    .unwrap();
    let events = [
        (1, 0, "ExecutionStarted", json!({"input": "{}"})),
        (
            2,
            1,
            "ParallelStateEntered",
            json!({"name": "P", "input": "{}"}),
        ),
        (3, 2, "ParallelStateStarted", json!({})),
        (
            4,
            3,
            "PassStateEntered",
            json!({"name": "A", "input": "{}"}),
        ),
        (
            5,
            3,
            "PassStateEntered",
            json!({"name": "B", "input": "{}"}),
        ),
        (
            6,
            5,
            "ExecutionFailed",
            json!({"error": "E", "cause": "broke"}),
        ),
    ];
    for (id, previous, kind, details) in events {
        conn.execute(
            "INSERT INTO events VALUES (4, ?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![id, previous, 1000 + id, kind, details.to_string()],
        )
        .unwrap();
    }
    let run = json!({"arn": "run-1", "execution": arn, "start": 1002, "status": "SUCCEEDED"});
    conn.execute(
        "INSERT INTO map_runs VALUES ('run-1', ?1, 1002, ?2)",
        rusqlite::params![arn, run.to_string()],
    )
    .unwrap();
    arn
}

#[test]
fn an_ended_execution_of_the_workers_store_is_read_whole() {
    let (_dir, path) = scratch("moved");
    let arn = worker_store(&path, "FAILED");
    let store = SqliteStore::new(Db::open(Some(&path)).unwrap());
    block_on(async {
        let record = store.execution(&arn).await.unwrap().unwrap();
        assert_eq!(record.status, "FAILED");
        assert_eq!(record.definition, "{\"d\":1}");
        assert_eq!(record.stopped, Some(1006));
        assert_eq!(record.input_text.as_deref(), Some("{\"n\":  1}"));
        let Some(Outcome::Failed(e)) = &record.outcome else {
            panic!("{:?}", record.outcome)
        };
        assert_eq!(
            (e.error.as_deref(), e.cause.as_deref()),
            (Some("E"), Some("broke"))
        );
        let history = merge_history(store.history(&arn).await.unwrap());
        let links: Vec<(u64, u64, String)> = history
            .iter()
            .map(|r| (r.id, r.previous, format!("{:?}", r.event.kind)))
            .collect();
        // Both branches' first events follow ParallelStateStarted (#3), as
        // the worker linked them: not one after the other.
        assert_eq!(
            links,
            [
                (1, 0, "ExecutionStarted".into()),
                (2, 1, "ParallelStateEntered".into()),
                (3, 2, "ParallelStateStarted".into()),
                (4, 3, "PassStateEntered".into()),
                (5, 3, "PassStateEntered".into()),
                (6, 5, "ExecutionFailed".into()),
            ]
        );
        assert_eq!(history[4].event.details["name"], "B");
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM st_map_runs WHERE arn = 'run-1'"),
        1
    );
    // The worker's rows are kept, out of the way; opening again moves nothing twice.
    assert_eq!(count("SELECT COUNT(*) FROM moved_events"), 6);
    drop(store);
    let again = SqliteStore::new(Db::open(Some(&path)).unwrap());
    let history = block_on(again.history(&arn)).unwrap();
    assert_eq!(history.len(), 6);
}

#[test]
fn a_workers_store_with_a_running_execution_is_refused_and_left_alone() {
    let (_dir, path) = scratch("moved-running");
    let arn = worker_store(&path, "RUNNING");
    let Err(e) = Db::open(Some(&path)) else {
        panic!("a store with a running execution of the worker opened");
    };
    assert!(
        e.to_string()
            .contains("1 of its executions are still running"),
        "{e}"
    );
    let conn = rusqlite::Connection::open(&path).unwrap();
    let status: String = conn
        .query_row(
            "SELECT status FROM executions WHERE arn = ?1",
            [&arn],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "RUNNING");
    let stepper: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'st_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stepper, 0, "nothing is written to a refused store");
}

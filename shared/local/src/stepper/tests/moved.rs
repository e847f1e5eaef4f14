//! A store written by the embedded backend's former worker: its ended
//! executions are read whole through the stepper's tables, and a store
//! with a running one is refused and left as it was.

use serde_json::json;
use stepwise_asl::Outcome;
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::stepper::{Store, TokenTarget, merge_history};

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
    conn.execute(
        "INSERT INTO tokens (hash, execution, thread, wait, created) VALUES ('h1', ?1, 'root/0', 7, 1)",
        [&arn],
    )
    .unwrap();
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
    // A late answer to one of its tasks finds where it went.
    let token: String = conn
        .query_row("SELECT body FROM st_tokens WHERE hash = 'h1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let target: TokenTarget = serde_json::from_str(&token).unwrap();
    assert_eq!((target.thread.as_str(), target.wait), ("root/0", 7));
    assert_eq!(target.execution, arn);
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

/// A store of an older release of the worker (no execution numbers, its
/// history under each execution's ARN) is brought up and moved; written by
/// the worker again after that, it moves a second time, beside the first;
/// an execution with an event that cannot be read stays behind alone.
#[test]
fn an_older_store_moves_and_one_written_again_moves_again() {
    let (_dir, path) = scratch("moved-older");
    let old = local_execution("m", "old", json!({}), 1_000, false);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE catalog (arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT NOT NULL,
           rev INTEGER NOT NULL, body TEXT NOT NULL);
         CREATE TABLE executions (arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT,
           name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT,
           cause TEXT, started INTEGER NOT NULL, stopped INTEGER, facts TEXT NOT NULL,
           next_event INTEGER NOT NULL, redrive_count INTEGER NOT NULL DEFAULT 0,
           redrive_point TEXT, redrive_date INTEGER);
         CREATE TABLE history (execution TEXT NOT NULL, id INTEGER NOT NULL,
           previous INTEGER NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL,
           details TEXT NOT NULL, PRIMARY KEY (execution, id));",
    )
    .unwrap();
    let insert = |conn: &rusqlite::Connection, facts: &stepwise_asl::exec::Execution| {
        conn.execute(
            "INSERT INTO executions (arn, machine, name, status, input, output, started, stopped,
               facts, next_event) VALUES (?1, 'm', ?2, 'SUCCEEDED', '{}', '1', 1000, 1002, ?3, 3)",
            rusqlite::params![facts.arn, facts.name, serde_json::to_string(facts).unwrap()],
        )
        .unwrap();
    };
    insert(&conn, &old);
    conn.execute(
        "INSERT INTO history VALUES (?1, 2, 0, 1002, 'ExecutionSucceeded', '{\"output\":1}')",
        [&old.arn],
    )
    .unwrap();
    drop(conn);
    drop(Db::open(Some(&path)).unwrap());
    // The worker's release opens it again and writes two more executions:
    // one EXPRESS, one whose event no longer reads.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(WORKER.split_once(";").unwrap().1)
        .unwrap();
    let express = local_execution("m", "fast", json!({}), 2_000, true);
    let bad = local_execution("m", "bad", json!({}), 3_000, false);
    for facts in [&express, &bad] {
        insert(&conn, facts);
    }
    conn.execute_batch(
        "UPDATE executions SET eid = rowid;
         INSERT INTO events VALUES (1, 2, 0, 2002, 'ExecutionSucceeded', '{\"output\":1}');
         INSERT INTO events VALUES (2, 2, 0, 3002, 'NoSuchEvent', '{}');",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::new(Db::open(Some(&path)).unwrap());
    block_on(async {
        for (facts, express) in [(&old, false), (&express, true)] {
            let record = store.execution(&facts.arn).await.unwrap().unwrap();
            assert_eq!(
                (record.status.as_str(), record.express),
                ("SUCCEEDED", express)
            );
            let history = merge_history(store.history(&facts.arn).await.unwrap());
            assert_eq!(history.len(), 2, "{}", facts.name);
            assert_eq!(history[1].event.details["output"], 1);
        }
        assert!(store.execution(&bad.arn).await.unwrap().is_none());
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    let arns = |table: &str| -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        conn.query_row(&sql, [], |r| r.get(0)).unwrap()
    };
    assert_eq!(
        (arns("moved_executions"), arns("moved_executions_2")),
        (1, 2)
    );
}

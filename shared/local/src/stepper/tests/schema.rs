//! The stepper's tables: threads and history pages kept by their
//! execution's number, and a store written before that read as it was.

use serde_json::json;
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::stepper::{ExecutionRecord, Record, Saved, Store};

use super::super::{Db, SqliteStore};
use super::scratch;

/// A store from before threads were kept by number: its executions, threads
/// and pages are all there after it opens, and go on as any other.
#[test]
fn a_store_that_kept_threads_by_arn_is_read_whole() {
    let (_dir, path) = scratch("migrate");
    let facts = local_execution("m", "e", json!({"n": 1}), 1_000, false);
    let record = ExecutionRecord::running(facts, "{}".into(), false);
    let arn = record.facts.arn.clone();
    let thread = Record {
        seq: 3,
        cause: "kept".into(),
        ..Record::default()
    };
    let page = json!([{"order": 1, "event": {"timestamp": 1000, "kind": "PassStateEntered",
        "thread": "root", "details": {"name": "P", "input": {}}}}]);
    {
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE st_executions (arn TEXT PRIMARY KEY, machine TEXT NOT NULL, version TEXT,
               alias TEXT, name TEXT NOT NULL, status TEXT NOT NULL, started INTEGER NOT NULL,
               stopped INTEGER, body TEXT NOT NULL);
             CREATE INDEX st_executions_by_machine ON st_executions (machine, started);
             CREATE TABLE st_threads (execution TEXT NOT NULL, thread TEXT NOT NULL,
               seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (execution, thread));
             CREATE TABLE st_pages (execution TEXT NOT NULL, thread TEXT NOT NULL,
               page INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (execution, thread, page));",
        )
        .unwrap();
        old.execute(
            "INSERT INTO st_executions VALUES (?1, 'm', NULL, NULL, 'e', 'RUNNING', 1000, NULL, ?2)",
            rusqlite::params![arn, serde_json::to_string(&record).unwrap()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO st_threads VALUES (?1, 'root', 3, ?2)",
            rusqlite::params![arn, serde_json::to_string(&thread).unwrap()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO st_pages VALUES (?1, 'root', 0, ?2)",
            rusqlite::params![arn, page.to_string()],
        )
        .unwrap();
    }
    let store = SqliteStore::new(Db::open(Some(&path)).unwrap());
    block_on(async {
        let loaded = store.load(&arn, "root").await.unwrap().unwrap();
        assert_eq!((loaded.seq, loaded.cause.as_str()), (3, "kept"));
        let history = store.history(&arn).await.unwrap();
        let kinds: Vec<_> = history
            .iter()
            .map(|e| serde_json::to_value(&e.event).unwrap()["kind"].clone())
            .collect();
        assert_eq!(
            kinds,
            [json!("ExecutionStarted"), json!("PassStateEntered")]
        );
        let next = Record { seq: 4, ..loaded };
        assert_eq!(
            store.save(&arn, "root", &next, Some(3)).await.unwrap(),
            Saved::Done
        );
        // A new execution is numbered after the old ones.
        let facts = local_execution("m", "f", json!({}), 2_000, false);
        let second = ExecutionRecord::running(facts, "{}".into(), false);
        assert!(store.create(&second).await.unwrap());
        let fresh = Record {
            seq: 1,
            ..Record::default()
        };
        let (a, b) = (second.facts.arn.as_str(), "root");
        assert_eq!(store.save(a, b, &fresh, None).await.unwrap(), Saved::Done);
        assert_eq!(store.load(&arn, "root").await.unwrap().unwrap().seq, 4);
    });
    // A thread of an execution the store does not have (deleted since its
    // message went out) is not kept, and its step is not tried again.
    block_on(async {
        let orphan = Record {
            seq: 1,
            ..Record::default()
        };
        assert_eq!(
            store.save("gone", "root", &orphan, None).await.unwrap(),
            Saved::Done
        );
        assert!(store.load("gone", "root").await.unwrap().is_none());
        // A second first save of one it has is a conflict.
        assert_eq!(
            store.save(&arn, "root", &orphan, None).await.unwrap(),
            Saved::Conflict
        );
    });
}

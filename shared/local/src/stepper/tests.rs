use serde_json::json;
use stepwise_asl::{Options, Outcome, StateMachine};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::report::Status;
use stepwise_engine::stepper::{
    Chaos, ExecutionRecord, Inbox, Queue, Record, Saved, Stepper, Store, run_to_end,
};
use stepwise_engine::tasks::FnTasks;

use super::{Db, SqliteQueue, SqliteStore};

fn envelope(id: &str, at: i64) -> stepwise_engine::stepper::Envelope {
    stepwise_engine::stepper::Envelope {
        id: id.into(),
        at,
        body: stepwise_engine::stepper::Body::Bundle(Vec::new()),
    }
}

/// A directory of its own for a test's database file, removed after it.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> (Scratch, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("stepwise-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    (Scratch(dir), path)
}

/// A store in memory with an execution named `arn` (its record is not
/// read), for its threads.
fn store_with(arn: &str) -> SqliteStore {
    let db = Db::open(None).unwrap();
    db.with(|c| {
        c.execute(
            "INSERT INTO st_executions (arn, machine, name, status, started, body)
             VALUES (?1, 'm', ?1, 'RUNNING', 0, '{}')",
            [arn],
        )?;
        Ok(())
    })
    .unwrap();
    SqliteStore::new(db)
}

#[test]
fn a_save_goes_through_only_on_the_sequence_number_it_loaded() {
    let store = store_with("x");
    let record = |seq| Record {
        seq,
        cause: format!("m{seq}"),
        ..Record::default()
    };
    block_on(async {
        assert_eq!(
            store.save("x", "t", &record(1), None).await.unwrap(),
            Saved::Done
        );
        // A second first save (a duplicate child start) loses.
        assert_eq!(
            store.save("x", "t", &record(1), None).await.unwrap(),
            Saved::Conflict
        );
        assert_eq!(
            store.save("x", "t", &record(2), Some(7)).await.unwrap(),
            Saved::Conflict
        );
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "m1");
        assert_eq!(
            store.save("x", "t", &record(2), Some(1)).await.unwrap(),
            Saved::Done
        );
        let loaded = store.load("x", "t").await.unwrap().unwrap();
        assert_eq!((loaded.seq, loaded.cause.as_str()), (2, "m2"));
        assert!(store.load("x", "other").await.unwrap().is_none());
    });
}

#[test]
fn a_record_handed_back_is_kept_only_if_it_was_saved_last() {
    let store = store_with("x");
    let record = |seq, cause: &str| Record {
        seq,
        cause: cause.into(),
        thread: Some(stepwise_asl::Thread::root("A", json!({}))),
        ..Record::default()
    };
    block_on(async {
        // Handed back after its save: the next load takes it from memory
        // (the marker in `cause` shows the row was not read).
        store.save("x", "t", &record(1, "row"), None).await.unwrap();
        store.keep("x", "t", record(1, "memory"), 0);
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "memory");
        // A load took it out: handed back later, it stays out.
        store.keep("x", "t", record(1, "memory"), 0);
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "row");
        // A later save came first: the earlier record stays out.
        store
            .save("x", "t", &record(2, "second"), Some(1))
            .await
            .unwrap();
        store.keep("x", "t", record(1, "stale"), 0);
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "second");
        // A lost transaction drops what was kept with it.
        store.db().flush().unwrap();
        store
            .save("x", "t", &record(3, "third"), Some(2))
            .await
            .unwrap();
        store.keep("x", "t", record(3, "lost"), 0);
        store.db().lose().unwrap();
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "second");
        // A save lost with its transaction, made again by another delivery
        // (the same sequence number): the first one's record stays out.
        let since = store.losses();
        store
            .save("x", "t", &record(3, "first"), Some(2))
            .await
            .unwrap();
        store.db().lose().unwrap();
        let again = store.save("x", "t", &record(3, "again"), Some(2)).await;
        assert_eq!(again.unwrap(), Saved::Done);
        store.keep("x", "t", record(3, "first"), since);
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "again");
        // A finished thread is not kept: no step of it comes again.
        let since = store.losses();
        store
            .save("x", "t", &record(4, "row"), Some(3))
            .await
            .unwrap();
        let mut done = record(4, "memory");
        if let Some(t) = done.thread.as_mut() {
            t.phase = stepwise_asl::exec::Phase::Done;
        }
        store.keep("x", "t", done, since);
        assert_eq!(store.load("x", "t").await.unwrap().unwrap().cause, "row");
    });
}

#[test]
fn an_execution_is_read_as_committed_from_memory_and_as_written_by_the_writer() {
    let (_dir, path) = scratch("kept-executions");
    let writer = SqliteStore::new(Db::open(Some(&path)).unwrap());
    let reader = writer.reading_committed();
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let arn = facts.arn.clone();
    let status = |store: &SqliteStore| block_on(store.execution(&arn)).unwrap().map(|r| r.status);
    let done = Outcome::Succeeded(json!({"a": 1}));
    block_on(async {
        let record = ExecutionRecord::running(facts.clone(), "{}".into(), false);
        assert!(writer.create(&record).await.unwrap());
    });
    assert_eq!(status(&writer).as_deref(), Some("RUNNING"));
    assert_eq!(status(&reader), None, "not committed yet");
    writer.db().flush().unwrap();
    assert_eq!(status(&reader).as_deref(), Some("RUNNING"));
    block_on(writer.complete(&arn, &done, 2_000)).unwrap();
    assert_eq!(status(&writer).as_deref(), Some("SUCCEEDED"));
    assert_eq!(status(&reader).as_deref(), Some("RUNNING"));
    // A lost transaction takes the end with it, for the writer too.
    writer.db().lose().unwrap();
    assert_eq!(status(&writer).as_deref(), Some("RUNNING"));
    assert_eq!(block_on(writer.complete(&arn, &done, 3_000)).unwrap(), None);
    writer.db().flush().unwrap();
    assert_eq!(status(&reader).as_deref(), Some("SUCCEEDED"));
    // Read from memory: a row changed behind the store's back is not read.
    writer
        .db()
        .with(|c| {
            c.execute(
                "UPDATE st_executions SET body = json_set(body, '$.status', 'FAILED')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
    writer.db().flush().unwrap();
    assert_eq!(status(&reader).as_deref(), Some("SUCCEEDED"));
    // Retention forgets what it deletes.
    assert_eq!(writer.expire(i64::MAX, 10).unwrap(), 1);
    assert_eq!((status(&writer), status(&reader)), (None, None));
}

/// The writer reads a catalog entry from memory once it has read it, as
/// its open transaction has it: a write of the entry, and a lost
/// transaction, make it read the table again.
#[test]
fn a_catalog_entry_is_read_by_the_writer_as_last_written() {
    use stepwise_engine::catalog::{Activity, Catalog, Entry, Key, Kind, Resource};
    let store = SqliteStore::new(Db::open(None).unwrap());
    let arn = "arn:aws:states:us-east-1:123456789012:activity:a";
    let key = Key {
        kind: Kind::Activity,
        parent: "arn:aws:states:us-east-1:123456789012".into(),
        arn: arn.into(),
    };
    let entry = |rev, name: &str| Entry {
        key: key.clone(),
        rev,
        body: Resource::Activity(Activity {
            name: name.into(),
            created: 0,
            encryption: json!({}),
            tags: Vec::new(),
        }),
    };
    let name = |e: Option<Entry>| match e.map(|e| e.body) {
        Some(Resource::Activity(a)) => a.name,
        _ => "none".into(),
    };
    block_on(async {
        assert!(store.put(&entry(1, "one"), None).await.unwrap());
        store.db().flush().unwrap();
        assert_eq!(name(store.get(&key).await.unwrap()), "one");
        // Changed behind the store's back: still read from memory.
        store
            .db()
            .with(|c| Ok(c.execute("UPDATE catalog SET body = replace(body, 'one', 'row')", [])?))
            .unwrap();
        store.db().flush().unwrap();
        assert_eq!(name(store.get(&key).await.unwrap()), "one");
        // A write through the store is read back.
        assert!(store.put(&entry(2, "two"), Some(1)).await.unwrap());
        assert_eq!(name(store.get(&key).await.unwrap()), "two");
        // Lost with its transaction: the table's committed row again.
        store.db().lose().unwrap();
        assert_eq!(name(store.get(&key).await.unwrap()), "row");
        store.delete(&key).await.unwrap();
        assert_eq!(name(store.get(&key).await.unwrap()), "none");
    });
}

#[test]
fn the_first_end_of_an_execution_is_the_one_kept() {
    let store = SqliteStore::new(Db::open(None).unwrap());
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts.clone(), "{}".into(), false);
    block_on(async {
        assert!(store.create(&record).await.unwrap());
        assert!(!store.create(&record).await.unwrap());
        let first = Outcome::Succeeded(json!({"a": 1}));
        assert_eq!(
            store.complete(&facts.arn, &first, 2_000).await.unwrap(),
            None
        );
        let later = Outcome::Succeeded(json!({"a": 2}));
        let kept = store.complete(&facts.arn, &later, 3_000).await.unwrap();
        assert_eq!(kept, Some(first));
        let stored = store.execution(&facts.arn).await.unwrap().unwrap();
        assert_eq!(
            (stored.status.as_str(), stored.stopped),
            ("SUCCEEDED", Some(2_000))
        );
        // A redrive reopens it only from the status it is in.
        assert!(!store.reopen(&record, "FAILED").await.unwrap());
        assert!(store.reopen(&record, "SUCCEEDED").await.unwrap());
        let reopened = store.execution(&facts.arn).await.unwrap().unwrap();
        assert_eq!(reopened.status, "RUNNING");
    });
}

#[test]
fn a_message_waits_until_it_is_due_and_comes_back_when_released() {
    let queue = SqliteQueue::new(Db::open(None).unwrap(), false);
    let now = stepwise_engine::memory::wall_clock();
    block_on(async {
        let sent = [envelope("later", now + 60_000), envelope("now", now - 5)];
        queue.send(&sent, now).await.unwrap();
        let got = queue.receive(false).await.unwrap();
        let ids: Vec<_> = got.iter().map(|d| d.envelope.id.as_str()).collect();
        assert_eq!(ids, ["now"]);
        assert_eq!(got[0].receives, 1);
        // Received and neither deleted nor released: hidden.
        assert!(queue.receive(false).await.unwrap().is_empty());
        queue.release(&[got[0].handle]).await.unwrap();
        let again = queue.receive(false).await.unwrap();
        assert_eq!(
            (again[0].envelope.id.as_str(), again[0].receives),
            ("now", 2)
        );
        queue.delete(&[again[0].handle]).await.unwrap();
        assert!(queue.receive(false).await.unwrap().is_empty());
        assert_eq!(queue.queued().unwrap(), 1, "the later message stays queued");
    });
}

#[test]
fn a_queue_left_to_a_virtual_clock_delivers_in_the_order_sent() {
    let queue = SqliteQueue::new(Db::open(None).unwrap(), true);
    block_on(async {
        let sent = [envelope("b", 9_000_000_000_000), envelope("a", 1)];
        queue.send(&sent, 0).await.unwrap();
        let got = queue.receive(false).await.unwrap();
        let ids: Vec<_> = got.iter().map(|d| d.envelope.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
    });
}

const MACHINE: &str = r#"{
  "StartAt": "Call",
  "States": {
    "Call": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
             "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 30}], "Next": "Wait"},
    "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Fan"},
    "Fan": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Double", "States": {
              "Double": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($, $)"}, "End": true}}},
            "End": true}
  }
}"#;

/// A whole execution on the SQLite store and queue, through the stepper's
/// protocol, with chaos (duplicates, late messages, aborts between a save
/// and its send): the answer is the one a clean run gives, and it is in
/// the database file for another connection to read.
#[test]
fn an_execution_runs_to_its_end_on_sqlite_through_the_stepper() {
    let (_dir, path) = scratch("stepper");
    let machine = StateMachine::parse(MACHINE, Options::default()).unwrap();
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts.clone(), MACHINE.into(), false);
    let calls = std::sync::atomic::AtomicU32::new(0);
    let tasks = FnTasks(|_: &stepwise_asl::TaskCall| {
        // Fails once (retried after 30 s on the virtual clock), then answers.
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(stepwise_asl::StatesError::custom("Flaky", "once"));
        }
        Ok(json!({"items": [1, 2, 3]}))
    });
    let db = Db::open(Some(&path)).unwrap();
    let queue = SqliteQueue::new(db.clone(), true);
    let stepper = Stepper::new(SqliteStore::new(db), &queue, tasks, Some(Chaos::new(7)), 7);
    let report = block_on(run_to_end(&stepper, &queue, &record, &machine, true)).unwrap();
    assert_eq!(report.status, Status::Succeeded);
    assert_eq!(report.output, Some(json!([{"v": 2}, {"v": 4}, {"v": 6}])));
    assert!(*stepper.abort.as_ref().unwrap().aborts.lock().unwrap() > 0);
    let events = report.history.len();
    drop(stepper);
    drop(queue);
    let reread = SqliteStore::new(Db::open(Some(&path)).unwrap());
    let kept = block_on(reread.execution(&facts.arn)).unwrap().unwrap();
    assert_eq!(kept.status, "SUCCEEDED");
    let history = block_on(reread.history(&facts.arn)).unwrap();
    assert_eq!(history.len(), events);
}

/// Group commit: work stays in the open transaction (another connection,
/// as after a crash, does not see it) until a batch ends or the API is
/// about to answer.
#[test]
fn work_is_committed_when_a_batch_ends_and_before_an_answer() {
    let (_dir, path) = scratch("commit");
    let db = Db::open(Some(&path)).unwrap();
    db.keep_uncommitted_for(std::time::Duration::from_secs(600));
    let (store, queue) = (SqliteStore::new(db.clone()), SqliteQueue::new(db, false));
    let outside = rusqlite::Connection::open(&path).unwrap();
    let count = |table: &str| -> i64 {
        outside
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    };
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts, "{}".into(), false);
    block_on(async {
        let committed = store.reading_committed();
        assert!(store.create(&record).await.unwrap());
        assert_eq!(count("st_executions"), 0, "not committed yet");
        assert!(store.execution(&record.facts.arn).await.unwrap().is_some());
        assert!(
            committed
                .execution(&record.facts.arn)
                .await
                .unwrap()
                .is_none(),
            "the API's reads see only what is committed"
        );
        let txn = store.db().open_txn().unwrap();
        assert!(txn.is_some());
        store.db().flush_since(0, txn).unwrap();
        assert_eq!(count("st_executions"), 1);
        assert!(
            committed
                .execution(&record.facts.arn)
                .await
                .unwrap()
                .is_some()
        );
        // Another answer's commit took this one's writes: nothing to do.
        queue
            .send(&[envelope("m0", 9_000_000_000_000)], 0)
            .await
            .unwrap();
        store.db().flush_since(0, txn).unwrap();
        assert_eq!(
            count("st_queue"),
            0,
            "a later transaction is not this answer's"
        );
        queue.send(&[envelope("m1", 0)], 0).await.unwrap();
        let got = queue.receive(false).await.unwrap();
        assert_eq!(count("st_queue"), 0, "the send is not committed yet");
        queue.delete(&[got[0].handle]).await.unwrap();
        // The batch's end committed its send and its delete together.
        assert_eq!(count("st_queue"), 1, "m0 only");
        queue.send(&[envelope("m2", 0)], 0).await.unwrap();
        let got = queue.receive(false).await.unwrap();
        queue.release(&[got[0].handle]).await.unwrap();
        assert_eq!(
            count("st_queue"),
            2,
            "a released message is committed, to come back"
        );
    });
    drop((store, queue, outside));
}

/// A batch that ends while more messages are due leaves its work to the
/// next one's commit (the steps of an execution join one transaction);
/// a receive that finds nothing to do commits.
#[test]
fn a_batch_ending_with_more_due_shares_the_next_commit() {
    let (_dir, path) = scratch("group");
    let db = Db::open(Some(&path)).unwrap();
    let mut queue = SqliteQueue::new(db.clone(), false);
    // However slow the machine, left open (the commit thread's bound is
    // the next test's).
    queue.group = std::time::Duration::from_secs(600);
    db.keep_uncommitted_for(std::time::Duration::from_secs(600));
    let outside = rusqlite::Connection::open(&path).unwrap();
    let count = || -> i64 {
        outside
            .query_row("SELECT COUNT(*) FROM st_queue", [], |r| r.get(0))
            .unwrap()
    };
    block_on(async {
        queue.send(&[envelope("first", 0)], 0).await.unwrap();
        let got = queue.receive(false).await.unwrap();
        queue.send(&[envelope("next", 0)], 0).await.unwrap();
        queue.delete(&[got[0].handle]).await.unwrap();
        assert_eq!(count(), 0, "left open: the next step is due");
        let got = queue.receive(false).await.unwrap();
        queue.delete(&[got[0].handle]).await.unwrap();
        queue
            .send(&[envelope("later", 9_000_000_000_000)], 0)
            .await
            .unwrap();
        assert!(queue.receive(false).await.unwrap().is_empty());
        assert_eq!(count(), 1, "nothing due: committed, the later one with it");
    });
    drop((queue, outside));
}

/// Work left uncommitted is committed within a few milliseconds whatever
/// the pollers do (one may be in a long task call): readers see it.
#[test]
fn work_left_uncommitted_is_committed_soon_all_the_same() {
    let (_dir, path) = scratch("flush");
    let store = SqliteStore::new(Db::open(Some(&path)).unwrap());
    let committed = store.reading_committed();
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts, "{}".into(), false);
    block_on(async {
        assert!(store.create(&record).await.unwrap());
        let mut seen = false;
        for _ in 0..500 {
            if committed
                .execution(&record.facts.arn)
                .await
                .unwrap()
                .is_some()
            {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(seen, "committed by the commit thread");
    });
    drop((store, committed));
}

/// A failed commit loses the transaction: a message received before it is
/// not deleted after it (its handler's work may be what was lost), and an
/// answer begun before it is an error, not a promise.
#[test]
fn work_lost_to_a_failed_commit_is_not_taken_for_done() {
    let db = Db::open(None).unwrap();
    db.keep_uncommitted_for(std::time::Duration::from_secs(600));
    let (store, queue) = (
        SqliteStore::new(db.clone()),
        SqliteQueue::new(db.clone(), false),
    );
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts.clone(), "{}".into(), false);
    block_on(async {
        queue.send(&[envelope("m1", 0)], 0).await.unwrap();
        db.flush().unwrap();
        let epoch = db.epoch().unwrap();
        let got = queue.receive(false).await.unwrap();
        assert!(store.create(&record).await.unwrap());
        let thread = Record {
            seq: 1,
            ..Record::default()
        };
        let saved = store.save(&facts.arn, "t", &thread, None).await.unwrap();
        assert_eq!(saved, Saved::Done);
        db.lose().unwrap();
        assert!(
            store.load(&facts.arn, "t").await.unwrap().is_none(),
            "a lost save is not read back"
        );
        assert!(
            db.flush_since(epoch, Some(1)).is_err(),
            "the answer would promise a lost write"
        );
        assert!(store.execution(&facts.arn).await.unwrap().is_none());
        queue.delete(&[got[0].handle]).await.unwrap();
        let again = queue.receive(false).await.unwrap();
        assert_eq!(again.len(), 1, "the message comes back to be handled again");
        assert_eq!(again[0].envelope.id, "m1");
        let epoch = db.epoch().unwrap();
        queue.delete(&[again[0].handle]).await.unwrap();
        db.flush_since(epoch, None).unwrap();
        assert!(queue.receive(false).await.unwrap().is_empty());
    });
}

/// A late write of a Map Run's start does not replace how it ended; a
/// redrive's start does.
#[test]
fn a_map_run_keeps_its_end() {
    use stepwise_engine::executions::ExecutionStore as _;
    let store = SqliteStore::new(Db::open(None).unwrap());
    let run = |status: &str, redrives: u32| -> stepwise_asl::MapRun {
        serde_json::from_value(json!({
            "arn": "arn:run", "thread": "t", "status": status, "start": 5, "stop": null,
            "max_concurrency": 0, "tolerated_count": 0, "tolerated_percentage": 0.0,
            "counts": {"total": 0, "pending": 0, "running": 0, "succeeded": 0, "failed": 0,
                       "aborted": 0},
            "redrive_count": redrives
        }))
        .unwrap()
    };
    block_on(async {
        store.put_map_run("x", &run("SUCCEEDED", 0)).await.unwrap();
        store.put_map_run("x", &run("RUNNING", 0)).await.unwrap();
        assert_eq!(store.map_runs("x").await.unwrap()[0].status, "SUCCEEDED");
        store.put_map_run("x", &run("RUNNING", 1)).await.unwrap();
        assert_eq!(store.map_runs("x").await.unwrap()[0].status, "RUNNING");
    });
}

/// The queue's index is read back from its table when a store opens: a
/// message received and not finished (its process was killed) is
/// delivered again, and a row that is not a message is dropped.
#[test]
fn a_reopened_store_delivers_what_was_left_and_drops_what_is_not_a_message() {
    let (_dir, path) = scratch("reopen");
    block_on(async {
        let db = Db::open(Some(&path)).unwrap();
        let queue = SqliteQueue::new(db.clone(), false);
        queue
            .send(&[envelope("left", 0), envelope("done", 0)], 0)
            .await
            .unwrap();
        let got = queue.receive(false).await.unwrap();
        assert_eq!(got.len(), 2);
        queue.delete(&[got[1].handle]).await.unwrap();
        db.with(|c| {
            c.execute(
                "INSERT INTO st_queue (at, body) VALUES (0, '{not a message')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        db.flush().unwrap();
        drop((db, queue));
        let queue = SqliteQueue::new(Db::open(Some(&path)).unwrap(), false);
        assert_eq!(queue.queued().unwrap(), 1, "the bad one is gone");
        let again = queue.receive(false).await.unwrap();
        let ids: Vec<_> = again.iter().map(|d| d.envelope.id.as_str()).collect();
        assert_eq!(ids, ["left"]);
        assert_eq!(again[0].receives, 1, "a receipt lost with its process");
    });
}

/// A callback task's token is kept before its request goes out: a worker
/// that answers the moment the request reaches it finds its task, though
/// the step that sent it is not saved yet. A request that fails leaves no
/// token behind.
#[test]
fn a_callback_token_is_known_before_its_request_goes_out() {
    let (during, after, status) = callback_once(Ok(json!({"MessageId": "1"})));
    assert_eq!(during, Some(("root".to_owned(), 1)));
    assert!(after, "kept for the answer");
    assert_eq!(status, "RUNNING", "waiting for the answer");

    let refused = stepwise_asl::StatesError::custom("SQS.QueueDoesNotExist", "no such queue");
    let (during, after, status) = callback_once(Err(refused));
    assert!(during.is_some());
    assert!(!after, "nobody holds the token of a request that failed");
    assert_eq!(status, "FAILED");
}

/// Runs the first step of a machine whose one state sends its task token
/// to a queue, the send answering `answer`: the token's task as the send
/// saw it, whether the token is kept after the step, and the status.
fn callback_once(
    answer: stepwise_engine::ports::TaskResult,
) -> (Option<(String, u64)>, bool, String) {
    let def = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": true}}})
    .to_string();
    let machine = StateMachine::parse(&def, Options::default()).unwrap();
    let facts = local_execution("m", "e", json!({}), 1_000, false);
    let record = ExecutionRecord::running(facts.clone(), def.clone(), false);
    let db = Db::open(None).unwrap();
    let store = SqliteStore::new(db.clone());
    let seen = std::sync::Mutex::new(None);
    let tasks = FnTasks(|c: &stepwise_asl::TaskCall| {
        let token = c.payload["MessageBody"]["token"]
            .as_str()
            .unwrap_or_default();
        let hash = stepwise_engine::stepper::token_hash(token);
        let target = block_on(store.token(&hash)).unwrap();
        *seen.lock().unwrap() = Some((hash, target.map(|t| (t.thread, t.wait))));
        answer.clone()
    });
    let queue = SqliteQueue::new(db.clone(), false);
    let stepper = Stepper::new(SqliteStore::new(db), &queue, tasks, None, 7);
    block_on(async {
        stepwise_engine::stepper::start(&stepper.store, &&queue, &record, &machine)
            .await
            .unwrap();
        let first = queue.receive(false).await.unwrap();
        assert_eq!(first.len(), 1);
        stepper.handle(&first[0].envelope, 1_000).await.unwrap();
    });
    let (hash, during) = seen.lock().unwrap().take().expect("the request went out");
    let after = block_on(stepper.store.token(&hash)).unwrap().is_some();
    let kept = block_on(stepper.store.execution(&facts.arn))
        .unwrap()
        .unwrap();
    (during, after, kept.status)
}

mod chains;
mod moved;
mod retention;
mod schema;
mod settle;

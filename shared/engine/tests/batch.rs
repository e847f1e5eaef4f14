//! One receive's messages are handled side by side, one lane per thread: a
//! task call that takes its time holds up its own thread, not the batch
//! (on SQLite one stepper loop takes every batch).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use stepwise_asl::Outcome;
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::stepper::memory::{MemQueue, MemStore};
use stepwise_engine::stepper::{
    ExecutionRecord, Inbox, NoAbort, Poller, PollerOptions, Stepper, Store, start,
};

/// A task that is out for a while (a few turns of the runtime), counting
/// the calls out at once.
#[derive(Default)]
struct Slow {
    out: AtomicUsize,
    most: AtomicUsize,
    calls: AtomicUsize,
}

impl Tasks for Slow {
    async fn invoke(&self, call: &TaskCall, _: &TaskContext<'_>) -> TaskResult {
        let out = self.out.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(out, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.out.fetch_sub(1, Ordering::SeqCst);
        Ok(json!({"got": call.payload}))
    }
}

const DEFINITION: &str = r#"{"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true}}}"#;

fn record(name: &str, n: u32) -> ExecutionRecord {
    let facts = local_execution("m", name, json!({"n": n}), 1_000, false);
    ExecutionRecord::running(facts, DEFINITION.into(), false)
}

/// Starts `n` executions (`e0`, `e1`…, input `{"n": i}`) on `store` and
/// `queue`: their records.
fn start_all<S: Store>(store: &S, queue: &MemQueue, n: u32) -> Vec<ExecutionRecord> {
    let machine = StateMachine::parse(DEFINITION, Options::default()).unwrap();
    let records: Vec<_> = (0..n).map(|i| record(&format!("e{i}"), i)).collect();
    for r in &records {
        block_on(start(store, &queue, r, &machine)).unwrap();
    }
    records
}

#[test]
fn task_calls_of_one_batch_go_out_side_by_side() {
    let queue = MemQueue::default();
    let slow = Slow::default();
    let stepper = Stepper::new(MemStore::default(), &queue, &slow, NoAbort, 7);
    let records = start_all(&stepper.store, &queue, 4);
    block_on(async {
        let batch: Vec<_> = queue
            .receive(false)
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.envelope, d.receives))
            .collect();
        assert_eq!(batch.len(), 4);
        let results = stepper.handle_batch(&batch, 2_000).await;
        assert!(results.iter().all(|r| r.is_ok()));
    });
    assert_eq!(slow.calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        slow.most.load(Ordering::SeqCst),
        4,
        "the four calls were out together"
    );
    // Each execution took its own answer.
    for (i, r) in records.iter().enumerate() {
        let root = block_on(stepper.store.load(&r.facts.arn, "root"))
            .unwrap()
            .unwrap();
        let page = serde_json::to_value(&root.page).unwrap();
        assert!(
            page.to_string()
                .contains(&format!("{{\"got\":{{\"n\":{i}}}}}")),
            "{i}: {page}"
        );
    }
}

/// A call that waits (a while, no longer) for the call of execution 10.
#[derive(Default)]
struct Waits {
    seen: std::sync::atomic::AtomicBool,
}

impl Tasks for Waits {
    async fn invoke(&self, call: &TaskCall, _: &TaskContext<'_>) -> TaskResult {
        match call.payload["n"].as_u64() {
            Some(0) => {
                for _ in 0..10_000 {
                    if self.seen.load(Ordering::SeqCst) {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                Ok(json!({"saw": self.seen.load(Ordering::SeqCst)}))
            }
            Some(10) => {
                self.seen.store(true, Ordering::SeqCst);
                Ok(json!({}))
            }
            _ => Ok(json!({})),
        }
    }
}

/// With batches in flight, a poller takes the next batch while one waits on
/// a task call: execution 0's call (first batch of ten) sees execution 10's
/// (the second batch) go out; a batch at a time, it cannot.
#[test]
fn a_poller_with_batches_in_flight_takes_the_next_while_one_waits() {
    let saw = |flights: usize| {
        let queue = MemQueue::default();
        let waits = Waits::default();
        let stepper = Stepper::new(MemStore::default(), &queue, &waits, None, 7);
        let records = start_all(&stepper.store, &queue, 11);
        block_on(async {
            let options = PollerOptions {
                flights,
                ..PollerOptions::default()
            };
            let mut poller = Poller::new(&stepper, &queue, options);
            let ended = poller
                .run(|| async {
                    for r in &records {
                        let kept = stepper.store.execution(&r.facts.arn).await?;
                        if kept.is_none_or(|k| k.status == "RUNNING") {
                            return Ok(false);
                        }
                    }
                    Ok(true)
                })
                .await
                .unwrap();
            assert!(ended);
            let first = stepper
                .store
                .execution(&records[0].facts.arn)
                .await
                .unwrap()
                .unwrap();
            match first.outcome {
                Some(Outcome::Succeeded(out)) => out["saw"].as_bool().unwrap(),
                other => panic!("{other:?}"),
            }
        })
    };
    assert!(!saw(1), "a batch at a time");
    assert!(saw(2), "two batches in flight");
}

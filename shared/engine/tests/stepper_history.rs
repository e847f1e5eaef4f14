//! The stepper's history as a reader sees it: merged from every thread's
//! pages, ending where the execution ended.

use serde_json::{Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::block_on;
use stepwise_engine::stepper::memory::MemQueue;
use stepwise_engine::stepper::{NoAbort, Store, merge_history};

mod common;
use common::*;

#[test]
fn a_stopped_executions_history_ends_before_its_root_takes_the_stop() {
    // StopExecution records ABORTED at once and its root records
    // ExecutionAborted a message later: a reader in between (a nested
    // child stopped by its parent, read as soon as it said ABORTED) found
    // a history that did not end.
    let queue = MemQueue::default();
    let f = fixture(&queue, chain(), NoAbort);
    let first = queue.pop().unwrap();
    assert!(f.deliver(&first));
    let error = StatesError::custom("Halt", "stopped by hand");
    let stop = stepwise_engine::stepper::stop(&f.stepper.store, &queue, ARN, error, f.now);
    assert!(block_on(stop).unwrap());
    let record = block_on(f.stepper.store.execution(ARN)).unwrap().unwrap();
    let read = |events| stepwise_engine::stepper::with_stop(merge_history(events), &record);
    let history = read(block_on(f.stepper.store.history(ARN)).unwrap());
    let last = history.last().unwrap();
    assert_eq!(
        (last.event.kind.as_str(), last.previous, &last.event.details),
        (
            "ExecutionAborted",
            0,
            &json!({"error": "Halt", "cause": "stopped by hand"})
        )
    );
    assert_eq!(last.id, history.len() as u64);
    // Once the root takes the stop (after the step already on its way),
    // the history ends with the one it records.
    let mut f = f;
    f.drain();
    let after = read(block_on(f.stepper.store.history(ARN)).unwrap());
    let ends: Vec<_> = (after.iter())
        .filter(|r| r.event.ends_execution())
        .map(|r| r.id)
        .collect();
    assert_eq!(ends, [after.len() as u64]);
}

#[test]
fn an_execution_ends_last_and_its_cause_quotes_the_entered_event_by_its_id() {
    // A runtime error in one branch ends the execution at once; its
    // sibling, still running until its stop reaches it, counts its own
    // events past the end's logical time. AWS records the end last, and the
    // cause quotes the failing state's Entered event by its id in the
    // history, not by the count its thread kept.
    let branch = |names: &[&str], last: Value| {
        let mut states = serde_json::Map::new();
        for pair in names.windows(2) {
            states.insert(pair[0].into(), json!({"Type": "Pass", "Next": pair[1]}));
        }
        states.insert(names[names.len() - 1].into(), last);
        json!({"StartAt": names[0], "States": states})
    };
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
    "Branches": [
        branch(&["A1", "A2", "A3", "A4"], json!({"Type": "Pass", "End": true})),
        branch(&["B1", "B2"], json!({"Type": "Pass", "InputPath": "$.nope", "End": true})),
    ]}}});
    let queue = MemQueue::default();
    let mut f = fixture(&queue, def, NoAbort);
    f.drain();
    let history = merge_history(block_on(f.stepper.store.history(ARN)).unwrap());
    let kinds: Vec<_> = history.iter().map(|r| r.event.kind.as_str()).collect();
    let last = history.last().unwrap();
    assert_eq!(last.event.kind.as_str(), "ExecutionFailed", "{kinds:?}");
    let b2 = (history.iter())
        .find(|r| r.event.entered_state() == Some("B2"))
        .unwrap();
    let cause = last.event.details["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(&format!(
            "An error occurred while executing the state 'B2' (entered at the event id #{}). ",
            b2.id
        )),
        "{cause}"
    );
    assert_eq!(last.previous, b2.id);
    let report = block_on(stepwise_engine::stepper::report(&f.stepper.store, ARN))
        .unwrap()
        .unwrap();
    assert_eq!(report.error.unwrap().cause.as_deref(), Some(cause));
}

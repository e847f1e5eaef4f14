//! Chains: the states a thread steps through in one transition.

use serde_json::json;
use stepwise_asl::{Options, StateMachine};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::report::Status;
use stepwise_engine::stepper::{ExecutionRecord, Inbox, Stepper, Store, run_to_end};
use stepwise_engine::tasks::FnTasks;

use super::super::{CHAIN, Db, SqliteQueue, SqliteStore};

/// A machine's states: 40 rounds of Add and Check, then Done.
const LOOP: &str = r#""StartAt": "Add", "States": {
    "Add": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
    "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 40, "Next": "Add"}],
              "Default": "Done"},
    "Done": {"Type": "Succeed"}}"#;

/// A new execution of `definition` (input `{"n": 0}`), and a store and
/// queue in memory to run it on.
fn fresh(definition: &str) -> (StateMachine, ExecutionRecord, SqliteStore, SqliteQueue) {
    let machine = StateMachine::parse(definition, Options::default()).unwrap();
    let facts = local_execution("m", "e", json!({"n": 0}), 1_000, false);
    let record = ExecutionRecord::running(facts, definition.into(), false);
    let db = Db::open(None).unwrap();
    let queue = SqliteQueue::new(db.clone(), true);
    (machine, record, SqliteStore::new(db), queue)
}

fn no_tasks(_: &stepwise_asl::TaskCall) -> stepwise_engine::ports::TaskResult {
    Ok(json!({}))
}

/// States that wait on nothing (a Pass, a Choice, a Wait already over) are
/// stepped through in one transition and saved once; a loop of them still
/// yields to other messages every [`CHAIN`] states.
#[test]
fn states_that_wait_on_nothing_are_stepped_through_in_one_save() {
    let run = |definition: &str| {
        let (machine, record, store, queue) = fresh(definition);
        let stepper = Stepper::new(store, &queue, FnTasks(no_tasks), None, 7);
        let report = block_on(run_to_end(&stepper, &queue, &record, &machine, true)).unwrap();
        let root = block_on(stepper.store.load(&record.facts.arn, "root"))
            .unwrap()
            .unwrap();
        (report, root.seq)
    };
    let straight = r#"{"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 0, "Next": "B"},
        "B": {"Type": "Pass", "End": true}}}"#;
    let (report, saves) = run(straight);
    assert_eq!(report.status, Status::Succeeded);
    assert_eq!(report.output, Some(json!({"n": 0, "a": 1})));
    assert_eq!(saves, 1);
    // 40 rounds of Add and Check, then Done: 81 states.
    let (report, saves) = run(&format!("{{{LOOP}}}"));
    assert_eq!(report.output, Some(json!({"n": 40})));
    assert_eq!(saves as usize, 81_usize.div_ceil(CHAIN));
}

/// Past the execution's TimeoutSeconds a message steps one state, as
/// before there were chains: the timeout's own message comes next.
#[test]
fn past_its_timeout_an_execution_steps_one_state_at_a_time() {
    let (machine, record, store, queue) = fresh(&format!("{{\"TimeoutSeconds\": 1, {LOOP}}}"));
    let facts = record.facts.clone();
    let stepper = Stepper::new(store, &queue, FnTasks(no_tasks), None, 7);
    block_on(async {
        stepwise_engine::stepper::start(&stepper.store, &stepper.queue, &record, &machine)
            .await
            .unwrap();
        let first = queue.receive(false).await.unwrap();
        let run = first
            .iter()
            .find(|d| !d.envelope.id.contains("timeout"))
            .unwrap();
        // Delivered 5 s after the start (a backlog), its timeout long due.
        stepper.handle(&run.envelope, 6_000).await.unwrap();
        let root = stepper.store.load(&facts.arn, "root").await.unwrap();
        let thread = root.unwrap().thread.unwrap();
        assert_eq!(
            (thread.state.as_str(), thread.input["n"].as_i64()),
            ("Check", Some(1))
        );
    });
}

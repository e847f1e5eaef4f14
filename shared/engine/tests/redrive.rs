//! RedriveExecution of an execution that failed in a Parallel or Map state:
//! only the branches and iterations that did not succeed run again (AWS's
//! rule), with the others' results kept, and a Distributed Map's Map Run
//! carries on (MapRunRedriven) — on the stepper and its in-memory store.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use stepwise_asl::{Options, Outcome, StateMachine, StatesError, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::ports::TaskResult;
use stepwise_engine::stepper::memory::{MemQueue, MemStore};
use stepwise_engine::stepper::{
    ExecutionRecord, NoAbort, Redrive, Stepper, Store, merge_history, redrive, start,
};
use stepwise_engine::tasks::FnTasks;

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:e";

/// A task that fails for the payload `"bad"` while `FAILING` is set, and
/// records every payload it is called with.
static FAILING: AtomicBool = AtomicBool::new(true);
static CALLS: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn flaky(c: &TaskCall) -> TaskResult {
    let payload = c.payload.get("v").unwrap_or(&c.payload).clone();
    CALLS.lock().unwrap().push(payload.clone());
    if payload == json!("bad") && FAILING.load(Ordering::SeqCst) {
        return Err(StatesError::custom("Flaky", "not yet"));
    }
    Ok(json!({"done": payload}))
}

type Fixed = Stepper<MemStore, &'static MemQueue, FnTasks<fn(&TaskCall) -> TaskResult>>;

/// Runs `def` on `input` until nothing is left to do; then, if it failed,
/// redrives it (the task no longer failing) and runs it to its end again.
/// The task's calls before and after the redrive, and the stepper.
fn run_and_redrive(def: Value, input: Value) -> (Vec<Value>, Vec<Value>, Fixed) {
    let queue: &'static MemQueue = Box::leak(Box::default());
    let text = def.to_string();
    let machine = StateMachine::parse(&text, Options::default()).expect("valid");
    let exec = local_execution("m", "e", input, 1_000_000, false);
    let record = ExecutionRecord::running(exec, text, false);
    let stepper = Stepper::new(MemStore::default(), queue, FnTasks(flaky as _), NoAbort, 7);
    block_on(start(&stepper.store, &queue, &record, &machine)).expect("started");
    let mut now = 1_000_000;
    let drain = |now: &mut i64| {
        while let Some(e) = queue.pop() {
            *now = (*now).max(e.at);
            if block_on(stepper.handle(&e, *now)).is_err() {
                let _ = block_on(stepper.handle(&e, *now));
            }
        }
    };
    FAILING.store(true, Ordering::SeqCst);
    drain(&mut now);
    assert_eq!(status(&stepper), "FAILED");
    let before = std::mem::take(&mut *CALLS.lock().unwrap());
    FAILING.store(false, Ordering::SeqCst);
    now += 1000;
    let redriven = block_on(redrive(&stepper.store, &queue, ARN, now)).unwrap();
    assert_eq!(redriven, Redrive::At(now));
    drain(&mut now);
    let after = std::mem::take(&mut *CALLS.lock().unwrap());
    (before, after, stepper)
}

fn status(s: &Fixed) -> String {
    block_on(s.store.execution(ARN)).unwrap().unwrap().status
}

fn output(s: &Fixed) -> Value {
    match block_on(s.store.execution(ARN)).unwrap().unwrap().outcome {
        Some(Outcome::Succeeded(v)) => v,
        other => panic!("not succeeded: {other:?}"),
    }
}

fn history(s: &Fixed) -> Vec<(String, Value)> {
    let events = block_on(s.store.history(ARN)).unwrap();
    (merge_history(events).into_iter())
        .map(|r| (r.event.kind.as_str().to_owned(), r.event.details.clone()))
        .collect()
}

fn after_redrive(h: &[(String, Value)]) -> Vec<&str> {
    let at = h
        .iter()
        .position(|(k, _)| k == "ExecutionRedriven")
        .expect("redriven");
    h[at..].iter().map(|(k, _)| k.as_str()).collect()
}

fn task(payload: &str) -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
           "Parameters": payload, "End": true})
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|x| x.to_string());
    v
}

// The three tests share the task's flag: they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn a_redriven_parallel_runs_only_the_branch_that_failed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": task("a")}},
        {"StartAt": "C", "States": {"C": task("c")}},
        {"StartAt": "B", "States": {"B": task("bad")}}]}}});
    let (before, after, s) = run_and_redrive(def, json!({}));
    assert_eq!(sorted(before), [json!("a"), json!("bad"), json!("c")]);
    assert_eq!(after, [json!("bad")]);
    assert_eq!(status(&s), "SUCCEEDED");
    assert_eq!(
        output(&s),
        json!([{"done": "a"}, {"done": "c"}, {"done": "bad"}])
    );
    let h = history(&s);
    let again = after_redrive(&h);
    assert_eq!(
        again.iter().filter(|k| **k == "TaskStateEntered").count(),
        1,
        "{again:?}"
    );
    assert_eq!(again.last(), Some(&"ExecutionSucceeded"));
}

#[test]
fn a_redriven_inline_map_runs_only_the_iterations_that_failed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
        "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Parameters": {"v.$": "$"}, "End": true}}}}}});
    let items = json!({"items": ["a", "b", "bad", "d", "e"]});
    let (before, after, s) = run_and_redrive(def, items);
    // MaxConcurrency 2: "bad" fails while "d" runs beside it, and "e"
    // never starts; the redrive runs the three that did not succeed.
    assert_eq!(
        sorted(before),
        [json!("a"), json!("b"), json!("bad"), json!("d")]
    );
    assert_eq!(after, [json!("bad"), json!("d"), json!("e")]);
    let expected: Vec<Value> = ["a", "b", "bad", "d", "e"]
        .iter()
        .map(|x| json!({"done": x}))
        .collect();
    assert_eq!(output(&s), Value::Array(expected));
    let h = history(&s);
    let again = after_redrive(&h);
    let started = again
        .iter()
        .filter(|k| **k == "MapIterationStarted")
        .count();
    assert_eq!(started, 3, "{again:?}");
}

#[test]
fn a_redriven_distributed_map_carries_its_map_run_on() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true, "ItemsPath": "$.items",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Parameters": {"v.$": "$"}, "End": true}}}}}});
    let (before, after, s) = run_and_redrive(def, json!({"items": ["a", "c", "bad"]}));
    assert_eq!(sorted(before), [json!("a"), json!("bad"), json!("c")]);
    assert_eq!(after, [json!("bad")]);
    assert_eq!(
        output(&s),
        json!([{"done": "a"}, {"done": "c"}, {"done": "bad"}])
    );
    let h = history(&s);
    let started: Vec<&Value> = h
        .iter()
        .filter(|(k, _)| k == "MapRunStarted")
        .map(|(_, d)| d)
        .collect();
    let redriven: Vec<&Value> = h
        .iter()
        .filter(|(k, _)| k == "MapRunRedriven")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(started.len(), 1);
    assert_eq!(redriven.len(), 1, "{h:?}");
    let arn = started[0]["mapRunArn"].clone();
    assert_eq!(*redriven[0], json!({"mapRunArn": arn, "redriveCount": 1}));
    let runs = s.store.map_runs.lock().unwrap();
    let (_, run) = &runs[arn.as_str().unwrap()];
    assert_eq!((run.status.as_str(), run.redrive_count), ("SUCCEEDED", 1));
    assert_eq!(
        (run.counts.succeeded, run.counts.failed, run.counts.total),
        (3, 0, 3)
    );
    assert!(run.redriven.is_some_and(|at| at > run.start));
}

#[test]
fn a_redriven_branch_takes_up_where_it_failed() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut first = task("first");
    first["ResultPath"] = Value::Null;
    first["Next"] = json!("Bad");
    first.as_object_mut().unwrap().remove("End");
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": task("a")}},
        {"StartAt": "First", "States": {"First": first, "Bad": task("bad")}}]}}});
    let (before, after, s) = run_and_redrive(def, json!({}));
    assert_eq!(sorted(before), [json!("a"), json!("bad"), json!("first")]);
    // "first" succeeded before "bad" failed in the same branch: not again.
    assert_eq!(after, [json!("bad")]);
    assert_eq!(output(&s), json!([{"done": "a"}, {"done": "bad"}]));
    let h = history(&s);
    let again = after_redrive(&h);
    let entered: Vec<&Value> = (h.iter().skip_while(|(k, _)| k != "ExecutionRedriven"))
        .filter(|(k, _)| k == "TaskStateEntered")
        .map(|(_, d)| &d["name"])
        .collect();
    assert_eq!(entered, [&json!("Bad")], "{again:?}");
}

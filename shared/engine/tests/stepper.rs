//! The serverless stepper's exactly-once rules, one test per way a queue or a
//! crash can misbehave, on the in-memory store and queue.

use std::sync::Mutex;

use serde_json::{Value, json};
use stepwise_asl::{Event, StatesError};
use stepwise_engine::block_on;
use stepwise_engine::stepper::memory::MemQueue;
use stepwise_engine::stepper::{Abort, Body, Envelope, NoAbort, Store, merge_history};

mod common;
use common::*;

#[test]
fn a_chain_costs_one_save_and_one_send_per_state() {
    let queue = MemQueue::default();
    let mut f = fixture(&queue, chain(), NoAbort);
    f.drain();
    assert_eq!(f.output(), json!({"n": 1, "a": 1, "b": 2}));
    assert_eq!(f.entered(), ["A", "B", "C"]);
    assert_eq!(f.saves(), 3);
    // The start sends one; A and B send one each; C ends the execution.
    assert_eq!(*queue.sent.lock().unwrap(), 3);
}

#[test]
fn a_duplicate_run_is_applied_once() {
    let queue = MemQueue::default();
    let mut f = fixture(&queue, chain(), NoAbort);
    let first = queue.pop().unwrap();
    assert!(f.deliver(&first));
    let next = queue.pop().unwrap();
    assert!(f.deliver(&next));
    // Both redelivered after the thread moved on: nothing happens.
    assert!(f.deliver(&first));
    assert!(f.deliver(&next));
    assert_eq!(f.saves(), 2);
    f.drain();
    assert_eq!(f.entered(), ["A", "B", "C"]);
    assert_eq!(f.output(), json!({"n": 1, "a": 1, "b": 2}));
}

/// Aborts once, at the first chance at `point`.
struct AbortOnce(Mutex<Option<&'static str>>);

impl Abort for AbortOnce {
    fn abort(&self, point: &'static str) -> bool {
        let mut p = self.0.lock().unwrap();
        if *p == Some(point) {
            *p = None;
            return true;
        }
        false
    }
}

#[test]
fn a_crash_between_save_and_send_resends_the_outbox_and_nothing_else() {
    let queue = MemQueue::default();
    let mut f = fixture(&queue, chain(), AbortOnce(Mutex::new(Some("saved"))));
    let first = queue.pop().unwrap();
    assert!(!f.deliver(&first), "the stepper aborted after its write");
    assert_eq!(f.saves(), 1);
    assert!(queue.is_empty(), "the next state's message was not sent");
    // The queue delivers the message again: its transition is not repeated,
    // its outbox is sent.
    assert!(f.deliver(&first));
    assert_eq!(f.saves(), 1);
    assert_eq!(queue.len(), 1);
    f.drain();
    assert_eq!(f.entered(), ["A", "B", "C"]);
    assert_eq!(f.output(), json!({"n": 1, "a": 1, "b": 2}));
}

#[test]
fn a_crash_before_recording_the_end_is_repaired_by_the_redelivery() {
    let queue = MemQueue::default();
    let mut f = fixture(&queue, chain(), AbortOnce(Mutex::new(Some("completed"))));
    let mut last = None;
    while let Some(e) = queue.pop() {
        if !f.deliver(&e) {
            last = Some(e);
        }
    }
    // The end was recorded, then the abort: the message comes back.
    assert_eq!(f.status(), "SUCCEEDED");
    assert!(f.deliver(&last.expect("the aborted message")));
    assert_eq!(f.status(), "SUCCEEDED");
    f.drain();
    assert_eq!(f.output(), json!({"n": 1, "a": 1, "b": 2}));
}

#[test]
fn a_stop_recorded_while_the_last_step_ran_ends_the_history_as_the_status_says() {
    let queue = MemQueue::default();
    let mut f = fixture(&queue, chain(), NoAbort);
    for _ in 0..2 {
        let e = queue.pop().unwrap();
        assert!(f.deliver(&e));
    }
    // StopExecution records ABORTED while C's step (the execution's last) is
    // under way: the status says ABORTED at once, so the history must too.
    let last = queue.pop().expect("C's message");
    let error = StatesError::custom("Halt", "stopped by hand");
    let stop = stepwise_engine::stepper::stop(&f.stepper.store, &queue, ARN, error, f.now);
    assert!(block_on(stop).unwrap(), "it was running");
    assert!(f.deliver(&last));
    f.drain(); // the stop's own message finds the thread done
    assert_eq!(f.status(), "ABORTED");
    let history = merge_history(block_on(f.stepper.store.history(ARN)).unwrap());
    let ends: Vec<_> = (history.iter())
        .filter(|r| r.event.ends_execution())
        .map(|r| (r.event.kind.as_str(), r.event.details.clone()))
        .collect();
    assert_eq!(
        ends,
        [(
            "ExecutionAborted",
            json!({"error": "Halt", "cause": "stopped by hand"})
        )]
    );
    assert_eq!(f.entered(), ["A", "B", "C"]);
    // A stop that comes after the end stops nothing.
    let late = stepwise_engine::stepper::stop(
        &f.stepper.store,
        &queue,
        ARN,
        StatesError::custom("Late", ""),
        f.now,
    );
    assert!(!block_on(late).unwrap());
}

fn parallel() -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": "x", "End": true}}},
        {"StartAt": "Y", "States": {"Y": {"Type": "Wait", "Seconds": 5, "Next": "Z"},
                                     "Z": {"Type": "Pass", "Result": "z", "End": true}}}]}}})
}

fn child_finished(e: &Envelope) -> Option<Envelope> {
    let inner: Vec<Envelope> = match &e.body {
        Body::Bundle(v) => v.clone(),
        Body::Step(_) | Body::Poll(_) => vec![e.clone()],
    };
    inner.into_iter().find(
        |e| matches!(&e.body, Body::Step(m) if matches!(m.event, Event::ChildFinished { .. })),
    )
}

#[test]
fn a_repeated_child_result_counts_once() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "X2"}, "X2": {"Type": "Pass", "Result": "x", "End": true}}},
        {"StartAt": "V", "States": {"V": {"Type": "Pass", "Next": "V2"}, "V2": {"Type": "Pass", "Result": "v", "End": true}}},
        {"StartAt": "Y", "States": {"Y": {"Type": "Wait", "Seconds": 5, "Next": "Z"},
                                     "Z": {"Type": "Pass", "Result": "z", "End": true}}}]}}});
    // Branches of two states report by message (a one-state branch joins
    // its parent directly, see below).
    let mut f = fixture(&queue, def, NoAbort);
    let mut reports = Vec::new();
    // Run until branches X and V have reported to the parent.
    while reports.len() < 2 {
        let e = queue.pop().expect("a message");
        f.now = f.now.max(e.at);
        if let Some(done) = child_finished(&e) {
            assert!(f.deliver(&done));
            reports.push(done);
        } else {
            assert!(f.deliver(&e));
        }
    }
    // X's report again, after the parent handled V's: not a third result.
    assert!(f.deliver(&reports[0]));
    assert_eq!(f.status(), "RUNNING", "branch Y is still waiting");
    f.drain();
    assert_eq!(f.output(), json!(["x", "v", "z"]));
}

#[test]
fn a_child_cancelled_before_it_ran_never_runs() {
    let queue = MemQueue::default();
    let f = fixture(&queue, parallel(), NoAbort);
    let root = queue.pop().unwrap();
    assert!(f.deliver(&root));
    let spawn = queue.pop().unwrap();
    let Body::Bundle(children) = &spawn.body else {
        panic!("the two branches travel as one bundle: {spawn:?}")
    };
    let Body::Step(first) = &children[0].body else {
        panic!()
    };
    // The stop overtakes the child's first run.
    let stop = Envelope {
        id: "stop".into(),
        at: f.now,
        body: Body::Step(Box::new(stepwise_engine::stepper::StepMessage {
            execution: ARN.into(),
            thread: first.thread.clone(),
            seq: None,
            lamport: 0,
            event: Event::Stop {
                error: StatesError {
                    error: None,
                    cause: None,
                },
                timed_out: false,
            },
            init: None,
            born: None,
        })),
    };
    assert!(f.deliver(&stop));
    let saves = f.saves();
    assert!(f.deliver(&children[0]));
    assert_eq!(f.saves(), saves, "the tombstone stops the first run");
    assert!(!f.entered().contains(&"X".to_owned()));
}

#[test]
fn a_timer_after_the_thread_moved_on_does_nothing() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3, "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "TimeoutSeconds": 10, "End": true}}});
    let mut f = fixture(&queue, def, NoAbort);
    let root = queue.pop().unwrap();
    assert!(f.deliver(&root));
    let timer = queue.pop().unwrap();
    assert_eq!(timer.at, f.now + 3000);
    f.now = timer.at;
    assert!(f.deliver(&timer));
    let saves = f.saves();
    // The same timer again, later: the thread has left the Wait.
    f.now += 1000;
    assert!(f.deliver(&timer));
    assert_eq!(f.saves(), saves);
    f.drain();
    assert_eq!(f.output(), json!({"n": 1}));
    assert_eq!(f.entered(), ["W", "T"]);
}

#[test]
fn a_message_from_the_future_waits_its_turn() {
    let queue = MemQueue::default();
    let f = fixture(&queue, chain(), NoAbort);
    let first = queue.pop().unwrap();
    let mut ahead = first.clone();
    ahead.id = "elsewhere@5.0".into();
    if let Body::Step(m) = &mut ahead.body {
        m.seq = Some(5);
        m.init = None;
    }
    assert!(f.deliver(&first));
    assert!(
        !f.deliver(&ahead),
        "a Run for a later sequence number is retried"
    );
}

#[test]
fn children_done_in_one_step_join_their_parent_together_in_one_write() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}});
    let mut f = fixture(&queue, def, NoAbort);
    f.start_with(json!({"items": [1, 2, 3]}));
    let spawn = queue.pop().unwrap();
    assert!(f.deliver(&spawn));
    // One write for the Map's start, one for the three items that ended at
    // once (in the parent's record; none of their own).
    assert_eq!(f.saves(), 2);
    assert_eq!(f.status(), "SUCCEEDED");
    // The spawn again, after the Map ended: nothing runs twice.
    assert!(f.deliver(&spawn));
    assert_eq!(f.saves(), 2);
    f.drain();
    assert_eq!(f.output(), json!([1, 2, 3]));
    assert_eq!(f.entered(), ["M", "I", "I", "I"]);
}

#[test]
fn a_wait_longer_than_the_queue_delay_is_sent_on_until_due() {
    let queue = MemQueue::default();
    let year = 365 * 24 * 3600;
    let def =
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": year, "End": true}}});
    let mut f = fixture(&queue, def, NoAbort);
    let root = queue.pop().unwrap();
    assert!(f.deliver(&root));
    let timer = queue.pop().unwrap();
    assert_eq!(timer.at, f.now + year * 1000);
    // SQS delivers it after at most 900 s: it goes back, unchanged.
    f.now += 900_000;
    let saves = f.saves();
    assert!(f.deliver(&timer));
    assert_eq!(f.saves(), saves);
    assert_eq!(queue.pop(), Some(timer.clone()));
    f.now = timer.at;
    assert!(f.deliver(&timer));
    assert_eq!(f.status(), "SUCCEEDED");
}

#[test]
fn a_distributed_map_of_two_thousand_items_completes() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "I", "States": {
            "I": {"Type": "Pass", "Parameters": {"double.$": "States.MathAdd($, $)"}, "Next": "J"},
            "J": {"Type": "Pass", "OutputPath": "$.double", "End": true}}}}}});
    let mut f = fixture(&queue, def, NoAbort);
    let root = queue.pop().unwrap();
    let Body::Step(mut m) = root.body.clone() else {
        panic!()
    };
    m.init.as_mut().unwrap().input = json!({"items": (0..2_000).collect::<Vec<_>>()});
    assert!(f.deliver(&Envelope {
        body: Body::Step(m),
        ..root
    }));
    f.drain();
    let out = f.output();
    let out = out.as_array().expect("an array");
    assert_eq!(out.len(), 2_000);
    assert_eq!(out[1_999], json!(3_998));
    // A distributed Map's iterations are child executions, not in this history.
    assert_eq!(f.entered(), ["M"]);
}

#[test]
fn a_callback_task_waits_for_its_token() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
        "End": true}}});
    let mut f = fixture(&queue, def, NoAbort);
    f.drain();
    assert_eq!(
        f.status(),
        "RUNNING",
        "the request went out; the answer has not come"
    );
    // The request carried the token (the echo task returns its payload, which
    // the stepper does not take as the answer).
    let events = block_on(f.stepper.store.history(ARN)).unwrap();
    let scheduled = merge_history(events)
        .into_iter()
        .find(|r| r.event.kind.as_str() == "TaskScheduled")
        .expect("scheduled");
    let token = scheduled.event.details["parameters"]["Payload"]["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let target = block_on(
        f.stepper
            .store
            .token(&stepwise_engine::stepper::token_hash(&token)),
    )
    .unwrap()
    .expect("the token is stored, hashed");
    assert_eq!(
        (target.thread.as_str(), target.execution.as_str()),
        ("root", ARN)
    );
    let answer = Envelope {
        id: "callback".into(),
        at: f.now,
        body: Body::Step(Box::new(stepwise_engine::stepper::StepMessage {
            execution: ARN.into(),
            thread: "root".into(),
            seq: None,
            lamport: 0,
            event: Event::TaskSucceeded {
                wait: target.wait,
                output: json!({"approved": true}),
            },
            init: None,
            born: None,
        })),
    };
    assert!(f.deliver(&answer));
    assert_eq!(f.output(), json!({"approved": true}));
}

fn answer(wait: u64, output: Value) -> Envelope {
    Envelope {
        id: format!("callback-{wait}"),
        at: 0,
        body: Body::Step(Box::new(stepwise_engine::stepper::StepMessage {
            execution: ARN.into(),
            thread: "root".into(),
            seq: None,
            lamport: 0,
            event: Event::TaskSucceeded { wait, output },
            init: None,
            born: None,
        })),
    }
}

#[test]
fn an_answer_that_overtakes_the_save_of_its_task_comes_again_later() {
    // A worker may answer a token before the transition that handed it out
    // is saved (the token is stored first): the answer must not be lost.
    let ask = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}}, "End": true});
    let queue = MemQueue::default();
    let mut f = fixture(
        &queue,
        json!({"StartAt": "Ask", "States": {"Ask": ask}}),
        NoAbort,
    );
    let first_run = queue.pop().unwrap();
    assert!(f.deliver(&answer(1, json!("yes"))));
    let again = queue
        .pop()
        .expect("no record of the thread yet: sent again");
    assert_eq!(again.at, f.now + 1000, "a second later");
    assert!(f.deliver(&first_run));
    f.drain();
    assert_eq!(f.status(), "RUNNING");
    f.now = f.now.max(again.at);
    assert!(f.deliver(&again));
    assert_eq!(f.output(), json!("yes"));

    // The same when the thread is saved but has not reached the task yet.
    let queue = MemQueue::default();
    let def = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 5, "Next": "Ask"}, "Ask": ask}});
    let mut f = fixture(&queue, def, NoAbort);
    let first_run = queue.pop().unwrap();
    assert!(f.deliver(&first_run)); // parks in the Wait (wait 1)
    let nap = queue.pop().unwrap();
    assert!(f.deliver(&answer(2, json!("later"))));
    let again = queue
        .pop()
        .expect("wait 2 is ahead of the thread: sent again");
    assert!(f.deliver(&nap));
    f.drain();
    assert_eq!(f.status(), "RUNNING");
    f.now = f.now.max(again.at);
    assert!(f.deliver(&again));
    assert_eq!(f.output(), json!("later"));

    // An answer whose thread never comes stops after a minute of tries.
    let queue = MemQueue::default();
    let mut f = fixture(
        &queue,
        json!({"StartAt": "Ask", "States": {"Ask": ask}}),
        NoAbort,
    );
    queue.pop().unwrap();
    let mut e = answer(1, json!("lost"));
    let mut tries = 0;
    while f.deliver(&e) {
        let Some(next) = queue.pop() else { break };
        f.now = next.at;
        e = next;
        tries += 1;
    }
    assert_eq!(tries, 60);
}

#[test]
fn a_fan_out_past_forty_starts_its_children_in_chunks_each_joined_in_one_write() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
        "MaxConcurrency": 1000, "End": true, "ResultSelector": {"n.$": "States.ArrayLength($)"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}});
    let mut f = fixture(&queue, def, NoAbort);
    let items: Vec<Value> = (0..20_000).map(|i| json!({ "id": i })).collect();
    f.start_with(json!({ "items": items }));
    let spawn = queue.pop().unwrap();
    let Body::Bundle(inner) = &spawn.body else {
        panic!("the children travel in a bundle")
    };
    let started = |inner: &[Envelope]| {
        inner
            .iter()
            .filter(|e| matches!(&e.body, Body::Step(s) if s.init.is_some()))
            .count()
    };
    // MaxConcurrency 1,000 is not held to 40, nor started all at once.
    let chunk = started(inner);
    assert!(
        chunk > 40 && chunk < 1000,
        "{chunk} children in the first spawn"
    );
    let rest = |e: &Envelope| matches!(&e.body, Body::Step(s) if s.thread == "root" && matches!(s.event, Event::Timer { .. }));
    assert!(
        inner.iter().any(rest),
        "the rest start in a step of their own"
    );
    assert!(f.deliver(&spawn));
    f.drain();
    assert_eq!(f.output(), json!({"n": 20_000}));
    // One-step children are never written; their parent is, once per group
    // that ends together, and groups do not crumble (a quarter of the
    // concurrency at least): under 0.005 writes per item.
    assert!(f.saves() <= 100, "{} saves for 20,000 items", f.saves());
}

#[test]
fn children_ends_received_together_join_their_parent_in_one_write() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}}}});
    let mut f = fixture(&queue, def, NoAbort);
    f.start_with(json!({"items": [1, 2, 3]}));
    // The children start, and wait; then their timers end them.
    for _ in 0..2 {
        let e = queue.pop().unwrap();
        f.now = f.now.max(e.at);
        assert!(f.deliver(&e));
    }
    let mut ends = Vec::new();
    while let Some(e) = queue.pop() {
        f.now = f.now.max(e.at);
        match &e.body {
            Body::Step(s) if matches!(s.event, Event::ChildFinished { .. }) => ends.push((e, 1)),
            _ => assert!(f.deliver(&e)),
        }
    }
    assert_eq!(ends.len(), 3, "three children's ends");
    let before = f.saves();
    let results = block_on(f.stepper.handle_batch(&ends, f.now));
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.saves(), before + 1, "one write for the three ends");
    // Delivered again (a batch SQS did not see deleted): nothing more.
    let results = block_on(f.stepper.handle_batch(&ends, f.now));
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.saves(), before + 1);
    f.drain();
    assert_eq!(f.output(), json!([1, 2, 3]));
}

static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counted(c: &stepwise_asl::TaskCall) -> stepwise_engine::ports::TaskResult {
    CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(c.payload.clone())
}

#[test]
fn a_task_step_queued_before_stop_execution_calls_nothing() {
    let queue = MemQueue::default();
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
              "End": true}}});
    let mut f = fixture(&queue, def, NoAbort);
    f.stepper.tasks = stepwise_engine::tasks::FnTasks(counted as _);
    let a = queue.pop().unwrap();
    assert!(f.deliver(&a));
    // T's step is queued; StopExecution comes before it is delivered.
    let error = StatesError::custom("Halt", "stopped by hand");
    let stop = stepwise_engine::stepper::stop(&f.stepper.store, &queue, ARN, error, f.now);
    assert!(block_on(stop).unwrap());
    f.drain();
    assert_eq!(f.status(), "ABORTED");
    assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(f.entered(), ["A"]);
}

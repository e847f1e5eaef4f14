//! The history events a step decides, in AWS's types, details and order.

use serde_json::{Value, json};

use super::*;
use crate::definition::Options;
use crate::exec::Ordered;

fn machine(def: Value) -> StateMachine {
    StateMachine::from_value(&def, Options::default()).unwrap()
}

fn exec() -> Execution {
    Execution {
        arn: "arn:aws:states:eu-west-1:1:execution:m:e".into(),
        name: "e".into(),
        input: json!({}),
        start_time: 0,
        role_arn: String::new(),
        state_machine_arn: "arn:aws:states:eu-west-1:1:stateMachine:m".into(),
        state_machine_name: "m".into(),
        redrive_count: Some(0),
        given_context: None,
        state_name: None,
        mock: None,
    }
}

fn env(event_id: u64) -> Env {
    Env {
        now: 0,
        seed: 9,
        event_id,
        history: true,
        nonce: 9,
        spawn_bytes: 0,
        missing_activity: None,
    }
}

/// Runs `thread` once from its first event id 2 (after ExecutionStarted).
fn run(m: &StateMachine, t: &mut Thread) -> Output {
    step(m, &exec(), t, Event::Run, &env(2))
}

fn kinds(out: &Output) -> Vec<&'static str> {
    out.history.iter().map(|h| h.kind.as_str()).collect()
}

fn event<'o>(out: &'o Output, kind: &str) -> &'o HistoryEvent {
    out.history
        .iter()
        .find(|h| h.kind.as_str() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", kinds(out)))
}

/// Each child's outcome as its parent hears it, `results[i]` for child `i`.
fn finish_children(m: &StateMachine, t: &mut Thread, out: &Output, results: &[Outcome]) -> Output {
    let Effect::Spawn(children) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let wait = children[0].parent.as_ref().unwrap().wait;
    let mut last = None;
    for (index, outcome) in results.iter().enumerate() {
        let finished = Event::ChildFinished {
            wait,
            index,
            outcome: outcome.clone(),
            resume: None,
            clock: 0,
        };
        last = Some(step(m, &exec(), t, finished, &env(100)));
    }
    last.unwrap()
}

#[test]
fn an_exited_event_lists_the_variables_the_state_assigned() {
    let m = machine(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"x": 42, "s": "a"}, "Next": "B"},
        "B": {"Type": "Pass", "Assign": {}, "End": true}}}));
    let mut t = Thread::root("A", json!({}));
    let out = run(&m, &mut t);
    let exited = &event(&out, "PassStateExited").details;
    assert_eq!(exited["assignedVariables"], json!({"x": 42, "s": "a"}));
    assert_eq!(
        exited["assignedVariablesDetails"],
        json!({"truncated": false})
    );
    let out = run(&m, &mut t);
    let exited = event(&out, "PassStateExited").details.as_object().unwrap();
    assert!(!exited.contains_key("assignedVariables"), "{exited:?}");
}

#[test]
fn a_failed_jsonata_output_is_an_evaluation_failed_event_beside_the_entry() {
    let m = machine(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Output": "{% $nothing %}", "End": true}}}),
    );
    let mut t = Thread::root("A", json!({}));
    let out = run(&m, &mut t);
    assert_eq!(
        kinds(&out),
        ["PassStateEntered", "EvaluationFailed", "ExecutionFailed"]
    );
    let failed = event(&out, "EvaluationFailed");
    assert_eq!(failed.details["error"], "States.QueryEvaluationError");
    assert_eq!(failed.details["state"], "A");
    assert_eq!(failed.details["location"], "Output");
    assert!(failed.details["cause"].as_str().unwrap().starts_with(
        "An error occurred while executing the state 'A' (entered at the event id #2)."
    ));
    assert!(failed.with_entry);
}

#[test]
fn a_wait_timestamp_that_does_not_parse_fails_after_the_entry() {
    let m = machine(
        json!({"QueryLanguage": "JSONata", "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Timestamp": "{% 'soon' %}", "End": true}}}),
    );
    let mut t = Thread::root("W", json!({}));
    let out = run(&m, &mut t);
    let failed = event(&out, "EvaluationFailed");
    assert_eq!(failed.details["location"], "Timestamp");
    assert!(!failed.with_entry);
}

#[test]
fn evaluation_failed_is_numbered_like_its_states_entry() {
    let m = machine(
        json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Output": "{% $nothing %}", "End": true}}}),
    );
    let mut t = Thread::root("A", json!({}));
    let mut events = vec![HistoryEvent::execution_started(&exec())];
    events.extend(run(&m, &mut t).history);
    events.extend(step(&m, &exec(), &mut t, Event::Run, &env(4)).history);
    let mut numbering = Numbering::default();
    let numbered: Vec<(&str, u64)> = events
        .iter()
        .map(|e| (e.kind.as_str(), numbering.number(e).1))
        .collect();
    assert_eq!(
        numbered,
        [
            ("ExecutionStarted", 0),
            ("PassStateEntered", 0),
            ("PassStateExited", 2),
            ("PassStateEntered", 3),
            ("EvaluationFailed", 3),
            ("ExecutionFailed", 5),
        ]
    );
}

#[test]
fn a_map_whose_items_fail_to_evaluate_fails_before_it_starts() {
    let m = machine(
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
        "M": {"Type": "Map", "Items": "{% 'one' %}", "End": true,
              "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}),
    );
    let mut t = Thread::root("M", json!({}));
    let out = run(&m, &mut t);
    assert_eq!(
        kinds(&out),
        [
            "MapStateEntered",
            "EvaluationFailed",
            "MapStateFailed",
            "ExecutionFailed"
        ]
    );
    assert_eq!(event(&out, "EvaluationFailed").details["location"], "Items");
}

#[test]
fn a_map_has_started_when_its_tolerated_failures_are_refused() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ToleratedFailureCountPath": "$.n", "ItemsPath": "$.items", "End": true,
              "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}));
    let mut t = Thread::root("M", json!({"n": -1, "items": [1]}));
    let out = run(&m, &mut t);
    assert_eq!(
        kinds(&out),
        ["MapStateEntered", "MapStateStarted", "ExecutionFailed"]
    );
    assert_eq!(event(&out, "MapStateStarted").details, json!({"length": 1}));
}

#[test]
fn a_map_whose_max_concurrency_is_refused_has_not_started() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "MaxConcurrencyPath": "$.n", "ItemsPath": "$.items", "End": true,
              "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}));
    let mut t = Thread::root("M", json!({"n": "many", "items": [1]}));
    let out = run(&m, &mut t);
    assert_eq!(kinds(&out), ["MapStateEntered", "ExecutionFailed"]);
}

#[test]
fn a_parallel_that_succeeds_records_parallel_state_succeeded() {
    let m = machine(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}}),
    );
    let mut t = Thread::root("P", json!({}));
    let out = run(&m, &mut t);
    assert_eq!(
        kinds(&out),
        ["ParallelStateEntered", "ParallelStateStarted"]
    );
    let done = finish_children(&m, &mut t, &out, &[Outcome::Succeeded(json!(1))]);
    assert_eq!(
        kinds(&done),
        [
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn a_distributed_map_records_its_map_run_not_its_iterations() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Label": "run", "End": true,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}));
    let mut t = Thread::root("M", json!([1, 2]));
    let out = run(&m, &mut t);
    assert_eq!(
        kinds(&out),
        ["MapStateEntered", "MapStateStarted", "MapRunStarted"]
    );
    let arn = event(&out, "MapRunStarted").details["mapRunArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        arn.starts_with("arn:aws:states:eu-west-1:1:mapRun:m/run:"),
        "{arn}"
    );
    let ok = [Outcome::Succeeded(json!(1)), Outcome::Succeeded(json!(2))];
    let done = finish_children(&m, &mut t, &out, &ok);
    assert_eq!(
        kinds(&done),
        [
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded"
        ]
    );
}

/// The events and records of a child execution's steps.
fn child_records(out: &Output) -> Vec<&ChildRecord> {
    (out.effects.iter())
        .filter_map(|e| match e {
            Effect::ChildExecution(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_standard_distributed_maps_children_are_executions_with_their_own_history() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "Label": "run", "End": true,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "W", "States": {
                                    "W": {"Type": "Wait", "Seconds": 1, "Next": "X"},
                                    "X": {"Type": "Pass", "Result": "done", "End": true}}}}}}));
    let mut t = Thread::root("M", json!([7, 8]));
    let out = run(&m, &mut t);
    let run_arn = event(&out, "MapRunStarted").details["mapRunArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let Effect::Spawn(children) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let mut child = children[1].clone();
    let arn = child_arn(&run_arn, 1);
    assert!(
        arn.starts_with("arn:aws:states:eu-west-1:1:execution:m/run:"),
        "{arn}"
    );
    assert_ne!(arn, child_arn(&run_arn, 0));
    // Its first step: nothing in the parent's history; a RUNNING record
    // with its first events, numbered from its own ExecutionStarted.
    let first = step(&m, &exec(), &mut child, Event::Run, &env(40));
    assert!(first.history.is_empty(), "{:?}", first.history);
    let records = child_records(&first);
    assert_eq!(records.len(), 1);
    let r = records[0];
    assert_eq!(
        (r.status.as_str(), r.page, &r.input),
        ("RUNNING", 0, &json!(8))
    );
    assert_eq!(r.arn, arn);
    let kinds: Vec<_> = r.events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(kinds, ["ExecutionStarted", "WaitStateEntered"]);
    assert_eq!(r.events[0].event.details["input"], json!(8));
    assert_eq!(r.events.iter().map(|e| e.order).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(child.child.as_ref().unwrap().recorded, 2);
    // Its end: the rest of its history and how it ended, before Finish.
    let wait = child.current_wait().unwrap();
    let due = Event::Timer {
        wait,
        kind: TimerKind::Due,
    };
    let mut last = step(&m, &exec(), &mut child, due, &env(40));
    while !child.is_done() {
        assert!(child_records(&last).is_empty() && last.history.is_empty());
        last = step(&m, &exec(), &mut child, Event::Run, &env(40));
    }
    assert!(last.history.is_empty());
    assert!(matches!(last.effects.last(), Some(Effect::Finish(_))));
    let r = child_records(&last)[0];
    assert_eq!((r.status.as_str(), r.page), ("SUCCEEDED", 1));
    assert_eq!(r.output, Some(json!("done")));
    let kinds: Vec<_> = r.events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "WaitStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

/// Steps `t` by Run until it ends: every effect it produced.
fn run_to_end(m: &StateMachine, t: &mut Thread) -> Vec<Effect> {
    let mut effects = Vec::new();
    while !t.is_done() {
        effects.extend(step(m, &exec(), t, Event::Run, &env(40)).effects);
    }
    effects
}

#[test]
fn a_childs_branches_record_into_its_history_in_causal_order() {
    let branch = |s: &str| json!({"StartAt": s, "States": {s: {"Type": "Pass", "End": true}}});
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                                "StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
                                    "Branches": [branch("A"), branch("B")]}}}}}}));
    let mut t = Thread::root("M", json!([1]));
    let out = run(&m, &mut t);
    let Effect::Spawn(children) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let mut child = children[0].clone();
    let first = step(&m, &exec(), &mut child, Event::Run, &env(40));
    let mut pages: Vec<ChildRecord> = child_records(&first).into_iter().cloned().collect();
    let branches = (first.effects.iter())
        .find_map(|e| match e {
            Effect::Spawn(b) => Some(b.clone()),
            _ => None,
        })
        .unwrap();
    let mut ends = Vec::new();
    for mut b in branches {
        for e in run_to_end(&m, &mut b) {
            match e {
                Effect::ChildExecution(r) => pages.push(*r),
                Effect::Finish(o) => match b.finished(o) {
                    Handover::Parent(_, event) => ends.push(event),
                    Handover::Execution(o) => panic!("a branch ended the execution: {o:?}"),
                },
                _ => {}
            }
        }
    }
    for end in ends {
        let out = step(&m, &exec(), &mut child, end, &env(40));
        pages.extend(child_records(&out).into_iter().cloned());
    }
    assert!(child.is_done());
    // Branch pages name their thread; all pages are the same child's.
    let arn = &pages[0].arn;
    assert!(pages.iter().all(|p| &p.arn == arn));
    assert_eq!(pages.iter().filter(|p| p.is_page()).count(), 2);
    let mut events: Vec<&Ordered> = pages.iter().flat_map(|p| &p.events).collect();
    events.sort_by_key(|e| e.order);
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "ParallelStateEntered",
            "ParallelStateStarted",
            "PassStateEntered",
            "PassStateEntered",
            "PassStateExited",
            "PassStateExited",
            "ParallelStateSucceeded",
            "ParallelStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[test]
fn an_express_distributed_maps_children_keep_no_records() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                                "StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}));
    let mut t = Thread::root("M", json!([1]));
    let out = run(&m, &mut t);
    let Effect::Spawn(children) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let mut child = children[0].clone();
    assert!(child.child.is_none());
    let done = step(&m, &exec(), &mut child, Event::Run, &env(40));
    assert!(child_records(&done).is_empty() && done.history.is_empty());
}

#[test]
fn a_retried_map_fails_once_not_per_attempt() {
    let m = machine(json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "End": true, "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}],
              "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}));
    let mut t = Thread::root("M", json!([1]));
    let failed = [Outcome::Failed(StatesError::custom("E", "c"))];
    let out = run(&m, &mut t);
    let retried = finish_children(&m, &mut t, &out, &failed);
    assert_eq!(kinds(&retried), ["MapIterationFailed"]);
    let Effect::Schedule { event, .. } = retried.effects[0].clone() else {
        panic!("{:?}", retried.effects)
    };
    let again = step(&m, &exec(), &mut t, event, &env(50));
    assert_eq!(kinds(&again), ["MapStateStarted", "MapIterationStarted"]);
    let last = finish_children(&m, &mut t, &again, &failed);
    assert_eq!(
        kinds(&last),
        ["MapIterationFailed", "MapStateFailed", "ExecutionFailed"]
    );
}

/// The step after the task `out` started succeeds with `{}`: the next
/// state's.
fn next_task(m: &StateMachine, t: &mut Thread, out: &Output) -> Output {
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let done = Event::TaskSucceeded {
        wait: call.wait,
        output: json!({}),
    };
    step(m, &exec(), t, done, &env(10));
    step(m, &exec(), t, Event::Run, &env(20))
}

#[test]
fn a_service_task_is_scheduled_in_a_region() {
    let m = machine(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Next": "U"},
        "U": {"Type": "Task", "Resource": "arn:aws:states:us-west-2:1:sns:publish", "End": true}}}));
    let mut t = Thread::root("T", json!({}));
    let out = run(&m, &mut t);
    assert_eq!(event(&out, "TaskScheduled").details["region"], "eu-west-1");
    let out = next_task(&m, &mut t, &out);
    assert_eq!(event(&out, "TaskScheduled").details["region"], "us-west-2");
}

#[test]
fn a_task_with_credentials_names_its_role_where_it_is_scheduled() {
    // Recorded on AWS (LocalStack's test_credentials_base): the role, as
    // a path, a variable or an expression resolved it, in
    // `taskCredentials`; we left it out.
    let role = "arn:aws:iam::2:role/trusted";
    for (lang, credentials) in [
        ("JSONPath", json!({"RoleArn.$": "$.role"})),
        (
            "JSONPath",
            json!({"RoleArn.$": "States.Format('{}', $.role)"}),
        ),
        ("JSONata", json!({"RoleArn": "{% $states.input.role %}"})),
    ] {
        let m = machine(json!({"QueryLanguage": lang, "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                  "Credentials": credentials, "Next": "L"},
            "L": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:1:function:f",
                  "Credentials": {"RoleArn": role}, "End": true}}}));
        let mut t = Thread::root("T", json!({"role": role}));
        let out = run(&m, &mut t);
        let scheduled = event(&out, "TaskScheduled");
        assert_eq!(
            scheduled.details["taskCredentials"],
            json!({"roleArn": role})
        );
        let out = next_task(&m, &mut t, &out);
        let scheduled = event(&out, "LambdaFunctionScheduled");
        assert_eq!(
            scheduled.details["taskCredentials"],
            json!({"roleArn": role})
        );
    }
}

/// `(id, previousEventId)` of each of `events` (thread, type, details) as
/// one numbering gives them.
fn links(events: &[(&str, EventType, Value)]) -> Vec<(u64, u64)> {
    let mut numbering = Numbering::default();
    events
        .iter()
        .map(|(thread, kind, details)| {
            numbering.number(&HistoryEvent {
                timestamp: 0,
                kind: *kind,
                thread: (*thread).into(),
                details: details.clone(),
                with_entry: false,
                after: None,
            })
        })
        .collect()
}

#[test]
fn an_iteration_cancelled_before_it_stepped_leaves_no_link_behind() {
    use EventType::*;
    let none = || json!({});
    let index = |i: u64| json!({"index": i, "name": "M"});
    let got = links(&[
        ("root", ExecutionStarted, none()),
        ("root", MapStateEntered, none()),
        ("root", MapStateStarted, none()),
        ("root", MapIterationStarted, index(0)),
        ("root", MapIterationStarted, index(1)),
        ("root/4.0", FailStateEntered, none()),
        ("root", MapIterationFailed, index(0)),
        ("root", MapStateFailed, none()),
        ("root", MapStateExited, none()),
        ("root", ParallelStateEntered, none()),
        ("root", ParallelStateStarted, none()),
        // Branch 1's first event: not the Map's iteration 1, which never stepped.
        ("root/11.1", PassStateEntered, none()),
    ]);
    assert_eq!(got[3..6], [(4, 3), (5, 3), (6, 4)]);
    assert_eq!(got[11], (12, 11));
}

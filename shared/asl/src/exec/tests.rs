//! The step function at the level of effects: what a driver must do.

use serde_json::json;

use super::*;
use crate::definition::Options;

fn machine(def: serde_json::Value) -> StateMachine {
    StateMachine::from_value(&def, Options::default()).unwrap()
}

fn exec() -> Execution {
    Execution {
        arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
        name: "e".into(),
        input: json!({}),
        start_time: 0,
        role_arn: String::new(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        state_machine_name: "m".into(),
        redrive_count: Some(0),
        given_context: None,
        state_name: None,
        mock: None,
    }
}

fn env(now: i64) -> Env {
    Env {
        now,
        seed: 9,
        event_id: 2,
        history: true,
        nonce: 9,
        spawn_bytes: 0,
        missing_activity: None,
    }
}

fn task_machine() -> StateMachine {
    machine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"token.$": "$$.Task.Token"}, "TimeoutSeconds": 60, "HeartbeatSeconds": 10, "End": true}}}),
    )
}

#[test]
fn a_pass_state_schedules_the_next_state_now() {
    let m = machine(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}),
    );
    let mut t = Thread::root("A", json!({"x": 1}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(5));
    assert_eq!(
        out.effects,
        vec![Effect::Schedule {
            at: 5,
            event: Event::Run
        }]
    );
    assert_eq!((t.state.as_str(), &t.input), ("B", &json!({"x": 1})));
    let kinds: Vec<&str> = out.history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["PassStateEntered", "PassStateExited"]);
}

#[test]
fn a_task_invokes_with_a_token_and_sets_its_timers() {
    let m = task_machine();
    let mut t = Thread::root("T", json!({}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(1000));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    let token = call.token.clone().unwrap();
    // 192 bits shown, 128 of them random: the seed's stream and the nonce.
    assert_eq!(token.len(), 48);
    assert_eq!(&token[16..32], format!("{:016x}", 9));
    assert_eq!(call.payload, json!({"token": token}));
    assert_eq!(
        &out.effects[1..],
        &[
            Effect::Schedule {
                at: 61_000,
                event: Event::Timer {
                    wait: call.wait,
                    kind: TimerKind::Timeout
                }
            },
            Effect::Schedule {
                at: 11_000,
                event: Event::Timer {
                    wait: call.wait,
                    kind: TimerKind::Heartbeat
                }
            },
        ]
    );
}

#[test]
fn a_regional_integration_arn_reaches_the_driver_as_written_and_canonically() {
    let m = machine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws-cn:states:cn-north-1:123456789012:sqs:sendMessage", "End": true}}}),
    );
    let mut t = Thread::root("T", json!({}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    assert_eq!(
        call.resource,
        "arn:aws-cn:states:cn-north-1:123456789012:sqs:sendMessage"
    );
    assert_eq!(
        call.canonical_resource(),
        "arn:aws:states:::sqs:sendMessage"
    );
}

/// The heartbeat timer of task wait `wait`, delivered at `now`.
fn heartbeat_timer(m: &StateMachine, t: &mut Thread, wait: u64, now: i64) -> Output {
    let timer = Event::Timer {
        wait,
        kind: TimerKind::Heartbeat,
    };
    step(m, &exec(), t, timer, &env(now))
}

#[test]
fn a_heartbeat_pushes_the_deadline_and_a_missed_one_fails_the_task() {
    let m = task_machine();
    let mut t = Thread::root("T", json!({}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!()
    };
    let wait = call.wait;
    let hb = step(
        &m,
        &exec(),
        &mut t,
        Event::TaskHeartbeat { wait },
        &env(8_000),
    );
    assert_eq!(
        hb.effects,
        vec![Effect::Schedule {
            at: 18_000,
            event: Event::Timer {
                wait,
                kind: TimerKind::Heartbeat
            }
        }]
    );
    // The first heartbeat timer fires before the new deadline: nothing happens.
    let early = heartbeat_timer(&m, &mut t, wait, 10_000);
    assert!(!early.applied);
    let late = heartbeat_timer(&m, &mut t, wait, 18_000);
    // AWS reports a missed heartbeat as States.Timeout (TaskTimedOut, then
    // ExecutionFailed), as its recorded histories show.
    let failed = StatesError {
        error: Some("States.Timeout".into()),
        cause: None,
    };
    assert_eq!(late.effects, vec![Effect::Finish(Outcome::Failed(failed))]);
    let kinds: Vec<&str> = late.history.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["TaskTimedOut", "ExecutionFailed"]);
    assert_eq!(late.history[0].details["error"], "States.Timeout");
}

/// Where a callback Task with `rules` as its Catch ends when its heartbeat
/// is missed, or (`heartbeat` false) when its TimeoutSeconds passes.
fn caught_by(rules: Value, heartbeat: bool) -> Option<Value> {
    let kind = if heartbeat {
        TimerKind::Heartbeat
    } else {
        TimerKind::Timeout
    };
    caught_after(rules, json!({}), |wait| {
        vec![(Event::Timer { wait, kind }, 60_000)]
    })
}

/// Where a callback Task with `rules` as its Catch, given `input`, ends
/// after the events `answers` gives for its wait (each with its time).
fn caught_after(
    rules: Value,
    input: Value,
    answers: impl Fn(u64) -> Vec<(Event, i64)>,
) -> Option<Value> {
    let m = machine(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"token.$": "$$.Task.Token"}, "TimeoutSeconds": 60, "HeartbeatSeconds": 10,
              "Catch": rules, "End": true},
        "Caught": {"Type": "Pass", "End": true}}}));
    let mut t = Thread::root("T", input);
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!()
    };
    for (event, at) in answers(call.wait) {
        step(&m, &exec(), &mut t, event, &env(at));
    }
    (t.state == "Caught").then(|| t.input.clone())
}

#[test]
fn a_missed_heartbeat_is_caught_as_a_heartbeat_timeout_or_as_a_timeout() {
    let on = |names: &[&str]| json!([{"ErrorEquals": names, "Next": "Caught"}]);
    let caught = caught_by(on(&["States.HeartbeatTimeout"]), true);
    assert_eq!(
        caught,
        Some(json!({"Error": "States.Timeout", "Cause": ""}))
    );
    assert!(caught_by(on(&["States.Timeout"]), true).is_some());
    assert!(caught_by(on(&["States.ALL"]), true).is_some());
    // A task's own timeout is no missed heartbeat.
    assert_eq!(caught_by(on(&["States.HeartbeatTimeout"]), false), None);
    assert!(caught_by(on(&["States.Timeout"]), false).is_some());
}

#[test]
fn a_catcher_gets_both_error_and_cause_as_aws_gives_them() {
    let rules = json!([{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]);
    // A timeout's cause is empty (AWS's TaskTimedOut leaves it out).
    assert_eq!(
        caught_by(rules.clone(), false),
        Some(json!({"Error": "States.Timeout", "Cause": ""}))
    );
    // SendTaskFailure with only the token: neither is given, both are null.
    let rules = json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}]);
    let caught = caught_after(rules, json!({"a": 1}), |wait| {
        let none = StatesError {
            error: None,
            cause: None,
        };
        let submitted = Event::TaskSubmitted {
            wait,
            output: json!({}),
        };
        vec![(submitted, 1), (Event::TaskFailed { wait, error: none }, 2)]
    });
    assert_eq!(
        caught,
        Some(json!({"a": 1, "err": {"Error": null, "Cause": null}}))
    );
}

#[test]
fn a_request_response_task_keeps_no_heartbeat_clock() {
    let m = machine(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f"}, "TimeoutSeconds": 60, "HeartbeatSeconds": 10, "End": true}}}),
    );
    let mut t = Thread::root("T", json!({}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!("the call goes out")
    };
    let wait = call.wait;
    // Only the task's TimeoutSeconds is armed.
    let timers: Vec<_> = (out.effects.iter())
        .filter_map(|e| match e {
            Effect::Schedule {
                at,
                event: Event::Timer { kind, .. },
            } => Some((*at, *kind)),
            _ => None,
        })
        .collect();
    assert_eq!(timers, [(60_000, TimerKind::Timeout)]);
    let late = heartbeat_timer(&m, &mut t, wait, 30_000);
    assert!(!late.applied, "no heartbeat deadline to miss");
}

#[test]
fn stale_events_change_nothing() {
    let m = task_machine();
    let mut t = Thread::root("T", json!({}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Invoke(call) = &out.effects[0] else {
        panic!()
    };
    let before = t.clone();
    let wrong = step(
        &m,
        &exec(),
        &mut t,
        Event::TaskSucceeded {
            wait: call.wait + 1,
            output: json!(1),
        },
        &env(1),
    );
    assert!(!wrong.applied);
    assert_eq!(t, before);
    let done = step(
        &m,
        &exec(),
        &mut t,
        Event::TaskSucceeded {
            wait: call.wait,
            output: json!(1),
        },
        &env(2),
    );
    assert_eq!(
        done.effects,
        vec![Effect::Finish(Outcome::Succeeded(json!(1)))]
    );
    let again = step(
        &m,
        &exec(),
        &mut t,
        Event::TaskSucceeded {
            wait: call.wait,
            output: json!(2),
        },
        &env(3),
    );
    assert!(!again.applied, "a duplicate result is ignored");
    let timeout = step(
        &m,
        &exec(),
        &mut t,
        Event::Timer {
            wait: call.wait,
            kind: TimerKind::Timeout,
        },
        &env(99_000),
    );
    assert!(
        !timeout.applied,
        "a timer after the thread moved on is ignored"
    );
}

#[test]
fn a_parallel_spawns_one_child_per_branch() {
    let m = machine(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}]}}}),
    );
    let mut t = Thread::root("P", json!({"v": 1}));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Spawn(children) = &out.effects[0] else {
        panic!("{:?}", out.effects)
    };
    assert_eq!(
        children
            .iter()
            .map(|c| c.state.as_str())
            .collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert!(
        children
            .iter()
            .all(|c| c.input == json!({"v": 1}) && c.parent.as_ref().unwrap().thread == "root")
    );
    let wait = children[0].parent.as_ref().unwrap().wait;
    let first = step(
        &m,
        &exec(),
        &mut t,
        Event::ChildFinished {
            wait,
            index: 1,
            outcome: Outcome::Succeeded(json!("b")),
            resume: None,
            clock: 0,
        },
        &env(1),
    );
    assert!(first.effects.is_empty());
    let second = step(
        &m,
        &exec(),
        &mut t,
        Event::ChildFinished {
            wait,
            index: 0,
            outcome: Outcome::Succeeded(json!("a")),
            resume: None,
            clock: 0,
        },
        &env(2),
    );
    assert_eq!(
        second.effects,
        vec![Effect::Finish(Outcome::Succeeded(json!(["a", "b"])))]
    );
}

#[test]
fn map_concurrency_starts_the_next_item_as_one_finishes() {
    let m = machine(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}),
    );
    let mut t = Thread::root("M", json!([10, 20, 30]));
    let out = step(&m, &exec(), &mut t, Event::Run, &env(0));
    let Effect::Spawn(first) = &out.effects[0] else {
        panic!()
    };
    assert_eq!(
        first.iter().map(|c| c.input.clone()).collect::<Vec<_>>(),
        [json!(10), json!(20)]
    );
    let wait = first[0].parent.as_ref().unwrap().wait;
    let next = step(
        &m,
        &exec(),
        &mut t,
        Event::ChildFinished {
            wait,
            index: 0,
            outcome: Outcome::Succeeded(json!(1)),
            resume: None,
            clock: 0,
        },
        &env(1),
    );
    let Effect::Spawn(more) = &next.effects[0] else {
        panic!("{:?}", next.effects)
    };
    assert_eq!(more.len(), 1);
    assert_eq!(more[0].input, json!(30));
}

#[test]
fn stop_cancels_children_and_aborts() {
    let m = machine(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}]}}}),
    );
    let mut t = Thread::root("P", json!({}));
    step(&m, &exec(), &mut t, Event::Run, &env(0));
    let stop = StatesError::custom("Stopped", "by user");
    let out = step(
        &m,
        &exec(),
        &mut t,
        Event::Stop {
            error: stop.clone(),
            timed_out: false,
        },
        &env(1),
    );
    assert!(matches!(&out.effects[0], Effect::Cancel(ids) if ids.len() == 1));
    assert_eq!(out.effects[1], Effect::Finish(Outcome::Aborted(stop)));
}

#[test]
fn an_intrinsic_argument_that_finds_nothing_fails_as_aws_words_it() {
    // The whole expression as written, the argument, and the document it
    // was looked for in (AWS's cause; we named the field and no input).
    for (text, arg) in [
        ("States.Format('{}', $.nope)", "$.nope"),
        ("States.Format('{}',States.Array($.a, $.nope))", "$.nope"),
    ] {
        let m = machine(json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"v.$": text}, "End": true}}}));
        let mut t = Thread::root("P", json!({"other": 1, "a": 2}));
        let out = step(&m, &exec(), &mut t, Event::Run, &env(5));
        let Some(Effect::Finish(Outcome::Failed(e))) = out.effects.last() else {
            panic!("{:?}", out.effects);
        };
        let cause = e.cause.as_deref().unwrap_or_default();
        assert_eq!(e.error.as_deref(), Some("States.Runtime"));
        assert!(
            cause.ends_with(&format!(
                "The function '{text}' had the following error: The JsonPath argument for the field '{arg}' could not be found in the input '{{\"other\":1,\"a\":2}}'"
            )),
            "{cause}"
        );
    }
}

//! States coloured by what an execution's history says happened to them.

mod common;

use std::collections::HashMap;

use serde_json::{Value, json};
use stepwise_console::Format;

/// A history written by hand, numbered as AWS numbers it (each event's
/// previous is the one before it unless said otherwise).
#[derive(Default)]
struct History(Vec<Value>);

impl History {
    fn event(mut self, kind: &str, details: Value) -> History {
        let id = self.0.len() as i64 + 1;
        let key = if kind.ends_with("StateEntered") {
            "stateEnteredEventDetails".to_owned()
        } else if kind.ends_with("StateExited") {
            "stateExitedEventDetails".to_owned()
        } else {
            let mut c = kind.chars();
            let first = c
                .next()
                .map(|f| f.to_ascii_lowercase().to_string())
                .unwrap_or_default();
            format!("{first}{}EventDetails", c.as_str())
        };
        self.0.push(json!({
            "id": id, "previousEventId": id - 1, "type": kind,
            "timestamp": "2024-01-01T00:00:00Z", key: details
        }));
        self
    }
    fn started() -> History {
        History::default().event("ExecutionStarted", json!({"input": "{}"}))
    }
    fn entered(self, kind: &str, name: &str) -> History {
        self.event(
            &format!("{kind}StateEntered"),
            json!({"name": name, "input": "{}"}),
        )
    }
    fn exited(self, kind: &str, name: &str) -> History {
        self.event(
            &format!("{kind}StateExited"),
            json!({"name": name, "output": "{}"}),
        )
    }
    fn task_failed(self) -> History {
        self.event(
            "TaskScheduled",
            json!({"resource": "invoke", "resourceType": "lambda"}),
        )
        .event(
            "TaskStarted",
            json!({"resource": "invoke", "resourceType": "lambda"}),
        )
        .event("TaskFailed", json!({"error": "Boom", "cause": "it broke"}))
    }
    fn task_succeeded(self) -> History {
        self.event(
            "TaskScheduled",
            json!({"resource": "invoke", "resourceType": "lambda"}),
        )
        .event(
            "TaskStarted",
            json!({"resource": "invoke", "resourceType": "lambda"}),
        )
        .event("TaskSucceeded", json!({"output": "{}"}))
    }
}

/// The status class of every state, checked to agree in all three formats.
fn classes(definition: &Value, history: &History) -> HashMap<String, String> {
    let events = Some(history.0.as_slice());
    let mermaid = common::mermaid_classes(&common::render(definition, events, Format::Mermaid));
    let dot = common::render(definition, events, Format::Dot);
    let svg = common::svg_states(&common::parse_xml(&common::render(
        definition,
        events,
        Format::Svg,
    )));
    let mut out = HashMap::new();
    for (name, class) in svg {
        let status = class.trim_start_matches("node ").to_owned();
        // State names in these tests are their ids.
        assert_eq!(mermaid.get(&name), Some(&status), "Mermaid class of {name}");
        let fill = common::dot_fill(&dot, &name).unwrap_or_else(|| panic!("DOT fill of {name}"));
        assert_eq!(fill, fill_of(&status), "DOT fill of {name}");
        out.insert(name, status);
    }
    out
}

fn fill_of(status: &str) -> &'static str {
    match status {
        "succeeded" => "#2bd62e",
        "failed" => "#de322f",
        "caught" => "#ffa500",
        "running" => "#4f93e5",
        "notreached" => "#d5dbdb",
        other => panic!("no such status {other}"),
    }
}

fn assert_classes(definition: &Value, history: History, expected: &[(&str, &str)]) {
    let got = classes(definition, &history);
    for (name, status) in expected {
        assert_eq!(
            got.get(*name).map(String::as_str),
            Some(*status),
            "{name} in {got:?}"
        );
    }
}

fn chain() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C"},
        "C": {"Type": "Pass", "End": true}
    }})
}

#[test]
fn entered_and_exited_is_succeeded_and_the_rest_not_reached() {
    let h = History::started().entered("Pass", "A").exited("Pass", "A");
    assert_classes(
        &chain(),
        h,
        &[("A", "succeeded"), ("B", "notreached"), ("C", "notreached")],
    );
}

#[test]
fn entered_in_a_live_execution_is_running() {
    let h = History::started()
        .entered("Pass", "A")
        .exited("Pass", "A")
        .entered("Task", "B")
        .event("TaskScheduled", json!({}));
    assert_classes(
        &chain(),
        h,
        &[("A", "succeeded"), ("B", "running"), ("C", "notreached")],
    );
}

#[test]
fn a_task_failure_that_ends_the_execution_is_failed() {
    let h = History::started()
        .entered("Pass", "A")
        .exited("Pass", "A")
        .entered("Task", "B")
        .task_failed()
        .event("ExecutionFailed", json!({"error": "Boom"}));
    assert_classes(
        &chain(),
        h,
        &[("A", "succeeded"), ("B", "failed"), ("C", "notreached")],
    );
}

#[test]
fn a_state_the_execution_ended_in_is_failed() {
    let h = History::started()
        .entered("Pass", "A")
        .exited("Pass", "A")
        .entered("Task", "B")
        .event("ExecutionTimedOut", json!({}));
    assert_classes(&chain(), h, &[("B", "failed")]);
}

#[test]
fn a_caught_failure_is_caught_and_the_handler_runs() {
    let machine = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}], "Next": "Ship"},
        "Ship": {"Type": "Pass", "End": true},
        "Handle": {"Type": "Pass", "End": true}
    }});
    let h = History::started()
        .entered("Task", "Work")
        .task_failed()
        .exited("Task", "Work")
        .entered("Pass", "Handle")
        .exited("Pass", "Handle")
        .event("ExecutionSucceeded", json!({"output": "{}"}));
    assert_classes(
        &machine,
        h,
        &[
            ("Work", "caught"),
            ("Handle", "succeeded"),
            ("Ship", "notreached"),
        ],
    );
}

#[test]
fn a_retried_task_that_then_succeeds_is_succeeded() {
    let h = History::started()
        .entered("Pass", "A")
        .exited("Pass", "A")
        .entered("Task", "B")
        .task_failed()
        .task_succeeded()
        .exited("Task", "B");
    assert_classes(&chain(), h, &[("B", "succeeded"), ("C", "notreached")]);
}

#[test]
fn a_fail_state_is_failed() {
    let machine = json!({"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Fine"}], "Default": "Stop"},
        "Fine": {"Type": "Succeed"},
        "Stop": {"Type": "Fail", "Error": "NotOk"}
    }});
    let h = History::started()
        .entered("Choice", "Check")
        .exited("Choice", "Check")
        .entered("Fail", "Stop")
        .event("ExecutionFailed", json!({"error": "NotOk"}));
    assert_classes(
        &machine,
        h,
        &[
            ("Check", "succeeded"),
            ("Stop", "failed"),
            ("Fine", "notreached"),
        ],
    );
}

/// A branch fails, so does the Parallel, and its catcher takes it; the
/// failure event names no state, and belongs to the Parallel by kind.
#[test]
fn a_parallel_failure_belongs_to_the_parallel() {
    let machine = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}},
            {"StartAt": "Right", "States": {"Right": {"Type": "Pass", "End": true}}}
        ], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}], "End": true},
        "Undo": {"Type": "Pass", "End": true}
    }});
    let h = History::started()
        .entered("Parallel", "Both")
        .event("ParallelStateStarted", json!({}))
        .entered("Pass", "Right")
        .exited("Pass", "Right")
        .entered("Task", "Left")
        .task_failed()
        .event("ParallelStateFailed", json!({}))
        .exited("Parallel", "Both")
        .entered("Pass", "Undo")
        .exited("Pass", "Undo")
        .event("ExecutionSucceeded", json!({}));
    assert_classes(
        &machine,
        h,
        &[
            ("Both", "caught"),
            ("Left", "failed"),
            ("Right", "succeeded"),
            ("Undo", "succeeded"),
        ],
    );
}

/// A state looped through shows its latest news: running beats succeeded.
#[test]
fn a_state_entered_again_shows_the_most_telling_status() {
    let machine = json!({"StartAt": "Poll", "States": {
        "Poll": {"Type": "Wait", "Seconds": 1, "Next": "Poll"}
    }});
    let h = History::started()
        .entered("Wait", "Poll")
        .exited("Wait", "Poll")
        .entered("Wait", "Poll");
    assert_classes(&machine, h, &[("Poll", "running")]);
}

#[test]
fn evaluation_failed_names_its_state() {
    let h = History::started()
        .entered("Pass", "A")
        .event(
            "EvaluationFailed",
            json!({"error": "States.QueryEvaluationError", "state": "A"}),
        )
        .event("ExecutionFailed", json!({}));
    assert_classes(&chain(), h, &[("A", "failed"), ("B", "notreached")]);
}

#[test]
fn without_a_history_nothing_is_coloured() {
    let mermaid = common::render(&chain(), None, Format::Mermaid);
    assert!(!mermaid.contains("classDef succeeded"), "{mermaid}");
    assert!(common::mermaid_classes(&mermaid).is_empty());
    let dot = common::render(&chain(), None, Format::Dot);
    assert_eq!(common::dot_fill(&dot, "A"), None);
}

/// Events without the fields this reads, ids that loop, odd values: the
/// colours are a best guess, never a panic.
#[test]
fn broken_histories_do_not_panic() {
    let histories: Vec<Vec<Value>> = vec![
        vec![json!(null), json!(1), json!("TaskFailed"), json!([])],
        vec![
            json!({"type": "TaskFailed"}),
            json!({"type": "PassStateExited"}),
        ],
        vec![
            json!({"id": 2, "previousEventId": 3, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "B"}}),
            json!({"id": 3, "previousEventId": 2, "type": "TaskFailed"}),
            json!({"id": 3, "previousEventId": 3, "type": "MapStateFailed"}),
            json!({"id": -1, "previousEventId": 99, "type": "ParallelStateAborted"}),
        ],
        vec![
            json!({"type": "EvaluationFailed", "evaluationFailedEventDetails": {"state": "Nope"}}),
        ],
        vec![json!({"type": "PassStateEntered", "stateEnteredEventDetails": {"name": 5}})],
    ];
    for h in histories {
        for format in [Format::Mermaid, Format::Dot, Format::Svg] {
            common::render(&chain(), Some(&h), format);
        }
    }
}

//! Workflow variables and JSONata states through the in-memory runner.

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine, StatesError, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::ports::TaskResult;
use stepwise_engine::tasks::FnTasks;
use stepwise_engine::{Report, Runner, RunnerOptions, Status};

fn run_with(def: Value, input: Value, tasks: impl Fn(&TaskCall) -> TaskResult) -> Report {
    let machine = StateMachine::from_value(&def, Options::default()).expect("valid definition");
    let exec = local_execution("m", "e", input, 1_000_000, false);
    block_on(Runner::new(&machine, exec, FnTasks(tasks), RunnerOptions::default()).run())
}

fn succeeds(def: Value, input: Value, output: Value) {
    let r = run_with(def, input, |c| Ok(c.payload.clone()));
    assert_eq!(
        (r.status, r.output),
        (Status::Succeeded, Some(output)),
        "error: {:?}",
        r.error
    );
}

#[test]
fn assign_sees_the_values_from_before_the_state() {
    succeeds(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": 2, "old.$": "$x"}, "OutputPath": "$x", "Next": "C"},
            "C": {"Type": "Pass", "Parameters": {"x.$": "$x", "old.$": "$old"}, "End": true}}}),
        json!({}),
        json!({"x": 2, "old": 1}),
    );
}

#[test]
fn jsonpath_assign_reads_the_result() {
    succeeds(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": {"answer": 42}, "ResultPath": "$.r", "Assign": {"a.$": "$.answer"}, "Next": "B"},
            "B": {"Type": "Pass", "OutputPath": "$a", "End": true}}}),
        json!({}),
        json!(42),
    );
}

#[test]
fn branches_read_outer_variables_and_their_assignments_stay_inside() {
    succeeds(
        json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"x": "outer"}, "Next": "P"},
            "P": {"Type": "Parallel", "Next": "After", "Branches": [
                {"StartAt": "B1", "States": {
                    "B1": {"Type": "Pass", "Assign": {"x": "inner"}, "Next": "B2"},
                    "B2": {"Type": "Pass", "Parameters": {"seen.$": "$x"}, "End": true}}}]},
            "After": {"Type": "Pass", "Parameters": {"branch.$": "$[0].seen", "x.$": "$x"}, "End": true}}}),
        json!({}),
        json!({"branch": "inner", "x": "outer"}),
    );
}

#[test]
fn map_iterations_read_outer_variables() {
    succeeds(
        json!({"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"k": 10}, "Next": "M"},
            "M": {"Type": "Map", "Items": "{% [1, 2, 3] %}", "End": true,
                  "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Output": "{% $states.input * $k %}", "End": true}}}}}}),
        json!({}),
        json!([10, 20, 30]),
    );
}

#[test]
fn jsonata_task_arguments_output_and_assign() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Arguments": {"FunctionName": "f", "Payload": {"n": "{% $states.input.n + 1 %}"}},
                  "Output": {"got": "{% $states.result.Payload.n %}", "in": "{% $states.input.n %}"},
                  "Assign": {"last": "{% $states.result.Payload.n %}"}, "Next": "U"},
            "U": {"Type": "Pass", "Output": "{% $last * 2 %}", "End": true}}}),
        json!({"n": 1}),
        |c| Ok(json!({"Payload": c.payload["Payload"].clone()})),
    );
    assert_eq!(r.output, Some(json!(4)), "{:?}", r.error);
}

#[test]
fn jsonata_catch_shapes_the_error_output() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "f"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {"e": "{% $states.errorOutput.Error %}", "was": "{% $states.input %}"},
                             "Assign": {"cause": "{% $states.errorOutput.Cause %}"}, "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "cause": "{% $cause %}"}, "End": true}}}),
        json!({"a": 1}),
        |_| Err(StatesError::custom("Boom", "bad thing")),
    );
    assert_eq!(
        r.output,
        Some(json!({"out": {"e": "Boom", "was": {"a": 1}}, "cause": "bad thing"})),
        "{:?}",
        r.error
    );
}

#[test]
fn undefined_jsonata_results_are_query_evaluation_errors() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"x": "{% $nope %}"}, "End": true}}}),
        json!({}),
        |c| Ok(c.payload.clone()),
    );
    assert_eq!(r.status, Status::Failed);
    let e = r.error.unwrap();
    assert_eq!(e.error.as_deref(), Some("States.QueryEvaluationError"));
    assert!(e.cause.unwrap().ends_with("The JSONata expression '$nope' specified for the field 'Output/x' returned nothing (undefined)."));
}

#[test]
fn an_oversized_assign_exceeds_the_data_limit() {
    let big = "x".repeat(300 * 1024);
    let r = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Assign": {"big": big}, "End": true}}}),
        json!({}),
        |c| Ok(c.payload.clone()),
    );
    assert_eq!(
        r.error.and_then(|e| e.error).as_deref(),
        Some("States.DataLimitExceeded")
    );
}

#[test]
fn jsonata_states_reject_jsonpath_fields() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.x", "End": true}}});
    let err = StateMachine::from_value(&def, Options::default()).unwrap_err();
    assert!(
        err.to_string().contains("'InputPath' is not supported"),
        "{err}"
    );
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"states": 1}, "End": true}}});
    assert!(
        StateMachine::from_value(&def, Options::default())
            .unwrap_err()
            .to_string()
            .contains("reserved")
    );
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}});
    assert!(StateMachine::from_value(&def, Options::default()).is_err());
}

//! End-to-end semantics through the in-memory runner: each test states a
//! definition, an input and what AWS would answer.

use std::sync::atomic::{AtomicU32, Ordering};

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

fn run(def: Value, input: Value) -> Report {
    run_with(def, input, |c| Ok(c.payload.clone()))
}

fn succeeds(def: Value, input: Value, output: Value) {
    let r = run(def, input);
    assert_eq!(
        (r.status, r.output),
        (Status::Succeeded, Some(output)),
        "error: {:?}",
        r.error
    );
}

fn fails(def: Value, input: Value, error: &str) -> Report {
    let r = run(def, input);
    assert_eq!(r.status, Status::Failed, "output: {:?}", r.output);
    assert_eq!(
        r.error.as_ref().and_then(|e| e.error.as_deref()),
        Some(error),
        "{:?}",
        r.error
    );
    r
}

fn task(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t
}

#[test]
fn data_flow_applies_paths_in_order() {
    succeeds(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"v.$": "$.x", "k": 1},
            "ResultPath": "$.r", "OutputPath": "$.r", "End": true}}}),
        json!({"in": {"x": 5}}),
        json!({"v": 5, "k": 1}),
    );
    succeeds(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"a": 1}, "ResultPath": null, "End": true}}}),
        json!({"keep": true}),
        json!({"keep": true}),
    );
}

#[test]
fn choice_picks_the_first_match_or_default() {
    let def = |default: bool| {
        let mut c = json!({"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Not": {"Variable": "$.s", "StringEquals": "x"}}], "Next": "Big"}]});
        if default {
            c["Default"] = json!("Small");
        }
        json!({"StartAt": "C", "States": {"C": c, "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true}}})
    };
    succeeds(def(true), json!({"n": 2, "s": "y"}), json!("big"));
    succeeds(def(true), json!({"n": 2, "s": "x"}), json!("small"));
    let mut no_default = def(false);
    no_default["States"]["C"]["Choices"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Variable": "$.n", "NumericEquals": -1, "Next": "Small"}));
    let r = fails(no_default, json!({"n": 0, "s": "y"}), "States.Runtime");
    assert_eq!(
        r.error.unwrap().cause.as_deref(),
        Some(
            "An error occurred while executing the state 'C' (entered at the event id #2). \
             Failed to transition out of the state. The state does not point to a next state."
        )
    );
    let r = fails(def(true), json!({"s": "y"}), "States.Runtime");
    assert!(
        r.error
            .unwrap()
            .cause
            .unwrap()
            .contains("Invalid path '$.n'")
    );
}

#[test]
fn retry_backs_off_then_succeeds() {
    let calls = AtomicU32::new(0);
    let def = json!({"StartAt": "T", "States": {"T": task(json!({
        "Parameters": {"n.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}]}))}});
    let r = run_with(def, json!({}), |c| {
        if calls.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(StatesError::custom("Boom", "x"))
        } else {
            Ok(c.payload.clone())
        }
    });
    assert_eq!(r.output, Some(json!({"n": 2})), "{:?}", r.error);
    let scheduled: Vec<i64> = r
        .history
        .iter()
        .filter(|e| e.event.kind.as_str() == "TaskScheduled")
        .map(|e| e.event.timestamp)
        .collect();
    assert_eq!(
        scheduled
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect::<Vec<_>>(),
        vec![2000, 6000]
    );
}

#[test]
fn retry_gives_up_after_max_attempts_and_catch_takes_over() {
    let calls = AtomicU32::new(0);
    let def = json!({"StartAt": "T", "States": {
        "T": task(json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "H"}]})),
        "H": {"Type": "Pass", "End": true}}});
    let r = run_with(def, json!({"a": 1}), |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(StatesError::custom("Boom", "bad"))
    });
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        r.output,
        Some(json!({"a": 1, "err": {"Error": "Boom", "Cause": "bad"}}))
    );
}

#[test]
fn states_all_does_not_catch_runtime_errors() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "InputPath": "$.missing",
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
        "H": {"Type": "Pass", "End": true}}});
    let r = fails(def, json!({}), "States.Runtime");
    assert_eq!(
        r.error.unwrap().cause.unwrap(),
        "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']"
    );
}

#[test]
fn no_rule_catches_a_runtime_error_not_even_one_that_names_it() {
    // Recorded on AWS (LocalStack's test_catch_states_runtime): the Task's
    // OutputPath finds nothing, and a Catch (and a Retry) naming
    // States.Runtime is passed over; the cause names the property missing
    // on the way, in Jayway's words.
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "OutputPath": "$.no.such.result.path",
              "Retry": [{"ErrorEquals": ["States.Runtime"], "MaxAttempts": 3}],
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "H"}], "Next": "H"},
        "H": {"Type": "Pass", "End": true}}});
    let r = fails(def, json!({}), "States.Runtime");
    assert_eq!(
        r.error.unwrap().cause.unwrap(),
        "An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.no.such.result.path' : Missing property in path $['no']"
    );
}

#[test]
fn intrinsic_failures_can_be_caught() {
    succeeds(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"x.$": "States.ArrayGetItem($.a, 5)"},
                  "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "ResultPath": null, "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "Result": "caught", "End": true}}}),
        json!({"a": [1]}),
        json!("caught"),
    );
}

#[test]
fn parallel_collects_branch_outputs_in_order() {
    succeeds(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 5, "Next": "A"}, "A": {"Type": "Pass", "Result": 1, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": true}}}]}}}),
        json!({"x": "two"}),
        json!([1, "two"]),
    );
}

#[test]
fn a_failing_branch_fails_the_parallel_with_its_error() {
    let r = fails(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}},
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Oops", "Cause": "why"}}}]}}}),
        json!({}),
        "Oops",
    );
    // The waiting sibling was stopped: the execution ended without waiting 100 s.
    let end = r.history.last().unwrap().event.timestamp;
    assert_eq!(end, 1_000_000);
}

#[test]
fn map_runs_items_with_selector_and_context() {
    succeeds(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
            "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value", "k.$": "$.k"},
            "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}, "End": true}}}),
        json!({"items": ["a", "b"], "k": 7}),
        json!([{"i": 0, "v": "a", "k": 7}, {"i": 1, "v": "b", "k": 7}]),
    );
    succeeds(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}}),
        json!([]),
        json!([]),
    );
}

#[test]
fn map_tolerates_failures_up_to_the_threshold() {
    let def = |count: u64| {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ToleratedFailureCount": count, "End": true,
            "ItemProcessor": {"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "F"}], "Default": "P"},
                "F": {"Type": "Fail", "Error": "Zero", "Cause": "zero"},
                "P": {"Type": "Pass", "End": true}}}}}})
    };
    succeeds(
        def(1),
        json!([0, 1]),
        json!([{"Error": "Zero", "Cause": "zero"}, 1]),
    );
    fails(
        def(1),
        json!([0, 0, 1]),
        "States.ExceedToleratedFailureThreshold",
    );
}

#[test]
fn waits_advance_the_virtual_clock() {
    let r = run(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "Next": "T"},
            "T": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:00Z", "End": true}}}),
        json!({"s": 30}),
    );
    assert_eq!(r.status, Status::Succeeded);
    let exited: Vec<i64> = r
        .history
        .iter()
        .filter(|e| e.event.kind.as_str() == "WaitStateExited")
        .map(|e| e.event.timestamp)
        .collect();
    assert_eq!(exited, vec![1_030_000, 1_893_456_000_000]);
}

#[test]
fn machine_timeout_times_the_execution_out() {
    let r = run(
        json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}),
        json!({}),
    );
    assert_eq!(r.status, Status::TimedOut);
    assert_eq!(r.error.unwrap().error.as_deref(), Some("States.Timeout"));
}

#[test]
fn oversized_output_exceeds_the_data_limit() {
    let big = "x".repeat(300 * 1024);
    let r = fails(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}}),
        json!({}),
        "States.DataLimitExceeded",
    );
    assert!(r.error.unwrap().cause.unwrap().contains("'P'"));
}

#[test]
fn fail_state_reads_error_and_cause_from_paths() {
    let r = fails(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('n={}', $.n)"}}}),
        json!({"e": "Custom", "n": 3}),
        "Custom",
    );
    assert_eq!(r.error.unwrap().cause.as_deref(), Some("n=3"));
}

#[test]
fn history_numbers_events_and_names_entered_states() {
    let r = run(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}),
        json!({}),
    );
    let kinds: Vec<&str> = r.history.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(
        r.history.iter().map(|e| e.id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(r.states_entered(), ["A", "B"]);
}

#[test]
fn standard_executions_stop_at_25000_history_events_and_express_ones_do_not() {
    let def = json!({"StartAt": "Init", "States": {
        "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThan": 10000, "Next": "Inc"}], "Default": "Done"},
        "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
        "Done": {"Type": "Succeed"}}});
    let r = fails(def.clone(), json!({}), "States.Runtime");
    assert!(r.error.unwrap().cause.unwrap().contains("25000"));
    let machine = StateMachine::from_value(&def, Options { express: true }).unwrap();
    let exec = local_execution("m", "e", json!({}), 0, true);
    let r = block_on(
        Runner::new(
            &machine,
            exec,
            FnTasks(|c: &TaskCall| Ok(c.payload.clone())),
            RunnerOptions::default(),
        )
        .run(),
    );
    assert_eq!(r.output, Some(json!({"i": 10000})));
}

#[test]
fn a_callback_nobody_answers_ends_only_by_its_timers() {
    let ask = |extra: Value| {
        let mut state = json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody.$": "$$.Task.Token"}, "End": true});
        state
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"StartAt": "Ask", "States": {"Ask": state}})
    };
    // The request went out (the runner answered it); the token never comes
    // back, so its response is not the task's result.
    fails(
        ask(json!({"TimeoutSeconds": 30})),
        json!({}),
        "States.Timeout",
    );
    fails(
        ask(json!({"HeartbeatSeconds": 5})),
        json!({}),
        "States.Timeout",
    );
    let r = fails(ask(json!({})), json!({}), "States.Runtime");
    let cause = r.error.and_then(|e| e.cause).unwrap_or_default();
    assert!(cause.contains("SendTaskSuccess/SendTaskFailure"), "{cause}");
}

/// A Distributed Map whose child returns its batch as it got it.
fn batched(batcher: Value) -> Value {
    json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemBatcher": batcher,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}})
}

#[test]
fn item_batcher_limits_items_and_bytes_and_adds_batch_input() {
    let input = json!({"items": ["aaaa", "bbbb", "cccc", "dddd", "eeee"], "per": 2, "job": "j1"});
    // {"Items":["aaaa","bbbb"]} is 25 bytes; a third item would make it 32.
    succeeds(
        batched(json!({"MaxInputBytesPerBatch": 30})),
        input.clone(),
        json!([{"Items": ["aaaa", "bbbb"]}, {"Items": ["cccc", "dddd"]}, {"Items": ["eeee"]}]),
    );
    succeeds(
        batched(
            json!({"MaxItemsPerBatchPath": "$.per", "BatchInput": {"job.$": "$.job", "fixed": 1}}),
        ),
        input.clone(),
        json!([
            {"BatchInput": {"job": "j1", "fixed": 1}, "Items": ["aaaa", "bbbb"]},
            {"BatchInput": {"job": "j1", "fixed": 1}, "Items": ["cccc", "dddd"]},
            {"BatchInput": {"job": "j1", "fixed": 1}, "Items": ["eeee"]}]),
    );
    // No limit given: one batch, up to 256 KiB.
    succeeds(
        batched(json!({})),
        input.clone(),
        json!([{"Items": ["aaaa", "bbbb", "cccc", "dddd", "eeee"]}]),
    );
    // An item larger than a batch may be fails the state.
    let r = fails(
        batched(json!({"MaxInputBytesPerBatch": 15})),
        input.clone(),
        "States.Runtime",
    );
    let cause = r.error.and_then(|e| e.cause).unwrap_or_default();
    assert!(cause.contains("index 0"), "{cause}");
    fails(
        batched(json!({"MaxItemsPerBatchPath": "$.job"})),
        input,
        "States.Runtime",
    );
}

#[test]
fn item_batcher_takes_jsonata_limits_and_batch_input() {
    let def = json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
        "Items": "{% $states.input.items %}", "End": true,
        "ItemBatcher": {"MaxItemsPerBatch": "{% $states.input.per + 1 %}",
                        "BatchInput": {"job": "{% $states.input.job %}"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    succeeds(
        def,
        json!({"items": [1, 2, 3, 4], "per": 2, "job": "j"}),
        json!([{"BatchInput": {"job": "j"}, "Items": [1, 2, 3]}, {"BatchInput": {"job": "j"}, "Items": [4]}]),
    );
}

#[test]
fn an_item_batcher_with_bad_limits_is_an_invalid_definition() {
    for batcher in [
        json!({"MaxItemsPerBatch": 0}),
        json!({"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"}),
        json!({"MaxInputBytesPerBatch": 300000}),
        json!({"MaxItemsPerBatchPath": "not a path"}),
        json!({"Unknown": 1}),
    ] {
        let def = batched(batcher.clone());
        assert!(
            StateMachine::from_value(&def, Options::default()).is_err(),
            "{batcher}"
        );
    }
}

#[test]
fn the_context_object_is_written_in_awss_order() {
    // Its text (`States.JsonToString($$)`, a hash of it, `$states.context`
    // in an output) is what AWS writes: StateMachine before State, the
    // state's Name before its EnteredTime.
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "End": true,
        "Parameters": {"text.$": "States.JsonToString($$)"}}}});
    let r = run(def, json!({}));
    let text = r.output.unwrap()["text"].as_str().unwrap().to_owned();
    let at = |key: &str| text.find(key).unwrap_or_else(|| panic!("{key} in {text}"));
    assert!(at("\"Execution\"") < at("\"StateMachine\""), "{text}");
    assert!(at("\"StateMachine\"") < at("\"State\":"), "{text}");
    assert!(at("\"Name\":\"S\"") < at("\"EnteredTime\""), "{text}");
}

#[test]
fn a_retried_parallel_starts_again_after_its_failed_branch() {
    // Recorded on AWS (LocalStack's test_parallel_state_retry): each
    // retry's ParallelStateStarted follows the failed branch's last event,
    // as a retried Map's MapStateStarted follows its failed iteration's.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}],
        "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 2}]}}});
    let r = run(def, json!({}));
    let links: Vec<_> = (r.history.iter())
        .map(|e| (e.id, e.previous, e.event.kind.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            (1, 0, "ExecutionStarted"),
            (2, 0, "ParallelStateEntered"),
            (3, 2, "ParallelStateStarted"),
            (4, 3, "FailStateEntered"),
            (5, 4, "ParallelStateStarted"),
            (6, 5, "FailStateEntered"),
            (7, 6, "ParallelStateStarted"),
            (8, 7, "FailStateEntered"),
            (9, 8, "ParallelStateFailed"),
            (10, 9, "ExecutionFailed"),
        ]
    );
}

#[test]
fn a_task_result_over_the_payload_limit_fails_the_task_and_is_caught() {
    // Recorded on AWS (LocalStack's test_states_errors): TaskFailed (or
    // LambdaFunctionFailed) with States.DataLimitExceeded, naming the
    // integration's service or the function's ARN, then the state's Catch,
    // States.ALL included. We recorded the result and failed the execution.
    let big = json!({"blob": "x".repeat(257 * 1024)});
    for (resource, named) in [
        ("arn:aws:states:::lambda:invoke", "lambda"),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        ),
    ] {
        let def = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": resource, "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "End": true}}});
        let r = run_with(def, json!({}), |_| Ok(big.clone()));
        let cause = format!(
            "The state/task '{named}' returned a result with a size exceeding the maximum number of bytes service limit."
        );
        assert_eq!(
            r.output,
            Some(json!({"Error": "States.DataLimitExceeded", "Cause": cause}))
        );
        let kinds: Vec<_> = r.history.iter().map(|e| e.event.kind.as_str()).collect();
        assert!(
            kinds.contains(&"TaskFailed") || kinds.contains(&"LambdaFunctionFailed"),
            "{kinds:?}"
        );
    }
}

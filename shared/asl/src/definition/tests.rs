use super::*;

fn problems(def: &str) -> Vec<String> {
    match StateMachine::parse(def, Options::default()) {
        Ok(_) => Vec::new(),
        Err(Invalid(ps)) => ps.iter().map(ToString::to_string).collect(),
    }
}

fn valid(def: &str) {
    assert_eq!(problems(def), Vec::<String>::new(), "{def}");
}

fn invalid(def: &str, expected: &str) {
    let ps = problems(def);
    assert!(
        ps.iter().any(|p| p.contains(expected)),
        "expected {expected:?} in {ps:#?}"
    );
}

#[test]
fn accepts_every_state_type() {
    valid(
        r#"{"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Result": 1, "ResultPath": "$.x", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "W"}], "Default": "F"},
            "W": {"Type": "Wait", "Seconds": 1, "Next": "T"},
            "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                  "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}], "Next": "Par"},
            "Par": {"Type": "Parallel", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}], "Next": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                  "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}, "Next": "S"},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E", "Cause": "c"}
        }}"#,
    );
}

#[test]
fn lists_every_problem_with_its_pointer() {
    let ps = problems(
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nope", "Bogus": 1},
            "B": {"Type": "Pass", "End": true},
            "C": {"Type": "Wait", "Timestamp": "2016-13-05T21:29:29Z", "End": true}
        }}"#,
    );
    assert!(
        ps.iter()
            .any(|p| p.contains("'Bogus' is not supported") && p.contains("at /States/A/Bogus")),
        "{ps:#?}"
    );
    assert!(
        ps.iter()
            .any(|p| p.contains("String does not match RFC3339 timestamp at /States/C/Timestamp")),
        "{ps:#?}"
    );
}

#[test]
fn reports_dangling_targets_and_unreachable_states() {
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}, "B": {"Type": "Pass", "End": true}}}"#,
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/A/Next",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}}"#,
        "MISSING_TRANSITION_TARGET: State \"B\" is not reachable. at /States/B",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}}"#,
        "MISSING_END_STATE: Workflow has no terminal state",
    );
}

#[test]
fn rejects_bad_fields() {
    invalid(
        r#"{"StartAt": "A"}"#,
        "These fields are required: [States] at /",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#,
        "either a 'Next' field or 'End'",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Nope", "End": true}}}"#,
        "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": true}}}"#,
        "reference path",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "InputPath": "foo", "End": true}}}"#,
        "valid JSONPath",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "States.Nope()"}, "End": true}}}"#,
        "not supported",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query", "End": true}}}"#,
        "arn:aws:states:::dynamodb:query is not recognized",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed", "Next": "A"}}}"#,
        "'Next' is not supported by this state type",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [{"ErrorEquals": ["States.ALL", "X"]}], "End": true}}}"#,
        "States.ALL must appear alone",
    );
    invalid(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals": 1, "Next": "A"}]}}}"#,
        "not of the type",
    );
}

#[test]
fn express_machines_refuse_callbacks() {
    let def = r#"{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": true}}}"#;
    assert!(StateMachine::parse(def, Options::default()).is_ok());
    let err = StateMachine::parse(def, Options { express: true }).unwrap_err();
    assert!(
        err.to_string()
            .contains("Express state machine does not support '.waitForTaskToken'")
    );
}

#[test]
fn invalid_definition_message_reads_as_aws() {
    let err = StateMachine::parse(r#"{"StartAt": "A"}"#, Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'"
    );
}

#[test]
fn never_panics_on_odd_json() {
    for def in [
        "null",
        "[]",
        "1",
        "{\"States\": []}",
        "{\"StartAt\": 1, \"States\": {\"A\": 1}}",
        "{",
        "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Map\"}}}",
    ] {
        let _ = StateMachine::parse(def, Options::default());
    }
}

#[test]
fn accepts_a_dot_before_a_bracket_wherever_a_path_goes() {
    valid(
        r#"{"StartAt": "P", "States": {
            "P": {"Type": "Pass", "InputPath": "$.[0]", "Parameters": {"b.$": "$.Snapshots.[0].State", "k.$": "$.[*].['bucket', 'key']"},
                  "ResultPath": "$.out.[0]", "OutputPath": "$.[?(@.OU > 0)]", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.a.[0]", "IsPresent": true, "Next": "M"}], "Default": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.items.[0]", "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}, "End": true}
        }}"#,
    );
}

#[test]
fn refuses_an_escaped_double_quote_in_an_intrinsic_literal() {
    invalid(
        r#"{"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true, "Parameters": {
            "parsed.$": "States.StringToJson('{\"text\":\"An \\\"escaped double quote\\\" here\"}')"}}}}"#,
        "SCHEMA_VALIDATION_FAILED: The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic function call: the string literal escapes '\"'",
    );
    invalid(
        r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "CausePath": "States.Format('\\\"{}\\\"', 'x')"}}}"#,
        "SCHEMA_VALIDATION_FAILED: the string literal escapes '\"' at position 15",
    );
    // `\n` is no escape of an intrinsic literal either: AWS refused a
    // deployment with one ('must be a valid JSONPath or a valid intrinsic
    // function call'), and took it once the `\n` was gone.
    invalid(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
            "Message.$": "States.Format('Pipeline failed.\\nError: {}', $.error)"}}}}"#,
        "SCHEMA_VALIDATION_FAILED: The value for the field 'Message.$' must be a valid JSONPath or a valid intrinsic function call: the string literal escapes 'n'",
    );
}

#[test]
fn an_invalid_path_field_is_named_in_its_message() {
    let p = problems(
        r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$[?(@.a == Failure)]", "End": true}}}"#,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath"
        ),
        "{p:?}"
    );
}

#[test]
fn the_agentcore_harness_integration_is_request_response_alone() {
    // A published sample (sales-analysis-bedrock-agentcore) we refused.
    let task = |resource: &str| {
        format!(
            r#"{{"StartAt": "A", "States": {{"A": {{"Type": "Task", "Resource": "{resource}", "End": true}}}}}}"#
        )
    };
    valid(&task("arn:aws:states:::bedrockagentcore:invokeHarness"));
    invalid(
        &task("arn:aws:states:::bedrockagentcore:invokeHarness.sync"),
        "is not recognized",
    );
}

#[test]
fn a_choice_rule_with_a_bad_path_is_reported_once_and_names_its_field() {
    // A published sample: we also said the rule's Next was not reachable,
    // and did not name the field.
    let def = r#"{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.flag.Payload.", "StringEquals": "proceed", "Next": "Go"}], "Default": "Done"},
        "Go": {"Type": "Pass", "End": true}, "Done": {"Type": "Succeed"}}}"#;
    assert_eq!(
        problems(def),
        vec![
            "SCHEMA_VALIDATION_FAILED: The value for the field 'Variable' must be a valid JSONPath: \
             expected a property name at position 15 of '$.flag.Payload.' at /States/C/Choices[0]/Variable"
        ]
    );
}

#[test]
fn state_names_are_unique_in_the_whole_machine() {
    // The ASL spec says so, and AWS refuses a duplicate in a branch or an
    // item processor too (DUPLICATE_STATE_NAME); we took them.
    let pass = r#"{"Type": "Pass", "End": true}"#;
    invalid(
        &format!(
            r#"{{"StartAt": "P", "States": {{"P": {{"Type": "Parallel", "End": true, "Branches": [
                {{"StartAt": "A", "States": {{"A": {pass}}}}}, {{"StartAt": "A", "States": {{"A": {pass}}}}}]}}}}}}"#
        ),
        "DUPLICATE_STATE_NAME: Duplicate State name: 'A' at /States/P/Branches[1]/States/A",
    );
    invalid(
        &format!(
            r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "Next": "A",
                "ItemProcessor": {{"StartAt": "A", "States": {{"A": {pass}}}}}}}, "A": {pass}}}}}"#
        ),
        "DUPLICATE_STATE_NAME: Duplicate State name: 'A' at /States/A",
    );
}

#[test]
fn an_item_readers_max_items_is_given_once_and_within_awss_bound() {
    // As measured on AWS (floci's issue 3733); we took both.
    let map = |config: &str| {
        format!(
            r#"{{"StartAt": "M", "States": {{"M": {{"Type": "Map", "End": true,
                "ItemReader": {{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {config},
                    "Parameters": {{"Bucket": "b", "Key": "k"}}}},
                "ItemProcessor": {{"ProcessorConfig": {{"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}},
                    "StartAt": "P", "States": {{"P": {{"Type": "Pass", "End": true}}}}}}}}}}}}"#
        )
    };
    invalid(
        &map(r#"{"InputType": "JSON", "MaxItems": 5, "MaxItemsPath": "$.n"}"#),
        "There should only be one of the following fields: [MaxItems, MaxItemsPath] at /States/M/ItemReader/ReaderConfig",
    );
    invalid(
        &map(r#"{"InputType": "JSON", "MaxItems": 100000001}"#),
        "ReaderConfig.MaxItems has Maximum value is 100000000",
    );
    valid(&map(r#"{"InputType": "JSON", "MaxItems": 100000000}"#));
}

#[test]
fn fields_that_exclude_each_other_are_refused_once_in_awss_words() {
    // AWS's schema validator words each such pair alike (recorded for an
    // ItemReader's MaxItems); we had words of our own for each, and both of
    // a Map's MaxConcurrency fields also read as an unsupported field.
    let only = |state: &str, fields: &str| {
        let def = format!(r#"{{"StartAt": "A", "States": {{"A": {state}}}}}"#);
        let expected = format!(
            "SCHEMA_VALIDATION_FAILED: There should only be one of the following fields: [{fields}] at /States/A"
        );
        assert_eq!(problems(&def), vec![expected], "{state}");
    };
    only(r#"{"Type": "Pass", "Next": "A", "End": true}"#, "Next, End");
    only(
        r#"{"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "End": true}"#,
        "SecondsPath, Seconds, TimestampPath, Timestamp",
    );
    only(
        r#"{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t", "End": true}"#,
        "TimeoutSeconds, TimeoutSecondsPath",
    );
    only(
        r#"{"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}"#,
        "Error, ErrorPath",
    );
    only(
        r#"{"Type": "Map", "MaxConcurrency": 2, "MaxConcurrencyPath": "$.n", "End": true,
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}"#,
        "MaxConcurrency, MaxConcurrencyPath",
    );
}

#[test]
fn a_map_with_both_item_selector_and_parameters_is_one_problem() {
    // We also called both fields unsupported.
    let def = r#"{"StartAt": "M", "States": {"M": {"Type": "Map",
        "Parameters": {"a.$": "$.b"}, "ItemSelector": {"a.$": "$.b"},
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}},
        "End": true}}}"#;
    assert_eq!(
        problems(def),
        vec![
            "SCHEMA_VALIDATION_FAILED: A Map state cannot have both 'ItemSelector' and 'Parameters' at /States/M"
        ]
    );
}

#[test]
fn an_unknown_resource_does_not_hide_the_tasks_other_problems() {
    let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "foo:bar",
        "Credentials": {}, "End": true}}}"#;
    let p = problems(def);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].contains("foo:bar is not recognized"), "{p:?}");
    assert!(p[1].contains("'RoleArn' is required"), "{p:?}");
}

//! The first twelve definitions are AWS recordings (the
//! `sfn_api_variable_references` API cases) with AWS's answers; the rest
//! pin down what the recordings do not show.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::variable_references;

fn refs(definition: &str, expected: Value) {
    assert_eq!(variable_references(definition), expected, "{definition}");
}

fn ata(expression: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    super::jsonata::free_variables(expression, &BTreeSet::new(), &mut out);
    out.into_iter().collect()
}

#[test]
fn input_and_output_paths_read_variables() {
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Result": {"theQuestion": "?"},
                       "Assign": {"question.$": "$.theQuestion", "answer": 42}, "Next": "State1"},
            "State1": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer",
                       "OutputPath": "$answer", "Assign": {"answer": "<omitted>"}, "End": true}}}"#,
        json!({"State1": ["answer"]}),
    );
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Result": {"answer": 42}, "Assign": {"theAnswer.$": "$.answer"}, "Next": "State1"},
            "State1": {"Type": "Pass", "OutputPath": "$theAnswer", "End": true}}}"#,
        json!({"State1": ["theAnswer"]}),
    );
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"theAnswer": 42}, "Next": "State1"},
            "State1": {"Type": "Pass", "InputPath": "$theAnswer", "End": true}}}"#,
        json!({"State1": ["theAnswer"]}),
    );
}

#[test]
fn only_dollar_keys_of_templates_read_variables() {
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Parameters": {"result": "$result"}, "Assign": {"result": "foobar"}, "Next": "State1"},
            "State1": {"Type": "Pass", "ResultPath": "$.result", "Parameters": {"result.$": "$result"}, "End": true}}}"#,
        json!({"State1": ["result"]}),
    );
    refs(
        r#"{"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"bucket": "test-name"}, "Result": {"Values": [1, 2, 3]}, "Next": "MapState"},
            "MapState": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$.Values",
              "ItemSelector": {"value.$": "$$.Map.Item.Value", "bucketName": "$bucket"},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "MapPass", "States": {"MapPass": {"Type": "Pass", "End": true}}}, "End": true}}}"#,
        json!({}),
    );
}

#[test]
fn intrinsic_arguments_read_variables() {
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"rawString": "Hello World", "value1": 5, "value2": 3,
                       "json1": {"a": 1}, "json2": {"c": 3}, "name": "John", "place": "LocalStack",
                       "csvString": "a,b", "inputString": "x", "encodedString": "SGk=",
                       "jsonString": "{}", "jsonObject": {}}, "Next": "State1"},
            "State1": {"Type": "Pass", "Parameters": {
              "encodingOps": {"encoded.$": "States.Base64Encode($rawString)", "decoded.$": "States.Base64Decode($encodedString)"},
              "hashOps": {"hashValue.$": "States.Hash($inputString, 'SHA-256')"},
              "jsonOps": {"mergedJson.$": "States.JsonMerge($json1, $json2, false)",
                          "parsedJson.$": "States.StringToJson($jsonString)",
                          "stringifiedJson.$": "States.JsonToString($jsonObject)"},
              "mathOps": {"sum.$": "States.MathAdd($value1, $value2)"},
              "stringOps": {"splitString.$": "States.StringSplit($csvString, ',')",
                            "formattedString.$": "States.Format('Hello {}, welcome to {}!', $name, $place)"},
              "uuidOp": {"uniqueId.$": "States.UUID()"}}, "End": true}}}"#,
        json!({"State1": ["csvString", "encodedString", "inputString", "json1", "json2",
                          "jsonObject", "jsonString", "name", "place", "rawString", "value1", "value2"]}),
    );
}

#[test]
fn nested_states_are_keyed_by_their_own_names() {
    refs(
        r#"{"StartAt": "Input", "States": {
            "Input": {"Type": "Pass", "Result": [[9, 44, 6]], "Assign": {"bias": 4.3}, "Next": "IterateLevels"},
            "IterateLevels": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {
              "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "AssignCurrentVector", "States": {
                "AssignCurrentVector": {"Type": "Pass", "Assign": {"xCurrent.$": "$[0]", "yCurrent.$": "$[1]", "zCurrent.$": "$[2]"}, "Next": "Calculate"},
                "Calculate": {"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {
                  "ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Summate", "States": {
                    "Summate": {"Type": "Pass", "Assign": {"Sum.$": "States.MathAdd(States.MathAdd(States.MathAdd($yCurrent, $xCurrent), $zCurrent), $bias)"}, "End": true}}},
                  "End": true}}}, "End": true}}}"#,
        json!({"Summate": ["bias", "xCurrent", "yCurrent", "zCurrent"]}),
    );
}

#[test]
fn choice_wait_and_fail_paths_read_variables() {
    refs(
        r#"{"StartAt": "Setup", "States": {
            "Setup": {"Type": "Pass", "Assign": {"guess": "the_guess", "answer": "the_answer"}, "Next": "CheckAnswer"},
            "CheckAnswer": {"Type": "Choice", "Choices": [{"Variable": "$guess", "StringEqualsPath": "$answer", "Next": "CorrectAnswer"}], "Default": "WrongAnswer"},
            "CorrectAnswer": {"Type": "Pass", "Result": {"state": "CORRECT"}, "End": true},
            "WrongAnswer": {"Type": "Pass", "Assign": {"guess.$": "$answer"}, "Result": {"state": "WRONG"}, "Next": "CheckAnswer"}}}"#,
        json!({"CheckAnswer": ["answer", "guess"], "WrongAnswer": ["answer"]}),
    );
    refs(
        r#"{"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"waitTime": 0, "startAt": "2024-11-06T09:42:03Z"}, "Next": "WaitSecondsState"},
            "WaitSecondsState": {"Type": "Wait", "SecondsPath": "$waitTime", "Next": "WaitUntilState"},
            "WaitUntilState": {"Type": "Wait", "TimestampPath": "$startAt", "End": true}}}"#,
        json!({"WaitSecondsState": ["waitTime"], "WaitUntilState": ["startAt"]}),
    );
    refs(
        r#"{"StartAt": "Pass", "States": {
            "Pass": {"Type": "Pass", "Assign": {"errorVar": "Exception", "causeVar": "An Exception"}, "Next": "Fail"},
            "Fail": {"Type": "Fail", "CausePath": "$causeVar", "ErrorPath": "$errorVar"}}}"#,
        json!({"Fail": ["causeVar", "errorVar"]}),
    );
}

#[test]
fn map_configuration_paths_read_variables() {
    refs(
        r#"{"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"maxItems": "2"}, "Next": "MapState"},
            "MapState": {"Type": "Map", "MaxConcurrency": 1,
              "ItemReader": {"ReaderConfig": {"InputType": "JSON", "MaxItemsPath": "$maxItems"},
                             "Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key"}},
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "PassItem", "States": {"PassItem": {"Type": "Pass", "End": true}}}, "End": true}}}"#,
        json!({"MapState": ["maxItems"]}),
    );
    refs(
        r#"{"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"toleratedFailurePercentage": "1", "toleratedFailureCount": "1"}, "Next": "MapState"},
            "MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrency": 1,
              "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "HandleItem", "States": {"HandleItem": {"Type": "Pass", "End": true}}},
              "ToleratedFailurePercentagePath": "$toleratedFailurePercentage",
              "ToleratedFailureCountPath": "$toleratedFailureCount", "End": true}}}"#,
        json!({"MapState": ["toleratedFailureCount", "toleratedFailurePercentage"]}),
    );
}

#[test]
fn no_variables_is_an_empty_object() {
    refs(
        r#"{"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Parameters": {"input": "PENDING"}, "Assign": {"result.$": "$.input"}, "Next": "State1"},
            "State1": {"Type": "Pass", "Assign": {"result": "SUCCESS", "originalResult.$": "$.input"}, "End": true}}}"#,
        json!({}),
    );
    refs(
        r#"{"StartAt": "CheckResult", "States": {
            "CheckResult": {"Type": "Choice", "QueryLanguage": "JSONata", "Choices": [
              {"Condition": "{% $states.input.result.done %}", "Next": "FinishTrue"},
              {"Condition": "{% $not($states.input.result.done) %}", "Next": "FinishFalse"}]},
            "FinishTrue": {"End": true, "Type": "Pass"}, "FinishFalse": {"End": true, "Type": "Pass"}}}"#,
        json!({}),
    );
}

#[test]
fn invalid_json_is_an_empty_object() {
    refs(r#"{"StartAt": "A", "States": {"#, json!({}));
    refs("[1, 2]", json!({}));
    refs("", json!({}));
}

#[test]
fn jsonata_fields_read_free_variables() {
    refs(
        r#"{"QueryLanguage": "JSONata", "StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Arguments": {"n": "{% $count + 1 %}", "s": "$notAnExpression"},
                  "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": "{% $inBranch %}", "End": true}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"e": "{% $errors %}"}, "Next": "F"}],
                  "Assign": {"count": 0}, "Next": "F"},
            "F": {"Type": "Fail", "Error": "{% $uppercase($code) %}", "Cause": "{% $string($total) %}"}}}"#,
        json!({"P": ["count", "errors"], "B": ["inBranch"], "F": ["code", "total"]}),
    );
}

#[test]
fn nested_states_default_to_the_machine_language() {
    refs(
        r#"{"StartAt": "M", "States": {
            "M": {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% $items %}", "ItemProcessor": {
              "StartAt": "In", "States": {"In": {"Type": "Pass", "InputPath": "$v", "Output": "{% $w %}", "End": true}}},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "E"}], "End": true},
            "E": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{} $no', $yes)"}, "End": true}}}"#,
        json!({"M": ["items"], "In": ["v"], "E": ["yes"]}),
    );
}

#[test]
fn jsonata_locals_and_builtins_are_not_variables() {
    assert_eq!(ata("$states.input.x + $y"), ["y"]);
    assert_eq!(ata("($x := 5; $x * $k)"), ["k"]);
    assert_eq!(ata("($x := $x + 1; $x)"), ["x"]);
    assert_eq!(
        ata("$map($arr, function($v, $i) { $v * $i * $f })"),
        ["arr", "f"]
    );
    assert_eq!(
        ata("($fact := function($n) { $n <= 1 ? 1 : $n * $fact($n - 1) }; $fact($m))"),
        ["m"]
    );
    assert_eq!(ata("λ($a)<n:n>{ $a + $b }"), ["b"]);
    assert_eq!(ata("items@$it#$pos[$pos > $low].$it"), ["low"]);
    assert_eq!(
        ata("'$quoted' & \"$too\" & `$field` & $real /* $comment */"),
        ["real"]
    );
    assert_eq!(ata("$match($s, /a$b/) ~> $count"), ["s"]);
    assert_eq!(ata("$$.a + $.b + $"), Vec::<String>::new());
    assert_eq!(ata("$x / 2 + $y / 3"), ["x", "y"]);
}

#[test]
fn an_assigned_name_shadows_a_builtin() {
    refs(
        r#"{"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"count": "{% $count + $sum([1]) %}"}, "End": true}}}"#,
        json!({"A": ["count"]}),
    );
}

#[test]
fn never_panics_on_truncated_or_odd_text() {
    let texts = [
        r#"{"StartAt":"é","States":{"é":{"Type":"Pass","Parameters":{"a.$":"States.Format('\u00e9{}', $ü"#,
        r#"{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Output":"{% function($a)<n-:n"#,
        "{% ($x := /[/ ; 'unterminated \\ %}",
        "$\u{a0}x λ( $\u{1F600} /* never closed",
        "States.Format('\\', $x",
    ];
    for text in texts {
        for (end, _) in text.char_indices() {
            let prefix = &text[..end];
            variable_references(prefix);
            ata(prefix);
            super::path_text(prefix, &mut BTreeSet::new());
        }
    }
}

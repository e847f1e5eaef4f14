//! The fuzz targets: each takes one input and must return, never panic.
//! Definitions that validate also run, in memory, so that evaluation is
//! fuzzed as well as parsing.

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::api::{ApiError, Reply, Service};
use stepwise_engine::catalog::{self, MemoryCatalog, Scope};
use stepwise_engine::memory::local_execution;
use stepwise_engine::tasks::FnTasks;
use stepwise_engine::{Runner, RunnerOptions, block_on};

pub struct Target {
    pub name: &'static str,
    pub run: fn(&str),
    pub seeds: fn() -> Vec<String>,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "definition",
        run: definition,
        seeds: definition_seeds,
    },
    Target {
        name: "jsonpath",
        run: jsonpath,
        seeds: jsonpath_seeds,
    },
    Target {
        name: "intrinsic",
        run: intrinsic,
        seeds: intrinsic_seeds,
    },
    Target {
        name: "jsonata",
        run: jsonata,
        seeds: jsonata_seeds,
    },
    Target {
        name: "template",
        run: template,
        seeds: template_seeds,
    },
    Target {
        name: "api",
        run: api,
        seeds: api_seeds,
    },
    Target {
        name: "items",
        run: items,
        seeds: items_seeds,
    },
];

/// An S3 object an ItemReader reads, as each text InputType and setting:
/// a hostile object fails its read, never the process.
fn items(input: &str) {
    let configs = [
        json!({"InputType": "JSON"}),
        json!({"InputType": "JSON", "ItemsPointer": "/a/0"}),
        json!({"InputType": "JSONL"}),
        json!({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}),
        json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"],
               "CSVDelimiter": "SEMICOLON"}),
    ];
    for config in &configs {
        let _ = stepwise_engine::items::parse(input, config, 3);
    }
}

fn items_seeds() -> Vec<String> {
    strings(&[
        r#"{"a": [[1, 2], {"b": 3}]}"#,
        "{\"n\": 1}\n\n{\"n\": 2}\n",
        "h1,h2\n1,\"two, 2\"\n,,,\n   \n\"open",
        "a;b\r\n1;2;3\r\n\"x\"\"y\";",
    ])
}

const INPUT: &str =
    r#"{"a": 1, "b": [1, 2, {"c": "d"}], "x": "text", "n": null, "items": [1, 2, 3]}"#;

/// Parses `text`; a valid machine then runs (Standard: its 25,000-event
/// limit bounds a machine that loops).
fn run_definition(text: &str) {
    let Ok(machine) = StateMachine::parse(text, Options { express: false }) else {
        return;
    };
    let input: Value = serde_json::from_str(INPUT).unwrap_or(Value::Null);
    let exec = local_execution("fuzz", "fuzz", input, 0, false);
    let options = RunnerOptions {
        fast_forward: true,
        seed: 7,
        history: true,
    };
    let tasks = FnTasks(|c: &TaskCall| Ok(c.payload.clone()));
    let _ = block_on(Runner::new(&machine, exec, tasks, options).run());
}

fn pass_with(fields: Value) -> String {
    let mut state = json!({"Type": "Pass", "End": true});
    if let (Some(s), Some(f)) = (state.as_object_mut(), fields.as_object()) {
        s.extend(f.clone());
    }
    json!({"StartAt": "P", "States": {"P": state}}).to_string()
}

fn definition(input: &str) {
    run_definition(input);
    let _ = stepwise_asl::variable_references(input);
}

fn jsonpath(input: &str) {
    run_definition(&pass_with(json!({"InputPath": input})));
    run_definition(&pass_with(
        json!({"Parameters": {"v.$": input}, "ResultPath": input}),
    ));
}

fn intrinsic(input: &str) {
    run_definition(&pass_with(json!({"Parameters": {"v.$": input}})));
}

fn jsonata(input: &str) {
    let text = json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": format!("{{% {input} %}}"), "End": true}}})
    .to_string();
    run_definition(&text);
}

fn template(input: &str) {
    let parameters = serde_json::from_str::<Value>(input).unwrap_or(Value::String(input.into()));
    run_definition(&pass_with(json!({"Parameters": parameters})));
}

/// The API as a backend sees it: the wire decoder, the member checks, the
/// catalog actions and TestState, on an in-memory catalog.
struct Api(MemoryCatalog);

impl Service for Api {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(async move {
            if action == "TestState" {
                let tasks = FnTasks(|c: &TaskCall| Ok(c.payload.clone()));
                return stepwise_engine::console::test_state(&body, tasks).await;
            }
            match catalog::call(&self.0, &Scope::default(), action, &body).await {
                Some(r) => r,
                None => Err(ApiError::unknown_operation(action.to_owned())),
            }
        })
    }
}

/// `<Action>\n<body>`.
fn api(input: &str) {
    let (action, body) = input
        .split_once('\n')
        .unwrap_or(("ListStateMachines", input));
    let service = Api(MemoryCatalog::default());
    let target = format!("AWSStepFunctions.{action}");
    let _ = block_on(stepwise_api::handle(
        &service,
        None,
        Some(&target),
        body.as_bytes(),
    ));
}

fn corpus_definitions() -> Vec<String> {
    let root = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/conformance/cases"
    );
    let mut out = Vec::new();
    for theme in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for case in std::fs::read_dir(theme.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(t) = std::fs::read_to_string(case.path().join("definition.json")) {
                out.push(t);
            }
        }
    }
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    for e in std::fs::read_dir(examples).into_iter().flatten().flatten() {
        if e.path().extension().is_some_and(|x| x == "json")
            && let Ok(t) = std::fs::read_to_string(e.path())
        {
            out.push(t);
        }
    }
    out
}

fn definition_seeds() -> Vec<String> {
    let mut v = corpus_definitions();
    v.push(pass_with(json!({})));
    v
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn jsonpath_seeds() -> Vec<String> {
    strings(&[
        "$",
        "$.a",
        "$.b[0]",
        "$.b[-1:]",
        "$.b[*].c",
        "$..c",
        "$['a','x']",
        "$.b[?(@.c == 'd')]",
        "$.b.length()",
        "$$.Execution.Id",
        "$.[0].body",
        "$['a\\\"b']",
        "$.b[0:2:1]",
        "$.b[?(@.c =~ /d.*/i)]",
        "$.b[?(@.c in ['d', 1, .5] && @.e nin [true])]",
        "$.b[?(@.c subsetof ['x'] || @.c anyof [1] || @.c noneof [2])]",
        "$.b[?(@.c size 2 && @.c empty false && @.c contains 'd')]",
    ])
}

fn intrinsic_seeds() -> Vec<String> {
    strings(&[
        "States.Format('{} and {}', $.a, $.x)",
        "States.JsonToString($.b)",
        "States.StringToJson('{\"k\": 1}')",
        "States.Array($.a, $.x, States.ArrayLength($.b))",
        "States.ArrayRange(1, 9, 2)",
        "States.ArrayPartition($.items, 2)",
        "States.ArrayGetItem($.items, 1)",
        "States.ArrayUnique($.items)",
        "States.Base64Encode($.x)",
        "States.Hash($.x, 'SHA-256')",
        "States.JsonMerge($, $, false)",
        "States.MathRandom(1, 10.5)",
        "States.MathAdd($.a, 2)",
        "States.StringSplit('a,b', ',')",
        "States.UUID()",
    ])
}

fn jsonata_seeds() -> Vec<String> {
    strings(&[
        "$states.input.a + 1",
        "$states.input.b[0]",
        "$sum($states.input.items)",
        "$map($states.input.items, function($v){$v * 2})",
        "$pad('x', 5, '-')",
        "$join(['a','b'], ',')",
        "$string($states.input)",
        "($x := 3; $x * $x)",
        "[1..5]",
        "$formatNumber(1234.5, '#,##0.00')",
        "$fromMillis(0)",
        "$states.input.items[$ > 1]",
        "{'k': $states.input.x}",
        "$split('a-b-c', '-')",
        "$reduce([1,2,3], function($a, $b){$a + $b})",
        "$parse('{\"a\": 1}')",
    ])
}

fn template_seeds() -> Vec<String> {
    strings(&[
        r#"{"a.$": "$.a", "const": [1, {"b": 2}], "nested": {"x.$": "$.x"}}"#,
        r#"{"f.$": "States.Format('{}', $.a)", "ctx.$": "$$.Execution.Name"}"#,
        r#"{"deep": {"deeper": {"deepest.$": "$.b[0]"}}}"#,
    ])
}

fn api_seeds() -> Vec<String> {
    let def = pass_with(json!({}));
    let role = "arn:aws:iam::123456789012:role/r";
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
    vec![
        format!(
            "CreateStateMachine\n{}",
            json!({"name": "m", "definition": def, "roleArn": role, "publish": true, "tags": [{"key": "k", "value": "v"}]})
        ),
        format!(
            "UpdateStateMachine\n{}",
            json!({"stateMachineArn": machine, "definition": def, "publish": true, "versionDescription": "d"})
        ),
        format!(
            "CreateStateMachineAlias\n{}",
            json!({"name": "live", "routingConfiguration": [{"stateMachineVersionArn": format!("{machine}:1"), "weight": 100}]})
        ),
        format!(
            "ListStateMachineVersions\n{}",
            json!({"stateMachineArn": machine, "maxResults": 2, "nextToken": "x"})
        ),
        format!(
            "TagResource\n{}",
            json!({"resourceArn": machine, "tags": [{"key": "a", "value": "b"}]})
        ),
        format!(
            "ValidateStateMachineDefinition\n{}",
            json!({"definition": def, "type": "EXPRESS"})
        ),
        format!(
            "TestState\n{}",
            json!({"definition": json!({"Type": "Pass", "Parameters": {"v.$": "$.a"}, "End": true}).to_string(), "roleArn": role, "input": INPUT})
        ),
        format!(
            "TestState\n{}",
            json!({"definition": json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "End": true}).to_string(), "mock": {"result": "{\"ok\": 1}"}, "variables": "{\"x\": 1}"})
        ),
        format!(
            "TestState\n{}",
            json!({"definition": json!({"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessageBatch", "End": true}).to_string(),
                   "mock": {"result": "{\"Successful\": [{\"Id\": \"1\", \"MessageId\": \"m\", \"MD5OfMessageBody\": \"x\"}], \"Failed\": []}", "fieldValidationMode": "STRICT"},
                   "inspectionLevel": "TRACE", "context": "{\"Execution\": {\"Id\": \"x\"}, \"State\": {\"RetryCount\": 1}}"})
        ),
        format!(
            "TestState\n{}",
            json!({"definition": json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "ToleratedFailureCount": 1,
                        "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}], "End": true}}}, "End": true}}}).to_string(),
                   "stateName": "T", "mock": {"errorOutput": {"error": "E", "cause": "c"}}, "input": "{\"items\": [1, 2]}",
                   "stateConfiguration": {"retrierRetryCount": 1, "errorCausedByState": "T", "mapIterationFailureCount": 1}, "inspectionLevel": "DEBUG"})
        ),
        format!("CreateActivity\n{}", json!({"name": "a", "tags": []})),
    ]
}

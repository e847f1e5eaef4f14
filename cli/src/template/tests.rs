use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

use super::{Context, Error, Machine, PLACEHOLDER_ROLE, parse, select};

/// The machines of `template` (at `app/template.yaml`), reading definition
/// files from `files` (paths relative to `app/`).
fn machines_with(
    template: &str,
    files: &[(&str, &str)],
    overrides: &[(&str, &str)],
) -> Result<Vec<Machine>, Error> {
    let files: HashMap<_, _> = files
        .iter()
        .map(|(p, text)| (Path::new("app").join(p), text.to_string()))
        .collect();
    let overrides: Vec<_> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cx = Context {
        file: Path::new("app/template.yaml"),
        overrides: &overrides,
        region: "eu-west-1",
        account: "111122223333",
    };
    let read = |p: &Path| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    };
    parse(template, &cx, &read).map(|t| t.machines)
}

fn machines(template: &str) -> Vec<Machine> {
    machines_with(template, &[], &[]).unwrap()
}

fn fails(template: &str, message: &str) {
    let e = machines_with(template, &[], &[]).unwrap_err();
    assert_eq!(e.to_string(), message);
}

/// The definition of the only machine, parsed.
fn definition(template: &str) -> Value {
    let m = machines(template);
    serde_json::from_str(&m[0].definition).unwrap()
}

/// A template whose machine passes `value` as the result of a Pass state
/// (through a substitution), next to a function, a table, a queue, a topic
/// and a bucket.
fn substituted(value: &str) -> String {
    let d = definition(&format!(
        r#"
Parameters:
  Stage: {{Type: String, Default: dev}}
  Sizes: {{Type: CommaDelimitedList, Default: "s,m,l"}}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {{FunctionName: !Sub "orders-${{Stage}}", Handler: x, Runtime: python3.12}}
  Table: {{Type: AWS::DynamoDB::Table}}
  Queue: {{Type: AWS::SQS::Queue, Properties: {{QueueName: jobs}}}}
  Topic: {{Type: AWS::SNS::Topic}}
  Bucket: {{Type: AWS::S3::Bucket, Properties: {{BucketName: my-bucket}}}}
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: P
        States: {{P: {{Type: Pass, Result: "${{V}}", End: true}}}}
      DefinitionSubstitutions:
        V: {value}
"#
    ));
    d["States"]["P"]["Result"].as_str().unwrap().to_owned()
}

#[test]
fn definition_uri_with_substitutions() {
    let template = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/orders.asl.json
      DefinitionSubstitutions:
        TableName: !Ref OrdersTable
        Count: 3
      Type: EXPRESS
  OrdersTable:
    Type: AWS::Serverless::SimpleTable
"#;
    let asl = r#"{"StartAt": "Put", "States": {"Put": {"Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": "${TableName}", "N": "${Count}", "Other": "${Unknown}"},
        "End": true}}}"#;
    let m = machines_with(template, &[("statemachine/orders.asl.json", asl)], &[]).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].name.as_str(), m[0].express), ("Orders", true));
    assert_eq!(m[0].role, PLACEHOLDER_ROLE);
    let d: Value = serde_json::from_str(&m[0].definition).unwrap();
    assert_eq!(
        d["States"]["Put"]["Parameters"],
        json!({"TableName": "OrdersTable", "N": "3", "Other": "${Unknown}"})
    );
}

#[test]
fn definition_uri_in_yaml() {
    let template = "Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n    \
                    Properties: {DefinitionUri: m.asl.yaml}\n";
    let asl = "StartAt: A\nStates:\n  A: {Type: Succeed}\n";
    let m = machines_with(template, &[("m.asl.yaml", asl)], &[]).unwrap();
    assert_eq!(
        m[0].definition,
        r#"{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}"#
    );
}

#[test]
fn missing_definition_uri_file() {
    fails(
        "Resources:\n  Orders:\n    Type: AWS::Serverless::StateMachine\n    \
         Properties: {DefinitionUri: statemachine/orders.asl.json}\n",
        "app/template.yaml: Resources.Orders.Properties.DefinitionUri: \
         no such file 'statemachine/orders.asl.json'",
    );
}

#[test]
fn s3_definitions_are_errors() {
    fails(
        "Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n    \
         Properties: {DefinitionUri: {Bucket: b, Key: k}}\n",
        "app/template.yaml: Resources.M.Properties.DefinitionUri: \
         must be a local file: an S3 object cannot be read locally",
    );
    fails(
        "Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n    \
         Properties: {DefinitionS3Location: {Bucket: b, Key: k}}\n",
        "app/template.yaml: Resources.M.Properties.DefinitionS3Location: \
         an S3 object cannot be read locally: use Definition or DefinitionString",
    );
}

#[test]
fn step_functions_definition_string() {
    let m = machines(
        r#"
Resources:
  Flow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: flow
      StateMachineType: STANDARD
      RoleArn: !GetAtt FlowRole.Arn
      DefinitionString: !Join
        - ""
        - - '{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": ${Delay}, '
          - '"Next": "D"}, "D": {"Type": "Succeed", "Comment": "'
          - !Ref AWS::Region
          - '"}}}'
      DefinitionSubstitutions: {Delay: 5}
  FlowRole: {Type: AWS::IAM::Role}
"#,
    );
    assert_eq!(m[0].name, "flow");
    assert_eq!(m[0].role, "arn:aws:iam::111122223333:role/FlowRole");
    let d: Value = serde_json::from_str(&m[0].definition).unwrap();
    assert_eq!(d["States"]["W"]["Seconds"], 5);
    assert_eq!(d["States"]["D"]["Comment"], "eu-west-1");
}

#[test]
fn inline_definition_resolves_intrinsics() {
    let d = definition(
        r#"
Resources:
  Fn: {Type: AWS::Lambda::Function}
  M:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call: {Type: Task, Resource: !GetAtt Fn.Arn, End: true}
"#,
    );
    assert_eq!(
        d["States"]["Call"]["Resource"],
        "arn:aws:lambda:eu-west-1:111122223333:function:Fn"
    );
}

#[test]
fn refs() {
    assert_eq!(substituted("!Ref Stage"), "dev");
    assert_eq!(substituted("!Ref Fn"), "orders-dev");
    assert_eq!(substituted("!Ref Table"), "Table");
    assert_eq!(
        substituted("!Ref Queue"),
        "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"
    );
    assert_eq!(
        substituted("!Ref Topic"),
        "arn:aws:sns:eu-west-1:111122223333:Topic"
    );
    assert_eq!(
        substituted("!Ref Machine"),
        "arn:aws:states:eu-west-1:111122223333:stateMachine:Machine"
    );
    assert_eq!(substituted("{Ref: Bucket}"), "my-bucket");
}

#[test]
fn pseudo_parameters() {
    assert_eq!(substituted("!Ref AWS::Region"), "eu-west-1");
    assert_eq!(substituted("!Ref AWS::AccountId"), "111122223333");
    assert_eq!(substituted("!Ref AWS::Partition"), "aws");
    assert_eq!(substituted("!Ref AWS::StackName"), "template");
    assert_eq!(substituted("!Ref AWS::URLSuffix"), "amazonaws.com");
}

#[test]
fn get_att() {
    let cases = [
        (
            "!GetAtt Fn.Arn",
            "arn:aws:lambda:eu-west-1:111122223333:function:orders-dev",
        ),
        (
            "!GetAtt [Queue, Arn]",
            "arn:aws:sqs:eu-west-1:111122223333:jobs",
        ),
        (
            "!GetAtt Queue.QueueUrl",
            "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs",
        ),
        ("!GetAtt Queue.QueueName", "jobs"),
        (
            "!GetAtt Table.Arn",
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Table",
        ),
        (
            "!GetAtt Table.StreamArn",
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Table/stream/1970-01-01T00:00:00.000",
        ),
        (
            "!GetAtt Topic.TopicArn",
            "arn:aws:sns:eu-west-1:111122223333:Topic",
        ),
        ("!GetAtt Topic.TopicName", "Topic"),
        ("{'Fn::GetAtt': Machine.Name}", "Machine"),
        ("!GetAtt Bucket.Arn", "arn:aws:s3:::my-bucket"),
    ];
    for (expression, expected) in cases {
        assert_eq!(substituted(expression), expected, "{expression}");
    }
}

#[test]
fn sub() {
    assert_eq!(
        substituted(r#"!Sub "${Stage}/${Fn.Arn}/${AWS::Region}/${!Literal}""#),
        "dev/arn:aws:lambda:eu-west-1:111122223333:function:orders-dev/eu-west-1/${Literal}"
    );
    assert_eq!(
        substituted(r#"!Sub ["${A}-${Stage}", {A: !Ref Table}]"#),
        "Table-dev"
    );
}

#[test]
fn join_select_split() {
    assert_eq!(substituted(r#"!Join [":", [a, !Ref Stage, 3]]"#), "a:dev:3");
    assert_eq!(substituted("!Select [1, !Ref Sizes]"), "m");
    assert_eq!(substituted(r#"!Select ["2", !Split ["/", "x/y/z"]]"#), "z");
}

#[test]
fn parameter_overrides() {
    let template = "Parameters:\n  Stage: {Type: String}\nResources:\n  M:\n    \
                    Type: AWS::Serverless::StateMachine\n    Properties:\n      \
                    Name: !Sub 'flow-${Stage}'\n      \
                    Definition: {StartAt: A, States: {A: {Type: Succeed}}}\n";
    let m = machines_with(template, &[], &[("Stage", "prod")]).unwrap();
    assert_eq!(m[0].name, "flow-prod");
    let e = machines_with(template, &[], &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "app/template.yaml: Resources.M.Properties.Name: the parameter Stage has no value: \
         give it with --parameter-overrides Stage=… or a Default"
    );
    let e = machines_with(template, &[], &[("Stag", "x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "app/template.yaml: --parameter-overrides Stag: the template has no such parameter"
    );
}

#[test]
fn unresolvable_intrinsics() {
    let template = |v: &str| {
        format!(
            "Resources:\n  Fn: {{Type: AWS::Serverless::Function}}\n  M:\n    \
             Type: AWS::Serverless::StateMachine\n    Properties:\n      \
             Definition: {{StartAt: A, States: {{A: {{Type: Succeed}}}}}}\n      \
             DefinitionSubstitutions: {{V: {v}}}\n"
        )
    };
    let at = "app/template.yaml: Resources.M.Properties.DefinitionSubstitutions";
    fails(
        &template("!Ref Nothing"),
        &format!("{at}: Ref Nothing: no parameter or resource of that name"),
    );
    fails(
        &template("!GetAtt Fn.Version"),
        &format!(
            "{at}: Fn::GetAtt Fn.Version: the attribute Version of AWS::Serverless::Function \
             is not supported by stepwise's template reader"
        ),
    );
    fails(
        &template("!If [C, a, b]"),
        &format!("{at}: Fn::If is not supported by stepwise's template reader"),
    );
}

#[test]
fn two_machines() {
    let template = r#"
Resources:
  First:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition: {StartAt: A, States: {A: {Type: Succeed}}}
      Role: arn:aws:iam::111122223333:role/first
  Second:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      Definition: {StartAt: B, States: {B: {Type: Fail}}}
      StateMachineType: EXPRESS
"#;
    let m = machines(template);
    let ids: Vec<_> = m
        .iter()
        .map(|m| (m.logical_id.as_str(), m.express))
        .collect();
    assert_eq!(ids, [("First", false), ("Second", true)]);
    assert_eq!(m[0].role, "arn:aws:iam::111122223333:role/first");
    let file = Path::new("app/template.yaml");
    assert_eq!(
        select(&m, Some("Second"), file).unwrap().logical_id,
        "Second"
    );
    assert_eq!(
        select(&m, None, file).unwrap_err().to_string(),
        "app/template.yaml: the template has several state machines (First, Second): \
         choose one with --state-machine"
    );
}

#[test]
fn unknown_logical_id() {
    let m = machines(
        "Resources:\n  Only:\n    Type: AWS::Serverless::StateMachine\n    \
         Properties: {Definition: {StartAt: A, States: {A: {Type: Succeed}}}}\n",
    );
    let file = Path::new("app/template.yaml");
    assert_eq!(select(&m, None, file).unwrap().logical_id, "Only");
    assert_eq!(
        select(&m, Some("Other"), file).unwrap_err().to_string(),
        "app/template.yaml: no state machine 'Other' (the template has Only)"
    );
    assert!(select(&[], None, file).is_err());
}

#[test]
fn yaml_errors_give_the_line() {
    let e = machines_with("Resources:\n  M: [\n", &[], &[]).unwrap_err();
    let Error::Yaml { file, source } = &e else {
        panic!("{e}")
    };
    assert_eq!(file, "app/template.yaml");
    assert!(source.location().is_some_and(|l| l.line() >= 2), "{source}");
}

#[test]
fn reference_cycles_stop() {
    let e = machines_with(
        "Resources:\n  A: {Type: AWS::Lambda::Function, Properties: {FunctionName: !Ref B}}\n  \
         B: {Type: AWS::Lambda::Function, Properties: {FunctionName: !Ref A}}\n  M:\n    \
         Type: AWS::Serverless::StateMachine\n    Properties:\n      \
         Definition: {StartAt: S, States: {S: {Type: Succeed}}}\n      \
         DefinitionSubstitutions: {V: !Ref A}\n",
        &[],
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("nested too deeply"), "{e}");
}

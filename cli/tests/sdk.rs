//! The Rust `aws-sdk-sfn` against `stepwise serve`: the SDK's own
//! serialization, error parsing and paginators, end to end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args(["serve", "--in-memory", "--addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("stepwise serve starts");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("a line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address")
        .to_owned();
    Server { child, url }
}

fn client(url: &str) -> Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(url)
        .build();
    Client::from_conf(config)
}

const ROLE: &str = "arn:aws:iam::123456789012:role/stepwise-test";

#[tokio::test]
async fn sdk_round_trip() {
    let server = serve();
    let sfn = client(&server.url);
    let definition = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"sum.$":"States.MathAdd($.a, $.b)"},"End":true}}}"#;
    let arn = sfn
        .create_state_machine()
        .name("sdk")
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name("first")
        .input(r#"{"a":2,"b":3}"#)
        .send()
        .await
        .unwrap();
    let mut status = String::new();
    let mut output = None;
    for _ in 0..200 {
        let d = sfn
            .describe_execution()
            .execution_arn(started.execution_arn())
            .send()
            .await
            .unwrap();
        status = d.status().as_str().to_owned();
        output = d.output().map(str::to_owned);
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        (status.as_str(), output.as_deref()),
        ("SUCCEEDED", Some(r#"{"sum":5}"#))
    );

    let history = sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    let kinds: Vec<&str> = history
        .events()
        .iter()
        .map(|e| e.r#type().as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );

    for i in 0..3 {
        sfn.start_execution()
            .state_machine_arn(&arn)
            .name(format!("more{i}"))
            .input(r#"{"a":1,"b":1}"#)
            .send()
            .await
            .unwrap();
    }
    let mut pages = sfn
        .list_executions()
        .state_machine_arn(&arn)
        .max_results(2)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        names.extend(
            page.unwrap()
                .executions()
                .iter()
                .map(|e| e.name().to_owned()),
        );
    }
    names.sort();
    assert_eq!(names, ["first", "more0", "more1", "more2"]);
}

#[tokio::test]
async fn sdk_sees_aws_errors() {
    let server = serve();
    let sfn = client(&server.url);
    let err = sfn
        .describe_state_machine()
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:ghost")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_state_machine_does_not_exist());
    let err = sfn
        .create_state_machine()
        .name("bad")
        .definition("{")
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_definition());
    let err = sfn
        .describe_execution()
        .execution_arn("not-an-arn")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_invalid_arn());
}

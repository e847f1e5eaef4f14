//! # stepwise-api
//!
//! The AWS Step Functions wire protocol, independent of any backend:
//! `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>` and a JSON body
//! (awsJson1_0), answered with JSON or `{"__type", "message"}` errors, and
//! the REST routes beside it. The actions themselves, their errors and their
//! input checks are the engine's ([`stepwise_engine::api`]); a backend
//! implements [`Service`] there, and [`handle`] does the protocol around it.

#![forbid(unsafe_code)]

pub mod shape;

use serde_json::Value;

use stepwise_engine::api::{ApiError, Service};

/// Every action the API serves.
pub const ACTIONS: &[&str] = &[
    "CreateStateMachine",
    "DescribeStateMachine",
    "UpdateStateMachine",
    "DeleteStateMachine",
    "ListStateMachines",
    "ValidateStateMachineDefinition",
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
    "StartExecution",
    "StartSyncExecution",
    "DescribeExecution",
    "DescribeStateMachineForExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "StopExecution",
    "RedriveExecution",
    "SendTaskSuccess",
    "SendTaskFailure",
    "SendTaskHeartbeat",
    "CreateActivity",
    "DescribeActivity",
    "ListActivities",
    "DeleteActivity",
    "GetActivityTask",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "TestState",
    "ListMapRuns",
    "DescribeMapRun",
    "UpdateMapRun",
];

/// The region of a SigV4 `Authorization` header's credential scope
/// (`Credential=<key>/<date>/<region>/<service>/aws4_request`).
pub fn region_of(authorization: Option<&str>) -> Option<&str> {
    let credential = authorization?.split("Credential=").nth(1)?;
    let region = credential.split(['/', ',', ' ']).nth(2)?;
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(region)
}

/// An HTTP response: status, content type, body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The action named by an `X-Amz-Target` header.
pub fn action(target: Option<&str>) -> Result<&str, ApiError> {
    let t = target.ok_or_else(|| ApiError::unknown_operation("Missing X-Amz-Target header"))?;
    let action = t
        .strip_prefix("AWSStepFunctions.")
        .ok_or_else(|| ApiError::unknown_operation(format!("Unknown target '{t}'")))?;
    ACTIONS
        .iter()
        .find(|a| **a == action)
        .copied()
        .ok_or_else(|| {
            ApiError::unknown_operation(format!("The action '{action}' is not supported"))
        })
}

/// One action, its members' types and lengths checked first.
async fn call(
    service: &dyn Service,
    region: Option<&str>,
    action: &str,
    body: Value,
) -> Result<Value, ApiError> {
    shape::check(action, &body)?;
    service.call_in(region, action, body).await
}

/// The whole protocol exchange for one request.
pub async fn handle(
    service: &dyn Service,
    region: Option<&str>,
    target: Option<&str>,
    body: &[u8],
) -> Response {
    let result = async {
        let action = action(target)?;
        let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::serialization(format!("The request body is not valid JSON: {e}"))
            })?
        };
        if !parsed.is_object() {
            return Err(ApiError::serialization(
                "The request body must be a JSON object",
            ));
        }
        call(service, region, action, parsed).await
    }
    .await;
    match result {
        Ok(v) => Response {
            status: 200,
            body: v.to_string().into_bytes(),
        },
        Err(e) => Response {
            status: e.status,
            body: e.body().to_string().into_bytes(),
        },
    }
}

/// The REST routes for people and webhooks, beside the JSON protocol:
///
/// | route | action |
/// | --- | --- |
/// | `POST /` with `X-Amz-Target` | the awsJson1_0 protocol ([`handle`]) |
/// | `POST /executions` `{"stateMachineArn", "name"?, "input"?}` | StartExecution (`input` may be any JSON value) |
/// | `GET /executions/{executionArn}` (URL-encoded) | DescribeExecution |
/// | `POST /tasks/success` `{"taskToken", "output"?}` | SendTaskSuccess |
/// | `POST /tasks/failure` `{"taskToken", "error"?, "cause"?}` | SendTaskFailure |
/// | `POST /tasks/heartbeat` `{"taskToken"}` | SendTaskHeartbeat |
///
/// Answers are JSON; errors carry AWS's `__type` and `message` and its status.
pub async fn route(
    service: &dyn Service,
    region: Option<&str>,
    method: &str,
    path: &str,
    target: Option<&str>,
    body: &[u8],
) -> Response {
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        if method != "POST" {
            return error_response(ApiError::unknown_operation(
                "The protocol endpoint takes POST",
            ));
        }
        return handle(service, region, target, body).await;
    }
    let result = async {
        let parsed = || -> Result<Value, ApiError> {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Object(Default::default()));
            }
            let v: Value = serde_json::from_slice(body).map_err(|e| {
                ApiError::serialization(format!("The request body is not valid JSON: {e}"))
            })?;
            if v.is_object() {
                Ok(v)
            } else {
                Err(ApiError::serialization(
                    "The request body must be a JSON object",
                ))
            }
        };
        match (method, path) {
            ("POST", "/executions") => {
                let mut b = parsed()?;
                // People send the input as JSON; the API wants it as text.
                if let Some(input) = b.get("input").filter(|v| !v.is_string()).cloned() {
                    b["input"] = Value::String(input.to_string());
                }
                call(service, region, "StartExecution", b).await
            }
            ("GET", p) if p.starts_with("/executions/") => {
                let arn = percent_decode(&p["/executions/".len()..]);
                call(
                    service,
                    region,
                    "DescribeExecution",
                    serde_json::json!({"executionArn": arn}),
                )
                .await
            }
            ("POST", "/tasks/success") => {
                let mut b = parsed()?;
                let output = b
                    .get("output")
                    .cloned()
                    .unwrap_or(Value::Object(Default::default()));
                if !output.is_string() {
                    b["output"] = Value::String(output.to_string());
                }
                call(service, region, "SendTaskSuccess", b).await
            }
            ("POST", "/tasks/failure") => call(service, region, "SendTaskFailure", parsed()?).await,
            ("POST", "/tasks/heartbeat") => {
                service
                    .call_in(region, "SendTaskHeartbeat", parsed()?)
                    .await
            }
            _ => Err(ApiError::resource_not_found(format!(
                "No route for {method} {path}: see the README's API section"
            ))
            .with_status(404)),
        }
    }
    .await;
    match result {
        Ok(v) => Response {
            status: 200,
            body: v.to_string().into_bytes(),
        },
        Err(e) => error_response(e),
    }
}

fn error_response(e: ApiError) -> Response {
    Response {
        status: e.status,
        body: e.body().to_string().into_bytes(),
    }
}

/// `%3A` → `:` (API Gateway hands path parameters over still encoded).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

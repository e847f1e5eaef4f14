//! # stepwise-api
//!
//! The AWS Step Functions wire protocol, independent of any backend:
//! `POST /` with `X-Amz-Target: AWSStepFunctions.<Action>` and a JSON body
//! (awsJson1_0), answered with JSON or `{"__type", "message"}` errors. A
//! backend implements [`Service`]; [`handle`] does the protocol around it.

#![forbid(unsafe_code)]

pub mod error;
pub mod validate;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub use error::ApiError;

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
];

pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send + 'a>>;

/// A backend: one call per action, with the request body already parsed.
pub trait Service: Send + Sync + 'static {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a>;
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

/// The whole protocol exchange for one request.
pub async fn handle(service: &dyn Service, target: Option<&str>, body: &[u8]) -> Response {
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
        service.call(action, parsed).await
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

/// Epoch seconds with milliseconds, as awsJson1_0 timestamps are written.
pub fn timestamp(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

//! Lambda tasks through the Lambda Invoke API (signed, with the SDK): the
//! function ARN as the resource (the result is the function's response) and
//! `arn:aws:states:::lambda:invoke` with `FunctionName` / `Payload` (the
//! result is AWS's response shape). A function error fails the task with the
//! `errorType` it reported; a failed call with `Lambda.<error code>`.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use serde_json::{Value, json};
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{Unavailable, function_error};

pub struct LambdaTasks {
    pub client: Client,
}

impl Tasks for LambdaTasks {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let (function, payload, wrap) = if call.is_lambda_function() {
            (call.resource.clone(), call.payload.clone(), false)
        } else if call
            .canonical_resource()
            .starts_with("arn:aws:states:::lambda:invoke")
        {
            let Some(f) = call.payload.get("FunctionName").and_then(Value::as_str) else {
                return Err(StatesError::custom(
                    "States.Runtime",
                    format!(
                        "The state '{}' calls lambda:invoke without a FunctionName",
                        call.state
                    ),
                ));
            };
            let payload = call.payload.get("Payload").cloned().unwrap_or(json!({}));
            (f.to_owned(), payload, true)
        } else {
            return Unavailable.invoke(call, ctx).await;
        };
        let out = self
            .client
            .invoke()
            .function_name(&function)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let code = e.code().unwrap_or("ServiceException").to_owned();
                let message = e
                    .message()
                    .unwrap_or("the Lambda service failed")
                    .to_owned();
                return Err(StatesError::custom(format!("Lambda.{code}"), message));
            }
        };
        let body = out
            .payload
            .as_ref()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default();
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        if let Some(kind) = &out.function_error {
            return Err(function_error(kind, &parsed));
        }
        if !wrap {
            return Ok(parsed);
        }
        Ok(json!({
            "ExecutedVersion": out.executed_version.as_deref().unwrap_or("$LATEST"),
            "Payload": parsed,
            "SdkHttpMetadata": {"HttpHeaders": {"Content-Type": "application/json"}, "HttpStatusCode": out.status_code},
            "SdkResponseMetadata": {"RequestId": ""},
            "StatusCode": out.status_code,
        }))
    }
}

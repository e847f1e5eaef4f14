//! Lambda tasks through the Lambda Invoke API (signed, with the SDK): the
//! function ARN as the resource (the result is the function's response) and
//! `arn:aws:states:::lambda:invoke` with `FunctionName` / `Payload` (the
//! result is AWS's response shape). A function error fails the task with the
//! `errorType` it reported; a failed call with `Lambda.<error code>`.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{LambdaCall, Unavailable};

pub struct LambdaTasks {
    pub client: Client,
}

impl Tasks for LambdaTasks {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let lambda = match LambdaCall::of(call) {
            Some(l) => l?,
            None => return Unavailable.invoke(call, ctx).await,
        };
        let out = self
            .client
            .invoke()
            .function_name(&lambda.function)
            .payload(Blob::new(lambda.payload.to_string()))
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
        lambda.result(
            body,
            out.function_error.as_deref(),
            out.status_code,
            out.executed_version.as_deref(),
        )
    }
}

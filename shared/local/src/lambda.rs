//! Lambda tasks over the Lambda Invoke API (`cargo lambda watch`, or any
//! Lambda-compatible endpoint): `POST /2015-03-31/functions/<name>/invocations`.

use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{LambdaCall, Unavailable};

pub struct Lambda {
    pub endpoint: Option<String>,
}

impl Tasks for Lambda {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let (Some(endpoint), Some(lambda)) = (&self.endpoint, LambdaCall::of(call)) else {
            return Unavailable.invoke(call, ctx).await;
        };
        let lambda = lambda?;
        let name = function_name(&lambda.function);
        let url = format!(
            "{}/2015-03-31/functions/{name}/invocations",
            endpoint.trim_end_matches('/')
        );
        let response = ureq::post(&url)
            .set("Content-Type", "application/json")
            .send_string(&lambda.payload.to_string());
        let (status, reported, body) = match response {
            Ok(r) => (
                r.status(),
                r.header("X-Amz-Function-Error").map(str::to_owned),
                r.into_string().unwrap_or_default(),
            ),
            Err(ureq::Error::Status(code, r)) => (
                code,
                r.header("X-Amz-Function-Error").map(str::to_owned),
                r.into_string().unwrap_or_default(),
            ),
            Err(e) => {
                return Err(StatesError::custom(
                    "Lambda.ServiceException",
                    format!("Could not reach the Lambda endpoint {endpoint}: {e}"),
                ));
            }
        };
        if status == 404 {
            return Err(StatesError::custom(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {}", lambda.function),
            ));
        }
        // A local endpoint may say a function failed by its status alone.
        let reported = reported.or_else(|| (status >= 500).then(|| "Unhandled".to_owned()));
        if reported.is_none() && status >= 300 {
            return Err(StatesError::custom(
                "Lambda.AWSLambdaException",
                format!("HTTP {status}: {body}"),
            ));
        }
        lambda.result(body, reported.as_deref(), i32::from(status), None)
    }
}

/// `my-fn`, `arn:aws:lambda:…:function:my-fn[:alias]` → `my-fn`.
fn function_name(f: &str) -> &str {
    match f.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => f,
    }
}

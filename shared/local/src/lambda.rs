//! Lambda tasks over the Lambda Invoke API (`cargo lambda watch`, or any
//! Lambda-compatible endpoint): `POST /2015-03-31/functions/<name>/invocations`.

use serde_json::{Value, json};
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{Unavailable, function_error};

pub struct Lambda {
    pub endpoint: Option<String>,
}

impl Tasks for Lambda {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let Some(endpoint) = &self.endpoint else {
            return Unavailable.invoke(call, ctx).await;
        };
        let (function, payload, wrap) = if call.is_lambda_function() {
            (call.resource.clone(), call.payload.clone(), false)
        } else if call
            .canonical_resource()
            .starts_with("arn:aws:states:::lambda:invoke")
        {
            let f = call
                .payload
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            (
                f,
                call.payload.get("Payload").cloned().unwrap_or(json!({})),
                true,
            )
        } else {
            return Unavailable.invoke(call, ctx).await;
        };
        let name = function_name(&function);
        let url = format!(
            "{}/2015-03-31/functions/{name}/invocations",
            endpoint.trim_end_matches('/')
        );
        let response = ureq::post(&url)
            .set("Content-Type", "application/json")
            .send_string(&payload.to_string());
        let (status, function_error_header, body) = match response {
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
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
        if status == 404 {
            return Err(StatesError::custom(
                "Lambda.ResourceNotFoundException",
                format!("Function not found: {function}"),
            ));
        }
        if function_error_header.is_some() || status >= 500 {
            return Err(function_error(
                function_error_header.as_deref().unwrap_or("Unhandled"),
                &parsed,
            ));
        }
        if status >= 300 {
            return Err(StatesError::custom(
                "Lambda.AWSLambdaException",
                format!("HTTP {status}: {body}"),
            ));
        }
        if !wrap {
            return Ok(parsed);
        }
        Ok(json!({
            "ExecutedVersion": "$LATEST",
            "Payload": parsed,
            "SdkHttpMetadata": {"HttpHeaders": {"Content-Type": "application/json"}, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": ""},
            "StatusCode": 200,
        }))
    }
}

/// `my-fn`, `arn:aws:lambda:…:function:my-fn[:alias]` → `my-fn`.
fn function_name(f: &str) -> &str {
    match f.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => f,
    }
}

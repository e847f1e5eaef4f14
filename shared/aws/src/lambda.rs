//! Lambda tasks through the Lambda Invoke API: the function ARN as the
//! resource (the result is the function's response) and
//! `arn:aws:states:::lambda:invoke` with `FunctionName` / `Payload` (the
//! result is AWS's response shape), read and answered once
//! ([`LambdaCall`]). Two transports: signed, with the SDK (on AWS); plain
//! HTTP to a local endpoint (`cargo lambda watch`, or any Lambda-compatible
//! one: `POST /2015-03-31/functions/<name>/invocations`). A function error
//! fails the task with the `errorType` it reported; a failed call with
//! `Lambda.<error code>`.

use std::time::Duration;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{LambdaCall, TIMEOUT_GRACE, Unavailable};

/// Where Lambda tasks go.
pub enum LambdaTasks {
    /// The Invoke API with the SDK: on AWS, or at the client's endpoint.
    Sdk(Client),
    /// Plain HTTP to a local endpoint; `None`: none was given, and a Lambda
    /// task fails saying how to make it run.
    Local(Option<String>),
}

impl Tasks for LambdaTasks {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let lambda = match (self, LambdaCall::of(call)) {
            (LambdaTasks::Local(None), _) | (_, None) => {
                return Unavailable.invoke(call, ctx).await;
            }
            (_, Some(lambda)) => lambda?,
        };
        match self {
            LambdaTasks::Sdk(client) => invoke_sdk(client, &lambda).await,
            LambdaTasks::Local(endpoint) => {
                let endpoint = endpoint.clone().unwrap_or_default();
                let execution = ctx.execution_arn.to_owned();
                // A call the task's TimeoutSeconds gave up on is not waited
                // for past it (its answer would be ignored): `stepwise run`
                // ends when the execution does.
                let limit = (call.timeout_seconds).map(|s| Duration::from_secs(s) + TIMEOUT_GRACE);
                // On a runtime, the blocking call goes to its blocking pool:
                // calls made side by side (a Map's, a bundle's) run so, and
                // the runtime's own threads stay free.
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => runtime
                        .spawn_blocking(move || invoke_http(&endpoint, &lambda, &execution, limit))
                        .await
                        .unwrap_or_else(|e| {
                            Err(StatesError::custom(
                                "Lambda.ServiceException",
                                e.to_string(),
                            ))
                        }),
                    Err(_) => invoke_http(&endpoint, &lambda, &execution, limit),
                }
            }
        }
    }
}

async fn invoke_sdk(client: &Client, lambda: &LambdaCall) -> TaskResult {
    let o = &lambda.options;
    let out = client
        .invoke()
        .function_name(&lambda.function)
        .payload(Blob::new(lambda.body()))
        .set_qualifier(o.qualifier.clone())
        .set_invocation_type(o.invocation_type.as_deref().map(InvocationType::from))
        .set_log_type(o.log_type.as_deref().map(LogType::from))
        .set_client_context(o.client_context.clone())
        .send()
        .await;
    let out = match out {
        Ok(o) => o,
        // lambda:invoke words a refused call as AWS's Java SDK words one
        // (recorded on AWS: LocalStack's test_no_such_function).
        Err(e) if lambda.wrap => return Err(crate::services::service_error("Lambda", &e)),
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
        out.request_id(),
        out.log_result.as_deref(),
    )
}

/// A blocking call: on the runtime's blocking threads, or in place where
/// there is no runtime.
fn invoke_http(
    endpoint: &str,
    lambda: &LambdaCall,
    execution: &str,
    limit: Option<Duration>,
) -> TaskResult {
    let name = function_name(&lambda.function);
    let url = format!(
        "{}/2015-03-31/functions/{name}/invocations",
        endpoint.trim_end_matches('/')
    );
    // (The Invoke API's own: the qualifier in the query, the rest as headers.)
    let o = &lambda.options;
    let mut request = ureq::post(&url).set("Content-Type", "application/json");
    if let Some(limit) = limit {
        request = request.timeout(limit);
    }
    if let Some(q) = &o.qualifier {
        request = request.query("Qualifier", q);
    }
    let headers = [
        ("X-Amz-Invocation-Type", &o.invocation_type),
        ("X-Amz-Log-Type", &o.log_type),
        ("X-Amz-Client-Context", &o.client_context),
    ];
    for (name, value) in headers {
        if let Some(v) = value {
            request = request.set(name, v);
        }
    }
    let response = request.send_string(&lambda.body());
    // (What AWS's SDK reports from the headers: the function's error, the
    // request's id and the version that ran.)
    let answer = |status: u16, r: ureq::Response| {
        let header = |name: &str| r.header(name).map(str::to_owned);
        let said = [
            "X-Amz-Function-Error",
            "x-amzn-RequestId",
            "X-Amz-Executed-Version",
            "X-Amz-Log-Result",
        ];
        let [reported, id, version, log] = said.map(header);
        (
            status,
            reported,
            [id, version, log],
            r.into_string().unwrap_or_default(),
        )
    };
    let (status, reported, [request_id, version, log], body) = match response {
        Ok(r) => answer(r.status(), r),
        Err(ureq::Error::Status(code, r)) => answer(code, r),
        Err(e) => {
            return Err(StatesError::custom(
                "Lambda.ServiceException",
                format!("Could not reach the Lambda endpoint {endpoint}: {e}"),
            ));
        }
    };
    if status == 404 {
        let mut cause = format!(
            "Function not found: {}",
            function_arn(&lambda.function, execution)
        );
        if lambda.wrap {
            let id = request_id.as_deref().unwrap_or_default();
            cause.push_str(&format!(
                " (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {id}; Proxy: null)"
            ));
        }
        return Err(StatesError::custom(
            "Lambda.ResourceNotFoundException",
            cause,
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
    let (version, id) = (version.as_deref(), request_id.as_deref());
    let status = i32::from(status);
    lambda.result(
        body,
        reported.as_deref(),
        status,
        version,
        id,
        log.as_deref(),
    )
}

/// The function's ARN as Lambda names it in "Function not found": as
/// given, or a bare name in the execution's partition, region and account.
fn function_arn(function: &str, execution: &str) -> String {
    if function.starts_with("arn:") {
        return function.to_owned();
    }
    let parts: Vec<&str> = execution.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, _, region, account, ..] => {
            format!("arn:{partition}:lambda:{region}:{account}:function:{function}")
        }
        _ => function.to_owned(),
    }
}

/// `my-fn`, `arn:aws:lambda:…:function:my-fn[:alias]` → `my-fn`.
fn function_name(f: &str) -> &str {
    match f.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => f,
    }
}

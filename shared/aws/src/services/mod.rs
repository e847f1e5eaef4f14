//! AWS service integrations for Task states, with AWS's resource ARNs,
//! parameters, result shapes and error names:
//!
//! | resource | call | result |
//! | --- | --- | --- |
//! | `arn:aws:states:::sqs:sendMessage` | SendMessage: `QueueUrl`, `MessageBody` (JSON other than a string is sent as its text), `DelaySeconds`, `MessageAttributes`, `MessageGroupId`, `MessageDeduplicationId` | `MD5OfMessageBody`, `MessageId` (`MD5OfMessageAttributes`) |
//! | `arn:aws:states:::sns:publish` | Publish: `TopicArn` / `TargetArn` / `PhoneNumber`, `Message`, `Subject`, `MessageStructure`, `MessageAttributes`, `MessageGroupId`, `MessageDeduplicationId` | `MessageId` (`SequenceNumber`) |
//! | `arn:aws:states:::events:putEvents` | PutEvents: `Entries` (`Detail` as JSON or text) | `Entries`, `FailedEntryCount`; a refused entry fails with `EventBridge.FailedEntry` |
//! | `arn:aws:states:::dynamodb:getItem` / `putItem` / `updateItem` / `deleteItem` | the DynamoDB API's parameters, attribute values in DynamoDB JSON | the API's response (`Item`, `Attributes`) |
//! | `arn:aws:states:::http:invoke` | see [`http`] | `Headers`, `ResponseBody`, `StatusCode`, `StatusText` |
//!
//! Each also answers `.waitForTaskToken` (the engine parks the task once
//! the request is out). SDK responses carry `SdkHttpMetadata` and
//! `SdkResponseMetadata` as on AWS. A failed call fails the task with
//! `SQS.<Code>`, `SNS.<Code>`, `EventBridge.<Code>` or `DynamoDB.<Code>`
//! (e.g. `DynamoDB.ConditionalCheckFailedException`), so Retry and Catch
//! match them as on AWS.

mod apigateway;
mod dynamodb;
mod eks;
mod emr;
pub mod http;
mod job_table;
mod jobs;
mod manifest;
mod messaging;
mod parquet;
mod reader;
mod writer;

use serde_json::{Map, Value};
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{Progress, TaskContext, TaskResult, Tasks};

use crate::Clients;

#[derive(Clone)]
pub struct ServiceTasks {
    /// `None` when the environment names no credentials and no endpoint:
    /// AWS service tasks then fail saying so; HTTP tasks still run.
    clients: Option<Clients>,
}

/// Service integrations first; any other resource goes to `fallback`.
pub struct WithServices<T> {
    pub services: ServiceTasks,
    pub fallback: T,
}

impl<T: Tasks> Tasks for WithServices<T> {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        if let Some(result) = self.services.call(call, ctx.execution_arn).await {
            return result;
        }
        self.fallback.invoke(call, ctx).await
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.services.follows(call) || self.fallback.follows(call)
    }

    async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        if !self.services.follows(call) {
            return self.fallback.progress(call, started, stop).await;
        }
        self.services.progress(call, started, stop).await
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.fallback.answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        self.fallback.completes_later(call)
    }
}

/// `<service>:<action>[.pattern]` of an optimized integration's resource.
fn service_resource(call: &TaskCall) -> String {
    let resource = call.canonical_resource();
    resource
        .strip_prefix("arn:aws:states:::")
        .unwrap_or(&resource)
        .to_owned()
}

fn not_run(resource: &str) -> StatesError {
    StatesError::custom(
        "States.Runtime",
        format!("'{resource}' is not an integration Stepwise runs"),
    )
}

impl ServiceTasks {
    /// Whether the call is a `.sync` job this starts and then follows.
    pub fn follows(&self, call: &TaskCall) -> bool {
        let resource = service_resource(call);
        !resource.starts_with("aws-sdk:")
            && jobs::handles(resource.split(':').next().unwrap_or_default())
            && jobs::follows(&resource)
    }

    pub fn new(clients: &Clients) -> ServiceTasks {
        ServiceTasks {
            clients: Some(clients.clone()),
        }
    }

    /// From the standard AWS environment (`AWS_ENDPOINT_URL` for moto).
    pub fn from_env() -> ServiceTasks {
        ServiceTasks {
            clients: Clients::from_env().ok(),
        }
    }

    fn clients(&self) -> Result<&Clients, StatesError> {
        self.clients.as_ref().ok_or_else(|| {
            StatesError::custom(
                "States.TaskFailed",
                format!(
                    "AWS service tasks need credentials: {}",
                    crate::ConfigError::NoCredentials
                ),
            )
        })
    }

    /// The call's result — for a `.sync` job, the answer of the call that
    /// started it, which [`ServiceTasks::progress`] then follows — or
    /// `None` when the resource is not a service integration this runs.
    /// `execution` is the ARN of the execution that makes it.
    pub async fn call(&self, call: &TaskCall, execution: &str) -> Option<TaskResult> {
        let resource = call.canonical_resource();
        let rest = resource.strip_prefix("arn:aws:states:::")?;
        if let Some(sdk) = rest.strip_prefix("aws-sdk:") {
            return Some(self.sdk(sdk, &call.payload).await);
        }
        let action = rest.split('.').next().unwrap_or(rest);
        let p = &call.payload;
        Some(match action {
            "sqs:sendMessage" => self.send_message(p).await,
            "sns:publish" => self.publish(p).await,
            "events:putEvents" => self.put_events(p, execution).await,
            "dynamodb:getItem"
            | "dynamodb:putItem"
            | "dynamodb:updateItem"
            | "dynamodb:deleteItem" => self.dynamodb(&action["dynamodb:".len()..], p).await,
            "http:invoke" => {
                // The request blocks: off the runtime's threads when there is
                // a runtime (serve), in place when there is none (`stepwise
                // run` drives its executions without one).
                if tokio::runtime::Handle::try_current().is_err() {
                    return Some(http::invoke(p));
                }
                let p = p.clone();
                tokio::task::spawn_blocking(move || http::invoke(&p))
                    .await
                    .unwrap_or_else(|e| Err(StatesError::custom("States.Runtime", e.to_string())))
            }
            "s3:getObject" | "s3:listObjectsV2" => {
                let (action, p) = (action["s3:".len()..].to_owned(), p.clone());
                self.blocking(move |c| reader::read(c, &action, &p)).await
            }
            "apigateway:invoke" => {
                let p = p.clone();
                self.blocking(move |c| apigateway::invoke(c, &p)).await
            }
            "s3:putObject" => {
                let p = p.clone();
                self.blocking(move |c| writer::write(c, &p)).await
            }
            _ => return self.job(rest, p).await,
        })
    }

    /// An optimized integration that is one API call (for `.sync`, the one
    /// that starts the job): off the runtime's threads when there is a
    /// runtime.
    async fn job(&self, resource: &str, parameters: &Value) -> Option<TaskResult> {
        let service = resource.split(':').next().unwrap_or_default();
        // Only a resource this runs needs credentials.
        if !jobs::handles(service) {
            return None;
        }
        let (resource, p) = (resource.to_owned(), parameters.clone());
        Some(
            self.blocking(move |c| {
                jobs::start(c, &resource, &p).unwrap_or_else(|| Err(not_run(&resource)))
            })
            .await,
        )
    }

    /// Runs a blocking call with the clients: off the runtime's threads when
    /// there is a runtime (serve), in place when there is none (`stepwise
    /// run` drives its executions without one).
    async fn blocking<F>(&self, f: F) -> TaskResult
    where
        F: FnOnce(&Clients) -> TaskResult + Send + 'static,
    {
        self.off_runtime(f).await.and_then(|r| r)
    }

    /// The same for any answer: `Err` when there are no credentials or the
    /// call could not run.
    async fn off_runtime<F, R>(&self, f: F) -> Result<R, StatesError>
    where
        F: FnOnce(&Clients) -> R + Send + 'static,
        R: Send + 'static,
    {
        let clients = self.clients()?.clone();
        if tokio::runtime::Handle::try_current().is_err() {
            return Ok(f(&clients));
        }
        tokio::task::spawn_blocking(move || f(&clients))
            .await
            .map_err(|e| StatesError::custom("States.Runtime", e.to_string()))
    }

    /// `aws-sdk:<service>:<action>[.pattern]`: one signed call, off the
    /// runtime's threads when there is a runtime.
    async fn sdk(&self, sdk: &str, parameters: &Value) -> TaskResult {
        let Some((service, action)) = sdk.split_once(':') else {
            return Err(invalid(format!("'aws-sdk:{sdk}' names no action")));
        };
        let action = action.split('.').next().unwrap_or(action).to_owned();
        let (service, p) = (service.to_owned(), parameters.clone());
        self.blocking(move |c| crate::sdk::call(c, &service, &action, &p))
            .await
    }

    /// One look at the job a `.sync` call started (`started`: its answer);
    /// with `stop`, the task gave up on it: stopped.
    pub async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        let (resource, p, started) = (
            service_resource(call),
            call.payload.clone(),
            started.clone(),
        );
        self.off_runtime(move |c| jobs::look(c, &resource, &p, &started, stop))
            .await
            .unwrap_or_else(|e| Progress::Done(Err(e)))
    }
}

fn missing(field: &str, op: &str) -> StatesError {
    StatesError::custom(
        "States.Runtime",
        format!("The {op} task needs the parameter '{field}'"),
    )
}

fn invalid(message: String) -> StatesError {
    StatesError::custom("States.Runtime", message)
}

fn text<'a>(p: &'a Value, field: &str, op: &str) -> Result<&'a str, StatesError> {
    p[field].as_str().ok_or_else(|| missing(field, op))
}

/// The `SdkHttpMetadata` and `SdkResponseMetadata` members AWS's optimized
/// integrations add to an SDK response.
fn metadata(out: &mut Map<String, Value>, request_id: Option<&str>, content_type: &str) {
    stepwise_engine::tasks::sdk_metadata(out, request_id.unwrap_or_default(), content_type);
}

/// `SQS.QueueDoesNotExistException`, `DynamoDB.ConditionalCheckFailedException`, …
pub(crate) fn service_error<
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
>(
    service: &str,
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StatesError {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;
    use aws_sdk_dynamodb::operation::RequestId as _;
    // A request that got no answer: what AWS's SDK says of one.
    let Some(response) = e.raw_response() else {
        // The innermost cause names what failed (the host, the refusal).
        let mut why: &dyn std::error::Error = e;
        while let Some(inner) = why.source() {
            why = inner;
        }
        return StatesError::custom(
            format!("{service}.SdkClientException"),
            format!("Unable to execute HTTP request: {why}"),
        );
    };
    let wire = e.code().unwrap_or("ServiceException");
    let code = wire.rsplit('.').next().unwrap_or(wire);
    let code = match code {
        "NonExistentQueue" | "QueueDoesNotExist" => "QueueDoesNotExist",
        other => other,
    };
    refusal(
        service,
        code,
        e.message().unwrap_or("the service call failed"),
        response.status().as_u16(),
        e.request_id().unwrap_or_default(),
    )
}

/// AWS sends a call that lacks a member the service requires, and the
/// service refuses it (a `Catch` on the service's error takes it): the
/// refusal as the service words it: SQS's `MissingParameter`, the others'
/// `ValidationException` naming each absent member.
fn lacks(service: &str, fields: &[&str]) -> StatesError {
    let (code, message) = match (service, fields) {
        ("SQS", [field, ..]) => (
            "MissingParameter",
            format!("The request must contain the parameter {field}."),
        ),
        _ => {
            let each: Vec<String> = fields
                .iter()
                .map(|f| {
                    let mut member = f.to_string();
                    if let Some(first) = member.get_mut(..1) {
                        first.make_ascii_lowercase();
                    }
                    format!(
                        "Value null at '{member}' failed to satisfy constraint: Member must not be null"
                    )
                })
                .collect();
            let plural = if each.len() == 1 { "" } else { "s" };
            (
                "ValidationException",
                format!(
                    "{} validation error{plural} detected: {}",
                    each.len(),
                    each.join("; ")
                ),
            )
        }
    };
    refusal(service, code, &message, 400, &stepwise_engine::uuid())
}

/// Refuses, as the service would, a call whose `required` members are
/// absent or null.
fn require(service: &str, p: &Value, required: &[&str]) -> Result<(), StatesError> {
    let absent: Vec<&str> = (required.iter().copied())
        .filter(|f| p[*f].is_null())
        .collect();
    match absent.is_empty() {
        true => Ok(()),
        false => Err(lacks(service, &absent)),
    }
}

/// A service's refusal as the optimized integrations name it.
fn refusal(service: &str, code: &str, message: &str, status: u16, request: &str) -> StatesError {
    // The optimized integrations' errors read as AWS's (Java) SDK words
    // them: the service's name in that SDK, its exception for an error the
    // service's model does not name (`DynamoDB.AmazonDynamoDBException`).
    let (model, sdk_name, generic) = match service {
        "DynamoDB" => ("dynamodb", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
        "SQS" => ("sqs", "AmazonSQS", "AmazonSQSException"),
        "SNS" => ("sns", "AmazonSNS", "AmazonSNSException"),
        "EventBridge" => ("events", "AmazonEventBridge", "AmazonEventBridgeException"),
        "Lambda" => ("lambda", "AWSLambda", "AWSLambdaException"),
        other => (other, other, "ServiceException"),
    };
    let name = if !crate::sdk::names_error(model, code) {
        format!("{service}.{generic}")
    } else if code.ends_with("Exception") {
        format!("{service}.{code}")
    } else {
        format!("{service}.{code}Exception")
    };
    StatesError::custom(
        name,
        format!(
            "{message} (Service: {sdk_name}; Status Code: {status}; Error Code: {code}; Request ID: {request}; Proxy: null)"
        ),
    )
}

/// The reason phrase of an HTTP status, as `StatusText` gives it.
pub(crate) fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

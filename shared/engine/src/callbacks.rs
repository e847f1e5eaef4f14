//! SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat, written once for
//! every backend over the [`Tokens`] port: which token is ours, which
//! answer is too late, what an answer tells its thread. A backend keeps
//! tokens its own way (SQLite rows, DynamoDB items) and delivers the answer
//! its own way (a SQLite queue row, an SQS message).

use std::future::Future;

use serde_json::{Value, json};
use stepwise_asl::{Event, StatesError};

use crate::api::{ApiError, validate};
use crate::executions::internal;
use crate::stepper::{PortError, TokenTarget, token_hash};

/// Which answer a request gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    Success,
    Failure,
    Heartbeat,
}

impl Callback {
    /// The action's answer kind, by its name (`None`: not a callback).
    pub fn of(action: &str) -> Option<Callback> {
        Some(match action {
            "SendTaskSuccess" => Callback::Success,
            "SendTaskFailure" => Callback::Failure,
            "SendTaskHeartbeat" => Callback::Heartbeat,
            _ => return None,
        })
    }
}

/// Where a backend keeps task tokens and sends their answers.
pub trait Tokens {
    /// The task a token's hash names, if this backend handed it out.
    fn target(&self, hash: &str) -> impl Future<Output = Result<Option<TokenTarget>, PortError>>;
    /// Whether the token's thread still waits for its answer (not timed
    /// out, not cancelled, its execution running).
    fn still_waits(&self, target: &TokenTarget) -> impl Future<Output = Result<bool, PortError>>;
    /// The token is used up (answered, or too late).
    fn forget(&self, hash: &str) -> impl Future<Output = Result<(), PortError>>;
    /// Delivers `event` to the token's thread.
    fn answer(
        &self,
        hash: &str,
        target: TokenTarget,
        event: Event,
    ) -> impl Future<Output = Result<(), PortError>>;
}

/// Whether `token` could be one of ours: what we hand out is 48 hex
/// digits. Anything else is `InvalidToken`; one of ours we do not know
/// (any more) is `TaskDoesNotExist`.
fn looks_ours(token: &str) -> bool {
    token.len() == 48 && token.chars().all(|c| c.is_ascii_hexdigit())
}

/// Answers a task token. A token that cannot be ours is refused first, then
/// the request's own members are checked (an output that is not JSON), then the task:
/// unknown, or no longer waiting (timed out, its branch cancelled, its
/// execution ended: `TaskTimedOut`). Success and failure use the token
/// up; a heartbeat does not.
pub async fn answer<T: Tokens>(
    tokens: &T,
    kind: Callback,
    body: &Value,
) -> Result<Value, ApiError> {
    let token = validate::string(body, "taskToken")?;
    // A token that cannot be ours is refused before anything else is
    // looked at, in AWS's words (LocalStack's suite with `NoSuchTaskToken`,
    // moto's 5.2.5 with `bad_token`, both run on AWS; an older moto
    // recorded `bad_token` as UnrecognizedClientException, the answer to
    // bad credentials, which its later run on AWS no longer gave).
    if !looks_ours(token) {
        return Err(ApiError::invalid_token("Invalid Token: 'Invalid token'"));
    }
    // What the thread will be told, once the token's wait is known.
    let told: Box<dyn FnOnce(u64) -> Event + Send> = match kind {
        Callback::Success => {
            let text = validate::string(body, "output")?;
            let output: Value = serde_json::from_str(text).map_err(|e| {
                ApiError::invalid_output(format!("Invalid Output: the output is not JSON: {e}"))
            })?;
            Box::new(move |wait| Event::TaskSucceeded { wait, output })
        }
        Callback::Failure => {
            let error = StatesError {
                error: validate::optional_string(body, "error")?.map(str::to_owned),
                cause: validate::optional_string(body, "cause")?.map(str::to_owned),
            };
            Box::new(move |wait| Event::TaskFailed { wait, error })
        }
        Callback::Heartbeat => Box::new(|wait| Event::TaskHeartbeat { wait }),
    };
    let hash = token_hash(token);
    let Some(target) = tokens.target(&hash).await.map_err(internal)? else {
        return Err(ApiError::task_does_not_exist("Task Does Not Exist"));
    };
    // (The token stays: every later answer is told the same.)
    if !tokens.still_waits(&target).await.map_err(internal)? {
        return Err(ApiError::task_timed_out(
            "Task Timed Out: 'Provided task does not exist anymore'",
        ));
    }
    let event = told(target.wait);
    tokens
        .answer(&hash, target, event)
        .await
        .map_err(internal)?;
    if kind != Callback::Heartbeat {
        tokens.forget(&hash).await.map_err(internal)?;
    }
    Ok(json!({}))
}

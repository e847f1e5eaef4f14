//! Task runners that need no network: mock responses, and the runner of last
//! resort that explains why a task could not run.

use serde_json::{Value, json};
use stepwise_asl::definition::resource::{Pattern, Resource};
use stepwise_asl::exec::TimerKind;
use stepwise_asl::states::Kind;
use stepwise_asl::{
    Effect, Env, ErrorName, Event, Execution, Output, StateMachine, StatesError, TaskCall, Thread,
    step,
};

use crate::mock::{Mocks, Response};
use crate::ports::{Abandoned, Progress, TaskContext, TaskResult, Tasks, follow_pause};

/// Answers mocked states from a mock configuration, the rest from `fallback`.
pub struct Mocked<T> {
    /// Shared by every chain of one server (the invocation counts are one
    /// per state of an execution, however the execution was started).
    pub mocks: Option<std::sync::Arc<Mocks>>,
    pub fallback: T,
}

impl<T: Tasks> Tasks for Mocked<T> {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        let next = |m: &std::sync::Arc<Mocks>| m.next(ctx.execution_arn, call);
        match self.mocks.as_ref().and_then(next) {
            Some(Response::Return(v)) => shape_mocked(call, v),
            Some(Response::Throw(e)) => Err(e),
            // Started on a test case where no mock configuration was given.
            None if self.mocks.is_none() && call.mock.is_some() => Err(StatesError::runtime(
                "The execution was started on a test case (<state machine ARN>#<test case>), \
                 but no mock configuration was given (stepwise serve --mock-config, or SFN_MOCK_CONFIG)",
            )),
            None => self.fallback.invoke(call, ctx).await,
        }
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.mocks.as_ref().is_some_and(|m| m.has(call)) || self.fallback.answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        !self.mocks.as_ref().is_some_and(|m| m.has(call)) && self.fallback.completes_later(call)
    }

    fn follows(&self, call: &TaskCall) -> bool {
        !self.mocks.as_ref().is_some_and(|m| m.has(call)) && self.fallback.follows(call)
    }

    async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        self.fallback.progress(call, started, stop).await
    }
}

/// The response metadata AWS's (Java) SDK adds to an optimized
/// integration's result: `SdkHttpMetadata` (the answer's headers and
/// status) and `SdkResponseMetadata` (its request id).
pub fn sdk_metadata(
    out: &mut serde_json::Map<String, Value>,
    request_id: &str,
    content_type: &str,
) {
    out.insert(
        "SdkHttpMetadata".into(),
        json!({
            "AllHttpHeaders": {"Content-Type": [content_type], "x-amzn-RequestId": [request_id]},
            "HttpHeaders": {"Content-Type": content_type, "x-amzn-RequestId": request_id},
            "HttpStatusCode": 200,
        }),
    );
    out.insert(
        "SdkResponseMetadata".into(),
        json!({"RequestId": request_id}),
    );
}

/// A mocked `Return` is the service's response; for a Lambda function ARN the
/// state's result is only its `Payload`, and a `FunctionError` is an error.
pub fn shape_mocked(call: &TaskCall, v: Value) -> TaskResult {
    let is_lambda = call.is_lambda_function()
        || call
            .canonical_resource()
            .starts_with("arn:aws:states:::lambda:");
    if is_lambda {
        if let Some(kind) = v.get("FunctionError").and_then(Value::as_str) {
            let payload = v.get("Payload").cloned().unwrap_or(Value::Null);
            return Err(function_error(kind, &payload));
        }
        if call.is_lambda_function()
            && let Some(p) = v.get("Payload")
        {
            return Ok(p.clone());
        }
    }
    Ok(v)
}

/// Whether `call` is an activity task to offer to GetActivityTask pollers
/// with its token, rather than to carry out down the chain: an activity's
/// state that no mock answers. The one rule for every driver.
pub fn offers_activity<T: Tasks>(tasks: &T, call: &TaskCall) -> bool {
    call.resource.contains(":activity:") && call.token.is_some() && !tasks.answers_callbacks(call)
}

/// Steps `thread` by `event` as every driver steps a thread: a Task that
/// would offer a task to an activity that does not exist (`exists` asks
/// the driver's catalog) is stepped again knowing it is missing, and fails
/// with States.Runtime as AWS fails it. `None` when the event does not
/// apply (it is stale) and the thread is unchanged.
pub async fn step_thread<T: Tasks>(
    machine: &StateMachine,
    facts: &Execution,
    thread: &mut Thread,
    event: Event,
    env: &Env,
    tasks: &T,
    exists: impl AsyncFnOnce(&str) -> bool,
) -> Option<Output> {
    // Kept as it was only when the step may offer an activity a task.
    let kept = may_offer_activity(machine, thread, &event).then(|| (thread.clone(), event.clone()));
    let mut out = step(machine, facts, thread, event, env);
    if let Some((before, again)) = kept
        && let Some(arn) = offered_activity(tasks, &out.effects)
        && !exists(arn).await
    {
        let missing = Env {
            missing_activity: Some(arn.to_owned()),
            ..env.clone()
        };
        *thread = before;
        out = step(machine, facts, thread, again, &missing);
    }
    out.applied.then_some(out)
}

/// Whether stepping `thread` by `event` may offer a task to an activity
/// (it runs a Task state whose resource is one).
fn may_offer_activity(machine: &StateMachine, thread: &Thread, event: &Event) -> bool {
    let runs = matches!(event, Event::Run)
        || matches!(
            event,
            Event::Timer {
                kind: TimerKind::Due,
                ..
            }
        );
    runs && (machine.scopes.get(thread.scope))
        .and_then(|scope| scope.get(&thread.state))
        .is_some_and(
            |s| matches!(&s.kind, Kind::Task(t) if matches!(t.resource, Resource::Activity { .. })),
        )
}

/// The activity a step's effects offer a task to, if any.
fn offered_activity<'a, T: Tasks>(tasks: &T, effects: &'a [Effect]) -> Option<&'a str> {
    effects.iter().find_map(|e| match e {
        Effect::Invoke(call) if offers_activity(tasks, call) => Some(call.resource.as_str()),
        _ => None,
    })
}

/// A Lambda task's invocation, however it is sent (the Invoke API with the
/// SDK on AWS, plain HTTP to a local endpoint).
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaCall {
    /// The function's name or ARN, as the state gave it.
    pub function: String,
    pub payload: Value,
    /// `arn:aws:states:::lambda:invoke`: the result is Invoke's response
    /// (`Payload`, `StatusCode`, …); a function ARN as the resource: the
    /// function's own.
    pub wrap: bool,
    /// What else lambda:invoke passes on to Invoke.
    pub options: InvokeOptions,
}

/// The Invoke parameters lambda:invoke passes on beside `FunctionName` and
/// `Payload`, as AWS does: the version or alias, `Event` (asynchronous) or
/// `DryRun`, `Tail` for the end of the function's log, the client context.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvokeOptions {
    pub qualifier: Option<String>,
    pub invocation_type: Option<String>,
    pub log_type: Option<String>,
    pub client_context: Option<String>,
}

impl InvokeOptions {
    fn of(parameters: &Value) -> InvokeOptions {
        let text = |key: &str| {
            parameters
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        InvokeOptions {
            qualifier: text("Qualifier"),
            invocation_type: text("InvocationType"),
            log_type: text("LogType"),
            client_context: text("ClientContext"),
        }
    }
}

impl LambdaCall {
    /// The Invoke request's body: the payload's JSON text, but a
    /// lambda:invoke `Payload` that is a string holding JSON text goes as it
    /// is, as AWS sends it (`"Payload.$": "States.JsonToString($)"` reaches
    /// the function as the object; LocalStack's AWS-recorded
    /// `test_invoke_json_values`).
    pub fn body(&self) -> String {
        match &self.payload {
            Value::String(s)
                if self.wrap && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok() =>
            {
                s.clone()
            }
            p => p.to_string(),
        }
    }

    /// The invocation `call` asks for; `None` when it is no Lambda task.
    pub fn of(call: &TaskCall) -> Option<Result<LambdaCall, StatesError>> {
        if call.is_lambda_function() {
            return Some(Ok(LambdaCall {
                function: call.resource.clone(),
                payload: call.payload.clone(),
                wrap: false,
                options: InvokeOptions::default(),
            }));
        }
        if !call
            .canonical_resource()
            .starts_with("arn:aws:states:::lambda:invoke")
        {
            return None;
        }
        let Some(function) = call.payload.get("FunctionName").and_then(Value::as_str) else {
            return Some(Err(StatesError::custom(
                "States.Runtime",
                format!(
                    "The state '{}' calls lambda:invoke without a FunctionName",
                    call.state
                ),
            )));
        };
        Some(Ok(LambdaCall {
            function: function.to_owned(),
            // (`"Payload": null` sends no payload, and the function gets
            // `{}`: recorded on AWS through TestState.)
            payload: (call.payload.get("Payload").filter(|p| !p.is_null()))
                .cloned()
                .unwrap_or(json!({})),
            wrap: true,
            options: InvokeOptions::of(&call.payload),
        }))
    }

    /// The task's result from what the function answered: `body` (its
    /// response, JSON or text), the function error it reported, the
    /// status, version and request id Invoke gave, and the end of its log
    /// (`LogType` `Tail`).
    pub fn result(
        &self,
        body: String,
        reported: Option<&str>,
        status: i32,
        version: Option<&str>,
        request_id: Option<&str>,
        log: Option<&str>,
    ) -> TaskResult {
        let length = body.len();
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
        if let Some(kind) = reported {
            let mut e = function_error(kind, &parsed);
            // A function's own ARN keeps the error as the function wrote
            // it (LocalStack's test_task_lambda, recorded on AWS: Python's
            // `{"errorMessage": "…", "errorType": …}`, spaces and all);
            // lambda:invoke writes it anew.
            if !self.wrap {
                e.cause = Some(body);
            }
            return Err(e);
        }
        if !self.wrap {
            return Ok(parsed);
        }
        // The response's metadata as AWS's SDK reports it (recorded on AWS:
        // LocalStack's context object tests), but for the headers that
        // vary by the moment (Date, X-Amzn-Trace-Id).
        let version = version.unwrap_or("$LATEST");
        let id = request_id.map_or_else(crate::uuid, str::to_owned);
        let mut headers = vec![
            ("X-Amz-Executed-Version", version.to_owned()),
            ("x-amzn-Remapped-Content-Length", "0".to_owned()),
            ("Connection", "keep-alive".to_owned()),
            ("x-amzn-RequestId", id.clone()),
            ("Content-Length", length.to_string()),
            ("Content-Type", "application/json".to_owned()),
        ];
        if let Some(log) = log {
            headers.push(("X-Amz-Log-Result", log.to_owned()));
        }
        let all: serde_json::Map<_, _> = (headers.iter())
            .map(|(k, v)| ((*k).to_owned(), json!([v])))
            .collect();
        // HttpHeaders by name, whatever the case, as AWS's SDK keeps them.
        headers.sort_by_key(|(k, _)| k.to_ascii_lowercase());
        let one: serde_json::Map<_, _> = (headers.iter())
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let mut out = json!({
            "ExecutedVersion": version,
            "Payload": parsed,
            "SdkHttpMetadata": {"AllHttpHeaders": all, "HttpHeaders": one, "HttpStatusCode": status},
            "SdkResponseMetadata": {"RequestId": id},
            "StatusCode": status,
        });
        if let (Some(log), Some(o)) = (log, out.as_object_mut()) {
            o.insert("LogResult".into(), log.into());
            o.sort_keys();
        }
        Ok(out)
    }
}

/// AWS's error for a Lambda function error: `errorType` names it, the whole
/// payload (JSON text) is the cause.
pub fn function_error(kind: &str, payload: &Value) -> StatesError {
    let payload = match payload {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
        other => other.clone(),
    };
    let name = payload
        .get("errorType")
        .and_then(Value::as_str)
        .unwrap_or(kind);
    let cause = match &payload {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    StatesError::custom(name, cause)
}

/// Fails every task with a sentence saying how to make it run.
pub struct Unavailable;

impl Tasks for Unavailable {
    async fn invoke(&self, call: &TaskCall, _ctx: &TaskContext<'_>) -> TaskResult {
        let how = if call.pattern == Pattern::WaitForTaskToken {
            "a callback task needs `stepwise serve` (SendTaskSuccess) or a mock response"
        } else {
            "give a mock response (--mock-config/--test-case) or a Lambda endpoint (--lambda-endpoint or AWS_ENDPOINT_URL_LAMBDA)"
        };
        Err(StatesError::new(
            ErrorName::TaskFailed,
            format!(
                "No runner for the resource {} of the state '{}': {how}",
                call.resource, call.state
            ),
        ))
    }
}

/// Tasks answered by a function: for tests and embedding.
pub struct FnTasks<F>(pub F);

impl<F: Fn(&TaskCall) -> TaskResult> Tasks for FnTasks<F> {
    async fn invoke(&self, call: &TaskCall, _ctx: &TaskContext<'_>) -> TaskResult {
        (self.0)(call)
    }
}

/// The event an inline call's answer gives its task: the answer, unless
/// the call outlasted the task's `TimeoutSeconds` — then the task timed
/// out (TaskTimedOut), as its timer, which could not fire while the call
/// ran in place, would have said.
pub fn inline_event(call: &TaskCall, took: std::time::Duration, result: TaskResult) -> Event {
    match call.timeout_seconds {
        Some(s) if took.as_secs() >= s => Event::Timer {
            wait: call.wait,
            kind: stepwise_asl::exec::TimerKind::Timeout,
        },
        _ => Event::task_result(call.wait, result),
    }
}

/// Carries a task call out to its end in place, the one way for every
/// driver that runs a call where it stands (the in-memory runner,
/// StartSyncExecution, TestState; the stepper follows jobs by messages
/// instead): the call goes down `tasks`' chain (mocks → nested
/// executions → service integrations → Lambda, as the backend built it).
/// A callback's request went out: its answer goes to `submitted`, and the
/// result comes later (`None`). A `.sync` job started (or `resumed`, its
/// start's answer kept from before a restart): its answer goes to
/// `submitted`, then the job is followed here until it ends, or until its
/// task gives up on it (`ctx.abandoned`, its TimeoutSeconds) and it is
/// stopped. Anything else: the call's result.
pub async fn carry_out<T: Tasks>(
    tasks: &T,
    call: &TaskCall,
    ctx: &TaskContext<'_>,
    resumed: Option<&Value>,
    submitted: impl FnOnce(&Value),
) -> Option<TaskResult> {
    let follows = tasks.follows(call);
    let started = match resumed.filter(|_| follows) {
        Some(started) => started.clone(),
        None => match tasks.invoke(call, ctx).await {
            Ok(answer) if tasks.awaits_token(call) => {
                submitted(&answer);
                return None;
            }
            Ok(started) if follows => {
                submitted(&started);
                started
            }
            result => return Some(result),
        },
    };
    Some(
        follow(
            |stop| tasks.progress(call, &started, stop),
            call.timeout_seconds,
            &ctx.abandoned,
        )
        .await,
    )
}

/// Follows in place, to its end, a job a `.sync` task started: `look(false)`
/// asks it once, again after each [`follow_pause`], until it ends; once
/// `abandoned` is raised, or the task's `TimeoutSeconds` (and a little
/// grace, so that a driver's own timer, which records TaskTimedOut, comes
/// first) pass, `look(true)` stops it. The pauses hold the thread: for
/// threads that follow one job each.
async fn follow<F: Future<Output = Progress>>(
    mut look: impl FnMut(bool) -> F,
    timeout_seconds: Option<u64>,
    abandoned: &Abandoned,
) -> TaskResult {
    use std::time::{Duration, Instant};
    let deadline = timeout_seconds.map(|s| Instant::now() + Duration::from_secs(s) + TIMEOUT_GRACE);
    let over = || {
        if abandoned.is_raised() {
            return Some(StatesError::custom(
                "States.TaskFailed",
                "The task no longer waits for the job: it was stopped",
            ));
        }
        deadline.filter(|d| Instant::now() >= *d).map(|_| {
            StatesError::custom(
                "States.Timeout",
                "The task's TimeoutSeconds passed: the job was stopped",
            )
        })
    };
    let mut looks = 0;
    loop {
        if let Progress::Done(result) = look(false).await {
            return result;
        }
        looks += 1;
        let until = Instant::now() + follow_pause(looks);
        loop {
            if let Some(why) = over() {
                let _ = look(true).await;
                return Err(why);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
}

/// How long after a task's TimeoutSeconds a call it made is still waited
/// for: a driver's own timer, which records the timeout, comes first.
pub const TIMEOUT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;

    fn call(resource: &str, payload: Value) -> TaskCall {
        TaskCall {
            wait: 1,
            state: "T".into(),
            resource: resource.into(),
            pattern: Pattern::RequestResponse,
            payload,
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            mock: None,
        }
    }

    #[test]
    fn a_lambda_call_is_read_once_for_every_transport() {
        let f = "arn:aws:lambda:us-east-1:123456789012:function:f";
        let direct = LambdaCall::of(&call(f, json!({"a": 1}))).and_then(Result::ok);
        assert_eq!(
            direct,
            Some(LambdaCall {
                function: f.into(),
                payload: json!({"a": 1}),
                wrap: false,
                options: InvokeOptions::default(),
            })
        );
        let invoke = "arn:aws:states:::lambda:invoke";
        let wrapped = call(invoke, json!({"FunctionName": "g", "Payload": [2]}));
        let wrapped = LambdaCall::of(&wrapped).and_then(Result::ok);
        assert_eq!(
            wrapped.map(|l| (l.function, l.payload, l.wrap)),
            Some(("g".into(), json!([2]), true))
        );
        let null = call(invoke, json!({"FunctionName": "g", "Payload": null}));
        let null = LambdaCall::of(&null).and_then(Result::ok);
        assert_eq!(null.map(|l| l.payload), Some(json!({})));
        let nameless = LambdaCall::of(&call(invoke, json!({}))).and_then(Result::err);
        assert_eq!(
            nameless.and_then(|e| e.error).as_deref(),
            Some("States.Runtime")
        );
        assert!(LambdaCall::of(&call("arn:aws:states:::sqs:sendMessage", json!({}))).is_none());
    }

    #[test]
    fn a_lambda_answer_is_the_functions_own_or_invokes_shape() {
        let own = LambdaCall {
            function: "f".into(),
            payload: json!({}),
            wrap: false,
            options: InvokeOptions::default(),
        };
        assert_eq!(
            own.result("{\"x\":1}".into(), None, 200, None, None, None),
            Ok(json!({"x": 1}))
        );
        let wrapped = LambdaCall {
            wrap: true,
            ..own.clone()
        };
        let out = (wrapped.result("\"hi\"".into(), None, 200, Some("7"), Some("r-1"), None)).ok();
        assert_eq!(
            out.as_ref().map(|o| (
                o["Payload"].clone(),
                o["StatusCode"].clone(),
                o["ExecutedVersion"].clone()
            )),
            Some((json!("hi"), json!(200), json!("7")))
        );
        // The request id Invoke answered with, where AWS's SDK reports it.
        let out = out.unwrap_or_default();
        assert_eq!(out["SdkResponseMetadata"], json!({"RequestId": "r-1"}));
        let headers = &out["SdkHttpMetadata"]["HttpHeaders"];
        assert_eq!(headers["x-amzn-RequestId"], "r-1");
        assert_eq!(headers["Content-Length"], "4");
        assert_eq!(
            out["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Executed-Version"],
            json!(["7"])
        );
        let failed = own.result(
            "{\"errorType\":\"Boom\",\"errorMessage\":\"no\"}".into(),
            Some("Unhandled"),
            200,
            None,
            None,
            None,
        );
        let e = failed.err();
        assert_eq!(e.as_ref().and_then(|e| e.error.as_deref()), Some("Boom"));
        assert!(
            e.and_then(|e| e.cause)
                .is_some_and(|c| c.contains("\"errorMessage\":\"no\""))
        );
        // A function's own ARN keeps the error's text as written; through
        // lambda:invoke it is written anew.
        let text = "{\"errorType\": \"Boom\", \"errorMessage\": \"no\"}";
        let cause = |call: &LambdaCall| {
            (call.result(text.into(), Some("Unhandled"), 200, None, None, None))
                .err()
                .and_then(|e| e.cause)
        };
        assert_eq!(cause(&own).as_deref(), Some(text));
        assert_eq!(
            cause(&wrapped).as_deref(),
            Some("{\"errorType\":\"Boom\",\"errorMessage\":\"no\"}")
        );
    }
}

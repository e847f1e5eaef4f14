//! Nested executions (`arn:aws:states:::states:startExecution`): the
//! parameters a task passes and the results its parent's task gets, as AWS
//! shapes them. Both backends start the child their own way and call these.

use serde_json::{Map, Value, json};
use stepwise_asl::definition::resource::{Pattern, Resource};
use stepwise_asl::exec::Phase;
use stepwise_asl::states::Kind;
use stepwise_asl::{Event, Execution, Outcome, StateMachine, StatesError, TaskCall, Thread};

use std::sync::Arc;

use crate::ports::{Progress, TaskContext, TaskResult, Tasks};
use crate::stepper::service::StartChild;
use crate::stepper::{ParentTask, TokenTarget};

/// Whether the call starts a nested execution.
pub fn is_start_execution(call: &TaskCall) -> bool {
    let resource = call.canonical_resource();
    let rest = resource.strip_prefix("arn:aws:states:::states:");
    rest.is_some_and(|r| r.split('.').next() == Some("startExecution"))
}

/// Whether the parent's task waits for the child to end (`.sync`, `.sync:2`).
pub fn waits_for_end(call: &TaskCall) -> bool {
    is_start_execution(call) && matches!(call.pattern, Pattern::Sync | Pattern::Sync2)
}

/// The wait of `thread`'s task when that task waits for a nested
/// execution to end (`.sync`, `.sync:2`), read before a step.
pub fn child_wait(machine: &StateMachine, thread: &Thread) -> Option<u64> {
    let Phase::Task { wait, .. } = thread.phase else {
        return None;
    };
    let state = machine.scopes.get(thread.scope)?.get(&thread.state)?;
    let Kind::Task(task) = &state.kind else {
        return None;
    };
    match &task.resource {
        Resource::Service {
            service,
            action,
            pattern: Pattern::Sync | Pattern::Sync2,
            ..
        } if service == "states" && action == "startExecution" => Some(wait),
        _ => None,
    }
}

/// The nested execution a step gave up on: `before` is [`child_wait`]
/// before the step; when the step left that wait for anything but the
/// child's own answer (the task timed out, its thread was stopped or
/// cancelled), the child is stopped, as AWS stops it.
pub fn abandoned(before: Option<u64>, answered: Option<u64>, after: Option<u64>) -> Option<u64> {
    let wait = before?;
    (after != Some(wait) && answered != Some(wait)).then_some(wait)
}

/// The wait an event answers: a task's result or heartbeat.
pub fn answered_wait(event: &Event) -> Option<u64> {
    match event {
        Event::TaskSucceeded { wait, .. }
        | Event::TaskFailed { wait, .. }
        | Event::TaskHeartbeat { wait }
        | Event::WorkerStarted { wait, .. } => Some(*wait),
        _ => None,
    }
}

/// StartExecution's request body from the task's parameters: `Input` as
/// JSON is sent as its text, a string as it is. Without a `Name`, one is
/// derived from the parent's execution, thread and wait, so a step that
/// runs again starts the same child (StartExecution is idempotent by name
/// and input) rather than a second one.
pub fn request(call: &TaskCall, execution: &str, thread: &str) -> Result<Value, StatesError> {
    let p = &call.payload;
    let machine = p["StateMachineArn"].as_str().ok_or_else(|| {
        StatesError::custom(
            "States.Runtime",
            "The states:startExecution task needs the parameter 'StateMachineArn'",
        )
    })?;
    let input = match &p["Input"] {
        Value::Null => "{}".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let name = match p["Name"].as_str() {
        Some(n) => n.to_owned(),
        None => derived_name(&format!("{execution}/{thread}/{}", call.wait)),
    };
    Ok(json!({"stateMachineArn": machine, "input": input, "name": name}))
}

/// A UUID-shaped name from a hash of `key`.
fn derived_name(key: &str) -> String {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(key.as_bytes());
    let x: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// The request-response result: `ExecutionArn` and `StartDate` (epoch ms),
/// with the SDK's response metadata, as AWS's histories show it.
pub fn started(execution_arn: &str, start: i64) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("ExecutionArn".into(), execution_arn.into());
    out.insert("StartDate".into(), start.into());
    crate::tasks::sdk_metadata(&mut out, &crate::uuid(), "application/x-amz-json-1.0");
    Value::Object(out)
}

/// The StartExecution API's error as a task error:
/// `StepFunctions.ExecutionAlreadyExistsException`, …, its cause worded as
/// AWS's (Java) SDK words a refusal, as AWS's recorded histories show.
pub fn api_error(code: &str, message: &str) -> StatesError {
    let name = if code.ends_with("Exception") {
        format!("StepFunctions.{code}")
    } else {
        format!("StepFunctions.{code}Exception")
    };
    let cause = format!(
        "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; Request ID: {}; Proxy: null)",
        crate::uuid()
    );
    StatesError::custom(name, cause)
}

/// What a `.sync` (`json: false`) or `.sync:2` (`json: true`) task gets
/// when its child ends: the child described as DescribeExecution does, in
/// AWS's capitalised names. A child that did not succeed fails the task
/// with `States.TaskFailed`, the description as the cause.
pub fn ended(child: &Execution, outcome: &Outcome, stopped: i64, json: bool) -> TaskResult {
    // A failure's cause is the child as DescribeExecution gives it: its
    // input is JSON text even for `.sync:2` (AWS's, as measured).
    let json = json && matches!(outcome, Outcome::Succeeded(_));
    let text = |v: &Value| -> Value {
        if json {
            v.clone()
        } else {
            Value::String(v.to_string())
        }
    };
    let mut o = Map::new();
    o.insert("ExecutionArn".into(), child.arn.clone().into());
    o.insert("Input".into(), text(&child.input));
    o.insert("InputDetails".into(), json!({"Included": true}));
    o.insert("Name".into(), child.name.clone().into());
    let (status, error) = match outcome {
        Outcome::Succeeded(out) => {
            o.insert("Output".into(), text(out));
            o.insert("OutputDetails".into(), json!({"Included": true}));
            ("SUCCEEDED", None)
        }
        Outcome::Failed(e) => ("FAILED", Some(e)),
        Outcome::TimedOut(e) => ("TIMED_OUT", Some(e)),
        Outcome::Aborted(e) => ("ABORTED", Some(e)),
    };
    // A timed-out execution is described without an error.
    if let Some(e) = error.filter(|_| !matches!(outcome, Outcome::TimedOut(_))) {
        if let Some(name) = &e.error {
            o.insert("Error".into(), name.clone().into());
        }
        if let Some(cause) = &e.cause {
            o.insert("Cause".into(), cause.clone().into());
        }
    }
    o.insert(
        "RedriveCount".into(),
        child.redrive_count.unwrap_or(0).into(),
    );
    if status == "SUCCEEDED" {
        o.insert("RedriveStatus".into(), "NOT_REDRIVABLE".into());
        o.insert(
            "RedriveStatusReason".into(),
            "Execution is SUCCEEDED and cannot be redriven".into(),
        );
    } else {
        o.insert("RedriveStatus".into(), "REDRIVABLE".into());
    }
    o.insert("StartDate".into(), child.start_time.into());
    o.insert(
        "StateMachineArn".into(),
        child.state_machine_arn.clone().into(),
    );
    o.insert("Status".into(), status.into());
    o.insert("StopDate".into(), stopped.into());
    // In AWS's order: by name (Cause and Error first).
    o.sort_keys();
    let description = Value::Object(o);
    match error {
        None => Ok(description),
        Some(_) => Err(StatesError::custom(
            "States.TaskFailed",
            description.to_string(),
        )),
    }
}

/// Tasks of an execution run in place (StartSyncExecution, TestState) on
/// a server: a request-response `states:startExecution` starts the child
/// through that server's own StartExecution, in the parent's region, as
/// the server's other executions would; the rest go to `fallback`. (An
/// EXPRESS execution may not wait for a child: `.sync` is refused when
/// its machine is created.)
pub struct WithApi<'a, T> {
    pub api: &'a dyn crate::api::Service,
    pub fallback: T,
}

impl<T: crate::ports::Tasks> crate::ports::Tasks for WithApi<'_, T> {
    async fn invoke(&self, call: &TaskCall, ctx: &crate::ports::TaskContext<'_>) -> TaskResult {
        if !is_start_execution(call) || call.pattern != Pattern::RequestResponse {
            return self.fallback.invoke(call, ctx).await;
        }
        let body = request(call, ctx.execution_arn, ctx.thread)?;
        let region = ctx.execution_arn.split(':').nth(3);
        let out = self
            .api
            .call_in(region, "StartExecution", body)
            .await
            .map_err(|e| api_error(e.code, &e.message))?;
        let arn = out["executionArn"].as_str().unwrap_or_default();
        let start = out["startDate"].as_f64().unwrap_or_default();
        Ok(started(arn, (start * 1000.0).round() as i64))
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.fallback.answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        self.fallback.completes_later(call)
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.fallback.follows(call)
    }

    fn progress(
        &self,
        call: &TaskCall,
        started: &Value,
        stop: bool,
    ) -> impl std::future::Future<Output = crate::ports::Progress> {
        self.fallback.progress(call, started, stop)
    }
}

/// Nested executions first (when there is a service to start them);
/// any other resource goes to `fallback`.
pub struct WithExecutions<A, T> {
    pub service: Option<Arc<A>>,
    pub fallback: T,
}

impl<A: StartChild, T: Tasks> Tasks for WithExecutions<A, T> {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        match &self.service {
            Some(service) if is_start_execution(call) => {
                let task = TokenTarget {
                    execution: ctx.execution_arn.to_owned(),
                    thread: ctx.thread.to_owned(),
                    wait: call.wait,
                };
                let parent = waits_for_end(call).then(|| ParentTask {
                    target: task.clone(),
                    json: call.pattern == Pattern::Sync2,
                });
                let body = request(call, ctx.execution_arn, ctx.thread)?;
                let (arn, start) = service
                    .start_child(&body, parent, Some(task))
                    .await
                    .map_err(|e| api_error(e.code, &e.message))?;
                Ok(started(&arn, start))
            }
            _ => self.fallback.invoke(call, ctx).await,
        }
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.fallback.answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        (self.service.is_some() && waits_for_end(call)) || self.fallback.completes_later(call)
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.fallback.follows(call)
    }

    async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        self.fallback.progress(call, started, stop).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn child() -> Execution {
        Execution {
            arn: "arn:aws:states:us-east-1:123456789012:execution:Child:c1".into(),
            name: "c1".into(),
            input: json!({"a": 1}),
            start_time: 1000,
            role_arn: String::new(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:Child".into(),
            state_machine_name: "Child".into(),
            redrive_count: Some(0),
            given_context: None,
            state_name: None,
            mock: None,
        }
    }

    #[test]
    fn sync_gives_json_text_and_sync2_gives_json() {
        let out = Outcome::Succeeded(json!({"b": 2}));
        let text = ended(&child(), &out, 2000, false).unwrap();
        assert_eq!(text["Output"], json!("{\"b\":2}"));
        assert_eq!(text["Input"], json!("{\"a\":1}"));
        assert_eq!(text["Status"], "SUCCEEDED");
        assert_eq!(text["StopDate"], 2000);
        let doc = ended(&child(), &out, 2000, true).unwrap();
        assert_eq!(doc["Output"], json!({"b": 2}));
    }

    #[test]
    fn a_failed_child_fails_the_task_with_its_description() {
        let out = Outcome::Failed(StatesError::custom("Boom", "it broke"));
        let e = ended(&child(), &out, 2000, false).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.TaskFailed"));
        let cause: Value = serde_json::from_str(e.cause.as_deref().unwrap()).unwrap();
        assert_eq!(cause["Status"], "FAILED");
        assert_eq!(cause["Error"], "Boom");
        assert_eq!(cause["Cause"], "it broke");
    }

    #[test]
    fn a_failed_childs_cause_is_its_description_in_awss_order() {
        // By name, Cause and Error first; the input as text even for
        // `.sync:2`; a timed-out child without an error (AWS's, measured).
        let out = Outcome::Failed(StatesError::custom("Boom", "it broke"));
        let e = ended(&child(), &out, 2000, true).unwrap_err();
        assert_eq!(
            e.cause.as_deref(),
            Some(
                "{\"Cause\":\"it broke\",\"Error\":\"Boom\",\"ExecutionArn\":\"arn:aws:states:us-east-1:123456789012:execution:Child:c1\",\
                 \"Input\":\"{\\\"a\\\":1}\",\"InputDetails\":{\"Included\":true},\"Name\":\"c1\",\"RedriveCount\":0,\
                 \"RedriveStatus\":\"REDRIVABLE\",\"StartDate\":1000,\
                 \"StateMachineArn\":\"arn:aws:states:us-east-1:123456789012:stateMachine:Child\",\
                 \"Status\":\"FAILED\",\"StopDate\":2000}"
            )
        );
        let timed_out = Outcome::TimedOut(StatesError::custom("States.Timeout", ""));
        let e = ended(&child(), &timed_out, 2000, false).unwrap_err();
        let cause: Value = serde_json::from_str(e.cause.as_deref().unwrap_or_default()).unwrap();
        assert_eq!(cause["Status"], "TIMED_OUT");
        assert!(
            cause.get("Error").is_none() && cause.get("Cause").is_none(),
            "{cause}"
        );
    }

    #[test]
    fn a_missing_name_is_derived_from_the_parent_task() {
        let call = TaskCall {
            wait: 3,
            state: "S".into(),
            resource: "arn:aws:states:::states:startExecution.sync".into(),
            pattern: Pattern::Sync,
            payload: json!({"StateMachineArn": "arn:m", "Input": {"x": 1}}),
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            mock: None,
        };
        let a = request(&call, "arn:e", "root").unwrap();
        assert_eq!(a, request(&call, "arn:e", "root").unwrap());
        assert_ne!(
            a["name"],
            request(&call, "arn:e", "root/1").unwrap()["name"]
        );
        assert_eq!(a["input"], "{\"x\":1}");
        assert!(waits_for_end(&call));
    }
}

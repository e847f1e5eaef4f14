//! Task: hands its effective input to a resource and waits for the result.

use serde_json::Value;

use crate::definition::fields::{Fields, parse_path};
use crate::definition::problem::Problems;
use crate::definition::resource::{Pattern, Resource};
use crate::definition::{Builder, Lang, State};
use crate::error::{ErrorName, StatesError};
use crate::exec::{EventType, Step, Thread};
use crate::jsonata::{JTemplate, expression_text};
use crate::path::Path;
use crate::template::Template;

/// A number of seconds, literal or read from the input.
#[derive(Debug, Clone)]
pub enum Seconds {
    Literal(u64),
    Path(Path),
    Expr(JTemplate),
}

/// `Credentials`: the role the task is called as, resolved when the state
/// runs (a path, an intrinsic, a variable or a JSONata expression may name
/// it).
#[derive(Debug, Clone)]
pub enum Credentials {
    Path(Template),
    Ata(JTemplate),
}

#[derive(Debug, Clone)]
pub struct Task {
    pub resource: Resource,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
    pub credentials: Option<Credentials>,
}

/// AWS's upper bound for TimeoutSeconds and HeartbeatSeconds.
const MAX_SECONDS: u64 = 99_999_999;

impl Task {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Task> {
        let arn = f.required_string("Resource", p)?;
        // An unknown resource is one problem: the state's others are still
        // told.
        let resource = Resource::parse(&arn)
            .map_err(|msg| p.schema(&f.ptr("Resource"), msg))
            .ok();
        if b.options.express
            && let Some(resource) = &resource
        {
            let unsupported = match resource.pattern() {
                _ if matches!(resource, Resource::Activity { .. }) => {
                    Some("Express state machine does not support Activity ARN")
                }
                Pattern::Sync | Pattern::Sync2 => {
                    Some("Express state machine does not support '.sync' service integration")
                }
                Pattern::WaitForTaskToken => Some(
                    "Express state machine does not support '.waitForTaskToken' service integration ",
                ),
                Pattern::RequestResponse => None,
            };
            if let Some(msg) = unsupported {
                p.schema(&f.ptr("Resource"), msg);
            }
        }
        let (timeout, heartbeat) = if b.current == Lang::JsonAta {
            (
                ata_seconds(f, "TimeoutSeconds", p),
                ata_seconds(f, "HeartbeatSeconds", p),
            )
        } else {
            (
                seconds(f, "TimeoutSeconds", "TimeoutSecondsPath", p),
                seconds(f, "HeartbeatSeconds", "HeartbeatSecondsPath", p),
            )
        };
        if let (Some(Seconds::Literal(t)), Some(Seconds::Literal(h))) = (&timeout, &heartbeat)
            && h >= t
        {
            p.schema(
                &f.ptr("HeartbeatSeconds"),
                "HeartbeatSeconds must be smaller than TimeoutSeconds",
            );
        }
        let at = f.ptr("Credentials");
        let credentials = f.raw("Credentials").map(|c| {
            if c.get("RoleArn").is_none() && c.get("RoleArn.$").is_none() {
                p.schema(&at, "The field 'RoleArn' is required but was missing");
            }
            match b.current {
                Lang::JsonAta => Credentials::Ata(JTemplate::parse(c, "Credentials", &at, p)),
                _ => Credentials::Path(Template::parse(c, &at, p)),
            }
        });
        Some(Task {
            resource: resource?,
            timeout,
            heartbeat,
            credentials,
        })
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        if let Resource::Activity { arn } = &self.resource
            && s.missing_activity() == Some(arn.as_str())
        {
            let e = StatesError::runtime(format!("The activity {arn} does not exist."));
            return s.fail_state(t, state, e);
        }
        let token = match self.resource.pattern() {
            Pattern::WaitForTaskToken => Some(s.new_token()),
            _ if matches!(self.resource, Resource::Activity { .. }) => Some(s.new_token()),
            _ => None,
        };
        let payload = match s.effective_input(t, state, token.as_deref()) {
            Ok(v) => v,
            Err(e) => return s.fail_state(t, state, e),
        };
        let input = t.input.clone();
        let resolve = |s: &mut Step<'_>, t: &Thread, secs: &Option<Seconds>, field: &str| {
            match secs {
            None => Ok(None),
            Some(Seconds::Literal(n)) => Ok(Some(*n)),
            Some(Seconds::Expr(e)) => match s.eval_ata(t, state, e, &[])? {
                v if v.as_u64().is_some_and(|n| (1..=MAX_SECONDS).contains(&n)) => Ok(v.as_u64()),
                v => Err(StatesError::new(
                    ErrorName::QueryEvaluationError,
                    format!("The JSONata expression '{}' specified for the field '{field}' returned an unexpected result type. Expected 'integer', but was '{}' for value: {v}", e.source(), crate::jsonata::type_name(&v)),
                )),
            },
            Some(Seconds::Path(p)) => s.with_scope(t, state, &input, None, |scope| {
                match scope.resolve(p).ok().and_then(|v| v.as_u64()) {
                    Some(n) if (1..=MAX_SECONDS).contains(&n) => Ok(Some(n)),
                    _ => Err(StatesError::runtime(format!(
                        "The {field}Path field references an invalid value: {p}; it must be a positive integer"
                    ))),
                }
            }),
        }
        };
        let timeout_seconds = match resolve(s, t, &self.timeout, "TimeoutSeconds") {
            Ok(v) => v,
            Err(e) => return s.fail_state(t, state, e),
        };
        let heartbeat_seconds = match resolve(s, t, &self.heartbeat, "HeartbeatSeconds") {
            Ok(v) => v,
            Err(e) => return s.fail_state(t, state, e),
        };
        // The role, as the scheduled event names it (`taskCredentials`).
        let role = match &self.credentials {
            None => Ok(None),
            Some(Credentials::Path(c)) => s
                .with_scope(t, state, &input, token.as_deref(), |scope| c.eval(scope))
                .map(Some),
            Some(Credentials::Ata(c)) => s.eval_ata(t, state, c, &[]).map(Some),
        };
        let role = match role {
            Ok(c) => c.map(|c| c["RoleArn"].clone()),
            Err(e) => return s.fail_state(t, state, e),
        };
        s.invoke(
            t,
            state,
            &self.resource,
            payload,
            token,
            [timeout_seconds, heartbeat_seconds],
            role,
        );
    }

    /// History event types for this resource's scheduled/started/succeeded/failed/timed-out.
    pub fn event_types(&self) -> [EventType; 5] {
        match self.resource {
            Resource::LambdaFunction { .. } => [
                EventType::LambdaFunctionScheduled,
                EventType::LambdaFunctionStarted,
                EventType::LambdaFunctionSucceeded,
                EventType::LambdaFunctionFailed,
                EventType::LambdaFunctionTimedOut,
            ],
            Resource::Activity { .. } => [
                EventType::ActivityScheduled,
                EventType::ActivityStarted,
                EventType::ActivitySucceeded,
                EventType::ActivityFailed,
                EventType::ActivityTimedOut,
            ],
            Resource::Service { .. } => [
                EventType::TaskScheduled,
                EventType::TaskStarted,
                EventType::TaskSucceeded,
                EventType::TaskFailed,
                EventType::TaskTimedOut,
            ],
        }
    }
}

fn seconds(
    f: &mut Fields<'_>,
    literal: &'static str,
    path: &'static str,
    p: &mut Problems,
) -> Option<Seconds> {
    f.one_of_pair(literal, path, p);
    if let Some(n) = f.uint(literal, MAX_SECONDS, p) {
        if n == 0 {
            p.schema(
                &f.ptr(literal),
                format!("The field '{literal}' must be a positive integer"),
            );
        }
        return Some(Seconds::Literal(n));
    }
    let v = f.raw(path)?;
    match v.as_str().map(|s| parse_path(path, s, true)) {
        Some(Ok(p)) => Some(Seconds::Path(p)),
        Some(Err(msg)) => {
            p.schema(&f.ptr(path), msg);
            None
        }
        None => {
            p.schema(
                &f.ptr(path),
                format!("The field '{path}' must be a reference path"),
            );
            None
        }
    }
}

fn ata_seconds(f: &mut Fields<'_>, key: &'static str, p: &mut Problems) -> Option<Seconds> {
    let at = f.ptr(key);
    match f.obj.get(key) {
        Some(v @ Value::String(s)) if expression_text(s).is_some() => {
            let t = JTemplate::parse(v, key, &at, p);
            f.raw(key);
            Some(Seconds::Expr(t))
        }
        Some(_) => f.uint(key, MAX_SECONDS, p).map(Seconds::Literal),
        None => None,
    }
}

//! [`Step`]: one transition in progress. The state modules call back into it
//! to read their scope, complete, fail, wait, invoke or fan out.

use serde_json::{Map, Value, json};

use super::history::{EventType, HistoryEvent};
use super::thread::{Phase, Thread};
use super::{Effect, Env, Event, Execution, Outcome, TaskCall, TimerKind};
use crate::definition::resource::Resource;
use crate::definition::{State, StateMachine};
use crate::error::{ErrorName, StatesError};
use crate::random::Random;
use crate::states::Kind;
use crate::timestamp::Millis;

/// AWS's limit on a state's input and output: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

pub struct Step<'a> {
    pub(super) machine: &'a StateMachine,
    pub(crate) exec: &'a Execution,
    pub(super) env: &'a Env,
    pub(crate) random: Random,
    /// Assignments of the state being completed, applied as it exits.
    pub(super) pending: Map<String, Value>,
    /// False when the event was stale and nothing changed.
    pub applied: bool,
    pub effects: Vec<Effect>,
    pub history: Vec<HistoryEvent>,
    /// This execution's events not kept (`Env::history` off): they still
    /// take their ids, so a cause's "event id #N" reads the same either way.
    pub(super) unkept: u64,
    /// The failure being handled is a missed heartbeat: rules naming
    /// States.HeartbeatTimeout match it ([`crate::retry::matches_heartbeat`]).
    pub(super) heartbeat_missed: bool,
    /// Children a failing fan-out cut short ([`super::Cut`]).
    pub(super) cuts: Vec<super::Cut>,
}

impl<'a> Step<'a> {
    /// An activity the driver found missing ([`Env::missing_activity`]).
    pub(crate) fn missing_activity(&self) -> Option<&str> {
        self.env.missing_activity.as_deref()
    }

    pub(super) fn new(machine: &'a StateMachine, exec: &'a Execution, env: &'a Env) -> Self {
        Step {
            machine,
            exec,
            env,
            random: Random::new(env.seed),
            pending: Map::new(),
            applied: true,
            effects: Vec::new(),
            history: Vec::new(),
            unkept: 0,
            heartbeat_missed: false,
            cuts: Vec::new(),
        }
    }

    pub fn now(&self) -> Millis {
        self.env.now
    }

    pub(super) fn state_of(&self, t: &Thread) -> Option<&'a State> {
        self.machine.scopes.get(t.scope)?.get(&t.state)
    }

    pub(super) fn handle(&mut self, t: &mut Thread, event: Event) {
        if t.is_done() {
            self.applied = false;
            return;
        }
        let Some(state) = self.state_of(t) else {
            let e = StatesError::runtime(format!(
                "The state '{}' does not exist in this state machine",
                t.state
            ));
            return self.finish(t, Outcome::Failed(e));
        };
        let wait = t.current_wait();
        match event {
            Event::Stop { error, timed_out } => {
                self.cancel_children(t);
                let outcome = if timed_out {
                    Outcome::TimedOut(error)
                } else {
                    Outcome::Aborted(error)
                };
                self.finish(t, outcome);
            }
            Event::MachineTimeout { attempt } if attempt == t.redrives => {
                self.cancel_children(t);
                let e = StatesError {
                    error: Some(ErrorName::Timeout.as_str().into()),
                    cause: None,
                };
                self.finish(t, Outcome::TimedOut(e));
            }
            Event::Run if matches!(t.phase, Phase::Ready { .. }) => self.run(t, state),
            Event::Timer {
                wait: w,
                kind: TimerKind::Due,
            } if Some(w) == wait => match t.phase {
                Phase::Backoff { .. } => {
                    t.phase = Phase::Ready { entered: true };
                    self.run(t, state);
                }
                Phase::Waiting { .. } => match self.effective_input(t, state, None) {
                    Ok(input) => self.complete(t, state, input),
                    Err(e) => self.fail_state(t, state, e),
                },
                Phase::Children { .. } => self.spawn_rest(t, state),
                _ => self.applied = false,
            },
            Event::TaskSucceeded { wait: w, output }
                if Some(w) == wait && matches!(t.phase, Phase::Reading { .. }) =>
            {
                match &state.kind {
                    Kind::Map(m) => m.items_read(self, t, state, output),
                    _ => self.applied = false,
                }
            }
            Event::TaskFailed { wait: w, error }
                if Some(w) == wait && matches!(t.phase, Phase::Reading { .. }) =>
            {
                // As AWS names it, whatever stopped the read.
                let e = wrapped(ErrorName::ItemReaderFailed, &error);
                self.read_failed(t, state, w, e);
            }
            Event::TaskSucceeded { wait: w, output }
                if Some(w) == wait && matches!(t.phase, Phase::Writing { .. }) =>
            {
                self.complete(t, state, output);
            }
            Event::TaskFailed { wait: w, error }
                if Some(w) == wait && matches!(t.phase, Phase::Writing { .. }) =>
            {
                let e = wrapped(ErrorName::ResultWriterFailed, &error);
                self.fail_state(t, state, e);
            }
            Event::WorkerStarted { wait: w, worker }
                if Some(w) == wait && matches!(t.phase, Phase::Task { .. }) =>
            {
                if !self.start_activity(t, state, worker) {
                    self.applied = false;
                }
            }
            Event::TaskSucceeded { wait: w, output }
                if Some(w) == wait && matches!(t.phase, Phase::Task { .. }) =>
            {
                self.start_activity(t, state, None);
                // A result over the payload limit is the task's failure,
                // which a Retry or Catch takes (States.ALL too), as AWS
                // records it (LocalStack's test_states_errors).
                if let (true, Kind::Task(task)) = (exceeds(&output, MAX_PAYLOAD_BYTES), &state.kind)
                {
                    let e = result_too_large(&task.resource);
                    self.task_event(t, state, 3, error_details(&e));
                    return self.fail_state(t, state, e);
                }
                self.task_event(
                    t,
                    state,
                    2,
                    json!({"output": output, "outputDetails": {"truncated": false}}),
                );
                self.complete(t, state, output);
            }
            Event::TaskFailed { wait: w, error }
                if Some(w) == wait && matches!(t.phase, Phase::Task { .. }) =>
            {
                self.start_activity(t, state, None);
                self.task_event(t, state, 3, error_details(&error));
                self.fail_state(t, state, error);
            }
            Event::Timer {
                wait: w,
                kind: TimerKind::Timeout,
            } if Some(w) == wait && matches!(t.phase, Phase::Task { .. }) => {
                let e = StatesError {
                    error: Some(ErrorName::Timeout.as_str().into()),
                    cause: None,
                };
                self.task_event(t, state, 4, error_details(&e));
                self.fail_state(t, state, e);
            }
            Event::Timer {
                wait: w,
                kind: TimerKind::Heartbeat,
            } if Some(w) == wait => match t.phase {
                Phase::Task {
                    heartbeat: Some((_, deadline)),
                    ..
                } if self.now() >= deadline => {
                    // AWS reports a missed heartbeat as States.Timeout;
                    // States.HeartbeatTimeout is a name for Retry and Catch
                    // rules alone, which match it too.
                    let e = StatesError {
                        error: Some(ErrorName::Timeout.as_str().into()),
                        cause: None,
                    };
                    self.task_event(t, state, 4, error_details(&e));
                    self.heartbeat_missed = true;
                    self.fail_state(t, state, e);
                }
                _ => self.applied = false,
            },
            Event::TaskSubmitted { wait: w, output }
                if Some(w) == wait && matches!(t.phase, Phase::Task { .. }) =>
            {
                match &state.kind {
                    Kind::Task(task) if matches!(task.resource, Resource::Service { .. }) => {
                        let details = json!({
                            "output": output,
                            "outputDetails": {"truncated": false},
                            "resource": resource_name(&task.resource),
                            "resourceType": resource_type(&task.resource),
                        });
                        self.record(t, EventType::TaskSubmitted, || details);
                    }
                    _ => self.applied = false,
                }
            }
            Event::TaskHeartbeat { wait: w } if Some(w) == wait => match &mut t.phase {
                Phase::Task {
                    heartbeat: Some((secs, deadline)),
                    ..
                } => {
                    *deadline = self.env.now + *secs as i64 * 1000;
                    let at = *deadline;
                    self.effects.push(Effect::Schedule {
                        at,
                        event: Event::Timer {
                            wait: w,
                            kind: TimerKind::Heartbeat,
                        },
                    });
                }
                _ => self.applied = false,
            },
            Event::ChildFinished {
                wait: w,
                index,
                outcome,
                resume,
                clock,
            } if Some(w) == wait => {
                // What a thread inside a child execution recorded comes
                // before what its parent records next.
                if let Some(c) = t.child.as_mut() {
                    c.recorded = c.recorded.max(clock);
                }
                self.child_finished(t, state, index, outcome, resume)
            }
            Event::UpdateMapRun(update) => self.update_map_run(t, state, &update),
            _ => self.applied = false,
        }
    }

    fn run(&mut self, t: &mut Thread, state: &State) {
        if t.phase == (Phase::Ready { entered: false }) {
            t.entered_at = self.env.now;
            t.entered_event = self.record(t, state.kind.entered(), || {
                json!({"name": state.name, "input": t.input, "inputDetails": {"truncated": false}})
            });
            t.phase = Phase::Ready { entered: true };
        }
        match &state.kind {
            Kind::Pass(p) => p.run(self, t, state),
            Kind::Task(task) => task.run(self, t, state),
            Kind::Choice(c) => c.run(self, t, state),
            Kind::Wait(w) => w.run(self, t, state),
            Kind::Succeed => crate::states::succeed::run(self, t, state),
            Kind::Fail(f) => f.run(self, t, state),
            Kind::Parallel(p) => p.run(self, t, state),
            Kind::Map(m) => m.run(self, t, state),
        }
    }

    /// Appends a history event of `t` and returns its id.
    pub fn record(&mut self, t: &Thread, kind: EventType, details: impl FnOnce() -> Value) -> u64 {
        self.record_event(t, kind, false, None, details)
    }

    /// [`record`](Self::record) an event of `t` that follows the last event
    /// of the thread `after` (a child of `t`'s) rather than `t`'s own.
    pub(super) fn record_after(&mut self, t: &Thread, kind: EventType, after: String) -> u64 {
        self.record_event(t, kind, false, Some(after), || json!({}))
    }

    pub(super) fn record_event(
        &mut self,
        t: &Thread,
        kind: EventType,
        with_entry: bool,
        after: Option<String>,
        details: impl FnOnce() -> Value,
    ) -> u64 {
        // A child execution numbers its own history.
        // (Each cut this step made takes its id, whether or not it is kept.)
        let cut = self.cuts.len() as u64;
        let first = t
            .child
            .as_ref()
            .map_or(self.env.event_id + self.unkept + cut, |c| c.recorded + 1);
        let id = first + self.history.len() as u64;
        if t.recorded && !self.env.history && t.child.is_none() {
            self.unkept += 1;
        }
        if (t.recorded && self.env.history) || t.child.is_some() {
            let details = details();
            self.history.push(HistoryEvent {
                timestamp: self.env.now,
                kind,
                thread: t.id.clone(),
                details,
                with_entry,
                after,
            });
        }
        id
    }

    /// EvaluationFailed, when `error` (as the state raised it, before
    /// [`locate`](Self::locate)) is a JSONata expression's failure or its
    /// value's: the error, the state and the field that failed. Returns
    /// whether it was one.
    pub(crate) fn evaluation_failed(
        &mut self,
        t: &Thread,
        state: &State,
        error: &StatesError,
    ) -> bool {
        if !error.is(ErrorName::QueryEvaluationError) {
            return false;
        }
        let location = error.cause.as_deref().and_then(evaluated_field);
        let mut details = error_details(&self.locate(t, state, error.clone()));
        details["state"] = state.name.clone().into();
        if let Some(field) = location {
            details["location"] = field.into();
        }
        // AWS numbers a failure as the state starts like the state's entry;
        // a Wait state's Timestamp or Seconds is evaluated after it.
        let with_entry =
            t.entered_event >= self.env.event_id && !matches!(state.kind, Kind::Wait(_));
        self.record_event(t, EventType::EvaluationFailed, with_entry, None, || details);
        true
    }

    /// Fails the whole thread, past any Retry or Catch.
    pub fn fail_thread(&mut self, t: &mut Thread, state: &State, error: StatesError) {
        let _ = state;
        self.finish(t, Outcome::Failed(error));
    }

    /// AWS prefixes runtime errors with the state and its Entered event id.
    pub(crate) fn locate(&self, t: &Thread, state: &State, mut error: StatesError) -> StatesError {
        let located = error.is(ErrorName::Runtime) || error.is(ErrorName::QueryEvaluationError);
        if let (true, Some(cause)) = (located, &error.cause)
            && !cause.starts_with("An error occurred while executing the state")
        {
            error.cause = Some(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
                state.name, t.entered_event
            ));
        }
        error
    }

    pub(super) fn finish(&mut self, t: &mut Thread, outcome: Outcome) {
        self.finish_after(t, outcome, None);
    }

    /// [`finish`](Self::finish), the execution's end (if this ends it)
    /// following the last event of the child thread `after`.
    pub(super) fn finish_after(&mut self, t: &mut Thread, outcome: Outcome, after: Option<String>) {
        t.phase = Phase::Done;
        let child_root = t.child.as_ref().is_some_and(|c| c.member.is_none());
        if t.parent.is_none() || child_root {
            let (kind, details) = super::history::execution_end(&outcome);
            self.record_event(t, kind, false, after, || details);
        } else {
            // (Its parent's failure follows the same event.)
            t.failed_in = after;
        }
        self.effects.push(Effect::Finish(outcome));
    }

    /// Sends a Map's ItemReader call (`writing`: its ResultWriter call) to
    /// `resource` with `payload`: its result is the items (the state's
    /// output).
    pub(crate) fn map_call(
        &mut self,
        t: &mut Thread,
        state: &State,
        resource: &str,
        payload: Value,
        writing: bool,
    ) {
        let wait = t.next_wait();
        t.phase = if writing {
            Phase::Writing { wait }
        } else {
            Phase::Reading { wait }
        };
        self.effects.push(Effect::Invoke(TaskCall {
            wait,
            state: state.name.clone(),
            resource: resource.to_owned(),
            pattern: crate::definition::resource::Pattern::RequestResponse,
            payload,
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            mock: self.exec.mock.clone(),
        }));
    }

    /// A task-flavoured event: `which` indexes scheduled/started/succeeded/failed/timed-out.
    fn task_event(&mut self, t: &Thread, state: &State, which: usize, mut details: Value) {
        if let Kind::Task(task) = &state.kind {
            let kind = task.event_types()[which];
            if kind.as_str().starts_with("Task") {
                details["resourceType"] = resource_type(&task.resource).into();
                details["resource"] = resource_name(&task.resource).into();
            }
            self.record(t, kind, || details);
        }
    }

    /// ActivityStarted for an activity no worker had taken yet (a worker
    /// took it, named if it gave a name; or its answer came first); false
    /// when it had started.
    fn start_activity(&mut self, t: &mut Thread, state: &State, worker: Option<String>) -> bool {
        let Phase::Task { unstarted, .. } = &mut t.phase else {
            return false;
        };
        if !std::mem::take(unstarted) {
            return false;
        }
        let details = match worker {
            Some(name) => json!({"workerName": name}),
            None => json!({}),
        };
        self.task_event(t, state, 1, details);
        true
    }

    /// Starts a task and parks the thread until its result arrives.
    #[allow(clippy::too_many_arguments)]
    pub fn invoke(
        &mut self,
        t: &mut Thread,
        state: &State,
        resource: &Resource,
        payload: Value,
        token: Option<String>,
        [timeout_seconds, heartbeat_seconds]: [Option<u64>; 2],
        role: Option<Value>,
    ) {
        let wait = t.next_wait();
        let mut details = json!({"parameters": payload});
        if let Resource::Service { arn, .. } = resource {
            // The region the integration is called in: the one its ARN
            // names, else the execution's.
            let region = arn_region(arn).or_else(|| arn_region(&self.exec.arn));
            if let Some(r) = region {
                details["region"] = r.to_owned().into();
            }
        }
        // Lambda functions and activities are described by ARN and input
        // (LambdaFunctionScheduled, ActivityScheduled), services by parameters.
        if let Resource::LambdaFunction { arn } | Resource::Activity { arn } = resource {
            details =
                json!({"resource": arn, "input": payload, "inputDetails": {"truncated": false}});
        }
        if let Some(s) = timeout_seconds {
            details["timeoutInSeconds"] = s.into();
        }
        if let Some(s) = heartbeat_seconds {
            details["heartbeatInSeconds"] = s.into();
        }
        if let Some(role) = role {
            details["taskCredentials"] = serde_json::json!({"roleArn": role});
        }
        self.task_event(t, state, 0, details);
        // An activity starts when a worker takes it (GetActivityTask), or
        // when its answer comes first (a mock answers it).
        let unstarted = matches!(resource, Resource::Activity { .. });
        if !unstarted {
            self.task_event(t, state, 1, json!({}));
        }
        let now = self.env.now;
        let heartbeat = (heartbeat_seconds.filter(|_| resource.takes_heartbeats()))
            .map(|h| (h, now + h as i64 * 1000));
        t.phase = Phase::Task {
            wait,
            heartbeat,
            unstarted,
        };
        self.effects.push(Effect::Invoke(TaskCall {
            wait,
            state: state.name.clone(),
            resource: resource.arn().to_owned(),
            pattern: resource.pattern(),
            payload,
            token,
            timeout_seconds,
            heartbeat_seconds,
            mock: self.exec.mock.clone(),
        }));
        if let Some(s) = timeout_seconds {
            let at = now.saturating_add(s as i64 * 1000);
            self.effects.push(Effect::Schedule {
                at,
                event: Event::Timer {
                    wait,
                    kind: TimerKind::Timeout,
                },
            });
        }
        if let Some((_, at)) = heartbeat {
            self.effects.push(Effect::Schedule {
                at,
                event: Event::Timer {
                    wait,
                    kind: TimerKind::Heartbeat,
                },
            });
        }
    }

    /// Parks the thread in a Wait state until `at`.
    pub fn wait_until(&mut self, t: &mut Thread, at: Millis) {
        let wait = t.next_wait();
        t.phase = Phase::Waiting { wait };
        self.effects.push(Effect::Schedule {
            at,
            event: Event::Timer {
                wait,
                kind: TimerKind::Due,
            },
        });
    }

    /// A task token: 48 hex digits, two draws from the step's seeded stream
    /// around the driver's 64-bit nonce; at least 128 unpredictable bits
    /// when the driver draws the seed and the nonce at random (both
    /// backends do).
    pub fn new_token(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:016x}",
            self.random.next_u64(),
            self.env.nonce,
            self.random.next_u64()
        )
    }
}

/// The error a reader's or writer's call failed with, as the Map's `name`
/// (`States.ItemReaderFailed`, `States.ResultWriterFailed`): its cause
/// names the call's error and cause ("S3.NoSuchKey: …"), unless the call
/// failed with `name` itself (the reader found the data unreadable).
fn wrapped(name: ErrorName, error: &StatesError) -> StatesError {
    if error.is(name) {
        return error.clone();
    }
    let cause = match (&error.error, &error.cause) {
        (Some(e), Some(c)) => format!("{e}: {c}"),
        (Some(e), None) => e.clone(),
        (None, c) => c.clone().unwrap_or_default(),
    };
    StatesError::new(name, cause)
}

pub(super) fn error_details(e: &StatesError) -> Value {
    let mut m = Map::new();
    if let Some(x) = &e.error {
        m.insert("error".into(), x.clone().into());
    }
    if let Some(x) = &e.cause {
        m.insert("cause".into(), x.clone().into());
    }
    Value::Object(m)
}

/// The region an ARN names, if it names one.
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The field an evaluation error names, as AWS's messages name it:
/// "… specified for the field 'Output/result' …" or "The Timestamp field …".
fn evaluated_field(cause: &str) -> Option<&str> {
    if let Some((_, rest)) = cause.split_once("specified for the field '") {
        return rest.split_once('\'').map(|(field, _)| field);
    }
    let (field, _) = cause.strip_prefix("The ")?.split_once(" field ")?;
    (!field.is_empty() && !field.contains(' ')).then_some(field)
}

/// States.DataLimitExceeded for a task's result over the payload limit,
/// naming the resource as AWS names it: an integration by its service, a
/// function or an activity by its ARN.
fn result_too_large(r: &Resource) -> StatesError {
    let name = match r {
        Resource::Service { service, .. } => service.as_str(),
        other => other.arn(),
    };
    StatesError::new(
        ErrorName::DataLimitExceeded,
        format!(
            "The state/task '{name}' returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

fn resource_type(r: &Resource) -> String {
    match r {
        Resource::Service { service, .. } => service.clone(),
        Resource::LambdaFunction { .. } => "lambda".into(),
        Resource::Activity { .. } => "activity".into(),
    }
}

fn resource_name(r: &Resource) -> String {
    match r {
        Resource::Service { arn, service, .. } => arn
            .rsplit_once(&format!("{service}:"))
            .map_or(arn.clone(), |(_, a)| a.to_owned()),
        other => other.arn().to_owned(),
    }
}

/// Whether the serialized value is larger than `limit` bytes. A cheap upper
/// bound (every character escaped, every number 24 bytes) settles most values
/// without serializing them.
pub fn exceeds(v: &Value, limit: usize) -> bool {
    fn bound(v: &Value) -> usize {
        match v {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(s) => s.len() * 6 + 2,
            Value::Array(a) => 2 + a.iter().map(|x| bound(x) + 1).sum::<usize>(),
            Value::Object(m) => {
                2 + m
                    .iter()
                    .map(|(k, x)| k.len() * 6 + 4 + bound(x))
                    .sum::<usize>()
            }
        }
    }
    bound(v) > limit && json_size(v) > limit
}

/// Serialized size in bytes, without building the string.
pub fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

//! The Step Functions API over the stepper's records, written once for
//! every store that keeps them: DynamoDB and SQS (the API Lambda and
//! `stepwise serve --backend aws`) and SQLite. State machines are catalog
//! entries, executions start through the stepper's `start`, reads come from
//! the execution's records, and task tokens and activity tasks are the
//! store's.
//!
//! A backend wraps a [`StepperService`] in a type of its own that
//! implements [`crate::api::Service`] by calling [`StepperService::answer`]
//! (its futures are `Send` once the store is known).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stepwise_asl::{Event, Options, StateMachine};

use super::{
    Body, Envelope, ExecutionRecord, ParentTask, PortError, Queue, Redrive, StepMessage, Store,
    TokenTarget, start, token_hash,
};
use crate::api::{ApiError, Service, timestamp};
use crate::callbacks::{self, Callback, Tokens};
use crate::catalog::{self, Catalog, Scope};
use crate::executions::{self, ExecutionStore, ExecutionView};
use crate::memory::wall_clock;
use crate::nested::WithApi;
use crate::ports::Tasks;

/// The actions that only read: a store may answer them from what is
/// committed, without waiting for its writer.
pub fn is_read(action: &str) -> bool {
    catalog::READS.contains(&action)
        || [
            "DescribeExecution",
            "DescribeStateMachineForExecution",
            "ListExecutions",
            "GetExecutionHistory",
            "ListMapRuns",
            "DescribeMapRun",
        ]
        .contains(&action)
}

/// A claimed activity task: what GetActivityTask hands the worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    pub token: String,
    pub input: String,
}

/// The activity tasks a store keeps for workers (the activities
/// themselves are catalog entries).
pub trait Activities {
    /// Claims the oldest task waiting on `activity`: each goes to exactly
    /// one worker.
    fn claim(
        &self,
        activity: &str,
    ) -> impl Future<Output = Result<Option<ActivityTask>, PortError>>;

    /// A long poll looks again: what its earlier looks did does not bear
    /// on its answer (a store that judges an answer by when it began
    /// judges it from here).
    fn attempt_again(&self) {}
}

/// Everything the API needs of a store.
pub trait ApiStore: Store + ExecutionStore + Catalog + Activities {}
impl<S: Store + ExecutionStore + Catalog + Activities> ApiStore for S {}

pub struct StepperService<S, Q, T> {
    pub store: S,
    pub queue: Q,
    /// Runs the tasks of executions run in place (StartSyncExecution,
    /// TestState).
    pub tasks: Arc<T>,
    /// Where requests that name no region are answered.
    pub place: Scope,
}

type Res = Result<Value, ApiError>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

/// What the API shows of a stored execution.
pub fn view_of(r: &ExecutionRecord) -> ExecutionView {
    use stepwise_asl::Outcome;
    let f = &r.facts;
    let mut v = ExecutionView {
        arn: f.arn.clone(),
        machine_arn: f
            .state_machine_arn
            .split(':')
            .take(7)
            .collect::<Vec<_>>()
            .join(":"),
        version: r.version.clone(),
        alias: r.alias.clone(),
        name: f.name.clone(),
        status: r.status.clone(),
        input: (r.input_text.clone()).unwrap_or_else(|| f.input.to_string()),
        started: f.start_time,
        stopped: r.stopped,
        redrive_count: f.redrive_count.unwrap_or(0),
        redrive_date: r.redriven,
        express: r.express,
        definition: Some(r.definition.clone()),
        ..ExecutionView::default()
    };
    match &r.outcome {
        Some(Outcome::Succeeded(out)) => v.output = Some(out.to_string()),
        Some(Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e)) => {
            v.error = e.error.clone();
            v.cause = e.cause.clone();
        }
        None => {}
    }
    v
}

/// How long GetActivityTask waits for a task: 60 s as on AWS, unless
/// `STEPWISE_ACTIVITY_POLL_SECONDS` says less (API Gateway ends a request
/// after 29 s, so the template sets 25).
fn long_poll() -> Duration {
    let secs = std::env::var("STEPWISE_ACTIVITY_POLL_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60u64);
    Duration::from_secs(secs.min(60))
}

/// How often a waiting GetActivityTask looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

impl<S: ApiStore, Q: Queue, T: Tasks> StepperService<S, Q, T> {
    /// The answer to `action` made in `region`; `api` is the service this
    /// one is inside (a nested execution run in place starts through it).
    pub async fn answer(
        &self,
        api: &dyn Service,
        region: Option<&str>,
        action: &str,
        body: Value,
    ) -> Res {
        let scope = self.place.for_request(region);
        // The two actions every execution calls are awaited in place; the
        // rest are boxed, so that the future of every answer (allocated
        // per request) stays small.
        match action {
            "StartExecution" => self.start_execution(&body).await,
            "DescribeExecution" => executions::describe(&self.store, &body).await,
            _ => Box::pin(self.answer_other(api, &scope, action, &body)).await,
        }
    }

    async fn answer_other(
        &self,
        api: &dyn Service,
        scope: &Scope,
        action: &str,
        body: &Value,
    ) -> Res {
        match action {
            "StartSyncExecution" => self.start_sync(api, body).await,
            "ListExecutions" => executions::list(&self.store, &self.store, body).await,
            "GetExecutionHistory" => executions::history(&self.store, body).await,
            "ListMapRuns" => crate::map_runs::list(&self.store, body).await,
            "DescribeMapRun" => crate::map_runs::describe(&self.store, body).await,
            "UpdateMapRun" => self.update_map_run(body).await,
            "StopExecution" => self.stop(body).await,
            "RedriveExecution" => self.redrive(body).await,
            "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
                let kind = Callback::of(action).ok_or_else(|| internal(action))?;
                callbacks::answer(self, kind, body).await
            }
            "GetActivityTask" => self.get_activity_task(body).await,
            "DescribeStateMachineForExecution" => {
                executions::describe_machine(&self.store, &self.store, body).await
            }
            "TestState" => {
                let tasks = WithApi {
                    api,
                    fallback: &*self.tasks,
                };
                crate::console::test_state(body, tasks).await
            }
            other => match catalog::call(&self.store, scope, other, body).await {
                Some(r) => r,
                None => Err(ApiError::unknown_operation(format!(
                    "The action '{other}' is not supported"
                ))),
            },
        }
    }

    /// The record a new execution of `body["stateMachineArn"]` would have.
    async fn new_execution(
        &self,
        body: &Value,
    ) -> Result<(ExecutionRecord, Arc<StateMachine>, String), ApiError> {
        let plan = executions::plan_start(&self.store, body, crate::uuid, wall_clock()).await?;
        let r = plan.resolved;
        let machine =
            StateMachine::parse_shared(&r.settings.definition, Options { express: r.express })
                .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
        let printed = plan.facts.input.to_string();
        let written = plan.input_text != printed;
        let record = ExecutionRecord {
            version: r.version_arn,
            alias: r.alias_arn,
            input_text: written.then(|| plan.input_text.clone()),
            ..ExecutionRecord::running(plan.facts, r.settings.definition, r.express)
        };
        Ok((record, machine, plan.input_text))
    }

    async fn start_execution(&self, body: &Value) -> Res {
        let (arn, start) = StartChild::start_child(self, body, None, None).await?;
        Ok(json!({"executionArn": arn, "startDate": timestamp(start)}))
    }

    async fn start_sync(&self, api: &dyn Service, body: &Value) -> Res {
        let plan = executions::plan_start(&self.store, body, crate::uuid, wall_clock()).await?;
        let tasks = WithApi {
            api,
            fallback: &*self.tasks,
        };
        executions::run_sync(plan, tasks).await
    }

    async fn execution(&self, arn: &str) -> Result<ExecutionRecord, ApiError> {
        self.store
            .execution(arn)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::execution_does_not_exist(format!("Execution Does Not Exist: '{arn}'"))
            })
    }

    async fn redrive(&self, body: &Value) -> Res {
        let arn = executions::execution_arn(body)?;
        let v = executions::view(&self.store, arn).await?;
        if let Some(run) = &v.map_run {
            return Err(crate::children::not_on_its_own(arn, run, "redriven"));
        }
        if let Some(reason) = executions::redrive_refusal(&v) {
            return Err(ApiError::execution_not_redrivable(reason));
        }
        let status = v.status;
        // A stop takes effect when the root thread takes its message: a
        // redrive right after one waits for that (up to a few seconds).
        for _ in 0..50 {
            let now = wall_clock();
            match super::redrive(&self.store, &self.queue, arn, now)
                .await
                .map_err(internal)?
            {
                Redrive::At(at) => return Ok(json!({"redriveDate": timestamp(at)})),
                Redrive::NotRedrivable => return Err(executions::not_redrivable(&status)),
                Redrive::Stopping => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Err(ApiError::execution_not_redrivable(format!(
            "Execution {arn} is still stopping; try the redrive again in a moment"
        )))
    }

    /// UpdateMapRun: a message to the Map state's thread, which takes the
    /// new settings in order with its other events.
    async fn update_map_run(&self, body: &Value) -> Res {
        let (execution, thread, event) = crate::map_runs::update(&self.store, body).await?;
        let now = wall_clock();
        let message = Envelope {
            id: format!("update-map-run:{}", crate::uuid()),
            at: now,
            body: Body::Step(Box::new(StepMessage {
                execution,
                thread,
                seq: None,
                lamport: 0,
                event,
                init: None,
                born: None,
            })),
        };
        self.queue.send(&[message], now).await.map_err(internal)?;
        Ok(json!({}))
    }

    async fn stop(&self, body: &Value) -> Res {
        let (arn, request) = executions::stop_request(&self.store, body).await?;
        let error = match request {
            Ok(error) => error,
            Err(stopped) => return Ok(json!({"stopDate": timestamp(stopped)})),
        };
        let now = wall_clock();
        let stopped = super::stop(&self.store, &self.queue, &arn, error, now)
            .await
            .map_err(internal)?;
        if !stopped {
            return Ok(json!({"stopDate": timestamp(now)})); // it ended meanwhile
        }
        // The root thread records ExecutionAborted when it takes the stop's
        // message: on AWS the history has it once StopExecution answers, so
        // the answer waits for it (a few seconds at most).
        for _ in 0..50 {
            let root = self.store.load(&arn, "root").await.map_err(internal)?;
            if root.and_then(|r| r.thread).is_none_or(|t| t.is_done()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(json!({"stopDate": timestamp(now)}))
    }

    /// GetActivityTask: the oldest waiting task (each goes to one worker),
    /// or, after the long poll, no task (`{}`). Tasks whose state already
    /// moved on (timed out, the execution ended) are skipped.
    async fn get_activity_task(&self, body: &Value) -> Res {
        let activity = catalog::existing_activity(&self.store, body).await?;
        let deadline = std::time::Instant::now() + long_poll();
        loop {
            loop {
                // Each look is an answer of its own: the offers taken before
                // it (their state had moved on) are no part of it.
                self.store.attempt_again();
                let Some(task) = self.store.claim(activity).await.map_err(internal)? else {
                    break;
                };
                let hash = token_hash(&task.token);
                let Some(target) = self.store.token(&hash).await.map_err(internal)? else {
                    continue;
                };
                if !Tokens::still_waits(self, &target).await.map_err(internal)? {
                    continue;
                }
                // Its thread records ActivityStarted, by this worker.
                let started = Event::WorkerStarted {
                    wait: target.wait,
                    worker: body["workerName"].as_str().map(str::to_owned),
                };
                Tokens::answer(self, &hash, target, started)
                    .await
                    .map_err(internal)?;
                return Ok(json!({"taskToken": task.token, "input": task.input}));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(json!({}));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// Task tokens as the stepper keeps them: a record per token hash; an
/// answer travels to its thread as a step message.
impl<S: ApiStore, Q: Queue, T: Tasks> Tokens for StepperService<S, Q, T> {
    async fn target(&self, hash: &str) -> Result<Option<TokenTarget>, PortError> {
        self.store.token(hash).await
    }

    /// Only while its execution runs (an ended execution's threads may
    /// not have heard of its end yet). A thread that has not saved the task
    /// yet (the token is written first) is still to wait.
    async fn still_waits(&self, target: &TokenTarget) -> Result<bool, PortError> {
        let execution = self.store.execution(&target.execution).await?;
        if execution.is_none_or(|e| e.status != "RUNNING") {
            return Ok(false);
        }
        let record = self.store.load(&target.execution, &target.thread).await?;
        Ok(match record.and_then(|r| r.thread) {
            Some(t) => t.waits < target.wait || t.current_wait() == Some(target.wait),
            None => true,
        })
    }

    async fn forget(&self, hash: &str) -> Result<(), PortError> {
        self.store.delete_token(hash).await
    }

    async fn answer(&self, hash: &str, target: TokenTarget, event: Event) -> Result<(), PortError> {
        let now = wall_clock();
        let message = Envelope {
            id: format!("callback:{}:{now}", hash.get(..16).unwrap_or(hash)),
            at: now,
            body: Body::Step(Box::new(StepMessage {
                execution: target.execution,
                thread: target.thread,
                seq: None,
                lamport: 0,
                event,
                init: None,
                born: None,
            })),
        };
        self.queue.send(&[message], now).await
    }
}

/// Starts an execution for a Task of another (`states:startExecution`):
/// what [`crate::nested::WithExecutions`] calls.
pub trait StartChild {
    fn start_child(
        &self,
        body: &Value,
        parent: Option<ParentTask>,
        started_by: Option<TokenTarget>,
    ) -> impl Future<Output = Result<(String, i64), ApiError>>;
}

impl<S: ApiStore, Q: Queue, T: Tasks> StartChild for StepperService<S, Q, T> {
    /// StartExecution, for the API (`None`s) and for nested executions
    /// (the task that starts it, and the `.sync` task that waits for it):
    /// the execution's ARN and start time (the first start's, when the same
    /// name and input, or the same task, start it again).
    async fn start_child(
        &self,
        body: &Value,
        parent: Option<ParentTask>,
        started_by: Option<TokenTarget>,
    ) -> Result<(String, i64), ApiError> {
        let (mut record, machine, input_text) = self.new_execution(body).await?;
        record.parent = parent;
        record.started_by = started_by;
        let arn = record.facts.arn.clone();
        let created = start(&self.store, &self.queue, &record, &machine)
            .await
            .map_err(internal)?;
        if !created {
            // The same name again: the same execution if its input is the same.
            let old = self.execution(&arn).await?;
            if record.started_by.is_some() && old.started_by == record.started_by {
                // The same task again (its step ran twice): the same child,
                // even if it has ended meanwhile (its report, if any, waits
                // for the parent's save).
                return Ok((arn, old.facts.start_time));
            }
            let started = executions::start_again(&arn, &view_of(&old), &input_text)?;
            return Ok((arn, started));
        }
        Ok((arn, record.facts.start_time))
    }
}

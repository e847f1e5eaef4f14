//! The Step Functions API over the serverless engine: what the API Lambda
//! (and `stepwise serve --backend aws`) answers. State machines live in the
//! table (`pk = "machines"`), executions start through the stepper's
//! `start`, and reads come from the execution's items.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stepwise_api::{ApiError, Reply, Service, timestamp};
use stepwise_asl::{Event, Options, StateMachine};
use stepwise_engine::memory::wall_clock;
use stepwise_engine::mock::Mocks;
use stepwise_engine::stepper::{
    Body, Envelope, ExecutionRecord, ParentTask, PortError, Queue, Redrive, StepMessage, Store,
    TokenTarget, start,
};
use stepwise_engine::tasks::Mocked;

use crate::dynamo::view_of;
use crate::services::{ServiceTasks, WithServices};
use crate::{Clients, DynamoStore, LambdaTasks, SqsQueue};
use stepwise_engine::callbacks::{self, Callback, Tokens};
use stepwise_engine::catalog::{self, Scope};
use stepwise_engine::executions;
use stepwise_engine::nested::WithApi;

mod activities;

pub struct AwsService {
    pub store: DynamoStore,
    pub queue: SqsQueue,
    /// Runs the tasks of EXPRESS executions for StartSyncExecution.
    pub tasks: Arc<SyncTasks>,
    /// Where requests that name no region are answered.
    pub place: Scope,
}

/// What StartSyncExecution's tasks reach: the mocks (a local server's),
/// the service integrations, then Lambda functions.
pub type SyncTasks = Mocked<WithServices<LambdaTasks>>;

impl AwsService {
    pub fn new(store: DynamoStore, queue: SqsQueue, clients: &Clients, place: Scope) -> Self {
        let tasks = Mocked {
            mocks: None,
            fallback: WithServices {
                services: ServiceTasks::new(clients),
                fallback: LambdaTasks::Sdk(clients.lambda.clone()),
            },
        };
        AwsService {
            store,
            queue,
            tasks: Arc::new(tasks),
            place,
        }
    }

    /// StartSyncExecution's Lambda tasks sent where the server's executions
    /// send theirs (`stepwise serve --backend aws --lambda-endpoint`).
    pub fn with_lambda(mut self, lambda: LambdaTasks) -> Self {
        if let Some(tasks) = Arc::get_mut(&mut self.tasks) {
            tasks.fallback.fallback = lambda;
        }
        self
    }

    /// StartSyncExecution's tasks answered from `mocks` first, as the
    /// server's executions are (`stepwise serve --backend aws`).
    pub fn with_mocks(mut self, mocks: Option<Arc<Mocks>>) -> Self {
        if let Some(tasks) = Arc::get_mut(&mut self.tasks) {
            tasks.mocks = mocks;
        }
        self
    }
}

type Res = Result<Value, ApiError>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

impl Service for AwsService {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        self.call_in(None, action, body)
    }

    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(async move {
            let scope = self.place.for_request(region);
            match action {
                "StartExecution" => self.start_execution(&body).await,
                "StartSyncExecution" => self.start_sync(&body).await,
                "DescribeExecution" => executions::describe(&self.store, &body).await,
                "ListExecutions" => executions::list(&self.store, &self.store, &body).await,
                "GetExecutionHistory" => executions::history(&self.store, &body).await,
                "ListMapRuns" => stepwise_engine::map_runs::list(&self.store, &body).await,
                "DescribeMapRun" => stepwise_engine::map_runs::describe(&self.store, &body).await,
                "UpdateMapRun" => self.update_map_run(&body).await,
                "StopExecution" => self.stop(&body).await,
                "RedriveExecution" => self.redrive(&body).await,
                "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => {
                    let kind = Callback::of(action).ok_or_else(|| internal(action))?;
                    callbacks::answer(self, kind, &body).await
                }
                "GetActivityTask" => self.get_activity_task(&body).await,
                "DescribeStateMachineForExecution" => {
                    executions::describe_machine(&self.store, &self.store, &body).await
                }
                "TestState" => {
                    let tasks = WithApi {
                        api: self,
                        fallback: &*self.tasks,
                    };
                    stepwise_engine::console::test_state(&body, tasks).await
                }
                other => match catalog::call(&self.store, &scope, other, &body).await {
                    Some(r) => r,
                    None => Err(ApiError::unknown_operation(format!(
                        "The action '{other}' is not supported"
                    ))),
                },
            }
        })
    }
}

impl AwsService {
    /// The record a new execution of `body["stateMachineArn"]` would have.
    async fn new_execution(
        &self,
        body: &Value,
    ) -> Result<(ExecutionRecord, StateMachine, String), ApiError> {
        let plan =
            executions::plan_start(&self.store, body, stepwise_engine::uuid, wall_clock()).await?;
        let r = plan.resolved;
        let machine = StateMachine::parse(&r.settings.definition, Options { express: r.express })
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
        let (arn, start) = self.start_child(body, None, None).await?;
        Ok(json!({"executionArn": arn, "startDate": timestamp(start)}))
    }

    /// StartExecution, for the API (`None`s) and for nested executions
    /// (the task that starts it, and the `.sync` task that waits for it):
    /// the execution's ARN and start time (the first start's, when the same
    /// name and input, or the same task, start it again).
    pub async fn start_child(
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

    async fn start_sync(&self, body: &Value) -> Res {
        let plan =
            executions::plan_start(&self.store, body, stepwise_engine::uuid, wall_clock()).await?;
        let tasks = WithApi {
            api: self,
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
            return Err(stepwise_engine::children::not_on_its_own(
                arn, run, "redriven",
            ));
        }
        if let Some(reason) = executions::redrive_refusal(&v) {
            return Err(ApiError::execution_not_redrivable(reason));
        }
        let status = v.status;
        // A stop takes effect when the root thread takes its message: a
        // redrive right after one waits for that (up to a few seconds).
        for _ in 0..50 {
            let now = wall_clock();
            match stepwise_engine::stepper::redrive(&self.store, &self.queue, arn, now)
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
        let (execution, thread, event) =
            stepwise_engine::map_runs::update(&self.store, body).await?;
        let now = wall_clock();
        let message = Envelope {
            id: format!("update-map-run:{}", stepwise_engine::uuid()),
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
        let stopped = stepwise_engine::stepper::stop(&self.store, &self.queue, &arn, error, now)
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
}

/// Task tokens as the serverless backend keeps them: an item per token
/// hash; an answer travels to its thread as a step message.
impl Tokens for AwsService {
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

//! The Step Functions API over the serverless engine: what the API Lambda
//! (and `stepwise serve --backend aws`) answers. State machines live in the
//! table (`pk = "machines"`), executions start through the stepper's
//! `start`, and reads come from the execution's items.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use stepwise_api::{ApiError, Reply, Service, timestamp, validate};
use stepwise_asl::random::Random;
use stepwise_asl::{Event, Options, Outcome, StateMachine, StatesError};
use stepwise_engine::memory::{local_execution, wall_clock};
use stepwise_engine::stepper::{
    Body, Envelope, ExecutionRecord, ParentTask, Queue, StepMessage, Store, TokenTarget,
    merge_history, start, token_hash,
};
use stepwise_engine::{Runner, RunnerOptions};

use crate::services::{ServiceTasks, WithServices};
use crate::{Clients, DynamoStore, LambdaTasks, SqsQueue};
use stepwise_engine::catalog::{self, Scope};

mod activities;

/// Where the service says it runs: the region and account in its ARNs.
#[derive(Debug, Clone)]
pub struct Place {
    pub region: String,
    pub account: String,
}

impl Place {
    /// `AWS_REGION` and `STEPWISE_ACCOUNT_ID` (the SAM template sets it).
    pub fn from_env() -> Place {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        Place {
            region: var("AWS_REGION", "us-east-1"),
            account: var("STEPWISE_ACCOUNT_ID", "123456789012"),
        }
    }

    pub fn scope(&self) -> Scope {
        Scope {
            partition: "aws".into(),
            region: self.region.clone(),
            account: self.account.clone(),
        }
    }
}

pub struct AwsService {
    pub store: DynamoStore,
    pub queue: SqsQueue,
    /// Runs the tasks of EXPRESS executions for StartSyncExecution.
    pub tasks: Arc<SyncTasks>,
    pub place: Place,
}

/// What StartSyncExecution's tasks reach: the service integrations, then
/// Lambda functions.
pub type SyncTasks = WithServices<LambdaTasks>;

impl AwsService {
    pub fn new(store: DynamoStore, queue: SqsQueue, clients: &Clients, place: Place) -> Self {
        let tasks = WithServices {
            services: ServiceTasks::new(clients),
            fallback: LambdaTasks {
                client: clients.lambda.clone(),
            },
        };
        AwsService {
            store,
            queue,
            tasks: Arc::new(tasks),
            place,
        }
    }
}

type Res = Result<Value, ApiError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Callback {
    Success,
    Failure,
    Heartbeat,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn uuid() -> String {
    let seed = wall_clock() as u64 ^ u64::from(std::process::id()).rotate_left(32);
    let mut r = Random::new(seed ^ COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    r.uuid()
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x5eed);

impl Service for AwsService {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(async move {
            match action {
                "StartExecution" => self.start_execution(&body).await,
                "StartSyncExecution" => self.start_sync(&body).await,
                "DescribeExecution" => self.describe_execution(&body).await,
                "ListExecutions" => self.list_executions(&body).await,
                "GetExecutionHistory" => self.history(&body).await,
                "StopExecution" => self.stop(&body).await,
                "SendTaskSuccess" => self.callback(&body, Callback::Success).await,
                "SendTaskFailure" => self.callback(&body, Callback::Failure).await,
                "SendTaskHeartbeat" => self.callback(&body, Callback::Heartbeat).await,
                "GetActivityTask" => self.get_activity_task(&body).await,
                "DescribeStateMachineForExecution" => self.describe_for_execution(&body).await,
                "TestState" => stepwise_engine::console::test_state(&body, &*self.tasks).await,
                other => {
                    match catalog::call(&self.store, &self.place.scope(), other, &body).await {
                        Some(r) => r,
                        None => Err(ApiError::validation(format!(
                            "{other} is not available on the serverless backend yet; use `stepwise serve` (embedded) for it"
                        ))),
                    }
                }
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
        let target = validate::string(body, "stateMachineArn")?;
        let pick = stepwise_engine::entropy() % 100;
        let m = catalog::resolve(&self.store, target, pick).await?;
        let name = match validate::optional_string(body, "name")? {
            Some(n) => n.to_owned(),
            None => uuid(),
        };
        validate::name("execution", &name)?;
        let input_text = validate::optional_string(body, "input")?.unwrap_or("{}");
        let input = validate::input(Some(input_text))?;
        let express = m.express;
        let machine = StateMachine::parse(&m.settings.definition, Options { express })
            .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
        let mut facts = local_execution(&m.name, &name, input, wall_clock(), express);
        let region_account = format!("{}:{}", self.place.region, self.place.account);
        facts.arn = facts.arn.replace("us-east-1:123456789012", &region_account);
        facts.state_machine_arn = m.machine_arn.clone();
        facts.role_arn = m.settings.role_arn.clone();
        let record = ExecutionRecord {
            facts,
            definition: m.settings.definition.clone(),
            express,
            status: "RUNNING".into(),
            outcome: None,
            stopped: None,
            parent: None,
            started_by: None,
            version: m.version_arn.clone(),
            alias: m.alias_arn.clone(),
        };
        Ok((record, machine, input_text.to_owned()))
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
        let (mut record, machine, _) = self.new_execution(body).await?;
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
            if old.status != "RUNNING" || old.facts.input != record.facts.input {
                return Err(ApiError::execution_already_exists(format!(
                    "Execution Already Exists: '{arn}'"
                )));
            }
            return Ok((arn, old.facts.start_time));
        }
        Ok((arn, record.facts.start_time))
    }

    async fn start_sync(&self, body: &Value) -> Res {
        let (record, machine, input_text) = self.new_execution(body).await?;
        if !record.express {
            return Err(ApiError::state_machine_type_not_supported(
                "This operation is not supported by this type of state machine",
            ));
        }
        let facts = record.facts.clone();
        let options = RunnerOptions {
            fast_forward: false,
            seed: wall_clock() as u64,
            history: false,
        };
        let report = Runner::new(&machine, facts.clone(), &*self.tasks, options)
            .run()
            .await;
        let mut o = Map::new();
        o.insert("executionArn".into(), facts.arn.into());
        o.insert("stateMachineArn".into(), facts.state_machine_arn.into());
        o.insert("name".into(), facts.name.into());
        o.insert("startDate".into(), timestamp(facts.start_time));
        o.insert("stopDate".into(), timestamp(wall_clock()));
        o.insert("status".into(), report.status.as_str().into());
        o.insert("input".into(), input_text.into());
        o.insert("inputDetails".into(), json!({"included": true}));
        if let Some(out) = &report.output {
            o.insert("output".into(), out.to_string().into());
            o.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(e) = &report.error {
            if let Some(name) = &e.error {
                o.insert("error".into(), name.clone().into());
            }
            if let Some(cause) = &e.cause {
                o.insert("cause".into(), cause.clone().into());
            }
        }
        Ok(Value::Object(o))
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

    async fn describe_execution(&self, body: &Value) -> Res {
        let arn = validate::string(body, "executionArn")?;
        validate::arn(arn, &["execution", "express"])?;
        let r = self.execution(arn).await?;
        let mut o = Map::new();
        o.insert("executionArn".into(), arn.into());
        o.insert(
            "stateMachineArn".into(),
            r.facts.state_machine_arn.clone().into(),
        );
        if let Some(v) = &r.version {
            o.insert("stateMachineVersionArn".into(), v.clone().into());
        }
        if let Some(a) = &r.alias {
            o.insert("stateMachineAliasArn".into(), a.clone().into());
        }
        o.insert("name".into(), r.facts.name.clone().into());
        o.insert("status".into(), r.status.clone().into());
        o.insert("startDate".into(), timestamp(r.facts.start_time));
        if let Some(stop) = r.stopped {
            o.insert("stopDate".into(), timestamp(stop));
        }
        o.insert("input".into(), r.facts.input.to_string().into());
        o.insert("inputDetails".into(), json!({"included": true}));
        match &r.outcome {
            Some(Outcome::Succeeded(v)) => {
                o.insert("output".into(), v.to_string().into());
                o.insert("outputDetails".into(), json!({"included": true}));
            }
            Some(Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e)) => {
                if let Some(name) = &e.error {
                    o.insert("error".into(), name.clone().into());
                }
                if let Some(cause) = &e.cause {
                    o.insert("cause".into(), cause.clone().into());
                }
            }
            None => {}
        }
        o.insert("redriveCount".into(), 0.into());
        let status = r.status.as_str();
        if r.express {
            o.remove("redriveCount");
        } else if matches!(status, "RUNNING" | "SUCCEEDED") {
            o.insert("redriveStatus".into(), "NOT_REDRIVABLE".into());
            o.insert(
                "redriveStatusReason".into(),
                format!("Execution is {status} and cannot be redriven").into(),
            );
        } else {
            o.insert("redriveStatus".into(), "REDRIVABLE".into());
        }
        Ok(Value::Object(o))
    }

    async fn describe_for_execution(&self, body: &Value) -> Res {
        let arn = validate::string(body, "executionArn")?;
        validate::arn(arn, &["execution", "express"])?;
        let r = self.execution(arn).await?;
        catalog::describe_for_execution(
            &self.store,
            &r.facts.state_machine_arn,
            r.version.as_deref(),
            Some(&r.definition),
            r.facts.start_time,
        )
        .await
    }

    async fn list_executions(&self, body: &Value) -> Res {
        let machine = validate::string(body, "stateMachineArn")?;
        let t = catalog::target(machine)?;
        let m = catalog::machine(&self.store, t.machine(), machine).await?;
        if m.kind == "EXPRESS" {
            return Err(ApiError::state_machine_type_not_supported(
                "This operation is not supported by this type of state machine",
            ));
        }
        let machine = t.machine();
        let filter = validate::optional_string(body, "statusFilter")?;
        let (max, offset) = validate::page(body)?;
        let mut lines = self.store.executions_of(machine).await.map_err(internal)?;
        lines.reverse(); // newest first, as AWS lists them
        lines.retain(|l| filter.is_none_or(|f| f == l.status));
        let page: Vec<Value> = lines
            .iter()
            .skip(offset)
            .take(max)
            .map(|l| {
                let mut v = json!({"executionArn": l.arn, "stateMachineArn": machine, "name": l.name,
                                   "status": l.status, "startDate": timestamp(l.start)});
                if let Some(s) = l.stopped {
                    v["stopDate"] = timestamp(s);
                }
                v
            })
            .collect();
        let mut out = json!({"executions": page});
        if let Some(t) = validate::next_token(offset, max, lines.len()) {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    async fn history(&self, body: &Value) -> Res {
        let arn = validate::string(body, "executionArn")?;
        validate::arn(arn, &["execution", "express"])?;
        self.execution(arn).await?;
        let (max, offset) = validate::page(body)?;
        let reverse = body["reverseOrder"].as_bool().unwrap_or(false);
        let include = body["includeExecutionData"].as_bool().unwrap_or(true);
        let mut events = merge_history(self.store.history(arn).await.map_err(internal)?);
        if reverse {
            events.reverse();
        }
        let total = events.len();
        let page: Vec<Value> = events
            .into_iter()
            .skip(offset)
            .take(max)
            .map(|r| {
                stepwise_api::history_event(
                    r.id as i64,
                    r.previous as i64,
                    r.event.timestamp,
                    r.event.kind.as_str(),
                    r.event.details,
                    include,
                )
            })
            .collect();
        let mut out = json!({"events": page});
        if let Some(t) = validate::next_token(offset, max, total) {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    /// SendTaskSuccess/Failure/Heartbeat: the token's thread gets the
    /// answer as a message (a late or repeated one finds the thread moved on
    /// and is dropped by the stepper); success and failure use the token up.
    async fn callback(&self, body: &Value, kind: Callback) -> Res {
        let token = validate::string(body, "taskToken")?;
        if token.is_empty() || token.len() > 2048 {
            return Err(ApiError::invalid_token(format!("Invalid Token: '{token}'")));
        }
        let hash = token_hash(token);
        let Some(target) = self.store.token(&hash).await.map_err(internal)? else {
            let ours = token.len() == 48 && token.chars().all(|c| c.is_ascii_hexdigit());
            return Err(if ours {
                ApiError::task_does_not_exist("Task Does Not Exist")
            } else {
                ApiError::invalid_token(format!("Invalid Token: '{token}'"))
            });
        };
        let wait = target.wait;
        // The task is over (a timeout, a heartbeat missed, the execution
        // ended): too late.
        if !self.still_waits(&target).await? {
            self.store.delete_token(&hash).await.map_err(internal)?;
            return Err(ApiError::task_timed_out("Task Timed Out"));
        }
        let event = match kind {
            Callback::Success => {
                let text = validate::string(body, "output")?;
                let output: Value = serde_json::from_str(text).map_err(|e| {
                    ApiError::invalid_output(format!("Invalid Output: the output is not JSON: {e}"))
                })?;
                Event::TaskSucceeded { wait, output }
            }
            Callback::Failure => Event::TaskFailed {
                wait,
                error: StatesError {
                    error: validate::optional_string(body, "error")?.map(str::to_owned),
                    cause: validate::optional_string(body, "cause")?.map(str::to_owned),
                },
            },
            Callback::Heartbeat => Event::TaskHeartbeat { wait },
        };
        let now = wall_clock();
        let message = Envelope {
            id: format!("callback:{}:{now}", &hash[..16]),
            at: now,
            body: Body::Step(Box::new(StepMessage {
                execution: target.execution,
                thread: target.thread,
                seq: None,
                lamport: 0,
                event,
                init: None,
            })),
        };
        self.queue.send(&[message], now).await.map_err(internal)?;
        if kind != Callback::Heartbeat {
            self.store.delete_token(&hash).await.map_err(internal)?;
        }
        Ok(json!({}))
    }

    /// Whether the token's thread still waits for its answer. A thread
    /// that has not saved the task yet (the token is written first) is
    /// still to wait, while its execution runs.
    async fn still_waits(&self, target: &TokenTarget) -> Result<bool, ApiError> {
        let record = self
            .store
            .load(&target.execution, &target.thread)
            .await
            .map_err(internal)?;
        match record.and_then(|r| r.thread) {
            Some(t) => Ok(t.waits < target.wait || t.current_wait() == Some(target.wait)),
            None => Ok(self
                .store
                .execution(&target.execution)
                .await
                .map_err(internal)?
                .is_some_and(|e| e.status == "RUNNING")),
        }
    }

    async fn stop(&self, body: &Value) -> Res {
        let arn = validate::string(body, "executionArn")?;
        validate::arn(arn, &["execution"])?;
        let r = self.execution(arn).await?;
        if r.status != "RUNNING" {
            return Err(ApiError::validation(format!(
                "Execution Does Not Exist or is not running: '{arn}'"
            )));
        }
        let error = StatesError {
            error: validate::optional_string(body, "error")?.map(str::to_owned),
            cause: validate::optional_string(body, "cause")?.map(str::to_owned),
        };
        let now = wall_clock();
        stepwise_engine::stepper::stop(&self.store, &self.queue, arn, error, now)
            .await
            .map_err(internal)?;
        Ok(json!({"stopDate": timestamp(now)}))
    }
}

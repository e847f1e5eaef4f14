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
use crate::{Clients, DynamoStore, LambdaTasks, MachineItem, SqsQueue};

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

    fn machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.region, self.account
        )
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
                "CreateStateMachine" => self.create_machine(&body).await,
                "DescribeStateMachine" => self.describe_machine(&body).await,
                "ListStateMachines" => self.list_machines(&body).await,
                "DeleteStateMachine" => self.delete_machine(&body).await,
                "StartExecution" => self.start_execution(&body).await,
                "StartSyncExecution" => self.start_sync(&body).await,
                "DescribeExecution" => self.describe_execution(&body).await,
                "ListExecutions" => self.list_executions(&body).await,
                "GetExecutionHistory" => self.history(&body).await,
                "StopExecution" => self.stop(&body).await,
                "SendTaskSuccess" => self.callback(&body, Callback::Success).await,
                "SendTaskFailure" => self.callback(&body, Callback::Failure).await,
                "SendTaskHeartbeat" => self.callback(&body, Callback::Heartbeat).await,
                "CreateActivity" => self.create_activity(&body).await,
                "DescribeActivity" => self.describe_activity(&body).await,
                "ListActivities" => self.list_activities(&body).await,
                "DeleteActivity" => self.delete_activity(&body).await,
                "GetActivityTask" => self.get_activity_task(&body).await,
                "ValidateStateMachineDefinition" => {
                    stepwise_engine::console::validate_definition(&body)
                }
                "TestState" => stepwise_engine::console::test_state(&body, &*self.tasks).await,
                other => Err(ApiError::validation(format!(
                    "{other} is not available on the serverless backend yet; use `stepwise serve` (embedded) for it"
                ))),
            }
        })
    }
}

impl AwsService {
    async fn machine_item(&self, arn: &str) -> Result<MachineItem, ApiError> {
        validate::arn(arn, &["stateMachine"])?;
        self.store
            .machine(arn)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::state_machine_does_not_exist(format!(
                    "State Machine Does Not Exist: '{arn}'"
                ))
            })
    }

    async fn create_machine(&self, body: &Value) -> Res {
        let name = validate::string(body, "name")?;
        validate::name("state machine", name)?;
        let definition = validate::string(body, "definition")?;
        let role = validate::string(body, "roleArn")?;
        let kind = validate::optional_string(body, "type")?.unwrap_or("STANDARD");
        if kind != "STANDARD" && kind != "EXPRESS" {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{kind}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
            )));
        }
        let options = Options {
            express: kind == "EXPRESS",
        };
        StateMachine::parse(definition, options).map_err(|e| {
            ApiError::invalid_definition(format!("Invalid State Machine Definition: '{e}'"))
        })?;
        let item = MachineItem {
            arn: self.place.machine_arn(name),
            name: name.to_owned(),
            definition: definition.to_owned(),
            role_arn: role.to_owned(),
            kind: kind.to_owned(),
            created: wall_clock(),
        };
        if !self.store.put_machine(&item).await.map_err(internal)? {
            let old = self.machine_item(&item.arn).await?;
            if (&old.definition, &old.role_arn, &old.kind)
                != (&item.definition, &item.role_arn, &item.kind)
            {
                return Err(ApiError::state_machine_already_exists(format!(
                    "State Machine Already Exists: '{}'",
                    item.arn
                )));
            }
            return Ok(json!({"stateMachineArn": old.arn, "creationDate": timestamp(old.created)}));
        }
        Ok(json!({"stateMachineArn": item.arn, "creationDate": timestamp(item.created)}))
    }

    async fn describe_machine(&self, body: &Value) -> Res {
        let m = self
            .machine_item(validate::string(body, "stateMachineArn")?)
            .await?;
        Ok(json!({
            "stateMachineArn": m.arn, "name": m.name, "status": "ACTIVE",
            "definition": m.definition, "roleArn": m.role_arn, "type": m.kind,
            "creationDate": timestamp(m.created),
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
            "tracingConfiguration": {"enabled": false},
        }))
    }

    async fn list_machines(&self, body: &Value) -> Res {
        let (max, offset) = validate::page(body)?;
        let all = self.store.machines().await.map_err(internal)?;
        let page: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(max)
            .map(|m| json!({"stateMachineArn": m.arn, "name": m.name, "type": m.kind, "creationDate": timestamp(m.created)}))
            .collect();
        let mut out = json!({"stateMachines": page});
        if let Some(t) = validate::next_token(offset, max, all.len()) {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    async fn delete_machine(&self, body: &Value) -> Res {
        let arn = validate::string(body, "stateMachineArn")?;
        validate::arn(arn, &["stateMachine"])?;
        self.store.delete_machine(arn).await.map_err(internal)?;
        Ok(json!({}))
    }

    /// The record a new execution of `body["stateMachineArn"]` would have.
    async fn new_execution(
        &self,
        body: &Value,
    ) -> Result<(ExecutionRecord, StateMachine, String), ApiError> {
        let m = self
            .machine_item(validate::string(body, "stateMachineArn")?)
            .await?;
        let name = match validate::optional_string(body, "name")? {
            Some(n) => n.to_owned(),
            None => uuid(),
        };
        validate::name("execution", &name)?;
        let input_text = validate::optional_string(body, "input")?.unwrap_or("{}");
        let input = validate::input(Some(input_text))?;
        let express = m.kind == "EXPRESS";
        let machine = StateMachine::parse(&m.definition, Options { express })
            .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
        let mut facts = local_execution(&m.name, &name, input, wall_clock(), express);
        let region_account = format!("{}:{}", self.place.region, self.place.account);
        facts.arn = facts.arn.replace("us-east-1:123456789012", &region_account);
        facts.state_machine_arn = m.arn.clone();
        facts.role_arn = m.role_arn.clone();
        let record = ExecutionRecord {
            facts,
            definition: m.definition.clone(),
            express,
            status: "RUNNING".into(),
            outcome: None,
            stopped: None,
            parent: None,
            started_by: None,
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
        Ok(Value::Object(o))
    }

    async fn list_executions(&self, body: &Value) -> Res {
        let machine = validate::string(body, "stateMachineArn")?;
        self.machine_item(machine).await?;
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

//! The execution actions' rules and answers, written once for every
//! backend: what StartExecution checks and builds, and how
//! DescribeExecution, DescribeStateMachineForExecution, ListExecutions,
//! GetExecutionHistory and StopExecution read and answer. A backend keeps
//! executions its own way (SQLite rows, DynamoDB items) behind the
//! [`ExecutionStore`] port; starting and stopping then go through its
//! driver.

use std::future::Future;

use serde_json::{Map, Value, json};
use stepwise_asl::exec::Ordered;
use stepwise_asl::{ChildRecord, Execution, MapRun, StatesError, Thread};

use crate::api::{ApiError, timestamp, validate};
use crate::catalog::{self, Catalog, Resolved};
use crate::stepper::PortError;

/// AWS's limit on the history of one STANDARD execution.
pub const MAX_STANDARD_EVENTS: u64 = 25_000;

/// What an execution fails with once its history holds `events` events,
/// past AWS's limit: the same rule on every driver (an endless loop ends
/// as it would on AWS rather than growing its history for ever).
pub fn past_history_limit(express: bool, events: u64) -> Option<StatesError> {
    (!express && events > MAX_STANDARD_EVENTS).then(|| {
        StatesError::runtime(format!(
            "{HISTORY_LIMIT} ({MAX_STANDARD_EVENTS}) of a STANDARD state machine"
        ))
    })
}

/// How the cause of an execution failed at the history limit begins.
const HISTORY_LIMIT: &str = "The execution reached the maximum number of history events";

/// Why an execution cannot be redriven (AWS's `redriveStatusReason`, and
/// RedriveExecution's refusal), if it cannot: it has not failed, or its
/// history is full.
pub fn redrive_refusal(v: &ExecutionView) -> Option<String> {
    match v.status.as_str() {
        s @ ("RUNNING" | "SUCCEEDED") => Some(format!("Execution is {s} and cannot be redriven")),
        _ if v
            .cause
            .as_deref()
            .is_some_and(|c| c.starts_with(HISTORY_LIMIT)) =>
        {
            Some("Execution history event limit exceeded".into())
        }
        _ => None,
    }
}

/// The statuses ListExecutions filters by, in the order AWS's refusal
/// lists them.
pub const STATUSES: [&str; 6] = [
    "SUCCEEDED",
    "TIMED_OUT",
    "PENDING_REDRIVE",
    "ABORTED",
    "FAILED",
    "RUNNING",
];

/// One execution as the API shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionView {
    pub arn: String,
    pub machine_arn: String,
    pub version: Option<String>,
    pub alias: Option<String>,
    pub name: String,
    pub status: String,
    /// JSON text, as given.
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started: i64,
    pub stopped: Option<i64>,
    pub redrive_count: u32,
    pub redrive_date: Option<i64>,
    pub express: bool,
    /// The definition it runs (for DescribeStateMachineForExecution; `None`
    /// in listings, or for executions stored before it was kept).
    pub definition: Option<String>,
    /// A Distributed Map's child execution: the Map Run that started it.
    pub map_run: Option<String>,
}

/// A history event, numbered.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub id: u64,
    pub previous: u64,
    pub timestamp: i64,
    pub kind: String,
    pub details: Value,
}

/// How a backend reads its executions.
pub trait ExecutionStore {
    fn view(&self, arn: &str) -> impl Future<Output = Result<Option<ExecutionView>, PortError>>;
    /// A page of the executions of a machine (of one version of it, when
    /// given), with `status` if given, newest first (by start, then
    /// newest stored): at most `max`, after the execution `after` names
    /// (its start and ARN) when given, and whether more follow. A store
    /// reads what it returns, not every execution there is, however deep
    /// the page.
    fn list(
        &self,
        machine: &str,
        version: Option<&str>,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        max: usize,
    ) -> impl Future<Output = Result<(Vec<ExecutionView>, bool), PortError>>;
    /// A page of the history (`offset`, at most `max`, newest first when
    /// `reverse`) and how many events there are in all.
    fn history(
        &self,
        arn: &str,
        reverse: bool,
        offset: usize,
        max: usize,
    ) -> impl Future<Output = Result<(Vec<HistoryRow>, usize), PortError>>;
    /// The Distributed Map runs of an execution, in the order they started,
    /// as they were kept when they started or ended.
    fn map_runs(&self, execution: &str) -> impl Future<Output = Result<Vec<MapRun>, PortError>>;
    /// A Map Run by its ARN, with its execution's ARN.
    fn map_run(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<(String, MapRun)>, PortError>>;
    /// A thread of an execution as stored now (a running Map Run's counts
    /// are in its Map state's thread).
    fn thread(
        &self,
        execution: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Thread>, PortError>>;
    /// The child executions of Distributed Maps kept under these ARNs
    /// (without their events; any order, the missing left out).
    fn children(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<ChildRecord>, PortError>>;
    /// A child execution's history events, from every page of every
    /// thread (any order: each carries its place).
    fn child_history(&self, arn: &str) -> impl Future<Output = Result<Vec<Ordered>, PortError>>;
}

type Res = Result<Value, ApiError>;

pub(crate) fn internal(e: PortError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// The `executionArn` of a request: a standard or express execution ARN.
pub fn execution_arn(body: &Value) -> Result<&str, ApiError> {
    let arn = validate::string(body, "executionArn")?;
    validate::arn(arn, &["execution", "express"])?;
    Ok(arn)
}

/// The execution ARN of an action that reads or stops a kept execution
/// (DescribeExecution, DescribeStateMachineForExecution,
/// GetExecutionHistory, StopExecution): AWS keeps no record of an EXPRESS
/// execution and refuses its ARN.
pub fn kept_execution_arn(body: &Value) -> Result<&str, ApiError> {
    let arn = execution_arn(body)?;
    if arn.split(':').nth(5) == Some("express") {
        return Err(validate::wrong_kind("express"));
    }
    Ok(arn)
}

pub fn not_found(arn: &str) -> ApiError {
    ApiError::execution_does_not_exist(format!("Execution Does Not Exist: '{arn}'"))
}

/// The execution (or a Distributed Map's child execution), or
/// ExecutionDoesNotExist.
pub async fn view<S: ExecutionStore>(store: &S, arn: &str) -> Result<ExecutionView, ApiError> {
    if let Some(v) = store.view(arn).await.map_err(internal)? {
        return Ok(v);
    }
    crate::children::view(store, arn)
        .await?
        .ok_or_else(|| not_found(arn))
}

/// What StartExecution (and StartSyncExecution, and a nested start) will
/// run: checked, resolved, named, with the execution's facts. The caller
/// parses the definition (a backend may cache parsed machines).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StartPlan {
    pub resolved: Resolved,
    pub facts: Execution,
    /// The input as the caller wrote it.
    pub input_text: String,
}

/// Checks a start request and builds what the execution will be. `name`
/// is generated (`fresh_name`) when the request gives none; `now` is the
/// start time.
pub async fn plan_start<C: Catalog>(
    cat: &C,
    body: &Value,
    fresh_name: impl FnOnce() -> String,
    now: i64,
) -> Result<StartPlan, ApiError> {
    let target = validate::string(body, "stateMachineArn")?;
    // `<ARN>#<test case>`: the execution takes that test case of the mock
    // configuration, as on Step Functions Local.
    let (target, test_case) = match target.split_once('#') {
        Some((arn, case)) if !case.is_empty() => (arn, Some(case)),
        _ => (target, None),
    };
    let resolved = catalog::resolve(cat, target, crate::entropy() % 100).await?;
    let name = match validate::optional_string(body, "name")? {
        Some(n) => n.to_owned(),
        None => fresh_name(),
    };
    validate::name("execution", &name)?;
    let input_text = validate::optional_string(body, "input")?
        .unwrap_or("{}")
        .to_owned();
    let input = validate::input(Some(&input_text))?;
    let express = resolved.express;
    let scope = resolved
        .machine_arn
        .split(":stateMachine:")
        .next()
        .unwrap_or_default()
        .to_owned();
    let arn = if express {
        // AWS ends an EXPRESS execution's ARN with an id of its own.
        format!("{scope}:express:{}:{name}:{}", resolved.name, crate::uuid())
    } else {
        format!("{scope}:execution:{}:{name}", resolved.name)
    };
    let facts = Execution {
        arn,
        name,
        input,
        start_time: now,
        role_arn: resolved.settings.role_arn.clone(),
        state_machine_arn: resolved
            .version_arn
            .clone()
            .unwrap_or_else(|| resolved.machine_arn.clone()),
        state_machine_name: resolved.name.clone(),
        redrive_count: if express { None } else { Some(0) },
        given_context: None,
        state_name: None,
        mock: test_case.map(|case| stepwise_asl::MockCase {
            machine: resolved.name.clone(),
            case: case.to_owned(),
        }),
    };
    Ok(StartPlan {
        resolved,
        facts,
        input_text,
    })
}

/// The answer to starting `arn` again under a name that exists: the same
/// execution while it runs with the same input, else ExecutionAlreadyExists.
pub fn start_again(arn: &str, old: &ExecutionView, input_text: &str) -> Result<i64, ApiError> {
    let same_input = old.input == input_text
        || serde_json::from_str::<Value>(&old.input).ok()
            == serde_json::from_str::<Value>(input_text).ok();
    if old.status == "RUNNING" && same_input {
        return Ok(old.started);
    }
    Err(ApiError::execution_already_exists(format!(
        "Execution Already Exists: '{arn}'"
    )))
}

fn redrive_fields(o: &mut Map<String, Value>, v: &ExecutionView) {
    if v.express {
        return;
    }
    o.insert("redriveCount".into(), v.redrive_count.into());
    if let Some(d) = v.redrive_date {
        o.insert("redriveDate".into(), timestamp(d));
    }
}

pub async fn describe<S: ExecutionStore>(store: &S, body: &Value) -> Res {
    let arn = kept_execution_arn(body)?;
    let v = view(store, arn).await?;
    let mut o = Map::new();
    o.insert("executionArn".into(), arn.into());
    o.insert("stateMachineArn".into(), v.machine_arn.clone().into());
    if let Some(x) = &v.version {
        o.insert("stateMachineVersionArn".into(), x.clone().into());
    }
    if let Some(x) = &v.alias {
        o.insert("stateMachineAliasArn".into(), x.clone().into());
    }
    o.insert("name".into(), v.name.clone().into());
    o.insert("status".into(), v.status.clone().into());
    o.insert("startDate".into(), timestamp(v.started));
    if let Some(s) = v.stopped {
        o.insert("stopDate".into(), timestamp(s));
    }
    o.insert("input".into(), v.input.clone().into());
    o.insert("inputDetails".into(), json!({"included": true}));
    if let Some(out) = &v.output {
        o.insert("output".into(), out.clone().into());
        o.insert("outputDetails".into(), json!({"included": true}));
    }
    // A timed-out execution is described without an error or cause (its
    // history's ExecutionTimedOut has them), as AWS describes one.
    let timed_out = v.status == "TIMED_OUT";
    if let Some(e) = v.error.as_ref().filter(|_| !timed_out) {
        o.insert("error".into(), e.clone().into());
    }
    if let Some(c) = v.cause.as_ref().filter(|_| !timed_out) {
        o.insert("cause".into(), c.clone().into());
    }
    if let Some(run) = &v.map_run {
        o.insert("mapRunArn".into(), run.clone().into());
        return Ok(Value::Object(o));
    }
    redrive_fields(&mut o, &v);
    if !v.express {
        match redrive_refusal(&v) {
            Some(reason) => {
                o.insert("redriveStatus".into(), "NOT_REDRIVABLE".into());
                o.insert("redriveStatusReason".into(), reason.into());
            }
            None => {
                o.insert("redriveStatus".into(), "REDRIVABLE".into());
            }
        }
    }
    Ok(Value::Object(o))
}

pub async fn describe_machine<S: ExecutionStore, C: Catalog>(
    store: &S,
    cat: &C,
    body: &Value,
) -> Res {
    let arn = kept_execution_arn(body)?;
    let v = view(store, arn).await?;
    if v.map_run.is_some() {
        return crate::children::describe_machine(store, cat, &v).await;
    }
    catalog::describe_for_execution(
        cat,
        &v.machine_arn,
        v.version.as_deref(),
        v.definition.as_deref(),
        v.started,
    )
    .await
}

pub async fn list<S: ExecutionStore, C: Catalog>(store: &S, cat: &C, body: &Value) -> Res {
    let (max, at) = validate::page_at(body)?;
    let status = status_filter(body)?;
    if let (None, Some(run)) = (
        validate::optional_string(body, "stateMachineArn")?,
        validate::optional_string(body, "mapRunArn")?,
    ) {
        return crate::children::list(store, run, status, at.as_deref(), max).await;
    }
    // A page continues after the last execution of the one before (keyset
    // pagination: no count of what came before is read again).
    let after = match &at {
        None => None,
        Some(at) => {
            let (started, arn) = at.split_once('/').ok_or_else(validate::bad_token)?;
            Some((
                started.parse::<i64>().map_err(|_| validate::bad_token())?,
                arn,
            ))
        }
    };
    let target = match (
        validate::optional_string(body, "stateMachineArn")?,
        validate::optional_string(body, "mapRunArn")?,
    ) {
        (Some(m), None) => m,
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Must provide only one of StateMachine ARN or MapRun ARN",
            ));
        }
        (None, _) => {
            return Err(ApiError::validation(
                "Must provide a StateMachine ARN or MapRun ARN",
            ));
        }
    };
    let t = catalog::target(target)?;
    let version = matches!(t, catalog::Target::Version(_)).then_some(target);
    let m = catalog::machine(cat, t.machine(), target).await?;
    if m.kind == "EXPRESS" {
        return Err(ApiError::state_machine_type_not_supported(
            "This operation is not supported by this type of state machine",
        ));
    }
    let (page, more) = store
        .list(t.machine(), version, status, after, max)
        .await
        .map_err(internal)?;
    let next = page.last().map(|v| format!("{}/{}", v.started, v.arn));
    let items: Vec<Value> = page
        .into_iter()
        .map(|v| {
            let mut o = Map::new();
            o.insert("executionArn".into(), v.arn.clone().into());
            o.insert("stateMachineArn".into(), v.machine_arn.clone().into());
            o.insert("name".into(), v.name.clone().into());
            o.insert("status".into(), v.status.clone().into());
            o.insert("startDate".into(), timestamp(v.started));
            if let Some(s) = v.stopped {
                o.insert("stopDate".into(), timestamp(s));
            }
            if let Some(x) = &v.version {
                o.insert("stateMachineVersionArn".into(), x.clone().into());
            }
            if let Some(x) = &v.alias {
                o.insert("stateMachineAliasArn".into(), x.clone().into());
            }
            redrive_fields(&mut o, &v);
            Value::Object(o)
        })
        .collect();
    let mut out = json!({"executions": items});
    if more && let Some(next) = next {
        out["nextToken"] = validate::token_at(&next).into();
    }
    Ok(out)
}

/// ListExecutions' `statusFilter`, checked.
fn status_filter(body: &Value) -> Result<Option<&str>, ApiError> {
    validate::one_of(body, "statusFilter", &STATUSES)
}

pub async fn history<S: ExecutionStore>(store: &S, body: &Value) -> Res {
    let arn = kept_execution_arn(body)?;
    let (max, offset) = validate::page(body)?;
    let flag = |member: &str, default: bool| match body.get(member) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::serialization(format!(
            "The member '{member}' must be a boolean"
        ))),
    };
    let reverse = flag("reverseOrder", false)?;
    let include = flag("includeExecutionData", true)?;
    let v = view(store, arn).await?;
    let (rows, total) = if v.map_run.is_some() {
        crate::children::history(store, arn, reverse, offset, max).await?
    } else {
        store
            .history(arn, reverse, offset, max)
            .await
            .map_err(internal)?
    };
    let events: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            crate::api::history_event(
                r.id as i64,
                r.previous as i64,
                r.timestamp,
                &r.kind,
                r.details,
                include,
            )
        })
        .collect();
    let mut out = json!({"events": events});
    if let Some(t) = validate::next_token(offset, max, total) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

/// StopExecution's checks: the execution, and the error and cause to stop
/// it with. `Ok(None)`: it has ended already (the answer is its stop date).
pub async fn stop_request<S: ExecutionStore>(
    store: &S,
    body: &Value,
) -> Result<(String, Result<StatesError, i64>), ApiError> {
    let arn = kept_execution_arn(body)?;
    let error = validate::optional_string(body, "error")?.map(str::to_owned);
    let cause = validate::optional_string(body, "cause")?.map(str::to_owned);
    if error.as_ref().is_some_and(|e| e.chars().count() > 256) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    if cause.as_ref().is_some_and(|c| c.chars().count() > 32768) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768",
        ));
    }
    let v = view(store, arn).await?;
    if let Some(run) = &v.map_run {
        return Err(crate::children::not_on_its_own(arn, run, "stopped"));
    }
    if v.status != "RUNNING" {
        return Ok((arn.to_owned(), Err(v.stopped.unwrap_or(v.started))));
    }
    Ok((arn.to_owned(), Ok(StatesError { error, cause })))
}

/// StartSyncExecution: an EXPRESS execution run whole, in memory, with
/// `tasks`; the answer AWS gives (no history is kept).
pub async fn run_sync<T: crate::ports::Tasks>(plan: StartPlan, tasks: T) -> Res {
    if !plan.resolved.express {
        return Err(ApiError::state_machine_type_not_supported(
            "This operation is not supported by this type of state machine",
        ));
    }
    let machine = stepwise_asl::StateMachine::parse(
        &plan.resolved.settings.definition,
        stepwise_asl::Options { express: true },
    )
    .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
    let facts = plan.facts;
    let options = crate::RunnerOptions {
        fast_forward: false,
        seed: crate::entropy(),
        history: false,
    };
    let started = std::time::Instant::now();
    let report = crate::Runner::new(&machine, facts.clone(), tasks, options)
        .run()
        .await;
    let billed = (started.elapsed().as_millis() as u64).div_ceil(100).max(1) * 100;
    let mut o = Map::new();
    o.insert("executionArn".into(), facts.arn.into());
    o.insert("stateMachineArn".into(), facts.state_machine_arn.into());
    o.insert("name".into(), facts.name.into());
    o.insert("startDate".into(), timestamp(facts.start_time));
    o.insert("stopDate".into(), timestamp(crate::memory::wall_clock()));
    o.insert("status".into(), report.status.as_str().into());
    o.insert("input".into(), plan.input_text.into());
    o.insert("inputDetails".into(), json!({"included": true}));
    if let Some(out) = &report.output {
        o.insert("output".into(), out.to_string().into());
    }
    // (Even without an output: LocalStack's express tests, recorded on AWS.)
    o.insert("outputDetails".into(), json!({"included": true}));
    if let Some(e) = &report.error {
        if let Some(name) = &e.error {
            o.insert("error".into(), name.clone().into());
        }
        if let Some(cause) = &e.cause {
            o.insert("cause".into(), cause.clone().into());
        }
    }
    o.insert(
        "billingDetails".into(),
        json!({"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed}),
    );
    Ok(Value::Object(o))
}

/// RedriveExecution's refusal for an execution in `status`.
pub fn not_redrivable(status: &str) -> ApiError {
    ApiError::execution_not_redrivable(format!("Execution is {status} and cannot be redriven"))
}

/// How an ended execution ended, read back from its store with its whole
/// history: what `stepwise run` prints (`None` while it runs, or when
/// there is no such execution).
pub async fn report<S: ExecutionStore>(
    store: &S,
    arn: &str,
) -> Result<Option<crate::Report>, PortError> {
    let Some(v) = store.view(arn).await? else {
        return Ok(None);
    };
    let error = StatesError {
        error: v.error,
        cause: v.cause,
    };
    let outcome = match v.status.as_str() {
        "SUCCEEDED" => {
            let output = v.output.as_deref().unwrap_or("null");
            stepwise_asl::Outcome::Succeeded(serde_json::from_str(output)?)
        }
        "FAILED" => stepwise_asl::Outcome::Failed(error),
        "TIMED_OUT" => stepwise_asl::Outcome::TimedOut(error),
        "ABORTED" => stepwise_asl::Outcome::Aborted(error),
        _ => return Ok(None),
    };
    let history = recorded(store, arn).await?;
    Ok(Some(crate::Report::from_outcome(outcome, history)))
}

/// An execution's whole history as stored, numbered.
pub async fn recorded<S: ExecutionStore>(
    store: &S,
    arn: &str,
) -> Result<Vec<crate::report::Recorded>, PortError> {
    let (rows, _) = store.history(arn, false, 0, usize::MAX).await?;
    let mut history = Vec::with_capacity(rows.len());
    for r in rows {
        history.push(crate::report::Recorded {
            id: r.id,
            previous: r.previous,
            event: stepwise_asl::exec::HistoryEvent {
                timestamp: r.timestamp,
                kind: serde_json::from_value(Value::String(r.kind))?,
                // Not kept with a stored event: it is numbered already.
                thread: String::new(),
                details: r.details,
                with_entry: false,
                after: None,
            },
        });
    }
    Ok(history)
}

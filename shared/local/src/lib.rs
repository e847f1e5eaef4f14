//! # stepwise-local
//!
//! The embedded backend of `stepwise serve`: executions, their threads,
//! queued messages and history live in SQLite; a worker thread advances
//! them; a few dispatcher threads carry out tasks. It implements the
//! [`stepwise_api::Service`] the HTTP server calls.

#![forbid(unsafe_code)]

mod cache;
mod catalog;
mod clock;
mod db;
mod driver;
mod ops;
mod retention;
mod runs;
pub mod stepper;
pub mod tasks;
mod worker;

use std::path::Path;
use std::sync::{Arc, mpsc};

use serde_json::Value;
use stepwise_api::{ApiError, Reply, Service};
use stepwise_engine::block_on;
use stepwise_engine::catalog::Scope;
use stepwise_engine::nested::WithApi;
use tokio::sync::oneshot;

pub use crate::retention::Retention;
use crate::worker::{Command, Worker};

/// Checkpoints the store at `path` and empties its write-ahead log (for a
/// clean stop; committed data is in the log already either way).
pub fn truncate_wal(path: &Path) {
    if let Ok(conn) = rusqlite::Connection::open(path) {
        let _ = conn.execute_batch("PRAGMA busy_timeout = 2000;");
        db::checkpoint_truncate(&db::Db::new(conn), std::time::Duration::from_secs(2));
    }
}

/// As many task calls at once as AWS runs inline Map iterations (40): a
/// Map of slow Lambdas runs them together, and a call's TimeoutSeconds is
/// not spent waiting for a free dispatcher (with 4, the fifth of 40
/// ten-second calls timed out at 15 seconds).
pub const DISPATCHERS: usize = stepwise_asl::exec::INLINE_CONCURRENCY;

/// How tasks run in this backend.
pub struct Config {
    /// The task chain (mocks → service integrations → Lambda), as every
    /// backend builds it; the worker starts nested executions itself.
    pub tasks: Arc<dyn tasks::Chain>,
    /// How many task calls run at once (threads, idle until needed).
    pub dispatchers: usize,
    /// Delete ended executions after a while (`None`: keep them forever).
    pub retention: Option<Retention>,
    /// Skip over Waits and retry back-off (`stepwise run --fast-forward`):
    /// when nothing is left but to wait, the clock moves to the next due
    /// message.
    pub fast_forward: bool,
    /// Where requests that name no region are answered, in which account.
    pub scope: Scope,
}

/// The worker's API: a request goes to its thread and is answered once
/// the batch that handled it commits.
#[derive(Clone)]
struct WorkerApi(mpsc::Sender<Command>);

impl WorkerApi {
    async fn ask_in(
        &self,
        region: Option<&str>,
        action: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.0
            .send(Command::Api {
                region: region.map(str::to_owned),
                action: action.to_owned(),
                body,
                reply,
            })
            .map_err(|_| ApiError::internal("the worker has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the worker dropped the request"))?
    }
}

impl Service for WorkerApi {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        self.call_in(None, action, body)
    }

    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(self.ask_in(region, action, body))
    }
}

pub struct LocalService {
    api: WorkerApi,
    scope: Scope,
    tasks: tasks::ChainTasks,
    /// Reader connections (file stores only: WAL lets them read committed
    /// data while the worker writes), so reads do not queue behind writes.
    readers: Option<db::Readers>,
}

impl LocalService {
    /// Opens (or creates) the store at `path` (in memory when `None`) and
    /// starts the worker; executions left running by a previous process
    /// carry on.
    pub fn open(path: Option<&Path>, config: Config) -> rusqlite::Result<LocalService> {
        let conn = db::open(path)?;
        let (commands, rx) = mpsc::channel();
        let (dispatch_tx, dispatch_rx) = mpsc::channel();
        let chain = tasks::ChainTasks(config.tasks);
        let runner = tasks::Runner {
            tasks: chain.clone(),
        };
        tasks::start(runner, config.dispatchers, dispatch_rx, commands.clone());
        let worker = Worker::new(
            conn,
            dispatch_tx,
            chain.clone(),
            config.fast_forward,
            config.scope.clone(),
        )?;
        std::thread::Builder::new()
            .name("stepwise-worker".into())
            .spawn(move || worker.run(rx))
            .expect("worker thread starts");
        if let Some(r) = config.retention {
            retention::start(commands.clone(), r);
        }
        let readers = path.map(db::Readers::new);
        Ok(LocalService {
            api: WorkerApi(commands),
            scope: config.scope,
            tasks: chain,
            readers,
        })
    }

    /// Stops the worker cleanly: what it was handling is committed and the
    /// write-ahead log emptied (waits up to `patience`).
    pub fn close(&self, patience: std::time::Duration) {
        let (done, wait) = mpsc::channel();
        if self.api.0.send(Command::Close(done)).is_ok() {
            let _ = wait.recv_timeout(patience);
        }
    }

    /// Runs one execution of `definition` to its end through the API and
    /// the worker, as any other (`stepwise run --backend sqlite`): a
    /// STANDARD state machine `name` is created for it in the service's
    /// own scope.
    pub async fn run_to_end(
        &self,
        name: &str,
        definition: &str,
        input: &Value,
    ) -> Result<stepwise_engine::Report, ApiError> {
        let role = stepwise_engine::memory::local_role(&self.scope.account);
        let body = serde_json::json!({"name": name, "definition": definition, "roleArn": role});
        let created = self.call("CreateStateMachine", body).await?;
        // `stepwise run` serves no API to create the activities its machine
        // names: they exist, as on every engine `run` drives.
        if let Ok(parsed) = serde_json::from_str::<Value>(definition) {
            for activity in activity_names(&parsed) {
                self.call("CreateActivity", serde_json::json!({"name": activity}))
                    .await?;
            }
        }
        let body = serde_json::json!({
            "stateMachineArn": created["stateMachineArn"],
            "input": input.to_string(),
        });
        let started = self.call("StartExecution", body).await?;
        let arn = started["executionArn"].as_str().unwrap_or_default();
        let mut pause = 1;
        loop {
            if let Some(report) = self.report(arn).await? {
                return Ok(report);
            }
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            pause = (pause * 2).min(20);
        }
    }

    /// How the execution `arn` ended, with its history (`None` while it
    /// runs). One that only a request from outside could move on (the
    /// worker is idle) fails, as in memory: here nobody else can answer.
    async fn report(&self, arn: &str) -> Result<Option<stepwise_engine::Report>, ApiError> {
        use stepwise_engine::executions::{recorded, report};
        let (tx, rx) = oneshot::channel();
        let arn = arn.to_owned();
        let look = move |w: &Worker| {
            let store = ops::executions::SqlExecutions(&w.conn);
            let report = block_on(async {
                match report(&store, &arn).await? {
                    None if w.idle() => Ok(Some(stepwise_engine::Report::stuck(
                        recorded(&store, &arn).await?,
                    ))),
                    r => Ok(r),
                }
            });
            let _ = tx.send(report.map_err(|e: stepwise_engine::stepper::PortError| {
                ApiError::internal(e.to_string())
            }));
        };
        self.api
            .0
            .send(Command::Inspect(Box::new(look)))
            .map_err(|_| ApiError::internal("the worker has stopped"))?;
        rx.await
            .map_err(|_| ApiError::internal("the worker dropped the request"))?
    }

    /// How StartSyncExecution and TestState run tasks: in place, down the
    /// same chain as the worker's.
    fn direct(&self) -> tasks::ChainTasks {
        self.tasks.clone()
    }

    /// Answers a read on a pooled reader connection.
    async fn read(
        &self,
        region: Option<&str>,
        action: &str,
        body: Value,
    ) -> Option<Result<Value, ApiError>> {
        let readers = self.readers.as_ref()?;
        let conn = readers.take().ok()?;
        // A read takes tens of microseconds: cheaper done here than handed
        // to the blocking pool.
        let out = ops::read(&conn, &self.scope.for_request(region), action, &body);
        readers.give(conn);
        Some(out.unwrap_or_else(|e| Err(ApiError::internal(e.to_string()))))
    }

    /// StartSyncExecution: the worker checks and plans it (it owns the
    /// store); EXPRESS machines then run whole, in memory, off the worker.
    async fn start_sync(&self, body: Value) -> Result<Value, ApiError> {
        let plan = self.api.ask_in(None, "Internal.PlanStart", body).await?;
        let plan: stepwise_engine::executions::StartPlan =
            serde_json::from_value(plan).map_err(|e| ApiError::internal(e.to_string()))?;
        let (api, tasks) = (self.api.clone(), self.direct());
        tokio::task::spawn_blocking(move || {
            let tasks = WithApi {
                api: &api,
                fallback: tasks,
            };
            block_on(stepwise_engine::executions::run_sync(plan, tasks))
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    }
}

impl Service for LocalService {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        self.call_in(None, action, body)
    }

    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(async move {
            match action {
                "StartSyncExecution" => self.start_sync(body).await,
                "TestState" => {
                    let (api, tasks) = (self.api.clone(), self.direct());
                    tokio::task::spawn_blocking(move || {
                        let tasks = WithApi {
                            api: &api,
                            fallback: tasks,
                        };
                        block_on(stepwise_engine::console::test_state(&body, tasks))
                    })
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
                }
                a if ops::is_read(a) && self.readers.is_some() => {
                    match self.read(region, a, body.clone()).await {
                        Some(out) => out,
                        None => self.api.ask_in(region, action, body).await,
                    }
                }
                _ => self.api.ask_in(region, action, body).await,
            }
        })
    }
}

/// The names of the activities a definition's Task states name (at any
/// depth).
fn activity_names(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("Resource")
                    && let Some((_, name)) = r.split_once(":activity:")
                {
                    out.push(name.to_owned());
                }
                todo.extend(o.values());
            }
            Value::Array(a) => todo.extend(a),
            _ => {}
        }
    }
    out
}

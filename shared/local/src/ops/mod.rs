//! The API actions over the SQLite store, one file per resource family.

pub mod activities;
pub mod executions;

use serde_json::Value;
use stepwise_api::ApiError;
use stepwise_engine::block_on;
use stepwise_engine::callbacks::Callback;
use stepwise_engine::catalog::{self, Scope};

use crate::catalog::SqlCatalog;
use crate::db::Db;
use crate::worker::Worker;

/// What an action can fail with: the caller's mistake, or the database.
pub enum Fail {
    Api(ApiError),
    Db(rusqlite::Error),
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Fail {
        Fail::Api(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Db(e)
    }
}

pub type Res = Result<Value, Fail>;

/// Actions that only read, answered on a reader connection beside the worker.
pub use stepwise_engine::stepper::service::is_read;

pub fn read(
    db: &Db,
    scope: &Scope,
    action: &str,
    body: &Value,
) -> rusqlite::Result<Result<Value, ApiError>> {
    let out = match action {
        "DescribeExecution" => executions::describe(db, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(db, body),
        "ListExecutions" => executions::list(db, body),
        "GetExecutionHistory" => executions::history(db, body),
        "ListMapRuns" => executions::map_runs(db, body),
        "DescribeMapRun" => executions::map_run(db, body),
        other => match block_on(catalog::call(&SqlCatalog(db), scope, other, body)) {
            Some(r) => r.map_err(Fail::Api),
            None => Err(Fail::Api(ApiError::unknown_operation(format!(
                "'{other}' is not a read"
            )))),
        },
    };
    match out {
        Ok(v) => Ok(Ok(v)),
        Err(Fail::Api(e)) => Ok(Err(e)),
        Err(Fail::Db(e)) => Err(e),
    }
}

pub fn dispatch(
    w: &mut Worker,
    scope: &Scope,
    action: &str,
    body: &Value,
) -> rusqlite::Result<Result<Value, ApiError>> {
    let out = match action {
        "StartExecution" => executions::start(w, body),
        "DescribeExecution" => executions::describe(&w.conn, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(&w.conn, body),
        "ListExecutions" => executions::list(&w.conn, body),
        "GetExecutionHistory" => executions::history(&w.conn, body),
        "ListMapRuns" => executions::map_runs(&w.conn, body),
        "DescribeMapRun" => executions::map_run(&w.conn, body),
        "UpdateMapRun" => executions::update_map_run(w, body),
        "StopExecution" => executions::stop(w, body),
        "RedriveExecution" => executions::redrive(w, body),
        "SendTaskSuccess" | "SendTaskFailure" | "SendTaskHeartbeat" => match Callback::of(action) {
            Some(kind) => activities::callback(w, kind, body),
            None => Err(Fail::Api(ApiError::internal(action))),
        },
        "Internal.PlanStart" => executions::plan(w, body),
        crate::retention::ACTION => crate::retention::expire(w, body),
        other => match block_on(catalog::call(&SqlCatalog(&w.conn), scope, other, body)) {
            Some(r) => r.map_err(Fail::Api),
            None => Err(Fail::Api(ApiError::unknown_operation(format!(
                "The action '{other}' is not supported"
            )))),
        },
    };
    match out {
        Ok(v) => Ok(Ok(v)),
        Err(Fail::Api(e)) => Ok(Err(e)),
        Err(Fail::Db(e)) => Err(e),
    }
}

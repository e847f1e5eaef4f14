//! The API actions over the SQLite store, one file per resource family.

pub mod activities;
pub mod executions;
pub mod machines;
pub mod tags;

use serde_json::Value;
use stepwise_api::ApiError;

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
pub const READS: &[&str] = &[
    "DescribeStateMachine",
    "ListStateMachines",
    "ListStateMachineVersions",
    "DescribeStateMachineAlias",
    "ListStateMachineAliases",
    "DescribeExecution",
    "DescribeStateMachineForExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "DescribeActivity",
    "ListActivities",
    "ListTagsForResource",
    "ValidateStateMachineDefinition",
];

pub fn read(db: &Db, action: &str, body: &Value) -> rusqlite::Result<Result<Value, ApiError>> {
    let out = match action {
        "DescribeStateMachine" => machines::describe(db, body),
        "ListStateMachines" => machines::list(db, body),
        "ListStateMachineVersions" => machines::list_versions(db, body),
        "DescribeStateMachineAlias" => machines::describe_alias(db, body),
        "ListStateMachineAliases" => machines::list_aliases(db, body),
        "DescribeExecution" => executions::describe(db, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(db, body),
        "ListExecutions" => executions::list(db, body),
        "GetExecutionHistory" => executions::history(db, body),
        "DescribeActivity" => activities::describe(db, body),
        "ListActivities" => activities::list(db, body),
        "ListTagsForResource" => tags::list(db, body),
        "ValidateStateMachineDefinition" => {
            stepwise_engine::console::validate_definition(body).map_err(Fail::Api)
        }
        other => Err(Fail::Api(ApiError::unknown_operation(format!(
            "'{other}' is not a read"
        )))),
    };
    match out {
        Ok(v) => Ok(Ok(v)),
        Err(Fail::Api(e)) => Ok(Err(e)),
        Err(Fail::Db(e)) => Err(e),
    }
}

pub fn dispatch(
    w: &mut Worker,
    action: &str,
    body: &Value,
) -> rusqlite::Result<Result<Value, ApiError>> {
    let out = match action {
        "CreateStateMachine" => machines::create(w, body),
        "DescribeStateMachine" => machines::describe(&w.conn, body),
        "UpdateStateMachine" => machines::update(w, body),
        "DeleteStateMachine" => machines::delete(w, body),
        "ListStateMachines" => machines::list(&w.conn, body),
        "ValidateStateMachineDefinition" => {
            stepwise_engine::console::validate_definition(body).map_err(Fail::Api)
        }
        "PublishStateMachineVersion" => machines::publish(w, body),
        "ListStateMachineVersions" => machines::list_versions(&w.conn, body),
        "DeleteStateMachineVersion" => machines::delete_version(w, body),
        "CreateStateMachineAlias" => machines::create_alias(w, body),
        "DescribeStateMachineAlias" => machines::describe_alias(&w.conn, body),
        "UpdateStateMachineAlias" => machines::update_alias(w, body),
        "DeleteStateMachineAlias" => machines::delete_alias(w, body),
        "ListStateMachineAliases" => machines::list_aliases(&w.conn, body),
        "StartExecution" => executions::start(w, body),
        "DescribeExecution" => executions::describe(&w.conn, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(&w.conn, body),
        "ListExecutions" => executions::list(&w.conn, body),
        "GetExecutionHistory" => executions::history(&w.conn, body),
        "StopExecution" => executions::stop(w, body),
        "RedriveExecution" => executions::redrive(w, body),
        "SendTaskSuccess" => activities::send_success(w, body),
        "SendTaskFailure" => activities::send_failure(w, body),
        "SendTaskHeartbeat" => activities::send_heartbeat(w, body),
        "CreateActivity" => activities::create(w, body),
        "DescribeActivity" => activities::describe(&w.conn, body),
        "ListActivities" => activities::list(&w.conn, body),
        "DeleteActivity" => activities::delete(w, body),
        "TagResource" => tags::tag(w, body),
        "UntagResource" => tags::untag(w, body),
        "ListTagsForResource" => tags::list(&w.conn, body),
        "Internal.MachineForRun" => machines::for_run(w, body),
        other => Err(Fail::Api(ApiError::unknown_operation(format!(
            "The action '{other}' is not supported"
        )))),
    };
    match out {
        Ok(v) => Ok(Ok(v)),
        Err(Fail::Api(e)) => Ok(Err(e)),
        Err(Fail::Db(e)) => Err(e),
    }
}

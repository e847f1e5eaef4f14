//! The API actions over the SQLite store, one file per resource family.

pub mod activities;
pub mod executions;
pub mod machines;
pub mod tags;

use serde_json::Value;
use stepwise_api::ApiError;

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

pub fn dispatch(
    w: &mut Worker,
    action: &str,
    body: &Value,
) -> rusqlite::Result<Result<Value, ApiError>> {
    let out = match action {
        "CreateStateMachine" => machines::create(w, body),
        "DescribeStateMachine" => machines::describe(w, body),
        "UpdateStateMachine" => machines::update(w, body),
        "DeleteStateMachine" => machines::delete(w, body),
        "ListStateMachines" => machines::list(w, body),
        "ValidateStateMachineDefinition" => machines::validate_definition(body),
        "PublishStateMachineVersion" => machines::publish(w, body),
        "ListStateMachineVersions" => machines::list_versions(w, body),
        "DeleteStateMachineVersion" => machines::delete_version(w, body),
        "CreateStateMachineAlias" => machines::create_alias(w, body),
        "DescribeStateMachineAlias" => machines::describe_alias(w, body),
        "UpdateStateMachineAlias" => machines::update_alias(w, body),
        "DeleteStateMachineAlias" => machines::delete_alias(w, body),
        "ListStateMachineAliases" => machines::list_aliases(w, body),
        "StartExecution" => executions::start(w, body),
        "DescribeExecution" => executions::describe(w, body),
        "DescribeStateMachineForExecution" => executions::describe_machine(w, body),
        "ListExecutions" => executions::list(w, body),
        "GetExecutionHistory" => executions::history(w, body),
        "StopExecution" => executions::stop(w, body),
        "RedriveExecution" => executions::redrive(w, body),
        "SendTaskSuccess" => activities::send_success(w, body),
        "SendTaskFailure" => activities::send_failure(w, body),
        "SendTaskHeartbeat" => activities::send_heartbeat(w, body),
        "CreateActivity" => activities::create(w, body),
        "DescribeActivity" => activities::describe(w, body),
        "ListActivities" => activities::list(w, body),
        "DeleteActivity" => activities::delete(w, body),
        "TagResource" => tags::tag(w, body),
        "UntagResource" => tags::untag(w, body),
        "ListTagsForResource" => tags::list(w, body),
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

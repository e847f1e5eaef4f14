//! ASL errors as values: the `States.*` names and the `StatesError` an execution carries.

use std::fmt;

/// The error names the States language predefines (`States.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    All,
    DataLimitExceeded,
    ExceedToleratedFailureThreshold,
    HeartbeatTimeout,
    IntrinsicFailure,
    ItemReaderFailed,
    NoChoiceMatched,
    ParameterPathFailure,
    Permissions,
    QueryEvaluationError,
    ResultPathMatchFailure,
    ResultWriterFailed,
    Runtime,
    TaskFailed,
    Timeout,
    BranchFailed,
}

impl ErrorName {
    pub const EVERY: [ErrorName; 16] = [
        ErrorName::All,
        ErrorName::DataLimitExceeded,
        ErrorName::ExceedToleratedFailureThreshold,
        ErrorName::HeartbeatTimeout,
        ErrorName::IntrinsicFailure,
        ErrorName::ItemReaderFailed,
        ErrorName::NoChoiceMatched,
        ErrorName::ParameterPathFailure,
        ErrorName::Permissions,
        ErrorName::QueryEvaluationError,
        ErrorName::ResultPathMatchFailure,
        ErrorName::ResultWriterFailed,
        ErrorName::Runtime,
        ErrorName::TaskFailed,
        ErrorName::Timeout,
        ErrorName::BranchFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::All => "States.ALL",
            ErrorName::DataLimitExceeded => "States.DataLimitExceeded",
            ErrorName::ExceedToleratedFailureThreshold => "States.ExceedToleratedFailureThreshold",
            ErrorName::HeartbeatTimeout => "States.HeartbeatTimeout",
            ErrorName::IntrinsicFailure => "States.IntrinsicFailure",
            ErrorName::ItemReaderFailed => "States.ItemReaderFailed",
            ErrorName::NoChoiceMatched => "States.NoChoiceMatched",
            ErrorName::ParameterPathFailure => "States.ParameterPathFailure",
            ErrorName::Permissions => "States.Permissions",
            ErrorName::QueryEvaluationError => "States.QueryEvaluationError",
            ErrorName::ResultPathMatchFailure => "States.ResultPathMatchFailure",
            ErrorName::ResultWriterFailed => "States.ResultWriterFailed",
            ErrorName::Runtime => "States.Runtime",
            ErrorName::TaskFailed => "States.TaskFailed",
            ErrorName::Timeout => "States.Timeout",
            ErrorName::BranchFailed => "States.BranchFailed",
        }
    }

    pub fn parse(name: &str) -> Option<ErrorName> {
        ErrorName::EVERY.into_iter().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error raised inside an execution: what Retry and Catch match and what a
/// failed execution reports. `error`/`cause` are optional, as on AWS (a Fail
/// state may omit both).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatesError {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StatesError {
    /// Why a nested execution was stopped when the parent's Task that
    /// started it gave up on it: AWS's cause names the parent execution.
    pub fn aborted_by_parent(parent: &str) -> StatesError {
        StatesError {
            error: None,
            cause: Some(format!(
                "The Task state in AWS Step Functions execution [{parent}] which was managing this resource was aborted"
            )),
        }
    }

    pub fn new(name: ErrorName, cause: impl Into<String>) -> Self {
        StatesError {
            error: Some(name.as_str().to_owned()),
            cause: Some(cause.into()),
        }
    }

    pub fn custom(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError {
            error: Some(error.into()),
            cause: Some(cause.into()),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        StatesError::new(ErrorName::Runtime, cause)
    }

    pub fn is(&self, name: ErrorName) -> bool {
        self.error.as_deref() == Some(name.as_str())
    }

    /// The `{"Error": …, "Cause": …}` object that Catch's ResultPath
    /// receives. Both keys are always there, as AWS gives them: what is
    /// missing is null (SendTaskFailure with neither error nor cause gives
    /// `{"Error": null, "Cause": null}`), but for a timeout's cause, which
    /// AWS leaves out of TaskTimedOut and gives a Catcher as `""`.
    pub fn to_output(&self) -> serde_json::Value {
        let cause = match &self.cause {
            Some(c) => c.clone().into(),
            None if self.is(ErrorName::Timeout) => "".into(),
            None => serde_json::Value::Null,
        };
        serde_json::json!({"Error": self.error, "Cause": cause})
    }
}

impl fmt::Display for StatesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.error.as_deref().unwrap_or("-"),
            self.cause.as_deref().unwrap_or("-")
        )
    }
}

//! API errors in AWS's shape: `{"__type": "<Code>", "message": "..."}` with
//! HTTP 400 (or 500 for internal faults).

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// AWS's exception name, e.g. `StateMachineDoesNotExist`.
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

macro_rules! constructors {
    ($($fn:ident => $code:literal),* $(,)?) => {
        impl ApiError {
            $(pub fn $fn(message: impl Into<String>) -> ApiError {
                ApiError { code: $code, message: message.into(), status: 400 }
            })*
        }
    };
}

constructors! {
    validation => "ValidationException",
    invalid_arn => "InvalidArn",
    invalid_name => "InvalidName",
    invalid_definition => "InvalidDefinition",
    invalid_execution_input => "InvalidExecutionInput",
    invalid_output => "InvalidOutput",
    invalid_token => "InvalidToken",
    state_machine_does_not_exist => "StateMachineDoesNotExist",
    state_machine_already_exists => "StateMachineAlreadyExists",
    state_machine_type_not_supported => "StateMachineTypeNotSupported",
    execution_does_not_exist => "ExecutionDoesNotExist",
    execution_already_exists => "ExecutionAlreadyExists",
    execution_not_redrivable => "ExecutionNotRedrivable",
    activity_does_not_exist => "ActivityDoesNotExist",
    activity_already_exists => "ActivityAlreadyExists",
    task_does_not_exist => "TaskDoesNotExist",
    task_timed_out => "TaskTimedOut",
    resource_not_found => "ResourceNotFound",
    conflict => "ConflictException",
    unknown_operation => "UnknownOperationException",
    serialization => "SerializationException",
    invalid_logging => "InvalidLoggingConfiguration",
    too_many_tags => "TooManyTags",
    missing_required_parameter => "MissingRequiredParameter",
    invalid_encryption => "InvalidEncryptionConfiguration",
}

impl ApiError {
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            code: "InternalServerError",
            message: message.into(),
            status: 500,
        }
    }

    /// The same error with another HTTP status (404 for an unknown route).
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"__type": self.code, "message": self.message})
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

//! TestState's `mock`: what answers the state's invocation, and AWS's
//! checks of it against the state it answers.

use serde_json::{Map, Value};

use crate::api::{ApiError, validate};
use crate::mock_result::{self, FieldValidation};
use crate::ports::Tasks;

/// TestState's `mock`: what the state's invocation answers.
pub(super) struct Mock(pub(super) Result<Value, stepwise_asl::StatesError>);

impl Tasks for Mock {
    async fn invoke(
        &self,
        _call: &stepwise_asl::TaskCall,
        _ctx: &crate::ports::TaskContext<'_>,
    ) -> crate::ports::TaskResult {
        self.0.clone()
    }

    fn answers_callbacks(&self, _call: &stepwise_asl::TaskCall) -> bool {
        true
    }
}

/// Reads `mock`: a JSON `result`, or an `errorOutput`, and how strictly
/// the result is held to its API's output shape.
pub(super) fn mock(body: &Value) -> Result<Option<(Mock, FieldValidation)>, ApiError> {
    let Some(m) = body.get("mock").filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    let mode = validate::optional_string(m, "fieldValidationMode")?;
    let Some(mode) = FieldValidation::parse(mode) else {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'mock.fieldValidationMode' failed to satisfy constraint: Member must satisfy enum value set: [STRICT, PRESENT, NONE]",
            mode.unwrap_or_default()
        )));
    };
    let answer = match (
        validate::optional_string(m, "result")?,
        m.get("errorOutput").filter(|e| !e.is_null()),
    ) {
        (Some(text), None) => {
            let v = serde_json::from_str(text).map_err(|_| {
                // (AWS's words, recorded: no parser detail.)
                ApiError::validation("Mocked result must be valid JSON".to_owned())
            })?;
            Ok(v)
        }
        (None, Some(e)) => Err(stepwise_asl::StatesError {
            error: validate::optional_string(e, "error")?.map(str::to_owned),
            cause: validate::optional_string(e, "cause")?.map(str::to_owned),
        }),
        _ => {
            return Err(ApiError::validation(
                "A test mock should have only one of the following fields: [result, errorOutput].",
            ));
        }
    };
    Ok(Some((Mock(answer), mode)))
}

/// AWS's checks of a mock against the state it answers: which states take
/// one, which need one, and the shape of a Map's or Parallel's result.
pub(super) fn check_mock(
    kind: &str,
    state: &Value,
    mock: Option<&(Mock, FieldValidation)>,
) -> Result<(), ApiError> {
    let Some((Mock(answer), mode)) = mock else {
        if matches!(kind, "Map" | "Parallel") {
            return Err(ApiError::invalid_definition(
                "TestState API does not support Map or Parallel states. Supported state types include: [Task, Wait, Pass, Succeed, Fail, Choice]",
            ));
        }
        return Ok(());
    };
    let result = match answer {
        Ok(v) => v,
        Err(_) if matches!(kind, "Task" | "Map" | "Parallel") => return Ok(()),
        Err(_) => &Value::Null,
    };
    match kind {
        "Task" => {
            let resource = state["Resource"].as_str().unwrap_or_default();
            mock_result::check(resource, result, *mode).map_err(ApiError::validation)
        }
        "Map" if state.get("ResultWriter").is_some() => match result {
            Value::Object(_) => Ok(()),
            _ => Err(ApiError::validation("Mocked result must be a JSON object.")),
        },
        "Map" => match result {
            Value::Array(_) => Ok(()),
            _ => Err(ApiError::validation("Mocked result must be an array.")),
        },
        "Parallel" => match result {
            Value::Array(a) if Some(a.len()) == state["Branches"].as_array().map(Vec::len) => {
                Ok(())
            }
            Value::Array(_) => Err(ApiError::validation(
                "Mocked result must contain the same number of items as number of Parallel branches.",
            )),
            _ => Err(ApiError::validation("Mocked result must be an array.")),
        },
        other => Err(ApiError::validation(format!(
            "State type '{other}' is not supported when a mock is specified"
        ))),
    }
}

/// A Map or Parallel state whose result is mocked, as a Task with the same
/// data flow: the mock answers for all its iterations or branches.
pub(super) fn as_mocked_task(state: &Value) -> Value {
    let mut task = Map::new();
    task.insert("Type".into(), "Task".into());
    task.insert("Resource".into(), "arn:aws:states:::lambda:invoke".into());
    for k in [
        "Comment",
        "QueryLanguage",
        "InputPath",
        "ResultSelector",
        "ResultPath",
        "OutputPath",
        "Output",
        "Assign",
        "Retry",
        "Catch",
        "Next",
        "End",
    ] {
        if let Some(v) = state.get(k) {
            task.insert(k.into(), v.clone());
        }
    }
    Value::Object(task)
}

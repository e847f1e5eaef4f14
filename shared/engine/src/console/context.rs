//! TestState's `context`: a context object the request gives in place of
//! the one the engine makes, checked as AWS checks it.

use serde_json::{Map, Value};

use crate::api::{ApiError, validate};

/// The members AWS takes in each part of a given context object.
const PARTS: &[(&str, &[&str])] = &[
    (
        "Execution",
        &[
            "Id",
            "Input",
            "Name",
            "RoleArn",
            "StartTime",
            "RedriveCount",
            "RedriveTime",
        ],
    ),
    ("State", &["EnteredTime", "Name", "RetryCount"]),
    ("StateMachine", &["Id", "Name"]),
    ("Task", &["Token"]),
];

/// `body["context"]`, the context object `state` runs with, if given.
pub(super) fn given(body: &Value, state: &Value) -> Result<Option<Value>, ApiError> {
    let Some(text) = validate::optional_string(body, "context")? else {
        return Ok(None);
    };
    let invalid =
        |why: String| ApiError::validation(format!("Invalid Context object provided: {why}"));
    let Ok(Value::Object(context)) = serde_json::from_str::<Value>(text) else {
        return Err(invalid("it must be a JSON object".into()));
    };
    for (key, value) in &context {
        if key == "Map" {
            return Err(invalid(
                "'Map' field is not supported when mocking a Context object".into(),
            ));
        }
        let Some((_, members)) = PARTS.iter().find(|(part, _)| part == key) else {
            return Err(invalid(format!("Field '{key}' is not allowed")));
        };
        let Value::Object(part) = value else {
            return Err(invalid(format!("{key} must be an object")));
        };
        check_part(key, part, members).map_err(invalid)?;
    }
    let waits = state["Resource"]
        .as_str()
        .is_some_and(|r| r.contains(".sync") || r.ends_with(".waitForTaskToken"));
    if context.contains_key("Task") && !waits {
        return Err(invalid(
            "Context object contains 'Task' when state is not a Task state with a '.sync' or '.waitForTaskToken' service integration pattern".into(),
        ));
    }
    Ok(Some(Value::Object(context)))
}

/// One part's members: only those AWS knows, each of its type.
fn check_part(part: &str, members: &Map<String, Value>, known: &[&str]) -> Result<(), String> {
    for (key, value) in members {
        if !known.contains(&key.as_str()) {
            return Err(format!("Field '{key}' is not allowed"));
        }
        let counts = matches!(key.as_str(), "RetryCount" | "RedriveCount");
        if key == "Input" || value.is_null() {
            continue;
        }
        if counts && !value.is_u64() {
            return Err(format!("{part}.{key} must be a whole number"));
        }
        if !counts && !value.is_string() {
            return Err(format!("{part}.{key} must be a string"));
        }
    }
    Ok(())
}

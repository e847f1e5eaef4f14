//! The API actions that need no store, answered the same way by both
//! backends: ValidateStateMachineDefinition, and TestState — one state,
//! run alone on an input, as the console's "Test state" does. The state runs in a small machine of its own in which every
//! state it can go to is a Succeed placeholder, so the run stops right
//! after it; a Retry is not waited out: an error a retrier matches is
//! reported as RETRIABLE.

use serde_json::{Map, Value, json};
use stepwise_api::{ApiError, validate};
use stepwise_asl::{Options, StateMachine};

use crate::memory::{local_execution, wall_clock};
use crate::ports::Tasks;
use crate::{Runner, RunnerOptions, Status};

/// The state types TestState runs here.
const TYPES: &[&str] = &["Pass", "Task", "Choice", "Wait", "Succeed", "Fail"];

/// ValidateStateMachineDefinition: `OK`, or `FAIL` with a diagnostic per
/// problem (its code, message and JSON pointer).
pub fn validate_definition(body: &Value) -> Result<Value, ApiError> {
    let definition = validate::string(body, "definition")?;
    let express = match validate::optional_string(body, "type")? {
        None | Some("STANDARD") => false,
        Some("EXPRESS") => true,
        Some(other) => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
            )));
        }
    };
    Ok(match StateMachine::parse(definition, Options { express }) {
        Ok(_) => json!({"result": "OK", "diagnostics": [], "truncated": false}),
        Err(invalid) => {
            let diagnostics: Vec<Value> = invalid
                .0
                .iter()
                .map(|p| {
                    let mut d = json!({"severity": "ERROR", "code": p.code, "message": p.message});
                    if let Some(at) = &p.pointer {
                        d["location"] = if at.is_empty() {
                            "/".into()
                        } else {
                            at.clone().into()
                        };
                    }
                    d
                })
                .collect();
            json!({"result": "FAIL", "diagnostics": diagnostics, "truncated": false})
        }
    })
}

pub async fn test_state<T: Tasks>(body: &Value, tasks: T) -> Result<Value, ApiError> {
    let text = validate::string(body, "definition")?;
    let definition: Value = serde_json::from_str(text)
        .map_err(|e| ApiError::invalid_definition(format!("The definition is not JSON: {e}")))?;
    let input_text = validate::optional_string(body, "input")?.unwrap_or("{}");
    let input = validate::input(Some(input_text))?;
    if let Some(v) = validate::optional_string(body, "variables")?
        && serde_json::from_str::<Value>(v)
            .is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
    {
        return Err(ApiError::validation(
            "TestState with variables is not supported by stepwise serve yet",
        ));
    }
    let (name, state, language) = match validate::optional_string(body, "stateName")? {
        Some(n) => {
            let s = definition["States"].get(n).cloned().ok_or_else(|| {
                ApiError::validation(format!("The state '{n}' is not in the definition"))
            })?;
            (n.to_owned(), s, definition.get("QueryLanguage").cloned())
        }
        None => ("TestState".to_owned(), definition, None),
    };
    let kind = state["Type"].as_str().unwrap_or_default();
    if !TYPES.contains(&kind) {
        return Err(ApiError::validation(format!(
            "TestState runs {} states; '{kind}' is not one of them here",
            TYPES.join(", ")
        )));
    }
    // Retriers are not waited out: the state runs once without them.
    let mut once = state.clone();
    let retry = once.as_object_mut().and_then(|o| o.remove("Retry"));
    let mut states = Map::new();
    for target in targets(&state) {
        if target != name {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    states.insert(name.clone(), once);
    let mut machine = json!({"StartAt": name, "States": states});
    if let Some(l) = language {
        machine["QueryLanguage"] = l;
    }
    // The parse error already reads "Invalid State Machine Definition: '…'".
    let sm = StateMachine::from_value(&machine, Options::default())
        .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
    let exec = local_execution("TestState", "test", input.clone(), wall_clock(), false);
    let options = RunnerOptions {
        fast_forward: true,
        seed: crate::entropy(),
        history: true,
    };
    let report = Runner::new(&sm, exec, tasks, options).run().await;
    let entered = report.states_entered();
    let next = entered.get(1).cloned();
    let failed_inside = report.history.iter().any(|r| {
        r.event.kind.as_str().ends_with("Failed")
            && r.event.thread == "root"
            && r.event.kind.as_str() != "ExecutionFailed"
    });
    let mut out = Map::new();
    let status = match (report.status, &next) {
        (Status::Succeeded, Some(_)) if failed_inside => "CAUGHT_ERROR",
        (Status::Succeeded, _) => "SUCCEEDED",
        _ => {
            if let (Some(r), Some(e)) = (&retry, &report.error)
                && retries(r, e)
            {
                "RETRIABLE"
            } else {
                "FAILED"
            }
        }
    };
    out.insert("status".into(), status.into());
    if let Some(o) = &report.output {
        out.insert("output".into(), o.to_string().into());
    }
    if let Some(n) = next {
        out.insert("nextState".into(), n.into());
    }
    if let Some(e) = &report.error {
        if let Some(x) = &e.error {
            out.insert("error".into(), x.clone().into());
        }
        if let Some(x) = &e.cause {
            out.insert("cause".into(), x.clone().into());
        }
    }
    let level = validate::optional_string(body, "inspectionLevel")?.unwrap_or("INFO");
    if level != "INFO" {
        out.insert("inspectionData".into(), json!({"input": input.to_string()}));
    }
    Ok(Value::Object(out))
}

/// Every state name a state can go to.
fn targets(state: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |v: &Value| {
        if let Some(s) = v.as_str() {
            out.push(s.to_owned());
        }
    };
    add(&state["Next"]);
    add(&state["Default"]);
    for list in ["Choices", "Catch"] {
        if let Some(items) = state[list].as_array() {
            for i in items {
                add(&i["Next"]);
            }
        }
    }
    out
}

/// Whether a retrier of `retry` matches `error` (and has attempts to give),
/// by the language's own matching: `States.ALL` does not retry the terminal
/// `States.Runtime` or `States.DataLimitExceeded`.
fn retries(retry: &Value, error: &stepwise_asl::StatesError) -> bool {
    retry.as_array().is_some_and(|rs| {
        rs.iter().any(|r| {
            let names: Vec<String> = r["ErrorEquals"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            r["MaxAttempts"].as_u64() != Some(0) && stepwise_asl::retry::matches_any(&names, error)
        })
    })
}

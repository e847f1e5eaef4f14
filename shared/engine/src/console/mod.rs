//! The API actions that need no store, answered the same way by both
//! backends: ValidateStateMachineDefinition, and TestState — one state,
//! run alone on an input, as the console's "Test state" does. The state
//! runs in a small machine of its own in which every state it can go to is
//! a Succeed placeholder, so the run stops right after it. A Retry is not
//! waited out: an error a retrier still has attempts for (after
//! `stateConfiguration.retrierRetryCount`) is reported as RETRIABLE.
//!
//! With a `mock` (`result`, or `errorOutput`), the state's invocation is
//! answered by it: a Task of any pattern (activities, `.sync`,
//! `.waitForTaskToken` need one, as on AWS), and a Map or Parallel state,
//! whose mocked result is the whole state's result before its
//! ResultSelector, ResultPath and OutputPath (or Output) apply.
//!
//! As AWS runs it: an EXPRESS execution, as the request's role (only a
//! Task needs one), with the request's `context` as `$$` when it gives
//! one; a `stateName` is found at any depth of the machine.

use serde_json::{Map, Value, json};
use stepwise_asl::{Options, StateMachine};

use crate::api::{ApiError, validate};
use crate::memory::{local_execution, wall_clock};

mod context;
mod inspect;
mod mocks;

use crate::ports::Tasks;
use crate::{Runner, RunnerOptions, Status};
use inspect::{Seen, retrier, retry_details};
use mocks::{Mock, as_mocked_task, check_mock, mock};

/// The state types TestState runs here; Map and Parallel with a mock.
const TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Map", "Parallel",
];

/// ValidateStateMachineDefinition: `OK`, or `FAIL` with a diagnostic per
/// problem (its code, message and JSON pointer).
pub fn validate_definition(body: &Value) -> Result<Value, ApiError> {
    let definition = validate::string(body, "definition")?;
    // The API model's constraints: a definition of one character or more,
    // a severity of ERROR or WARNING, at most 100 results (0: 100).
    if definition.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'definition' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    validate::one_of(body, "severity", &["ERROR", "WARNING"])?;
    let asked = body.get("maxResults").filter(|v| !v.is_null());
    let most = match asked.map(|v| v.as_i64().unwrap_or(i64::MAX)) {
        None | Some(0) => 100,
        Some(n @ 1..=100) => n as usize,
        Some(n) => {
            let bound = if n < 0 {
                "greater than or equal to 0"
            } else {
                "less than or equal to 100"
            };
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
    };
    let express = validate::one_of(body, "type", &["STANDARD", "EXPRESS"])? == Some("EXPRESS");
    // Blank text is "not a valid JSON object" (below); other text that is
    // not JSON gets the parser's words and place.
    if !definition.trim().is_empty()
        && let Err(e) = serde_json::from_str::<Value>(definition)
    {
        let (message, location) = validate::json_error(definition, &e);
        let d = json!({"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": message, "location": location});
        return Ok(json!({"result": "FAIL", "diagnostics": [d], "truncated": false}));
    }
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
            // Past `maxResults`, the rest are left out and it says so.
            let truncated = diagnostics.len() > most;
            let diagnostics = &diagnostics[..diagnostics.len().min(most)];
            json!({"result": "FAIL", "diagnostics": diagnostics, "truncated": truncated})
        }
    })
}

pub async fn test_state<T: Tasks>(body: &Value, tasks: T) -> Result<Value, ApiError> {
    let text = validate::string(body, "definition")?;
    // Text that is not JSON: refused as CreateStateMachine refuses it.
    let definition: Value = serde_json::from_str(text).map_err(|_| {
        (crate::catalog::check_definition(text, false).err())
            .unwrap_or_else(|| ApiError::invalid_definition("The definition is not JSON"))
    })?;
    let input_text = validate::optional_string(body, "input")?.unwrap_or("{}");
    let input = validate::input(Some(input_text))?;
    let variables = match validate::optional_string(body, "variables")? {
        None => Map::new(),
        Some(v) => match serde_json::from_str::<Value>(v) {
            Ok(Value::Object(o)) => o,
            _ => {
                return Err(ApiError::validation(
                    "The variables must be a JSON object of variable names and values",
                ));
            }
        },
    };
    let mocked = mock(body)?;
    let retried = config(body, "retrierRetryCount")?.unwrap_or(0);
    let level =
        validate::one_of(body, "inspectionLevel", &["INFO", "DEBUG", "TRACE"])?.unwrap_or("INFO");
    let role = validate::optional_string(body, "roleArn")?;
    // A state of a whole machine, at any depth (in a Map's item processor
    // or a Parallel's branch too).
    let (name, state, language) = match validate::optional_string(body, "stateName")? {
        Some(n) => {
            let s = find_state(&definition, n)
                .ok_or_else(|| ApiError::validation("State not found in definition"))?;
            (n.to_owned(), s, definition.get("QueryLanguage").cloned())
        }
        // A name of its own, which a state inside it may have taken
        // (`$$.State.Name` is "StateName" either way).
        None => {
            let mut name = "TestState".to_owned();
            while contains_state(&definition, &name) {
                name.push('_');
            }
            (name, definition, None)
        }
    };
    let kind = state["Type"].as_str().unwrap_or_default().to_owned();
    if !TYPES.contains(&kind.as_str()) {
        // Not a state: the definition's problem, as the validator words it
        // (AWS: InvalidDefinition, "The field 'Type' should have one of
        // these values: …").
        alone(&name, &state, language.as_ref())?;
        return Err(ApiError::validation(format!(
            "TestState runs {} states; '{kind}' is not one of them here",
            TYPES.join(", ")
        )));
    }
    if mocked.is_some() && body.get("revealSecrets").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::validation(
            "TestState does not support RevealSecrets when a mock is specified.",
        ));
    }
    check_mock(&kind, &state, mocked.as_ref())?;
    let mocked = mocked.map(|(m, _)| m);
    // Only a Task calls anything as the role: the others run without one.
    if kind == "Task" && mocked.is_none() && role.is_none() {
        return Err(ApiError::validation(
            "RoleArn must be specified when testing a Task state",
        ));
    }
    let given_context = context::given(body, &state)?;
    let needs_mock = state["Resource"].as_str().is_some_and(|r| {
        r.contains(":activity:") || r.contains(".sync") || r.ends_with(".waitForTaskToken")
    });
    if needs_mock && mocked.is_none() {
        return Err(ApiError::validation(format!(
            "TestState runs this {kind} state only with a mock of its result (mock.result or mock.errorOutput)"
        )));
    }
    if let Some(cause) = (body.get("stateConfiguration"))
        .and_then(|c| c.get("errorCausedByState"))
        .and_then(Value::as_str)
    {
        let error_mocked = body
            .get("mock")
            .is_some_and(|m| m.get("errorOutput").is_some());
        if !matches!(kind.as_str(), "Map" | "Parallel") || !error_mocked {
            return Err(ApiError::validation(
                "errorCausedByState applies to a Map or Parallel state whose error is mocked (mock.errorOutput)",
            ));
        }
        if !contains_state(&state, cause) {
            return Err(ApiError::validation(format!(
                "errorCausedByState: the state '{cause}' is not in the {kind} state's branches or item processor"
            )));
        }
    }
    let original = state;
    let state = if matches!(kind.as_str(), "Map" | "Parallel") {
        as_mocked_task(&original)
    } else {
        original.clone()
    };
    let (sm, retry) = alone(&name, &state, language.as_ref())?;
    // As AWS runs it: an EXPRESS execution, as the request's role.
    let mut exec = local_execution("TestState", "test", input.clone(), wall_clock(), true);
    exec.role_arn = role.unwrap_or_default().to_owned();
    exec.given_context = given_context;
    exec.state_name = Some("StateName".to_owned());
    let facts = exec.clone();
    // A Map's own input processing runs as it would (its items, ItemSelector,
    // ItemBatcher, tolerance); `mapIterationFailureCount` failed iterations
    // past the tolerance fail it in place of the mocked result.
    let mut map_fields = Map::new();
    let mut map_read = false;
    let mut mocked = mocked;
    if kind == "Map" {
        let (map_sm, _) = alone(&name, &original, language.as_ref())?;
        // Counted against the Map's tolerance: a Map that declares none
        // takes no failed iterations from it (as on AWS).
        let tolerates = [
            "ToleratedFailureCount",
            "ToleratedFailurePercentage",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentagePath",
        ]
        .iter()
        .any(|k| original.get(*k).is_some());
        let failures = match config(body, "mapIterationFailureCount")? {
            Some(n) if tolerates => usize::try_from(n).unwrap_or(usize::MAX),
            _ => 0,
        };
        let mut thread = stepwise_asl::Thread::root(&name, input.clone());
        thread.variables = variables.clone();
        let env = stepwise_asl::Env {
            now: facts.start_time,
            seed: crate::entropy(),
            nonce: crate::entropy(),
            event_id: 2,
            history: false,
            spawn_bytes: 0,
            missing_activity: None,
        };
        let data = (body.get("stateConfiguration"))
            .and_then(|c| c.get("mapItemReaderData"))
            .and_then(Value::as_str);
        // An ItemReader reads `mapItemReaderData`, as its ReaderConfig says.
        let read = |call: &Value| match data {
            Some(text) => {
                let config = &call["ReaderConfig"];
                crate::items::parse(text, config, crate::items::max_items(config)?)
            }
            None => Err(crate::items::failed(
                "TestState reads a Map's ItemReader from stateConfiguration.mapItemReaderData"
                    .into(),
            )),
        };
        match stepwise_asl::exec::inspect_map(&map_sm, &facts, &thread, &env, failures, &read) {
            Some(Ok(seen)) => {
                map_read = true;
                map_fields = seen.fields;
                if let Some(e) = seen.failure {
                    mocked = Some(Mock(Err(e)));
                }
            }
            Some(Err(e)) => mocked = Some(Mock(Err(e))),
            None => {}
        }
    }
    let options = RunnerOptions {
        fast_forward: true,
        seed: crate::entropy(),
        history: true,
    };
    let report = match mocked {
        Some(m) => {
            Runner::new(&sm, exec, m, options)
                .with_variables(variables.clone())
                .run()
                .await
        }
        None => {
            Runner::new(&sm, exec, tasks, options)
                .with_variables(variables.clone())
                .run()
                .await
        }
    };
    let entered = report.states_entered();
    let next = entered.get(1).cloned();
    // The state's own error: the execution's, or the one a Catch took.
    let state_error = report.error.clone().or_else(|| {
        report.history.iter().find_map(|r| {
            let kind = r.event.kind.as_str();
            (kind.ends_with("Failed") && r.event.thread == "root" && kind != "ExecutionFailed")
                .then(|| stepwise_asl::StatesError {
                    error: r.event.details["error"].as_str().map(str::to_owned),
                    cause: r.event.details["cause"].as_str().map(str::to_owned),
                })
        })
    });
    let retriable = matches!((&retry, &state_error), (Some(r), Some(e)) if retries(r, e, retried));
    let mut out = Map::new();
    let status = match (report.status, &state_error) {
        _ if retriable => "RETRIABLE",
        (Status::Succeeded, Some(_)) => "CAUGHT_ERROR",
        (Status::Succeeded, None) => "SUCCEEDED",
        _ => "FAILED",
    };
    out.insert("status".into(), status.into());
    if !retriable && let Some(o) = &report.output {
        out.insert("output".into(), o.to_string().into());
    }
    if !retriable && let Some(n) = next {
        out.insert("nextState".into(), n.into());
    }
    if let Some(e) = &state_error
        && status != "SUCCEEDED"
    {
        if let Some(x) = &e.error {
            out.insert("error".into(), x.clone().into());
        }
        if let Some(x) = &e.cause {
            // A state tested alone has no history to point into: AWS's
            // cause leaves out where the state was entered (recorded:
            // LocalStack's test_state_map_context_object).
            out.insert("cause".into(), unlocated(x).into());
        }
    }
    if level != "INFO"
        && let Some(st) = sm.root().get(&name)
    {
        let seen = Seen {
            kind: &kind,
            state: st,
            raw: &state,
            input: &input,
            facts: &facts,
            variables: &variables,
            report: &report,
        };
        let mut data = seen.inspection();
        data.extend(map_fields);
        // A Map that read its items shows its MaxConcurrency, 0 when unset.
        if map_read {
            data.entry("maxConcurrency").or_insert(0.into());
        }
        if let Some(e) = &state_error {
            let details = if retriable {
                retry.as_ref().and_then(|r| retry_details(r, e, retried))
            } else if status == "CAUGHT_ERROR" {
                (st.catch.iter().position(|c| c.matches(e))).map(|i| json!({"catchIndex": i}))
            } else {
                // The retrier that applied, its attempts used up.
                (retry.as_ref().and_then(|r| retrier(r, e))).map(|i| json!({"retryIndex": i}))
            };
            if let Some(d) = details {
                data.insert("errorDetails".into(), d);
            }
        }
        out.insert("inspectionData".into(), Value::Object(data));
    }
    Ok(Value::Object(out))
}

/// `stateConfiguration.<key>`, a whole number.
fn config(body: &Value, key: &str) -> Result<Option<u64>, ApiError> {
    match body.get("stateConfiguration").and_then(|c| c.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::validation(format!("{key} must be a whole number, 0 or more"))
        }),
    }
}

/// `state` alone in a machine of its own, in which every state it can go
/// to is a Succeed placeholder; its Retry is taken out (retriers are not
/// waited out: the state runs once) and returned.
fn alone(
    name: &str,
    state: &Value,
    language: Option<&Value>,
) -> Result<(StateMachine, Option<Value>), ApiError> {
    let mut once = state.clone();
    let retry = once.as_object_mut().and_then(|o| o.remove("Retry"));
    let mut states = Map::new();
    for target in targets(state) {
        if target != name {
            states.insert(target, json!({"Type": "Succeed"}));
        }
    }
    states.insert(name.to_owned(), once);
    let mut machine = json!({"StartAt": name, "States": states});
    if let Some(l) = language {
        machine["QueryLanguage"] = l.clone();
    }
    // The parse error already reads "Invalid State Machine Definition: '…'".
    let sm = StateMachine::from_value(&machine, Options::default())
        .map_err(|e| ApiError::invalid_definition(e.to_string()))?;
    Ok((sm, retry))
}

/// The state named `name` in a machine's definition, at any depth.
fn find_state(definition: &Value, name: &str) -> Option<Value> {
    let states = definition["States"].as_object()?;
    if let Some(s) = states.get(name) {
        return Some(s.clone());
    }
    states.values().find_map(|s| {
        (s["Branches"].as_array().into_iter().flatten())
            .chain(s.get("ItemProcessor").or_else(|| s.get("Iterator")))
            .find_map(|scope| find_state(scope, name))
    })
}

/// Whether a state named `name` is inside Parallel or Map state `state`
/// (in its branches or item processor, at any depth).
fn contains_state(state: &Value, name: &str) -> bool {
    let scopes = (state["Branches"].as_array().into_iter().flatten())
        .chain(state.get("ItemProcessor").or_else(|| state.get("Iterator")));
    scopes
        .filter_map(|s| s["States"].as_object())
        .any(|states| {
            states.contains_key(name) || states.values().any(|inner| contains_state(inner, name))
        })
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
/// by the language's own matching.
fn retries(retry: &Value, error: &stepwise_asl::StatesError, done: u64) -> bool {
    retrier(retry, error).is_some_and(|i| retry[i]["MaxAttempts"].as_u64().unwrap_or(3) > done)
}

/// A runtime error's cause without the prefix that says where the state was
/// entered ("An error occurred while executing the state 'S' (entered at
/// the event id #2). "), which a state tested alone does not have.
fn unlocated(cause: &str) -> &str {
    const ENTERED: &str = " (entered at the event id #";
    let Some(rest) = cause.strip_prefix("An error occurred while executing the state '") else {
        return cause;
    };
    let Some(at) = rest.find(ENTERED) else {
        return cause;
    };
    let after = &rest[at + ENTERED.len()..];
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    after[digits..].strip_prefix("). ").unwrap_or(cause)
}

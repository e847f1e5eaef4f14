//! TestState's `inspectionData` at DEBUG and TRACE.

use serde_json::{Map, Value, json};

/// What TestState saw of the state it ran, for its inspection data.
pub(super) struct Seen<'a> {
    /// The state's type as given (a Map or Parallel runs as a mocked Task).
    pub(super) kind: &'a str,
    pub(super) state: &'a stepwise_asl::definition::State,
    /// The state as given (a Pass state's `Result`).
    pub(super) raw: &'a Value,
    pub(super) input: &'a Value,
    pub(super) facts: &'a stepwise_asl::Execution,
    pub(super) variables: &'a Map<String, Value>,
    pub(super) report: &'a crate::Report,
}

impl Seen<'_> {
    /// `inspectionData` at DEBUG and TRACE: the input at each stage of the
    /// data flow (JSONPath), or after Arguments (JSONata), the raw result,
    /// and the variables after the state; each value as JSON text.
    pub(super) fn inspection(&self) -> Map<String, Value> {
        let mut data = Map::new();
        data.insert("input".into(), self.input.to_string().into());
        let root = |kind: &str| {
            (self.report.history.iter())
                .find(|r| r.event.thread == "root" && r.event.kind.as_str() == kind)
                .map(|r| &r.event.details)
        };
        let task_result = [
            "TaskSucceeded",
            "LambdaFunctionSucceeded",
            "ActivitySucceeded",
        ]
        .iter()
        .find_map(|k| root(k))
        .map(|d| json_of(&d["output"]));
        // What the task was called with, as it ran (with its task token).
        let scheduled = (root("TaskScheduled").map(|d| &d["parameters"]))
            .or_else(|| root("LambdaFunctionScheduled").map(|d| &d["input"]))
            .or_else(|| root("ActivityScheduled").map(|d| &d["input"]));
        if self.state.ata.is_some() {
            if let Some(args) = scheduled {
                data.insert("afterArguments".into(), json_of(args).to_string().into());
            }
            if let Some(r) = &task_result {
                data.insert("result".into(), r.to_string().into());
            }
        } else {
            // The stages are evaluated again; a task token they read is the
            // one the call went out with (afterParameters, from the call).
            let thread = stepwise_asl::Thread::root(&self.state.name, self.input.clone());
            let resource = self.raw["Resource"].as_str().unwrap_or_default();
            let waits = resource.ends_with(".waitForTaskToken") || resource.contains(":activity:");
            let token = (waits && scheduled.is_some()).then_some("");
            let context = self.facts.context(&thread, task_result.is_some(), token);
            let mut random = stepwise_asl::random::Random::new(crate::entropy());
            let mut scope = stepwise_asl::scope::Scope {
                input: self.input,
                context: &context,
                variables: self.variables,
                random: &mut random,
            };
            let flow = &self.state.flow;
            let stages = stepwise_asl::definition::io::stages;
            let mut seen = stages(flow, self.input, None, &mut scope);
            // A Pass state's result is its Result, or its effective input.
            let result = match self.state.kind {
                stepwise_asl::states::Kind::Pass(_) => {
                    (self.raw.get("Result").cloned()).or_else(|| {
                        seen.iter()
                            .find(|(k, _)| *k == "afterParameters")
                            .map(|(_, v)| v.clone())
                    })
                }
                _ => task_result,
            };
            if result.is_some() {
                seen = stages(flow, self.input, result, &mut scope);
            }
            for (k, v) in seen {
                let v = match (k, scheduled) {
                    ("afterParameters", Some(called)) => json_of(called),
                    _ => v,
                };
                data.insert(k.into(), v.to_string().into());
            }
        }
        // The stages AWS shows of each type: a Pass with a Result shows
        // that, not what it would have read; a Map its items, not a call.
        let hidden: &[&str] = match (self.kind, self.raw.get("Result").is_some()) {
            ("Pass", true) => &["afterInputPath", "afterParameters"],
            ("Pass", false) => &["result"],
            ("Fail" | "Succeed" | "Choice", _) => &["afterParameters"],
            ("Map", _) => &["afterParameters", "afterArguments", "result"],
            _ => &[],
        };
        for k in hidden {
            data.remove(*k);
        }
        // The variables after the state: those given, and its assignments.
        let mut variables = self.variables.clone();
        let exited = (self.report.history.iter())
            .find(|r| r.event.thread == "root" && r.event.kind.as_str().ends_with("StateExited"));
        if let Some(Value::Object(assigned)) = exited.map(|r| &r.event.details["assignedVariables"])
        {
            variables.extend(assigned.clone());
        }
        if !variables.is_empty() {
            data.insert(
                "variables".into(),
                Value::Object(variables).to_string().into(),
            );
        }
        data
    }
}

/// A history detail that holds JSON either as a value or as its text.
fn json_of(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// errorDetails of a RETRIABLE answer: the retrier that applies and the
/// interval before its next attempt.
pub(super) fn retry_details(
    retry: &Value,
    error: &stepwise_asl::StatesError,
    done: u64,
) -> Option<Value> {
    let index = retrier(retry, error)?;
    let r = &retry[index];
    let interval = r["IntervalSeconds"].as_f64().unwrap_or(1.0);
    let rate = r["BackoffRate"].as_f64().unwrap_or(2.0);
    let mut seconds = interval * rate.powi(i32::try_from(done).unwrap_or(i32::MAX));
    if let Some(max) = r["MaxDelaySeconds"].as_f64() {
        seconds = seconds.min(max);
    }
    Some(json!({"retryIndex": index, "retryBackoffIntervalSeconds": seconds.round() as i64}))
}

/// The retrier of `retry` that applies to `error`: the first whose
/// ErrorEquals matches it, by the language's own matching (`States.ALL`
/// does not retry the terminal `States.Runtime`).
pub(super) fn retrier(retry: &Value, error: &stepwise_asl::StatesError) -> Option<usize> {
    retry.as_array()?.iter().position(|r| {
        let names: Vec<String> = (r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect();
        stepwise_asl::retry::matches_any(&names, error)
    })
}

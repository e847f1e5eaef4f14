//! What the Step Functions API is to the engine, whatever carries it: the
//! [`Service`] a backend implements (one call per action, its body parsed),
//! AWS's errors ([`ApiError`]), the checks actions make on their inputs
//! ([`validate`]) and the shapes of what they return. The wire protocol
//! (`stepwise-api`) sits above this and depends on it.

pub mod error;
pub mod validate;

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub use error::ApiError;

pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send + 'a>>;

/// A backend: one call per action, with the request body already parsed.
pub trait Service: Send + Sync + 'static {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a>;

    /// The call made in `region` (the request's SigV4 credential scope): a
    /// backend that keeps resources per region answers there.
    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        let _ = region;
        self.call(action, body)
    }
}

/// Epoch seconds with milliseconds, as awsJson1_0 timestamps are written.
pub fn timestamp(ms: i64) -> Value {
    serde_json::Number::from_f64(ms as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// A history event as AWS's API shows it.
pub fn history_event(
    id: i64,
    previous: i64,
    ts: i64,
    kind: &str,
    details: Value,
    include_data: bool,
) -> Value {
    let mut o = serde_json::json!({"timestamp": timestamp(ts), "type": kind, "id": id, "previousEventId": previous});
    // A failed or stopped execution, and a started activity, have their
    // details member even when it is empty; other events leave one out.
    if let Value::Object(mut d) = details
        && (!d.is_empty()
            || matches!(
                kind,
                "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut" | "ActivityStarted"
            ))
    {
        // AWS sends inputs, outputs, parameters and each assigned
        // variable's value as JSON text; the engine keeps them as values.
        for key in ["input", "output", "parameters", "assignedVariables"] {
            let Some(v) = d.get_mut(key) else { continue };
            if !include_data {
                d.remove(key);
                continue;
            }
            match v {
                Value::Object(vars) if key == "assignedVariables" => {
                    for value in vars.values_mut() {
                        *value = Value::String(value.to_string());
                    }
                }
                _ => *v = Value::String(v.to_string()),
            }
        }
        let key = if kind.ends_with("StateEntered") {
            "stateEnteredEventDetails".to_owned()
        } else if kind.ends_with("StateExited") {
            "stateExitedEventDetails".to_owned()
        } else {
            let mut c = kind.chars();
            let first = c
                .next()
                .map(|f| f.to_ascii_lowercase().to_string())
                .unwrap_or_default();
            format!("{first}{}EventDetails", c.as_str())
        };
        o[key] = Value::Object(d);
    }
    o
}

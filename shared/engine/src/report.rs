//! How an execution ended, in the one-line JSON form `stepwise run` prints.

use serde_json::{Map, Value, json};
use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::{Outcome, StatesError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    InvalidDefinition,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
            Status::InvalidDefinition => "INVALID_DEFINITION",
        }
    }
}

/// A history event with the id and previous id AWS would give it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub id: u64,
    pub previous: u64,
    pub event: HistoryEvent,
}

impl Recorded {
    /// AWS's `HistoryEvent` shape, as the API answers GetExecutionHistory
    /// (details as JSON text where AWS sends text), with the timestamp
    /// written as ISO-8601 for people reading `stepwise run`.
    pub fn to_json(&self) -> Value {
        let mut v = crate::api::history_event(
            self.id as i64,
            self.previous as i64,
            self.event.timestamp,
            self.event.kind.as_str(),
            self.event.details.clone(),
            true,
        );
        v["timestamp"] = stepwise_asl::timestamp::format(self.event.timestamp).into();
        v
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<StatesError>,
    pub history: Vec<Recorded>,
}

impl Report {
    pub fn from_outcome(outcome: Outcome, history: Vec<Recorded>) -> Report {
        let (status, output, error) = match outcome {
            Outcome::Succeeded(v) => (Status::Succeeded, Some(v), None),
            Outcome::Failed(e) => (Status::Failed, None, Some(e)),
            Outcome::TimedOut(e) => (Status::TimedOut, None, Some(e)),
            Outcome::Aborted(e) => (Status::Aborted, None, Some(e)),
        };
        Report {
            status,
            output,
            error,
            history,
        }
    }

    /// A run in place (`stepwise run`) that has nothing left to do but has
    /// not finished: it waits for what only a request from outside brings.
    /// Every driver ends it so, with this cause.
    pub fn stuck(history: Vec<Recorded>) -> Report {
        let e = StatesError::runtime(
            "The execution has nothing left to do but has not finished: it waits for a request from outside (SendTaskSuccess/SendTaskFailure, an activity worker), which `stepwise run` cannot receive; run it under `stepwise serve`, or give the state a mock response",
        );
        Report::from_outcome(Outcome::Failed(e), history)
    }

    pub fn invalid(message: String) -> Report {
        Report {
            status: Status::InvalidDefinition,
            output: None,
            error: Some(StatesError::custom("InvalidDefinition", message)),
            history: Vec::new(),
        }
    }

    /// The names of the states entered, in history order.
    pub fn states_entered(&self) -> Vec<String> {
        self.history
            .iter()
            .filter_map(|r| r.event.entered_state().map(str::to_owned))
            .collect()
    }

    /// `{"status": …, "output": …}` or `{"status": …, "error": …, "cause": …}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), self.status.as_str().into());
        match (&self.output, &self.error) {
            (Some(o), _) => {
                m.insert("output".into(), o.clone());
            }
            (None, Some(e)) => {
                m.insert(
                    "error".into(),
                    e.error.clone().map_or(Value::Null, Value::String),
                );
                m.insert(
                    "cause".into(),
                    e.cause.clone().map_or(Value::Null, Value::String),
                );
            }
            (None, None) => {}
        }
        // Only when the history was kept (it costs memory on long runs).
        if self.status != Status::InvalidDefinition && !self.history.is_empty() {
            m.insert("states_entered".into(), json!(self.states_entered()));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stepwise_asl::exec::EventType;

    fn recorded(kind: EventType, details: Value) -> Recorded {
        Recorded {
            id: 3,
            previous: 2,
            event: HistoryEvent {
                timestamp: 0,
                kind,
                thread: "root".into(),
                details,
                with_entry: false,
                after: None,
            },
        }
    }

    #[test]
    fn events_print_as_the_api_shows_them_with_data_as_json_text() {
        let exited = recorded(
            EventType::PassStateExited,
            json!({"name": "A", "output": "s", "outputDetails": {"truncated": false},
                   "assignedVariables": {"x": 1, "s": "a"}, "assignedVariablesDetails": {"truncated": false}}),
        );
        assert_eq!(
            exited.to_json(),
            json!({"timestamp": "1970-01-01T00:00:00.000Z", "type": "PassStateExited", "id": 3, "previousEventId": 2,
                   "stateExitedEventDetails": {"name": "A", "output": "\"s\"", "outputDetails": {"truncated": false},
                   "assignedVariables": {"x": "1", "s": "\"a\""}, "assignedVariablesDetails": {"truncated": false}}})
        );
    }

    #[test]
    fn a_failed_execution_keeps_its_empty_details() {
        let failed = recorded(EventType::ExecutionFailed, json!({}));
        assert_eq!(failed.to_json()["executionFailedEventDetails"], json!({}));
        let succeeded = recorded(EventType::MapStateSucceeded, json!({}));
        assert!(
            succeeded
                .to_json()
                .get("mapStateSucceededEventDetails")
                .is_none()
        );
    }
}

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
    /// AWS's `HistoryEvent` shape.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "timestamp".into(),
            stepwise_asl::timestamp::format(self.event.timestamp).into(),
        );
        m.insert("type".into(), self.event.kind.as_str().into());
        m.insert("id".into(), self.id.into());
        m.insert("previousEventId".into(), self.previous.into());
        if self
            .event
            .details
            .as_object()
            .is_some_and(|d| !d.is_empty())
        {
            m.insert(self.event.details_key(), self.event.details.clone());
        }
        Value::Object(m)
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
        if self.status != Status::InvalidDefinition {
            m.insert("states_entered".into(), json!(self.states_entered()));
        }
        Value::Object(m)
    }
}

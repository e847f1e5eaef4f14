//! The execution's fixed facts, and the context object `$$` built from them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::thread::Thread;
use crate::timestamp::{self, Millis};

/// What an execution is, independent of its threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub input: Value,
    pub start_time: Millis,
    pub role_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    /// `None` for EXPRESS executions, which cannot be redriven and have no RedriveCount.
    pub redrive_count: Option<u32>,
}

impl Execution {
    /// The context object for a state of `thread`. Task states also see
    /// `$$.State.RetryCount` (and `$$.Task.Token` when there is a token).
    pub fn context(&self, thread: &Thread, is_task: bool, token: Option<&str>) -> Value {
        let mut c = Map::new();
        let mut execution = json!({
            "Id": self.arn,
            "Input": self.input,
            "StartTime": timestamp::format(self.start_time),
            "Name": self.name,
            "RoleArn": self.role_arn,
        });
        if let Some(n) = self.redrive_count {
            execution["RedriveCount"] = n.into();
        }
        c.insert("Execution".into(), execution);
        let mut state = json!({
            "EnteredTime": timestamp::format(thread.entered_at),
            "Name": thread.state,
        });
        if is_task {
            state["RetryCount"] = thread.retry_count.into();
        }
        c.insert("State".into(), state);
        c.insert(
            "StateMachine".into(),
            json!({"Id": self.state_machine_arn, "Name": self.state_machine_name}),
        );
        if let Some(t) = token {
            c.insert("Task".into(), json!({"Token": t}));
        }
        if let Some(item) = &thread.item {
            c.insert(
                "Map".into(),
                json!({"Item": {"Index": item.index, "Value": item.value}}),
            );
        }
        Value::Object(c)
    }

    /// The context a Map's ItemSelector sees for one item.
    pub fn item_context(&self, thread: &Thread, index: usize, value: &Value) -> Value {
        let mut c = self.context(thread, false, None);
        c["Map"] = json!({"Item": {"Index": index, "Value": value}});
        c
    }
}

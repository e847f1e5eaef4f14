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
        self.build_context(thread, is_task, token, true)
    }

    /// The context object, without `Execution.Input` unless `with_input`.
    fn build_context(
        &self,
        thread: &Thread,
        is_task: bool,
        token: Option<&str>,
        with_input: bool,
    ) -> Value {
        let mut c = Map::new();
        let mut execution = Map::new();
        execution.insert("Id".into(), self.arn.clone().into());
        if with_input {
            execution.insert("Input".into(), self.input.clone());
        }
        execution.insert(
            "StartTime".into(),
            timestamp::format(self.start_time).into(),
        );
        execution.insert("Name".into(), self.name.clone().into());
        execution.insert("RoleArn".into(), self.role_arn.clone().into());
        let mut execution = Value::Object(execution);
        if let Some(n) = self.redrive_count {
            execution["RedriveCount"] = n.max(thread.redrives).into();
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

    /// The context a Map's ItemSelector sees for one item; `Execution.Input`
    /// only `with_input` (it is built once per item, and copying the
    /// execution's input each time made a Map quadratic).
    pub fn item_context(
        &self,
        thread: &Thread,
        index: usize,
        value: &Value,
        with_input: bool,
    ) -> Value {
        let mut c = self.build_context(thread, false, None, with_input);
        c["Map"] = json!({"Item": {"Index": index, "Value": value}});
        c
    }
}

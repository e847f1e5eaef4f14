//! The execution's fixed facts, and the context object `$$` built from them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::child::{child_arn, child_machine};
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
    /// TestState's `context`: the context object as the request gave it,
    /// in place of the one these facts make (its Task token aside).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_context: Option<Value>,
    /// The name `$$.State.Name` gives the top-level states in place of
    /// their own: TestState's "StateName", whatever the state is called
    /// (recorded on AWS: LocalStack's TestState tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_name: Option<String>,
    /// The mock configuration's test case the execution was started with
    /// (`<state machine ARN>#<test case>`, as on Step Functions Local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockCase>,
}

/// A test case of a mock configuration: `StateMachines.<machine>.TestCases.<case>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MockCase {
    pub machine: String,
    pub case: String,
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
        if let Some(given) = &self.given_context {
            let mut c = given.clone();
            if let (Some(t), Some(o)) = (token, c.as_object_mut()) {
                o.entry("Task").or_insert_with(|| json!({"Token": t}));
            }
            return c;
        }
        let mut c = Map::new();
        let mut execution = Map::new();
        // A Distributed Map's child is an execution of its own: its ARN,
        // name, input and start; its machine the Map Run's labelled one.
        let child = (thread.child.as_ref()).map(|ch| {
            let arn = child_arn(&ch.map_run, ch.index(thread.parent.as_ref()));
            let machine = child_machine(&ch.map_run);
            (arn, ch, machine)
        });
        let (arn, input, start) = match &child {
            Some((arn, ch, _)) => (arn.as_str(), &ch.input, ch.start),
            None => (self.arn.as_str(), &self.input, self.start_time),
        };
        // (An EXPRESS execution's ARN ends in an id, not its name.)
        let name = match &child {
            Some(_) => arn.rsplit(':').next().unwrap_or_default(),
            None => self.name.as_str(),
        };
        execution.insert("Id".into(), arn.into());
        if with_input {
            execution.insert("Input".into(), input.clone());
        }
        execution.insert("StartTime".into(), timestamp::format(start).into());
        execution.insert("Name".into(), name.into());
        // (TestState without a role: null.)
        let role = Some(&self.role_arn).filter(|r| !r.is_empty());
        execution.insert("RoleArn".into(), role.cloned().into());
        let mut execution = Value::Object(execution);
        if let Some(n) = self.redrive_count {
            execution["RedriveCount"] = n.max(thread.redrives).into();
            // Only a redriven execution has a RedriveTime.
            if thread.redriven_at > 0 {
                execution["RedriveTime"] = timestamp::format(thread.redriven_at).into();
            }
        }
        c.insert("Execution".into(), execution);
        // In the order AWS writes them (recorded outputs of `$$` and
        // `$states.context` as text): StateMachine before State, the
        // state's Name before its EnteredTime.
        let machine = match &child {
            Some((_, _, m)) => {
                json!({"Id": m, "Name": m.split_once(":stateMachine:").map_or("", |(_, n)| n)})
            }
            None => json!({"Id": self.state_machine_arn, "Name": self.state_machine_name}),
        };
        c.insert("StateMachine".into(), machine);
        let name = match &self.state_name {
            Some(n) if thread.parent.is_none() => n,
            _ => &thread.state,
        };
        let mut state = json!({
            "Name": name,
            "EnteredTime": timestamp::format(thread.entered_at),
        });
        if is_task {
            state["RetryCount"] = thread.retry_count.into();
        }
        c.insert("State".into(), state);
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

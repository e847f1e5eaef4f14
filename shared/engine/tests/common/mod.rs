//! What the stepper's tests share: a stepper on the in-memory store and
//! queue, one execution of a machine, and ways to deliver its messages.
#![allow(dead_code)]

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::ports::TaskResult;
use stepwise_engine::stepper::memory::{MemQueue, MemStore};
use stepwise_engine::stepper::{
    Abort, Body, Envelope, ExecutionRecord, Stepper, Store, merge_history, start,
};
use stepwise_engine::tasks::FnTasks;

pub const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:e";

pub type Tasks = FnTasks<fn(&TaskCall) -> TaskResult>;

pub fn echo(c: &TaskCall) -> TaskResult {
    Ok(c.payload.clone())
}

pub struct Fixture<'q, A> {
    pub stepper: Stepper<MemStore, &'q MemQueue, Tasks, A>,
    pub queue: &'q MemQueue,
    pub now: i64,
}

pub fn fixture<A: Abort>(queue: &MemQueue, def: Value, abort: A) -> Fixture<'_, A> {
    let text = def.to_string();
    let machine = StateMachine::parse(&text, Options::default()).expect("valid");
    let exec = local_execution("m", "e", json!({"n": 1}), 1_000_000, false);
    assert_eq!(exec.arn, ARN);
    let record = ExecutionRecord::running(exec, text, false);
    let stepper = Stepper::new(MemStore::default(), queue, FnTasks(echo as _), abort, 7);
    block_on(start(&stepper.store, &queue, &record, &machine)).expect("started");
    Fixture {
        stepper,
        queue,
        now: 1_000_000,
    }
}

impl<A: Abort> Fixture<'_, A> {
    /// Runs the first step with `input` in place of the fixture's.
    pub fn start_with(&self, input: Value) {
        let root = self.queue.pop().unwrap();
        let Body::Step(mut m) = root.body.clone() else {
            panic!("the first message is a step")
        };
        m.init.as_mut().unwrap().input = input;
        let root = Envelope {
            body: Body::Step(m),
            ..root
        };
        assert!(self.deliver(&root));
    }

    pub fn deliver(&self, e: &Envelope) -> bool {
        block_on(self.stepper.handle(e, self.now)).is_ok()
    }

    /// Delivers messages in order (jumping the clock to each) until none is left.
    pub fn drain(&mut self) {
        while let Some(e) = self.queue.pop() {
            self.now = self.now.max(e.at);
            if !self.deliver(&e) {
                self.deliver(&e);
            }
        }
    }

    pub fn saves(&self) -> u64 {
        *self.stepper.store.saves.lock().unwrap()
    }

    pub fn status(&self) -> String {
        block_on(self.stepper.store.execution(ARN))
            .unwrap()
            .unwrap()
            .status
    }

    pub fn output(&self) -> Value {
        let r = block_on(self.stepper.store.execution(ARN))
            .unwrap()
            .unwrap();
        match r.outcome {
            Some(stepwise_asl::Outcome::Succeeded(v)) => v,
            other => panic!("not succeeded: {other:?}"),
        }
    }

    pub fn entered(&self) -> Vec<String> {
        let events = block_on(self.stepper.store.history(ARN)).unwrap();
        merge_history(events)
            .iter()
            .filter_map(|r| r.event.entered_state().map(str::to_owned))
            .collect()
    }
}

pub fn chain() -> Value {
    json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "Next": "C"},
        "C": {"Type": "Succeed"}}})
}

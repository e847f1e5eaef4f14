//! A `.sync` job on the stepper is followed by delayed messages: each look
//! asks the job once, the job's end answers the task, and a task that gives
//! up on its job (here: its TimeoutSeconds) stops it.

use std::sync::Mutex;

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::ports::{Progress, TaskContext, TaskResult, Tasks};
use stepwise_engine::stepper::memory::{MemQueue, MemStore};
use stepwise_engine::stepper::{Body, ExecutionRecord, NoAbort, Stepper, Store, start};

const ARN: &str = "arn:aws:states:us-east-1:123456789012:execution:m:e";

/// A job that ends after `runs` looks (never, when `None`).
struct Job {
    runs: Option<u32>,
    looks: Mutex<u32>,
    stops: Mutex<u32>,
}

impl Tasks for Job {
    async fn invoke(&self, call: &TaskCall, _: &TaskContext<'_>) -> TaskResult {
        Ok(json!({"JobId": "j-1", "Asked": call.payload}))
    }

    fn follows(&self, _: &TaskCall) -> bool {
        true
    }

    async fn progress(&self, _: &TaskCall, started: &Value, stop: bool) -> Progress {
        if stop {
            *self.stops.lock().unwrap() += 1;
            return Progress::Done(Ok(Value::Null));
        }
        let mut looks = self.looks.lock().unwrap();
        *looks += 1;
        match self.runs {
            Some(n) if *looks > n => {
                Progress::Done(Ok(json!({"Job": started["JobId"], "Looks": *looks})))
            }
            _ => Progress::Running,
        }
    }
}

/// Runs the machine to its end on the in-memory store and queue, the clock
/// jumping to each message; the execution's status and output (or error),
/// and the times the looks were due, after the start.
fn run(task: Value, job: &Job) -> (String, Value, Vec<i64>) {
    let (status, out, looks, _) = run_again(task, job, false);
    (status, out, looks)
}

/// The same; with `again`, every look is delivered once more at the end
/// (SQS delivers at least once).
fn run_again(task: Value, job: &Job, again: bool) -> (String, Value, Vec<i64>, usize) {
    let def = json!({"StartAt": "T", "States": {"T": task}}).to_string();
    let machine = StateMachine::parse(&def, Options::default()).expect("valid");
    let queue = MemQueue::default();
    let facts = local_execution("m", "e", json!({"n": 1}), 1_000_000, false);
    let record = ExecutionRecord::running(facts, def, false);
    let stepper = Stepper::new(MemStore::default(), &queue, job, NoAbort, 7);
    block_on(start(&stepper.store, &&queue, &record, &machine)).expect("started");
    let mut now = 1_000_000;
    let mut looks = Vec::new();
    let mut polls = Vec::new();
    while let Some(e) = queue.pop() {
        now = now.max(e.at);
        if matches!(e.body, Body::Poll(_)) {
            looks.push(e.at - 1_000_000);
            polls.push(e.clone());
        }
        block_on(stepper.handle(&e, now)).expect("handled");
    }
    if again {
        for e in &polls {
            block_on(stepper.handle(e, now)).expect("handled");
        }
        while let Some(e) = queue.pop() {
            block_on(stepper.handle(&e, now.max(e.at))).expect("handled");
        }
    }
    let r = block_on(stepper.store.execution(ARN)).unwrap().unwrap();
    let out = match r.outcome {
        Some(stepwise_asl::Outcome::Succeeded(v)) => v,
        Some(stepwise_asl::Outcome::Failed(e)) | Some(stepwise_asl::Outcome::TimedOut(e)) => {
            json!(e.error)
        }
        other => json!(format!("{other:?}")),
    };
    (r.status, out, looks, polls.len())
}

fn job(runs: Option<u32>) -> Job {
    Job {
        runs,
        looks: Mutex::new(0),
        stops: Mutex::new(0),
    }
}

#[test]
fn a_sync_job_is_looked_at_by_delayed_messages_until_it_ends() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                      "Parameters": {"JobName": "etl"}, "End": true});
    let j = job(Some(3));
    let (status, output, looks) = run(task, &j);
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(output, json!({"Job": "j-1", "Looks": 4}));
    // Each look after a longer pause: 0.5 s, then 1, 2, 4 s more.
    assert_eq!(looks, vec![500, 1_500, 3_500, 7_500]);
    assert_eq!(*j.stops.lock().unwrap(), 0);
}

#[test]
fn a_sync_job_whose_task_times_out_is_stopped() {
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                      "Parameters": {"JobName": "etl"}, "TimeoutSeconds": 5, "End": true});
    let j = job(None);
    let (status, error, _) = run(task, &j);
    assert_eq!(
        (status.as_str(), error),
        ("FAILED", json!("States.Timeout"))
    );
    assert_eq!(*j.stops.lock().unwrap(), 1, "the job is stopped once");
}

#[test]
fn a_look_delivered_again_after_its_job_ended_stops_nothing() {
    // createCluster.sync's stop terminates the cluster the next states use:
    // a stale look must not stop a job that ended.
    let task = json!({"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                      "Parameters": {"Name": "c"}, "End": true});
    let j = job(Some(2));
    let (status, _, _, polls) = run_again(task, &j, true);
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(polls, 3);
    assert_eq!(*j.stops.lock().unwrap(), 0, "no look stopped the ended job");
}

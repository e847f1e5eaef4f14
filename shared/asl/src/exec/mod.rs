//! The sans-IO step function.
//!
//! [`step`] takes the validated machine, one thread's state, one [`Event`] and
//! an [`Env`] (the current time, a random seed, the next history event id) and
//! changes the thread, returning the [`Effect`]s to carry out and the history
//! events to append. It performs no I/O: the drivers in `stepwise-engine`
//! (in-memory, SQLite, DynamoDB + SQS) persist the thread and carry out the
//! effects, and tests assert on them directly.

mod child;
mod context;
mod cut;
mod dataflow;
mod fanout;
mod flow;
pub mod history;
mod inspect;
mod map_run;
mod thread;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use child::{
    ChildExecution, ChildRecord, JOURNAL_BYTES, JOURNAL_EVENTS, Ordered, child_arn, child_machine,
    status_of,
};
pub use context::{Execution, MockCase};
pub use cut::Cut;
pub use flow::Step;
pub use history::{EventType, HistoryEvent, Numbering};
pub use inspect::{MapInspection, ReadData, inspect_map};
pub use map_run::{MapRun, MapRunCounts, MapRunUpdate};
pub use thread::{Fanout, Handover, Kept, MapItem, Parent, Phase, RedrivePoint, Thread};

use crate::definition::StateMachine;
use crate::definition::resource::{self, Pattern};
use crate::error::StatesError;
use crate::timestamp::Millis;

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// What the outside world tells a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Run the thread's current state.
    Run,
    /// A timer the thread set has fired.
    Timer {
        wait: u64,
        kind: TimerKind,
    },
    TaskSucceeded {
        wait: u64,
        output: Value,
    },
    TaskFailed {
        wait: u64,
        error: StatesError,
    },
    TaskHeartbeat {
        wait: u64,
    },
    /// A worker took the activity task the thread waits for
    /// (GetActivityTask): ActivityStarted, with the worker's name if it
    /// gave one.
    WorkerStarted {
        wait: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        worker: Option<String>,
    },
    /// A task that waits after its call (`.sync`, `.waitForTaskToken`)
    /// made the call: `output` is what it answered (TaskSubmitted).
    TaskSubmitted {
        wait: u64,
        output: Value,
    },
    /// A child thread (Parallel branch, Map iteration) finished.
    ChildFinished {
        wait: u64,
        index: usize,
        outcome: Outcome,
        /// A child that failed: where a redrive would take it up again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Box<RedrivePoint>>,
        /// A thread inside a child execution: the logical clock of that
        /// execution's history as the child left it.
        #[serde(default, skip_serializing_if = "is_zero_u64")]
        clock: u64,
    },
    /// UpdateMapRun: the Map Run `run` (of the Map state this thread runs)
    /// takes the settings given.
    UpdateMapRun(Box<MapRunUpdate>),
    /// StopExecution (or, from before [`Event::MachineTimeout`], the
    /// machine's TimeoutSeconds: `timed_out`), on the root thread.
    Stop {
        error: StatesError,
        timed_out: bool,
    },
    /// The machine's TimeoutSeconds, on the root thread: counted from the
    /// start for `attempt` 0, from its `attempt`th redrive after (AWS resets
    /// the timeout on a redrive); an earlier attempt's does nothing.
    MachineTimeout {
        attempt: u32,
    },
}

/// When the machine's TimeoutSeconds ends the run of an execution that
/// began, or was redriven for the `attempt`th time, at `from`; and what the
/// root thread takes then.
pub fn machine_timeout(
    machine: &crate::StateMachine,
    from: Millis,
    attempt: u32,
) -> Option<(Millis, Event)> {
    let secs = machine.timeout_seconds?;
    let at = from.saturating_add((secs as i64).saturating_mul(1000));
    Some((at, Event::MachineTimeout { attempt }))
}

impl Event {
    /// The stop a cancelled thread or a given-up nested execution takes:
    /// no error, not a timeout.
    pub fn stopped() -> Event {
        Event::Stop {
            error: StatesError {
                error: None,
                cause: None,
            },
            timed_out: false,
        }
    }

    /// The stop a nested execution takes when the parent's Task that
    /// started it gives up on it (it timed out, was cancelled or stopped).
    pub fn stopped_by_parent(parent: &str) -> Event {
        Event::Stop {
            error: StatesError::aborted_by_parent(parent),
            timed_out: false,
        }
    }

    /// A task's result for the wait it answers.
    pub fn task_result(wait: u64, result: Result<Value, StatesError>) -> Event {
        match result {
            Ok(output) => Event::TaskSucceeded { wait, output },
            Err(error) => Event::TaskFailed { wait, error },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerKind {
    /// A Wait state or a retry back-off is due.
    Due,
    /// A task's TimeoutSeconds elapsed.
    Timeout,
    /// A task's HeartbeatSeconds may have elapsed.
    Heartbeat,
}

/// How a thread ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    Succeeded(Value),
    Failed(StatesError),
    TimedOut(StatesError),
    Aborted(StatesError),
}

/// What the driver must do after saving the thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Deliver `event` to this thread at (or after) `at`.
    Schedule { at: Millis, event: Event },
    /// Invoke a task; its result comes back as TaskSucceeded/TaskFailed with `wait`.
    Invoke(TaskCall),
    /// Create and run these child threads.
    Spawn(Vec<Thread>),
    /// Stop these child threads; their results will be ignored.
    Cancel(Vec<String>),
    /// This thread is done: tell the parent, or end the execution.
    Finish(Outcome),
    /// Keep this Distributed Map run for the Map Run API (it started, or
    /// it ended).
    MapRun(Box<MapRun>),
    /// Keep this child execution of a Distributed Map (it started, ran a
    /// page of events, or ended), and its events as the next page of its
    /// history.
    ChildExecution(Box<ChildRecord>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCall {
    pub wait: u64,
    pub state: String,
    pub resource: String,
    pub pattern: Pattern,
    pub payload: Value,
    /// `$$.Task.Token` for `.waitForTaskToken` and activities.
    pub token: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub heartbeat_seconds: Option<u64>,
    /// The execution's mock test case ([`Execution::mock`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockCase>,
}

impl TaskCall {
    /// The resource as integrations should match it: a service integration
    /// written with a partition, region or account
    /// (`arn:aws:states:eu-west-1:123456789012:lambda:invoke`) as
    /// `arn:aws:states:::lambda:invoke`; Lambda function and activity ARNs as
    /// they are. `resource` keeps the text the definition holds.
    pub fn canonical_resource(&self) -> std::borrow::Cow<'_, str> {
        resource::canonical(&self.resource)
    }

    /// Whether the resource is a Lambda function's ARN (in any partition).
    pub fn is_lambda_function(&self) -> bool {
        let mut parts = self.resource.split(':');
        parts.next() == Some("arn") && parts.nth(1) == Some("lambda")
    }
}

/// The world as the step sees it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub now: Millis,
    /// Seed for this transition's random numbers (UUID, MathRandom, jitter, task tokens).
    pub seed: u64,
    /// 64 more unpredictable bits, drawn independently of `seed`: a task
    /// token carries both, so it has 128 random bits.
    pub nonce: u64,
    /// The id the first history event of this step will get.
    pub event_id: u64,
    /// Whether to build history events at all (EXPRESS executions keep none).
    pub history: bool,
    /// How large (in bytes of JSON) the children one step starts may be in
    /// all (0: no bound). Past it, the rest start in steps of their own (a
    /// `Timer` for the fan-out's wait, due at once), so that a fan-out of
    /// MaxConcurrency 1,000 never puts a thousand children in one outbox.
    pub spawn_bytes: usize,
    /// An activity the driver found missing (deleted, or never created):
    /// a Task that would offer it a task fails instead, as AWS fails it.
    pub missing_activity: Option<String>,
}

/// How many child executions a distributed Map without MaxConcurrency runs
/// at once, as AWS does.
pub const DISTRIBUTED_CONCURRENCY: usize = 10_000;

/// How many children a Parallel or inline Map without MaxConcurrency runs
/// at once, on every driver: AWS runs at most 40 inline Map iterations at a
/// time (a Map of 100 one-second Waits takes three seconds).
pub const INLINE_CONCURRENCY: usize = 40;

/// What one step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// False when the event was stale (for a wait the thread has left) and
    /// the thread is unchanged.
    pub applied: bool,
    pub effects: Vec<Effect>,
    pub history: Vec<HistoryEvent>,
    /// How many events of the execution's history the step made, kept in
    /// `history` or not ([`Env::history`]): what its numbering moves on by.
    pub events: u64,
    /// Children a failing fan-out cut short, whose aborted states the
    /// driver puts into `history` ([`Output::resolve_cuts`]).
    pub cuts: Vec<Cut>,
}

/// Advances `thread` by one event.
///
/// A bug here (a panic) must not take the process, or every execution, down
/// with it: the thread then fails with `States.Runtime` (which no Catch
/// takes), cancelling its children, and its execution ends as failed. The
/// bug itself is still a bug to fix; this is the second line.
pub fn step(
    machine: &StateMachine,
    exec: &Execution,
    thread: &mut Thread,
    event: Event,
    env: &Env,
) -> Output {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut s = Step::new(machine, exec, env);
        if event == Event::Run {
            s.child_begins(thread);
        }
        s.handle(thread, event);
        s.child_steps(thread);
        Output {
            applied: s.applied,
            events: s.unkept + s.history.len() as u64 + s.cuts.len() as u64,
            effects: s.effects,
            history: s.history,
            cuts: s.cuts,
        }
    }));
    run.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        internal_failure(machine, exec, thread, env, &what)
    })
}

/// The step that ends a thread whose step panicked.
fn internal_failure(
    machine: &StateMachine,
    exec: &Execution,
    thread: &mut Thread,
    env: &Env,
    what: &str,
) -> Output {
    let error = StatesError::runtime(format!(
        "An internal error occurred in Stepwise while running the state '{}' ({what}); the execution cannot continue",
        thread.state
    ));
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut s = Step::new(machine, exec, env);
        s.cancel_children(thread);
        s.finish(thread, Outcome::Failed(error.clone()));
        s.child_steps(thread);
        Output {
            applied: true,
            events: s.unkept + s.history.len() as u64,
            effects: s.effects,
            history: s.history,
            cuts: Vec::new(),
        }
    }));
    ended.unwrap_or_else(|_| {
        thread.phase = Phase::Done;
        Output {
            applied: true,
            effects: vec![Effect::Finish(Outcome::Failed(error))],
            history: Vec::new(),
            events: 0,
            cuts: Vec::new(),
        }
    })
}

#[cfg(test)]
mod history_tests;
#[cfg(test)]
mod tests;

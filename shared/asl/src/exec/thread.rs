//! One thread of an execution: the root, a Parallel branch or a Map iteration.
//! It is plain data (serde) so every backend can store it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Event, Outcome};
use crate::definition::ScopeId;
use crate::timestamp::Millis;

/// What a finished thread hands on ([`Thread::finished`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Handover {
    /// The event for the parent's thread (its id first).
    Parent(String, Event),
    /// The root ended: the execution's outcome.
    Execution(Outcome),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    /// `root`, or the parent's id with `/<state>.<wait>#<index>` appended.
    pub id: String,
    /// Which `States` block this thread runs.
    pub scope: ScopeId,
    pub parent: Option<Parent>,
    /// `$$.Map.Item` for a Map iteration.
    pub item: Option<MapItem>,
    /// Whether this thread's events belong in the execution's history
    /// (not for the child executions of a distributed Map).
    pub recorded: bool,
    /// The current state.
    pub state: String,
    /// The current state's raw input.
    pub input: Value,
    pub entered_at: Millis,
    /// History id of the current state's `…StateEntered` event.
    pub entered_event: u64,
    pub phase: Phase,
    /// Attempts used per retrier of the current state.
    pub attempts: Vec<u32>,
    /// `$$.State.RetryCount`.
    pub retry_count: u32,
    /// Source of `wait` ids: each awaited event carries the id it answers.
    pub waits: u64,
    /// Workflow variables visible to this thread (a child starts with a copy
    /// of its parent's and cannot change them).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub variables: serde_json::Map<String, Value>,
    /// What the Parallel or Map state this thread last saw fail or stop
    /// keeps for a redrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<Kept>>,
    /// Which redrive of its execution this thread runs in (a child's is
    /// its parent's): `$$.Execution.RedriveCount` is at least this, however
    /// stale a driver's copy of the execution's facts.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub redrives: u32,
    /// When that redrive was made: `$$.Execution.RedriveTime`, which only a
    /// redriven execution has.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redriven_at: Millis,
    /// A distributed Map's child that is an execution of its own (its
    /// root thread): its record and the history it keeps apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<Box<super::child::ChildExecution>>,
    /// The descendant whose runtime error ended this (fan-out) thread: the
    /// execution's failure follows that one's last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_in: Option<String>,
}

/// The children of a Parallel or Map state that succeeded before the state
/// failed or was stopped, with their results: a redrive runs only the
/// others (AWS redrives only the branches and iterations that failed or
/// were aborted, and a Distributed Map's Map Run carries on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub state: String,
    pub total: usize,
    /// By child index; `null` where the child did not succeed.
    pub results: Vec<Value>,
    /// Which children succeeded, one bit each.
    pub succeeded: Vec<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run: Option<String>,
    #[serde(default)]
    pub run_started: Millis,
    /// How many times the Map Run was redriven before.
    #[serde(default)]
    pub redrives: u32,
    /// Set by a redrive: the state's next fan-out starts from this.
    #[serde(default)]
    pub armed: bool,
    /// Children that failed, by index, and where each failed: a redrive
    /// takes them up there (the others that did not succeed start over).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resume: Vec<(usize, RedrivePoint)>,
}

/// Where a redrive starts again: the state the root thread ended in, its
/// input and variables, and what that state kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedrivePoint {
    pub state: String,
    pub input: Value,
    #[serde(default)]
    pub variables: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<Box<Kept>>,
    /// The ended thread's wait ids, which the redriven one continues (its
    /// children's ids must not be those of the attempt before).
    #[serde(default)]
    pub waits: u64,
    /// A child execution's record so far: a redrive continues it (its
    /// input, start and history numbering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<Box<super::child::ChildExecution>>,
    /// [`Thread::failed_in`], handed to the parent with the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_in: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    pub thread: String,
    /// The parent's wait id this child answers.
    pub wait: u64,
    pub index: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapItem {
    pub index: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    /// The state runs on the next `Run`; `entered` once its Entered event is out.
    Ready { entered: bool },
    /// A Task was invoked and its result is awaited.
    Task {
        wait: u64,
        heartbeat: Option<(u64, Millis)>,
        /// An activity no worker has taken yet (no ActivityStarted).
        #[serde(default, skip_serializing_if = "is_false")]
        unstarted: bool,
    },
    /// A Wait state waits for its timer.
    Waiting { wait: u64 },
    /// A retrier's back-off; the state runs again when the timer fires.
    Backoff { wait: u64 },
    /// A Map's ItemReader call is out; its items are awaited.
    Reading { wait: u64 },
    /// A Map's ResultWriter call is out; the state's output is awaited.
    Writing { wait: u64 },
    /// Parallel branches or Map iterations are running.
    Children { wait: u64, fanout: Box<Fanout> },
    /// The thread is done.
    Done,
}

/// Progress of a Parallel or Map state's children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fanout {
    pub total: usize,
    pub started: usize,
    pub finished: usize,
    pub failed: usize,
    /// 0 means no limit.
    pub max_concurrency: usize,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
    pub results: Vec<Value>,
    /// Map only: the items not yet started need these to build their input.
    pub items: Vec<Value>,
    /// Map only: the state's effective input, which ItemSelector reads.
    pub selector_input: Value,
    /// Which children have finished, one bit each: a repeated ChildFinished
    /// (an at-least-once queue redelivers) must not count twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<u64>,
    /// A distributed Map's Map Run, and when it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_run: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub run_started: crate::timestamp::Millis,
    /// Map only: the iterations that failed (within the tolerance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_items: Vec<usize>,
    /// A redriven fan-out: the next child to start is the first not done
    /// from here (`None`: child `started`, as children start in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<usize>,
    /// How many times the Map Run was redriven, and when last.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub redrives: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redriven: Millis,
    /// Map with an ItemBatcher: how many items each child runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<u32>,
    /// Map with a ResultWriter.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writes: bool,
    /// Children that failed and where (at most [`RESUME_POINTS`]): while it
    /// runs, for a redrive after it fails; in a redriven fan-out, where the
    /// children start again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resume: Vec<(usize, RedrivePoint)>,
}

/// How many failed children a fan-out remembers where they failed, and how
/// large (JSON) each such point may be: the fan-out is stored with its
/// thread (a DynamoDB item holds 400 KB). A redrive starts the others over.
pub const RESUME_POINTS: usize = 8;
pub const RESUME_POINT_BYTES: usize = 8 * 1024;

impl Fanout {
    /// A fan-out of `total` children, none started, with no limits.
    pub fn new(total: usize) -> Fanout {
        Fanout {
            total,
            started: 0,
            finished: 0,
            failed: 0,
            max_concurrency: 0,
            tolerated_count: None,
            tolerated_percentage: None,
            results: vec![Value::Null; total],
            items: Vec::new(),
            selector_input: Value::Null,
            done: Vec::new(),
            map_run: None,
            run_started: 0,
            failed_items: Vec::new(),
            next: None,
            redrives: 0,
            redriven: 0,
            sizes: Vec::new(),
            writes: false,
            resume: Vec::new(),
        }
    }

    pub fn is_done(&self, index: usize) -> bool {
        self.done
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    /// A redriven fan-out: the children `kept` says succeeded are done,
    /// with their results; the others start from the first.
    pub fn resume(&mut self, kept: Kept) {
        for (i, result) in kept.results.into_iter().enumerate() {
            let succeeded = (kept.succeeded.get(i / 64)).is_some_and(|w| w & (1 << (i % 64)) != 0);
            if succeeded && i < self.total && self.mark_done(i) {
                self.results[i] = result;
                self.started += 1;
                self.finished += 1;
            }
        }
        self.next = Some(0);
        self.resume = kept.resume;
    }

    /// Marks child `index` finished; false if it already was.
    pub fn mark_done(&mut self, index: usize) -> bool {
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        if self.done.len() <= word {
            self.done.resize(word + 1, 0);
        }
        let fresh = self.done[word] & bit == 0;
        self.done[word] |= bit;
        fresh
    }
}

impl Thread {
    /// Where a redrive of the execution this root thread ended starts.
    pub fn redrive_point(&self) -> RedrivePoint {
        RedrivePoint {
            state: self.state.clone(),
            input: self.input.clone(),
            variables: self.variables.clone(),
            kept: self.kept.clone().filter(|k| k.state == self.state),
            waits: self.waits,
            child: self.child.clone().map(|mut c| {
                c.journal.clear();
                c
            }),
            failed_in: self.failed_in.clone(),
        }
    }

    /// The root thread of the `count`th redrive of an execution.
    pub fn redriven(point: RedrivePoint, count: u32, at: Millis) -> Thread {
        let mut root = Thread::root(&point.state, point.input);
        root.redrives = count;
        root.redriven_at = at;
        root.variables = point.variables;
        root.waits = point.waits;
        root.kept = point.kept.map(|k| Box::new(Kept { armed: true, ..*k }));
        root
    }

    /// What a thread that finished with `outcome` hands on, the one rule
    /// every driver follows: a branch or iteration tells its parent's
    /// thread (a failed one says where it failed, for a redrive of its
    /// parent's state); the root's outcome is the execution's.
    pub fn finished(&self, outcome: Outcome) -> Handover {
        let Some(p) = self.parent.as_ref() else {
            return Handover::Execution(outcome);
        };
        let resume = self.resume_point(&outcome);
        let event = Event::ChildFinished {
            wait: p.wait,
            index: p.index,
            outcome,
            resume,
            clock: self.clock(),
        };
        Handover::Parent(p.thread.clone(), event)
    }

    /// Where a redrive would take this child up again, if it ended with
    /// `outcome` (it failed or timed out).
    pub fn resume_point(&self, outcome: &Outcome) -> Option<Box<RedrivePoint>> {
        let failed = matches!(outcome, Outcome::Failed(_) | Outcome::TimedOut(_));
        (failed && self.parent.is_some()).then(|| Box::new(self.redrive_point()))
    }

    /// The root thread of a new execution.
    pub fn root(start_at: &str, input: Value) -> Thread {
        Thread::new("root".to_owned(), 0, None, None, true, start_at, input)
    }

    pub fn new(
        id: String,
        scope: ScopeId,
        parent: Option<Parent>,
        item: Option<MapItem>,
        recorded: bool,
        start_at: &str,
        input: Value,
    ) -> Thread {
        Thread {
            id,
            scope,
            parent,
            item,
            recorded,
            state: start_at.to_owned(),
            input,
            entered_at: 0,
            entered_event: 0,
            phase: Phase::Ready { entered: false },
            attempts: Vec::new(),
            retry_count: 0,
            waits: 0,
            variables: serde_json::Map::new(),
            kept: None,
            redrives: 0,
            redriven_at: 0,
            child: None,
            failed_in: None,
        }
    }

    /// Inside a child execution: the logical clock of its history (0
    /// elsewhere).
    pub fn clock(&self) -> u64 {
        self.child.as_ref().map_or(0, |c| c.recorded)
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub(crate) fn next_wait(&mut self) -> u64 {
        self.waits += 1;
        self.waits
    }

    /// The wait id the thread is blocked on, if any.
    pub fn current_wait(&self) -> Option<u64> {
        match &self.phase {
            Phase::Task { wait, .. }
            | Phase::Waiting { wait }
            | Phase::Backoff { wait }
            | Phase::Reading { wait }
            | Phase::Writing { wait } => Some(*wait),
            Phase::Children { wait, .. } => Some(*wait),
            Phase::Ready { .. } | Phase::Done => None,
        }
    }
}

fn is_zero(n: &crate::timestamp::Millis) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

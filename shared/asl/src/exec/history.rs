//! History events in AWS's types and detail shapes, so `GetExecutionHistory`
//! reads as AWS's. Ids are assigned by whoever appends them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::timestamp::Millis;

macro_rules! event_types {
    ($($name:ident),* $(,)?) => {
        /// AWS's `HistoryEventType`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum EventType { $($name),* }
        impl EventType {
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$name => stringify!($name)),* }
            }
        }
    };
}

event_types!(
    ExecutionStarted,
    ExecutionRedriven,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionTimedOut,
    ExecutionAborted,
    PassStateEntered,
    PassStateExited,
    TaskStateEntered,
    TaskStateExited,
    TaskStateAborted,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    WaitStateAborted,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateExited,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    MapStateEntered,
    MapStateExited,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
    MapRunStarted,
    MapRunSucceeded,
    MapRunFailed,
    MapRunAborted,
    MapRunRedriven,
    EvaluationFailed,
    TaskScheduled,
    TaskStarted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    TaskSubmitted,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    ActivityScheduled,
    ActivityStarted,
    ActivitySucceeded,
    ActivityFailed,
    ActivityTimedOut,
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub timestamp: Millis,
    pub kind: EventType,
    /// The thread that produced it (for ordering and for `previousEventId`).
    pub thread: String,
    /// The `…EventDetails` member, keyed as AWS keys it.
    pub details: Value,
    /// Whether the event belongs with its state's entry rather than after
    /// it: AWS gives an EvaluationFailed raised as a state starts the same
    /// `previousEventId` as the state's Entered event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_entry: bool,
    /// The thread whose last event this one follows, where that is not its
    /// own thread's: a fan-out's events that AWS links to a failed child's
    /// last event (its TaskStateAborted, and ParallelStateFailed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// How an execution's history is numbered, the one rule for every driver
/// and every reader: ids from 1 in the order the events are kept, each
/// with its `previousEventId` ([`previous_event_id`]). A driver that numbers
/// as it appends keeps one per execution; a reader numbers a whole stored
/// history with a fresh one. It is plain data (serde), so that a driver
/// that numbers as it appends can keep it with the execution and go on
/// after a restart exactly as it would have without one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Numbering {
    /// The last id given (0: none yet).
    given: u64,
    /// The last event id of each thread, and each open state's entry.
    #[serde(default, skip_serializing_if = "std::collections::HashMap::is_empty")]
    last: std::collections::HashMap<String, u64>,
}

impl Numbering {
    /// Numbering that goes on after `given` events already numbered (what
    /// each thread's previous event was is not known: a thread's next event
    /// then follows the event before it).
    pub fn after(given: u64) -> Numbering {
        Numbering {
            given,
            last: Default::default(),
        }
    }

    /// The id the next event will get.
    pub fn next_id(&self) -> u64 {
        self.given + 1
    }

    /// Moves on past `n` events that were not kept (their ids are taken).
    pub fn skip(&mut self, n: u64) {
        self.given += n;
    }

    /// The next event's id and its `previousEventId`.
    pub fn number(&mut self, event: &HistoryEvent) -> (u64, u64) {
        self.given += 1;
        let id = self.given;
        (id, previous_event_id(&mut self.last, event, id))
    }
}

/// AWS's `previousEventId` for event `id`, given the last event id of each
/// thread so far (updated here): the thread's previous event, or the event
/// before it for a thread's first. ExecutionStarted, the first event after
/// it, and ExecutionAborted (a stop comes from outside the execution) have
/// none (0), as AWS numbers them. An event [`with_entry`](HistoryEvent::with_entry)
/// shares its state's Entered event's previous event, which `last` keeps
/// under the thread's [`entry_key`] until the state exits.
fn previous_event_id<S: std::hash::BuildHasher>(
    last: &mut std::collections::HashMap<String, u64, S>,
    event: &HistoryEvent,
    id: u64,
) -> u64 {
    // (An execution's end that no state made follows nothing: its stop,
    // its TimeoutSeconds.)
    if matches!(
        event.kind,
        EventType::ExecutionStarted | EventType::ExecutionAborted | EventType::ExecutionTimedOut
    ) {
        return 0;
    }
    let entry = event
        .with_entry
        .then(|| last.get(&entry_key(&event.thread)).copied())
        .flatten();
    let previous = match last.insert(event.thread.clone(), id) {
        _ if entry.is_some() => entry.unwrap_or_default(),
        Some(p) => p,
        // A Map iteration's first event follows its MapIterationStarted.
        None => match iteration_start(last, &event.thread) {
            Some(p) => p,
            None if id <= 2 => 0,
            None => id - 1,
        },
    };
    let previous = match event.after.as_ref().and_then(|t| last.get(t)) {
        Some(&p) => p,
        None => previous,
    };
    let previous = map_previous(last, event, id, previous);
    let kind = event.kind.as_str();
    if kind.ends_with("StateEntered") {
        last.insert(entry_key(&event.thread), previous);
    } else if kind.ends_with("StateExited") {
        last.remove(&entry_key(&event.thread));
    }
    previous
}

/// Where AWS's Map histories link otherwise than thread by thread (AWS
/// records a Map's iterations one after another): an iteration's end
/// follows the iteration's last event, and the next iteration's start
/// follows that event too; what a failed iteration leads to (the Map's
/// failure, a retry) follows the failed iteration's last event;
/// MapStateExited follows what MapStateSucceeded follows (in a Distributed
/// Map, what MapRunSucceeded follows: MapRunStarted, as AWS records it
/// since November 2024). `previous` is the thread-by-thread link.
fn map_previous<S: std::hash::BuildHasher>(
    last: &mut std::collections::HashMap<String, u64, S>,
    event: &HistoryEvent,
    id: u64,
    mut previous: u64,
) -> u64 {
    let t = &event.thread;
    // Only a Map's own events, and events inside a fan-out, are linked
    // otherwise: the rest (most of a history) cost nothing here.
    let map_event = event.kind.as_str().starts_with("Map")
        || matches!(
            event.kind,
            EventType::ParallelStateStarted
                | EventType::ParallelStateSucceeded
                | EventType::ParallelStateFailed
                | EventType::ParallelStateExited
        );
    if !map_event && !t.contains('/') {
        return previous;
    }
    // The iterations this event is inside of: the last event of each.
    let mut at = 0;
    while let Some(slash) = t[at..].find('/').map(|i| at + i) {
        let rest = &t[slash + 1..];
        let segment = rest.split('/').next().unwrap_or_default();
        if let Some((_, index)) = segment.split_once('.') {
            last.insert(map_key(&t[..slash], &format!("iteration.{index}")), id);
        }
        // The latest event of any of the fan-out's children.
        last.insert(map_key(&t[..slash], "latest"), id);
        at = slash + 1;
    }
    let key = |what: &str| map_key(t, what);
    // (An iteration a failed one cut short already follows the failure.)
    let cut = event.kind == EventType::MapIterationAborted && event.after.is_some();
    if map_event
        && !cut
        && last.remove(&key("failed")).is_some()
        && let Some(&after) = last.get(&key("after"))
    {
        previous = after;
    }
    match event.kind {
        EventType::MapStateEntered => {
            for what in ["after", "run", "exit"] {
                last.remove(&key(what));
            }
        }
        // (Again after a retry: its first iteration follows this.)
        EventType::MapStateStarted => {
            last.remove(&key("after"));
            last.insert(key("started"), id);
        }
        // An iteration a failed one cut short follows the failure, and so
        // does the Map's failure after it.
        EventType::MapIterationAborted if event.after.is_some() => {
            let index = event.details["index"].as_u64().unwrap_or_default();
            last.remove(&key(&format!("iteration.{index}")));
            last.insert(key("failed"), 1);
            last.insert(key("after"), previous);
        }
        EventType::MapIterationSucceeded
        | EventType::MapIterationFailed
        | EventType::MapIterationAborted => {
            let index = event.details["index"].as_u64().unwrap_or_default();
            if let Some(inner) = last.remove(&key(&format!("iteration.{index}"))) {
                previous = inner;
            }
            last.insert(key("after"), previous);
            if event.kind == EventType::MapIterationFailed {
                last.insert(key("failed"), 1);
            }
        }
        // Iterations that start together all follow MapStateStarted; one
        // that starts as another ends follows that one's last event.
        EventType::MapIterationStarted => {
            if let Some(&after) = last.get(&key("after")).or(last.get(&key("started"))) {
                previous = after;
            }
            let index = event.details["index"].as_u64().unwrap_or_default();
            last.insert(key(&format!("started.{index}")), id);
        }
        EventType::MapRunSucceeded => {
            last.insert(key("run"), previous);
        }
        EventType::MapStateSucceeded => {
            let exit = last.remove(&key("run")).unwrap_or(previous);
            last.insert(key("exit"), exit);
        }
        // Again after a retry: it follows the failed attempt's latest
        // branch event (the failure), as a retried Map follows its failed
        // iteration (LocalStack's test_parallel_state_retry, recorded on
        // AWS), and that attempt's end is forgotten.
        EventType::ParallelStateStarted => {
            last.remove(&key("exit"));
            if let Some(latest) = last.remove(&key("latest")) {
                previous = latest;
            }
        }
        // (Ended, not retried: a later Parallel of the thread starts anew.)
        EventType::ParallelStateFailed => {
            last.remove(&key("latest"));
        }
        // It follows the branches' latest event (whichever branch ended
        // last, however the steps were ordered): so does the Parallel's
        // Exited event.
        EventType::ParallelStateSucceeded => {
            if let Some(&latest) = last.get(&key("latest")) {
                previous = latest;
            }
            last.insert(key("exit"), previous);
        }
        EventType::ParallelStateExited => {
            if let Some(exit) = last.remove(&key("exit")) {
                previous = exit;
            }
            last.remove(&key("latest"));
        }
        EventType::MapStateExited => {
            if let Some(exit) = last.remove(&key("exit")) {
                previous = exit;
            }
            last.remove(&key("after"));
            // (Iterations cancelled before their first event leave their
            // start behind: with the Map gone, no later child takes it.)
            last.remove(&key("started"));
        }
        _ => {}
    }
    previous
}

/// The MapIterationStarted of the iteration whose thread is `thread`
/// (`<parent>/<wait>.<index>`), taken by the iteration's first event: one
/// of the parent's Map attempt now running (after its MapStateStarted), not
/// one an earlier Map, or attempt, left behind for an iteration cancelled
/// before it stepped.
fn iteration_start<S: std::hash::BuildHasher>(
    last: &mut std::collections::HashMap<String, u64, S>,
    thread: &str,
) -> Option<u64> {
    let (parent, segment) = thread.rsplit_once('/')?;
    let index = segment.split_once('.').map_or("", |(_, i)| i);
    let started = last.remove(&map_key(parent, &format!("started.{index}")))?;
    let attempt = *last.get(&map_key(parent, "started"))?;
    (started > attempt).then_some(started)
}

/// Where [`map_previous`] keeps what it knows of `thread`'s Map state.
fn map_key(thread: &str, what: &str) -> String {
    format!("{thread}\0map.{what}")
}

/// Where [`previous_event_id`] keeps the previous event of the Entered
/// event of `thread`'s current state (a NUL cannot occur in a thread id).
fn entry_key(thread: &str) -> String {
    format!("{thread}\0entry")
}

impl HistoryEvent {
    /// ExecutionStarted as AWS records it: the input and the role (AWS's
    /// history leaves the state machine's ARN out).
    pub fn execution_started(exec: &super::Execution) -> HistoryEvent {
        HistoryEvent {
            timestamp: exec.start_time,
            kind: EventType::ExecutionStarted,
            thread: "root".into(),
            details: serde_json::json!({
                "input": exec.input,
                "inputDetails": {"truncated": false},
                "roleArn": exec.role_arn,
            }),
            with_entry: false,
            after: None,
        }
    }

    /// ExecutionFailed for a failure that comes from outside the step
    /// function (a limit of the engine, an execution that cannot be stepped).
    pub fn execution_failed(now: Millis, error: &crate::StatesError) -> HistoryEvent {
        HistoryEvent {
            timestamp: now,
            kind: EventType::ExecutionFailed,
            thread: "root".into(),
            details: super::flow::error_details(error),
            with_entry: false,
            after: None,
        }
    }

    /// Whether this event ends its execution.
    pub fn ends_execution(&self) -> bool {
        matches!(
            self.kind,
            EventType::ExecutionSucceeded
                | EventType::ExecutionFailed
                | EventType::ExecutionTimedOut
                | EventType::ExecutionAborted
        )
    }

    /// ExecutionRedriven: the execution runs again, for the `count`th time.
    pub fn execution_redriven(now: Millis, count: u32) -> HistoryEvent {
        HistoryEvent {
            timestamp: now,
            kind: EventType::ExecutionRedriven,
            thread: "root".into(),
            details: serde_json::json!({"redriveCount": count}),
            with_entry: false,
            after: None,
        }
    }

    /// The name of the details member AWS uses for this type, e.g.
    /// `stateEnteredEventDetails` for every `…StateEntered`.
    pub fn details_key(&self) -> String {
        let t = self.kind.as_str();
        if t.ends_with("StateEntered") {
            return "stateEnteredEventDetails".into();
        }
        if t.ends_with("StateExited") {
            return "stateExitedEventDetails".into();
        }
        let mut k = String::new();
        let mut chars = t.chars();
        if let Some(c) = chars.next() {
            k.push(c.to_ascii_lowercase());
        }
        k.extend(chars);
        k.push_str("EventDetails");
        k
    }

    /// The state name of an Entered event.
    pub fn entered_state(&self) -> Option<&str> {
        if self.kind.as_str().ends_with("StateEntered") {
            self.details["name"].as_str()
        } else {
            None
        }
    }
}

/// The event that ends an execution with `outcome`, and its details.
pub fn execution_end(outcome: &super::Outcome) -> (EventType, serde_json::Value) {
    use super::Outcome;
    use super::flow::error_details;
    match outcome {
        Outcome::Succeeded(v) => (
            EventType::ExecutionSucceeded,
            serde_json::json!({"output": v, "outputDetails": {"truncated": false}}),
        ),
        Outcome::Failed(e) => (EventType::ExecutionFailed, error_details(e)),
        Outcome::TimedOut(e) => (EventType::ExecutionTimedOut, error_details(e)),
        Outcome::Aborted(e) => (EventType::ExecutionAborted, error_details(e)),
    }
}

//! A Distributed Map's child executions. With `ExecutionType: STANDARD`
//! each child (one item, or one batch) is an execution of its own, as on
//! AWS: an ARN beside the Map Run's, a status, and a history that starts
//! with ExecutionStarted — while the driver still runs it as a thread of
//! the parent (so the parent's fan-in stays one write per group of
//! children).
//!
//! The child's root thread keeps its events in a journal rather than in
//! the parent's history, and hands them to the driver with its record
//! ([`Effect::ChildExecution`]): when it ends; after its first step if it
//! did not end in it (so a running child is listed); and whenever
//! [`JOURNAL_EVENTS`] have gathered. A driver stores the record by the
//! child's ARN (the later write wins, but never over an ended record of
//! the same attempt) and each record's events as the next page of the
//! child's history. A Parallel's branches and an inline Map's iterations
//! inside a child record into its history too, each thread handing over
//! pages of its own; every event carries the child's logical clock (a
//! branch starts at its parent's, a parent taking a branch's end moves
//! past it), by which the history is ordered when it is read.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::history::{EventType, HistoryEvent};
use super::thread::{Parent, Thread};
use super::{Effect, Outcome, Step};
use crate::error::StatesError;
use crate::timestamp::Millis;

/// How many events (or bytes of their details) a child keeps before it
/// hands them to the driver: the journal is part of the thread, which every
/// step saves, in an item of at most 400 KB on DynamoDB.
pub const JOURNAL_EVENTS: usize = 32;
pub const JOURNAL_BYTES: usize = 64 * 1024;

/// What a child execution's root thread carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildExecution {
    /// Its Map Run's ARN (its own is [`child_arn`] of that and its index).
    pub map_run: String,
    /// When it started and its input, set by its first step (the children
    /// a step starts travel lean).
    #[serde(default)]
    pub start: Millis,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
    /// How many items it runs (a batch's size, or 1).
    pub items: u32,
    /// Events recorded so far: the next one's id is this plus one.
    #[serde(default)]
    pub recorded: u64,
    /// Pages (records with events) handed to the driver so far.
    #[serde(default)]
    pub pages: u32,
    /// Events not yet handed to the driver, and about how large.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub journal: Vec<Ordered>,
    #[serde(default)]
    pub journal_bytes: usize,
    /// A redrive took it up where it failed: its next step records
    /// ExecutionRedriven.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redriven: bool,
    /// A branch or iteration inside the child execution whose root is
    /// child `member` of the Map Run (`None`: the root itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<usize>,
}

impl ChildExecution {
    /// The journal of a child of Map Run `run` given `items` items, on the
    /// child's root thread (its start and input come with its first
    /// step).
    pub(super) fn root(run: &str, items: u32) -> ChildExecution {
        ChildExecution {
            map_run: run.to_owned(),
            start: 0,
            input: Value::Null,
            items,
            recorded: 0,
            pages: 0,
            journal: Vec::new(),
            journal_bytes: 0,
            redriven: false,
            member: None,
        }
    }

    /// The journal of a branch or iteration that `t` (holding this journal)
    /// starts inside the same child execution, its events after the
    /// `recorded` ones.
    pub(super) fn member(&self, t: &Thread, recorded: u64) -> ChildExecution {
        ChildExecution {
            start: self.start,
            input: self.input.clone(),
            recorded,
            member: Some(self.index(t.parent.as_ref())),
            ..ChildExecution::root(&self.map_run, self.items)
        }
    }

    /// Which child of its Map Run this is (`parent`: that of the thread
    /// holding it).
    pub(super) fn index(&self, parent: Option<&Parent>) -> usize {
        (self.member).unwrap_or_else(|| parent.map_or(0, |p| p.index))
    }
}

/// A child execution's history event with its place in the history (its
/// logical clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ordered {
    #[serde(default)]
    pub order: u64,
    #[serde(flatten)]
    pub event: HistoryEvent,
}

/// A child execution as a driver keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildRecord {
    pub arn: String,
    pub map_run: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StatesError>,
    pub start: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Millis>,
    pub items: u32,
    /// Which redrive of the parent this attempt runs in.
    #[serde(default)]
    pub attempt: u32,
    /// The page of history `events` are, of its thread; a record without
    /// events adds no page.
    #[serde(default)]
    pub page: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Ordered>,
    /// A page of a branch or iteration inside the child (that thread's id):
    /// only the page is kept, the record is its root's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

impl ChildRecord {
    pub fn is_running(&self) -> bool {
        self.status == "RUNNING"
    }

    /// Whether it is only a page of history (of a thread inside the child).
    pub fn is_page(&self) -> bool {
        self.thread.is_some()
    }

    /// Whether a store keeping `stored` takes this record in its place:
    /// an ended attempt is not replaced by a record of the same attempt
    /// written later (a redelivered RUNNING record).
    pub fn replaces(&self, stored: &ChildRecord) -> bool {
        stored.is_running() || self.attempt > stored.attempt
    }

    /// The record without its events (what a listing needs).
    pub fn without_events(&self) -> ChildRecord {
        ChildRecord {
            events: Vec::new(),
            ..self.clone()
        }
    }
}

/// The ARN of child `index` of the Map Run `run`
/// (`…:mapRun:<machine>/<label>:<id>`): `…:execution:<machine>/<label>:<uuid>`,
/// the UUID derived from both, so that anyone holding the run can name
/// its children.
pub fn child_arn(run: &str, index: usize) -> String {
    let (base, _) = run.rsplit_once(':').unwrap_or((run, ""));
    let base = base.replacen(":mapRun:", ":execution:", 1);
    let (a, b) = (
        fnv(run.as_bytes(), index as u64, 0xcbf2_9ce4_8422_2325),
        fnv(run.as_bytes(), index as u64, 0x6c62_272e_07bb_0142),
    );
    format!("{base}:{}", crate::random::uuid_of(a, b))
}

/// The state machine a Map Run's child executions run:
/// `…:stateMachine:<machine>/<label>` for `…:mapRun:<machine>/<label>:<id>`.
pub fn child_machine(run: &str) -> String {
    let machine = run.replacen(":mapRun:", ":stateMachine:", 1);
    match machine.rsplit_once(':') {
        Some((m, _)) if m.contains(":stateMachine:") => m.to_owned(),
        _ => machine,
    }
}

fn fnv(data: &[u8], index: u64, seed: u64) -> u64 {
    let mut h = seed;
    for b in data.iter().chain(index.to_be_bytes().iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // A final mix, so that neighbouring indexes differ in every part.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// The status AWS shows for an outcome.
pub fn status_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded(_) => "SUCCEEDED",
        Outcome::Failed(_) => "FAILED",
        Outcome::TimedOut(_) => "TIMED_OUT",
        Outcome::Aborted(_) => "ABORTED",
    }
}

impl Step<'_> {
    /// A child execution's first event (ExecutionStarted, or
    /// ExecutionRedriven when a redrive takes it up), before its step runs.
    pub(super) fn child_begins(&mut self, t: &mut Thread) {
        let Some(c) = t.child.as_mut() else { return };
        if !self.history.is_empty() || c.member.is_some() {
            return;
        }
        let now = self.env.now;
        let event = if c.redriven {
            c.redriven = false;
            t.redriven_at = now;
            HistoryEvent::execution_redriven(now, t.redrives)
        } else if c.recorded == 0 {
            c.start = now;
            c.input = t.input.clone();
            HistoryEvent {
                timestamp: now,
                kind: EventType::ExecutionStarted,
                thread: String::new(),
                details: json!({
                    "input": c.input,
                    "inputDetails": {"truncated": false},
                    "roleArn": self.exec.role_arn,
                }),
                with_entry: false,
                after: None,
            }
        } else {
            return;
        };
        self.history.push(HistoryEvent {
            thread: t.id.clone(),
            ..event
        });
    }

    /// After a child execution's step: its events go to its journal, and
    /// its record to the driver when it ended, ran its first step or
    /// gathered a page of events.
    pub(super) fn child_steps(&mut self, t: &mut Thread) {
        let Some(c) = t.child.as_mut() else { return };
        // It began in this step: a running one is listed from now on.
        let first = self.history.first().is_some_and(|e| {
            matches!(
                e.kind,
                EventType::ExecutionStarted | EventType::ExecutionRedriven
            )
        });
        c.journal_bytes += (self.history.iter())
            .map(|e| serde_json::to_vec(&e.details).map_or(0, |v| v.len()))
            .sum::<usize>();
        let from = c.recorded + 1;
        c.recorded += self.history.len() as u64;
        let events = std::mem::take(&mut self.history).into_iter();
        c.journal.extend(
            (from..)
                .zip(events)
                .map(|(order, event)| Ordered { order, event }),
        );
        let ended = self.effects.iter().find_map(|e| match e {
            Effect::Finish(o) => Some(o.clone()),
            _ => None,
        });
        let full = c.journal.len() >= JOURNAL_EVENTS || c.journal_bytes >= JOURNAL_BYTES;
        if ended.is_none() && !first && !full {
            return;
        }
        c.journal_bytes = 0;
        let (status, output, error) = match &ended {
            None => ("RUNNING", None, None),
            Some(o @ Outcome::Succeeded(v)) => (status_of(o), Some(v.clone()), None),
            Some(o @ (Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e))) => {
                (status_of(o), None, Some(e.clone()))
            }
        };
        let events = std::mem::take(&mut c.journal);
        if c.member.is_some() && events.is_empty() {
            return;
        }
        let page = c.pages;
        if !events.is_empty() {
            c.pages += 1;
        }
        let record = ChildRecord {
            arn: child_arn(&c.map_run, c.index(t.parent.as_ref())),
            map_run: c.map_run.clone(),
            status: status.to_owned(),
            input: c.input.clone(),
            output,
            error,
            start: c.start,
            stop: ended.is_some().then_some(self.env.now),
            items: c.items,
            attempt: t.redrives,
            page,
            events,
            thread: c.member.is_some().then(|| t.id.clone()),
        };
        // Before Finish: a driver writes it before the parent hears of the end.
        let at = (self.effects.iter())
            .position(|e| matches!(e, Effect::Finish(_)))
            .unwrap_or(self.effects.len());
        self.effects
            .insert(at, Effect::ChildExecution(Box::new(record)));
    }
}

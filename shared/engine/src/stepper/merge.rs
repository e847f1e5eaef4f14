//! An execution's history as the stepper reads it back: the events every
//! thread kept, in AWS's order and numbering.

use std::collections::HashMap;

use serde_json::Value;
use stepwise_asl::Outcome;
use stepwise_asl::exec::{EventType, Numbering};

use crate::report::Recorded;

use super::Logged;

/// How AWS quotes a state's Entered event in a runtime error's cause.
const ENTERED_AT: &str = "(entered at the event id #";

/// The execution's history in AWS's order and numbering: causal order across
/// threads, each event's `previousEventId` the one before it in its thread.
///
/// Two things a thread cannot know when it records an event are settled
/// here. An execution's end is the last event before the next redrive: a
/// sibling of the branch that failed may record its next states (with
/// later logical times) before its stop reaches it, where AWS, which ends
/// an execution at once, records them before the end. And a runtime error's
/// cause quotes the failing state's Entered event by the id its own thread
/// counted, which is the history's id only when no other thread ran beside
/// it: the quote is given the id this numbering gives that event.
pub fn merge_history(mut events: Vec<Logged>) -> Vec<Recorded> {
    events.sort_by(|a, b| {
        (a.order, &a.event.thread, a.event.timestamp).cmp(&(
            b.order,
            &b.event.thread,
            b.event.timestamp,
        ))
    });
    let events = ends_last(events);
    let quotes = |l: &Logged| matches!(l.event.details.get("cause"), Some(Value::String(c)) if c.contains(ENTERED_AT));
    let renumber = events.iter().any(quotes);
    let mut numbering = Numbering::default();
    // Each thread's Entered events by the id the thread counted for them
    // (an event's order is that id less one), when a cause quotes one.
    let mut entered = HashMap::new();
    let mut history: Vec<Recorded> = events
        .into_iter()
        .map(|l| {
            let (id, linked) = numbering.number(&l.event);
            let previous = l.previous.unwrap_or(linked);
            if renumber && l.event.kind.as_str().ends_with("StateEntered") {
                entered.insert((l.event.thread.clone(), l.order + 1), id);
            }
            Recorded {
                id,
                previous,
                event: l.event,
            }
        })
        .collect();
    if !renumber {
        return history;
    }
    for r in &mut history {
        let thread = r.event.after.as_ref().unwrap_or(&r.event.thread).clone();
        if let Some(Value::String(cause)) = r.event.details.get_mut("cause")
            && let Some(quoted) = renumbered(cause, |n| entered.get(&(thread.clone(), n)).copied())
        {
            *cause = quoted;
        }
    }
    history
}

/// Each end of the execution after the other events up to the next
/// ExecutionRedriven (which redrive orders after every event before it).
fn ends_last(events: Vec<Logged>) -> Vec<Logged> {
    let mut out = Vec::with_capacity(events.len());
    let mut ends = Vec::new();
    for l in events {
        if l.event.kind == EventType::ExecutionRedriven {
            out.append(&mut ends);
        }
        if l.event.ends_execution() {
            ends.push(l);
        } else {
            out.push(l);
        }
    }
    out.append(&mut ends);
    out
}

/// `cause` with the Entered event it quotes given the id `id_of` says,
/// when it quotes one and that id differs.
pub(crate) fn renumbered(cause: &str, id_of: impl Fn(u64) -> Option<u64>) -> Option<String> {
    let at = cause.find(ENTERED_AT)? + ENTERED_AT.len();
    let digits = cause[at..].bytes().take_while(u8::is_ascii_digit).count();
    let quoted: u64 = cause[at..at + digits].parse().ok()?;
    let id = id_of(quoted).filter(|id| *id != quoted)?;
    Some(format!("{}{id}{}", &cause[..at], &cause[at + digits..]))
}

/// Whether an execution's end quotes an Entered event in its cause (which
/// the merged history may number otherwise than the thread that wrote it).
pub fn quotes_entered_event(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e)
        if e.cause.as_deref().is_some_and(|c| c.contains(ENTERED_AT)))
}

/// The execution's end with the cause its merged history's end event
/// gives it, where the stored cause quotes an Entered event by a thread's
/// count (DescribeExecution and `stepwise run` say what the history says).
pub fn settle(outcome: &mut Outcome, history: &[Recorded]) {
    if !quotes_entered_event(outcome) {
        return;
    }
    let (Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e)) = outcome else {
        return;
    };
    let end = history.iter().rev().find(|r| r.event.ends_execution());
    if let Some(Value::String(cause)) = end.and_then(|r| r.event.details.get("cause")) {
        e.cause = Some(cause.clone());
    }
}

/// A stopped execution's history with its ExecutionAborted, when its root
/// thread has not taken the stop yet: StopExecution records the status at
/// once and the root records the event a message later, and a reader that
/// saw ABORTED must find the history ending so (as on AWS).
pub fn with_stop(mut history: Vec<Recorded>, record: &super::ExecutionRecord) -> Vec<Recorded> {
    let (Some(outcome @ Outcome::Aborted(_)), Some(at)) = (&record.outcome, record.stopped) else {
        return history;
    };
    let mut since_redrive =
        (history.iter().rev()).take_while(|r| r.event.kind != EventType::ExecutionRedriven);
    if since_redrive.any(|r| r.event.ends_execution()) {
        return history;
    }
    let (kind, details) = stepwise_asl::exec::history::execution_end(outcome);
    let id = history.last().map_or(1, |r| r.id + 1);
    history.push(Recorded {
        id,
        previous: 0,
        event: stepwise_asl::exec::HistoryEvent {
            timestamp: at,
            kind,
            thread: "root".into(),
            details,
            with_entry: false,
            after: None,
        },
    });
    history
}

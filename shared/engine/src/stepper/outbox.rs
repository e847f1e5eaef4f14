//! A transition's outbox: events numbered, messages bundled.

use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::{ChildRecord, Effect};

use super::{Body, Envelope, Logged};

/// A step's effects without its child executions' records, and the records.
pub(super) fn split_records(effects: Vec<Effect>) -> (Vec<Effect>, Vec<ChildRecord>) {
    let mut records = Vec::new();
    let rest = (effects.into_iter())
        .filter_map(|e| match e {
            Effect::ChildExecution(r) => {
                records.push(*r);
                None
            }
            e => Some(e),
        })
        .collect();
    (rest, records)
}

/// Gives a step's events their logical times, after `lamport`.
pub(super) fn number(events: Vec<HistoryEvent>, lamport: u64) -> Vec<Logged> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Logged {
            order: lamport + 1 + i as u64,
            event,
        })
        .collect()
}

/// The largest bundle sent as one message (SQS allows 256 KiB).
const BUNDLE_BYTES: usize = 200 * 1024;

/// Turns a transition's messages into as few queue messages as fit: one, as
/// a rule; a spawn too large for one message is split.
pub(super) fn bundle(sender: &str, messages: Vec<Envelope>) -> Vec<Envelope> {
    if messages.len() <= 1 {
        return messages;
    }
    let mut out = Vec::new();
    let mut group: Vec<Envelope> = Vec::new();
    let mut size = 0;
    for m in messages {
        let n = serde_json::to_vec(&m).map(|v| v.len()).unwrap_or(0);
        if !group.is_empty() && size + n > BUNDLE_BYTES {
            out.push(std::mem::take(&mut group));
            size = 0;
        }
        size += n;
        group.push(m);
    }
    out.push(group);
    out.into_iter()
        .enumerate()
        .map(|(i, group)| Envelope {
            id: format!("{sender}/b{i}"),
            at: group.iter().map(|e| e.at).min().unwrap_or(0),
            body: Body::Bundle(group),
        })
        .collect()
}

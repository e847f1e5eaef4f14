//! A transition's outbox: events numbered, messages bundled, and a
//! received bundle's threads stepped side by side.

use stepwise_asl::exec::HistoryEvent;

use super::{Body, Envelope, Logged};

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

/// Runs futures side by side; their outputs in their order.
pub(super) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

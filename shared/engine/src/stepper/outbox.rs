//! A transition's outbox: events numbered, messages bundled, sent after
//! the save.

use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, Effect, Event, Outcome};

use super::lifecycle::stop_child;
use super::*;
use crate::ports::Tasks;

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    /// Carries out what `rec`, the saved record of `execution`'s `thread`,
    /// says is to happen next; again on every redelivery of the message
    /// that wrote it.
    pub(super) async fn send_outbox(
        &self,
        record: &ExecutionRecord,
        thread: &str,
        rec: &Record,
        now: Millis,
    ) -> Result<(), Retry> {
        let outbox = &rec.outbox;
        // First: before the children it starts can end it, and before the
        // execution's end says it is over.
        for run in &outbox.map_runs {
            self.store.put_map_run(&record.facts.arn, run).await?;
        }
        for child in &outbox.child_runs {
            self.store.put_child(&record.facts.arn, child).await?;
        }
        if let Some(outcome) = &outbox.complete {
            let arn = &record.facts.arn;
            let mut outcome = outcome;
            let earlier = self.store.complete(arn, outcome, now).await?;
            if let Some(stop) = &earlier
                && stopped_first(stop, outcome)
            {
                self.end_with_stop(arn, thread, rec, stop).await?;
                outcome = stop;
            }
            if self.abort.abort("completed") {
                return Err(Retry::Chaos("completed"));
            }
            if let Some(parent) = &record.parent {
                // Sent again with the outbox on a redelivery; the parent's
                // thread takes only the first answer for its wait.
                report_to_parent(&self.queue, record, parent, outcome, now).await?;
            }
        }
        if !outbox.messages.is_empty() {
            // One level: a thread stopped here sends its own stops on.
            let nested = STOPPING.try_with(|s| *s).unwrap_or(false);
            if !nested && stops_a_thread(&outbox.messages, now) {
                let rest = Box::pin(self.stop_in_place(&outbox.messages, now)).await;
                if !rest.is_empty() {
                    self.queue.send(&rest, now).await?;
                }
            } else {
                self.queue.send(&outbox.messages, now).await?;
            }
        }
        for child in &outbox.stop {
            stop_child(&self.store, &self.queue, child, now).await?;
        }
        Ok(())
    }

    /// Carries out a transition's stops of threads at once rather than
    /// through the queue: a step of a child already on its way would
    /// otherwise run after its parent gave up on it, even after the
    /// execution's end (the sibling of a failed Parallel branch went on to
    /// its next states, calling their tasks). Once stopped, the child's
    /// record has moved on and that step finds itself stale. A stop that
    /// cannot be carried out here is sent, with the other messages.
    async fn stop_in_place(&self, messages: &[Envelope], now: Millis) -> Vec<Envelope> {
        let mut rest = Vec::new();
        for e in messages {
            match &e.body {
                Body::Bundle(inner) if stops_a_thread(inner, now) => {
                    let left = Box::pin(self.stop_in_place(inner, now)).await;
                    if !left.is_empty() {
                        rest.push(Envelope {
                            id: e.id.clone(),
                            at: e.at,
                            body: Body::Bundle(left),
                        });
                    }
                }
                Body::Step(m) if is_due_stop(e, now) => {
                    let stopped = STOPPING.scope(true, Box::pin(self.step(&e.id, m, now)));
                    if stopped.await.is_err() {
                        rest.push(e.clone());
                    }
                }
                _ => rest.push(e.clone()),
            }
        }
        rest
    }

    /// A StopExecution recorded the execution's end between the save of the
    /// transition that ended it and that end's record: the execution's item
    /// decides, so the history ends as its status says, with the stop
    /// (ExecutionAborted in place of the end the step made). Its outbox
    /// then holds the stop, which a redelivery finds recorded.
    async fn end_with_stop(
        &self,
        arn: &str,
        thread: &str,
        rec: &Record,
        stop: &Outcome,
    ) -> Result<(), Retry> {
        let mut mended = rec.clone();
        if let Some(end) = (mended.page.iter_mut().rev()).find(|l| l.event.ends_execution()) {
            (end.event.kind, end.event.details) = stepwise_asl::exec::history::execution_end(stop);
        }
        mended.outbox.complete = Some(stop.clone());
        mended.seq += 1;
        match self.store.save(arn, thread, &mended, Some(rec.seq)).await? {
            Saved::Conflict => Err(Retry::Conflict),
            Saved::Done | Saved::TooLarge => Ok(()),
        }
    }
}

tokio::task_local! {
    /// Set while a stop is carried out in place ([`Stepper::stop_in_place`]):
    /// the stopped thread's own stops go through the queue, so that a deep
    /// tree of threads is not stopped by a deep recursion on one stack.
    static STOPPING: bool;
}

/// Whether `messages` hold a stop of a thread that is due.
fn stops_a_thread(messages: &[Envelope], now: Millis) -> bool {
    messages.iter().any(|e| match &e.body {
        Body::Bundle(inner) => stops_a_thread(inner, now),
        _ => is_due_stop(e, now),
    })
}

fn is_due_stop(e: &Envelope, now: Millis) -> bool {
    e.at <= now && matches!(&e.body, Body::Step(m) if matches!(m.event, Event::Stop { .. }))
}

/// Whether the execution's end `earlier`, already recorded, is a stop that
/// came before the thread's own end `ours`.
fn stopped_first(earlier: &Outcome, ours: &Outcome) -> bool {
    matches!(earlier, Outcome::Aborted(_)) && !matches!(ours, Outcome::Aborted(_))
}

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
            previous: None,
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

//! An execution's life around the stepper: starting it, reading its history
//! back in AWS's order, and running one to its end (`stepwise run`).

use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Event, Outcome, StateMachine, StatesError, Thread};

use crate::ports::Tasks;
use crate::report::Report;

use super::*;

/// Creates an execution and sends its first messages: the root's first
/// `Run` and, with a TimeoutSeconds, the timeout. Starting again with the
/// same record sends them again (the stepper drops the duplicates).
pub async fn start<S: Store, Q: Queue>(
    store: &S,
    queue: &Q,
    record: &ExecutionRecord,
    machine: &StateMachine,
) -> Result<bool, PortError> {
    let facts = &record.facts;
    let now = facts.start_time;
    let created = store.create(record).await?;
    let root = Thread::root(&machine.root().start_at, facts.input.clone());
    let first = |id: &str, at, event, seq, init| Envelope {
        id: id.to_owned(),
        at,
        body: Body::Step(Box::new(StepMessage {
            execution: facts.arn.clone(),
            thread: "root".into(),
            seq,
            lamport: 0,
            event,
            init,
            born: None,
        })),
    };
    let mut messages = vec![first("start", now, Event::Run, Some(0), Some(root))];
    if let Some((at, timeout)) = stepwise_asl::exec::machine_timeout(machine, now, 0) {
        messages.push(first("timeout", at, timeout, None, None));
    }
    queue.send(&messages, now).await?;
    Ok(created)
}

/// The finished execution as `stepwise run` reports it.
pub async fn report<S: Store>(store: &S, arn: &str) -> Result<Option<Report>, PortError> {
    let Some(record) = store.execution(arn).await? else {
        return Ok(None);
    };
    let Some(mut outcome) = record.outcome else {
        return Ok(None);
    };
    let history = merge_history(store.history(arn).await?);
    settle(&mut outcome, &history);
    Ok(Some(Report::from_outcome(outcome, history)))
}

/// Runs one execution to its end through the stepper: create it, feed the
/// queue's messages to the stepper as Lambda's event source would, report.
pub async fn run_to_end<S, Q, T, I>(
    stepper: &Stepper<S, Q, T, Option<Chaos>>,
    inbox: &I,
    record: &ExecutionRecord,
    machine: &StateMachine,
    fast_forward: bool,
) -> Result<Report, PortError>
where
    S: Store,
    Q: Queue,
    T: Tasks,
    I: Inbox,
{
    start(&stepper.store, &stepper.queue, record, machine).await?;
    let arn = record.facts.arn.clone();
    let options = PollerOptions {
        fast_forward,
        start: record.facts.start_time,
        ..PollerOptions::default()
    };
    let mut poller = Poller::new(stepper, inbox, options);
    let finished = poller
        .run(|| async {
            let r = stepper.store.execution(&arn).await?;
            Ok(r.is_some_and(|r| r.status != "RUNNING"))
        })
        .await?;
    if !finished {
        let history = merge_history(stepper.store.history(&arn).await?);
        return Ok(Report::stuck(history));
    }
    Ok(report(&stepper.store, &arn)
        .await?
        .expect("a finished execution has an outcome"))
}

/// Tells a `.sync` parent task that its child ended: the parent's thread
/// gets the task's result (or failure) for the wait it parked on. Sent
/// again with a redelivered outbox; the parent takes only the first.
pub(super) async fn report_to_parent<Q: Queue>(
    queue: &Q,
    child: &ExecutionRecord,
    parent: &ParentTask,
    outcome: &Outcome,
    now: Millis,
) -> Result<(), PortError> {
    let wait = parent.target.wait;
    let stopped = child.stopped.unwrap_or(now);
    let event = Event::task_result(
        wait,
        crate::nested::ended(&child.facts, outcome, stopped, parent.json),
    );
    let message = Envelope {
        id: format!("ended:{}", child.facts.arn),
        at: now,
        body: Body::Step(Box::new(StepMessage {
            execution: parent.target.execution.clone(),
            thread: parent.target.thread.clone(),
            seq: None,
            lamport: 0,
            event,
            init: None,
            born: None,
        })),
    };
    queue.send(&[message], now).await
}

/// RedriveExecution: an execution that failed, timed out or was stopped runs
/// again from the state where it ended, with that state's input and
/// variables. Its status changes at once; its root thread is written anew
/// (ExecutionRedriven in its history) and its first `Run` sent.
pub async fn redrive<S: Store, Q: Queue>(
    store: &S,
    queue: &Q,
    arn: &str,
    now: Millis,
) -> Result<Redrive, PortError> {
    let Some(mut record) = store.execution(arn).await? else {
        return Ok(Redrive::NotRedrivable);
    };
    let from = record.status.clone();
    if record.express || !matches!(from.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Ok(Redrive::NotRedrivable);
    }
    let (point, mut rec, expected) = match store.load(arn, "root").await? {
        Some(mut rec) => {
            let Some(ended) = rec.thread.take() else {
                return Ok(Redrive::NotRedrivable);
            };
            if !ended.is_done() {
                // Stopped, but its root thread has not taken the stop yet.
                return Ok(Redrive::Stopping);
            }
            let expected = Some(rec.seq);
            (ended.redrive_point(), rec, expected)
        }
        // Moved from the former worker's tables: no thread record, the
        // point kept on the execution; the redrive writes the first record.
        // (The point stays: if that write is lost, the next redrive finds
        // it again; once a record exists, the record's wins.)
        None => match record.redrive_point.as_deref() {
            Some(point) => (point.clone(), Record::default(), None),
            None => return Ok(Redrive::NotRedrivable),
        },
    };
    let count = record.facts.redrive_count.unwrap_or(0) + 1;
    let root = Thread::redriven(point, count, now);
    record.facts.redrive_count = Some(count);
    record.status = "RUNNING".into();
    record.outcome = None;
    record.stopped = None;
    record.redriven = Some(now);
    if !store.reopen(&record, &from).await? {
        return Ok(Redrive::NotRedrivable); // redriven (or changed) by another call meanwhile
    }
    // After every event kept so far: a thread that had not yet taken the
    // end's stop may have counted past the root (see [`merge_history`]).
    let last = (store.history(arn).await?.iter())
        .map(|l| l.order)
        .max()
        .unwrap_or(0);
    rec.seq += 1;
    rec.lamport = rec.lamport.max(last) + 1;
    rec.cause = format!("redrive:{count}");
    let run = Envelope {
        id: format!("redrive:{count}:run"),
        at: now,
        body: Body::Step(Box::new(StepMessage {
            execution: arn.to_owned(),
            thread: "root".into(),
            seq: Some(rec.seq),
            lamport: rec.lamport,
            event: Event::Run,
            init: None,
            born: None,
        })),
    };
    let mut messages = vec![run];
    // The machine's TimeoutSeconds counts again from the redrive (the
    // first attempt's timer, if still to come, finds another attempt).
    let options = stepwise_asl::Options {
        express: record.express,
    };
    let machine = StateMachine::parse(&record.definition, options).ok();
    if let Some((at, timeout)) =
        machine.and_then(|m| stepwise_asl::exec::machine_timeout(&m, now, count))
    {
        messages.push(Envelope {
            id: format!("redrive:{count}:timeout"),
            at,
            body: Body::Step(Box::new(StepMessage {
                execution: arn.to_owned(),
                thread: "root".into(),
                seq: None,
                lamport: 0,
                event: timeout,
                init: None,
                born: None,
            })),
        });
    }
    rec.page.push(Logged {
        order: rec.lamport,
        event: HistoryEvent::execution_redriven(now, count),
        previous: None,
    });
    rec.thread = Some(root);
    rec.children.clear();
    rec.outbox = Outbox {
        messages: messages.clone(),
        ..Outbox::default()
    };
    if store.save(arn, "root", &rec, expected).await? != Saved::Done {
        return Err(format!("the root thread of {arn} changed while it was redriven").into());
    }
    queue.send(&messages, now).await?;
    Ok(Redrive::At(now))
}

/// What a RedriveExecution did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redrive {
    /// The execution runs again since then.
    At(Millis),
    /// It cannot be redriven: it runs, it succeeded, or it is an EXPRESS one.
    NotRedrivable,
    /// It was stopped a moment ago and its root thread is still stopping:
    /// ask again shortly.
    Stopping,
}

/// Stops an execution (StopExecution): its status changes at once, then its
/// root thread stops its children and records ExecutionAborted. False when
/// it had ended meanwhile (then nothing is stopped).
pub async fn stop<S: Store, Q: Queue>(
    store: &S,
    queue: &Q,
    arn: &str,
    error: StatesError,
    now: Millis,
) -> Result<bool, PortError> {
    let aborted = Outcome::Aborted(error.clone());
    if let Some(earlier) = store.complete(arn, &aborted, now).await?
        && earlier != aborted
    {
        return Ok(false);
    }
    let message = Envelope {
        id: format!("stop@{now}"),
        at: now,
        body: Body::Step(Box::new(StepMessage {
            execution: arn.to_owned(),
            thread: "root".into(),
            seq: None,
            lamport: 0,
            event: Event::Stop {
                error,
                timed_out: false,
            },
            init: None,
            born: None,
        })),
    };
    queue.send(&[message], now).await?;
    Ok(true)
}

/// Stops a nested execution its `.sync` task gave up on (the task timed
/// out, or the parent was stopped). Sent again with a redelivered outbox:
/// the stop of an execution that already ended is ignored.
pub(super) async fn stop_child<S: Store, Q: Queue>(
    store: &S,
    queue: &Q,
    arn: &str,
    now: Millis,
) -> Result<(), PortError> {
    let Some(child) = store.execution(arn).await? else {
        return Ok(());
    };
    let ours = matches!(child.outcome, Some(Outcome::Aborted(_)));
    if child.status == "RUNNING" || ours {
        let error = match &child.parent {
            Some(p) => StatesError::aborted_by_parent(&p.target.execution),
            None => StatesError {
                error: None,
                cause: None,
            },
        };
        stop(store, queue, arn, error, now).await?;
    }
    Ok(())
}

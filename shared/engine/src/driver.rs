//! The in-process driver: how a step's effects are carried out where the
//! threads are at hand, for the in-memory runner (`stepwise run`,
//! StartSyncExecution, TestState), which keeps them in a map. Every kept
//! execution is driven by the stepper instead (the Lambda, `stepwise
//! serve` on SQLite or DynamoDB): its threads are records in another
//! process's reach, so a step's effects become its outbox (see
//! [`crate::stepper`]).

use std::future::Future;

use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{
    ChildRecord, Effect, Event, Handover, MapRun, Outcome, Output, StatesError, TaskCall, Thread,
};

use crate::executions::past_history_limit;
use crate::nested;

/// A step as a host took it.
pub struct Stepped {
    pub output: Output,
    /// The events the execution's history held before it.
    pub before: u64,
    /// Whether the execution is EXPRESS (its history has no limit).
    pub express: bool,
    /// The wait of the `.sync` nested execution the thread's task waited
    /// for before it ([`nested::child_wait`]).
    pub child_wait: Option<u64>,
}

/// Where an in-process driver keeps an execution's threads, history and
/// queue. Each method does one thing the [`deliver`] decides.
pub trait Host {
    type Error;

    /// The thread, taken out to be stepped, and whether it is new (not
    /// stored yet); `None` when it is gone.
    fn take(
        &mut self,
        execution: &str,
        thread: &str,
    ) -> Result<Option<(Thread, bool)>, Self::Error>;

    /// A thread back after its step (`new`: a child that starts now, or
    /// one never stored).
    fn put(&mut self, execution: &str, thread: Thread, new: bool);

    /// A thread that finished and handed over to its parent.
    fn forget(&mut self, execution: &str, thread: &str, new: bool);

    /// Steps `thread` by `event` with the execution's machine, facts and
    /// clock ([`crate::tasks::step_thread`]); `None` when it does not apply.
    fn step(
        &mut self,
        execution: &str,
        thread: &mut Thread,
        event: Event,
    ) -> impl Future<Output = Result<Option<Stepped>, Self::Error>>;

    /// Now, on the host's clock.
    fn now(&self) -> Millis;

    /// Appends a step's history events (`made`: how many it made, kept or
    /// not: what the numbering moves on by).
    fn record(
        &mut self,
        execution: &str,
        events: Vec<HistoryEvent>,
        made: u64,
    ) -> Result<(), Self::Error>;

    /// Queues `event` for `thread`, due at `at`.
    fn schedule(
        &mut self,
        execution: &str,
        thread: &str,
        at: Millis,
        event: Event,
    ) -> Result<(), Self::Error>;

    /// Sends a task call out (or offers it to activity workers).
    fn invoke(
        &mut self,
        execution: &str,
        thread: &Thread,
        call: TaskCall,
    ) -> impl Future<Output = Result<(), Self::Error>>;

    /// Threads that were cancelled and took their stop: what is left of
    /// them goes.
    fn cancelled(&mut self, _execution: &str, _threads: &[String]) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Keeps a Distributed Map's run, or one of its child executions.
    fn keep_run(&mut self, _execution: &str, _run: &MapRun) -> Result<(), Self::Error> {
        Ok(())
    }
    fn keep_child(&mut self, _execution: &str, _child: &ChildRecord) -> Result<(), Self::Error> {
        Ok(())
    }

    /// `thread` stepped and waits at `after` now: the `.sync` calls it no
    /// longer waits for are abandoned, and the nested executions of the
    /// wait it gave up on (`gave_up`) are stopped.
    fn moved_on(
        &mut self,
        _execution: &str,
        _thread: &str,
        _after: Option<u64>,
        _gave_up: Option<u64>,
    ) -> Result<(), Self::Error> {
        Ok(())
    }

    /// The execution ended: `root` is its root thread, when it ended in a
    /// step of its own.
    fn finish(
        &mut self,
        execution: &str,
        root: Option<&Thread>,
        outcome: Outcome,
    ) -> Result<(), Self::Error>;

    /// The execution fails from outside its step function (it would pass
    /// AWS's history limit): ExecutionFailed after every other event.
    fn fail(&mut self, execution: &str, error: StatesError) -> Result<(), Self::Error>;
}

/// Delivers one event to one thread of `execution` and carries out what
/// its step decided.
pub async fn deliver<H: Host>(
    host: &mut H,
    execution: &str,
    thread_id: &str,
    event: Event,
) -> Result<(), H::Error> {
    let Some((mut thread, new)) = host.take(execution, thread_id)? else {
        return Ok(());
    };
    let answered = nested::answered_wait(&event);
    let Some(stepped) = host.step(execution, &mut thread, event).await? else {
        host.put(execution, thread, new);
        return Ok(());
    };
    let out = stepped.output;
    // A step that would take the history past AWS's limit is not kept:
    // the execution fails instead, as on every driver.
    if let Some(e) = past_history_limit(stepped.express, stepped.before + out.events) {
        return host.fail(execution, e);
    }
    host.record(execution, out.history, out.events)?;
    let mut finished = None;
    for effect in out.effects {
        match effect {
            Effect::Schedule { at, event } => host.schedule(execution, thread_id, at, event)?,
            Effect::Invoke(call) => host.invoke(execution, &thread, call).await?,
            Effect::Spawn(children) => {
                for child in children {
                    let id = child.id.clone();
                    host.put(execution, child, true);
                    host.schedule(execution, &id, host.now(), Event::Run)?;
                }
            }
            // Each cancelled thread takes a stop, as the stepper sends it
            // one: its own children are cancelled in turn, a `.sync`
            // execution it waits for is stopped, a child execution ends
            // ABORTED with its journal kept. Then what is left of it goes.
            Effect::Cancel(ids) => {
                for id in &ids {
                    Box::pin(deliver(host, execution, id, Event::stopped())).await?;
                }
                host.cancelled(execution, &ids)?;
            }
            Effect::Finish(outcome) => finished = Some(outcome),
            Effect::ChildExecution(r) => host.keep_child(execution, &r)?,
            Effect::MapRun(run) => host.keep_run(execution, &run)?,
        }
    }
    let after = finished.is_none().then(|| thread.current_wait()).flatten();
    let gave_up = nested::abandoned(stepped.child_wait, answered, after);
    host.moved_on(execution, thread_id, after, gave_up)?;
    let Some(outcome) = finished else {
        host.put(execution, thread, new);
        return Ok(());
    };
    match thread.finished(outcome) {
        Handover::Parent(parent, event) => {
            host.forget(execution, thread_id, new);
            host.schedule(execution, &parent, host.now(), event)
        }
        Handover::Execution(outcome) => host.finish(execution, Some(&thread), outcome),
    }
}

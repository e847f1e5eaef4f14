//! The stepper itself: one message in, one conditional save and one send
//! out (see the module documentation for the rules).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::random::Random;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Effect, Event, Handover, Options, StateMachine, StatesError, TaskCall};

use crate::nested::{self, answered_wait};
use crate::ports::{Tasks, follow_pause};

use super::advance::Advanced;
use super::join::{Joined, Parents};
use super::outbox::{bundle, number};
use super::*;

/// Why a message must be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum Retry {
    #[error("another transition of this thread was saved first")]
    Conflict,
    #[error("the message is ahead of its thread")]
    Early,
    #[error("chaos: aborted at {0}")]
    Chaos(&'static str),
    #[error(transparent)]
    Port(#[from] PortError),
}

pub(super) struct Loaded {
    pub(super) machine: Arc<StateMachine>,
    pub(super) record: ExecutionRecord,
}

/// Decides where chaos aborts the stepper (for tests).
pub trait Abort {
    fn abort(&self, point: &'static str) -> bool;
}

/// Never aborts.
pub struct NoAbort;

impl Abort for NoAbort {
    fn abort(&self, _: &'static str) -> bool {
        false
    }
}

pub struct Stepper<S, Q, T, A = NoAbort> {
    pub store: S,
    pub queue: Q,
    pub tasks: T,
    pub abort: A,
    machines: Mutex<HashMap<String, Arc<Loaded>>>,
    random: Mutex<Random>,
}

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    pub fn new(store: S, queue: Q, tasks: T, abort: A, seed: u64) -> Self {
        Stepper {
            store,
            queue,
            tasks,
            abort,
            machines: Mutex::new(HashMap::new()),
            random: Mutex::new(Random::new(seed)),
        }
    }

    /// Handles one delivered message. `Ok` means delete it from the queue.
    pub async fn handle(&self, envelope: &Envelope, now: Millis) -> Result<(), Retry> {
        if envelope.at > now {
            // A long wait arrives early (the queue's delay limit): send it on.
            self.queue.send(std::slice::from_ref(envelope), now).await?;
            return Ok(());
        }
        match &envelope.body {
            Body::Step(m) => self.step(&envelope.id, m, now).await,
            Body::Poll(p) => self.look(&envelope.id, p, now).await,
            Body::Bundle(inner) => self.bundle(inner, now).await,
        }
    }

    pub(super) async fn loaded(&self, arn: &str) -> Result<Option<Arc<Loaded>>, Retry> {
        if let Some(l) = self.machines.lock().expect("lock").get(arn) {
            return Ok(Some(l.clone()));
        }
        let Some(record) = self.store.execution(arn).await? else {
            return Ok(None);
        };
        let options = Options {
            express: record.express,
        };
        let machine = StateMachine::parse_shared(&record.definition, options)
            .map_err(|e| Retry::Port(format!("stored definition is invalid: {e}").into()))?;
        let loaded = Arc::new(Loaded { machine, record });
        let mut cache = self.machines.lock().expect("lock");
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(arn.to_owned(), loaded.clone());
        Ok(Some(loaded))
    }

    pub(super) fn seed(&self) -> u64 {
        self.random.lock().expect("lock").next_u64()
    }

    pub(super) async fn step(&self, id: &str, m: &StepMessage, now: Millis) -> Result<(), Retry> {
        let mut parents = Parents::new();
        let joined = self.step_or_join(id, m, &mut parents, now).await?;
        self.join_all(joined.into_iter().collect(), parents, now)
            .await
    }

    /// Steps the thread `m` names and saves it, unless it is a new child
    /// that finished in this first step: then it is never written, and what
    /// it [`Joined`] its parent with is returned to be saved in the parent's
    /// record.
    pub(super) async fn step_or_join(
        &self,
        id: &str,
        m: &StepMessage,
        parents: &mut Parents,
        now: Millis,
    ) -> Result<Option<Joined>, Retry> {
        let Some(loaded) = self.loaded(&m.execution).await? else {
            return Ok(None); // an execution we do not know (expired): drop
        };
        let stored = self.store.load(&m.execution, &m.thread).await?;
        let (mut rec, expected) = match stored {
            Some(r) => {
                let seq = r.seq;
                (r, Some(seq))
            }
            None => match (&m.init, &m.event) {
                (Some(t), _) => (
                    Record {
                        thread: Some(t.clone()),
                        born: m.lamport,
                        ..Record::default()
                    },
                    None,
                ),
                (None, Event::Stop { .. }) => {
                    // Cancelled before it first ran: leave a tombstone so its
                    // first Run, still on its way, finds it.
                    let tomb = Record {
                        seq: 1,
                        cause: id.to_owned(),
                        ..Record::default()
                    };
                    return match self
                        .store
                        .save(&m.execution, &m.thread, &tomb, None)
                        .await?
                    {
                        Saved::Done | Saved::TooLarge => Ok(None),
                        Saved::Conflict => Err(Retry::Conflict),
                    };
                }
                // An answer for a thread whose first save is still to come
                // (its task's token went out before): later.
                (None, event) if answered_wait(event).is_some() => {
                    return self.answer_later(id, m, now).await.map(|()| None);
                }
                (None, _) => return Ok(None),
            },
        };
        if rec.cause == id {
            return self
                .send_outbox(&loaded.record, &m.thread, &rec, now)
                .await
                .map(|()| None);
        }
        if let Some(seq) = m.seq
            && seq != rec.seq
        {
            return if seq > rec.seq {
                Err(Retry::Early)
            } else {
                Ok(None)
            };
        }
        if rec.thread.is_none() {
            return Ok(None); // a tombstone
        }
        // A child's end joins this thread with the other ends that came
        // with it (one write for all).
        if let Event::ChildFinished {
            wait,
            index,
            outcome,
            resume,
            clock,
        } = &m.event
        {
            let at = (*wait, *index, *clock);
            let joined = Joined::reported(id, m, at, outcome.clone(), resume.clone());
            parents.insert((m.execution.clone(), m.thread.clone()), Arc::new(rec));
            return Ok(Some(joined));
        }
        let Some(thread) = rec.thread.as_mut() else {
            return Ok(None);
        };
        // An answer for a wait this thread has not saved yet (a callback or
        // a nested execution quicker than the save that parked the task):
        // deliver it again later rather than drop it.
        if let Some(wait) = answered_wait(&m.event)
            && wait > thread.waits
        {
            return self.answer_later(id, m, now).await.map(|()| None);
        }
        // A child's first step may also be its last: then it is never
        // written, and its result goes straight into its parent's record
        // (one write, not two). Its parent is read first, to see whether
        // this child already reported or is no longer wanted.
        let mut join = None;
        if expected.is_none()
            && let Some(p) = thread.parent.clone()
        {
            if !self.joinable(id, &loaded.record, &p, parents, now).await? {
                return Ok(None);
            }
            join = Some(p);
        }
        let lamport = rec.lamport.max(m.lamport);
        let child_wait = nested::child_wait(&loaded.machine, thread);
        let Some(mut advanced) = self
            .advance(&loaded, &m.execution, thread, m.event.clone(), lamport, now)
            .await?
        else {
            return Ok(None);
        };
        self.chain(&loaded, &m.execution, thread, lamport, &mut advanced)
            .await?;
        // What the transition sends and ends is dated by its last step (its
        // inline tasks' calls take the time they take).
        let now = advanced.clock.max(now);
        let Advanced {
            made,
            events,
            effects,
            tokens,
            children,
            follows,
            ..
        } = advanced;
        let abandoned =
            nested::abandoned(child_wait, answered_wait(&m.event), thread.current_wait());
        // A child execution's record is written with its siblings' before
        // their parent hears of them: never in the parent's item.
        let (effects, records) = super::outbox::split_records(effects);
        if let Some(p) = join
            && let [Effect::Finish(outcome)] = effects.as_slice()
        {
            return Ok(Some(Joined {
                records,
                clock: thread.clock(),
                id: id.to_owned(),
                execution: m.execution.clone(),
                parent: p,
                resume: thread.resume_point(outcome),
                outcome: outcome.clone(),
                events,
                made,
                lamport,
            }));
        }
        let t = Transition {
            id,
            record: &loaded.record,
            execution: &m.execution,
            thread: &m.thread,
            expected,
            lamport,
            carried: Vec::new(),
            events,
            made,
            effects: (records.into_iter())
                .map(|r| Effect::ChildExecution(Box::new(r)))
                .chain(effects)
                .collect(),
            tokens,
            children,
            follows,
            abandoned,
        };
        self.commit(rec, t, now).await.map(|()| None)
    }

    /// Saves a transition (the thread, its outbox, its history events) on
    /// the condition that no other was saved first, then sends its outbox.
    pub(super) async fn commit(
        &self,
        mut rec: Record,
        t: Transition<'_>,
        now: Millis,
    ) -> Result<(), Retry> {
        let thread = rec
            .thread
            .as_ref()
            .expect("a stepped record has its thread");
        let current = thread.current_wait();
        let seq = rec.seq + 1;
        let sender = format!("{}@{seq}", t.thread);
        let new_lamport = t.lamport + t.made;
        let message = |i: usize, at: Millis, thread: &str, seq, event, init| Envelope {
            id: format!("{sender}.{i}"),
            at,
            body: Body::Step(Box::new(StepMessage {
                execution: t.execution.to_owned(),
                thread: thread.to_owned(),
                seq,
                lamport: new_lamport,
                event,
                init,
                born: None,
            })),
        };
        // AWS's limit on a STANDARD execution's history (the clock counts
        // every event before: ExecutionStarted is order 0).
        if let Some(e) = crate::executions::past_history_limit(t.record.express, new_lamport + 1) {
            return self.fail_execution(t.execution, e, now).await;
        }
        let mut messages = Vec::new();
        let mut complete = None;
        let mut map_runs = Vec::new();
        let mut child_runs = Vec::new();
        for effect in t.effects {
            let i = messages.len();
            match effect {
                Effect::Schedule { at, event } => {
                    let expect = matches!(event, Event::Run).then_some(seq);
                    messages.push(message(i, at, t.thread, expect, event, None));
                }
                Effect::Spawn(children) => {
                    for child in children {
                        let i = messages.len();
                        let id = child.id.clone();
                        messages.push(message(i, now, &id, Some(0), Event::Run, Some(child)));
                    }
                }
                Effect::Cancel(ids) => {
                    for child in ids {
                        let i = messages.len();
                        messages.push(message(i, now, &child, None, Event::stopped(), None));
                    }
                }
                Effect::Finish(outcome) => match thread.finished(outcome) {
                    Handover::Parent(parent, event) => {
                        let mut end = message(i, now, &parent, None, event, None);
                        if let Body::Step(m) = &mut end.body {
                            m.born = Some(rec.born);
                        }
                        messages.push(end);
                    }
                    Handover::Execution(outcome) => complete = Some(outcome),
                },
                Effect::MapRun(run) => map_runs.push(*run),
                Effect::ChildExecution(r) => child_runs.push(*r),
                Effect::Invoke(_) => unreachable!("invocations ran inline"),
            }
        }
        for (call, started) in t.follows {
            let i = messages.len();
            messages.push(Envelope {
                id: format!("{sender}.{i}"),
                at: now + follow_pause(0).as_millis() as Millis,
                body: Body::Poll(Box::new(PollMessage {
                    execution: t.execution.to_owned(),
                    thread: t.thread.to_owned(),
                    call,
                    started,
                    looks: 0,
                    lamport: new_lamport,
                })),
            });
        }
        let messages = bundle(&sender, messages);
        // Tokens first: a save that loses the race leaves a token nobody
        // holds, which expires; a save without its token would be stuck.
        for (token, wait, offer) in &t.tokens {
            let target = TokenTarget {
                execution: t.execution.to_owned(),
                thread: t.thread.to_owned(),
                wait: *wait,
            };
            self.store.put_token(&token_hash(token), &target).await?;
            self.store.offer(offer, token, now).await?;
        }
        if rec.page.len() >= PAGE_EVENTS {
            // Only events already saved move: a writer that loses the race
            // below wrote the same page.
            self.store
                .put_page(t.execution, t.thread, rec.pages, &rec.page)
                .await?;
            rec.pages += 1;
            rec.page.clear();
        }
        rec.page.extend(t.carried);
        rec.page.extend(number(t.events, t.lamport));
        rec.seq = seq;
        rec.lamport = new_lamport;
        rec.cause = t.id.to_owned();
        // Children whose wait is over: answered (they ended), or given up
        // on by this transition (then stopped after the save).
        let mut stop = Vec::new();
        rec.children.retain(|c| {
            if Some(c.wait) == current {
                return true;
            }
            if Some(c.wait) == t.abandoned {
                stop.push(c.arn.clone());
            }
            false
        });
        rec.children.extend(t.children);
        rec.outbox = Outbox {
            messages,
            complete,
            stop,
            map_runs,
            child_runs,
        };
        let since = self.store.losses();
        match self
            .store
            .save(t.execution, t.thread, &rec, t.expected)
            .await?
        {
            Saved::Done => {}
            Saved::Conflict => return Err(Retry::Conflict),
            Saved::TooLarge => {
                let e = StatesError::new(
                    stepwise_asl::ErrorName::DataLimitExceeded,
                    format!(
                        "The state of thread '{}' exceeds the store's item size limit",
                        t.thread
                    ),
                );
                return self.fail_execution(t.execution, e, now).await;
            }
        }
        if self.abort.abort("saved") {
            return Err(Retry::Chaos("saved"));
        }
        self.send_outbox(t.record, t.thread, &rec, now).await?;
        self.store.keep(t.execution, t.thread, rec, since);
        Ok(())
    }

    /// A task's answer that came before its thread saved the task (the
    /// token went out first, or a nested execution was quicker): sent
    /// again a second later, up to a minute, rather than dropped or left to
    /// the queue's visibility timeout.
    async fn answer_later(&self, id: &str, m: &StepMessage, now: Millis) -> Result<(), Retry> {
        let (base, tries) = match id.rsplit_once("~again") {
            Some((base, n)) => (base, n.parse::<u32>().unwrap_or(u32::MAX)),
            None => (id, 0),
        };
        if tries >= ANSWER_RETRIES {
            return Ok(()); // its thread never came: drop it
        }
        let again = Envelope {
            id: format!("{base}~again{}", tries + 1),
            at: now + 1000,
            body: Body::Step(Box::new(m.clone())),
        };
        self.queue.send(&[again], now).await?;
        Ok(())
    }
}

/// One transition on its way to the store.
pub(super) struct Transition<'a> {
    /// The message that caused it.
    pub(super) id: &'a str,
    pub(super) record: &'a ExecutionRecord,
    pub(super) execution: &'a str,
    pub(super) thread: &'a str,
    /// The sequence number the save is conditional on (`None`: a new record).
    pub(super) expected: Option<u64>,
    /// The logical time its events count from.
    pub(super) lamport: u64,
    /// A finished child's events, joined into this (its parent's) record.
    pub(super) carried: Vec<Logged>,
    pub(super) events: Vec<HistoryEvent>,
    /// How many events of the history it made, kept in `events` or not (an
    /// EXPRESS execution keeps none): what the clock moves on by.
    pub(super) made: u64,
    pub(super) effects: Vec<Effect>,
    /// Activity tasks to offer, with their tokens and the wait each
    /// answers. (A callback's token was kept before its call.)
    pub(super) tokens: Vec<(String, u64, Offer)>,
    /// Nested executions started for a `.sync` task.
    pub(super) children: Vec<Child>,
    /// Jobs a `.sync` task started (its call and the start's answer).
    pub(super) follows: Vec<(TaskCall, Value)>,
    /// The `.sync` task wait this transition gave up on.
    pub(super) abandoned: Option<u64>,
}

/// How many times an early answer is sent again, a second apart.
const ANSWER_RETRIES: u32 = 60;

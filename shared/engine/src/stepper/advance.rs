//! Stepping a thread by one event, with the request-response tasks it
//! calls run inline (their answers stepped in turn), up to what is to be
//! saved: the events, the effects, and what waits outside the thread
//! (activity offers, nested executions, `.sync` jobs). A callback's token is
//! kept here, before its request goes out.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;
use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Effect, Env, Event, Output, StateMachine, TaskCall, Thread, step};

use crate::ports::{TaskContext, Tasks};

use super::step::{Loaded, Retry};
use super::*;

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    /// Steps `thread` by `event`, running request-response tasks inline;
    /// `None` when the event does not apply (stale).
    pub(super) async fn advance(
        &self,
        loaded: &Loaded,
        execution: &str,
        thread: &mut Thread,
        event: Event,
        lamport: u64,
        now: Millis,
    ) -> Result<Option<Advanced>, Retry> {
        let (machine, facts) = (&loaded.machine, &loaded.record.facts);
        let history = !loaded.record.express;
        // An event's order is its id less one in a history of one thread
        // (ExecutionStarted is order 0, id 1).
        let env = |next: u64, seed: u64, now: Millis| Env {
            now,
            seed,
            event_id: next + 1,
            history,
            spawn_bytes: SPAWN_BYTES,
            nonce: crate::entropy(),
            missing_activity: None,
        };
        let first = env(lamport + 1, self.seed(), now);
        let exists = async |arn: &str| self.store.activity_exists(arn).await.unwrap_or(true);
        let Some(mut out) =
            crate::tasks::step_thread(machine, facts, thread, event, &first, &self.tasks, exists)
                .await
        else {
            return Ok(None);
        };
        let cut_made = self.resolve_cuts(execution, machine, &mut out).await;
        // Inline calls take the time they take, on the execution's clock
        // too: once the machine's TimeoutSeconds passes during one (its
        // message is on its way), no answer is taken and no call made.
        let deadline = (machine.timeout_seconds)
            .map(|t| facts.start_time + t as Millis * 1000)
            .filter(|d| now < *d);
        let (mut clock, mut late) = (now, false);
        let mut made = out.events + cut_made;
        let mut events = out.history;
        let mut pending: VecDeque<Effect> = out.effects.into();
        let mut effects = Vec::new();
        let mut tokens = Vec::new();
        let mut children = Vec::new();
        let mut follows = Vec::new();
        // StopExecution ends the execution at once and its threads by
        // messages: a step queued before the stop calls no task and offers no
        // activity task (the calls below come only after a first one).
        if pending.iter().any(|e| matches!(e, Effect::Invoke(_))) && self.ended(execution).await {
            return Ok(None);
        }
        while let Some(effect) = pending.pop_front() {
            let Effect::Invoke(call) = effect else {
                effects.push(effect);
                continue;
            };
            let ctx = TaskContext::new(execution, &thread.id);
            // A callback task: once its request (carrying the token) is out,
            // the thread waits for SendTaskSuccess/Failure.
            let callback = self.tasks.awaits_token(&call);
            // A nested `.sync` execution: its end reports to this wait.
            let later = self.tasks.completes_later(&call);
            // An activity task: offered to GetActivityTask pollers with its
            // token when the transition commits.
            if crate::tasks::offers_activity(&self.tasks, &call)
                && let Some(token) = &call.token
            {
                let offer = Offer {
                    activity: call.resource.clone(),
                    input: call.payload.clone(),
                };
                tokens.push((token.clone(), call.wait, offer));
                continue;
            }
            if late {
                continue;
            }
            let wait = call.wait;
            // A callback's token is kept before its request goes out: a
            // worker that answers at once finds it (the thread's save may
            // still be to come: its answer waits for it, `answer_later`).
            let kept = match (callback, &call.token) {
                (true, Some(token)) => {
                    let target = TokenTarget {
                        execution: execution.to_owned(),
                        thread: thread.id.clone(),
                        wait,
                    };
                    let hash = token_hash(token);
                    self.store.put_token(&hash, &target).await?;
                    Some(hash)
                }
                _ => None,
            };
            let began = std::time::Instant::now();
            // A task that waits after its call: TaskSubmitted, then the wait.
            let answer = self.tasks.invoke(&call, &ctx).await;
            // A request that failed carried its token to no one.
            if let (Some(hash), Err(_)) = (&kept, &answer) {
                let _ = self.store.delete_token(hash).await;
            }
            clock += began.elapsed().as_millis() as Millis;
            let event = match answer {
                Ok(answer) if callback && call.token.is_some() => Event::TaskSubmitted {
                    wait,
                    output: answer,
                },
                // A `.sync` job started: looked at later, by messages.
                Ok(started) if self.tasks.follows(&call) => {
                    follows.push((call, started.clone()));
                    Event::TaskSubmitted {
                        wait,
                        output: started,
                    }
                }
                Ok(started) if later => {
                    if let Some(arn) = started["ExecutionArn"].as_str() {
                        children.push(Child {
                            wait,
                            arn: arn.to_owned(),
                        });
                    }
                    Event::TaskSubmitted {
                        wait,
                        output: started,
                    }
                }
                result => crate::tasks::inline_event(&call, began.elapsed(), result),
            };
            late = deadline.is_some_and(|d| clock >= d);
            if late {
                continue;
            }
            let next = lamport + 1 + made;
            let mut out = step(
                machine,
                facts,
                thread,
                event,
                &env(next, self.seed(), clock),
            );
            let cut_made = self.resolve_cuts(execution, machine, &mut out).await;
            if out.applied {
                made += out.events + cut_made;
                events.extend(out.history);
                pending.extend(out.effects);
            }
        }
        // Timers for waits the inline task already ended would be ignored.
        let current = thread.current_wait();
        effects.retain(|e| match e {
            Effect::Schedule {
                event: Event::Timer { wait, .. },
                ..
            } => Some(*wait) == current,
            _ => true,
        });
        tokens.retain(|(_, wait, _)| Some(*wait) == current);
        children.retain(|c| Some(c.wait) == current);
        follows.retain(|(call, _)| Some(call.wait) == current);
        Ok(Some(Advanced {
            made,
            events,
            effects,
            tokens,
            children,
            follows,
            clock,
        }))
    }

    /// Steps `thread` on in the same transition while all a step leaves to
    /// do is a message to the thread itself that is already due (the next
    /// state; a Wait or a retry's pause already over), up to
    /// [`Store::chain`] steps in all: a store that saves cheaply in one
    /// transaction saves once rather than after every state.
    pub(super) async fn chain(
        &self,
        loaded: &Loaded,
        execution: &str,
        thread: &mut Thread,
        lamport: u64,
        advanced: &mut Advanced,
    ) -> Result<(), Retry> {
        for _ in 1..self.store.chain() {
            let a = &mut *advanced;
            let alone = a.tokens.is_empty() && a.children.is_empty() && a.follows.is_empty();
            let due =
                matches!(a.effects.as_slice(), [Effect::Schedule { at, .. }] if *at <= a.clock);
            // Near AWS's history limit each state is a transition of its
            // own: the execution then fails at the very event it would.
            let near = !loaded.record.express
                && lamport + a.made + NEAR_HISTORY_LIMIT > crate::executions::MAX_STANDARD_EVENTS;
            // Past the execution's TimeoutSeconds its stop (a message of its
            // own) comes first, as it would between two transitions.
            // (It counts again from a redrive.)
            let began = (loaded.record.redriven).map_or(loaded.record.facts.start_time, |r| {
                r.max(loaded.record.facts.start_time)
            });
            let timed_out = (loaded.machine.timeout_seconds)
                .is_some_and(|t| a.clock >= began + t as Millis * 1000);
            if !(alone && due) || near || timed_out {
                break;
            }
            let Some(Effect::Schedule { at, event }) = a.effects.pop() else {
                break;
            };
            let next = lamport + a.made;
            let Some(more) = self
                .advance(loaded, execution, thread, event.clone(), next, a.clock)
                .await?
            else {
                a.effects.push(Effect::Schedule { at, event });
                break;
            };
            a.made += more.made;
            a.events.extend(more.events);
            a.effects = more.effects;
            a.tokens = more.tokens;
            a.children = more.children;
            a.follows = more.follows;
            a.clock = more.clock;
        }
        Ok(())
    }

    /// Whether the execution is recorded as ended (read again, not from the
    /// machine cache). A failed read says no: the call goes ahead.
    async fn ended(&self, execution: &str) -> bool {
        matches!(self.store.execution(execution).await, Ok(Some(r)) if r.status != "RUNNING")
    }

    /// Puts the aborted states of the children a step cut short into its
    /// history, as their records hold them ([`Output::resolve_cuts`]), and
    /// answers how many events those children made: they never report to
    /// their parent, whose clock must count them all the same (as it
    /// counts a finished child's, `StepMessage::born`).
    async fn resolve_cuts(&self, execution: &str, machine: &StateMachine, out: &mut Output) -> u64 {
        if out.cuts.is_empty() {
            return 0;
        }
        let (mut threads, mut made) = (HashMap::new(), 0);
        for child in out.cut_children() {
            if let Ok(Some(Record {
                thread: Some(t),
                lamport,
                born,
                ..
            })) = self.store.load(execution, child).await
            {
                made += lamport.saturating_sub(born);
                threads.insert(child.to_owned(), t);
            }
        }
        out.resolve_cuts(machine, |id| threads.remove(id));
        made
    }
}

/// How close to AWS's history limit a thread stops stepping through states
/// in one transition ([`Stepper::chain`]): far more events than one step
/// of a state that waits on nothing makes.
const NEAR_HISTORY_LIMIT: u64 = 1_000;

/// What stepping a thread (and running its inline tasks) produced.
#[derive(Default)]
pub(super) struct Advanced {
    pub(super) made: u64,
    pub(super) events: Vec<HistoryEvent>,
    pub(super) effects: Vec<Effect>,
    pub(super) tokens: Vec<(String, u64, Offer)>,
    pub(super) children: Vec<Child>,
    pub(super) follows: Vec<(TaskCall, Value)>,
    /// The time after the inline tasks' calls.
    pub(super) clock: Millis,
}

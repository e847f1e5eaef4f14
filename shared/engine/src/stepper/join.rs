//! Children that end in their first step join their parent's record in
//! place of a message. The children one transition started travel in one
//! bundle; those of them that end at once join their parent together, in one
//! conditional write, so that a fan-out of one-step children (a Pass, a
//! request-response task) writes its parent once per bundle, not once per
//! child.

use stepwise_asl::exec::{HistoryEvent, Parent, Phase};
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Effect, Event, Outcome};

use super::outbox::number;
use super::step::{Advanced, Loaded, Retry, Stepper, Transition};
use super::*;
use crate::ports::Tasks;

/// How often a join whose parent another transition wrote first is tried
/// again on the parent as it now is (the children's results are kept; only
/// the parent's step is redone).
const JOIN_TRIES: usize = 8;

/// A new child that ended in its first step: what it tells its parent.
pub(super) struct Joined {
    /// The message that ran it.
    pub id: String,
    pub execution: String,
    pub parent: Parent,
    pub outcome: Outcome,
    /// Its events (its first step, which was its last) and their time.
    pub events: Vec<HistoryEvent>,
    pub lamport: u64,
}

/// Parents' records as the children of one message found them, by
/// execution and thread: read once for all of their children.
pub(super) type Parents = std::collections::HashMap<(String, String), Record>;

impl<S: Store, Q: Queue, T: Tasks, A: step::Abort> Stepper<S, Q, T, A> {
    /// Saves each parent with the children that joined it, in their order.
    pub(super) async fn join_all(
        &self,
        joins: Vec<Joined>,
        mut parents: Parents,
        now: Millis,
    ) -> Result<(), Retry> {
        let mut groups: Vec<Vec<Joined>> = Vec::new();
        for j in joins {
            let same = |g: &&mut Vec<Joined>| {
                g[0].execution == j.execution && g[0].parent.thread == j.parent.thread
            };
            match groups.iter_mut().find(same) {
                Some(g) => g.push(j),
                None => groups.push(vec![j]),
            }
        }
        for group in groups {
            let key = (group[0].execution.clone(), group[0].parent.thread.clone());
            let found = parents.remove(&key);
            self.join(group, found, now).await?;
        }
        Ok(())
    }

    /// Joins `group` (children of one parent) to the parent, `found` as
    /// they read it, or as it now is when another write came first.
    async fn join(
        &self,
        group: Vec<Joined>,
        found: Option<Record>,
        now: Millis,
    ) -> Result<(), Retry> {
        let (execution, thread) = (&group[0].execution, &group[0].parent.thread);
        let Some(loaded) = self.loaded(execution).await? else {
            return Ok(());
        };
        let mut parent = match found {
            Some(p) => p,
            None => match self.store.load(execution, thread).await? {
                Some(p) => p,
                None => return Ok(()),
            },
        };
        let mut rest: &[Joined] = &group;
        let mut conflicts = 0;
        loop {
            match self.join_once(&loaded, rest, parent, now).await {
                Ok(taken) => rest = &rest[taken..],
                Err(Retry::Conflict) if conflicts < JOIN_TRIES => conflicts += 1,
                Err(e) => return Err(e),
            }
            if rest.is_empty() {
                return Ok(());
            }
            parent = match self.store.load(execution, thread).await? {
                Some(p) => p,
                None => return Ok(()),
            };
        }
    }

    /// Steps `parent` by each child's end it still waits for, and saves it
    /// once with every event and effect of those steps: how many of `group`
    /// that took. A save carries at most about a page of history (children
    /// of a Distributed Map carry none), so that no record outgrows its item.
    async fn join_once(
        &self,
        loaded: &Loaded,
        group: &[Joined],
        mut parent: Record,
        now: Millis,
    ) -> Result<usize, Retry> {
        let (execution, thread_id) = (&group[0].execution, &group[0].parent.thread);
        let expected = Some(parent.seq);
        let Some(thread) = parent.thread.as_mut() else {
            return Ok(group.len()); // a tombstone
        };
        let mut taken = 0;
        let mut lamport = parent.lamport;
        let mut carried = Vec::new();
        let mut all = Advanced::default();
        let mut last: Option<(&str, u64, Vec<HistoryEvent>)> = None;
        for j in group {
            if carried.len() >= PAGE_EVENTS {
                break;
            }
            taken += 1;
            let waiting = match &thread.phase {
                Phase::Children { wait, fanout } => {
                    *wait == j.parent.wait && !fanout.is_done(j.parent.index)
                }
                _ => false,
            };
            if !waiting {
                continue; // already reported, or no longer wanted
            }
            let own = number(j.events.clone(), j.lamport);
            let step_lamport = lamport.max(j.lamport + own.len().max(1) as u64);
            let event = Event::ChildFinished {
                wait: j.parent.wait,
                index: j.parent.index,
                outcome: j.outcome.clone(),
            };
            let Some(advanced) = self
                .advance(loaded, execution, thread, event, step_lamport, now)
                .await
            else {
                continue;
            };
            if let Some((_, at, events)) = last.take() {
                carried.extend(number(events, at));
            }
            carried.extend(own);
            lamport = step_lamport + advanced.events.len().max(1) as u64;
            let Advanced {
                events,
                effects,
                tokens,
                children,
                follows,
            } = advanced;
            all.effects.extend(effects);
            all.tokens.extend(tokens);
            all.children.extend(children);
            all.follows.extend(follows);
            last = Some((&j.id, step_lamport, events));
        }
        let Some((id, at, events)) = last else {
            return Ok(taken); // nothing left to join
        };
        // What earlier steps left behind (a timer for a wait the thread
        // has since left) is of no use.
        let current = thread.current_wait();
        all.effects.retain(|e| match e {
            Effect::Schedule {
                event: Event::Timer { wait, .. },
                ..
            } => Some(*wait) == current,
            _ => true,
        });
        all.tokens.retain(|(_, wait, _)| Some(*wait) == current);
        all.children.retain(|c| Some(c.wait) == current);
        all.follows.retain(|(call, _)| Some(call.wait) == current);
        let t = Transition {
            id,
            record: &loaded.record,
            execution,
            thread: thread_id,
            expected,
            lamport: at,
            carried,
            events,
            effects: all.effects,
            tokens: all.tokens,
            children: all.children,
            follows: all.follows,
            abandoned: None,
        };
        self.commit(parent, t, now).await.map(|()| taken)
    }
}

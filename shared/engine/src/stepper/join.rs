//! Children that end in their first step join their parent's record in
//! place of a message. The children one transition started travel in one
//! bundle; those of them that end at once join their parent together, in one
//! conditional write, so that a fan-out of one-step children (a Pass, a
//! request-response task) writes its parent once per bundle, not once per
//! child.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use stepwise_asl::exec::{HistoryEvent, Parent, Phase, RedrivePoint};
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, Effect, Event, Outcome};

use super::advance::Advanced;
use super::outbox::number;
use super::step::{Loaded, Retry, Stepper, Transition};
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
    /// A failed child: where a redrive would take it up again.
    pub resume: Option<Box<RedrivePoint>>,
    /// Its events (its first step, which was its last) and their time.
    pub events: Vec<HistoryEvent>,
    /// How many events it made, kept in `events` or not.
    pub made: u64,
    /// A child execution's record (and history), written before the join.
    pub records: Vec<ChildRecord>,
    /// Inside a child execution: its history's clock as the child left it.
    pub clock: u64,
    pub lamport: u64,
}

impl Joined {
    /// A child's end that came as a message (the child took several steps;
    /// its events are in its own record).
    pub(super) fn reported(
        id: &str,
        m: &StepMessage,
        (wait, index, clock): (u64, usize, u64),
        outcome: Outcome,
        resume: Option<Box<RedrivePoint>>,
    ) -> Joined {
        Joined {
            id: id.to_owned(),
            execution: m.execution.clone(),
            parent: Parent {
                thread: m.thread.clone(),
                wait,
                index,
            },
            outcome,
            resume,
            events: Vec::new(),
            // What the child's thread made, from the clock it started at.
            made: m.born.map_or(0, |b| m.lamport.saturating_sub(b)),
            records: Vec::new(),
            clock,
            lamport: m.born.unwrap_or(m.lamport),
        }
    }
}

/// Parents' records as the children of one message found them, by
/// execution and thread: read once for all of their children.
/// Shared: the children a bundle steps side by side read each parent once.
pub(super) type Parents = std::collections::HashMap<(String, String), Arc<Record>>;

impl<S: Store, Q: Queue, T: Tasks, A: step::Abort> Stepper<S, Q, T, A> {
    /// The parent record a new child may report to in place of a message;
    /// `None` when the child must not run (its parent moved on, or it already
    /// reported — then the parent's outbox is sent again if this very
    /// message made its last transition).
    pub(super) async fn joinable(
        &self,
        id: &str,
        record: &ExecutionRecord,
        p: &stepwise_asl::exec::Parent,
        parents: &mut Parents,
        now: Millis,
    ) -> Result<bool, Retry> {
        let key = (record.facts.arn.clone(), p.thread.clone());
        let parent = match parents.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => match self.store.load(&record.facts.arn, &p.thread).await? {
                Some(parent) => e.insert(Arc::new(parent)),
                None => return Ok(false),
            },
        };
        if parent.cause == id {
            self.send_outbox(record, &p.thread, parent, now).await?;
            return Ok(false);
        }
        Ok(match parent.thread.as_ref().map(|t| &t.phase) {
            Some(Phase::Children { wait, fanout }) => *wait == p.wait && !fanout.is_done(p.index),
            _ => false,
        })
    }

    /// A bundle: what is not due yet goes back to the queue; the rest is
    /// handled here. Children's first steps run side by side (their inline
    /// calls too, as AWS runs a Map's); the other messages one after
    /// another, first. Siblings that finish in their first step join their
    /// parent's record together, in one write, in the bundle's order.
    pub(super) async fn bundle(&self, inner: &[Envelope], now: Millis) -> Result<(), Retry> {
        let (later, due): (Vec<_>, Vec<_>) = inner.iter().partition(|e| e.at > now);
        if !later.is_empty() {
            let later: Vec<Envelope> = later.into_iter().cloned().collect();
            self.queue.send(&later, now).await?;
        }
        let first = |e: &&Envelope| matches!(&e.body, Body::Step(m) if m.init.is_some());
        let (firsts, rest): (Vec<&Envelope>, Vec<&Envelope>) = due.into_iter().partition(first);
        let (mut joins, mut parents) = (Vec::new(), Parents::new());
        for e in rest {
            match &e.body {
                Body::Step(m) => {
                    joins.extend(self.step_or_join(&e.id, m, &mut parents, now).await?)
                }
                Body::Poll(p) => self.look(&e.id, p, now).await?,
                Body::Bundle(_) => {}
            }
            if self.abort.abort("bundle") {
                return Err(Retry::Chaos("bundle"));
            }
        }
        // Their parents are read once, for all of them (a parent one
        // outdated by a later write is read again by its join).
        for e in &firsts {
            let Body::Step(m) = &e.body else { continue };
            let Some(p) = m.init.as_ref().and_then(|t| t.parent.as_ref()) else {
                continue;
            };
            let key = (m.execution.clone(), p.thread.clone());
            if let Entry::Vacant(slot) = parents.entry(key)
                && let Some(parent) = self.store.load(&m.execution, &p.thread).await?
            {
                slot.insert(Arc::new(parent));
            }
        }
        let shared = &parents;
        let runs = firsts.iter().filter_map(|e| match &e.body {
            Body::Step(m) => Some(async move {
                let mut own = shared.clone();
                let joined = self.step_or_join(&e.id, m, &mut own, now).await;
                (joined, own)
            }),
            _ => None,
        });
        // As many at a time as AWS runs inline iterations at once.
        let ran = side_by_side(runs.collect(), stepwise_asl::exec::INLINE_CONCURRENCY).await;
        for (joined, own) in ran {
            joins.extend(joined?);
            for (key, record) in own {
                parents.entry(key).or_insert(record);
            }
            if self.abort.abort("bundle") {
                return Err(Retry::Chaos("bundle"));
            }
        }
        self.join_all(joins, parents, now).await
    }

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
        found: Option<Arc<Record>>,
        now: Millis,
    ) -> Result<(), Retry> {
        let found = found.map(|p| Arc::try_unwrap(p).unwrap_or_else(|p| (*p).clone()));
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
        // Child executions' records first, together (never in the parent's
        // item): the parent then hears of ends whose records are kept.
        let records: Vec<ChildRecord> = group.iter().flat_map(|j| j.records.clone()).collect();
        if !records.is_empty() {
            self.store.put_children(execution, &records).await?;
        }
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
        let mut last: Option<(&str, u64, Vec<HistoryEvent>, u64)> = None;
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
            // The parent's clock counts every event its children made.
            let step_lamport = lamport.max(j.lamport) + j.made;
            let event = Event::ChildFinished {
                wait: j.parent.wait,
                index: j.parent.index,
                outcome: j.outcome.clone(),
                resume: j.resume.clone(),
                clock: j.clock,
            };
            let Some(advanced) = self
                .advance(loaded, execution, thread, event, step_lamport, now)
                .await?
            else {
                continue;
            };
            if let Some((_, at, events, _)) = last.take() {
                carried.extend(number(events, at));
            }
            carried.extend(own);
            lamport = step_lamport + advanced.made;
            let Advanced {
                made,
                events,
                effects,
                tokens,
                children,
                follows,
                ..
            } = advanced;
            all.effects.extend(effects);
            all.tokens.extend(tokens);
            all.children.extend(children);
            all.follows.extend(follows);
            last = Some((&j.id, step_lamport, events, made));
        }
        let Some((id, at, events, made)) = last else {
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
            made,
            effects: all.effects,
            tokens: all.tokens,
            children: all.children,
            follows: all.follows,
            abandoned: None,
        };
        self.commit(parent, t, now).await.map(|()| taken)
    }
}

/// Runs `futures` side by side on the calling task, at most `window` at a
/// time (a bundle of a thousand children must not open a thousand
/// connections to the store at once); their outputs in order.
async fn side_by_side<F: std::future::Future>(futures: Vec<F>, window: usize) -> Vec<F::Output> {
    use std::task::Poll;
    let mut waiting = futures.into_iter().map(Box::pin).enumerate();
    let mut running = Vec::new();
    let mut outputs: Vec<Option<F::Output>> = Vec::new();
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < window.max(1) {
                let Some(next) = waiting.next() else { break };
                outputs.push(None);
                running.push(next);
            }
            let before = running.len();
            running.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
                Poll::Ready(v) => {
                    outputs[*i] = Some(v);
                    false
                }
                Poll::Pending => true,
            });
            if running.is_empty() && waiting.len() == 0 {
                return Poll::Ready(());
            }
            // Room was made for one still waiting: start it now, not at the
            // next wake (the others in flight are polled when woken).
            if running.len() == before || waiting.len() == 0 {
                return Poll::Pending;
            }
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The messages of a batch for one thread (its execution and thread, or
/// none: a message alone), by their place in the batch.
type Lane<'m> = (Option<(&'m str, &'m str)>, Vec<usize>);

impl<S: Store, Q: Queue, T: Tasks, A: step::Abort> Stepper<S, Q, T, A> {
    /// Handles the messages one receive brought, each with how many times it
    /// was delivered: the children's ends among them that are for one thread
    /// join it together (one write); the rest are handled side by side,
    /// those for one thread one after another. One result per message, in
    /// order.
    pub async fn handle_batch(
        &self,
        batch: &[(Envelope, u32)],
        now: Millis,
    ) -> Vec<Result<(), Retry>> {
        let mut groups: Vec<((&str, &str), Vec<usize>)> = Vec::new();
        for (i, (e, receives)) in batch.iter().enumerate() {
            // One that keeps failing goes alone (it may be unsteppable).
            let Body::Step(m) = &e.body else { continue };
            if !matches!(m.event, Event::ChildFinished { .. })
                || e.at > now
                || *receives + 1 >= POISON_RECEIVES
            {
                continue;
            }
            let key = (m.execution.as_str(), m.thread.as_str());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        let mut results: Vec<Option<Result<(), Retry>>> = batch.iter().map(|_| None).collect();
        for (_, members) in groups.iter().filter(|(_, m)| m.len() > 1) {
            let inner = members.iter().map(|&i| batch[i].0.clone()).collect();
            let together = Envelope {
                id: format!("together:{}", batch[members[0]].0.id),
                at: now,
                body: Body::Bundle(inner),
            };
            let outcome = self.handle(&together, now).await;
            let failed = outcome.is_err();
            let mut first = Some(outcome);
            for &i in members {
                // All are delivered again if they failed together.
                let copy = if failed { Err(Retry::Conflict) } else { Ok(()) };
                results[i] = Some(first.take().unwrap_or(copy));
            }
        }
        // The rest side by side, one lane per thread (its messages in
        // order): a task call that takes its time holds up only its own
        // thread, not the batch.
        let mut lanes: Vec<Lane> = Vec::new();
        for (i, (e, _)) in batch.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let key = match &e.body {
                Body::Step(m) => Some((m.execution.as_str(), m.thread.as_str())),
                Body::Poll(p) => Some((p.execution.as_str(), p.thread.as_str())),
                Body::Bundle(_) => None,
            };
            match lanes.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
                Some((_, members)) => members.push(i),
                None => lanes.push((key, vec![i])),
            }
        }
        let runs = lanes.iter().map(|(_, members)| async move {
            let mut out = Vec::with_capacity(members.len());
            for &i in members {
                let (e, receives) = &batch[i];
                out.push((i, self.handle_delivered(e, *receives, now).await));
            }
            out
        });
        for (i, result) in side_by_side(runs.collect(), batch.len())
            .await
            .into_iter()
            .flatten()
        {
            results[i] = Some(result);
        }
        // Every message has its result by now.
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(Retry::Conflict)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::side_by_side;

    /// A thousand children of one bundle: never more than the window out at
    /// once, all of the window out before any finishes, results in order.
    #[tokio::test]
    async fn side_by_side_keeps_a_window_and_the_order() {
        let (out, most) = (Cell::new(0usize), Cell::new(0usize));
        let runs = (0..1000).map(|i| {
            let (out, most) = (&out, &most);
            async move {
                out.set(out.get() + 1);
                most.set(most.get().max(out.get()));
                tokio::task::yield_now().await;
                out.set(out.get() - 1);
                i * 2
            }
        });
        let results = side_by_side(runs.collect(), 40).await;
        assert_eq!(most.get(), 40);
        assert_eq!(results, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }
}

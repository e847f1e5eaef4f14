//! Parallel branches and Map iterations: spawning children (up to
//! `MaxConcurrency`), collecting their results, and failing on the first
//! failure or past the tolerated failure threshold.

use serde_json::{Value, json};

use super::child::ChildExecution;
use super::thread::{
    Fanout, Kept, MapItem, Parent, Phase, RESUME_POINT_BYTES, RESUME_POINTS, RedrivePoint, Thread,
};
use super::{
    DISTRIBUTED_CONCURRENCY, Effect, Event, EventType, INLINE_CONCURRENCY, MapRunUpdate, Outcome,
    Step, TimerKind,
};
use crate::definition::State;
use crate::error::{ErrorName, StatesError};
use crate::limits::{MAX_PAYLOAD_DEPTH, deeper_than, too_deep};
use crate::states::Kind;

impl<'a> Step<'a> {
    /// Starts the children of a Parallel or Map state.
    pub fn fan_out(&mut self, t: &mut Thread, state: &State, mut fanout: Fanout) {
        let wait = t.next_wait();
        let is_map = matches!(state.kind, Kind::Map(_));
        // A redrive runs only the children that did not succeed before.
        let kept =
            (t.kept.take()).filter(|k| k.armed && k.state == state.name && k.total == fanout.total);
        // A Map has recorded MapStateStarted (with a reader, before it read
        // its items).
        if !is_map {
            self.record(t, EventType::ParallelStateStarted, || json!({}));
        }
        let mut run = None;
        if let Some(k) = kept {
            run = k
                .map_run
                .clone()
                .map(|arn| (arn, k.run_started, k.redrives));
            fanout.resume(*k);
        }
        if let Kind::Map(m) = &state.kind
            && m.distributed
        {
            if let Some((arn, started, redrives)) = run {
                // The same Map Run carries on.
                fanout.map_run = Some(arn.clone());
                fanout.run_started = started;
                fanout.redrives = redrives + 1;
                fanout.redriven = self.env.now;
                let count = fanout.redrives;
                self.record(
                    t,
                    EventType::MapRunRedriven,
                    || json!({"mapRunArn": arn, "redriveCount": count}),
                );
            } else {
                let arn = self.map_run_arn(m.label.as_deref());
                fanout.map_run = Some(arn.clone());
                fanout.run_started = self.env.now;
                self.record(t, EventType::MapRunStarted, || json!({"mapRunArn": arn}));
            }
        }
        if fanout.finished == fanout.total {
            self.map_ended(t, state, &fanout, None);
            return self.results_done(t, state, fanout);
        }
        if let Err(e) = self.spawn_more(t, state, wait, &mut fanout) {
            self.map_run(t, &fanout, "FAILED");
            return self.fail_state(t, state, e);
        }
        self.map_run(t, &fanout, "RUNNING");
        t.phase = Phase::Children {
            wait,
            fanout: Box::new(fanout),
        };
    }

    fn spawn_more(
        &mut self,
        t: &Thread,
        state: &State,
        wait: u64,
        f: &mut Fanout,
    ) -> Result<(), StatesError> {
        let mut children = Vec::new();
        let limit = self.concurrency(f);
        let room =
            |f: &Fanout| f.started < f.total && (limit == 0 || f.started - f.finished < limit);
        let mut bytes = 0;
        while room(f) {
            if self.env.spawn_bytes > 0 && bytes >= self.env.spawn_bytes {
                // The rest in a step of their own, at once.
                self.effects.push(Effect::Schedule {
                    at: self.env.now,
                    event: Event::Timer {
                        wait,
                        kind: TimerKind::Due,
                    },
                });
                break;
            }
            let index = match f.next {
                None => f.started,
                // Redriven: the next child that has not succeeded.
                Some(from) => match (from..f.total).find(|&i| !f.is_done(i)) {
                    Some(i) => i,
                    None => break,
                },
            };
            if f.next.is_some() {
                f.next = Some(index + 1);
            }
            let parent = Some(Parent {
                thread: t.id.clone(),
                wait,
                index,
            });
            let id = child_id(t, wait, index);
            // Redriven: a child that failed is taken up where it failed.
            let resumed = (f.resume.iter().position(|(i, _)| *i == index))
                .map(|at| f.resume.swap_remove(at).1);
            let is_resumed = resumed.is_some();
            let child = match (&state.kind, resumed) {
                (Kind::Parallel(p), Some(point)) => {
                    resumed_child(id, p.branches[index], parent, None, t, point)
                }
                (Kind::Map(m), Some(point)) => {
                    let value = std::mem::take(&mut f.items[index]);
                    self.iteration_event(t, state, EventType::MapIterationStarted, index);
                    let item = Some(MapItem { index, value });
                    let mut child = resumed_child(id, m.processor, parent, item, t, point);
                    child.recorded = t.recorded && !m.distributed;
                    child
                }
                (Kind::Parallel(p), None) => {
                    let scope = &self.machine.scopes[p.branches[index]];
                    Thread::new(
                        id,
                        p.branches[index],
                        parent,
                        None,
                        t.recorded,
                        &scope.start_at,
                        f.selector_input.clone(),
                    )
                }
                (Kind::Map(m), None) => {
                    let item = std::mem::take(&mut f.items[index]);
                    let input = m.select(self, t, f, index, &item)?;
                    if deeper_than(&input, MAX_PAYLOAD_DEPTH) {
                        return Err(too_deep(&format!(
                            "The input of the Map iteration {index} of '{}'",
                            state.name
                        )));
                    }
                    self.iteration_event(t, state, EventType::MapIterationStarted, index);
                    let scope = &self.machine.scopes[m.processor];
                    let item = Some(MapItem { index, value: item });
                    Thread::new(
                        id,
                        m.processor,
                        parent,
                        item,
                        t.recorded && !m.distributed,
                        &scope.start_at,
                        input,
                    )
                }
                _ => unreachable!("only Parallel and Map fan out"),
            };
            let mut child = child;
            if !is_resumed {
                child.variables = t.variables.clone();
            }
            child.redrives = t.redrives;
            // A Distributed Map's children are executions of their own: one
            // says when it was itself redriven (`child_begins`), and an
            // EXPRESS one never is.
            if !matches!(&state.kind, Kind::Map(m) if m.distributed) {
                child.redriven_at = t.redriven_at;
            }
            if let (Kind::Map(m), Some(run)) = (&state.kind, &f.map_run)
                && m.standard_children
                && child.child.is_none()
            {
                let items = f.sizes.get(index).copied().unwrap_or(1);
                child.child = Some(Box::new(ChildExecution::root(run, items)));
            } else if let Some(pc) = &t.child
                && child.child.is_none()
            {
                // A branch or iteration inside a child execution records
                // into that execution's history, after what its parent
                // recorded so far.
                let recorded = pc.recorded + self.history.len() as u64;
                child.child = Some(Box::new(pc.member(t, recorded)));
            }
            if self.env.spawn_bytes > 0 {
                bytes += serde_json::to_vec(&child).map_or(0, |v| v.len());
            }
            children.push(child);
            f.started += 1;
        }
        if !children.is_empty() {
            self.effects.push(Effect::Spawn(children));
        }
        Ok(())
    }

    pub(super) fn child_finished(
        &mut self,
        t: &mut Thread,
        state: &State,
        index: usize,
        outcome: Outcome,
        resume: Option<Box<RedrivePoint>>,
    ) {
        let Phase::Children { wait, fanout } = &mut t.phase else {
            return;
        };
        let wait = *wait;
        if index >= fanout.total || !fanout.mark_done(index) {
            self.applied = false;
            return;
        }
        let mut f = std::mem::replace(fanout.as_mut(), empty());
        let is_map = matches!(state.kind, Kind::Map(_));
        f.finished += 1;
        match outcome {
            Outcome::Succeeded(v) => {
                self.iteration_event(t, state, EventType::MapIterationSucceeded, index);
                f.results[index] = v;
            }
            Outcome::Failed(e) | Outcome::TimedOut(e) | Outcome::Aborted(e) => {
                f.failed += 1;
                let resume_state = resume.as_ref().map(|p| p.state.clone());
                let failed_in = resume.as_ref().and_then(|p| p.failed_in.clone());
                if let Some(point) = resume
                    && f.resume.len() < RESUME_POINTS
                    && serde_json::to_vec(&point).is_ok_and(|b| b.len() <= RESUME_POINT_BYTES)
                {
                    f.resume.push((index, *point));
                }
                // A runtime error in a branch or an inline iteration ends
                // the execution at once, as AWS ends it: nothing records
                // the iteration's or the state's failure, the execution's
                // follows the child's last event (unless a tolerance
                // counts it, or a rule of the state names it).
                let counted = f.tolerated_count.is_some() || f.tolerated_percentage.is_some();
                let child = child_id(t, wait, index);
                if e.is(ErrorName::Runtime)
                    && f.map_run.is_none()
                    && !(is_map && counted)
                    && !self.retries(t, state, &e)
                    && !state.catch.iter().any(|c| c.matches(&e))
                {
                    f.failed_items.push(index);
                    self.cancel_started(t, wait, &f);
                    keep(t, state, &f);
                    let after = failed_in.unwrap_or(child);
                    return self.finish_after(t, Outcome::Failed(e), Some(after));
                }
                let tolerated = is_map && within_tolerance(&f);
                // A child that ended in a Fail state: AWS records the ones
                // it cut short before its own failure (floci's suite,
                // measured); one that failed in a Task, after (LocalStack's
                // recording).
                let ended = self.failed_in(state, index, resume_state.as_deref());
                let in_fail_state = matches!(ended, Some(Kind::Fail(_)));
                if !tolerated && in_fail_state {
                    self.cut_running(t, state, wait, &f, &child);
                }
                // (A runtime error, a tolerance counts, is not recorded as
                // the iteration's failure: floci's suite, measured.)
                if !e.is(ErrorName::Runtime) {
                    self.iteration_event(t, state, EventType::MapIterationFailed, index);
                }
                if !tolerated {
                    let error = if is_map && counted {
                        threshold_exceeded()
                    } else {
                        e
                    };
                    f.failed_items.push(index);
                    // The Task the child failed in is aborted with it, as
                    // AWS records it: after the failure, before the state's.
                    if matches!(ended, Some(Kind::Task(_))) {
                        self.record_after(t, EventType::TaskStateAborted, child.clone());
                    }
                    if !in_fail_state {
                        self.cut_running(t, state, wait, &f, &child);
                    }
                    return self.fanout_failed(t, state, wait, &f, error, Some(child));
                }
                f.results[index] = e.to_output();
                f.failed_items.push(index);
            }
        }
        if f.finished == f.total {
            // AWS closes a Map with MapStateSucceeded, a Parallel with
            // ParallelStateSucceeded: it follows the branches' latest event,
            // and so does the Exited event after it (recorded histories
            // leave it out, but its id is missing between their last branch
            // event and ParallelStateExited).
            if is_map {
                self.map_ended(t, state, &f, None);
            } else {
                self.record(t, EventType::ParallelStateSucceeded, || json!({}));
            }
            return self.results_done(t, state, f);
        }
        if self.worth_spawning(&f) {
            return self.keep_running(t, state, wait, f);
        }
        t.phase = Phase::Children {
            wait,
            fanout: Box::new(f),
        };
    }

    /// The rest of a spawn that was too large for one step: more children
    /// start, up to the fan-out's concurrency (none may fit any more: then
    /// nothing changes).
    pub(super) fn spawn_rest(&mut self, t: &mut Thread, state: &State) {
        let Phase::Children { wait, fanout } = &mut t.phase else {
            self.applied = false;
            return;
        };
        if !self.worth_spawning(fanout) {
            self.applied = false;
            return;
        }
        let (wait, started) = (*wait, fanout.started);
        let f = std::mem::replace(fanout.as_mut(), empty());
        self.keep_running(t, state, wait, f);
        if let Phase::Children { fanout, .. } = &t.phase
            && fanout.started == started
        {
            self.applied = false;
        }
    }

    /// Whether to start more children now. On a backend that bounds what
    /// one step starts (the serverless one), children start in groups of at
    /// least a quarter of the concurrency (or all that are left, or when
    /// none runs): children that end together join their parent in one
    /// write, and a group started together ends together, so groups must
    /// not crumble into ones and twos.
    fn worth_spawning(&self, f: &Fanout) -> bool {
        if self.env.spawn_bytes == 0 {
            return true;
        }
        let limit = self.concurrency(f);
        let pending = f.total.saturating_sub(f.started);
        let running = f.started.saturating_sub(f.finished);
        let room = match limit {
            0 => pending,
            l => pending.min(l.saturating_sub(running)),
        };
        room >= pending || running == 0 || room >= (limit / 4).max(1)
    }

    /// How many children of `f` may run at once (0: all). A distributed
    /// Map without MaxConcurrency runs AWS's 10,000 child executions at a
    /// time, an inline one (or a Parallel) AWS's 40, on every backend.
    fn concurrency(&self, f: &Fanout) -> usize {
        match f.max_concurrency {
            0 if f.map_run.is_some() => DISTRIBUTED_CONCURRENCY,
            0 => INLINE_CONCURRENCY,
            m => m,
        }
    }

    /// The fan-out goes on: children start up to its concurrency (a child
    /// whose input cannot be built fails the state).
    fn keep_running(&mut self, t: &mut Thread, state: &State, wait: u64, mut f: Fanout) {
        if let Err(e) = self.spawn_more(t, state, wait, &mut f) {
            self.cancel_started(t, wait, &f);
            self.map_run(t, &f, "FAILED");
            return self.fail_state(t, state, e);
        }
        t.phase = Phase::Children {
            wait,
            fanout: Box::new(f),
        };
    }

    /// The kind of state child `index` of the inline fan-out `state` failed
    /// in (`failed_at`: the state its redrive point names).
    fn failed_in(&self, state: &State, index: usize, failed_at: Option<&str>) -> Option<&'a Kind> {
        let scope = match &state.kind {
            Kind::Parallel(p) => p.branches.get(index).copied(),
            Kind::Map(m) if !m.distributed => Some(m.processor),
            _ => None,
        };
        let found = scope
            .and_then(|s| self.machine.scopes.get(s))
            .zip(failed_at)
            .and_then(|(states, name)| states.get(name));
        found.map(|s| &s.kind)
    }

    /// The children of an inline fan-out still running when `failed`
    /// fails it, as AWS records them: a Map's MapIterationAborted, then
    /// the state each one is in, aborted (a [`super::Cut`] the driver
    /// resolves), each after the failed child's last event.
    fn cut_running(&mut self, t: &Thread, state: &State, wait: u64, f: &Fanout, failed: &str) {
        let inline = f.map_run.is_none() && t.child.is_none() && t.recorded;
        if !inline {
            return;
        }
        let is_map = matches!(state.kind, Kind::Map(_));
        for i in (0..f.next.unwrap_or(f.started)).filter(|&i| !f.is_done(i)) {
            if is_map {
                let details = json!({"name": state.name, "index": i});
                let after = Some(failed.to_owned());
                self.record_event(t, EventType::MapIterationAborted, false, after, || details);
            }
            let event = super::HistoryEvent {
                timestamp: self.env.now,
                kind: EventType::TaskStateAborted,
                thread: t.id.clone(),
                details: json!({}),
                with_entry: false,
                after: Some(failed.to_owned()),
            };
            self.cuts.push(super::Cut {
                at: self.history.len(),
                child: child_id(t, wait, i),
                event,
                kept: self.env.history,
            });
        }
    }

    /// The fan-out fails with `error`: its children still running are
    /// stopped, its Map Run ends FAILED, and the state fails (or retries).
    pub(super) fn fanout_failed(
        &mut self,
        t: &mut Thread,
        state: &State,
        wait: u64,
        f: &Fanout,
        error: StatesError,
        failed_child: Option<String>,
    ) {
        let is_map = matches!(state.kind, Kind::Map(_));
        self.cancel_started(t, wait, f);
        // A retried Map starts a Map Run of its own.
        self.map_run(t, f, "FAILED");
        // The state fails once: a retried attempt has no MapStateFailed (AWS
        // records MapStateStarted again).
        if !self.retries(t, state, &error) {
            keep(t, state, f);
            if is_map {
                self.map_ended(t, state, f, Some(&error));
            } else if let Some(child) = failed_child {
                // (It follows the failed branch's last event.)
                self.record_after(t, EventType::ParallelStateFailed, child);
            } else {
                self.record(t, EventType::ParallelStateFailed, || json!({}));
            }
        }
        self.fail_state(t, state, error)
    }

    /// UpdateMapRun: the running Map Run takes its new concurrency (more
    /// children start at once if it grew) and tolerance (the run fails now
    /// if the failures so far exceed it).
    pub(super) fn update_map_run(&mut self, t: &mut Thread, state: &State, u: &MapRunUpdate) {
        let Phase::Children { wait, fanout } = &mut t.phase else {
            self.applied = false;
            return;
        };
        if fanout.map_run.as_deref() != Some(u.run.as_str()) {
            self.applied = false;
            return;
        }
        let wait = *wait;
        let mut f = std::mem::replace(fanout.as_mut(), empty());
        if let Some(m) = u.max_concurrency {
            f.max_concurrency = m;
        }
        if let Some(c) = u.tolerated_count {
            f.tolerated_count = Some(c);
        }
        if let Some(p) = u.tolerated_percentage {
            f.tolerated_percentage = Some(p);
        }
        if f.failed > 0 && !within_tolerance(&f) {
            return self.fanout_failed(t, state, wait, &f, threshold_exceeded(), None);
        }
        self.keep_running(t, state, wait, f);
    }

    /// Every child has finished: the state completes with their results,
    /// or a Map with a ResultWriter writes them first (or transforms them).
    fn results_done(&mut self, t: &mut Thread, state: &State, mut f: Fanout) {
        let results = std::mem::take(&mut f.results);
        let Kind::Map(m) = &state.kind else {
            return self.complete(t, state, Value::Array(results));
        };
        let Some(w) = &m.writer else {
            return self.complete(t, state, Value::Array(results));
        };
        match m.write_call(self, t, state, w, &f, results) {
            Ok(crate::states::map::Written::Output(v)) => self.complete(t, state, v),
            Ok(crate::states::map::Written::Call(resource, payload)) => {
                self.map_call(t, state, &resource, payload, true)
            }
            Err(e) => self.fail_state(t, state, e),
        }
    }

    /// MapIteration… events: an inline Map's iterations are part of the
    /// execution's history; a distributed Map's are child executions of
    /// its Map Run, with histories of their own.
    fn iteration_event(&mut self, t: &Thread, state: &State, kind: EventType, index: usize) {
        if let Kind::Map(m) = &state.kind
            && !m.distributed
        {
            self.record(t, kind, || json!({"name": state.name, "index": index}));
        }
    }

    /// A Map Run's ARN, AWS's `…:mapRun:<state machine>/<label>:<id>`
    /// beside the execution's (the label defaults to a fresh id).
    pub(super) fn map_run_arn(&mut self, label: Option<&str>) -> String {
        let arn = &self.exec.arn;
        let prefix = [":execution:", ":express:"]
            .iter()
            .find_map(|k| arn.split_once(k).map(|(p, _)| p))
            .unwrap_or(arn);
        let id = self.random.uuid();
        let label = label.map_or_else(|| self.random.uuid(), str::to_owned);
        format!(
            "{prefix}:mapRun:{}/{label}:{id}",
            self.exec.state_machine_name
        )
    }

    pub(super) fn cancel_children(&mut self, t: &mut Thread) {
        if let Phase::Children { wait, fanout } = &t.phase {
            let (wait, f) = (*wait, fanout.as_ref().clone());
            self.cancel_started(t, wait, &f);
            self.map_run(t, &f, "ABORTED");
            if let Some(state) = self.state_of(t) {
                keep(t, state, &f);
            }
        }
    }

    fn cancel_started(&mut self, t: &Thread, wait: u64, f: &Fanout) {
        if f.started > f.finished {
            // Children start in index order (a redriven fan-out from `next`).
            let ids = (0..f.next.unwrap_or(f.started))
                .filter(|&i| !f.is_done(i))
                .map(|i| child_id(t, wait, i))
                .collect();
            self.effects.push(Effect::Cancel(ids));
        }
    }
}

/// The id of child `index` of `t`'s fan-out at `wait`.
fn child_id(t: &Thread, wait: u64, index: usize) -> String {
    format!("{}/{}.{}", t.id, wait, index)
}

/// What fan-out `f` of `state` keeps for a redrive, once it failed or was
/// stopped: the children that succeeded and their results (the failed ones
/// are in `failed_items`), and its Map Run.
fn keep(t: &mut Thread, state: &State, f: &Fanout) {
    let mut succeeded = f.done.clone();
    for &i in &f.failed_items {
        if let Some(w) = succeeded.get_mut(i / 64) {
            *w &= !(1u64 << (i % 64));
        }
    }
    let any = succeeded.iter().any(|w| *w != 0);
    if !any && f.map_run.is_none() {
        t.kept = None;
        return;
    }
    let bit = |i: usize| {
        succeeded
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    };
    let results = (f.results.iter().enumerate())
        .map(|(i, r)| if bit(i) { r.clone() } else { Value::Null })
        .collect();
    t.kept = Some(Box::new(Kept {
        state: state.name.clone(),
        total: f.total,
        results,
        succeeded,
        map_run: f.map_run.clone(),
        run_started: f.run_started,
        redrives: f.redrives,
        armed: false,
        resume: f.resume.clone(),
    }));
}

/// A child a redrive takes up where it failed: its state, that state's
/// input and its variables, and what a fan-out of its own there kept.
fn resumed_child(
    id: String,
    scope: crate::definition::ScopeId,
    parent: Option<Parent>,
    item: Option<MapItem>,
    t: &Thread,
    point: RedrivePoint,
) -> Thread {
    let mut child = Thread::new(
        id,
        scope,
        parent,
        item,
        t.recorded,
        &point.state,
        point.input,
    );
    child.variables = point.variables;
    child.waits = point.waits;
    child.child = point.child.map(|c| {
        let redriven = c.member.is_none();
        Box::new(ChildExecution { redriven, ..*c })
    });
    child.kept = point.kept.map(|k| Box::new(Kept { armed: true, ..*k }));
    child
}

pub(crate) fn threshold_exceeded() -> StatesError {
    StatesError::new(
        ErrorName::ExceedToleratedFailureThreshold,
        "The specified tolerated failure threshold was exceeded",
    )
}

/// Whether the failures so far stay within ToleratedFailureCount/Percentage.
pub(crate) fn within_tolerance(f: &Fanout) -> bool {
    if f.tolerated_count.is_none() && f.tolerated_percentage.is_none() {
        return false;
    }
    let count_ok = f.tolerated_count.is_none_or(|c| f.failed as u64 <= c);
    let pct_ok = f
        .tolerated_percentage
        .is_none_or(|p| (f.failed as f64) * 100.0 / (f.total as f64) <= p);
    // Either limit being respected tolerates the failure when only one is set;
    // when both are set, AWS fails once either is exceeded.
    count_ok && pct_ok
}

fn empty() -> Fanout {
    Fanout::new(0)
}

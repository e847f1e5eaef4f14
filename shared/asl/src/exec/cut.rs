//! Children a failing fan-out cuts short. AWS records, for each one still
//! running, the state it was in as aborted (TaskStateAborted,
//! WaitStateAborted, …), after the failed child's last event and before
//! the fan-out's own failure. The parent does not hold its children's
//! threads: it marks where each event goes (a [`Cut`]) and the driver,
//! which can read them, makes the events ([`Output::resolve_cuts`]).

use super::{EventType, HistoryEvent, Output, Phase, Thread};
use crate::StateMachine;
use crate::states::Kind;

#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    /// Where in the step's history the event goes.
    pub at: usize,
    /// The child thread cut short.
    pub child: String,
    /// The event, but for its type: the aborted state's.
    pub event: HistoryEvent,
    /// Whether the history is kept ([`super::Env::history`]): a cut takes
    /// its id either way.
    pub kept: bool,
}

impl Output {
    /// The child threads the step cut short, for a driver to read.
    pub fn cut_children(&self) -> impl Iterator<Item = &str> {
        self.cuts.iter().map(|c| c.child.as_str())
    }

    /// Puts each cut child's aborted state into the history where its cut
    /// is (`thread` reads a child as stored); a child in no state (not
    /// started, or ended) has none, and gives its id back.
    pub fn resolve_cuts(
        &mut self,
        machine: &StateMachine,
        mut thread: impl FnMut(&str) -> Option<Thread>,
    ) {
        for cut in std::mem::take(&mut self.cuts).into_iter().rev() {
            match thread(&cut.child).and_then(|t| aborted(machine, &t)) {
                Some(kind) if cut.kept => {
                    let event = HistoryEvent { kind, ..cut.event };
                    self.history.insert(cut.at.min(self.history.len()), event);
                }
                Some(_) => {}
                None => self.events = self.events.saturating_sub(1),
            }
        }
    }
}

/// The event that records `t`'s state as aborted, if it is in one.
fn aborted(machine: &StateMachine, t: &Thread) -> Option<EventType> {
    if matches!(t.phase, Phase::Done | Phase::Ready { entered: false }) {
        return None;
    }
    let state = machine.scopes.get(t.scope)?.get(&t.state)?;
    Some(match state.kind {
        Kind::Task(_) => EventType::TaskStateAborted,
        Kind::Wait(_) => EventType::WaitStateAborted,
        Kind::Map(_) => EventType::MapStateAborted,
        Kind::Parallel(_) => EventType::ParallelStateAborted,
        _ => return None,
    })
}

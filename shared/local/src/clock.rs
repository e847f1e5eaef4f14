//! The worker's clock and what it waits for: the wall clock, moved on by
//! fast-forward (`stepwise run`) when nothing is left but to wait.

use std::cmp::Reverse;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};

use crate::worker::{Command, IN_FLIGHT, Worker};

impl Worker {
    /// The commands of the next batch, once one comes or a message falls
    /// due (at most a second); `None` when every sender is gone.
    pub(crate) fn next_commands(&mut self, rx: &Receiver<Command>) -> Option<Vec<Command>> {
        let mut wait = self
            .next_wake()
            .map_or(1000, |at| (at - self.now()).clamp(0, 1000)) as u64;
        let mut batch = Vec::new();
        if self.fast_forward && wait > 0 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(TryRecvError::Disconnected) => return None,
                // Nothing to do but wait: unless a task is out (its answer
                // will come), the clock moves on.
                Err(TryRecvError::Empty) => {
                    if let Some(at) = self.next_wake()
                        && !self.tasks_out()
                    {
                        self.skew += at - self.now();
                        wait = 0;
                    }
                }
            }
        }
        if batch.is_empty() {
            match rx.recv_timeout(std::time::Duration::from_millis(wait)) {
                Ok(c) => batch.push(c),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    /// The time on this worker's clock (ms since the epoch): the wall
    /// clock, moved on by fast-forward.
    pub(crate) fn now(&self) -> i64 {
        stepwise_engine::memory::wall_clock() + self.skew
    }

    /// Whether nothing is queued, due or out: only a request from outside
    /// (SendTaskSuccess, an activity worker) can move an execution on.
    pub(crate) fn idle(&self) -> bool {
        self.cache.immediate.is_empty()
            && self.to_dispatch.is_empty()
            && self
                .conn
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM messages)", [], |r| {
                    r.get(0)
                })
                .unwrap_or(false)
    }

    /// Whether a task call is out with a dispatcher (its answer will come).
    fn tasks_out(&self) -> bool {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE due = ?1)",
                [IN_FLIGHT],
                |r| r.get(0),
            )
            .unwrap_or(true)
    }

    /// When the worker must look again: the next due message or long poll.
    fn next_wake(&self) -> Option<i64> {
        let msg = self.heap.peek().map(|Reverse((due, _))| *due);
        let poll = self
            .pollers
            .values()
            .flat_map(|q| q.iter().map(|p| p.deadline))
            .min();
        match (msg, poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Answers the GetActivityTask long polls whose time is up: no task.
    pub(crate) fn expire_pollers(&mut self) {
        let t = self.now();
        for queue in self.pollers.values_mut() {
            while queue.front().is_some_and(|p| p.deadline <= t) {
                if let Some(p) = queue.pop_front() {
                    let _ = p.reply.send(Ok(serde_json::json!({})));
                }
            }
        }
    }
}

//! A `.sync` task's job, followed by messages rather than in place: the
//! transition that started the job sends a [`PollMessage`]; each look asks
//! the job once (one describe call) and either answers the task with the
//! job's end, sends the next look a while later, or — the task no longer
//! waiting for the job (it timed out, its branch was cancelled, its
//! execution stopped) — stops the job. No invocation waits for a job, so a
//! job may outlast any Lambda timeout.

use stepwise_asl::Event;
use stepwise_asl::timestamp::Millis;

use crate::ports::{Progress, Tasks, follow_pause};

use super::step::{Abort, Retry, Stepper};
use super::*;

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    pub(super) async fn look(&self, id: &str, p: &PollMessage, now: Millis) -> Result<(), Retry> {
        let stored = self.store.load(&p.execution, &p.thread).await?;
        let wait = p.call.wait;
        let answered = |result| StepMessage {
            execution: p.execution.clone(),
            thread: p.thread.clone(),
            seq: None,
            lamport: p.lamport,
            event: Event::task_result(wait, result),
            init: None,
            born: None,
        };
        if let Some(r) = &stored
            && r.cause == id
        {
            // This look answered the task already: its outbox, again.
            return self.step(id, &answered(Ok(p.started.clone())), now).await;
        }
        let waiting = stored
            .as_ref()
            .and_then(|r| r.thread.as_ref())
            .is_some_and(|t| t.current_wait() == Some(wait));
        if !waiting {
            // The task gave up on the job (or this look is a stale copy of
            // one that answered it): stop the job only if it still runs.
            if let Progress::Running = self.tasks.progress(&p.call, &p.started, false).await {
                let _ = self.tasks.progress(&p.call, &p.started, true).await;
            }
            return Ok(());
        }
        match self.tasks.progress(&p.call, &p.started, false).await {
            Progress::Done(result) => self.step(id, &answered(result), now).await,
            Progress::Running => {
                let base = id.split_once("~look").map_or(id, |(base, _)| base);
                let next = Envelope {
                    id: format!("{base}~look{}", p.looks + 1),
                    at: now + follow_pause(p.looks + 1).as_millis() as Millis,
                    body: Body::Poll(Box::new(PollMessage {
                        looks: p.looks + 1,
                        ..p.clone()
                    })),
                };
                self.queue.send(&[next], now).await?;
                Ok(())
            }
        }
    }
}

//! Running in place what a transition needs: a task call that may follow a
//! job for long (watched, so that it stops the job once its thread moved
//! on), and a bundle's threads side by side.

use stepwise_asl::TaskCall;
use stepwise_asl::definition::resource::Pattern;

use crate::ports::{TaskContext, TaskResult, Tasks};

use super::step::{Abort, Stepper};
use super::{Queue, Store};

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    /// Invokes a task in place. A `.sync` job's call may last long: while
    /// it runs, the thread's stored record is read now and then, and once
    /// another transition was saved (a stop, a cancelled branch) — so this
    /// one can no longer be — the call is told it is abandoned and stops
    /// its job.
    pub(super) async fn invoke_watched(
        &self,
        call: &TaskCall,
        ctx: &TaskContext<'_>,
        expected: Option<u64>,
    ) -> TaskResult {
        let follows = matches!(call.pattern, Pattern::Sync | Pattern::Sync2)
            && !self.tasks.completes_later(call);
        if !follows || tokio::runtime::Handle::try_current().is_err() {
            return self.tasks.invoke(call, ctx).await;
        }
        let mut invoke = std::pin::pin!(self.tasks.invoke(call, ctx));
        loop {
            tokio::select! {
                result = &mut invoke => return result,
                () = tokio::time::sleep(WATCH_EVERY) => {
                    let stored = self.store.load(ctx.execution_arn, ctx.thread).await;
                    let moved = match stored {
                        Ok(r) => r.map_or(0, |r| r.seq) != expected.unwrap_or(0),
                        Err(_) => false,
                    };
                    if moved {
                        ctx.abandoned.raise();
                        return invoke.await;
                    }
                }
            }
        }
    }
}

/// Runs futures side by side; their outputs in their order.
pub(super) async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// How often a `.sync` job's thread is read while the job runs.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

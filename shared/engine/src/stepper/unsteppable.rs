//! A message that fails every time it is delivered (its stored state is
//! unreadable, or a bug fails it) ends its execution instead of cycling to
//! the dead-letter queue.

use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Outcome, StatesError};

use super::*;
use crate::ports::Tasks;

/// How many deliveries of a message that keeps failing make it
/// unsteppable (the template's queue moves it to the dead-letter queue
/// after 10).
pub const POISON_RECEIVES: u32 = 5;

impl<S: Store, Q: Queue, T: Tasks, A: Abort> Stepper<S, Q, T, A> {
    /// Handles a message delivered for the `receives`-th time (SQS's
    /// ApproximateReceiveCount). One that has failed for a reason other
    /// than a conflict or an early arrival [`POISON_RECEIVES`] times is
    /// taken to be unsteppable — its stored state cannot be read, or a bug
    /// fails it every time — and its execution fails (`States.Runtime`),
    /// rather than the message cycling to the dead-letter queue while the
    /// execution stays RUNNING for ever.
    pub async fn handle_delivered(
        &self,
        envelope: &Envelope,
        receives: u32,
        now: Millis,
    ) -> Result<(), Retry> {
        match self.handle(envelope, now).await {
            Err(Retry::Port(e)) if receives >= POISON_RECEIVES => {
                let cause =
                    format!("An internal error occurred: the execution could not be stepped ({e})");
                let mut executions = envelope.body.executions();
                executions.dedup();
                for arn in executions {
                    let error = StatesError::custom("States.Runtime", &cause);
                    self.fail_execution(arn, error, now).await?;
                }
                Ok(())
            }
            other => other,
        }
    }

    /// Ends a running execution as FAILED from outside its step function
    /// (it cannot be stepped; it made more history than AWS allows; a
    /// thread outgrew the store's item): its outcome, an ExecutionFailed
    /// event after every other, and its parent (a `.sync` task) told.
    pub(super) async fn fail_execution(
        &self,
        arn: &str,
        error: StatesError,
        now: Millis,
    ) -> Result<(), Retry> {
        let Some(record) = self.store.execution(arn).await? else {
            return Ok(());
        };
        if record.outcome.is_some() {
            return Ok(());
        }
        let logged = Logged {
            order: u64::MAX,
            event: HistoryEvent::execution_failed(now, &error),
            previous: None,
        };
        self.store
            .put_page(arn, "failed", 0, std::slice::from_ref(&logged))
            .await?;
        let outcome = Outcome::Failed(error);
        self.store.complete(arn, &outcome, now).await?;
        if let Some(parent) = &record.parent {
            report_to_parent(&self.queue, &record, parent, &outcome, now).await?;
        }
        Ok(())
    }
}

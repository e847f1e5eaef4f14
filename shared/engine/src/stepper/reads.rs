//! What the execution actions read of the stepper's records, whatever
//! store keeps them: an execution's view (a runtime error's cause quoting
//! its state's Entered event as the history numbers it), a page of its
//! history, a thread as saved. The stores' [`ExecutionStore`] impls call
//! these and add only what is theirs (listing by machine, Map Runs, a
//! Distributed Map's children).
//!
//! [`ExecutionStore`]: crate::executions::ExecutionStore

use stepwise_asl::Thread;

use super::service::view_of;
use super::{PortError, Store, merge_history, quotes_entered_event, settle, with_stop};
use crate::executions::{ExecutionView, HistoryRow};

/// DescribeExecution's view of the execution `arn`.
pub async fn view<S: Store>(store: &S, arn: &str) -> Result<Option<ExecutionView>, PortError> {
    let Some(mut record) = store.execution(arn).await? else {
        return Ok(None);
    };
    // A runtime error's cause names its state's Entered event as the
    // history numbers it (read only for such a cause).
    if let Some(outcome) = &mut record.outcome
        && quotes_entered_event(outcome)
    {
        settle(outcome, &merge_history(store.history(arn).await?));
    }
    Ok(Some(view_of(&record)))
}

/// A page of the history of `arn` (`offset`, at most `max`, newest first
/// when `reverse`) and how many events there are in all.
pub async fn history<S: Store>(
    store: &S,
    arn: &str,
    reverse: bool,
    offset: usize,
    max: usize,
) -> Result<(Vec<HistoryRow>, usize), PortError> {
    let mut events = merge_history(store.history(arn).await?);
    // (A stop its root has yet to take ends the history all the same.)
    if let Some(record) = store.execution(arn).await? {
        events = with_stop(events, &record);
    }
    if reverse {
        events.reverse();
    }
    let total = events.len();
    let rows = events
        .into_iter()
        .skip(offset)
        .take(max)
        .map(|r| HistoryRow {
            id: r.id,
            previous: r.previous,
            timestamp: r.event.timestamp,
            kind: r.event.kind.as_str().to_owned(),
            details: r.event.details,
        })
        .collect();
    Ok((rows, total))
}

/// A thread of an execution as saved.
pub async fn thread<S: Store>(
    store: &S,
    execution: &str,
    id: &str,
) -> Result<Option<Thread>, PortError> {
    Ok(store.load(execution, id).await?.and_then(|r| r.thread))
}

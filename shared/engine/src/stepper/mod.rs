//! The serverless stepper: advances one thread by one queue message, exactly
//! once, on a queue that delivers at least once.
//!
//! Every thread is a [`Record`] in a [`Store`] with a sequence number. A
//! message names its thread; a `Run` also names the sequence number it
//! expects. The stepper loads the record, steps the thread, and saves it on
//! the condition that the sequence number is still the one it loaded, with the
//! transition's outbox (the message it must send and, for the root, how the
//! execution ended) and its history events in the same write. Then it sends
//! the outbox. A transition sends **one** message: when it has several
//! (children to start, a timer and the next state), they travel as one bundle
//! whose receiver handles or forwards each, so a crash can never send half of
//! an outbox.
//!
//! Duplicates and stragglers: a message whose id is the record's `cause` (the
//! message that made its last transition) was handled but perhaps not
//! followed through, so its outbox is sent again — and nothing else. A `Run`
//! for another sequence number is stale. Other events carry the wait id they
//! answer and the step function ignores them once the thread has moved on.
//! Task side effects are at least once, as on AWS: a request-response task
//! runs inline, before the save, so one state costs one write and one send.

mod advance;
mod follow;
mod join;
mod lifecycle;
pub mod memory;
mod merge;
mod outbox;
mod poller;
pub mod reads;
pub mod service;
mod step;
mod store;
mod unsteppable;

use lifecycle::report_to_parent;
pub use lifecycle::{Redrive, redrive, report, run_to_end, start, stop};
pub use merge::{merge_history, quotes_entered_event, settle, with_stop};
pub use poller::{Chaos, Delivery, Inbox, Poller, PollerOptions};
pub use step::{Abort, NoAbort, Retry, Stepper};
pub use store::*;
pub use unsteppable::POISON_RECEIVES;

/// The children one transition starts add up to about this many bytes of
/// JSON (the rest start in the transitions that follow): its outbox stays
/// well within a DynamoDB item, and its bundle within an SQS message.
pub const SPAWN_BYTES: usize = 120 * 1024;

/// History events kept in a thread's record before they move to a page of
/// their own (one extra write every this many events).
pub const PAGE_EVENTS: usize = 24;

//! The engine's ports: small traits the backends implement.
//!
//! `Tasks` carries out task invocations and `Clock` tells the time. The
//! serverless stepper adds its own `Store` and `Queue` (see
//! [`crate::stepper`]): a store that saves a thread only if its sequence
//! number is still the one loaded, with the transition's outbox in the same
//! write, and a queue that delivers a message at or after a time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use stepwise_asl::definition::resource::Pattern;
use stepwise_asl::{StatesError, TaskCall};

/// The answer to a task invocation.
pub type TaskResult = Result<Value, StatesError>;

/// What a task runner knows about the invocation besides the call itself.
#[derive(Debug, Clone)]
pub struct TaskContext<'a> {
    pub execution_arn: &'a str,
    pub thread: &'a str,
    /// Raised by the driver when the task no longer waits for this call
    /// (it timed out, its branch was cancelled, its execution stopped): a
    /// `.sync` task stops the job it follows, as AWS does.
    pub abandoned: Abandoned,
}

impl<'a> TaskContext<'a> {
    pub fn new(execution_arn: &'a str, thread: &'a str) -> Self {
        TaskContext {
            execution_arn,
            thread,
            abandoned: Abandoned::default(),
        }
    }
}

/// A flag one side raises and the other reads: the driver says a task's
/// call is no longer wanted; the runner following a job sees it.
#[derive(Debug, Clone, Default)]
pub struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub trait Tasks {
    fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> impl Future<Output = TaskResult>;

    /// Whether this runner's answer to a `.waitForTaskToken` call is the
    /// callback's result itself (a mock response), rather than the request
    /// having gone out with the token.
    fn answers_callbacks(&self, _call: &TaskCall) -> bool {
        false
    }

    /// Whether a successful `invoke` only started the work, the result
    /// arriving later as a task event for the call's wait (a nested
    /// `states:startExecution.sync` execution reports when it ends).
    fn completes_later(&self, _call: &TaskCall) -> bool {
        false
    }

    /// Whether the call, once its request is out, waits for its task
    /// token (`.waitForTaskToken` that no mock answers).
    fn awaits_token(&self, call: &TaskCall) -> bool {
        call.pattern == Pattern::WaitForTaskToken && !self.answers_callbacks(call)
    }
}

pub trait Clock {
    fn now(&self) -> i64;
}

impl<T: Tasks> Tasks for &T {
    fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> impl Future<Output = TaskResult> {
        (*self).invoke(call, ctx)
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        (*self).answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        (*self).completes_later(call)
    }
}

impl<T: Tasks> Tasks for std::sync::Arc<T> {
    fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> impl Future<Output = TaskResult> {
        (**self).invoke(call, ctx)
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        (**self).answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        (**self).completes_later(call)
    }
}

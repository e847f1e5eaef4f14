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

    /// Whether a successful `invoke` only started a job that [`Tasks::progress`]
    /// then follows to its end (a `.sync` job integration): the driver
    /// looks again after [`follow_pause`] until the job ends, or stops it
    /// when the task gives up on it.
    fn follows(&self, _call: &TaskCall) -> bool {
        false
    }

    /// One look at the job `invoke` started (`started` is its answer); with
    /// `stop`, the task gave up on it: it is stopped (best effort).
    fn progress(
        &self,
        _call: &TaskCall,
        _started: &Value,
        _stop: bool,
    ) -> impl Future<Output = Progress> {
        std::future::ready(Progress::Done(Err(StatesError::runtime(
            "this task runner follows no jobs",
        ))))
    }

    /// Whether the call, once its request is out, waits for its task
    /// token (`.waitForTaskToken` that no mock answers).
    fn awaits_token(&self, call: &TaskCall) -> bool {
        call.pattern == Pattern::WaitForTaskToken && !self.answers_callbacks(call)
    }
}

/// What one look at a `.sync` job found.
#[derive(Debug)]
pub enum Progress {
    Running,
    /// It ended: the task's result (or, stopped, why).
    Done(TaskResult),
}

/// How long after its `looks`-th look a running job is looked at again:
/// half a second, doubling up to 30 s.
pub fn follow_pause(looks: u32) -> std::time::Duration {
    let ms = 500u64.saturating_mul(1 << looks.min(6));
    std::time::Duration::from_millis(ms.min(30_000))
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

    fn follows(&self, call: &TaskCall) -> bool {
        (*self).follows(call)
    }

    fn progress(
        &self,
        call: &TaskCall,
        started: &Value,
        stop: bool,
    ) -> impl Future<Output = Progress> {
        (*self).progress(call, started, stop)
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

    fn follows(&self, call: &TaskCall) -> bool {
        (**self).follows(call)
    }

    fn progress(
        &self,
        call: &TaskCall,
        started: &Value,
        stop: bool,
    ) -> impl Future<Output = Progress> {
        (**self).progress(call, started, stop)
    }
}

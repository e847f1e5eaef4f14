//! Carrying out tasks outside the worker: a small pool of dispatcher
//! threads runs each call down the backend's task chain and reports back.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stepwise_asl::definition::resource::Pattern;
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::ports::{Abandoned, Progress, TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::{Mocked, carry_out};

use crate::worker::Command;

/// A task call to carry out; `message` is its in-flight marker.
#[derive(Clone)]
pub struct Dispatch {
    pub message: i64,
    pub execution: String,
    pub thread: String,
    pub call: TaskCall,
    /// Raised by the worker when the task no longer waits for the call.
    pub abandoned: Abandoned,
    /// A `.sync` job started before the server stopped: the start's answer.
    /// The job is followed again, not started again.
    pub started: Option<Value>,
}

/// The task chain the backend was given (mocks → service integrations →
/// Lambda, built as every backend builds it), called from threads that
/// are not async: the dispatchers, StartSyncExecution, TestState.
pub trait Chain: Send + Sync {
    /// The chain's answer to the call, on the calling thread's runtime.
    fn call(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult;
    /// One look at a `.sync` job (`started`: the start's answer); with
    /// `stop`, the job is stopped.
    fn look(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress;
    /// Whether the call is a `.sync` job the chain follows.
    fn follows(&self, call: &TaskCall) -> bool;
    /// Whether a mock answers the call's state.
    fn mocked(&self, call: &TaskCall) -> bool;
}

/// A mocked chain driven from plain threads: each call on its thread's
/// runtime (the AWS SDK needs one), built once per thread.
pub struct InThread<T>(pub Mocked<T>);

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok();
}

fn on_runtime<F: std::future::Future>(f: F) -> Option<F::Output> {
    RUNTIME.with(|r| r.as_ref().map(|r| r.block_on(f)))
}

impl<T: Tasks + Send + Sync> Chain for InThread<T> {
    fn call(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        on_runtime(self.0.invoke(call, ctx))
            .unwrap_or_else(|| Err(StatesError::runtime("cannot start a runtime for the call")))
    }

    fn look(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        on_runtime(self.0.progress(call, started, stop)).unwrap_or_else(|| {
            Progress::Done(Err(StatesError::runtime(
                "cannot start a runtime for the call",
            )))
        })
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.0.follows(call)
    }

    fn mocked(&self, call: &TaskCall) -> bool {
        self.0.mocks.as_ref().is_some_and(|m| m.has(call))
    }
}

/// The chain as the engine's task port.
#[derive(Clone)]
pub struct ChainTasks(pub Arc<dyn Chain>);

impl Tasks for ChainTasks {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        self.0.call(call, ctx)
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.0.mocked(call)
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.0.follows(call)
    }

    async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        self.0.look(call, started, stop)
    }
}

/// How `stepwise serve` runs tasks: the backend's chain, carried out by the
/// engine's one [`carry_out`].
pub struct Runner {
    pub tasks: ChainTasks,
}

impl Runner {
    /// A nested execution to start (unless a mock answers the state).
    fn starts_child(&self, call: &TaskCall) -> bool {
        stepwise_engine::nested::is_start_execution(call) && !self.tasks.0.mocked(call)
    }

    /// The task's result, or `None` when a callback task's request went out
    /// and the result will come from SendTaskSuccess/SendTaskFailure; a
    /// task that waits after its call (a callback, a `.sync` job) tells
    /// `submitted` what the call answered first.
    fn run(&self, d: &Dispatch, submitted: impl FnOnce(&Value)) -> Option<TaskResult> {
        let ctx = TaskContext {
            abandoned: d.abandoned.clone(),
            ..TaskContext::new(&d.execution, &d.thread)
        };
        block_on(carry_out(
            &self.tasks,
            &d.call,
            &ctx,
            d.started.as_ref(),
            submitted,
        ))
    }

    /// What the worker hears once `d` ran (`done` also hears, before,
    /// what a task that waits after its call submitted).
    fn finished(&self, d: Dispatch, done: &Sender<Command>) -> Command {
        if self.starts_child(&d.call) {
            return Command::StartChild {
                message: d.message,
                execution: d.execution,
                thread: d.thread,
                call: d.call,
            };
        }
        let result = self.run(&d, |output| {
            let _ = done.send(Command::Submitted {
                message: d.message,
                execution: d.execution.clone(),
                thread: d.thread.clone(),
                wait: d.call.wait,
                output: output.clone(),
            });
        });
        Command::TaskDone {
            message: d.message,
            execution: d.execution,
            thread: d.thread,
            wait: d.call.wait,
            result,
        }
    }
}

pub fn start(runner: Runner, threads: usize, work: Receiver<Dispatch>, done: Sender<Command>) {
    let runner = Arc::new(runner);
    let work = Arc::new(Mutex::new(work));
    for _ in 0..threads.max(1) {
        let (runner, work, done) = (runner.clone(), work.clone(), done.clone());
        std::thread::spawn(move || {
            loop {
                let next = work.lock().map(|rx| rx.recv());
                let Ok(Ok(d)) = next else { return };
                // A `.sync` job is followed to its end in a thread of its
                // own, not one of the pool's.
                if matches!(d.call.pattern, Pattern::Sync | Pattern::Sync2)
                    && !runner.starts_child(&d.call)
                {
                    let (runner2, done2, d2) = (runner.clone(), done.clone(), d.clone());
                    let spawned = std::thread::Builder::new()
                        .name("stepwise-job".into())
                        .spawn(move || {
                            let _ = done2.send(runner2.finished(d2, &done2));
                        });
                    if spawned.is_ok() {
                        continue;
                    }
                    // No thread to be had: followed here, holding this one.
                }
                if done.send(runner.finished(d, &done)).is_err() {
                    return;
                }
            }
        });
    }
}

//! Carrying out tasks outside the worker: a small pool of dispatcher
//! threads runs each call (mock response, Lambda endpoint) and reports back.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stepwise_asl::TaskCall;
use stepwise_asl::definition::resource::Pattern;
use stepwise_engine::block_on;
use stepwise_engine::mock::{Mocks, Response};
use stepwise_engine::ports::{Abandoned, Progress, TaskContext, TaskResult, Tasks};
use stepwise_engine::tasks::follow_blocking;

use crate::lambda::Lambda;
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

/// The AWS service integrations, called from the worker's threads.
pub trait ServiceCalls: Send + Sync {
    /// The call's result (for a `.sync` job: the answer of the call that
    /// started it), or `None` when it is not a service integration.
    fn call(&self, call: &TaskCall) -> Option<TaskResult>;
    /// Whether the call is a `.sync` job that [`ServiceCalls::progress`] follows.
    fn follows(&self, call: &TaskCall) -> bool;
    /// One look at the job (`started`: the start's answer); with `stop`, stopped.
    fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress;
}

pub type Services = Arc<dyn ServiceCalls>;

/// A service integration's result, a `.sync` job followed to its end in
/// this thread (`submitted` hears the start's answer first), until its
/// task gives up on it (`abandoned`, its TimeoutSeconds): then stopped.
/// `None` when the call is not a service integration.
fn run_service(
    services: &dyn ServiceCalls,
    call: &TaskCall,
    abandoned: &Abandoned,
    resumed: Option<&Value>,
    submitted: impl FnOnce(&Value),
) -> Option<TaskResult> {
    let resumed = resumed.filter(|_| services.follows(call));
    let answer = match resumed {
        Some(started) => Ok(started.clone()),
        None => services.call(call)?,
    };
    if !services.follows(call) {
        return Some(answer);
    }
    let started = match answer {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    if resumed.is_none() {
        submitted(&started);
    }
    Some(follow_blocking(
        |stop| services.progress(call, &started, stop),
        call.timeout_seconds,
        abandoned,
    ))
}

/// Tasks run in place (StartSyncExecution, TestState): service
/// integrations first, then the Lambda endpoint.
pub struct Direct {
    pub lambda: Lambda,
    pub services: Option<Services>,
}

impl Tasks for Direct {
    async fn invoke(
        &self,
        call: &TaskCall,
        ctx: &TaskContext<'_>,
    ) -> stepwise_engine::ports::TaskResult {
        let ran = (self.services.as_ref())
            .and_then(|s| run_service(s.as_ref(), call, &ctx.abandoned, None, |_| {}));
        match ran {
            Some(result) => result,
            None => self.lambda.invoke(call, ctx).await,
        }
    }
}

/// How `stepwise serve` runs tasks.
pub struct Runner {
    pub mocks: Option<Mocks>,
    pub lambda: Lambda,
    pub services: Option<Services>,
}

impl Runner {
    /// A nested execution to start (unless a mock answers the state).
    fn starts_child(&self, call: &TaskCall) -> bool {
        stepwise_engine::nested::is_start_execution(call)
            && !self.mocks.as_ref().is_some_and(|m| m.has(&call.state))
    }

    /// The task's result, or `None` when a callback task's request went out
    /// and the result will come from SendTaskSuccess/SendTaskFailure; a
    /// task that waits after its call (a callback, a `.sync` job) tells
    /// `submitted` what the call answered first.
    fn run(&self, d: &Dispatch, submitted: impl FnOnce(&Value)) -> Option<TaskResult> {
        let callback = d.call.pattern == Pattern::WaitForTaskToken;
        if let Some(response) = self.mocks.as_ref().and_then(|m| m.next(&d.call.state)) {
            // A mocked callback answers with the callback's result itself.
            // The same shaping as every other runner's mocks (a Lambda
            // function ARN's result is the mocked Payload).
            return Some(match response {
                Response::Return(v) => stepwise_engine::tasks::shape_mocked(&d.call, v),
                Response::Throw(e) => Err(e),
            });
        }
        let ctx = TaskContext {
            abandoned: d.abandoned.clone(),
            ..TaskContext::new(&d.execution, &d.thread)
        };
        let mut submitted = Some(submitted);
        let ran = self.services.as_ref().and_then(|s| {
            run_service(s.as_ref(), &d.call, &d.abandoned, d.started.as_ref(), |v| {
                if let Some(f) = submitted.take() {
                    f(v)
                }
            })
        });
        let result = match ran {
            Some(r) => r,
            None => block_on(self.lambda.invoke(&d.call, &ctx)),
        };
        match result {
            Ok(answer) if callback => {
                if let Some(f) = submitted.take() {
                    f(&answer)
                }
                None
            }
            other => Some(other),
        }
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

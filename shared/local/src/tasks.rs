//! Carrying out tasks outside the worker: a small pool of dispatcher
//! threads runs each call (mock response, Lambda endpoint) and reports back.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use stepwise_asl::TaskCall;
use stepwise_asl::definition::resource::Pattern;
use stepwise_engine::block_on;
use stepwise_engine::mock::{Mocks, Response};
use stepwise_engine::ports::{Abandoned, TaskContext, Tasks};

use crate::lambda::Lambda;
use crate::worker::Command;

/// A task call to carry out; `message` is its in-flight marker.
pub struct Dispatch {
    pub message: i64,
    pub execution: String,
    pub thread: String,
    pub call: TaskCall,
    /// Raised by the worker when the task no longer waits for the call.
    pub abandoned: Abandoned,
}

/// Service integrations run from a dispatcher thread.
pub type Services =
    Arc<dyn Fn(&TaskCall, &Abandoned) -> Option<stepwise_engine::ports::TaskResult> + Send + Sync>;

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
        match self.services.as_ref().and_then(|s| s(call, &ctx.abandoned)) {
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
    /// and the result will come from SendTaskSuccess/SendTaskFailure.
    fn run(&self, d: &Dispatch) -> Option<stepwise_engine::ports::TaskResult> {
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
        let result = match self
            .services
            .as_ref()
            .and_then(|s| s(&d.call, &d.abandoned))
        {
            Some(r) => r,
            None => block_on(self.lambda.invoke(&d.call, &ctx)),
        };
        match result {
            Ok(_) if callback => None,
            other => Some(other),
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
                    let (runner, done) = (runner.clone(), done.clone());
                    std::thread::spawn(move || {
                        let _ = done.send(runner.finished(d));
                    });
                    continue;
                }
                if done.send(runner.finished(d)).is_err() {
                    return;
                }
            }
        });
    }
}

impl Runner {
    /// What the worker hears once `d` ran.
    fn finished(&self, d: Dispatch) -> Command {
        if self.starts_child(&d.call) {
            Command::StartChild {
                message: d.message,
                execution: d.execution,
                thread: d.thread,
                call: d.call,
            }
        } else {
            let result = self.run(&d);
            Command::TaskDone {
                message: d.message,
                execution: d.execution,
                thread: d.thread,
                wait: d.call.wait,
                result,
            }
        }
    }
}

//! Nested executions on the serverless backend: a Task with
//! `arn:aws:states:::states:startExecution[.sync|.sync:2|.waitForTaskToken]`
//! starts an execution of another state machine in the same table. For
//! `.sync` and `.sync:2` the child's record names the parent task's wait,
//! and the stepper reports the child's end there (see
//! `stepwise_engine::nested`).

use std::sync::Arc;

use serde_json::Value;
use stepwise_asl::TaskCall;
use stepwise_asl::definition::resource::Pattern;
use stepwise_engine::nested;
use stepwise_engine::ports::{Progress, TaskContext, TaskResult, Tasks};
use stepwise_engine::stepper::{ParentTask, TokenTarget};

use crate::service::AwsService;

/// Nested executions first (when there is a service to start them);
/// any other resource goes to `fallback`.
pub struct WithExecutions<T> {
    pub service: Option<Arc<AwsService>>,
    pub fallback: T,
}

impl<T: Tasks> Tasks for WithExecutions<T> {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        match &self.service {
            Some(service) if nested::is_start_execution(call) => {
                let task = TokenTarget {
                    execution: ctx.execution_arn.to_owned(),
                    thread: ctx.thread.to_owned(),
                    wait: call.wait,
                };
                let parent = nested::waits_for_end(call).then(|| ParentTask {
                    target: task.clone(),
                    json: call.pattern == Pattern::Sync2,
                });
                let body = nested::request(call, ctx.execution_arn, ctx.thread)?;
                let (arn, start) = service
                    .start_child(&body, parent, Some(task))
                    .await
                    .map_err(|e| nested::api_error(e.code, &e.message))?;
                Ok(nested::started(&arn, start))
            }
            _ => self.fallback.invoke(call, ctx).await,
        }
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.fallback.answers_callbacks(call)
    }

    fn completes_later(&self, call: &TaskCall) -> bool {
        (self.service.is_some() && nested::waits_for_end(call))
            || self.fallback.completes_later(call)
    }

    fn follows(&self, call: &TaskCall) -> bool {
        self.fallback.follows(call)
    }

    async fn progress(&self, call: &TaskCall, started: &Value, stop: bool) -> Progress {
        self.fallback.progress(call, started, stop).await
    }
}

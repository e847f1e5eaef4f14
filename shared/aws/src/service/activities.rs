//! GetActivityTask on the serverless backend (the other activity actions
//! are the catalog's, shared with every backend). A task reaches a
//! worker through the table (see `dynamo::activities`); answers come back
//! with SendTaskSuccess/Failure/Heartbeat like any task token.

use std::time::Duration;

use serde_json::{Value, json};
use stepwise_asl::Event;

use stepwise_engine::callbacks::Tokens;
use stepwise_engine::stepper::{Store, token_hash};

use super::{AwsService, Res, internal};

/// How long GetActivityTask waits for a task: 60 s as on AWS, unless
/// `STEPWISE_ACTIVITY_POLL_SECONDS` says less (API Gateway ends a request
/// after 29 s, so the template sets 25).
fn long_poll() -> Duration {
    let secs = std::env::var("STEPWISE_ACTIVITY_POLL_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60u64);
    Duration::from_secs(secs.min(60))
}

/// How often a waiting GetActivityTask looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

impl AwsService {
    /// GetActivityTask: the oldest waiting task (each goes to one worker),
    /// or, after the long poll, no task (`{}`). Tasks whose state already
    /// moved on (timed out, the execution ended) are skipped.
    pub(super) async fn get_activity_task(&self, body: &Value) -> Res {
        let activity = stepwise_engine::catalog::existing_activity(&self.store, body).await?;
        let deadline = std::time::Instant::now() + long_poll();
        loop {
            while let Some(task) = self.store.claim(activity).await.map_err(internal)? {
                let hash = token_hash(&task.token);
                let Some(target) = self.store.token(&hash).await.map_err(internal)? else {
                    continue;
                };
                if Tokens::still_waits(self, &target).await.map_err(internal)? {
                    // Its thread records ActivityStarted, by this worker.
                    let started = Event::WorkerStarted {
                        wait: target.wait,
                        worker: body["workerName"].as_str().map(str::to_owned),
                    };
                    Tokens::answer(self, &hash, target, started)
                        .await
                        .map_err(internal)?;
                    return Ok(json!({"taskToken": task.token, "input": task.input}));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Ok(json!({}));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

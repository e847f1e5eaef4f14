//! Activities on the serverless backend: CreateActivity, DescribeActivity,
//! ListActivities, DeleteActivity and GetActivityTask. A task reaches a
//! worker through the table (see `dynamo::activities`); answers come back
//! with SendTaskSuccess/Failure/Heartbeat like any task token.

use std::time::Duration;

use serde_json::{Value, json};
use stepwise_api::{ApiError, timestamp, validate};
use stepwise_engine::memory::wall_clock;
use stepwise_engine::stepper::{Store, token_hash};

use super::{AwsService, Res, internal};
use crate::ActivityItem;

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
    fn activity_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:activity:{name}",
            self.place.region, self.place.account
        )
    }

    async fn activity_item(&self, body: &Value) -> Result<ActivityItem, ApiError> {
        let arn = validate::string(body, "activityArn")?;
        validate::arn(arn, &["activity"])?;
        self.store
            .activity(arn)
            .await
            .map_err(internal)?
            .ok_or_else(|| {
                ApiError::activity_does_not_exist(format!("Activity Does Not Exist: '{arn}'"))
            })
    }

    pub(super) async fn create_activity(&self, body: &Value) -> Res {
        let name = validate::string(body, "name")?;
        validate::name("activity", name)?;
        let item = ActivityItem {
            arn: self.activity_arn(name),
            name: name.to_owned(),
            created: wall_clock(),
        };
        // Creating an existing activity again returns it (idempotent).
        let created = if self.store.put_activity(&item).await.map_err(internal)? {
            item.created
        } else {
            self.store
                .activity(&item.arn)
                .await
                .map_err(internal)?
                .map_or(item.created, |a| a.created)
        };
        Ok(json!({"activityArn": item.arn, "creationDate": timestamp(created)}))
    }

    pub(super) async fn describe_activity(&self, body: &Value) -> Res {
        let a = self.activity_item(body).await?;
        Ok(json!({"activityArn": a.arn, "name": a.name, "creationDate": timestamp(a.created)}))
    }

    pub(super) async fn list_activities(&self, body: &Value) -> Res {
        let (max, offset) = validate::page(body)?;
        let mut all = self.store.activities().await.map_err(internal)?;
        all.sort_by(|a, b| (a.created, &a.arn).cmp(&(b.created, &b.arn)));
        let page: Vec<Value> = all
            .iter()
            .skip(offset)
            .take(max)
            .map(|a| json!({"activityArn": a.arn, "name": a.name, "creationDate": timestamp(a.created)}))
            .collect();
        let mut out = json!({"activities": page});
        if let Some(t) = validate::next_token(offset, max, all.len()) {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    pub(super) async fn delete_activity(&self, body: &Value) -> Res {
        let arn = validate::string(body, "activityArn")?;
        validate::arn(arn, &["activity"])?;
        self.store.delete_activity(arn).await.map_err(internal)?;
        Ok(json!({}))
    }

    /// GetActivityTask: the oldest waiting task (each goes to one worker),
    /// or, after the long poll, no task (`{}`). Tasks whose state already
    /// moved on (timed out, the execution ended) are skipped.
    pub(super) async fn get_activity_task(&self, body: &Value) -> Res {
        let activity = self.activity_item(body).await?;
        let deadline = std::time::Instant::now() + long_poll();
        loop {
            while let Some(task) = self.store.claim(&activity.arn).await.map_err(internal)? {
                let hash = token_hash(&task.token);
                let Some(target) = self.store.token(&hash).await.map_err(internal)? else {
                    continue;
                };
                if self.still_waits(&target).await? {
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

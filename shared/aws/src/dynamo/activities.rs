//! Activity tasks in the table (the activities themselves are catalog
//! entries): the tasks waiting for a worker (`pk = "activity#<arn>"`,
//! `sk` = the offer time and the token's hash, with the token and input).
//! A worker claims a task by deleting its item on the condition that it is
//! still there, so each task goes to exactly one worker.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::Value;
use stepwise_asl::timestamp::Millis;
use stepwise_engine::stepper::service::{Activities, ActivityTask};
use stepwise_engine::stepper::{Offer, PortError, token_hash};

use super::{DAY, DynamoStore, Item, n, now_secs, port, s};
use crate::RETENTION_DAYS;

fn tasks_key(activity: &str) -> String {
    format!("activity#{activity}")
}

impl DynamoStore {
    pub(super) async fn put_offer(
        &self,
        offer: &Offer,
        token: &str,
        at: Millis,
    ) -> Result<(), PortError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(tasks_key(&offer.activity)));
        item.insert(
            "sk".into(),
            s(format!("{at:015}#{}", &token_hash(token)[..16])),
        );
        item.insert("token".into(), s(token));
        item.insert("input".into(), s(offer.input.to_string()));
        item.insert(
            "ttl".into(),
            n(now_secs() + 365 * DAY + RETENTION_DAYS * DAY),
        );
        self.put(item, None).await.map(|_| ())
    }
}

impl Activities for DynamoStore {
    /// Claims the oldest task waiting on the activity, if any.
    async fn claim(&self, activity: &str) -> Result<Option<ActivityTask>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(tasks_key(activity)))
            .consistent_read(true)
            .limit(10)
            .send()
            .await
            .map_err(port)?;
        let items = out.items.unwrap_or_default();
        self.meter.read(items.iter().map(super::size).sum(), true);
        for item in items {
            let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) else {
                continue;
            };
            let taken = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key("pk", pk.clone())
                .key("sk", sk.clone())
                .condition_expression("attribute_exists(pk)")
                .return_values(ReturnValue::AllOld)
                .send()
                .await;
            self.meter.write(1);
            let Ok(taken) = taken else {
                continue; // another worker took it first
            };
            let old = taken.attributes.unwrap_or_default();
            let text = |k: &str| match old.get(k) {
                Some(AttributeValue::S(v)) => v.clone(),
                _ => String::new(),
            };
            let input = text("input");
            let input = if input.is_empty() {
                Value::Object(Default::default()).to_string()
            } else {
                input
            };
            return Ok(Some(ActivityTask {
                token: text("token"),
                input,
            }));
        }
        Ok(None)
    }
}

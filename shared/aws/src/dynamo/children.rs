//! A Distributed Map's child executions on the table, by their ARN:
//!
//! | pk | sk | item |
//! | --- | --- | --- |
//! | the child's ARN | `child` | its record (`body`), `status`, `attempt`, and the events of an ended first attempt's last page (`tail`) |
//! | the child's ARN | `p#<attempt>#<page>#<part>#<thread>` | a page of its history (`body`; `thread` empty for the child's own, a branch's or iteration's id for one inside it) |
//!
//! A child that ends in its first step (most do) is one write: its record
//! with its whole history as the tail. A later attempt (a redrive) first
//! moves the tail it would replace to a page of its own.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use stepwise_asl::ChildRecord;
use stepwise_asl::exec::Ordered;
use stepwise_engine::stepper::PortError;

use super::{DAY, DynamoStore, ITEM_LIMIT, Item, b, bytes, n, now_secs, port, s, size};
use crate::RETENTION_DAYS;
use crate::codec::{pack, unpack};

/// How many keys one BatchGetItem may ask for.
const BATCH_GET: usize = 100;

fn page_key(attempt: u32, page: u32, part: usize, thread: &str) -> String {
    format!("p#{attempt:010}#{page:010}#{part:03}#{thread}")
}

/// Events split into parts that each fit an item; an event too large for
/// one on its own keeps its type and time, its details replaced by a note.
fn parts(events: &[Ordered]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut part: Vec<Ordered> = Vec::new();
    for e in events {
        let mut e = e.clone();
        if pack(&e).len() > ITEM_LIMIT / 2 {
            e.event.details = serde_json::json!({"truncated": true});
        }
        part.push(e);
        if pack(&part).len() > ITEM_LIMIT / 2 {
            let last = part.pop();
            out.push(pack(&part));
            part = last.into_iter().collect();
        }
    }
    if !part.is_empty() {
        out.push(pack(&part));
    }
    out
}

impl DynamoStore {
    /// Child executions that ended in their first step (as most do), each
    /// one item, 25 to a BatchWriteItem: a first attempt's ended record
    /// replaces nothing it must not (the only record of it that could be
    /// there is the same, written before). The others one by one.
    pub(super) async fn put_child_records(
        &self,
        execution: &str,
        records: &[ChildRecord],
    ) -> Result<(), PortError> {
        let mut batch = Vec::new();
        for r in records {
            match self.one_item(r) {
                Some(item) => batch.push(item),
                None => self.put_child_record(execution, r).await?,
            }
        }
        for chunk in batch.chunks(25) {
            let mut requests: Vec<WriteRequest> = Vec::new();
            for item in chunk {
                self.meter.write(size(item));
                let put = PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map_err(port)?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(port)?;
                if let Some(mut left) = out.unprocessed_items
                    && let Some(again) = left.remove(&self.table)
                {
                    requests = again;
                }
            }
        }
        Ok(())
    }

    /// The one item that keeps `r` whole: an ended first attempt whose
    /// history fits beside its record.
    fn one_item(&self, r: &ChildRecord) -> Option<Item> {
        if r.attempt != 0 || r.is_running() || r.is_page() {
            return None;
        }
        let mut packed = parts(&r.events);
        if packed.len() > 1 {
            return None;
        }
        let mut item = self.record_item(r);
        if let Some(tail) = packed.pop() {
            item.insert("tail".into(), b(tail));
            item.insert("tail_page".into(), n(i64::from(r.page)));
        }
        (size(&item) <= ITEM_LIMIT).then_some(item)
    }

    fn record_item(&self, r: &ChildRecord) -> Item {
        let mut item = Item::new();
        item.insert("pk".into(), s(&r.arn));
        item.insert("sk".into(), s("child"));
        item.insert("body".into(), b(pack(&r.without_events())));
        item.insert("status".into(), s(&r.status));
        item.insert("attempt".into(), n(i64::from(r.attempt)));
        item.insert(
            "ttl".into(),
            n(now_secs() + 365 * DAY + RETENTION_DAYS * DAY),
        );
        item
    }

    pub(super) async fn put_child_record(
        &self,
        _execution: &str,
        r: &ChildRecord,
    ) -> Result<(), PortError> {
        let ttl = n(now_secs() + 365 * DAY + RETENTION_DAYS * DAY);
        let thread = r.thread.as_deref().unwrap_or_default();
        let page = |attempt: u32, page: u32, i: usize, thread: &str, body: Vec<u8>| {
            let mut item = Item::new();
            item.insert("pk".into(), s(&r.arn));
            item.insert("sk".into(), s(page_key(attempt, page, i, thread)));
            item.insert("body".into(), b(body));
            item.insert("ttl".into(), ttl.clone());
            item
        };
        if r.attempt > 0
            && !r.is_page()
            && let Some(old) = self.get(&r.arn, "child").await?
            && let Some(AttributeValue::B(tail)) = old.get("tail")
            && let Some(AttributeValue::N(at)) = old.get("tail_page")
        {
            let (attempt, at) = (0, at.parse().unwrap_or(u32::MAX));
            self.put(page(attempt, at, 0, "", tail.as_ref().to_vec()), None)
                .await?;
        }
        // An ended first attempt's last page rides in its record (one write)
        // when it fits.
        let item = match self.one_item(r) {
            Some(item) => item,
            None => {
                for (i, body) in parts(&r.events).into_iter().enumerate() {
                    self.put(page(r.attempt, r.page, i, thread, body), None)
                        .await?;
                }
                if r.is_page() {
                    return Ok(());
                }
                self.record_item(r)
            }
        };
        // An ended attempt is not replaced by a later write of the same one.
        let only = "attribute_not_exists(pk) OR #s = :r OR attempt < :a";
        let bytes = size(&item);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(only)
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":r", s("RUNNING"))
            .expression_attribute_values(":a", n(i64::from(r.attempt)))
            .send()
            .await;
        self.meter.write(bytes);
        super::conditional(out)?;
        Ok(())
    }

    pub(super) async fn child_records(
        &self,
        arns: &[String],
    ) -> Result<Vec<ChildRecord>, PortError> {
        let mut out = Vec::new();
        for chunk in arns.chunks(BATCH_GET) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|arn| HashMap::from([("pk".into(), s(arn)), ("sk".into(), s("child"))]))
                .collect();
            while !keys.is_empty() {
                let ask = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(port)?;
                let got = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ask)
                    .send()
                    .await
                    .map_err(port)?;
                for item in got
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    self.meter.read(size(&item), true);
                    out.push(unpack(bytes(&item, "body")?)?);
                }
                if let Some(mut left) = got.unprocessed_keys
                    && let Some(again) = left.remove(&self.table)
                {
                    keys = again.keys;
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn child_events(&self, arn: &str) -> Result<Vec<Ordered>, PortError> {
        let mut pages: Vec<(String, Vec<Ordered>)> = Vec::new();
        for item in self.query_prefix(arn, "p#").await? {
            if let Some(AttributeValue::S(sk)) = item.get("sk") {
                pages.push((sk.clone(), unpack(bytes(&item, "body")?)?));
            }
        }
        if let Some(item) = self.get(arn, "child").await?
            && let (Some(AttributeValue::B(tail)), Some(AttributeValue::N(at))) =
                (item.get("tail"), item.get("tail_page"))
        {
            let key = page_key(0, at.parse().unwrap_or(u32::MAX), 0, "");
            if !pages.iter().any(|(k, _)| *k == key) {
                pages.push((key, unpack(tail.as_ref())?));
            }
        }
        pages.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(pages.into_iter().flat_map(|(_, e)| e).collect())
    }
}

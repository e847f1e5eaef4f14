//! The DynamoDB store: one table, keyed by `pk` (the execution ARN) and `sk`:
//!
//! | sk | item |
//! | --- | --- |
//! | `exec` | the execution: facts and definition (`body`: the input once; ExecutionStarted is made from it), `status`, `outcome` (or `outcome_item`), `stopped` |
//! | `outcome` | an outcome too large to keep beside the input (`body`) |
//! | `t#<thread>` | one thread: `seq` and its [`Record`] (`body`: thread, outbox, recent history) |
//! | `p#<thread>#<n>` | page `n` of a thread's older history events |
//! | `mr#<start>#<arn>` | a Distributed Map run as it started or ended (`body`), found by its ARN through `pk = "maprun#<arn>"` |
//! | `x#<sort key>#<set>#<i>` | part `i` of a thread's or page's body too large for one item (see [`parts`]) |
//!
//! Beside executions: state machines (`pk = "machines"`), task tokens
//! (`pk = "token#<sha-256>"`) and activities (see [`activities`]).
//!
//! Bodies are deflated JSON. Every item carries `ttl`: a finished execution
//! expires [`RETENTION_DAYS`](crate::RETENTION_DAYS) after it ends; threads
//! and pages a year and that after their last write (the longest a Standard
//! execution may run).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use stepwise_asl::Outcome;
use stepwise_asl::timestamp::Millis;
use stepwise_engine::stepper::{
    ExecutionRecord, Logged, Offer, PortError, Record, Saved, Store, TokenTarget, status_of,
};

mod activities;
mod aside;
mod catalog;
mod children;
mod executions;
mod parts;

use crate::RETENTION_DAYS;
use crate::codec::{pack, unpack};
use crate::meter::Meter;

/// The index of executions by state machine, newest last.
pub const BY_MACHINE: &str = "by-machine";

/// DynamoDB's item limit is 400 KB; stay clear of it.
const ITEM_LIMIT: usize = 390 * 1024;
const DAY: i64 = 86_400;

type Item = HashMap<String, AttributeValue>;

fn port(e: impl std::error::Error + Send + Sync + 'static) -> PortError {
    format!("{}", DisplayErrorContext(&e)).into()
}

/// A conditional write's outcome: done (true), or its condition failed
/// (false: another writer came first, or the state moved on).
fn conditional<O, E, R>(
    out: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, PortError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match out {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(port(e)),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn b(v: Vec<u8>) -> AttributeValue {
    AttributeValue::B(Blob::new(v))
}

fn bytes<'a>(item: &'a Item, name: &str) -> Result<&'a [u8], PortError> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => Ok(b.as_ref()),
        _ => Err(format!("stored item lacks its `{name}`").into()),
    }
}

/// An item's size as DynamoDB counts it: names plus values.
fn size(item: &Item) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => n.len() / 2 + 1,
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

#[derive(Clone)]
pub struct DynamoStore {
    pub client: Client,
    pub table: String,
    pub meter: Arc<Meter>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            meter: Arc::new(Meter::default()),
        }
    }

    /// Creates the table (on demand, TTL on `ttl`) if it does not exist.
    pub async fn create_table(&self) -> Result<(), PortError> {
        let exists = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        if exists.is_ok() {
            return Ok(());
        }
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(port)
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(port)
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("pk")?)
            .attribute_definitions(attr("sk")?)
            .attribute_definitions(attr("machine")?)
            .attribute_definitions(attr("start")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(BY_MACHINE)
                    .key_schema(key("machine", KeyType::Hash)?)
                    .key_schema(key("start", KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .non_key_attributes("name")
                            .non_key_attributes("status")
                            .non_key_attributes("stopped")
                            .non_key_attributes("version")
                            .non_key_attributes("alias")
                            .build(),
                    )
                    .build()
                    .map_err(port)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(port)?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name("ttl")
            .build()
            .map_err(port)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(port)?;
        Ok(())
    }

    /// Puts `item`, on `condition` if given (an expression and at most one
    /// value, `:v`); false when the condition failed.
    async fn put(
        &self,
        item: Item,
        condition: Option<(&str, Option<AttributeValue>)>,
    ) -> Result<bool, PortError> {
        let bytes = size(&item);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if let Some((expression, value)) = condition {
            put = put.condition_expression(expression);
            if let Some(v) = value {
                put = put.expression_attribute_values(":v", v);
            }
        }
        let out = put.send().await;
        self.meter.write(bytes);
        conditional(out)
    }

    async fn delete(&self, pk: &str, sk: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(port)?;
        self.meter.write(1);
        Ok(())
    }

    /// An item's `body` attribute, JSON text, read as `T`.
    async fn json_body<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, PortError> {
        let Some(item) = self.get(pk, sk).await? else {
            return Ok(None);
        };
        match item.get("body") {
            Some(AttributeValue::S(b)) => Ok(Some(serde_json::from_str(b)?)),
            _ => Err(format!("the item {pk} / {sk} lacks its body").into()),
        }
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(port)?;
        self.meter.read(out.item.as_ref().map_or(1, size), true);
        Ok(out.item)
    }

    /// Every item of one partition.
    async fn query(&self, pk: &str) -> Result<Vec<Item>, PortError> {
        self.query_prefix(pk, "").await
    }

    /// The items of one partition whose sort key begins with `prefix`.
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, PortError> {
        let mut values = HashMap::from([(":pk".to_owned(), s(pk))]);
        let condition = if prefix.is_empty() {
            "pk = :pk"
        } else {
            values.insert(":prefix".to_owned(), s(prefix));
            "pk = :pk AND begins_with(sk, :prefix)"
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(port)?;
            let page = out.items.unwrap_or_default();
            self.meter.read(page.iter().map(size).sum(), true);
            items.extend(page);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// One line of ListExecutions, from the by-machine index.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionLine {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub start: Millis,
    pub stopped: Option<Millis>,
    pub version: Option<String>,
    pub alias: Option<String>,
}

impl DynamoStore {
    /// A page of a state machine's executions from the by-machine index,
    /// newest first: at most `max` with `status` and `version` (when
    /// given), after the execution `after` names (its start and ARN), and
    /// whether more follow. Reads what it returns (and what the filters
    /// pass over), not the whole index.
    pub async fn executions_page(
        &self,
        machine: &str,
        status: Option<&str>,
        version: Option<&str>,
        after: Option<(i64, &str)>,
        max: usize,
    ) -> Result<(Vec<ExecutionLine>, bool), PortError> {
        let mut lines = Vec::new();
        let mut start = after.map(|(started, arn)| {
            Item::from([
                ("pk".to_owned(), s(arn)),
                ("sk".to_owned(), s("exec")),
                ("machine".to_owned(), s(machine)),
                ("start".to_owned(), s(format!("{started:015}"))),
            ])
        });
        let mut filters = Vec::new();
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_MACHINE)
            .key_condition_expression("machine = :m")
            .expression_attribute_values(":m", s(machine))
            .scan_index_forward(false);
        if let Some(st) = status {
            filters.push("#st = :st");
            query = query
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(st));
        }
        if let Some(v) = version {
            filters.push("#v = :v");
            query = query
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", s(v));
        }
        if !filters.is_empty() {
            query = query.filter_expression(filters.join(" AND "));
        }
        loop {
            // One more than the page says whether another follows.
            let out = query
                .clone()
                .limit((max + 1 - lines.len()) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(port)?;
            let items = out.items.unwrap_or_default();
            self.meter.read(items.iter().map(size).sum(), false);
            for item in items {
                let text = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                lines.push(ExecutionLine {
                    arn: text("pk"),
                    name: text("name"),
                    status: text("status"),
                    start: text("start").parse().unwrap_or(0),
                    stopped: match item.get("stopped") {
                        Some(AttributeValue::N(v)) => v.parse().ok(),
                        _ => None,
                    },
                    version: item.get("version").and_then(|v| v.as_s().ok()).cloned(),
                    alias: item.get("alias").and_then(|v| v.as_s().ok()).cloned(),
                });
            }
            start = out.last_evaluated_key;
            if lines.len() > max || start.is_none() {
                let more = lines.len() > max;
                lines.truncate(max);
                return Ok((lines, more));
            }
        }
    }
}

fn thread_key(thread: &str) -> String {
    format!("t#{thread}")
}

impl Store for DynamoStore {
    async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, PortError> {
        let Some(item) = self.get(arn, "exec").await? else {
            return Ok(None);
        };
        let mut record = executions::unpack_execution(bytes(&item, "body")?)?;
        if let Some(AttributeValue::S(status)) = item.get("status") {
            record.status = status.clone();
        }
        record.outcome = self.read_outcome(arn, &item).await?;
        if let Some(AttributeValue::N(t)) = item.get("stopped") {
            record.stopped = t.parse().ok();
        }
        Ok(Some(record))
    }

    async fn create(&self, record: &ExecutionRecord) -> Result<bool, PortError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(&record.facts.arn));
        item.insert("sk".into(), s("exec"));
        item.insert("body".into(), b(executions::pack_execution(record)));
        item.insert("status".into(), s(&record.status));
        item.insert(
            "start".into(),
            s(format!("{:015}", record.facts.start_time)),
        );
        // Listed by machine (a version's executions too, filtered by `version`).
        let machine = record
            .facts
            .state_machine_arn
            .split(':')
            .take(7)
            .collect::<Vec<_>>()
            .join(":");
        item.insert("machine".into(), s(machine));
        item.insert("name".into(), s(&record.facts.name));
        if let Some(v) = &record.version {
            item.insert("version".into(), s(v));
        }
        if let Some(a) = &record.alias {
            item.insert("alias".into(), s(a));
        }
        self.put(item, Some(("attribute_not_exists(pk)", None)))
            .await
    }

    async fn load(&self, execution: &str, thread: &str) -> Result<Option<Record>, PortError> {
        let Some(item) = self.get(execution, &thread_key(thread)).await? else {
            return Ok(None);
        };
        Ok(Some(unpack(&self.whole_body(&item).await?)?))
    }

    async fn save(
        &self,
        execution: &str,
        thread: &str,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<Saved, PortError> {
        let key = thread_key(thread);
        let ttl = now_secs() + 365 * DAY + RETENTION_DAYS * DAY;
        let set = DynamoStore::record_set(record.seq);
        let split = self
            .split_body(execution, &key, &set, pack(record), ttl)
            .await?;
        let Some((body, parts)) = split else {
            return Ok(Saved::TooLarge);
        };
        let mut item = Item::new();
        item.insert("pk".into(), s(execution));
        item.insert("sk".into(), s(&key));
        item.insert("seq".into(), n(record.seq as i64));
        item.insert("body".into(), b(body));
        item.insert("ttl".into(), n(ttl));
        if let Some(p) = &parts {
            item.insert("parts".into(), s(p));
        }
        if size(&item) > ITEM_LIMIT {
            return Ok(Saved::TooLarge);
        }
        let condition = match expected {
            Some(seq) => ("seq = :v", Some(n(seq as i64))),
            None => ("attribute_not_exists(pk)", None),
        };
        if !self.put(item, Some(condition)).await? {
            return Ok(Saved::Conflict);
        }
        if parts.is_some() {
            // Earlier records' sets go; a failure here only leaves them to
            // their `ttl`.
            let _ = self.drop_parts(execution, &key, record.seq).await;
        }
        Ok(Saved::Done)
    }

    async fn put_page(
        &self,
        execution: &str,
        thread: &str,
        page: u32,
        events: &[Logged],
    ) -> Result<(), PortError> {
        let key = format!("p#{thread}#{page:06}");
        let ttl = now_secs() + 365 * DAY + RETENTION_DAYS * DAY;
        let split = self.split_body(execution, &key, "page", pack(&events), ttl);
        let Some((body, parts)) = split.await? else {
            return Err(format!("page {page} of thread {thread} is too large to keep").into());
        };
        let mut item = Item::new();
        item.insert("pk".into(), s(execution));
        item.insert("sk".into(), s(key));
        item.insert("body".into(), b(body));
        item.insert("ttl".into(), n(ttl));
        if let Some(p) = parts {
            item.insert("parts".into(), s(p));
        }
        self.put(item, None).await.map(|_| ())
    }

    async fn reopen(&self, record: &ExecutionRecord, from: &str) -> Result<bool, PortError> {
        let body = executions::pack_execution(record);
        let bytes = body.len() + 64;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&record.facts.arn))
            .key("sk", s("exec"))
            .update_expression(
                "SET body = :body, #status = :running REMOVE outcome, outcome_item, stopped, #ttl",
            )
            .condition_expression("#status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":body", b(body))
            .expression_attribute_values(":running", s("RUNNING"))
            .expression_attribute_values(":from", s(from))
            .send()
            .await;
        self.meter.write(bytes);
        conditional(out)
    }

    async fn complete(
        &self,
        execution: &str,
        outcome: &Outcome,
        at: Millis,
    ) -> Result<Option<Outcome>, PortError> {
        let ttl = at / 1000 + RETENTION_DAYS * DAY;
        let (attribute, kept) = self.keep_outcome(execution, outcome, ttl).await?;
        let bytes = match &kept {
            AttributeValue::S(text) => text.len() + 64,
            _ => 64,
        };
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(execution))
            .key("sk", s("exec"))
            .update_expression(format!(
                "SET #status = :status, {attribute} = :outcome, stopped = :at, #ttl = :ttl"
            ))
            .condition_expression("#status = :running")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":status", s(status_of(outcome)))
            .expression_attribute_values(":outcome", kept)
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":ttl", n(ttl))
            .expression_attribute_values(":running", s("RUNNING"))
            .send()
            .await;
        self.meter.write(bytes);
        // A failed condition: already ended (a redelivery, or a stop that
        // came first), read only then.
        if conditional(out)? {
            return Ok(None);
        }
        Ok(self.execution(execution).await?.and_then(|r| r.outcome))
    }

    async fn put_token(&self, hash: &str, target: &TokenTarget) -> Result<(), PortError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(format!("token#{hash}")));
        item.insert("sk".into(), s("token"));
        item.insert("body".into(), s(serde_json::to_string(target)?));
        item.insert(
            "ttl".into(),
            n(now_secs() + 365 * DAY + RETENTION_DAYS * DAY),
        );
        self.put(item, None).await.map(|_| ())
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenTarget>, PortError> {
        self.json_body(&format!("token#{hash}"), "token").await
    }

    async fn delete_token(&self, hash: &str) -> Result<(), PortError> {
        self.delete(&format!("token#{hash}"), "token").await
    }

    async fn offer(&self, offer: &Offer, token: &str, at: Millis) -> Result<(), PortError> {
        self.put_offer(offer, token, at).await
    }

    async fn activity_exists(&self, arn: &str) -> Result<bool, PortError> {
        stepwise_engine::catalog::activity_exists(self, arn).await
    }

    async fn put_map_run(
        &self,
        execution: &str,
        run: &stepwise_asl::MapRun,
    ) -> Result<(), PortError> {
        let ttl = n(now_secs() + 365 * DAY + RETENTION_DAYS * DAY);
        let mut item = Item::new();
        item.insert("pk".into(), s(execution));
        item.insert("sk".into(), s(executions::map_run_key(run.start, &run.arn)));
        item.insert("body".into(), s(serde_json::to_string(run)?));
        // A late write of the start never replaces how the run ended, but a
        // redrive's start does: stages go start, end, redriven start, end…
        let stage = 2 * i64::from(run.redrive_count) + i64::from(run.status != "RUNNING");
        item.insert("run_stage".into(), n(stage));
        item.insert("ttl".into(), ttl.clone());
        let only = "attribute_not_exists(pk) OR attribute_not_exists(run_stage) OR run_stage <= :v";
        self.put(item, Some((only, Some(n(stage))))).await?;
        let mut by_arn = Item::new();
        by_arn.insert("pk".into(), s(format!("maprun#{}", run.arn)));
        by_arn.insert("sk".into(), s("maprun"));
        by_arn.insert("execution".into(), s(execution));
        by_arn.insert("start".into(), n(run.start));
        by_arn.insert("ttl".into(), ttl);
        self.put(by_arn, None).await?;
        Ok(())
    }

    async fn put_child(
        &self,
        execution: &str,
        record: &stepwise_asl::ChildRecord,
    ) -> Result<(), PortError> {
        self.put_child_record(execution, record).await
    }

    async fn put_children(
        &self,
        execution: &str,
        records: &[stepwise_asl::ChildRecord],
    ) -> Result<(), PortError> {
        self.put_child_records(execution, records).await
    }

    async fn history(&self, execution: &str) -> Result<Vec<Logged>, PortError> {
        let mut events = Vec::new();
        for item in self.query(execution).await? {
            let Some(AttributeValue::S(sk)) = item.get("sk") else {
                continue;
            };
            if sk == "exec" {
                events.push(executions::started_event(&item)?);
            } else if sk.starts_with("t#") {
                // A thread record that cannot be read fails its execution
                // (`Stepper::handle_delivered`); the history shows the rest.
                let body = self.whole_body(&item).await?;
                if let Ok(record) = unpack::<Record>(&body) {
                    events.extend(record.page);
                }
            } else if sk.starts_with("p#") {
                let page: Vec<Logged> = unpack(&self.whole_body(&item).await?)?;
                events.extend(page);
            }
        }
        Ok(events)
    }
}

fn now_secs() -> i64 {
    stepwise_engine::memory::wall_clock() / 1000
}

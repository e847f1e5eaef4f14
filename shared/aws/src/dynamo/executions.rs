//! The execution port ([`ExecutionStore`]) on the table: an execution's
//! item for DescribeExecution, the by-machine index for ListExecutions, and
//! the merged history pages for GetExecutionHistory.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use stepwise_asl::exec::Ordered;
use stepwise_asl::{ChildRecord, MapRun, Outcome, Thread};
use stepwise_engine::executions::{ExecutionStore, ExecutionView, HistoryRow};
use stepwise_engine::stepper::{ExecutionRecord, Logged, PortError, reads};

use super::DynamoStore;
use crate::codec::{pack, unpack};

/// The sort key of a Map Run's item in its execution's partition: runs
/// list in the order they started.
pub(super) fn map_run_key(start: i64, arn: &str) -> String {
    format!("mr#{start:013}#{arn}")
}

/// An outcome whose JSON is longer than this is kept in an item of its
/// own (`sk = "outcome"`), not in the execution's: an input and an output
/// near 256 KiB each do not fit one 400 KB item (the execution once
/// "succeeded" without its output).
const OUTCOME_INLINE: usize = 64 * 1024;

impl DynamoStore {
    /// Where the execution's item keeps `outcome`: the attribute to set and
    /// its value, the outcome's JSON or, for a large one, the name of the
    /// item that keeps it, written here first (an end that loses to a stop
    /// leaves that item to expire).
    pub(super) async fn keep_outcome(
        &self,
        execution: &str,
        outcome: &Outcome,
        ttl: i64,
    ) -> Result<(&'static str, AttributeValue), PortError> {
        let text = serde_json::to_string(outcome)?;
        if text.len() <= OUTCOME_INLINE {
            return Ok(("outcome", AttributeValue::S(text)));
        }
        let mut item = HashMap::new();
        item.insert("pk".into(), AttributeValue::S(execution.to_owned()));
        item.insert("sk".into(), AttributeValue::S("outcome".into()));
        item.insert("body".into(), super::b(pack(outcome)));
        item.insert("ttl".into(), super::n(ttl));
        self.put(item, None).await?;
        Ok(("outcome_item", AttributeValue::S("outcome".into())))
    }

    /// The outcome the execution's `item` keeps, in it or beside it.
    pub(super) async fn read_outcome(
        &self,
        execution: &str,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<Option<Outcome>, PortError> {
        if let Some(AttributeValue::S(o)) = item.get("outcome") {
            return Ok(Some(serde_json::from_str(o)?));
        }
        let Some(AttributeValue::S(sk)) = item.get("outcome_item") else {
            return Ok(None);
        };
        match self.get(execution, sk).await? {
            Some(kept) => Ok(Some(unpack(super::bytes(&kept, "body")?)?)),
            None => Ok(None),
        }
    }
}

/// The ExecutionStarted event of the execution whose item is `item`: kept
/// in it by older versions, else made from its facts (as it was made at
/// the start), so the item holds the input once.
pub(super) fn started_event(item: &HashMap<String, AttributeValue>) -> Result<Logged, PortError> {
    if item.contains_key("started") {
        return Ok(unpack(super::bytes(item, "started")?)?);
    }
    Ok(unpack_execution(super::bytes(item, "body")?)?.started())
}

/// An execution's `body` as kept: its input once. When the caller's text
/// is kept (DescribeExecution answers it as written), the parsed input is
/// left out and read back from it: an input near 256 KiB kept twice, with
/// an output as large, outgrew the item.
pub(super) fn pack_execution(record: &ExecutionRecord) -> Vec<u8> {
    if record.input_text.is_none() {
        return pack(record);
    }
    let mut kept = record.clone();
    kept.facts.input = Value::Null;
    pack(&kept)
}

/// An execution's `body` read back (see [`pack_execution`]).
pub(super) fn unpack_execution(data: &[u8]) -> Result<ExecutionRecord, PortError> {
    let mut record: ExecutionRecord = unpack(data)?;
    if let Some(text) = &record.input_text
        && record.facts.input.is_null()
    {
        record.facts.input = serde_json::from_str(text)?;
    }
    Ok(record)
}

impl ExecutionStore for DynamoStore {
    async fn map_runs(&self, execution: &str) -> Result<Vec<MapRun>, PortError> {
        let mut runs = Vec::new();
        for item in self.query_prefix(execution, "mr#").await? {
            if let Some(AttributeValue::S(body)) = item.get("body") {
                runs.push(serde_json::from_str(body)?);
            }
        }
        Ok(runs)
    }

    async fn map_run(&self, arn: &str) -> Result<Option<(String, MapRun)>, PortError> {
        let Some(item) = self.get(&format!("maprun#{arn}"), "maprun").await? else {
            return Ok(None);
        };
        let (Some(AttributeValue::S(execution)), Some(AttributeValue::N(start))) =
            (item.get("execution"), item.get("start"))
        else {
            return Ok(None);
        };
        let start: i64 = start
            .parse()
            .map_err(|_| "a Map Run item's start is not a number")?;
        let run: Option<MapRun> = self.json_body(execution, &map_run_key(start, arn)).await?;
        Ok(run.map(|r| (execution.clone(), r)))
    }

    async fn children(&self, arns: &[String]) -> Result<Vec<ChildRecord>, PortError> {
        self.child_records(arns).await
    }

    async fn child_history(&self, arn: &str) -> Result<Vec<Ordered>, PortError> {
        self.child_events(arn).await
    }

    async fn thread(&self, execution: &str, id: &str) -> Result<Option<Thread>, PortError> {
        reads::thread(self, execution, id).await
    }

    async fn view(&self, arn: &str) -> Result<Option<ExecutionView>, PortError> {
        reads::view(self, arn).await
    }

    async fn list(
        &self,
        machine: &str,
        version: Option<&str>,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        max: usize,
    ) -> Result<(Vec<ExecutionView>, bool), PortError> {
        let (lines, more) = self
            .executions_page(machine, status, version, after, max)
            .await?;
        let page = lines
            .into_iter()
            .map(|l| ExecutionView {
                express: l.arn.contains(":express:"),
                arn: l.arn,
                machine_arn: machine.to_owned(),
                version: l.version,
                alias: l.alias,
                name: l.name,
                status: l.status,
                started: l.start,
                stopped: l.stopped,
                ..ExecutionView::default()
            })
            .collect();
        Ok((page, more))
    }

    async fn history(
        &self,
        arn: &str,
        reverse: bool,
        offset: usize,
        max: usize,
    ) -> Result<(Vec<HistoryRow>, usize), PortError> {
        reads::history(self, arn, reverse, offset, max).await
    }
}

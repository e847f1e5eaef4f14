//! A Distributed Map's child executions (`ExecutionType: STANDARD`) as the
//! execution actions show them, written once for every backend:
//! DescribeExecution, GetExecutionHistory and ListExecutions(`mapRunArn`)
//! over the records a driver keeps when the step function hands them over
//! ([`stepwise_asl::exec::ChildRecord`]). A child's ARN is derived from
//! its Map Run's and its index, so a Map Run's children are listed by
//! reading the records under those ARNs, newest (highest index) first.

use std::collections::HashMap;

use serde_json::{Value, json};
use stepwise_asl::ChildRecord;
use stepwise_asl::exec::{Numbering, child_arn};

use crate::api::{ApiError, timestamp, validate};
use crate::catalog::{self, Catalog};
use crate::executions::{ExecutionStore, ExecutionView, HistoryRow, internal, not_found};
use stepwise_asl::exec::child_machine;

/// How many records one read asks for while listing.
const READ: usize = 100;

/// What the API shows of a child execution.
pub fn view_of(r: &ChildRecord) -> ExecutionView {
    let name = r.arn.rsplit(':').next().unwrap_or_default().to_owned();
    let (error, cause) = match &r.error {
        Some(e) => (e.error.clone(), e.cause.clone()),
        None => (None, None),
    };
    ExecutionView {
        arn: r.arn.clone(),
        machine_arn: child_machine(&r.map_run),
        name,
        status: r.status.clone(),
        input: r.input.to_string(),
        output: r.output.as_ref().map(Value::to_string),
        error,
        cause,
        started: r.start,
        stopped: r.stop,
        map_run: Some(r.map_run.clone()),
        ..ExecutionView::default()
    }
}

/// The child execution `arn`, if one is kept.
pub async fn view<S: ExecutionStore>(
    store: &S,
    arn: &str,
) -> Result<Option<ExecutionView>, ApiError> {
    let found = store.children(&[arn.to_owned()]).await.map_err(internal)?;
    Ok(found.iter().find(|r| r.arn == arn).map(view_of))
}

/// The refusal of an action a child execution does not take on its own.
pub fn not_on_its_own(arn: &str, run: &str, what: &str) -> ApiError {
    ApiError::validation(format!(
        "The execution '{arn}' is a child execution of the Map Run '{run}' and cannot be {what} on its own: act on its parent execution"
    ))
}

/// ListExecutions(`mapRunArn`): the run's children that started, newest
/// first, `max` a page; `at` (a page's token) is the index the page
/// before stopped at.
pub async fn list<S: ExecutionStore>(
    store: &S,
    run_arn: &str,
    status: Option<&str>,
    at: Option<&str>,
    max: usize,
) -> Result<Value, ApiError> {
    validate::arn(run_arn, &["mapRun"])?;
    let Some((_, run)) = store.map_run(run_arn).await.map_err(internal)? else {
        return Err(ApiError::resource_not_found(format!(
            "Resource not found: '{run_arn}'"
        )));
    };
    // EXPRESS children are not kept: nothing to read.
    let total = if run.executions { run.counts.total } else { 0 };
    let mut end = match at {
        None => total,
        Some(at) => at
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= total)
            .ok_or_else(validate::bad_token)?,
    };
    let mut page = Vec::new();
    'read: while end > 0 {
        let start = end.saturating_sub(READ);
        let arns: Vec<String> = (start..end).rev().map(|i| child_arn(run_arn, i)).collect();
        let found: HashMap<String, ChildRecord> = (store.children(&arns).await)
            .map_err(internal)?
            .into_iter()
            .map(|r| (r.arn.clone(), r))
            .collect();
        for (i, arn) in (start..end).rev().zip(&arns) {
            if page.len() == max {
                end = i + 1;
                break 'read;
            }
            let Some(r) = found.get(arn) else { continue };
            if status.is_some_and(|s| s != r.status) {
                continue;
            }
            page.push(line(r));
        }
        end = start;
    }
    let mut out = json!({"executions": page});
    if end > 0 {
        out["nextToken"] = validate::token_at(&end.to_string()).into();
    }
    Ok(out)
}

fn line(r: &ChildRecord) -> Value {
    let v = view_of(r);
    let mut o = json!({
        "executionArn": v.arn,
        "stateMachineArn": v.machine_arn,
        "mapRunArn": r.map_run,
        "name": v.name,
        "status": v.status,
        "startDate": timestamp(v.started),
        "itemCount": r.items,
    });
    if let Some(stop) = v.stopped {
        o["stopDate"] = timestamp(stop);
    }
    o
}

/// A page of a child execution's history (`offset`, at most `max`, newest
/// first when `reverse`), numbered as AWS numbers a history, and how many
/// events there are.
pub async fn history<S: ExecutionStore>(
    store: &S,
    arn: &str,
    reverse: bool,
    offset: usize,
    max: usize,
) -> Result<(Vec<HistoryRow>, usize), ApiError> {
    let mut events = store.child_history(arn).await.map_err(internal)?;
    // In time, and within a millisecond in the child's logical order (a
    // branch's events after what started it, before what took its end).
    events.sort_by_key(|e| (e.event.timestamp, e.order));
    let mut numbering = Numbering::default();
    let mut rows: Vec<HistoryRow> = (events.into_iter().map(|o| o.event))
        .map(|e| {
            let (id, previous) = numbering.number(&e);
            HistoryRow {
                id,
                previous,
                timestamp: e.timestamp,
                kind: e.kind.as_str().to_owned(),
                details: e.details,
            }
        })
        .collect();
    if reverse {
        rows.reverse();
    }
    let total = rows.len();
    Ok((rows.into_iter().skip(offset).take(max).collect(), total))
}

/// DescribeStateMachineForExecution of a child execution: its parent's
/// machine as that execution ran it, the definition being the Map's
/// ItemProcessor (found by the Map Run's label; without a Label, the
/// first distributed Map), with the Map Run and its label.
pub async fn describe_machine<S: ExecutionStore, C: Catalog>(
    store: &S,
    cat: &C,
    child: &ExecutionView,
) -> Result<Value, ApiError> {
    let run = child.map_run.as_deref().unwrap_or_default();
    let Some((parent, _)) = store.map_run(run).await.map_err(internal)? else {
        return Err(not_found(&child.arn));
    };
    let p = (store.view(&parent).await.map_err(internal)?).ok_or_else(|| not_found(&child.arn))?;
    let mut out = catalog::describe_for_execution(
        cat,
        &p.machine_arn,
        p.version.as_deref(),
        p.definition.as_deref(),
        p.started,
    )
    .await?;
    let label = child
        .machine_arn
        .rsplit_once('/')
        .map_or("", |(_, l)| l)
        .to_owned();
    let processor = (out["definition"].as_str())
        .and_then(|d| serde_json::from_str::<Value>(d).ok())
        .and_then(|d| processor_of(&d, &label));
    if let Some(p) = processor {
        out["definition"] = p.to_string().into();
        if let Some(o) = out.as_object_mut() {
            o.remove("variableReferences");
        }
    }
    out["stateMachineArn"] = child.machine_arn.clone().into();
    out["mapRunArn"] = run.into();
    out["label"] = label.into();
    Ok(out)
}

/// The ItemProcessor (without its ProcessorConfig) of the distributed Map
/// labelled `label` in a definition, or of its first distributed Map.
fn processor_of(definition: &Value, label: &str) -> Option<Value> {
    let mut maps = Vec::new();
    distributed_maps(definition, &mut maps);
    let map = (maps.iter().find(|m| m["Label"] == label)).or_else(|| maps.first())?;
    let mut p = map
        .get("ItemProcessor")
        .or_else(|| map.get("Iterator"))?
        .clone();
    p.as_object_mut()?.remove("ProcessorConfig");
    Some(p)
}

fn distributed_maps<'a>(scope: &'a Value, out: &mut Vec<&'a Value>) {
    let Some(states) = scope["States"].as_object() else {
        return;
    };
    for state in states.values() {
        let processor = state.get("ItemProcessor").or_else(|| state.get("Iterator"));
        if let Some(p) = processor {
            if p["ProcessorConfig"]["Mode"] == "DISTRIBUTED" {
                out.push(state);
            }
            distributed_maps(p, out);
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            distributed_maps(branch, out);
        }
    }
}

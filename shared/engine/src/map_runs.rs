//! The Map Run API, written once for every backend: ListMapRuns and
//! DescribeMapRun over the [`ExecutionStore`] port. A backend keeps each
//! Distributed Map run as the step function hands it over when the run
//! starts and when it ends; while it runs, its counts are read from the
//! thread that runs the Map state, so that a child's end writes nothing more.

use serde_json::{Value, json};
use stepwise_asl::exec::MapRunCounts;
use stepwise_asl::exec::child_machine;
use stepwise_asl::{Event, MapRun, MapRunUpdate};

use crate::api::{ApiError, timestamp, validate};
use crate::executions::{ExecutionStore, ExecutionView, execution_arn, internal, view};

type Res = Result<Value, ApiError>;

/// The run as it is now: from its Map state's thread while it runs there.
/// One whose execution ended, or that no longer runs in its thread, without
/// having said how it ended (its execution was stopped, its branch
/// cancelled; the serverless backend says so a moment after the stop) was
/// aborted.
async fn current<S: ExecutionStore>(
    store: &S,
    ended: &ExecutionView,
    run: MapRun,
) -> Result<MapRun, ApiError> {
    if run.status != "RUNNING" {
        return Ok(run);
    }
    let thread = store
        .thread(&ended.arn, &run.thread)
        .await
        .map_err(internal)?;
    let live = thread.as_ref().and_then(|t| run.live(t));
    let mut run = match live {
        Some(live) if ended.status == "RUNNING" => {
            return Ok(MapRun {
                start: run.start,
                ..live
            });
        }
        Some(live) => MapRun {
            start: run.start,
            ..live
        },
        None => run,
    };
    run.status = "ABORTED".into();
    run.stop = ended.stopped.or(Some(run.start));
    run.counts.abort_running();
    if let Some(items) = &mut run.items {
        items.abort_running();
    }
    Ok(run)
}

pub async fn list<S: ExecutionStore>(store: &S, body: &Value) -> Res {
    let execution = execution_arn(body)?;
    let (max, offset) = validate::page(body)?;
    let ex = view(store, execution).await?;
    let runs = store.map_runs(execution).await.map_err(internal)?;
    let total = runs.len();
    let mut page = Vec::new();
    for run in runs.into_iter().skip(offset).take(max) {
        let run = current(store, &ex, run).await?;
        let mut line = json!({
            "executionArn": execution,
            "mapRunArn": run.arn,
            "stateMachineArn": child_machine(&run.arn),
            "startDate": timestamp(run.start),
        });
        if let Some(stop) = run.stop {
            line["stopDate"] = timestamp(stop);
        }
        page.push(line);
    }
    let mut out = json!({"mapRuns": page});
    if let Some(t) = validate::next_token(offset, max, total) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

/// The run `body["mapRunArn"]` names, as it is now, with its execution.
async fn named<S: ExecutionStore>(store: &S, body: &Value) -> Result<(String, MapRun), ApiError> {
    let arn = validate::string(body, "mapRunArn")?;
    validate::arn(arn, &["mapRun"])?;
    let not_found = || ApiError::resource_not_found(format!("Resource not found: '{arn}'"));
    let Some((execution, run)) = store.map_run(arn).await.map_err(internal)? else {
        return Err(not_found());
    };
    // Kept no longer than its execution.
    let ex = (store.view(&execution).await.map_err(internal)?).ok_or_else(not_found)?;
    Ok((execution, current(store, &ex, run).await?))
}

pub async fn describe<S: ExecutionStore>(store: &S, body: &Value) -> Res {
    let (execution, run) = named(store, body).await?;
    // Each child execution runs one item, or one batch of them. A run that
    // succeeded wrote its results, to its ResultWriter or to the state's
    // output (AWS counts both: 2 of 2 for a run without a ResultWriter).
    let counts = |c: &MapRunCounts| {
        let written = if run.status == "SUCCEEDED" {
            c.succeeded + c.failed
        } else {
            0
        };
        json!({
            "pending": c.pending, "running": c.running, "succeeded": c.succeeded,
            "failed": c.failed, "timedOut": 0, "aborted": c.aborted, "total": c.total,
            "resultsWritten": written,
            "failuresNotRedrivable": 0, "pendingRedrive": 0,
        })
    };
    let executions = counts(&run.counts);
    let items = run
        .items
        .as_ref()
        .map_or_else(|| executions.clone(), counts);
    let mut out = json!({
        "mapRunArn": run.arn,
        "executionArn": execution,
        "status": run.status,
        "startDate": timestamp(run.start),
        "maxConcurrency": run.max_concurrency,
        "toleratedFailurePercentage": run.tolerated_percentage,
        "toleratedFailureCount": run.tolerated_count,
        "itemCounts": items,
        "executionCounts": executions,
        "redriveCount": run.redrive_count,
    });
    if let Some(stop) = run.stop {
        out["stopDate"] = timestamp(stop);
    }
    if let Some(at) = run.redriven {
        out["redriveDate"] = timestamp(at);
    }
    Ok(out)
}

/// UpdateMapRun's checks, once for every backend: the execution and thread
/// (the Map state's) to tell, and the event that tells it. Each backend
/// queues the event as it queues a stop; the run changes when its thread
/// takes it.
pub async fn update<S: ExecutionStore>(
    store: &S,
    body: &Value,
) -> Result<(String, String, Event), ApiError> {
    let at_least = |member: &str, n: f64, min: f64, max: Option<f64>| {
        let bad = n < min || max.is_some_and(|m| n > m);
        let (word, bound) = match max {
            Some(m) if n > m => ("less", m),
            _ => ("greater", min),
        };
        if bad {
            Err(ApiError::validation(format!(
                "1 validation error detected: Value '{n}' at '{member}' failed to satisfy constraint: Member must have value {word} than or equal to {bound}"
            )))
        } else {
            Ok(())
        }
    };
    let number = |member: &str| body.get(member).and_then(Value::as_f64);
    let max_concurrency = number("maxConcurrency");
    let count = number("toleratedFailureCount");
    let percentage = number("toleratedFailurePercentage");
    if let Some(n) = max_concurrency {
        at_least("maxConcurrency", n, 0.0, Some(i32::MAX as f64))?;
    }
    if let Some(n) = count {
        at_least("toleratedFailureCount", n, 0.0, None)?;
    }
    if let Some(n) = percentage {
        at_least("toleratedFailurePercentage", n, 0.0, Some(100.0))?;
    }
    if max_concurrency.is_none() && count.is_none() && percentage.is_none() {
        return Err(ApiError::validation(
            "At least one of maxConcurrency, toleratedFailureCount and toleratedFailurePercentage must be given",
        ));
    }
    let (execution, run) = named(store, body).await?;
    if run.status != "RUNNING" {
        return Err(ApiError::validation(format!(
            "The Map Run '{}' has ended ({}): only a running Map Run can be updated",
            run.arn, run.status
        )));
    }
    let event = Event::UpdateMapRun(Box::new(MapRunUpdate {
        run: run.arn,
        max_concurrency: max_concurrency.map(|n| n as usize),
        tolerated_count: count.map(|n| n as u64),
        tolerated_percentage: percentage,
    }));
    Ok((execution, run.thread, event))
}

//! The durable driver: load a thread, step it, save it with the messages and
//! history the step produced, all in the worker's transaction.

use rusqlite::{OptionalExtension, params};
use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::{ChildRecord, Effect, Env, Event, Handover, Outcome, StatesError, Thread};

use stepwise_engine::executions::past_history_limit;
use stepwise_engine::nested;

use crate::worker::{IN_FLIGHT, Worker};
use stepwise_engine::stepper::token_hash;

/// Appends history events with ids, and each one's previous event.
pub(crate) fn append_history(
    w: &mut Worker,
    execution: &str,
    events: Vec<HistoryEvent>,
) -> rusqlite::Result<()> {
    let Some(run) = w.runs.get_mut(execution) else {
        return Ok(());
    };
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        let (id, previous) = run.numbering.number(&e);
        rows.push((id, previous, e));
    }
    run.events_dirty = true;
    let eid = run.eid;
    for (id, previous, e) in rows {
        w.cache.history.push(crate::cache::HistoryRow {
            eid,
            id: id as i64,
            previous: previous as i64,
            ts: e.timestamp,
            kind: e.kind.as_str(),
            details: serde_json::to_string(&e.details).expect("history details serialize"),
        });
    }
    Ok(())
}

fn json_error(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.into())
}

/// Keeps a Distributed Map's child execution (a later record replaces an
/// earlier one, but not an ended one of the same attempt) and its events
/// as a page of its history.
fn keep_child(w: &mut Worker, execution: &str, r: &ChildRecord) -> rusqlite::Result<()> {
    if !r.events.is_empty() {
        w.conn.execute(
            "INSERT INTO child_pages (arn, attempt, thread, page, events) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![
                r.arn,
                r.attempt,
                r.thread.as_deref().unwrap_or_default(),
                r.page,
                serde_json::to_string(&r.events).map_err(json_error)?
            ],
        )?;
    }
    if r.is_page() {
        return Ok(());
    }
    w.conn.execute(
        "INSERT INTO child_executions (arn, execution, attempt, status, body) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (arn) DO UPDATE SET attempt = excluded.attempt, status = excluded.status, body = excluded.body
         WHERE child_executions.status = 'RUNNING' OR child_executions.attempt < excluded.attempt",
        params![r.arn, execution, r.attempt, r.status, serde_json::to_string(&r.without_events()).map_err(json_error)?],
    )?;
    Ok(())
}

/// Delivers one event to one thread.
pub(crate) fn step_thread(
    w: &mut Worker,
    execution: &str,
    thread_id: &str,
    event: Event,
) -> rusqlite::Result<()> {
    let Some((mut thread, new)) = w.take_thread(execution, thread_id)? else {
        return Ok(());
    };
    let now = w.now();
    let Some(run) = w.run_for(execution)? else {
        return Ok(());
    };
    let env = Env {
        now,
        seed: stepwise_engine::entropy(),
        event_id: run.numbering.next_id(),
        history: true,
        spawn_bytes: 0,
        missing_activity: None,
        nonce: stepwise_engine::entropy(),
    };
    // A `.sync` task's nested execution is stopped when the task gives up
    // on it (a timeout, a stop, a cancelled branch), as AWS stops it.
    let child_wait = nested::child_wait(&run.machine, &thread);
    let answered = nested::answered_wait(&event);
    let run = &w.runs[execution];
    let catalog = crate::catalog::SqlCatalog(&w.conn);
    let exists = async |arn: &str| {
        (stepwise_engine::catalog::activity_exists(&catalog, arn).await).unwrap_or(true)
    };
    let stepped = stepwise_engine::tasks::step_thread(
        &run.machine,
        &run.facts,
        &mut thread,
        event,
        &env,
        &w.tasks,
        exists,
    );
    let Some(out) = stepwise_engine::block_on(stepped) else {
        w.put_thread(execution, thread, new);
        return Ok(());
    };
    // A step that would take the history past AWS's limit is not kept:
    // the execution fails instead, as on every driver.
    let made = run.numbering.next_id() - 1 + out.events;
    if let Some(e) = past_history_limit(run.machine.express, made) {
        return fail_execution(w, execution, e);
    }
    append_history(w, execution, out.history)?;
    let mut finished = None;
    for effect in out.effects {
        match effect {
            Effect::Schedule { at, event } => w.enqueue(execution, thread_id, at, &event)?,
            Effect::Invoke(call) => invoke(w, execution, &thread, call)?,
            Effect::Spawn(children) => {
                for child in children {
                    let id = child.id.clone();
                    w.new_thread(execution, child);
                    w.enqueue(execution, &id, w.now(), &Event::Run)?;
                }
            }
            Effect::Cancel(ids) => {
                // Each cancelled thread takes a stop, as the stepper sends
                // it one: its own children are cancelled in turn, a `.sync`
                // execution it waits for is stopped, a child execution ends
                // ABORTED with its journal kept. Then what is left of it goes.
                for id in &ids {
                    step_thread(w, execution, id, Event::stopped())?;
                }
                for id in ids {
                    let below = format!("{id}/");
                    w.abandon(execution, |t, _| t == id || t.starts_with(&below));
                    w.drop_cached_below(execution, Some(&id));
                    let prefix = format!("{id}/%");
                    for table in ["threads", "messages"] {
                        let col = if table == "threads" { "id" } else { "thread" };
                        w.conn.execute(
                            &format!("DELETE FROM {table} WHERE execution = ?1 AND ({col} = ?2 OR {col} LIKE ?3)"),
                            params![execution, id, prefix],
                        )?;
                    }
                    // Their tokens stay, no longer offered: a late answer
                    // is told it came too late (TaskTimedOut), as on AWS.
                    w.conn.execute(
                        "UPDATE tokens SET activity = NULL, token = NULL
                         WHERE execution = ?1 AND (thread = ?2 OR thread LIKE ?3)",
                        params![execution, id, prefix],
                    )?;
                }
            }
            Effect::Finish(outcome) => finished = Some(outcome),
            Effect::ChildExecution(r) => keep_child(w, execution, &r)?,
            Effect::MapRun(run) => {
                w.conn.execute(
                    "INSERT INTO map_runs (arn, execution, start, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (arn) DO UPDATE SET body = excluded.body
                     WHERE json_extract(map_runs.body, '$.status') = 'RUNNING'
                        OR COALESCE(json_extract(map_runs.body, '$.redrive_count'), 0)
                           < json_extract(excluded.body, '$.redrive_count')",
                    params![
                        run.arn,
                        execution,
                        run.start,
                        serde_json::to_string(&run)
                            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?
                    ],
                )?;
            }
        }
    }
    let after = finished.is_none().then(|| thread.current_wait()).flatten();
    w.abandon(execution, |t, wait| t == thread_id && Some(wait) != after);
    if let Some(wait) = nested::abandoned(child_wait, answered, after) {
        stop_children(w, execution, thread_id, wait)?;
    }
    let Some(outcome) = finished else {
        w.put_thread(execution, thread, new);
        return Ok(());
    };
    match thread.finished(outcome) {
        Handover::Parent(parent, event) => {
            if !new {
                // (One created and finished in this batch was never written.)
                w.drop_thread(execution, thread_id);
            }
            w.enqueue(execution, &parent, w.now(), &event)?;
        }
        Handover::Execution(outcome) => finish_execution(w, execution, Some(&thread), outcome)?,
    }
    Ok(())
}

fn invoke(
    w: &mut Worker,
    execution: &str,
    thread: &Thread,
    call: stepwise_asl::TaskCall,
) -> rusqlite::Result<()> {
    let activity =
        stepwise_engine::tasks::offers_activity(&w.tasks, &call).then(|| call.resource.clone());
    if let Some(token) = &call.token {
        w.conn.execute(
            "INSERT OR REPLACE INTO tokens (hash, execution, thread, wait, heartbeat, activity, input, created, token) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                token_hash(token),
                execution,
                thread.id,
                call.wait as i64,
                call.heartbeat_seconds.map(|h| h as i64),
                activity,
                call.payload.to_string(),
                w.now(),
                activity.as_ref().map(|_| token.clone()),
            ],
        )?;
    }
    w.mark_persisted(execution);
    if let Some(arn) = activity {
        w.to_offer.push(arn);
        return Ok(());
    }
    let text = serde_json::to_string(&call).expect("calls serialize");
    w.conn.execute(
        "INSERT INTO messages (execution, thread, due, event, dispatch) VALUES (?1, ?2, ?3, 'null', ?4)",
        params![execution, thread.id, IN_FLIGHT, text],
    )?;
    let message = w.conn.last_insert_rowid();
    let _ = w.dispatch(message, execution.to_owned(), thread.id.clone(), call, None);
    Ok(())
}

/// Records how the execution ended and clears what it no longer needs.
fn finish_execution(
    w: &mut Worker,
    execution: &str,
    root: Option<&Thread>,
    outcome: Outcome,
) -> rusqlite::Result<()> {
    let (status, output, error) = match &outcome {
        Outcome::Succeeded(v) => ("SUCCEEDED", Some(v.to_string()), None),
        Outcome::Failed(e) => ("FAILED", None, Some(e)),
        Outcome::TimedOut(e) => ("TIMED_OUT", None, Some(e)),
        Outcome::Aborted(e) => ("ABORTED", None, Some(e)),
    };
    // Where a redrive starts again: the state that failed, with its input.
    let redrive_point =
        (root.zip(error)).and_then(|(root, _)| serde_json::to_string(&root.redrive_point()).ok());
    w.drop_cached_below(execution, None);
    w.abandon(execution, |_, _| true);
    let run = w.runs.remove(execution);
    let next_event = run.as_ref().map(|r| r.numbering.next_id() as i64);
    let numbering = run.as_ref().map(|r| r.numbering_text());
    w.conn.execute(
        "UPDATE executions SET status = ?1, output = ?2, error = ?3, cause = ?4, stopped = ?5, redrive_point = ?6,
         next_event = COALESCE(?7, next_event), numbering = COALESCE(?9, numbering) WHERE arn = ?8",
        params![
            status,
            output,
            error.and_then(|e| e.error.clone()),
            error.and_then(|e| e.cause.clone()),
            w.now(),
            redrive_point,
            next_event,
            execution,
            numbering
        ],
    )?;
    report_to_parent(w, execution, &outcome)?;
    // An execution that lived within one batch never wrote threads or messages.
    if run.is_none_or(|r| r.persisted) {
        // Its task tokens stay (no longer offered to activity workers), so a
        // late SendTask* gets TaskTimedOut rather than TaskDoesNotExist.
        w.conn.execute(
            "UPDATE tokens SET activity = NULL WHERE execution = ?1",
            [execution],
        )?;
        forget_threads(w, execution)?;
    }
    Ok(())
}

/// Deletes an ended execution's threads and queued messages.
fn forget_threads(w: &mut Worker, execution: &str) -> rusqlite::Result<()> {
    for table in ["threads", "messages"] {
        w.conn.execute(
            &format!("DELETE FROM {table} WHERE execution = ?1"),
            [execution],
        )?;
    }
    Ok(())
}

/// Stops the running nested executions that `thread`'s `.sync` task
/// waits for at `wait` (a cancelled thread's are stopped by its own stop).
fn stop_children(w: &mut Worker, execution: &str, thread: &str, wait: u64) -> rusqlite::Result<()> {
    let rows: Vec<(String, String)> = w
        .conn
        .prepare(
            "SELECT arn, parent FROM executions WHERE parent IS NOT NULL AND status = 'RUNNING'
             AND json_extract(parent, '$.execution') = ?1",
        )?
        .query_map([execution], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(String, String)>, _>>()?;
    for (arn, parent) in rows {
        let Ok(p) = serde_json::from_str::<serde_json::Value>(&parent) else {
            continue;
        };
        if p["thread"].as_str() == Some(thread) && p["wait"].as_u64() == Some(wait) {
            w.enqueue(&arn, "root", w.now(), &Event::stopped())?;
        }
    }
    Ok(())
}

/// A nested `.sync` execution ended: its parent's task gets the result.
fn report_to_parent(w: &mut Worker, execution: &str, outcome: &Outcome) -> rusqlite::Result<()> {
    let row: Option<(Option<String>, String)> = w
        .conn
        .query_row(
            "SELECT parent, facts FROM executions WHERE arn = ?1",
            [execution],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((Some(parent), facts)) = row else {
        return Ok(());
    };
    let (Ok(parent), Ok(facts)) = (
        serde_json::from_str::<serde_json::Value>(&parent),
        serde_json::from_str::<stepwise_asl::Execution>(&facts),
    ) else {
        return Ok(());
    };
    let wait = parent["wait"].as_u64().unwrap_or_default();
    let json = parent["json"].as_bool().unwrap_or_default();
    let result = stepwise_engine::nested::ended(&facts, outcome, w.now(), json);
    let (Some(e), Some(t)) = (parent["execution"].as_str(), parent["thread"].as_str()) else {
        return Ok(());
    };
    w.deliver_result(e, t, wait, result)
}

/// Fails a running execution from outside its step function (it made
/// more history than AWS allows; it cannot be stepped — its stored state is
/// unreadable, or a bug fails its step every time): an ExecutionFailed event
/// after every other, then as any end (its threads and messages gone, its
/// parent, a `.sync` task, told). Nothing is done to one already ended.
pub(crate) fn fail_execution(
    w: &mut Worker,
    execution: &str,
    error: StatesError,
) -> rusqlite::Result<()> {
    let running = (w.conn)
        .query_row(
            "SELECT status = 'RUNNING' FROM executions WHERE arn = ?1",
            [execution],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false);
    if running && w.run_for(execution)?.is_some() {
        let failed = HistoryEvent::execution_failed(w.now(), &error);
        append_history(w, execution, vec![failed])?;
        return finish_execution(w, execution, None, Outcome::Failed(error));
    }
    w.abandon(execution, |_, _| true);
    forget_threads(w, execution)
}

//! The durable driver: load a thread, step it, save it with the messages and
//! history the step produced, all in the worker's transaction.

use rusqlite::{OptionalExtension, params};
use stepwise_asl::exec::HistoryEvent;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, Env, Event, MapRun, Outcome, StatesError, TaskCall, Thread};
use stepwise_engine::driver::{Host, Stepped, deliver};
use stepwise_engine::tasks::step_thread as step_thread_once;

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

/// Delivers one event to one thread, in the worker's transaction.
pub(crate) fn step_thread(
    w: &mut Worker,
    execution: &str,
    thread_id: &str,
    event: Event,
) -> rusqlite::Result<()> {
    stepwise_engine::block_on(deliver(w, execution, thread_id, event))
}

/// The worker keeps threads in SQLite (cached for its batch), its queue in
/// the `messages` table and its timer heap, and sends task calls to its
/// dispatcher threads after the batch commits.
impl Host for Worker {
    type Error = rusqlite::Error;

    fn take(&mut self, execution: &str, thread: &str) -> rusqlite::Result<Option<(Thread, bool)>> {
        let Some(taken) = self.take_thread(execution, thread)? else {
            return Ok(None);
        };
        // (A thread of an execution that is gone goes with it.)
        Ok(self.run_for(execution)?.is_some().then_some(taken))
    }

    fn put(&mut self, execution: &str, thread: Thread, new: bool) {
        self.put_thread(execution, thread, new);
    }

    fn forget(&mut self, execution: &str, thread: &str, new: bool) {
        // (One created and finished in this batch was never written.)
        if !new {
            self.drop_thread(execution, thread);
        }
    }

    async fn step(
        &mut self,
        execution: &str,
        thread: &mut Thread,
        event: Event,
    ) -> rusqlite::Result<Option<Stepped>> {
        let now = self.now();
        let Some(run) = self.run_for(execution)? else {
            return Ok(None);
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
        let Some(run) = self.runs.get(execution) else {
            return Ok(None);
        };
        // A `.sync` task's nested execution is stopped when the task gives
        // up on it (a timeout, a stop, a cancelled branch), as AWS stops it.
        let child_wait = nested::child_wait(&run.machine, thread);
        let catalog = crate::catalog::SqlCatalog(&self.conn);
        let exists = async |arn: &str| {
            (stepwise_engine::catalog::activity_exists(&catalog, arn).await).unwrap_or(true)
        };
        let (machine, facts) = (&run.machine, &run.facts);
        let stepped = step_thread_once(machine, facts, thread, event, &env, &self.tasks, exists);
        let Some(mut output) = stepped.await else {
            return Ok(None);
        };
        let (before, machine) = (run.numbering.next_id() - 1, run.machine.clone());
        output.resolve_cuts(&machine, |id| {
            self.peek_thread(execution, id).ok().flatten()
        });
        Ok(Some(Stepped {
            output,
            before,
            express: machine.express,
            child_wait,
        }))
    }

    fn now(&self) -> Millis {
        Worker::now(self)
    }

    fn record(
        &mut self,
        execution: &str,
        events: Vec<HistoryEvent>,
        _: u64,
    ) -> rusqlite::Result<()> {
        append_history(self, execution, events)
    }

    fn schedule(
        &mut self,
        execution: &str,
        thread: &str,
        at: Millis,
        event: Event,
    ) -> rusqlite::Result<()> {
        self.enqueue(execution, thread, at, &event)
    }

    async fn invoke(
        &mut self,
        execution: &str,
        thread: &Thread,
        call: TaskCall,
    ) -> rusqlite::Result<()> {
        invoke(self, execution, thread, call)
    }

    fn cancelled(&mut self, execution: &str, threads: &[String]) -> rusqlite::Result<()> {
        for id in threads {
            let below = format!("{id}/");
            self.abandon(execution, |t, _| t == id || t.starts_with(&below));
            self.drop_cached_below(execution, Some(id));
            let prefix = format!("{id}/%");
            for table in ["threads", "messages"] {
                let col = if table == "threads" { "id" } else { "thread" };
                self.conn.execute(
                    &format!(
                        "DELETE FROM {table} WHERE execution = ?1 AND ({col} = ?2 OR {col} LIKE ?3)"
                    ),
                    params![execution, id, prefix],
                )?;
            }
            // Their tokens stay, no longer offered: a late answer is told
            // it came too late (TaskTimedOut), as on AWS.
            self.conn.execute(
                "UPDATE tokens SET activity = NULL, token = NULL
                 WHERE execution = ?1 AND (thread = ?2 OR thread LIKE ?3)",
                params![execution, id, prefix],
            )?;
        }
        Ok(())
    }

    fn keep_run(&mut self, execution: &str, run: &MapRun) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO map_runs (arn, execution, start, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (arn) DO UPDATE SET body = excluded.body
             WHERE json_extract(map_runs.body, '$.status') = 'RUNNING'
                OR COALESCE(json_extract(map_runs.body, '$.redrive_count'), 0)
                   < json_extract(excluded.body, '$.redrive_count')",
            params![
                run.arn,
                execution,
                run.start,
                serde_json::to_string(run).map_err(json_error)?
            ],
        )?;
        Ok(())
    }

    fn keep_child(&mut self, execution: &str, child: &ChildRecord) -> rusqlite::Result<()> {
        keep_child(self, execution, child)
    }

    fn moved_on(
        &mut self,
        execution: &str,
        thread: &str,
        after: Option<u64>,
        gave_up: Option<u64>,
    ) -> rusqlite::Result<()> {
        self.abandon(execution, |t, wait| t == thread && Some(wait) != after);
        match gave_up {
            Some(wait) => stop_children(self, execution, thread, wait),
            None => Ok(()),
        }
    }

    fn finish(
        &mut self,
        execution: &str,
        root: Option<&Thread>,
        outcome: Outcome,
    ) -> rusqlite::Result<()> {
        finish_execution(self, execution, root, outcome)
    }

    fn fail(&mut self, execution: &str, error: StatesError) -> rusqlite::Result<()> {
        fail_execution(self, execution, error)
    }
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
            w.enqueue(&arn, "root", w.now(), &Event::stopped_by_parent(execution))?;
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

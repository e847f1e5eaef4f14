//! Executions on SQLite: the [`ExecutionStore`] port the shared execution
//! actions read through, and how this backend starts, stops and redrives
//! them (through its worker).

use stepwise_asl::exec::Numbering;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use stepwise_api::{ApiError, timestamp, validate};
use stepwise_asl::definition::resource::Pattern;
use stepwise_asl::exec::{HistoryEvent, Ordered, RedrivePoint};
use stepwise_asl::{ChildRecord, Event, Execution, MapRun, TaskCall, Thread};
use stepwise_engine::nested;
use stepwise_engine::ports::TaskResult;

use super::{Fail, Res};
use crate::catalog::SqlCatalog;
use crate::db::Db;
use crate::driver::append_history;
use crate::runs::Run;
use crate::worker::Worker;
use stepwise_engine::block_on;
use stepwise_engine::executions::{self, ExecutionStore, ExecutionView, HistoryRow};
use stepwise_engine::stepper::PortError;

fn execution(body: &Value) -> Result<&str, Fail> {
    let arn = validate::string(body, "executionArn")?;
    validate::arn(arn, &["execution", "express"])?;
    Ok(arn)
}

fn not_found(arn: &str) -> Fail {
    ApiError::execution_does_not_exist(format!("Execution Does Not Exist: '{arn}'")).into()
}

pub fn start(w: &mut Worker, body: &Value) -> Res {
    let (arn, started) = start_with(w, body, None)?;
    Ok(json!({"executionArn": arn, "startDate": timestamp(started)}))
}

/// A `states:startExecution` task's child: its result for a
/// request-response task, `None` when the task waits (`.sync` for the
/// child's end, `.waitForTaskToken` for SendTaskSuccess/Failure).
pub fn start_child(
    w: &mut Worker,
    execution: &str,
    thread: &str,
    call: &TaskCall,
) -> rusqlite::Result<Option<TaskResult>> {
    let body = match nested::request(call, execution, thread) {
        Ok(b) => b,
        Err(e) => return Ok(Some(Err(e))),
    };
    let parent = nested::waits_for_end(call).then(|| {
        json!({"execution": execution, "thread": thread, "wait": call.wait, "json": call.pattern == Pattern::Sync2})
        .to_string()
    });
    let waits = parent.is_some() || call.pattern == Pattern::WaitForTaskToken;
    match start_with(w, &body, parent) {
        Ok((arn, started)) if waits => {
            // The task waits for the child (or its token): TaskSubmitted first.
            let output = nested::started(&arn, started);
            let event = Event::TaskSubmitted {
                wait: call.wait,
                output,
            };
            w.enqueue(execution, thread, w.now(), &event)?;
            Ok(None)
        }
        Ok((arn, started)) => Ok(Some(Ok(nested::started(&arn, started)))),
        Err(Fail::Api(e)) => Ok(Some(Err(nested::api_error(e.code, &e.message)))),
        Err(Fail::Db(e)) => Err(e),
    }
}

/// Starts an execution (or finds the one the same name and input started):
/// its ARN and start time.
fn start_with(w: &mut Worker, body: &Value, parent: Option<String>) -> Result<(String, i64), Fail> {
    let plan = plan_start(w, body)?;
    let (facts, r) = (plan.facts, plan.resolved);
    let (arn, t, express) = (facts.arn.clone(), facts.start_time, r.express);
    let (machine, version, alias) = (&r.machine_arn, &r.version_arn, &r.alias_arn);
    let definition = &r.settings.definition;
    // Taken before the insert: a failed insert leaves a gap, not a number
    // the next start would collide with.
    let eid = w.next_eid;
    w.next_eid += 1;
    let inserted = w.conn.execute(
        "INSERT INTO executions (arn, machine, version, name, status, input, started, facts, next_event, parent, definition, alias, eid) VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, ?7, 1, ?8, ?9, ?10, ?11)
         ON CONFLICT (arn) DO NOTHING",
        params![arn, machine, version, facts.name, plan.input_text, t, serde_json::to_string(&facts).expect("facts serialize"), parent, definition, alias, eid],
    )?;
    if inserted == 0 {
        // Same name again: the same execution if it runs with the same input.
        let old = view(&w.conn, &arn)?.ok_or_else(|| executions::not_found(&arn))?;
        return Ok((
            arn.clone(),
            executions::start_again(&arn, &old, &plan.input_text)?,
        ));
    }
    let input = facts.input.clone();
    let Some(sm) = w.load_machine(definition, express) else {
        return Err(
            ApiError::invalid_definition("The state machine's definition is not valid").into(),
        );
    };
    w.runs.insert(
        arn.clone(),
        Run {
            eid,
            facts,
            machine: sm.clone(),
            numbering: Numbering::default(),
            events_dirty: true,
            persisted: false,
        },
    );
    let started = HistoryEvent::execution_started(&w.runs[&arn].facts);
    append_history(w, &arn, vec![started])?;
    let root = Thread::root(&sm.root().start_at, input);
    w.new_thread(&arn, root);
    w.enqueue(&arn, "root", t, &Event::Run)?;
    if let Some((at, timeout)) = stepwise_asl::exec::machine_timeout(&sm, t, 0) {
        w.enqueue(&arn, "root", at, &timeout)?;
    }
    Ok((arn, t))
}

const VIEW: &str = "SELECT arn, machine, version, alias, name, status, input, output, error, cause, started, stopped, redrive_count, redrive_date, definition FROM executions";

fn view_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExecutionView> {
    let arn: String = r.get(0)?;
    Ok(ExecutionView {
        express: arn.contains(":express:"),
        arn,
        machine_arn: r.get(1)?,
        version: r.get(2)?,
        alias: r.get(3)?,
        name: r.get(4)?,
        status: r.get(5)?,
        input: r.get(6)?,
        output: r.get(7)?,
        error: r.get(8)?,
        cause: r.get(9)?,
        started: r.get(10)?,
        stopped: r.get(11)?,
        redrive_count: r.get::<_, i64>(12)? as u32,
        redrive_date: r.get(13)?,
        definition: r.get(14)?,
        map_run: None,
    })
}

fn view(db: &Db, arn: &str) -> rusqlite::Result<Option<ExecutionView>> {
    db.query_row(&format!("{VIEW} WHERE arn = ?1"), [arn], view_row)
        .optional()
}

/// The execution port ([`ExecutionStore`]) on the SQLite tables.
pub struct SqlExecutions<'a>(pub &'a Db);

impl ExecutionStore for SqlExecutions<'_> {
    async fn view(&self, arn: &str) -> Result<Option<ExecutionView>, PortError> {
        Ok(view(self.0, arn)?)
    }

    async fn list(
        &self,
        machine: &str,
        version: Option<&str>,
        status: Option<&str>,
        after: Option<(i64, &str)>,
        max: usize,
    ) -> Result<(Vec<ExecutionView>, bool), PortError> {
        // One more than the page says whether another follows; the index on
        // (machine, started), with the rowid it carries, makes a page cost
        // what it returns, however deep: it starts right after the last
        // execution of the page before (one with the same start stored
        // earlier, or one that started earlier).
        // (Two statements: a condition that may be absent would keep the
        // index from seeking to the cursor.)
        let cursor = if after.is_some() {
            "AND started <= ?5 AND (started < ?5 OR rowid < (SELECT rowid FROM executions WHERE arn = ?6))"
        } else {
            "AND ?5 IS NULL AND ?6 IS NULL"
        };
        let mut stmt = self.0.prepare(&format!(
            "{VIEW} WHERE machine = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR version = ?3) {cursor}
             ORDER BY started DESC, rowid DESC LIMIT ?4"
        ))?;
        let (after_started, after_arn) = after.unzip();
        let mut rows: Vec<ExecutionView> = stmt
            .query_map(
                params![
                    machine,
                    status,
                    version,
                    max as i64 + 1,
                    after_started,
                    after_arn
                ],
                |r| {
                    let mut v = view_row(r)?;
                    v.definition = None;
                    Ok(v)
                },
            )?
            .collect::<Result<_, _>>()?;
        let more = rows.len() > max;
        rows.truncate(max);
        Ok((rows, more))
    }

    async fn map_runs(&self, execution: &str) -> Result<Vec<MapRun>, PortError> {
        let mut stmt = self
            .0
            .prepare("SELECT body FROM map_runs WHERE execution = ?1 ORDER BY start, arn")?;
        let bodies: Vec<String> = stmt
            .query_map([execution], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(bodies
            .iter()
            .map(|b| serde_json::from_str(b))
            .collect::<Result<_, _>>()?)
    }

    async fn map_run(&self, arn: &str) -> Result<Option<(String, MapRun)>, PortError> {
        let row: Option<(String, String)> = self
            .0
            .query_row(
                "SELECT execution, body FROM map_runs WHERE arn = ?1",
                [arn],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match row {
            Some((execution, body)) => Some((execution, serde_json::from_str(&body)?)),
            None => None,
        })
    }

    async fn children(&self, arns: &[String]) -> Result<Vec<ChildRecord>, PortError> {
        let mut out = Vec::with_capacity(arns.len());
        let mut stmt = self
            .0
            .prepare("SELECT body FROM child_executions WHERE arn = ?1")?;
        for arn in arns {
            let body: Option<String> = stmt.query_row([arn], |r| r.get(0)).optional()?;
            if let Some(b) = &body {
                out.push(serde_json::from_str(b)?);
            }
        }
        Ok(out)
    }

    async fn child_history(&self, arn: &str) -> Result<Vec<Ordered>, PortError> {
        let mut stmt = self
            .0
            .prepare("SELECT events FROM child_pages WHERE arn = ?1")?;
        let pages: Vec<String> = stmt
            .query_map([arn], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut events = Vec::new();
        for p in pages {
            events.extend(serde_json::from_str::<Vec<Ordered>>(&p)?);
        }
        Ok(events)
    }

    async fn thread(&self, execution: &str, id: &str) -> Result<Option<Thread>, PortError> {
        Ok(match crate::db::stored_thread(self.0, execution, id)? {
            Some(d) => Some(serde_json::from_str(&d)?),
            None => None,
        })
    }

    async fn history(
        &self,
        arn: &str,
        reverse: bool,
        offset: usize,
        max: usize,
    ) -> Result<(Vec<HistoryRow>, usize), PortError> {
        let total: i64 = self.0.query_row(
            "SELECT COUNT(*) FROM events WHERE eid = (SELECT eid FROM executions WHERE arn = ?1)",
            [arn],
            |r| r.get(0),
        )?;
        let order = if reverse { "DESC" } else { "ASC" };
        let mut stmt = self.0.prepare(&format!(
            "SELECT id, previous, ts, type, details FROM events WHERE eid = (SELECT eid FROM executions WHERE arn = ?1) ORDER BY id {order} LIMIT ?2 OFFSET ?3"
        ))?;
        let rows = stmt
            .query_map(params![arn, max as i64, offset as i64], |r| {
                Ok(HistoryRow {
                    id: r.get::<_, i64>(0)? as u64,
                    previous: r.get::<_, i64>(1)? as u64,
                    timestamp: r.get(2)?,
                    kind: r.get(3)?,
                    details: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok((rows, total as usize))
    }
}

pub fn describe(db: &Db, body: &Value) -> Res {
    Ok(block_on(executions::describe(&SqlExecutions(db), body))?)
}

pub fn describe_machine(db: &Db, body: &Value) -> Res {
    Ok(block_on(executions::describe_machine(
        &SqlExecutions(db),
        &SqlCatalog(db),
        body,
    ))?)
}

pub fn list(db: &Db, body: &Value) -> Res {
    Ok(block_on(executions::list(
        &SqlExecutions(db),
        &SqlCatalog(db),
        body,
    ))?)
}

pub fn history(db: &Db, body: &Value) -> Res {
    Ok(block_on(executions::history(&SqlExecutions(db), body))?)
}

pub fn map_runs(db: &Db, body: &Value) -> Res {
    Ok(block_on(stepwise_engine::map_runs::list(
        &SqlExecutions(db),
        body,
    ))?)
}

pub fn map_run(db: &Db, body: &Value) -> Res {
    Ok(block_on(stepwise_engine::map_runs::describe(
        &SqlExecutions(db),
        body,
    ))?)
}

/// UpdateMapRun: the Map state's thread takes the new settings in order
/// with its other messages.
pub fn update_map_run(w: &mut Worker, body: &Value) -> Res {
    let (execution, thread, event) = block_on(stepwise_engine::map_runs::update(
        &SqlExecutions(&w.conn),
        body,
    ))?;
    w.enqueue(&execution, &thread, w.now(), &event)?;
    Ok(json!({}))
}

/// For StartSyncExecution, run outside the worker: the checked plan.
pub fn plan(w: &mut Worker, body: &Value) -> Res {
    let plan = plan_start(w, body)?;
    serde_json::to_value(plan).map_err(|e| ApiError::internal(e.to_string()).into())
}

fn plan_start(w: &Worker, body: &Value) -> Result<executions::StartPlan, ApiError> {
    block_on(executions::plan_start(
        &SqlCatalog(&w.conn),
        body,
        stepwise_engine::uuid,
        w.now(),
    ))
}

pub fn stop(w: &mut Worker, body: &Value) -> Res {
    let (arn, request) = block_on(executions::stop_request(&SqlExecutions(&w.conn), body))?;
    let error = match request {
        Ok(error) => error,
        Err(stopped) => return Ok(json!({"stopDate": timestamp(stopped)})),
    };
    let t = w.now();
    w.enqueue(
        &arn,
        "root",
        t,
        &Event::Stop {
            error,
            timed_out: false,
        },
    )?;
    Ok(json!({"stopDate": timestamp(t)}))
}

pub fn redrive(w: &mut Worker, body: &Value) -> Res {
    let arn = execution(body)?;
    let row: Option<(String, Option<String>, String, String)> = w
        .conn
        .query_row(
            "SELECT status, redrive_point, facts, machine FROM executions WHERE arn = ?1",
            [arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((status, point, facts, _machine)) = row else {
        let child = block_on(stepwise_engine::children::view(
            &SqlExecutions(&w.conn),
            arn,
        ))?;
        return Err(match child.and_then(|c| c.map_run) {
            Some(run) => stepwise_engine::children::not_on_its_own(arn, &run, "redriven").into(),
            None => not_found(arn),
        });
    };
    let not_redrivable = |why: &str| -> Fail { executions::not_redrivable(why).into() };
    let view = block_on(executions::view(&SqlExecutions(&w.conn), arn))?;
    if let Some(reason) = executions::redrive_refusal(&view) {
        return Err(ApiError::execution_not_redrivable(reason).into());
    }
    if !["FAILED", "TIMED_OUT", "ABORTED"].contains(&status.as_str()) || arn.contains(":express:") {
        return Err(not_redrivable(&status));
    }
    let Some(point) = point.and_then(|p| serde_json::from_str::<RedrivePoint>(&p).ok()) else {
        return Err(not_redrivable(&status));
    };
    let Ok(mut facts) = serde_json::from_str::<Execution>(&facts) else {
        return Err(not_redrivable(&status));
    };
    facts.redrive_count = Some(facts.redrive_count.unwrap_or(0) + 1);
    let t = w.now();
    w.conn.execute(
        "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stopped = NULL, facts = ?1, redrive_count = redrive_count + 1, redrive_date = ?2 WHERE arn = ?3",
        params![serde_json::to_string(&facts).expect("facts serialize"), t, arn],
    )?;
    w.runs.remove(arn);
    if w.run_for(arn)?.is_none() {
        return Err(not_redrivable(&status));
    }
    let count = facts.redrive_count.unwrap_or_default();
    let root = Thread::redriven(point, count);
    let redriven = HistoryEvent::execution_redriven(t, count);
    append_history(w, arn, vec![redriven])?;
    w.new_thread(arn, root);
    w.enqueue(arn, "root", t, &Event::Run)?;
    // The machine's TimeoutSeconds counts again from the redrive.
    let machine = w.run_for(arn)?.map(|r| r.machine.clone());
    if let Some((at, timeout)) =
        machine.and_then(|m| stepwise_asl::exec::machine_timeout(&m, t, count))
    {
        w.enqueue(arn, "root", at, &timeout)?;
    }
    Ok(json!({"redriveDate": timestamp(t)}))
}

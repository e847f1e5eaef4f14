//! Executions: start, describe, list, history, stop, redrive.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value, json};
use stepwise_api::{ApiError, timestamp, validate};
use stepwise_asl::definition::resource::Pattern;
use stepwise_asl::exec::{EventType, HistoryEvent};
use stepwise_asl::{Event, Execution, StatesError, TaskCall, Thread};
use stepwise_engine::nested;
use stepwise_engine::ports::TaskResult;

use super::{Fail, Res};
use crate::catalog::SqlCatalog;
use crate::db::Db;
use crate::driver::append_history;
use crate::ids::{execution_arn, machine_name, now, random_u64, uuid};
use crate::worker::{Run, Worker};
use stepwise_engine::block_on;
use stepwise_engine::catalog;

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
        Ok(_) if waits => Ok(None),
        Ok((arn, started)) => Ok(Some(Ok(nested::started(&arn, started)))),
        Err(Fail::Api(e)) => Ok(Some(Err(nested::api_error(e.code, &e.message)))),
        Err(Fail::Db(e)) => Err(e),
    }
}

/// Starts an execution (or finds the one the same name and input started):
/// its ARN and start time.
fn start_with(w: &mut Worker, body: &Value, parent: Option<String>) -> Result<(String, i64), Fail> {
    let target = validate::string(body, "stateMachineArn")?;
    let resolved = block_on(catalog::resolve(
        &SqlCatalog(&w.conn),
        target,
        random_u64() % 100,
    ))?;
    let (machine, version, alias) = (
        resolved.machine_arn,
        resolved.version_arn,
        resolved.alias_arn,
    );
    let express = resolved.express;
    let role = resolved.settings.role_arn;
    let definition = resolved.settings.definition;
    let name = match validate::optional_string(body, "name")? {
        Some(n) => n.to_owned(),
        None => uuid(),
    };
    validate::name("execution", &name)?;
    let input_text = validate::optional_string(body, "input")?.unwrap_or("{}");
    let input = validate::input(Some(input_text))?;
    let arn = execution_arn(machine_name(&machine), &name, express);
    let t = now();
    let facts = Execution {
        arn: arn.clone(),
        name: name.clone(),
        input: input.clone(),
        start_time: t,
        role_arn: role.clone(),
        state_machine_arn: version.clone().unwrap_or_else(|| machine.clone()),
        state_machine_name: machine_name(&machine).to_owned(),
        redrive_count: if express { None } else { Some(0) },
    };
    let inserted = w.conn.execute(
        "INSERT INTO executions (arn, machine, version, name, status, input, started, facts, next_event, parent, definition, alias) VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, ?7, 1, ?8, ?9, ?10)
         ON CONFLICT (arn) DO NOTHING",
        params![arn, machine, version, name, input_text, t, serde_json::to_string(&facts).expect("facts serialize"), parent, definition, alias],
    )?;
    if inserted == 0 {
        // Same name again: the same execution if it runs with the same input.
        let (status, old_input, started): (String, String, i64) = w.conn.query_row(
            "SELECT status, input, started FROM executions WHERE arn = ?1",
            [&arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if status == "RUNNING" && old_input == input_text {
            return Ok((arn, started));
        }
        return Err(ApiError::execution_already_exists(format!(
            "Execution Already Exists: '{arn}'"
        ))
        .into());
    }
    let Some(sm) = w.load_machine(&definition, express) else {
        return Err(
            ApiError::invalid_definition("The state machine's definition is not valid").into(),
        );
    };
    w.runs.insert(
        arn.clone(),
        Run {
            facts,
            machine: sm.clone(),
            next_event: 1,
            last: HashMap::new(),
            events_dirty: true,
            persisted: false,
        },
    );
    let started = HistoryEvent::execution_started(&w.runs[&arn].facts);
    append_history(w, &arn, vec![started])?;
    let root = Thread::root(&sm.root().start_at, input);
    w.new_thread(&arn, root);
    w.enqueue(&arn, "root", t, &Event::Run)?;
    if let Some(secs) = sm.timeout_seconds {
        let error = StatesError {
            error: Some("States.Timeout".into()),
            cause: None,
        };
        w.enqueue(
            &arn,
            "root",
            t + secs as i64 * 1000,
            &Event::Stop {
                error,
                timed_out: true,
            },
        )?;
    }
    Ok((arn, t))
}

pub fn describe(db: &Db, body: &Value) -> Res {
    let arn = execution(body)?;
    let row = db

        .query_row(
            "SELECT machine, version, name, status, input, output, error, cause, started, stopped, redrive_count, redrive_date, alias FROM executions WHERE arn = ?1",
            [arn],
            |r| {
                let mut o = Map::new();
                o.insert("executionArn".into(), arn.into());
                let version: Option<String> = r.get(1)?;
                o.insert("stateMachineArn".into(), r.get::<_, String>(0)?.into());
                if let Some(v) = version {
                    o.insert("stateMachineVersionArn".into(), v.into());
                }
                if let Some(a) = r.get::<_, Option<String>>(12)? {
                    o.insert("stateMachineAliasArn".into(), a.into());
                }
                o.insert("name".into(), r.get::<_, String>(2)?.into());
                let status: String = r.get(3)?;
                o.insert("status".into(), status.clone().into());
                o.insert("startDate".into(), timestamp(r.get(8)?));
                if let Some(stop) = r.get::<_, Option<i64>>(9)? {
                    o.insert("stopDate".into(), timestamp(stop));
                }
                o.insert("input".into(), r.get::<_, String>(4)?.into());
                o.insert("inputDetails".into(), json!({"included": true}));
                if let Some(out) = r.get::<_, Option<String>>(5)? {
                    o.insert("output".into(), out.into());
                    o.insert("outputDetails".into(), json!({"included": true}));
                }
                if let Some(e) = r.get::<_, Option<String>>(6)? {
                    o.insert("error".into(), e.into());
                }
                if let Some(c) = r.get::<_, Option<String>>(7)? {
                    o.insert("cause".into(), c.into());
                }
                o.insert("redriveCount".into(), r.get::<_, i64>(10)?.into());
                if let Some(d) = r.get::<_, Option<i64>>(11)? {
                    o.insert("redriveDate".into(), timestamp(d));
                }
                let (redrive, reason) = match status.as_str() {
                    "RUNNING" => ("NOT_REDRIVABLE", "Execution is RUNNING and cannot be redriven"),
                    "SUCCEEDED" => ("NOT_REDRIVABLE", "Execution is SUCCEEDED and cannot be redriven"),
                    _ => ("REDRIVABLE", ""),
                };
                o.insert("redriveStatus".into(), redrive.into());
                if !reason.is_empty() {
                    o.insert("redriveStatusReason".into(), reason.into());
                }
                Ok(Value::Object(o))
            },
        )
        .optional()?;
    row.ok_or_else(|| not_found(arn))
}

pub fn describe_machine(db: &Db, body: &Value) -> Res {
    let arn = execution(body)?;
    let row: Option<(String, Option<String>, Option<String>, i64)> = db
        .query_row(
            "SELECT machine, version, definition, started FROM executions WHERE arn = ?1",
            [arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let (machine, version, definition, started) = row.ok_or_else(|| not_found(arn))?;
    Ok(block_on(catalog::describe_for_execution(
        &SqlCatalog(db),
        &machine,
        version.as_deref(),
        definition.as_deref(),
        started,
    ))?)
}

/// For StartSyncExecution, run outside the worker: the definition and type.
pub fn for_run(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let r = block_on(catalog::resolve(
        &SqlCatalog(&w.conn),
        arn,
        random_u64() % 100,
    ))?;
    Ok(json!({
        "machine": r.machine_arn, "version": r.version_arn, "alias": r.alias_arn,
        "definition": r.settings.definition, "type": if r.express { "EXPRESS" } else { "STANDARD" },
    }))
}

pub fn list(db: &Db, body: &Value) -> Res {
    let (max, offset) = validate::page(body)?;
    let machine = match (
        validate::optional_string(body, "stateMachineArn")?,
        validate::optional_string(body, "mapRunArn")?,
    ) {
        (Some(m), _) => m.to_owned(),
        (None, Some(_)) => return Ok(json!({"executions": []})),
        (None, None) => {
            return Err(
                ApiError::validation("Must provide a StateMachine ARN or MapRun ARN").into(),
            );
        }
    };
    let t = catalog::target(&machine)?;
    let machine_arn = t.machine().to_owned();
    let version = matches!(t, catalog::Target::Version(_)).then(|| machine.clone());
    let m = block_on(catalog::machine(&SqlCatalog(db), &machine_arn, &machine))?;
    if m.kind == "EXPRESS" {
        return Err(ApiError::state_machine_type_not_supported(
            "This operation is not supported by this type of state machine",
        )
        .into());
    }
    let status = validate::optional_string(body, "statusFilter")?;
    if let Some(s) = status
        && ![
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ]
        .contains(&s)
    {
        return Err(ApiError::validation(format!("1 validation error detected: Value '{s}' at 'statusFilter' failed to satisfy constraint")).into());
    }
    let mut stmt = db.prepare(
        "SELECT arn, machine, name, status, started, stopped, version, redrive_count, alias FROM executions
         WHERE machine = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR version = ?3) ORDER BY started DESC, arn",
    )?;
    let all: Vec<Value> = stmt
        .query_map(params![machine_arn, status, version], |r| {
            let mut o = json!({
                "executionArn": r.get::<_, String>(0)?,
                "stateMachineArn": r.get::<_, String>(1)?,
                "name": r.get::<_, String>(2)?,
                "status": r.get::<_, String>(3)?,
                "startDate": timestamp(r.get(4)?),
                "redriveCount": r.get::<_, i64>(7)?,
            });
            if let Some(s) = r.get::<_, Option<i64>>(5)? {
                o["stopDate"] = timestamp(s);
            }
            if let Some(v) = r.get::<_, Option<String>>(6)? {
                o["stateMachineVersionArn"] = v.into();
            }
            if let Some(a) = r.get::<_, Option<String>>(8)? {
                o["stateMachineAliasArn"] = a.into();
            }
            Ok(o)
        })?
        .collect::<Result<_, _>>()?;
    let total = all.len();
    let mut out = json!({"executions": all.into_iter().skip(offset).take(max).collect::<Vec<_>>()});
    if let Some(t) = validate::next_token(offset, max, total) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

pub fn history(db: &Db, body: &Value) -> Res {
    let arn = execution(body)?;
    if db
        .query_row("SELECT 1 FROM executions WHERE arn = ?1", [arn], |_| Ok(()))
        .optional()?
        .is_none()
    {
        return Err(not_found(arn));
    }
    let (max, offset) = validate::page(body)?;
    let reverse = body["reverseOrder"].as_bool().unwrap_or(false);
    let include_data = body["includeExecutionData"].as_bool().unwrap_or(true);
    let order = if reverse { "DESC" } else { "ASC" };
    let total: i64 = db.query_row(
        "SELECT COUNT(*) FROM history WHERE execution = ?1",
        [arn],
        |r| r.get(0),
    )?;
    let mut stmt = db.prepare(&format!(
        "SELECT id, previous, ts, type, details FROM history WHERE execution = ?1 ORDER BY id {order} LIMIT ?2 OFFSET ?3"
    ))?;
    let events: Vec<Value> = stmt
        .query_map(params![arn, max as i64, offset as i64], |r| {
            let kind: String = r.get(3)?;
            let details: Value =
                serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or(Value::Null);
            Ok(stepwise_api::history_event(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                &kind,
                details,
                include_data,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = json!({"events": events});
    if let Some(t) = validate::next_token(offset, max, total as usize) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

pub fn stop(w: &mut Worker, body: &Value) -> Res {
    let arn = execution(body)?;
    let row: Option<(String, Option<i64>)> = w
        .conn
        .query_row(
            "SELECT status, stopped FROM executions WHERE arn = ?1",
            [arn],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (status, stopped) = row.ok_or_else(|| not_found(arn))?;
    if status != "RUNNING" {
        return Ok(json!({"stopDate": timestamp(stopped.unwrap_or_else(now))}));
    }
    let error = StatesError {
        error: validate::optional_string(body, "error")?.map(str::to_owned),
        cause: validate::optional_string(body, "cause")?.map(str::to_owned),
    };
    let t = now();
    w.enqueue(
        arn,
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
    let (status, point, facts, _machine) = row.ok_or_else(|| not_found(arn))?;
    let not_redrivable = |why: &str| -> Fail {
        ApiError::execution_not_redrivable(format!("Execution is {why} and cannot be redriven"))
            .into()
    };
    if !["FAILED", "TIMED_OUT", "ABORTED"].contains(&status.as_str()) || arn.contains(":express:") {
        return Err(not_redrivable(&status));
    }
    let Some(point) = point.and_then(|p| serde_json::from_str::<Value>(&p).ok()) else {
        return Err(not_redrivable(&status));
    };
    let mut facts: Execution = serde_json::from_str(&facts).expect("stored facts parse");
    facts.redrive_count = Some(facts.redrive_count.unwrap_or(0) + 1);
    let t = now();
    w.conn.execute(
        "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stopped = NULL, facts = ?1, redrive_count = redrive_count + 1, redrive_date = ?2 WHERE arn = ?3",
        params![serde_json::to_string(&facts).expect("facts serialize"), t, arn],
    )?;
    w.runs.remove(arn);
    let Some(run) = w.run_for(arn)? else {
        return Err(not_redrivable(&status));
    };
    let state = point["state"]
        .as_str()
        .unwrap_or(&run.machine.root().start_at)
        .to_owned();
    let mut root = Thread::root(&state, point["input"].clone());
    if let Some(vars) = point["variables"].as_object() {
        root.variables = vars.clone();
    }
    let redriven = HistoryEvent {
        timestamp: t,
        kind: EventType::ExecutionRedriven,
        thread: "root".into(),
        details: json!({"redriveCount": facts.redrive_count}),
    };
    append_history(w, arn, vec![redriven])?;
    w.new_thread(arn, root);
    w.enqueue(arn, "root", t, &Event::Run)?;
    Ok(json!({"redriveDate": timestamp(t)}))
}

//! Activities (workers poll with GetActivityTask) and task tokens
//! (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).

use rusqlite::OptionalExtension;
use serde_json::{Value, json};
use stepwise_api::{ApiError, validate};
use stepwise_asl::{Event, StatesError};

use super::{Fail, Res};
use crate::catalog::SqlCatalog;
use crate::db::Db;
use crate::worker::{Poller, Reply, Worker};
use stepwise_engine::block_on;
use stepwise_engine::catalog;
use stepwise_engine::stepper::token_hash;

/// The longest a GetActivityTask call waits, as on AWS.
const LONG_POLL_MS: i64 = 60_000;

fn activity<'a>(db: &Db, body: &'a Value) -> Result<&'a str, Fail> {
    Ok(block_on(catalog::existing_activity(&SqlCatalog(db), body))?)
}

/// Claims the oldest waiting task of an activity: its token and input.
fn claim(w: &Worker, arn: &str) -> rusqlite::Result<Option<Value>> {
    let row: Option<(String, String, String)> = w
        .conn
        .query_row(
            "SELECT hash, token, input FROM tokens WHERE activity = ?1 AND claimed = 0 ORDER BY created LIMIT 1",
            [arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((hash, token, input)) = row else {
        return Ok(None);
    };
    // Handed out once: only the hash stays.
    w.conn.execute(
        "UPDATE tokens SET claimed = 1, token = NULL WHERE hash = ?1",
        [&hash],
    )?;
    Ok(Some(json!({"taskToken": token, "input": input})))
}

/// GetActivityTask: a task now, or the reply waits (up to 60 s) for one.
pub fn get_task(
    w: &mut Worker,
    body: &Value,
    reply: Reply,
) -> Result<(), (Reply, rusqlite::Error)> {
    let arn = match activity(&w.conn, body) {
        Ok(a) => a.to_owned(),
        Err(Fail::Api(e)) => {
            let _ = reply.send(Err(e));
            return Ok(());
        }
        Err(Fail::Db(e)) => return Err((reply, e)),
    };
    match claim(w, &arn) {
        Ok(Some(task)) => {
            let _ = reply.send(Ok(task));
            Ok(())
        }
        Ok(None) => {
            let deadline = w.now() + LONG_POLL_MS;
            w.pollers
                .entry(arn)
                .or_default()
                .push_back(Poller { deadline, reply });
            Ok(())
        }
        Err(e) => Err((reply, e)),
    }
}

/// A task was scheduled on an activity: hand it to a waiting worker.
pub fn offer(w: &mut Worker, arn: &str) -> rusqlite::Result<()> {
    let Some(poller) = w.pollers.get_mut(arn).and_then(|q| q.pop_front()) else {
        return Ok(());
    };
    match claim(w, arn)? {
        Some(task) => {
            let _ = poller.reply.send(Ok(task));
        }
        None => w
            .pollers
            .entry(arn.to_owned())
            .or_default()
            .push_front(poller),
    }
    Ok(())
}

/// Finds the task a token names; tokens are single use.
fn task(w: &mut Worker, body: &Value) -> Result<(String, String, String, u64), Fail> {
    let token = validate::string(body, "taskToken")?;
    if token.is_empty() || token.len() > 2048 {
        return Err(ApiError::invalid_token(format!("Invalid Token: '{token}'")).into());
    }
    let hash = token_hash(token);
    let row: Option<(String, String, i64)> = w
        .conn
        .query_row(
            "SELECT execution, thread, wait FROM tokens WHERE hash = ?1",
            [&hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((execution, thread, wait)) = row else {
        if token.len() != 48 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::invalid_token(format!("Invalid Token: '{token}'")).into());
        }
        return Err(ApiError::task_does_not_exist("Task Does Not Exist").into());
    };
    // The thread moved on (timeout, heartbeat timeout, stop): too late.
    let waiting = w
        .peek_thread(&execution, &thread)?
        .and_then(|t| t.current_wait())
        == Some(wait as u64);
    if !waiting {
        w.conn
            .execute("DELETE FROM tokens WHERE hash = ?1", [&hash])?;
        return Err(ApiError::task_timed_out("Task Timed Out").into());
    }
    Ok((hash, execution, thread, wait as u64))
}

pub fn send_success(w: &mut Worker, body: &Value) -> Res {
    let output = validate::string(body, "output")?;
    if output.len() > validate::MAX_PAYLOAD {
        return Err(
            ApiError::validation("The output exceeds the maximum size of 262144 bytes").into(),
        );
    }
    let value: Value = serde_json::from_str(output)
        .map_err(|e| ApiError::invalid_output(format!("Invalid output: '{e}'")))?;
    let (hash, execution, thread, wait) = task(w, body)?;
    w.conn
        .execute("DELETE FROM tokens WHERE hash = ?1", [&hash])?;
    w.enqueue(
        &execution,
        &thread,
        w.now(),
        &Event::TaskSucceeded {
            wait,
            output: value,
        },
    )?;
    Ok(json!({}))
}

pub fn send_failure(w: &mut Worker, body: &Value) -> Res {
    let error = StatesError {
        error: validate::optional_string(body, "error")?.map(str::to_owned),
        cause: validate::optional_string(body, "cause")?.map(str::to_owned),
    };
    let (hash, execution, thread, wait) = task(w, body)?;
    w.conn
        .execute("DELETE FROM tokens WHERE hash = ?1", [&hash])?;
    w.enqueue(
        &execution,
        &thread,
        w.now(),
        &Event::TaskFailed { wait, error },
    )?;
    Ok(json!({}))
}

pub fn send_heartbeat(w: &mut Worker, body: &Value) -> Res {
    let (_, execution, thread, wait) = task(w, body)?;
    w.enqueue(&execution, &thread, w.now(), &Event::TaskHeartbeat { wait })?;
    Ok(json!({}))
}

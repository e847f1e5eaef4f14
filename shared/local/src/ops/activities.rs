//! Activities (workers poll with GetActivityTask) and task tokens
//! (SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat).

use std::cell::RefCell;

use rusqlite::OptionalExtension;
use serde_json::{Value, json};
use stepwise_asl::Event;
use stepwise_engine::callbacks::{self, Callback, Tokens};
use stepwise_engine::stepper::{PortError, TokenTarget};

use super::{Fail, Res};
use crate::catalog::SqlCatalog;
use crate::db::Db;
use crate::worker::{Poller, Reply, Worker};
use stepwise_engine::block_on;
use stepwise_engine::catalog;

/// The longest a GetActivityTask call waits, as on AWS.
const LONG_POLL_MS: i64 = 60_000;

fn activity<'a>(db: &Db, body: &'a Value) -> Result<&'a str, Fail> {
    Ok(block_on(catalog::existing_activity(&SqlCatalog(db), body))?)
}

/// Claims the oldest waiting task of an activity: its token and input.
/// One whose state has moved on (it timed out, was retried, its branch
/// was cancelled) is no longer offered; its token stays, so that a late
/// answer is told it came too late.
fn claim(w: &mut Worker, arn: &str, worker: Option<&str>) -> rusqlite::Result<Option<Value>> {
    type Row = (String, String, String, String, String, i64);
    loop {
        let row: Option<Row> = w
            .conn
            .query_row(
                "SELECT hash, token, input, execution, thread, wait FROM tokens
                 WHERE activity = ?1 AND claimed = 0 ORDER BY created LIMIT 1",
                [arn],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((hash, token, input, execution, thread, wait)) = row else {
            return Ok(None);
        };
        let waits = w
            .peek_thread(&execution, &thread)?
            .and_then(|t| t.current_wait());
        if waits != Some(wait as u64) {
            w.conn.execute(
                "UPDATE tokens SET activity = NULL, token = NULL WHERE hash = ?1",
                [&hash],
            )?;
            continue;
        }
        // Handed out once: only the hash stays.
        w.conn.execute(
            "UPDATE tokens SET claimed = 1, token = NULL WHERE hash = ?1",
            [&hash],
        )?;
        // Its thread records ActivityStarted, by this worker.
        let started = Event::WorkerStarted {
            wait: wait as u64,
            worker: worker.map(str::to_owned),
        };
        let now = w.now();
        w.enqueue(&execution, &thread, now, &started)?;
        return Ok(Some(json!({"taskToken": token, "input": input})));
    }
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
    let worker = body["workerName"].as_str().map(str::to_owned);
    match claim(w, &arn, worker.as_deref()) {
        Ok(Some(task)) => {
            let _ = reply.send(Ok(task));
            Ok(())
        }
        Ok(None) => {
            let deadline = w.now() + LONG_POLL_MS;
            w.pollers.entry(arn).or_default().push_back(Poller {
                deadline,
                reply,
                worker,
            });
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
    match claim(w, arn, poller.worker.as_deref())? {
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

/// Task tokens as the embedded backend keeps them: a row per token hash,
/// in the worker's transaction; an answer joins the worker's queue.
pub struct SqlTokens<'a>(pub RefCell<&'a mut Worker>);

fn port(e: rusqlite::Error) -> PortError {
    Box::new(e)
}

impl Tokens for SqlTokens<'_> {
    async fn target(&self, hash: &str) -> Result<Option<TokenTarget>, PortError> {
        let w = self.0.borrow();
        let row = w
            .conn
            .query_row(
                "SELECT execution, thread, wait FROM tokens WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()
            .map_err(port)?;
        Ok(row.map(|(execution, thread, wait)| TokenTarget {
            execution,
            thread,
            wait: wait as u64,
        }))
    }

    /// Threads are saved with their tokens: one gone (its branch cancelled,
    /// its execution ended) or moved on no longer waits.
    async fn still_waits(&self, target: &TokenTarget) -> Result<bool, PortError> {
        let mut w = self.0.borrow_mut();
        let thread = w
            .peek_thread(&target.execution, &target.thread)
            .map_err(port)?;
        Ok(thread.and_then(|t| t.current_wait()) == Some(target.wait))
    }

    async fn forget(&self, hash: &str) -> Result<(), PortError> {
        let w = self.0.borrow();
        w.conn
            .execute("DELETE FROM tokens WHERE hash = ?1", [hash])
            .map_err(port)?;
        Ok(())
    }

    async fn answer(
        &self,
        _hash: &str,
        target: TokenTarget,
        event: Event,
    ) -> Result<(), PortError> {
        let mut w = self.0.borrow_mut();
        let now = w.now();
        w.enqueue(&target.execution, &target.thread, now, &event)
            .map_err(port)
    }
}

/// SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat.
pub fn callback(w: &mut Worker, kind: Callback, body: &Value) -> Res {
    Ok(block_on(callbacks::answer(
        &SqlTokens(RefCell::new(w)),
        kind,
        body,
    ))?)
}

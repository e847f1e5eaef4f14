//! Retention: executions are deleted, with their threads, messages, history
//! and task tokens, a while after they end (AWS keeps them 90 days), so a
//! long-running `serve` does not grow without bound. A background thread
//! asks the worker, which owns every write, to delete them in batches, so
//! the sweep never holds the writer for long.

use std::sync::mpsc::Sender;
use std::time::Duration;

use serde_json::{Value, json};
use stepwise_api::ApiError;
use tokio::sync::oneshot;

use crate::ops::Res;
use crate::worker::{Command, Worker};

/// How long ended executions are kept, and how often they are looked for.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub keep: Duration,
    pub every: Duration,
}

/// Executions deleted per worker command.
const BATCH: u64 = 1000;

/// The internal action the sweep sends to the worker.
pub(crate) const ACTION: &str = "Internal.ExpireEnded";

/// Starts the sweep: once now, then every `retention.every`.
pub(crate) fn start(commands: Sender<Command>, retention: Retention) {
    std::thread::Builder::new()
        .name("stepwise-retention".into())
        .spawn(move || {
            loop {
                match sweep(&commands, retention.keep) {
                    Ok(0) => {}
                    Ok(n) => eprintln!("stepwise: deleted {n} executions past retention"),
                    Err(Stopped) => return,
                }
                std::thread::sleep(retention.every);
            }
        })
        .expect("retention thread starts");
}

struct Stopped;

/// Deletes every execution that ended more than `keep` ago, a batch per
/// command; how many it deleted.
fn sweep(commands: &Sender<Command>, keep: Duration) -> Result<u64, Stopped> {
    let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
    let mut total = 0;
    loop {
        let (reply, rx) = oneshot::channel();
        let body = json!({"keepMillis": keep_ms, "limit": BATCH});
        let command = Command::Api {
            region: None,
            action: ACTION.into(),
            body,
            reply,
        };
        commands.send(command).map_err(|_| Stopped)?;
        let deleted = match rx.blocking_recv().map_err(|_| Stopped)? {
            Ok(v) => v["deleted"].as_u64().unwrap_or(0),
            Err(e) => {
                // A failed batch was rolled back; the next sweep tries again.
                eprintln!("stepwise: the retention sweep failed: {}", e.body());
                return Ok(total);
            }
        };
        total += deleted;
        if deleted < BATCH {
            return Ok(total);
        }
    }
}

/// `Internal.ExpireEnded`: deletes up to `limit` executions that ended
/// more than `keepMillis` ago, oldest first.
pub(crate) fn expire(w: &mut Worker, body: &Value) -> Res {
    let (Some(keep), Some(limit)) = (body["keepMillis"].as_u64(), body["limit"].as_i64()) else {
        return Err(ApiError::validation("keepMillis and limit are required").into());
    };
    let before = stepwise_engine::memory::wall_clock()
        .saturating_sub(i64::try_from(keep).unwrap_or(i64::MAX));
    let arns: Vec<String> = w
        .conn
        .prepare(
            "SELECT arn FROM executions
             WHERE stopped IS NOT NULL AND stopped < ?1 AND status <> 'RUNNING'
             ORDER BY stopped LIMIT ?2",
        )?
        .query_map(rusqlite::params![before, limit], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for arn in &arns {
        w.conn.execute(
            "DELETE FROM events WHERE eid = (SELECT eid FROM executions WHERE arn = ?1)",
            [arn],
        )?;
        w.conn.execute(
            "DELETE FROM child_pages WHERE arn IN (SELECT arn FROM child_executions WHERE execution = ?1)",
            [arn],
        )?;
        for table in [
            "threads",
            "messages",
            "tokens",
            "map_runs",
            "child_executions",
        ] {
            w.conn
                .execute(&format!("DELETE FROM {table} WHERE execution = ?1"), [arn])?;
        }
        w.conn
            .execute("DELETE FROM executions WHERE arn = ?1", [arn])?;
        w.runs.remove(arn);
    }
    Ok(json!({"deleted": arns.len()}))
}

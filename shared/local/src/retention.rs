//! Retention: executions are deleted, with their threads, messages, history
//! and task tokens, a while after they end (AWS keeps them 90 days), so a
//! long-running `serve` does not grow without bound. A background thread
//! deletes them in batches (the worker's, by asking it: it owns every
//! write; the stepper's store's, in a transaction each), so the sweep
//! never holds the writer for long.

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

/// Executions deleted per batch (a worker command, or a transaction).
pub(crate) const BATCH: usize = 1000;

/// The internal action the sweep sends to the worker.
pub(crate) const ACTION: &str = "Internal.ExpireEnded";

/// Why a batch of the sweep deleted nothing more.
pub(crate) enum Halt {
    /// The store has gone: no more sweeps.
    Stopped,
    /// It failed; the next sweep tries again.
    Failed(String),
}

/// Sweeps once now, then every `retention.every`, in a thread of its own:
/// `batch(keep, limit)` deletes up to `limit` executions that ended more
/// than `keep` ago and says how many, until one deletes fewer.
pub(crate) fn start_sweeps(
    retention: Retention,
    mut batch: impl FnMut(Duration, usize) -> Result<usize, Halt> + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name("stepwise-retention".into())
        .spawn(move || {
            loop {
                let mut total = 0;
                loop {
                    match batch(retention.keep, BATCH) {
                        Ok(n) => {
                            total += n;
                            if n < BATCH {
                                break;
                            }
                        }
                        Err(Halt::Failed(e)) => {
                            eprintln!("stepwise: the retention sweep failed: {e}");
                            break;
                        }
                        Err(Halt::Stopped) => return,
                    }
                }
                if total > 0 {
                    eprintln!("stepwise: deleted {total} executions past retention");
                }
                std::thread::sleep(retention.every);
            }
        });
    if let Err(e) = spawned {
        eprintln!("stepwise: the retention sweep cannot start: {e}");
    }
}

/// Starts the worker's sweep: each batch a command to the worker, which
/// owns every write. (A failed batch was rolled back.)
pub(crate) fn start(commands: Sender<Command>, retention: Retention) {
    start_sweeps(retention, move |keep, limit| {
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        let (reply, rx) = oneshot::channel();
        let body = json!({"keepMillis": keep_ms, "limit": limit});
        let command = Command::Api {
            region: None,
            action: ACTION.into(),
            body,
            reply,
        };
        commands.send(command).map_err(|_| Halt::Stopped)?;
        match rx.blocking_recv().map_err(|_| Halt::Stopped)? {
            Ok(v) => Ok(v["deleted"].as_u64().unwrap_or(0) as usize),
            Err(e) => Err(Halt::Failed(e.body().to_string())),
        }
    });
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

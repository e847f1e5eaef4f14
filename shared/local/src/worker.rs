//! The worker: one thread owns the SQLite connection. It takes API commands
//! and task results from a channel and due messages from its timer heap,
//! and handles a batch of them in one transaction (group commit): every
//! transition is saved with the messages it sends, so a crash at any point
//! loses nothing and repeats nothing. Replies go out after the commit.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use rusqlite::{Connection, params};

use crate::db::Db;
use serde_json::Value;
use stepwise_api::ApiError;
use stepwise_asl::{Event, StateMachine, TaskCall};
use tokio::sync::oneshot;

use crate::runs::Run;
use crate::tasks::Dispatch;
use stepwise_asl::definition::resource::Pattern;
use stepwise_engine::catalog::Scope;
use stepwise_engine::ports::Abandoned;

pub type Reply = oneshot::Sender<Result<Value, ApiError>>;

pub enum Command {
    Api {
        /// The request's region (its SigV4 scope), if it named one.
        region: Option<String>,
        action: String,
        body: Value,
        reply: Reply,
    },
    /// A dispatched task came back. `result` is `None` for a callback task
    /// whose request went out: it now waits for SendTaskSuccess/Failure.
    TaskDone {
        message: i64,
        execution: String,
        thread: String,
        wait: u64,
        result: Option<stepwise_engine::ports::TaskResult>,
    },
    /// A task that waits after its call (a callback, a `.sync` job) made
    /// the call: TaskSubmitted with its answer.
    Submitted {
        message: i64,
        execution: String,
        thread: String,
        wait: u64,
        output: Value,
    },
    /// A dispatched `states:startExecution` task: the worker starts the
    /// child (it owns the store).
    StartChild {
        message: i64,
        execution: String,
        thread: String,
        call: TaskCall,
    },
    /// A clean stop: the worker empties the write-ahead log, says so, ends.
    Close(Sender<()>),
    /// A look at the worker as this batch leaves it (its history written).
    Inspect(Box<dyn FnOnce(&Worker) + Send>),
}

/// A message waiting in the heap.
pub(crate) struct Msg {
    pub execution: String,
    pub thread: String,
    pub event: Event,
}

/// What the worker keeps about a running execution.
pub(crate) struct Poller {
    pub deadline: i64,
    pub reply: Reply,
    /// The name the worker gave (`workerName`), for ActivityStarted.
    pub worker: Option<String>,
}

pub struct Worker {
    pub(crate) conn: Db,
    pub(crate) heap: BinaryHeap<Reverse<(i64, i64)>>,
    msgs: HashMap<i64, Msg>,
    pub(crate) runs: HashMap<String, Run>,
    pub(crate) machines: HashMap<String, Arc<StateMachine>>,
    pub(crate) pollers: HashMap<String, VecDeque<Poller>>,
    replies: Vec<(Reply, Result<Value, ApiError>)>,
    pub(crate) to_dispatch: Vec<Dispatch>,
    /// Activities that got a task this batch: offered to waiting workers
    /// once its steps are done (a task is offered only while its thread,
    /// as saved, waits for it).
    pub(crate) to_offer: Vec<String>,
    dispatcher: Sender<Dispatch>,
    pub(crate) cache: crate::cache::Cache,
    /// The number the next execution started gets (see `Run::eid`).
    pub(crate) next_eid: i64,
    wal: crate::db::WalLimit,
    /// After a batch failed: one queued message per batch, so that one that
    /// fails again is known ([`Worker::fail_unsteppable`]).
    careful: bool,
    /// The queued message this batch delivered (careful batches only).
    delivering: Option<(i64, String)>,
    /// Dispatched `.sync` calls by in-flight message: the flag that tells
    /// the dispatcher following the job to stop it.
    followers: HashMap<i64, Follower>,
    /// Flags to raise once the batch that abandoned their calls commits.
    to_abandon: Vec<Abandoned>,
    /// Fast-forward (`stepwise run`): when nothing is left to do but wait
    /// and no task is out, the clock moves on to the next due message.
    pub(crate) fast_forward: bool,
    /// How far the clock has been moved on (ms; 0 unless fast-forward).
    pub(crate) skew: i64,
    /// Where requests that name no region are answered.
    scope: Scope,
    /// The task chain the dispatchers run (asked only whether a mock
    /// answers a state).
    pub(crate) tasks: crate::tasks::ChainTasks,
}

/// A dispatched `.sync` call and the wait it answers.
struct Follower {
    execution: String,
    thread: String,
    wait: u64,
    abandoned: Abandoned,
}

/// Whether a failed batch may succeed when tried again as it was (the disk,
/// a lock, memory), rather than failing for what one message holds.
fn transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DiskFull
                | SystemIoFailure
                | DatabaseBusy
                | DatabaseLocked
                | ReadOnly
                | CannotOpen
                | OutOfMemory
                | FileLockingProtocolFailed
        )
    )
}

/// A queued message as stored: id, execution, thread, due, event, the task
/// call out for dispatch, and a `.sync` job's start answer.
type Queued = (
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
);

/// A message that is not due by time: a task out for dispatch.
pub(crate) const IN_FLIGHT: i64 = i64::MAX;

impl Worker {
    pub fn new(
        conn: Connection,
        dispatcher: Sender<Dispatch>,
        tasks: crate::tasks::ChainTasks,
        fast_forward: bool,
        scope: Scope,
    ) -> rusqlite::Result<Worker> {
        // Past every number in use (events written by a command that was
        // rolled back may outlive their execution's row).
        let last: Option<i64> = conn.query_row(
            "SELECT MAX(n) FROM (SELECT MAX(eid) AS n FROM executions UNION ALL SELECT MAX(eid) FROM events)",
            [],
            |r| r.get(0),
        )?;
        Ok(Worker {
            next_eid: last.unwrap_or(0) + 1,
            wal: crate::db::WalLimit::new(&conn),
            careful: false,
            delivering: None,
            followers: HashMap::new(),
            to_abandon: Vec::new(),
            tasks,
            fast_forward,
            skew: 0,
            scope,
            conn: Db::new(conn),
            heap: BinaryHeap::new(),
            msgs: HashMap::new(),
            runs: HashMap::new(),
            machines: HashMap::new(),
            pollers: HashMap::new(),
            replies: Vec::new(),
            to_dispatch: Vec::new(),
            to_offer: Vec::new(),
            dispatcher,
            cache: Default::default(),
        })
    }

    /// Reloads the queue after a restart and re-sends tasks that were out.
    pub(crate) fn recover(&mut self) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, execution, thread, due, event, dispatch, started FROM messages")?;
        let rows: Vec<Queued> = stmt
            .query_map([], |r| Queued::try_from(r))?
            .collect::<Result<_, _>>()?;
        drop(stmt);
        for (id, execution, thread, due, event, dispatch, started) in rows {
            match dispatch {
                Some(call) => {
                    let Ok(call) = serde_json::from_str::<TaskCall>(&call) else {
                        continue;
                    };
                    let started: Option<Value> =
                        started.and_then(|s| serde_json::from_str(&s).ok());
                    // Its task gave up on it before the stop (the flag that
                    // said so was not kept): a job it started is stopped, a
                    // call not made yet is not made.
                    let waits = self.waits_for(&execution, &thread, call.wait)?;
                    if !waits && started.is_none() {
                        self.conn
                            .execute("DELETE FROM messages WHERE id = ?1", [id])?;
                        continue;
                    }
                    let abandoned = self.dispatch(id, execution, thread, call, started);
                    if !waits {
                        abandoned.raise();
                    }
                }
                None => {
                    if let Ok(event) = serde_json::from_str(&event) {
                        self.msgs.insert(
                            id,
                            Msg {
                                execution,
                                thread,
                                event,
                            },
                        );
                        self.heap.push(Reverse((due, id)));
                    }
                }
            }
        }
        self.flush_dispatch();
        Ok(())
    }

    pub fn run(mut self, rx: Receiver<Command>) {
        if let Err(e) = self.recover() {
            eprintln!("stepwise: could not reload the queue: {e}");
        }
        loop {
            let Some(batch) = self.next_commands(&rx) else {
                return;
            };
            let (closes, batch): (Vec<_>, Vec<_>) =
                (batch.into_iter()).partition(|c| matches!(c, Command::Close(_)));
            // A bug that panics while handling a batch must not stop the
            // worker (every later write would fail): it rolls back like an
            // error, and its callers get an internal error.
            let handled =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.batch(batch)))
                    .unwrap_or_else(|_| {
                        Err(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_INTERNAL),
                            Some(
                                "an internal error (a bug in Stepwise) interrupted the batch"
                                    .into(),
                            ),
                        ))
                    });
            let blamed = self.delivering.take();
            if let Err(e) = handled {
                eprintln!("stepwise: a batch failed and was rolled back: {e}");
                let _ = self.conn.execute_batch("ROLLBACK");
                // The same messages come back from the database: a bad one
                // would fail every batch from now on. Careful batches find
                // it, and its execution fails instead of the server.
                let blame = match blamed {
                    Some(m) if self.careful && !transient(&e) => Some(m),
                    _ => None,
                };
                self.careful = true;
                // Caches and the heap may hold what the rollback undid.
                self.heap.clear();
                self.msgs.clear();
                self.runs.clear();
                self.clear_cache();
                self.to_dispatch.clear();
                self.to_offer.clear();
                self.to_abandon.clear();
                for (reply, _) in self.replies.drain(..) {
                    let _ = reply.send(Err(ApiError::internal(format!(
                        "the request was rolled back: {e}"
                    ))));
                }
                if let Some((id, execution)) = blame
                    && let Err(e2) = self.fail_unsteppable(id, &execution, &e)
                {
                    eprintln!("stepwise: could not fail {execution}: {e2}");
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                if let Err(e) = self.recover() {
                    eprintln!("stepwise: could not reload the queue: {e}");
                }
            }
            if !closes.is_empty() {
                crate::db::checkpoint_truncate(&self.conn, std::time::Duration::from_secs(1));
                for c in closes {
                    if let Command::Close(done) = c {
                        let _ = done.send(());
                    }
                }
                return;
            }
        }
    }

    /// Fails the execution whose queued message `id` cannot be handled (its
    /// stored state is unreadable, or a bug in Stepwise fails its step
    /// every time): `States.Runtime`, in a transaction of its own, with its
    /// messages gone so that nothing delivers them again.
    fn fail_unsteppable(
        &mut self,
        id: i64,
        execution: &str,
        why: &rusqlite::Error,
    ) -> rusqlite::Result<()> {
        eprintln!("stepwise: message {id} cannot be handled ({why}): {execution} fails");
        self.clear_cache();
        self.runs.clear();
        self.conn.execute_batch("BEGIN")?;
        let cause =
            format!("An internal error occurred: the execution could not be stepped ({why})");
        let error = stepwise_asl::StatesError::custom("States.Runtime", cause);
        crate::driver::fail_execution(self, execution, error)?;
        self.flush()?;
        self.conn.execute_batch("COMMIT")
    }

    fn batch(&mut self, batch: Vec<Command>) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN")?;
        for c in batch {
            match c {
                Command::Api {
                    region,
                    action,
                    body,
                    reply,
                } => {
                    self.conn.execute("SAVEPOINT cmd", [])?;
                    match self.api(region.as_deref(), &action, body, reply) {
                        Ok(None) => {
                            self.conn.execute("RELEASE cmd", [])?;
                        }
                        Ok(Some((reply, result))) => {
                            if result.is_err() {
                                // A rejected call writes nothing.
                                self.conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd")?;
                            } else {
                                self.conn.execute("RELEASE cmd", [])?;
                            }
                            self.replies.push((reply, result));
                        }
                        Err((reply, e)) => {
                            self.conn.execute_batch("ROLLBACK TO cmd; RELEASE cmd")?;
                            self.replies
                                .push((reply, Err(ApiError::internal(e.to_string()))));
                        }
                    }
                }
                Command::TaskDone {
                    message,
                    execution,
                    thread,
                    wait,
                    result,
                } => {
                    self.followers.remove(&message);
                    // Gone: the execution ended or the task was cancelled meanwhile.
                    if self.take_in_flight(message)?
                        && let Some(result) = result
                    {
                        self.deliver_result(&execution, &thread, wait, result)?;
                    }
                }
                Command::Submitted {
                    message,
                    execution,
                    thread,
                    wait,
                    output,
                } => {
                    // A job followed: kept with its message, so that a
                    // restart follows it again instead of starting another.
                    if self.followers.contains_key(&message) {
                        self.conn.execute(
                            "UPDATE messages SET started = ?1 WHERE id = ?2",
                            params![output.to_string(), message],
                        )?;
                    }
                    let event = Event::TaskSubmitted { wait, output };
                    self.enqueue(&execution, &thread, self.now(), &event)?;
                }
                Command::Close(_) => {}
                Command::Inspect(look) => {
                    self.flush_history()?;
                    look(self);
                }
                Command::StartChild {
                    message,
                    execution,
                    thread,
                    call,
                } => {
                    self.followers.remove(&message);
                    if !self.take_in_flight(message)? {
                        continue;
                    }
                    self.conn.execute_batch("SAVEPOINT child")?;
                    let started =
                        crate::ops::executions::start_child(self, &execution, &thread, &call);
                    let result = match started {
                        Ok(r) => {
                            self.conn.execute_batch("RELEASE child")?;
                            r
                        }
                        Err(e) => {
                            self.conn
                                .execute_batch("ROLLBACK TO child; RELEASE child")?;
                            Some(Err(stepwise_asl::StatesError::custom(
                                "States.Runtime",
                                e.to_string(),
                            )))
                        }
                    };
                    if let Some(result) = result {
                        self.deliver_result(&execution, &thread, call.wait, result)?;
                    }
                }
            }
        }
        self.drain_due()?;
        for arn in std::mem::take(&mut self.to_offer) {
            crate::ops::activities::offer(self, &arn)?;
        }
        self.expire_pollers();
        self.flush()?;
        self.conn.execute_batch("COMMIT")?;
        for (reply, result) in self.replies.drain(..) {
            let _ = reply.send(result);
        }
        self.flush_dispatch();
        self.wal.after_commit(&self.conn);
        Ok(())
    }

    /// Removes a dispatched task's in-flight marker; false when it is gone.
    fn take_in_flight(&mut self, message: i64) -> rusqlite::Result<bool> {
        let deleted = self
            .conn
            .execute("DELETE FROM messages WHERE id = ?1", [message])?;
        Ok(deleted > 0)
    }

    /// Queues a task's result for its thread.
    pub(crate) fn deliver_result(
        &mut self,
        execution: &str,
        thread: &str,
        wait: u64,
        result: stepwise_engine::ports::TaskResult,
    ) -> rusqlite::Result<()> {
        self.enqueue(
            execution,
            thread,
            self.now(),
            &Event::task_result(wait, result),
        )
    }

    fn flush_dispatch(&mut self) {
        for d in self.to_dispatch.drain(..) {
            let _ = self.dispatcher.send(d);
        }
        for a in self.to_abandon.drain(..) {
            a.raise();
        }
    }

    /// Sends a task call out (after the commit), `message` being its
    /// in-flight marker; a `.sync` call can be told it is abandoned.
    pub(crate) fn dispatch(
        &mut self,
        message: i64,
        execution: String,
        thread: String,
        call: TaskCall,
        started: Option<Value>,
    ) -> Abandoned {
        let abandoned = Abandoned::default();
        if matches!(call.pattern, Pattern::Sync | Pattern::Sync2) {
            let follower = Follower {
                execution: execution.clone(),
                thread: thread.clone(),
                wait: call.wait,
                abandoned: abandoned.clone(),
            };
            self.followers.insert(message, follower);
        }
        self.to_dispatch.push(Dispatch {
            message,
            execution,
            thread,
            call,
            abandoned: abandoned.clone(),
            started,
        });
        abandoned
    }

    /// Tells the dispatched `.sync` calls of `execution` for which
    /// `gone(thread, wait)` holds that their tasks no longer wait for them
    /// (once this batch commits): the jobs they follow are stopped.
    pub(crate) fn abandon(&mut self, execution: &str, gone: impl Fn(&str, u64) -> bool) {
        if self.followers.is_empty() {
            return;
        }
        let hit: Vec<i64> = self
            .followers
            .iter()
            .filter(|(_, f)| f.execution == execution && gone(&f.thread, f.wait))
            .map(|(m, _)| *m)
            .collect();
        for m in hit {
            if let Some(f) = self.followers.remove(&m) {
                self.to_abandon.push(f.abandoned);
            }
        }
    }

    /// Queues a message in this transaction. One due now is handled in this
    /// batch, in memory (written only if the batch runs out of budget).
    pub(crate) fn enqueue(
        &mut self,
        execution: &str,
        thread: &str,
        due: i64,
        event: &Event,
    ) -> rusqlite::Result<()> {
        if due <= self.now() {
            let msg = Msg {
                execution: execution.to_owned(),
                thread: thread.to_owned(),
                event: event.clone(),
            };
            self.cache.immediate.push_back(msg);
            return Ok(());
        }
        self.persist_message(execution, thread, due, event)
    }

    /// Writes a message to the queue table and the timer heap.
    pub(crate) fn persist_message(
        &mut self,
        execution: &str,
        thread: &str,
        due: i64,
        event: &Event,
    ) -> rusqlite::Result<()> {
        self.mark_persisted(execution);
        let text = serde_json::to_string(event).expect("events serialize");
        self.conn.execute(
            "INSERT INTO messages (execution, thread, due, event) VALUES (?1, ?2, ?3, ?4)",
            params![execution, thread, due, text],
        )?;
        let id = self.conn.last_insert_rowid();
        self.msgs.insert(
            id,
            Msg {
                execution: execution.to_owned(),
                thread: thread.to_owned(),
                event: event.clone(),
            },
        );
        self.heap.push(Reverse((due, id)));
        Ok(())
    }

    /// Processes every message that is due, including those that become due
    /// while doing so, up to a budget per batch.
    fn drain_due(&mut self) -> rusqlite::Result<()> {
        let mut budget = 20_000;
        let careful = self.careful;
        while budget > 0 {
            // A failed message fails the whole batch, which is rolled back
            // and replayed from the database: no savepoint per message.
            if let Some(msg) = self.cache.immediate.pop_front() {
                crate::driver::step_thread(self, &msg.execution, &msg.thread, msg.event)?;
                budget -= 1;
                continue;
            }
            let t = self.now();
            match self.heap.peek() {
                Some(Reverse((due, _))) if *due <= t => {}
                _ => break,
            }
            let Some(Reverse((due, id))) = self.heap.pop() else {
                break;
            };
            let Some(msg) = self.msgs.remove(&id) else {
                continue;
            };
            if self.careful {
                if self.delivering.is_some() {
                    // One per careful batch: put it back for the next.
                    self.heap.push(Reverse((due, id)));
                    self.msgs.insert(id, msg);
                    return Ok(());
                }
                self.delivering = Some((id, msg.execution.clone()));
            }
            if let Err(e) = self.deliver(id, msg) {
                eprintln!("stepwise: message {id} failed ({e}); it stays queued");
                return Err(e);
            }
            budget -= 1;
        }
        if careful && self.delivering.is_none() {
            self.careful = false; // nothing was due: the bad one is dealt with
        }
        Ok(())
    }

    fn deliver(&mut self, id: i64, msg: Msg) -> rusqlite::Result<()> {
        self.conn
            .execute("DELETE FROM messages WHERE id = ?1", [id])?;
        crate::driver::step_thread(self, &msg.execution, &msg.thread, msg.event)
    }

    /// Handles one API call. `Ok(None)` means the reply was kept for later
    /// (a long poll); errors of the database come back with the reply.
    #[allow(clippy::type_complexity)]
    fn api(
        &mut self,
        region: Option<&str>,
        action: &str,
        body: Value,
        reply: Reply,
    ) -> Result<Option<(Reply, Result<Value, ApiError>)>, (Reply, rusqlite::Error)> {
        // Reads see this batch's history too.
        if crate::ops::is_read(action)
            && let Err(e) = self.flush_history()
        {
            return Err((reply, e));
        }
        if action == "GetActivityTask" {
            return match crate::ops::activities::get_task(self, &body, reply) {
                Ok(()) => Ok(None),
                Err((reply, e)) => Err((reply, e)),
            };
        }
        match crate::ops::dispatch(self, &self.scope.for_request(region), action, &body) {
            Ok(result) => Ok(Some((reply, result))),
            Err(e) => Err((reply, e)),
        }
    }
}

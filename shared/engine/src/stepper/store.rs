//! What the stepper keeps and sends: queue messages, thread and execution
//! records, task tokens, and the `Store` and `Queue` ports the DynamoDB/SQS
//! and in-memory adapters implement.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use stepwise_asl::exec::{HistoryEvent, RedrivePoint};
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, Event, Execution, MapRun, Outcome, TaskCall, Thread};

/// Errors from a store or a queue.
pub type PortError = Box<dyn std::error::Error + Send + Sync>;

/// A queue message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Deterministic: the sending thread, the sequence number its transition
    /// saved, and the position in its outbox. A redelivery has the same id.
    pub id: String,
    /// When it is due (epoch milliseconds).
    pub at: Millis,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Body {
    Step(Box<StepMessage>),
    /// A transition's several messages, handled (or forwarded, when not yet
    /// due) by whoever receives the bundle.
    Bundle(Vec<Envelope>),
    /// A look at the job a thread's `.sync` task follows.
    Poll(Box<PollMessage>),
}

impl Body {
    /// The executions whose threads the message is for.
    pub fn executions(&self) -> Vec<&str> {
        match self {
            Body::Step(m) => vec![&m.execution],
            Body::Poll(p) => vec![&p.execution],
            Body::Bundle(inner) => inner.iter().flat_map(|e| e.body.executions()).collect(),
        }
    }

    /// The thread a step or a look is for.
    pub fn thread(&self) -> Option<&str> {
        match self {
            Body::Step(m) => Some(&m.thread),
            Body::Poll(p) => Some(&p.thread),
            Body::Bundle(_) => None,
        }
    }
}

/// A look at the job a `.sync` task started, due a while after the last:
/// the job's end answers the task; while it runs, the next look is sent;
/// once the task no longer waits for it, the job is stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollMessage {
    pub execution: String,
    pub thread: String,
    /// The task's call (its wait, resource and parameters).
    pub call: TaskCall,
    /// The answer of the call that started the job.
    pub started: Value,
    /// How many looks came before this one.
    pub looks: u32,
    /// The sender's logical clock.
    pub lamport: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMessage {
    pub execution: String,
    pub thread: String,
    /// The sequence number a `Run` expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The sender's logical clock, so history events merge in causal order.
    pub lamport: u64,
    pub event: Event,
    /// A child's first `Run` carries the new thread: children are written
    /// when they first run, not by the parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Thread>,
    /// A child's end: the clock its thread started at. Its parent's clock
    /// moves on by what the child made since, so that the parent's next
    /// event's order counts every event before it, as its id does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born: Option<u64>,
}

/// A history event with its logical time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logged {
    pub order: u64,
    pub event: HistoryEvent,
    /// Its `previousEventId` as another driver numbered it, kept when a
    /// history moved here from that driver's tables: the stepper works the
    /// link out from each event's thread, which such an event does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<u64>,
}

/// What a transition must do after its save.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Envelope>,
    /// The root thread finished: record how the execution ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<Outcome>,
    /// Nested executions whose `.sync` task gave up on them: stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Distributed Map runs that started or ended: kept for the Map Run API.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub map_runs: Vec<MapRun>,
    /// Child executions of a Distributed Map that started, ran a page of
    /// events or ended: kept by their ARN.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_runs: Vec<ChildRecord>,
}

/// One thread as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `None`: a tombstone, for a child cancelled before it first ran.
    pub thread: Option<Thread>,
    pub seq: u64,
    pub lamport: u64,
    /// The id of the message whose transition wrote this record.
    pub cause: String,
    pub outbox: Outbox,
    /// History events not yet moved to a page item.
    pub page: Vec<Logged>,
    /// How many page items this thread has written.
    pub pages: u32,
    /// Nested executions this thread's `.sync` task waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Child>,
    /// The clock when the thread started (its first message's).
    #[serde(default)]
    pub born: u64,
}

/// A nested execution a thread's task started and waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    pub wait: u64,
    pub arn: String,
}

/// An execution as stored: its facts, its definition and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub facts: Execution,
    pub definition: String,
    pub express: bool,
    /// `RUNNING` until the root thread finishes.
    pub status: String,
    pub outcome: Option<Outcome>,
    pub stopped: Option<Millis>,
    /// The parent's `states:startExecution.sync` task waiting for this
    /// execution to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentTask>,
    /// The task (any pattern) that started this execution: starting it
    /// again from the same task, after a crash, is the same start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_by: Option<TokenTarget>,
    /// When it was last redriven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redriven: Option<Millis>,
    /// The version that runs (given, or picked by an alias), and the alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The input as the caller wrote it, when that is not how the facts'
    /// input prints (DescribeExecution answers it as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_text: Option<String>,
    /// Where a redrive starts, for an ended execution moved here from the
    /// tables of the embedded backend's former driver, which kept it on the
    /// execution rather than in a thread record (used while the execution
    /// has no root thread record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redrive_point: Option<Box<RedrivePoint>>,
}

impl ExecutionRecord {
    /// Its history's first event, made from its facts whenever the history
    /// is read (so a store keeps the input once).
    pub fn started(&self) -> Logged {
        Logged {
            order: 0,
            event: HistoryEvent::execution_started(&self.facts),
            previous: None,
        }
    }

    /// A new execution, RUNNING, of `definition`.
    pub fn running(facts: Execution, definition: String, express: bool) -> ExecutionRecord {
        ExecutionRecord {
            facts,
            definition,
            express,
            status: "RUNNING".into(),
            outcome: None,
            stopped: None,
            parent: None,
            started_by: None,
            redriven: None,
            version: None,
            alias: None,
            input_text: None,
            redrive_point: None,
        }
    }
}

/// A task in another execution that waits for this one (`.sync`/`.sync:2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentTask {
    pub target: TokenTarget,
    /// `.sync:2`: `Input` and `Output` as JSON rather than JSON text.
    pub json: bool,
}

/// Where a task token's answer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenTarget {
    pub execution: String,
    pub thread: String,
    pub wait: u64,
}

/// An activity task waiting for a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// The activity's ARN.
    pub activity: String,
    pub input: serde_json::Value,
}

/// A task token as stored: its SHA-256, so a stolen table does not reveal
/// live tokens.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How a conditional save went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Done,
    /// Another writer saved first; the message is retried later.
    Conflict,
    /// The record is over the store's item limit.
    TooLarge,
}

pub trait Store {
    fn execution(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ExecutionRecord>, PortError>>;
    /// Creates the execution; false if one with this ARN exists. Its
    /// ExecutionStarted is not kept: it is [`ExecutionRecord::started`].
    fn create(&self, record: &ExecutionRecord) -> impl Future<Output = Result<bool, PortError>>;
    fn load(
        &self,
        execution: &str,
        thread: &str,
    ) -> impl Future<Output = Result<Option<Record>, PortError>>;
    /// Saves `record` if the stored sequence number is `expected` (`None`:
    /// if there is no record yet).
    fn save(
        &self,
        execution: &str,
        thread: &str,
        record: &Record,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<Saved, PortError>>;
    /// How many times the store has lost writes it had accepted: none for
    /// a store whose every write is durable on its own (DynamoDB); a lost
    /// transaction on one that commits in groups (SQLite).
    fn losses(&self) -> u64 {
        0
    }
    /// How many states a thread may step through in one transition, when
    /// nothing but the thread itself waits on the step before (the next
    /// state, a Wait already over): one, a save after every state, on a
    /// store whose items have a size limit that many states' events could
    /// pass (DynamoDB's 400 KB); more on one that saves cheaply in a
    /// transaction (SQLite).
    fn chain(&self) -> usize {
        1
    }
    /// The record this store saved for the thread, handed back once its
    /// transition is carried out, for a store that keeps records in memory
    /// for their next step. It keeps it only if no later save came and no
    /// write was lost since `losses` said `since`, read before the save (a
    /// save lost with its transaction can be made again by another
    /// delivery, with the same sequence number and other events).
    fn keep(&self, execution: &str, thread: &str, record: Record, since: u64) {
        let _ = (execution, thread, record, since);
    }
    /// Writes a full page of history events (idempotent: same key, same events).
    fn put_page(
        &self,
        execution: &str,
        thread: &str,
        page: u32,
        events: &[Logged],
    ) -> impl Future<Output = Result<(), PortError>>;
    /// RedriveExecution: makes an ended execution (status `from`) run again
    /// with `record`'s facts; false if its status is no longer `from`.
    fn reopen(
        &self,
        record: &ExecutionRecord,
        from: &str,
    ) -> impl Future<Output = Result<bool, PortError>>;
    /// Records the outcome if the execution is still running; otherwise
    /// answers the outcome it ended with first (a redelivered end, or a
    /// StopExecution that came before it).
    fn complete(
        &self,
        execution: &str,
        outcome: &Outcome,
        at: Millis,
    ) -> impl Future<Output = Result<Option<Outcome>, PortError>>;
    /// Remembers a task token (by its hash) until its thread moves on.
    fn put_token(
        &self,
        hash: &str,
        target: &TokenTarget,
    ) -> impl Future<Output = Result<(), PortError>>;
    fn token(&self, hash: &str) -> impl Future<Output = Result<Option<TokenTarget>, PortError>>;
    fn delete_token(&self, hash: &str) -> impl Future<Output = Result<(), PortError>>;
    /// Offers an activity task (its token and input) to GetActivityTask.
    fn offer(
        &self,
        offer: &Offer,
        token: &str,
        at: Millis,
    ) -> impl Future<Output = Result<(), PortError>>;
    /// Whether the activity `arn` exists: a Task that would offer it a task
    /// fails when it does not. A store that keeps no catalog says it does.
    fn activity_exists(&self, _arn: &str) -> impl Future<Output = Result<bool, PortError>> {
        async { Ok(true) }
    }
    /// Every history event of the execution, in no particular order.
    fn history(&self, execution: &str) -> impl Future<Output = Result<Vec<Logged>, PortError>>;
    /// Keeps a Distributed Map run of `execution` (idempotent: the run's
    /// ARN is its key, the later write wins).
    fn put_map_run(
        &self,
        execution: &str,
        run: &MapRun,
    ) -> impl Future<Output = Result<(), PortError>>;
    /// Keeps a child execution of a Distributed Map of `execution` (by its
    /// ARN: a record replaces the one kept as [`ChildRecord::replaces`]
    /// says) and its events as page `(attempt, page)` of its history
    /// (idempotent).
    fn put_child(
        &self,
        execution: &str,
        record: &ChildRecord,
    ) -> impl Future<Output = Result<(), PortError>>;
    /// Keeps several child executions, as [`Store::put_child`] each.
    fn put_children(
        &self,
        execution: &str,
        records: &[ChildRecord],
    ) -> impl Future<Output = Result<(), PortError>> {
        async move {
            for r in records {
                self.put_child(execution, r).await?;
            }
            Ok(())
        }
    }
}

pub trait Queue {
    /// Sends each message to be delivered at or after its `at`; a delay past
    /// the queue's limit is delivered early and sent on again by the stepper.
    fn send(
        &self,
        messages: &[Envelope],
        now: Millis,
    ) -> impl Future<Output = Result<(), PortError>>;

    /// The message a delivered body holds. A queue that keeps messages too
    /// large for it aside, and sends a pointer instead, reads them back here.
    fn read(&self, body: &str) -> impl Future<Output = Result<Envelope, PortError>> {
        async move { Ok(serde_json::from_str(body)?) }
    }
}

impl<Q: Queue> Queue for &Q {
    async fn send(&self, messages: &[Envelope], now: Millis) -> Result<(), PortError> {
        (*self).send(messages, now).await
    }

    async fn read(&self, body: &str) -> Result<Envelope, PortError> {
        (*self).read(body).await
    }
}

/// The execution status AWS reports for an outcome.
pub use stepwise_asl::exec::status_of;

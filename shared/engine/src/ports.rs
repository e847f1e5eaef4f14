//! The engine's ports: small traits the backends implement.
//!
//! `Tasks` carries out task invocations. The durable backends (SQLite,
//! DynamoDB + SQS) add `Store` and `Queue`: a store saves a thread only if its
//! sequence number is still the one loaded, with the messages the transition
//! must send (its outbox) in the same write; a queue delivers a message at or
//! after a time.

use std::future::Future;

use serde_json::Value;
use stepwise_asl::{Event, StatesError, TaskCall, Thread};

/// The answer to a task invocation.
pub type TaskResult = Result<Value, StatesError>;

/// What a task runner knows about the invocation besides the call itself.
#[derive(Debug, Clone)]
pub struct TaskContext<'a> {
    pub execution_arn: &'a str,
    pub thread: &'a str,
}

pub trait Tasks {
    fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> impl Future<Output = TaskResult>;
}

/// A message for one thread of one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub execution: String,
    pub thread: String,
    /// The thread sequence number a `Run` expects; `None` for events that
    /// carry their own `wait` id.
    pub seq: Option<u64>,
    pub event: Event,
}

/// A stored thread and its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub thread: Thread,
    pub seq: u64,
}

pub trait Store {
    type Error: std::error::Error + Send + Sync + 'static;

    fn load(
        &self,
        execution: &str,
        thread: &str,
    ) -> impl Future<Output = Result<Option<Versioned>, Self::Error>>;

    /// Saves `thread` at `seq + 1` if the stored sequence number is still
    /// `seq`, together with `outbox`. Returns false when another writer won.
    fn save(
        &self,
        execution: &str,
        thread: &Thread,
        seq: u64,
        outbox: &[Message],
    ) -> impl Future<Output = Result<bool, Self::Error>>;
}

pub trait Queue {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Delivers `message` at or after `at` (epoch milliseconds).
    fn send(&self, message: &Message, at: i64) -> impl Future<Output = Result<(), Self::Error>>;
}

pub trait Clock {
    fn now(&self) -> i64;
}

//! # stepwise-aws
//!
//! The serverless engine's adapters: [`DynamoStore`] (one table, single-table
//! design) and [`SqsQueue`] (one standard queue), behind the stepper's
//! `Store`, `Queue` and `Inbox` ports, plus the client setup from the
//! standard AWS environment and a [`Meter`] that counts requests and capacity
//! units for the cost benchmark.

#![forbid(unsafe_code)]

mod codec;
mod config;
mod dynamo;
mod lambda;
mod meter;
pub mod moto;

mod sdk;
pub mod service;
pub mod services;
mod sqs;

pub use config::{Clients, ConfigError};
pub use dynamo::{DynamoStore, ExecutionLine};
pub use lambda::LambdaTasks;
pub use meter::{Meter, Usage};
pub use sqs::SqsQueue;

/// Days a finished execution stays readable (AWS keeps Standard executions
/// for 90 days after they close).
pub const RETENTION_DAYS: i64 = 90;

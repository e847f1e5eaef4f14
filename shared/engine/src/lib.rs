//! # stepwise-engine
//!
//! Runs executions of a [`StateMachine`](stepwise_asl::StateMachine) by carrying
//! out the effects that the sans-IO step function returns. The ports
//! ([`ports`]) are the seams the backends plug into; [`memory`] is the
//! in-memory driver with a virtual clock that `stepwise run` and the tests use.

#![forbid(unsafe_code)]

mod block_on;
pub mod memory;
pub mod mock;
pub mod ports;
pub mod report;
pub mod stepper;
pub mod tasks;

pub use block_on::block_on;
pub use memory::{Runner, RunnerOptions};
pub use report::{Report, Status};

//! # stepwise-asl
//!
//! The Amazon States Language: parse and validate a definition into a
//! [`StateMachine`], then advance its executions one event at a time with the
//! sans-IO [`step`] function. No I/O, no clock, no randomness of its own: the
//! time and a random seed are inputs, effects are outputs.
//!
//! ```
//! use serde_json::json;
//! use stepwise_asl::{Env, Event, Effect, Execution, Outcome, StateMachine, Thread, step};
//!
//! let machine = StateMachine::parse(
//!     r#"{"StartAt": "Hi", "States": {"Hi": {"Type": "Pass", "Result": "hello", "End": true}}}"#,
//!     Default::default(),
//! ).unwrap();
//! let exec = Execution {
//!     arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
//!     name: "e".into(),
//!     input: json!({}),
//!     start_time: 0,
//!     role_arn: String::new(),
//!     state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
//!     state_machine_name: "m".into(),
//!     redrive_count: Some(0),
//!     given_context: None,
//!     state_name: None,
//!     mock: None,
//! };
//! let mut thread = Thread::root(&machine.root().start_at, json!({}));
//! let out = step(&machine, &exec, &mut thread, Event::Run, &Env { now: 0, seed: 1, event_id: 2, history: true, spawn_bytes: 0, nonce: 9, missing_activity: None });
//! assert_eq!(out.effects, vec![Effect::Finish(Outcome::Succeeded(json!("hello")))]);
//! ```

#![forbid(unsafe_code)]

pub mod catch;
pub mod choice;
pub mod definition;
pub mod error;
pub mod exec;
pub mod intrinsic;
pub mod jsonata;
pub mod limits;
pub mod path;
pub mod random;
pub mod retry;
pub mod scope;
pub mod states;
pub mod template;
pub mod timestamp;
pub mod variable_refs;

pub use definition::{Invalid, Options, Problem, StateMachine};
pub use error::{ErrorName, StatesError};
pub use exec::{
    ChildRecord, Effect, Env, Event, Execution, Handover, HistoryEvent, MapRun, MapRunUpdate,
    MockCase, Outcome, Output, TaskCall, Thread, TimerKind, step,
};
pub use variable_refs::variable_references;

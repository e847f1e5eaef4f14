//! # stepwise-engine
//!
//! Runs executions of a [`StateMachine`](stepwise_asl::StateMachine) by carrying
//! out the effects that the sans-IO step function returns. The ports
//! ([`ports`]) are the seams the backends plug into; [`memory`] is the
//! in-memory driver with a virtual clock that `stepwise run` and the tests use.
//! [`api`] is the Step Functions API as a backend serves it (the wire
//! protocol, `stepwise-api`, sits on top of it).

#![forbid(unsafe_code)]

pub mod api;
mod block_on;
pub mod callbacks;
pub mod catalog;
pub mod children;
pub mod console;
pub mod driver;
pub mod executions;
pub mod items;
pub mod map_runs;
pub mod memory;
pub mod mock;
pub mod mock_result;
pub mod nested;
pub mod ports;
pub mod report;
pub mod stepper;
pub mod tasks;

pub use block_on::block_on;

/// 64 unpredictable bits: the process's random SipHash keys (seeded by the
/// operating system) over a counter and the time. For task tokens.
pub fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let mut h = KEYS
        .get_or_init(std::collections::hash_map::RandomState::new)
        .build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
/// A random (version 4) UUID, from [`entropy`]: execution names, revision
/// ids and request ids on every backend.
pub fn uuid() -> String {
    stepwise_asl::random::Random::new(entropy()).uuid()
}

pub use memory::{Runner, RunnerOptions};
pub use report::{Report, Status};

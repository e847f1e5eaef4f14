//! TestState's look inside a Map state: its items at each stage of its
//! input processing and its settings, computed by the code that runs it.

use serde_json::{Map, Value};

use super::fanout::{threshold_exceeded, within_tolerance};
use super::{Env, Execution, Step, Thread};
use crate::definition::StateMachine;
use crate::error::StatesError;
use crate::states::Kind;
pub use crate::states::map::ReadData;

/// What TestState's inspection data shows of a Map state, and whether
/// `failures` failed iterations would fail it.
pub struct MapInspection {
    /// `afterItemsPath`, `afterItemSelector`, `afterItemBatcher` (each as
    /// JSON text), `toleratedFailureCount`, `toleratedFailurePercentage`,
    /// `maxConcurrency`, as far as the state has them.
    pub fields: Map<String, Value>,
    /// The error `failures` failed iterations raise (past the tolerance).
    pub failure: Option<StatesError>,
}

/// Inspects the Map state `thread` is at, on its input (with an ItemReader,
/// on what `read` says it reads). `None` when it is not a Map state.
pub fn inspect_map(
    machine: &StateMachine,
    exec: &Execution,
    thread: &Thread,
    env: &Env,
    failures: usize,
    read: &ReadData<'_>,
) -> Option<Result<MapInspection, StatesError>> {
    let state = machine.scopes.get(thread.scope)?.get(&thread.state)?;
    let Kind::Map(m) = &state.kind else {
        return None;
    };
    let mut s = Step::new(machine, exec, env);
    let mut t = thread.clone();
    Some(
        m.inspect(&mut s, &mut t, state, read)
            .map(|(fields, mut f)| {
                f.failed = failures;
                let failure = (failures > 0 && !within_tolerance(&f)).then(threshold_exceeded);
                MapInspection { fields, failure }
            }),
    )
}

//! Succeed: ends the thread successfully with its (filtered) input.

use crate::definition::State;
use crate::exec::{Step, Thread};

pub fn run(s: &mut Step<'_>, t: &mut Thread, state: &State) {
    match s.effective_input(t, state, None) {
        Ok(input) => s.complete(t, state, input),
        Err(e) => s.fail_state(t, state, e),
    }
}

//! Pass: passes its input (or `Result`) on.

use serde_json::Value;

use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::definition::{Builder, Lang, State};
use crate::exec::{Step, Thread};

#[derive(Debug, Clone)]
pub struct Pass {
    pub result: Option<Value>,
}

impl Pass {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, _p: &mut Problems) -> Pass {
        // JSONata Pass states shape their output with `Output` instead.
        let result = if b.current == Lang::JsonPath {
            f.raw("Result").cloned()
        } else {
            None
        };
        Pass { result }
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        let untouched = state.flow.input_path == crate::definition::Selector::Whole
            && state.flow.parameters.is_none();
        let effective = match &self.result {
            Some(r) if untouched => Ok(r.clone()),
            Some(r) => s.effective_input(t, state, None).map(|_| r.clone()),
            None => s.effective_input(t, state, None),
        };
        match effective {
            Ok(result) => s.complete(t, state, result),
            Err(e) => s.fail_state(t, state, e),
        }
    }
}

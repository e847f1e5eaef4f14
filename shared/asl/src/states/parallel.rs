//! Parallel: runs every branch on the same input; the output is the array of
//! the branches' outputs; the first failing branch fails the state.

use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::definition::{Builder, ScopeId, State};
use crate::exec::{Fanout, Step, Thread};

#[derive(Debug, Clone)]
pub struct Parallel {
    pub branches: Vec<ScopeId>,
}

impl Parallel {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Parallel> {
        let at = f.ptr("Branches");
        let Some(list) = f.array("Branches", p) else {
            if !f.has("Branches") {
                p.schema(&f.at, "These fields are required: [Branches]");
            }
            return None;
        };
        let mut branches = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Some(obj) = v.as_object() else {
                p.schema(&here, "A branch must be an object");
                continue;
            };
            let mut bf = Fields::new(obj, here);
            bf.string("Comment", p);
            bf.raw("QueryLanguage");
            branches.push(b.scope(&mut bf, p));
            bf.finish(p);
        }
        Some(Parallel { branches })
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        let input = match s.effective_input(t, state, None) {
            Ok(v) => v,
            Err(e) => return s.fail_state(t, state, e),
        };
        let n = self.branches.len();
        let fanout = Fanout {
            selector_input: input,
            ..Fanout::new(n)
        };
        s.fan_out(t, state, fanout);
    }
}

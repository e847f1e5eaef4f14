//! Choice: the first rule that matches names the next state.

use crate::choice::{ChoiceRule, Rule};
use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::definition::{Selector, State};
use crate::error::{ErrorName, StatesError};
use crate::exec::{Step, Thread};

#[derive(Debug, Clone)]
pub struct Choice {
    pub choices: Vec<ChoiceRule>,
    pub default: Option<String>,
}

impl Choice {
    pub fn parse(f: &mut Fields<'_>, p: &mut Problems) -> Option<Choice> {
        let at = f.ptr("Choices");
        let default = f.string("Default", p);
        let Some(list) = f.array("Choices", p) else {
            if !f.has("Choices") {
                p.schema(&f.at, "These fields are required: [Choices]");
            }
            return None;
        };
        if list.is_empty() {
            p.schema(&at, "The field 'Choices' must have at least one rule");
        }
        let mut choices = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            match v.as_object() {
                Some(obj) => {
                    if let Some((rule, Some(next))) = Rule::parse(obj, &here, true, p) {
                        choices.push(ChoiceRule { rule, next });
                    }
                }
                None => p.schema(&here, "A Choice rule must be an object"),
            }
        }
        Some(Choice { choices, default })
    }

    pub fn reads_context(&self) -> bool {
        self.choices.iter().any(|c| c.rule.reads_context())
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        // Without an InputPath the rules read the input in place (no copy).
        let input = if state.flow.input_path == Selector::Whole {
            std::mem::take(&mut t.input)
        } else {
            match s.effective_input(t, state, None) {
                Ok(v) => v,
                Err(e) => return s.fail_state(t, state, e),
            }
        };
        let chosen = s.with_scope(t, state, &input, None, |scope| {
            for c in &self.choices {
                if c.rule.eval(scope)? {
                    return Ok(Some(c.next.clone()));
                }
            }
            Ok(self.default.clone())
        });
        let taken = state.flow.input_path == Selector::Whole;
        match chosen {
            Ok(Some(next)) => s.complete_to(t, state, input, Some(&next)),
            other => {
                if taken {
                    t.input = input;
                }
                let e = other
                    .err()
                    .unwrap_or_else(|| StatesError::new(ErrorName::NoChoiceMatched, "No Matches!"));
                s.fail_state(t, state, e)
            }
        }
    }
}

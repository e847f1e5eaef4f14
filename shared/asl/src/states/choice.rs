//! Choice: the first rule that matches names the next state. JSONPath rules
//! compare a `Variable`; JSONata rules evaluate a `Condition`.

use serde_json::Value;

use crate::choice::Rule;
use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::definition::{Assign, Builder, Lang, Selector, State};
use crate::error::{ErrorName, StatesError};
use crate::exec::{Step, Thread};
use crate::jsonata::{JTemplate, expression_text, type_name};

#[derive(Debug, Clone)]
pub enum Test {
    Path(Rule),
    Condition(JTemplate),
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub test: Test,
    pub next: String,
    pub assign: Option<Assign>,
    /// JSONata: this branch's output, instead of the state's.
    pub output: Option<JTemplate>,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub choices: Vec<Branch>,
    pub default: Option<String>,
    /// Some rule did not parse (already reported): where it led is not
    /// known, so what is reachable is not either.
    pub partial: bool,
}

impl Choice {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Choice> {
        let lang = b.current;
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
        let (mut choices, mut partial) = (Vec::new(), false);
        for (i, v) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Some(obj) = v.as_object() else {
                p.schema(&here, "A Choice rule must be an object");
                partial = true;
                continue;
            };
            let branch = match lang {
                Lang::JsonPath => {
                    let assign = Assign::parse(lang, &mut Fields::new(obj, here.clone()), p);
                    match Rule::parse(obj, &here, true, p) {
                        Some((rule, Some(next))) => Some(Branch {
                            test: Test::Path(rule),
                            next,
                            assign,
                            output: None,
                        }),
                        _ => None,
                    }
                }
                Lang::JsonAta => ata_branch(obj, &here, p),
            };
            partial |= branch.is_none();
            choices.extend(branch);
        }
        Some(Choice {
            choices,
            default,
            partial,
        })
    }

    pub fn reads_context(&self) -> bool {
        self.choices.iter().any(|c| match &c.test {
            Test::Path(r) => r.reads_context(),
            Test::Condition(_) => false,
        })
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        // Without an InputPath the rules read the input in place (no copy).
        let taken = state.ata.is_none() && state.flow.input_path == Selector::Whole;
        let input = if taken {
            std::mem::take(&mut t.input)
        } else {
            match s.effective_input(t, state, None) {
                Ok(v) => v,
                Err(e) => return s.fail_state(t, state, e),
            }
        };
        let chosen = self.pick(s, t, state, &input);
        if taken {
            t.input = input.clone();
        }
        match chosen {
            Ok(Some(i)) => {
                let branch = &self.choices[i];
                if let Some(assign) = &branch.assign
                    && let Err(e) = s.assign(t, state, assign, &input, "input")
                {
                    return s.fail_state(t, state, e);
                }
                let next = branch.next.clone();
                match &branch.output {
                    None => s.complete_to(t, state, input, Some(&next)),
                    Some(out) => match s.eval_ata(t, state, out, &[]) {
                        Ok(v) => s.complete_raw(t, state, v, Some(&next)),
                        Err(e) => s.fail_state(t, state, e),
                    },
                }
            }
            Ok(None) => match &self.default {
                Some(d) => {
                    let d = d.clone();
                    s.complete_to(t, state, input, Some(&d))
                }
                // AWS fails the execution (as measured by floci's suite;
                // the spec's States.NoChoiceMatched is not what it raises).
                None => s.fail_state(
                    t,
                    state,
                    StatesError::runtime(
                        "Failed to transition out of the state. The state does not point to a next state.",
                    ),
                ),
            },
            Err(e) => s.fail_state(t, state, e),
        }
    }

    fn pick(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        input: &Value,
    ) -> Result<Option<usize>, StatesError> {
        for (i, c) in self.choices.iter().enumerate() {
            let hit = match &c.test {
                Test::Path(rule) => {
                    s.with_scope(t, state, input, None, |scope| rule.eval(scope))?
                }
                Test::Condition(cond) => match s.eval_ata(t, state, cond, &[])? {
                    Value::Bool(b) => b,
                    other => {
                        return Err(StatesError::new(
                            ErrorName::QueryEvaluationError,
                            format!(
                                "The JSONata expression '{}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}' for value: {other}",
                                cond.source(),
                                type_name(&other)
                            ),
                        ));
                    }
                },
            };
            if hit {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

fn ata_branch(obj: &serde_json::Map<String, Value>, at: &str, p: &mut Problems) -> Option<Branch> {
    let mut f = Fields::new(obj, at.to_owned());
    let next = f.required_string("Next", p);
    f.string("Comment", p);
    let cond_at = f.ptr("Condition");
    let test = match f.raw("Condition") {
        None => {
            p.schema(at, "These fields are required: [Condition]");
            None
        }
        Some(v @ Value::Bool(_)) => Some(Test::Condition(JTemplate::Literal(v.clone()))),
        Some(v @ Value::String(s)) if expression_text(s).is_some() => Some(Test::Condition(
            JTemplate::parse(v, "Condition", &cond_at, p),
        )),
        Some(_) => {
            p.schema(
                &cond_at,
                "The field 'Condition' must be a boolean or a JSONata expression",
            );
            None
        }
    };
    let out_at = f.ptr("Output");
    let output = f
        .raw("Output")
        .map(|v| JTemplate::parse(v, "Output", &out_at, p));
    let assign = Assign::parse(Lang::JsonAta, &mut f, p);
    f.finish(p);
    Some(Branch {
        test: test?,
        next: next?,
        assign,
        output,
    })
}

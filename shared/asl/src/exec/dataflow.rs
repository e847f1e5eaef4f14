//! Data flow through a state, in both query languages: the effective input,
//! the output and assignments on completion, and error handling (Retry,
//! Catch) with its own output and assignments.

use serde_json::{Map, Value};

use super::thread::{Phase, Thread};
use super::{Effect, Event, Step, TimerKind};
use crate::definition::io::apply_result_path;
use crate::definition::{Assign, Selector, State, Transition};
use crate::error::{ErrorName, StatesError};
use crate::exec::flow::{MAX_PAYLOAD_BYTES, exceeds};
use crate::jsonata::{Bindings, JTemplate};
use crate::limits::{MAX_PAYLOAD_DEPTH, deeper_than, too_deep};
use crate::scope::Scope;
use crate::states::Kind;

/// AWS's limit on the variables one state assigns.
pub const MAX_ASSIGN_BYTES: usize = 256 * 1024;
/// AWS's limit on all of an execution's variables.
pub const MAX_VARIABLES_BYTES: usize = 10 * 1024 * 1024;

impl Step<'_> {
    /// Runs `f` with the scope a JSONPath field of `state` sees: `$` = `input`.
    pub fn with_scope<R>(
        &mut self,
        t: &Thread,
        state: &State,
        input: &Value,
        token: Option<&str>,
        f: impl FnOnce(&mut Scope<'_>) -> R,
    ) -> R {
        let context = if state.reads_context {
            self.exec
                .context(t, matches!(state.kind, Kind::Task(_)), token)
        } else {
            Value::Null
        };
        let mut scope = Scope {
            input,
            context: &context,
            variables: &t.variables,
            random: &mut self.random,
        };
        f(&mut scope)
    }

    /// What a JSONata expression of `state` sees: `$states` and the variables.
    pub fn bindings(
        &mut self,
        t: &Thread,
        state: &State,
        token: Option<&str>,
        extra: &[(&str, &Value)],
    ) -> Bindings {
        let mut states = Map::new();
        states.insert("input".into(), t.input.clone());
        if state.reads_context {
            states.insert(
                "context".into(),
                self.exec
                    .context(t, matches!(state.kind, Kind::Task(_)), token),
            );
        }
        for (k, v) in extra {
            states.insert((*k).into(), (*v).clone());
        }
        Bindings::new(states, &t.variables, self.env.now, self.random.next_u64())
    }

    /// Evaluates a JSONata template of `state`.
    pub fn eval_ata(
        &mut self,
        t: &Thread,
        state: &State,
        template: &JTemplate,
        extra: &[(&str, &Value)],
    ) -> Result<Value, StatesError> {
        if let JTemplate::Literal(v) = template {
            return Ok(v.clone());
        }
        let b = self.bindings(t, state, None, extra);
        template.eval(&b)
    }

    /// The input a state works on: InputPath then Parameters (JSONPath), or
    /// Arguments (JSONata). It goes out as a task's payload or into a child's
    /// input, so it is held to a payload's nesting limit.
    pub fn effective_input(
        &mut self,
        t: &Thread,
        state: &State,
        token: Option<&str>,
    ) -> Result<Value, StatesError> {
        let input = self.build_input(t, state, token)?;
        if deeper_than(&input, MAX_PAYLOAD_DEPTH) {
            return Err(too_deep(&format!(
                "The input the state '{}' built",
                state.name
            )));
        }
        Ok(input)
    }

    fn build_input(
        &mut self,
        t: &Thread,
        state: &State,
        token: Option<&str>,
    ) -> Result<Value, StatesError> {
        if let Some(ata) = &state.ata {
            return match &ata.arguments {
                None => Ok(t.input.clone()),
                Some(JTemplate::Literal(v)) => Ok(v.clone()),
                Some(args) => {
                    let b = self.bindings(t, state, token, &[]);
                    args.eval(&b)
                }
            };
        }
        let flow = &state.flow;
        if flow.input_path == Selector::Whole && flow.parameters.is_none() {
            return Ok(t.input.clone());
        }
        self.with_scope(t, state, &t.input, token, |scope| {
            flow.effective_input(scope)
        })
    }

    pub fn complete(&mut self, t: &mut Thread, state: &State, result: Value) {
        self.complete_to(t, state, result, None)
    }

    /// The state's output and assignments from its result, then on to `next`
    /// (a Choice's pick) or the state's own transition.
    pub fn complete_to(
        &mut self,
        t: &mut Thread,
        state: &State,
        result: Value,
        next: Option<&str>,
    ) {
        if let Some(assign) = &state.assign
            && let Err(e) = self.assign(t, state, assign, &result, "result")
        {
            return self.fail_state(t, state, e);
        }
        let output = match &state.ata {
            Some(ata) => match &ata.output {
                None => Ok(result),
                Some(out) => self.eval_ata(t, state, out, &[("result", &result)]),
            },
            None => self.path_output(t, state, result),
        };
        match output {
            Ok(out) => self.exit(t, state, out, next),
            Err(e) => self.fail_state(t, state, e),
        }
    }

    /// Completes with `output` as it is (assignments still apply).
    pub fn complete_raw(
        &mut self,
        t: &mut Thread,
        state: &State,
        output: Value,
        next: Option<&str>,
    ) {
        if let Some(assign) = &state.assign
            && let Err(e) = self.assign(t, state, assign, &output, "result")
        {
            return self.fail_state(t, state, e);
        }
        self.exit(t, state, output, next)
    }

    /// ResultSelector → ResultPath → OutputPath.
    fn path_output(
        &mut self,
        t: &mut Thread,
        state: &State,
        result: Value,
    ) -> Result<Value, StatesError> {
        let flow = &state.flow;
        if flow.result_selector.is_none()
            && flow.result_path == Selector::Whole
            && flow.output_path == Selector::Whole
        {
            return Ok(result);
        }
        let input = std::mem::take(&mut t.input);
        let out = self.with_scope(t, state, &Value::Null, None, |scope| {
            flow.output(&input, result, scope)
        });
        t.input = input;
        out
    }

    /// Evaluates `assign` (with the variables as they were before this state)
    /// into the pending assignments. `$` (JSONPath) or `$states.<key>`
    /// (JSONata) is `value`.
    pub fn assign(
        &mut self,
        t: &Thread,
        state: &State,
        assign: &Assign,
        value: &Value,
        key: &str,
    ) -> Result<(), StatesError> {
        let assigned = match assign {
            Assign::Path(template) => {
                self.with_scope(t, state, value, None, |scope| template.eval(scope))?
            }
            Assign::Ata(template) => self.eval_ata(t, state, template, &[(key, value)])?,
        };
        let Value::Object(m) = assigned else {
            return Ok(());
        };
        if m.values().any(|v| deeper_than(v, MAX_PAYLOAD_DEPTH)) {
            return Err(too_deep(&format!(
                "A variable assigned by the state '{}'",
                state.name
            )));
        }
        if exceeds(&Value::Object(m.clone()), MAX_ASSIGN_BYTES) {
            return Err(StatesError::new(
                ErrorName::DataLimitExceeded,
                format!(
                    "The variables assigned by the state '{}' exceed the limit of 256 KiB",
                    state.name
                ),
            ));
        }
        self.pending.extend(m);
        Ok(())
    }

    pub(super) fn exit(
        &mut self,
        t: &mut Thread,
        state: &State,
        output: Value,
        next: Option<&str>,
    ) {
        // Depth first: what measures the size recurses.
        if deeper_than(&output, MAX_PAYLOAD_DEPTH) {
            let e = too_deep(&format!("The output of the state/task '{}'", state.name));
            self.pending.clear();
            return self.fail_thread(t, state, e);
        }
        if exceeds(&output, MAX_PAYLOAD_BYTES) {
            let e = StatesError::new(
                ErrorName::DataLimitExceeded,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    state.name
                ),
            );
            self.pending.clear();
            return self.fail_thread(t, state, e);
        }
        let assigned = std::mem::take(&mut self.pending);
        if !assigned.is_empty() {
            let mut vars = t.variables.clone();
            vars.extend(assigned.clone());
            if exceeds(&Value::Object(vars.clone()), MAX_VARIABLES_BYTES) {
                let e = StatesError::new(
                    ErrorName::DataLimitExceeded,
                    "The execution's variables exceed the limit of 10 MiB".to_owned(),
                );
                return self.fail_thread(t, state, e);
            }
            t.variables = vars;
        }
        if let Some(kind) = state.kind.exited() {
            self.record(t, kind, || {
                let mut details = serde_json::json!({"name": state.name, "output": output, "outputDetails": {"truncated": false}});
                // The API shows each value as JSON text, as AWS does.
                if !assigned.is_empty() {
                    details["assignedVariables"] = Value::Object(assigned);
                    details["assignedVariablesDetails"] = serde_json::json!({"truncated": false});
                }
                details
            });
        }
        let target = next.or(match &state.next {
            Transition::Next(n) => Some(n.as_str()),
            Transition::End | Transition::None => None,
        });
        match target {
            Some(n) => {
                // Reuse the name's buffer: this runs on every transition.
                t.state.clear();
                t.state.push_str(n);
                t.input = output;
                t.phase = Phase::Ready { entered: false };
                t.attempts.clear();
                t.retry_count = 0;
                self.effects.push(Effect::Schedule {
                    at: self.env.now,
                    event: Event::Run,
                });
            }
            None => self.finish(t, super::Outcome::Succeeded(output)),
        }
    }

    /// Whether `error` will be retried: the first retrier that matches it
    /// has attempts left.
    pub(crate) fn retries(&self, t: &Thread, state: &State, error: &StatesError) -> bool {
        state
            .retry
            .iter()
            .position(|r| {
                crate::retry::matches_heartbeat(&r.error_equals, error, self.heartbeat_missed)
            })
            .is_some_and(|i| {
                u64::from(t.attempts.get(i).copied().unwrap_or(0)) < state.retry[i].max_attempts
            })
    }

    /// A state raised `error`: retry it, catch it, or fail the thread.
    pub fn fail_state(&mut self, t: &mut Thread, state: &State, error: StatesError) {
        self.pending.clear();
        if self.evaluation_failed(t, state, &error)
            && matches!(state.kind, Kind::Map(_))
            && matches!(t.phase, Phase::Ready { .. })
            && !self.retries(t, state, &error)
        {
            // A Map whose items or settings fail to evaluate ends before
            // its iterations start.
            self.record(t, super::EventType::MapStateFailed, || {
                Value::Object(Map::new())
            });
        }
        let error = self.locate(t, state, error);
        let heartbeat = self.heartbeat_missed;
        let rule = |names: &[String]| crate::retry::matches_heartbeat(names, &error, heartbeat);
        let retry_at = self
            .retries(t, state, &error)
            .then(|| state.retry.iter().position(|r| rule(&r.error_equals)))
            .flatten();
        let catcher = state.catch.iter().find(|c| rule(&c.error_equals));
        self.heartbeat_missed = false;
        if let Some(i) = retry_at {
            let r = &state.retry[i];
            t.attempts.resize(state.retry.len(), 0);
            let delay = r.delay_millis(t.attempts[i], self.random.next_f64());
            t.attempts[i] += 1;
            t.retry_count += 1;
            let wait = t.next_wait();
            t.phase = Phase::Backoff { wait };
            let at = self.env.now.saturating_add(delay as i64);
            self.effects.push(Effect::Schedule {
                at,
                event: Event::Timer {
                    wait,
                    kind: TimerKind::Due,
                },
            });
            return;
        }
        let Some(c) = catcher else {
            return self.fail_thread(t, state, error);
        };
        let error_output = error.to_output();
        if let Some(assign) = &c.assign
            && let Err(e) = self.assign(t, state, assign, &error_output, "errorOutput")
        {
            self.pending.clear();
            return self.fail_thread(t, state, e);
        }
        let output = match (&state.ata, &c.output) {
            (Some(_), Some(out)) => self.eval_ata(t, state, out, &[("errorOutput", &error_output)]),
            (Some(_), None) => Ok(error_output),
            (None, _) => apply_result_path(&c.result_path, &t.input, error_output),
        };
        match output {
            Ok(out) => {
                let next = c.next.clone();
                self.exit(t, state, out, Some(&next));
            }
            Err(e) => {
                self.pending.clear();
                self.evaluation_failed(t, state, &e);
                let e = self.locate(t, state, e);
                self.fail_thread(t, state, e)
            }
        }
    }
}

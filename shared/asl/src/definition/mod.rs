//! The definition: JSON → a validated [`StateMachine`].
//!
//! Reading never stops at the first problem: every field of every state is
//! checked and all problems come back at once, each with its JSON pointer.

mod assign;
pub mod fields;
mod integrations;
pub mod io;
pub mod problem;
pub mod resource;

use std::collections::HashMap;

use serde_json::{Map, Value};

pub use assign::{Assign, AtaFlow, Lang};
pub use io::{DataFlow, Selector};
pub use problem::{Invalid, Problem};
pub use resource::Resource;

use crate::catch::Catcher;
use crate::limits::MAX_DEFINITION_DEPTH;
use crate::retry::Retrier;
use crate::states::{self, Kind};
use fields::Fields;
use problem::{DUPLICATE, NO_END, Problems, SCHEMA, TARGET, only_one, pointer};

/// Index of a [`StateScope`] in [`StateMachine::scopes`]: 0 is the top level,
/// each Parallel branch and Map processor has its own.
pub type ScopeId = usize;

/// A validated state machine, ready to execute.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub comment: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub scopes: Vec<StateScope>,
    pub express: bool,
}

/// One `StartAt` + `States` block.
#[derive(Debug, Clone)]
pub struct StateScope {
    pub start_at: String,
    pub states: Vec<State>,
    /// Looked up on every transition: FxHash, not SipHash.
    index: HashMap<String, usize, rustc_hash::FxBuildHasher>,
}

impl StateScope {
    pub fn get(&self, name: &str) -> Option<&State> {
        self.index.get(name).map(|&i| &self.states[i])
    }
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub kind: Kind,
    pub flow: DataFlow,
    pub next: Transition,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// Whether any field reads `$$`, so the context object must be built.
    pub reads_context: bool,
    pub lang: Lang,
    /// The JSONata data flow; `None` for JSONPath states.
    pub ata: Option<AtaFlow>,
    pub assign: Option<Assign>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    Next(String),
    End,
    /// Choice, Succeed and Fail have neither `Next` nor `End`.
    None,
}

/// Options that change what is valid.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub express: bool,
}

impl StateMachine {
    /// Parses and validates definition text as CreateStateMachine does.
    pub fn parse(text: &str, options: Options) -> Result<StateMachine, Invalid> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Invalid(vec![Problem {
                code: SCHEMA,
                message: if text.trim().is_empty() {
                    "Definition must be a valid JSON object".to_owned()
                } else {
                    format!("Definition must be a valid JSON object: {e}")
                },
                pointer: None,
            }])
        })?;
        StateMachine::from_value(&value, options)
    }

    /// [`parse`](Self::parse), for a definition that is run again and
    /// again (every execution of a machine, every step of an execution):
    /// the process keeps the last few hundred valid definitions it parsed,
    /// shared, and parses each of them once.
    pub fn parse_shared(
        text: &str,
        options: Options,
    ) -> Result<std::sync::Arc<StateMachine>, Invalid> {
        type Parsed = HashMap<String, std::sync::Arc<StateMachine>>;
        static PARSED: std::sync::Mutex<[Option<Parsed>; 2]> = std::sync::Mutex::new([None, None]);
        let slot = usize::from(options.express);
        let kept = PARSED
            .lock()
            .ok()
            .and_then(|all| all[slot].as_ref()?.get(text).cloned());
        if let Some(machine) = kept {
            return Ok(machine);
        }
        let machine = std::sync::Arc::new(StateMachine::parse(text, options)?);
        if let Ok(mut all) = PARSED.lock() {
            let parsed = all[slot].get_or_insert_with(HashMap::new);
            // A few hundred, and a few megabytes of text, at most.
            let bytes: usize = parsed.keys().map(String::len).sum();
            if parsed.len() >= 256 || bytes + text.len() > 16 << 20 {
                parsed.clear();
            }
            parsed.insert(text.to_owned(), machine.clone());
        }
        Ok(machine)
    }

    pub fn from_value(value: &Value, options: Options) -> Result<StateMachine, Invalid> {
        // Everything below recurses over the definition: measured first.
        if let Some(at) = crate::limits::too_deep_at(value, MAX_DEFINITION_DEPTH) {
            return Err(Invalid(vec![Problem {
                code: SCHEMA,
                message: format!(
                    "The definition is nested more than {MAX_DEFINITION_DEPTH} levels deep here"
                ),
                pointer: Some(at),
            }]));
        }
        let mut p = Problems::default();
        let Some(obj) = value.as_object() else {
            return Err(Invalid(vec![Problem {
                code: SCHEMA,
                message: "The definition must be a JSON object".into(),
                pointer: Some(String::new()),
            }]));
        };
        let mut b = Builder {
            scopes: Vec::new(),
            options,
            lang: Lang::JsonPath,
            current: Lang::JsonPath,
            names: Default::default(),
        };
        let mut f = Fields::new(obj, String::new());
        let comment = f.string("Comment", &mut p);
        let timeout_seconds = f.uint("TimeoutSeconds", 99_999_999, &mut p);
        if let Some(v) = f.string("Version", &mut p)
            && v != "1.0"
        {
            p.schema("/Version", "The value of 'Version' must be \"1.0\"");
        }
        b.lang = match f.string("QueryLanguage", &mut p).as_deref() {
            None | Some("JSONPath") => Lang::JsonPath,
            Some("JSONata") => Lang::JsonAta,
            Some(other) => {
                p.schema(
                    "/QueryLanguage",
                    format!("The value '{other}' must be JSONPath or JSONata"),
                );
                Lang::JsonPath
            }
        };
        b.scope(&mut f, &mut p);
        f.finish(&mut p);
        if p.0.is_empty() {
            Ok(StateMachine {
                comment,
                timeout_seconds,
                scopes: b.scopes,
                express: options.express,
            })
        } else {
            Err(Invalid(p.0))
        }
    }

    pub fn root(&self) -> &StateScope {
        &self.scopes[0]
    }
}

/// Builds scopes depth-first; state parsers call back into it for nested ones.
pub struct Builder {
    scopes: Vec<StateScope>,
    pub options: Options,
    /// The machine's query language.
    pub lang: Lang,
    /// The language of the state being read.
    pub current: Lang,
    /// Every state name read so far, in any scope.
    names: std::collections::HashSet<String>,
}

impl Builder {
    /// Reads `StartAt` and `States` from `f` into a new scope and returns its id.
    pub fn scope(&mut self, f: &mut Fields<'_>, p: &mut Problems) -> ScopeId {
        let id = self.scopes.len();
        self.scopes.push(StateScope {
            start_at: String::new(),
            states: Vec::new(),
            index: HashMap::default(),
        });
        // AWS lists them in this order.
        let missing: Vec<&str> = ["States", "StartAt"]
            .into_iter()
            .filter(|k| !f.has(k))
            .collect();
        if !missing.is_empty() {
            p.schema(
                &f.at,
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        let start_at = f.string("StartAt", p).unwrap_or_default();
        let states_at = f.ptr("States");
        let mut states = Vec::new();
        if let Some(map) = f.object("States", p) {
            if map.is_empty() {
                p.schema(
                    &states_at,
                    "The field 'States' must have at least one state",
                );
            }
            for (name, v) in map {
                let at = pointer(&states_at, name);
                if name.is_empty() || name.chars().count() > 80 {
                    p.schema(&at, "State names must be 1 to 80 characters long");
                }
                // Unique in the whole machine, branches and item
                // processors included (the ASL spec; AWS refuses a
                // duplicate with DUPLICATE_STATE_NAME).
                if !self.names.insert(name.clone()) {
                    p.push(DUPLICATE, &at, format!("Duplicate State name: '{name}'"));
                }
                match v.as_object() {
                    Some(obj) => {
                        if let Some(s) = self.state(name, obj, &at, p) {
                            states.push(s);
                        }
                    }
                    None => p.schema(&at, "A state must be a JSON object"),
                }
            }
            check_graph(&start_at, map, &states, &f.at, &states_at, p);
        }
        let index = states
            .iter()
            .enumerate()
            .map(|(i, s): (usize, &State)| (s.name.clone(), i))
            .collect();
        self.scopes[id] = StateScope {
            start_at,
            states,
            index,
        };
        id
    }

    fn state(
        &mut self,
        name: &str,
        obj: &Map<String, Value>,
        at: &str,
        p: &mut Problems,
    ) -> Option<State> {
        let mut f = Fields::new(obj, at.to_owned());
        f.string("Comment", p);
        let type_name = f.required_string("Type", p)?;
        let lang = match f.string("QueryLanguage", p).as_deref() {
            None => self.lang,
            Some("JSONata") => Lang::JsonAta,
            Some("JSONPath") if self.lang == Lang::JsonAta => {
                p.schema(
                    at,
                    "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                );
                Lang::JsonAta
            }
            Some("JSONPath") => Lang::JsonPath,
            Some(other) => {
                p.schema(
                    &f.ptr("QueryLanguage"),
                    format!("The value '{other}' must be JSONPath or JSONata"),
                );
                self.lang
            }
        };
        self.current = lang;
        let kind = states::parse(&type_name, name, &mut f, self, p)?;
        self.current = lang;
        let (flow, ata) = match lang {
            Lang::JsonPath => (DataFlow::parse(&kind, &mut f, p), None),
            Lang::JsonAta => {
                let arguments = matches!(kind, Kind::Task(_) | Kind::Parallel(_));
                let output = !matches!(kind, Kind::Fail(_));
                (
                    DataFlow::default(),
                    Some(AtaFlow::parse(arguments, output, &mut f, p)),
                )
            }
        };
        let assign = if matches!(kind, Kind::Succeed | Kind::Fail(_)) {
            None
        } else {
            Assign::parse(lang, &mut f, p)
        };
        let next = transition(&kind, &mut f, p);
        let (retry, catch) = if kind.handles_errors() {
            (
                Retrier::parse_all(&mut f, p),
                Catcher::parse_all(lang, &mut f, p),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        f.finish(p);
        // A state with problems is still returned, so that its transitions
        // are checked too; the machine as a whole is rejected anyway.
        let reads_context = (lang == Lang::JsonAta && jsonata_reads_context(obj))
            || flow.reads_context()
            || kind.reads_context()
            || assign.as_ref().is_some_and(Assign::reads_context)
            || catch
                .iter()
                .any(|c| c.assign.as_ref().is_some_and(Assign::reads_context));
        Some(State {
            name: name.to_owned(),
            kind,
            flow,
            next,
            retry,
            catch,
            reads_context,
            lang,
            ata,
            assign,
        })
    }
}

fn transition(kind: &Kind, f: &mut Fields<'_>, p: &mut Problems) -> Transition {
    let next = f.string("Next", p);
    let end = f.bool("End", p);
    if kind.is_terminal_type() {
        for key in ["Next", "End"] {
            if f.has(key) {
                p.schema(
                    &f.ptr(key),
                    format!("The field '{key}' is not supported by this state type"),
                );
            }
        }
        return Transition::None;
    }
    match (next, end) {
        (Some(_), Some(true)) => {
            p.schema(&f.at, only_one(&["Next", "End"]));
            Transition::End
        }
        (Some(n), _) => Transition::Next(n),
        (None, Some(true)) => Transition::End,
        (None, _) => {
            p.schema(
                &f.at,
                "This state must have either a 'Next' field or 'End': true",
            );
            Transition::End
        }
    }
}

/// Dangling targets, unreachable states and a missing end, as AWS reports them.
fn check_graph(
    start_at: &str,
    raw: &Map<String, Value>,
    states: &[State],
    scope_at: &str,
    states_at: &str,
    p: &mut Problems,
) {
    let exists = |n: &str| raw.contains_key(n);
    if !start_at.is_empty() && !exists(start_at) {
        p.push(
            TARGET,
            &pointer(scope_at, "StartAt"),
            format!("Missing 'Next' target: {start_at}"),
        );
    }
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut terminal = false;
    for s in states {
        let at = pointer(states_at, &s.name);
        let mut targets: Vec<(String, &str)> = Vec::new();
        match &s.next {
            Transition::Next(n) => targets.push((pointer(&at, "Next"), n)),
            Transition::End => terminal = true,
            Transition::None => terminal |= !matches!(s.kind, Kind::Choice(_)),
        }
        if let Kind::Choice(c) = &s.kind {
            for (i, rule) in c.choices.iter().enumerate() {
                targets.push((format!("{at}/Choices[{i}]/Next"), &rule.next));
            }
            if let Some(d) = &c.default {
                targets.push((pointer(&at, "Default"), d));
            }
        }
        for (i, c) in s.catch.iter().enumerate() {
            targets.push((format!("{at}/Catch[{i}]/Next"), &c.next));
        }
        for (ptr, t) in &targets {
            if !exists(t) {
                p.push(TARGET, ptr, format!("Missing 'Next' target: {t}"));
            }
        }
        edges.insert(&s.name, targets.iter().map(|(_, t)| *t).collect());
    }
    let partial = |s: &&State| matches!(&s.kind, Kind::Choice(c) if c.partial);
    if states.len() != raw.len() || start_at.is_empty() || states.iter().any(|s| partial(&s)) {
        // Some states did not parse, or there is no StartAt (already
        // reported): reachability would mislead.
        return;
    }
    if !terminal {
        p.0.push(Problem {
            code: NO_END,
            message: "Workflow has no terminal state".into(),
            pointer: None,
        });
        return;
    }
    let mut seen = vec![start_at];
    let mut todo = vec![start_at];
    while let Some(n) = todo.pop() {
        for t in edges.get(n).into_iter().flatten() {
            if !seen.contains(t) {
                seen.push(t);
                todo.push(t);
            }
        }
    }
    for name in raw.keys() {
        if !seen.contains(&name.as_str()) {
            p.push(
                TARGET,
                &pointer(states_at, name),
                format!("State \"{name}\" is not reachable."),
            );
        }
    }
}

#[cfg(test)]
mod tests;

/// Whether a JSONata state's expressions may read `$states.context` (the
/// context holds the execution's input: building it for every expression of
/// every Map iteration made a Map's time grow with the square of its
/// items). Conservative, as [`states_beyond`] is; the states nested in a
/// Map or Parallel count too.
fn jsonata_reads_context(obj: &Map<String, Value>) -> bool {
    obj.values()
        .any(|v| states_beyond(v, &[".input", ".result", ".errorOutput"]))
}

/// Whether any JSONata text in `v` refers to `$states` other than through
/// one of `allowed` (member paths such as `.input` or `.context.Map`): a
/// bare `$states`, or one followed by anything else, counts.
pub fn states_beyond(v: &Value, allowed: &[&str]) -> bool {
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            Value::String(s) => {
                let mut rest = s.as_str();
                while let Some(i) = rest.find("$states") {
                    rest = &rest[i + "$states".len()..];
                    let within = allowed.iter().any(|a| {
                        rest.strip_prefix(a).is_some_and(|after| {
                            !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                        })
                    });
                    if !within {
                        return true;
                    }
                }
            }
            Value::Array(a) => todo.extend(a),
            Value::Object(o) => todo.extend(o.values()),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod reads_tests {
    use serde_json::json;

    use super::states_beyond;

    #[test]
    fn only_references_outside_the_allowed_members_count() {
        let allowed = [".input", ".result", ".errorOutput"];
        for (text, beyond) in [
            ("{% $states.input.a + 1 %}", false),
            ("{% $states.result %}", false),
            ("{% $states.errorOutput.Cause %}", false),
            ("{% $states.context.Execution.Input %}", true),
            ("{% $states.inputs %}", true),
            ("{% $keys($states) %}", true),
            ("{% ($s := $states; $s.input) %}", true),
            ("{% $states.input %} and {% $states.context.Map %}", true),
            ("no JSONata at all", false),
        ] {
            assert_eq!(states_beyond(&json!(text), &allowed), beyond, "{text}");
        }
        let nested = json!({"a": [{"b": "{% $states.context.Task.Token %}"}]});
        assert!(states_beyond(&nested, &allowed));
        assert!(!states_beyond(&nested, &[".context.Task"]));
        assert!(states_beyond(
            &json!("{% $states.context.Execution.Input %}"),
            &[".context.Map", ".context.Task"]
        ));
    }
}

//! The graph of a definition, read straight from its JSON: every state at
//! every nesting, the Start and End markers of each flow, and the edges
//! between them. Nothing here requires the machine to be valid; what cannot
//! be drawn becomes a note.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::choice;
use crate::history::Status;

/// Flows nested deeper than this are not drawn (a note says so).
pub const MAX_DEPTH: usize = 64;
/// Notes beyond this many are counted, not listed.
const MAX_NOTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Start,
    End,
    /// A state, with its `Type` (or `Unknown`).
    State(String),
    /// A name a transition points at that is not a state of the flow.
    Missing,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Unique across the whole graph; safe as a Mermaid or DOT id.
    pub id: String,
    /// The state name (or `Start` / `End`).
    pub name: String,
    pub kind: NodeKind,
    /// The flows drawn inside this state: Parallel branches, a Map's items.
    pub flows: Vec<usize>,
    /// What the history says happened; `None` without a history.
    pub status: Option<Status>,
}

impl Node {
    pub fn is_compound(&self) -> bool {
        !self.flows.is_empty()
    }

    pub fn type_name(&self) -> &str {
        match &self.kind {
            NodeKind::State(t) => t,
            NodeKind::Missing => "missing",
            NodeKind::Start | NodeKind::End => "",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    /// `StartAt`, `Next`, and the way to End.
    Next,
    /// A Choice rule's `Next`.
    Rule,
    /// A Choice state's `Default`.
    Default,
    /// A catcher's `Next`.
    Catch,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub label: Option<String>,
}

/// One start → … → end flow: the machine, a Parallel branch or a Map's
/// item processor.
#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    /// `Branch 1`, `Items`; empty for the machine itself.
    pub label: String,
    /// Start first, End last, the states in definition order between.
    pub nodes: Vec<usize>,
    pub start: usize,
    pub end: usize,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    /// `flows[0]` is the machine.
    pub flows: Vec<Flow>,
    pub notes: Vec<String>,
    hidden_notes: usize,
    ids: HashSet<String>,
}

impl Graph {
    /// The graph of a definition object (anything else has no States and
    /// draws as Start and End with a note).
    pub fn build(definition: &Value) -> Graph {
        let mut g = Graph::default();
        g.flow(definition, String::new(), "", 0, "");
        if g.hidden_notes > 0 {
            let n = g.hidden_notes;
            g.notes.push(format!("… and {n} more"));
        }
        g
    }

    /// Colours every state by its name's status; states the history never
    /// mentions were not reached.
    pub fn colour(&mut self, statuses: &HashMap<String, Status>) {
        for n in &mut self.nodes {
            if let NodeKind::State(_) = n.kind {
                n.status = Some(statuses.get(&n.name).copied().unwrap_or(Status::NotReached));
            }
        }
    }

    fn note(&mut self, text: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(text);
        } else {
            self.hidden_notes += 1;
        }
    }

    /// A fresh id from `base`: sanitised, never a Mermaid keyword, unique.
    fn id(&mut self, base: &str) -> String {
        let mut s: String = base
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let reserved = [
            "end",
            "graph",
            "flowchart",
            "subgraph",
            "class",
            "classdef",
            "style",
            "linkstyle",
            "click",
            "call",
            "href",
            "default",
            "direction",
            "node",
            "edge",
            "digraph",
            "strict",
        ];
        if s.is_empty()
            || s.starts_with(|c: char| c.is_ascii_digit())
            || reserved.contains(&s.as_str())
        {
            s.insert_str(0, "s_");
        }
        let mut candidate = s.clone();
        let mut n = 1;
        while self.ids.contains(&candidate) {
            n += 1;
            candidate = format!("{s}_{n}");
        }
        self.ids.insert(candidate.clone());
        candidate
    }

    fn node(&mut self, id: String, name: &str, kind: NodeKind) -> usize {
        self.nodes.push(Node {
            id,
            name: name.to_owned(),
            kind,
            flows: Vec::new(),
            status: None,
        });
        self.nodes.len() - 1
    }

    /// Adds the flow of `machine` (an object with StartAt and States) and
    /// everything nested in it; `prefix` names its ids, `at` is its JSON
    /// pointer for notes.
    fn flow(
        &mut self,
        machine: &Value,
        label: String,
        prefix: &str,
        depth: usize,
        at: &str,
    ) -> usize {
        let (start_id, end_id) = if prefix.is_empty() {
            (self.id("Start"), self.id("End"))
        } else {
            (
                self.id(&format!("{prefix}_Start")),
                self.id(&format!("{prefix}_End")),
            )
        };
        let start = self.node(start_id, "Start", NodeKind::Start);
        let end = self.node(end_id, "End", NodeKind::End);
        let index = self.flows.len();
        self.flows.push(Flow {
            id: prefix.to_owned(),
            label,
            nodes: vec![start],
            start,
            end,
            edges: Vec::new(),
        });
        let place = if at.is_empty() { "The definition" } else { at };
        let states = match machine.get("States") {
            Some(Value::Object(states)) => Some(states),
            Some(_) => {
                self.note(format!("{place}: States is not an object"));
                None
            }
            None => {
                self.note(format!("{place}: States is missing"));
                None
            }
        };
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (name, state) in states.into_iter().flatten() {
            let kind = state
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("Unknown");
            let id = self.id(name);
            let n = self.node(id.clone(), name, NodeKind::State(kind.to_owned()));
            self.flows[index].nodes.push(n);
            by_name.insert(name, n);
            let here = format!("{at}/States/{}", pointer_escape(name));
            let nested: Vec<(String, String, &Value)> = match kind {
                "Parallel" => state
                    .get("Branches")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| {
                        (
                            format!("Branch {}", i + 1),
                            format!("{here}/Branches/{i}"),
                            b,
                        )
                    })
                    .collect(),
                "Map" => ["ItemProcessor", "Iterator"]
                    .into_iter()
                    .find_map(|k| state.get(k).map(|p| (k, p)))
                    .map(|(k, p)| ("Items".to_owned(), format!("{here}/{k}"), p))
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            };
            if !nested.is_empty() && depth + 1 > MAX_DEPTH {
                self.note(format!(
                    "{here}: nested deeper than {MAX_DEPTH} levels; its content is not drawn"
                ));
                continue;
            }
            for (i, (label, pointer, body)) in nested.into_iter().enumerate() {
                let sub = if kind == "Map" {
                    format!("{id}_items")
                } else {
                    format!("{id}_b{}", i + 1)
                };
                let f = self.flow(body, label, &sub, depth + 1, &pointer);
                self.nodes[n].flows.push(f);
            }
        }
        let mut transitions: Vec<Transition> = Vec::new();
        match machine.get("StartAt").and_then(Value::as_str) {
            Some(s) => transitions.push((
                start,
                Some(s),
                EdgeKind::Next,
                None,
                format!("{at}/StartAt"),
            )),
            None if states.is_some() => self.note(format!("{place}: StartAt is missing")),
            None => {}
        }
        for (name, state) in states.into_iter().flatten() {
            let here = format!("{at}/States/{}", pointer_escape(name));
            transitions.extend(leaving(by_name[name.as_str()], state, &here));
        }
        let mut missing: HashMap<&str, usize> = HashMap::new();
        let mut edges = Vec::with_capacity(transitions.len());
        for (from, to, kind, label, pointer) in transitions {
            let to = match to {
                None => end,
                Some(name) => match by_name.get(name).or(missing.get(name)) {
                    Some(&n) => n,
                    None => {
                        let id = self.id(&format!("{name}_missing"));
                        let n = self.node(id, name, NodeKind::Missing);
                        self.flows[index].nodes.push(n);
                        self.note(format!("{pointer}: no state here is named '{name}'"));
                        missing.insert(name, n);
                        n
                    }
                },
            };
            edges.push(Edge {
                from,
                to,
                kind,
                label,
            });
        }
        let flow = &mut self.flows[index];
        flow.nodes.push(end);
        flow.edges = edges;
        index
    }
}

/// A transition: from, to (a state name, or `None` for End), kind, label,
/// and the JSON pointer of the field that says it.
type Transition<'a> = (usize, Option<&'a str>, EdgeKind, Option<String>, String);

/// The transitions out of `state` (node `from`, at pointer `here`), in the
/// order the console lists them: rules, Default, Next or End, catchers.
fn leaving<'a>(from: usize, state: &'a Value, here: &str) -> Vec<Transition<'a>> {
    let next = |v: &'a Value| v.get("Next").and_then(Value::as_str);
    let list = |key: &str| {
        state
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    let mut out = Vec::new();
    for (i, rule) in list("Choices").enumerate() {
        if let Some(to) = next(rule) {
            let label = Some(choice::label(rule, i));
            out.push((
                from,
                Some(to),
                EdgeKind::Rule,
                label,
                format!("{here}/Choices/{i}/Next"),
            ));
        }
    }
    if let Some(to) = state.get("Default").and_then(Value::as_str) {
        let label = Some("Default".to_owned());
        out.push((
            from,
            Some(to),
            EdgeKind::Default,
            label,
            format!("{here}/Default"),
        ));
    }
    if let Some(to) = next(state) {
        out.push((from, Some(to), EdgeKind::Next, None, format!("{here}/Next")));
    }
    let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
    if state.get("End") == Some(&Value::Bool(true)) || matches!(kind, "Succeed" | "Fail") {
        out.push((from, None, EdgeKind::Next, None, String::new()));
    }
    for (i, catcher) in list("Catch").enumerate() {
        if let Some(to) = next(catcher) {
            let label = Some(errors_label(catcher));
            out.push((
                from,
                Some(to),
                EdgeKind::Catch,
                label,
                format!("{here}/Catch/{i}/Next"),
            ));
        }
    }
    out
}

/// A catcher's error names, shortened to fit on an edge.
fn errors_label(catcher: &Value) -> String {
    let names: Vec<&str> = catcher
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if names.is_empty() {
        return "Catch".to_owned();
    }
    choice::shorten(&names.join(", "))
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

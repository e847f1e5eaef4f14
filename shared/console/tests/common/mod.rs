//! Helpers shared by the console tests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use stepwise_console::{Format, graph};

/// The example machines: `examples/*.json` that have States, and
/// `examples/*/definition.json`, named by file or folder.
pub fn examples() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the examples folder")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let (name, file) = if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, path.join("definition.json"))
        } else if path.extension().is_some_and(|e| e == "json") {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                path.clone(),
            )
        } else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).expect("example JSON");
        if value.get("States").is_some() {
            out.push((name, value));
        }
    }
    assert!(
        out.len() >= 3,
        "expected the example machines, found {}",
        out.len()
    );
    out
}

pub fn render(definition: &Value, history: Option<&[Value]>, format: Format) -> String {
    graph(definition, history, format).expect("a graph")
}

/// The Mermaid `class a,b name` lines, as node id → class.
pub fn mermaid_classes(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("class") {
            continue;
        }
        let (Some(ids), Some(class)) = (words.next(), words.next()) else {
            continue;
        };
        for id in ids.split(',') {
            out.insert(id.to_owned(), class.to_owned());
        }
    }
    out
}

/// The `fillcolor` of a DOT node or cluster with this id.
pub fn dot_fill(text: &str, id: &str) -> Option<String> {
    let node = format!("\"{id}\" [");
    let cluster = format!("subgraph \"cluster_{id}\" {{");
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let attrs = if line.starts_with(&node) {
            Some(line.to_string())
        } else if *line == cluster {
            lines.get(i + 2).map(|l| l.to_string())
        } else {
            None
        };
        if let Some(a) = attrs
            && let Some(at) = a.find("fillcolor=\"")
        {
            let rest = &a[at + 11..];
            return Some(rest[..rest.find('"')?].to_owned());
        }
    }
    None
}

/// One XML element: its name and attributes.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: HashMap<String, String>,
}

/// Tokenizes `text` as XML and checks every tag is closed in order;
/// returns the elements in document order.
pub fn parse_xml(text: &str) -> Vec<Element> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    for (at, _) in text.match_indices('&') {
        let rest = &text[at..];
        let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
            .iter()
            .any(|e| rest.starts_with(e));
        assert!(entity, "a bare & at {at}: {}", &rest[..rest.len().min(20)]);
    }
    let mut stack: Vec<String> = Vec::new();
    let mut out: Vec<Element> = Vec::new();
    let mut roots = 0;
    for token in Tokenizer::from(text) {
        match token.unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{text}")) {
            Token::ElementStart { local, .. } => {
                if stack.is_empty() {
                    roots += 1;
                }
                stack.push(local.as_str().to_owned());
                out.push(Element {
                    name: local.as_str().to_owned(),
                    attrs: HashMap::new(),
                });
            }
            Token::Attribute { local, value, .. } => {
                let e = out.last_mut().expect("an attribute in an element");
                let old = e
                    .attrs
                    .insert(local.as_str().to_owned(), value.as_str().to_owned());
                assert!(old.is_none(), "a repeated attribute {}", local.as_str());
            }
            Token::ElementEnd { end, .. } => match end {
                ElementEnd::Open => {}
                ElementEnd::Empty => {
                    stack.pop();
                }
                ElementEnd::Close(_, local) => {
                    let open = stack.pop().expect("a close tag with nothing open");
                    assert_eq!(open, local.as_str(), "tags closed out of order");
                }
            },
            Token::Text { text: t } => {
                assert!(
                    !stack.is_empty() || t.as_str().trim().is_empty(),
                    "text outside the root"
                );
            }
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    assert_eq!(roots, 1, "one root element");
    out
}

/// The states of a definition at every nesting, and its edges (StartAt,
/// Next, End and Succeed/Fail, Choice rules and Default, catchers), counted
/// straight from the JSON.
pub fn count(machine: &Value) -> (usize, usize) {
    let mut states = 0;
    let mut edges = usize::from(machine.get("StartAt").is_some_and(Value::is_string));
    for state in machine["States"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
    {
        states += 1;
        let kind = state["Type"].as_str().unwrap_or("");
        let nexts = |list: &str| {
            state[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["Next"].is_string())
                .count()
        };
        edges += usize::from(state["Next"].is_string())
            + usize::from(state["Default"].is_string())
            + usize::from(state["End"] == Value::Bool(true) || kind == "Succeed" || kind == "Fail")
            + nexts("Choices")
            + nexts("Catch");
        let nested: Vec<&Value> = match kind {
            "Parallel" => state["Branches"].as_array().into_iter().flatten().collect(),
            "Map" => state
                .get("ItemProcessor")
                .or(state.get("Iterator"))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for m in nested {
            let (s, e) = count(m);
            states += s;
            edges += e;
        }
    }
    (states, edges)
}

/// The SVG groups of states, as data-state → class.
pub fn svg_states(elements: &[Element]) -> HashMap<String, String> {
    elements
        .iter()
        .filter(|e| e.name == "g")
        .filter_map(|e| {
            Some((
                e.attrs.get("data-state")?.clone(),
                e.attrs.get("class")?.clone(),
            ))
        })
        .collect()
}

//! `variableReferences` of DescribeStateMachine: for each state, the names of
//! the workflow variables its fields read.
//!
//! AWS lists a state only when it reads at least one variable, keys nested
//! states (Parallel branches, Map processors) by their bare names, and counts
//! a field wherever it is evaluated: paths (`InputPath`, `ItemsPath`, Choice
//! `Variable` and `…Path` operators, `MaxItemsPath`, …), `.$` values of
//! payload templates (`Parameters`, `ResultSelector`, `ItemSelector`,
//! `Assign`, a Catcher's `Assign`, …) including intrinsic arguments, and in
//! JSONata states the free `$name`s of every `{% … %}` expression.
//!
//! This reads the JSON, not a validated [`StateMachine`](crate::StateMachine):
//! DescribeStateMachine shows what was stored, and the walk must never fail.

mod jsonata;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::definition::Lang;

/// Fields holding a nested `StartAt` + `States` block (or a list of them).
const NESTED: [&str; 3] = ["Branches", "Iterator", "ItemProcessor"];

/// JSONPath fields that are payload templates: only their `.$` values read.
const TEMPLATES: [&str; 6] = [
    "Parameters",
    "ResultSelector",
    "ItemSelector",
    "Assign",
    "Credentials",
    "BatchInput",
];

/// The `variableReferences` object for a definition: state name → sorted
/// variable names, only for states that read a variable. `{}` when there are
/// none or the text is not a JSON object.
pub fn variable_references(definition: &str) -> Value {
    let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Ok(Value::Object(root)) = serde_json::from_str::<Value>(definition) {
        let mut assigned = BTreeSet::new();
        assigned_names(&root, &mut assigned);
        let lang = query_language(&root, Lang::JsonPath);
        let walk = Walk {
            machine_lang: lang,
            assigned: &assigned,
        };
        walk.states(&root, &mut refs);
    }
    Value::Object(
        refs.into_iter()
            .map(|(state, names)| {
                let names = names.into_iter().map(Value::String).collect();
                (state, Value::Array(names))
            })
            .collect(),
    )
}

struct Walk<'a> {
    /// Nested states default to the machine's language, as in the engine.
    machine_lang: Lang,
    /// Every name some `Assign` sets: such a name shadows a JSONata built-in.
    assigned: &'a BTreeSet<String>,
}

impl Walk<'_> {
    fn states(&self, block: &Map<String, Value>, refs: &mut BTreeMap<String, BTreeSet<String>>) {
        let Some(states) = block.get("States").and_then(Value::as_object) else {
            return;
        };
        for (name, state) in states {
            let Some(state) = state.as_object() else {
                continue;
            };
            let mut names = BTreeSet::new();
            match query_language(state, self.machine_lang) {
                Lang::JsonPath => path_fields(state, &mut names),
                Lang::JsonAta => {
                    for (k, v) in state {
                        if k != "Comment" && !NESTED.contains(&k.as_str()) {
                            self.expressions(v, &mut names);
                        }
                    }
                }
            }
            if !names.is_empty() {
                refs.entry(name.clone()).or_default().extend(names);
            }
            for key in NESTED {
                match state.get(key) {
                    Some(Value::Object(inner)) => self.states(inner, refs),
                    Some(Value::Array(branches)) => {
                        for b in branches.iter().filter_map(Value::as_object) {
                            self.states(b, refs);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The free variables of every `{% … %}` string inside `v`.
    fn expressions(&self, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                if let Some(src) = crate::jsonata::expression_text(s) {
                    jsonata::free_variables(src, self.assigned, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.expressions(v, out)),
            Value::Object(m) => m.values().for_each(|v| self.expressions(v, out)),
            _ => {}
        }
    }
}

fn query_language(obj: &Map<String, Value>, default: Lang) -> Lang {
    match obj.get("QueryLanguage").and_then(Value::as_str) {
        Some("JSONata") => Lang::JsonAta,
        Some("JSONPath") => Lang::JsonPath,
        _ => default,
    }
}

/// The names set by every `Assign` in the definition (`.$` suffix removed).
fn assigned_names(obj: &Map<String, Value>, out: &mut BTreeSet<String>) {
    for (k, v) in obj {
        if let (true, Value::Object(assign)) = (k == "Assign", v) {
            out.extend(
                assign
                    .keys()
                    .map(|n| n.strip_suffix(".$").unwrap_or(n).to_owned()),
            );
        }
        match v {
            Value::Object(m) => assigned_names(m, out),
            Value::Array(items) => {
                for m in items.iter().filter_map(Value::as_object) {
                    assigned_names(m, out);
                }
            }
            _ => {}
        }
    }
}

/// A JSONPath state's fields, or an object inside them (a Choice rule, a
/// Catcher, `ItemReader`, `ReaderConfig`, `ItemBatcher`, …).
fn path_fields(obj: &Map<String, Value>, out: &mut BTreeSet<String>) {
    for (k, v) in obj {
        let k = k.as_str();
        // `Result` is literal data and `ResultPath` is written, not read.
        if matches!(k, "Result" | "ResultPath" | "Comment") || NESTED.contains(&k) {
            continue;
        }
        match v {
            _ if TEMPLATES.contains(&k) => template(v, out),
            Value::String(s) if k == "Variable" || k.ends_with("Path") => path_text(s, out),
            Value::Object(m) => path_fields(m, out),
            Value::Array(items) => {
                for m in items.iter().filter_map(Value::as_object) {
                    path_fields(m, out);
                }
            }
            _ => {}
        }
    }
}

/// A payload template: `"key.$"` values are paths or intrinsic calls; other
/// strings are literals, however much they look like paths.
fn template(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(s) if k.ends_with(".$") => path_text(s, out),
                    _ => template(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| template(v, out)),
        _ => {}
    }
}

/// A JSONPath field's text: `$name…` reads the variable `name`; an intrinsic
/// call reads the variables its path arguments start with. `$`, `$.…` and
/// `$$…` read the input and the context object.
fn path_text(text: &str, out: &mut BTreeSet<String>) {
    let text = text.trim();
    if text.starts_with("States.") {
        intrinsic(text, out);
    } else if let Some(rest) = text.strip_prefix('$') {
        let name = identifier(rest.chars());
        if !name.is_empty() {
            out.insert(name);
        }
    }
}

/// The variable name at the start of `chars`: what `Assign` accepts as a
/// name (letters, digits, `_`).
fn identifier(chars: impl Iterator<Item = char>) -> String {
    chars
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Path arguments of an intrinsic call, nested calls included: a `$` that
/// starts an argument (after `(` or `,`, outside quotes and brackets).
fn intrinsic(text: &str, out: &mut BTreeSet<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    let mut brackets = 0usize;
    let mut arg_start = false;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if let Some(q) = quote {
            if c == '\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' => quote = Some(c),
            '"' if brackets > 0 => quote = Some(c),
            '[' => brackets += 1,
            ']' => brackets = brackets.saturating_sub(1),
            '(' | ',' if brackets == 0 => {
                arg_start = true;
                continue;
            }
            '$' if brackets == 0 && arg_start => {
                let name = identifier(chars.iter().skip(i).copied());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
            c if c.is_whitespace() => continue,
            _ => {}
        }
        arg_start = false;
    }
}

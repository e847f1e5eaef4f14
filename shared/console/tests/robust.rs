//! Whatever the definition, a graph and no panic: what cannot be drawn
//! becomes a note.

mod common;

use serde_json::{Value, json};
use stepwise_console::{Format, MAX_DEPTH, graph};

const FORMATS: [Format; 3] = [Format::Mermaid, Format::Dot, Format::Svg];

/// Draws `definition` in every format; the SVG must be well-formed.
fn draws(definition: &Value) -> [String; 3] {
    FORMATS.map(|f| {
        let out = graph(definition, None, f).unwrap_or_else(|e| panic!("{e} for {definition}"));
        if f == Format::Svg {
            common::parse_xml(&out);
        }
        out
    })
}

#[test]
fn a_definition_that_is_not_an_object_is_an_error() {
    for v in [
        json!(null),
        json!([1, 2]),
        json!(3),
        json!("[]"),
        json!("not json"),
    ] {
        for f in FORMATS {
            assert!(graph(&v, None, f).is_err(), "{v}");
        }
    }
}

#[test]
fn definition_text_is_parsed() {
    let text = json!(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#);
    assert!(
        graph(&text, None, Format::Mermaid)
            .unwrap()
            .contains("Start --> A")
    );
}

#[test]
fn missing_pieces_become_notes() {
    let [mermaid, dot, svg] = draws(&json!({}));
    assert!(
        mermaid.contains("The definition: States is missing"),
        "{mermaid}"
    );
    assert!(dot.contains("shape=note"));
    assert!(svg.contains("States is missing"));
    let [mermaid, ..] = draws(&json!({"States": {"A": {"Type": "Pass", "End": true}}}));
    assert!(mermaid.contains("StartAt is missing"), "{mermaid}");
    draws(&json!({"StartAt": "A", "States": []}));
    draws(&json!({"StartAt": 7, "States": {"A": 1, "B": [], "C": {"Type": 3, "Next": 4}}}));
}

#[test]
fn a_transition_to_nowhere_is_a_dashed_placeholder() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Ghost"}], "Default": "Ghost"}
    }});
    let [mermaid, dot, svg] = draws(&definition);
    assert!(
        mermaid.contains("A -->|\"$.x is null\"| Ghost_missing"),
        "{mermaid}"
    );
    assert!(mermaid.contains("class Ghost_missing missing"));
    assert!(
        mermaid.contains("/States/A/Choices/0/Next: no state here is named 'Ghost'"),
        "{mermaid}"
    );
    assert!(dot.contains("\"Ghost_missing\" [label=\"Ghost\\nmissing\", style=\"rounded,dashed\""));
    assert_eq!(
        svg.matches("class=\"missing\"").count(),
        1,
        "one placeholder for both edges"
    );
}

#[test]
fn loops_are_drawn() {
    let definition = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Pass", "Next": "A"},
        "C": {"Type": "Pass", "Next": "C"}
    }});
    let [mermaid, _, svg] = draws(&definition);
    assert!(mermaid.contains("B --> A") && mermaid.contains("C --> C"));
    assert_eq!(svg.matches("<path class=\"edge").count(), 4);
}

/// Parallel states nested past the limit: drawn down to it, then a note.
#[test]
fn deep_nesting_stops_at_the_limit() {
    let mut machine = json!({"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": true}}});
    for i in 0..MAX_DEPTH + 10 {
        machine = json!({"StartAt": format!("P{i}"), "States": {
            format!("P{i}"): {"Type": "Parallel", "Branches": [machine], "End": true}
        }});
    }
    let [mermaid, dot, svg] = draws(&machine);
    assert!(
        mermaid.contains(&format!("nested deeper than {MAX_DEPTH} levels")),
        "a note"
    );
    assert_eq!(mermaid.matches("subgraph ").count(), 2 * MAX_DEPTH);
    assert!(
        !mermaid.contains("Leaf"),
        "what is past the limit is not drawn"
    );
    assert_eq!(dot.matches("subgraph ").count(), 2 * MAX_DEPTH);
    assert_eq!(svg.matches("class=\"state\"").count(), MAX_DEPTH + 1);
}

#[test]
fn a_long_chain_does_not_overflow_the_stack() {
    let mut states = serde_json::Map::new();
    for i in 0..3000 {
        states.insert(
            format!("S{i}"),
            json!({"Type": "Pass", "Next": format!("S{}", i + 1)}),
        );
    }
    states.insert("S3000".into(), json!({"Type": "Succeed"}));
    draws(&json!({"StartAt": "S0", "States": states}));
}

#[test]
fn odd_names_make_valid_unique_ids() {
    let definition = json!({"StartAt": "end", "States": {
        "end": {"Type": "Pass", "Next": "End"},
        "End": {"Type": "Pass", "Next": "a b"},
        "a b": {"Type": "Pass", "Next": "a_b"},
        "a_b": {"Type": "Pass", "Next": "1st"},
        "1st": {"Type": "Pass", "Next": "Start"},
        "Start": {"Type": "Pass", "Next": "#|\"<>`&\u{1}\u{ffff}"},
        "#|\"<>`&\u{1}\u{ffff}": {"Type": "Pass", "Next": "ünïcødé 名前"},
        "ünïcødé 名前": {"Type": "Pass", "End": true}
    }});
    let [mermaid, dot, _] = draws(&definition);
    // The id of each node declaration: what comes before its shape.
    let ids: Vec<&str> = mermaid
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("[\"") && !l.starts_with("subgraph"))
        .filter_map(|l| l.split(['[', '(', '>']).next())
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
    for id in &ids {
        assert!(
            id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{id}"
        );
        assert_ne!(*id, "end");
    }
    assert!(mermaid.contains("s_end[\"end<br/>"), "{mermaid}");
    assert!(
        mermaid.contains("[\"#35;#124;#quot;#lt;#gt;#96;#amp; \u{ffff}<br/>"),
        "{mermaid}"
    );
    assert!(
        dot.contains("label=\"#|\\\"<>`& \u{ffff}\\nPass\""),
        "{dot}"
    );
}

/// A small deterministic generator of machine-like JSON: the keys the
/// reader looks at, filled with values of every kind.
struct Gen(u64);

impl Gen {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
    fn name(&mut self) -> String {
        ["A", "B", "C", "end", "x y", ""][self.next(6) as usize].to_owned()
    }
    fn any(&mut self, depth: u32) -> Value {
        match self.next(if depth > 3 { 5 } else { 9 }) {
            0 => Value::Null,
            1 => json!(self.next(2) == 0),
            2 => json!(self.next(100)),
            3 | 4 => json!(self.name()),
            5 => json!([self.any(depth + 1), self.rule(depth + 1)]),
            6 | 7 => self.machine(depth + 1),
            _ => self.state(depth + 1),
        }
    }
    fn rule(&mut self, depth: u32) -> Value {
        match self.next(4) {
            0 => {
                json!({"Variable": "$.v", "NumericLessThan": self.any(depth + 1), "Next": self.name()})
            }
            1 => json!({"And": [self.rule_leaf(), self.rule_leaf()], "Next": self.name()}),
            2 => json!({"Condition": "{% true %}", "Next": self.any(depth + 1)}),
            _ => self.any(depth + 1),
        }
    }
    fn rule_leaf(&mut self) -> Value {
        json!({"Variable": "$.w", "IsPresent": self.next(2) == 0})
    }
    fn state(&mut self, depth: u32) -> Value {
        let kinds = [
            "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map",
        ];
        let mut s = serde_json::Map::new();
        s.insert("Type".into(), json!(kinds[self.next(8) as usize]));
        for key in [
            "Next",
            "End",
            "Default",
            "Choices",
            "Catch",
            "Branches",
            "ItemProcessor",
            "Iterator",
        ] {
            if self.next(3) == 0 {
                let v = match key {
                    "Next" | "Default" => json!(self.name()),
                    "End" => json!(true),
                    "Choices" => json!([self.rule(depth), self.rule(depth)]),
                    "Catch" => {
                        json!([{"ErrorEquals": [self.name()], "Next": self.name()}, self.any(depth)])
                    }
                    "Branches" if depth < 6 => json!([self.machine(depth), self.any(depth)]),
                    _ if depth < 6 => self.machine(depth),
                    _ => self.any(depth),
                };
                s.insert(key.into(), v);
            }
        }
        Value::Object(s)
    }
    fn machine(&mut self, depth: u32) -> Value {
        let mut states = serde_json::Map::new();
        for _ in 0..self.next(5) {
            let v = if self.next(6) == 0 {
                self.any(depth + 1)
            } else {
                self.state(depth + 1)
            };
            states.insert(self.name(), v);
        }
        let mut m = json!({"States": states});
        if self.next(5) != 0 {
            m["StartAt"] = json!(self.name());
        }
        m
    }
}

#[test]
fn generated_machines_draw_without_panic() {
    let mut g = Gen(7);
    for _ in 0..400 {
        let machine = g.machine(0);
        let history = vec![
            json!({"id": 1, "type": "PassStateEntered", "stateEnteredEventDetails": {"name": g.name()}}),
            json!({"id": 2, "previousEventId": 1, "type": "TaskFailed"}),
            json!({"id": 3, "previousEventId": 2, "type": "ChoiceStateExited", "stateExitedEventDetails": {"name": g.name()}}),
        ];
        for f in FORMATS {
            let out = graph(&machine, Some(&history), f).expect("a machine object draws");
            if f == Format::Svg {
                common::parse_xml(&out);
            }
        }
    }
}

/// The AWS-recorded conformance cases (beside the repository, as the CLI's
/// conformance test finds them): each definition draws, and its history
/// colours exactly the states it entered.
#[test]
fn recorded_histories_colour_the_states_they_entered() {
    let root =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/cases");
    let Ok(themes) = std::fs::read_dir(&root) else {
        // A user's clone has no corpus beside it; CI has, and must run it.
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "no conformance corpus at {}", root.display());
        println!("SKIPPED: no conformance corpus at {}", root.display());
        return;
    };
    let mut checked = 0;
    for case in themes
        .flatten()
        .flat_map(|t| std::fs::read_dir(t.path()).into_iter().flatten().flatten())
    {
        let read = |f: &str| {
            std::fs::read_to_string(case.path().join(f))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        };
        let (Some(definition), Some(history)) = (read("definition.json"), read("history.json"))
        else {
            continue;
        };
        let events: Vec<Value> = history["events"].as_array().cloned().unwrap_or_default();
        let svg =
            graph(&definition, Some(&events), Format::Svg).expect("a recorded definition draws");
        let states = common::svg_states(&common::parse_xml(&svg));
        let entered: std::collections::HashSet<&str> = events
            .iter()
            .filter(|e| {
                e["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("StateEntered"))
            })
            .filter_map(|e| e["stateEnteredEventDetails"]["name"].as_str())
            .collect();
        for (name, class) in &states {
            let reached = class != "node notreached";
            assert_eq!(
                reached,
                entered.contains(name.as_str()),
                "{name} is {class} in {}",
                case.path().display()
            );
        }
        checked += 1;
    }
    println!("{checked} recorded cases");
    assert!(checked > 100, "only {checked} recorded cases found");
}

/// A long name widens its box only so far; the SVG cuts the text and keeps
/// the whole name in the tooltip.
#[test]
fn long_names_are_cut_in_the_svg() {
    let long = "N".repeat(5000);
    let definition = json!({"StartAt": long, "States": {
        long.clone(): {"Type": "Parallel", "Branches": [
            {"StartAt": "x", "States": {"x": {"Type": "Pass", "Next": "y".repeat(3000)}}}
        ], "End": true}
    }});
    let [_, _, svg] = draws(&definition);
    let elements = common::parse_xml(&svg);
    let width: i64 = elements[0].attrs["width"].parse().unwrap();
    assert!(width < 1200, "{width}");
    assert!(svg.contains(&format!("<title>{long} (Parallel)</title>")));
}

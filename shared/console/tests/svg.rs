//! The SVG: well-formed, sized by a viewBox, one box per state and one
//! path per edge, readable names.

mod common;

use serde_json::{Value, json};
use stepwise_console::Format;

fn svg(definition: &Value) -> Vec<common::Element> {
    common::parse_xml(&common::render(definition, None, Format::Svg))
}

fn count(elements: &[common::Element], name: &str, class: &str) -> usize {
    elements
        .iter()
        .filter(|e| {
            e.name == name
                && e.attrs
                    .get("class")
                    .is_some_and(|c| c.split(' ').next() == Some(class))
        })
        .count()
}

/// Checks the structure of a drawing of `definition`.
fn check(definition: &Value) {
    let elements = svg(definition);
    let root = &elements[0];
    assert_eq!(root.name, "svg");
    let view_box: Vec<i64> = root.attrs["viewBox"]
        .split(' ')
        .map(|n| n.parse().expect("a number"))
        .collect();
    assert!(
        matches!(view_box[..], [0, 0, w, h] if w > 0 && h > 0),
        "{view_box:?}"
    );
    let (states, edges) = common::count(definition);
    assert_eq!(
        count(&elements, "rect", "state"),
        states,
        "a rect per state"
    );
    assert_eq!(count(&elements, "path", "edge"), edges, "a path per edge");
    assert_eq!(
        elements.iter().filter(|e| e.name == "path").count(),
        edges,
        "no other paths"
    );
    // Everything drawn lies inside the view box.
    for e in elements.iter().filter(|e| e.name == "rect") {
        let n = |k: &str| {
            e.attrs
                .get(k)
                .map_or(0, |v| v.parse::<i64>().expect("an integer"))
        };
        assert!(n("x") >= 0 && n("y") >= 0, "{e:?}");
        assert!(
            n("x") + n("width") <= view_box[2] && n("y") + n("height") <= view_box[3],
            "{e:?}"
        );
    }
}

#[test]
fn every_example_has_a_box_per_state_and_a_path_per_edge() {
    for (name, definition) in common::examples() {
        println!("{name}");
        check(&definition);
    }
}

#[test]
fn names_and_types_are_written() {
    let text = common::render(&common::examples()[0].1, None, Format::Svg);
    let definition = json!({"StartAt": "Say <hello> & \"bye\"", "States": {
        "Say <hello> & \"bye\"": {"Type": "Pass", "End": true}
    }});
    let drawn = common::render(&definition, None, Format::Svg);
    common::parse_xml(&drawn);
    assert!(
        drawn.contains(">Say &lt;hello&gt; &amp; &quot;bye&quot;</text>"),
        "{drawn}"
    );
    assert!(drawn.contains(">Pass</text>"));
    assert!(text.contains("<title>"));
}

#[test]
fn catch_edges_are_dashed_and_labelled() {
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Catch": [{"ErrorEquals": ["Oops", "States.Timeout"], "Next": "Handle"}], "End": true},
        "Handle": {"Type": "Pass", "End": true}
    }});
    let text = common::render(&definition, None, Format::Svg);
    let catch = text
        .lines()
        .find(|l| l.contains("class=\"edge catch\""))
        .expect("a catch edge");
    assert!(catch.contains("stroke-dasharray"));
    assert!(text.contains(">Oops, States.Timeout</text>"));
    let mermaid = common::render(&definition, None, Format::Mermaid);
    assert!(
        mermaid.contains("Work -.->|\"Oops, States.Timeout\"| Handle"),
        "{mermaid}"
    );
    let dot = common::render(&definition, None, Format::Dot);
    assert!(
        dot.contains("\"Work\" -> \"Handle\" [label=\"Oops, States.Timeout\", style=dashed];"),
        "{dot}"
    );
}

#[test]
fn choice_edges_carry_their_rules() {
    let definition = json!({"StartAt": "Pick", "States": {
        "Pick": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Up"},
            {"Variable": "$.a_rather_long_variable_name", "StringEquals": "a long enough value", "Next": "Down"}
        ], "Default": "Up"},
        "Up": {"Type": "Succeed"},
        "Down": {"Type": "Succeed"}
    }});
    let mermaid = common::render(&definition, None, Format::Mermaid);
    assert!(mermaid.contains("Pick -->|\"$.n #gt; 0\"| Up"), "{mermaid}");
    assert!(mermaid.contains("Pick -->|\"Rule 2\"| Down"), "{mermaid}");
    assert!(mermaid.contains("Pick -->|\"Default\"| Up"), "{mermaid}");
    let text = common::render(&definition, None, Format::Svg);
    assert!(text.contains(">$.n &gt; 0</text>") && text.contains(">Rule 2</text>"));
}

/// Parallel branches and a Map's items are boxes inside their state, and
/// the inner states inside those.
#[test]
fn nested_flows_sit_inside_their_state() {
    let definition = &common::examples()
        .into_iter()
        .find(|(n, _)| n == "order")
        .expect("order.json")
        .1;
    let elements = svg(definition);
    let rect = |state: &str| {
        let at = elements
            .iter()
            .position(|e| e.attrs.get("data-state").is_some_and(|s| s == state))
            .expect(state);
        let r = elements[at + 2..]
            .iter()
            .find(|e| e.name == "rect")
            .expect("its rect");
        let n = |k: &str| r.attrs[k].parse::<i64>().unwrap();
        (n("x"), n("y"), n("x") + n("width"), n("y") + n("height"))
    };
    let inside = |inner: (i64, i64, i64, i64), outer: (i64, i64, i64, i64)| {
        inner.0 > outer.0 && inner.1 > outer.1 && inner.2 < outer.2 && inner.3 < outer.3
    };
    assert!(inside(rect("LineTotal"), rect("PriceLines")));
    assert!(inside(rect("VipDiscount"), rect("DiscountAndStock")));
    assert!(inside(rect("Stock"), rect("DiscountAndStock")));
    assert!(!inside(rect("Settle"), rect("DiscountAndStock")));
    assert_eq!(
        count(&elements, "rect", "flow"),
        3,
        "Items, Branch 1, Branch 2"
    );
    // Start above, End below.
    let mermaid = common::render(definition, None, Format::Mermaid);
    assert!(mermaid.contains("subgraph DiscountAndStock_b2[\"Branch 2\"]"));
    assert!(mermaid.contains("subgraph PriceLines_items[\"Items\"]"));
    let dot = common::render(definition, None, Format::Dot);
    assert!(dot.contains("subgraph \"cluster_DiscountAndStock_b1\" {"));
    assert!(dot.contains("\"PriceLines_items_End\" -> \"DiscountAndStock_b1_Start\" [ltail=\"cluster_PriceLines\", lhead=\"cluster_DiscountAndStock\"];"), "{dot}");
}

/// Layers follow the flow: each state below the one before it.
#[test]
fn the_flow_runs_downwards() {
    let definition = &common::examples()
        .into_iter()
        .find(|(n, _)| n == "ten-states")
        .expect("ten-states")
        .1;
    let elements = svg(definition);
    let top = |state: &str| {
        let at = elements
            .iter()
            .position(|e| e.attrs.get("data-state").is_some_and(|s| s == state))
            .expect(state);
        elements[at + 2..]
            .iter()
            .find(|e| e.name == "rect")
            .unwrap()
            .attrs["y"]
            .parse::<i64>()
            .unwrap()
    };
    let tops: Vec<i64> = ["S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "S10"]
        .iter()
        .map(|s| top(s))
        .collect();
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "{tops:?}");
}

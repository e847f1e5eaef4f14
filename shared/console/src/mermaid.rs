//! Mermaid `flowchart TD`: states as boxes, Parallel and Map states as
//! subgraphs holding one subgraph per flow, Catch edges dotted.

use std::fmt::Write as _;

use crate::model::{EdgeKind, Graph, NodeKind};
use crate::palette::{STATUSES, colours};

pub fn render(g: &Graph) -> String {
    let mut out = String::from("flowchart TD\n");
    flow(g, 0, 1, &mut out);
    for (i, note) in g.notes.iter().enumerate() {
        let _ = writeln!(out, "    note{}>\"{}\"]", i + 1, text(note));
    }
    if !g.notes.is_empty() {
        out.push_str("    classDef note fill:#fff8e1,stroke:#b87400,color:#16191f\n");
        let ids: Vec<String> = (1..=g.notes.len()).map(|i| format!("note{i}")).collect();
        let _ = writeln!(out, "    class {} note", ids.join(","));
    }
    let missing: Vec<&str> = g
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Missing)
        .map(|n| n.id.as_str())
        .collect();
    if !missing.is_empty() {
        out.push_str("    classDef missing fill:#ffffff,stroke:#de322f,stroke-dasharray:5 5\n");
        let _ = writeln!(out, "    class {} missing", missing.join(","));
    }
    if g.nodes.iter().any(|n| n.status.is_some()) {
        for status in STATUSES {
            let c = colours(status);
            let _ = writeln!(
                out,
                "    classDef {} fill:{},stroke:{},color:{}",
                status.class(),
                c.fill,
                c.stroke,
                c.text
            );
        }
        for status in STATUSES {
            let ids: Vec<&str> = g
                .nodes
                .iter()
                .filter(|n| n.status == Some(status))
                .map(|n| n.id.as_str())
                .collect();
            if !ids.is_empty() {
                let _ = writeln!(out, "    class {} {}", ids.join(","), status.class());
            }
        }
    }
    out
}

fn flow(g: &Graph, f: usize, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth);
    let this = &g.flows[f];
    for &n in &this.nodes {
        let node = &g.nodes[n];
        let name = text(&node.name);
        match &node.kind {
            NodeKind::Start | NodeKind::End => {
                let _ = writeln!(out, "{pad}{}([\"{name}\"])", node.id);
            }
            _ if node.is_compound() => {
                let kind = text(node.type_name());
                let _ = writeln!(
                    out,
                    "{pad}subgraph {}[\"{name}<br/><small>{kind}</small>\"]",
                    node.id
                );
                for &sub in &node.flows {
                    let sub_flow = &g.flows[sub];
                    let _ = writeln!(
                        out,
                        "{pad}    subgraph {}[\"{}\"]",
                        sub_flow.id,
                        text(&sub_flow.label)
                    );
                    flow(g, sub, depth + 2, out);
                    let _ = writeln!(out, "{pad}    end");
                }
                let _ = writeln!(out, "{pad}end");
            }
            _ => {
                let kind = text(node.type_name());
                let _ = writeln!(
                    out,
                    "{pad}{}[\"{name}<br/><small>{kind}</small>\"]",
                    node.id
                );
            }
        }
    }
    for e in &this.edges {
        let (from, to) = (&g.nodes[e.from].id, &g.nodes[e.to].id);
        let arrow = if e.kind == EdgeKind::Catch {
            "-.->"
        } else {
            "-->"
        };
        match &e.label {
            Some(l) => {
                let _ = writeln!(out, "{pad}{from} {arrow}|\"{}\"| {to}", text(l));
            }
            None => {
                let _ = writeln!(out, "{pad}{from} {arrow} {to}");
            }
        }
    }
}

/// Text safe inside a quoted Mermaid label: Mermaid's own entity codes
/// for the characters its parser or HTML would take, spaces for controls.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

//! Graphviz DOT: states as rounded boxes, Parallel and Map states as
//! clusters holding one cluster per flow. An edge to or from such a state
//! attaches to its first flow's Start or End and is clipped at the
//! cluster's border (`compound=true`, `lhead`, `ltail`).

use std::fmt::Write as _;

use crate::model::{EdgeKind, Graph, NodeKind};
use crate::palette::{PLAIN, colours};

pub fn render(g: &Graph) -> String {
    let mut out = String::from("digraph machine {\n");
    out.push_str("    compound=true;\n");
    out.push_str("    fontname=\"Helvetica\";\n");
    let _ = writeln!(
        out,
        "    node [shape=box, style=\"rounded,filled\", fillcolor=\"{}\", color=\"{}\", fontcolor=\"{}\", fontname=\"Helvetica\", fontsize=12];",
        PLAIN.fill, PLAIN.stroke, PLAIN.text
    );
    out.push_str("    edge [color=\"#545b64\", fontname=\"Helvetica\", fontsize=10];\n");
    flow(g, 0, 1, &mut out);
    for (i, note) in g.notes.iter().enumerate() {
        let _ = writeln!(
            out,
            "    \"note{}\" [shape=note, label=\"{}\", fillcolor=\"#fff8e1\", color=\"#b87400\"];",
            i + 1,
            text(note)
        );
    }
    out.push_str("}\n");
    out
}

fn flow(g: &Graph, f: usize, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth);
    let this = &g.flows[f];
    for &n in &this.nodes {
        let node = &g.nodes[n];
        let name = text(&node.name);
        let kind = text(node.type_name());
        let colour = node.status.map(|s| {
            let c = colours(s);
            format!(
                "fillcolor=\"{}\", color=\"{}\", fontcolor=\"{}\"",
                c.fill, c.stroke, c.text
            )
        });
        match &node.kind {
            NodeKind::Start | NodeKind::End => {
                let _ = writeln!(out, "{pad}\"{}\" [label=\"{name}\", shape=oval];", node.id);
            }
            NodeKind::Missing => {
                let _ = writeln!(
                    out,
                    "{pad}\"{}\" [label=\"{name}\\nmissing\", style=\"rounded,dashed\", color=\"#de322f\"];",
                    node.id
                );
            }
            NodeKind::State(_) if node.is_compound() => {
                let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", node.id);
                let _ = writeln!(out, "{pad}    label=\"{name}\\n{kind}\";");
                match node.status.map(colours) {
                    Some(c) => {
                        let _ = writeln!(
                            out,
                            "{pad}    style=\"rounded,dashed,filled\"; fillcolor=\"{}\"; color=\"{}\";",
                            c.fill, c.stroke
                        );
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "{pad}    style=\"rounded,dashed\"; color=\"{}\";",
                            PLAIN.stroke
                        );
                    }
                }
                for &sub in &node.flows {
                    let sub_flow = &g.flows[sub];
                    let _ = writeln!(out, "{pad}    subgraph \"cluster_{}\" {{", sub_flow.id);
                    let _ = writeln!(out, "{pad}        label=\"{}\";", text(&sub_flow.label));
                    let _ = writeln!(
                        out,
                        "{pad}        style=\"dashed,filled\"; fillcolor=\"#ffffff\"; color=\"#aab7b8\";"
                    );
                    flow(g, sub, depth + 2, out);
                    let _ = writeln!(out, "{pad}    }}");
                }
                let _ = writeln!(out, "{pad}}}");
            }
            NodeKind::State(_) => match colour {
                Some(c) => {
                    let _ = writeln!(
                        out,
                        "{pad}\"{}\" [label=\"{name}\\n{kind}\", {c}];",
                        node.id
                    );
                }
                None => {
                    let _ = writeln!(out, "{pad}\"{}\" [label=\"{name}\\n{kind}\"];", node.id);
                }
            },
        }
    }
    for e in &this.edges {
        let mut attrs = Vec::new();
        let from = &g.nodes[e.from];
        let to = &g.nodes[e.to];
        let tail = match from.flows.first() {
            Some(&sub) => {
                attrs.push(format!("ltail=\"cluster_{}\"", from.id));
                &g.nodes[g.flows[sub].end].id
            }
            None => &from.id,
        };
        let head = match to.flows.first() {
            Some(&sub) => {
                attrs.push(format!("lhead=\"cluster_{}\"", to.id));
                &g.nodes[g.flows[sub].start].id
            }
            None => &to.id,
        };
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", text(l)));
        }
        if e.kind == EdgeKind::Catch {
            attrs.push("style=dashed".to_owned());
        }
        if attrs.is_empty() {
            let _ = writeln!(out, "{pad}\"{tail}\" -> \"{head}\";");
        } else {
            let _ = writeln!(out, "{pad}\"{tail}\" -> \"{head}\" [{}];", attrs.join(", "));
        }
    }
}

/// Text safe inside a quoted DOT string (and its label escapes).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

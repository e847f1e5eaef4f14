//! A standalone SVG of the layout: one `<rect class="state">` per state
//! (a Parallel or Map state's is the dashed box around its flows), one
//! `<rect class="flow">` per nested flow, one `<path class="edge …">` per
//! edge, Start and End as pills. Each state's group carries its status as
//! a class and its name as `data-state`, for a page to style or script.

use std::fmt::Write as _;

use crate::layout::{self, Anchor, Layout, NAME_PX, Rect, SMALL_PX, text_width};
use crate::model::{EdgeKind, Graph, Node, NodeKind};
use crate::palette::{PLAIN, colours};

const FONT: &str = "Amazon Ember, Helvetica Neue, Helvetica, Arial, sans-serif";
const EDGE: &str = "#545b64";
const NOTE_LINE: i64 = 18;
/// Notes wider than this are cut (they can quote long state names).
const MAX_NOTE_W: i64 = 960;

pub fn render(g: &Graph) -> String {
    let l = layout::layout(g);
    let root = l.flows.first().copied().unwrap_or_default();
    let notes_w = g
        .notes
        .iter()
        .map(|n| text_width(n, SMALL_PX) + 40)
        .max()
        .unwrap_or(0)
        .min(MAX_NOTE_W);
    let notes_h = if g.notes.is_empty() {
        0
    } else {
        NOTE_LINE * g.notes.len() as i64 + 12
    };
    let (w, h) = (root.w.max(notes_w).max(1), (root.h + notes_h).max(1));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" font-family=\"{FONT}\" font-size=\"13\">"
    );
    let _ = writeln!(
        out,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><polygon points=\"0,0 10,5 0,10\" fill=\"{EDGE}\"/></marker></defs>"
    );
    let _ = writeln!(
        out,
        "<rect class=\"background\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>"
    );
    if !g.flows.is_empty() {
        flow(g, &l, 0, &mut out);
    }
    for (i, note) in g.notes.iter().enumerate() {
        let y = root.h + NOTE_LINE * (i as i64 + 1);
        let _ = writeln!(
            out,
            "<text class=\"note\" x=\"20\" y=\"{y}\" font-size=\"11\" fill=\"#b87400\">⚠ {}</text>",
            xml(&fit(note, MAX_NOTE_W - 40, SMALL_PX))
        );
    }
    out.push_str("</svg>\n");
    out
}

fn flow(g: &Graph, l: &Layout, f: usize, out: &mut String) {
    let fl = &g.flows[f];
    if f != 0 {
        let r = l.flows[f];
        let _ = writeln!(
            out,
            "<rect class=\"flow\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\" fill=\"#ffffff\" stroke=\"#aab7b8\" stroke-dasharray=\"4 3\"/>",
            r.x, r.y, r.w, r.h
        );
        let _ = writeln!(
            out,
            "<text class=\"flow-label\" x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#687078\">{}</text>",
            r.x + 8,
            r.y + 14,
            xml(&fl.label)
        );
    }
    for &n in &fl.nodes {
        let node = &g.nodes[n];
        if node.is_compound() {
            compound(node, l.nodes[n], out);
            for &s in &node.flows {
                flow(g, l, s, out);
            }
        }
    }
    for (e, route) in fl.edges.iter().zip(&l.routes[f]) {
        if route.points.len() < 2 {
            continue;
        }
        let d: Vec<String> = route
            .points
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect();
        let (class, dash) = match e.kind {
            EdgeKind::Next => ("next", ""),
            EdgeKind::Rule => ("rule", ""),
            EdgeKind::Default => ("default", ""),
            EdgeKind::Catch => ("catch", " stroke-dasharray=\"6 4\""),
        };
        let _ = writeln!(
            out,
            "<path class=\"edge {class}\" d=\"M{}\" fill=\"none\" stroke=\"{EDGE}\" stroke-width=\"1.5\"{dash} marker-end=\"url(#arrow)\"/>",
            d.join(" L")
        );
    }
    for &n in &fl.nodes {
        let node = &g.nodes[n];
        if !node.is_compound() {
            simple(node, l.nodes[n], out);
        }
    }
    for (e, route) in fl.edges.iter().zip(&l.routes[f]) {
        if let (Some(label), Some(((x, y), anchor))) = (&e.label, route.label) {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let _ = writeln!(
                out,
                "<text class=\"edge-label\" x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"{EDGE}\" stroke=\"#ffffff\" stroke-width=\"4\" paint-order=\"stroke\">{}</text>",
                y + 4,
                xml(label)
            );
        }
    }
}

fn status_class(node: &Node) -> &'static str {
    node.status.map_or("", |s| s.class())
}

fn compound(node: &Node, r: Rect, out: &mut String) {
    let c = node.status.map_or(PLAIN, colours);
    let opacity = if node.status.is_some() {
        " fill-opacity=\"0.35\""
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<g class=\"node {}\" data-state=\"{}\"><title>{} ({})</title>",
        status_class(node),
        xml(&node.name),
        xml(&node.name),
        xml(node.type_name())
    );
    let _ = writeln!(
        out,
        "<rect class=\"state\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\" fill=\"{}\"{opacity} stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
        r.x, r.y, r.w, r.h, c.fill, c.stroke
    );
    let cx = r.x + r.w / 2;
    let _ = writeln!(
        out,
        "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"{}\">{}</text>",
        r.y + 19,
        PLAIN.text,
        xml(&fit(&node.name, r.w - 16, NAME_PX))
    );
    let _ = writeln!(
        out,
        "<text class=\"type\" x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#545b64\">{}</text>\n</g>",
        r.y + 33,
        xml(node.type_name())
    );
}

fn simple(node: &Node, r: Rect, out: &mut String) {
    let cx = r.x + r.w / 2;
    match node.kind {
        NodeKind::Start | NodeKind::End => {
            let _ = writeln!(
                out,
                "<g class=\"marker\"><rect class=\"marker\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"{}\" fill=\"#ffffff\" stroke=\"{EDGE}\" stroke-width=\"1.5\"/><text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"{EDGE}\">{}</text></g>",
                r.x,
                r.y,
                r.w,
                r.h,
                r.h / 2,
                r.y + r.h / 2 + 4,
                xml(&node.name)
            );
        }
        NodeKind::State(_) | NodeKind::Missing => {
            let missing = node.kind == NodeKind::Missing;
            let c = node.status.map_or(PLAIN, colours);
            let (class, stroke, dash) = if missing {
                ("missing", "#de322f", " stroke-dasharray=\"5 4\"")
            } else {
                ("state", c.stroke, "")
            };
            let _ = writeln!(
                out,
                "<g class=\"node {}\" data-state=\"{}\"><title>{} ({})</title>",
                if missing {
                    "missing"
                } else {
                    status_class(node)
                },
                xml(&node.name),
                xml(&node.name),
                xml(node.type_name())
            );
            let _ = writeln!(
                out,
                "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"1.5\"{dash}/>",
                r.x, r.y, r.w, r.h, c.fill
            );
            let _ = writeln!(
                out,
                "<text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" fill=\"{}\">{}</text>",
                r.y + 20,
                c.text,
                xml(&fit(&node.name, r.w - 16, NAME_PX))
            );
            let _ = writeln!(
                out,
                "<text class=\"type\" x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{}\">{}</text>\n</g>",
                r.y + 34,
                c.text,
                xml(&fit(node.type_name(), r.w - 16, SMALL_PX))
            );
        }
    }
}

/// `s` cut with an ellipsis to about `width` units (the title keeps it whole).
fn fit(s: &str, width: i64, px: i64) -> String {
    if text_width(s, px) <= width {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = px; // the ellipsis
    for c in s.chars() {
        used += text_width(c.encode_utf8(&mut [0; 4]), px);
        if used > width {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Text and attribute values as XML 1.0 allows them: markup escaped,
/// characters it forbids replaced.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

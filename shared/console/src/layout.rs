//! Sizes and places every node, nested flow and edge of a graph, in SVG
//! user units. A flow is laid out by [`layers`](crate::layers) once the
//! sizes of its nodes are known, so nesting is measured inside out: a
//! Parallel or Map state is a box holding its flows side by side, as big
//! as they need. Then everything is moved to its place, outside in.

use std::collections::HashMap;

use crate::layers;
use crate::model::{Graph, NodeKind};

pub type Point = (i64, i64);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rect {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Route {
    pub points: Vec<Point>,
    /// Where the edge's label goes, if it has one, and which end of the
    /// text is there: a label beside an edge that leans left ends at the
    /// edge, one beside an edge that leans right starts at it, so labels of
    /// diverging edges spread apart.
    pub label: Option<(Point, Anchor)>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Anchor {
    Start,
    #[default]
    Middle,
    End,
}

impl Anchor {
    /// The horizontal extent of a text `w` wide anchored at `x`.
    pub fn span(self, x: i64, w: i64) -> (i64, i64) {
        match self {
            Anchor::Start => (x, x + w),
            Anchor::Middle => (x - w / 2, x + w - w / 2),
            Anchor::End => (x - w, x),
        }
    }
}

/// Per-character advances: a rough Helvetica at the sizes the SVG uses
/// (wide scripts count double).
pub const NAME_PX: i64 = 7;
pub const SMALL_PX: i64 = 6;
pub const STATE_H: i64 = 44;
pub const MIN_STATE_W: i64 = 120;
pub const MAX_STATE_W: i64 = 320;
pub const MARKER: (i64, i64) = (64, 28);
/// Room above a compound state's flows for its name and type.
pub const HEADER_H: i64 = 44;
pub const FLOW_LABEL_H: i64 = 18;
const ROOT_PAD: i64 = 20;
const FLOW_PAD: i64 = 14;
const BOX_PAD: i64 = 12;
const FLOW_GAP: i64 = 16;

pub fn text_width(s: &str, px: i64) -> i64 {
    s.chars()
        .map(|c| if u32::from(c) >= 0x1100 { 2 * px } else { px })
        .sum()
}

/// The width of a simple state's box.
pub fn state_width(name: &str, kind: &str) -> i64 {
    (text_width(name, NAME_PX).max(text_width(kind, SMALL_PX)) + 24).clamp(MIN_STATE_W, MAX_STATE_W)
}

pub fn label_width(label: &str) -> i64 {
    text_width(label, SMALL_PX) + 8
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub nodes: Vec<Rect>,
    pub flows: Vec<Rect>,
    /// Per flow, the route of each of its edges.
    pub routes: Vec<Vec<Route>>,
}

pub fn layout(g: &Graph) -> Layout {
    let mut l = Layout {
        nodes: vec![Rect::default(); g.nodes.len()],
        flows: vec![Rect::default(); g.flows.len()],
        routes: vec![Vec::new(); g.flows.len()],
    };
    if g.flows.is_empty() {
        return l;
    }
    let mut offsets = vec![(0, 0); g.flows.len()];
    measure(g, 0, &mut l, &mut offsets);
    place(g, 0, (0, 0), &mut l, &offsets);
    l
}

/// Lays out flow `f` in its own coordinates and returns its size; the
/// offset of each nested flow inside its state goes to `offsets`.
fn measure(g: &Graph, f: usize, l: &mut Layout, offsets: &mut [Point]) -> (i64, i64) {
    let flow = &g.flows[f];
    let mut sizes = Vec::with_capacity(flow.nodes.len());
    for &n in &flow.nodes {
        let node = &g.nodes[n];
        let size = if node.is_compound() {
            let inner: Vec<(usize, (i64, i64))> = node
                .flows
                .iter()
                .map(|&s| (s, measure(g, s, l, offsets)))
                .collect();
            let inner_w: i64 = inner.iter().map(|(_, (w, _))| w).sum::<i64>()
                + FLOW_GAP * (inner.len() as i64 - 1).max(0);
            let header_w = state_width(&node.name, node.type_name());
            let w = (inner_w + 2 * BOX_PAD).max(header_w).max(MIN_STATE_W);
            let mut x = (w - inner_w) / 2;
            for &(s, (sw, _)) in &inner {
                offsets[s] = (x, HEADER_H);
                x += sw + FLOW_GAP;
            }
            let inner_h = inner.iter().map(|(_, (_, h))| *h).max().unwrap_or(0);
            (w, HEADER_H + inner_h + BOX_PAD)
        } else {
            match node.kind {
                NodeKind::Start | NodeKind::End => MARKER,
                _ => (state_width(&node.name, node.type_name()), STATE_H),
            }
        };
        sizes.push(size);
    }
    let local: HashMap<usize, usize> = flow
        .nodes
        .iter()
        .enumerate()
        .map(|(k, &n)| (n, k))
        .collect();
    let missing = usize::MAX;
    let edges: Vec<(usize, usize)> = flow
        .edges
        .iter()
        .map(|e| {
            let at = |n| local.get(&n).copied().unwrap_or(missing);
            (at(e.from), at(e.to))
        })
        .collect();
    let labels: Vec<i64> = flow
        .edges
        .iter()
        .map(|e| e.label.as_deref().map_or(0, label_width))
        .collect();
    let end = local.get(&flow.end).copied().unwrap_or(missing);
    let out = layers::layout(&sizes, &edges, &labels, end);

    let (pad, top) = if f == 0 {
        (ROOT_PAD, ROOT_PAD)
    } else {
        (FLOW_PAD, FLOW_PAD + FLOW_LABEL_H)
    };
    let w = (out.width + 2 * pad).max(text_width(&flow.label, SMALL_PX) + 2 * pad);
    let h = out.height + top + pad;
    let dx = (w - out.width) / 2;
    for (k, &n) in flow.nodes.iter().enumerate() {
        let r = out.rects[k];
        l.nodes[n] = Rect {
            x: r.x + dx,
            y: r.y + top,
            ..r
        };
    }
    l.routes[f] = out
        .routes
        .into_iter()
        .map(|mut r| {
            for p in &mut r.points {
                *p = (p.0 + dx, p.1 + top);
            }
            r.label = r.label.map(|(p, a)| ((p.0 + dx, p.1 + top), a));
            r
        })
        .collect();
    l.flows[f] = Rect { x: 0, y: 0, w, h };
    (w, h)
}

/// Moves flow `f` (and what it holds) from its own coordinates to `at`.
fn place(g: &Graph, f: usize, at: Point, l: &mut Layout, offsets: &[Point]) {
    let (ox, oy) = at;
    l.flows[f].x = ox;
    l.flows[f].y = oy;
    for &n in &g.flows[f].nodes {
        l.nodes[n].x += ox;
        l.nodes[n].y += oy;
    }
    for r in &mut l.routes[f] {
        for p in &mut r.points {
            *p = (p.0 + ox, p.1 + oy);
        }
        r.label = r.label.map(|(p, a)| ((p.0 + ox, p.1 + oy), a));
    }
    for &n in &g.flows[f].nodes {
        let (x, y) = (l.nodes[n].x, l.nodes[n].y);
        for &s in &g.nodes[n].flows {
            place(g, s, (x + offsets[s].0, y + offsets[s].1), l, offsets);
        }
    }
}

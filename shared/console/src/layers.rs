//! A layered (Sugiyama-style) layout of one flat flow, in five steps:
//!
//! 1. a depth-first search from Start finds the edges that close a loop;
//!    they are reversed, which leaves a graph without cycles;
//! 2. each node's layer is its longest path from Start (End goes last);
//! 3. an edge spanning several layers gets a dummy point in each, so it can
//!    bend around the nodes in between;
//! 4. a few barycenter sweeps order each layer to cut crossings;
//! 5. each node is placed as near the middle of its upper neighbours as its
//!    layer allows, and edges become polylines through their dummies,
//!    leaving and entering nodes at spread ports.
//!
//! Everything is integer arithmetic over the input order, so the same
//! definition always gives the same picture.

use crate::layout::{Anchor, Point, Rect, Route};

pub const H_GAP: i64 = 32;
pub const V_GAP: i64 = 52;
const DUMMY_W: i64 = 10;
const SWEEPS: usize = 4;
const LOOP_W: i64 = 24;

struct Item {
    /// The node it stands for; `None` for an edge's dummy.
    node: Option<usize>,
    /// For a dummy, the edge it belongs to.
    edge: usize,
    w: i64,
    h: i64,
    /// Room kept free on the right, for a loop back to the node itself.
    room: i64,
    layer: usize,
}

pub struct Output {
    pub rects: Vec<Rect>,
    pub routes: Vec<Route>,
    pub width: i64,
    pub height: i64,
}

/// Lays out nodes of the given sizes joined by `edges` (node indices);
/// `labels` is each edge's label width (0 for none); node 0 is Start and
/// `end` is End. Edges with an endpoint out of range are not drawn.
pub fn layout(
    sizes: &[(i64, i64)],
    edges: &[(usize, usize)],
    labels: &[i64],
    end: usize,
) -> Output {
    let n = sizes.len();
    let valid = |&(u, v): &(usize, usize)| u < n && v < n;
    let back = back_edges(n, edges);
    // The acyclic direction of each edge (a loop-closing edge reversed).
    let dir: Vec<(usize, usize)> = edges
        .iter()
        .zip(&back.is_back)
        .map(|(&(u, v), &b)| if b { (v, u) } else { (u, v) })
        .collect();
    let rank = ranks(n, &dir, &back.order, end);
    let layers_n = rank.iter().max().map_or(0, |m| m + 1);

    let mut looped = vec![false; n];
    for &(u, v) in edges {
        if u == v && u < n {
            looped[u] = true;
        }
    }
    let mut items: Vec<Item> = (0..n)
        .map(|i| Item {
            node: Some(i),
            edge: 0,
            w: sizes[i].0,
            h: sizes[i].1,
            room: if looped[i] { LOOP_W + 8 } else { 0 },
            layer: rank[i],
        })
        .collect();
    // Each drawn edge as a chain of items joined by segments between
    // adjacent layers.
    let mut segs: Vec<(usize, usize)> = Vec::new();
    let mut seg_chain: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    for (e, &(a, b)) in dir.iter().enumerate() {
        if !valid(&(a, b)) || a == b {
            continue;
        }
        let mut chain = vec![a];
        for layer in rank[a] + 1..rank[b] {
            items.push(Item {
                node: None,
                edge: e,
                w: DUMMY_W,
                h: 0,
                room: 0,
                layer,
            });
            chain.push(items.len() - 1);
        }
        chain.push(b);
        for pair in chain.windows(2) {
            seg_chain[e].push(segs.len());
            segs.push((pair[0], pair[1]));
        }
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for &(a, b) in &segs {
        down[a].push(b);
        up[b].push(a);
    }

    let layers = order(&items, &up, &down, &back.pre, &dir, layers_n);
    let mut left = x_positions(&items, &up, &layers);

    // Rows: each as tall as its tallest node; a dummy spans its row.
    let mut row_h = vec![0i64; layers_n];
    for it in &items {
        row_h[it.layer] = row_h[it.layer].max(it.h);
    }
    let mut row_top = vec![0i64; layers_n];
    let mut y = 0;
    for l in 0..layers_n {
        row_top[l] = y;
        y += row_h[l] + V_GAP;
    }
    let height = (y - V_GAP).max(0);
    let mut top = vec![0i64; items.len()];
    for (i, it) in items.iter_mut().enumerate() {
        if it.node.is_none() {
            it.h = row_h[it.layer];
        }
        top[i] = row_top[it.layer] + (row_h[it.layer] - it.h) / 2;
    }

    let (out_port, in_port) = ports(&items, &segs, &left);
    let mut routes: Vec<Route> = Vec::with_capacity(edges.len());
    let mut label_slot = vec![0usize; n];
    let label_w = |e: usize| labels.get(e).copied().unwrap_or(0);
    let mut labelled_out = vec![0usize; n];
    for (e, &(u, v)) in edges.iter().enumerate() {
        if valid(&(u, v)) && label_w(e) > 0 {
            labelled_out[u] += 1;
        }
    }
    for (e, &(u, v)) in edges.iter().enumerate() {
        if !valid(&(u, v)) {
            routes.push(Route::default());
            continue;
        }
        let mut route = if u == v {
            let (r, cy) = (left[u] + items[u].w, top[u] + items[u].h / 2);
            let label = (label_w(e) > 0).then_some(((r + LOOP_W + 4, cy), Anchor::Start));
            let points = vec![
                (r, cy - 6),
                (r + LOOP_W, cy - 6),
                (r + LOOP_W, cy + 6),
                (r, cy + 6),
            ];
            Route { points, label }
        } else {
            let mut points: Vec<Point> = Vec::new();
            for &s in &seg_chain[e] {
                let (a, b) = segs[s];
                push(&mut points, (out_port[s], top[a] + items[a].h));
                push(&mut points, (in_port[s], top[b]));
            }
            if back.is_back[e] {
                points.reverse();
            }
            Route {
                points,
                label: None,
            }
        };
        if label_w(e) > 0 && u != v && route.points.len() >= 2 {
            let slot = label_slot[u];
            label_slot[u] += 1;
            let depth = V_GAP * (slot as i64 + 1) / (labelled_out[u] as i64 + 1);
            let (a, b) = (route.points[0], route.points[1]);
            let (x, y) = along(a, b, depth);
            route.label = Some(match b.0 - a.0 {
                dx if dx < -4 => ((x - 4, y), Anchor::End),
                dx if dx > 4 => ((x + 4, y), Anchor::Start),
                _ => ((x, y), Anchor::Middle),
            });
        }
        routes.push(route);
    }

    // Shift everything right of x = 0 and measure.
    let mut min_x = i64::MAX;
    let mut max_x = i64::MIN;
    let mut see = |lo: i64, hi: i64| {
        min_x = min_x.min(lo);
        max_x = max_x.max(hi);
    };
    for (i, it) in items.iter().enumerate() {
        see(left[i], left[i] + it.w);
    }
    for (e, r) in routes.iter().enumerate() {
        let w = label_w(e);
        for p in &r.points {
            see(p.0, p.0);
        }
        if let Some(((x, _), anchor)) = r.label {
            let (lo, hi) = anchor.span(x, w);
            see(lo, hi);
        }
    }
    if min_x > max_x {
        (min_x, max_x) = (0, 0);
    }
    for x in &mut left {
        *x -= min_x;
    }
    for r in &mut routes {
        for p in &mut r.points {
            p.0 -= min_x;
        }
        if let Some((l, _)) = &mut r.label {
            l.0 -= min_x;
        }
    }
    let rects = (0..n)
        .map(|i| Rect {
            x: left[i],
            y: top[i],
            w: items[i].w,
            h: items[i].h,
        })
        .collect();
    Output {
        rects,
        routes,
        width: max_x - min_x,
        height,
    }
}

struct Dfs {
    is_back: Vec<bool>,
    /// Preorder number of each node.
    pre: Vec<usize>,
    /// Nodes in reverse postorder: a topological order once back edges are
    /// reversed.
    order: Vec<usize>,
}

/// An iterative depth-first search (a long chain of states must not
/// overflow the stack) from node 0, then from any node not yet seen.
fn back_edges(n: usize, edges: &[(usize, usize)]) -> Dfs {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(u, v)) in edges.iter().enumerate() {
        if u < n && v < n {
            out[u].push(i);
        }
    }
    let mut colour = vec![0u8; n];
    let mut pre = vec![0usize; n];
    let mut post = Vec::with_capacity(n);
    let mut is_back = vec![false; edges.len()];
    let mut counter = 0;
    for root in 0..n {
        if colour[root] != 0 {
            continue;
        }
        colour[root] = 1;
        pre[root] = counter;
        counter += 1;
        let mut stack = vec![(root, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (u, k) = *top;
            if let Some(&e) = out[u].get(k) {
                top.1 += 1;
                let v = edges[e].1;
                match colour[v] {
                    0 => {
                        colour[v] = 1;
                        pre[v] = counter;
                        counter += 1;
                        stack.push((v, 0));
                    }
                    1 => is_back[e] = true,
                    _ => {}
                }
            } else {
                colour[u] = 2;
                post.push(u);
                stack.pop();
            }
        }
    }
    post.reverse();
    Dfs {
        is_back,
        pre,
        order: post,
    }
}

/// Longest path from the sources, in topological order; End below all.
fn ranks(n: usize, dir: &[(usize, usize)], order: &[usize], end: usize) -> Vec<usize> {
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in dir {
        if a < n && b < n && a != b {
            out[a].push(b);
        }
    }
    let mut rank = vec![0usize; n];
    for &a in order {
        for &b in &out[a] {
            rank[b] = rank[b].max(rank[a] + 1);
        }
    }
    if end < n {
        let others = (0..n).filter(|&i| i != end).map(|i| rank[i]).max();
        rank[end] = others.map_or(0, |m| m + 1);
    }
    rank
}

/// Each layer's items, ordered: first as the search met them (a dummy
/// right after its edge's source), then by barycenter sweeps down and up.
fn order(
    items: &[Item],
    up: &[Vec<usize>],
    down: &[Vec<usize>],
    pre: &[usize],
    dir: &[(usize, usize)],
    layers_n: usize,
) -> Vec<Vec<usize>> {
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layers_n];
    for (i, it) in items.iter().enumerate() {
        layers[it.layer].push(i);
    }
    let first = |i: usize| match items[i].node {
        Some(n) => (pre[n] * 2, i),
        None => (pre[dir[items[i].edge].0] * 2 + 1, i),
    };
    let mut pos = vec![0i64; items.len()];
    for layer in &mut layers {
        layer.sort_by_key(|&i| first(i));
        for (k, &i) in layer.iter().enumerate() {
            pos[i] = k as i64;
        }
    }
    for sweep in 0..SWEEPS {
        let downward = sweep % 2 == 0;
        let sequence: Vec<usize> = if downward {
            (1..layers_n).collect()
        } else {
            (0..layers_n.saturating_sub(1)).rev().collect()
        };
        for l in sequence {
            let mut keyed: Vec<(i64, i64, usize)> = layers[l]
                .iter()
                .map(|&i| {
                    let nb = if downward { &up[i] } else { &down[i] };
                    let key = if nb.is_empty() {
                        pos[i] * 1024
                    } else {
                        nb.iter().map(|&j| pos[j]).sum::<i64>() * 1024 / nb.len() as i64
                    };
                    (key, pos[i], i)
                })
                .collect();
            keyed.sort_unstable();
            layers[l] = keyed.into_iter().map(|k| k.2).collect();
            for (k, &i) in layers[l].iter().enumerate() {
                pos[i] = k as i64;
            }
        }
    }
    layers
}

/// Left edges: the first layer packed; every other item as near the mean
/// centre of its upper neighbours as order and spacing allow (the mean of
/// a push-right and a push-left placement, both of which keep the gaps).
fn x_positions(items: &[Item], up: &[Vec<usize>], layers: &[Vec<usize>]) -> Vec<i64> {
    let mut left = vec![0i64; items.len()];
    for layer in layers {
        let mut x = 0;
        for &i in layer {
            left[i] = x;
            x += items[i].w + items[i].room + H_GAP;
        }
    }
    let centre = |left: &[i64], i: usize| left[i] + items[i].w / 2;
    for layer in layers.iter().skip(1) {
        let want: Vec<i64> = layer
            .iter()
            .map(|&i| {
                let c = if up[i].is_empty() {
                    centre(&left, i)
                } else {
                    let sum: i64 = up[i].iter().map(|&j| centre(&left, j)).sum();
                    sum.div_euclid(up[i].len() as i64)
                };
                c - items[i].w / 2
            })
            .collect();
        let m = layer.len();
        let mut a = want.clone();
        for k in 1..m {
            let before = &items[layer[k - 1]];
            a[k] = a[k].max(a[k - 1] + before.w + before.room + H_GAP);
        }
        let mut b = want;
        for k in (0..m.saturating_sub(1)).rev() {
            b[k] = b[k].min(b[k + 1] - H_GAP - items[layer[k]].w - items[layer[k]].room);
        }
        for k in 0..m {
            left[layer[k]] = (a[k] + b[k]).div_euclid(2);
        }
    }
    left
}

/// Where each segment leaves its upper item and enters its lower one:
/// spread along the border, in the order of the other ends.
fn ports(items: &[Item], segs: &[(usize, usize)], left: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut outs: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut ins: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for (s, &(a, b)) in segs.iter().enumerate() {
        outs[a].push(s);
        ins[b].push(s);
    }
    let centre = |i: usize| left[i] + items[i].w / 2;
    let mut out_port = vec![0i64; segs.len()];
    let mut in_port = vec![0i64; segs.len()];
    for (i, it) in items.iter().enumerate() {
        let mut o = outs[i].clone();
        o.sort_by_key(|&s| (centre(segs[s].1), s));
        for (k, &s) in o.iter().enumerate() {
            out_port[s] = left[i] + it.w * (k as i64 + 1) / (o.len() as i64 + 1);
        }
        let mut n = ins[i].clone();
        n.sort_by_key(|&s| (centre(segs[s].0), s));
        for (k, &s) in n.iter().enumerate() {
            in_port[s] = left[i] + it.w * (k as i64 + 1) / (n.len() as i64 + 1);
        }
    }
    (out_port, in_port)
}

fn push(points: &mut Vec<Point>, p: Point) {
    if points.last() != Some(&p) {
        points.push(p);
    }
}

/// The point `depth` pixels down (or up) the segment from `a` to `b`, or
/// its middle when it is shorter.
fn along(a: Point, b: Point, depth: i64) -> Point {
    let dy = b.1 - a.1;
    if dy == 0 {
        return ((a.0 + b.0).div_euclid(2), a.1);
    }
    let d = depth.min(dy.abs() / 2).max(0);
    let y = a.1 + d * dy.signum();
    let x = a.0 + (b.0 - a.0) * (y - a.1) / dy;
    (x, y)
}

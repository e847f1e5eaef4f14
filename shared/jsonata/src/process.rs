//! Post-processing, jsonata-js's `processAST`: the parser's raw tree →
//! [`Node`]s, with `.` chains made into paths whose steps carry their own
//! predicates.
//!
//! Recursive, over a tree [`crate::parser`] keeps at most
//! [`crate::parser::MAX_DEPTH`] high. One small function per construct, and
//! operands taken boxed as the tree holds them: in a debug build a match
//! gives each arm its own stack slots, and moving operands out in the
//! dispatching match would cost a slot per arm per level.
#![allow(clippy::boxed_local)]

use std::sync::Arc;

use crate::ast::{BinOp, LambdaDef, Node, Step};
use crate::error::Error;
use crate::parser::Raw;

pub(crate) fn process(raw: Raw) -> Result<Node, Error> {
    match raw {
        Raw::Leaf(n) => Ok(n),
        Raw::Name(n) => Ok(path(vec![step(Node::Name(n))])),
        Raw::Neg(e) => negation(e),
        Raw::Array(items) => array(items),
        Raw::Object(pairs) => process_pairs(pairs).map(Node::Object),
        Raw::Dot(l, r) => dot(l, r),
        Raw::Pred(l, pred) => predicate(l, pred),
        Raw::Group(l, pairs) => group(l, pairs),
        Raw::Sort(l, terms) => sort(l, terms),
        Raw::Bin(op, l, r) => binary_node(op, l, r),
        Raw::Cond(c, t, e) => condition(c, t, e),
        Raw::Block(items) => process_all(items).map(Node::Block),
        Raw::Bind(name, v) => bind(name, v),
        Raw::Lambda(params, body, signature) => lambda(params, body, signature),
        Raw::Call(f, args) => call(f, args),
        Raw::Placeholder => Ok(Node::Placeholder),
        Raw::Binding(l, var, focus) => binding(l, var, focus),
        Raw::Apply(l, r) => apply(l, r),
        Raw::Transform(p, u, d) => transform(p, u, d),
    }
}

fn negation(e: Box<Raw>) -> Result<Node, Error> {
    Ok(match process(*e)? {
        Node::Num(n) => Node::Num(-n),
        other => Node::Neg(Box::new(other)),
    })
}

fn array(items: Vec<Raw>) -> Result<Node, Error> {
    Ok(Node::Array {
        items: process_all(items)?,
        cons: false,
    })
}

fn binary_node(op: BinOp, l: Box<Raw>, r: Box<Raw>) -> Result<Node, Error> {
    Ok(Node::Binary(
        op,
        Box::new(process(*l)?),
        Box::new(process(*r)?),
    ))
}

fn apply(l: Box<Raw>, r: Box<Raw>) -> Result<Node, Error> {
    Ok(Node::Apply(Box::new(process(*l)?), Box::new(process(*r)?)))
}

fn lambda(params: Vec<Arc<str>>, body: Box<Raw>, signature: Option<String>) -> Result<Node, Error> {
    Ok(Node::Lambda(Arc::new(LambdaDef {
        params,
        body: process(*body)?,
        signature,
    })))
}

fn bind(name: Arc<str>, v: Box<Raw>) -> Result<Node, Error> {
    Ok(Node::Bind(name, Box::new(process(*v)?)))
}

// Plain loops: iterator adapters cost a handful of frames each in a debug
// build, and these recurse.
fn process_all(items: Vec<Raw>) -> Result<Vec<Node>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(process(item)?);
    }
    Ok(out)
}

fn dot(l: Box<Raw>, r: Box<Raw>) -> Result<Node, Error> {
    let mut steps = into_steps(process(*l)?);
    match process(*r)? {
        Node::Path {
            steps: more,
            group: None,
            ..
        } => steps.extend(more),
        Node::Filtered {
            node,
            predicates,
            group: None,
        } => steps.push(Step {
            node: *node,
            stages: predicates,
            keep_array: false,
            focus: None,
            index: None,
        }),
        other => steps.push(step(other)),
    }
    for s in &mut steps {
        match &s.node {
            Node::Str(name) => s.node = Node::Name(name.clone()),
            Node::Num(_) | Node::Bool(_) | Node::Null => {
                return Err(Error::new(
                    "S0213",
                    "The literal value cannot be used as a step within a path expression",
                ));
            }
            _ => {}
        }
    }
    if let Some(Step {
        node: Node::Array { cons, .. },
        ..
    }) = steps.first_mut()
    {
        *cons = true;
    }
    if let Some(Step {
        node: Node::Array { cons, .. },
        ..
    }) = steps.last_mut()
    {
        *cons = true;
    }
    Ok(path(steps))
}

/// A path over `steps`, keeping arrays if any step does.
fn path(steps: Vec<Step>) -> Node {
    let keep_array = steps.iter().any(|s| s.keep_array);
    Node::Path {
        steps,
        keep_array,
        group: None,
    }
}

fn predicate(l: Box<Raw>, pred: Option<Box<Raw>>) -> Result<Node, Error> {
    let node = process(*l)?;
    Ok(match (node, pred) {
        (
            Node::Path {
                mut steps,
                group: None,
                ..
            },
            None,
        ) => {
            if let Some(last) = steps.last_mut() {
                last.keep_array = true;
            }
            Node::Path {
                steps,
                keep_array: true,
                group: None,
            }
        }
        (other, None) => other,
        (
            Node::Path {
                mut steps,
                keep_array,
                group: None,
            },
            Some(p),
        ) => {
            let p = process(*p)?;
            if let Some(last) = steps.last_mut() {
                last.stages.push(p);
            }
            Node::Path {
                steps,
                keep_array,
                group: None,
            }
        }
        (
            Node::Filtered {
                node,
                mut predicates,
                group: None,
            },
            Some(p),
        ) => {
            predicates.push(process(*p)?);
            Node::Filtered {
                node,
                predicates,
                group: None,
            }
        }
        (other, Some(p)) => Node::Filtered {
            node: Box::new(other),
            predicates: vec![process(*p)?],
            group: None,
        },
    })
}

fn group(l: Box<Raw>, pairs: Vec<(Raw, Raw)>) -> Result<Node, Error> {
    let pairs = process_pairs(pairs)?;
    Ok(match process(*l)? {
        Node::Path {
            steps,
            keep_array,
            group: None,
        } => Node::Path {
            steps,
            keep_array,
            group: Some(pairs),
        },
        Node::Path { .. } | Node::Filtered { group: Some(_), .. } => {
            return Err(Error::new(
                "S0210",
                "Each step can only have one grouping expression",
            ));
        }
        Node::Filtered {
            node,
            predicates,
            group: None,
        } => Node::Filtered {
            node,
            predicates,
            group: Some(pairs),
        },
        other => Node::Filtered {
            node: Box::new(other),
            predicates: Vec::new(),
            group: Some(pairs),
        },
    })
}

fn sort(l: Box<Raw>, terms: Vec<(Raw, bool)>) -> Result<Node, Error> {
    let mut steps = into_steps(process(*l)?);
    let terms = terms
        .into_iter()
        .map(|(t, d)| Ok((process(t)?, d)))
        .collect::<Result<_, Error>>()?;
    steps.push(step(Node::Sort(terms)));
    Ok(path(steps))
}

fn condition(c: Box<Raw>, t: Box<Raw>, e: Option<Box<Raw>>) -> Result<Node, Error> {
    Ok(Node::Cond(
        Box::new(process(*c)?),
        Box::new(process(*t)?),
        e.map(|e| process(*e)).transpose()?.map(Box::new),
    ))
}

fn call(f: Box<Raw>, args: Vec<Raw>) -> Result<Node, Error> {
    let partial = args.iter().any(|a| matches!(a, Raw::Placeholder));
    Ok(Node::Call {
        func: Box::new(process(*f)?),
        args: process_all(args)?,
        partial,
    })
}

fn binding(l: Box<Raw>, var: Arc<str>, focus: bool) -> Result<Node, Error> {
    let mut steps = into_steps(process(*l)?);
    if let Some(last) = steps.last_mut() {
        if focus {
            last.focus = Some(var);
        } else {
            last.index = Some(var);
        }
    }
    Ok(path(steps))
}

fn transform(p: Box<Raw>, u: Box<Raw>, d: Option<Box<Raw>>) -> Result<Node, Error> {
    Ok(Node::Transform(Arc::new((
        process(*p)?,
        process(*u)?,
        d.map(|d| process(*d)).transpose()?,
    ))))
}

fn step(node: Node) -> Step {
    Step {
        node,
        stages: Vec::new(),
        keep_array: false,
        focus: None,
        index: None,
    }
}

fn into_steps(n: Node) -> Vec<Step> {
    match n {
        Node::Path {
            steps, group: None, ..
        } => steps,
        Node::Filtered {
            node,
            predicates,
            group: None,
        } => vec![Step {
            node: *node,
            stages: predicates,
            keep_array: false,
            focus: None,
            index: None,
        }],
        other => vec![step(other)],
    }
}

fn process_pairs(pairs: Vec<(Raw, Raw)>) -> Result<Vec<(Node, Node)>, Error> {
    let mut out = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        out.push((process(k)?, process(v)?));
    }
    Ok(out)
}

//! Evaluating a [`Path`] against a document, and writing through a reference path.

use serde_json::{Map, Value};

use super::{Key, Path, Segment};
use crate::limits::{Budget, MAX_VALUE_BYTES};

/// What a path selected.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// A definite path's one value.
    One(Value),
    /// An indefinite path's matches, in document order.
    Many(Vec<Value>),
}

impl Selection {
    pub fn into_value(self) -> Value {
        match self {
            Selection::One(v) => v,
            Selection::Many(vs) => Value::Array(vs),
        }
    }
}

/// The definite path selected nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Missing;

/// Why [`select`] gave nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoSelection {
    /// The definite path selected nothing.
    Missing,
    /// An indefinite path matched more than [`MAX_MATCHES`] times on the
    /// way, or more than [`MAX_VALUE_BYTES`] of JSON in all.
    TooMany,
}

/// How many matches a step of an indefinite path may hold: each deep scan
/// can multiply them (`$..*..*..*`), and a selection larger than a payload
/// is of no use.
pub const MAX_MATCHES: usize = 1_000_000;

/// Selects from `doc`. The caller picks `doc` by the path's root.
pub fn select(path: &Path, doc: &Value) -> Result<Selection, NoSelection> {
    if path.is_definite() {
        let mut cur = doc;
        for seg in &path.segments {
            match seg {
                Segment::Child(name) => {
                    cur = cur
                        .as_object()
                        .and_then(|m| m.get(name))
                        .ok_or(NoSelection::Missing)?
                }
                Segment::Index(i) => cur = index(cur, *i).ok_or(NoSelection::Missing)?,
                Segment::Length => {
                    return match cur {
                        Value::Array(a) => Ok(Selection::One(a.len().into())),
                        Value::Object(m) => Ok(Selection::One(m.len().into())),
                        Value::String(s) => Ok(Selection::One(s.chars().count().into())),
                        _ => Err(NoSelection::Missing),
                    };
                }
                _ => unreachable!("definite paths hold only children and indexes"),
            }
        }
        return Ok(Selection::One(cur.clone()));
    }
    let mut current: Vec<&Value> = vec![doc];
    for seg in &path.segments {
        let mut next = Vec::new();
        for v in current {
            step(seg, v, doc, &mut next);
            if next.len() > MAX_MATCHES {
                return Err(NoSelection::TooMany);
            }
        }
        current = next;
    }
    // `$['a','a',…]` copies the same value many times: measured first.
    let mut budget = Budget::new(MAX_VALUE_BYTES);
    if !current.iter().all(|v| budget.take(v)) {
        return Err(NoSelection::TooMany);
    }
    Ok(Selection::Many(current.into_iter().cloned().collect()))
}

fn index(v: &Value, i: i64) -> Option<&Value> {
    let a = v.as_array()?;
    let i = if i < 0 { a.len() as i64 + i } else { i };
    usize::try_from(i).ok().and_then(|i| a.get(i))
}

fn step<'a>(seg: &Segment, v: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
    match seg {
        Segment::Child(name) => out.extend(v.as_object().and_then(|m| m.get(name))),
        Segment::Index(i) => out.extend(index(v, *i)),
        Segment::Wildcard => match v {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(m) => out.extend(m.values()),
            _ => {}
        },
        Segment::Slice { start, end, step } => {
            if let Value::Array(a) = v {
                slice(a, *start, *end, *step, out);
            }
        }
        Segment::Union(keys) => {
            for k in keys {
                match k {
                    Key::Name(n) => out.extend(v.as_object().and_then(|m| m.get(n))),
                    Key::Index(i) => out.extend(index(v, *i)),
                }
            }
        }
        Segment::Descendants(inner) => descend(inner, v, root, out),
        Segment::Filter(f) => match v {
            Value::Array(a) => out.extend(a.iter().filter(|item| f.test(item, root))),
            Value::Object(_) if f.test(v, root) => out.push(v),
            _ => {}
        },
        Segment::Length => {}
    }
}

fn descend<'a>(inner: &Segment, v: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
    step(inner, v, root, out);
    match v {
        Value::Array(a) => a.iter().for_each(|c| descend(inner, c, root, out)),
        Value::Object(m) => m.values().for_each(|c| descend(inner, c, root, out)),
        _ => {}
    }
}

fn slice<'a>(
    a: &'a [Value],
    start: Option<i64>,
    end: Option<i64>,
    step: Option<i64>,
    out: &mut Vec<&'a Value>,
) {
    let len = a.len() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let step = step.unwrap_or(1).max(1);
    let from = start.map_or(0, norm);
    let to = end.map_or(len, norm);
    let mut i = from;
    while i < to {
        out.push(&a[i as usize]);
        i += step;
    }
}

/// Writes `value` at a reference path inside `doc`, creating objects on the
/// way. Fails (ResultPathMatchFailure) when the way runs through a non-object.
pub fn set(path: &Path, doc: &mut Value, value: Value) -> Result<(), Missing> {
    let Some((last, parents)) = path.segments.split_last() else {
        *doc = value;
        return Ok(());
    };
    let mut cur = doc;
    for seg in parents {
        cur = match seg {
            Segment::Child(name) => {
                let obj = cur.as_object_mut().ok_or(Missing)?;
                obj.entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Segment::Index(i) => {
                let a = cur.as_array_mut().ok_or(Missing)?;
                let len = a.len() as i64;
                let i = if *i < 0 { len + i } else { *i };
                a.get_mut(usize::try_from(i).map_err(|_| Missing)?)
                    .ok_or(Missing)?
            }
            _ => return Err(Missing),
        };
    }
    match last {
        Segment::Child(name) => {
            cur.as_object_mut()
                .ok_or(Missing)?
                .insert(name.clone(), value);
        }
        Segment::Index(i) => {
            let a = cur.as_array_mut().ok_or(Missing)?;
            let len = a.len() as i64;
            let i = if *i < 0 { len + i } else { *i };
            *a.get_mut(usize::try_from(i).map_err(|_| Missing)?)
                .ok_or(Missing)? = value;
        }
        _ => return Err(Missing),
    }
    Ok(())
}

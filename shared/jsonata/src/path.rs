//! Paths, steps, predicates, group-by and sort: the parts of `evaluate` that
//! work on sequences.

use std::cell::RefCell;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::ast::{Node, Step};
use crate::env::Frame;
use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions;
use crate::limits::Budget;
use crate::value::{Flags, List, Object, Value};

fn items(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a, _) => a.to_vec(),
        Value::Undefined => Vec::new(),
        other => vec![other.clone()],
    }
}

impl Evaluator {
    pub(crate) fn path(
        &mut self,
        steps: &[Step],
        keep_array: bool,
        group: Option<&[(Node, Node)]>,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        if steps.iter().any(|s| s.focus.is_some() || s.index.is_some()) {
            return self.tuple_path(steps, group, input, env);
        }
        let first_is_var = matches!(steps.first().map(|s| &s.node), Some(Node::Var(_)));
        let mut inputs: Arc<List> = match input {
            Value::Array(a, _) if !first_is_var => a.clone(),
            other => Arc::new(List::new(vec![other.clone()])),
        };
        let mut result = Value::Undefined;
        for (i, step) in steps.iter().enumerate() {
            result = if i == 0 && matches!(step.node, Node::Array { cons: true, .. }) {
                let seq = Value::Array(
                    inputs.clone(),
                    Flags {
                        sequence: true,
                        ..Flags::default()
                    },
                );
                let mut v = self.eval(&step.node, &seq, env)?;
                for stage in &step.stages {
                    v = self.filter(stage, v, env)?;
                }
                v
            } else {
                self.step(step, &inputs, env, i + 1 == steps.len())?
            };
            match &result {
                Value::Undefined => break,
                Value::Array(a, _) if a.is_empty() => break,
                _ => {}
            }
            inputs = match &result {
                Value::Array(a, _) => a.clone(),
                other => Arc::new(List::new(vec![other.clone()])),
            };
        }
        if keep_array {
            result = match result {
                Value::Array(a, f) if f.cons && !f.sequence => Value::Array(
                    a,
                    Flags {
                        sequence: true,
                        keep_singleton: true,
                        ..Flags::default()
                    },
                ),
                Value::Array(a, f) => Value::Array(
                    a,
                    Flags {
                        keep_singleton: true,
                        ..f
                    },
                ),
                Value::Undefined => Value::Undefined,
                other => Value::array_with(
                    vec![other],
                    Flags {
                        sequence: true,
                        keep_singleton: true,
                        ..Flags::default()
                    },
                ),
            };
        }
        if let Some(g) = group {
            result = self.group(g, &result, env)?;
        }
        Ok(result)
    }

    /// A path with `@` or `#` bindings: each item travels with the
    /// variables bound so far (jsonata-js's tuple stream).
    fn tuple_path(
        &mut self,
        steps: &[Step],
        group: Option<&[(Node, Node)]>,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        type Tuple = (Value, Vec<(Arc<str>, Value)>);
        let first_is_var = matches!(steps.first().map(|s| &s.node), Some(Node::Var(_)));
        let mut tuples: Vec<Tuple> = match input {
            Value::Array(a, _) if !first_is_var => {
                a.iter().map(|v| (v.clone(), Vec::new())).collect()
            }
            other => vec![(other.clone(), Vec::new())],
        };
        let frame_for = |binds: &[(Arc<str>, Value)]| {
            let f = Frame::child(env);
            for (k, v) in binds {
                f.bind(k.clone(), v.clone());
            }
            f
        };
        for step in steps {
            if matches!(step.node, Node::Sort(_)) {
                return Err(Error::new(
                    "S0216",
                    "Sorting a path with @ or # bindings is not supported",
                ));
            }
            let mut next: Vec<Tuple> = Vec::new();
            let mut budget = Budget::new();
            for (ctx, binds) in &tuples {
                let frame = frame_for(binds);
                let items = self.eval(&step.node, ctx, &frame);
                self.retire(frame);
                let items = match items? {
                    Value::Undefined => Vec::new(),
                    Value::Array(a, f) if !f.cons => a.to_vec(),
                    other => vec![other],
                };
                for (position, item) in items.into_iter().enumerate() {
                    let mut b = binds.clone();
                    let value = match &step.focus {
                        Some(name) => {
                            b.push((name.clone(), item));
                            ctx.clone()
                        }
                        None => item,
                    };
                    if let Some(name) = &step.index {
                        b.push((name.clone(), Value::Number(position as f64)));
                    }
                    budget.add(&value, "a path")?;
                    budget.add_bytes(b.len() * std::mem::size_of::<Value>(), "a path")?;
                    next.push((value, b));
                }
            }
            for stage in &step.stages {
                let mut kept = Vec::new();
                let len = next.len() as i64;
                for (i, (v, b)) in next.into_iter().enumerate() {
                    let frame = frame_for(&b);
                    let keep = self.eval(stage, &v, &frame);
                    self.retire(frame);
                    let keep = match keep? {
                        Value::Number(n) => {
                            let k = n.floor() as i64;
                            (if k < 0 { k + len } else { k }) == i as i64
                        }
                        other => functions::boolean(&other).unwrap_or(false),
                    };
                    if keep {
                        kept.push((v, b));
                    }
                }
                next = kept;
            }
            tuples = next;
            if tuples.is_empty() {
                break;
            }
        }
        let result = Value::sequence(tuples.into_iter().map(|(v, _)| v).collect());
        match group {
            Some(g) => self.group(g, &result, env),
            None => Ok(result),
        }
    }

    fn step(
        &mut self,
        step: &Step,
        inputs: &[Value],
        env: &Arc<Frame>,
        last: bool,
    ) -> Result<Value, Error> {
        if let Node::Sort(terms) = &step.node {
            let mut v = self.sort(terms, inputs, env)?;
            for stage in &step.stages {
                v = self.filter(stage, v, env)?;
            }
            return Ok(v);
        }
        let mut results = Vec::with_capacity(inputs.len());
        let mut budget = Budget::new();
        for item in inputs {
            let mut v = self.eval(&step.node, item, env)?;
            for stage in &step.stages {
                v = self.filter(stage, v, env)?;
            }
            if !v.is_undefined() {
                budget.add(&v, "a path")?;
                results.push(v);
            }
        }
        if last
            && results.len() == 1
            && let Value::Array(_, f) = &results[0]
            && !f.sequence
        {
            return Ok(results.pop().expect("one result"));
        }
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Value::Array(a, f) if !f.cons => out.extend(a.iter().cloned()),
                other => out.push(other),
            }
        }
        Ok(Value::sequence(out))
    }

    /// A predicate `[...]`: an index (negative counts from the end), indexes,
    /// or a condition per item.
    pub(crate) fn filter(
        &mut self,
        pred: &Node,
        input: Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let list = match &input {
            Value::Array(a, _) => a.clone(),
            Value::Undefined => Arc::new(List::default()),
            other => Arc::new(List::new(vec![other.clone()])),
        };
        let len = list.len() as i64;
        if let Node::Num(n) = pred {
            let mut index = n.floor() as i64;
            if index < 0 {
                index += len;
            }
            return Ok(
                match usize::try_from(index).ok().and_then(|i| list.get(i)) {
                    Some(item @ Value::Array(..)) => item.clone(),
                    Some(item) => Value::sequence(vec![item.clone()]),
                    None => Value::sequence(Vec::new()),
                },
            );
        }
        let mut out = Vec::new();
        let mut budget = Budget::new();
        for (index, item) in list.iter().enumerate() {
            let res = self.eval(pred, item, env)?;
            let numbers: Option<Vec<f64>> = match &res {
                Value::Number(n) => Some(vec![*n]),
                Value::Array(a, _) if a.iter().all(|v| matches!(v, Value::Number(_))) => Some(
                    a.iter()
                        .map(|v| if let Value::Number(n) = v { *n } else { 0.0 })
                        .collect(),
                ),
                _ => None,
            };
            match numbers {
                Some(ns) => {
                    for n in ns {
                        let mut ii = n.floor() as i64;
                        if ii < 0 {
                            ii += len;
                        }
                        if ii == index as i64 {
                            budget.add(item, "a predicate")?;
                            out.push(item.clone());
                        }
                    }
                }
                None => {
                    if functions::boolean(&res).unwrap_or(false) {
                        out.push(item.clone());
                    }
                }
            }
        }
        Ok(Value::sequence(out))
    }

    /// Object constructors and group-by: `{key: value}` over each input item.
    pub(crate) fn group(
        &mut self,
        pairs: &[(Node, Node)],
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let mut list = items(input);
        if list.is_empty() {
            list.push(Value::Undefined);
        }
        // Each key's items, gathered as jsonata-js's `append` would (arrays
        // spread) but without copying the list per item.
        let mut groups: IndexMap<String, (Vec<Value>, usize)> = IndexMap::new();
        for item in &list {
            for (i, (k, _)) in pairs.iter().enumerate() {
                let key = match self.eval(k, item, env)? {
                    Value::Undefined => continue,
                    Value::String(s) => s.to_string(),
                    other => {
                        return Err(Error::new(
                            "T1003",
                            format!(
                                "Key in object structure must evaluate to a string; got: {}",
                                functions::strings::to_string(&other)?
                            ),
                        ));
                    }
                };
                match groups.get_mut(&key) {
                    Some((data, idx)) => {
                        if *idx != i {
                            return Err(Error::new(
                                "D1009",
                                format!("Multiple key definitions evaluate to same key: \"{key}\""),
                            ));
                        }
                        data.push(item.clone());
                    }
                    None => {
                        groups.insert(key, (vec![item.clone()], i));
                    }
                }
            }
        }
        let mut out = Object::with_capacity_and_hasher(groups.len(), Default::default());
        let mut budget = Budget::new();
        for (key, (items, i)) in groups {
            let data = appended(items);
            let v = self.eval(&pairs[i].1, &data, env)?;
            if !v.is_undefined() {
                budget.add(&v, "an object constructor")?;
                budget.add_bytes(key.len(), "an object constructor")?;
                out.insert(key, v);
            }
        }
        Ok(Value::object(out))
    }

    /// `^(<a, >b)`: a stable sort of the whole sequence.
    fn sort(
        &mut self,
        terms: &[(Node, bool)],
        inputs: &[Value],
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let mut keyed = Vec::with_capacity(inputs.len());
        for item in inputs {
            let mut keys = Vec::with_capacity(terms.len());
            for (t, _) in terms {
                keys.push(self.eval(t, item, env)?);
            }
            keyed.push((keys, item.clone()));
        }
        let failure: RefCell<Option<Error>> = RefCell::new(None);
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, desc)) in terms.iter().enumerate() {
                let ord = match compare_keys(&a[i], &b[i]) {
                    Ok(o) => o,
                    Err(e) => {
                        failure.borrow_mut().get_or_insert(e);
                        std::cmp::Ordering::Equal
                    }
                };
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
        Ok(Value::sequence(keyed.into_iter().map(|(_, v)| v).collect()))
    }
}

/// `items` folded with [`functions::append`]: one item stays as it is.
fn appended(mut items: Vec<Value>) -> Value {
    items.retain(|v| !v.is_undefined());
    if items.len() <= 1 {
        return items.pop().unwrap_or_default();
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Array(a, _) => out.extend(a.iter().cloned()),
            other => out.push(other),
        }
    }
    Value::array(out)
}

fn compare_keys(a: &Value, b: &Value) -> Result<std::cmp::Ordering, Error> {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::Undefined, Value::Undefined) => Ok(Ordering::Equal),
        (Value::Undefined, _) => Ok(Ordering::Greater),
        (_, Value::Undefined) => Ok(Ordering::Less),
        (Value::Number(x), Value::Number(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
        (Value::String(x), Value::String(y)) => Ok(functions::strings::js_cmp(x, y)),
        (Value::Number(_) | Value::String(_), Value::Number(_) | Value::String(_)) => {
            Err(Error::new(
                "T2007",
                "Type mismatch when comparing values in order-by clause",
            ))
        }
        _ => Err(Error::new(
            "T2008",
            "The expressions within an order-by clause must evaluate to numeric or string values",
        )),
    }
}

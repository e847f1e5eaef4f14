//! Higher-order functions: `$map`, `$filter`, `$single`, `$reduce`, `$sift`,
//! `$each`, `$sort`.

use std::cell::RefCell;

use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions::boolean;
use crate::limits::Budget;
use crate::value::{Object, Value};

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a, _) => a.to_vec(),
        Value::Undefined => Vec::new(),
        other => vec![other.clone()],
    }
}

/// The value, then (if `f` takes them) the index and the whole.
fn args(f: &Value, v: Value, i: Value, all: &Value) -> Vec<Value> {
    let n = Evaluator::arity(f);
    let mut out = vec![v];
    if n >= 2 {
        out.push(i);
    }
    if n >= 3 {
        out.push(all.clone());
    }
    out
}

pub fn map(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    let mut out = Vec::new();
    let mut budget = Budget::new();
    for (i, v) in list(&a[0]).into_iter().enumerate() {
        let r = e.apply(&a[1], args(&a[1], v, Value::Number(i as f64), &a[0]), ctx)?;
        if !r.is_undefined() {
            budget.add(&r, "$map")?;
            out.push(r);
        }
    }
    Ok(Value::sequence(out))
}

pub fn filter(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    let mut out = Vec::new();
    for (i, v) in list(&a[0]).into_iter().enumerate() {
        let r = e.apply(
            &a[1],
            args(&a[1], v.clone(), Value::Number(i as f64), &a[0]),
            ctx,
        )?;
        if boolean(&r).unwrap_or(false) {
            out.push(v);
        }
    }
    Ok(Value::sequence(out))
}

pub fn single(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    let mut found: Option<Value> = None;
    for (i, v) in list(&a[0]).into_iter().enumerate() {
        let pass = match &a[1] {
            Value::Undefined => true,
            f => boolean(&e.apply(f, args(f, v.clone(), Value::Number(i as f64), &a[0]), ctx)?)
                .unwrap_or(false),
        };
        if pass {
            if found.is_some() {
                return Err(Error::new(
                    "D3138",
                    "The $single() function expected exactly 1 matching result.  Instead it matched more.",
                ));
            }
            found = Some(v);
        }
    }
    found.ok_or_else(|| {
        Error::new(
            "D3139",
            "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
        )
    })
}

pub fn reduce(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    let f = &a[1];
    let n = Evaluator::arity(f);
    if n < 2 {
        return Err(Error::new(
            "D3050",
            "The second argument of reduce function must be a function with at least two arguments",
        ));
    }
    let items = list(&a[0]);
    let (mut acc, start) = match a.get(2) {
        Some(init) if !init.is_undefined() => (init.clone(), 0),
        _ if !items.is_empty() => (items[0].clone(), 1),
        _ => (Value::Undefined, 0),
    };
    for (i, v) in items.iter().enumerate().skip(start) {
        let mut call = vec![acc, v.clone()];
        if n >= 3 {
            call.push(Value::Number(i as f64));
        }
        if n >= 4 {
            call.push(a[0].clone());
        }
        acc = e.apply(f, call, ctx)?;
    }
    Ok(acc)
}

pub fn sift(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    let Value::Object(m) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let mut out = Object::default();
    for (k, v) in m.iter() {
        let r = e.apply(
            &a[1],
            args(&a[1], v.clone(), Value::string(k.as_str()), &a[0]),
            ctx,
        )?;
        if boolean(&r).unwrap_or(false) {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(if out.is_empty() {
        Value::Undefined
    } else {
        Value::object(out)
    })
}

pub fn each(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    let Value::Object(m) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let mut out = Vec::new();
    let mut budget = Budget::new();
    for (k, v) in m.iter() {
        let r = e.apply(
            &a[1],
            args(&a[1], v.clone(), Value::string(k.as_str()), &a[0]),
            ctx,
        )?;
        if !r.is_undefined() {
            budget.add(&r, "$each")?;
            out.push(r);
        }
    }
    Ok(Value::sequence(out))
}

pub fn sort(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    let Value::Array(items, _) = &a[0] else {
        return Ok(a[0].clone());
    };
    if items.len() <= 1 {
        return Ok(a[0].clone());
    }
    let mut v = items.to_vec();
    match &a[1] {
        Value::Undefined => {
            if v.iter().all(|x| matches!(x, Value::Number(_))) {
                v.sort_by(|x, y| match (x, y) {
                    (Value::Number(p), Value::Number(q)) => {
                        p.partial_cmp(q).unwrap_or(std::cmp::Ordering::Equal)
                    }
                    _ => std::cmp::Ordering::Equal,
                });
            } else if v.iter().all(|x| matches!(x, Value::String(_))) {
                v.sort_by(|x, y| match (x, y) {
                    (Value::String(p), Value::String(q)) => crate::functions::strings::js_cmp(p, q),
                    _ => std::cmp::Ordering::Equal,
                });
            } else {
                return Err(Error::new(
                    "D3070",
                    "The single argument form of the sort function can only be applied to an array of strings or an array of numbers.  Use the second argument to specify a comparison function",
                ));
            }
        }
        f => {
            // The comparator says whether a goes after b; a stable merge sort.
            let failure: RefCell<Option<Error>> = RefCell::new(None);
            let mut cmp = |x: &Value, y: &Value| -> bool {
                if failure.borrow().is_some() {
                    return false;
                }
                match e.apply(f, vec![x.clone(), y.clone()], ctx) {
                    Ok(r) => boolean(&r).unwrap_or(false),
                    Err(err) => {
                        *failure.borrow_mut() = Some(err);
                        false
                    }
                }
            };
            v = merge_sort(v, &mut cmp);
            if let Some(err) = failure.into_inner() {
                return Err(err);
            }
        }
    }
    Ok(Value::array(v))
}

fn merge_sort(v: Vec<Value>, after: &mut dyn FnMut(&Value, &Value) -> bool) -> Vec<Value> {
    if v.len() <= 1 {
        return v;
    }
    let mut left = v;
    let right = left.split_off(left.len() / 2);
    let (l, r) = (merge_sort(left, after), merge_sort(right, after));
    let mut out = Vec::with_capacity(l.len() + r.len());
    let (mut i, mut j) = (0, 0);
    while i < l.len() && j < r.len() {
        if after(&l[i], &r[j]) {
            out.push(r[j].clone());
            j += 1;
        } else {
            out.push(l[i].clone());
            i += 1;
        }
    }
    out.extend_from_slice(&l[i..]);
    out.extend_from_slice(&r[j..]);
    out
}

//! Array functions.

use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions::append;
use crate::limits::{self, Budget};
use crate::value::Value;

pub fn count(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(Value::Number(match &a[0] {
        Value::Undefined => 0.0,
        Value::Array(x, _) => x.len() as f64,
        _ => 1.0,
    }))
}

pub fn append_fn(_: &mut Evaluator, mut a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let b = a.pop().unwrap_or_default();
    let x = a.pop().unwrap_or_default();
    if x.bytes().saturating_add(b.bytes()) > limits::MAX_BYTES {
        return Err(limits::too_large("$append would build too large an array"));
    }
    Ok(append(x, b))
}

pub fn reverse(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match &a[0] {
        Value::Array(x, _) if x.len() > 1 => Value::array(x.iter().rev().cloned().collect()),
        other => other.clone(),
    })
}

pub fn shuffle(e: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match &a[0] {
        Value::Array(x, _) if x.len() > 1 => {
            let mut v = x.to_vec();
            for i in (1..v.len()).rev() {
                let j = (e.next_random() * (i + 1) as f64) as usize;
                v.swap(i, j.min(i));
            }
            Value::array(v)
        }
        other => other.clone(),
    })
}

pub fn distinct(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match &a[0] {
        Value::Array(x, _) if x.len() > 1 => {
            let mut out: Vec<Value> = Vec::new();
            for v in x.iter() {
                if !out.iter().any(|o| o.deep_eq(v)) {
                    out.push(v.clone());
                }
            }
            Value::sequence(out)
        }
        other => other.clone(),
    })
}

pub fn zip(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let lists: Vec<&[Value]> = a
        .iter()
        .map(|v| match v {
            Value::Array(x, _) => &x[..],
            Value::Undefined => &[],
            other => std::slice::from_ref(other),
        })
        .collect();
    let n = lists.iter().map(|l| l.len()).min().unwrap_or(0);
    let mut budget = Budget::new();
    for l in &lists {
        for v in &l[..n] {
            budget.add(v, "$zip")?;
        }
    }
    Ok(Value::array(
        (0..n)
            .map(|i| Value::array(lists.iter().map(|l| l[i].clone()).collect()))
            .collect(),
    ))
}

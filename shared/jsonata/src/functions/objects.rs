//! Object functions.

use crate::error::Error;
use crate::eval::Evaluator;
use crate::value::{Object, Value};

pub fn keys(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    // An ordered set: `contains` on a vector made this quadratic.
    let mut out: indexmap::IndexSet<String, rustc_hash::FxBuildHasher> = Default::default();
    let mut add = |v: &Value| {
        if let Value::Object(m) = v {
            for k in m.keys() {
                if !out.contains(k) {
                    out.insert(k.clone());
                }
            }
        }
    };
    match &a[0] {
        Value::Array(x, _) => x.iter().for_each(&mut add),
        other => add(other),
    }
    Ok(Value::sequence(
        out.into_iter().map(Value::string).collect(),
    ))
}

pub fn lookup(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::String(key) = &a[1] else {
        return Ok(Value::Undefined);
    };
    Ok(crate::ops::lookup(&a[0], key))
}

pub fn spread(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    fn one(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(x, _) => x.iter().for_each(|i| one(i, out)),
            Value::Object(m) => {
                for (k, v) in m.iter() {
                    let mut o = Object::default();
                    o.insert(k.clone(), v.clone());
                    out.push(Value::object(o));
                }
            }
            other => out.push(other.clone()),
        }
    }
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    if a[0].is_function() {
        return Ok(a[0].clone());
    }
    let mut out = Vec::new();
    one(&a[0], &mut out);
    Ok(Value::sequence(out))
}

pub fn merge(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Array(x, _) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let mut out = Object::default();
    for v in x.iter() {
        if let Value::Object(m) = v {
            for (k, v) in m.iter() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::object(out))
}

/// A deep copy (fresh identities, so `|…|` transforms can tell nodes apart).
pub fn deep_clone(v: &Value) -> Value {
    match v {
        Value::Array(x, f) => Value::array_with(x.iter().map(deep_clone).collect(), *f),
        Value::Object(m) => {
            Value::object(m.iter().map(|(k, v)| (k.clone(), deep_clone(v))).collect())
        }
        other => other.clone(),
    }
}

pub fn clone(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(deep_clone(&a[0]))
}

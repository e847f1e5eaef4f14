//! Field lookup, wildcards, descendants and the binary operators.

use std::sync::Arc;

use crate::ast::BinOp;
use crate::error::Error;
use crate::functions;
use crate::limits;
use crate::value::Value;

/// `name` against the input: objects give their field; arrays map over items.
pub fn lookup(input: &Value, key: &str) -> Value {
    match input {
        Value::Array(a, _) => {
            let mut out = Vec::new();
            for item in a.iter() {
                match lookup(item, key) {
                    Value::Undefined => {}
                    Value::Array(inner, _) => out.extend(inner.iter().cloned()),
                    v => out.push(v),
                }
            }
            Value::sequence(out)
        }
        Value::Object(m) => m.get(key).cloned().unwrap_or(Value::Undefined),
        _ => Value::Undefined,
    }
}

pub fn wildcard(input: &Value) -> Value {
    let input = match input {
        Value::Array(a, f) if f.outer_wrapper && !a.is_empty() => &a[0],
        other => other,
    };
    let mut out = Vec::new();
    let mut push = |v: &Value| match v {
        Value::Array(..) => flatten(v, &mut out),
        other => out.push(other.clone()),
    };
    match input {
        Value::Object(m) => m.values().for_each(&mut push),
        Value::Array(a, _) => a.iter().for_each(&mut push),
        _ => {}
    }
    Value::sequence(out)
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a, _) => a.iter().for_each(|x| flatten(x, out)),
        other => out.push(other.clone()),
    }
}

pub fn descendants(input: &Value) -> Value {
    if input.is_undefined() {
        return Value::Undefined;
    }
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(a, _) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(m) => {
                out.push(v.clone());
                m.values().for_each(|x| walk(x, out));
            }
            other => out.push(other.clone()),
        }
    }
    walk(input, &mut out);
    if out.len() == 1 {
        out.pop().expect("one")
    } else {
        Value::sequence(out)
    }
}

fn number(v: &Value, code: &'static str, side: &str) -> Result<Option<f64>, Error> {
    match v {
        Value::Undefined => Ok(None),
        Value::Number(n) => Ok(Some(*n)),
        _ => Err(Error::new(
            code,
            format!("The {side} side of the arithmetic expression is not a number"),
        )),
    }
}

pub fn binary(op: BinOp, lhs: Value, rhs: Value) -> Result<Value, Error> {
    use BinOp::*;
    Ok(match op {
        Add | Sub | Mul | Div | Mod => {
            let l = number(&lhs, "T2001", "left")?;
            let r = number(&rhs, "T2002", "right")?;
            let (Some(l), Some(r)) = (l, r) else {
                return Ok(Value::Undefined);
            };
            let v = match op {
                Add => l + r,
                Sub => l - r,
                Mul => l * r,
                Div => l / r,
                _ => l % r,
            };
            Value::Number(v)
        }
        Eq | Ne => {
            if lhs.is_undefined() || rhs.is_undefined() {
                return Ok(Value::Bool(false));
            }
            let eq = lhs.deep_eq(&rhs);
            Value::Bool(if op == Eq { eq } else { !eq })
        }
        Lt | Le | Gt | Ge => {
            let comparable =
                |v: &Value| matches!(v, Value::Undefined | Value::String(_) | Value::Number(_));
            if !comparable(&lhs) || !comparable(&rhs) {
                return Err(Error::new(
                    "T2010",
                    "The expressions either side of operator must evaluate to numeric or string values",
                ));
            }
            if lhs.is_undefined() || rhs.is_undefined() {
                return Ok(Value::Undefined);
            }
            let ord = match (&lhs, &rhs) {
                (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
                (Value::String(a), Value::String(b)) => Some(functions::strings::js_cmp(a, b)),
                _ => {
                    return Err(Error::new(
                        "T2009",
                        "The values either side of the operator must be of the same data type",
                    ));
                }
            };
            use std::cmp::Ordering::*;
            Value::Bool(match (op, ord) {
                (_, None) => false,
                (Lt, Some(o)) => o == Less,
                (Le, Some(o)) => o != Greater,
                (Gt, Some(o)) => o == Greater,
                (_, Some(o)) => o != Less,
            })
        }
        Concat => {
            let l = if lhs.is_undefined() {
                String::new()
            } else {
                functions::strings::to_string(&lhs)?
            };
            let r = if rhs.is_undefined() {
                String::new()
            } else {
                functions::strings::to_string(&rhs)?
            };
            limits::string(l.len().saturating_add(r.len()), "the & operator")?;
            Value::string(l + &r)
        }
        Range => {
            let int = |v: &Value, code| match v {
                Value::Undefined => Ok(None),
                Value::Number(n) if n.fract() == 0.0 => Ok(Some(*n as i64)),
                _ => Err(Error::new(
                    code,
                    "The operands of the range operator (..) must evaluate to integer values",
                )),
            };
            let (Some(a), Some(b)) = (int(&lhs, "T2003")?, int(&rhs, "T2004")?) else {
                return Ok(Value::Undefined);
            };
            if a > b {
                return Ok(Value::Undefined);
            }
            let count = b.saturating_sub(a).saturating_add(1);
            if count > 10_000_000 {
                return Err(Error::new(
                    "D2014",
                    "The size of the sequence allocated by the range operator (..) must not exceed 1e7",
                ));
            }
            let bytes = count as usize * std::mem::size_of::<Value>();
            if bytes > limits::MAX_BYTES {
                return Err(limits::too_large(&format!(
                    "the range operator (..) would build {count} items"
                )));
            }
            Value::array((a..=b).map(|i| Value::Number(i as f64)).collect())
        }
        In => {
            if lhs.is_undefined() || rhs.is_undefined() {
                return Ok(Value::Bool(false));
            }
            let list = match &rhs {
                Value::Array(a, _) => a.to_vec(),
                other => vec![other.clone()],
            };
            Value::Bool(list.iter().any(|v| strict_eq(v, &lhs)))
        }
        And | Or => unreachable!("short-circuited by the evaluator"),
    })
}

/// JavaScript's `===`: values for scalars, identity for containers.
fn strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x, _), Value::Array(y, _)) => Arc::ptr_eq(x, y),
        (Value::Object(x), Value::Object(y)) => Arc::ptr_eq(x, y),
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

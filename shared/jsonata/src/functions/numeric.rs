//! Numeric functions and aggregates.

use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions::strings::js_number;
use crate::value::Value;

fn numbers(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Undefined => None,
        Value::Array(a, _) => Some(
            a.iter()
                .filter_map(|x| {
                    if let Value::Number(n) = x {
                        Some(*n)
                    } else {
                        None
                    }
                })
                .collect(),
        ),
        Value::Number(n) => Some(vec![*n]),
        _ => Some(Vec::new()),
    }
}

pub fn sum(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(numbers(&a[0]).map_or(Value::Undefined, |ns| Value::Number(ns.iter().sum())))
}

pub fn max(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match numbers(&a[0]) {
        Some(ns) if !ns.is_empty() => {
            Value::Number(ns.into_iter().fold(f64::NEG_INFINITY, f64::max))
        }
        _ => Value::Undefined,
    })
}

pub fn min(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match numbers(&a[0]) {
        Some(ns) if !ns.is_empty() => Value::Number(ns.into_iter().fold(f64::INFINITY, f64::min)),
        _ => Value::Undefined,
    })
}

pub fn average(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match numbers(&a[0]) {
        Some(ns) if !ns.is_empty() => Value::Number(ns.iter().sum::<f64>() / ns.len() as f64),
        _ => Value::Undefined,
    })
}

fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == f {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

pub fn number(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let fail = || Error::new("D3030", "Unable to cast value to a number");
    Ok(match &a[0] {
        Value::Undefined => Value::Undefined,
        Value::Number(n) => Value::Number(*n),
        Value::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => {
            if is_decimal_literal(s) {
                let n: f64 = s.parse().map_err(|_| fail())?;
                if !n.is_finite() {
                    return Err(fail());
                }
                Value::Number(n)
            } else {
                let (radix, digits) = match s.get(..2) {
                    Some("0x" | "0X") => (16, &s[2..]),
                    Some("0o" | "0O") => (8, &s[2..]),
                    Some("0b" | "0B") => (2, &s[2..]),
                    _ => return Err(fail()),
                };
                let n = u64::from_str_radix(digits, radix).map_err(|_| fail())?;
                Value::Number(n as f64)
            }
        }
        _ => return Err(fail()),
    })
}

fn unary(a: &[Value], f: impl Fn(f64) -> f64) -> Value {
    match a[0] {
        Value::Number(n) => Value::Number(f(n)),
        _ => Value::Undefined,
    }
}

pub fn floor(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(unary(&a, f64::floor))
}

pub fn ceil(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(unary(&a, |n| n.ceil() + 0.0))
}

pub fn abs(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(unary(&a, f64::abs))
}

pub fn sqrt(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    if let Value::Number(n) = a[0]
        && n < 0.0
    {
        return Err(Error::new(
            "D3060",
            format!(
                "The sqrt function cannot be applied to a negative number: {}",
                js_number(n)
            ),
        ));
    }
    Ok(unary(&a, f64::sqrt))
}

pub fn power(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let (Value::Number(b), Value::Number(e)) = (&a[0], &a[1]) else {
        return Ok(Value::Undefined);
    };
    let r = b.powf(*e);
    if !r.is_finite() {
        return Err(Error::new(
            "D3061",
            format!(
                "The power function has resulted in a value that cannot be represented as a JSON number: base={}, exponent={}",
                js_number(*b),
                js_number(*e)
            ),
        ));
    }
    Ok(Value::Number(r))
}

/// Shifts the decimal point by `by` places through the decimal text, as
/// jsonata-js does, so that rounding works on the digits a person sees.
fn shift(n: f64, by: i64) -> f64 {
    let s = js_number(n);
    let (m, e) = match s.split_once('e') {
        Some((m, e)) => (m.to_owned(), e.parse::<i64>().unwrap_or(0)),
        None => (s, 0),
    };
    format!("{m}e{}", e + by).parse().unwrap_or(n)
}

pub fn round(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Number(mut n) = a[0] else {
        return Ok(Value::Undefined);
    };
    let precision = match a.get(1) {
        Some(Value::Number(p)) => *p as i64,
        _ => 0,
    };
    if precision != 0 {
        n = shift(n, precision);
    }
    let mut r = (n + 0.5).floor();
    if (r - n).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    if precision != 0 {
        r = shift(r, -precision);
    }
    Ok(Value::Number(r + 0.0))
}

/// Rounds halves to the even neighbour.
pub fn round_half_even(n: f64) -> f64 {
    let mut r = (n + 0.5).floor();
    if (r - n).abs() == 0.5 && (r % 2.0).abs() == 1.0 {
        r -= 1.0;
    }
    r
}

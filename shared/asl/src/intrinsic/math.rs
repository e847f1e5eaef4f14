//! States.MathAdd, States.MathRandom and States.UUID.

use serde_json::Value;

use super::Args;

/// Java's `Math.round`: halves go up, toward positive infinity.
fn java_round(x: f64) -> i64 {
    (x + 0.5).floor() as i64
}

pub fn add(a: &mut Args<'_>) -> Result<Value, String> {
    let x = java_round(a.number(0)?);
    let y = java_round(a.number(1)?);
    x.checked_add(y)
        .map(Value::from)
        .ok_or_else(|| format!("{} overflowed", a.name))
}

/// Non-integer start and end numbers are rounded off to the nearest integer,
/// as AWS documents for MathRandom and as MathAdd does its operands.
pub fn random(a: &mut Args<'_>) -> Result<Value, String> {
    let start = java_round(a.number(0)?);
    let end = java_round(a.number(1)?);
    if end <= start {
        return Err(format!(
            "The end of the range of {} must be greater than its start",
            a.name
        ));
    }
    if a.values.len() == 3 {
        let seed = a.integer(2)?;
        *a.random = crate::random::Random::new(seed as u64);
    }
    // In i128: the span of two i64 bounds may not fit an i64.
    let span = (i128::from(end) - i128::from(start)) as f64;
    let n = i128::from(start) + (a.random.next_f64() * span) as i128;
    Ok(Value::from(n.min(i128::from(end) - 1) as i64))
}

pub fn uuid(a: &mut Args<'_>) -> Result<Value, String> {
    Ok(Value::String(a.random.uuid()))
}

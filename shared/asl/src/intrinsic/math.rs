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

pub fn random(a: &mut Args<'_>) -> Result<Value, String> {
    let start = a.integer(0)?;
    let end = a.integer(1)?;
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
    let span = (end - start) as f64;
    Ok(Value::from(start + (a.random.next_f64() * span) as i64))
}

pub fn uuid(a: &mut Args<'_>) -> Result<Value, String> {
    Ok(Value::String(a.random.uuid()))
}

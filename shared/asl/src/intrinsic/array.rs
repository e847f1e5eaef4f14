//! The States.Array* functions.

use serde_json::Value;

use super::Args;

/// AWS's limit on the elements ArrayRange may produce.
const MAX_RANGE: i64 = 1000;

pub fn array(a: &mut Args<'_>) -> Result<Value, String> {
    Ok(Value::Array(std::mem::take(&mut a.values)))
}

pub fn partition(a: &mut Args<'_>) -> Result<Value, String> {
    let items = a.array(0)?;
    let size = a.integer(1)?;
    if size <= 0 {
        return Err(format!(
            "The chunk size of {} must be a positive integer, but was: {size}",
            a.name
        ));
    }
    // try_from: on a 32-bit target a huge size must not wrap to 0.
    let chunks = items
        .chunks(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|c| Value::Array(c.to_vec()));
    Ok(Value::Array(chunks.collect()))
}

pub fn contains(a: &mut Args<'_>) -> Result<Value, String> {
    let items = a.array(0)?;
    Ok(Value::Bool(items.contains(a.get(1))))
}

pub fn range(a: &mut Args<'_>) -> Result<Value, String> {
    let (start, end, step) = (a.integer(0)?, a.integer(1)?, a.integer(2)?);
    if step == 0 {
        return Err(format!("The step of {} cannot be 0", a.name));
    }
    // In i128: `end - start` of two i64 overflows one.
    let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
    let count = if (step > 0 && end < start) || (step < 0 && end > start) {
        0
    } else {
        (end - start) / step + 1
    };
    if count > i128::from(MAX_RANGE) {
        return Err(format!(
            "{} cannot produce more than {MAX_RANGE} elements",
            a.name
        ));
    }
    Ok(Value::Array(
        (0..count)
            .map(|i| Value::from((start + i * step) as i64))
            .collect(),
    ))
}

pub fn get_item(a: &mut Args<'_>) -> Result<Value, String> {
    let items = a.array(0)?;
    let i = a.integer(1)?;
    usize::try_from(i)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| {
            format!(
                "The index {i} is out of bounds for an array of length {}",
                items.len()
            )
        })
}

pub fn length(a: &mut Args<'_>) -> Result<Value, String> {
    Ok(Value::from(a.array(0)?.len()))
}

pub fn unique(a: &mut Args<'_>) -> Result<Value, String> {
    let mut out: Vec<Value> = Vec::new();
    for v in a.array(0)? {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

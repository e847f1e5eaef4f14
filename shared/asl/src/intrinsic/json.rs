//! States.StringToJson, States.JsonToString and States.JsonMerge.

use serde_json::Value;

use super::{Args, too_large};
use crate::limits::{MAX_VALUE_BYTES, json_len};

pub fn string_to_json(a: &mut Args<'_>) -> Result<Value, String> {
    let s = a.string(0)?;
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    // serde_json's tree can take many times the text ("[0,0,…]").
    if s.len() > MAX_VALUE_BYTES / 16 {
        return Err(too_large(a.name, "input"));
    }
    let v: Value =
        serde_json::from_str(s).map_err(|e| format!("The input '{s}' is not valid JSON: {e}"))?;
    Ok(normalize_negative_zero(v))
}

fn normalize_negative_zero(v: Value) -> Value {
    match v {
        Value::Number(n) if n.as_f64() == Some(0.0) && n.to_string().starts_with('-') => {
            Value::from(0)
        }
        other => other,
    }
}

pub fn json_to_string(a: &mut Args<'_>) -> Result<Value, String> {
    // Measured first: each nested JsonToString doubles the backslashes.
    if json_len(a.get(0), MAX_VALUE_BYTES).is_none() {
        return Err(too_large(a.name, "result"));
    }
    Ok(Value::String(a.get(0).to_string()))
}

pub fn merge(a: &mut Args<'_>) -> Result<Value, String> {
    let (Some(left), Some(right)) = (a.get(0).as_object(), a.get(1).as_object()) else {
        return Err(format!("The arguments of {} must be JSON objects", a.name));
    };
    if a.get(2) != &Value::Bool(false) {
        return Err(format!(
            "{} supports only a shallow merge: its third argument must be false",
            a.name
        ));
    }
    let mut out = left.clone();
    for (k, v) in right {
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(out))
}

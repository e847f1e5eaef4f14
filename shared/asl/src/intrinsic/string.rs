//! States.Format and States.StringSplit.

use serde_json::Value;

use super::{Args, too_large};
use crate::limits::MAX_VALUE_BYTES;

pub fn format(a: &mut Args<'_>) -> Result<Value, String> {
    let template = a.string(0)?.to_owned();
    // The arguments were counted as they were evaluated; the template is
    // checked as it expands.
    let mut out = String::new();
    let mut next = 1;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let v = a.values.get(next).ok_or_else(|| {
                    format!("Number of arguments in {} do not match the number of placeholders in the template", a.name)
                })?;
                out.push_str(&java_string(v));
                if out.len() > MAX_VALUE_BYTES {
                    return Err(too_large(a.name, "result"));
                }
                next += 1;
            }
            c => out.push(c),
        }
    }
    if next != a.values.len() {
        return Err(format!(
            "Number of arguments in {} do not match the number of placeholders in the template",
            a.name
        ));
    }
    Ok(Value::String(out))
}

/// How AWS's (Java) engine prints a value into a string: strings bare,
/// objects as `{k=v, …}`, arrays as `[a, b]`.
pub fn java_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_owned(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(java_string).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => {
            format!(
                "{{{}}}",
                m.iter()
                    .map(|(k, v)| format!("{k}={}", java_string(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        other => other.to_string(),
    }
}

/// Splits on any of the delimiter's characters and drops empty pieces, as
/// Java's StringTokenizer does.
pub fn split(a: &mut Args<'_>) -> Result<Value, String> {
    let s = a.string(0)?;
    let delims: Vec<char> = a.string(1)?.chars().collect();
    let pieces = || s.split(|c| delims.contains(&c)).filter(|p| !p.is_empty());
    // Counted first: "a,a,a,…" is two bytes of text per piece but a Value
    // and a String each here. A payload's worth always splits.
    let count = pieces().count();
    if count > MAX_VALUE_BYTES / 16 || s.len() + 3 * count > MAX_VALUE_BYTES {
        return Err(too_large(a.name, "result"));
    }
    Ok(Value::Array(
        pieces().map(|p| Value::String(p.to_owned())).collect(),
    ))
}

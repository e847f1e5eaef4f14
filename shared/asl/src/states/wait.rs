//! Wait: for a number of seconds or until a timestamp, literal, from a path
//! (JSONPath) or from an expression (JSONata).

use serde_json::Value;

use crate::definition::fields::{Fields, parse_path};
use crate::definition::problem::{Problems, only_one};
use crate::definition::{Builder, Lang, State};
use crate::error::{ErrorName, StatesError};
use crate::exec::{Step, Thread};
use crate::jsonata::{JTemplate, expression_text};
use crate::path::Path;
use crate::timestamp::{self, Millis};

#[derive(Debug, Clone)]
pub enum Wait {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(Millis),
    TimestampPath(Path),
    SecondsExpr(JTemplate),
    TimestampExpr(JTemplate),
}

impl Wait {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Option<Wait> {
        let ata = b.current == Lang::JsonAta;
        let keys: &[&str] = if ata {
            &["Seconds", "Timestamp"]
        } else {
            &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
        };
        let given = keys.iter().filter(|k| f.has(k)).count();
        if given > 1 {
            // AWS's order (its schema's), not the one we read them in.
            let order: &[&str] = if ata {
                &["Seconds", "Timestamp"]
            } else {
                &["SecondsPath", "Seconds", "TimestampPath", "Timestamp"]
            };
            p.schema(&f.at, only_one(order));
        } else if given == 0 {
            p.schema(
                &f.at,
                format!(
                    "A Wait state must have exactly one of {}",
                    keys.iter()
                        .map(|k| format!("'{k}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if ata {
            for key in ["Seconds", "Timestamp"] {
                let at = f.ptr(key);
                if let Some(Value::String(s)) = f.obj.get(key)
                    && expression_text(s).is_some()
                {
                    let t = JTemplate::parse(&Value::String(s.clone()), key, &at, p);
                    f.raw(key);
                    return Some(if key == "Seconds" {
                        Wait::SecondsExpr(t)
                    } else {
                        Wait::TimestampExpr(t)
                    });
                }
            }
        }
        let seconds = f.uint("Seconds", 99_999_999, p).map(Wait::Seconds);
        let timestamp = match f.raw("Timestamp") {
            None => None,
            Some(v) => match v.as_str().and_then(timestamp::parse_millis) {
                Some(ms) => Some(Wait::Timestamp(ms)),
                None => {
                    p.schema(
                        &f.ptr("Timestamp"),
                        "String does not match RFC3339 timestamp",
                    );
                    None
                }
            },
        };
        if ata {
            return seconds.or(timestamp);
        }
        let mut path = |key: &'static str, p: &mut Problems| -> Option<Path> {
            let v = f.raw(key)?;
            match v.as_str().map(|s| parse_path(key, s, false)) {
                Some(Ok(path)) => Some(path),
                Some(Err(msg)) => {
                    p.schema(&f.ptr(key), msg);
                    None
                }
                None => {
                    p.schema(
                        &f.ptr(key),
                        format!("The field '{key}' must be a JSONPath string"),
                    );
                    None
                }
            }
        };
        let seconds_path = path("SecondsPath", p).map(Wait::SecondsPath);
        let timestamp_path = path("TimestampPath", p).map(Wait::TimestampPath);
        seconds.or(timestamp).or(seconds_path).or(timestamp_path)
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        let input = match s.effective_input(t, state, None) {
            Ok(v) => v,
            Err(e) => return s.fail_state(t, state, e),
        };
        let now = s.now();
        let ata_error = |msg: String| StatesError::new(ErrorName::QueryEvaluationError, msg);
        let until = match self {
            Wait::Seconds(n) => Ok(now.saturating_add(*n as i64 * 1000)),
            Wait::Timestamp(ms) => Ok(*ms),
            Wait::SecondsPath(p) => {
                s.with_scope(t, state, &input, None, |scope| seconds_from(scope.resolve(p).ok(), p)).map(|n| now.saturating_add(n * 1000))
            }
            Wait::TimestampPath(p) => s.with_scope(t, state, &input, None, |scope| timestamp_from(scope.resolve(p).ok(), p)),
            Wait::SecondsExpr(e) => s.eval_ata(t, state, e, &[]).and_then(|v| match v.as_i64() {
                Some(n) if n >= 0 => Ok(now.saturating_add(n * 1000)),
                _ => Err(ata_error(format!("The Seconds field must be a non-negative integer, but was: {v}"))),
            }),
            Wait::TimestampExpr(e) => s.eval_ata(t, state, e, &[]).and_then(|v| {
                let text = match &v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                v.as_str().and_then(timestamp::parse_millis).ok_or_else(|| {
                    ata_error(format!("The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"))
                })
            }),
        };
        match until {
            Ok(at) => s.wait_until(t, at),
            Err(e) => s.fail_state(t, state, e),
        }
    }
}

fn seconds_from(v: Option<Value>, p: &Path) -> Result<i64, StatesError> {
    let v = v.ok_or_else(|| {
        StatesError::runtime(format!(
            "The SecondsPath parameter does not reference an input value: {p}"
        ))
    })?;
    let n = match &v {
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| {
        StatesError::runtime(format!(
            "The SecondsPath parameter cannot be parsed as a long value: {p} == {v}"
        ))
    })?;
    if n < 0 {
        return Err(StatesError::runtime(format!(
            "The SecondsPath parameter references a negative value: {p} == {n}"
        )));
    }
    Ok(n)
}

fn timestamp_from(v: Option<Value>, p: &Path) -> Result<Millis, StatesError> {
    let v = v.ok_or_else(|| {
        StatesError::runtime(format!(
            "The TimestampPath parameter does not reference an input value: {p}"
        ))
    })?;
    let text = match &v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    v.as_str().and_then(timestamp::parse_millis).ok_or_else(|| {
        StatesError::runtime(format!(
            "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {text}"
        ))
    })
}

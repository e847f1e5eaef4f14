//! Fail: ends the thread with an error and cause, literal or from a path or
//! intrinsic function (`ErrorPath`, `CausePath`).

use serde_json::Value;

use crate::definition::fields::Fields;
use crate::definition::problem::{Problems, only_one};
use crate::definition::{Builder, Lang, State};
use crate::error::StatesError;
use crate::exec::{Step, Thread};
use crate::intrinsic::{self, Expr};
use crate::jsonata::{JTemplate, expression_text};
use crate::path::{Path, Root};

#[derive(Debug, Clone)]
pub enum Text {
    Literal(String),
    Ata(JTemplate),
    Path(Path),
    Intrinsic(String, Expr),
}

#[derive(Debug, Clone)]
pub struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

impl Fail {
    pub fn parse(f: &mut Fields<'_>, b: &mut Builder, p: &mut Problems) -> Fail {
        if b.current == Lang::JsonAta {
            let mut ata = |key: &'static str, p: &mut Problems| {
                let at = f.ptr(key);
                let v = f.raw(key)?;
                match v {
                    Value::String(s) if expression_text(s).is_some() => {
                        Some(Text::Ata(JTemplate::parse(v, key, &at, p)))
                    }
                    Value::String(s) => Some(Text::Literal(s.clone())),
                    _ => {
                        p.schema(&at, format!("The field '{key}' must be a string"));
                        None
                    }
                }
            };
            let error = ata("Error", p);
            let cause = ata("Cause", p);
            return Fail { error, cause };
        }
        let error = text(f, "Error", "ErrorPath", p);
        let cause = text(f, "Cause", "CausePath", p);
        Fail { error, cause }
    }

    pub fn reads_context(&self) -> bool {
        [&self.error, &self.cause]
            .into_iter()
            .flatten()
            .any(|t| match t {
                Text::Path(p) => p.root == Root::Context,
                Text::Intrinsic(s, _) => s.contains("$$"),
                Text::Literal(_) | Text::Ata(_) => false,
            })
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
        if state.ata.is_some() {
            let ata =
                |text: &Option<Text>, s: &mut Step<'_>| -> Result<Option<String>, StatesError> {
                    match text {
                        None => Ok(None),
                        Some(Text::Literal(v)) => Ok(Some(v.clone())),
                        Some(Text::Ata(e)) => match s.eval_ata(t, state, e, &[])? {
                            Value::String(v) => Ok(Some(v)),
                            other => Ok(Some(other.to_string())),
                        },
                        Some(_) => Ok(None),
                    }
                };
            let resolved = ata(&self.error, s).and_then(|error| {
                Ok(StatesError {
                    error,
                    cause: ata(&self.cause, s)?,
                })
            });
            let e = match resolved {
                Ok(e) => e,
                Err(e) => s.locate(t, state, e),
            };
            return s.fail_thread(t, state, e);
        }
        let input = t.input.clone();
        let resolved = s.with_scope(t, state, &input, None, |scope| {
            let mut eval = |text: &Option<Text>, field: &str| -> Result<Option<String>, StatesError> {
                let v = match text {
                    None => return Ok(None),
                    Some(Text::Literal(s)) => return Ok(Some(s.clone())),
                    Some(Text::Path(p)) => scope.resolve(p).map_err(|_| {
                        StatesError::runtime(format!(
                            "The JSONPath '{p}' specified for the field '{field}' could not be found in the input"
                        ))
                    })?,
                    Some(Text::Intrinsic(src, e)) => e.eval(scope).map_err(|f| f.into_states_error(field, src, scope))?,
                    Some(Text::Ata(_)) => return Ok(None),
                };
                match v {
                    Value::String(s) => Ok(Some(s)),
                    other => Err(StatesError::runtime(format!(
                        "The value of the field '{field}' must be a string, but was: {other}"
                    ))),
                }
            };
            Ok::<_, StatesError>((eval(&self.error, "ErrorPath")?, eval(&self.cause, "CausePath")?))
        });
        match resolved {
            Ok((error, cause)) => s.fail_thread(t, state, StatesError { error, cause }),
            Err(e) => s.fail_thread(t, state, e),
        }
    }
}

fn text(
    f: &mut Fields<'_>,
    literal: &'static str,
    path: &'static str,
    p: &mut Problems,
) -> Option<Text> {
    let lit = f.string(literal, p);
    let dynamic = f.string(path, p);
    match (lit, dynamic) {
        (Some(_), Some(_)) => {
            p.schema(&f.at, only_one(&[literal, path]));
            None
        }
        (Some(s), None) => Some(Text::Literal(s)),
        (None, Some(s)) if s.starts_with('$') => match Path::parse(&s) {
            Ok(path) => Some(Text::Path(path)),
            Err(e) => {
                p.schema(
                    &f.ptr(path),
                    format!("The value must be a valid JSONPath: {e}"),
                );
                None
            }
        },
        (None, Some(s)) => match intrinsic::parse(&s) {
            Ok(e) => Some(Text::Intrinsic(s, e)),
            Err(e) => {
                p.push(e.code, &f.ptr(path), e.message);
                None
            }
        },
        (None, None) => None,
    }
}

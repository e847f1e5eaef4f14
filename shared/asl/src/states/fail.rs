//! Fail: ends the thread with an error and cause, literal or from a path or
//! intrinsic function (`ErrorPath`, `CausePath`).

use serde_json::Value;

use crate::definition::State;
use crate::definition::fields::Fields;
use crate::definition::problem::{INTRINSIC, Problems};
use crate::error::StatesError;
use crate::exec::{Step, Thread};
use crate::intrinsic::{self, Expr};
use crate::path::{Path, Root};

#[derive(Debug, Clone)]
pub enum Text {
    Literal(String),
    Path(Path),
    Intrinsic(String, Expr),
}

#[derive(Debug, Clone)]
pub struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

impl Fail {
    pub fn parse(f: &mut Fields<'_>, p: &mut Problems) -> Fail {
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
                Text::Literal(_) => false,
            })
    }

    pub fn run(&self, s: &mut Step<'_>, t: &mut Thread, state: &State) {
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
                    Some(Text::Intrinsic(src, e)) => e.eval(scope).map_err(|f| f.into_states_error(field, src))?,
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
            p.schema(
                &f.at,
                format!("A Fail state cannot have both '{literal}' and '{path}'"),
            );
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
                p.push(INTRINSIC, &f.ptr(path), e);
                None
            }
        },
        (None, None) => None,
    }
}

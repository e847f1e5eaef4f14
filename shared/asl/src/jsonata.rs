//! JSONata in states: templates whose strings `{% … %}` are expressions,
//! evaluated with `$states` (input, result, errorOutput, context) and the
//! workflow variables bound.

use serde_json::{Map, Value};
use stepwise_jsonata::{Context, Expression, Value as Jv};

use crate::definition::problem::{Problems, pointer};
use crate::error::{ErrorName, StatesError};
use crate::limits::{Budget, MAX_DEFINITION_DEPTH, MAX_VALUE_BYTES, too_large};

/// A JSON value some of whose strings are JSONata expressions.
#[derive(Debug, Clone)]
pub enum JTemplate {
    Literal(Value),
    Expr {
        field: String,
        src: String,
        expr: Expression,
    },
    Object(Vec<(String, JTemplate)>),
    Array(Vec<JTemplate>),
}

/// The expression inside `{% … %}`, when the whole string is one.
pub fn expression_text(s: &str) -> Option<&str> {
    s.strip_prefix("{%")
        .and_then(|r| r.strip_suffix("%}"))
        .map(str::trim)
}

impl JTemplate {
    /// `field` names the value in error messages (`Output/result`).
    pub fn parse(v: &Value, field: &str, at: &str, p: &mut Problems) -> JTemplate {
        JTemplate::parse_at(v, field, at, p, 0)
    }

    fn parse_at(v: &Value, field: &str, at: &str, p: &mut Problems, depth: usize) -> JTemplate {
        if depth >= MAX_DEFINITION_DEPTH && matches!(v, Value::Object(_) | Value::Array(_)) {
            p.schema(
                at,
                format!(
                    "The value of '{field}' is nested more than {MAX_DEFINITION_DEPTH} levels deep"
                ),
            );
            return JTemplate::Literal(Value::Null);
        }
        match v {
            Value::String(s) => match expression_text(s) {
                Some(src) => match Expression::parse(src) {
                    Ok(expr) => JTemplate::Expr {
                        field: field.to_owned(),
                        src: src.to_owned(),
                        expr,
                    },
                    Err(e) => {
                        p.schema(
                            at,
                            format!("The JSONata expression '{src}' is not valid: {e}"),
                        );
                        JTemplate::Literal(Value::Null)
                    }
                },
                None => JTemplate::Literal(v.clone()),
            },
            Value::Object(m) => {
                let fields: Vec<(String, JTemplate)> = m
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            JTemplate::parse_at(
                                v,
                                &format!("{field}/{k}"),
                                &pointer(at, k),
                                p,
                                depth + 1,
                            ),
                        )
                    })
                    .collect();
                if fields
                    .iter()
                    .all(|(_, t)| matches!(t, JTemplate::Literal(_)))
                {
                    JTemplate::Literal(v.clone())
                } else {
                    JTemplate::Object(fields)
                }
            }
            Value::Array(a) => {
                let items: Vec<JTemplate> = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        JTemplate::parse_at(
                            v,
                            &format!("{field}[{i}]"),
                            &format!("{at}[{i}]"),
                            p,
                            depth + 1,
                        )
                    })
                    .collect();
                if items.iter().all(|t| matches!(t, JTemplate::Literal(_))) {
                    JTemplate::Literal(v.clone())
                } else {
                    JTemplate::Array(items)
                }
            }
            other => JTemplate::Literal(other.clone()),
        }
    }

    /// Whether evaluating needs `$states.context`.
    pub fn mentions_states(&self) -> bool {
        match self {
            JTemplate::Literal(_) => false,
            JTemplate::Expr { src, .. } => src.contains("$states"),
            JTemplate::Object(f) => f.iter().any(|(_, t)| t.mentions_states()),
            JTemplate::Array(a) => a.iter().any(JTemplate::mentions_states),
        }
    }

    pub fn eval(&self, env: &Bindings) -> Result<Value, StatesError> {
        self.eval_within(env, &mut Budget::new(MAX_VALUE_BYTES))
    }

    /// What expressions return counts against `budget` (literals are bounded
    /// by the definition).
    fn eval_within(&self, env: &Bindings, budget: &mut Budget) -> Result<Value, StatesError> {
        match self {
            JTemplate::Literal(v) => Ok(v.clone()),
            JTemplate::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval_within(env, budget)?);
                }
                Ok(Value::Object(m))
            }
            JTemplate::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for t in items {
                    out.push(t.eval_within(env, budget)?);
                }
                Ok(Value::Array(out))
            }
            JTemplate::Expr { field, src, expr } => {
                let v = evaluate(field, src, expr, env)?;
                if !budget.take(&v) {
                    return Err(too_large(&format!(
                        "The JSONata expression '{src:.100}' specified for the field '{field}'"
                    )));
                }
                Ok(v)
            }
        }
    }

    /// The expression's source, for messages about its result.
    pub fn source(&self) -> String {
        match self {
            JTemplate::Expr { src, .. } => src.clone(),
            JTemplate::Literal(v) => v.to_string(),
            _ => String::new(),
        }
    }
}

/// One `{% … %}` expression's JSON result.
fn evaluate(
    field: &str,
    src: &str,
    expr: &Expression,
    env: &Bindings,
) -> Result<Value, StatesError> {
    let bindings: Vec<(&str, Jv)> = env
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let out = expr.evaluate_value(env.input.clone(), &bindings, env.ctx.clone()).map_err(|e| {
            StatesError::new(
                ErrorName::QueryEvaluationError,
                format!("The JSONata expression '{src}' specified for the field '{field}' threw an error during evaluation. {} {}", e.code, e.message),
            )
        })?;
    if out.is_function() {
        return Err(StatesError::new(
            ErrorName::QueryEvaluationError,
            format!(
                "The JSONata expression '{src}' specified for the field '{field}' returned an unsupported result type."
            ),
        ));
    }
    match out.to_json() {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(StatesError::new(
            ErrorName::QueryEvaluationError,
            format!(
                "The JSONata expression '{src}' specified for the field '{field}' returned nothing (undefined)."
            ),
        )),
        Err(e) => Err(StatesError::new(ErrorName::QueryEvaluationError, e.message)),
    }
}

/// What JSONata expressions of one state see.
pub struct Bindings {
    pub input: Jv,
    pub values: Vec<(String, Jv)>,
    pub ctx: Context,
}

impl Bindings {
    /// `$states` from its parts, plus every variable.
    pub fn new(
        states: Map<String, Value>,
        variables: &Map<String, Value>,
        now: i64,
        seed: u64,
    ) -> Bindings {
        let mut values = Vec::with_capacity(variables.len() + 1);
        values.push(("states".to_owned(), Jv::from_json(&Value::Object(states))));
        for (k, v) in variables {
            values.push((k.clone(), Jv::from_json(v)));
        }
        Bindings {
            input: Jv::Undefined,
            values,
            ctx: Context {
                now_millis: now,
                seed,
            },
        }
    }
}

/// What an `{% … %}` number field (MaxConcurrency, TimeoutSeconds, …) gave.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

//! Payload templates (`Parameters`, `ResultSelector`, `ItemSelector`, and the
//! intrinsic-capable fields): a JSON value whose keys ending in `.$` hold a
//! path or an intrinsic function, resolved when the state runs.

use serde_json::{Map, Value};

use crate::definition::problem::{Problems, pointer};
use crate::error::StatesError;
use crate::intrinsic::{self, Expr};
use crate::limits::{Budget, MAX_DEFINITION_DEPTH, MAX_VALUE_BYTES, too_large};
use crate::path::{Path, Root};
use crate::scope::{Scope, Unresolved};

#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// Nothing dynamic below here.
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Path {
        field: String,
        path: Path,
    },
    Intrinsic {
        field: String,
        text: String,
        expr: Expr,
    },
}

impl Template {
    /// Reads a template, reporting bad `.$` values as problems at `at`.
    pub fn parse(v: &Value, at: &str, p: &mut Problems) -> Template {
        Template::parse_at(v, at, p, 0)
    }

    fn parse_at(v: &Value, at: &str, p: &mut Problems, depth: usize) -> Template {
        if depth >= MAX_DEFINITION_DEPTH && matches!(v, Value::Object(_) | Value::Array(_)) {
            p.schema(
                at,
                format!(
                    "The payload template is nested more than {MAX_DEFINITION_DEPTH} levels deep"
                ),
            );
            return Template::Literal(Value::Null);
        }
        match v {
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                let mut dynamic = false;
                for (k, v) in m {
                    let here = pointer(at, k);
                    let t = match k.strip_suffix(".$") {
                        Some(name) => {
                            dynamic = true;
                            let parsed = dynamic_field(k, v, &here, p);
                            (name.to_owned(), parsed)
                        }
                        None => (k.clone(), Template::parse_at(v, &here, p, depth + 1)),
                    };
                    dynamic |= !matches!(t.1, Template::Literal(_));
                    fields.push(t);
                }
                if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Literal(v.clone())
                }
            }
            Value::Array(a) => {
                let items: Vec<Template> = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Template::parse_at(v, &format!("{at}[{i}]"), p, depth + 1))
                    .collect();
                if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(v.clone())
                } else {
                    Template::Array(items)
                }
            }
            other => Template::Literal(other.clone()),
        }
    }

    pub fn eval(&self, scope: &mut Scope<'_>) -> Result<Value, StatesError> {
        self.eval_within(scope, &mut Budget::new(MAX_VALUE_BYTES))
    }

    /// Values read from the input count against `budget` (literals are
    /// bounded by the definition).
    fn eval_within(
        &self,
        scope: &mut Scope<'_>,
        budget: &mut Budget,
    ) -> Result<Value, StatesError> {
        let (field, v) = match self {
            Template::Literal(v) => return Ok(v.clone()),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval_within(scope, budget)?);
                }
                return Ok(Value::Object(m));
            }
            Template::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for t in items {
                    out.push(t.eval_within(scope, budget)?);
                }
                return Ok(Value::Array(out));
            }
            Template::Path { field, path } => (
                field,
                scope
                    .resolve(path)
                    .map_err(|u| path_failure(field, path, u, scope))?,
            ),
            Template::Intrinsic { field, text, expr } => (
                field,
                expr.eval(scope)
                    .map_err(|f| f.into_states_error(field, text, scope))?,
            ),
        };
        if !budget.take(&v) {
            return Err(too_large(&format!(
                "The payload template, at the field '{field}',"
            )));
        }
        Ok(v)
    }

    /// Whether anything here reads the context object (so it must be built).
    pub fn reads_context(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(f) => f.iter().any(|(_, t)| t.reads_context()),
            Template::Array(a) => a.iter().any(Template::reads_context),
            Template::Path { path, .. } => path.root == Root::Context,
            Template::Intrinsic { text, .. } => text.contains("$$"),
        }
    }

    /// Whether anything here may read `$$.Execution.Input`.
    pub fn reads_execution_input(&self) -> bool {
        match self {
            Template::Literal(_) => false,
            Template::Object(f) => f.iter().any(|(_, t)| t.reads_execution_input()),
            Template::Array(a) => a.iter().any(Template::reads_execution_input),
            Template::Path { path, .. } => path.reads_execution_input(),
            Template::Intrinsic { expr, .. } => expr.reads_execution_input(),
        }
    }
}

fn dynamic_field(key: &str, v: &Value, at: &str, p: &mut Problems) -> Template {
    let Some(s) = v.as_str() else {
        p.schema(at, format!("The value for the field '{key}' must be a STRING that contains a JSONPath or an intrinsic function"));
        return Template::Literal(Value::Null);
    };
    if s.starts_with('$') {
        match Path::parse(s) {
            Ok(path) => Template::Path {
                field: key.to_owned(),
                path,
            },
            Err(e) => {
                p.schema(
                    at,
                    format!("The value for the field '{key}' must be a valid JSONPath: {e}"),
                );
                Template::Literal(Value::Null)
            }
        }
    } else {
        match intrinsic::parse(s) {
            Ok(expr) => Template::Intrinsic {
                field: key.to_owned(),
                text: s.to_owned(),
                expr,
            },
            Err(e) => {
                p.push(e.code, at, format!("The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call: {e}"));
                Template::Literal(Value::Null)
            }
        }
    }
}

fn path_failure(field: &str, path: &Path, u: Unresolved, scope: &Scope<'_>) -> StatesError {
    match u {
        Unresolved::UndefinedVariable(name) => StatesError::runtime(format!(
            "The variable '${name}' specified for the field '{field}' is not defined"
        )),
        Unresolved::TooMany => Unresolved::too_many(path, field),
        Unresolved::Missing => {
            let doc = scope.root(path).map(|v| v.to_string()).unwrap_or_default();
            StatesError::runtime(format!(
                "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{doc}'"
            ))
        }
    }
}

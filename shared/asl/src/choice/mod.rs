//! Choice rules: `And`/`Or`/`Not` over comparisons of a `Variable` with a
//! literal or (the `…Path` forms) another path.

mod operators;

use serde_json::{Map, Value};

pub use operators::{Kind, Operator, lookup};

use crate::definition::fields::{Fields, parse_path};
use crate::definition::problem::{Problems, pointer};
use crate::error::StatesError;
use crate::path::Path;
use crate::scope::{Scope, Unresolved};
use crate::timestamp;

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        operator: &'static Operator,
        operand: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

/// A top-level rule and where it leads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub rule: Rule,
    pub next: String,
}

impl Rule {
    /// Reads a rule; `top` rules carry `Next`, nested ones must not.
    pub fn parse(
        obj: &Map<String, Value>,
        at: &str,
        top: bool,
        p: &mut Problems,
    ) -> Option<(Rule, Option<String>)> {
        let mut f = Fields::new(obj, at.to_owned());
        let next = if top {
            f.required_string("Next", p)
        } else {
            None
        };
        if !top && f.has("Next") {
            p.schema(
                &f.ptr("Next"),
                "Nested Choice rules cannot have the field 'Next'",
            );
        }
        f.raw("Next");
        f.raw("Comment");
        if top {
            f.raw("Assign"); // read by the Choice state
        }
        let rule = if let Some(list) = f.raw("And") {
            Rule::And(sub_rules(list, &pointer(at, "And"), p)?)
        } else if let Some(list) = f.raw("Or") {
            Rule::Or(sub_rules(list, &pointer(at, "Or"), p)?)
        } else if let Some(inner) = f.raw("Not") {
            let Some(m) = inner.as_object() else {
                p.schema(&pointer(at, "Not"), "The field 'Not' must be an object");
                return None;
            };
            Rule::Not(Box::new(Rule::parse(m, &pointer(at, "Not"), false, p)?.0))
        } else {
            comparison(&mut f, at, p)?
        };
        f.finish(p);
        Some((rule, next))
    }

    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, StatesError> {
        match self {
            Rule::And(rs) => {
                for r in rs {
                    if !r.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rs) => {
                for r in rs {
                    if r.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(r) => Ok(!r.eval(scope)?),
            Rule::Compare {
                variable,
                operator,
                operand,
            } => {
                let value = match scope.resolve(variable) {
                    Ok(v) => Some(v),
                    Err(Unresolved::Missing) if operator.name == "IsPresent" => None,
                    Err(_) if operator.name == "IsPresent" => None,
                    Err(_) => {
                        return Err(StatesError::runtime(format!(
                            "Invalid path '{variable}': The choice state's condition path references an invalid value."
                        )));
                    }
                };
                let operand = match operand {
                    Operand::Literal(v) => std::borrow::Cow::Borrowed(v),
                    Operand::Path(p) => std::borrow::Cow::Owned(scope.resolve(p).map_err(|_| {
                        StatesError::runtime(format!(
                            "Invalid path '{p}': The choice state's condition path references an invalid value."
                        ))
                    })?),
                };
                Ok((operator.test)(value.as_ref(), &operand))
            }
        }
    }

    pub fn reads_context(&self) -> bool {
        use crate::path::Root;
        match self {
            Rule::And(rs) | Rule::Or(rs) => rs.iter().any(Rule::reads_context),
            Rule::Not(r) => r.reads_context(),
            Rule::Compare {
                variable, operand, ..
            } => {
                variable.root == Root::Context
                    || matches!(operand, Operand::Path(p) if p.root == Root::Context)
            }
        }
    }
}

fn sub_rules(list: &Value, at: &str, p: &mut Problems) -> Option<Vec<Rule>> {
    let Some(items) = list.as_array().filter(|a| !a.is_empty()) else {
        p.schema(at, "The field must be a non-empty array of Choice rules");
        return None;
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        match item.as_object() {
            Some(m) => out.push(Rule::parse(m, &here, false, p)?.0),
            None => {
                p.schema(&here, "A Choice rule must be an object");
                return None;
            }
        }
    }
    Some(out)
}

fn comparison(f: &mut Fields<'_>, at: &str, p: &mut Problems) -> Option<Rule> {
    let variable = f.raw("Variable");
    let ops: Vec<&String> = f.obj.keys().filter(|k| lookup(k).is_some()).collect();
    let Some(variable) = variable else {
        p.schema(
            at,
            "A Choice rule must have the field 'Variable' or one of 'And', 'Or', 'Not'",
        );
        return None;
    };
    let variable = match variable.as_str().map(|s| parse_path("Variable", s, false)) {
        Some(Ok(path)) => path,
        Some(Err(msg)) => {
            p.schema(&f.ptr("Variable"), msg);
            return None;
        }
        None => {
            p.schema(
                &f.ptr("Variable"),
                "The field 'Variable' must be a JSONPath string",
            );
            return None;
        }
    };
    if ops.len() != 1 {
        p.schema(
            at,
            "A Choice rule must have exactly one comparison operator",
        );
        return None;
    }
    let key = ops[0].clone();
    let (operator, is_path) = lookup(&key)?;
    let here = pointer(at, &key);
    let raw = f.obj.get(&key).cloned().unwrap_or(Value::Null);
    f.raw(&key);
    let operand = if is_path {
        match raw.as_str().map(|s| parse_path(&key, s, false)) {
            Some(Ok(path)) => Operand::Path(path),
            _ => {
                p.schema(
                    &here,
                    format!("The value of '{key}' must be a valid JSONPath"),
                );
                return None;
            }
        }
    } else {
        let ok = match operator.kind {
            Kind::String | Kind::Matches => raw.is_string(),
            Kind::Numeric => raw.is_number(),
            Kind::Boolean | Kind::TypeTest => raw.is_boolean(),
            Kind::Timestamp => raw.as_str().and_then(timestamp::parse).is_some(),
        };
        if !ok {
            p.schema(
                &here,
                format!("The value of '{key}' is not of the type this operator compares"),
            );
            return None;
        }
        Operand::Literal(raw)
    };
    Some(Rule::Compare {
        variable,
        operator,
        operand,
    })
}

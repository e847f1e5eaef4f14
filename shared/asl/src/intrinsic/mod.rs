//! The intrinsic functions (`States.Format(...)` and the other 17): parsed once
//! at validation, evaluated against a [`Scope`]. Each family lives in its own
//! file; [`FUNCTIONS`] is the table that names them.

mod array;
mod encoding;
mod json;
mod math;
mod parse;
mod string;

use serde_json::Value;

use crate::error::{ErrorName, StatesError};
use crate::limits::{Budget, MAX_VALUE_BYTES};
use crate::path::Path;
use crate::scope::{Scope, Unresolved};

pub use parse::parse;

/// A parsed intrinsic expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Path(Path),
    Call(&'static Function, Vec<Expr>),
}

/// One row of the function table.
#[derive(Debug)]
pub struct Function {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: Option<usize>,
    pub call: fn(&mut Args<'_>) -> Result<Value, String>,
}

pub static FUNCTIONS: &[Function] = &[
    Function {
        name: "States.Format",
        min_args: 1,
        max_args: None,
        call: string::format,
    },
    Function {
        name: "States.StringSplit",
        min_args: 2,
        max_args: Some(2),
        call: string::split,
    },
    Function {
        name: "States.StringToJson",
        min_args: 1,
        max_args: Some(1),
        call: json::string_to_json,
    },
    Function {
        name: "States.JsonToString",
        min_args: 1,
        max_args: Some(1),
        call: json::json_to_string,
    },
    Function {
        name: "States.JsonMerge",
        min_args: 3,
        max_args: Some(3),
        call: json::merge,
    },
    Function {
        name: "States.Array",
        min_args: 0,
        max_args: None,
        call: array::array,
    },
    Function {
        name: "States.ArrayPartition",
        min_args: 2,
        max_args: Some(2),
        call: array::partition,
    },
    Function {
        name: "States.ArrayContains",
        min_args: 2,
        max_args: Some(2),
        call: array::contains,
    },
    Function {
        name: "States.ArrayRange",
        min_args: 3,
        max_args: Some(3),
        call: array::range,
    },
    Function {
        name: "States.ArrayGetItem",
        min_args: 2,
        max_args: Some(2),
        call: array::get_item,
    },
    Function {
        name: "States.ArrayLength",
        min_args: 1,
        max_args: Some(1),
        call: array::length,
    },
    Function {
        name: "States.ArrayUnique",
        min_args: 1,
        max_args: Some(1),
        call: array::unique,
    },
    Function {
        name: "States.Base64Encode",
        min_args: 1,
        max_args: Some(1),
        call: encoding::base64_encode,
    },
    Function {
        name: "States.Base64Decode",
        min_args: 1,
        max_args: Some(1),
        call: encoding::base64_decode,
    },
    Function {
        name: "States.Hash",
        min_args: 2,
        max_args: Some(2),
        call: encoding::hash,
    },
    Function {
        name: "States.MathRandom",
        min_args: 2,
        max_args: Some(3),
        call: math::random,
    },
    Function {
        name: "States.MathAdd",
        min_args: 2,
        max_args: Some(2),
        call: math::add,
    },
    Function {
        name: "States.UUID",
        min_args: 0,
        max_args: Some(0),
        call: math::uuid,
    },
];

/// The evaluated arguments of one call, and the random source.
pub struct Args<'a> {
    pub name: &'static str,
    pub values: Vec<Value>,
    pub random: &'a mut crate::random::Random,
}

impl Args<'_> {
    pub fn get(&self, i: usize) -> &Value {
        &self.values[i]
    }

    pub fn string(&self, i: usize) -> Result<&str, String> {
        self.values[i]
            .as_str()
            .ok_or_else(|| self.type_error(i, "a string"))
    }

    pub fn array(&self, i: usize) -> Result<&Vec<Value>, String> {
        self.values[i]
            .as_array()
            .ok_or_else(|| self.type_error(i, "an array"))
    }

    pub fn integer(&self, i: usize) -> Result<i64, String> {
        let v = &self.values[i];
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| self.type_error(i, "an integer"))
    }

    pub fn number(&self, i: usize) -> Result<f64, String> {
        self.values[i]
            .as_f64()
            .ok_or_else(|| self.type_error(i, "a number"))
    }

    pub fn type_error(&self, i: usize, expected: &str) -> String {
        format!(
            "The argument {} of the intrinsic function {} must be {expected}, but was: {}",
            i + 1,
            self.name,
            self.values[i]
        )
    }
}

/// The cause of the `States.IntrinsicFailure` for a function that would
/// build `what` over [`MAX_VALUE_BYTES`]; checked before it is built.
pub fn too_large(function: &str, what: &str) -> String {
    format!(
        "The {what} of {function} would take more than {} MiB of JSON",
        MAX_VALUE_BYTES >> 20
    )
}

/// How evaluating an intrinsic failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// An argument path selected nothing.
    Path(Path, Unresolved),
    /// The function itself failed (`States.IntrinsicFailure`).
    Function(String),
}

impl Expr {
    /// Whether a path among the arguments may read `$$.Execution.Input`.
    pub fn reads_execution_input(&self) -> bool {
        match self {
            Expr::Literal(_) => false,
            Expr::Path(p) => p.reads_execution_input(),
            Expr::Call(_, args) => args.iter().any(Expr::reads_execution_input),
        }
    }

    pub fn eval(&self, scope: &mut Scope<'_>) -> Result<Value, Failure> {
        match self {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Path(p) => scope.resolve(p).map_err(|u| Failure::Path(p.clone(), u)),
            Expr::Call(f, args) => {
                // `States.Array($, $, …)`: copies of the input add up.
                let mut budget = Budget::new(MAX_VALUE_BYTES);
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    let v = a.eval(scope)?;
                    if !budget.take(&v) {
                        return Err(Failure::Function(too_large(f.name, "arguments")));
                    }
                    values.push(v);
                }
                let mut call = Args {
                    name: f.name,
                    values,
                    random: scope.random,
                };
                (f.call)(&mut call).map_err(Failure::Function)
            }
        }
    }
}

impl Failure {
    /// The execution error AWS raises for this failure, for the field `field`.
    /// (A missing path's cause quotes the document it was looked up in.)
    pub fn into_states_error(
        self,
        field: &str,
        expression: &str,
        scope: &Scope<'_>,
    ) -> StatesError {
        match self {
            Failure::Function(cause) => StatesError::new(ErrorName::IntrinsicFailure, cause),
            Failure::Path(_, Unresolved::UndefinedVariable(v)) => StatesError::runtime(format!(
                "The variable '${v}' used in the intrinsic function {expression} for the field '{field}' is undefined"
            )),
            Failure::Path(p, Unresolved::TooMany) => Unresolved::too_many(&p, field),
            // As AWS words it: the whole expression, as written, then the
            // argument and the document it was looked for in.
            Failure::Path(p, Unresolved::Missing) => {
                let doc = scope.root(&p).map(|v| v.to_string()).unwrap_or_default();
                StatesError::runtime(format!(
                    "The function '{expression}' had the following error: The JsonPath argument for the field '{p}' could not be found in the input '{doc}'"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests;

impl PartialEq for Function {
    /// Rows are unique by name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

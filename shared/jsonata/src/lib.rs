//! # stepwise-jsonata
//!
//! JSONata 2.0 as AWS Step Functions runs it: parse once, evaluate many
//! times. Written for this project (see the README for why): pure, no I/O;
//! `$now()`/`$millis()` read the time given in [`Context`] and `$random()`
//! draws from its seed.
//!
//! ```
//! use serde_json::json;
//! use stepwise_jsonata::{Context, Expression};
//!
//! let e = Expression::parse("$sum(orders.(price * qty))").unwrap();
//! let input = json!({"orders": [{"price": 2, "qty": 3}, {"price": 5, "qty": 1}]});
//! let out = e.evaluate(&input, &[], Context { now_millis: 0, seed: 1 }).unwrap();
//! assert_eq!(out, Some(json!(11)));
//! ```

#![forbid(unsafe_code)]
// Parsed expressions are shared across threads (a state machine is), and
// values share strings and regexes with them, so both use `Arc`; values
// themselves stay on one thread, hence the lint allowance.
#![allow(clippy::arc_with_non_send_sync)]

mod ast;
mod env;
mod error;
mod eval;
pub mod functions;
mod graveyard;
mod lexer;
pub mod limits;
mod ops;
mod parser;
mod path;
mod process;
mod signature;
mod transform;
mod value;

use std::sync::Arc;

pub use error::Error;
pub use eval::{Context, Evaluator};
pub use value::Value;

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expression {
    root: Arc<ast::Node>,
}

impl Expression {
    pub fn parse(src: &str) -> Result<Expression, Error> {
        Ok(Expression {
            root: Arc::new(parser::parse(src)?),
        })
    }

    /// Evaluates against a JSON input with variables bound; `None` is
    /// JSONata's `undefined`.
    pub fn evaluate(
        &self,
        input: &serde_json::Value,
        bindings: &[(&str, &serde_json::Value)],
        ctx: Context,
    ) -> Result<Option<serde_json::Value>, Error> {
        let input = Value::from_json(input);
        let bound: Vec<(&str, Value)> = bindings
            .iter()
            .map(|(k, v)| (*k, Value::from_json(v)))
            .collect();
        self.evaluate_value(input, &bound, ctx)?.to_json()
    }

    /// Evaluates with inputs already in JSONata's representation.
    pub fn evaluate_value(
        &self,
        input: Value,
        bindings: &[(&str, Value)],
        ctx: Context,
    ) -> Result<Value, Error> {
        let env = env::Frame::root();
        let input = match input {
            Value::Array(a, f) if !f.sequence => {
                let wrapped = Value::Array(a, f);
                Value::array_with(
                    vec![wrapped],
                    value::Flags {
                        sequence: true,
                        outer_wrapper: true,
                        ..Default::default()
                    },
                )
            }
            other => other,
        };
        env.bind("$", input.clone());
        for (k, v) in bindings {
            env.bind(*k, v.clone());
        }
        let mut e = Evaluator::new(ctx);
        let out = e.eval(&self.root, &input, &env);
        e.release();
        env.clear();
        Ok(match out? {
            // An outer wrapper that comes back unchanged is the input array.
            Value::Array(a, f) if f.outer_wrapper && a.len() == 1 => a[0].clone(),
            other => other,
        })
    }
}

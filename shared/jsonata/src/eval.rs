//! The evaluator: jsonata-js's `evaluate`, node by node. Sequences collapse
//! after every node (none → undefined, one → the item).

use std::sync::Arc;

use crate::ast::{BinOp, Node};
use crate::env::Frame;
use crate::error::Error;
use crate::functions;
use crate::ops;
use crate::value::{Flags, Function, Value};

/// What an evaluation may read besides its input: the time and randomness.
#[derive(Debug, Clone)]
pub struct Context {
    /// `$now()` and `$millis()`: fixed for one evaluation, as in jsonata-js.
    pub now_millis: i64,
    pub seed: u64,
}

/// Nesting limit for function calls, so deep recursion is an error, not a crash.
const MAX_DEPTH: usize = 400;

pub struct Evaluator {
    pub ctx: Context,
    pub(crate) rng: u64,
    depth: usize,
}

impl Evaluator {
    pub fn new(ctx: Context) -> Evaluator {
        let rng = ctx.seed | 1;
        Evaluator { ctx, rng, depth: 0 }
    }

    pub fn next_random(&mut self) -> f64 {
        // xorshift64*: deterministic per seed.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn eval(&mut self, node: &Node, input: &Value, env: &Arc<Frame>) -> Result<Value, Error> {
        Ok(self.eval_raw(node, input, env)?.collapse())
    }

    fn eval_raw(&mut self, node: &Node, input: &Value, env: &Arc<Frame>) -> Result<Value, Error> {
        Ok(match node {
            Node::Num(n) => Value::Number(*n),
            Node::Str(s) => Value::String(s.clone()),
            Node::Bool(b) => Value::Bool(*b),
            Node::Null => Value::Null,
            Node::Regex(r) => Value::Regex(r.clone()),
            Node::Name(n) => ops::lookup(input, n),
            Node::Var(name) => self.variable(name, input, env),
            Node::Wildcard => ops::wildcard(input),
            Node::Descendants => ops::descendants(input),
            Node::Parent => {
                return Err(Error::new(
                    "S0217",
                    "The parent operator (%) is not supported",
                ));
            }
            Node::Path {
                steps,
                keep_array,
                group,
            } => self.path(steps, *keep_array, group.as_deref(), input, env)?,
            Node::Neg(e) => match self.eval(e, input, env)? {
                Value::Undefined => Value::Undefined,
                Value::Number(n) => Value::Number(-n),
                _ => return Err(Error::new("D1002", "Cannot negate a non-numeric value")),
            },
            Node::Array { items, cons } => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = self.eval(item, input, env)?;
                    match (v, item) {
                        (Value::Undefined, _) => {}
                        (v, Node::Array { .. }) => out.push(v),
                        (Value::Array(a, _), _) => out.extend(a.iter().cloned()),
                        (v, _) => out.push(v),
                    }
                }
                Value::Array(
                    Arc::new(out),
                    Flags {
                        cons: *cons,
                        ..Flags::default()
                    },
                )
            }
            Node::Object(pairs) => self.group(pairs, input, env)?,
            Node::Binary(op, l, r) => self.binary(*op, l, r, input, env)?,
            Node::Cond(c, t, e) => {
                let cond = self.eval(c, input, env)?;
                if functions::boolean(&cond).unwrap_or(false) {
                    self.eval(t, input, env)?
                } else if let Some(e) = e {
                    self.eval(e, input, env)?
                } else {
                    Value::Undefined
                }
            }
            Node::Block(items) => {
                let frame = Frame::child(env);
                let mut last = Value::Undefined;
                for item in items {
                    last = self.eval(item, input, &frame)?;
                }
                last
            }
            Node::Bind(name, v) => {
                let value = self.eval(v, input, env)?;
                env.bind(name.clone(), value.clone());
                value
            }
            Node::Lambda(def) => Value::Function(Arc::new(Function::Lambda {
                def: def.clone(),
                env: env.clone(),
                input: input.clone(),
            })),
            Node::Call {
                func,
                args,
                partial,
            } => self.call(func, args, *partial, None, input, env)?,
            Node::Placeholder => {
                return Err(Error::new(
                    "S0218",
                    "A '?' placeholder is only allowed as a function argument",
                ));
            }
            Node::Apply(l, r) => {
                let lhs = self.eval(l, input, env)?;
                match &**r {
                    Node::Call {
                        func,
                        args,
                        partial: false,
                    } => self.call(func, args, false, Some(lhs), input, env)?,
                    other => {
                        let f = self.eval(other, input, env)?;
                        if !f.is_function() {
                            return Err(Error::new(
                                "T2006",
                                "The right side of the function application operator ~> must be a function",
                            ));
                        }
                        if lhs.is_function() {
                            self.apply(&chain(), vec![lhs, f], &Value::Undefined)?
                        } else {
                            self.apply(&f, vec![lhs], &Value::Undefined)?
                        }
                    }
                }
            }
            Node::Transform(t) => Value::Function(Arc::new(Function::Transform {
                node: t.clone(),
                env: env.clone(),
            })),
            Node::Sort(_) => return Err(Error::new("S0219", "A sort must follow a path")),
            Node::Filtered {
                node,
                predicates,
                group,
            } => {
                let mut v = self.eval(node, input, env)?;
                for p in predicates {
                    v = self.filter(p, v, env)?.collapse();
                }
                match group {
                    Some(g) => self.group(g, &v, env)?,
                    None => v,
                }
            }
        })
    }

    fn variable(&mut self, name: &str, input: &Value, env: &Arc<Frame>) -> Value {
        if name.is_empty() {
            return match input {
                Value::Array(a, f) if f.outer_wrapper && !a.is_empty() => a[0].clone(),
                other => other.clone(),
            };
        }
        if let Some(v) = env.lookup(name) {
            return v;
        }
        functions::lookup(name).map_or(Value::Undefined, |b| {
            Value::Function(Arc::new(Function::Builtin(b)))
        })
    }

    fn binary(
        &mut self,
        op: BinOp,
        l: &Node,
        r: &Node,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let lhs = self.eval(l, input, env)?;
        match op {
            BinOp::And => {
                let lb = functions::boolean(&lhs).unwrap_or(false);
                return Ok(Value::Bool(
                    lb && functions::boolean(&self.eval(r, input, env)?).unwrap_or(false),
                ));
            }
            BinOp::Or => {
                let lb = functions::boolean(&lhs).unwrap_or(false);
                return Ok(Value::Bool(
                    lb || functions::boolean(&self.eval(r, input, env)?).unwrap_or(false),
                ));
            }
            _ => {}
        }
        let rhs = self.eval(r, input, env)?;
        ops::binary(op, lhs, rhs)
    }

    /// `f(args)`, or with `~>` the left side as first argument.
    fn call(
        &mut self,
        func: &Node,
        args: &[Node],
        partial: bool,
        first: Option<Value>,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let f = self.eval(func, input, env)?;
        if !f.is_function() {
            let name = match func {
                Node::Path { steps, .. } => match steps.first().map(|s| &s.node) {
                    Some(Node::Name(n)) => Some(n.to_string()),
                    _ => None,
                },
                _ => None,
            };
            // Forgot the `$`? Say so when `$name` exists.
            return Err(match name {
                Some(n)
                    if f.is_undefined()
                        && (env.lookup(&n).is_some() || functions::lookup(&n).is_some()) =>
                {
                    Error::new(
                        "T1005",
                        format!("Attempted to invoke a non-function. Did you mean ${n}?"),
                    )
                }
                _ => Error::new("T1006", "Attempted to invoke a non-function"),
            });
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        if let Some(v) = first {
            values.push(Some(v));
        }
        for a in args {
            if matches!(a, Node::Placeholder) {
                values.push(None);
            } else {
                values.push(Some(self.eval(a, input, env)?));
            }
        }
        if partial {
            return Ok(Value::Function(Arc::new(Function::Partial {
                func: f,
                args: values,
            })));
        }
        let values = values.into_iter().map(Option::unwrap_or_default).collect();
        self.apply(&f, values, input)
    }

    /// Calls a function value with arguments; `context` fills a missing first
    /// argument of built-ins whose signature allows it.
    pub fn apply(&mut self, f: &Value, args: Vec<Value>, context: &Value) -> Result<Value, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth = 0;
            return Err(Error::new(
                "U1001",
                "Stack overflow error: Check for non-terminating recursive function. Consider rewriting as tail-recursive.",
            ));
        }
        let out = self.apply_inner(f, args, context);
        self.depth = self.depth.saturating_sub(1);
        out
    }

    fn apply_inner(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        context: &Value,
    ) -> Result<Value, Error> {
        let func = match f {
            Value::Function(func) => func.clone(),
            Value::Regex(re) => {
                return Ok(functions::strings::regex_match_object(re, args.first(), 0));
            }
            _ => return Err(Error::new("T1006", "Attempted to invoke a non-function")),
        };
        match &*func {
            Function::Builtin(b) => {
                let args = b.validate(args, context)?;
                (b.call)(self, args, context)
            }
            Function::Lambda { def, env, input } => {
                let frame = Frame::child(env);
                let mut args = args.into_iter();
                for p in &def.params {
                    frame.bind(p.clone(), args.next().unwrap_or_default());
                }
                self.eval(&def.body, input, &frame)
            }
            Function::Partial { func, args: bound } => {
                let mut supplied = args.into_iter();
                let full = bound
                    .iter()
                    .map(|a| {
                        a.clone()
                            .unwrap_or_else(|| supplied.next().unwrap_or_default())
                    })
                    .collect();
                self.apply(func, full, context)
            }
            Function::Transform { node, env } => {
                let target = args.into_iter().next().unwrap_or_default();
                crate::transform::apply(self, node, env, target)
            }
            Function::Matcher(re) => {
                Ok(functions::strings::regex_match_object(re, args.first(), 0))
            }
        }
    }

    /// How many arguments a higher-order function passes to `f`.
    pub fn arity(f: &Value) -> usize {
        match f {
            Value::Function(func) => match &**func {
                Function::Lambda { def, .. } => def.params.len(),
                Function::Builtin(b) => b.arity,
                Function::Partial { args, .. } => args.iter().filter(|a| a.is_none()).count(),
                Function::Transform { .. } | Function::Matcher(_) => 1,
            },
            Value::Regex(_) => 1,
            _ => 0,
        }
    }
}

/// `λ($f, $g) { λ($x) { $g($f($x)) } }`, for `func1 ~> func2`.
fn chain() -> Value {
    thread_local! {
        static CHAIN: Value = {
            let node = crate::parser::parse("function($f, $g) { function($x){ $g($f($x)) } }").expect("chain parses");
            let mut e = Evaluator::new(Context { now_millis: 0, seed: 0 });
            e.eval(&node, &Value::Undefined, &Frame::root()).expect("chain evaluates")
        };
    }
    CHAIN.with(Clone::clone)
}

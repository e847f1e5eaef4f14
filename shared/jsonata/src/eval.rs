//! The evaluator: jsonata-js's `evaluate`, node by node. Sequences collapse
//! after every node (none → undefined, one → the item).

use std::sync::Arc;

use crate::ast::{BinOp, Node};
use crate::env::Frame;
use crate::error::Error;
use crate::functions;
use crate::limits::{self, Budget};
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

/// The stack one evaluation may use before it fails with U1001, whatever
/// recursed: function calls, nested expressions or both. Evaluation recurses
/// (as jsonata-js does), and how many frames fit depends on the build, so
/// the guard measures bytes: half of the 2 MiB a Rust thread (and a tokio
/// worker) gets by default, and the parser's depth limit keeps what a single
/// expression needs well below it.
pub const MAX_STACK_BYTES: usize = 1 << 20;

/// Where the stack is now: the address of a local, which is all a guard
/// needs (stacks grow one way; the guard compares distances).
#[inline(never)]
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

fn stack_overflow() -> Error {
    Error::new(
        "U1001",
        "Stack overflow error: Check for non-terminating recursive function. Consider rewriting as tail-recursive.",
    )
}

pub struct Evaluator {
    pub ctx: Context,
    pub(crate) rng: u64,
    depth: usize,
    /// [`stack_position`] when the evaluator was made.
    stack_base: usize,
    /// Frames still referenced when their block or call ended: captured by
    /// a closure, possibly in a cycle; cleared by [`Evaluator::release`].
    captured: Vec<Arc<Frame>>,
}

impl Evaluator {
    pub fn new(ctx: Context) -> Evaluator {
        let rng = ctx.seed | 1;
        Evaluator {
            ctx,
            rng,
            depth: 0,
            stack_base: stack_position(),
            captured: Vec::new(),
        }
    }

    /// A block's or call's frame, at its end.
    pub(crate) fn retire(&mut self, frame: Arc<Frame>) {
        if Arc::strong_count(&frame) > 1 {
            self.captured.push(frame);
        }
    }

    /// Breaks the cycles closures made with the frames they captured. The
    /// functions made by this evaluation must not be called afterwards.
    pub fn release(&mut self) {
        for frame in std::mem::take(&mut self.captured) {
            frame.clear();
        }
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
        self.check_stack()?;
        let v = self.eval_raw(node, input, env)?.collapse();
        limits::check(&v)?;
        Ok(v)
    }

    /// Fails with U1001 once this evaluation has used [`MAX_STACK_BYTES`].
    fn check_stack(&self) -> Result<(), Error> {
        if stack_position().abs_diff(self.stack_base) > MAX_STACK_BYTES {
            return Err(stack_overflow());
        }
        Ok(())
    }

    // A dispatcher: every arm that does more than build a value has a
    // function of its own, so the frame that recurses stays small (see
    // [`MAX_STACK_BYTES`]).
    fn eval_raw(&mut self, node: &Node, input: &Value, env: &Arc<Frame>) -> Result<Value, Error> {
        match node {
            Node::Num(n) => Ok(Value::Number(*n)),
            Node::Str(s) => Ok(Value::String(s.clone())),
            Node::Bool(b) => Ok(Value::Bool(*b)),
            Node::Null => Ok(Value::Null),
            Node::Regex(r) => Ok(Value::Regex(r.clone())),
            Node::Name(n) => Ok(ops::lookup(input, n)),
            Node::Var(name) => Ok(self.variable(name, input, env)),
            Node::Wildcard => Ok(ops::wildcard(input)),
            Node::Descendants => Ok(ops::descendants(input)),
            Node::Parent => Err(Error::new(
                "S0217",
                "The parent operator (%) is not supported",
            )),
            Node::Path {
                steps,
                keep_array,
                group,
            } => self.path(steps, *keep_array, group.as_deref(), input, env),
            Node::Neg(e) => self.negate(e, input, env),
            Node::Array { items, cons } => self.array(items, *cons, input, env),
            Node::Object(pairs) => self.group(pairs, input, env),
            Node::Binary(op, l, r) => self.binary(*op, l, r, input, env),
            Node::Cond(c, t, e) => self.condition(c, t, e.as_deref(), input, env),
            Node::Block(items) => self.block(items, input, env),
            Node::Bind(name, v) => self.bind(name, v, input, env),
            Node::Lambda(def) => Ok(Value::Function(Arc::new(Function::Lambda {
                def: def.clone(),
                env: env.clone(),
                input: input.clone(),
            }))),
            Node::Call {
                func,
                args,
                partial,
            } => self.call(func, args, *partial, None, input, env),
            Node::Placeholder => Err(Error::new(
                "S0218",
                "A '?' placeholder is only allowed as a function argument",
            )),
            Node::Apply(l, r) => self.apply_operator(l, r, input, env),
            Node::Transform(t) => Ok(Value::Function(Arc::new(Function::Transform {
                node: t.clone(),
                env: env.clone(),
            }))),
            Node::Sort(_) => Err(Error::new("S0219", "A sort must follow a path")),
            Node::Filtered {
                node,
                predicates,
                group,
            } => self.filtered(node, predicates, group.as_deref(), input, env),
        }
    }

    fn negate(&mut self, e: &Node, input: &Value, env: &Arc<Frame>) -> Result<Value, Error> {
        match self.eval(e, input, env)? {
            Value::Undefined => Ok(Value::Undefined),
            Value::Number(n) => Ok(Value::Number(-n)),
            _ => Err(Error::new("D1002", "Cannot negate a non-numeric value")),
        }
    }

    fn array(
        &mut self,
        items: &[Node],
        cons: bool,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let mut out = Vec::with_capacity(items.len());
        let mut budget = Budget::new();
        for item in items {
            let v = self.eval(item, input, env)?;
            budget.add(&v, "an array constructor")?;
            match (v, item) {
                (Value::Undefined, _) => {}
                (v, Node::Array { .. }) => out.push(v),
                (Value::Array(a, _), _) => out.extend(a.iter().cloned()),
                (v, _) => out.push(v),
            }
        }
        Ok(Value::array_with(
            out,
            Flags {
                cons,
                ..Flags::default()
            },
        ))
    }

    fn condition(
        &mut self,
        c: &Node,
        t: &Node,
        e: Option<&Node>,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let cond = self.eval(c, input, env)?;
        if functions::boolean(&cond).unwrap_or(false) {
            self.eval(t, input, env)
        } else if let Some(e) = e {
            self.eval(e, input, env)
        } else {
            Ok(Value::Undefined)
        }
    }

    fn block(&mut self, items: &[Node], input: &Value, env: &Arc<Frame>) -> Result<Value, Error> {
        let frame = Frame::child(env);
        let mut last = Ok(Value::Undefined);
        for item in items {
            last = self.eval(item, input, &frame);
            if last.is_err() {
                break;
            }
        }
        self.retire(frame);
        last
    }

    fn bind(
        &mut self,
        name: &Arc<str>,
        v: &Node,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let value = self.eval(v, input, env)?;
        env.bind(name.clone(), value.clone());
        Ok(value)
    }

    /// `l ~> r`.
    fn apply_operator(
        &mut self,
        l: &Node,
        r: &Node,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let lhs = self.eval(l, input, env)?;
        if let Node::Call {
            func,
            args,
            partial: false,
        } = r
        {
            return self.call(func, args, false, Some(lhs), input, env);
        }
        let f = self.eval(r, input, env)?;
        if !f.is_function() {
            return Err(Error::new(
                "T2006",
                "The right side of the function application operator ~> must be a function",
            ));
        }
        if lhs.is_function() {
            self.apply(&chain(), vec![lhs, f], &Value::Undefined)
        } else {
            self.apply(&f, vec![lhs], &Value::Undefined)
        }
    }

    fn filtered(
        &mut self,
        node: &Node,
        predicates: &[Node],
        group: Option<&[(Node, Node)]>,
        input: &Value,
        env: &Arc<Frame>,
    ) -> Result<Value, Error> {
        let mut v = self.eval(node, input, env)?;
        for p in predicates {
            v = self.filter(p, v, env)?.collapse();
        }
        match group {
            Some(g) => self.group(g, &v, env),
            None => Ok(v),
        }
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
        if self.depth >= MAX_DEPTH {
            return Err(stack_overflow());
        }
        self.check_stack()?;
        self.depth += 1;
        let out = self.apply_inner(f, args, context);
        self.depth -= 1;
        let out = out?;
        limits::check(&out)?;
        Ok(out)
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
                let out = self.eval(&def.body, input, &frame);
                self.retire(frame);
                out
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

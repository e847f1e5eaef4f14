//! Dropping closures one link at a time.
//!
//! A closure keeps the frame it was made in, and that frame may hold the
//! closure made before it: `$reduce([1..100000], function($f, $x) {
//! function() { $f() } }, …)` builds a chain 100,000 closures long, and
//! partial applications of partial applications chain the same way. Dropped
//! the usual way, a chain recurses once per link and overflows the stack, so
//! a [`Function`] hands the frames and functions only it holds to a
//! per-thread queue, and whoever started dropping empties the queue in a
//! loop. Arrays and objects need no such care: their nesting is bounded
//! (see [`crate::limits`]). (Chains of closures that capture frames are also
//! taken apart by [`crate::eval::Evaluator::release`].)

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::env::Frame;
use crate::value::{Function, Value};

/// Held only to be dropped.
#[allow(dead_code)]
enum Garbage {
    Frame(Arc<Frame>),
    Value(Value),
}

thread_local! {
    static QUEUE: RefCell<Vec<Garbage>> = const { RefCell::new(Vec::new()) };
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Stands in for a frame moved to the queue.
    static EMPTY: Arc<Frame> = Arc::new(Frame::default());
}

impl Drop for Function {
    fn drop(&mut self) {
        let mut later = Vec::new();
        match self {
            Function::Lambda { env, input, .. } => {
                take_frame(env, &mut later);
                take_value(input, &mut later);
            }
            Function::Transform { env, .. } => take_frame(env, &mut later),
            Function::Partial { func, args } => {
                take_value(func, &mut later);
                for a in args.iter_mut().flatten() {
                    take_value(a, &mut later);
                }
            }
            Function::Builtin(_) | Function::Matcher(_) => {}
        }
        defer(later);
    }
}

/// Moves out a frame only `env` holds, leaving an empty one in its place.
fn take_frame(env: &mut Arc<Frame>, later: &mut Vec<Garbage>) {
    if Arc::strong_count(env) > 1 {
        return;
    }
    if let Ok(empty) = EMPTY.try_with(Arc::clone) {
        later.push(Garbage::Frame(std::mem::replace(env, empty)));
    }
}

/// Moves out a function only `v` holds: dropping it here could recurse
/// into the next link. Arrays and objects stay: their nesting is bounded,
/// and the functions in them go through here in turn.
fn take_value(v: &mut Value, later: &mut Vec<Garbage>) {
    if let Value::Function(f) = v
        && Arc::strong_count(f) == 1
    {
        later.push(Garbage::Value(std::mem::take(v)));
    }
}

/// Drops `items` from a loop rather than from within the caller's drop.
fn defer(items: Vec<Garbage>) {
    if items.is_empty() {
        return;
    }
    // While threads end their locals may be gone; items then drop here.
    let Ok(outer) = DRAINING.try_with(|d| !d.replace(true)) else {
        return;
    };
    if QUEUE.try_with(|q| q.borrow_mut().extend(items)).is_err() || !outer {
        return;
    }
    while let Some(g) = QUEUE.with(|q| q.borrow_mut().pop()) {
        drop(g);
    }
    DRAINING.with(|d| d.set(false));
}

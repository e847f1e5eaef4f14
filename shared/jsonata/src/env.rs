//! Variable scopes: a frame per block and per function call, chained to the
//! frame it was created in (closures keep theirs). Frames hold few names, so
//! a vector searched from the end beats hashing.

use std::cell::RefCell;
use std::sync::Arc;

use crate::value::Value;

#[derive(Debug, Default)]
pub struct Frame {
    vars: RefCell<Vec<(Arc<str>, Value)>>,
    parent: Option<Arc<Frame>>,
}

impl Frame {
    pub fn root() -> Arc<Frame> {
        #[cfg(test)]
        tests::LIVE.set(tests::LIVE.get() + 1);
        Arc::new(Frame::default())
    }

    pub fn child(parent: &Arc<Frame>) -> Arc<Frame> {
        #[cfg(test)]
        tests::LIVE.set(tests::LIVE.get() + 1);
        Arc::new(Frame {
            vars: RefCell::new(Vec::new()),
            parent: Some(parent.clone()),
        })
    }

    pub fn bind(&self, name: impl Into<Arc<str>>, v: Value) {
        let name = name.into();
        let mut vars = self.vars.borrow_mut();
        match vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = v,
            None => vars.push((name, v)),
        }
    }

    /// Forgets every variable. A closure bound in the frame it captured
    /// (`$f := function(){…}`) is a reference cycle: the evaluator clears
    /// such frames when it is done, or they would never be freed.
    pub fn clear(&self) {
        let vars = std::mem::take(&mut *self.vars.borrow_mut());
        drop(vars);
    }

    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.vars.borrow().iter().rev().find(|(k, _)| &**k == name) {
            return Some(v.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::json;

    use crate::{Context, Expression};

    thread_local! {
        /// Frames alive on this thread.
        pub static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    impl Drop for super::Frame {
        fn drop(&mut self) {
            LIVE.set(LIVE.get() - 1);
        }
    }

    #[test]
    fn closures_bound_in_the_frame_they_capture_are_freed() {
        for src in [
            "($f := function($n){ $n = 0 ? 0 : $f($n - 1) }; $f(3))",
            "$f := function(){ 1 }",
            "(($f := function($n){ $n = 0 ? 0 : $f($n - 1) }; $f))(2)",
            "($c := $reduce([1..1000], function($f, $x){ function(){ $f } }, 0); 1)",
            "[1..3].($g := function(){ $ }; $g())",
            "[1..3]@$i.($g := function(){ $i }; $g())",
            "($t := | $ | {'a': 1} |; $t({}))",
            "($f := function(){ $f() }; $f())",
        ] {
            let before = LIVE.get();
            let e = Expression::parse(src).unwrap();
            let _ = e.evaluate(
                &json!({}),
                &[],
                Context {
                    now_millis: 0,
                    seed: 1,
                },
            );
            assert_eq!(LIVE.get(), before, "{src} leaks frames");
        }
    }
}

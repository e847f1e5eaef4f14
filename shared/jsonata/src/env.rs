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
        Arc::new(Frame::default())
    }

    pub fn child(parent: &Arc<Frame>) -> Arc<Frame> {
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

    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.vars.borrow().iter().rev().find(|(k, _)| &**k == name) {
            return Some(v.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }
}

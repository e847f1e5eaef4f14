//! Variable scopes: a frame per block and per function call, chained to the
//! frame it was created in (closures keep theirs).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::value::Value;

#[derive(Debug, Default)]
pub struct Frame {
    vars: RefCell<HashMap<Rc<str>, Value>>,
    parent: Option<Rc<Frame>>,
}

impl Frame {
    pub fn root() -> Rc<Frame> {
        Rc::new(Frame::default())
    }

    pub fn child(parent: &Rc<Frame>) -> Rc<Frame> {
        Rc::new(Frame {
            vars: RefCell::new(HashMap::new()),
            parent: Some(parent.clone()),
        })
    }

    pub fn bind(&self, name: impl Into<Rc<str>>, v: Value) {
        self.vars.borrow_mut().insert(name.into(), v);
    }

    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(v.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }
}

//! `| pattern | update [, delete] |`: a copy of the input with the matched
//! objects updated. Matches are found by identity in a fresh deep copy.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::Node;
use crate::env::Frame;
use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions::objects::deep_clone;
use crate::value::{Map, Object, Value};

type Edit = (Option<Arc<Map>>, Vec<String>);

pub fn apply(
    e: &mut Evaluator,
    node: &Arc<(Node, Node, Option<Node>)>,
    env: &Arc<Frame>,
    target: Value,
) -> Result<Value, Error> {
    if target.is_undefined() {
        return Ok(Value::Undefined);
    }
    let (pattern, update, delete) = &**node;
    let copy = deep_clone(&target);
    let matches = match e.eval(pattern, &copy, env)? {
        Value::Undefined => return Ok(copy),
        Value::Array(a, _) => a.to_vec(),
        other => vec![other],
    };
    let mut edits: HashMap<*const Map, Edit> = HashMap::new();
    for m in &matches {
        let Value::Object(obj) = m else { continue };
        let upd = match e.eval(update, m, env)? {
            Value::Undefined => None,
            Value::Object(u) => Some(u),
            _ => {
                return Err(Error::new(
                    "T2011",
                    "The insert/update clause of the transform expression must evaluate to an object",
                ));
            }
        };
        let mut dels = Vec::new();
        if let Some(d) = delete {
            match e.eval(d, m, env)? {
                Value::Undefined => {}
                Value::String(s) => dels.push(s.to_string()),
                Value::Array(a, _) if a.iter().all(|v| matches!(v, Value::String(_))) => {
                    dels.extend(a.iter().filter_map(|v| {
                        if let Value::String(s) = v {
                            Some(s.to_string())
                        } else {
                            None
                        }
                    }));
                }
                _ => {
                    return Err(Error::new(
                        "T2012",
                        "The delete clause of the transform expression must evaluate to a string or array of strings",
                    ));
                }
            }
        }
        edits.insert(Arc::as_ptr(obj), (upd, dels));
    }
    Ok(rebuild(&copy, &edits))
}

fn rebuild(v: &Value, edits: &HashMap<*const Map, Edit>) -> Value {
    match v {
        Value::Array(a, f) => Value::array_with(a.iter().map(|x| rebuild(x, edits)).collect(), *f),
        Value::Object(m) => {
            let mut out: Object = m
                .iter()
                .map(|(k, x)| (k.clone(), rebuild(x, edits)))
                .collect();
            if let Some((upd, dels)) = edits.get(&Arc::as_ptr(m)) {
                if let Some(u) = upd {
                    for (k, x) in u.iter() {
                        out.insert(k.clone(), x.clone());
                    }
                }
                for d in dels {
                    out.shift_remove(d);
                }
            }
            Value::object(out)
        }
        other => other.clone(),
    }
}

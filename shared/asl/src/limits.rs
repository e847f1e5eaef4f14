//! Bounds on nesting and size, so that no definition or execution can
//! overflow the stack or exhaust memory: serde_json's values, and the
//! walkers here, recurse once per level of nesting.
//!
//! AWS documents a 256 KiB limit on payloads but none on nesting. JSON text
//! nests at most 128 levels when serde_json reads it; without a bound of
//! their own, states could nest a payload one level deeper per transition
//! (`"ResultPath": "$.a"` in a loop) until a walker ran out of stack.

use serde_json::Value;

/// How deeply a state's output, effective input (a task's payload, a Map
/// iteration's input) and assigned variables may nest; deeper fails with
/// `States.DataLimitExceeded`. Below serde_json's 128 so that the records a
/// backend stores around a payload can be read back.
pub const MAX_PAYLOAD_DEPTH: usize = 100;

/// How deeply a definition may nest: as deep as JSON text can
/// ([`crate::StateMachine::parse`] reads at most this). Payload templates,
/// Choice rules and branches all recurse over it.
pub const MAX_DEFINITION_DEPTH: usize = 128;

/// The largest value (in bytes of JSON) a payload template or an intrinsic
/// function may build: room for intermediate results
/// (`States.ArrayLength(States.StringSplit(…))`) well beyond a payload, the
/// size of all of an execution's variables. A bigger one fails before it is
/// built, whatever `"a.$": "$"` repeated 100,000 times would come to.
pub const MAX_VALUE_BYTES: usize = 10 << 20;

/// `States.DataLimitExceeded` for a value over [`MAX_VALUE_BYTES`].
pub fn too_large(what: &str) -> crate::error::StatesError {
    crate::error::StatesError::new(
        crate::error::ErrorName::DataLimitExceeded,
        format!(
            "{what} would build more than {} MiB of JSON",
            MAX_VALUE_BYTES >> 20
        ),
    )
}

/// `States.DataLimitExceeded` for a value over [`MAX_PAYLOAD_DEPTH`].
pub fn too_deep(what: &str) -> crate::error::StatesError {
    crate::error::StatesError::new(
        crate::error::ErrorName::DataLimitExceeded,
        format!("{what} is nested more than {MAX_PAYLOAD_DEPTH} levels deep"),
    )
}

/// Whether `v` nests more than `limit` levels (a scalar is level 0). Walks
/// with a stack of its own, so any value can be measured.
pub fn deeper_than(v: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, depth)) = stack.pop() {
        let is_container = matches!(v, Value::Array(_) | Value::Object(_));
        if is_container && depth >= limit {
            return true;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            Value::Object(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    false
}

/// The JSON pointer of the first array or object more than `limit` levels
/// deep in `v` (which may nest arbitrarily deep), if any.
pub fn too_deep_at(v: &Value, limit: usize) -> Option<String> {
    let mut stack: Vec<(&Value, usize, String)> = vec![(v, 0, String::new())];
    while let Some((v, depth, at)) = stack.pop() {
        if matches!(v, Value::Array(_) | Value::Object(_)) && depth >= limit {
            return Some(at);
        }
        match v {
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate().rev() {
                    stack.push((c, depth + 1, format!("{at}/{i}")));
                }
            }
            Value::Object(m) => {
                for (k, c) in m.iter().rev() {
                    stack.push((c, depth + 1, crate::definition::problem::pointer(&at, k)));
                }
            }
            _ => {}
        }
    }
    None
}

/// How many bytes `v` takes as JSON, if no more than `limit`; counting
/// stops at the limit, and allocates nothing.
pub fn json_len(v: &Value, limit: usize) -> Option<usize> {
    struct Count {
        n: usize,
        limit: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.n += b.len();
            if self.n > self.limit {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count { n: 0, limit };
    serde_json::to_writer(&mut c, v).ok().map(|()| c.n)
}

/// A running total of the JSON built so far, for values assembled from parts
/// (a template's fields, an intrinsic's arguments), so that a thousand
/// copies of a large input stop at the limit instead of exhausting memory.
#[derive(Debug)]
pub struct Budget {
    left: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { left: limit }
    }

    /// Counts `v`; false once the total is over the limit.
    pub fn take(&mut self, v: &Value) -> bool {
        match json_len(v, self.left) {
            Some(n) => {
                self.left -= n;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn depth_counts_containers_not_scalars() {
        assert!(!deeper_than(&json!(1), 0));
        assert!(deeper_than(&json!([1]), 0));
        assert!(!deeper_than(&json!({"a": [1]}), 2));
        assert!(deeper_than(&json!({"a": [[]]}), 2));
        assert_eq!(
            too_deep_at(&json!({"a": [{"b/c": {}}]}), 2),
            Some("/a/0".into())
        );
        assert_eq!(
            too_deep_at(&json!({"a": [{"b/c": {}}]}), 3),
            Some("/a/0/b~1c".into())
        );
        assert_eq!(too_deep_at(&json!({"a": [{"b": 1}]}), 3), None);
    }

    #[test]
    fn length_stops_at_the_limit() {
        assert_eq!(json_len(&json!("abc"), 5), Some(5));
        assert_eq!(json_len(&json!("abcd"), 5), None);
        let mut b = Budget::new(10);
        assert!(b.take(&json!("abc")));
        assert!(!b.take(&json!("abcd")));
    }
}

//! JSONata values: JSON plus `undefined`, functions and regexes. Arrays carry
//! jsonata-js's flags (a *sequence* collapses when it holds one item).
//!
//! Arrays and objects know their nesting depth and an estimate of their size
//! ([`Size`]), computed once when they are built, so the limits of
//! [`crate::limits`] cost nothing to check however often values are shared.

use std::ops::Deref;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Number;

use crate::ast::{LambdaDef, Node};
use crate::env::Frame;
use crate::error::Error;
use crate::functions::Builtin;
use crate::limits;

/// Objects keep their key order; keys hash with FxHash (fast for short keys).
pub type Object = IndexMap<String, Value, rustc_hash::FxBuildHasher>;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flags {
    pub sequence: bool,
    pub keep_singleton: bool,
    pub cons: bool,
    pub outer_wrapper: bool,
}

#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Arc<str>),
    Array(Arc<List>, Flags),
    Object(Arc<Map>),
    Function(Arc<Function>),
    Regex(Arc<regex::Regex>),
}

#[derive(Debug)]
pub enum Function {
    Lambda {
        def: Arc<LambdaDef>,
        env: Arc<Frame>,
        input: Value,
    },
    Builtin(&'static Builtin),
    /// A partial application: `None` marks a `?` still to fill.
    Partial {
        func: Value,
        args: Vec<Option<Value>>,
    },
    Transform {
        node: Arc<(Node, Node, Option<Node>)>,
        env: Arc<Frame>,
    },
    /// A regex used as a function (`$match`'s matcher).
    Matcher(Arc<regex::Regex>),
}

/// How deep a value nests and roughly how much memory it takes (shared
/// parts counted each time they appear, as they would be once written out).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Size {
    /// 0 for scalars, 1 for an array or object of scalars, …
    pub depth: usize,
    pub bytes: usize,
}

/// What one value costs besides its contents: the enum itself.
const SLOT: usize = std::mem::size_of::<Value>();
/// What an object's entry costs besides its key's and value's bytes.
const ENTRY: usize = 32;

/// An array's items, and their [`Size`].
#[derive(Debug, Default)]
pub struct List {
    items: Vec<Value>,
    size: Size,
}

impl List {
    pub fn new(items: Vec<Value>) -> List {
        let mut size = Size::default();
        for v in &items {
            size.depth = size.depth.max(v.depth());
            size.bytes = size.bytes.saturating_add(v.bytes());
        }
        size.depth += 1;
        List { items, size }
    }

    pub fn size(&self) -> Size {
        self.size
    }

    /// Stands for JSON nested deeper than the limit (see [`Value::from_json`]).
    fn too_deep() -> List {
        List {
            items: Vec::new(),
            size: Size {
                depth: usize::MAX / 2,
                bytes: 0,
            },
        }
    }
}

impl Deref for List {
    type Target = [Value];

    fn deref(&self) -> &[Value] {
        &self.items
    }
}

/// An object's entries, and their [`Size`].
#[derive(Debug, Default)]
pub struct Map {
    entries: Object,
    size: Size,
}

impl Map {
    pub fn new(entries: Object) -> Map {
        let mut size = Size::default();
        for (k, v) in &entries {
            size.depth = size.depth.max(v.depth());
            size.bytes = size
                .bytes
                .saturating_add(k.len() + ENTRY)
                .saturating_add(v.bytes());
        }
        size.depth += 1;
        Map { entries, size }
    }

    pub fn size(&self) -> Size {
        self.size
    }
}

impl Deref for Map {
    type Target = Object;

    fn deref(&self) -> &Object {
        &self.entries
    }
}

impl Value {
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    pub fn array(items: Vec<Value>) -> Value {
        Value::array_with(items, Flags::default())
    }

    pub fn array_with(items: Vec<Value>, flags: Flags) -> Value {
        Value::Array(Arc::new(List::new(items)), flags)
    }

    pub fn sequence(items: Vec<Value>) -> Value {
        Value::array_with(
            items,
            Flags {
                sequence: true,
                ..Flags::default()
            },
        )
    }

    pub fn object(o: Object) -> Value {
        Value::Object(Arc::new(Map::new(o)))
    }

    /// Nesting depth: 0 for anything but an array or object.
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(a, _) => a.size.depth,
            Value::Object(m) => m.size.depth,
            _ => 0,
        }
    }

    /// Estimated memory, shared parts counted every time.
    pub fn bytes(&self) -> usize {
        SLOT + match self {
            Value::String(s) => s.len(),
            Value::Array(a, _) => a.size.bytes,
            Value::Object(m) => m.size.bytes,
            _ => 0,
        }
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(..))
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Value::Array(_, f) if f.sequence)
    }

    pub fn is_function(&self) -> bool {
        matches!(self, Value::Function(_) | Value::Regex(_))
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a, _) => Some(a),
            _ => None,
        }
    }

    pub fn flags(&self) -> Flags {
        match self {
            Value::Array(_, f) => *f,
            _ => Flags::default(),
        }
    }

    pub fn with_flags(self, f: Flags) -> Value {
        match self {
            Value::Array(a, _) => Value::Array(a, f),
            other => other,
        }
    }

    /// The type symbol jsonata-js's signatures use.
    pub fn symbol(&self) -> char {
        match self {
            Value::Undefined => 'm',
            Value::Null => 'l',
            Value::Bool(_) => 'b',
            Value::Number(_) => 'n',
            Value::String(_) => 's',
            Value::Array(..) => 'a',
            Value::Object(_) => 'o',
            Value::Function(_) | Value::Regex(_) => 'f',
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Undefined => "undefined",
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(..) => "array",
            Value::Object(_) => "object",
            Value::Function(_) | Value::Regex(_) => "function",
        }
    }

    /// A collapsed sequence: none → undefined, one → the item (unless kept).
    pub fn collapse(self) -> Value {
        match self {
            Value::Array(a, f) if f.sequence => match a.len() {
                0 => Value::Undefined,
                1 if !f.keep_singleton => a[0].clone(),
                _ => Value::Array(a, f),
            },
            other => other,
        }
    }

    /// jsonata-js's `isDeepEqual`.
    pub fn deep_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a, _), Value::Array(b, _)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.deep_eq(y))
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.deep_eq(w)))
            }
            (Value::Function(a), Value::Function(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// A JSON value as JSONata sees it. Nesting deeper than
    /// [`limits::MAX_DEPTH`] is not copied: the array or object there is
    /// replaced by an empty one marked too deep, so evaluating against it
    /// fails (U1003) instead of recursing without bound.
    pub fn from_json(v: &serde_json::Value) -> Value {
        Value::from_json_at(v, 0)
    }

    fn from_json_at(v: &serde_json::Value, depth: usize) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.as_str().into()),
            serde_json::Value::Array(_) | serde_json::Value::Object(_)
                if depth >= limits::MAX_DEPTH =>
            {
                Value::Array(Arc::new(List::too_deep()), Flags::default())
            }
            serde_json::Value::Array(a) => {
                let mut items = Vec::with_capacity(a.len());
                for x in a {
                    items.push(Value::from_json_at(x, depth + 1));
                }
                Value::array(items)
            }
            serde_json::Value::Object(m) => {
                let mut o = Object::with_capacity_and_hasher(m.len(), Default::default());
                for (k, x) in m {
                    o.insert(k.clone(), Value::from_json_at(x, depth + 1));
                }
                Value::object(o)
            }
        }
    }

    /// The JSON this value stands for; `None` for undefined. Functions have
    /// no JSON form.
    pub fn to_json(&self) -> Result<Option<serde_json::Value>, Error> {
        Ok(Some(match self {
            Value::Undefined => return Ok(None),
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n)?,
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a, _) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a.iter() {
                    if let Some(j) = v.to_json()? {
                        out.push(j);
                    }
                }
                serde_json::Value::Array(out)
            }
            Value::Object(m) => {
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, v) in m.iter() {
                    if let Some(j) = v.to_json()? {
                        out.insert(k.clone(), j);
                    }
                }
                serde_json::Value::Object(out)
            }
            Value::Function(_) | Value::Regex(_) => {
                return Err(Error::new("T0001", "A function has no JSON value"));
            }
        }))
    }
}

/// A number as JSON: integral values without a fraction, as JSON.stringify does.
pub fn number_to_json(n: f64) -> Result<serde_json::Value, Error> {
    if !n.is_finite() {
        // JSON.stringify writes Infinity and NaN as null.
        return Ok(serde_json::Value::Null);
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Ok(serde_json::Value::Number(Number::from(n as i64)));
    }
    Ok(Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number))
}

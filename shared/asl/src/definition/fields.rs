//! Reading one JSON object of the definition: typed getters that record a
//! problem (with its pointer) instead of failing, and a final check for
//! fields the state type does not have.

use serde_json::{Map, Value};

use super::problem::{Problems, only_one, pointer};
use crate::limits::MAX_PAYLOAD_DEPTH;
use crate::path::Path;

pub struct Fields<'a> {
    pub obj: &'a Map<String, Value>,
    pub at: String,
    seen: Vec<String>,
}

impl<'a> Fields<'a> {
    pub fn new(obj: &'a Map<String, Value>, at: String) -> Self {
        Fields {
            obj,
            at,
            seen: Vec::new(),
        }
    }

    pub fn ptr(&self, key: &str) -> String {
        pointer(&self.at, key)
    }

    /// The raw value of `key`, marking it known.
    pub fn raw(&mut self, key: &str) -> Option<&'a Value> {
        self.seen.push(key.to_owned());
        self.obj.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.obj.contains_key(key)
    }

    /// A field and its `…Path` form given together: refused in AWS's words,
    /// and `path` marked known, so only the literal is read on.
    pub fn one_of_pair(&mut self, literal: &str, path: &str, p: &mut Problems) {
        if self.has(literal) && self.has(path) {
            p.schema(&self.at, only_one(&[literal, path]));
            self.raw(path);
        }
    }

    pub fn string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        match self.raw(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be a string"),
                );
                None
            }
        }
    }

    pub fn required_string(&mut self, key: &'static str, p: &mut Problems) -> Option<String> {
        if !self.has(key) {
            self.seen.push(key.to_owned());
            p.schema(&self.at, format!("These fields are required: [{key}]"));
            return None;
        }
        self.string(key, p)
    }

    pub fn bool(&mut self, key: &'static str, p: &mut Problems) -> Option<bool> {
        match self.raw(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be a boolean"),
                );
                None
            }
        }
    }

    /// A non-negative integer within `max`.
    pub fn uint(&mut self, key: &'static str, max: u64, p: &mut Problems) -> Option<u64> {
        let v = self.raw(key)?;
        match v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as u64)
        }) {
            Some(n) if n <= max => Some(n),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be an integer between 0 and {max}"),
                );
                None
            }
        }
    }

    pub fn number(&mut self, key: &'static str, p: &mut Problems) -> Option<f64> {
        match self.raw(key)? {
            Value::Number(n) => n.as_f64(),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be a number"),
                );
                None
            }
        }
    }

    /// A JSONPath field; `null` is allowed where `nullable` and yields `Some(None)`.
    pub fn path(
        &mut self,
        key: &'static str,
        reference: bool,
        p: &mut Problems,
    ) -> Option<Option<Path>> {
        let v = self.raw(key)?;
        let at = self.ptr(key);
        match v {
            Value::Null => Some(None),
            Value::String(s) => match parse_path(key, s, reference) {
                Ok(path) => Some(Some(path)),
                Err(msg) => {
                    p.schema(&at, msg);
                    None
                }
            },
            _ => {
                p.schema(
                    &at,
                    format!("The field '{key}' must be a JSONPath string or null"),
                );
                None
            }
        }
    }

    pub fn object(
        &mut self,
        key: &'static str,
        p: &mut Problems,
    ) -> Option<&'a Map<String, Value>> {
        match self.raw(key)? {
            Value::Object(m) => Some(m),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be an object"),
                );
                None
            }
        }
    }

    pub fn array(&mut self, key: &'static str, p: &mut Problems) -> Option<&'a Vec<Value>> {
        match self.raw(key)? {
            Value::Array(a) => Some(a),
            _ => {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' must be an array"),
                );
                None
            }
        }
    }

    /// Reports every field that was never asked for.
    pub fn finish(self, p: &mut Problems) {
        for key in self.obj.keys() {
            if !self.seen.iter().any(|s| s == key) {
                p.schema(
                    &self.ptr(key),
                    format!("The field '{key}' is not supported by Step Functions"),
                );
            }
        }
    }
}

/// Parses the path of the field `field`, requiring a reference path where
/// the spec does (a message names the field, as AWS's do).
pub fn parse_path(field: &str, s: &str, reference: bool) -> Result<Path, String> {
    let path = Path::parse(s)
        .map_err(|e| format!("The value for the field '{field}' must be a valid JSONPath: {e}"))?;
    if reference && !path.is_reference() {
        return Err(format!(
            "The value '{s}' must be a reference path (no '*', '..', ',', ':', '?' or '@')"
        ));
    }
    // A ResultPath creates an object per step: no deeper than a payload may be.
    if reference && path.segments.len() > MAX_PAYLOAD_DEPTH {
        return Err(format!(
            "The reference path '{s:.80}' has more than {MAX_PAYLOAD_DEPTH} steps"
        ));
    }
    Ok(path)
}

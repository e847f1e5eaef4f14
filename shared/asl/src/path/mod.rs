//! JSONPath as AWS Step Functions evaluates it.
//!
//! AWS uses Jayway JSONPath: a *definite* path (no wildcard, slice, union,
//! deep scan or filter) selects one value and fails when nothing is there; an
//! *indefinite* path selects a list, empty when nothing matches. Reference
//! paths (ResultPath, Choice `Variable`, …) must be definite.

mod eval;
mod filter;
mod parse;

pub use eval::{MAX_MATCHES, Missing, NoSelection, Selection, select, set};
pub use filter::Filter;

use std::fmt;

use serde_json::Value;

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state's input (or whatever document the field reads).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Child(String),
    Index(i64),
    Wildcard,
    Slice {
        start: Option<i64>,
        end: Option<i64>,
        step: Option<i64>,
    },
    Union(Vec<Key>),
    Descendants(Box<Segment>),
    Filter(Box<Filter>),
    /// Jayway's `length()` function at the end of a path.
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Name(String),
    Index(i64),
}

/// A parsed JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    text: String,
    pub root: Root,
    pub segments: Vec<Segment>,
}

/// Why a path text is not a path.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, SyntaxError> {
        parse::path(text)
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// A definite path selects at most one value.
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(_) | Segment::Index(_) | Segment::Length))
    }

    /// Reference paths: definite, and none of `@ .. , : ? *` (ASL spec).
    pub fn is_reference(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Child(_) | Segment::Index(_)))
    }

    /// Whether this path may select `$$.Execution.Input` or a value holding
    /// it. The context object leaves the execution's input (often a Map's
    /// items) out when nothing can, since copying it per Map item is costly.
    pub fn reads_execution_input(&self) -> bool {
        if self.root != Root::Context {
            return false;
        }
        match self.segments.as_slice() {
            [Segment::Child(first), ..] if first != "Execution" => false,
            [Segment::Child(_), Segment::Child(second), ..] => second == "Input",
            _ => true,
        }
    }

    /// Why this definite path found nothing in `doc`, in Jayway's words (as
    /// AWS's causes quote them): a property missing on the way is named with
    /// the path up to it; otherwise there were no results for the path.
    pub fn not_found(&self, doc: &Value) -> String {
        let mut at = doc;
        let mut walked = String::from("$");
        for (i, seg) in self.segments.iter().enumerate() {
            let last = i + 1 == self.segments.len();
            let next = match seg {
                Segment::Child(n) => {
                    walked.push_str(&format!("['{n}']"));
                    match at.as_object() {
                        Some(o) => match o.get(n) {
                            Some(v) => Some(v),
                            None if !last => return format!("Missing property in path {walked}"),
                            None => None,
                        },
                        None => None,
                    }
                }
                Segment::Index(i) => {
                    walked.push_str(&format!("[{i}]"));
                    let a = at.as_array();
                    let index = |len: usize| if *i < 0 { len as i64 + i } else { *i };
                    a.and_then(|a| usize::try_from(index(a.len())).ok().and_then(|k| a.get(k)))
                }
                _ => None,
            };
            match next {
                Some(v) => at = v,
                None => break,
            }
        }
        format!("No results for path: {}", self.normalized())
    }

    /// Jayway's normalized form, used in AWS's error texts: `$['a']['b'][0]`.
    pub fn normalized(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.segments {
            match seg {
                Segment::Child(n) => s.push_str(&format!("['{n}']")),
                Segment::Index(i) => s.push_str(&format!("[{i}]")),
                Segment::Wildcard => s.push_str("[*]"),
                _ => return self.text.clone(),
            }
        }
        s
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;

//! What an expression can read: the document `$`, the context object `$$`,
//! the workflow variables, and the random source.

use serde_json::{Map, Value};

use crate::path::{self, Path, Root, Selection};
use crate::random::Random;

pub struct Scope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
    pub variables: &'a Map<String, Value>,
    pub random: &'a mut Random,
}

/// A path that found nothing, with what AWS's messages need.
#[derive(Debug, Clone, PartialEq)]
pub enum Unresolved {
    /// A definite path selected nothing.
    Missing,
    /// `$name` is not a declared variable.
    UndefinedVariable(String),
}

impl Scope<'_> {
    /// The document a path reads.
    pub fn root(&self, path: &Path) -> Result<&Value, Unresolved> {
        match &path.root {
            Root::Input => Ok(self.input),
            Root::Context => Ok(self.context),
            Root::Variable(name) => self
                .variables
                .get(name)
                .ok_or_else(|| Unresolved::UndefinedVariable(name.clone())),
        }
    }

    pub fn select(&self, path: &Path) -> Result<Selection, Unresolved> {
        path::select(path, self.root(path)?).map_err(|_| Unresolved::Missing)
    }

    pub fn resolve(&self, path: &Path) -> Result<Value, Unresolved> {
        self.select(path).map(Selection::into_value)
    }
}

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
    /// An indefinite path matched too much (see [`path::NoSelection`]).
    TooMany,
}

impl Unresolved {
    /// `States.DataLimitExceeded` for [`Unresolved::TooMany`].
    pub fn too_many(path: &Path, field: &str) -> crate::error::StatesError {
        crate::error::StatesError::new(
            crate::error::ErrorName::DataLimitExceeded,
            format!(
                "The JSONPath '{path}' specified for the field '{field}' matches more than {} values or {} MiB of JSON",
                path::MAX_MATCHES,
                crate::limits::MAX_VALUE_BYTES >> 20
            ),
        )
    }
}

impl Scope<'_> {
    /// States.Runtime for a definite `path` that selected nothing, in AWS's
    /// words: "Invalid path '$.a.b' : Missing property in path $['a']".
    pub fn not_found(&self, path: &Path) -> crate::error::StatesError {
        let why = match self.root(path) {
            Ok(doc) => path.not_found(doc),
            Err(_) => format!("No results for path: {}", path.normalized()),
        };
        crate::error::StatesError::runtime(format!("Invalid path '{path}' : {why}"))
    }

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
        path::select(path, self.root(path)?).map_err(|e| match e {
            path::NoSelection::Missing => Unresolved::Missing,
            path::NoSelection::TooMany => Unresolved::TooMany,
        })
    }

    pub fn resolve(&self, path: &Path) -> Result<Value, Unresolved> {
        self.select(path).map(Selection::into_value)
    }
}

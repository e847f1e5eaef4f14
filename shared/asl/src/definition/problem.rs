//! Validation problems: each names a JSON pointer into the definition and says
//! what to change, in AWS's words where AWS has them.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// AWS's diagnostic code: `SCHEMA_VALIDATION_FAILED`, `MISSING_TRANSITION_TARGET`, …
    pub code: &'static str,
    pub message: String,
    /// JSON pointer (`/States/Check/Next`); `None` for machine-wide problems.
    pub pointer: Option<String>,
}

pub const SCHEMA: &str = "SCHEMA_VALIDATION_FAILED";
pub const TARGET: &str = "MISSING_TRANSITION_TARGET";
pub const NO_END: &str = "MISSING_END_STATE";
pub const JSON_PATH: &str = "INVALID_JSON_PATH";
pub const INTRINSIC: &str = "INVALID_INTRINSIC_FUNCTION";
pub const DUPLICATE: &str = "DUPLICATE_STATE_NAME";

/// AWS's words for fields of which at most one may be given, as its schema
/// validator words them (recorded for an ItemReader's `MaxItems` and
/// `MaxItemsPath`, floci's issue 3733): the fields in the order given.
pub fn only_one(fields: &[&str]) -> String {
    format!(
        "There should only be one of the following fields: [{}]",
        fields.join(", ")
    )
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(p) = &self.pointer {
            write!(f, " at {}", if p.is_empty() { "/" } else { p })?;
        }
        Ok(())
    }
}

/// Every problem of a definition, rendered as CreateStateMachine's
/// `InvalidDefinition` message.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub Vec<Problem>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        write!(f, "Invalid State Machine Definition: '{}'", all.join(", "))
    }
}

impl std::error::Error for Invalid {}

/// Collects problems while a definition is read.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn schema(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(SCHEMA, pointer, message);
    }

    pub fn push(&mut self, code: &'static str, pointer: &str, message: impl Into<String>) {
        self.0.push(Problem {
            code,
            message: message.into(),
            pointer: Some(pointer.to_owned()),
        });
    }
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub fn pointer(base: &str, key: &str) -> String {
    format!("{base}/{}", key.replace('~', "~0").replace('/', "~1"))
}

//! JSONata errors, with jsonata-js's codes (`T2001`, `D3030`, …) so results can
//! be compared with the reference implementation.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: &'static str,
    pub position: Option<usize>,
    pub message: String,
}

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Error {
        Error {
            code,
            position: None,
            message: message.into(),
        }
    }

    pub fn syntax(code: &'static str, position: usize, message: &str) -> Error {
        Error {
            code,
            position: Some(position),
            message: message.to_owned(),
        }
    }

    pub fn at(mut self, position: usize) -> Error {
        self.position.get_or_insert(position);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

//! What one evaluation may build, so that no expression, however small,
//! can exhaust memory or stack: `$pad('x', -1e9)` is 16 bytes of text.
//!
//! Every value an expression node or a function returns is checked (cheaply:
//! arrays and objects carry their [`Size`](crate::value::Size)); functions
//! whose result can outgrow their arguments (`$pad`, `$join`, `&`, ranges,
//! `$split`, …) check the size they are about to allocate first, and loops
//! that gather results (paths, `$map`, array constructors) keep a running
//! [`Budget`]. jsonata-js has no such limits: its only ones are the
//! JavaScript heap and stack, and ranges of at most 1e7 items.

use crate::error::Error;
use crate::value::Value;

/// The largest value one evaluation may build, in estimated bytes (see
/// [`Value::bytes`]): a 256 KiB state payload is well within it, and so are
/// the 10 MiB of variables an execution may hold.
pub const MAX_BYTES: usize = 10 << 20;

/// How deeply values may nest. JSON parsed by serde_json nests at most 128
/// levels; this leaves room for what an expression wraps around it.
pub const MAX_DEPTH: usize = 200;

/// How deeply expressions may nest (see [`crate::parser`]).
pub use crate::parser::MAX_DEPTH as MAX_EXPRESSION_DEPTH;

/// The stack one evaluation may use (see [`crate::eval`]).
pub use crate::eval::MAX_STACK_BYTES;

/// Fails if `v` is over either limit.
pub fn check(v: &Value) -> Result<(), Error> {
    if v.depth() > MAX_DEPTH {
        return Err(too_deep());
    }
    if v.bytes() > MAX_BYTES {
        return Err(too_large(&format!("a value of about {} bytes", v.bytes())));
    }
    Ok(())
}

/// Fails if a string of `len` bytes would be over the limit.
pub fn string(len: usize, what: &str) -> Result<(), Error> {
    if len > MAX_BYTES {
        return Err(too_large(&format!(
            "{what} would build a string of {len} bytes"
        )));
    }
    Ok(())
}

/// U1002: `what` names what would have been built.
pub fn too_large(what: &str) -> Error {
    Error::new(
        "U1002",
        format!(
            "Out of memory: {what}, over the limit of {} MiB on one value",
            MAX_BYTES >> 20
        ),
    )
}

/// U1003.
pub fn too_deep() -> Error {
    Error::new(
        "U1003",
        format!("A value would be nested more than {MAX_DEPTH} levels deep"),
    )
}

/// A running total for a value built item by item, so a loop stops as soon
/// as what it gathers is over the limit (each item alone may be within it).
#[derive(Debug, Default)]
pub struct Budget {
    bytes: usize,
}

impl Budget {
    pub fn new() -> Budget {
        Budget::default()
    }

    /// Counts an item about to be kept.
    pub fn add(&mut self, v: &Value, what: &str) -> Result<(), Error> {
        if v.depth() >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.add_bytes(v.bytes(), what)
    }

    /// Counts `bytes` about to be allocated.
    pub fn add_bytes(&mut self, bytes: usize, what: &str) -> Result<(), Error> {
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > MAX_BYTES {
            return Err(too_large(what));
        }
        Ok(())
    }
}

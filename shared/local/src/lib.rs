//! # stepwise-local
//!
//! The embedded backend of `stepwise serve` and `stepwise run --backend
//! sqlite`: the serverless stepper's store and queue on one SQLite
//! database ([`stepper`]), and the catalog of state machines, versions,
//! aliases and activities beside them.

#![forbid(unsafe_code)]

mod catalog;
mod db;
pub mod stepper;

use std::path::Path;

pub use crate::stepper::retention::Retention;

/// Checkpoints the store at `path` and empties its write-ahead log (for a
/// clean stop; committed data is in the log already either way).
pub fn truncate_wal(path: &Path) {
    if let Ok(conn) = rusqlite::Connection::open(path) {
        let _ = conn.execute_batch("PRAGMA busy_timeout = 2000;");
        db::checkpoint_truncate(&db::Db::new(conn), std::time::Duration::from_secs(2));
    }
}

//! The catalog in memory: for unit tests and in-process runs.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Catalog, Entry, Key, Kind};
use crate::stepper::PortError;

#[derive(Default)]
pub struct MemoryCatalog {
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryCatalog {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Catalog for MemoryCatalog {
    async fn get(&self, key: &Key) -> Result<Option<Entry>, PortError> {
        Ok(self.lock().get(&key.arn).cloned())
    }

    async fn put(&self, entry: &Entry, expected: Option<u64>) -> Result<bool, PortError> {
        let mut map = self.lock();
        if map.get(&entry.key.arn).map(|e| e.rev) != expected {
            return Ok(false);
        }
        map.insert(entry.key.arn.clone(), entry.clone());
        Ok(true)
    }

    async fn delete(&self, key: &Key) -> Result<(), PortError> {
        self.lock().remove(&key.arn);
        Ok(())
    }

    async fn list(&self, kind: Kind, parent: &str) -> Result<Vec<Entry>, PortError> {
        Ok(self
            .lock()
            .values()
            .filter(|e| e.key.kind == kind && e.key.parent == parent)
            .cloned()
            .collect())
    }
}

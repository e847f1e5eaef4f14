//! Thread records kept in memory as last saved, so that the next step of a
//! thread reads no row and parses no JSON. A save notes the sequence number
//! it wrote and the epoch (count of lost transactions) it wrote in; the
//! stepper hands the record back, moved rather than copied, once it has
//! carried the transition out ([`Store::keep`]), and it is kept only if it
//! is still the last saved. A finished thread is not kept: no step of it
//! comes again.
//!
//! [`Store::keep`]: stepwise_engine::stepper::Store::keep

use std::collections::{HashMap, HashSet};

use stepwise_engine::stepper::Record;

/// How many thread records are kept, and how many bytes of them as stored
/// (they start over when either is passed).
const KEPT_THREADS: usize = 4096;
const KEPT_BYTES: usize = 64 << 20;

type Key = (String, String);

/// One thread's entry: what its last save wrote, and the record once it is
/// handed back.
struct Kept {
    seq: u64,
    epoch: u64,
    bytes: usize,
    record: Option<Record>,
}

#[derive(Default)]
pub struct Threads {
    kept: HashMap<Key, Kept>,
    /// The stored size of the records in `kept`, in bytes.
    bytes: usize,
}

impl Threads {
    /// The record last saved for `key`, taken out (its step saves it back),
    /// if it was handed back.
    pub fn take(&mut self, key: &Key) -> Option<Record> {
        let kept = self.remove(key)?;
        kept.record
    }

    /// `key`'s record was saved with `seq` in `epoch`, `bytes` long as
    /// stored; it is kept once it is handed back.
    pub fn saved(&mut self, key: Key, seq: u64, epoch: u64, bytes: usize) {
        self.remove(&key);
        if self.kept.len() >= KEPT_THREADS || self.bytes + bytes > KEPT_BYTES {
            self.clear();
        }
        self.bytes += bytes;
        let kept = Kept {
            seq,
            epoch,
            bytes,
            record: None,
        };
        self.kept.insert(key, kept);
    }

    /// `record`, handed back after its transition, begun in epoch `since`:
    /// kept only if it is the record saved last, in that epoch (a later
    /// save, a lost transaction — whose save another delivery may have made
    /// again, with the same sequence number — or a cache that started over
    /// leaves it out), and if its thread goes on.
    pub fn hand_back(&mut self, key: &Key, record: Record, since: u64) {
        let Some(kept) = self.kept.get_mut(key) else {
            return;
        };
        if kept.record.is_some() || (kept.seq, kept.epoch) != (record.seq, since) {
            return;
        }
        match record.thread.as_ref().is_some_and(|t| !t.is_done()) {
            true => kept.record = Some(record),
            false => {
                self.remove(key);
            }
        }
    }

    /// Forgets `key` (its save lost a race).
    pub fn forget(&mut self, key: &Key) {
        self.remove(key);
    }

    /// Forgets the threads of the executions `gone` (deleted).
    pub fn forget_executions(&mut self, gone: &HashSet<&String>) {
        let mut bytes = self.bytes;
        self.kept.retain(|(execution, _), kept| {
            let keep = !gone.contains(execution);
            if !keep {
                bytes -= kept.bytes;
            }
            keep
        });
        self.bytes = bytes;
    }

    /// Forgets every thread (the open transaction was lost).
    pub fn clear(&mut self) {
        self.kept.clear();
        self.bytes = 0;
    }

    fn remove(&mut self, key: &Key) -> Option<Kept> {
        let kept = self.kept.remove(key)?;
        self.bytes -= kept.bytes;
        Some(kept)
    }
}

//! Execution records kept in memory as the store last wrote them, so that
//! DescribeExecution, a step's load of its execution and an execution's end
//! read no row and parse no JSON. What the open transaction wrote is kept
//! apart from what is committed: the API's reads see only the latter (what
//! a crash cannot take back), the writer both; a lost transaction drops
//! its part.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use stepwise_engine::stepper::ExecutionRecord;

/// How many execution records are kept as committed, and how many bytes of
/// them as stored (they start over when either is passed).
const KEPT_EXECUTIONS: usize = 8192;
const KEPT_BYTES: usize = 32 << 20;

type Kept = (Arc<ExecutionRecord>, usize);

/// The records as committed, shared by the writer and the readers.
#[derive(Default)]
pub struct Committed {
    records: HashMap<String, Kept>,
    bytes: usize,
}

impl Committed {
    fn insert(&mut self, arn: String, kept: Kept) {
        if self.records.len() >= KEPT_EXECUTIONS || self.bytes + kept.1 > KEPT_BYTES {
            self.records.clear();
            self.bytes = 0;
        }
        self.bytes += kept.1;
        if let Some((_, old)) = self.records.insert(arn, kept) {
            self.bytes -= old;
        }
    }
}

/// The writer's side: what its open transaction wrote, and the committed
/// records it shares with the readers.
pub struct Executions {
    pending: HashMap<String, Kept>,
    committed: Arc<Mutex<Committed>>,
}

impl Executions {
    pub fn new() -> Self {
        Executions {
            pending: HashMap::new(),
            committed: Arc::default(),
        }
    }

    /// The records as committed, for the readers.
    pub fn committed(&self) -> Arc<Mutex<Committed>> {
        self.committed.clone()
    }

    /// `record` was written in the open transaction, `bytes` long as stored.
    pub fn wrote(&mut self, record: &ExecutionRecord, bytes: usize) {
        let arn = record.facts.arn.clone();
        self.pending.insert(arn, (Arc::new(record.clone()), bytes));
    }

    /// The record as the open transaction has it.
    pub fn get(&self, arn: &str) -> Option<Arc<ExecutionRecord>> {
        match self.pending.get(arn) {
            Some((r, _)) => Some(r.clone()),
            None => committed(&self.committed, arn),
        }
    }

    /// Commits the open transaction with `commit`: what it wrote is then
    /// what readers see. They wait meanwhile, if it wrote a record, so that
    /// none reads a record older than the rows it reads next.
    pub fn commit<E>(&mut self, commit: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        if self.pending.is_empty() {
            return commit();
        }
        let mut committed = lock(&self.committed);
        commit()?;
        for (arn, kept) in self.pending.drain() {
            committed.insert(arn, kept);
        }
        Ok(())
    }

    /// The open transaction was lost, and what it wrote with it.
    pub fn lost(&mut self) {
        self.pending.clear();
    }

    /// The executions `arns` are deleted (in the open transaction).
    pub fn forget(&mut self, arns: &[String]) {
        for arn in arns {
            self.pending.remove(arn);
        }
        let mut committed = lock(&self.committed);
        for arn in arns {
            if let Some((_, bytes)) = committed.records.remove(arn) {
                committed.bytes -= bytes;
            }
        }
    }
}

/// The committed record of `arn`, if it is kept.
pub fn committed(committed: &Mutex<Committed>, arn: &str) -> Option<Arc<ExecutionRecord>> {
    let committed = lock(committed);
    committed.records.get(arn).map(|(r, _)| r.clone())
}

/// The records as committed. A holder that panicked left them whole: every
/// change to them is one insert or removal.
fn lock(committed: &Mutex<Committed>) -> MutexGuard<'_, Committed> {
    committed.lock().unwrap_or_else(PoisonError::into_inner)
}

//! In-memory [`Store`] and [`Queue`] for the stepper's own tests: the same
//! conditional-save semantics as the DynamoDB store, no I/O. The queue
//! delivers in order and ignores delays; drive it with a fast-forward
//! [`Poller`](super::Poller), which holds messages until they are due.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use stepwise_asl::timestamp::Millis;
use stepwise_asl::{ChildRecord, MapRun, Outcome};

use super::{
    Delivery, Envelope, ExecutionRecord, Inbox, Logged, Offer, PortError, Queue, Record, Saved,
    Store, TokenTarget,
};

/// A child execution's history page: its ARN, attempt, thread and number.
type PageKey = (String, u32, String, u32);

#[derive(Default)]
pub struct MemStore {
    executions: Mutex<HashMap<String, ExecutionRecord>>,
    threads: Mutex<HashMap<(String, String), Record>>,
    pages: Mutex<HashMap<(String, String, u32), Vec<Logged>>>,
    tokens: Mutex<HashMap<String, TokenTarget>>,
    /// Activity tasks offered, oldest first, with their tokens.
    pub offers: Mutex<Vec<(Offer, String)>>,
    /// Conditional saves that went through (for tests).
    pub saves: Mutex<u64>,
    /// Distributed Map runs kept, by ARN, with their execution's ARN.
    pub map_runs: Mutex<HashMap<String, (String, MapRun)>>,
    /// Child executions kept, by ARN, and their history pages.
    pub child_runs: Mutex<HashMap<String, ChildRecord>>,
    pub child_pages: Mutex<HashMap<PageKey, Vec<stepwise_asl::exec::Ordered>>>,
}

impl Store for MemStore {
    async fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, PortError> {
        Ok(self.executions.lock().expect("lock").get(arn).cloned())
    }

    async fn create(&self, record: &ExecutionRecord) -> Result<bool, PortError> {
        let mut all = self.executions.lock().expect("lock");
        if all.contains_key(&record.facts.arn) {
            return Ok(false);
        }
        all.insert(record.facts.arn.clone(), record.clone());
        Ok(true)
    }

    async fn load(&self, execution: &str, thread: &str) -> Result<Option<Record>, PortError> {
        let key = (execution.to_owned(), thread.to_owned());
        Ok(self.threads.lock().expect("lock").get(&key).cloned())
    }

    async fn save(
        &self,
        execution: &str,
        thread: &str,
        record: &Record,
        expected: Option<u64>,
    ) -> Result<Saved, PortError> {
        let key = (execution.to_owned(), thread.to_owned());
        let mut all = self.threads.lock().expect("lock");
        if all.get(&key).map(|r| r.seq) != expected {
            return Ok(Saved::Conflict);
        }
        all.insert(key, record.clone());
        *self.saves.lock().expect("lock") += 1;
        Ok(Saved::Done)
    }

    async fn put_page(
        &self,
        execution: &str,
        thread: &str,
        page: u32,
        events: &[Logged],
    ) -> Result<(), PortError> {
        let key = (execution.to_owned(), thread.to_owned(), page);
        self.pages
            .lock()
            .expect("lock")
            .insert(key, events.to_vec());
        Ok(())
    }

    async fn reopen(&self, record: &ExecutionRecord, from: &str) -> Result<bool, PortError> {
        let mut all = self.executions.lock().expect("lock");
        match all.get_mut(&record.facts.arn) {
            Some(r) if r.status == from => {
                *r = record.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(
        &self,
        execution: &str,
        outcome: &Outcome,
        at: Millis,
    ) -> Result<Option<Outcome>, PortError> {
        let mut executions = self.executions.lock().expect("lock");
        let Some(r) = executions.get_mut(execution) else {
            return Ok(None);
        };
        if r.status != "RUNNING" {
            return Ok(r.outcome.clone());
        }
        r.status = super::status_of(outcome).into();
        r.outcome = Some(outcome.clone());
        r.stopped = Some(at);
        Ok(None)
    }

    async fn put_token(&self, hash: &str, target: &TokenTarget) -> Result<(), PortError> {
        self.tokens
            .lock()
            .expect("lock")
            .insert(hash.to_owned(), target.clone());
        Ok(())
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenTarget>, PortError> {
        Ok(self.tokens.lock().expect("lock").get(hash).cloned())
    }

    async fn delete_token(&self, hash: &str) -> Result<(), PortError> {
        self.tokens.lock().expect("lock").remove(hash);
        Ok(())
    }

    async fn offer(&self, offer: &Offer, token: &str, _at: Millis) -> Result<(), PortError> {
        self.offers
            .lock()
            .expect("lock")
            .push((offer.clone(), token.to_owned()));
        Ok(())
    }

    async fn put_map_run(&self, execution: &str, run: &MapRun) -> Result<(), PortError> {
        let mut runs = self.map_runs.lock().expect("lock");
        runs.insert(run.arn.clone(), (execution.to_owned(), run.clone()));
        Ok(())
    }

    async fn put_child(&self, _execution: &str, record: &ChildRecord) -> Result<(), PortError> {
        if !record.events.is_empty() {
            let thread = record.thread.clone().unwrap_or_default();
            let key = (record.arn.clone(), record.attempt, thread, record.page);
            let mut pages = self.child_pages.lock().expect("lock");
            pages.insert(key, record.events.clone());
        }
        if record.is_page() {
            return Ok(());
        }
        let mut all = self.child_runs.lock().expect("lock");
        if all.get(&record.arn).is_none_or(|r| record.replaces(r)) {
            all.insert(record.arn.clone(), record.without_events());
        }
        Ok(())
    }

    async fn history(&self, execution: &str) -> Result<Vec<Logged>, PortError> {
        let mut out = Vec::new();
        if let Some(r) = self.executions.lock().expect("lock").get(execution) {
            out.push(r.started());
        }
        for ((x, _, _), events) in self.pages.lock().expect("lock").iter() {
            if x == execution {
                out.extend(events.iter().cloned());
            }
        }
        for ((x, _), r) in self.threads.lock().expect("lock").iter() {
            if x == execution {
                out.extend(r.page.iter().cloned());
            }
        }
        Ok(out)
    }
}

/// A FIFO queue of messages, also the poller's inbox.
#[derive(Default)]
pub struct MemQueue {
    messages: Mutex<VecDeque<Envelope>>,
    /// Messages sent (for tests).
    pub sent: Mutex<u64>,
}

impl MemQueue {
    /// The oldest message, out of the queue.
    pub fn pop(&self) -> Option<Envelope> {
        self.messages.lock().expect("lock").pop_front()
    }

    pub fn len(&self) -> usize {
        self.messages.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Queue for MemQueue {
    async fn send(&self, messages: &[Envelope], _now: Millis) -> Result<(), PortError> {
        *self.sent.lock().expect("lock") += messages.len() as u64;
        self.messages
            .lock()
            .expect("lock")
            .extend(messages.iter().cloned());
        Ok(())
    }
}

impl Inbox for MemQueue {
    /// A received message is out of the queue; releasing puts it back.
    type Handle = Envelope;

    async fn receive(&self, _wait: bool) -> Result<Vec<Delivery<Envelope>>, PortError> {
        let mut q = self.messages.lock().expect("lock");
        let n = q.len().min(10);
        Ok(q.drain(..n)
            .map(|envelope| Delivery {
                handle: envelope.clone(),
                envelope,
                receives: 1,
            })
            .collect())
    }

    async fn delete(&self, _: &[Envelope]) -> Result<(), PortError> {
        Ok(())
    }

    async fn release(&self, handles: &[Envelope]) -> Result<(), PortError> {
        self.messages
            .lock()
            .expect("lock")
            .extend(handles.iter().cloned());
        Ok(())
    }
}

//! The worker's write-back cache for one batch: threads are read once and
//! written once per batch however many transitions they make, and messages
//! due at once are handled in memory. Everything still in memory is written
//! before the batch commits, so every transition is durable at commit and a
//! crash loses only what was never acknowledged.

use std::collections::{HashMap, VecDeque};

use rusqlite::params;
use stepwise_asl::Thread;

use crate::worker::{Msg, Worker};

pub(crate) enum Slot {
    /// As in the database.
    Clean(Thread),
    /// Changed in this batch.
    Dirty(Thread),
    /// Created in this batch.
    New(Thread),
    /// Deleted in this batch.
    Gone,
}

/// A history event waiting to be written with the batch.
pub(crate) struct HistoryRow {
    /// The execution's number (`Run::eid`).
    pub eid: i64,
    pub id: i64,
    pub previous: i64,
    pub ts: i64,
    pub kind: &'static str,
    pub details: String,
}

#[derive(Default)]
pub(crate) struct Cache {
    threads: HashMap<(String, String), Slot>,
    pub immediate: VecDeque<Msg>,
    pub history: Vec<HistoryRow>,
}

/// History rows written per INSERT statement.
const HISTORY_CHUNK: usize = 32;

impl Worker {
    /// Takes a thread out of the cache (loading it if needed) to step it.
    pub(crate) fn take_thread(
        &mut self,
        execution: &str,
        id: &str,
    ) -> rusqlite::Result<Option<(Thread, bool)>> {
        let key = (execution.to_owned(), id.to_owned());
        match self.cache.threads.remove(&key) {
            Some(Slot::Clean(t) | Slot::Dirty(t)) => return Ok(Some((t, false))),
            Some(Slot::New(t)) => return Ok(Some((t, true))),
            Some(Slot::Gone) => {
                self.cache.threads.insert(key, Slot::Gone);
                return Ok(None);
            }
            None => {}
        }
        match crate::db::stored_thread(&self.conn, execution, id)? {
            None => Ok(None),
            Some(d) => serde_json::from_str(&d)
                .map(|t| Some((t, false)))
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        format!("the stored thread {id} cannot be read: {e}").into(),
                    )
                }),
        }
    }

    /// Puts a stepped thread back; `new` if it was created in this batch.
    pub(crate) fn put_thread(&mut self, execution: &str, t: Thread, new: bool) {
        let key = (execution.to_owned(), t.id.clone());
        self.cache
            .threads
            .insert(key, if new { Slot::New(t) } else { Slot::Dirty(t) });
    }

    /// Reads a thread without changing it.
    pub(crate) fn peek_thread(
        &mut self,
        execution: &str,
        id: &str,
    ) -> rusqlite::Result<Option<Thread>> {
        let key = (execution.to_owned(), id.to_owned());
        // (A cached thread stays as it is: one changed in this batch is
        // still to be written.)
        match self.cache.threads.get(&key) {
            Some(Slot::Clean(t) | Slot::Dirty(t) | Slot::New(t)) => return Ok(Some(t.clone())),
            Some(Slot::Gone) => return Ok(None),
            None => {}
        }
        let found = self.take_thread(execution, id)?;
        Ok(found.map(|(t, _)| {
            self.cache.threads.insert(key, Slot::Clean(t.clone()));
            t
        }))
    }

    pub(crate) fn new_thread(&mut self, execution: &str, t: Thread) {
        self.cache
            .threads
            .insert((execution.to_owned(), t.id.clone()), Slot::New(t));
    }

    pub(crate) fn drop_thread(&mut self, execution: &str, id: &str) {
        let key = (execution.to_owned(), id.to_owned());
        match self.cache.threads.remove(&key) {
            Some(Slot::New(_)) => {}
            _ => {
                self.cache.threads.insert(key, Slot::Gone);
            }
        }
    }

    /// Forgets every cached thread of an execution whose id is `id` or below it.
    pub(crate) fn drop_cached_below(&mut self, execution: &str, id: Option<&str>) {
        let prefix = id.map(|i| format!("{i}/"));
        self.cache.threads.retain(|(e, t), _| {
            e != execution
                || !(id.is_none_or(|i| t == i)
                    || prefix.as_ref().is_some_and(|p| t.starts_with(p.as_str())))
        });
        self.cache.immediate.retain(|m| {
            m.execution != execution
                || !(id.is_none_or(|i| m.thread == i)
                    || prefix
                        .as_ref()
                        .is_some_and(|p| m.thread.starts_with(p.as_str())))
        });
    }

    pub(crate) fn mark_persisted(&mut self, execution: &str) {
        if let Some(r) = self.runs.get_mut(execution) {
            r.persisted = true;
        }
    }

    /// Writes the batch's history events, many rows per statement.
    pub(crate) fn flush_history(&mut self) -> rusqlite::Result<()> {
        let rows = std::mem::take(&mut self.cache.history);
        for chunk in rows.chunks(HISTORY_CHUNK) {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT INTO events (eid, id, previous, ts, type, details) VALUES {values}"
            );
            let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(chunk.len() * 6);
            for r in chunk {
                params.extend([
                    &r.eid as &dyn rusqlite::ToSql,
                    &r.id,
                    &r.previous,
                    &r.ts,
                    &r.kind,
                    &r.details,
                ]);
            }
            self.conn.execute(&sql, params.as_slice())?;
        }
        Ok(())
    }

    /// Writes everything the batch changed. Called before COMMIT.
    pub(crate) fn flush(&mut self) -> rusqlite::Result<()> {
        self.flush_history()?;
        let threads = std::mem::take(&mut self.cache.threads);
        for ((execution, id), slot) in threads {
            if !matches!(slot, Slot::Clean(_)) {
                self.mark_persisted(&execution);
            }
            match slot {
                Slot::Clean(_) => {}
                Slot::Dirty(t) => {
                    self.conn.execute(
                        "UPDATE threads SET seq = seq + 1, data = ?1 WHERE execution = ?2 AND id = ?3",
                        params![serde_json::to_string(&t).expect("threads serialize"), execution, id],
                    )?;
                }
                Slot::New(t) => {
                    self.conn.execute(
                        "INSERT OR REPLACE INTO threads (execution, id, seq, data) VALUES (?1, ?2, 0, ?3)",
                        params![execution, id, serde_json::to_string(&t).expect("threads serialize")],
                    )?;
                }
                Slot::Gone => {
                    self.conn.execute(
                        "DELETE FROM threads WHERE execution = ?1 AND id = ?2",
                        [&execution, &id],
                    )?;
                }
            }
        }
        let leftovers: Vec<Msg> = self.cache.immediate.drain(..).collect();
        for m in leftovers {
            self.persist_message(&m.execution, &m.thread, self.now(), &m.event)?;
        }
        let runs: Vec<(String, u64, String)> = self
            .runs
            .iter()
            .filter(|(_, r)| r.events_dirty)
            .map(|(k, r)| (k.clone(), r.numbering.next_id(), r.numbering_text()))
            .collect();
        for (arn, next, numbering) in runs {
            self.conn.execute(
                "UPDATE executions SET next_event = ?1, numbering = ?2 WHERE arn = ?3",
                params![next as i64, numbering, arn],
            )?;
            if let Some(r) = self.runs.get_mut(&arn) {
                r.events_dirty = false;
            }
        }
        Ok(())
    }

    pub(crate) fn clear_cache(&mut self) {
        self.cache = Cache::default();
    }
}

//! The step queue in SQLite. Every message is a row of `st_queue`, written
//! in the transaction that sends it and deleted in the one that finishes
//! it; the rows are also indexed in memory, under the connection's lock,
//! so that a receive takes the next due messages without a query. The
//! index follows the open transaction: it is read back from the table
//! when the process starts (what an earlier process had received and not
//! finished is delivered again at once) and when a transaction is lost.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rusqlite::params;
use stepwise_asl::timestamp::Millis;
use stepwise_engine::memory::wall_clock;
use stepwise_engine::stepper::{Delivery, Envelope, Inbox, PortError, Queue};

use super::{Db, parse, text};

/// One queued message.
#[derive(Clone)]
struct Queued {
    envelope: Envelope,
    /// How many times it was delivered.
    receives: u32,
    /// When it was last received.
    since: Option<std::time::Instant>,
}

/// The messages in the table: those a receive may take, by when they are
/// due (then by row), and those received and not yet deleted or released.
#[derive(Default)]
pub(super) struct Pending {
    ready: BTreeMap<(Millis, i64), Queued>,
    taken: HashMap<i64, Queued>,
    /// Not read back from the table yet (reading it failed).
    stale: bool,
    /// The last row sent.
    pub(super) last: i64,
}

impl Pending {
    /// Every message in the table, none received. A row that is not a
    /// message is deleted: it would come back for ever.
    pub(super) fn load(db: &crate::db::Db) -> Result<Pending, PortError> {
        let mut pending = Pending::default();
        let mut bad = Vec::new();
        {
            let mut q = db.prepare("SELECT n, at, body, receives FROM st_queue")?;
            let rows = q.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })?;
            for row in rows {
                let (n, at, body, receives) = row?;
                match parse::<Envelope>(&body) {
                    Ok(envelope) => {
                        let queued = Queued {
                            envelope,
                            receives,
                            since: None,
                        };
                        pending.ready.insert((at, n), queued);
                        pending.last = pending.last.max(n);
                    }
                    Err(e) => {
                        eprintln!("stepwise: dropped a queued message that is not one ({e})");
                        bad.push(n);
                    }
                }
            }
        }
        for n in bad {
            db.execute("DELETE FROM st_queue WHERE n = ?1", [n])?;
        }
        Ok(pending)
    }

    /// An index still to be read from the table.
    pub(super) fn stale() -> Pending {
        Pending {
            stale: true,
            ..Pending::default()
        }
    }

    fn len(&self) -> usize {
        self.ready.len() + self.taken.len()
    }

    /// Whether a stepper has work: a message received and not yet finished,
    /// or one due.
    pub(super) fn in_hand(&self) -> bool {
        !self.taken.is_empty() || self.any_due(false)
    }

    /// The first row still to be handled: due, or received less than
    /// `recently` ago (one received before is taken for a long task call,
    /// which nobody waits for); `i64::MAX` when there is none. Looks at the
    /// first 256 due.
    pub(super) fn first_unhandled(&self, recently: std::time::Duration) -> i64 {
        let now = wall_clock();
        let due = self
            .ready
            .range(..=(now, i64::MAX))
            .take(256)
            .map(|(k, _)| k.1);
        let taken = self
            .taken
            .iter()
            .filter(|(_, q)| q.since.is_some_and(|t| t.elapsed() < recently));
        due.chain(taken.map(|(n, _)| *n)).min().unwrap_or(i64::MAX)
    }

    /// Whether a receive would take a message now.
    fn any_due(&self, early: bool) -> bool {
        match self.ready.keys().next() {
            Some(&(at, _)) => early || at <= wall_clock(),
            None => false,
        }
    }
}

/// The step queue in SQLite. A message is delivered once it is due (or at
/// once, when the queue leaves delays to a fast-forward poller's virtual
/// clock); a received one is hidden until its handler deletes or releases
/// it, however long a task it calls takes, or until the process restarts.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Db,
    /// Deliver messages before they are due, in the order sent: the
    /// poller's virtual clock holds them (`stepwise run --fast-forward`).
    pub early: bool,
    /// Wakes a poller waiting for a message when one is sent.
    sent: Arc<tokio::sync::Notify>,
    /// How young a transaction a batch's end leaves open ([`GROUP`]).
    pub(super) group: std::time::Duration,
}

/// The longest a waiting receive sleeps.
const LONG_POLL: Millis = 50;

/// How many messages a receive takes at most.
const BATCH: usize = 10;

/// How young a transaction a batch's end leaves uncommitted while more
/// messages are due: the next batch's steps join it.
const GROUP: std::time::Duration = std::time::Duration::from_millis(2);

impl SqliteQueue {
    pub fn new(db: Db, early: bool) -> Self {
        SqliteQueue {
            db,
            early,
            sent: Arc::default(),
            group: GROUP,
        }
    }

    /// How many messages are queued (received ones included).
    pub fn queued(&self) -> Result<usize, PortError> {
        Ok(self.db.lock()?.queue.len())
    }

    /// Up to [`BATCH`] deliverable messages, hidden from the next receive;
    /// or, when there are none, how long until the next one is due.
    fn take(&self) -> Result<(Vec<Delivery<Handle>>, Option<Millis>), PortError> {
        let mut conn = self.db.lock()?;
        if conn.queue.stale {
            conn.queue = Pending::load(&conn.db)?;
        }
        let (epoch, pending) = (conn.epoch, &mut conn.queue);
        let keys: Vec<(Millis, i64)> = if self.early {
            let mut all: Vec<_> = pending.ready.keys().copied().collect();
            all.sort_by_key(|k| k.1);
            all.truncate(BATCH);
            all
        } else {
            let now = wall_clock();
            let due: Vec<_> = pending
                .ready
                .range(..=(now, i64::MAX))
                .take(BATCH)
                .map(|(k, _)| *k)
                .collect();
            if due.is_empty() {
                let next = pending.ready.keys().next().map(|k| k.0 - now);
                return Ok((Vec::new(), next));
            }
            due
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(mut queued) = pending.ready.remove(&key) else {
                continue;
            };
            queued.receives += 1;
            queued.since = Some(std::time::Instant::now());
            out.push(Delivery {
                handle: Handle { row: key.1, epoch },
                envelope: queued.envelope.clone(),
                receives: queued.receives,
            });
            pending.taken.insert(key.1, queued);
        }
        Ok((out, None))
    }
}

impl Queue for SqliteQueue {
    async fn send(&self, messages: &[Envelope], _now: Millis) -> Result<(), PortError> {
        let bodies = messages
            .iter()
            .map(|e| Ok((e, text(e)?)))
            .collect::<Result<Vec<_>, PortError>>()?;
        self.db.in_txn(|conn| {
            let mut insert = conn
                .db
                .prepare("INSERT INTO st_queue (at, body) VALUES (?1, ?2)")?;
            for (envelope, body) in &bodies {
                insert.execute(params![envelope.at, body])?;
                let queued = Queued {
                    envelope: (*envelope).clone(),
                    receives: 0,
                    since: None,
                };
                let n = conn.db.last_insert_rowid();
                conn.queue.last = conn.queue.last.max(n);
                conn.queue.ready.insert((envelope.at, n), queued);
            }
            Ok(())
        })?;
        self.sent.notify_one();
        Ok(())
    }
}

/// A received message: its row, and the epoch it was received in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    row: i64,
    epoch: u64,
}

impl SqliteQueue {
    /// Commits the open transaction unless a stepper loop has messages in
    /// hand: it commits as its batch ends (or once the transaction is
    /// [`GROUP`] old).
    fn commit_unless_busy(&self) -> Result<(), PortError> {
        let mut conn = self.db.lock()?;
        if conn.queue.taken.is_empty() || conn.began.elapsed() >= self.group {
            Db::commit(&mut conn)?;
        }
        Ok(())
    }
}

impl Inbox for SqliteQueue {
    type Handle = Handle;

    async fn receive(&self, wait: bool) -> Result<Vec<Delivery<Handle>>, PortError> {
        // Listening before looking: a message sent in between still wakes it.
        let sent = self.sent.notified();
        tokio::pin!(sent);
        sent.as_mut().enable();
        let (found, next) = self.take()?;
        if !found.is_empty() {
            return Ok(found);
        }
        // Nothing to do: what was left uncommitted is committed now, unless
        // another loop is at work and will commit as it ends.
        self.commit_unless_busy()?;
        if !wait {
            return Ok(found);
        }
        // As a long poll: until a message is sent or the next one is due,
        // or a while.
        let pause = next.unwrap_or(LONG_POLL).clamp(0, LONG_POLL) as u64;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(pause), sent).await;
        Ok(self.take()?.0)
    }

    /// The end of a batch: what it did is committed with the deletes,
    /// unless more messages are due and the transaction is young: then the
    /// next batch's steps join it (as the steps of one execution follow one
    /// another), and a receive that finds nothing to do commits. A message
    /// received before a failed commit stays: its handler's work may have
    /// been lost with it (and its receipt was).
    async fn delete(&self, handles: &[Handle]) -> Result<(), PortError> {
        let more = self.db.in_txn(|conn| {
            let mut delete = conn.db.prepare("DELETE FROM st_queue WHERE n = ?1")?;
            for h in handles.iter().filter(|h| h.epoch == conn.epoch) {
                delete.execute([h.row])?;
                conn.queue.taken.remove(&h.row);
            }
            let busy = conn.queue.any_due(self.early) || !conn.queue.taken.is_empty();
            Ok(busy && conn.began.elapsed() < self.group)
        })?;
        match more {
            true => Ok(()),
            false => self.db.flush(),
        }
    }

    async fn release(&self, handles: &[Handle]) -> Result<(), PortError> {
        self.db.in_txn(|conn| {
            let mut count = conn
                .db
                .prepare("UPDATE st_queue SET receives = ?2 WHERE n = ?1")?;
            for h in handles.iter().filter(|h| h.epoch == conn.epoch) {
                if let Some(queued) = conn.queue.taken.remove(&h.row) {
                    count.execute(params![h.row, queued.receives])?;
                    conn.queue.ready.insert((queued.envelope.at, h.row), queued);
                }
            }
            Ok(())
        })?;
        self.sent.notify_one();
        self.db.flush()
    }
}

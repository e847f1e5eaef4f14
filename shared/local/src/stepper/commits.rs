//! Group commit on the stepper's one connection: when the open transaction
//! is committed (a batch's end, an answer, the flusher for work left too
//! long), and what an answer that wrote waits for.

use std::sync::Mutex;

use stepwise_engine::stepper::PortError;

use super::{Conn, Db};

/// What a commit left: its transaction, the epoch, and the first row of
/// the step queue then still to be handled
/// ([`super::queue::Pending::first_unhandled`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Commit {
    pub(super) txn: u64,
    pub(super) epoch: u64,
    pub(super) first: i64,
}

/// Work left uncommitted (a batch's end leaves it to the next batch while
/// more messages are due) is committed once it is this old, whatever the
/// pollers are doing: a long task call does not keep it from readers.
pub(super) const OLDEST_UNCOMMITTED: std::time::Duration = std::time::Duration::from_millis(10);

/// Commits what has been left uncommitted for [`OLDEST_UNCOMMITTED`], for
/// as long as the connection is in use.
pub(super) fn start_flusher(conn: std::sync::Weak<Mutex<Conn>>) {
    let spawned = std::thread::Builder::new()
        .name("stepwise-commit".into())
        .spawn(move || {
            loop {
                std::thread::sleep(OLDEST_UNCOMMITTED);
                let Some(conn) = conn.upgrade() else { return };
                let Ok(mut conn) = conn.lock() else { return };
                if conn.open
                    && conn.began.elapsed() >= conn.oldest
                    && let Err(e) = Db::commit(&mut conn)
                {
                    eprintln!("stepwise: a commit failed ({e}); its work is done again");
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("stepwise: work is committed only as batches end ({e})");
    }
}

tokio::task_local! {
    /// The epoch the answer being worked out began in (its last attempt's,
    /// for a long poll).
    static BEGAN: std::cell::Cell<u64>;
}

impl Db {
    /// Answers a request with `answer`, and says what to judge whether its
    /// work was lost by ([`Db::settle`]): the epoch it began in, or, for a
    /// long poll, the one its last attempt began in
    /// ([`Db::attempt_again`]).
    pub async fn answering<R>(
        &self,
        answer: impl Future<Output = R>,
    ) -> Result<(R, u64), PortError> {
        let began = self.epoch()?;
        Ok(BEGAN
            .scope(std::cell::Cell::new(began), async {
                let out = answer.await;
                (out, BEGAN.try_with(std::cell::Cell::get).unwrap_or(began))
            })
            .await)
    }

    /// The answer being worked out starts over: what it did before does not
    /// bear on it (a GetActivityTask's earlier looks, which took no task or
    /// one whose state had moved on). Without this, a long poll of up to
    /// 60 s that took a task after another caller's commit failed meanwhile
    /// answered an error, and the task it took was lost.
    pub fn attempt_again(&self) {
        if let Ok(epoch) = self.epoch() {
            let _ = BEGAN.try_with(|began| began.set(epoch));
        }
    }

    /// Commits what every caller has done so far.
    pub fn flush(&self) -> Result<(), PortError> {
        Self::commit(&mut *self.lock()?)
    }

    pub(super) fn commit(conn: &mut Conn) -> Result<(), PortError> {
        if conn.open {
            conn.open = false;
            // The kept execution records change as the database does: a
            // reader never finds one older than what it then reads.
            let db = &conn.db;
            if let Err(e) = conn.executions.commit(|| db.execute_batch("COMMIT")) {
                conn.lose();
                return Err(e.into());
            }
            conn.wal.after_commit(&conn.db);
            // The first row still to be handled, looked for only when an
            // answer waits to hear it ([`Db::settle`]).
            let waiting = conn.commits.receiver_count() > 0;
            let commit = Commit {
                txn: conn.txn,
                epoch: conn.epoch,
                first: match waiting {
                    true => conn.queue.first_unhandled(OLDEST_UNCOMMITTED),
                    false => i64::MAX,
                },
            };
            conn.commits.send_replace(commit);
        }
        Ok(())
    }

    /// Leaves uncommitted work uncommitted for `oldest` (for tests that
    /// look at what is committed when).
    #[cfg(test)]
    pub(super) fn keep_uncommitted_for(&self, oldest: std::time::Duration) {
        if let Ok(mut conn) = self.lock() {
            conn.oldest = oldest;
        }
    }

    /// As a failed commit does (for tests).
    #[cfg(test)]
    pub(super) fn lose(&self) -> Result<(), PortError> {
        self.lock()?.lose();
        Ok(())
    }

    /// The transaction open now, if one is: what an answer just worked out
    /// was written in it or before it.
    pub fn open_txn(&self) -> Result<Option<u64>, PortError> {
        let conn = self.lock()?;
        Ok(conn.open.then_some(conn.txn))
    }

    /// Waits until the transaction `txn` is committed, as
    /// [`Db::flush_since`] does, but when the step queue has work in hand
    /// it first leaves the commit to the stepper loop that does it, for up
    /// to [`OLDEST_UNCOMMITTED`], until the messages sent so far are
    /// handled too: the steps of that work (an execution the request
    /// started, an answer it sent) then share the commit, and the answer
    /// follows them rather than coming before. A stepper commits as its
    /// batch ends and nothing more is due, or when its transaction has been
    /// open for the queue's group time.
    pub async fn settle(&self, epoch: u64, txn: Option<u64>) -> Result<(), PortError> {
        if let Some(txn) = txn {
            // Listening first: every commit from here on says which row is
            // the first still to be handled.
            let mut commits = self.commits.subscribe();
            let sent = {
                let conn = self.lock()?;
                conn.queue.in_hand().then_some(conn.queue.last)
            };
            if let Some(sent) = sent {
                let done =
                    commits.wait_for(|c| (c.txn >= txn && c.first > sent) || c.epoch != epoch);
                let _ = tokio::time::timeout(OLDEST_UNCOMMITTED, done).await;
            }
        }
        self.flush_since(epoch, txn)
    }

    /// Commits the transaction `txn` (none: nothing to commit) unless
    /// another caller has (group commit: the answers that wrote meanwhile
    /// share one), and fails if
    /// work begun in `epoch` was lost since.
    pub fn flush_since(&self, epoch: u64, txn: Option<u64>) -> Result<(), PortError> {
        let mut conn = self.lock()?;
        if conn.open && txn == Some(conn.txn) {
            Self::commit(&mut conn)?;
        }
        if conn.epoch != epoch {
            return Err("the store lost this request's writes to a failed commit".into());
        }
        Ok(())
    }
}

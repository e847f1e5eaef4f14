//! An answer that wrote waits for the stepper's commit of what it sent.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use stepwise_engine::stepper::{Inbox, Queue};

use super::super::{Db, SqliteQueue};
use super::envelope;

/// An answer whose request sent a message is not settled by a commit that
/// leaves that message unhandled (its execution's steps would come after
/// the answer, and the client would ask again), but by the commit of the
/// batch that handled it.
#[tokio::test(start_paused = true)]
async fn an_answer_waits_for_the_commit_of_the_messages_sent_before_it() {
    let db = Db::open(None).unwrap();
    let queue = SqliteQueue::new(db.clone(), false);
    let epoch = db.epoch().unwrap();
    queue.send(&[envelope("started", 0)], 0).await.unwrap();
    let txn = db.open_txn().unwrap();
    assert!(txn.is_some());
    let mut cx = Context::from_waker(Waker::noop());
    let mut settle = std::pin::pin!(db.settle(epoch, txn));
    assert!(settle.as_mut().poll(&mut cx).is_pending());
    // Committed, the message still due: not yet.
    db.flush().unwrap();
    assert_eq!(db.open_txn().unwrap(), None);
    assert!(settle.as_mut().poll(&mut cx).is_pending());
    // Received, and another transaction committed (a message for much
    // later): still not handled.
    let got = queue.receive(false).await.unwrap();
    assert_eq!(got.len(), 1);
    queue
        .send(&[envelope("later", i64::MAX / 2)], 0)
        .await
        .unwrap();
    assert!(db.open_txn().unwrap().is_some());
    db.flush().unwrap();
    assert!(settle.as_mut().poll(&mut cx).is_pending());
    // Handled, and its batch committed.
    queue.delete(&[got[0].handle]).await.unwrap();
    assert!(matches!(settle.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
}

/// An answer is judged by the epoch it began in: one that began before
/// a commit failed is an error, whatever it did after; a long poll's last
/// look begins anew (`attempt_again`), so a GetActivityTask that takes a
/// task after another caller's commit failed is answered (the task it took
/// would be lost with an error).
#[tokio::test]
async fn an_answer_is_judged_by_the_epoch_its_last_attempt_began_in() {
    let db = Db::open(None).unwrap();
    db.keep_uncommitted_for(std::time::Duration::from_secs(600));
    let queue = SqliteQueue::new(db.clone(), false);
    let began = db.epoch().unwrap();
    // A long poll: a look, a commit failed meanwhile, a look that writes.
    let polled = db.answering(async {
        queue.send(&[envelope("stale", 0)], 0).await.unwrap();
        db.lose().unwrap();
        db.attempt_again();
        queue.send(&[envelope("claimed", 0)], 0).await.unwrap();
    });
    let ((), epoch) = polled.await.unwrap();
    assert_eq!(epoch, began + 1, "judged by its last look");
    db.settle(epoch, db.open_txn().unwrap()).await.unwrap();
    let kept = queue.receive(false).await.unwrap();
    assert_eq!(kept.len(), 1, "its last look's write was kept");
    assert_eq!(kept[0].envelope.id, "claimed");
    // Any other answer that began before the failure is an error.
    let wrote = db.answering(async {
        db.lose().unwrap();
        queue.send(&[envelope("after", 0)], 0).await.unwrap();
    });
    let ((), epoch) = wrote.await.unwrap();
    assert_eq!(epoch, began + 1);
    assert!(db.settle(epoch, db.open_txn().unwrap()).await.is_err());
}

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

/// An answer is judged by the epoch it first wrote in: a long poll that
/// takes a task after another transaction was lost wrote nothing that was
/// lost, and is not answered with an error (the task it took would be lost
/// with it); one that wrote before the loss is.
#[tokio::test]
async fn an_answer_is_judged_by_the_epoch_it_first_wrote_in() {
    let db = Db::open(None).unwrap();
    db.keep_uncommitted_for(std::time::Duration::from_secs(600));
    let queue = SqliteQueue::new(db.clone(), false);
    let began = db.epoch().unwrap();
    // Waits (reads nothing, writes nothing) while a commit fails, then writes.
    let polled = db.answering(async {
        db.lose().unwrap();
        queue.send(&[envelope("claimed", 0)], 0).await.unwrap();
    });
    let ((), epoch) = polled.await.unwrap();
    assert_eq!(epoch, began + 1, "judged by the epoch of its write");
    let txn = db.open_txn().unwrap();
    db.settle(epoch, txn).await.unwrap();
    assert_eq!(
        queue.receive(false).await.unwrap().len(),
        1,
        "its write was kept"
    );
    // Writes, then a commit fails: its write was lost.
    let wrote = db.answering(async {
        queue.send(&[envelope("lost", 0)], 0).await.unwrap();
        db.lose().unwrap();
    });
    let ((), epoch) = wrote.await.unwrap();
    assert_eq!(epoch, began + 1);
    assert!(db.settle(epoch, db.open_txn().unwrap()).await.is_err());
    // Writes nothing: judged by the epoch it began in.
    let ((), epoch) = db.answering(async { db.lose().unwrap() }).await.unwrap();
    assert_eq!(epoch, began + 2);
    assert!(db.settle(epoch, None).await.is_err());
}

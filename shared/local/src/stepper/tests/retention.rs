//! Retention deletes what an ended execution left behind, and nothing of
//! an execution still running.

use serde_json::json;
use stepwise_asl::Outcome;
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::stepper::service::Activities;
use stepwise_engine::stepper::{ExecutionRecord, Offer, Store, TokenTarget, token_hash};

use super::super::{Db, SqliteStore};

/// An activity task no worker took goes once its execution has expired;
/// one of an execution still running stays offered.
#[test]
fn an_expired_execution_takes_its_untaken_activity_tasks_with_it() {
    let store = SqliteStore::new(Db::open(None).unwrap());
    let activity = "arn:aws:states:us-east-1:123456789012:activity:a";
    let offered = |name: &str, started: i64| {
        let facts = local_execution("m", name, json!({}), started, false);
        let token = format!("token-of-{name}");
        let target = TokenTarget {
            execution: facts.arn.clone(),
            thread: "root".into(),
            wait: 1,
        };
        block_on(async {
            let record = ExecutionRecord::running(facts.clone(), "{}".into(), false);
            assert!(store.create(&record).await.unwrap());
            store.put_token(&token_hash(&token), &target).await.unwrap();
            let offer = Offer {
                activity: activity.into(),
                input: json!({"from": name}),
            };
            store.offer(&offer, &token, started).await.unwrap();
        });
        (facts.arn, token)
    };
    let (ended, _) = offered("ended", 1_000);
    let (_, running) = offered("running", 2_000);
    let done = Outcome::Succeeded(json!({}));
    block_on(store.complete(&ended, &done, 3_000)).unwrap();
    assert_eq!(store.expire(10_000, 10).unwrap(), 1);
    assert_eq!(store.forget_offers().unwrap(), 1);
    let offers: i64 = store
        .db()
        .with(|c| Ok(c.query_row("SELECT COUNT(*) FROM st_offers", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(offers, 1);
    let task = block_on(store.claim(activity))
        .unwrap()
        .expect("still offered");
    assert_eq!(task.token, running);
    assert_eq!(task.input, r#"{"from":"running"}"#);
}

//! The stepper Lambda's handler fed with `events/stepper-sqs.json` and with
//! the queue's own messages, against DynamoDB and SQS on moto server.

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine};
use stepwise_aws::moto::Moto;
use stepwise_aws::{DynamoStore, SqsQueue};
use stepwise_engine::memory::local_execution;
use stepwise_engine::stepper::{ExecutionRecord, Inbox, Stepper, Store};
use stepwise_engine::tasks::FnTasks;

const MACHINE: &str = r#"{"StartAt": "Greet", "States": {
    "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "Next": "Done"},
    "Done": {"Type": "Succeed"}}}"#;

fn event_file() -> SqsEvent {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/stepper-sqs.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("events/stepper-sqs.json"))
        .expect("a real-shaped SQS event")
}

/// A table and a queue named `name` on a moto server of their own.
async fn on_moto(name: &str) -> (Moto, DynamoStore, SqsQueue) {
    let moto = Moto::start();
    let clients = moto.clients();
    let store = DynamoStore::new(clients.dynamodb.clone(), name);
    store.create_table().await.unwrap();
    let queue = SqsQueue::open(clients.sqs.clone(), name, true, store.clone())
        .await
        .unwrap();
    (moto, store, queue)
}

#[tokio::test(flavor = "current_thread")]
async fn the_sample_event_steps_its_execution_and_reports_the_bad_record() {
    let (_moto, store, queue) = on_moto("stepper-test").await;
    let tasks = FnTasks(|c: &stepwise_asl::TaskCall| Ok(c.payload.clone()));
    let stepper = Stepper::new(store.clone(), &queue, tasks, None, 3);

    // The execution the sample event belongs to does not exist yet: its
    // record is dropped (not retried), the malformed one is reported.
    let response = stepwise_stepper::handle(&stepper, event_file()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"]);

    StateMachine::parse(MACHINE, Options::default()).expect("valid");
    let facts = local_execution("hello", "from-events", json!({"who": "events"}), 0, false);
    let record = ExecutionRecord::running(facts, MACHINE.into(), false);
    assert!(store.create(&record).await.unwrap());
    let arn = record.facts.arn.clone();

    // Now the sample event runs the first state.
    let response = stepwise_stepper::handle(&stepper, event_file()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let root = store.load(&arn, "root").await.unwrap().expect("saved");
    assert_eq!(root.seq, 1);
    assert_eq!(
        root.thread.as_ref().unwrap().input,
        json!({"greeting": "hello events"})
    );

    // Lambda's event source delivers what the queue holds until the end.
    for _ in 0..10 {
        let batch = queue.receive(false).await.unwrap();
        if batch.is_empty() {
            break;
        }
        let records: Vec<Value> = batch
            .iter()
            .map(|d| {
                json!({"messageId": d.handle.clone(), "body": serde_json::to_string(&d.envelope).unwrap(),
                       "eventSource": "aws:sqs", "awsRegion": "us-east-1"})
            })
            .collect();
        let event: SqsEvent = serde_json::from_value(json!({"Records": records})).unwrap();
        let response = stepwise_stepper::handle(&stepper, event).await;
        assert!(response.batch_item_failures.is_empty());
        let handles: Vec<String> = batch.into_iter().map(|d| d.handle).collect();
        queue.delete(&handles).await.unwrap();
    }
    let done = store.execution(&arn).await.unwrap().unwrap();
    assert_eq!(done.status, "SUCCEEDED");
    assert_eq!(
        done.outcome,
        Some(stepwise_asl::Outcome::Succeeded(
            json!({"greeting": "hello events"})
        ))
    );

    // The same sample event once more, after the end: dropped, nothing changes.
    let response = stepwise_stepper::handle(&stepper, event_file()).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(store.load(&arn, "root").await.unwrap().unwrap().seq, 2);
}

fn started() -> stepwise_engine::stepper::Logged {
    stepwise_engine::stepper::Logged {
        order: 0,
        event: stepwise_asl::exec::HistoryEvent {
            timestamp: 0,
            kind: stepwise_asl::exec::EventType::ExecutionStarted,
            thread: "root".into(),
            details: json!({}),
            with_entry: false,
            after: None,
        },
        previous: None,
    }
}

/// A message over SQS's 256 KiB travels as a pointer to the table, and the
/// handler reads it back whole from the body SQS delivers.
#[tokio::test(flavor = "current_thread")]
async fn a_message_too_large_for_sqs_is_kept_aside_and_read_back() {
    use stepwise_engine::stepper::{Body, Envelope, Queue, StepMessage};
    let (_moto, _store, queue) = on_moto("aside-test").await;
    let big = noise(300_000, 1);
    let envelope = Envelope {
        id: "exec/root/1/0".into(),
        at: 0,
        body: Body::Step(Box::new(StepMessage {
            execution: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
            thread: "root".into(),
            seq: None,
            lamport: 1,
            event: stepwise_asl::Event::TaskSubmitted {
                wait: 1,
                output: json!(big),
            },
            init: None,
            born: None,
        })),
    };
    queue
        .send(std::slice::from_ref(&envelope), 0)
        .await
        .unwrap();
    let out = queue
        .client
        .receive_message()
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap();
    let body = out.messages.unwrap()[0].body.clone().unwrap();
    assert!(
        body.len() < 1_000,
        "a pointer travels, not {} bytes",
        body.len()
    );
    assert_eq!(queue.read(&body).await.unwrap(), envelope);
    assert!(queue.read("{\"aside\": \"gone\"}").await.is_err());
}

/// `len` pseudo-random hex digits from `seed`: text that hardly compresses.
fn noise(len: usize, seed: u64) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap_or('0')
        })
        .collect()
}

/// A thread record over DynamoDB's 400 KB is split over part items and
/// read back whole; a save drops the parts of earlier saves only.
#[tokio::test(flavor = "current_thread")]
async fn a_record_too_large_for_one_item_is_split_and_read_back() {
    use stepwise_engine::stepper::{Record, Saved};
    let (_moto, store, _queue) = on_moto("parts-test").await;
    let arn = "arn:aws:states:us-east-1:123456789012:execution:m:parts";
    let record = |seq: u64| {
        let mut event = started();
        event.event.details = json!({"input": noise(1_000_000, seq)});
        Record {
            seq,
            page: vec![event],
            ..Record::default()
        }
    };
    let parts = || async {
        let out = store
            .client
            .query()
            .table_name(&store.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :x)")
            .expression_attribute_values(":pk", AttributeValue::S(arn.into()))
            .expression_attribute_values(":x", AttributeValue::S("x#t#root#".into()))
            .send()
            .await
            .unwrap();
        let mut seqs: Vec<String> = (out.items.unwrap_or_default().iter())
            .filter_map(|i| i.get("sk").and_then(|v| v.as_s().ok()))
            .map(|sk| {
                sk["x#t#root#".len()..]
                    .split('-')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        seqs.dedup();
        seqs
    };
    let first = record(1);
    assert_eq!(
        store.save(arn, "root", &first, None).await.unwrap(),
        Saved::Done
    );
    assert_eq!(store.load(arn, "root").await.unwrap(), Some(first));
    assert_eq!(parts().await, ["000000000001"]);
    let second = record(2);
    let saved = store.save(arn, "root", &second, Some(1)).await.unwrap();
    assert_eq!(saved, Saved::Done);
    assert_eq!(store.load(arn, "root").await.unwrap(), Some(second));
    assert_eq!(
        parts().await,
        ["000000000002"],
        "the first save's parts are gone"
    );
    // A writer that lost the race (it expected 1 too) changes nothing.
    let late = store.save(arn, "root", &record(2), Some(1)).await.unwrap();
    assert_eq!(late, Saved::Conflict);
    assert_eq!(
        store.load(arn, "root").await.unwrap().map(|r| r.seq),
        Some(2)
    );
}

/// A step that lost a race for its thread (here: one ahead of it) is
/// reported and made visible again at once; before, it waited out the
/// queue's visibility timeout (three minutes as deployed) per conflict.
#[tokio::test(flavor = "current_thread")]
async fn a_step_that_lost_a_race_comes_back_at_once() {
    use stepwise_engine::stepper::{Body, Envelope, Queue, StepMessage};
    let (_moto, store, queue) = on_moto("race-test").await;
    let tasks = FnTasks(|c: &stepwise_asl::TaskCall| Ok(c.payload.clone()));
    let stepper = Stepper::new(store.clone(), &queue, tasks, None, 3);
    let facts = local_execution("hello", "race", json!({"who": "racers"}), 0, false);
    let record = ExecutionRecord::running(facts, MACHINE.into(), false);
    assert!(store.create(&record).await.unwrap());
    let arn = record.facts.arn.clone();
    // The root's Runs are saved (seq 2); a Run for seq 5 is early.
    let machine = StateMachine::parse(MACHINE, Options::default()).expect("valid");
    stepwise_engine::stepper::start(&store, &queue, &record, &machine)
        .await
        .unwrap();
    loop {
        let batch = queue.receive(false).await.unwrap();
        let Some(d) = batch.first() else { break };
        stepper.handle(&d.envelope, 0).await.unwrap();
        queue.delete(std::slice::from_ref(&d.handle)).await.unwrap();
    }
    let early = Envelope {
        id: "early".into(),
        at: 0,
        body: Body::Step(Box::new(StepMessage {
            execution: arn.clone(),
            thread: "root".into(),
            seq: Some(5),
            lamport: 1,
            event: stepwise_asl::Event::Run,
            init: None,
            born: None,
        })),
    };
    queue.send(std::slice::from_ref(&early), 0).await.unwrap();
    let out = (queue.client.receive_message())
        .queue_url(&queue.url)
        .send()
        .await
        .unwrap();
    let m = &out.messages.unwrap()[0];
    let event: SqsEvent = serde_json::from_value(json!({"Records": [{
        "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
        "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}]}))
    .unwrap();
    let response = stepwise_stepper::handle(&stepper, event).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    // Visible again now, not after the queue's 30 seconds.
    let back = queue.receive(false).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].envelope, early);
}

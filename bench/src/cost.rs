//! What a state transition costs on the serverless engine: DynamoDB and SQS
//! requests and capacity units counted by the adapters while representative
//! machines run through the stepper against moto server, priced with AWS's
//! public on-demand prices (us-east-1) and set next to Step Functions
//! Standard's $25 per million transitions.
//!
//! Twenty executions (ten with `--quick`) of each machine run at once, so the stepper sees the
//! batches it would see at scale. Lambda duration is what the handler took
//! here against moto, charged as a 128 MB arm64 function.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine};
use stepwise_aws::{Clients, DynamoStore, SqsQueue, Usage};
use stepwise_engine::memory::{local_execution, wall_clock};
use stepwise_engine::stepper::{
    ExecutionRecord, Inbox, NoAbort, Stepper, Store, merge_history, start,
};
use stepwise_engine::tasks::FnTasks;

const SQS_PER_REQUEST: f64 = 0.40e-6;
const DYNAMO_PER_WRITE_UNIT: f64 = 0.625e-6;
const DYNAMO_PER_READ_UNIT: f64 = 0.125e-6;
const LAMBDA_PER_REQUEST: f64 = 0.20e-6;
const LAMBDA_ARM_PER_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_MEMORY_GB: f64 = 0.125;
const STANDARD_PER_TRANSITION: f64 = 25e-6;

fn machines() -> Vec<(&'static str, Value)> {
    let lambda = "arn:aws:states:::lambda:invoke";
    vec![
        (
            "Pass/Choice/Task chain",
            json!({"StartAt": "Prepare", "States": {
                "Prepare": {"Type": "Pass", "Next": "Route"},
                "Route": {"Type": "Choice", "Choices": [{"Variable": "$.order.total", "NumericGreaterThan": 0, "Next": "Charge"}], "Default": "Done"},
                "Charge": {"Type": "Task", "Resource": lambda, "Parameters": {"FunctionName": "charge", "Payload.$": "$"}, "OutputPath": "$.Payload", "Next": "Record"},
                "Record": {"Type": "Pass", "Next": "Done"},
                "Done": {"Type": "Succeed"}}}),
        ),
        (
            "Parallel of 3",
            json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "ResultPath": "$.branches", "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 2, "End": true}}},
                {"StartAt": "C", "States": {"C": {"Type": "Pass", "Result": 3, "End": true}}}]}}}),
        ),
        (
            "Map of 100",
            json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.done", "End": true,
                "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": true}}}}}}),
        ),
        (
            "Wait 5 s",
            json!({"StartAt": "Pause", "States": {
                "Pause": {"Type": "Wait", "Seconds": 5, "Next": "After"},
                "After": {"Type": "Succeed"}}}),
        ),
    ]
}

/// About 1 KB of JSON, the state the issue prices.
fn input(items: bool) -> Value {
    let lines: Vec<Value> = (0..8)
        .map(|i| json!({"sku": format!("SKU-{i:04}"), "name": format!("Product number {i}"), "qty": i + 1, "price": 9.99 + i as f64}))
        .collect();
    let mut v = json!({"order": {"id": "ord-20261121-0001", "customer": "ada@example.com", "total": 120.5, "lines": lines}});
    if items {
        v["items"] = json!((0..100).collect::<Vec<_>>());
    }
    v
}

pub fn run(quick: bool) {
    let moto = match stepwise_aws::moto::Moto::try_start() {
        Ok(m) => m,
        Err(e) => return println!("cost: {e}"),
    };
    let endpoint = moto.endpoint.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let concurrent = if quick { 10 } else { 20 };
    // STEPWISE_BENCH_MAP_ITEMS sets another count.
    let map_items = std::env::var("STEPWISE_BENCH_MAP_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    let result = runtime.block_on(measure(&endpoint, concurrent, map_items));
    drop(moto);
    if let Err(e) = result {
        println!("cost: {e}");
    }
}

struct Figures {
    transitions: u64,
    usage: Usage,
    batches: u64,
    handler: Duration,
    arns: Vec<String>,
    elapsed: Duration,
}

impl Figures {
    /// At AWS's public prices: DynamoDB, SQS, Lambda requests and duration.
    fn cost(&self) -> f64 {
        let u = &self.usage;
        u.sqs_requests as f64 * SQS_PER_REQUEST
            + u.write_units * DYNAMO_PER_WRITE_UNIT
            + u.read_units * DYNAMO_PER_READ_UNIT
            + self.batches as f64 * LAMBDA_PER_REQUEST
            + self.handler.as_secs_f64() * LAMBDA_MEMORY_GB * LAMBDA_ARM_PER_GB_SECOND
    }
}

async fn measure(endpoint: &str, concurrent: usize, map_items: usize) -> Result<(), String> {
    let clients = Clients::from_endpoint(endpoint);
    let store = DynamoStore::new(clients.dynamodb.clone(), "stepwise-cost");
    store.create_table().await.map_err(|e| e.to_string())?;
    let watcher = DynamoStore::new(clients.dynamodb.clone(), "stepwise-cost");
    println!(
        "cost: per state transition, {concurrent} executions at once, ~1 KB state, DynamoDB on-demand + SQS standard + Lambda arm64 128 MB:"
    );
    let mut total = (0u64, 0.0f64);
    for (i, (name, def)) in machines().into_iter().enumerate() {
        let mut queue = SqsQueue::open(
            clients.sqs.clone(),
            &format!("cost-{i}"),
            true,
            store.clone(),
        )
        .await
        .map_err(|e| e.to_string())?;
        queue.virtual_time = true;
        let f = run_machine(&store, &watcher, &queue, &def, input(i == 2), concurrent).await?;
        let t = f.transitions as f64;
        let u = f.usage;
        let lambda_seconds = f.handler.as_secs_f64();
        let cost = f.cost();
        let per_million = cost / t * 1e6;
        println!(
            "cost: {name:<24} {:>6} transitions | per transition: {:.2} DynamoDB writes ({:.2} WCU), {:.2} reads ({:.2} RCU), {:.2} SQS requests, {:.2} Lambda invocations, {:.1} ms handler | ${per_million:.2} per million transitions ({:.0}x cheaper than Standard's $25)",
            f.transitions,
            u.dynamo_writes as f64 / t,
            u.write_units / t,
            u.dynamo_reads as f64 / t,
            u.read_units / t,
            u.sqs_requests as f64 / t,
            f.batches as f64 / t,
            lambda_seconds * 1000.0 / t,
            STANDARD_PER_TRANSITION * 1e6 / per_million,
        );
        total.0 += f.transitions;
        total.1 += cost;
    }
    let per_million = total.1 / total.0 as f64 * 1e6;
    println!(
        "cost: all machines: ${per_million:.2} per million transitions, {:.0}x cheaper than Step Functions Standard ($25)",
        25.0 / per_million
    );
    let mut queue = SqsQueue::open(clients.sqs.clone(), "cost-distributed", true, store.clone())
        .await
        .map_err(|e| e.to_string())?;
    queue.virtual_time = true;
    distributed_map(&store, &watcher, &queue, map_items).await
}

/// A Distributed Map of `items` one-step children (MaxConcurrency 1,000;
/// its ItemReader answered in process) through the stepper on moto: items/s, DynamoDB writes per item, writes
/// to the parent's item per child, and the AWS bill per 1,000 items.
async fn distributed_map(
    store: &DynamoStore,
    watcher: &DynamoStore,
    queue: &SqsQueue,
    items: usize,
) -> Result<(), String> {
    let reader = json!({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket": "bench", "Key": format!("items-{items}")}});
    let def = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemReader": reader,
        "MaxConcurrency": 1000, "ResultSelector": {"count.$": "States.ArrayLength($)"}, "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Item", "States": {"Item": {"Type": "Pass", "Parameters": {"id.$": "$.id", "done": true}, "End": true}}}}}});
    let f = run_machine(store, watcher, queue, &def, json!({}), 1).await?;
    let arn = f.arns.first().cloned().unwrap_or_default();
    // Every write to a thread's item raises its sequence number.
    let parent_writes = watcher
        .load(&arn, "root")
        .await
        .map_err(|e| e.to_string())?
        .map_or(0, |r| r.seq);
    let n = items as f64;
    println!(
        "cost: Distributed Map of {items} items (MaxConcurrency 1,000), serverless on moto: {:.0} items/s, {:.4} DynamoDB writes per item, {:.4} writes to the parent's item per child ({parent_writes} in all), ${:.4} per 1,000 items (Step Functions Standard: $0.025, a transition per child)",
        n / f.elapsed.as_secs_f64(),
        f.usage.dynamo_writes as f64 / n,
        parent_writes as f64 / n,
        f.cost() / n * 1000.0
    );
    Ok(())
}

async fn run_machine(
    store: &DynamoStore,
    watcher: &DynamoStore,
    queue: &SqsQueue,
    def: &Value,
    input: Value,
    concurrent: usize,
) -> Result<Figures, String> {
    let began = Instant::now();
    let text = def.to_string();
    let machine = StateMachine::parse(&text, Options::default()).map_err(|e| e.to_string())?;
    let tasks = FnTasks(|c: &stepwise_asl::TaskCall| {
        Ok(match c.resource.as_str() {
            // A Distributed Map's ItemReader: object `items-<n>` holds n items.
            "arn:aws:states:::s3:getObject" => {
                let key = c.payload["Key"].as_str().unwrap_or_default();
                let n: usize = key.trim_start_matches("items-").parse().unwrap_or(0);
                Value::Array((0..n).map(|i| json!({"id": i})).collect())
            }
            _ => json!({"Payload": c.payload["Payload"]}),
        })
    });
    let stepper = Stepper::new(store.clone(), queue, tasks, NoAbort, 1);
    store.meter.reset();
    queue.meter.reset();
    let mut arns = Vec::new();
    let start_time = wall_clock();
    for n in 0..concurrent {
        let name = format!("cost-{}-{n}", wall_clock());
        let facts = local_execution("cost", &name, input.clone(), start_time, false);
        let record = ExecutionRecord::running(facts, text.clone(), false);
        start(store, queue, &record, &machine)
            .await
            .map_err(|e| e.to_string())?;
        arns.push(record.facts.arn.clone());
    }
    // Lambda's event source: receive a batch, run the handler over it, delete.
    let mut now = start_time;
    let mut held = Vec::new();
    let mut batches = 0;
    let mut handler = Duration::ZERO;
    loop {
        let batch = queue.receive(false).await.map_err(|e| e.to_string())?;
        if batch.is_empty() {
            if held.is_empty() {
                break;
            }
            now = held
                .iter()
                .map(|e: &stepwise_engine::stepper::Envelope| e.at)
                .min()
                .unwrap_or(now);
            let due: Vec<_> = held.iter().filter(|e| e.at <= now).cloned().collect();
            held.retain(|e| e.at > now);
            queue.send(&due, now).await.map_err(|e| e.to_string())?;
            continue;
        }
        batches += 1;
        let began = Instant::now();
        let mut handles = Vec::new();
        let mut ready = Vec::new();
        for d in batch {
            if d.envelope.at > now {
                held.push(d.envelope);
            } else {
                ready.push((d.envelope, d.receives));
            }
            handles.push(d.handle);
        }
        // As the Lambda does: children's ends for one thread together.
        for result in stepper.handle_batch(&ready, now).await {
            result.map_err(|e| e.to_string())?;
        }
        handler += began.elapsed();
        queue.delete(&handles).await.map_err(|e| e.to_string())?;
    }
    let usage = add(store.meter.usage(), queue.meter.usage());
    let mut transitions = 0;
    for arn in &arns {
        let r = watcher.execution(arn).await.map_err(|e| e.to_string())?;
        let status = r.map(|r| r.status).unwrap_or_default();
        if status != "SUCCEEDED" {
            return Err(format!("{arn} ended {status}"));
        }
        let history = merge_history(watcher.history(arn).await.map_err(|e| e.to_string())?);
        transitions += history
            .iter()
            .filter(|r| r.event.entered_state().is_some())
            .count() as u64;
    }
    Ok(Figures {
        transitions,
        usage,
        batches,
        handler,
        arns,
        elapsed: began.elapsed(),
    })
}

use stepwise_engine::stepper::Queue as _;

fn add(a: Usage, b: Usage) -> Usage {
    Usage {
        dynamo_writes: a.dynamo_writes + b.dynamo_writes,
        dynamo_reads: a.dynamo_reads + b.dynamo_reads,
        write_units: a.write_units + b.write_units,
        read_units: a.read_units + b.read_units,
        sqs_requests: a.sqs_requests + b.sqs_requests,
        sqs_messages: a.sqs_messages + b.sqs_messages,
    }
}

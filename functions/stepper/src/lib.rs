//! The stepper Lambda's handler: each SQS record is one step message; the
//! records that must come back (a conflict, an infrastructure fault) are
//! reported as batch item failures, so SQS redelivers only those. Those
//! that lost a race for their thread (a conflict, a message ahead of its
//! thread) are made visible again at once, as the poller does: left to the
//! queue's visibility timeout (which must outlast the function's, 15
//! minutes for a long Lambda task) a fan-in would wait that long per
//! conflict. The function itself fails only when it cannot start.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use std::sync::Arc;

use stepwise_aws::service::{AwsActions, AwsService};
use stepwise_aws::services::{ServiceTasks, WithServices};
use stepwise_aws::{Clients, DynamoStore, LambdaTasks, SqsQueue};
use stepwise_engine::catalog::Scope;
use stepwise_engine::memory::wall_clock;
use stepwise_engine::nested::WithExecutions;
use stepwise_engine::ports::Tasks;
use stepwise_engine::stepper::{Abort, Inbox, Queue, Retry, Stepper, Store};
use stepwise_engine::tasks::Mocked;

/// The stepper as deployed: DynamoDB, SQS and Lambda from the environment
/// (`STEPWISE_TABLE`, `STEPWISE_QUEUE_URL`); nested executions start in
/// the same table.
pub type Deployed = Stepper<
    DynamoStore,
    SqsQueue,
    Mocked<WithExecutions<AwsActions, WithServices<Arc<LambdaTasks>>>>,
>;

pub fn from_env() -> Result<Deployed, String> {
    let need = |k: &str| std::env::var(k).map_err(|_| format!("the environment lacks {k}"));
    let clients = Clients::from_env().map_err(|e| e.to_string())?;
    let store = DynamoStore::new(clients.dynamodb.clone(), need("STEPWISE_TABLE")?);
    let queue = SqsQueue::from_url(
        clients.sqs.clone(),
        need("STEPWISE_QUEUE_URL")?,
        store.clone(),
    );
    let lambda = Arc::new(LambdaTasks::Sdk(clients.lambda.clone()));
    let service = AwsService::new(store.clone(), queue.clone(), &clients, Scope::from_env());
    // The chain every engine has (mocks → nested executions → services →
    // Lambda): deployed, no mock configuration answers, and an execution
    // started on a test case (`<ARN>#<case>`) is told so rather than
    // calling the real services.
    let tasks = Mocked {
        mocks: None,
        fallback: WithExecutions {
            service: Some(service.0),
            fallback: WithServices {
                services: ServiceTasks::new(&clients),
                fallback: lambda,
            },
        },
    };
    Ok(Stepper::new(
        store,
        queue,
        tasks,
        stepwise_engine::stepper::NoAbort,
        seed(),
    ))
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32)
}

/// Handles one SQS event; the response names the records to deliver again.
pub async fn handle<S, Q, T, A>(stepper: &Stepper<S, Q, T, A>, event: SqsEvent) -> SqsBatchResponse
where
    S: Store,
    Q: Queue + Inbox<Handle = String>,
    T: Tasks,
    A: Abort,
{
    let mut response = SqsBatchResponse::default();
    let mut messages = Vec::new();
    let mut ids = Vec::new();
    let mut handles = Vec::new();
    let mut fail = |id: String, why: String| {
        lambda_runtime::tracing::warn!(message_id = %id, reason = %why, "step deferred");
        response.batch_item_failures.push(BatchItemFailure {
            item_identifier: id,
        });
    };
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let receives = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let Some(body) = record.body.as_deref() else {
            fail(id, "an SQS record without a body".to_owned());
            continue;
        };
        match stepper.queue.read(body).await {
            Ok(envelope) => {
                messages.push((envelope, receives));
                ids.push(id);
                handles.push(record.receipt_handle.clone());
            }
            Err(e) => fail(id, format!("not a step message: {e}")),
        }
    }
    // Children's ends for one thread among them join it together.
    let results = stepper.handle_batch(&messages, wall_clock()).await;
    let mut again = Vec::new();
    for ((result, id), handle) in results.into_iter().zip(ids).zip(handles) {
        if let Err(e) = result {
            if matches!(e, Retry::Conflict | Retry::Early) {
                again.extend(handle);
            }
            fail(id, e.to_string());
        }
    }
    if !again.is_empty()
        && let Err(e) = stepper.queue.release(&again).await
    {
        // They come back when their visibility timeout passes.
        lambda_runtime::tracing::warn!(reason = %e, "could not release deferred steps");
    }
    response
}

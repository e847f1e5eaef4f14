//! `--backend aws`: the serverless stepper on DynamoDB and SQS (AWS, or a
//! stand-in at AWS_ENDPOINT_URL), fed by a local poller.

use std::sync::Arc;
use stepwise_asl::StateMachine;

use stepwise_aws::services::{ServiceTasks, WithServices};
use stepwise_aws::{Clients, DynamoStore, LambdaTasks, SqsQueue};
use stepwise_engine::Report;
use stepwise_engine::mock::Mocks;
use stepwise_engine::nested::WithExecutions;
use stepwise_engine::ports::Tasks;
use stepwise_engine::stepper::{
    Chaos, ExecutionRecord, Inbox, Poller, PollerOptions, Queue, Stepper, Store, run_to_end,
};
use stepwise_engine::tasks::Mocked;

#[derive(clap::Args, Clone)]
pub struct AwsArgs {
    /// The DynamoDB table (`--backend aws`).
    #[arg(long, env = "STEPWISE_TABLE", default_value = "stepwise")]
    pub table: String,
    /// The SQS step queue's name (`--backend aws`).
    #[arg(long, env = "STEPWISE_QUEUE", default_value = "stepwise-steps")]
    pub queue: String,
    /// Create the table and the queue when they are missing.
    #[arg(long)]
    pub create_resources: bool,
}

/// AWS service integrations and HTTP tasks, with AWS clients when the
/// environment names credentials or an endpoint (`AWS_ENDPOINT_URL` for
/// moto server).
pub fn services() -> ServiceTasks {
    ServiceTasks::from_env()
}

/// How local runs answer Task states: the mock configuration first, then
/// nested executions (when `executions` can start them), the AWS service
/// integrations and HTTP tasks, then Lambda at `lambda_endpoint`.
pub fn local_tasks<A>(
    mocks: Option<Arc<Mocks>>,
    lambda_endpoint: Option<String>,
    executions: Option<Arc<A>>,
) -> Mocked<WithExecutions<A, WithServices<LambdaTasks>>> {
    Mocked {
        mocks,
        fallback: WithExecutions {
            service: executions,
            fallback: WithServices {
                services: services(),
                fallback: LambdaTasks::Local(lambda_endpoint),
            },
        },
    }
}

/// Opens the table and the queue named by `args`.
pub async fn open(args: &AwsArgs, fast_forward: bool) -> anyhow::Result<(DynamoStore, SqsQueue)> {
    let clients = Clients::from_env()?;
    let store = DynamoStore::new(clients.dynamodb.clone(), &args.table);
    if args.create_resources {
        store
            .create_table()
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the table {}: {e}", args.table))?;
    }
    let mut queue = SqsQueue::open(
        clients.sqs.clone(),
        &args.queue,
        args.create_resources,
        store.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot open the queue {}: {e}", args.queue))?;
    queue.virtual_time = fast_forward;
    Ok((store, queue))
}

pub async fn run<T: Tasks>(
    args: &AwsArgs,
    tasks: T,
    chaos: Option<Chaos>,
    record: &ExecutionRecord,
    machine: &StateMachine,
    fast_forward: bool,
) -> anyhow::Result<Report> {
    let (store, queue) = open(args, fast_forward).await?;
    let seed = stepwise_engine::memory::wall_clock() as u64;
    let stepper = Stepper::new(store, &queue, tasks, chaos, seed);
    run_to_end(&stepper, &queue, record, machine, fast_forward)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

/// How a process runs its stepper loops: how many threads, and how many
/// received batches each handles at once (`PollerOptions::flights`).
#[derive(Debug, Clone, Copy)]
pub struct Loops {
    pub threads: usize,
    pub flights: usize,
}

/// `serve --backend aws`: a few threads, a batch at a time each, as Lambda
/// runs several invocations at once.
pub const AWS_LOOPS: Loops = Loops {
    threads: 3,
    flights: 1,
};

/// Runs the stepper on the queue for as long as the process lives
/// (`stepwise serve --backend aws` or `stepper`: the stepper Lambda's
/// part), in threads of their own.
pub fn spawn_stepper<S, Q, T>(store: S, queue: Q, tasks: T, loops: Loops)
where
    S: Store + Clone + Send + 'static,
    Q: Queue + Inbox + Clone + Send + 'static,
    T: Tasks + Send + Sync + 'static,
{
    let tasks = std::sync::Arc::new(tasks);
    for _ in 0..loops.threads.max(1) {
        let (store, queue, tasks) = (store.clone(), queue.clone(), tasks.clone());
        std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("stepwise: a stepper loop cannot start: {e}");
                    return;
                }
            };
            runtime.block_on(async {
                let seed = stepwise_engine::entropy();
                let stepper = Stepper::new(store, &queue, tasks, None, seed);
                let options = PollerOptions {
                    flights: loops.flights,
                    ..PollerOptions::default()
                };
                let mut poller = Poller::new(&stepper, &queue, options);
                loop {
                    if let Err(e) = poller.run(|| async { Ok(false) }).await {
                        eprintln!("stepwise: the stepper poller failed, retrying: {e}");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            });
        });
    }
}

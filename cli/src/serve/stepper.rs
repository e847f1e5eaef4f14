//! `stepwise serve`'s embedded backend: the API and the serverless stepper
//! on one SQLite database — the actions the API Lambda answers
//! ([`StepperService`]), the stepper loops the step Lambda runs, over the
//! SQLite store and queue instead of DynamoDB and SQS: one driver for both
//! backends.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use stepwise_aws::LambdaTasks;
use stepwise_aws::service::SyncTasks;
use stepwise_aws::services::WithServices;
use stepwise_engine::api::{ApiError, Reply, Service};
use stepwise_engine::catalog::Scope;
use stepwise_engine::mock::Mocks;
use stepwise_engine::stepper::service::{StepperService, is_read};
use stepwise_engine::tasks::Mocked;
use stepwise_local::Retention;
use stepwise_local::stepper::{Db, SqliteQueue, SqliteStore};

pub type SqliteActions = StepperService<SqliteStore, SqliteQueue, SyncTasks>;

/// The API on SQLite: its read actions on a store that reads what is
/// committed (on reader connections, when the store is a file), the rest
/// on the writer's.
pub struct SqliteService {
    pub writes: Arc<SqliteActions>,
    reads: SqliteActions,
}

impl Service for SqliteService {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        self.call_in(None, action, body)
    }

    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(async move {
            let db = self.writes.store.db();
            if is_read(action) && db.has_readers() {
                // Only what is committed is seen: nothing to commit.
                return self.reads.answer(self, region, action, body).await;
            }
            let answering = self.writes.answer(self, region, action, body);
            let (answer, epoch) = db.answering(answering).await.map_err(internal)?;
            // Nothing is answered before what it wrote is committed; the
            // answers that write meanwhile, and the steps the stepper loops
            // take meanwhile, share the commit.
            let txn = db.open_txn().map_err(internal)?;
            if txn.is_some() {
                for _ in 0..GROUP_YIELDS {
                    tokio::task::yield_now().await;
                }
            }
            db.settle(epoch, txn).await.map_err(internal)?;
            answer
        })
    }
}

/// How many turns an answer that wrote lets the other requests take before
/// it commits: those that write meanwhile share its commit. Executions/s
/// under `stepwise-bench api-stepper --quick`: none 2,900–3,000; one
/// 3,350–3,450; two 3,600–3,800; four 3,650–3,950.
const GROUP_YIELDS: usize = 4;

/// One thread steps on SQLite, with several batches in flight: there is one
/// writer anyway, and threads taking turns at its lock cost more than they
/// gave (one thread: 7,900–8,900 executions/s under `stepwise-bench
/// api-stepper --quick`; two or three: 7,500–8,100); a batch waiting on a
/// slow task call holds up its own messages only.
const LOOPS: crate::aws::Loops = crate::aws::Loops {
    threads: 1,
    flights: 8,
};

fn internal(e: stepwise_engine::stepper::PortError) -> ApiError {
    ApiError::internal(e.to_string())
}

/// Opens the database at `path` (in memory without one) and starts the
/// stepper loops on it.
pub fn open(
    path: Option<&Path>,
    mocks: Option<Arc<Mocks>>,
    lambda_endpoint: Option<String>,
    retention: Option<Retention>,
) -> anyhow::Result<Arc<SqliteService>> {
    let db = Db::open(path).map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    let (store, queue) = (SqliteStore::new(db.clone()), SqliteQueue::new(db, false));
    // StartSyncExecution's and TestState's tasks: the same chain as the
    // stepper's, nested executions started through the API.
    let sync = Mocked {
        mocks: mocks.clone(),
        fallback: WithServices {
            services: crate::aws::services(),
            fallback: LambdaTasks::Local(lambda_endpoint.clone()),
        },
    };
    let actions = Arc::new(StepperService {
        store: store.clone(),
        queue: queue.clone(),
        tasks: Arc::new(sync),
        place: Scope::from_env(),
    });
    let reads = StepperService {
        store: store.reading_committed(),
        queue: queue.clone(),
        tasks: actions.tasks.clone(),
        place: actions.place.clone(),
    };
    let tasks = crate::aws::local_tasks(mocks, lambda_endpoint, Some(actions.clone()));
    if let Some(r) = retention {
        stepwise_local::stepper::retention::start(store.clone(), r);
    }
    crate::aws::spawn_stepper(store, queue, tasks, LOOPS);
    Ok(Arc::new(SqliteService {
        writes: actions,
        reads,
    }))
}

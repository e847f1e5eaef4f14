//! The Step Functions API over the serverless engine: what the API Lambda
//! (and `stepwise serve --backend aws`) answers. The actions are the
//! engine's [`StepperService`], written once for every store of the
//! stepper's records; here they run on the table and the queue.

use std::ops::Deref;
use std::sync::Arc;

use serde_json::Value;
use stepwise_engine::api::{Reply, Service};
use stepwise_engine::catalog::Scope;
use stepwise_engine::mock::Mocks;
use stepwise_engine::stepper::service::StepperService;
use stepwise_engine::tasks::Mocked;

use crate::services::{ServiceTasks, WithServices};
use crate::{Clients, DynamoStore, LambdaTasks, SqsQueue};

/// The API on DynamoDB and SQS: the engine's actions over the table and
/// the queue. (The stepper's nested starts call the actions inside.)
pub struct AwsService(pub Arc<AwsActions>);

pub type AwsActions = StepperService<DynamoStore, SqsQueue, SyncTasks>;

/// What StartSyncExecution's tasks reach: the mocks (a local server's),
/// the service integrations, then Lambda functions.
pub type SyncTasks = Mocked<WithServices<LambdaTasks>>;

impl AwsService {
    pub fn new(store: DynamoStore, queue: SqsQueue, clients: &Clients, place: Scope) -> Self {
        let tasks = Mocked {
            mocks: None,
            fallback: WithServices {
                services: ServiceTasks::new(clients),
                fallback: LambdaTasks::Sdk(clients.lambda.clone()),
            },
        };
        AwsService(Arc::new(StepperService {
            store,
            queue,
            tasks: Arc::new(tasks),
            place,
        }))
    }

    /// StartSyncExecution's Lambda tasks sent where the server's executions
    /// send theirs (`stepwise serve --backend aws --lambda-endpoint`).
    pub fn with_lambda(mut self, lambda: LambdaTasks) -> Self {
        if let Some(tasks) = Arc::get_mut(&mut self.0).and_then(|a| Arc::get_mut(&mut a.tasks)) {
            tasks.fallback.fallback = lambda;
        }
        self
    }

    /// StartSyncExecution's tasks answered from `mocks` first, as the
    /// server's executions are (`stepwise serve --backend aws`).
    pub fn with_mocks(mut self, mocks: Option<Arc<Mocks>>) -> Self {
        if let Some(tasks) = Arc::get_mut(&mut self.0).and_then(|a| Arc::get_mut(&mut a.tasks)) {
            tasks.mocks = mocks;
        }
        self
    }
}

impl Deref for AwsService {
    type Target = AwsActions;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Service for AwsService {
    fn call<'a>(&'a self, action: &'a str, body: Value) -> Reply<'a> {
        self.call_in(None, action, body)
    }

    fn call_in<'a>(&'a self, region: Option<&'a str>, action: &'a str, body: Value) -> Reply<'a> {
        Box::pin(self.0.answer(self, region, action, body))
    }
}

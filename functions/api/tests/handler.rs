//! The API Lambda's handler fed with the API Gateway events in `events/`,
//! against DynamoDB and SQS on moto server, with the stepper running the
//! execution it starts.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use serde_json::{Value, json};
use stepwise_aws::moto::Moto;
use stepwise_aws::service::AwsService;
use stepwise_aws::{DynamoStore, SqsQueue};
use stepwise_engine::catalog::Scope;
use stepwise_engine::stepper::service::StartChild as _;
use stepwise_engine::stepper::{Poller, PollerOptions, Stepper, Store, TokenTarget};
use stepwise_engine::tasks::Unavailable;

fn event(name: &str) -> ApiGatewayProxyRequest {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file"))
        .expect("a real-shaped API Gateway event")
}

fn body(r: &ApiGatewayProxyResponse) -> Value {
    match &r.body {
        Some(Body::Text(t)) => serde_json::from_str(t).expect("JSON"),
        other => panic!("no text body: {other:?}"),
    }
}

/// The serverless API over a table and a queue of its own on moto server
/// (which stops when the first value is dropped).
async fn serverless(name: &str) -> (Moto, AwsService) {
    let moto = Moto::start();
    let clients = moto.clients();
    let store = DynamoStore::new(clients.dynamodb.clone(), name);
    store.create_table().await.unwrap();
    let queue = SqsQueue::open(clients.sqs.clone(), name, true, store.clone())
        .await
        .unwrap();
    let service = AwsService::new(store, queue, &clients, Scope::default());
    (moto, service)
}

/// The stepper runs the execution from the queue (as the stepper Lambda
/// would) until it ends.
async fn run_to_end(store: &DynamoStore, queue: &SqsQueue, arn: &str) {
    let stepper = Stepper::new(store.clone(), queue, Unavailable, None, 1);
    let mut poller = Poller::new(&stepper, queue, PollerOptions::default());
    poller
        .run(|| {
            let (watch, arn) = (store.clone(), arn.to_owned());
            async move {
                Ok(watch
                    .execution(&arn)
                    .await?
                    .is_some_and(|r| r.status != "RUNNING"))
            }
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn the_sample_events_create_start_and_read_an_execution() {
    let (_moto, service) = serverless("api-test").await;
    let (store, queue) = (service.store.clone(), service.queue.clone());

    let created =
        stepwise_api_function::handle(&service, event("api-create-state-machine.json")).await;
    assert_eq!(created.status_code, 200, "{:?}", created.body);
    assert_eq!(
        created.headers["content-type"],
        "application/x-amz-json-1.0"
    );
    assert_eq!(
        body(&created)["stateMachineArn"],
        "arn:aws:states:us-east-1:123456789012:stateMachine:hello"
    );

    let started = stepwise_api_function::handle(&service, event("api-start-execution.json")).await;
    assert_eq!(started.status_code, 200, "{:?}", started.body);
    let arn = body(&started)["executionArn"].as_str().unwrap().to_owned();
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:execution:hello:from-api-event"
    );
    // The same request again is the same execution (same name, same input).
    let again = stepwise_api_function::handle(&service, event("api-start-execution.json")).await;
    assert_eq!(body(&again)["executionArn"], arn.as_str());

    let running =
        stepwise_api_function::handle(&service, event("api-describe-execution.json")).await;
    assert_eq!(body(&running)["status"], "RUNNING");

    // The stepper runs it, from the queue.
    run_to_end(&store, &queue, &arn).await;

    let done = stepwise_api_function::handle(&service, event("api-describe-execution.json")).await;
    assert_eq!(done.status_code, 200);
    let d = body(&done);
    assert_eq!(d["status"], "SUCCEEDED");
    assert_eq!(
        serde_json::from_str::<Value>(d["output"].as_str().unwrap()).unwrap(),
        json!({"greeting": "hello webhook"})
    );

    // The sample callback's token was never handed out.
    let callback = stepwise_api_function::handle(&service, event("api-task-success.json")).await;
    assert_eq!(callback.status_code, 400);
    assert_eq!(body(&callback)["__type"], "InvalidToken");

    // An unknown route and a malformed body get AWS-shaped errors.
    let mut lost = event("api-start-execution.json");
    lost.path = Some("/nowhere".into());
    let r = stepwise_api_function::handle(&service, lost).await;
    assert_eq!(
        (r.status_code, body(&r)["__type"].clone()),
        (404, json!("ResourceNotFound"))
    );
    let mut bad = event("api-start-execution.json");
    bad.body = Some("{not json".into());
    let r = stepwise_api_function::handle(&service, bad).await;
    assert_eq!(
        (r.status_code, body(&r)["__type"].clone()),
        (400, json!("SerializationException"))
    );
}

/// A nested execution's start runs again when its parent's step does (a
/// crash before the parent's save, a redelivered message): the same task
/// gets the same child, even when the child has ended meanwhile, where
/// StartExecution alone would refuse an ended execution's name.
#[tokio::test(flavor = "current_thread")]
async fn a_nested_start_repeated_by_its_task_is_the_same_child() {
    let (_moto, service) = serverless("nested-test").await;
    let (store, queue) = (service.store.clone(), service.queue.clone());
    let definition = json!({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}});
    let created = stepwise_engine::api::Service::call(
        &service,
        "CreateStateMachine",
        json!({"name": "child", "definition": definition.to_string(),
               "roleArn": "arn:aws:iam::123456789012:role/stepwise"}),
    )
    .await
    .unwrap();
    let body = json!({"stateMachineArn": created["stateMachineArn"], "name": "kid", "input": "{}"});
    let task = TokenTarget {
        execution: "arn:aws:states:us-east-1:123456789012:execution:parent:p1".into(),
        thread: "root".into(),
        wait: 1,
    };
    let (arn, started) = service
        .start_child(&body, None, Some(task.clone()))
        .await
        .unwrap();

    run_to_end(&store, &queue, &arn).await;
    assert_eq!(
        store.execution(&arn).await.unwrap().unwrap().status,
        "SUCCEEDED"
    );

    let again = service.start_child(&body, None, Some(task.clone())).await;
    assert_eq!(again, Ok((arn.clone(), started)));
    // Another task (or the API) starting that name gets AWS's answer.
    let other = TokenTarget { wait: 2, ..task };
    let refused = service.start_child(&body, None, Some(other)).await;
    assert_eq!(refused.map_err(|e| e.code), Err("ExecutionAlreadyExists"));
    let api = stepwise_engine::api::Service::call(&service, "StartExecution", body).await;
    assert_eq!(api.map_err(|e| e.code), Err("ExecutionAlreadyExists"));
}

//! The stepper Lambda on the step queue (see the library for the handler).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON logs at the level the template sets (AWS_LAMBDA_LOG_FORMAT/LEVEL).
    lambda_runtime::tracing::init_default_subscriber();
    let stepper: &'static stepwise_stepper::Deployed =
        Box::leak(Box::new(stepwise_stepper::from_env()?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(stepwise_stepper::handle(stepper, event.payload).await)
    }))
    .await
}

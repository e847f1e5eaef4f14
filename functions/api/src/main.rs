//! The API Lambda behind API Gateway (see the library for the handler).

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON logs at the level the template sets (AWS_LAMBDA_LOG_FORMAT/LEVEL).
    lambda_runtime::tracing::init_default_subscriber();
    let service: &'static stepwise_aws::service::AwsService =
        Box::leak(Box::new(stepwise_api_function::from_env()?));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayProxyRequest>| async move {
            Ok::<ApiGatewayProxyResponse, Error>(
                stepwise_api_function::handle(service, event.payload).await,
            )
        },
    ))
    .await
}

//! The API Lambda's handler: an API Gateway (REST API) proxy event in, the
//! Step Functions JSON protocol or a REST route answered by
//! [`stepwise_api::route`] over the serverless backend, a proxy response out.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use stepwise_aws::service::AwsService;
use stepwise_aws::{Clients, DynamoStore, SqsQueue};
use stepwise_engine::api::Service;
use stepwise_engine::catalog::Scope;

/// The service as deployed: `STEPWISE_TABLE`, `STEPWISE_QUEUE_URL`,
/// `STEPWISE_ACCOUNT_ID` and the standard AWS environment.
pub fn from_env() -> Result<AwsService, String> {
    let need = |k: &str| std::env::var(k).map_err(|_| format!("the environment lacks {k}"));
    let clients = Clients::from_env().map_err(|e| e.to_string())?;
    let store = DynamoStore::new(clients.dynamodb.clone(), need("STEPWISE_TABLE")?);
    Ok(AwsService::new(
        store.clone(),
        SqsQueue::from_url(clients.sqs.clone(), need("STEPWISE_QUEUE_URL")?, store),
        &clients,
        Scope::from_env(),
    ))
}

pub async fn handle(
    service: &dyn Service,
    request: ApiGatewayProxyRequest,
) -> ApiGatewayProxyResponse {
    let method = request.http_method.as_str().to_owned();
    let path = request.path.clone().unwrap_or_else(|| "/".into());
    let target = request
        .headers
        .iter()
        .find(|(k, _)| k.as_str().eq_ignore_ascii_case("x-amz-target"))
        .and_then(|(_, v)| v.to_str().ok())
        .map(str::to_owned);
    let body = match (&request.body, request.is_base64_encoded) {
        (Some(b), true) => decode_base64(b),
        (Some(b), false) => b.clone().into_bytes(),
        (None, _) => Vec::new(),
    };
    // The deployment's region (its ARNs), whatever the caller signed for.
    let response =
        stepwise_api::route(service, None, &method, &path, target.as_deref(), &body).await;
    let content_type = if target.is_some() && path.trim_end_matches('/').is_empty() {
        stepwise_api::CONTENT_TYPE
    } else {
        "application/json"
    };
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    ApiGatewayProxyResponse {
        status_code: i64::from(response.status),
        headers,
        body: Some(Body::Text(
            String::from_utf8_lossy(&response.body).into_owned(),
        )),
        ..Default::default()
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_default()
}

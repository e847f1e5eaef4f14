//! Clients from the standard AWS environment: `AWS_REGION` (or
//! `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` (Lambda sets these), and `AWS_ENDPOINT_URL` or the
//! per-service `AWS_ENDPOINT_URL_DYNAMODB` / `_SQS` / `_LAMBDA` for a
//! local stand-in such as moto server.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_ENDPOINT_URL for a local stand-in)"
    )]
    NoCredentials,
}

#[derive(Clone, Debug)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub region: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Clients {
    pub fn from_env() -> Result<Clients, ConfigError> {
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = var("AWS_ENDPOINT_URL");
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment")
            }
            _ if endpoint.is_some() => Credentials::new("test", "test", None, None, "local"),
            _ => return Err(ConfigError::NoCredentials),
        };
        let dynamo = var("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| endpoint.clone());
        let sqs = var("AWS_ENDPOINT_URL_SQS").or_else(|| endpoint.clone());
        let lambda = var("AWS_ENDPOINT_URL_LAMBDA").or(endpoint);
        Ok(Clients::new(region, credentials, [dynamo, sqs, lambda]))
    }

    /// Clients for a local stand-in (moto server) at `endpoint`.
    pub fn from_endpoint(endpoint: &str) -> Clients {
        let credentials = Credentials::new("test", "test", None, None, "local");
        let e = Some(endpoint.to_owned());
        Clients::new("us-east-1".into(), credentials, [e.clone(), e.clone(), e])
    }

    fn new(
        region: String,
        credentials: Credentials,
        [dynamo_endpoint, sqs_endpoint, lambda_endpoint]: [Option<String>; 3],
    ) -> Clients {
        let mut d = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(credentials.clone());
        if let Some(e) = dynamo_endpoint {
            d = d.endpoint_url(e);
        }
        let mut q = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new(region.clone()))
            .credentials_provider(credentials.clone());
        if let Some(e) = sqs_endpoint {
            q = q.endpoint_url(e);
        }
        let mut l = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new(region.clone()))
            .credentials_provider(credentials.clone());
        if let Some(e) = lambda_endpoint {
            l = l.endpoint_url(e);
        }
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(d.build()),
            sqs: aws_sdk_sqs::Client::from_conf(q.build()),
            lambda: aws_sdk_lambda::Client::from_conf(l.build()),
            region,
        }
    }
}

//! Clients from the standard AWS environment: `AWS_REGION` (or
//! `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
//! `AWS_SESSION_TOKEN` (Lambda sets these), and `AWS_ENDPOINT_URL` or the
//! per-service `AWS_ENDPOINT_URL_DYNAMODB` / `_SQS` / `_LAMBDA` / `_SNS` /
//! `_EVENTBRIDGE` for a local stand-in such as moto server.

use std::sync::{Arc, OnceLock};

use aws_sdk_dynamodb::config::Credentials;

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
    /// Clients only some Task states need, built on first use (each SDK
    /// client costs start-up time in a Lambda's cold start).
    later: Arc<Later>,
}

#[derive(Debug)]
struct Later {
    credentials: Credentials,
    sns_endpoint: Option<String>,
    eventbridge_endpoint: Option<String>,
    sns: OnceLock<aws_sdk_sns::Client>,
    eventbridge: OnceLock<aws_sdk_eventbridge::Client>,
    /// Where each service's requests go, for the AWS SDK integrations.
    endpoints: Endpoints,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Where each service's requests go: `None` is AWS itself.
#[derive(Debug, Clone)]
struct Endpoints {
    default: Option<String>,
    per_service: fn(&str) -> Option<String>,
}

impl Endpoints {
    /// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`.
    fn of(&self, service: &str) -> Option<String> {
        (self.per_service)(service).or_else(|| self.default.clone())
    }
}

/// One SDK client configured with the shared region, credentials and
/// endpoint (each SDK crate has its own config types, hence a macro).
macro_rules! client {
    ($sdk:ident, $region:expr, $credentials:expr, $endpoint:expr) => {{
        let mut c = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new($region.clone()))
            .credentials_provider($credentials.clone());
        if let Some(e) = $endpoint {
            c = c.endpoint_url(e);
        }
        $sdk::Client::from_conf(c.build())
    }};
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
        let endpoints = Endpoints {
            default: endpoint,
            per_service: |s| var(&format!("AWS_ENDPOINT_URL_{s}")),
        };
        Ok(Clients::new(region, credentials, &endpoints))
    }

    /// Clients for a local stand-in (moto server) at `endpoint`.
    pub fn from_endpoint(endpoint: &str) -> Clients {
        let credentials = Credentials::new("test", "test", None, None, "local");
        let endpoints = Endpoints {
            default: Some(endpoint.to_owned()),
            per_service: |_| None,
        };
        Clients::new("us-east-1".into(), credentials, &endpoints)
    }

    fn new(region: String, credentials: Credentials, endpoints: &Endpoints) -> Clients {
        Clients {
            dynamodb: client!(
                aws_sdk_dynamodb,
                region,
                credentials,
                endpoints.of("DYNAMODB")
            ),
            sqs: client!(aws_sdk_sqs, region, credentials, endpoints.of("SQS")),
            lambda: client!(aws_sdk_lambda, region, credentials, endpoints.of("LAMBDA")),
            later: Arc::new(Later {
                credentials,
                sns_endpoint: endpoints.of("SNS"),
                eventbridge_endpoint: endpoints.of("EVENTBRIDGE"),
                sns: OnceLock::new(),
                eventbridge: OnceLock::new(),
                endpoints: endpoints.clone(),
            }),
            region,
        }
    }

    /// The credentials the clients sign with.
    pub fn credentials(&self) -> &Credentials {
        &self.later.credentials
    }

    /// Where a service's requests go (`AWS_ENDPOINT_URL_<SERVICE>`, else
    /// `AWS_ENDPOINT_URL`); `None`: AWS itself.
    pub fn endpoint(&self, service: &str) -> Option<String> {
        self.later.endpoints.of(service)
    }

    pub fn sns(&self) -> &aws_sdk_sns::Client {
        let l = &self.later;
        l.sns.get_or_init(|| {
            client!(
                aws_sdk_sns,
                self.region,
                l.credentials,
                l.sns_endpoint.clone()
            )
        })
    }

    pub fn eventbridge(&self) -> &aws_sdk_eventbridge::Client {
        let l = &self.later;
        l.eventbridge.get_or_init(|| {
            client!(
                aws_sdk_eventbridge,
                self.region,
                l.credentials,
                l.eventbridge_endpoint.clone()
            )
        })
    }
}

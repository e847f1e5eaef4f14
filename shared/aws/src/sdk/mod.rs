//! AWS SDK integrations: `arn:aws:states:::aws-sdk:<service>:<action>`, for
//! every service that speaks AWS JSON (awsJson1_0/1_1: DynamoDB, SQS, Secrets
//! Manager, SSM, KMS, Glue, Athena, ECS, Step Functions, EventBridge,
//! CloudWatch Logs, Kinesis, … 150 of them), driven by AWS's own service
//! models: `services.json` holds, per service, its endpoint prefix, signing
//! name, JSON target prefix and version, and the name Step Functions gives
//! its errors; `scripts/gen-aws-sdk-models` regenerates it from the models
//! botocore ships. No SDK crate per service: one signed HTTP call.
//!
//! As Step Functions documents them: parameters in PascalCase (converted to
//! a camelCase service's member names, and its results back), results as the
//! API returns them, errors named `<Service>.<Error>` with an `Exception`
//! suffix (`SecretsManager.ResourceNotFoundException`), so Retry and Catch
//! match them. Services of the other protocols (restJson1, restXml,
//! awsQuery, ec2Query) fail with a message saying so.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde::Deserialize;
use serde_json::{Map, Value};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use crate::Clients;

#[derive(Deserialize)]
struct Models {
    aliases: HashMap<String, String>,
    services: HashMap<String, Service>,
}

/// One service, as `services.json` keeps it.
#[derive(Deserialize)]
struct Service {
    /// The endpoint prefix (`<e>.<region>.amazonaws.com`).
    e: String,
    /// The SigV4 signing name.
    s: String,
    /// The `X-Amz-Target` prefix.
    t: String,
    /// The JSON version (`application/x-amz-json-<v>`).
    v: String,
    /// The name errors carry (`<n>.<Error>`).
    n: String,
    /// Whether the API's members are camelCase.
    c: bool,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        serde_json::from_str(include_str!("services.json")).unwrap_or(Models {
            aliases: HashMap::new(),
            services: HashMap::new(),
        })
    })
}

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(60);

fn runtime(message: String) -> StatesError {
    StatesError::custom("States.Runtime", message)
}

/// Calls `<service>:<action>` with `parameters`, blocking.
pub fn call(clients: &Clients, service: &str, action: &str, parameters: &Value) -> TaskResult {
    let m = models();
    let name = m.aliases.get(service).map_or(service, String::as_str);
    let Some(svc) = m.services.get(name) else {
        return Err(runtime(format!(
            "The AWS SDK integration aws-sdk:{service} is not available in Stepwise: it calls services that speak AWS JSON (such as dynamodb, secretsmanager, ssm, kms, glue, athena, sfn, sqs); other protocols are not there yet"
        )));
    };
    let mut operation = String::new();
    let mut chars = action.chars();
    if let Some(c) = chars.next() {
        operation.extend(c.to_uppercase());
    }
    operation.push_str(chars.as_str());
    let body = if svc.c {
        recase(parameters, false)
    } else {
        parameters.clone()
    };
    let body = if body.is_null() {
        "{}".to_owned()
    } else {
        body.to_string()
    };
    let env_name = env_name(&svc.n);
    let endpoint = clients
        .endpoint(&env_name)
        .unwrap_or_else(|| format!("https://{}.{}.amazonaws.com", svc.e, clients.region));
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let target = format!("{}.{operation}", svc.t);
    let content_type = format!("application/x-amz-json-{}", svc.v);
    let headers = [
        ("content-type", content_type.as_str()),
        ("x-amz-target", target.as_str()),
    ];
    let identity = clients.credentials().clone().into();
    let signed = v4::SigningParams::builder()
        .identity(&identity)
        .region(&clients.region)
        .name(&svc.s)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| runtime(format!("cannot sign the request: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| runtime(format!("cannot sign the request: {e}")))?;
    let (instructions, _) = sign(signable, &signed)
        .map_err(|e| runtime(format!("cannot sign the request: {e}")))?
        .into_parts();
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    let mut request = agent.post(&url);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    for (k, v) in instructions.headers() {
        request = request.set(k, v);
    }
    let response = match request.send_string(&body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Err(StatesError::custom(
                format!("{}.SdkClientException", svc.n),
                format!("Unable to execute HTTP request: {t}"),
            ));
        }
    };
    let status = response.status();
    let request_id = response
        .header("x-amzn-requestid")
        .unwrap_or_default()
        .to_owned();
    let error_header = response.header("x-amzn-errortype").map(str::to_owned);
    let text = response.into_string().unwrap_or_default();
    let parsed: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if status < 300 {
        return Ok(if svc.c { recase(&parsed, true) } else { parsed });
    }
    let code = parsed
        .get("__type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(error_header)
        .unwrap_or_else(|| format!("Http{status}"));
    let code = code.rsplit('#').next().unwrap_or(&code);
    let code = code.split(':').next().unwrap_or(code);
    let suffix = if code.ends_with("Exception") {
        ""
    } else {
        "Exception"
    };
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| parsed.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    Err(StatesError::custom(
        format!("{}.{code}{suffix}", svc.n),
        format!(
            "{message} (Service: {}, Status Code: {status}, Request ID: {request_id})",
            svc.n
        ),
    ))
}

/// `SecretsManager` → `SECRETS_MANAGER`: the service's part of
/// `AWS_ENDPOINT_URL_<SERVICE>`.
fn env_name(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Object keys with their first letter upper-cased (`up`, AWS's results as
/// Step Functions shows them) or lower-cased (parameters for a camelCase
/// API), at every depth (bounded: payloads nest at most 100 deep).
fn recase(v: &Value, up: bool) -> Value {
    recase_at(v, up, 0)
}

fn recase_at(v: &Value, up: bool, depth: usize) -> Value {
    if depth > 128 {
        return v.clone();
    }
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let mut chars = k.chars();
                    let k = match chars.next() {
                        Some(c) if up => c.to_uppercase().chain(chars).collect(),
                        Some(c) => c.to_lowercase().chain(chars).collect(),
                        None => String::new(),
                    };
                    (k, recase_at(x, up, depth + 1))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| recase_at(x, up, depth + 1)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_models_name_services_and_errors_as_step_functions_does() {
        let m = models();
        assert!(m.services.len() > 100);
        let sm = &m.services["secretsmanager"];
        assert_eq!(
            (sm.n.as_str(), sm.t.as_str(), sm.c),
            ("SecretsManager", "secretsmanager", false)
        );
        assert_eq!(m.services["dynamodb"].n, "DynamoDb");
        assert_eq!(m.aliases["sfn"], "stepfunctions");
        assert!(m.services["stepfunctions"].c);
        assert_eq!(env_name("SecretsManager"), "SECRETS_MANAGER");
    }

    #[test]
    fn camel_case_apis_get_their_member_names() {
        let v = json!({"StateMachineArn": "a", "Tags": [{"Key": "k"}]});
        assert_eq!(
            recase(&v, false),
            json!({"stateMachineArn": "a", "tags": [{"key": "k"}]})
        );
        assert_eq!(recase(&recase(&v, false), true), v);
    }
}

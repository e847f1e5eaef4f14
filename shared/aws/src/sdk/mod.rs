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
//! awsQuery, ec2Query: S3, SNS, EC2, Lambda, …) are in [`rest`], driven by
//! their operations' HTTP bindings and shapes.

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

mod rest;
mod xml;

pub(crate) use rest::uri_encode;

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
    if let Some(svc) = m.services.get(name) {
        return call_json(clients, name, svc, action, parameters);
    }
    if let Some(svc) = rest::service(name) {
        return call_rest(clients, &svc, service, action, parameters, None);
    }
    Err(runtime(format!(
        "The AWS SDK integration aws-sdk:{service} is not available: no AWS service model has that name"
    )))
}

fn call_json(
    clients: &Clients,
    model: &str,
    svc: &Service,
    action: &str,
    parameters: &Value,
) -> TaskResult {
    let mut operation = String::new();
    let mut chars = action.chars();
    if let Some(c) = chars.next() {
        operation.extend(c.to_uppercase());
    }
    operation.push_str(chars.as_str());
    let mut body = if svc.c {
        recase(parameters, false)
    } else {
        parameters.clone()
    };
    // Step Functions' own API takes a JSON document as its text (`input`,
    // `output`); given the document itself, Step Functions sends its text.
    if model == "stepfunctions"
        && let Value::Object(members) = &mut body
    {
        for (_, v) in members
            .iter_mut()
            .filter(|(k, v)| matches!(k.as_str(), "input" | "output") && !v.is_string())
        {
            *v = Value::String(v.to_string());
        }
    }
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
    let headers = vec![
        ("content-type".to_owned(), content_type),
        ("x-amz-target".to_owned(), target),
    ];
    let signing = Signing {
        name: &svc.s,
        region: &clients.region,
        s3: false,
    };
    let answer = send_maybe_signed(
        clients,
        Some(&signing),
        "POST",
        &url,
        &headers,
        body.as_bytes(),
        &svc.n,
    )?;
    let body = answer.body();
    let parsed: Value = if body.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str(&body).unwrap_or(Value::String(body.to_string()))
    };
    if answer.status < 300 {
        return Ok(if svc.c { recase(&parsed, true) } else { parsed });
    }
    let code = parsed
        .get("__type")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(answer.header("x-amzn-errortype").map(str::to_owned))
        .unwrap_or_else(|| format!("Http{}", answer.status));
    let code = code.rsplit('#').next().unwrap_or(&code);
    let code = code.split(':').next().unwrap_or(code);
    let message = ["message", "Message"]
        .iter()
        .find_map(|k| parsed.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    Err(service_error(&svc.n, model, code, message, &answer))
}

fn call_rest(
    clients: &Clients,
    svc: &rest::RestService,
    service: &str,
    action: &str,
    parameters: &Value,
    payload: Option<&[u8]>,
) -> TaskResult {
    let (op, answer) = send_rest(
        clients,
        svc,
        service,
        action,
        parameters,
        payload,
        ANSWER_LIMIT,
    )?;
    Ok(svc.result(op, answer.status, &answer.headers, &answer.body()))
}

/// Calls `<service>:<action>` of a rest service with `payload` as the
/// request's body, bytes as they are (a task's parameter would go as its
/// JSON text): the objects a ResultWriter writes.
pub(crate) fn call_with_payload(
    clients: &Clients,
    service: &str,
    action: &str,
    parameters: &Value,
    payload: &[u8],
) -> TaskResult {
    let Some(svc) = rest::service(service) else {
        return Err(runtime(format!("aws-sdk:{service} takes no payload")));
    };
    call_rest(clients, &svc, service, action, parameters, Some(payload))
}

/// Calls `<service>:<action>` of a restJson1/restXml/query service with
/// `parameters`, blocking: the answer's bytes as they came (an S3 object
/// that is not text, say).
pub(crate) fn call_raw(
    clients: &Clients,
    service: &str,
    action: &str,
    parameters: &Value,
) -> Result<Vec<u8>, StatesError> {
    let name = models()
        .aliases
        .get(service)
        .map_or(service, String::as_str);
    let Some(svc) = rest::service(name) else {
        return Err(runtime(format!("aws-sdk:{service} has no raw answers")));
    };
    let (_, answer) = send_rest(clients, &svc, service, action, parameters, None, RAW_LIMIT)?;
    if answer.truncated {
        return Err(runtime(format!(
            "The {service} answer is larger than {} MiB, the most Stepwise reads",
            RAW_LIMIT / 1024 / 1024
        )));
    }
    Ok(answer.bytes)
}

/// A successful answer to a rest service's call, with the operation's
/// model; a failed one as its `<Service>.<Code>` error.
fn send_rest<'s>(
    clients: &Clients,
    svc: &'s rest::RestService,
    service: &str,
    action: &str,
    parameters: &Value,
    payload: Option<&[u8]>,
    limit: u64,
) -> Result<(&'s rest::Operation, Answer), StatesError> {
    let Some((operation, op)) = svc.operation(action) else {
        return Err(runtime(format!(
            "The AWS SDK integration aws-sdk:{service} has no action {action}"
        )));
    };
    let mut request = svc.request(operation, op, parameters)?;
    if let Some(bytes) = payload {
        request.body = bytes.to_vec();
    }
    let custom = clients.endpoint(&svc.u);
    let (region, host) = match (&custom, &svc.g) {
        (None, Some((host, region))) => (region.clone(), format!("https://{host}")),
        _ => (
            clients.region.clone(),
            custom
                .clone()
                .unwrap_or_else(|| format!("https://{}.{}.amazonaws.com", svc.e, clients.region)),
        ),
    };
    let s3 = svc.s == "s3";
    let mut path = request.path.clone();
    let mut base = host.trim_end_matches('/').to_owned();
    // S3 on AWS: the bucket in the host name (virtual-hosted style), as new
    // buckets require; a custom endpoint (a local S3) keeps it in the path.
    if s3
        && custom.is_none()
        && let Some(bucket) = parameters.get("Bucket").and_then(Value::as_str)
        && !bucket.is_empty()
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && let Some(rest) = path.strip_prefix(&format!("/{bucket}"))
    {
        path = if rest.is_empty() || rest.starts_with('?') {
            format!("/{rest}")
        } else {
            rest.to_owned()
        };
        base = base.replacen("https://", &format!("https://{bucket}."), 1);
    }
    let url = format!("{base}{path}");
    let signing = Signing {
        name: &svc.s,
        region: &region,
        s3,
    };
    let mut headers = request.headers.clone();
    headers.extend(sign_request(
        clients,
        &signing,
        &request.method,
        &url,
        &headers,
        &request.body,
    )?);
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    let answer = send_on(
        &agent,
        &request.method,
        &url,
        &headers,
        &request.body,
        &svc.n,
        limit,
    )?;
    if answer.status < 300 {
        return Ok((op, answer));
    }
    let (mut code, message) = rest::error_code(
        &svc.p,
        answer.status,
        answer.header("x-amzn-errortype"),
        &answer.body(),
    );
    // A HEAD has no body to name the error: what the SDK names it.
    if s3 && answer.status == 404 && request.method == "HEAD" {
        code = if operation == "HeadBucket" {
            "NoSuchBucket".into()
        } else {
            "NoSuchKey".into()
        };
    }
    let model = models()
        .aliases
        .get(service)
        .map_or(service, String::as_str);
    Err(service_error(&svc.n, model, &code, &message, &answer))
}

/// How a request is signed.
pub(crate) struct Signing<'a> {
    pub name: &'a str,
    pub region: &'a str,
    /// S3's SigV4: the payload's hash in a header, the path encoded once.
    pub s3: bool,
}

/// A response, read whole.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
    /// The body was longer than the limit it was read to.
    pub truncated: bool,
}

impl Answer {
    /// The body as text (bytes that are not UTF-8 replaced).
    pub fn body(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether the model of `service` (botocore's name) names the error `code`
/// (`errors.tsv.gz`). A service the file does not know names every error.
pub(crate) fn names_error(service: &str, code: &str) -> bool {
    static ERRORS: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let errors = ERRORS.get_or_init(|| {
        use std::io::BufRead as _;
        let bytes: &[u8] = include_bytes!("errors.tsv.gz");
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(bytes));
        (reader.lines().map_while(Result::ok))
            .filter_map(|line| {
                let (name, list) = line.split_once('\t')?;
                Some((name.to_owned(), serde_json::from_str(list).ok()?))
            })
            .collect()
    });
    let bare = code.strip_suffix("Exception").unwrap_or(code);
    errors.get(service).is_none_or(|names| {
        names
            .iter()
            .any(|n| n == code || n.strip_suffix("Exception").unwrap_or(n) == bare)
    })
}

/// `<Service>.<Code>` with the SDK's `Exception` suffix, as Retry and Catch
/// see it; an error the service's model does not name is the SDK's
/// exception for the service, `<Service>.<Service>Exception` (as AWS names
/// it: `DynamoDb.DynamoDbException` for a ValidationException).
fn service_error(
    service: &str,
    model: &str,
    code: &str,
    message: &str,
    answer: &Answer,
) -> StatesError {
    let (code, suffix) = if !names_error(model, code) {
        (service, "Exception")
    } else if code.ends_with("Exception") {
        (code, "")
    } else {
        (code, "Exception")
    };
    let request_id = answer
        .header("x-amzn-requestid")
        .or(answer.header("x-amz-request-id"))
        .unwrap_or_default();
    // S3 answers with a second id of its own, which the SDK words too.
    let extended = (service == "S3").then(|| {
        let body = answer.body();
        let in_body = body
            .split_once("<HostId>")
            .and_then(|(_, rest)| rest.split_once("</HostId>"))
            .map(|(id, _)| id.to_owned());
        let id = answer.header("x-amz-id-2").map(str::to_owned).or(in_body);
        format!(", Extended Request ID: {}", id.unwrap_or_default())
    });
    StatesError::custom(
        format!("{service}.{code}{suffix}"),
        format!(
            "{message} (Service: {service}, Status Code: {}, Request ID: {request_id}{})",
            answer.status,
            extended.unwrap_or_default()
        ),
    )
}

/// The headers SigV4 adds to a request.
fn sign_request(
    clients: &Clients,
    signing: &Signing<'_>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, StatesError> {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, UriPathNormalizationMode,
    };
    let mut settings = SigningSettings::default();
    if signing.s3 {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let instructions = sign_with(clients, signing, settings, (method, url, headers, body))?;
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// A presigned GET of `url` (SigV4 in its query string, `headers` signed
/// with it) that stays valid for `expires`.
pub(crate) fn presign(
    clients: &Clients,
    signing: &Signing<'_>,
    url: &str,
    headers: &[(String, String)],
    expires: Duration,
) -> Result<String, StatesError> {
    let mut settings = SigningSettings::default();
    settings.signature_location = aws_sigv4::http_request::SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let instructions = sign_with(clients, signing, settings, ("GET", url, headers, &[]))?;
    let mut out = url.to_owned();
    for (k, v) in instructions.params() {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&uri_encode(k, true));
        out.push('=');
        out.push_str(&uri_encode(v, true));
    }
    Ok(out)
}

/// A request's method, URL, headers and body.
type Signable<'a> = (&'a str, &'a str, &'a [(String, String)], &'a [u8]);

/// SigV4 for a request, with the environment's credentials, now.
fn sign_with(
    clients: &Clients,
    signing: &Signing<'_>,
    settings: SigningSettings,
    (method, url, headers, body): Signable<'_>,
) -> Result<aws_sigv4::http_request::SigningInstructions, StatesError> {
    let failed = |e: &dyn std::fmt::Display| runtime(format!("cannot sign the request: {e}"));
    let identity = clients.credentials().clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(signing.region)
        .name(signing.name)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    Ok(instructions)
}

/// Sends a request, signed (SigV4, the standard credential chain's keys)
/// when `signing` is given; a request that cannot be made is
/// `<service>.SdkClientException`.
pub(crate) fn send_maybe_signed(
    clients: &Clients,
    signing: Option<&Signing<'_>>,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    service: &str,
) -> Result<Answer, StatesError> {
    let mut headers = headers.to_vec();
    if let Some(signing) = signing {
        headers.extend(sign_request(clients, signing, method, url, &headers, body)?);
    }
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    send_on(&agent, method, url, &headers, body, service, ANSWER_LIMIT)
}

/// The most of an answer read: a result over Step Functions' 256 KiB
/// fails the task anyway, so a little past it, not whatever an object holds.
pub(crate) const ANSWER_LIMIT: u64 = 8 * 1024 * 1024;

/// The most of an answer read as bytes ([`call_raw`]: an ItemReader's
/// data files); a larger one is an error, never a silent prefix.
const RAW_LIMIT: u64 = 64 * 1024 * 1024;

/// Sends a request on `agent` (one that trusts a given certificate, say);
/// one that cannot be made is `<service>.SdkClientException`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_on(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    service: &str,
    limit: u64,
) -> Result<Answer, StatesError> {
    let mut request = agent.request(method, url);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    let response = match request.send_bytes(body) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Err(StatesError::custom(
                format!("{service}.SdkClientException"),
                format!("Unable to execute HTTP request: {t}"),
            ));
        }
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .flat_map(|n| {
            response
                .all(&n)
                .into_iter()
                .map(|v| (n.clone(), v.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(response.into_reader(), limit + 1),
        &mut bytes,
    )
    .map_err(|e| {
        StatesError::custom(
            format!("{service}.SdkClientException"),
            format!("Unable to read the HTTP response: {e}"),
        )
    })?;
    let truncated = bytes.len() as u64 > limit;
    bytes.truncate(limit as usize);
    Ok(Answer {
        status,
        headers,
        bytes,
        truncated,
    })
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

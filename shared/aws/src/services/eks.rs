//! The Kubernetes API of an EKS cluster, as Step Functions calls it:
//!
//! - `eks:call`: `Method`, `Path`, `QueryParameters` (name → list of
//!   values), `RequestBody` against `Endpoint`; the result is
//!   `{ResponseBody, StatusCode, StatusText}`, a status of 400 or more
//!   fails the task with `EKS.<status>` and that object as the cause.
//! - `eks:runJob`: creates the `batch/v1` `Job` in `Namespace` (`default`);
//!   the result is the Job as Kubernetes answers. `.sync` follows it until
//!   a `Complete` or `Failed` condition (`States.TaskFailed` with the Job),
//!   with `LogOptions.RetrieveLogs` the pods' container logs under
//!   `logs.pods.<pod>.containers.<container>.log` (JSON where they parse,
//!   unless `RawLogs`; `error`/`cause` where one cannot be read), and
//!   deletes the Job when its task gives up on it.
//!
//! Every request carries the cluster's IAM token (`k8s-aws-v1.` and a
//! presigned STS GetCallerIdentity naming the cluster in `x-k8s-aws-id`, as
//! `aws eks get-token` makes it), over TLS that trusts the cluster's
//! `CertificateAuthority`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::{Progress, TaskResult};

use super::status_text;
use crate::Clients;
use crate::sdk::{ANSWER_LIMIT, Answer, Signing, presign, send_on, uri_encode};

/// One cluster's API: where it is, what it trusts, who we are.
struct Cluster {
    endpoint: String,
    agent: ureq::Agent,
    token: String,
}

impl Cluster {
    fn from(clients: &Clients, p: &Value, op: &str) -> Result<Cluster, StatesError> {
        let need = |field: &str| {
            p[field].as_str().ok_or_else(|| {
                StatesError::custom(
                    "States.Runtime",
                    format!("The eks:{op} task needs the parameter '{field}'"),
                )
            })
        };
        let (name, endpoint, authority) = (
            need("ClusterName")?,
            need("Endpoint")?,
            need("CertificateAuthority")?,
        );
        let endpoint = if endpoint.contains("://") {
            endpoint.trim_end_matches('/').to_owned()
        } else {
            format!("https://{}", endpoint.trim_end_matches('/'))
        };
        Ok(Cluster {
            agent: agent(authority)?,
            token: token(clients, name)?,
            endpoint,
        })
    }

    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, StatesError> {
        let mut headers = vec![
            ("Authorization".to_owned(), format!("Bearer {}", self.token)),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        let bytes = match body {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.clone().into_bytes(),
            Some(v) => v.to_string().into_bytes(),
        };
        if !bytes.is_empty() {
            let kind = if method == "PATCH" {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            headers.push(("Content-Type".to_owned(), kind.to_owned()));
        }
        let url = format!("{}{path}", self.endpoint);
        send_on(
            &self.agent,
            method,
            &url,
            &headers,
            &bytes,
            "EKS",
            ANSWER_LIMIT,
        )
    }
}

/// An agent whose TLS trusts the cluster's certificate authority (base64
/// of its PEM, as DescribeCluster gives it).
fn agent(authority: &str) -> Result<ureq::Agent, StatesError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |why: String| {
        StatesError::custom(
            "States.Runtime",
            format!("The CertificateAuthority is not a base64 PEM certificate: {why}"),
        )
    };
    let pem = base64::engine::general_purpose::STANDARD
        .decode(authority.trim())
        .map_err(|e| bad(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("it holds no certificate".to_owned()));
    }
    let config = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .tls_config(Arc::new(config))
        .build())
}

/// The IAM token for `cluster`: `k8s-aws-v1.` and the base64url of a
/// presigned STS GetCallerIdentity that names the cluster.
fn token(clients: &Clients, cluster: &str) -> Result<String, StatesError> {
    let sts = clients
        .endpoint("STS")
        .unwrap_or_else(|| format!("https://sts.{}.amazonaws.com", clients.region));
    let url = format!(
        "{}/?Action=GetCallerIdentity&Version=2011-06-15",
        sts.trim_end_matches('/')
    );
    let signing = Signing {
        name: "sts",
        region: &clients.region,
        s3: false,
    };
    let headers = [("x-k8s-aws-id".to_owned(), cluster.to_owned())];
    let url = presign(clients, &signing, &url, &headers, Duration::from_secs(60))?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url);
    Ok(format!("k8s-aws-v1.{encoded}"))
}

/// `{ResponseBody, StatusCode, StatusText}`, or `EKS.<status>` with it.
fn answered(answer: Answer) -> TaskResult {
    let body = serde_json::from_str(&answer.body())
        .unwrap_or_else(|_| Value::String(answer.body().into_owned()));
    let status = answer.status;
    let out = json!({
        "ResponseBody": body,
        "StatusCode": status,
        "StatusText": status_text(status),
    });
    if status >= 400 {
        return Err(StatesError::custom(
            format!("EKS.{status}"),
            out.to_string(),
        ));
    }
    Ok(out)
}

/// `eks:call`.
pub fn call(clients: &Clients, p: &Value) -> TaskResult {
    let cluster = Cluster::from(clients, p, "call")?;
    let method = p["Method"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"].contains(&method.as_str()) {
        return Err(StatesError::custom(
            "States.Runtime",
            "The eks:call task's Method must be one of GET, POST, PUT, DELETE, HEAD, PATCH",
        ));
    }
    let Some(path) = p["Path"].as_str().filter(|p| p.starts_with('/')) else {
        return Err(StatesError::custom(
            "States.Runtime",
            "The eks:call task needs a Path that starts with '/'",
        ));
    };
    let path = format!("{path}{}", query(&p["QueryParameters"]));
    answered(cluster.send(&method, &path, p.get("RequestBody"))?)
}

/// `?name=value&…` from a map of names to lists of values (or values).
fn query(parameters: &Value) -> String {
    let mut out = String::new();
    for (name, values) in parameters.as_object().into_iter().flatten() {
        let values = match values {
            Value::Array(list) => list.clone(),
            one => vec![one.clone()],
        };
        for v in values {
            let v = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            out.push(if out.is_empty() { '?' } else { '&' });
            out.push_str(&uri_encode(name, true));
            out.push('=');
            out.push_str(&uri_encode(&v, true));
        }
    }
    out
}

/// `eks:runJob`: creates the Job; the answer is the Job as created.
pub fn start_job(clients: &Clients, p: &Value) -> TaskResult {
    let cluster = Cluster::from(clients, p, "runJob")?;
    let job = match &p["Job"] {
        Value::String(s) => serde_json::from_str(s).map_err(|e| {
            StatesError::custom("States.Runtime", format!("The Job is not JSON: {e}"))
        })?,
        Value::Object(_) => p["Job"].clone(),
        _ => {
            return Err(StatesError::custom(
                "States.Runtime",
                "The eks:runJob task needs the parameter 'Job' (a batch/v1 Job)",
            ));
        }
    };
    let created = answered(cluster.send("POST", &jobs(p), Some(&job))?)?;
    Ok(created["ResponseBody"].clone())
}

/// The namespace's jobs: `/apis/batch/v1/namespaces/<Namespace>/jobs`.
fn jobs(p: &Value) -> String {
    let namespace = p["Namespace"].as_str().unwrap_or("default");
    format!(
        "/apis/batch/v1/namespaces/{}/jobs",
        uri_encode(namespace, true)
    )
}

/// One look at a Job `eks:runJob.sync` created (`created`): running, or
/// ended (`Complete`: the Job, with its logs when asked; `Failed`:
/// `States.TaskFailed` with the Job). With `stop`: deleted.
pub fn look_job(clients: &Clients, p: &Value, created: &Value, stop: bool) -> Progress {
    let looked = (|| {
        let cluster = Cluster::from(clients, p, "runJob")?;
        let Some(name) = created["metadata"]["name"].as_str() else {
            return Ok(Progress::Done(Ok(created.clone())));
        };
        let at = format!("{}/{}", jobs(p), uri_encode(name, true));
        if stop {
            // Best effort: the task has already ended.
            let _ = cluster.send(
                "DELETE",
                &format!("{at}?propagationPolicy=Foreground"),
                None,
            );
            return Err(StatesError::custom(
                "States.TaskFailed",
                "The task no longer waits for the job: it was deleted",
            ));
        }
        let mut job = answered(cluster.send("GET", &at, None)?)?["ResponseBody"].take();
        let ended = |kind: &str| {
            job["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == kind && c["status"] == "True")
        };
        let (complete, failed) = (ended("Complete"), ended("Failed"));
        if !complete && !failed {
            return Ok(Progress::Running);
        }
        if p["LogOptions"]["RetrieveLogs"] == true {
            let namespace = p["Namespace"].as_str().unwrap_or("default");
            job["logs"] = logs(&cluster, namespace, name, &p["LogOptions"]);
        }
        Ok(Progress::Done(if complete {
            Ok(job)
        } else {
            Err(StatesError::custom("States.TaskFailed", job.to_string()))
        }))
    })();
    looked.unwrap_or_else(|e| Progress::Done(Err(e)))
}

/// `{"pods": {<pod>: {"containers": {<container>: {"log": …}}}}}` for the
/// job's pods, each log read on its own (an unreadable one is
/// `{error, cause}`).
fn logs(cluster: &Cluster, namespace: &str, job: &str, options: &Value) -> Value {
    let ns = uri_encode(namespace, true);
    let listed = cluster.send(
        "GET",
        &format!(
            "/api/v1/namespaces/{ns}/pods?labelSelector={}",
            uri_encode(&format!("job-name={job}"), true)
        ),
        None,
    );
    let pods = match listed.map(answered) {
        Ok(Ok(list)) => list["ResponseBody"]["items"].clone(),
        Ok(Err(e)) | Err(e) => return json!({"error": e.error, "cause": e.cause}),
    };
    let mut out = Map::new();
    for pod in pods.as_array().into_iter().flatten() {
        let Some(name) = pod["metadata"]["name"].as_str() else {
            continue;
        };
        let mut containers = Map::new();
        for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let Some(container) = c["name"].as_str() else {
                continue;
            };
            let mut params = options["LogParameters"].clone();
            if let Some(o) = params.as_object_mut() {
                o.insert("container".into(), json!([container]));
            } else {
                params = json!({"container": [container]});
            }
            let path = format!(
                "/api/v1/namespaces/{ns}/pods/{}/log{}",
                uri_encode(name, true),
                query(&params)
            );
            let entry = match cluster.send("GET", &path, None) {
                Ok(a) if a.status < 400 => {
                    let parsed = serde_json::from_str::<Value>(&a.body()).ok();
                    match parsed.filter(|_| options["RawLogs"] != true) {
                        Some(v) => json!({"log": v}),
                        None => json!({"log": a.body()}),
                    }
                }
                Ok(a) => match answered(a) {
                    Err(e) => json!({"error": e.error, "cause": e.cause}),
                    Ok(_) => json!({}),
                },
                Err(e) => json!({"error": e.error, "cause": e.cause}),
            };
            containers.insert(container.to_owned(), entry);
        }
        out.insert(name.to_owned(), json!({"containers": containers}));
    }
    json!({"pods": out})
}

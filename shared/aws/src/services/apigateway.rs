//! `arn:aws:states:::apigateway:invoke`: calls an API Gateway endpoint
//! (`https://<ApiEndpoint>/<Stage>/<Path>?<QueryParameters>`, `Headers` and
//! `QueryParameters` as lists of values, `RequestBody` as JSON or text),
//! signed with SigV4 for `execute-api` when `AuthType` is `IAM_ROLE` or
//! `RESOURCE_POLICY`. The result is `{"ResponseBody", "Headers",
//! "StatusCode", "StatusText"}`; any status but 2xx fails the task with
//! `ApiGateway.<status>` and the body as the cause.

use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use super::status_text;
use crate::Clients;
use crate::sdk::{Signing, send_maybe_signed, uri_encode};

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Headers Step Functions does not let a task set.
fn forbidden(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-forwarded")
        || n.starts_with("x-amz")
        || [
            "authorization",
            "connection",
            "content-md5",
            "expect",
            "host",
            "max-forwards",
            "proxy-authenticate",
            "server",
            "te",
            "transfer-encoding",
            "trailer",
            "upgrade",
            "via",
            "www-authenticate",
        ]
        .contains(&n.as_str())
}

fn invalid(message: String) -> StatesError {
    StatesError::custom("States.Runtime", message)
}

/// A header or query parameter's values: a list, or one value.
fn values(v: &Value) -> Vec<String> {
    let text = |x: &Value| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Value::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    }
}

pub fn invoke(clients: &Clients, p: &Value) -> TaskResult {
    let endpoint = p["ApiEndpoint"].as_str().ok_or_else(|| {
        invalid("The apigateway:invoke task needs the parameter 'ApiEndpoint'".into())
    })?;
    let method = p["Method"]
        .as_str()
        .filter(|m| METHODS.contains(m))
        .ok_or_else(|| {
            invalid(format!(
                "The apigateway:invoke task's 'Method' must be one of {}",
                METHODS.join(", ")
            ))
        })?;
    // A bare host name is AWS's form; a URL with a scheme reaches a local
    // server.
    let base = if endpoint.contains("://") {
        endpoint.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", endpoint.trim_end_matches('/'))
    };
    let mut path = String::new();
    for part in [p["Stage"].as_str(), p["Path"].as_str()]
        .into_iter()
        .flatten()
    {
        let part = part.trim_matches('/');
        if !part.is_empty() {
            path.push('/');
            path.push_str(part);
        }
    }
    let mut url = format!("{base}{}", if path.is_empty() { "/" } else { &path });
    if let Some(q) = p["QueryParameters"].as_object()
        && !q.is_empty()
    {
        let pairs: Vec<String> = q
            .iter()
            .flat_map(|(k, v)| {
                values(v)
                    .into_iter()
                    .map(move |x| format!("{}={}", uri_encode(k, true), uri_encode(&x, true)))
            })
            .collect();
        url = format!("{url}?{}", pairs.join("&"));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in p["Headers"].as_object().into_iter().flatten() {
        if forbidden(k) {
            return Err(invalid(format!(
                "The header '{k}' is not permitted in an apigateway:invoke task"
            )));
        }
        headers.push((k.clone(), values(v).join(",")));
    }
    let body = match &p["RequestBody"] {
        Value::Null => Vec::new(),
        Value::String(s) => s.clone().into_bytes(),
        other => {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            other.to_string().into_bytes()
        }
    };
    let region = endpoint
        .split('.')
        .skip_while(|s| *s != "execute-api")
        .nth(1)
        .unwrap_or(&clients.region)
        .to_owned();
    let signing = Signing {
        name: "execute-api",
        region: &region,
        s3: false,
    };
    let signed = matches!(p["AuthType"].as_str(), Some("IAM_ROLE" | "RESOURCE_POLICY"));
    let answer = send_maybe_signed(
        clients,
        signed.then_some(&signing),
        method,
        &url,
        &headers,
        &body,
        "ApiGateway",
    )?;
    if !(200..300).contains(&answer.status) {
        return Err(StatesError::custom(
            format!("ApiGateway.{}", answer.status),
            answer.body(),
        ));
    }
    let mut listed: Map<String, Value> = Map::new();
    for (k, v) in &answer.headers {
        if let Value::Array(a) = listed.entry(k.clone()).or_insert_with(|| json!([])) {
            a.push(v.clone().into());
        }
    }
    let response_body = if answer.bytes.is_empty() {
        Value::String(String::new())
    } else {
        serde_json::from_str(&answer.body())
            .unwrap_or_else(|_| Value::String(answer.body().into_owned()))
    };
    Ok(json!({
        "ResponseBody": response_body,
        "Headers": listed,
        "StatusCode": answer.status,
        "StatusText": status_text(answer.status),
    }))
}

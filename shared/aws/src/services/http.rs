//! The HTTP Task, `arn:aws:states:::http:invoke`: `ApiEndpoint`, `Method`,
//! `Headers`, `QueryParameters`, `RequestBody` and `Transform`
//! (`RequestBodyEncoding: URL_ENCODED` with `RequestEncodingOptions.ArrayFormat`
//! `INDICES` (the default), `REPEAT`, `COMMAS` or `BRACKETS`).
//!
//! The result is `{Headers, ResponseBody, StatusCode, StatusText}`, the body
//! parsed when it is JSON. A status outside 2xx fails the task with
//! `States.Http.StatusCode.<code>` (the cause is that result as JSON); a
//! connection that cannot be made or a call over 60 s fails it with
//! `States.Http.Socket`. `Authentication.ConnectionArn` is accepted but its
//! EventBridge connection's credentials are not applied: put what the API
//! needs in `Headers`.

use std::time::Duration;

use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

const OP: &str = "http:invoke";
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
/// AWS gives an HTTP Task 60 seconds.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A scalar as it goes into a query string or form: strings bare, other
/// JSON as its text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `key=value` pairs for an object, nested keys as `a[b]`, arrays per
/// `ArrayFormat`.
fn pairs(prefix: &str, v: &Value, arrays: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}[{k}]")
                };
                pairs(&key, x, arrays, out);
            }
        }
        Value::Array(items) => match arrays {
            "COMMAS" => {
                let joined: Vec<String> = items.iter().map(scalar).collect();
                out.push((prefix.to_owned(), joined.join(",")));
            }
            "REPEAT" => items.iter().for_each(|x| pairs(prefix, x, arrays, out)),
            "BRACKETS" => items
                .iter()
                .for_each(|x| pairs(&format!("{prefix}[]"), x, arrays, out)),
            _ => items
                .iter()
                .enumerate()
                .for_each(|(i, x)| pairs(&format!("{prefix}[{i}]"), x, arrays, out)),
        },
        other => out.push((prefix.to_owned(), scalar(other))),
    }
}

/// `application/x-www-form-urlencoded` text.
fn form(pairs: &[(String, String)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Carries out the call (blocking: run it off the async threads).
pub fn invoke(p: &Value) -> TaskResult {
    let endpoint = p["ApiEndpoint"]
        .as_str()
        .ok_or_else(|| super::missing("ApiEndpoint", OP))?;
    let method = p["Method"]
        .as_str()
        .ok_or_else(|| super::missing("Method", OP))?
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(super::invalid(format!(
            "The http:invoke Method must be one of {}, not '{method}'",
            METHODS.join(", ")
        )));
    }
    let agent = ureq::AgentBuilder::new().timeout(TIMEOUT).build();
    let mut request = agent.request(&method, endpoint);
    if let Some(query) = p["QueryParameters"].as_object() {
        let mut q = Vec::new();
        pairs("", &Value::Object(query.clone()), "REPEAT", &mut q);
        for (k, v) in &q {
            request = request.query(k, v);
        }
    }
    let mut content_type = None;
    if let Some(headers) = p["Headers"].as_object() {
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("content-type") {
                content_type = Some(scalar(v));
            }
            request = request.set(k, &scalar(v));
        }
    }
    let transform = &p["Transform"];
    let body = match &p["RequestBody"] {
        Value::Null => None,
        b if transform["RequestBodyEncoding"] == "URL_ENCODED" => {
            let arrays = transform["RequestEncodingOptions"]["ArrayFormat"]
                .as_str()
                .unwrap_or("INDICES");
            let mut fields = Vec::new();
            pairs("", b, arrays, &mut fields);
            content_type.get_or_insert_with(|| "application/x-www-form-urlencoded".into());
            Some(form(&fields))
        }
        Value::String(s) => Some(s.clone()),
        b => {
            content_type.get_or_insert_with(|| "application/json".into());
            Some(b.to_string())
        }
    };
    if let Some(t) = &content_type {
        request = request.set("Content-Type", t);
    }
    let sent = match &body {
        Some(b) => request.send_string(b),
        None => request.call(),
    };
    let response = match sent {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Err(StatesError::custom(
                "States.Http.Socket",
                format!("The HTTP request to {endpoint} failed: {t}"),
            ));
        }
    };
    let status = response.status();
    let mut headers = Map::new();
    for name in response.headers_names() {
        let values: Vec<Value> = response.all(&name).into_iter().map(Value::from).collect();
        headers.insert(name.to_ascii_lowercase(), Value::Array(values));
    }
    let status_text = response.status_text().to_owned();
    let is_json = response.content_type().contains("json");
    let text = response.into_string().map_err(|e| {
        StatesError::custom(
            "States.Http.Socket",
            format!("Reading the response from {endpoint} failed: {e}"),
        )
    })?;
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(v) if is_json => v,
        _ => Value::String(text),
    };
    let result = json!({
        "Headers": headers,
        "ResponseBody": body,
        "StatusCode": status,
        "StatusText": status_text,
    });
    if !(200..300).contains(&status) {
        return Err(StatesError::custom(
            format!("States.Http.StatusCode.{status}"),
            result.to_string(),
        ));
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_encode_arrays_and_nested_objects_per_array_format() {
        let body = json!({"a": [1, 2], "b": {"c": "x y"}});
        let encoded = |arrays| {
            let mut out = Vec::new();
            pairs("", &body, arrays, &mut out);
            form(&out)
        };
        assert_eq!(encoded("INDICES"), "a%5B0%5D=1&a%5B1%5D=2&b%5Bc%5D=x+y");
        assert_eq!(encoded("REPEAT"), "a=1&a=2&b%5Bc%5D=x+y");
        assert_eq!(encoded("COMMAS"), "a=1%2C2&b%5Bc%5D=x+y");
        assert_eq!(encoded("BRACKETS"), "a%5B%5D=1&a%5B%5D=2&b%5Bc%5D=x+y");
    }

    #[test]
    fn an_unknown_method_is_refused_before_any_call() {
        let e =
            invoke(&json!({"ApiEndpoint": "http://127.0.0.1:9/", "Method": "FETCH"})).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.Runtime"));
    }

    #[test]
    fn a_refused_connection_is_a_socket_error() {
        let e =
            invoke(&json!({"ApiEndpoint": "http://127.0.0.1:9/", "Method": "GET"})).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.Http.Socket"));
    }
}

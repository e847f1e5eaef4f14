//! `/console/executions/{arn}`: one execution's status, graph, states and
//! events, with the buttons that act on it. The sections marked
//! `data-live` are what the script replaces each second while it runs.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use axum::extract::Path;
use axum::response::Response;
use serde_json::{Value, json};
use stepwise_engine::api::{ApiError, Service};

use super::html::{details, encode, esc, machine_href, pre, pre_text, status, time};
use super::{Shared, error_page, history};

async fn page_for(service: &dyn Service, arn: &str) -> Result<(String, String), ApiError> {
    let d = service
        .call("DescribeExecution", json!({"executionArn": arn}))
        .await?;
    let events = history(service, arn).await?;
    let name = d["name"].as_str().unwrap_or(arn).to_owned();
    let run = d["status"].as_str().unwrap_or_default();
    let main = format!(
        "<main data-status=\"{run_attr}\">{crumbs}<h1>{title}</h1>\
         <div class=\"split\"><div>{summary}{actions}{tokens}</div>\
         <div><h2 class=\"first\">Graph</h2><div class=\"graph\"><img id=\"graph\" src=\"{src}\" data-src=\"{src}\" \
         alt=\"The graph of {title}, each state coloured by what happened to it\"></div></div></div>\
         {states}{events}</main>",
        run_attr = esc(run),
        crumbs = crumbs(&d),
        title = esc(&name),
        summary = summary(&d),
        actions = actions(arn, run),
        tokens = tokens(if run == "RUNNING" {
            waiting(&events)
        } else {
            Vec::new()
        }),
        src = format_args!("/console/graph.svg?executionArn={}", encode(arn)),
        states = states(&events),
        events = event_table(&events),
    );
    Ok((name, main))
}

pub async fn page(axum::extract::State(service): Shared, Path(arn): Path<String>) -> Response {
    match page_for(service.as_ref(), &arn).await {
        Ok((title, main)) => super::page(&title, &main),
        Err(e) => error_page(&e),
    }
}

fn crumbs(d: &Value) -> String {
    let machine = d["stateMachineArn"].as_str().unwrap_or_default();
    let name = machine.rsplit(':').next().unwrap_or(machine);
    format!(
        "<p class=\"crumbs\"><a href=\"/console/\">State machines</a> › \
         <a href=\"{}\">{}</a> ›</p>",
        esc(&machine_href(machine)),
        esc(name)
    )
}

fn summary(d: &Value) -> String {
    let mut out = String::from("<section id=\"summary\" data-live><dl>");
    let _ = write!(
        out,
        "<dt>Status</dt><dd id=\"status\">{}</dd><dt>Started</dt><dd>{}</dd><dt>Stopped</dt><dd>{}</dd>",
        status(d["status"].as_str().unwrap_or_default()),
        time(d.get("startDate")),
        time(d.get("stopDate")),
    );
    if let Some(n) = d.get("redriveCount") {
        let _ = write!(out, "<dt>Redrives</dt><dd>{n}</dd>");
    }
    let _ = write!(
        out,
        "<dt>ARN</dt><dd><code>{}</code></dd></dl>",
        esc(d["executionArn"].as_str().unwrap_or_default())
    );
    if d.get("error").is_some() || d.get("cause").is_some() {
        let _ = write!(
            out,
            "<div class=\"failure\" role=\"alert\"><p><strong>Error:</strong> <code id=\"error\">{}</code></p>\
             <p><strong>Cause:</strong></p>{}</div>",
            esc(d["error"].as_str().unwrap_or_default()),
            pre_text(d.get("cause")),
        );
    }
    let _ = write!(
        out,
        "<h2>Input</h2>{}{}</section>",
        pre(d.get("input")),
        d.get("output").map_or(String::new(), |o| format!(
            "<h2>Output</h2>{}",
            pre(Some(o))
        ))
    );
    out
}

fn actions(arn: &str, run: &str) -> String {
    let arn = esc(arn);
    let mut out = String::from("<section id=\"actions\" data-live class=\"row\">");
    if run == "RUNNING" {
        let _ = write!(
            out,
            "<form data-action=\"StopExecution\"><input type=\"hidden\" name=\"executionArn\" value=\"{arn}\">\
             <button type=\"submit\" class=\"danger\">Stop execution</button></form>"
        );
    }
    if matches!(run, "FAILED" | "TIMED_OUT" | "ABORTED") {
        let _ = write!(
            out,
            "<form data-action=\"RedriveExecution\"><input type=\"hidden\" name=\"executionArn\" value=\"{arn}\">\
             <button type=\"submit\" class=\"secondary\">Redrive</button></form>"
        );
    }
    out.push_str("</section>");
    out
}

/// The events that end a task, and so use up its token.
const TASK_ENDS: [&str; 5] = [
    "TaskSucceeded",
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
];

/// The tokens that tasks still wait on: `(state, token)` for each string
/// of 48 hex digits in the parameters of a TaskScheduled event that no
/// TaskSucceeded, TaskFailed, … leads back to (through `previousEventId`).
pub fn waiting(events: &[Value]) -> Vec<(String, String)> {
    let by_id: HashMap<i64, &Value> = events
        .iter()
        .filter_map(|e| Some((e["id"].as_i64()?, e)))
        .collect();
    let mut ended = Vec::new();
    for e in events
        .iter()
        .filter(|e| TASK_ENDS.contains(&e["type"].as_str().unwrap_or("")))
    {
        let mut at = e;
        // A task's events are a short chain; a cycle cannot hold this up.
        for _ in 0..8 {
            let Some(previous) = at["previousEventId"].as_i64().and_then(|p| by_id.get(&p)) else {
                break;
            };
            at = previous;
            if at["type"] == "TaskScheduled" {
                ended.push(at["id"].as_i64());
                break;
            }
        }
    }
    let mut state = String::new();
    let mut out = Vec::new();
    for e in events {
        let kind = e["type"].as_str().unwrap_or_default();
        if kind.ends_with("StateEntered") {
            state = e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        if kind != "TaskScheduled" || ended.contains(&e["id"].as_i64()) {
            continue;
        }
        let parameters = &e["taskScheduledEventDetails"]["parameters"];
        let parsed = parameters
            .as_str()
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        let mut found = Vec::new();
        find_tokens(parsed.as_ref().unwrap_or(parameters), &mut found);
        out.extend(found.into_iter().map(|t| (state.clone(), t)));
    }
    out
}

fn find_tokens(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() == 48 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            out.push(s.clone())
        }
        Value::Array(items) => items.iter().for_each(|v| find_tokens(v, out)),
        Value::Object(members) => members.values().for_each(|v| find_tokens(v, out)),
        _ => {}
    }
}

fn tokens(waiting: Vec<(String, String)>) -> String {
    let mut out = String::from("<section id=\"tokens\" data-live>");
    for (i, (state, token)) in waiting.iter().enumerate() {
        let (state, token) = (esc(state), esc(token));
        let _ = write!(
            out,
            "<h2>Task {state} waits for a callback</h2>\
             <p>Task token: <code class=\"task-token\">{token}</code></p>\
             <div class=\"row\"><form class=\"panel\" data-action=\"SendTaskSuccess\">\
             <input type=\"hidden\" name=\"taskToken\" value=\"{token}\">\
             <label for=\"output-{i}\">Output (JSON)</label>\
             <textarea id=\"output-{i}\" name=\"output\" data-json required>{{}}</textarea>\
             <button type=\"submit\">Send success</button></form>\
             <form class=\"panel\" data-action=\"SendTaskFailure\">\
             <input type=\"hidden\" name=\"taskToken\" value=\"{token}\">\
             <label for=\"error-{i}\">Error</label><input type=\"text\" id=\"error-{i}\" name=\"error\">\
             <label for=\"cause-{i}\">Cause</label><input type=\"text\" id=\"cause-{i}\" name=\"cause\">\
             <button type=\"submit\" class=\"danger\">Send failure</button></form></div>"
        );
    }
    out.push_str("</section>");
    out
}

/// Each state entered, with its input and (once it exits) its output:
/// entries and exits of one name are paired in order (a Map's iterations
/// enter the same states many times).
fn states(events: &[Value]) -> String {
    struct Row<'a> {
        name: &'a str,
        entered: Option<&'a Value>,
        exited: Option<&'a Value>,
        input: Option<&'a Value>,
        output: Option<&'a Value>,
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut open: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for e in events {
        let kind = e["type"].as_str().unwrap_or_default();
        if kind.ends_with("StateEntered") {
            let d = &e["stateEnteredEventDetails"];
            let name = d["name"].as_str().unwrap_or_default();
            open.entry(name).or_default().push_back(rows.len());
            rows.push(Row {
                name,
                entered: e.get("timestamp"),
                exited: None,
                input: d.get("input"),
                output: None,
            });
        } else if kind.ends_with("StateExited") {
            let d = &e["stateExitedEventDetails"];
            let name = d["name"].as_str().unwrap_or_default();
            if let Some(i) = open.get_mut(name).and_then(VecDeque::pop_front) {
                rows[i].exited = e.get("timestamp");
                rows[i].output = d.get("output");
            }
        }
    }
    let mut out = String::from(
        "<section id=\"states\" data-live><h2>States</h2><table><thead><tr>\
         <th scope=\"col\">State</th><th scope=\"col\">Entered</th><th scope=\"col\">Exited</th>\
         <th scope=\"col\">Input</th><th scope=\"col\">Output</th></tr></thead><tbody>",
    );
    for r in &rows {
        let _ = write!(
            out,
            "<tr><td class=\"state-name\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(r.name),
            time(r.entered),
            time(r.exited),
            pre(r.input),
            pre(r.output),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

fn event_table(events: &[Value]) -> String {
    let mut out = format!(
        "<section id=\"events\" data-live><h2>Events ({})</h2><table><thead><tr>\
         <th scope=\"col\">ID</th><th scope=\"col\">Type</th><th scope=\"col\">Timestamp</th>\
         <th scope=\"col\">Details</th></tr></thead><tbody>",
        events.len()
    );
    for e in events {
        let detail = e
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails")))
            .map_or(String::new(), |(_, v)| {
                format!("<pre>{}</pre>", esc(&details(v)))
            });
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{detail}</td></tr>",
            e["id"],
            esc(e["type"].as_str().unwrap_or_default()),
            time(e.get("timestamp")),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "9c443f638975fc58d7d5800d916dfed4ed6bed380a813815";

    fn scheduled() -> Vec<Value> {
        vec![
            json!({"id": 2, "previousEventId": 0, "type": "TaskStateEntered",
                   "stateEnteredEventDetails": {"name": "Ask"}}),
            json!({"id": 3, "previousEventId": 2, "type": "TaskScheduled",
                   "taskScheduledEventDetails": {"parameters":
                       format!("{{\"QueueUrl\":\"q\",\"MessageBody\":{{\"token\":\"{TOKEN}\"}}}}")}}),
            json!({"id": 4, "previousEventId": 3, "type": "TaskStarted"}),
        ]
    }

    #[test]
    fn a_scheduled_task_waits_on_the_token_in_its_parameters() {
        assert_eq!(
            waiting(&scheduled()),
            vec![("Ask".to_owned(), TOKEN.to_owned())]
        );
    }

    #[test]
    fn a_task_that_succeeded_waits_no_more() {
        let mut events = scheduled();
        events.push(json!({"id": 5, "previousEventId": 4, "type": "TaskSucceeded"}));
        assert!(waiting(&events).is_empty());
    }
}

//! `/console/`: the state machines; `/console/state-machines/{arn}`: one
//! machine's graph, definition, executions and a form to start one.

use std::fmt::Write as _;
use stepwise_engine::executions::STATUSES;

use axum::extract::Path;
use axum::http::Uri;
use axum::response::Response;
use serde_json::{Value, json};
use stepwise_engine::api::{ApiError, Service};

use super::html::{esc, execution_href, machine_href, options, pre, status, time};
use super::{Shared, error_page, page};

/// How many of a list's items a page shows.
const SHOWN: u64 = 100;

/// How many items a list action returns for `request` (one page of up to
/// 1000: enough for a count on a local server), or `None` when it fails.
async fn count(service: &dyn Service, action: &str, request: Value, key: &str) -> Option<usize> {
    let mut request = request;
    request["maxResults"] = json!(1000);
    let answer = service.call(action, request).await.ok()?;
    answer[key].as_array().map(Vec::len)
}

pub async fn index(axum::extract::State(service): Shared) -> Response {
    match list(service.as_ref()).await {
        Ok(main) => page("State machines", &main),
        Err(e) => error_page(&e),
    }
}

async fn list(service: &dyn Service) -> Result<String, ApiError> {
    let mut machines = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"maxResults": 1000});
        if let Some(t) = &token {
            request["nextToken"] = json!(t);
        }
        let answer = service.call("ListStateMachines", request).await?;
        machines.extend(
            answer["stateMachines"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        token = answer["nextToken"].as_str().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut rows = String::new();
    for m in &machines {
        let arn = m["stateMachineArn"].as_str().unwrap_or_default();
        let by_arn = json!({"stateMachineArn": arn});
        let versions = count(
            service,
            "ListStateMachineVersions",
            by_arn.clone(),
            "stateMachineVersions",
        )
        .await;
        let aliases = count(
            service,
            "ListStateMachineAliases",
            by_arn,
            "stateMachineAliases",
        )
        .await;
        let shown = |n: Option<usize>| n.map_or("–".to_owned(), |n| n.to_string());
        let _ = write!(
            rows,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&machine_href(arn)),
            esc(m["name"].as_str().unwrap_or(arn)),
            esc(m["type"].as_str().unwrap_or_default()),
            time(m.get("creationDate")),
            shown(versions),
            shown(aliases),
        );
    }
    let table = if machines.is_empty() {
        "<p class=\"muted\">No state machines yet: create one with the AWS CLI or an SDK \
         (<code>aws stepfunctions create-state-machine --endpoint-url …</code>).</p>"
            .to_owned()
    } else {
        format!(
            "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Type</th>\
             <th scope=\"col\">Created</th><th scope=\"col\">Versions</th><th scope=\"col\">Aliases</th>\
             </tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    Ok(format!(
        "<main><h1>State machines ({})</h1>{table}</main>",
        machines.len()
    ))
}

pub async fn machine(
    axum::extract::State(service): Shared,
    Path(arn): Path<String>,
    uri: Uri,
) -> Response {
    let filter = super::html::query(uri.query())
        .remove("status")
        .filter(|s| STATUSES.contains(&s.as_str()))
        .unwrap_or_default();
    match machine_main(service.as_ref(), &arn, &filter).await {
        Ok((title, main)) => page(&title, &main),
        Err(e) => error_page(&e),
    }
}

async fn machine_main(
    service: &dyn Service,
    arn: &str,
    filter: &str,
) -> Result<(String, String), ApiError> {
    let m = service
        .call("DescribeStateMachine", json!({"stateMachineArn": arn}))
        .await?;
    let name = m["name"].as_str().unwrap_or(arn).to_owned();
    let mut request = json!({"stateMachineArn": arn, "maxResults": SHOWN});
    if !filter.is_empty() {
        request["statusFilter"] = json!(filter);
    }
    let listed = service.call("ListExecutions", request).await?;
    let executions = listed["executions"].as_array().cloned().unwrap_or_default();
    let mut rows = String::new();
    for e in &executions {
        let earn = e["executionArn"].as_str().unwrap_or_default();
        let _ = write!(
            rows,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&execution_href(earn)),
            esc(e["name"].as_str().unwrap_or(earn)),
            status(e["status"].as_str().unwrap_or_default()),
            time(e.get("startDate")),
            time(e.get("stopDate")),
        );
    }
    let more = if listed["nextToken"].is_string() {
        format!("<p class=\"muted\">The {SHOWN} most recent are shown.</p>")
    } else {
        String::new()
    };
    let table = if executions.is_empty() {
        "<p class=\"muted\">No executions.</p>".to_owned()
    } else {
        format!(
            "<table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Status</th>\
             <th scope=\"col\">Started</th><th scope=\"col\">Stopped</th></tr></thead>\
             <tbody>{rows}</tbody></table>{more}"
        )
    };
    let arn_attr = esc(arn);
    let main = format!(
        "<main><p class=\"crumbs\"><a href=\"/console/\">State machines</a> ›</p>\
         <h1>{name}</h1>\
         <dl><dt>ARN</dt><dd><code>{arn_attr}</code></dd><dt>Type</dt><dd>{kind}</dd>\
         <dt>Status</dt><dd>{machine_status}</dd><dt>Created</dt><dd>{created}</dd>\
         <dt>Role</dt><dd><code>{role}</code></dd></dl>\
         <h2>Start an execution</h2>\
         <form class=\"panel\" data-action=\"StartExecution\">\
         <input type=\"hidden\" name=\"stateMachineArn\" value=\"{arn_attr}\">\
         <label for=\"name\">Name (optional)</label><input type=\"text\" id=\"name\" name=\"name\" size=\"40\">\
         <label for=\"input\">Input (JSON)</label>\
         <textarea id=\"input\" name=\"input\" data-json required>{{}}</textarea>\
         <button type=\"submit\">Start execution</button></form>\
         <h2 id=\"executions\">Executions</h2>\
         <form class=\"row\" method=\"get\" action=\"#executions\">\
         <div><label for=\"status\">Status</label><select id=\"status\" name=\"status\">{statuses}</select></div>\
         <button type=\"submit\" class=\"secondary\">Filter</button></form>{table}\
         <h2>Graph</h2><div class=\"graph\"><img id=\"graph\" src=\"/console/graph.svg?stateMachineArn={enc}\" \
         alt=\"The graph of {name}\"></div>\
         <h2>Definition</h2>{definition}</main>",
        name = esc(&name),
        kind = esc(m["type"].as_str().unwrap_or_default()),
        machine_status = esc(m["status"].as_str().unwrap_or_default()),
        created = time(m.get("creationDate")),
        role = esc(m["roleArn"].as_str().unwrap_or_default()),
        statuses = options(&[&[""][..], &STATUSES[..]].concat(), filter),
        enc = super::html::encode(arn),
        definition = pre(m.get("definition")),
    );
    Ok((name, main))
}

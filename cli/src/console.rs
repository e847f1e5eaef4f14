//! The web console at `/console/` of `stepwise serve`: state machines,
//! their executions, an execution's graph coloured live, its events, and
//! the buttons that stop, redrive or answer it.
//!
//! The pages are rendered here from the same [`Service`] the API serves,
//! so they read without JavaScript; the one small script
//! ([`stepwise_console::JS`]) sends the forms to the API at `POST /` as any
//! client does and refreshes an execution's page while it runs. The graph
//! is a picture from `GET /console/graph.svg`, drawn by
//! [`stepwise_console::graph`]. Everything is in the binary: it works
//! offline, with no front-end build.

mod execution;
mod html;
mod machines;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};
use stepwise_engine::api::{ApiError, Service};

type Shared = State<Arc<dyn Service>>;

/// The console's routes, merged into the API's router.
pub fn router() -> Router<Arc<dyn Service>> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(machines::index))
        .route("/console/state-machines/{arn}", get(machines::machine))
        .route("/console/executions/{arn}", get(execution::page))
        .route("/console/graph.svg", get(graph_svg))
        .route(
            "/console/console.css",
            get(|| asset("text/css", stepwise_console::CSS)),
        )
        .route(
            "/console/console.js",
            get(|| asset("text/javascript", stepwise_console::JS)),
        )
}

async fn asset(kind: &'static str, text: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, kind)], text)
}

/// The most history events read for one page or picture: AWS's own limit
/// on an execution's history.
const MAX_EVENTS: usize = 25_000;

/// Every event of an execution, following `nextToken`.
async fn history(service: &dyn Service, arn: &str) -> Result<Vec<Value>, ApiError> {
    let mut events = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = json!({"executionArn": arn, "maxResults": 1000});
        if let Some(t) = &token {
            request["nextToken"] = json!(t);
        }
        let mut page = service.call("GetExecutionHistory", request).await?;
        if let Some(Value::Array(more)) = page.get_mut("events").map(Value::take) {
            events.extend(more);
        }
        token = page["nextToken"].as_str().map(str::to_owned);
        if token.is_none() || events.len() >= MAX_EVENTS {
            return Ok(events);
        }
    }
}

/// `GET /console/graph.svg?executionArn=…` (coloured by its history) or
/// `?stateMachineArn=…` (the definition alone).
async fn graph_svg(State(service): Shared, uri: Uri) -> Response {
    let query = html::query(uri.query());
    let drawn = async {
        if let Some(arn) = query.get("executionArn") {
            let machine = service
                .call(
                    "DescribeStateMachineForExecution",
                    json!({"executionArn": arn}),
                )
                .await?;
            let events = history(service.as_ref(), arn).await?;
            Ok((machine["definition"].clone(), Some(events)))
        } else if let Some(arn) = query.get("stateMachineArn") {
            let machine = service
                .call("DescribeStateMachine", json!({"stateMachineArn": arn}))
                .await?;
            Ok((machine["definition"].clone(), None))
        } else {
            Err(ApiError::validation(
                "give an executionArn or a stateMachineArn",
            ))
        }
    };
    match drawn.await {
        Ok((definition, events)) => {
            match stepwise_console::graph(
                &definition,
                events.as_deref(),
                stepwise_console::Format::Svg,
            ) {
                Ok(svg) => (
                    [
                        (header::CONTENT_TYPE, "image/svg+xml"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    svg,
                )
                    .into_response(),
                Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, e).into_response(),
            }
        }
        Err(e) => (status_of(&e), format!("{}: {}", e.code, e.message)).into_response(),
    }
}

fn status_of(e: &ApiError) -> StatusCode {
    StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A whole page: `title`, the header, and `main` (which carries its own
/// `<main>` element so that a page can put attributes on it).
fn page(title: &str, main: &str) -> Response {
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Stepwise</title>\
         <link rel=\"stylesheet\" href=\"/console/console.css\">\
         <script src=\"/console/console.js\" defer></script></head>\n<body>\
         <header><a href=\"/console/\">Stepwise · Step Functions</a></header>\n{main}\n</body></html>\n",
        html::esc(title)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The page for an API error (a missing machine or execution, mostly).
fn error_page(e: &ApiError) -> Response {
    let mut response = page(
        e.code,
        &format!(
            "<main><h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>\
             <p><a href=\"/console/\">All state machines</a></p></main>",
            html::esc(e.code),
            html::esc(&e.message)
        ),
    );
    *response.status_mut() = status_of(e);
    response
}

//! `stepwise serve`: the Step Functions API on 127.0.0.1, durable in SQLite
//! (or, with `--backend aws`, over the serverless engine on DynamoDB and SQS
//! with a local stepper poller). Besides the JSON protocol at `POST /` it
//! answers the REST routes of [`stepwise_api::route`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use stepwise_api::Service;
use stepwise_aws::service::{AwsService, Place};
use stepwise_engine::mock::Mocks;
use stepwise_local::{Config, LocalService};

#[derive(clap::Args)]
pub struct Args {
    /// Where to listen. Loopback by default: the API has no authentication.
    #[arg(long, default_value = "127.0.0.1:8083")]
    addr: SocketAddr,
    /// The directory of the durable store (created if missing).
    #[arg(long, default_value = ".stepwise")]
    data: PathBuf,
    /// Keep everything in memory instead (lost when the server stops).
    #[arg(long, conflicts_with = "data")]
    in_memory: bool,
    /// Answer Task states from a mock configuration (AWS Step Functions Local's format).
    #[arg(long, requires = "test_case")]
    mock_config: Option<PathBuf>,
    #[arg(long)]
    test_case: Option<String>,
    /// The state machine to take from the mock configuration.
    #[arg(long)]
    mock_machine: Option<String>,
    /// Where Lambda tasks go (default: AWS_ENDPOINT_URL_LAMBDA).
    #[arg(long, env = "AWS_ENDPOINT_URL_LAMBDA")]
    lambda_endpoint: Option<String>,
    /// `embedded` (SQLite) or `aws` (DynamoDB + SQS, with a local stepper).
    #[arg(long, value_enum, default_value_t = Backend::Embedded)]
    backend: Backend,
    #[command(flatten)]
    aws: crate::aws::AwsArgs,
    #[command(flatten)]
    template: crate::template::deploy::Args,
    /// Poll the template and its definitions every second; update the machines on a change.
    #[arg(long, requires = "template")]
    watch: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    Embedded,
    Aws,
}

async fn api(
    State(service): State<Arc<dyn Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> impl IntoResponse {
    let body = match read_body(body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let region = stepwise_api::region_of(authorization);
    let path = uri.path();
    let response = stepwise_api::route(
        service.as_ref(),
        region,
        method.as_str(),
        path,
        target,
        &body,
    )
    .await;
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if path == "/" {
        stepwise_api::CONTENT_TYPE
    } else {
        "application/json"
    };
    (status, [(header::CONTENT_TYPE, kind)], response.body)
}

/// The largest request body taken: a 1 MB definition, JSON-escaped, with
/// the other members of its request.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// How much of an oversized body is read and dropped so that its sender gets
/// the error rather than a reset connection.
const DRAIN: usize = 64 * 1024 * 1024;

type Reply = (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>);

/// The request body, or the AWS-shaped error for one that is too large.
async fn read_body(body: axum::body::Body) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > DRAIN {
            break;
        }
    }
    if seen <= MAX_BODY {
        return Ok(Bytes::from(kept));
    }
    let error = stepwise_api::ApiError::validation(format!(
        "The request body is larger than {MAX_BODY} bytes"
    ))
    .with_status(413);
    Err((
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, stepwise_api::CONTENT_TYPE)],
        error.body().to_string().into_bytes(),
    ))
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let mocks = match (&args.mock_config, &args.test_case) {
        (Some(path), Some(case)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(Mocks::load(&text, args.mock_machine.as_deref(), case)?)
        }
        _ => None,
    };
    let path = if args.in_memory || args.backend == Backend::Aws {
        None
    } else {
        std::fs::create_dir_all(&args.data)
            .with_context(|| format!("cannot create {}", args.data.display()))?;
        Some(args.data.join("stepwise.db"))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let service: Arc<dyn Service> = if args.backend == Backend::Aws {
        let (store, queue) = runtime.block_on(crate::aws::open(&args.aws, false))?;
        let clients = stepwise_aws::Clients::from_env()?;
        let service = Arc::new(AwsService::new(
            store.clone(),
            queue.clone(),
            &clients,
            Place::from_env(),
        ));
        let tasks =
            crate::aws::local_tasks(mocks, args.lambda_endpoint.clone(), Some(service.clone()));
        crate::aws::spawn_stepper(store, queue, tasks);
        service
    } else {
        let config = Config {
            mocks,
            lambda_endpoint: args.lambda_endpoint.clone(),
            dispatchers: 4,
            services: {
                let s = crate::aws::services();
                let f: stepwise_local::tasks::Services =
                    Arc::new(move |call| s.call_blocking(call));
                Some(f)
            },
        };
        Arc::new(LocalService::open(path.as_deref(), config).context("cannot open the store")?)
    };
    drop(runtime);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let wal = path.clone();
    runtime.block_on(async move {
        crate::template::deploy::serve(&service, &args.template, args.watch).await?;
        let app = crate::console::router().fallback(api).with_state(service);
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        eprintln!(
            "stepwise: serving the Step Functions API on http://{}",
            listener.local_addr()?
        );
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // Ctrl-C, or SIGTERM (what a service manager or `kill` sends).
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
                match term.as_mut() {
                    Ok(t) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = t.recv() => {}
                        }
                    }
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
                // Requests in flight get a moment to finish, but a long poll
                // (GetActivityTask, up to a minute) does not hold the stop.
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    if let Some(p) = &wal {
                        stepwise_local::truncate_wal(p);
                    }
                    std::process::exit(0);
                });
            })
            .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    // A clean stop leaves no write-ahead log behind.
    if let Some(p) = &path {
        stepwise_local::truncate_wal(p);
    }
    Ok(ExitCode::SUCCESS)
}

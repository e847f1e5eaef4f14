//! `stepwise serve`: the Step Functions API on 127.0.0.1 over the
//! serverless engine's stepper, durable in SQLite (or, with `--backend aws`,
//! on DynamoDB and SQS, with a local stepper poller). Besides the JSON protocol at `POST /` it
//! answers the REST routes of [`stepwise_api::route`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::IntoResponse;
use stepwise_aws::LambdaTasks;
use stepwise_aws::service::AwsService;
use stepwise_engine::api::{ApiError, Service};
use stepwise_engine::catalog::Scope;
use stepwise_engine::mock::Mocks;
use stepwise_local::Retention;

mod listener;
mod stepper;

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
    /// Answer Task states from a mock configuration (AWS Step Functions
    /// Local's format): an execution started on `<state machine ARN>#<test
    /// case>` takes that test case's responses.
    #[arg(long, env = "SFN_MOCK_CONFIG")]
    mock_config: Option<PathBuf>,
    /// The test case for executions started without one.
    #[arg(long, requires = "mock_config")]
    test_case: Option<String>,
    /// The state machine whose `--test-case` to take from the mock configuration.
    #[arg(long)]
    mock_machine: Option<String>,
    /// Where Lambda tasks go (default: AWS_ENDPOINT_URL_LAMBDA).
    #[arg(long, env = "AWS_ENDPOINT_URL_LAMBDA")]
    lambda_endpoint: Option<String>,
    /// `embedded` (the serverless stepper and its API on SQLite; `stepper`
    /// is another name for it) or `aws` (DynamoDB + SQS, with a local
    /// stepper).
    #[arg(long, value_enum, default_value_t = Backend::Embedded)]
    backend: Backend,
    #[command(flatten)]
    aws: crate::aws::AwsArgs,
    #[command(flatten)]
    template: crate::template::deploy::Args,
    /// Poll the template and its definitions every second; update the machines on a change.
    #[arg(long, requires = "template")]
    watch: bool,
    /// Delete executions (with their history) this many days after they
    /// end; 0 keeps them forever. Local backends (embedded, stepper).
    #[arg(long, default_value_t = 90.0, value_parser = retention_days)]
    retention_days: f64,
    /// How often the retention sweep runs (tests shorten it).
    #[arg(
        long,
        hide = true,
        env = "STEPWISE_RETENTION_SWEEP_SECONDS",
        default_value_t = 3600
    )]
    retention_sweep_seconds: u64,
}

fn retention_days(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(d) if d.is_finite() && d >= 0.0 && d * 86_400.0 < u64::MAX as f64 => Ok(d),
        _ => Err("expected a number of days, 0 or more".into()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    #[value(alias = "stepper")]
    Embedded,
    Aws,
}

async fn api(
    State(service): State<Arc<dyn Service>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> axum::response::Response {
    let mut response = answer(service, method, uri, headers, body)
        .await
        .into_response();
    // Every answer carries a request id, as AWS's do (boto3's
    // `ResponseMetadata.RequestId`, the SDKs' request ids).
    if let Ok(id) = header::HeaderValue::from_str(&stepwise_engine::uuid()) {
        response.headers_mut().insert("x-amzn-requestid", id);
    }
    response
}

async fn answer(
    service: Arc<dyn Service>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Reply {
    let body = match read_body(body, BODY_TIMEOUT).await {
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
/// How long a request's body may take to arrive once its head has.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an oversized body is read and dropped so that its sender gets
/// the error rather than a reset connection.
const DRAIN: usize = 64 * 1024 * 1024;

type Reply = (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>);

/// The request body, or the AWS-shaped error for one that is too large or
/// too slow to arrive (the connection is then closed, not kept alive).
async fn read_body(body: axum::body::Body, timeout: Duration) -> Result<Bytes, Reply> {
    use http_body_util::BodyExt as _;
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, body.frame()).await else {
            return Err(error_reply(
                StatusCode::REQUEST_TIMEOUT,
                format!("The request body did not arrive within {timeout:?}"),
            ));
        };
        let Some(Ok(frame)) = frame else { break };
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
    Err(error_reply(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The request body is larger than {MAX_BODY} bytes"),
    ))
}

fn error_reply(status: StatusCode, message: String) -> Reply {
    let error = ApiError::validation(message).with_status(status.as_u16());
    (
        status,
        [(header::CONTENT_TYPE, stepwise_api::CONTENT_TYPE)],
        error.body().to_string().into_bytes(),
    )
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let mocks = match &args.mock_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(Arc::new(Mocks::load(
                &text,
                args.mock_machine.as_deref(),
                args.test_case.as_deref(),
            )?))
        }
        None => None,
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
    let retention = (args.retention_days > 0.0).then(|| Retention {
        keep: Duration::from_secs_f64(args.retention_days * 86_400.0),
        every: Duration::from_secs(args.retention_sweep_seconds.max(1)),
    });
    let mut on_stepper = None;
    let service: Arc<dyn Service> = if args.backend == Backend::Aws {
        let (store, queue) = runtime.block_on(crate::aws::open(&args.aws, false))?;
        let clients = stepwise_aws::Clients::from_env()?;
        let service = Arc::new(
            AwsService::new(store.clone(), queue.clone(), &clients, Scope::from_env())
                .with_mocks(mocks.clone())
                .with_lambda(LambdaTasks::Local(args.lambda_endpoint.clone())),
        );
        let tasks =
            crate::aws::local_tasks(mocks, args.lambda_endpoint.clone(), Some(service.0.clone()));
        crate::aws::spawn_stepper(store, queue, tasks, crate::aws::AWS_LOOPS);
        service
    } else {
        let service = stepper::open(
            path.as_deref(),
            mocks,
            args.lambda_endpoint.clone(),
            retention,
        )?;
        on_stepper = Some(service.clone());
        service
    };
    // A clean stop commits what the store holds and leaves no write-ahead
    // log behind; once, however it comes (the requests in flight ended, or
    // the 2 s they are given passed): a second caller waits for the first.
    let once = std::sync::Once::new();
    let close = move || {
        once.call_once(|| {
            // (The stepper's work in flight is lost as in a crash, and
            // comes back from the queue.)
            if let Some(service) = &on_stepper {
                let _ = service.writes.store.db().flush();
            }
            if let Some(p) = &path {
                stepwise_local::truncate_wal(p);
            }
        })
    };
    let closing = Arc::new(close);
    let close_late = closing.clone();
    drop(runtime);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
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
        let shutdown = async {
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
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = tokio::task::spawn_blocking(move || close_late()).await;
                std::process::exit(0);
            });
        };
        listener::serve(listener, app, listener::Limits::default(), shutdown).await;
        Ok::<_, anyhow::Error>(())
    })?;
    closing();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::Frame;

    use super::*;

    /// A body whose sender went quiet.
    struct Stalled;

    impl hyper::body::Body for Stalled {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let body = axum::body::Body::new(Stalled);
        let Err((status, _, text)) = read_body(body, Duration::from_millis(50)).await else {
            panic!("a stalled body is read");
        };
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert!(String::from_utf8_lossy(&text).contains("did not arrive"));
    }

    #[tokio::test]
    async fn a_body_is_read_whole() {
        let body = axum::body::Body::from("{\"a\": 1}");
        let read = read_body(body, Duration::from_secs(1)).await;
        assert_eq!(read.ok().as_deref(), Some(&b"{\"a\": 1}"[..]));
    }
}

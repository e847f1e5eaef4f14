//! The Lambda functions: zip and binary sizes (from `cargo lambda build
//! --release --arm64 --output-format zip`, when it has run) and local init
//! time — process start until the function asks a stub of Lambda's runtime
//! API for its first event (`GET /2018-06-01/runtime/invocation/next`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FUNCTIONS: [&str; 2] = ["stepper", "api"];

pub fn run(quick: bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for f in FUNCTIONS {
        let dir = root.join("target/lambda").join(f);
        let size = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len()).ok();
        match (size("bootstrap.zip"), size("bootstrap")) {
            (Some(zip), binary) => println!(
                "lambda: {f}: zip {:.2} MB{} (arm64, cargo lambda build --release)",
                zip as f64 / 1e6,
                binary.map_or(String::new(), |b| format!(
                    ", binary {:.2} MB",
                    b as f64 / 1e6
                )),
            ),
            _ => println!(
                "lambda: {f}: no target/lambda/{f}/bootstrap.zip (run: cargo lambda build --release --arm64 --output-format zip)"
            ),
        }
        let binary = root.join("target/release").join(f);
        if !binary.exists() {
            println!(
                "lambda: {f}: no target/release/{f} (cargo build --release -p stepwise-{f}…) to time"
            );
            continue;
        }
        let runs = if quick { 10 } else { 40 };
        let mut times: Vec<f64> = (0..runs).filter_map(|_| init_time(&binary)).collect();
        if times.is_empty() {
            println!("lambda: {f}: the function never asked for an event");
            continue;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "lambda: {f}: local init (process start → first GET …/invocation/next, x86_64 release build): p50 {:.2} ms, max {:.2} ms over {} starts",
            times[times.len() / 2],
            times[times.len() - 1],
            times.len()
        );
    }
}

/// Milliseconds from spawning `binary` until its first runtime API request.
fn init_time(binary: &Path) -> Option<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    let began = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "stepwise-bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/stepwise-bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("STEPWISE_TABLE", "stepwise")
        .env(
            "STEPWISE_QUEUE_URL",
            "http://127.0.0.1:9/queue/stepwise-steps",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    listener.set_nonblocking(true).ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(50)),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    stream.set_nonblocking(false).ok()?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).ok()?;
    let elapsed = began.elapsed().as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();
    line.contains("/runtime/invocation/next").then_some(elapsed)
}

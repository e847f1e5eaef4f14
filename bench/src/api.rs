//! Executions per second and start-to-finish latency through the API, for
//! `stepwise serve` (durable, SQLite) and moto server's Step Functions, in
//! one run. The load generator keeps many requests in flight over
//! keep-alive connections (a minimal HTTP/1.1 client, so that it is not the
//! bottleneck), each connection running start → describe-until-done loops.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as TokioBufReader};
use tokio::net::TcpStream;

const DEFINITION: &str = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"C"},"C":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":0,"Next":"W"}],"Default":"W"},"W":{"Type":"Wait","Seconds":0,"Next":"S"},"S":{"Type":"Succeed"}}}"#;

pub(crate) struct Conn {
    stream: TokioBufReader<TcpStream>,
    host: String,
    /// The server closes after each response (HTTP/1.0, as moto's does).
    closed: bool,
}

impl Conn {
    pub(crate) async fn open(addr: &str) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: TokioBufReader::new(s),
            host: addr.to_owned(),
            closed: false,
        })
    }

    pub(crate) async fn call(
        &mut self,
        action: &str,
        body: &Value,
    ) -> std::io::Result<(u16, Value)> {
        if self.closed {
            *self = Conn::open(&self.host.clone()).await?;
        }
        let body = body.to_string();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nX-Amz-Target: AWSStepFunctions.{action}\r\nContent-Type: application/x-amz-json-1.0\r\nAuthorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/states/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(req.as_bytes()).await?;
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line).await?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        self.closed = status_line.starts_with("HTTP/1.0");
        let mut len = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            if lower.starts_with("connection:") && lower.contains("close") {
                self.closed = true;
            }
        }
        let mut buf = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.stream.read_line(&mut size).await?;
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; n + 2];
                self.stream.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        } else {
            buf.resize(len, 0);
            self.stream.read_exact(&mut buf).await?;
        }
        Ok((status, serde_json::from_slice(&buf).unwrap_or(Value::Null)))
    }
}

pub struct Figures {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub executions: u64,
    /// Executions started (some still running when the load stopped).
    pub started: u64,
    /// DescribeExecution calls per execution started (the clients poll
    /// until it ends: a server that ends it sooner is asked less).
    pub describes: f64,
    /// The server's CPU time per execution started, in µs (where measured).
    pub cpu_us: f64,
}

async fn load(addr: String, machine: String, connections: usize, duration: Duration) -> Figures {
    // Execution names are unique across the loads of one run.
    static LOADS: AtomicU64 = AtomicU64::new(0);
    let run = LOADS.fetch_add(1, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started_count = Arc::new(AtomicU64::new(0));
    let describes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (addr, machine, stop, done, started_count, describes) = (
            addr.clone(),
            machine.clone(),
            stop.clone(),
            done.clone(),
            started_count.clone(),
            describes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let run = run;
            let mut latencies = Vec::new();
            let Ok(mut conn) = Conn::open(&addr).await else {
                return latencies;
            };
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                let name = format!("c{c}-{i}-{run}-{}", std::process::id());
                i += 1;
                let Ok((200, started)) = conn
                    .call(
                        "StartExecution",
                        &json!({"stateMachineArn": machine, "name": name, "input": "{\"n\": 1}"}),
                    )
                    .await
                else {
                    break;
                };
                started_count.fetch_add(1, Ordering::Relaxed);
                let arn = started["executionArn"].clone();
                loop {
                    describes.fetch_add(1, Ordering::Relaxed);
                    let Ok((_, d)) = conn
                        .call("DescribeExecution", &json!({"executionArn": arn}))
                        .await
                    else {
                        break;
                    };
                    match d["status"].as_str() {
                        Some("RUNNING") | None => {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                        Some(_) => {
                            latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                            done.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                }
            }
            latencies
        }));
    }
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    let finished = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    Figures {
        per_second: finished as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        executions: finished,
        started: started_count.load(Ordering::Relaxed),
        describes: describes.load(Ordering::Relaxed) as f64
            / started_count.load(Ordering::Relaxed).max(1) as f64,
        cpu_us: f64::NAN,
    }
}

/// [`load`] on the server `pid`, with the CPU time it spent on each
/// execution.
async fn load_of(
    pid: u32,
    addr: String,
    machine: String,
    connections: usize,
    duration: Duration,
) -> Figures {
    let before = cpu_ms(pid);
    let mut figures = load(addr, machine, connections, duration).await;
    figures.cpu_us = (cpu_ms(pid) - before) * 1000.0 / figures.started.max(1) as f64;
    figures
}

/// The address the server prints first; the rest of what it prints is
/// read (and counted) as it comes, so that a full pipe never blocks it.
pub(crate) fn read_addr(child: &mut Child) -> String {
    let mut line = String::new();
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    err.read_line(&mut line).expect("a line");
    std::thread::spawn(move || {
        let mut shown = 0;
        for l in err.lines().map_while(Result::ok) {
            if shown < 5 {
                eprintln!("server: {l}");
                shown += 1;
            }
        }
    });
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .expect("address")
        .to_owned()
}

/// A field of the process's `/proc/<pid>/status`, in kB (0 where there is none).
pub fn vm_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The CPU time the process has used so far (user and system), in ms:
/// `/proc/<pid>/stat`'s utime and stime, in Linux's 100 ticks a second.
pub fn cpu_ms(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| {
            // After the command's name (in parentheses, which may hold
            // spaces): state is field 3, utime 14, stime 15.
            let rest = &t[t.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) * 10.0)
        })
        .unwrap_or(f64::NAN)
}

/// The median time of ListExecutions asking for the first page of 100.
async fn list_page_ms(addr: &str, machine: &str) -> f64 {
    let Ok(mut conn) = Conn::open(addr).await else {
        return f64::NAN;
    };
    let mut times = Vec::new();
    for _ in 0..21 {
        let t0 = Instant::now();
        let Ok((200, _)) = conn
            .call(
                "ListExecutions",
                &json!({"stateMachineArn": machine, "maxResults": 100}),
            )
            .await
        else {
            return f64::NAN;
        };
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

async fn create(addr: &str) -> String {
    let mut conn = Conn::open(addr).await.expect("connect");
    let (_, out) = conn
        .call("CreateStateMachine", &json!({"name": "bench", "definition": DEFINITION, "roleArn": "arn:aws:iam::123456789012:role/bench"}))
        .await
        .expect("create");
    out["stateMachineArn"].as_str().expect("an ARN").to_owned()
}

pub fn run(quick: bool) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = format!("{root}/target/release/stepwise");
    let duration = Duration::from_secs(if quick { 3 } else { 10 });
    let data = std::env::temp_dir().join(format!("stepwise-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Command::new(&bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .expect("build the release binary first: cargo build --release -p stepwise");
    let addr = read_addr(&mut server);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (ours, sustained, ours_alone, list_ms) = rt.block_on(async {
        let machine = create(&addr).await;
        let alone = load(addr.clone(), machine.clone(), 1, Duration::from_secs(1)).await;
        let ours = load_of(server.id(), addr.clone(), machine.clone(), 64, duration).await;
        // The same load for longer: what the store costs on disk, and the
        // memory the server keeps, after a sustained load (not in --quick).
        let sustained = match quick {
            true => None,
            false => Some(load(addr.clone(), machine.clone(), 64, Duration::from_secs(20)).await),
        };
        (ours, sustained, alone, list_page_ms(&addr, &machine).await)
    });
    let rss = |field: &str| vm_kb(server.id(), field) as f64 / 1024.0;
    let peak = rss("VmHWM:");
    // Memory once the load has passed: what the server gives back.
    std::thread::sleep(Duration::from_secs(3));
    let after = rss("VmRSS:");
    // A clean stop checkpoints and truncates the log: what is left on
    // disk is what the executions cost.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let bytes: u64 = std::fs::read_dir(&data)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let stored = ours.started + ours_alone.started + sustained.as_ref().map_or(0, |f| f.started);
    let _ = std::fs::remove_dir_all(&data);
    println!(
        "api: stepwise serve (SQLite, every transition durable), one client: start-to-finish p50 {:.2} ms, p99 {:.2} ms",
        ours_alone.p50_ms, ours_alone.p99_ms
    );
    println!(
        "api: stepwise serve, 64 clients for {} s: {:.0} executions/s (p50 {:.2} ms under that load, {} executions, {:.1} DescribeExecution calls each, server CPU {:.0} µs each)",
        duration.as_secs(),
        ours.per_second,
        ours.p50_ms,
        ours.executions,
        ours.describes,
        ours.cpu_us
    );
    if let Some(s) = &sustained {
        println!(
            "api: stepwise serve, the same for 20 s more ({} s in all): {:.0} executions/s (p50 {:.2} ms, {} executions; the store grows to {} executions)",
            duration.as_secs() + 20,
            s.per_second,
            s.p50_ms,
            s.executions,
            stored
        );
    }
    println!(
        "api: stepwise serve after that load: peak RSS {peak:.0} MB, {after:.0} MB 3 s later; {:.2} KB on disk per four-state execution ({stored} stored, {:.1} MB after a clean stop); ListExecutions of one page of 100 among them: {list_ms:.2} ms",
        bytes as f64 / 1024.0 / stored.max(1) as f64,
        bytes as f64 / 1024.0 / 1024.0
    );
    // The peers are slower by orders of magnitude: ten seconds say enough.
    let peers = duration.min(Duration::from_secs(10));
    let moto = match stepwise_aws::moto::Moto::try_start() {
        Ok(m) => m,
        Err(e) => return println!("api: {e}"),
    };
    let maddr = moto.addr().to_owned();
    let theirs = rt.block_on(async {
        let mut c = TcpStream::connect(&maddr).await.ok()?;
        let cfg = r#"{"stepfunctions": {"execute_state_machine": true}}"#;
        let req = format!("POST /moto-api/config HTTP/1.1\r\nHost: {maddr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{cfg}", cfg.len());
        c.write_all(req.as_bytes()).await.ok()?;
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink).await;
        let machine = create(&maddr).await;
        let alone = load(maddr.clone(), machine.clone(), 1, Duration::from_secs(2)).await;
        Some((load(maddr.clone(), machine, 16, peers).await, alone))
    });
    // The serverless backend on the same moto server (DynamoDB + SQS).
    let serverless = serverless(&rt, &bin, &maddr, peers);
    drop(moto);
    if let Some((t, alone)) = serverless {
        println!(
            "api: stepwise serve --backend aws (DynamoDB + SQS in moto), one client: start-to-finish p50 {:.2} ms; 4 clients: {:.1} executions/s ({} executions)",
            alone.p50_ms, t.per_second, t.executions
        );
    }
    if theirs.is_none() {
        println!("api: moto server did not answer");
    }
    if let Some((t, alone)) = theirs {
        println!(
            "api: moto server 5.2.5 (in memory), one client: start-to-finish p50 {:.2} ms, p99 {:.2} ms",
            alone.p50_ms, alone.p99_ms
        );
        println!(
            "api: moto server, 16 clients: {:.0} executions/s ({} executions)",
            t.per_second, t.executions
        );
        println!(
            "api: stepwise serve runs {:.0}x the executions per second of moto server",
            ours.per_second / t.per_second.max(1e-9)
        );
    }
}

/// A `stepwise` process whose AWS calls go to moto at `maddr`; its
/// address is read from its standard error.
pub(crate) fn on_moto<'a>(cmd: &'a mut Command, maddr: &str) -> &'a mut Command {
    cmd.env("AWS_ENDPOINT_URL", format!("http://{maddr}"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .stderr(Stdio::piped())
}

/// `stepwise serve --backend aws` against moto at `maddr`: the same load,
/// every transition a DynamoDB write and an SQS message.
fn serverless(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    maddr: &str,
    duration: Duration,
) -> Option<(Figures, Figures)> {
    let name = format!("bench-{}", std::process::id());
    let mut server = Command::new(bin);
    server
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--backend",
            "aws",
            "--create-resources",
        ])
        .args(["--table", &name, "--queue", &name]);
    let mut server = on_moto(&mut server, maddr).spawn().ok()?;
    let addr = read_addr(&mut server);
    let out = rt.block_on(async {
        let machine = create(&addr).await;
        let alone = load(addr.clone(), machine.clone(), 1, Duration::from_secs(2)).await;
        // moto answers each DynamoDB/SQS call in milliseconds: a few
        // clients, for long enough that executions finish.
        let long = duration.max(Duration::from_secs(8));
        (load(addr.clone(), machine, 4, long).await, alone)
    });
    let _ = server.kill();
    let _ = server.wait();
    Some(out)
}

/// `stepwise serve` on a SQLite file, the 64 clients' figure only.
fn print_stepper(rt: &tokio::runtime::Runtime, bin: &str, duration: Duration) {
    if let Some((t, alone)) = stepper_on_sqlite(rt, bin, duration) {
        println!(
            "api: stepwise serve (the stepper on SQLite, durable), one client: start-to-finish p50 {:.2} ms; 64 clients: {:.0} executions/s ({} executions, {:.1} DescribeExecution calls each, server CPU {:.0} µs each)",
            alone.p50_ms, t.per_second, t.executions, t.describes, t.cpu_us
        );
    }
}

/// Only the 64 clients' line (`stepwise-bench api-stepper`), of
/// the binary `STEPWISE_BIN` names when set (a build with symbols to
/// profile).
pub fn run_stepper(quick: bool) {
    let bin = std::env::var("STEPWISE_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/stepwise").to_owned()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    print_stepper(&rt, &bin, Duration::from_secs(if quick { 3 } else { 10 }));
}

fn stepper_on_sqlite(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    duration: Duration,
) -> Option<(Figures, Figures)> {
    let data = std::env::temp_dir().join(format!("stepwise-bench-st-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let addr = read_addr(&mut server);
    let out = rt.block_on(async {
        let machine = create(&addr).await;
        let alone = load(addr.clone(), machine.clone(), 1, Duration::from_secs(1)).await;
        let many = load_of(server.id(), addr.clone(), machine, 64, duration).await;
        (many, alone)
    });
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    Some(out)
}

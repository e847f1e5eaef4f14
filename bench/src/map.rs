//! A Distributed Map on embedded `stepwise serve`: its items read from S3
//! (a JSON array in moto server), one-step children, MaxConcurrency 1,000;
//! the time from StartExecution to the execution's end, as items/s.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Conn, on_moto, read_addr};

/// An unsigned S3 PUT (moto does not check signatures).
fn put(addr: &str, path: &str, body: &[u8]) -> std::io::Result<()> {
    let mut s = std::net::TcpStream::connect(addr)?;
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(
            answer.lines().next().unwrap_or("").to_owned(),
        ))
    }
}

pub fn run(quick: bool) {
    let bin = std::env::var("STEPWISE_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/stepwise").to_owned()
    });
    let moto = match stepwise_aws::moto::Moto::try_start() {
        Ok(m) => m,
        Err(e) => return println!("map: {e}"),
    };
    let maddr = moto.addr().to_owned();
    let sizes: &[usize] = if quick { &[10_000] } else { &[10_000, 100_000] };
    for &items in sizes {
        match measure(&bin, &maddr, items) {
            Ok(secs) => println!(
                "map: Distributed Map of {items} items from S3 on stepwise serve (SQLite, MaxConcurrency 1,000): {secs:.2} s, {:.0} items/s",
                items as f64 / secs
            ),
            Err(e) => println!("map: {items} items: {e}"),
        }
    }
    drop(moto);
}

fn measure(bin: &str, maddr: &str, items: usize) -> Result<f64, String> {
    let bucket = format!("bench-items-{items}");
    let body = Value::Array((0..items).map(|i| json!({"id": i})).collect()).to_string();
    put(maddr, &format!("/{bucket}"), b"").map_err(|e| e.to_string())?;
    put(maddr, &format!("/{bucket}/items.json"), body.as_bytes()).map_err(|e| e.to_string())?;
    let data =
        std::env::temp_dir().join(format!("stepwise-bench-map-{}-{items}", std::process::id()));
    let mut server = Command::new(bin);
    server
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data);
    let mut server = on_moto(&mut server, maddr)
        .spawn()
        .map_err(|e| e.to_string())?;
    let addr = read_addr(&mut server);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let out = rt.block_on(run_map(&addr, &bucket));
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&data);
    let (secs, output) = out?;
    if output["count"] != json!(items) {
        return Err(format!("the Map's output was {output}"));
    }
    Ok(secs)
}

async fn run_map(addr: &str, bucket: &str) -> Result<(f64, Value), String> {
    let mut c = Conn::open(addr).await.map_err(|e| e.to_string())?;
    let def = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "MaxConcurrency": 1000,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": bucket, "Key": "items.json"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Item", "States": {"Item": {"Type": "Pass", "Parameters": {"id.$": "$.id", "done": true}, "End": true}}},
        "ResultSelector": {"count.$": "States.ArrayLength($)"}, "End": true}}});
    let create = json!({"name": format!("bench-map-{bucket}"),
        "roleArn": "arn:aws:iam::123456789012:role/bench", "definition": def.to_string()});
    let (_, made) = c
        .call("CreateStateMachine", &create)
        .await
        .map_err(|e| e.to_string())?;
    let machine = made["stateMachineArn"]
        .as_str()
        .ok_or(format!("{made}"))?
        .to_owned();
    let began = Instant::now();
    let (_, started) = c
        .call("StartExecution", &json!({"stateMachineArn": machine}))
        .await
        .map_err(|e| e.to_string())?;
    let arn = started["executionArn"]
        .as_str()
        .ok_or(format!("{started}"))?
        .to_owned();
    loop {
        let (_, d) = c
            .call("DescribeExecution", &json!({"executionArn": arn}))
            .await
            .map_err(|e| e.to_string())?;
        match d["status"].as_str() {
            Some("RUNNING") if began.elapsed() < Duration::from_secs(300) => {
                tokio::time::sleep(Duration::from_millis(5)).await
            }
            Some("SUCCEEDED") => {
                let output = serde_json::from_str(d["output"].as_str().unwrap_or("null"))
                    .map_err(|e| e.to_string())?;
                return Ok((began.elapsed().as_secs_f64(), output));
            }
            _ => return Err(format!("the execution ended {d}")),
        }
    }
}

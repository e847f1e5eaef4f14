//! `cargo run --release -p stepwise-bench [-- --quick]`
//!
//! 1. Engine throughput: state transitions per second of a Pass → Choice →
//!    Pass(intrinsic) loop, in process, on one thread, through the in-memory
//!    runner (history kept, as `stepwise run` keeps it).
//! 2. `stepwise run` wall time on `examples/ten-states.json`, process start
//!    included (the release binary must be built first).
//! 3. JSONata: ns per evaluation against jsonata-js on node, with the ratio.
//!
//! 4. The API: executions/s and latency of `stepwise serve` and moto server.
//!
//! `stepwise-bench jsonata` or `stepwise-bench api` runs only that one;
//! `stepwise-bench api-stepper` only the `serve` line of 64 clients on SQLite.

mod api;
mod cost;
mod jsonata;
mod lambda;
mod map;

use std::process::Command;
use std::time::Instant;

use serde_json::json;
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::tasks::FnTasks;
use stepwise_engine::{Runner, RunnerOptions, Status};

/// A Pass → Choice → Pass(`States.MathAdd`) loop of `$.n` rounds.
fn loop_definition() -> serde_json::Value {
    json!({
        "Comment": "Pass/Choice/intrinsic loop",
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Parameters": {"i": 0, "n.$": "$.n"}, "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.i", "NumericLessThanPath": "$.n", "Next": "Inc"}], "Default": "Done"},
            "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n"}, "Next": "Check"},
            "Done": {"Type": "Succeed"}
        }
    })
}

fn loop_machine() -> StateMachine {
    let def = loop_definition();
    // Express: a Standard execution stops at 25,000 history events.
    StateMachine::from_value(&def, Options { express: true }).expect("valid loop")
}

fn transitions_per_second(iterations: u64, history: bool) -> (u64, f64) {
    let machine = loop_machine();
    let exec = local_execution("bench", "loop", json!({"n": iterations}), 0, true);
    let options = RunnerOptions {
        fast_forward: true,
        seed: 1,
        history,
    };
    let runner = Runner::new(
        &machine,
        exec,
        FnTasks(|c: &TaskCall| Ok(c.payload.clone())),
        options,
    );
    let start = Instant::now();
    let (report, transitions) = block_on(runner.run_counting());
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(report.status, Status::Succeeded, "{:?}", report.error);
    assert_eq!(
        report.output,
        Some(json!({"i": iterations, "n": iterations}))
    );
    (transitions, transitions as f64 / secs)
}

/// Seconds to run an inline Map of `items` Pass iterations in process
/// (EXPRESS, no history): each iteration must cost the same however many
/// there are (it once copied all the items, making this minutes).
fn inline_map_seconds(items: u64, jsonata: bool) -> f64 {
    // The results of 100k iterations are over AWS's 256 KiB state limit:
    // the Map answers with their count.
    let def = if jsonata {
        json!({"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {"Type": "Map",
            "Items": "{% $states.input.items %}",
            "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% $states.input.v %}", "End": true}}},
            "Output": "{% $count($states.result) %}", "End": true}}})
    } else {
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "ResultSelector": {"n.$": "States.ArrayLength($)"}, "OutputPath": "$.n",
            "End": true}}})
    };
    let machine = StateMachine::from_value(&def, Options { express: true }).expect("valid map");
    let count = items;
    let items: Vec<serde_json::Value> = (0..items).map(Into::into).collect();
    let input = json!({ "items": items });
    let exec = local_execution("bench", "map", input, 0, true);
    let options = RunnerOptions {
        fast_forward: true,
        seed: 1,
        history: false,
    };
    let tasks = FnTasks(|c: &TaskCall| Ok(c.payload.clone()));
    let runner = Runner::new(&machine, exec, tasks, options);
    let start = Instant::now();
    let report = block_on(runner.run());
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(report.status, Status::Succeeded, "{:?}", report.error);
    assert_eq!(report.output, Some(json!(count)));
    secs
}

fn run_wall_times(runs: usize) -> Option<(f64, f64)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = format!("{root}/target/release/stepwise");
    if !std::path::Path::new(&bin).exists() {
        eprintln!(
            "(skipping `stepwise run`: build it first with cargo build --release -p stepwise)"
        );
        return None;
    }
    let def = format!("{root}/examples/ten-states.json");
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(&bin)
            .args(["run", &def, "--fast-forward"])
            .output()
            .expect("stepwise runs");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("\"SUCCEEDED\""),
            "ten-states must succeed"
        );
    }
    times.sort_by(f64::total_cmp);
    Some((times[runs / 2], times[runs * 95 / 100]))
}

/// `stepwise run` of the loop machine as an EXPRESS execution of about a
/// million transitions: transitions/s and the process's peak resident memory
/// (its `VmHWM`, read while it runs), without and with `--history`.
fn run_loop(iterations: u64, history: bool) -> Option<(f64, u64)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let bin = format!("{root}/target/release/stepwise");
    if !std::path::Path::new(&bin).exists() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("stepwise-bench-loop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let def = dir.join("loop.json");
    std::fs::write(&def, loop_definition().to_string()).ok()?;
    let mut cmd = Command::new(&bin);
    cmd.args([
        "run",
        def.to_str()?,
        "--express",
        "--fast-forward",
        "--input",
    ])
    .arg(json!({"n": iterations}).to_string())
    .stdout(std::process::Stdio::null());
    if history {
        cmd.arg("--history");
    }
    let start = Instant::now();
    let mut child = cmd.spawn().ok()?;
    let mut peak_kb = 0u64;
    loop {
        peak_kb = peak_kb.max(api::vm_kb(child.id(), "VmHWM:"));
        if child.try_wait().ok()?.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    // Init, then Check and Inc per iteration, then Check and Done.
    let transitions = 2 * iterations + 3;
    Some((transitions as f64 / secs, peak_kb))
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if only.as_deref().is_none_or(|o| o == "jsonata") {
        jsonata::run(quick);
    }
    if only.as_deref().is_none_or(|o| o == "api") {
        api::run(quick);
    }
    if only.as_deref() == Some("api-stepper") {
        return api::run_stepper(quick);
    }
    if only.as_deref().is_none_or(|o| o == "cost") {
        cost::run(quick);
    }
    if only.as_deref().is_none_or(|o| o == "lambda") {
        lambda::run(quick);
    }
    if only.as_deref().is_none_or(|o| o == "map") {
        map::run(quick);
    }
    if matches!(
        only.as_deref(),
        Some("jsonata" | "api" | "cost" | "lambda" | "map")
    ) {
        return;
    }
    let iterations = if quick { 50_000 } else { 500_000 };
    transitions_per_second(iterations / 10, false); // warm-up
    let (n, rate) = transitions_per_second(iterations, false);
    println!(
        "engine: {n} transitions of a Pass/Choice/intrinsic loop, one thread, no history (EXPRESS): {rate:.0} transitions/s"
    );
    let (n, rate) = transitions_per_second(iterations, true);
    println!(
        "engine: {n} transitions of the same loop, every history event kept: {rate:.0} transitions/s"
    );
    let map_items = 100_000;
    println!(
        "engine: inline Map of {map_items} Pass iterations, no history (EXPRESS): {:.2} s; the same in JSONata, with an ItemSelector: {:.2} s",
        inline_map_seconds(map_items, false),
        inline_map_seconds(map_items, true)
    );
    let loop_iterations = 500_000; // about a million transitions
    for history in [false, true] {
        if let Some((rate, peak_kb)) = run_loop(loop_iterations, history) {
            println!(
                "stepwise run, EXPRESS loop of {} transitions{}: {rate:.0} transitions/s, peak RSS {:.1} MB (in process, above: the engine alone)",
                2 * loop_iterations + 3,
                if history {
                    ", --history to /dev/null"
                } else {
                    ""
                },
                peak_kb as f64 / 1024.0
            );
        }
    }
    if let Some((p50, p95)) = run_wall_times(if quick { 10 } else { 50 }) {
        println!(
            "stepwise run examples/ten-states.json (process start included): p50 {p50:.2} ms, p95 {p95:.2} ms"
        );
    }
}

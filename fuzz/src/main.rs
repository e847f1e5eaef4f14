//! `stepwise-fuzz`: mutation fuzzing on the stable toolchain of everything a
//! user sends Stepwise — definitions, JSONPath, intrinsics, JSONata, payload
//! templates, API requests and the objects an ItemReader reads — seeded
//! from the recorded conformance definitions and the examples. Any panic is a defect: the input is saved
//! under `fuzz/crashes/` and the run fails. An input slower than a second
//! is reported.
//!
//! ```sh
//! cargo run --release -p stepwise-fuzz -- --seconds 20            # every target (CI)
//! cargo run --release -p stepwise-fuzz -- --target jsonata --inputs 10000000
//! ```

mod mutate;
mod targets;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mutate::{Rng, mutate};
use targets::TARGETS;

struct Limits {
    seconds: Option<u64>,
    inputs: Option<u64>,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() -> ExitCode {
    let only = arg("--target");
    let limits = Limits {
        seconds: arg("--seconds").and_then(|s| s.parse().ok()),
        inputs: arg("--inputs").and_then(|s| s.parse().ok()),
    };
    let seed: u64 = arg("--seed").and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    // Panics are what we look for: record them instead of printing each.
    let last_panic = Arc::new(Mutex::new(String::new()));
    let slot = last_panic.clone();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut s) = slot.lock() {
            *s = info.to_string();
        }
    }));
    let mut failed = false;
    for target in TARGETS {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        failed |= fuzz(target, &limits, seed, &last_panic);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Fuzzes one target until its limit; true if anything crashed.
fn fuzz(target: &targets::Target, limits: &Limits, seed: u64, last_panic: &Mutex<String>) -> bool {
    let seeds = (target.seeds)();
    let mut rng = Rng::new(seed ^ (target.name.len() as u64 * 0x9e37_79b9));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(limits.seconds.unwrap_or(10));
    let max_inputs = limits.inputs.unwrap_or(u64::MAX);
    let (mut n, mut crashes) = (0u64, 0u64);
    let mut slowest = (Duration::ZERO, String::new());
    // Seeds first, then mutations of them.
    while n < max_inputs && (limits.inputs.is_some() || Instant::now() < deadline) {
        let i = n as usize;
        let input = if i < seeds.len() {
            seeds[i].clone()
        } else {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, a, b)
        };
        let began = Instant::now();
        let outcome = std::panic::catch_unwind(|| (target.run)(&input));
        let took = began.elapsed();
        if took > slowest.0 {
            slowest = (took, input.clone());
        }
        if outcome.is_err() {
            crashes += 1;
            let what = last_panic.lock().map(|s| s.clone()).unwrap_or_default();
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/crashes");
            let _ = std::fs::create_dir_all(dir);
            let file = format!("{dir}/{}-{n}.txt", target.name);
            let _ = std::fs::write(&file, &input);
            eprintln!(
                "fuzz {}: CRASH ({what}); input saved to {file}",
                target.name
            );
        }
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "fuzz {:<10} {n} inputs in {secs:.1} s ({:.0}/s), {crashes} crashes, slowest input {:.0} ms",
        target.name,
        n as f64 / secs.max(1e-9),
        slowest.0.as_secs_f64() * 1000.0
    );
    if slowest.0 > Duration::from_secs(1) {
        let preview: String = slowest.1.chars().take(200).collect();
        println!("fuzz {}: slowest input: {preview:?}", target.name);
    }
    crashes > 0
}

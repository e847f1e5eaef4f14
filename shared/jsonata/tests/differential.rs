//! Differential tests: every expression of `tests/corpus/*.txt` is evaluated
//! by this crate and by the reference implementation (the `jsonata` package,
//! 2.0.6, on node), and the results must agree: the same JSON value, both
//! undefined, or both an error with the same code. Known, documented
//! differences are listed in `tests/corpus/known-differences.txt`.
//!
//! `JSONATA_FILTER=<text>` runs only expressions containing the text.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use stepwise_jsonata::{Context, Expression};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

struct Case {
    file: String,
    line: usize,
    expr: String,
    input: String,
}

fn corpus() -> Vec<Case> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir().join("corpus"))
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "txt") && !p.ends_with("known-differences.txt")
        })
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("corpus file");
        let mut input = "none".to_owned();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('@') {
                input = name.trim().to_owned();
                continue;
            }
            out.push(Case {
                file: f.file_name().unwrap().to_string_lossy().into(),
                line: i + 1,
                expr: line.trim().to_owned(),
                input: input.clone(),
            });
        }
    }
    out
}

fn reference(cases: &[(String, Value)]) -> Vec<Value> {
    let script = dir().join("reference/evaluate.js");
    assert!(
        dir().join("reference/node_modules/jsonata").exists(),
        "the reference jsonata is not installed: run scripts/setup-test-deps (npm install in shared/jsonata/tests/reference)"
    );
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let payload: Vec<Value> = cases
        .iter()
        .map(|(e, i)| json!({"expr": e, "input": i}))
        .collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&payload).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("node finishes");
    serde_json::from_slice(&out.stdout).expect("reference prints JSON")
}

fn ours(expr: &str, input: &Value) -> Value {
    let e = match Expression::parse(expr) {
        Ok(e) => e,
        Err(err) => return json!({"error": err.code}),
    };
    let input_value = if input.is_null() {
        stepwise_jsonata::Value::Undefined
    } else {
        stepwise_jsonata::Value::from_json(input)
    };
    match e.evaluate_value(
        input_value,
        &[],
        Context {
            now_millis: 1_700_000_000_000,
            seed: 42,
        },
    ) {
        Err(err) => json!({"error": err.code}),
        Ok(v) if v.is_function() => json!({"function": true}),
        Ok(v) => match v.to_json() {
            Ok(None) => json!({"undefined": true}),
            Ok(Some(j)) => json!({"value": j}),
            Err(err) => json!({"error": err.code}),
        },
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        // JavaScript orders integer-like keys first; key order is not compared.
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn agrees_with_jsonata_2_0_6() {
    let inputs: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("corpus/inputs.json")).unwrap())
            .unwrap();
    let known: Vec<String> = std::fs::read_to_string(dir().join("corpus/known-differences.txt"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(" ## ").next().unwrap_or(l).trim().to_owned())
        .collect();
    let filter = std::env::var("JSONATA_FILTER").ok();
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| filter.as_ref().is_none_or(|f| c.expr.contains(f.as_str())))
        .collect();
    let pairs: Vec<(String, Value)> = cases
        .iter()
        .map(|c| (c.expr.clone(), inputs[&c.input].clone()))
        .collect();
    let expected = reference(&pairs);
    assert_eq!(expected.len(), cases.len());
    let mut failures = Vec::new();
    let mut agreed = 0;
    for (c, want) in cases.iter().zip(&expected) {
        let got = ours(&c.expr, &inputs[&c.input]);
        if same(&got, want) {
            agreed += 1;
        } else if !known.contains(&c.expr) {
            failures.push(format!(
                "{}:{} [{}] {}\n    reference: {want}\n    stepwise:  {got}",
                c.file, c.line, c.input, c.expr
            ));
        }
    }
    println!(
        "jsonata differential: {agreed} of {} expressions agree with jsonata 2.0.6 ({} known differences)",
        cases.len(),
        known.len()
    );
    assert!(
        failures.is_empty(),
        "{} expressions differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

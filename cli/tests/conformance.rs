//! The conformance cases recorded on AWS (`../shared/conformance/cases`), run
//! through `stepwise run --fast-forward`, one process per case.
//!
//! `CONFORMANCE_FILTER=<substring>` runs only matching cases and prints each
//! difference; `CONFORMANCE_CASES=<dir>` points elsewhere. The test fails when
//! fewer cases pass than `conformance-baseline.txt` at the repository root says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use regex::Regex;

use serde_json::Value;

struct Case {
    dir: PathBuf,
    theme: String,
    name: String,
    expected: Value,
}

fn cases_dir() -> PathBuf {
    if let Ok(d) = std::env::var("CONFORMANCE_CASES") {
        return PathBuf::from(d);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent");
    repo.join("../shared/conformance/cases")
}

/// A user's clone has no `../shared`: the recorded corpus is skipped, and
/// said so. CI (`CI=true`) has it and must run it.
fn corpus_missing() -> bool {
    if cases_dir().is_dir() || std::env::var("CI").is_ok_and(|v| v == "true") {
        return false;
    }
    say(&format!(
        "SKIPPED: the AWS-recorded conformance corpus is not at {} (set CONFORMANCE_CASES to run it)",
        cases_dir().display()
    ));
    true
}

/// Writes to the log past the test harness's capture (which takes only
/// `print!`), so `make test` shows the tables without `--nocapture`: one
/// write, so tests running at once do not interleave their lines.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn load_cases(root: &Path, filter: Option<&str>) -> Vec<Case> {
    let mut out = Vec::new();
    let themes = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("no conformance cases at {}: {e}", root.display()));
    for theme in themes.flatten() {
        for case in std::fs::read_dir(theme.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let dir = case.path();
            let name = case.file_name().to_string_lossy().into_owned();
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join("expected.json")) else {
                continue;
            };
            let expected: Value = serde_json::from_str(&text).expect("expected.json is JSON");
            out.push(Case {
                dir,
                theme: theme.file_name().to_string_lossy().into_owned(),
                name,
                expected,
            });
        }
    }
    out.sort_by(|a, b| (&a.theme, &a.name).cmp(&(&b.theme, &b.name)));
    out
}

fn run_case(case: &Case, env: &[(&str, String)], extra: &[String]) -> Result<Value, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stepwise"));
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.arg("run")
        .arg(case.dir.join("definition.json"))
        .arg("--input")
        .arg(case.dir.join("input.json"));
    cmd.arg("--fast-forward");
    cmd.args(extra);
    if case.expected["state_machine_type"] == "EXPRESS" {
        cmd.arg("--express");
    }
    let mock = case.dir.join("mock_config.json");
    if mock.exists() {
        cmd.arg("--mock-config").arg(&mock);
        cmd.arg("--test-case")
            .arg(case.expected["mock_test_case"].as_str().unwrap_or_default());
        if let Some(n) = case.expected["mock_state_machine_name"].as_str() {
            cmd.arg("--name").arg(n);
        }
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start stepwise: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .ok_or_else(|| {
            format!(
                "no result line; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// `$`, `.key`, `["key"]`, `[0]` → parts.
fn parse_ignore(path: &str) -> Vec<Value> {
    let re = Regex::new(r#"\.([A-Za-z_][A-Za-z0-9_]*)|\[("(?:[^"\\]|\\.)*")\]|\[(\d+)\]"#)
        .expect("regex");
    re.captures_iter(&path[1..])
        .map(|c| {
            if let Some(k) = c.get(1) {
                Value::String(k.as_str().into())
            } else if let Some(q) = c.get(2) {
                serde_json::from_str(q.as_str()).expect("quoted key")
            } else {
                Value::from(c[3].parse::<u64>().expect("index"))
            }
        })
        .collect()
}

fn remove(v: &mut Value, parts: &[Value]) -> bool {
    let Some((last, parents)) = parts.split_last() else {
        return true;
    };
    let mut cur = v;
    for p in parents {
        cur = match (cur, p) {
            (Value::Object(m), Value::String(k)) if m.contains_key(k) => {
                m.get_mut(k).expect("present")
            }
            (Value::Array(a), Value::Number(i))
                if (i.as_u64().unwrap_or(u64::MAX) as usize) < a.len() =>
            {
                &mut a[i.as_u64().expect("index") as usize]
            }
            _ => return false,
        };
    }
    match (cur, last) {
        (Value::Object(m), Value::String(k)) => {
            m.remove(k);
        }
        (Value::Array(a), Value::Number(i)) => {
            if let Some(slot) = a.get_mut(i.as_u64().unwrap_or(u64::MAX) as usize) {
                *slot = Value::String("\u{0}ignored".into());
            }
        }
        _ => {}
    }
    false
}

fn normalize(v: Value, iso: &Regex) -> Value {
    match v {
        Value::String(s) => Value::String(iso.replace_all(&s, "date").into_owned()),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .filter(|x| x != &Value::String("\u{0}ignored".into()))
                .map(|x| normalize(x, iso))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (iso.replace_all(&k, "date").into_owned(), normalize(x, iso)))
                .collect(),
        ),
        other => other,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn compare(case: &Case, actual: &Value, iso: &Regex) -> Vec<String> {
    let e = &case.expected;
    let mut problems = Vec::new();
    if e["status"] != actual["status"] {
        problems.push(format!(
            "status: expected {}, got {} ({} / {})",
            e["status"], actual["status"], actual["error"], actual["cause"]
        ));
        return problems;
    }
    let scrubbed: Vec<&str> = e["scrubbed_fields"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if e["status"] == "SUCCEEDED" && !e["output_not_recorded"].as_bool().unwrap_or(false) {
        let mut want = e["output"].clone();
        let mut got = actual["output"].clone();
        for p in e["ignore_paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let parts = parse_ignore(p);
            if remove(&mut want, &parts) {
                want = Value::Null;
            }
            if remove(&mut got, &parts) {
                got = Value::Null;
            }
        }
        let (want, got) = (normalize(want, iso), normalize(got, iso));
        if !same(&want, &got) {
            problems.push(format!(
                "output: expected {want}\n            got      {got}"
            ));
        }
    } else if e["status"] != "SUCCEEDED"
        && !scrubbed.contains(&"error")
        && e.get("error").is_some()
        && e["error"] != actual["error"]
    {
        problems.push(format!(
            "error: expected {}, got {} ({})",
            e["error"], actual["error"], actual["cause"]
        ));
    }
    if e["status"] != "SUCCEEDED" && !scrubbed.contains(&"cause") && e.get("cause").is_some() {
        let text = |v: &Value| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let (want, got) = (text(&e["cause"]), text(&actual["cause"]));
        let same_cause = if e["cause_is_json"].as_bool().unwrap_or(false) {
            let json = |t: &Option<String>| {
                let v = serde_json::from_str::<Value>(t.as_deref().unwrap_or_default()).ok();
                v.map(|v| normalize(v, iso))
            };
            matches!((json(&want), json(&got)), (Some(w), Some(g)) if same(&w, &g))
                || want.is_none() && got.is_none()
        } else {
            let norm = |t: Option<String>| t.map(|t| iso.replace_all(&t, "date").into_owned());
            norm(want) == norm(got)
        };
        if !same_cause {
            problems.push(format!(
                "cause: expected {}\n            got      {}",
                e["cause"], actual["cause"]
            ));
        }
    }
    problems
}

#[test]
fn conformance() {
    suite("memory", &[], |_| Vec::new());
}

/// The serverless stepper on SQLite (the embedded backend of `stepwise
/// serve`, its store and queue in memory), calmly and with chaos
/// (duplicates, late and reordered messages, aborts between the write and
/// the send): the same results.
#[test]
fn conformance_through_the_stepper() {
    suite("stepper", &[], |_| args("--backend sqlite"));
    for seed in [1, 2, 3] {
        suite(&format!("stepper, chaos {seed}"), &[], |_| {
            args(&format!("--backend sqlite --chaos {seed}"))
        });
    }
}

/// The serverless stepper on DynamoDB and SQS (moto server): the same
/// results, calmly and with chaos.
#[test]
fn conformance_through_dynamodb_and_sqs() {
    if corpus_missing() {
        return;
    }
    let moto = stepwise_aws::moto::Moto::start();
    let first = Command::new(env!("CARGO_BIN_EXE_stepwise"))
        .args([
            "run",
            "examples/ten-states.json",
            "--backend",
            "aws",
            "--create-resources",
        ])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .envs(moto.env())
        .output()
        .expect("stepwise runs");
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("SUCCEEDED"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let seeds: Vec<u64> = std::env::var("CONFORMANCE_CHAOS_SEEDS")
        .unwrap_or_else(|_| "11".into())
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    let mut runs = vec![("aws".to_owned(), None)];
    runs.extend(seeds.iter().map(|s| (format!("aws, chaos {s}"), Some(*s))));
    for (label, chaos) in runs {
        suite(&label, &moto.env(), |i| {
            let mut a = args(&format!(
                "--backend aws --create-resources --queue q{i}-{}",
                chaos.unwrap_or(0)
            ));
            if let Some(seed) = chaos {
                a.extend(args(&format!("--chaos {seed}")));
            }
            a
        });
    }
}

fn args(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// Runs every case with the extra `run` arguments `extra(case index)` gives
/// and fails below the baseline.
fn suite(label: &str, env: &[(&'static str, String)], extra: impl Fn(usize) -> Vec<String> + Sync) {
    if corpus_missing() {
        return;
    }
    let filter = std::env::var("CONFORMANCE_FILTER").ok();
    let cases = load_cases(&cases_dir(), filter.as_deref());
    assert!(
        !cases.is_empty(),
        "no conformance cases found under {}",
        cases_dir().display()
    );
    let iso = Regex::new(
        r"[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-][01]\d:?(?:[0-5]\d)?)",
    )
    .expect("regex");
    let results: Mutex<Vec<(usize, Vec<String>)>> = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases.get(i) else { break };
                    let problems = match run_case(case, env, &extra(i)) {
                        Ok(actual) => compare(case, &actual, &iso),
                        Err(e) => vec![e],
                    };
                    results.lock().expect("lock").push((i, problems));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("lock");
    results.sort_by_key(|(i, _)| *i);
    let mut table: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, problems) in &results {
        let case = &cases[*i];
        let row = table.entry(&case.theme).or_default();
        if problems.is_empty() {
            row.0 += 1;
        } else {
            row.1 += 1;
            failures.push(format!(
                "- {}/{}\n    {}",
                case.theme,
                case.name,
                problems.join("\n    ")
            ));
        }
    }
    let mut out = format!("{:<22}{:>7}{:>7}\n", "theme", "passed", "failed");
    for (theme, (p, f)) in &table {
        out += &format!("{theme:<22}{p:>7}{f:>7}\n");
    }
    let passed: usize = table.values().map(|r| r.0).sum();
    let failed: usize = table.values().map(|r| r.1).sum();
    if filter.is_some() || std::env::var("CONFORMANCE_VERBOSE").is_ok() {
        out += &failures.join("\n");
        out.push('\n');
    }
    out += &format!("conformance ({label}): {passed} passed, {failed} failed");
    say(&out);
    if filter.is_none() {
        let baseline_file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance-baseline.txt");
        let baseline: usize = std::fs::read_to_string(&baseline_file)
            .expect("conformance-baseline.txt")
            .trim()
            .parse()
            .expect("a number");
        assert!(
            passed >= baseline,
            "{passed} conformance cases pass, fewer than the baseline {baseline}:\n{}",
            failures.join("\n")
        );
    } else {
        assert!(failed == 0, "{failed} filtered cases failed");
    }
}

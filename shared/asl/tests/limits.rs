//! Regression tests for definitions and executions that crashed the process
//! (stack overflow, or memory exhausted by a small definition): each must
//! now be invalid, or fail its execution with an error, quickly, on a thread
//! with the 2 MiB stack Rust and tokio give threads by default.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepwise_asl::definition::problem::Problems;
use stepwise_asl::jsonata::JTemplate;
use stepwise_asl::template::Template;
use stepwise_asl::{
    Effect, Env, Event, Execution, Invalid, Options, Outcome, StateMachine, Thread, step,
};

/// Runs `f` on a thread with a 2 MiB stack and checks it took seconds, not
/// minutes.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let started = Instant::now();
    let out = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("thread starts")
        .join()
        .expect("no panic, no overflow");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    out
}

fn invalid(def: Value) -> Invalid {
    small_stack(move || StateMachine::from_value(&def, Options::default()).unwrap_err())
}

/// `{"a": {"a": … inner … }}`, `n` levels. (Not `json!({"a": v})`: that
/// serializes `v` again, recursively.)
fn nested(n: usize, inner: Value) -> Value {
    let mut v = inner;
    for _ in 0..n {
        let mut m = serde_json::Map::new();
        m.insert("a".into(), v);
        v = Value::Object(m);
    }
    v
}

fn execution(input: Value) -> Execution {
    Execution {
        arn: "arn:aws:states:us-east-1:123456789012:execution:m:e".into(),
        name: "e".into(),
        input: input.clone(),
        start_time: 0,
        role_arn: String::new(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:m".into(),
        state_machine_name: "m".into(),
        redrive_count: Some(0),
        given_context: None,
        state_name: None,
        mock: None,
    }
}

/// Runs `def` on `input` until it finishes (at most `steps` steps); returns
/// the error name and cause it failed with.
fn fails(def: Value, input: Value, steps: usize) -> (String, String) {
    small_stack(move || {
        let machine = StateMachine::from_value(&def, Options::default()).expect("valid");
        let exec = execution(input.clone());
        let mut t = Thread::root(&machine.root().start_at, input);
        for i in 0..steps {
            let env = Env {
                now: i as i64,
                seed: 1,
                event_id: 2,
                history: false,
                spawn_bytes: 0,
                missing_activity: None,
                nonce: 9,
            };
            let out = step(&machine, &exec, &mut t, Event::Run, &env);
            for e in out.effects {
                match e {
                    Effect::Finish(Outcome::Failed(e)) => {
                        return (e.error.unwrap_or_default(), e.cause.unwrap_or_default());
                    }
                    Effect::Finish(other) => panic!("finished with {other:?}"),
                    _ => {}
                }
            }
        }
        panic!("still running after {steps} steps");
    })
}

fn pass(fields: Value) -> Value {
    let mut state = json!({"Type": "Pass", "End": true});
    state
        .as_object_mut()
        .unwrap()
        .extend(fields.as_object().unwrap().clone());
    json!({"StartAt": "P", "States": {"P": state}})
}

fn ata_pass(fields: Value) -> Value {
    let mut def = pass(fields);
    def["QueryLanguage"] = json!("JSONata");
    def
}

#[test]
fn payload_templates_nested_a_thousand_deep_are_invalid() {
    let deep = nested(1000, json!({"x.$": "$.y"}));
    for field in ["Parameters", "ResultSelector"] {
        let mut def = pass(json!({ field: deep.clone() }));
        if field == "ResultSelector" {
            def["States"]["P"]["Type"] = json!("Task");
            def["States"]["P"]["Resource"] = json!("arn:aws:states:::lambda:invoke");
        }
        let e = invalid(def);
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!(e.0[0].code, "SCHEMA_VALIDATION_FAILED");
        let at = e.0[0].pointer.clone().unwrap();
        assert!(at.starts_with(&format!("/States/P/{field}/a/a/a")), "{at}");
    }
    let deep = nested(1000, json!({"x": "{% $states.input %}"}));
    for field in ["Output", "Arguments", "Assign"] {
        let e = invalid(ata_pass(json!({ field: deep.clone() })));
        assert_eq!(e.0[0].code, "SCHEMA_VALIDATION_FAILED", "{e}");
    }
    // Read directly, the templates bound themselves too.
    let deep = nested(1000, json!({"x.$": "$.y"}));
    let mut p = Problems::default();
    small_stack(move || {
        Template::parse(&deep, "/Parameters", &mut p);
        JTemplate::parse(&deep, "Output", "/Output", &mut p);
        assert_eq!(p.0.len(), 2, "{:?}", p.0);
        assert!(
            p.0[0]
                .pointer
                .as_deref()
                .unwrap()
                .starts_with("/Parameters/a/a")
        );
    });
}

#[test]
fn a_state_nesting_its_input_once_per_loop_fails_instead_of_overflowing() {
    // P, then a Choice that never picks Done, back to P.
    let looping = |state: Value, ql: &str| {
        let never = if ql == "JSONata" {
            json!({"Condition": "{% false %}", "Next": "Done"})
        } else {
            json!({"Variable": "$$.Execution.Id", "IsNull": true, "Next": "Done"})
        };
        let mut state = state;
        state["Next"] = json!("C");
        json!({"QueryLanguage": ql, "StartAt": "P", "States": {
            "P": state,
            "C": {"Type": "Choice", "Choices": [never], "Default": "P"},
            "Done": {"Type": "Succeed"}
        }})
    };
    for def in [
        looping(
            json!({"Type": "Pass", "Parameters": {"a.$": "$"}}),
            "JSONPath",
        ),
        looping(
            json!({"Type": "Pass", "Parameters": {"a.$": "States.Array($)"}}),
            "JSONPath",
        ),
        looping(
            json!({"Type": "Pass", "Output": "{% {'a': $states.input} %}"}),
            "JSONata",
        ),
        looping(
            json!({"Type": "Pass", "Assign": {"v": "{% {'a': $v} %}"}}),
            "JSONata",
        ),
    ] {
        let mut def = def;
        if def["States"]["P"].get("Assign").is_some() {
            def["States"]["Init"] = json!({"Type": "Pass", "Assign": {"v": 1}, "Next": "P"});
            def["StartAt"] = json!("Init");
        }
        let (name, cause) = fails(def, json!({}), 5000);
        assert_eq!(name, "States.DataLimitExceeded", "{cause}");
        assert!(cause.contains("nested more than 100 levels"), "{cause}");
    }
}

#[test]
fn deep_definitions_and_reference_paths_are_invalid() {
    let e = invalid(nested(5000, json!(1)));
    assert_eq!(e.0[0].code, "SCHEMA_VALIDATION_FAILED");
    let long = format!("${}", ".a".repeat(10_000));
    let e = invalid(pass(json!({"ResultPath": long})));
    assert!(e.0[0].message.contains("more than 100 steps"), "{e}");
}

#[test]
fn jsonata_nested_ten_thousand_deep_is_invalid_instead_of_overflowing() {
    let src = format!("{{% {}1{} %}}", "(".repeat(10_000), ")".repeat(10_000));
    let e = invalid(ata_pass(json!({ "Output": src })));
    assert!(e.0[0].message.contains("S0220"), "{e}");
}

#[test]
fn jsonata_building_huge_or_deep_values_fails_the_execution() {
    for (src, code) in [
        (
            "$reduce([1..10000], function($a, $x){ {'a': $a} }, {})",
            "U1003",
        ),
        ("$pad('x', -1e9)", "U1002"),
        ("($f := function($n){ $f($n + 1) }; $f(0))", "U1001"),
    ] {
        let def = ata_pass(json!({ "Output": format!("{{% {src} %}}") }));
        let (name, cause) = fails(def, json!({}), 10);
        assert_eq!(name, "States.QueryEvaluationError", "{cause}");
        assert!(cause.contains(code), "{cause}");
    }
}

#[test]
fn intrinsics_fail_before_building_huge_values() {
    let big = json!({"s": "\\", "blob": "x".repeat(200_000)});
    let nest = |f: &str, n: usize, inner: &str| {
        format!("{}{inner}{}", format!("{f}(").repeat(n), ")".repeat(n))
    };
    for expr in [
        // Each level doubles the backslashes: 2^40 bytes without a check.
        nest("States.JsonToString", 40, "$.s"),
        format!("States.Array({})", vec!["$.blob"; 100_000].join(", ")),
        format!(
            "States.Format('{}', {})",
            "{}".repeat(100_000),
            vec!["$.blob"; 100_000].join(", ")
        ),
    ] {
        let def = pass(json!({"Parameters": {"r.$": expr}}));
        let (name, cause) = fails(def, big.clone(), 10);
        assert_eq!(name, "States.IntrinsicFailure", "{cause}");
        assert!(cause.contains("MiB"), "{cause}");
    }
}

#[test]
fn templates_and_paths_copying_the_input_many_times_fail_quickly() {
    let big = json!({"blob": "x".repeat(200_000)});
    let fields: serde_json::Map<String, Value> = (0..100_000)
        .map(|i| (format!("f{i}.$"), json!("$.blob")))
        .collect();
    let (name, cause) = fails(pass(json!({"Parameters": fields})), big.clone(), 10);
    assert_eq!(name, "States.DataLimitExceeded", "{cause}");
    let union = format!("$[{}]", vec!["'blob'"; 10_000].join(","));
    let (name, cause) = fails(pass(json!({"Parameters": {"u.$": union}})), big, 10);
    assert_eq!(name, "States.DataLimitExceeded", "{cause}");
    // Every deep scan multiplies the matches.
    let chain = nested(90, json!(1));
    let scan = format!("${}", "..*".repeat(6));
    let (name, cause) = fails(pass(json!({"Parameters": {"u.$": scan}})), chain, 10);
    assert_eq!(name, "States.DataLimitExceeded", "{cause}");
}

#[test]
fn jsonpath_filters_nested_ten_thousand_deep_are_invalid() {
    for path in [
        format!("$.a[?({}@.b{})]", "(".repeat(10_000), ")".repeat(10_000)),
        format!("$.a[?({}@.b)]", "!".repeat(10_000)),
        format!("$.a[?({}1{})]", "@[?(".repeat(10_000), ")]".repeat(10_000)),
    ] {
        let e = invalid(pass(json!({"Parameters": {"x.$": path}})));
        assert!(e.0[0].message.contains("nested more than 64"), "{e}");
    }
}

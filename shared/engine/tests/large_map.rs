//! Regression: an inline Map's time grew with the square of its items (10k
//! items took 0.7 s, 100k took a minute). Building each iteration copied the
//! context object, and with it the execution's input, which holds the items.
//! These tests run 20k items through the in-memory runner; how long that
//! takes is the benchmark's business (`stepwise-bench`), so they assert the
//! result and how many transitions it took, not time.

use serde_json::{Value, json};
use stepwise_asl::{Options, StateMachine, TaskCall};
use stepwise_engine::block_on;
use stepwise_engine::memory::local_execution;
use stepwise_engine::tasks::FnTasks;
use stepwise_engine::{Runner, RunnerOptions, Status};

const ITEMS: u64 = 20_000;

/// Runs `def` as an EXPRESS execution without history; the output and the
/// number of transitions.
fn run_express(def: Value, input: Value) -> (Option<Value>, u64) {
    let machine = StateMachine::from_value(&def, Options { express: true }).expect("valid");
    let exec = local_execution("m", "e", input, 1_000_000, true);
    let options = RunnerOptions {
        history: false,
        ..RunnerOptions::default()
    };
    let tasks = FnTasks(|c: &TaskCall| Ok(c.payload.clone()));
    let (report, transitions) =
        block_on(Runner::new(&machine, exec, tasks, options).run_counting());
    assert_eq!(report.status, Status::Succeeded, "{:?}", report.error);
    (report.output, transitions)
}

fn inline_map(extra: Value) -> Value {
    inline_map_of(extra, json!({"Type": "Pass", "End": true}))
}

fn inline_map_of(extra: Value, pass: Value) -> Value {
    let mut m = json!({"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "P", "States": {"P": pass}}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "M", "States": {"M": m}})
}

fn items() -> Vec<Value> {
    (0..ITEMS).map(Value::from).collect()
}

/// The Map's Run, then per item its Pass and the Map's ChildFinished: one
/// step per event, none repeated.
const TRANSITIONS: u64 = 1 + 2 * ITEMS;

#[test]
fn inline_map_of_20k_items_steps_each_item_once() {
    for extra in [json!({}), json!({"MaxConcurrency": 40})] {
        let (output, transitions) = run_express(inline_map(extra), json!({"items": items()}));
        assert_eq!(output, Some(Value::Array(items())));
        assert_eq!(transitions, TRANSITIONS);
    }
}

#[test]
fn item_selector_reading_the_item_from_the_context_scales_to_20k_items() {
    // The iterations' output is kept small: a Map's result is held to
    // 256 KiB.
    let def = inline_map_of(
        json!({"MaxConcurrency": 40,
            "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"}}),
        json!({"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.v, $.i)"},
            "OutputPath": "$.d", "End": true}),
    );
    let (output, transitions) = run_express(def, json!({"items": items()}));
    let doubled: Vec<Value> = (0..ITEMS).map(|i| Value::from(2 * i)).collect();
    assert_eq!(output, Some(Value::Array(doubled)));
    assert_eq!(transitions, TRANSITIONS);
}

/// The context object leaves the execution's input out only where nothing
/// can read it: a selector that does still sees it.
#[test]
fn item_selector_still_reads_the_execution_input() {
    let def = inline_map(json!({"ItemSelector": {
        "tag.$": "$$.Execution.Input.tag",
        "n.$": "States.ArrayLength($$.Execution.Input.items)",
        "name.$": "$$.Execution.Name"}}));
    let (output, _) = run_express(def, json!({"items": [1, 2], "tag": "t"}));
    let one = json!({"tag": "t", "n": 2, "name": "e"});
    assert_eq!(output, Some(json!([one, one])));
    let def = inline_map(json!({"ItemSelector": {"e.$": "$$.Execution"}}));
    let (output, _) = run_express(def, json!({"items": [1], "tag": "t"}));
    assert_eq!(
        output.unwrap()[0]["e"]["Input"],
        json!({"items": [1], "tag": "t"})
    );
}

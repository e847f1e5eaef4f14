use serde_json::{Map, Value, json};

use super::*;
use crate::random::Random;

fn eval(expr: &str, input: Value) -> Result<Value, Failure> {
    let e = parse(expr).unwrap();
    let ctx = json!({"StateMachine": {"Name": "machine-name-x"}});
    let vars = Map::new();
    let mut random = Random::new(7);
    let mut scope = Scope {
        input: &input,
        context: &ctx,
        variables: &vars,
        random: &mut random,
    };
    e.eval(&mut scope)
}

fn gives(expr: &str, input: Value, out: Value) {
    assert_eq!(eval(expr, input).unwrap(), out, "{expr}");
}

fn fails(expr: &str, input: Value) {
    assert!(
        matches!(eval(expr, input), Err(Failure::Function(_))),
        "{expr}"
    );
}

#[test]
fn format_prints_values_as_aws_does() {
    gives(
        "States.Format('a {} b {}', $.x, $.y)",
        json!({"x": 1.5, "y": null}),
        json!("a 1.5 b null"),
    );
    gives(
        "States.Format('{}', $.o)",
        json!({"o": {"A": 1, "B": [1, "x"]}}),
        json!("{A=1, B=[1, x]}"),
    );
    gives(
        "States.Format('lit \\{\\} {}', 'x')",
        json!({}),
        json!("lit {} x"),
    );
    fails("States.Format('{} {}', 'x')", json!({}));
}

#[test]
fn split_drops_empty_tokens_and_splits_on_each_char() {
    gives(
        "States.StringSplit('a,,b;c', ',;')",
        json!({}),
        json!(["a", "b", "c"]),
    );
    gives(
        "States.StringSplit($.s, ',')",
        json!({"s": " , "}),
        json!([" ", " "]),
    );
}

#[test]
fn arrays() {
    gives(
        "States.Array(1, 'a', $.x)",
        json!({"x": [true]}),
        json!([1, "a", [true]]),
    );
    gives(
        "States.ArrayPartition($.a, 2)",
        json!({"a": [1, 2, 3]}),
        json!([[1, 2], [3]]),
    );
    gives(
        "States.ArrayContains($.a, $.v)",
        json!({"a": [[1], {"k": 2}], "v": {"k": 2}}),
        json!(true),
    );
    gives(
        "States.ArrayRange(0, 10, 3)",
        json!({}),
        json!([0, 3, 6, 9]),
    );
    gives("States.ArrayRange(5, 1, -2)", json!({}), json!([5, 3, 1]));
    gives(
        "States.ArrayGetItem($.a, 1)",
        json!({"a": [7, 8]}),
        json!(8),
    );
    gives("States.ArrayLength($.a)", json!({"a": [7, 8]}), json!(2));
    gives(
        "States.ArrayUnique($.a)",
        json!({"a": [1, 1, "1", null, null]}),
        json!([1, "1", null]),
    );
    fails("States.ArrayGetItem($.a, 2)", json!({"a": [7, 8]}));
    fails("States.ArrayRange(0, 2000, 1)", json!({}));
    fails("States.ArrayLength('x')", json!({}));
}

#[test]
fn json_functions() {
    gives(
        "States.StringToJson($.s)",
        json!({"s": "{\"a\": [1]}"}),
        json!({"a": [1]}),
    );
    gives("States.StringToJson(' ')", json!({}), json!(null));
    gives(
        "States.JsonToString($.v)",
        json!({"v": [1, "x"]}),
        json!("[1,\"x\"]"),
    );
    gives(
        "States.JsonMerge($.a, $.b, false)",
        json!({"a": {"x": 1, "y": 1}, "b": {"y": 2}}),
        json!({"x": 1, "y": 2}),
    );
    fails(
        "States.JsonMerge($.a, $.b, true)",
        json!({"a": {}, "b": {}}),
    );
}

#[test]
fn encodings_and_hashes() {
    gives(
        "States.Base64Encode('Data to encode')",
        json!({}),
        json!("RGF0YSB0byBlbmNvZGU="),
    );
    gives(
        "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
        json!({}),
        json!("Data to encode"),
    );
    gives(
        "States.Hash('input data', 'SHA-1')",
        json!({}),
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
    );
    fails("States.Hash('x', 'SHA-3')", json!({}));
}

#[test]
fn math_rounds_like_java() {
    gives("States.MathAdd(1.49, 1.5)", json!({}), json!(3));
    gives("States.MathAdd(-2.5, 0)", json!({}), json!(-2));
    gives("States.MathAdd(-0.5, 0.5)", json!({}), json!(1));
    let r = eval("States.MathRandom(10, 20)", json!({}))
        .unwrap()
        .as_i64()
        .unwrap();
    assert!((10..20).contains(&r));
    for (expr, range) in [
        ("States.MathRandom(1.4, 3.6)", 1..4),
        ("States.MathRandom(-2.5, 0.5)", -2..1),
        ("States.MathRandom($.a, $.b, 3)", 0..2),
    ] {
        let r = eval(expr, json!({"a": 0.2, "b": 1.5})).unwrap();
        assert!(range.contains(&r.as_i64().unwrap()), "{expr}: {r}");
    }
    fails("States.MathRandom(1.2, 1.4)", json!({}));
    let wide = eval(
        "States.MathRandom(-9223372036854775808, 9223372036854775807)",
        json!({}),
    );
    assert!(wide.unwrap().is_i64());
    let u = eval("States.UUID()", json!({})).unwrap();
    assert_eq!(u.as_str().unwrap().len(), 36);
}

#[test]
fn nested_calls_and_context_paths() {
    gives(
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
        json!({}),
        json!("x"),
    );
}

#[test]
fn rejects_bad_syntax_and_arity() {
    for bad in [
        "States.Nope(1)",
        "States.ArrayLength()",
        "States.UUID(1)",
        "States.Format('x'",
        "Foo(1)",
        "States.Array(x)",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn missing_paths_are_not_function_failures() {
    assert!(matches!(
        eval("States.ArrayLength($.nope)", json!({})),
        Err(Failure::Path(..))
    ));
}

#[test]
fn non_ascii_whitespace_between_arguments_is_not_a_panic() {
    for ws in ["\u{85}", "\u{a0}", "\u{2028}", "\u{3000}"] {
        let expr = format!("States.Format({ws}'x{{}}',{ws}$.a{ws})");
        gives(&expr, json!({"a": 1}), json!("x1"));
    }
}

#[test]
fn calls_nested_past_the_limit_are_an_error_not_a_stack_overflow() {
    let deep = |n: usize| {
        format!(
            "{}'x'{}",
            "States.StringToJson(States.JsonToString(".repeat(n),
            "))".repeat(n)
        )
    };
    assert!(parse(&deep(20)).is_ok());
    let err = parse(&deep(3000)).unwrap_err();
    assert!(err.message.contains("nest more than"), "{err}");
}

#[test]
fn an_escaped_double_quote_in_a_literal_is_refused_at_creation() {
    for text in [
        r#"States.StringToJson('{"text":"An \"escaped double quote\" here"}')"#,
        r#"States.Format('He said, \"Hello, {}!\"', 'Test \"Name\" Here')"#,
    ] {
        let err = parse(text).unwrap_err();
        assert_eq!(err.code, crate::definition::problem::SCHEMA, "{text}");
        assert!(err.message.contains("escapes '\"'"), "{err}");
    }
    // The quote itself needs no backslash.
    gives(
        r#"States.Format('say "{}"', 'hi')"#,
        json!({}),
        json!("say \"hi\""),
    );
}

#[test]
fn a_path_argument_may_hold_an_escaped_quote() {
    gives(
        r"States.Format('{}', $['it\'s'])",
        json!({"it's": 1}),
        json!("1"),
    );
    gives(
        r#"States.Array($["a\"b"], 2)"#,
        json!({"a\"b": 1}),
        json!([1, 2]),
    );
}

#[test]
fn array_range_over_the_whole_i64_range_fails_instead_of_overflowing() {
    fails(
        "States.ArrayRange(-9223372036854775808, 9223372036854775807, 1)",
        json!({}),
    );
    gives(
        "States.ArrayRange(9223372036854775806, 9223372036854775807, 9223372036854775807)",
        json!({}),
        json!([9223372036854775806i64]),
    );
}

#[test]
fn splitting_a_payload_of_one_character_pieces_still_works() {
    let s = "a,".repeat(128 * 1024);
    let out = eval("States.StringSplit($.s, ',')", json!({ "s": s })).unwrap();
    assert_eq!(out.as_array().map(Vec::len), Some(128 * 1024));
    fails(
        "States.StringSplit($.s, ',')",
        json!({ "s": "a,".repeat(1 << 20) }),
    );
}

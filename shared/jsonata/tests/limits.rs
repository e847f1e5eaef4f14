//! Regression tests for expressions that crashed the process (stack
//! overflow, or memory exhausted by one small expression): each must now fail
//! with an error, quickly, on a thread with the 2 MiB stack Rust and tokio
//! give threads by default (and on an 8 MiB one, like a main thread).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepwise_jsonata::{Context, Expression};

const SMALL_STACK: usize = 2 << 20;
const MAIN_STACK: usize = 8 << 20;

/// Runs `f` on a fresh thread with `stack` bytes of stack.
fn on_stack<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .expect("thread starts")
        .join()
        .expect("no panic, no overflow")
}

/// Parses and evaluates `src` against `{}` on both stacks; returns the
/// value or the error code, and checks it took seconds, not minutes.
fn run(src: &str) -> Result<Option<Value>, &'static str> {
    let mut results = [SMALL_STACK, MAIN_STACK].map(|stack| {
        let src = src.to_owned();
        on_stack(stack, move || {
            let started = Instant::now();
            let out = Expression::parse(&src).and_then(|e| {
                e.evaluate(
                    &json!({}),
                    &[],
                    Context {
                        now_millis: 0,
                        seed: 1,
                    },
                )
            });
            (out.map_err(|e| e.code), started.elapsed())
        })
    });
    for (_, took) in &results {
        assert!(*took < Duration::from_secs(10), "{src:.80}: took {took:?}");
    }
    let [(small, _), (main, _)] = &mut results;
    assert_eq!(small, main, "{src:.80}");
    std::mem::replace(small, Err("taken"))
}

fn fails(src: &str, code: &str) {
    assert_eq!(run(src).map(|_| ()), Err(code), "{src:.120}");
}

fn gives(src: &str, want: Value) {
    assert_eq!(run(src), Ok(Some(want)), "{src:.120}");
}

fn nested(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn expressions_nested_ten_thousand_deep_fail_to_parse_instead_of_overflowing() {
    for src in [
        nested("(", "1", ")", 10_000),
        nested("[", "1", "]", 10_000),
        nested("{\"a\":", "1", "}", 10_000),
        nested("$string(", "1", ")", 10_000),
        nested("-", "1", "", 10_000),
        nested("", "1", "+1", 10_000),
        nested("", "a", ".a", 10_000),
        nested("", "$x", "[0]", 10_000),
        nested("(1;", "1", ")", 10_000),
        nested("true ? ", "1", " : 2", 10_000),
        nested("function($x){", "1", "}", 10_000),
    ] {
        fails(&src, "S0220");
    }
}

#[test]
fn expressions_nested_just_below_the_limit_still_evaluate() {
    let n = stepwise_jsonata::limits::MAX_EXPRESSION_DEPTH - 1;
    gives(&nested("(", "1", ")", n), json!(1));
    gives(&nested("-", "1", "", n), json!(-1));
    gives(&nested("", "1", "+1", n - 1), json!(n));
    gives(
        &format!("$count({})", nested("[", "1", "]", n - 1)),
        json!(1),
    );
    gives(&nested("$abs(", "-1", ")", n - 1), json!(1));
}

#[test]
fn unbounded_recursion_fails_with_u1001_instead_of_overflowing() {
    fails(
        "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
        "U1001",
    );
    // Each call nests a deep expression: the guard counts stack, not calls.
    let deep = nested("(", "$f($n - 1)", ")", 150);
    fails(
        &format!("($f := function($n){{ $n = 0 ? 0 : {deep} }}; $f(1000))"),
        "U1001",
    );
    gives(
        "($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(50))",
        json!(50),
    );
}

#[test]
fn values_nested_by_a_loop_fail_instead_of_overflowing() {
    fails(
        "$reduce([1..100000], function($a, $x){ {'a': $a} }, {})",
        "U1003",
    );
    fails(
        "$reduce([1..100000], function($a, $x){ [[$a]] }, [])",
        "U1003",
    );
    fails(
        "$reduce([1..100000], function($a, $x){ $zip($a) }, [1])",
        "U1003",
    );
}

#[test]
fn long_chains_of_closures_are_dropped_without_overflowing() {
    gives(
        "($c := $reduce([1..200000], function($f, $x){ function(){ $f } }, 0); 1)",
        json!(1),
    );
    gives(
        "$count($reduce([1..100000], function($a, $x){ ($g := $a.f; {'f': $g(?, $x)}) }, {'f': function($p, $q){ $p }}).f)",
        json!(1),
    );
}

#[test]
fn pad_with_a_huge_width_fails_before_allocating() {
    fails("$pad('x', -1e9)", "U1002");
    fails("$pad('x', 1e18)", "U1002");
    fails("$pad('x', -9e18, '\u{1F600}')", "U1002");
    gives("$pad('x', -3, '#')", json!("##x"));
}

#[test]
fn strings_doubled_in_a_loop_fail_before_allocating() {
    fails(
        "$reduce([1..64], function($s, $x){ $s & $s }, 'xx')",
        "U1002",
    );
    fails(
        "$reduce([1..64], function($s, $x){ $join([$s, $s, $s]) }, 'xx')",
        "U1002",
    );
    fails(
        "$reduce([1..64], function($s, $x){ $string([$s, $s]) }, 'xx')",
        "U1002",
    );
    fails(
        "$reduce([1..64], function($s, $x){ $replace($s, 'x', 'xxxx') }, 'xx')",
        "U1002",
    );
    fails(
        "$join($map([1..500000], function(){ 'abc' }), $pad('', 100))",
        "U1002",
    );
}

#[test]
fn ranges_fail_before_allocating() {
    fails("[1..1e9]", "D2014");
    fails("[-9e18..9e18]", "D2014");
    fails("[1..1e6]", "U1002");
    gives("$count([1..100000])", json!(100000));
    fails("$count([1..1000].[1..1000].[1..1000])", "U1002");
}

#[test]
fn built_ins_that_multiply_their_input_fail_before_allocating() {
    let big = "$join($map([1..500000], function(){ 'ab' }))";
    fails(&format!("$split({big}, '')"), "U1002");
    fails(&format!("$match({big}, /a/)"), "U1002");
    fails("$formatInteger(1e18, 'I')", "U1002");
    fails(
        "($x := [1..100000]; $zip($x, $x, $x, $x, $x, $x, $x, $x, $x, $x))",
        "U1002",
    );
    fails("($x := [1..100000]; [1..100].($x))", "U1002");
    fails(
        "($x := [1..100000]; $map([1..100], function(){ $x }))",
        "U1002",
    );
    fails(
        "($x := [1..100000]; [$x, [$x], [$x], [$x], [$x], [$x], [$x]])",
        "U1002",
    );
    fails(&format!("$parse('[' & {big} & ']')"), "U1002");
    gives("$formatInteger(1999, 'I')", json!("MCMXCIX"));
}

#[test]
fn quadratic_built_ins_stay_fast() {
    gives(
        "$length($formatNumber(1, $join($map([1..100000], function(){ '0' }))))",
        json!(100000),
    );
    gives(
        "$count($keys($map([1..20000], function($i){ {$string($i): 1} })))",
        json!(20000),
    );
    gives("$count([1..100000]{'k': $}.k)", json!(100000));
}

#[test]
fn format_base_of_the_most_negative_number_does_not_overflow() {
    gives("$formatBase(-1e19, 2) ~> $length()", json!(65));
}

#[test]
fn input_nested_deeper_than_the_limit_fails_when_read() {
    let depth = stepwise_jsonata::limits::MAX_DEPTH + 50;
    let mut input = json!(1);
    for _ in 0..depth {
        input = json!([input]);
    }
    let e = Expression::parse("$").unwrap();
    let ctx = Context {
        now_millis: 0,
        seed: 1,
    };
    assert_eq!(
        e.evaluate(&input, &[], ctx.clone()).unwrap_err().code,
        "U1003"
    );
    let e = Expression::parse("1 + 1").unwrap();
    assert_eq!(e.evaluate(&input, &[], ctx).unwrap(), Some(json!(2)));
}

//! JSONata evaluation time per expression: stepwise-jsonata against the
//! reference jsonata 2.0.6 on node, same expressions, same input, one run.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use stepwise_jsonata::{Context, Expression};

const EXPRESSIONS: &[&str] = &[
    "Account.Order.Product.Price",
    "$sum(Account.Order.Product.(Price * Quantity))",
    "Account.Order.Product[Price > 30].`Product Name`",
    "Account.Order.{ 'id': OrderID, 'total': $sum(Product.(Price * Quantity)) }",
    "Account.Order.Product{`Product Name`: $sum(Quantity)}",
    "$map(Account.Order.Product, function($p){ $uppercase($p.`Product Name`) })",
    "$join(Account.Order.Product.SKU ~> $sort(), ',')",
    "Account.Order.Product^(>Price).Description.Colour",
    "$string(Account.Order[0]) & ' ' & $substring(Account.`Account Name`, 0, 4)",
    "$count(Account.Order.Product[Description.Colour = 'Purple']) > 1 ? 'many' : 'few'",
];

fn input() -> Value {
    json!({"Account": {"Account Name": "Firefly", "Order": [
        {"OrderID": "order103", "Product": [
            {"Product Name": "Bowler Hat", "ProductID": 858383, "SKU": "0406654608", "Description": {"Colour": "Purple", "Width": 300, "Height": 200, "Depth": 210, "Weight": 0.75}, "Price": 34.45, "Quantity": 2},
            {"Product Name": "Trilby hat", "ProductID": 858236, "SKU": "0406634348", "Description": {"Colour": "Orange", "Width": 300, "Height": 200, "Depth": 210, "Weight": 0.6}, "Price": 21.67, "Quantity": 1}]},
        {"OrderID": "order104", "Product": [
            {"Product Name": "Bowler Hat", "ProductID": 858383, "SKU": "040657863", "Description": {"Colour": "Purple", "Width": 300, "Height": 200, "Depth": 210, "Weight": 0.75}, "Price": 34.45, "Quantity": 4},
            {"ProductID": 345664, "SKU": "0406654603", "Product Name": "Cloak", "Description": {"Colour": "Black", "Width": 30, "Height": 20, "Depth": 210, "Weight": 2}, "Price": 107.99, "Quantity": 1}]}]}})
}

/// Nanoseconds per evaluation. Like jsonata-js's `evaluate(object)`, the
/// input is already in the evaluator's representation; the result is turned
/// back into JSON.
fn ours(src: &str, input: &Value, iterations: u32) -> (f64, f64) {
    let e = Expression::parse(src).expect("benchmark expressions parse");
    let ctx = Context {
        now_millis: 0,
        seed: 1,
    };
    let converted = stepwise_jsonata::Value::from_json(input);
    let time = |with_conversion: bool| {
        let once = || {
            if with_conversion {
                e.evaluate(input, &[], ctx.clone()).expect("evaluates")
            } else {
                e.evaluate_value(converted.clone(), &[], ctx.clone())
                    .expect("evaluates")
                    .to_json()
                    .expect("json")
            }
        };
        for _ in 0..iterations.min(5000) {
            std::hint::black_box(once());
        }
        let start = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(once());
        }
        start.elapsed().as_nanos() as f64 / f64::from(iterations)
    };
    (time(false), time(true))
}

fn reference(input: &Value, iterations: u32) -> Option<Vec<f64>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/jsonata/tests/reference"
    );
    if !std::path::Path::new(&format!("{dir}/node_modules/jsonata")).exists() {
        eprintln!("(skipping jsonata-js: run scripts/setup-test-deps to install it)");
        return None;
    }
    let mut child = Command::new("node")
        .arg(format!("{dir}/bench.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let payload = json!({"input": input, "iterations": iterations, "expressions": EXPRESSIONS});
    child
        .stdin
        .take()?
        .write_all(payload.to_string().as_bytes())
        .ok()?;
    let out = child.wait_with_output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

pub fn run(quick: bool) {
    let iterations = if quick { 5_000 } else { 50_000 };
    let input = input();
    let theirs = reference(&input, iterations);
    println!(
        "jsonata: ns per evaluation ({iterations} evaluations each), stepwise-jsonata vs jsonata 2.0.6 on node"
    );
    let mut ratios = Vec::new();
    for (i, src) in EXPRESSIONS.iter().enumerate() {
        let (ns, with_json) = ours(src, &input, iterations);
        match theirs.as_ref().and_then(|t| t.get(i)) {
            Some(js) => {
                ratios.push(js / ns);
                println!(
                    "  {ns:>7.0} ns ({with_json:>6.0} from JSON text-free serde input)  vs {js:>7.0} ns  {:>5.1}x  {src}",
                    js / ns
                );
            }
            None => println!("  {ns:>7.0} ns  {src}"),
        }
    }
    if !ratios.is_empty() {
        let geo = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
        let min = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        println!(
            "jsonata: stepwise-jsonata is {geo:.1}x faster than jsonata-js (geometric mean; slowest expression {min:.1}x)"
        );
    }
}

//! The Mermaid and DOT text of each example machine, compared with the
//! committed files in `tests/golden/`. After a deliberate change, rewrite
//! them with `STEPWISE_BLESS=1 cargo test -p stepwise-console --test golden`
//! and review the diff.

mod common;

use std::path::Path;

use stepwise_console::Format;

fn golden(file: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    if std::env::var("STEPWISE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).expect("writing the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing; write it with STEPWISE_BLESS=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{file} differs from the golden file (STEPWISE_BLESS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn mermaid_of_every_example() {
    for (name, definition) in common::examples() {
        golden(
            &format!("{name}.mmd"),
            &common::render(&definition, None, Format::Mermaid),
        );
    }
}

#[test]
fn dot_of_every_example() {
    for (name, definition) in common::examples() {
        golden(
            &format!("{name}.dot"),
            &common::render(&definition, None, Format::Dot),
        );
    }
}

#[test]
fn output_is_the_same_every_time() {
    for (_, definition) in common::examples() {
        for format in [Format::Mermaid, Format::Dot, Format::Svg] {
            let first = common::render(&definition, None, format);
            assert_eq!(first, common::render(&definition, None, format));
        }
    }
}

//! The Choice comparison operators, as a table: each row names the operator,
//! the type its operand must have, and how it compares.

use std::cmp::Ordering;

use serde_json::Value;

use crate::timestamp;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
    /// `IsNull`, `IsPresent`, … : the operand is a boolean and the test is on the type.
    TypeTest,
    Matches,
}

#[derive(Debug)]
pub struct Operator {
    pub name: &'static str,
    pub kind: Kind,
    pub test: fn(Option<&Value>, &Value) -> bool,
}

macro_rules! cmp_ops {
    ($($name:literal, $kind:ident, $cmp:path, $($ord:path)|+;)*) => {
        &[$(Operator { name: $name, kind: Kind::$kind, test: |v, o| matches!(v.and_then(|v| $cmp(v, o)), Some($($ord)|+)) },)*]
    };
}

pub static COMPARISONS: &[Operator] = cmp_ops! {
    "StringEquals", String, string_cmp, Ordering::Equal;
    "StringLessThan", String, string_cmp, Ordering::Less;
    "StringGreaterThan", String, string_cmp, Ordering::Greater;
    "StringLessThanEquals", String, string_cmp, Ordering::Less | Ordering::Equal;
    "StringGreaterThanEquals", String, string_cmp, Ordering::Greater | Ordering::Equal;
    "NumericEquals", Numeric, numeric_cmp, Ordering::Equal;
    "NumericLessThan", Numeric, numeric_cmp, Ordering::Less;
    "NumericGreaterThan", Numeric, numeric_cmp, Ordering::Greater;
    "NumericLessThanEquals", Numeric, numeric_cmp, Ordering::Less | Ordering::Equal;
    "NumericGreaterThanEquals", Numeric, numeric_cmp, Ordering::Greater | Ordering::Equal;
    "BooleanEquals", Boolean, boolean_cmp, Ordering::Equal;
    "TimestampEquals", Timestamp, timestamp_cmp, Ordering::Equal;
    "TimestampLessThan", Timestamp, timestamp_cmp, Ordering::Less;
    "TimestampGreaterThan", Timestamp, timestamp_cmp, Ordering::Greater;
    "TimestampLessThanEquals", Timestamp, timestamp_cmp, Ordering::Less | Ordering::Equal;
    "TimestampGreaterThanEquals", Timestamp, timestamp_cmp, Ordering::Greater | Ordering::Equal;
};

pub static TESTS: &[Operator] = &[
    Operator {
        name: "IsNull",
        kind: Kind::TypeTest,
        test: |v, o| o.as_bool() == Some(v.is_some_and(Value::is_null)),
    },
    Operator {
        name: "IsPresent",
        kind: Kind::TypeTest,
        test: |v, o| o.as_bool() == Some(v.is_some()),
    },
    Operator {
        name: "IsNumeric",
        kind: Kind::TypeTest,
        test: |v, o| o.as_bool() == Some(v.is_some_and(Value::is_number)),
    },
    Operator {
        name: "IsString",
        kind: Kind::TypeTest,
        test: |v, o| o.as_bool() == Some(v.is_some_and(Value::is_string)),
    },
    Operator {
        name: "IsBoolean",
        kind: Kind::TypeTest,
        test: |v, o| o.as_bool() == Some(v.is_some_and(Value::is_boolean)),
    },
    Operator {
        name: "IsTimestamp",
        kind: Kind::TypeTest,
        test: |v, o| {
            o.as_bool()
                == Some(
                    v.and_then(Value::as_str)
                        .and_then(timestamp::parse)
                        .is_some(),
                )
        },
    },
    Operator {
        name: "StringMatches",
        kind: Kind::Matches,
        test: |v, o| matches_pattern(v, o),
    },
];

fn string_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    Some(a.as_str()?.cmp(b.as_str()?))
}

fn numeric_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    let (Value::Number(x), Value::Number(y)) = (a, b) else {
        return None;
    };
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return Some(x.cmp(&y));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

fn boolean_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    (a.as_bool()? == b.as_bool()?)
        .then_some(Ordering::Equal)
        .or(Some(Ordering::Less))
}

fn timestamp_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    Some(timestamp::parse(a.as_str()?)?.cmp(&timestamp::parse(b.as_str()?)?))
}

/// `*` matches any run of characters; `\*` and `\\` are literal.
fn matches_pattern(v: Option<&Value>, pattern: &Value) -> bool {
    let (Some(s), Some(p)) = (v.and_then(Value::as_str), pattern.as_str()) else {
        return false;
    };
    let mut tokens: Vec<Option<char>> = Vec::new(); // None = wildcard
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        if j < tokens.len() && tokens[j] == Some(s[i]) {
            i += 1;
            j += 1;
        } else if j < tokens.len() && tokens[j].is_none() {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    tokens[j..].iter().all(Option::is_none)
}

/// Finds an operator by its field name; the `…Path` form reads its operand from the input.
pub fn lookup(field: &str) -> Option<(&'static Operator, bool)> {
    let (base, is_path) = match field.strip_suffix("Path") {
        Some(b) if b != "Is" => (b, true),
        _ => (field, false),
    };
    if let Some(op) = COMPARISONS.iter().find(|o| o.name == base) {
        return Some((op, is_path));
    }
    if is_path {
        return None;
    }
    TESTS.iter().find(|o| o.name == field).map(|o| (o, false))
}

impl PartialEq for Operator {
    /// Rows are unique by name.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn test(op: &str, v: Value, o: Value) -> bool {
        (lookup(op).unwrap().0.test)(Some(&v), &o)
    }

    #[test]
    fn mismatched_types_are_false() {
        assert!(!test("StringEquals", json!(1), json!("1")));
        assert!(!test("NumericEquals", json!("1"), json!(1)));
        assert!(!test(
            "TimestampEquals",
            json!(0),
            json!("2012-10-09T19:00:55Z")
        ));
        assert!(test("NumericEquals", json!(1.0), json!(1)));
        assert!(test("NumericLessThan", json!(1), json!(1.5)));
    }

    #[test]
    fn string_matches_wildcards() {
        assert!(test(
            "StringMatches",
            json!("log-2024.txt"),
            json!("log-*.txt")
        ));
        assert!(test("StringMatches", json!("a*b"), json!("a\\*b")));
        assert!(!test("StringMatches", json!("axb"), json!("a\\*b")));
        assert!(test("StringMatches", json!(""), json!("*")));
        assert!(!test("StringMatches", json!("abc"), json!("ab")));
    }

    #[test]
    fn type_tests() {
        assert!(test("IsNull", json!(null), json!(true)));
        assert!(test(
            "IsTimestamp",
            json!("2012-10-09T19:00:55Z"),
            json!(true)
        ));
        assert!(test("IsNumeric", json!("1"), json!(false)));
        assert!((lookup("IsPresent").unwrap().0.test)(None, &json!(false)));
    }

    #[test]
    fn path_forms_are_found() {
        assert_eq!(
            lookup("StringEqualsPath").map(|(o, p)| (o.name, p)),
            Some(("StringEquals", true))
        );
        assert!(lookup("IsNullPath").is_none());
        assert!(lookup("Nope").is_none());
    }
}

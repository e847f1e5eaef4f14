//! A short text for a Choice rule, to label its edge: `$.n > 0`,
//! `$.name matches "a*"`, `$.a is present and $.b is string`; a JSONata
//! `Condition` as written. A rule too long or too deep to read at a glance
//! is `Rule N`, as the console numbers them.

use serde_json::Value;

/// Longer texts are replaced (rules) or cut (error names).
const MAX_LABEL: usize = 48;
/// And / Or / Not deeper than this are not spelled out.
const MAX_RULE_DEPTH: usize = 4;

/// The label of the `index`-th rule (from 0).
pub fn label(rule: &Value, index: usize) -> String {
    match text(rule, 0) {
        Some(t) if !t.is_empty() && t.chars().count() <= MAX_LABEL => t,
        _ => format!("Rule {}", index + 1),
    }
}

/// `text` cut to the label length, with an ellipsis when cut.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(MAX_LABEL - 1).collect();
    s.push('…');
    s
}

fn text(rule: &Value, depth: usize) -> Option<String> {
    if depth > MAX_RULE_DEPTH {
        return None;
    }
    match rule.get("Condition") {
        Some(Value::String(c)) => {
            let c = c.trim();
            let inner = c
                .strip_prefix("{%")
                .and_then(|c| c.strip_suffix("%}"))
                .unwrap_or(c);
            return Some(inner.trim().to_owned());
        }
        Some(other @ Value::Bool(_)) => return Some(other.to_string()),
        _ => {}
    }
    for (key, word) in [("And", " and "), ("Or", " or ")] {
        if let Some(rules) = rule.get(key).and_then(Value::as_array) {
            let parts: Option<Vec<String>> = rules.iter().map(|r| operand(r, depth)).collect();
            return Some(parts?.join(word));
        }
    }
    if let Some(r) = rule.get("Not") {
        return Some(format!("not {}", operand(r, depth)?));
    }
    let variable = rule.get("Variable")?.as_str()?;
    rule.as_object()?
        .iter()
        .find_map(|(key, value)| comparison(variable, key, value))
}

/// A nested rule, parenthesised when it is itself a combination.
fn operand(rule: &Value, depth: usize) -> Option<String> {
    let t = text(rule, depth + 1)?;
    let combined = ["And", "Or"].iter().any(|k| rule.get(k).is_some());
    Some(if combined { format!("({t})") } else { t })
}

fn comparison(variable: &str, key: &str, value: &Value) -> Option<String> {
    if let Some(test) = key.strip_prefix("Is") {
        let what = match test {
            "Null" | "Present" | "Numeric" | "String" | "Boolean" | "Timestamp" => {
                test.to_ascii_lowercase()
            }
            _ => return None,
        };
        let not = if value == &Value::Bool(false) {
            "not "
        } else {
            ""
        };
        return Some(format!("{variable} is {not}{what}"));
    }
    let (op, path) = match key.strip_suffix("Path") {
        Some(k) => (k, true),
        None => (key, false),
    };
    let symbol = ["String", "Numeric", "Boolean", "Timestamp"]
        .iter()
        .find_map(|family| op.strip_prefix(family))
        .and_then(|rest| match rest {
            "Equals" => Some("=="),
            "LessThan" => Some("<"),
            "GreaterThan" => Some(">"),
            "LessThanEquals" => Some("<="),
            "GreaterThanEquals" => Some(">="),
            "Matches" if op == "StringMatches" => Some("matches"),
            _ => None,
        })?;
    // Only a scalar reads at a glance (and an object may be big).
    let operand = match (path, value) {
        (true, Value::String(p)) => p.clone(),
        (_, Value::Array(_) | Value::Object(_)) => return None,
        _ => value.to_string(),
    };
    Some(format!("{variable} {symbol} {operand}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::label;

    #[test]
    fn comparisons_read_as_operators() {
        assert_eq!(
            label(&json!({"Variable": "$.n", "NumericGreaterThan": 0}), 0),
            "$.n > 0"
        );
        assert_eq!(
            label(&json!({"Variable": "$.a", "StringEqualsPath": "$.b"}), 0),
            "$.a == $.b"
        );
        assert_eq!(
            label(&json!({"Variable": "$.c", "StringMatches": "vip-*"}), 0),
            "$.c matches \"vip-*\""
        );
        assert_eq!(
            label(&json!({"Variable": "$.c", "IsPresent": false}), 0),
            "$.c is not present"
        );
    }

    #[test]
    fn combinations_and_conditions() {
        let rule = json!({"And": [
            {"Variable": "$.a", "IsString": true},
            {"Not": {"Variable": "$.b", "BooleanEquals": true}}
        ]});
        assert_eq!(label(&rule, 0), "$.a is string and not $.b == true");
        assert_eq!(label(&json!({"Condition": "{% $x > 1 %}"}), 0), "$x > 1");
    }

    #[test]
    fn long_or_unknown_rules_are_numbered() {
        let long = json!({"Variable": "$.a_very_long_variable_name_indeed", "StringEquals": "and a long value"});
        assert_eq!(label(&long, 2), "Rule 3");
        assert_eq!(
            label(&json!({"Variable": "$.a", "Frobnicates": 1}), 0),
            "Rule 1"
        );
        assert_eq!(label(&json!("not a rule"), 1), "Rule 2");
    }
}

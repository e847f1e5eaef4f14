//! Checks every action makes on its inputs, with AWS's messages.

use serde_json::Value;

use super::ApiError;

/// AWS's limit on execution input and task output: 256 KiB.
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// Names of state machines, executions, activities, aliases: 1–80
/// characters, none of whitespace, `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`
/// or control characters.
pub fn name(kind: &str, n: &str) -> Result<(), ApiError> {
    let bad =
        |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if n.is_empty() || n.chars().count() > 80 {
        return Err(ApiError::invalid_name(format!(
            "Invalid Name: '{n}' ({kind} names must be 1 to 80 characters long)"
        )));
    }
    // AWS names the name and nothing else.
    if n.chars().any(bad) {
        return Err(ApiError::invalid_name(format!("Invalid Name: '{n}'")));
    }
    Ok(())
}

/// A required string member.
pub fn string<'a>(body: &'a Value, member: &str) -> Result<&'a str, ApiError> {
    match body.get(member) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))),
        Some(_) => Err(ApiError::serialization(format!(
            "The member '{member}' must be a string"
        ))),
    }
}

pub fn optional_string<'a>(body: &'a Value, member: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::serialization(format!(
            "The member '{member}' must be a string"
        ))),
    }
}

/// An optional string member that must be one of `allowed` (the model's
/// enum), refused in AWS's words.
pub fn one_of<'a>(
    body: &'a Value,
    member: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match optional_string(body, member)? {
        Some(v) if !allowed.contains(&v) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{v}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ))),
        v => Ok(v),
    }
}

/// `arn:aws:states:<region>:<account>:<kind>:<name>[:…]`
pub fn arn<'a>(value: &'a str, kinds: &[&str]) -> Result<ArnParts<'a>, ApiError> {
    let invalid = || ApiError::invalid_arn(format!("Invalid Arn: '{value}'"));
    if !value.starts_with("arn:") {
        return Err(ApiError::invalid_arn(format!(
            "Invalid Arn: 'Invalid ARN prefix: {value}'"
        )));
    }
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() < 7
        || parts[0] != "arn"
        || parts[2] != "states"
        || parts[3].is_empty()
        || parts[4].is_empty()
    {
        return Err(invalid());
    }
    if parts[6].is_empty() {
        return Err(invalid());
    }
    if !kinds.contains(&parts[5]) {
        return Err(wrong_kind(parts[5]));
    }
    Ok(ArnParts {
        region: parts[3],
        account: parts[4],
        kind: parts[5],
        rest: parts[6..].to_vec(),
    })
}

/// AWS's answer for an ARN of a resource type the action does not take
/// (a state machine's where an execution's is wanted; an EXPRESS
/// execution's, of which AWS keeps no record).
pub fn wrong_kind(kind: &str) -> ApiError {
    ApiError::invalid_arn(format!(
        "Invalid Arn: 'Resource type not valid in this context: {kind}'"
    ))
}

#[derive(Debug)]
pub struct ArnParts<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub kind: &'a str,
    pub rest: Vec<&'a str>,
}

/// Execution input: JSON text within the size limit.
pub fn input(text: Option<&str>) -> Result<Value, ApiError> {
    let text = text.unwrap_or("{}");
    if text.len() > MAX_PAYLOAD {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {MAX_PAYLOAD}"
        )));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let why = input_error(text).unwrap_or_else(|| e.to_string());
        ApiError::invalid_execution_input(format!("Invalid State Machine Execution Input: '{why}'"))
    })?;
    if depth(&value) > MAX_DEPTH {
        return Err(ApiError::invalid_execution_input(format!(
            "Invalid State Machine Execution Input: it is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok(value)
}

/// AWS's words for text that is not JSON, with where its parser stopped:
/// the message (ending in the place) and the place alone, as
/// ValidateStateMachineDefinition gives them as a diagnostic's `message`
/// and `location` ("[Source: (String)\"…\"; line: 1, column: 4]").
pub fn json_error(text: &str, e: &serde_json::Error) -> (String, String) {
    let why = input_error(text).unwrap_or_else(|| e.to_string());
    // A bare word: the parser stops right after it.
    let (line, column) = match text.trim_start().chars().next() {
        Some(c) if c.is_alphabetic() => {
            let start = text.len() - text.trim_start().len();
            let end = start
                + text[start..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(text.len() - start);
            let before = &text[..end];
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            (line, before[line_start..].chars().count() + 1)
        }
        _ => (e.line(), e.column()),
    };
    const SHOWN: usize = 500;
    let shown: String = text.chars().take(SHOWN).collect();
    let cut = text.chars().count().saturating_sub(SHOWN);
    let more = if cut > 0 {
        format!("[truncated {cut} chars]")
    } else {
        String::new()
    };
    let location = format!(
        "[Source: (String){}{more}; line: {line}, column: {column}]",
        serde_json::Value::from(shown)
    );
    (format!("{why}\n at {location}"), location)
}

/// AWS's words for the commonest ways an input is not JSON (its parser's:
/// nothing, a bare word, an object whose member name is not quoted); `None`
/// for the rest, which keep the reader's own.
fn input_error(text: &str) -> Option<String> {
    let t = text.trim_start();
    let first = t.chars().next();
    if first.is_none() {
        return Some("Invalid execution input.".into());
    }
    if first.is_some_and(|c| c.is_alphabetic()) {
        let word: String = t
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        return Some(format!(
            "Unrecognized token '{word}': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        ));
    }
    if let Some(rest) = t.strip_prefix('{')
        && let Some(c) = rest.trim_start().chars().next()
        && c != '"'
        && c != '}'
    {
        return Some(format!(
            "Unexpected character ('{c}' (code {})): was expecting double-quote to start field name",
            c as u32
        ));
    }
    None
}

/// How deep a payload may nest: a state's input and output are refused
/// past it, so an execution is refused at the start rather than at its
/// first state (and stored records stay readable).
pub const MAX_DEPTH: usize = 100;

/// The nesting depth of a value, without recursion.
fn depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut todo = vec![(v, 1usize)];
    while let Some((v, d)) = todo.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(a) => todo.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => todo.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// `maxResults` (0 means the default of 100) and the offset in `nextToken`.
pub fn page(body: &Value) -> Result<(usize, usize), ApiError> {
    let (max, at) = page_at(body)?;
    let offset = match at {
        None => 0,
        Some(at) => at.parse().map_err(|_| bad_token())?,
    };
    Ok((max, offset))
}

/// `maxResults` (0 means the default of 100) and where `nextToken` says the
/// last page ended, as [`token_at`] wrote it: an offset, or a listing's own
/// position (ListExecutions continues after an execution, not at a count).
pub fn page_at(body: &Value) -> Result<(usize, Option<String>), ApiError> {
    let max = match body.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => 100,
            Some(n @ 1..=1000) => n as usize,
            Some(n) if n > 1000 => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
                )));
            }
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"
                )));
            }
        },
        Some(_) => {
            return Err(ApiError::serialization(
                "The member 'maxResults' must be an integer",
            ));
        }
    };
    let at = match optional_string(body, "nextToken")? {
        None => None,
        Some(t) if t.is_empty() || t.len() > 1024 => {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{t}' at 'nextToken' failed to satisfy constraint: Member must have length between 1 and 1024"
            )));
        }
        Some(t) => Some(decode_token(t).ok_or_else(bad_token)?),
    };
    Ok((max, at))
}

/// What AWS answers for a `nextToken` it did not hand out.
pub fn bad_token() -> ApiError {
    ApiError::invalid_token("Invalid Token: 'Invalid token'")
}

pub fn next_token(offset: usize, max: usize, total: usize) -> Option<String> {
    let next = offset.saturating_add(max);
    (next < total).then(|| token_at(&next.to_string()))
}

/// The `nextToken` that continues at `position`.
pub fn token_at(position: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("stepwise:{position}"))
}

fn decode_token(t: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()?;
    Some(
        String::from_utf8(bytes)
            .ok()?
            .strip_prefix("stepwise:")?
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refusals_read_as_aws_words_them() {
        let message = |r: Result<(), ApiError>| r.err().map(|e| e.message);
        assert_eq!(
            message(arn("not_an_arn", &["execution"]).map(|_| ())),
            Some("Invalid Arn: 'Invalid ARN prefix: not_an_arn'".into())
        );
        let machine = "arn:aws:states:us-east-1:1:stateMachine:m";
        assert_eq!(
            message(arn(machine, &["execution"]).map(|_| ())),
            Some("Invalid Arn: 'Resource type not valid in this context: stateMachine'".into())
        );
        assert_eq!(
            message(name("activity", "a#b")),
            Some("Invalid Name: 'a#b'".into())
        );
        for (text, why) in [
            ("", "Invalid execution input."),
            (
                "not some json",
                "Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')",
            ),
            (
                "{'not': 'json'",
                "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
            ),
        ] {
            assert_eq!(
                message(input(Some(text)).map(|_| ())),
                Some(format!("Invalid State Machine Execution Input: '{why}'"))
            );
        }
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(name("state machine", "orders-2024_v1").is_ok());
        for bad in ["", "has space", "a/b", "x?", &"n".repeat(81)] {
            assert_eq!(
                name("execution", bad).unwrap_err().code,
                "InvalidName",
                "{bad}"
            );
        }
    }

    #[test]
    fn arns_are_checked_by_kind() {
        let a = arn(
            "arn:aws:states:us-east-1:123456789012:stateMachine:m",
            &["stateMachine"],
        )
        .unwrap();
        assert_eq!(
            (a.region, a.kind, a.rest),
            ("us-east-1", "stateMachine", vec!["m"])
        );
        assert_eq!(
            arn(
                "arn:aws:states:us-east-1:123456789012:activity:m",
                &["stateMachine"]
            )
            .unwrap_err()
            .code,
            "InvalidArn"
        );
        assert_eq!(arn("nope", &["execution"]).unwrap_err().code, "InvalidArn");
    }

    #[test]
    fn inputs_must_be_json_within_the_limit() {
        assert_eq!(input(Some("{\"a\":1}")).unwrap(), json!({"a": 1}));
        assert_eq!(input(Some("{")).unwrap_err().code, "InvalidExecutionInput");
        assert_eq!(
            input(Some(&format!("\"{}\"", "x".repeat(MAX_PAYLOAD))))
                .unwrap_err()
                .code,
            "ValidationException"
        );
    }

    #[test]
    fn pagination_round_trips() {
        let t = next_token(0, 2, 5).unwrap();
        assert_eq!(
            page(&json!({"maxResults": 2, "nextToken": t})).unwrap(),
            (2, 2)
        );
        assert_eq!(next_token(4, 2, 5), None);
        assert!(page(&json!({"nextToken": "garbage"})).is_err());
    }
}

//! TestState's `mock.fieldValidationMode`: a mocked result is checked
//! against the output shape of the API action the Task calls, from AWS's
//! own models (`output-shapes.tsv.gz`, written by
//! `scripts/gen-aws-sdk-models`: every service's operations, their output
//! shapes, required members, enums, lengths and ranges).
//!
//! As AWS checks it: only members the model names are looked at (others
//! pass); STRICT also wants the required ones; PRESENT checks the members
//! that are there; NONE checks nothing. A camelCase API's members are named
//! as Step Functions shows them, first letter upper-cased (`ExecutionArn`).
//! Timestamps and blobs are strings. A Task whose answer is not an API's
//! output (a Lambda function ARN, an activity, `.sync`,
//! `.waitForTaskToken`, HTTP and API Gateway calls) is not checked.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::{Map, Value};

/// How strictly a mocked result is held to its API's output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Strict,
    Present,
    None,
}

impl FieldValidation {
    pub fn parse(mode: Option<&str>) -> Option<FieldValidation> {
        match mode {
            None | Some("STRICT") => Some(FieldValidation::Strict),
            Some("PRESENT") => Some(FieldValidation::Present),
            Some("NONE") => Some(FieldValidation::None),
            Some(_) => None,
        }
    }
}

/// One service's line of `output-shapes.tsv.gz`.
#[derive(Deserialize)]
struct Service {
    /// The API's members are camelCase (shown with the first letter up).
    c: bool,
    /// Each operation's output shape.
    o: HashMap<String, String>,
    /// The shapes, by name.
    h: HashMap<String, Shape>,
}

#[derive(Deserialize)]
struct Shape {
    t: String,
    /// A structure's members in the model's order; a list's member.
    #[serde(default)]
    m: Value,
    /// A structure's required members.
    #[serde(default)]
    r: Vec<String>,
    /// A map's values.
    #[serde(default)]
    v: Option<String>,
    /// A scalar's enum, minimum and maximum.
    #[serde(default)]
    e: Option<Vec<String>>,
    #[serde(default)]
    n: Option<f64>,
    #[serde(default)]
    x: Option<f64>,
}

/// Checks `result`, the mock of a Task that calls `resource`: the message
/// AWS gives for the first thing wrong with it.
pub fn check(resource: &str, result: &Value, mode: FieldValidation) -> Result<(), String> {
    if mode == FieldValidation::None {
        return Ok(());
    }
    let Some((service, action)) = api_action(resource) else {
        return Ok(());
    };
    let Some(svc) = service_model(&service) else {
        return Ok(());
    };
    let Some(output) = svc.o.get(&action) else {
        return Ok(());
    };
    // A result that is not an object has no fields to hold to the model.
    if !result.is_object() {
        return Ok(());
    }
    let check = Check { svc: &svc, mode };
    check
        .value(output, result, "")
        .map_err(|e| format!("Mock result schema validation error: {e}"))
}

/// The botocore service and operation a Task's resource calls, if its
/// answer is that operation's output.
fn api_action(resource: &str) -> Option<(String, String)> {
    let rest = resource.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(":states:::")?;
    let rest = rest.strip_prefix("aws-sdk:").unwrap_or(rest);
    let (service, action) = rest.split_once(':')?;
    if action.contains(['.', ':']) {
        return None;
    }
    let service = match service {
        "states" | "sfn" => "stepfunctions",
        "eventbridge" => "events",
        "cloudwatchlogs" => "logs",
        "elasticmapreduce" => "emr",
        other => other,
    };
    let mut chars = action.chars();
    let first = chars.next()?;
    Some((
        service.to_owned(),
        first.to_uppercase().chain(chars).collect(),
    ))
}

/// The model of `name`, read from the compressed file up to its line (and
/// kept) on first use.
fn service_model(name: &str) -> Option<Arc<Service>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<Service>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(s) = cache.lock().ok()?.get(name) {
        return s.clone();
    }
    let bytes: &[u8] = include_bytes!("output-shapes.tsv.gz");
    let prefix = format!("{name}\t");
    let found = std::io::BufReader::new(flate2::read::GzDecoder::new(bytes))
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            let model = line.strip_prefix(&prefix)?;
            serde_json::from_str::<Service>(model).ok().map(Arc::new)
        });
    if let Ok(mut c) = cache.lock() {
        c.insert(name.to_owned(), found.clone());
    }
    found
}

struct Check<'a> {
    svc: &'a Service,
    mode: FieldValidation,
}

impl Check<'_> {
    /// `v`, the value of field `name`, against the shape `r` names (`#type`
    /// for a scalar without constraints).
    fn value(&self, r: &str, v: &Value, name: &str) -> Result<(), String> {
        if let Some(kind) = r.strip_prefix('#') {
            return scalar(kind, None, v, name);
        }
        let Some(shape) = self.svc.h.get(r) else {
            return Ok(());
        };
        match shape.t.as_str() {
            "s" => match v {
                Value::Object(o) => self.structure(shape, o),
                _ => Err(format!("Field '{name}' must be an object")),
            },
            "l" => match (v, shape.m.as_str()) {
                (Value::Array(items), Some(member)) => items
                    .iter()
                    .try_for_each(|item| self.value(member, item, name)),
                (Value::Array(_), None) => Ok(()),
                _ => Err(format!("Field '{name}' must be an array")),
            },
            "m" => match (v, &shape.v) {
                (Value::Object(o), Some(values)) => {
                    o.values().try_for_each(|x| self.value(values, x, name))
                }
                (Value::Object(_), None) => Ok(()),
                _ => Err(format!("Field '{name}' must be an object")),
            },
            kind => scalar(kind, Some(shape), v, name),
        }
    }

    fn structure(&self, shape: &Shape, o: &Map<String, Value>) -> Result<(), String> {
        let Some(members) = shape.m.as_array() else {
            return Ok(());
        };
        for member in members {
            let (Some(model_name), Some(r)) = (member[0].as_str(), member[1].as_str()) else {
                continue;
            };
            let key = if self.svc.c {
                upper_first(model_name)
            } else {
                model_name.to_owned()
            };
            match o.get(&key).filter(|v| !v.is_null()) {
                Some(v) => self.value(r, v, &key)?,
                None if self.mode == FieldValidation::Strict
                    && shape.r.iter().any(|q| q == model_name) =>
                {
                    return Err(format!("Required field '{key}' is missing"));
                }
                None => {}
            }
        }
        Ok(())
    }
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A scalar of the model's `kind`, with its shape's constraints if it has
/// any.
fn scalar(kind: &str, shape: Option<&Shape>, v: &Value, name: &str) -> Result<(), String> {
    let (min, max) = (shape.and_then(|s| s.n), shape.and_then(|s| s.x));
    match kind {
        "string" | "blob" | "timestamp" => {
            let Some(s) = v.as_str() else {
                return Err(format!("Field '{name}' must be a string"));
            };
            if let Some(allowed) = shape.and_then(|s| s.e.as_ref())
                && !allowed.iter().any(|a| a == s)
            {
                return Err(format!("Field '{name}' is not an expected value"));
            }
            let len = s.chars().count() as f64;
            if min.is_some_and(|m| len < m) {
                return Err(format!("Field '{name}' is smaller than the minimum length"));
            }
            if max.is_some_and(|m| len > m) {
                return Err(format!("Field '{name}' exceeds the maximum length"));
            }
            Ok(())
        }
        "integer" | "long" | "float" | "double" | "bigdecimal" | "biginteger" => {
            let Some(n) = v.as_f64() else {
                return Err(format!("Field '{name}' must be a number"));
            };
            if min.is_some_and(|m| n < m) {
                return Err(format!("Field '{name}' is less than the minimum value"));
            }
            if max.is_some_and(|m| n > m) {
                return Err(format!("Field '{name}' exceeds the maximum value"));
            }
            Ok(())
        }
        "boolean" if !v.is_boolean() => Err(format!("Field '{name}' must be a boolean")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn strict(resource: &str, result: Value) -> Result<(), String> {
        check(resource, &result, FieldValidation::Strict)
    }

    const EVENTS: &str = "arn:aws:states:::events:putEvents";
    const START: &str = "arn:aws:states:::states:startExecution";

    #[test]
    fn fields_the_model_does_not_name_pass() {
        assert_eq!(strict(EVENTS, json!({"random": "json"})), Ok(()));
        assert_eq!(strict(EVENTS, json!({})), Ok(()));
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_at_any_depth() {
        let e = strict(EVENTS, json!({"Entries": "x"})).unwrap_err();
        assert_eq!(
            e,
            "Mock result schema validation error: Field 'Entries' must be an array"
        );
        let second = json!({"Entries": [{"EventId": "a"}, {"EventId": ["b"]}]});
        assert!(
            strict(EVENTS, second)
                .unwrap_err()
                .ends_with("Field 'EventId' must be a string")
        );
    }

    #[test]
    fn strict_wants_required_fields_in_step_functions_case_and_present_does_not() {
        let e = strict(START, json!({"executionArn": "a", "startDate": "b"})).unwrap_err();
        assert!(
            e.ends_with("Required field 'ExecutionArn' is missing"),
            "{e}"
        );
        let present = |v| check(START, &v, FieldValidation::Present);
        assert_eq!(present(json!({})), Ok(()));
        assert!(
            present(json!({"StartDate": 17}))
                .unwrap_err()
                .ends_with("Field 'StartDate' must be a string")
        );
        let none = check(START, &json!({"StartDate": 17}), FieldValidation::None);
        assert_eq!(none, Ok(()));
    }

    #[test]
    fn numbers_enums_lengths_and_ranges() {
        let lambda = "arn:aws:states:::lambda:invoke";
        assert!(
            strict(lambda, json!({"StatusCode": "200"}))
                .unwrap_err()
                .ends_with("Field 'StatusCode' must be a number")
        );
        let s3 = "arn:aws:states:::aws-sdk:s3:getObject";
        assert!(
            strict(s3, json!({"StorageClass": "Papyrus"}))
                .unwrap_err()
                .ends_with("Field 'StorageClass' is not an expected value")
        );
        assert_eq!(
            strict(s3, json!({"StorageClass": "GLACIER", "ContentLength": 9})),
            Ok(())
        );
        let kms = "arn:aws:states:::aws-sdk:kms:encrypt";
        assert!(
            strict(kms, json!({"CiphertextBlob": ""}))
                .unwrap_err()
                .ends_with("Field 'CiphertextBlob' is smaller than the minimum length")
        );
        let get = "arn:aws:states:::aws-sdk:lambda:getFunction";
        assert!(
            strict(get, json!({"Configuration": {"MemorySize": 127}}))
                .unwrap_err()
                .ends_with("Field 'MemorySize' is less than the minimum value")
        );
        assert!(
            strict(get, json!({"Configuration": {"MemorySize": 32769}}))
                .unwrap_err()
                .ends_with("Field 'MemorySize' exceeds the maximum value")
        );
    }

    #[test]
    fn answers_that_are_not_an_api_output_are_not_checked() {
        for resource in [
            "arn:aws:lambda:us-east-1:111111111111:function:f",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::http:invoke",
            "arn:aws:states:us-east-1:111111111111:activity:a",
        ] {
            assert_eq!(
                strict(resource, json!({"StatusCode": "x", "Entries": 1})),
                Ok(()),
                "{resource}"
            );
        }
    }
}

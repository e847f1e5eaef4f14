//! Retriers: which errors they match, and the back-off maths
//! (IntervalSeconds × BackoffRate^attempt, capped by MaxDelaySeconds, with
//! FULL jitter drawn from the random sample passed in).

use serde_json::Value;

use crate::definition::fields::Fields;
use crate::definition::problem::Problems;
use crate::error::StatesError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

impl Retrier {
    pub fn parse_all(f: &mut Fields<'_>, p: &mut Problems) -> Vec<Retrier> {
        let at = f.ptr("Retry");
        let Some(list) = f.array("Retry", p) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let here = format!("{at}[{i}]");
            let Some(obj) = v.as_object() else {
                p.schema(&here, "A retrier must be an object");
                continue;
            };
            let mut r = Fields::new(obj, here.clone());
            let error_equals = error_equals(&mut r, p, i + 1 == list.len());
            let interval_seconds = r.uint("IntervalSeconds", 99_999_999, p).unwrap_or(1);
            if interval_seconds == 0 && r.has("IntervalSeconds") {
                p.schema(
                    &r.ptr("IntervalSeconds"),
                    "The field 'IntervalSeconds' must be at least 1",
                );
            }
            let max_attempts = r.uint("MaxAttempts", 99_999_999, p).unwrap_or(3);
            let backoff_rate = r.number("BackoffRate", p).unwrap_or(2.0);
            if backoff_rate < 1.0 {
                p.schema(
                    &r.ptr("BackoffRate"),
                    "The field 'BackoffRate' must be at least 1.0",
                );
            }
            let max_delay_seconds = r.uint("MaxDelaySeconds", 31_622_400, p);
            let jitter = match r.string("JitterStrategy", p).as_deref() {
                None | Some("NONE") => Jitter::None,
                Some("FULL") => Jitter::Full,
                Some(other) => {
                    p.schema(
                        &r.ptr("JitterStrategy"),
                        format!("The value '{other}' must be FULL or NONE"),
                    );
                    Jitter::None
                }
            };
            r.string("Comment", p);
            r.finish(p);
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        out
    }

    /// Delay in milliseconds before retry number `attempt` (0-based),
    /// given a uniform sample in `[0, 1)` for jitter.
    pub fn delay_millis(&self, attempt: u32, sample: f64) -> u64 {
        let base = self.interval_seconds as f64 * self.backoff_rate.powi(attempt as i32);
        let capped = match self.max_delay_seconds {
            Some(max) => base.min(max as f64),
            None => base,
        };
        let seconds = match self.jitter {
            Jitter::None => capped,
            Jitter::Full => capped * sample,
        };
        (seconds * 1000.0).min(u64::MAX as f64 / 2.0) as u64
    }

    pub fn matches(&self, error: &StatesError) -> bool {
        matches_any(&self.error_equals, error)
    }
}

/// Reads `ErrorEquals`: non-empty, and `States.ALL` alone and in the last rule.
pub fn error_equals(f: &mut Fields<'_>, p: &mut Problems, last: bool) -> Vec<String> {
    let at = f.ptr("ErrorEquals");
    if !f.has("ErrorEquals") {
        f.raw("ErrorEquals");
        p.schema(&f.at, "These fields are required: [ErrorEquals]");
        return Vec::new();
    }
    let names: Vec<String> = match f.raw("ErrorEquals") {
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            p.schema(
                &at,
                "The field 'ErrorEquals' must be a non-empty array of strings",
            );
            return Vec::new();
        }
    };
    if names.iter().any(|n| n == "States.ALL") && (names.len() > 1 || !last) {
        p.schema(
            &at,
            "States.ALL must appear alone in ErrorEquals, in the last Retry or Catch rule",
        );
    }
    names
}

/// ASL's matching: a name matches itself; `States.ALL` matches every error
/// that reaches a rule; `States.TaskFailed` matches everything `States.ALL`
/// does except `States.Timeout`.
///
/// Nothing matches `States.Runtime`, not even a rule that names it: AWS
/// fails the execution (a Catch naming it, recorded on AWS in LocalStack's
/// `test_catch_states_runtime`, is passed over; the developer guide: it
/// "will always cause the execution to fail"). A `States.DataLimitExceeded`
/// that reaches a rule is a task's result over the limit, which AWS lets
/// `States.ALL` catch (LocalStack's `test_states_errors`, recorded on AWS);
/// the terminal one the guide means, a state's own output over the limit,
/// fails the execution past every rule (`fail_thread`).
pub fn matches_any(names: &[String], error: &StatesError) -> bool {
    let name = error.error.as_deref().unwrap_or("");
    if name == "States.Runtime" {
        return false;
    }
    names.iter().any(|n| match n.as_str() {
        "States.ALL" => true,
        "States.TaskFailed" => name != "States.Timeout",
        other => other == name,
    })
}

/// [`matches_any`] for a failure that may be a missed heartbeat: AWS
/// reports one as `States.Timeout`, and a rule naming
/// `States.HeartbeatTimeout` (a name only Retry and Catch use) matches it
/// too.
pub fn matches_heartbeat(names: &[String], error: &StatesError, heartbeat: bool) -> bool {
    matches_any(names, error) || heartbeat && names.iter().any(|n| n == "States.HeartbeatTimeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval: u64, rate: f64, max_delay: Option<u64>, jitter: Jitter) -> Retrier {
        Retrier {
            error_equals: vec!["States.ALL".into()],
            interval_seconds: interval,
            max_attempts: 3,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            jitter,
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let r = retrier(2, 3.0, Some(10), Jitter::None);
        assert_eq!(
            [0, 1, 2].map(|a| r.delay_millis(a, 0.5)),
            [2000, 6000, 10000]
        );
        let j = retrier(2, 2.0, None, Jitter::Full);
        assert_eq!(j.delay_millis(1, 0.25), 1000);
    }

    #[test]
    fn all_does_not_catch_terminal_errors() {
        let all = vec!["States.ALL".to_owned()];
        assert!(matches_any(&all, &StatesError::custom("Custom", "x")));
        assert!(!matches_any(&all, &StatesError::runtime("x")));
        let too_large = StatesError::custom("States.DataLimitExceeded", "x");
        assert!(matches_any(&all, &too_large));
        let tf = vec!["States.TaskFailed".to_owned()];
        assert!(!matches_any(
            &tf,
            &StatesError::custom("States.Timeout", "")
        ));
        assert!(!matches_any(
            &["States.Runtime".to_owned()],
            &StatesError::runtime("x")
        ));
        assert!(matches_any(
            &["States.DataLimitExceeded".to_owned()],
            &StatesError::custom("States.DataLimitExceeded", "x")
        ));
    }
}

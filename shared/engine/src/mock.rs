//! Mock configurations in AWS Step Functions Local's format:
//! `StateMachines.<machine>.TestCases.<case>.<state>` names a response in
//! `MockedResponses`, whose entries are keyed by invocation number
//! (`"0"`, `"1-2"`) and hold `Return` or `Throw`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use stepwise_asl::StatesError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the mock configuration is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the mock configuration has no state machine named {0:?} (it has: {1})")]
    NoMachine(String, String),
    #[error("the mock configuration has several state machines ({0}); choose one with --name")]
    Ambiguous(String),
    #[error("the state machine {0:?} has no test case named {1:?}")]
    NoTestCase(String, String),
    #[error("the mock configuration is malformed: {0}")]
    Malformed(String),
}

/// The responses of one test case, with a count of invocations per state
/// of each execution (as Step Functions Local counts them: every execution
/// of a test case starts at invocation 0; a redrive goes on counting).
#[derive(Debug)]
pub struct Mocks {
    /// state name → responses by invocation number
    states: HashMap<String, Vec<(u32, u32, Response)>>,
    /// (execution ARN, state name) → invocations so far
    calls: Mutex<HashMap<(String, String), u32>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Return(Value),
    Throw(StatesError),
}

impl Mocks {
    /// Selects `test_case` of `machine` (or of the only machine) in `config`.
    pub fn load(config: &str, machine: Option<&str>, test_case: &str) -> Result<Mocks, Error> {
        let root: Value = serde_json::from_str(config)?;
        let machines = root["StateMachines"]
            .as_object()
            .ok_or_else(|| Error::Malformed("no StateMachines".into()))?;
        let names = || machines.keys().cloned().collect::<Vec<_>>().join(", ");
        let (name, entry) = match machine {
            Some(m) => (
                m.to_owned(),
                machines
                    .get(m)
                    .ok_or_else(|| Error::NoMachine(m.into(), names()))?,
            ),
            None if machines.len() == 1 => machines
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v))
                .expect("one machine"),
            None => return Err(Error::Ambiguous(names())),
        };
        let case = entry["TestCases"][test_case]
            .as_object()
            .ok_or_else(|| Error::NoTestCase(name.clone(), test_case.into()))?;
        let mut states = HashMap::new();
        for (state, response_name) in case {
            let rname = response_name
                .as_str()
                .ok_or_else(|| Error::Malformed(format!("{state} must name a response")))?;
            let responses = root["MockedResponses"][rname].as_object().ok_or_else(|| {
                Error::Malformed(format!("no MockedResponses entry named {rname:?}"))
            })?;
            let mut list = Vec::new();
            for (key, body) in responses {
                let (from, to) = range(key)
                    .ok_or_else(|| Error::Malformed(format!("bad invocation key {key:?}")))?;
                let response = if let Some(r) = body.get("Return") {
                    Response::Return(r.clone())
                } else if let Some(t) = body.get("Throw") {
                    Response::Throw(StatesError {
                        error: t.get("Error").and_then(Value::as_str).map(str::to_owned),
                        cause: t.get("Cause").and_then(Value::as_str).map(str::to_owned),
                    })
                } else {
                    return Err(Error::Malformed(format!(
                        "response {rname:?}/{key} needs Return or Throw"
                    )));
                };
                list.push((from, to, response));
            }
            states.insert(state.clone(), list);
        }
        Ok(Mocks {
            states,
            calls: Mutex::new(HashMap::new()),
        })
    }

    pub fn has(&self, state: &str) -> bool {
        self.states.contains_key(state)
    }

    /// The response for the next invocation of `state` in `execution`, if
    /// it is mocked.
    pub fn next(&self, execution: &str, state: &str) -> Option<Response> {
        let list = self.states.get(state)?;
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let key = (execution.to_owned(), state.to_owned());
            let c = calls.entry(key).or_insert(0);
            let n = *c;
            *c += 1;
            n
        };
        let hit = list.iter().find(|(from, to, _)| (*from..=*to).contains(&n));
        // Past the last numbered response, the last one repeats.
        hit.or_else(|| list.iter().max_by_key(|(_, to, _)| *to))
            .map(|(_, _, r)| r.clone())
    }
}

fn range(key: &str) -> Option<(u32, u32)> {
    match key.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let n = key.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CONFIG: &str = r#"{
        "StateMachines": {"m": {"TestCases": {"ok": {"A": "seq"}}}},
        "MockedResponses": {"seq": {"0": {"Return": 1}, "1-2": {"Return": 2}, "3": {"Throw": {"Error": "E", "Cause": "c"}}}}
    }"#;

    #[test]
    fn answers_by_invocation_number() {
        let m = Mocks::load(CONFIG, None, "ok").unwrap();
        let got: Vec<Response> = (0..5).filter_map(|_| m.next("e1", "A")).collect();
        assert_eq!(got[0], Response::Return(json!(1)));
        assert_eq!(got[1], Response::Return(json!(2)));
        assert_eq!(got[2], Response::Return(json!(2)));
        assert_eq!(got[3], Response::Throw(StatesError::custom("E", "c")));
        assert_eq!(got[4], Response::Throw(StatesError::custom("E", "c")));
        assert_eq!(m.next("e1", "B"), None);
        // Another execution starts again at invocation 0.
        assert_eq!(m.next("e2", "A"), Some(Response::Return(json!(1))));
    }

    #[test]
    fn names_what_is_missing() {
        assert!(matches!(
            Mocks::load(CONFIG, Some("x"), "ok"),
            Err(Error::NoMachine(..))
        ));
        assert!(matches!(
            Mocks::load(CONFIG, None, "nope"),
            Err(Error::NoTestCase(..))
        ));
    }
}

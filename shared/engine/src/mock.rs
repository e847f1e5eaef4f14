//! Mock configurations in AWS Step Functions Local's format:
//! `StateMachines.<machine>.TestCases.<case>.<state>` names a response in
//! `MockedResponses`, whose entries are keyed by invocation number
//! (`"0"`, `"1-2"`) and hold `Return` or `Throw`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use stepwise_asl::{MockCase, StatesError, TaskCall};

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
    #[error("{0}")]
    Malformed(String),
}

/// A mock configuration: each test case's responses, selected per
/// execution as Step Functions Local selects them (an execution started on
/// `<state machine ARN>#<test case>`; [`stepwise_asl::Execution::mock`]),
/// or for every execution when a server or run names one test case. It
/// keeps a count of invocations per state of each execution (every
/// execution of a test case starts at invocation 0; a redrive goes on
/// counting).
#[derive(Debug)]
pub struct Mocks {
    /// (machine, test case) → state name → its responses, or why the
    /// configuration cannot give them (said when the state is reached).
    cases: HashMap<MockCase, CaseStates>,
    /// The test case of executions started without one.
    default: Option<MockCase>,
    /// (execution ARN, state name) → invocations so far
    calls: Mutex<HashMap<(String, String), u32>>,
}

/// A state's responses by invocation range (first, last), or why the
/// configuration cannot give them.
type Responses = Result<Vec<(u32, u32, Response)>, String>;

/// A test case: state name → its responses.
type CaseStates = HashMap<String, Responses>;

#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Return(Value),
    Throw(StatesError),
}

impl Mocks {
    /// Reads every test case of `config`; `test_case` of `machine` (or of
    /// the only machine) answers executions started without a test case.
    pub fn load(
        config: &str,
        machine: Option<&str>,
        test_case: Option<&str>,
    ) -> Result<Mocks, Error> {
        let root: Value = serde_json::from_str(config)?;
        let machines = root["StateMachines"]
            .as_object()
            .ok_or_else(|| Error::Malformed("no StateMachines".into()))?;
        let mut cases = HashMap::new();
        for (name, entry) in machines {
            let Some(tests) = entry["TestCases"].as_object() else {
                continue;
            };
            for (case, states) in tests {
                let key = MockCase {
                    machine: name.clone(),
                    case: case.clone(),
                };
                cases.insert(key, responses_of(&root, states));
            }
        }
        let Some(case) = test_case else {
            return Ok(Mocks {
                cases,
                default: None,
                calls: Mutex::new(HashMap::new()),
            });
        };
        let names = || machines.keys().cloned().collect::<Vec<_>>().join(", ");
        let name = match machine {
            Some(m) if machines.contains_key(m) => m.to_owned(),
            Some(m) => return Err(Error::NoMachine(m.into(), names())),
            None => match machines.keys().next() {
                Some(only) if machines.len() == 1 => only.clone(),
                _ => return Err(Error::Ambiguous(names())),
            },
        };
        let default = MockCase {
            machine: name.clone(),
            case: case.to_owned(),
        };
        // The one test case a run names must be whole before it starts.
        let Some(states) = cases.get(&default) else {
            return Err(Error::NoTestCase(name, case.into()));
        };
        if let Some(Err(why)) = states.values().find(|r| r.is_err()) {
            return Err(Error::Malformed(why.clone()));
        }
        Ok(Mocks {
            cases,
            default: Some(default),
            calls: Mutex::new(HashMap::new()),
        })
    }

    /// The test case that answers `call`'s execution, if any.
    fn case_of<'a>(&'a self, call: &'a TaskCall) -> Option<&'a MockCase> {
        call.mock.as_ref().or(self.default.as_ref())
    }

    /// Whether a mock answers `call`'s state.
    pub fn has(&self, call: &TaskCall) -> bool {
        self.case_of(call)
            .and_then(|c| self.cases.get(c))
            .is_some_and(|states| states.contains_key(&call.state))
    }

    /// The response for the next invocation of `call`'s state in
    /// `execution`, if it is mocked. An execution started on a test case
    /// the configuration lacks fails its first task, saying so.
    pub fn next(&self, execution: &str, call: &TaskCall) -> Option<Response> {
        let case = self.case_of(call)?;
        let Some(states) = self.cases.get(case) else {
            return Some(Response::Throw(StatesError::runtime(format!(
                "The mock configuration has no test case {:?} for the state machine {:?}",
                case.case, case.machine
            ))));
        };
        let list = match states.get(&call.state)? {
            Ok(list) => list,
            Err(why) => return Some(Response::Throw(StatesError::runtime(why.clone()))),
        };
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let key = (execution.to_owned(), call.state.clone());
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

/// A test case's states and their responses (`Err`: why one is malformed).
fn responses_of(root: &Value, states: &Value) -> CaseStates {
    let Some(states) = states.as_object() else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for (state, response_name) in states {
        out.insert(state.clone(), responses(root, state, response_name));
    }
    out
}

fn responses(root: &Value, state: &str, response_name: &Value) -> Responses {
    let rname = response_name.as_str().ok_or_else(|| {
        format!("the mock configuration is malformed: {state} must name a response")
    })?;
    let responses = root["MockedResponses"][rname].as_object().ok_or_else(|| {
        format!("the mock configuration is malformed: no MockedResponses entry named {rname:?}")
    })?;
    let mut list = Vec::new();
    for (key, body) in responses {
        let (from, to) = range(key).ok_or_else(|| {
            format!("the mock configuration is malformed: bad invocation key {key:?}")
        })?;
        let response = if let Some(r) = body.get("Return") {
            Response::Return(r.clone())
        } else if let Some(t) = body.get("Throw") {
            Response::Throw(StatesError {
                error: t.get("Error").and_then(Value::as_str).map(str::to_owned),
                cause: t.get("Cause").and_then(Value::as_str).map(str::to_owned),
            })
        } else {
            return Err(format!(
                "the mock configuration is malformed: response {rname:?}/{key} needs Return or Throw"
            ));
        };
        list.push((from, to, response));
    }
    Ok(list)
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
        "StateMachines": {"m": {"TestCases": {"ok": {"A": "seq"}, "other": {"A": "three"}, "broken": {"A": "gone"}}}},
        "MockedResponses": {"seq": {"0": {"Return": 1}, "1-2": {"Return": 2}, "3": {"Throw": {"Error": "E", "Cause": "c"}}},
                            "three": {"0": {"Return": 3}}}
    }"#;

    fn call(state: &str, case: Option<&str>) -> TaskCall {
        TaskCall {
            wait: 1,
            state: state.into(),
            resource: "arn:aws:states:::lambda:invoke".into(),
            pattern: stepwise_asl::definition::resource::Pattern::RequestResponse,
            payload: json!({}),
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            mock: case.map(|c| MockCase {
                machine: "m".into(),
                case: c.into(),
            }),
        }
    }

    #[test]
    fn answers_by_invocation_number() {
        let m = Mocks::load(CONFIG, None, Some("ok")).unwrap();
        let a = call("A", None);
        let got: Vec<Response> = (0..5).filter_map(|_| m.next("e1", &a)).collect();
        assert_eq!(got[0], Response::Return(json!(1)));
        assert_eq!(got[1], Response::Return(json!(2)));
        assert_eq!(got[2], Response::Return(json!(2)));
        assert_eq!(got[3], Response::Throw(StatesError::custom("E", "c")));
        assert_eq!(got[4], Response::Throw(StatesError::custom("E", "c")));
        assert_eq!(m.next("e1", &call("B", None)), None);
        // Another execution starts again at invocation 0.
        assert_eq!(m.next("e2", &a), Some(Response::Return(json!(1))));
    }

    #[test]
    fn an_execution_takes_the_test_case_it_was_started_with() {
        let m = Mocks::load(CONFIG, None, None).unwrap();
        // Started without a test case: nothing is mocked.
        assert!(!m.has(&call("A", None)));
        assert_eq!(m.next("e1", &call("A", None)), None);
        let other = call("A", Some("other"));
        assert!(m.has(&other));
        assert_eq!(m.next("e1", &other), Some(Response::Return(json!(3))));
        // A test case the configuration lacks, or a response it lacks, is
        // said when the state is reached.
        let missing = m.next("e1", &call("A", Some("nope")));
        assert!(
            matches!(missing, Some(Response::Throw(e)) if e.cause.as_deref().unwrap_or("").contains("\"nope\""))
        );
        let broken = m.next("e1", &call("A", Some("broken")));
        assert!(
            matches!(broken, Some(Response::Throw(e)) if e.cause.as_deref().unwrap_or("").contains("no MockedResponses entry named \"gone\""))
        );
    }

    #[test]
    fn names_what_is_missing() {
        assert!(matches!(
            Mocks::load(CONFIG, Some("x"), Some("ok")),
            Err(Error::NoMachine(..))
        ));
        assert!(matches!(
            Mocks::load(CONFIG, None, Some("nope")),
            Err(Error::NoTestCase(..))
        ));
        assert!(matches!(
            Mocks::load(CONFIG, None, Some("broken")),
            Err(Error::Malformed(..))
        ));
    }
}

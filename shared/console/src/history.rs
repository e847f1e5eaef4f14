//! What happened to each state, from GetExecutionHistory events.
//!
//! Each `…StateEntered` event opens an instance of the state; its
//! `…StateExited` closes it. A failure event (`TaskFailed`,
//! `LambdaFunctionTimedOut`, `MapStateFailed`, `ParallelStateFailed`,
//! `EvaluationFailed`, …) carries no state name, so it belongs to the nearest
//! open instance of its kind found by following `previousEventId` back (or,
//! when that chain is broken, the latest one). Then an instance:
//!
//! | events | status |
//! | --- | --- |
//! | entered, exited | succeeded |
//! | entered, failed (its last attempt), exited | caught (a Catch took it) |
//! | entered, failed, never exited; or a Fail state | failed |
//! | entered, never exited, the execution ended | failed (stopped with it) |
//! | entered, never exited, the execution goes on | running |
//!
//! A state entered many times (a loop, a Map's iterations) shows the most
//! telling of its instances: failed, then running, then caught, then
//! succeeded.

use std::collections::HashMap;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    // In increasing precedence, for a state entered more than once.
    NotReached,
    Succeeded,
    Caught,
    Running,
    Failed,
}

impl Status {
    /// The class name the outputs use.
    pub fn class(self) -> &'static str {
        match self {
            Status::NotReached => "notreached",
            Status::Succeeded => "succeeded",
            Status::Caught => "caught",
            Status::Running => "running",
            Status::Failed => "failed",
        }
    }
}

/// Which state types a task, map or parallel event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed(Option<&'static str>),
    Succeeded(&'static str),
}

fn outcome(kind: &str) -> Option<Outcome> {
    const TASK_FAILURES: &[&str] = &[
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
        "ActivityFailed",
        "ActivityTimedOut",
        "ActivityScheduleFailed",
    ];
    Some(match kind {
        k if TASK_FAILURES.contains(&k) => Outcome::Failed(Some("Task")),
        "TaskSucceeded" | "LambdaFunctionSucceeded" | "ActivitySucceeded" => {
            Outcome::Succeeded("Task")
        }
        "MapStateFailed" | "MapStateAborted" | "MapRunFailed" | "MapRunAborted" => {
            Outcome::Failed(Some("Map"))
        }
        "ParallelStateFailed" | "ParallelStateAborted" => Outcome::Failed(Some("Parallel")),
        k if k.starts_with("Execution") || k.starts_with("MapIteration") => return None,
        k if k.ends_with("Failed") || k.ends_with("TimedOut") => Outcome::Failed(None),
        _ => return None,
    })
}

struct Instance<'a> {
    name: &'a str,
    kind: &'a str,
    failed: bool,
    exited: bool,
}

impl Instance<'_> {
    /// Whether a failure or success of `kind` may belong to this instance:
    /// it is still open, and a Map or Parallel fails only once.
    fn takes(&self, kind: Option<&str>) -> bool {
        !self.exited && kind.is_none_or(|k| k == self.kind) && (!self.failed || self.kind == "Task")
    }
}

/// The status of each state name the history mentions.
pub fn statuses(events: &[Value]) -> HashMap<String, Status> {
    let mut instances: Vec<Instance> = Vec::new();
    // The event index of each id, and the instance each entered event opened.
    let mut by_id: HashMap<i64, usize> = HashMap::new();
    let mut opened: HashMap<usize, usize> = HashMap::new();
    let mut open_by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut ended = false;
    for (i, event) in events.iter().enumerate() {
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            continue;
        };
        if let Some(id) = event.get("id").and_then(Value::as_i64) {
            by_id.entry(id).or_insert(i);
        }
        let name = |key: &str| {
            event
                .get(key)
                .and_then(|d| d.get("name"))
                .and_then(Value::as_str)
        };
        if let Some(state_kind) = kind.strip_suffix("StateEntered") {
            let Some(name) = name("stateEnteredEventDetails") else {
                continue;
            };
            opened.insert(i, instances.len());
            open_by_name.entry(name).or_default().push(instances.len());
            instances.push(Instance {
                name,
                kind: state_kind,
                failed: false,
                exited: false,
            });
        } else if kind.ends_with("StateExited") {
            let popped = name("stateExitedEventDetails")
                .and_then(|n| open_by_name.get_mut(n))
                .and_then(Vec::pop);
            if let Some(n) = popped {
                instances[n].exited = true;
            }
        } else if matches!(
            kind,
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut"
        ) {
            ended = true;
        } else if kind == "ExecutionRedriven" {
            ended = false;
        } else if let Some(o) = outcome(kind) {
            let want = match o {
                Outcome::Failed(k) => k,
                Outcome::Succeeded(k) => Some(k),
            };
            let named = (kind == "EvaluationFailed")
                .then(|| event.get("evaluationFailedEventDetails"))
                .flatten()
                .and_then(|d| d.get("state"))
                .and_then(Value::as_str)
                .and_then(|n| open_by_name.get(n))
                .and_then(|v| v.last().copied());
            let found = named.or_else(|| owner(events, i, &by_id, &opened, &instances, want));
            if let Some(n) = found {
                instances[n].failed = matches!(o, Outcome::Failed(_));
            }
        }
    }
    let mut out: HashMap<String, Status> = HashMap::new();
    for inst in &instances {
        let status = match (inst.exited, inst.failed) {
            (true, false) => Status::Succeeded,
            (true, true) => Status::Caught,
            (false, true) => Status::Failed,
            (false, false) if inst.kind == "Fail" || ended => Status::Failed,
            (false, false) => Status::Running,
        };
        let slot = out.entry(inst.name.to_owned()).or_insert(status);
        *slot = (*slot).max(status);
    }
    out
}

/// The instance a task, map or parallel event at `at` belongs to.
fn owner(
    events: &[Value],
    at: usize,
    by_id: &HashMap<i64, usize>,
    opened: &HashMap<usize, usize>,
    instances: &[Instance],
    kind: Option<&str>,
) -> Option<usize> {
    // Follow previousEventId back; each step goes to an earlier event, so
    // the walk ends even if the ids loop.
    let mut i = at;
    loop {
        let prev = events[i].get("previousEventId").and_then(Value::as_i64);
        match prev.and_then(|p| by_id.get(&p)).copied() {
            Some(p) if p < i => i = p,
            _ => break,
        }
        if let Some(&n) = opened.get(&i)
            && instances[n].takes(kind)
        {
            return Some(n);
        }
    }
    (0..instances.len())
        .rev()
        .find(|&n| instances[n].takes(kind))
}

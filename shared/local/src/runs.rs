//! The executions the worker steps: what it keeps of each between
//! batches (facts, parsed machine, next event number), loaded on demand.

use std::sync::Arc;
use stepwise_asl::exec::Numbering;

use rusqlite::OptionalExtension;
use stepwise_asl::{Execution, StateMachine};

use crate::worker::Worker;

pub(crate) struct Run {
    /// The execution's number in the store: its history is kept under it,
    /// so that the events of executions that run together are written side
    /// by side (an ARN key scatters them over the whole index).
    pub eid: i64,
    pub facts: Execution,
    pub machine: Arc<StateMachine>,
    /// How its history events are numbered as they are appended.
    pub numbering: Numbering,
    /// The numbering changed since it was last written.
    pub events_dirty: bool,
    /// Whether any thread, message or token of it reached the database.
    pub persisted: bool,
}

/// An execution's row as `run_for` reads it: machine, version, facts,
/// next event id, the definition it runs, its number and its numbering.
type StoredRun = (
    String,
    Option<String>,
    String,
    i64,
    Option<String>,
    i64,
    Option<String>,
);

impl Run {
    /// The numbering as the `numbering` column keeps it.
    pub fn numbering_text(&self) -> String {
        serde_json::to_string(&self.numbering).unwrap_or_default()
    }
}

impl Worker {
    /// The parsed machine for a definition, cached: executions of one
    /// machine share it.
    pub(crate) fn load_machine(
        &mut self,
        definition: &str,
        express: bool,
    ) -> Option<Arc<StateMachine>> {
        let key = format!("{}{definition}", if express { 'E' } else { 'S' });
        if let Some(m) = self.machines.get(&key) {
            return Some(m.clone());
        }
        let sm = Arc::new(StateMachine::parse(definition, stepwise_asl::Options { express }).ok()?);
        self.machines.insert(key, sm.clone());
        Some(sm)
    }

    /// The execution's facts and machine, from the cache or the database.
    pub(crate) fn run_for(&mut self, arn: &str) -> rusqlite::Result<Option<&mut Run>> {
        if !self.runs.contains_key(arn) {
            let row: Option<StoredRun> = self
                .conn
                .query_row(
                    "SELECT machine, version, facts, next_event, definition, eid, numbering FROM executions WHERE arn = ?1",
                    [arn],
                    |r| StoredRun::try_from(r),
                )
                .optional()?;
            let Some((machine, version, facts, next_event, definition, eid, numbering)) = row
            else {
                return Ok(None);
            };
            let definition = match definition {
                Some(d) => d,
                // Written before executions kept their definition.
                None => {
                    let cat = crate::catalog::SqlCatalog(&self.conn);
                    let target = version.unwrap_or(machine);
                    match stepwise_engine::block_on(stepwise_engine::catalog::resolve(
                        &cat, &target, 0,
                    )) {
                        Ok(r) => r.settings.definition,
                        Err(_) => return Ok(None),
                    }
                }
            };
            let Some(sm) = self.load_machine(&definition, arn.contains(":express:")) else {
                return Ok(None);
            };
            // Unreadable facts (a damaged database): no run, as for a
            // definition that no longer parses, rather than a dead worker.
            let Ok(facts) = serde_json::from_str::<Execution>(&facts) else {
                return Ok(None);
            };
            self.runs.insert(
                arn.to_owned(),
                Run {
                    eid,
                    facts,
                    machine: sm,
                    numbering: (numbering.as_deref())
                        .and_then(|n| serde_json::from_str(n).ok())
                        .unwrap_or_else(|| Numbering::after((next_event as u64).saturating_sub(1))),
                    events_dirty: false,
                    persisted: true,
                },
            );
        }
        Ok(self.runs.get_mut(arn))
    }

    /// Whether the stored thread still waits for the answer to `wait`.
    pub(crate) fn waits_for(
        &self,
        execution: &str,
        thread: &str,
        wait: u64,
    ) -> rusqlite::Result<bool> {
        let data = crate::db::stored_thread(&self.conn, execution, thread)?;
        Ok(data.is_some_and(|d| {
            serde_json::from_str::<stepwise_asl::Thread>(&d)
                .map_or(true, |t| t.current_wait() == Some(wait))
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use serde_json::json;
    use stepwise_asl::TaskCall;
    use stepwise_asl::definition::resource::Pattern;

    use crate::worker::{IN_FLIGHT, Worker};

    /// A server stopped after a task gave up on its `.sync` job, before the
    /// job was stopped: on the restart the job is followed only to be
    /// stopped, and a call not made yet is not made.
    #[test]
    fn a_call_its_task_gave_up_on_is_not_followed_after_a_restart() {
        let conn = crate::db::open(None).unwrap();
        let call = |wait| TaskCall {
            wait,
            state: "Q".into(),
            resource: "arn:aws:states:::athena:startQueryExecution.sync".into(),
            pattern: Pattern::Sync,
            payload: json!({}),
            token: None,
            timeout_seconds: None,
            heartbeat_seconds: None,
            mock: None,
        };
        let text = |wait| serde_json::to_string(&call(wait)).unwrap();
        conn.execute(
            "INSERT INTO messages (id, execution, thread, due, event, dispatch, started) VALUES
             (1, 'e', 'root', ?1, 'null', ?2, '{\"QueryExecutionId\":\"q-1\"}'),
             (2, 'e', 'root', ?1, 'null', ?3, NULL)",
            rusqlite::params![IN_FLIGHT, text(3), text(4)],
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        let chain = crate::tasks::InThread(stepwise_engine::tasks::Mocked {
            mocks: None,
            fallback: stepwise_engine::tasks::Unavailable,
        });
        let tasks = crate::tasks::ChainTasks(std::sync::Arc::new(chain));
        let mut w = Worker::new(conn, tx, tasks, false, Default::default()).unwrap();
        w.recover().unwrap();
        let sent: Vec<_> = rx.try_iter().collect();
        assert_eq!(sent.len(), 1, "only the job that was started goes out");
        assert_eq!(sent[0].started, Some(json!({"QueryExecutionId": "q-1"})));
        assert!(
            sent[0].abandoned.is_raised(),
            "to be stopped at its first look"
        );
        let left: i64 = (w.conn)
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1, "the call never made is forgotten");
    }
}

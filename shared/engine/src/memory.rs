//! The in-memory driver: threads in a map, messages in a time-ordered heap,
//! and a virtual clock that can jump straight to the next due message
//! (`fast_forward`) or follow the wall clock.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use serde_json::Value;
use stepwise_asl::exec::{HistoryEvent, Numbering};
use stepwise_asl::random::Random;
use stepwise_asl::timestamp::Millis;
use stepwise_asl::{Env, Event, Execution, Outcome, StateMachine, StatesError, TaskCall, Thread};

use crate::driver::{Host, Stepped, deliver};

use crate::ports::{TaskContext, Tasks};
use crate::report::{Recorded, Report};
use crate::tasks::{carry_out, inline_event, offers_activity};

#[derive(Debug, Clone, Copy)]
pub struct RunnerOptions {
    /// Jump over waits instead of sleeping through them.
    pub fast_forward: bool,
    /// Seed for the execution's random numbers.
    pub seed: u64,
    /// Keep history events (they are needed for `states_entered`).
    pub history: bool,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            fast_forward: true,
            seed: 0x5eed,
            history: true,
        }
    }
}

/// One queued message: due time, then FIFO order.
#[derive(Debug)]
struct Due {
    at: Millis,
    order: u64,
    thread: String,
    event: Event,
}

impl PartialEq for Due {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Due {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(o.at, o.order))
    }
}

/// Where a runner hands its numbered history events as they happen.
type Sink<'m> = Box<dyn FnMut(&Recorded) + Send + 'm>;

/// Runs one execution to its end, in memory.
pub struct Runner<'m, T> {
    machine: &'m StateMachine,
    exec: Execution,
    tasks: T,
    options: RunnerOptions,
    threads: HashMap<String, Thread, rustc_hash::FxBuildHasher>,
    queue: BinaryHeap<Reverse<Due>>,
    order: u64,
    now: Millis,
    random: Random,
    history: Vec<Recorded>,
    /// How many state transitions ran (for benchmarks).
    transitions: u64,
    /// How the execution ended, once it did.
    outcome: Option<Outcome>,
    /// The variables the root starts with (TestState's `variables`).
    variables: serde_json::Map<String, Value>,
    /// Where numbered history events go as they happen (`stepwise run
    /// --history` streams them rather than keeping them).
    sink: Option<Sink<'m>>,
    /// How the history is numbered.
    numbering: Numbering,
}

impl<'m, T: Tasks> Runner<'m, T> {
    pub fn new(
        machine: &'m StateMachine,
        exec: Execution,
        tasks: T,
        options: RunnerOptions,
    ) -> Self {
        let now = exec.start_time;
        Runner {
            machine,
            exec,
            tasks,
            options,
            threads: HashMap::default(),
            queue: BinaryHeap::new(),
            order: 0,
            now,
            random: Random::new(options.seed),
            history: Vec::new(),
            transitions: 0,
            outcome: None,
            variables: serde_json::Map::new(),
            sink: None,
            numbering: Numbering::default(),
        }
    }

    /// Hands each history event, numbered, to `sink` as it happens.
    pub fn with_sink(mut self, sink: impl FnMut(&Recorded) + Send + 'm) -> Self {
        self.sink = Some(Box::new(sink));
        self
    }

    /// Whether history events are made at all: kept, or streamed.
    fn records(&self) -> bool {
        self.options.history || self.sink.is_some()
    }

    /// Starts the root with these variables in scope.
    pub fn with_variables(mut self, variables: serde_json::Map<String, Value>) -> Self {
        self.variables = variables;
        self
    }

    fn push(&mut self, at: Millis, thread: String, event: Event) {
        self.order += 1;
        self.queue.push(Reverse(Due {
            at,
            order: self.order,
            thread,
            event,
        }));
    }

    fn append(&mut self, events: Vec<HistoryEvent>) {
        if !self.records() {
            self.numbering.skip(events.len() as u64);
            return;
        }
        for event in events {
            let (id, previous) = self.numbering.number(&event);
            let r = Recorded {
                id,
                previous,
                event,
            };
            if let Some(sink) = self.sink.as_mut() {
                sink(&r);
            }
            if self.options.history {
                self.history.push(r);
            }
        }
    }

    /// Runs the execution until its root thread ends.
    pub async fn run(self) -> Report {
        self.run_counting().await.0
    }

    /// Runs the execution and also returns how many transitions it took.
    pub async fn run_counting(mut self) -> (Report, u64) {
        let report = self.drive().await;
        (report, self.transitions)
    }

    async fn drive(&mut self) -> Report {
        let started = HistoryEvent::execution_started(&self.exec);
        self.append(vec![started]);
        let mut root = Thread::root(&self.machine.root().start_at, self.exec.input.clone());
        root.variables = std::mem::take(&mut self.variables);
        self.threads.insert(root.id.clone(), root);
        self.push(self.now, "root".into(), Event::Run);
        if let Some((at, timeout)) = stepwise_asl::exec::machine_timeout(self.machine, self.now, 0)
        {
            self.push(at, "root".into(), timeout);
        }
        loop {
            let Some(Reverse(due)) = self.queue.pop() else {
                return Report::stuck(std::mem::take(&mut self.history));
            };
            if due.at > self.now {
                if !self.options.fast_forward {
                    let wall = wall_clock();
                    if due.at > wall {
                        std::thread::sleep(std::time::Duration::from_millis(
                            (due.at - wall) as u64,
                        ));
                    }
                }
                self.now = due.at;
            }
            let Ok(()) = deliver(self, "", &due.thread, due.event).await;
            if let Some(outcome) = self.outcome.take() {
                return Report::from_outcome(outcome, std::mem::take(&mut self.history));
            }
        }
    }
}

/// The runner keeps its one execution's threads in a map and its queue in
/// a heap; a task call is carried out in place.
impl<T: Tasks> Host for Runner<'_, T> {
    type Error = std::convert::Infallible;

    fn take(&mut self, _: &str, thread: &str) -> Result<Option<(Thread, bool)>, Self::Error> {
        Ok(self.threads.remove(thread).map(|t| (t, false)))
    }

    fn put(&mut self, _: &str, thread: Thread, _new: bool) {
        self.threads.insert(thread.id.clone(), thread);
    }

    fn forget(&mut self, _: &str, _: &str, _: bool) {}

    async fn step(
        &mut self,
        _: &str,
        thread: &mut Thread,
        event: Event,
    ) -> Result<Option<Stepped>, Self::Error> {
        let env = Env {
            now: self.now,
            seed: self.random.next_u64(),
            event_id: self.numbering.next_id(),
            history: self.records(),
            spawn_bytes: 0,
            missing_activity: None,
            nonce: crate::entropy(),
        };
        // (Every activity exists here: nothing can create or delete one.)
        let exists = async |_: &str| true;
        let (machine, exec, tasks) = (self.machine, &self.exec, &self.tasks);
        let stepped = crate::tasks::step_thread(machine, exec, thread, event, &env, tasks, exists);
        let Some(mut output) = stepped.await else {
            return Ok(None);
        };
        output.resolve_cuts(machine, |id| self.threads.get(id).cloned());
        self.transitions += 1;
        Ok(Some(Stepped {
            output,
            before: self.numbering.next_id() - 1,
            express: machine.express,
            child_wait: None,
        }))
    }

    fn now(&self) -> Millis {
        self.now
    }

    fn record(&mut self, _: &str, events: Vec<HistoryEvent>, made: u64) -> Result<(), Self::Error> {
        if !self.records() {
            self.numbering.skip(made);
        }
        self.append(events);
        Ok(())
    }

    fn schedule(
        &mut self,
        _: &str,
        thread: &str,
        at: Millis,
        event: Event,
    ) -> Result<(), Self::Error> {
        self.push(at, thread.to_owned(), event);
        Ok(())
    }

    async fn invoke(
        &mut self,
        _: &str,
        thread: &Thread,
        call: TaskCall,
    ) -> Result<(), Self::Error> {
        // An activity task waits for a worker, which nothing can be here:
        // only its timers can end it, as a callback's.
        if offers_activity(&self.tasks, &call) {
            return Ok(());
        }
        let id = &thread.id;
        let ctx = TaskContext::new(&self.exec.arn, id);
        let began = std::time::Instant::now();
        let mut went_out = None;
        let result = carry_out(&self.tasks, &call, &ctx, None, |answer| {
            went_out = Some(answer.clone())
        })
        .await;
        // The call took the time it took, on the execution's clock too: its
        // answer comes that long after it was made, and a machine's
        // TimeoutSeconds that passed meanwhile comes first, as on every
        // backend. (Calls are made one after another here, but each is
        // placed as if made when its state asked: as AWS runs a Map's
        // calls, side by side.)
        let answered = self.now + began.elapsed().as_millis() as Millis;
        // A task that waits after its call: TaskSubmitted first.
        if let Some(output) = went_out {
            let wait = call.wait;
            self.push(self.now, id.clone(), Event::TaskSubmitted { wait, output });
        }
        // (None: a callback task whose request went out waits for its
        // token, which nothing can send here: only its timers,
        // TimeoutSeconds and HeartbeatSeconds, can end it.)
        if let Some(result) = result {
            let event = inline_event(&call, began.elapsed(), result);
            self.push(answered, id.clone(), event);
        }
        Ok(())
    }

    fn finish(&mut self, _: &str, _: Option<&Thread>, outcome: Outcome) -> Result<(), Self::Error> {
        self.outcome = Some(outcome);
        Ok(())
    }

    fn fail(&mut self, _: &str, error: StatesError) -> Result<(), Self::Error> {
        self.append(vec![HistoryEvent::execution_failed(self.now, &error)]);
        self.outcome = Some(Outcome::Failed(error));
        Ok(())
    }
}

/// Epoch milliseconds now. The only clock read in the engine, for real-time runs.
pub fn wall_clock() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// The role an execution started without one runs as (`stepwise run`, on
/// every engine).
pub fn local_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/stepwise-local")
}

/// An execution's fixed facts for a local run.
pub fn local_execution(
    machine_name: &str,
    execution_name: &str,
    input: Value,
    start_time: Millis,
    express: bool,
) -> Execution {
    local_execution_in(
        "us-east-1",
        "123456789012",
        machine_name,
        execution_name,
        input,
        start_time,
        express,
    )
}

/// The same, in `region` of `account`.
pub fn local_execution_in(
    region: &str,
    account: &str,
    machine_name: &str,
    execution_name: &str,
    input: Value,
    start_time: Millis,
    express: bool,
) -> Execution {
    Execution {
        arn: if express {
            format!(
                "arn:aws:states:{region}:{account}:express:{machine_name}:{execution_name}:{}",
                crate::uuid()
            )
        } else {
            format!("arn:aws:states:{region}:{account}:execution:{machine_name}:{execution_name}")
        },
        name: execution_name.to_owned(),
        input,
        start_time,
        role_arn: local_role(account),
        state_machine_arn: format!("arn:aws:states:{region}:{account}:stateMachine:{machine_name}"),
        state_machine_name: machine_name.to_owned(),
        redrive_count: if express { None } else { Some(0) },
        given_context: None,
        state_name: None,
        mock: None,
    }
}

//! A Distributed Map's Map Run as the Map Run API shows it. The step
//! function hands it to its driver ([`Effect::MapRun`]) when the run starts
//! and when it ends; while it runs, its counts are read from the fan-out of
//! the thread that runs the Map state ([`MapRun::live`]), so that no write
//! follows a child's end.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::history::EventType;
use super::thread::{Fanout, Phase, Thread};
use super::{Effect, Step};
use crate::definition::State;
use crate::error::StatesError;
use crate::states::Kind;
use crate::timestamp::Millis;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRun {
    pub arn: String,
    /// The thread that runs the Map state.
    pub thread: String,
    /// RUNNING, SUCCEEDED, FAILED or ABORTED.
    pub status: String,
    pub start: Millis,
    pub stop: Option<Millis>,
    /// 0: no limit.
    pub max_concurrency: usize,
    pub tolerated_count: u64,
    pub tolerated_percentage: f64,
    pub counts: MapRunCounts,
    /// How many times a redrive of its execution redrove it, and when last.
    #[serde(default)]
    pub redrive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redriven: Option<Millis>,
    /// Items by where they are, when each child runs a batch of them
    /// (`None`: one item per child, as `counts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<MapRunCounts>,
    /// Whether its children are kept as executions (ExecutionType
    /// STANDARD): ListExecutions(mapRunArn) reads them.
    #[serde(default)]
    pub executions: bool,
}

/// UpdateMapRun's new settings for a running Map Run (`None`: unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapRunUpdate {
    pub run: String,
    pub max_concurrency: Option<usize>,
    pub tolerated_count: Option<u64>,
    pub tolerated_percentage: Option<f64>,
}

/// Items (and the child executions that run them) by where they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MapRunCounts {
    pub total: usize,
    pub pending: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub aborted: usize,
}

impl MapRunCounts {
    /// Items by where they are, for a fan-out whose children run batches.
    pub fn items_of(f: &Fanout) -> Option<MapRunCounts> {
        if f.sizes.is_empty() {
            return None;
        }
        let mut c = MapRunCounts::default();
        let started = f.next.unwrap_or(f.started);
        let failed: std::collections::HashSet<usize> = f.failed_items.iter().copied().collect();
        for (i, &n) in f.sizes.iter().enumerate() {
            let n = n as usize;
            c.total += n;
            if f.is_done(i) {
                if failed.contains(&i) {
                    c.failed += n;
                } else {
                    c.succeeded += n;
                }
            } else if i < started {
                c.running += n;
            } else {
                c.pending += n;
            }
        }
        Some(c)
    }

    /// A run that ended: what still ran was stopped with it.
    pub fn abort_running(&mut self) {
        self.aborted += self.running;
        self.running = 0;
    }

    pub fn of(f: &Fanout) -> MapRunCounts {
        MapRunCounts {
            total: f.total,
            pending: f.total.saturating_sub(f.started),
            running: f.started.saturating_sub(f.finished),
            succeeded: f.finished.saturating_sub(f.failed),
            failed: f.failed,
            aborted: 0,
        }
    }
}

impl MapRun {
    fn of(f: &Fanout, arn: &str, thread: &Thread, status: &str, stop: Option<Millis>) -> Self {
        MapRun {
            arn: arn.to_owned(),
            thread: thread.id.clone(),
            status: status.to_owned(),
            start: f.run_started,
            stop,
            max_concurrency: f.max_concurrency,
            tolerated_count: f.tolerated_count.unwrap_or(0),
            tolerated_percentage: f.tolerated_percentage.unwrap_or(0.0),
            counts: MapRunCounts::of(f),
            items: MapRunCounts::items_of(f),
            redrive_count: f.redrives,
            redriven: (f.redrives > 0).then_some(f.redriven),
            executions: false,
        }
    }

    /// The run as `thread` (its Map state's thread, as stored now) shows
    /// it, if it still runs there.
    pub fn live(&self, thread: &Thread) -> Option<MapRun> {
        let Phase::Children { fanout, .. } = &thread.phase else {
            return None;
        };
        (fanout.map_run.as_deref() == Some(self.arn.as_str())).then(|| MapRun {
            executions: self.executions,
            ..MapRun::of(fanout, &self.arn, thread, "RUNNING", None)
        })
    }
}

impl Step<'_> {
    /// Hands the driver the Map Run of fan-out `f` as it now is: `status`
    /// RUNNING when it starts, else how it ended.
    pub(super) fn map_run(&mut self, t: &Thread, f: &Fanout, status: &str) {
        let Some(arn) = &f.map_run else { return };
        let stop = (status != "RUNNING").then_some(self.env.now);
        let mut run = MapRun::of(f, arn, t, status, stop);
        run.executions = (self.state_of(t))
            .is_some_and(|s| matches!(&s.kind, crate::states::Kind::Map(m) if m.standard_children));
        if run.start == 0 {
            // Started before runs were kept with their start.
            run.start = self.env.now;
        }
        // An ended run's children still running were stopped with it.
        if stop.is_some() {
            run.counts.abort_running();
            if let Some(items) = &mut run.items {
                items.abort_running();
            }
        }
        self.effects.push(Effect::MapRun(Box::new(run)));
    }

    /// A distributed Map's ItemReader could not read its items: as AWS
    /// records it, a Map Run starts and fails with the error (MapRunStarted,
    /// MapRunFailed), then the state fails (or retries).
    pub(crate) fn read_failed(
        &mut self,
        t: &mut Thread,
        state: &State,
        wait: u64,
        error: StatesError,
    ) {
        let Kind::Map(m) = &state.kind else {
            return self.fail_state(t, state, error);
        };
        let arn = self.map_run_arn(m.label.as_deref());
        let fanout = Fanout {
            map_run: Some(arn.clone()),
            run_started: self.env.now,
            ..Fanout::new(0)
        };
        self.record(t, EventType::MapRunStarted, || json!({"mapRunArn": arn}));
        self.fanout_failed(t, state, wait, &fanout, error, None);
        // Nothing to take up again: a redrive reads the items anew, in a
        // Map Run of its own.
        t.kept = None;
    }

    /// The events that end a Map's iterations: MapRunSucceeded/Failed for a
    /// distributed Map's Map Run, then MapStateSucceeded/Failed.
    /// `failed`: why the Map Run failed (its MapRunFailed says).
    pub(super) fn map_ended(
        &mut self,
        t: &Thread,
        state: &State,
        f: &Fanout,
        failed: Option<&StatesError>,
    ) {
        let succeeded = failed.is_none();
        if let Kind::Map(m) = &state.kind
            && m.distributed
        {
            match failed {
                None => {
                    self.map_run(t, f, "SUCCEEDED");
                    self.record(t, EventType::MapRunSucceeded, || json!({}));
                }
                Some(e) => {
                    let details = super::flow::error_details(e);
                    self.record(t, EventType::MapRunFailed, || details);
                }
            }
        }
        let kind = if succeeded {
            EventType::MapStateSucceeded
        } else {
            EventType::MapStateFailed
        };
        self.record(t, kind, || json!({}));
    }
}

//! Feeds queue messages to the stepper as Lambda's SQS event source does —
//! batches of up to ten, delete what succeeded, the rest comes back — for
//! `stepwise run --backend aws` and the tests. It can jump over waits
//! (`fast_forward`: a virtual clock that moves to the next due message once
//! the queue is empty) and make trouble on purpose (`chaos`: deliver messages
//! twice, late and out of order, and abort the stepper between its write and
//! its send).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use stepwise_asl::random::Random;
use stepwise_asl::timestamp::Millis;

use super::{Abort, Envelope, PortError, Queue, Stepper, Store};
use crate::ports::Tasks;

/// One received message and the handle to delete or release it with.
#[derive(Debug, Clone)]
pub struct Delivery<H> {
    pub handle: H,
    pub envelope: Envelope,
    /// How many times the queue has delivered it (1 the first time).
    pub receives: u32,
}

/// The receiving side of the step queue.
pub trait Inbox {
    type Handle: Clone;
    /// Up to ten messages; with `wait`, waits a while for the first one.
    fn receive(
        &self,
        wait: bool,
    ) -> impl Future<Output = Result<Vec<Delivery<Self::Handle>>, PortError>>;
    fn delete(&self, handles: &[Self::Handle]) -> impl Future<Output = Result<(), PortError>>;
    /// Makes the messages visible again at once (a failed batch item).
    fn release(&self, handles: &[Self::Handle]) -> impl Future<Output = Result<(), PortError>>;
}

impl<I: Inbox> Inbox for &I {
    type Handle = I::Handle;
    async fn receive(&self, wait: bool) -> Result<Vec<Delivery<Self::Handle>>, PortError> {
        (*self).receive(wait).await
    }
    async fn delete(&self, handles: &[Self::Handle]) -> Result<(), PortError> {
        (*self).delete(handles).await
    }
    async fn release(&self, handles: &[Self::Handle]) -> Result<(), PortError> {
        (*self).release(handles).await
    }
}

/// Deterministic trouble from a seed: duplicate and late deliveries here,
/// aborts (through [`Abort`]) in the stepper.
pub struct Chaos {
    random: Mutex<Random>,
    /// Probability of each kind of trouble at each chance.
    pub rate: f64,
    /// How many aborts and duplicates it caused.
    pub aborts: Mutex<u64>,
}

impl Chaos {
    pub fn new(seed: u64) -> Self {
        Chaos {
            random: Mutex::new(Random::new(seed ^ 0xC4A0_5EED)),
            rate: 0.2,
            aborts: Mutex::new(0),
        }
    }

    fn roll(&self) -> bool {
        self.random.lock().expect("lock").next_f64() < self.rate
    }
}

impl Abort for Chaos {
    fn abort(&self, _point: &'static str) -> bool {
        let yes = self.roll();
        if yes {
            *self.aborts.lock().expect("lock") += 1;
        }
        yes
    }
}

impl Abort for Option<Chaos> {
    fn abort(&self, point: &'static str) -> bool {
        self.as_ref().is_some_and(|c| c.abort(point))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PollerOptions {
    pub fast_forward: bool,
    /// Where the virtual clock starts (fast-forward only).
    pub start: Millis,
    /// How many received batches are handled at once (0 or 1: one, to its
    /// end before the next receive). More let one loop take new messages
    /// while a batch waits on a slow task call.
    pub flights: usize,
}

/// A batch being handled, to its deletes and releases.
type Flight<'a> = Pin<Box<dyn Future<Output = Result<(), PortError>> + 'a>>;

/// The batches a poller is handling ([`PollerOptions::flights`]).
#[derive(Default)]
struct Flights<'a> {
    running: Vec<Flight<'a>>,
    /// The first error a batch's delete or release met.
    failed: Option<PortError>,
}

impl<'a> Flights<'a> {
    fn poll_all(&mut self, cx: &mut Context<'_>) {
        let failed = &mut self.failed;
        self.running.retain_mut(|f| match f.as_mut().poll(cx) {
            Poll::Ready(result) => {
                match (result, &failed) {
                    (Err(e), None) => *failed = Some(e),
                    (Err(e), Some(_)) => eprintln!("stepwise: a batch's end failed too: {e}"),
                    (Ok(()), _) => {}
                }
                false
            }
            Poll::Pending => true,
        });
    }

    /// Awaits `work`, the batches in flight going on meanwhile.
    async fn during<W: Future>(&mut self, work: W) -> W::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            self.poll_all(cx);
            work.as_mut().poll(cx)
        })
        .await
    }

    /// Waits until fewer than `most` batches are in flight (0: none).
    async fn fewer_than(&mut self, most: usize) -> Result<(), PortError> {
        std::future::poll_fn(|cx| {
            self.poll_all(cx);
            match self.running.len() < most.max(1) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await;
        self.failed.take().map_or(Ok(()), Err)
    }
}

/// A stand-in for Lambda's SQS event source.
pub struct Poller<'a, S, Q, T, I> {
    pub stepper: &'a Stepper<S, Q, T, Option<Chaos>>,
    pub inbox: &'a I,
    pub options: PollerOptions,
    now: Millis,
    /// Fast-forward: received messages not yet due on the virtual clock.
    held: Vec<Envelope>,
    /// Chaos: messages kept back to deliver late (and again).
    late: Vec<Envelope>,
    /// How many messages the stepper handled.
    pub handled: u64,
    /// Batches still in flight after a `run` that failed.
    flights: Flights<'a>,
}

impl<'a, S: Store, Q: Queue, T: Tasks, I: Inbox> Poller<'a, S, Q, T, I> {
    pub fn new(
        stepper: &'a Stepper<S, Q, T, Option<Chaos>>,
        inbox: &'a I,
        options: PollerOptions,
    ) -> Self {
        Poller {
            stepper,
            inbox,
            options,
            now: options.start,
            held: Vec::new(),
            late: Vec::new(),
            handled: 0,
            flights: Flights::default(),
        }
    }

    fn clock(&self) -> Millis {
        if self.options.fast_forward {
            self.now
        } else {
            crate::memory::wall_clock()
        }
    }

    fn chaos(&self) -> Option<&Chaos> {
        self.stepper.abort.as_ref()
    }

    /// Delivers messages until `done` says so; false if the queue ran dry
    /// first (nothing left to do, on the virtual clock). Every batch taken
    /// is handled to its end before it returns, but on an error: the
    /// batches then in flight go on at the next `run`.
    pub async fn run<F, Fut>(&mut self, done: F) -> Result<bool, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool, PortError>>,
    {
        let mut flights = std::mem::take(&mut self.flights);
        let result = match self.run_with(&mut flights, done).await {
            Ok(finished) => flights.fewer_than(1).await.map(|()| finished),
            Err(e) => Err(e),
        };
        self.flights = flights;
        result
    }

    /// How many batches may be in flight: one on the virtual clock, which
    /// moves on only when nothing is left to do.
    fn most_in_flight(&self) -> usize {
        match self.options.fast_forward {
            true => 1,
            false => self.options.flights,
        }
    }

    async fn run_with<F, Fut>(
        &mut self,
        flights: &mut Flights<'a>,
        mut done: F,
    ) -> Result<bool, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool, PortError>>,
    {
        let mut idle = 0;
        loop {
            let wait = !self.options.fast_forward && self.held.is_empty();
            let batch = flights.during(self.inbox.receive(wait)).await?;
            if batch.is_empty() {
                if flights.during(done()).await? {
                    return Ok(true);
                }
                if !self.late.is_empty() {
                    let late = std::mem::take(&mut self.late);
                    for e in late.into_iter().rev() {
                        flights.during(self.deliver(e)).await;
                    }
                    continue;
                }
                let Some(next) = self.held.iter().map(|e| e.at).min() else {
                    idle += 1;
                    if self.options.fast_forward && idle > 3 && flights.running.is_empty() {
                        return Ok(false);
                    }
                    // An inbox that does not wait leaves the batches in
                    // flight a turn of the runtime.
                    flights.during(tokio::task::yield_now()).await;
                    continue;
                };
                if self.options.fast_forward {
                    self.now = self.now.max(next);
                } else {
                    let wall = crate::memory::wall_clock();
                    let pause = (next - wall).clamp(0, 1000) as u64;
                    let pause = tokio::time::sleep(std::time::Duration::from_millis(pause));
                    flights.during(pause).await;
                }
                let now = self.clock();
                let (due, later): (Vec<_>, Vec<_>) = self.held.drain(..).partition(|e| e.at <= now);
                self.held = later;
                for e in due {
                    flights.during(self.deliver(e)).await;
                }
                continue;
            }
            idle = 0;
            let mut delete = Vec::new();
            let mut release = Vec::new();
            let mut ready = Vec::new();
            for d in batch {
                let e = d.envelope;
                if e.at > self.clock() {
                    self.held.push(e);
                    delete.push(d.handle);
                    continue;
                }
                if let Some(chaos) = self.chaos() {
                    if chaos.roll() {
                        // Late: handle it after the queue's next batch.
                        self.late.push(e);
                        delete.push(d.handle);
                        continue;
                    }
                    if chaos.roll() {
                        // Twice: now, and once more later.
                        self.late.push(e.clone());
                    }
                }
                ready.push(((e, d.receives), d.handle));
            }
            let (messages, handles): (Vec<_>, Vec<_>) = ready.into_iter().unzip();
            self.handled += messages.len() as u64;
            let (stepper, inbox, now) = (self.stepper, self.inbox, self.clock());
            flights.running.push(Box::pin(async move {
                let results = stepper.handle_batch(&messages, now).await;
                for (result, handle) in results.into_iter().zip(handles) {
                    match result {
                        Ok(()) => delete.push(handle),
                        Err(_) => release.push(handle),
                    }
                }
                if !delete.is_empty() {
                    inbox.delete(&delete).await?;
                }
                if !release.is_empty() {
                    inbox.release(&release).await?;
                }
                Ok(())
            }));
            flights.fewer_than(self.most_in_flight()).await?;
        }
    }

    /// Handles a message this poller holds (not in the queue any more); on
    /// failure it goes back to the queue.
    async fn deliver(&mut self, e: Envelope) {
        let now = self.clock();
        self.handled += 1;
        if self.stepper.handle(&e, now).await.is_err()
            && self
                .stepper
                .queue
                .send(std::slice::from_ref(&e), now)
                .await
                .is_err()
        {
            self.held.push(e);
        }
    }
}

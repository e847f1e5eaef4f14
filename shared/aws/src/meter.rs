//! Counts what the adapters ask of DynamoDB and SQS, in AWS's billing units:
//! a write unit per KiB written (twice that in a transaction), a read unit per
//! 4 KiB read with strong consistency, an SQS request per call (each 64 KiB
//! of payload counts as one more).

use std::sync::Mutex;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub dynamo_writes: u64,
    pub dynamo_reads: u64,
    pub write_units: f64,
    pub read_units: f64,
    pub sqs_requests: u64,
    pub sqs_messages: u64,
}

#[derive(Debug, Default)]
pub struct Meter(Mutex<Usage>);

impl Meter {
    pub fn usage(&self) -> Usage {
        *self.0.lock().expect("lock")
    }

    pub fn reset(&self) {
        *self.0.lock().expect("lock") = Usage::default();
    }

    pub fn write(&self, bytes: usize) {
        let mut u = self.0.lock().expect("lock");
        u.dynamo_writes += 1;
        u.write_units += bytes.div_ceil(1024).max(1) as f64;
    }

    /// A strongly consistent read of `bytes` (or a query reading that much).
    pub fn read(&self, bytes: usize, consistent: bool) {
        let mut u = self.0.lock().expect("lock");
        u.dynamo_reads += 1;
        let units = bytes.div_ceil(4096).max(1) as f64;
        u.read_units += if consistent { units } else { units / 2.0 };
    }

    pub fn sqs(&self, messages: usize, payload_bytes: usize) {
        let mut u = self.0.lock().expect("lock");
        u.sqs_requests += payload_bytes.div_ceil(64 * 1024).max(1) as u64;
        u.sqs_messages += messages as u64;
    }
}

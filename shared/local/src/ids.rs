//! ARNs, names and identifiers for resources this backend creates.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}")
}

pub fn activity_arn(name: &str) -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:activity:{name}")
}

pub fn execution_arn(machine_name: &str, name: &str, express: bool) -> String {
    if express {
        format!("arn:aws:states:{REGION}:{ACCOUNT}:express:{machine_name}:{name}:{name}")
    } else {
        format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine_name}:{name}")
    }
}

/// The state machine name in a state machine, version or alias ARN.
pub fn machine_name(arn: &str) -> &str {
    arn.split(':').nth(6).unwrap_or("")
}

/// 64 bits from a per-process random key and a counter: unpredictable
/// without the key, never repeating within the process.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(RandomState::new);
    let mut h = keys.build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

pub fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub fn now() -> i64 {
    stepwise_engine::memory::wall_clock()
}

/// The stored form of a task token: its SHA-256, so the database alone
/// cannot be used to complete tasks.
pub fn token_hash(token: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

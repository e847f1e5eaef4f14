//! ARNs, names and identifiers for resources this backend creates.

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

/// 64 unpredictable bits (see [`stepwise_engine::entropy`]).
pub fn random_u64() -> u64 {
    stepwise_engine::entropy()
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

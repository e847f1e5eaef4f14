//! This backend's clock and its task tokens' stored form.

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

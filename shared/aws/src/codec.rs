//! Records travel as deflated JSON in binary attributes: history events
//! repeat their state's input and output, which compresses well, and
//! DynamoDB bills writes per KiB.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub fn pack<T: Serialize>(value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).expect("records serialize");
    let mut e = DeflateEncoder::new(Vec::with_capacity(json.len() / 3), Compression::best());
    e.write_all(&json).expect("writing to memory");
    e.finish().expect("writing to memory")
}

pub fn unpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut json = Vec::new();
    DeflateDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("a stored record does not inflate: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("a stored record does not parse: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn round_trips_and_shrinks_repetition() {
        let v = json!({"a": "x".repeat(1000), "b": "x".repeat(1000)});
        let packed = super::pack(&v);
        assert!(packed.len() < 100, "{}", packed.len());
        assert_eq!(super::unpack::<serde_json::Value>(&packed).unwrap(), v);
    }
}

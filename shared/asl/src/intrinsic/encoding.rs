//! States.Base64Encode, States.Base64Decode and States.Hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::Digest as _;

use super::Args;

/// AWS's limit on the input of these functions, in characters.
const MAX_INPUT: usize = 10_000;

fn limited<'a>(a: &'a Args<'_>) -> Result<&'a str, String> {
    let s = a.string(0)?;
    if s.chars().count() > MAX_INPUT {
        return Err(format!(
            "The input of {} must not exceed {MAX_INPUT} characters",
            a.name
        ));
    }
    Ok(s)
}

pub fn base64_encode(a: &mut Args<'_>) -> Result<Value, String> {
    Ok(Value::String(STANDARD.encode(limited(a)?)))
}

pub fn base64_decode(a: &mut Args<'_>) -> Result<Value, String> {
    let s = limited(a)?;
    let bytes = STANDARD
        .decode(s)
        .map_err(|_| format!("The input '{s}' of {} is not valid Base64", a.name))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| format!("The decoded input of {} is not UTF-8", a.name))
}

pub fn hash(a: &mut Args<'_>) -> Result<Value, String> {
    let data = match a.get(0) {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if data.chars().count() > MAX_INPUT {
        return Err(format!(
            "The input of {} must not exceed {MAX_INPUT} characters",
            a.name
        ));
    }
    let algorithm = a.string(1)?;
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(data.as_bytes()).to_vec(),
        "SHA-1" => sha1::Sha1::digest(data.as_bytes()).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data.as_bytes()).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data.as_bytes()).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data.as_bytes()).to_vec(),
        other => {
            return Err(format!(
                "The hash algorithm '{other}' is not supported; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            ));
        }
    };
    Ok(Value::String(
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

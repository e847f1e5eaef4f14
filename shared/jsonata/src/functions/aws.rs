//! The functions AWS Step Functions adds to JSONata: `$partition`, `$range`,
//! `$hash`, `$random` (with an optional seed), `$uuid` and `$parse`.

use sha2::Digest as _;

use crate::error::Error;
use crate::eval::Evaluator;
use crate::limits;
use crate::value::Value;

pub fn partition(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Array(items, _) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let Value::Number(size) = a[1] else {
        return Ok(Value::Undefined);
    };
    if size < 1.0 || size.fract() != 0.0 {
        return Err(Error::new(
            "D3080",
            "The chunk size of $partition must be a positive integer",
        ));
    }
    Ok(Value::array(
        items
            .chunks(size as usize)
            .map(|c| Value::array(c.to_vec()))
            .collect(),
    ))
}

pub fn range(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let (Value::Number(start), Value::Number(end), Value::Number(step)) = (&a[0], &a[1], &a[2])
    else {
        return Ok(Value::Undefined);
    };
    if *step == 0.0 {
        return Err(Error::new("D3081", "The step of $range cannot be 0"));
    }
    let mut out = Vec::new();
    let mut x = *start;
    while (*step > 0.0 && x <= *end) || (*step < 0.0 && x >= *end) {
        out.push(Value::Number(x));
        if out.len() > 1000 {
            return Err(Error::new(
                "D3082",
                "$range cannot produce more than 1000 elements",
            ));
        }
        x += step;
    }
    // AWS returns a sequence: a single number comes back bare.
    Ok(Value::sequence(out))
}

pub fn hash(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::String(data) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let algorithm = match a.get(1) {
        Some(Value::String(s)) => s.to_string(),
        _ => "SHA-256".to_owned(),
    };
    let d = data.as_bytes();
    let digest: Vec<u8> = match algorithm.as_str() {
        "MD5" => md5::Md5::digest(d).to_vec(),
        "SHA-1" => sha1::Sha1::digest(d).to_vec(),
        "SHA-256" => sha2::Sha256::digest(d).to_vec(),
        "SHA-384" => sha2::Sha384::digest(d).to_vec(),
        "SHA-512" => sha2::Sha512::digest(d).to_vec(),
        other => {
            return Err(Error::new(
                "D3083",
                format!("The hash algorithm '{other}' is not supported"),
            ));
        }
    };
    Ok(Value::string(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    ))
}

pub fn random(e: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    if let Some(Value::Number(seed)) = a.first() {
        let mut seeded = Evaluator::new(crate::eval::Context {
            now_millis: 0,
            seed: seed.to_bits() ^ 0x9E37_79B9_7F4A_7C15,
        });
        return Ok(Value::Number(seeded.next_random()));
    }
    Ok(Value::Number(e.next_random()))
}

pub fn uuid(e: &mut Evaluator, _: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let mut bytes = [0u8; 16];
    for b in bytes.iter_mut() {
        *b = (e.next_random() * 256.0) as u8;
    }
    Ok(Value::string(uuid_text(bytes)))
}

/// The version 4 UUID of 16 random bytes (six bits set to say so).
pub fn uuid_text(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn parse(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::String(s) = &a[0] else {
        return Ok(Value::Undefined);
    };
    // Every two bytes of JSON text (`0,`) can be a value of 16 bytes here and
    // more in serde_json's tree: checked before parsing.
    limits::string(s.len().saturating_mul(8), "$parse")?;
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        Error::new(
            "D3084",
            format!("The input of $parse is not valid JSON: {e}"),
        )
    })?;
    Ok(Value::from_json(&v))
}

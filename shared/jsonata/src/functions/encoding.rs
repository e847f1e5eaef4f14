//! Base64 (over Latin-1, as jsonata-js on Node does) and URL encoding.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;
use crate::eval::Evaluator;
use crate::value::Value;

fn arg(a: &[Value]) -> Option<&str> {
    match &a[0] {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub fn base64encode(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = arg(&a) else {
        return Ok(Value::Undefined);
    };
    let bytes: Vec<u8> = s.chars().map(|c| c as u32 as u8).collect();
    Ok(Value::string(STANDARD.encode(bytes)))
}

pub fn base64decode(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = arg(&a) else {
        return Ok(Value::Undefined);
    };
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let padded = match cleaned.len() % 4 {
        2 => format!("{cleaned}=="),
        3 => format!("{cleaned}="),
        _ => cleaned,
    };
    let bytes = STANDARD.decode(padded.as_bytes()).unwrap_or_default();
    Ok(Value::string(
        bytes.iter().map(|b| *b as char).collect::<String>(),
    ))
}

const COMPONENT_SAFE: &str = "-_.!~*'()";
const URI_SAFE: &str = "-_.!~*'();,/?:@&=+$#";

fn encode(s: &str, safe: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || safe.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn decode(s: &str, keep: &str) -> Result<String, Error> {
    let malformed = || {
        Error::new(
            "D3140",
            format!("Malformed URL passed to $decodeUrl(): \"{s}\""),
        )
    };
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or_else(malformed)?;
            let byte = u8::from_str_radix(hex, 16).map_err(|_| malformed())?;
            if byte < 0x80 && keep.contains(byte as char) {
                out.extend_from_slice(&b[i..i + 3]);
            } else {
                out.push(byte);
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| malformed())
}

pub fn encode_url_component(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(arg(&a).map_or(Value::Undefined, |s| {
        Value::string(encode(s, COMPONENT_SAFE))
    }))
}

pub fn encode_url(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(arg(&a).map_or(Value::Undefined, |s| Value::string(encode(s, URI_SAFE))))
}

pub fn decode_url_component(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    match arg(&a) {
        None => Ok(Value::Undefined),
        Some(s) => Ok(Value::string(decode(s, "")?)),
    }
}

pub fn decode_url(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    match arg(&a) {
        None => Ok(Value::Undefined),
        Some(s) => Ok(Value::string(decode(s, ";,/?:@&=+$#")?)),
    }
}

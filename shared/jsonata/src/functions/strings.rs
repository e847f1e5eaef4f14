//! String functions, and how values print as strings (jsonata-js's `$string`).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::error::Error;
use crate::eval::Evaluator;
use crate::limits::{self, Budget};
use crate::value::{Object, Value};

/// JavaScript's `Number.prototype.toString`.
pub fn js_number(n: f64) -> String {
    if n == 0.0 {
        return "0".into();
    }
    if !n.is_finite() {
        return if n.is_nan() {
            "NaN".into()
        } else if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if n < 0.0 { "-" } else { "" };
    let e = format!("{:e}", n.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let point = exp + 1; // position of the decimal point
    let body = if k <= point && point <= 21 {
        format!("{digits}{}", "0".repeat((point - k) as usize))
    } else if 0 < point && point <= 21 {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    } else if -6 < point && point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else {
        let e = point - 1;
        let sign_e = if e >= 0 { "+" } else { "-" };
        if k == 1 {
            format!("{digits}e{sign_e}{}", e.abs())
        } else {
            format!("{}.{}e{sign_e}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// A number rounded to 15 significant digits, as `$string` prints it.
pub fn number_15(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let shortest = format!("{:e}", n.abs());
    let digits = shortest
        .split('e')
        .next()
        .map_or(0, |m| m.chars().filter(char::is_ascii_digit).count());
    if digits <= 15 {
        return js_number(n);
    }
    let rounded: f64 = format!("{n:.14e}").parse().unwrap_or(n);
    js_number(rounded)
}

fn escape_json(s: &str, out: &mut String) -> Result<(), Error> {
    // Escapes can make a string six times longer: checked as it grows.
    limits::string(out.len().saturating_add(s.len()), "$string")?;
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i % 4096 == 4095 {
            limits::string(out.len(), "$string")?;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    limits::string(out.len(), "$string")
}

/// `JSON.stringify` with jsonata's replacer (numbers to 15 digits, functions as "").
pub fn stringify(v: &Value, pretty: bool, indent: usize, out: &mut String) -> Result<(), Error> {
    let nl = |out: &mut String, level: usize| {
        if pretty {
            out.push('\n');
            out.push_str(&"  ".repeat(level));
        }
    };
    match v {
        Value::Undefined | Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err(Error::new(
                    "D3001",
                    "Attempting to invoke string function on Infinity or NaN",
                ));
            }
            out.push_str(&number_15(*n))
        }
        Value::String(s) => escape_json(s, out)?,
        Value::Function(_) | Value::Regex(_) => out.push_str("\"\""),
        Value::Array(a, _) => {
            if a.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, indent + 1);
                stringify(x, pretty, indent + 1, out)?;
                limits::string(out.len(), "$string")?;
            }
            nl(out, indent);
            out.push(']');
        }
        Value::Object(m) => {
            let entries: Vec<_> = m.iter().filter(|(_, v)| !v.is_undefined()).collect();
            if entries.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                nl(out, indent + 1);
                escape_json(k, out)?;
                out.push(':');
                if pretty {
                    out.push(' ');
                }
                stringify(x, pretty, indent + 1, out)?;
                limits::string(out.len(), "$string")?;
            }
            nl(out, indent);
            out.push('}');
        }
    }
    Ok(())
}

/// `$string(value)`.
pub fn to_string(v: &Value) -> Result<String, Error> {
    to_string_pretty(v, false)
}

fn to_string_pretty(v: &Value, pretty: bool) -> Result<String, Error> {
    Ok(match v {
        Value::String(s) => s.to_string(),
        Value::Function(_) | Value::Regex(_) => String::new(),
        Value::Number(n) if !n.is_finite() => {
            return Err(Error::new(
                "D3001",
                "Attempting to invoke string function on Infinity or NaN",
            ));
        }
        Value::Array(a, f) if f.outer_wrapper && a.len() == 1 => to_string_pretty(&a[0], pretty)?,
        other => {
            let mut s = String::new();
            stringify(other, pretty, 0, &mut s)?;
            s
        }
    })
}

/// JavaScript's string comparison: by UTF-16 code units.
pub fn js_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn str_arg(a: &Value) -> Option<&str> {
    match a {
        Value::String(s) => Some(s),
        _ => None,
    }
}

pub fn string(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    if a[0].is_undefined() {
        return Ok(Value::Undefined);
    }
    let pretty = matches!(a.get(1), Some(Value::Bool(true)));
    Ok(Value::string(to_string_pretty(&a[0], pretty)?))
}

/// JavaScript's `ToIntegerOrInfinity` for slice bounds.
fn js_int(n: f64) -> i64 {
    if n.is_nan() { 0 } else { n.trunc() as i64 }
}

fn slice(chars: &[char], start: i64, end: Option<i64>) -> String {
    let len = chars.len() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let (s, e) = (norm(start), end.map_or(len, norm));
    if s >= e {
        String::new()
    } else {
        chars[s as usize..e as usize].iter().collect()
    }
}

pub fn substring(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    // JavaScript arithmetic on the raw numbers, truncated by slice().
    let mut start = match a[1] {
        Value::Number(n) => n,
        _ => 0.0,
    };
    if len as f64 + start < 0.0 {
        start = 0.0;
    }
    Ok(Value::string(match a.get(2) {
        Some(Value::Number(l)) => {
            if *l <= 0.0 {
                String::new()
            } else {
                let end = if start >= 0.0 {
                    start + l
                } else {
                    len as f64 + start + l
                };
                slice(&chars, js_int(start), Some(js_int(end)))
            }
        }
        _ => slice(&chars, js_int(start), None),
    }))
}

pub fn substring_before(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let (Some(s), Some(c)) = (str_arg(&a[0]), str_arg(&a[1])) else {
        return Ok(a[0].clone());
    };
    Ok(Value::string(match s.find(c) {
        Some(i) => &s[..i],
        None => s,
    }))
}

pub fn substring_after(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let (Some(s), Some(c)) = (str_arg(&a[0]), str_arg(&a[1])) else {
        return Ok(a[0].clone());
    };
    Ok(Value::string(match s.find(c) {
        Some(i) => &s[i + c.len()..],
        None => s,
    }))
}

pub fn lowercase(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(str_arg(&a[0]).map_or(Value::Undefined, |s| Value::string(s.to_lowercase())))
}

pub fn uppercase(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(str_arg(&a[0]).map_or(Value::Undefined, |s| Value::string(s.to_uppercase())))
}

pub fn length(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(str_arg(&a[0]).map_or(
        Value::Undefined,
        |s| Value::Number(s.chars().count() as f64),
    ))
}

pub fn trim(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    let out = out.strip_suffix(' ').unwrap_or(out);
    Ok(Value::string(out))
}

pub fn pad(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    let width = match a[1] {
        Value::Number(n) => js_int(n),
        _ => 0,
    };
    let ch = match a.get(2) {
        Some(Value::String(c)) if !c.is_empty() => c.to_string(),
        _ => " ".into(),
    };
    let pad_len = width.saturating_abs() - s.chars().count() as i64;
    if pad_len <= 0 {
        return Ok(Value::string(s));
    }
    // Characters of up to 4 bytes each: checked before the padding is built.
    let max_char = ch.chars().map(char::len_utf8).max().unwrap_or(1);
    limits::string(
        (pad_len as usize)
            .saturating_mul(max_char)
            .saturating_add(s.len()),
        "$pad",
    )?;
    let padding: String = ch.chars().cycle().take(pad_len as usize).collect();
    Ok(Value::string(if width > 0 {
        format!("{s}{padding}")
    } else {
        format!("{padding}{s}")
    }))
}

/// One regex match as jsonata shows it: `{match, index, groups}`.
pub fn regex_match_object(re: &regex::Regex, arg: Option<&Value>, from: usize) -> Value {
    let Some(Value::String(s)) = arg else {
        return Value::Undefined;
    };
    match re.captures_at(s, from) {
        None => Value::Undefined,
        Some(c) => match_object(s, &c),
    }
}

fn match_object(s: &str, c: &regex::Captures<'_>) -> Value {
    let m = c.get(0).expect("group 0");
    let mut o = Object::default();
    o.insert("match".into(), Value::string(m.as_str()));
    o.insert(
        "index".into(),
        Value::Number(s[..m.start()].encode_utf16().count() as f64),
    );
    let groups = c
        .iter()
        .skip(1)
        .map(|g| Value::string(g.map_or("", |g| g.as_str())))
        .collect();
    o.insert("groups".into(), Value::array(groups));
    Value::object(o)
}

/// Every match of `re` in `s`, refusing zero-length matches as jsonata does.
fn all_matches<'s>(re: &regex::Regex, s: &'s str) -> Result<Vec<regex::Captures<'s>>, Error> {
    let mut out = Vec::new();
    let mut budget = Budget::new();
    for c in re.captures_iter(s) {
        if c.get(0).is_some_and(|m| m.start() == m.end()) {
            return Err(Error::new(
                "D1004",
                "Regular expression matches zero length string",
            ));
        }
        // What a match object (`{match, index, groups}`) will cost.
        budget.add_bytes(
            MATCH_BYTES + c.len() * SLOT,
            "a regular expression's matches",
        )?;
        out.push(c);
    }
    Ok(out)
}

/// Estimated bytes of one match object besides its groups.
const MATCH_BYTES: usize = 256;
const SLOT: usize = std::mem::size_of::<Value>();

fn limit(a: Option<&Value>, code: &'static str, name: &str) -> Result<Option<usize>, Error> {
    match a {
        Some(Value::Number(n)) if *n < 0.0 => Err(Error::new(
            code,
            format!("Third argument of {name} function must evaluate to a positive number"),
        )),
        Some(Value::Number(n)) => Ok(Some(*n as usize)),
        _ => Ok(None),
    }
}

fn as_regex(v: &Value) -> Option<Arc<regex::Regex>> {
    match v {
        Value::Regex(r) => Some(r.clone()),
        Value::Function(f) => match &**f {
            crate::value::Function::Matcher(r) => Some(r.clone()),
            _ => None,
        },
        _ => None,
    }
}

pub fn match_(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    let lim = limit(a.get(2), "D3040", "match")?;
    let Some(re) = as_regex(&a[1]) else {
        return Err(Error::new(
            "T0410",
            "Argument 2 of function match does not match function signature",
        ));
    };
    let matches = all_matches(&re, s)?;
    let take = lim.unwrap_or(usize::MAX);
    Ok(Value::sequence(
        matches
            .iter()
            .take(take)
            .map(|c| match_object(s, c))
            .collect(),
    ))
}

pub fn contains(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    Ok(Value::Bool(match &a[1] {
        Value::String(t) => s.contains(&**t),
        other => match as_regex(other) {
            Some(re) => re.is_match(s),
            None => false,
        },
    }))
}

fn substitute(replacement: &str, c: &regex::Captures<'_>) -> String {
    let groups = c.len() - 1;
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('0') {
            out.push_str(c.get(0).map_or("", |m| m.as_str()));
            rest = r;
        } else {
            let max_digits = if groups == 0 {
                1
            } else {
                (groups as f64).log10().floor() as usize + 1
            };
            let digits: String = after
                .chars()
                .take(max_digits)
                .take_while(char::is_ascii_digit)
                .collect();
            let mut n: Option<usize> = digits.parse().ok();
            let mut used = digits.len();
            if max_digits > 1 && n.is_some_and(|n| n > groups) {
                let shorter = &digits[..digits.len().saturating_sub(1)];
                n = shorter.parse().ok();
                used = shorter.len();
            }
            match n {
                Some(n) => {
                    if groups > 0 && n >= 1 {
                        out.push_str(c.get(n).map_or("", |m| m.as_str()));
                    }
                    rest = &after[used..];
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn replace(e: &mut Evaluator, a: Vec<Value>, ctx: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    if matches!(&a[1], Value::String(p) if p.is_empty()) {
        return Err(Error::new(
            "D3010",
            "Second argument of replace function cannot be an empty string",
        ));
    }
    let lim = limit(a.get(3), "D3011", "replace")?.unwrap_or(usize::MAX);
    if let Value::String(p) = &a[1] {
        let rep = match &a[2] {
            Value::String(r) => r.to_string(),
            other => to_string(other)?,
        };
        let mut out = String::new();
        let mut rest = s;
        let mut count = 0;
        while count < lim {
            let Some(i) = rest.find(&**p) else { break };
            limits::string(out.len() + i + rep.len(), "$replace")?;
            out.push_str(&rest[..i]);
            out.push_str(&rep);
            rest = &rest[i + p.len()..];
            count += 1;
        }
        out.push_str(rest);
        return Ok(Value::string(out));
    }
    let Some(re) = as_regex(&a[1]) else {
        return Ok(Value::string(s));
    };
    let matches = all_matches(&re, s)?;
    let mut out = String::new();
    let mut pos = 0;
    for c in matches.iter().take(lim) {
        let m = c.get(0).expect("group 0");
        limits::string(out.len(), "$replace")?;
        out.push_str(&s[pos..m.start()]);
        match &a[2] {
            Value::String(r) => out.push_str(&substitute(r, c)),
            f => match e.apply(f, vec![match_object(s, c)], ctx)? {
                Value::String(r) => out.push_str(&r),
                _ => {
                    return Err(Error::new(
                        "D3012",
                        "Attempted to replace a matched string with a non-string value",
                    ));
                }
            },
        }
        pos = m.end();
    }
    out.push_str(&s[pos..]);
    Ok(Value::string(out))
}

pub fn split(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Some(s) = str_arg(&a[0]) else {
        return Ok(Value::Undefined);
    };
    let take = limit(a.get(2), "D3020", "split")?.unwrap_or(usize::MAX);
    // Counted before anything is allocated: a string of n characters splits
    // into n strings of 32 bytes or more each.
    let count = match &a[1] {
        Value::String(sep) if sep.is_empty() => s.chars().count(),
        Value::String(sep) => s.matches(&**sep).count() + 1,
        _ => 0,
    };
    let pieces = count.min(take);
    limits::string(
        pieces
            .saturating_mul(SLOT + std::mem::size_of::<Arc<str>>())
            .saturating_add(s.len()),
        "$split",
    )?;
    let parts: Vec<Value> = match &a[1] {
        Value::String(sep) if sep.is_empty() => s
            .chars()
            .take(take)
            .map(|c| Value::string(c.to_string()))
            .collect(),
        Value::String(sep) => s.split(&**sep).take(take).map(Value::string).collect(),
        other => match as_regex(other) {
            Some(re) => {
                let mut out = Vec::new();
                let mut pos = 0;
                for c in all_matches(&re, s)? {
                    let m = c.get(0).expect("group 0");
                    out.push(Value::string(&s[pos..m.start()]));
                    pos = m.end();
                }
                out.push(Value::string(&s[pos..]));
                out.truncate(take);
                out
            }
            None => [Value::string(s)].into_iter().take(take).collect(),
        },
    };
    Ok(Value::array(parts))
}

pub fn join(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Array(items, _) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let sep = str_arg(a.get(1).unwrap_or(&Value::Undefined)).unwrap_or("");
    let parts: Vec<&str> = items.iter().filter_map(str_arg).collect();
    let len = parts
        .iter()
        .map(|p| p.len())
        .sum::<usize>()
        .saturating_add(sep.len().saturating_mul(parts.len().saturating_sub(1)));
    limits::string(len, "$join")?;
    Ok(Value::string(parts.join(sep)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_does() {
        for (n, s) in [
            (1.0, "1"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (-12.25, "-12.25"),
            (123456789012.0, "123456789012"),
        ] {
            assert_eq!(js_number(n), s);
        }
        assert_eq!(number_15(0.1 + 0.2), "0.3");
    }
}

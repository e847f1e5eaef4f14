//! The small pieces every console page is written with: escaping, links,
//! query strings, dates and JSON shown to a reader.

use std::collections::HashMap;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

/// `text` safe inside an element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What [`encode`] escapes: all but RFC 3986's unreserved characters (as
/// JavaScript's `encodeURIComponent` does, less `!'()*`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` as one path segment or query value.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

pub fn machine_href(arn: &str) -> String {
    format!("/console/state-machines/{}", encode(arn))
}

pub fn execution_href(arn: &str) -> String {
    format!("/console/executions/{}", encode(arn))
}

/// The decoded `name=value` pairs of a query string (`+` is a space).
pub fn query(raw: Option<&str>) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// An API timestamp (epoch seconds) as `2025-01-31 12:00:00.250 UTC`,
/// in a `<time>` element; empty when there is none.
pub fn time(value: Option<&Value>) -> String {
    let Some(seconds) = value.and_then(Value::as_f64) else {
        return String::new();
    };
    let ms = (seconds * 1000.0).round() as i64;
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60,
        ms_of_day % 1000,
    );
    format!(
        "<time datetime=\"{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z\">\
         {y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03} UTC</time>"
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a
/// day count from 1970-01-01 (no date crate is needed for one format).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// JSON for a reader, pretty-printed; JSON text (as the API sends inputs
/// and outputs) is parsed first, so it is not shown as an escaped string.
pub fn pretty(value: &Value) -> String {
    let parsed = match value {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        _ => None,
    };
    serde_json::to_string_pretty(parsed.as_ref().unwrap_or(value)).unwrap_or_default()
}

/// Event details with their JSON-text members (`input`, `output`,
/// `parameters`, …) shown as JSON.
pub fn details(value: &Value) -> String {
    let mut value = value.clone();
    if let Value::Object(members) = &mut value {
        for v in members.values_mut() {
            if let Value::String(text) = v
                && let Ok(parsed @ (Value::Object(_) | Value::Array(_))) =
                    serde_json::from_str::<Value>(text)
            {
                *v = parsed;
            }
        }
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// A `<pre>` of `text` as it is, or as JSON when it is a JSON object or
/// array (an error's cause can be either).
pub fn pre_text(text: Option<&Value>) -> String {
    match text {
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => pre(Some(&v)),
            _ => format!("<pre>{}</pre>", esc(s)),
        },
        other => pre(other),
    }
}

/// A `<pre>` of `value`'s JSON, or nothing for a missing one.
pub fn pre(value: Option<&Value>) -> String {
    value.map_or(String::new(), |v| format!("<pre>{}</pre>", esc(&pretty(v))))
}

/// The status of an execution or machine, styled by its value.
pub fn status(status: &str) -> String {
    let s = esc(status);
    format!("<span class=\"status status-{s}\">{s}</span>")
}

/// `<option>`s for `values`, the `selected` one marked.
pub fn options(values: &[&str], selected: &str) -> String {
    let mut out = String::new();
    for v in values {
        let mark = if *v == selected { " selected" } else { "" };
        let label = if v.is_empty() { "any" } else { v };
        let _ = write!(out, "<option value=\"{v}\"{mark}>{label}</option>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn an_arn_round_trips_through_a_link_and_a_query() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:m:a b/c";
        let q = query(Some(&format!("executionArn={}&x", encode(arn))));
        assert_eq!(q["executionArn"], arn);
        assert_eq!(q["x"], "");
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        let t = time(Some(&serde_json::json!(1_700_000_000.25)));
        assert!(t.contains("2023-11-14 22:13:20.250 UTC"), "{t}");
        assert_eq!(time(None), "");
    }
}

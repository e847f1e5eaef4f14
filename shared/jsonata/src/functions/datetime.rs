//! `$now`, `$millis`, `$fromMillis` and `$toMillis`, with XPath picture
//! strings for the common components (`[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01]`,
//! names, 12-hour clocks, time zones).

use crate::error::Error;
use crate::eval::Evaluator;
use crate::functions::format::{roman, words};
use crate::value::Value;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
    /// 0 = Monday
    weekday: i64,
    day_of_year: i64,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3_600_000,
        minute: rem % 3_600_000 / 60_000,
        second: rem % 60_000 / 1000,
        milli: rem % 1000,
        weekday: (days + 3).rem_euclid(7),
        day_of_year: days - days_from_civil(year, 1, 1) + 1,
    }
}

pub fn iso(ms: i64) -> String {
    let c = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    )
}

/// jsonata-js's ISO 8601 acceptance for `$toMillis` without a picture.
fn parse_iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    let year = num(0, 4)?;
    let mut i = 4;
    let (mut month, mut day, mut hour, mut minute, mut second, mut milli, mut offset) =
        (1, 1, 0, 0, 0, 0, 0);
    if b.get(i) == Some(&b'-') {
        month = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'-') {
            day = num(i + 1, 2)?;
            i += 3;
        }
    }
    if b.get(i) == Some(&b'T') {
        hour = num(i + 1, 2)?;
        minute = num(i + 4, 2)?;
        second = num(i + 7, 2)?;
        if b.get(i + 3) != Some(&b':') || b.get(i + 6) != Some(&b':') {
            return None;
        }
        i += 9;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let frac = &s[start..i];
            if frac.is_empty() {
                return None;
            }
            milli = format!("{:0<3}", &frac[..frac.len().min(3)]).parse().ok()?;
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z') if i + 1 == b.len() => {}
        Some(sign @ (b'+' | b'-')) => {
            let h = num(i + 1, 2)?;
            let m = if b.get(i + 3) == Some(&b':') {
                num(i + 4, 2)?
            } else {
                num(i + 3, 2)?
            };
            offset = (h * 60 + m) * if *sign == b'-' { -1 } else { 1 };
        }
        _ => return None,
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 24
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * 86_400_000
            + ((hour * 60 + minute - offset) * 60 + second) * 1000
            + milli,
    )
}

fn tz_offset(tz: Option<&Value>) -> Result<i64, Error> {
    let Some(Value::String(s)) = tz else {
        return Ok(0);
    };
    let b = s.as_bytes();
    if b.len() != 5 || !(b[0] == b'+' || b[0] == b'-') {
        return Err(Error::new("D3135", format!("Invalid timezone: {s}")));
    }
    // `get`: five bytes need not be five characters.
    let h: i64 = s
        .get(1..3)
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| Error::new("D3135", "Invalid timezone"))?;
    let m: i64 = s
        .get(3..5)
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::new("D3135", "Invalid timezone"))?;
    Ok((h * 60 + m) * if b[0] == b'-' { -1 } else { 1 })
}

fn number_with(n: i64, pres: &str) -> String {
    if pres.chars().all(|c| c.is_ascii_digit() || c == '#') && !pres.is_empty() {
        let width = pres.chars().filter(char::is_ascii_digit).count();
        return format!("{n:0width$}");
    }
    match pres {
        "I" => roman(n),
        "i" => roman(n).to_lowercase(),
        "W" => words(n).to_uppercase(),
        "w" => words(n),
        "Ww" => words(n)
            .split(' ')
            .map(capitalize)
            .collect::<Vec<_>>()
            .join(" "),
        _ => n.to_string(),
    }
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn name_with(name: &str, pres: &str, width: Option<usize>) -> String {
    let n = match width {
        Some(w) => name.chars().take(w).collect::<String>(),
        None => name.to_owned(),
    };
    match pres {
        "N" => n.to_uppercase(),
        "n" => n.to_lowercase(),
        _ => n,
    }
}

fn format_picture(ms: i64, picture: &str, offset_minutes: i64) -> Result<String, Error> {
    let c = civil(ms.saturating_add(offset_minutes * 60_000));
    let mut out = String::new();
    let mut rest = picture;
    while let Some(i) = rest.find(['[', ']']) {
        let (lit, tail) = rest.split_at(i);
        out.push_str(lit);
        if let Some(t) = tail.strip_prefix("[[") {
            out.push('[');
            rest = t;
            continue;
        }
        if let Some(t) = tail.strip_prefix("]]") {
            out.push(']');
            rest = t;
            continue;
        }
        if let Some(t) = tail.strip_prefix(']') {
            out.push(']');
            rest = t;
            continue;
        }
        let end = tail.find(']').ok_or_else(|| {
            Error::new(
                "D3135",
                "No matching closing bracket ']' in date/time picture string",
            )
        })?;
        let marker: String = tail[1..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        rest = &tail[end + 1..];
        let (spec, width) = match marker.split_once(',') {
            // `min-max`: names are cut to the maximum width.
            Some((s, w)) => (
                s.to_owned(),
                match w.split_once('-') {
                    Some((_, max)) => max.parse::<usize>().ok(),
                    None => w.parse::<usize>().ok(),
                },
            ),
            None => (marker.clone(), None),
        };
        // An empty marker (`[]`) names no component: D3132, not a panic.
        let component = spec.chars().next().unwrap_or(' ');
        let pres = spec.get(component.len_utf8()..).unwrap_or("");
        let piece = match component {
            'Y' => {
                let y = c.year;
                if pres.chars().filter(char::is_ascii_digit).count() == 2 || width == Some(2) {
                    format!("{:02}", y % 100)
                } else {
                    number_with(y, if pres.is_empty() { "1" } else { pres })
                }
            }
            'M' if pres.starts_with('N') || pres.starts_with('n') => {
                name_with(MONTHS[(c.month - 1) as usize], pres, width)
            }
            'M' => number_with(c.month, if pres.is_empty() { "1" } else { pres }),
            'D' => number_with(c.day, if pres.is_empty() { "1" } else { pres }),
            'd' => number_with(c.day_of_year, if pres.is_empty() { "1" } else { pres }),
            'F' if pres.is_empty() || pres.starts_with('N') || pres.starts_with('n') => name_with(
                DAYS[c.weekday as usize],
                if pres.is_empty() { "n" } else { pres },
                width,
            ),
            'F' => number_with(c.weekday + 1, pres),
            'H' => number_with(c.hour, if pres.is_empty() { "1" } else { pres }),
            'h' => {
                let h = if c.hour % 12 == 0 { 12 } else { c.hour % 12 };
                number_with(h, if pres.is_empty() { "1" } else { pres })
            }
            'P' => {
                let p = if c.hour < 12 { "am" } else { "pm" };
                if pres == "N" {
                    p.to_uppercase()
                } else {
                    p.to_owned()
                }
            }
            'm' => number_with(c.minute, if pres.is_empty() { "01" } else { pres }),
            's' => number_with(c.second, if pres.is_empty() { "01" } else { pres }),
            'f' => {
                let digits = pres
                    .chars()
                    .filter(char::is_ascii_digit)
                    .count()
                    .max(if pres.is_empty() { 3 } else { 1 });
                let frac = format!("{:03}", c.milli);
                format!("{frac:0<digits$}")[..digits].to_owned()
            }
            'Z' | 'z' => {
                let sign = if offset_minutes < 0 { '-' } else { '+' };
                let (h, m) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
                if component == 'z' {
                    format!("GMT{sign}{h:02}:{m:02}")
                } else if pres == "0" {
                    if m == 0 {
                        format!("{sign}{h}")
                    } else {
                        format!("{sign}{h}:{m:02}")
                    }
                } else if offset_minutes == 0 && pres.contains('t') {
                    "Z".to_owned()
                } else if pres.len() == 4 && !pres.contains(':') {
                    format!("{sign}{h:02}{m:02}")
                } else {
                    format!("{sign}{h:02}:{m:02}")
                }
            }
            'E' => "AD".to_owned(),
            'C' => "ISO".to_owned(),
            other => {
                return Err(Error::new(
                    "D3132",
                    format!("Unknown component specifier {other} in date/time picture string"),
                ));
            }
        };
        out.push_str(&piece);
    }
    out.push_str(rest);
    Ok(out)
}

pub fn from_millis(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Number(ms) = a[0] else {
        return Ok(Value::Undefined);
    };
    let ms = ms as i64;
    match a.get(1) {
        Some(Value::String(p)) => Ok(Value::string(format_picture(ms, p, tz_offset(a.get(2))?)?)),
        _ if matches!(a.get(2), Some(Value::String(_))) => Ok(Value::string(format_picture(
            ms,
            "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]",
            tz_offset(a.get(2))?,
        )?)),
        _ => Ok(Value::string(iso(ms))),
    }
}

pub fn now(e: &mut Evaluator, a: Vec<Value>, c: &Value) -> Result<Value, Error> {
    let ms = e.ctx.now_millis;
    from_millis(
        e,
        vec![
            Value::Number(ms as f64),
            a.first().cloned().unwrap_or_default(),
            a.get(1).cloned().unwrap_or_default(),
        ],
        c,
    )
}

pub fn millis(e: &mut Evaluator, _: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(Value::Number(e.ctx.now_millis as f64))
}

/// Parses with a picture made of numeric components and literal text.
fn parse_picture(s: &str, picture: &str) -> Option<i64> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec, mut ms, mut pm) =
        (1970, 1, 1, 0, 0, 0, 0, None);
    let mut src = s;
    let mut rest = picture;
    while !rest.is_empty() {
        if let Some(t) = rest.strip_prefix('[') {
            let end = t.find(']')?;
            let marker = &t[..end];
            rest = &t[end + 1..];
            let comp = marker.chars().next()?;
            if comp == 'P' {
                let lower = src.get(..2)?.to_lowercase();
                pm = Some(lower == "pm");
                src = &src[2..];
                continue;
            }
            let width = marker[1..].chars().filter(char::is_ascii_digit).count();
            let take = if width > 1 {
                width
            } else {
                src.chars().take_while(char::is_ascii_digit).count()
            };
            let n: i64 = src.get(..take)?.parse().ok()?;
            src = &src[take..];
            match comp {
                'Y' => y = n,
                'M' => mo = n,
                'D' => d = n,
                'H' | 'h' => h = n,
                'm' => mi = n,
                's' => sec = n,
                'f' => ms = n,
                _ => return None,
            }
        } else {
            let c = rest.chars().next()?;
            src = src.strip_prefix(c)?;
            rest = &rest[c.len_utf8()..];
        }
    }
    if let Some(pm) = pm {
        h = h % 12 + if pm { 12 } else { 0 };
    }
    Some(days_from_civil(y, mo, d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + ms)
}

pub fn to_millis(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::String(s) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let ms = match a.get(1) {
        Some(Value::String(p)) => parse_picture(s, p),
        _ => Some(parse_iso(s).ok_or_else(|| {
            Error::new(
                "D3110",
                format!("The timestamp string {s} does not match the ISO 8601 format"),
            )
        })?),
    };
    Ok(ms.map_or(Value::Undefined, |m| Value::Number(m as f64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_pictures_and_timezones_fail_instead_of_panicking() {
        // Found by fuzzing: an empty marker, a timezone whose five bytes
        // split a character, an instant at the end of an i64.
        assert_eq!(format_picture(0, "[D1] []", 0).unwrap_err().code, "D3132");
        let tz = Value::string("+1\u{fc}2");
        assert_eq!(tz_offset(Some(&tz)).unwrap_err().code, "D3135");
        assert!(format_picture(i64::MAX, "[Y]", 60).is_ok());
    }

    #[test]
    fn iso_round_trip_and_pictures() {
        let ms = parse_iso("2018-02-01T09:42:13.123Z").unwrap();
        assert_eq!(iso(ms), "2018-02-01T09:42:13.123Z");
        assert_eq!(
            format_picture(ms, "[D01]/[M01]/[Y0001] [h]:[m01][P]", 0).unwrap(),
            "01/02/2018 9:42am"
        );
        assert_eq!(
            format_picture(ms, "[FNn], [D1o] [MNn]", 0)
                .unwrap()
                .split(',')
                .next(),
            Some("Thursday")
        );
        assert_eq!(
            parse_picture("2018-02-01", "[Y0001]-[M01]-[D01]"),
            Some(days_from_civil(2018, 2, 1) * 86_400_000)
        );
    }
}

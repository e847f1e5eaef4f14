//! `$formatNumber` (XPath decimal pictures), `$formatBase`, `$formatInteger`
//! and `$parseInteger` (decimal, roman, words, letters).

use crate::error::Error;
use crate::eval::Evaluator;
use crate::limits;
use crate::value::Value;

pub fn roman(mut n: i64) -> String {
    const TABLE: [(i64, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (v, s) in TABLE {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

const SMALL: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// English words, as jsonata-js writes them ("one hundred and twenty-three").
pub fn words(n: i64) -> String {
    fn below_thousand(n: i64, out: &mut Vec<String>, and_prefix: bool) {
        let (h, r) = (n / 100, n % 100);
        if h > 0 {
            out.push(format!("{} hundred", SMALL[h as usize]));
        }
        if r > 0 {
            if h > 0 || and_prefix {
                out.push("and".into());
            }
            if r < 20 {
                out.push(SMALL[r as usize].into());
            } else if r % 10 == 0 {
                out.push(TENS[(r / 10) as usize].into());
            } else {
                out.push(format!(
                    "{}-{}",
                    TENS[(r / 10) as usize],
                    SMALL[(r % 10) as usize]
                ));
            }
        }
    }
    if n == 0 {
        return "zero".into();
    }
    if n < 0 {
        return format!("minus {}", words(-n));
    }
    let scales = [
        (1_000_000_000_000_000_000i128, "quintillion"),
        (1_000_000_000_000_000, "quadrillion"),
        (1_000_000_000_000, "trillion"),
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1000, "thousand"),
    ];
    let mut rest = i128::from(n);
    let mut out = Vec::new();
    for (v, name) in scales {
        if rest >= v {
            below_thousand((rest / v) as i64, &mut out, false);
            out.push(name.into());
            rest %= v;
        }
    }
    if rest > 0 {
        let and_prefix = !out.is_empty() && rest < 100;
        below_thousand(rest as i64, &mut out, and_prefix);
    }
    out.join(" ")
}

fn letters(mut n: i64, base: char) -> String {
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push((base as u8 + (n % 26) as u8) as char);
        n /= 26;
    }
    out.iter().rev().collect()
}

pub fn format_integer(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Number(n) = a[0] else {
        return Ok(Value::Undefined);
    };
    let Value::String(picture) = &a[1] else {
        return Ok(Value::Undefined);
    };
    let n = n.floor() as i64;
    let (pic, ordinal) = match picture.split_once(';') {
        Some((p, m)) => (p, m.starts_with('o')),
        None => (&**picture, false),
    };
    if matches!(pic, "I" | "i") {
        // One M per thousand: 1e18 would be a petabyte of them.
        limits::string(usize::try_from(n / 1000).unwrap_or(0), "$formatInteger")?;
    }
    let s = match pic {
        "I" => roman(n),
        "i" => roman(n).to_lowercase(),
        "W" => words(n).to_uppercase(),
        "w" => words(n),
        "Ww" => words(n)
            .split(' ')
            .map(|w| {
                if w == "and" {
                    w.to_owned()
                } else {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                        .unwrap_or_default()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        "A" => letters(n, 'A'),
        "a" => letters(n, 'a'),
        _ => decimal(n, pic)?,
    };
    Ok(Value::string(
        if ordinal
            && pic
                .chars()
                .all(|c| c.is_ascii_digit() || c == '#' || c == ',')
        {
            s + suffix(n)
        } else {
            s
        },
    ))
}

fn suffix(n: i64) -> &'static str {
    match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    }
}

/// A decimal-digit picture such as `000`, `#,##0` or `0001`.
fn decimal(n: i64, pic: &str) -> Result<String, Error> {
    let digits = pic.chars().filter(|c| c.is_ascii_digit()).count();
    let body = format!("{:0digits$}", n.abs());
    let seps: Vec<(usize, char)> = pic
        .chars()
        .rev()
        .enumerate()
        .filter(|(_, c)| !c.is_ascii_digit() && *c != '#')
        .map(|(i, c)| {
            (
                i - pic
                    .chars()
                    .rev()
                    .take(i)
                    .filter(|c| !c.is_ascii_digit() && *c != '#')
                    .count(),
                c,
            )
        })
        .collect();
    let mut out: Vec<char> = Vec::new();
    let regular = !seps.is_empty()
        && seps
            .iter()
            .enumerate()
            .all(|(k, (pos, _))| *pos == seps[0].0 * (k + 1));
    for (i, c) in body.chars().rev().enumerate() {
        if i > 0 {
            if regular && seps[0].0 > 0 && i % seps[0].0 == 0 {
                out.push(seps[0].1);
            } else if !regular && let Some((_, s)) = seps.iter().find(|(p, _)| *p == i) {
                out.push(*s);
            }
        }
        out.push(c);
    }
    let s: String = out.into_iter().rev().collect();
    Ok(if n < 0 { format!("-{s}") } else { s })
}

pub fn format_base(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Number(n) = a[0] else {
        return Ok(Value::Undefined);
    };
    let radix = match a.get(1) {
        Some(Value::Number(r)) => *r as u32,
        _ => 10,
    };
    if !(2..=36).contains(&radix) {
        return Err(Error::new(
            "D3100",
            format!(
                "The radix of the formatBase function must be between 2 and 36.  It was given {radix}"
            ),
        ));
    }
    let v = crate::functions::numeric::round_half_even(n) as i64;
    let neg = v < 0;
    // unsigned_abs: abs() of i64::MIN (from -1e19) overflows.
    let mut v = v.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((v % u64::from(radix)) as u32, radix).unwrap_or('0'));
        v /= u64::from(radix);
        if v == 0 {
            break;
        }
    }
    let s: String = digits.iter().rev().collect();
    Ok(Value::string(if neg { format!("-{s}") } else { s }))
}

pub fn parse_integer(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::String(s) = &a[0] else {
        return Ok(Value::Undefined);
    };
    let Value::String(pic) = &a[1] else {
        return Ok(Value::Undefined);
    };
    let n: Option<i64> = match &**pic {
        "I" | "i" => {
            let val = |c: char| match c.to_ascii_uppercase() {
                'I' => 1,
                'V' => 5,
                'X' => 10,
                'L' => 50,
                'C' => 100,
                'D' => 500,
                'M' => 1000,
                _ => 0,
            };
            let vals: Vec<i64> = s.chars().map(val).collect();
            Some(
                vals.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if vals.get(i + 1).is_some_and(|n| n > v) {
                            -v
                        } else {
                            *v
                        }
                    })
                    .sum(),
            )
        }
        // As jsonata-js: character codes relative to the picture's letter,
        // in floating point (long words overflow an i64).
        "A" | "a" => {
            let base = f64::from(u32::from(pic.chars().next().unwrap_or('A')));
            return Ok(Value::Number(
                s.encode_utf16()
                    .fold(0.0, |acc, c| acc * 26.0 + f64::from(c) - base + 1.0),
            ));
        }
        "w" | "W" | "Ww" => parse_words(&s.to_lowercase()),
        _ => s
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
            .map(|n: i64| if s.starts_with('-') { -n } else { n }),
    };
    Ok(n.map_or(Value::Undefined, |n| Value::Number(n as f64)))
}

fn parse_words(s: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut current = 0i64;
    for w in s
        .split([' ', '-', ','])
        .filter(|w| !w.is_empty() && *w != "and")
    {
        if let Some(i) = SMALL.iter().position(|x| *x == w) {
            current += i as i64;
        } else if let Some(i) = TENS.iter().position(|x| !x.is_empty() && *x == w) {
            current += 10 * i as i64;
        } else if w == "hundred" {
            current *= 100;
        } else {
            let scale = match w {
                "thousand" => 1000,
                "million" => 1_000_000,
                "billion" => 1_000_000_000,
                "trillion" => 1_000_000_000_000,
                _ => return None,
            };
            total += current * scale;
            current = 0;
        }
    }
    Some(total + current)
}

pub fn format_number(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let Value::Number(n) = a[0] else {
        return Ok(Value::Undefined);
    };
    let Value::String(picture) = &a[1] else {
        return Ok(Value::Undefined);
    };
    let opt = |key: &str, default: char| -> char {
        match a.get(2) {
            Some(Value::Object(m)) => match m.get(key) {
                Some(Value::String(s)) => s.chars().next().unwrap_or(default),
                _ => default,
            },
            _ => default,
        }
    };
    let (dec_sep, group_sep, zero, percent, per_mille, exp_sep) = (
        opt("decimal-separator", '.'),
        opt("grouping-separator", ','),
        opt("zero-digit", '0'),
        opt("percent", '%'),
        opt("per-mille", '‰'),
        opt("exponent-separator", 'e'),
    );
    let minus = match a.get(2) {
        Some(Value::Object(m)) => match m.get("minus-sign") {
            Some(Value::String(s)) => s.to_string(),
            _ => "-".into(),
        },
        _ => "-".into(),
    };
    let (pos_pic, neg_pic) = match picture.split_once(';') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (picture.to_string(), None),
    };
    let pic = if n < 0.0 {
        neg_pic.clone().unwrap_or_else(|| pos_pic.clone())
    } else {
        pos_pic.clone()
    };
    let is_active =
        |c: char| c.is_ascii_digit() || c == '#' || c == dec_sep || c == group_sep || c == exp_sep;
    let chars: Vec<char> = pic.chars().collect();
    let first = chars
        .iter()
        .position(|c| c.is_ascii_digit() || *c == '#' || *c == dec_sep)
        .unwrap_or(0);
    let last = chars
        .iter()
        .rposition(|c| c.is_ascii_digit() || *c == '#' || *c == dec_sep)
        .map_or(0, |i| i + 1);
    let prefix: String = chars[..first].iter().collect();
    let suffix: String = chars[last..].iter().collect();
    let mantissa_pic: String = chars[first..last].iter().collect();
    let _ = is_active;
    let (mantissa_pic, exp_pic) = match mantissa_pic.split_once(exp_sep) {
        Some((m, e)) if e.chars().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
            (m.to_owned(), Some(e.to_owned()))
        }
        _ => (mantissa_pic, None),
    };
    let (int_pic, frac_pic) = match mantissa_pic.split_once(dec_sep) {
        Some((i, f)) => (i.to_owned(), f.to_owned()),
        None => (mantissa_pic.clone(), String::new()),
    };
    let mut value = n.abs();
    if prefix.contains(percent) || suffix.contains(percent) {
        value *= 100.0;
    } else if prefix.contains(per_mille) || suffix.contains(per_mille) {
        value *= 1000.0;
    }
    let min_int = int_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let min_frac = frac_pic.chars().filter(|c| c.is_ascii_digit()).count();
    let max_frac = frac_pic
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '#')
        .count();
    let mut exponent = 0i32;
    if let Some(_e) = &exp_pic
        && value != 0.0
    {
        let int_digits = min_int.max(1) as i32;
        exponent = value.log10().floor() as i32 + 1 - int_digits;
        value /= 10f64.powi(exponent);
    }
    let rounded = round_half_even_at(value, max_frac as i32);
    let text = format!("{rounded:.max_frac$}");
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), f.to_owned()),
        None => (text, String::new()),
    };
    let mut frac_part = frac_part.trim_end_matches('0').to_owned();
    while frac_part.len() < min_frac {
        frac_part.push('0');
    }
    let mut int_part = int_part.trim_start_matches('0').to_owned();
    if int_part.len() < min_int {
        // Not one insert(0, …) per digit: that is quadratic in the picture.
        int_part = "0".repeat(min_int - int_part.len()) + &int_part;
    }
    if int_part.is_empty() && frac_part.is_empty() {
        int_part.push('0');
    }
    // Grouping: positions of separators in the integer picture, from the right.
    let group_positions: Vec<usize> = {
        let rev: Vec<char> = int_pic.chars().rev().collect();
        let mut digits_seen = 0;
        let mut out = Vec::new();
        for c in rev {
            if c == group_sep {
                out.push(digits_seen);
            } else {
                digits_seen += 1;
            }
        }
        out
    };
    let int_part = if group_positions.is_empty() {
        int_part
    } else {
        let regular = group_positions
            .iter()
            .enumerate()
            .all(|(k, p)| *p == group_positions[0] * (k + 1));
        let mut out: Vec<char> = Vec::new();
        for (i, c) in int_part.chars().rev().enumerate() {
            if i > 0
                && ((regular && i % group_positions[0] == 0)
                    || (!regular && group_positions.contains(&i)))
            {
                out.push(group_sep);
            }
            out.push(c);
        }
        out.into_iter().rev().collect()
    };
    let map_zero = |s: String| -> String {
        if zero == '0' {
            s
        } else {
            s.chars()
                .map(|c| {
                    c.to_digit(10)
                        .and_then(|d| char::from_u32(zero as u32 + d))
                        .unwrap_or(c)
                })
                .collect()
        }
    };
    let mut body = map_zero(int_part);
    if !frac_part.is_empty() {
        body.push(dec_sep);
        body.push_str(&map_zero(frac_part));
    }
    if let Some(e) = exp_pic {
        let digits = e.len();
        body.push(exp_sep);
        if exponent < 0 {
            body.push('-');
        }
        body.push_str(&format!("{:0digits$}", exponent.abs()));
    }
    let sign = if n < 0.0 && neg_pic.is_none() {
        minus
    } else {
        String::new()
    };
    Ok(Value::string(format!("{prefix}{sign}{body}{suffix}")))
}

fn round_half_even_at(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    let scaled: f64 = format!("{:.10}", x * f).parse().unwrap_or(x * f);
    crate::functions::numeric::round_half_even(scaled) / f
}

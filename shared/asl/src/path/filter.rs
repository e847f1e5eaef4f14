//! Filter expressions: `[?(@.price < 10 && @.tag == 'x')]`, with Jayway's
//! operators (`==`, `!=`, `<`, `<=`, `>`, `>=`, `=~ /regex/i`, `in`, `nin`,
//! `subsetof`, `anyof`, `noneof`, `size`, `empty`, `contains`).

use serde_json::Value;

use super::parse::Cursor;
use super::{Path, Root, Segment, SyntaxError, eval};

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Or(Vec<Filter>),
    And(Vec<Filter>),
    Not(Box<Filter>),
    /// A lone operand: true when it selects something (and, for literals, is truthy).
    Exists(Operand),
    Compare(Operand, Op, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`: the left side matches the right's `/pattern/flags` whole.
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `@…` (relative to the item) or `$…` (relative to the document).
    Path {
        current: bool,
        segments: Vec<Segment>,
    },
    Literal(Value),
    /// `/pattern/flags`, the right side of `=~`.
    Pattern(Pattern),
}

/// A regular expression as Jayway takes one (its source kept for equality).
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

/// After `?`: `( expr )`.
pub(super) fn parse(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    c.skip_ws();
    if !c.eat(b'(') {
        return Err(c.error("expected '(' after '?'"));
    }
    let f = or(c)?;
    c.skip_ws();
    if !c.eat(b')') {
        return Err(c.error("expected ')' to close the filter"));
    }
    Ok(f)
}

fn or(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    let mut parts = vec![and(c)?];
    loop {
        c.skip_ws();
        if c.s[c.i..].starts_with(b"||") {
            c.i += 2;
            parts.push(and(c)?);
        } else {
            break;
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::Or(parts)
    })
}

fn and(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    let mut parts = vec![unary(c)?];
    loop {
        c.skip_ws();
        if c.s[c.i..].starts_with(b"&&") {
            c.i += 2;
            parts.push(unary(c)?);
        } else {
            break;
        }
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Filter::And(parts)
    })
}

/// How deeply filters may nest (`!`, parentheses, filters in filters): the
/// parser and [`Filter::test`] recurse once per level.
pub const MAX_DEPTH: usize = 64;

/// Every recursion of the filter grammar passes through here: counted.
fn unary(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    deeper(c, unary_term)
}

/// `parse` one level deeper, within [`MAX_DEPTH`].
fn deeper<T>(
    c: &mut Cursor<'_>,
    parse: impl FnOnce(&mut Cursor<'_>) -> Result<T, SyntaxError>,
) -> Result<T, SyntaxError> {
    if c.depth >= MAX_DEPTH {
        return Err(c.error(&format!(
            "filter expressions nested more than {MAX_DEPTH} levels deep"
        )));
    }
    c.depth += 1;
    let out = parse(c);
    c.depth -= 1;
    out
}

fn unary_term(c: &mut Cursor<'_>) -> Result<Filter, SyntaxError> {
    c.skip_ws();
    if c.peek() == Some(b'!') && c.s.get(c.i + 1) != Some(&b'=') {
        c.i += 1;
        return Ok(Filter::Not(Box::new(unary(c)?)));
    }
    if c.eat(b'(') {
        let f = or(c)?;
        c.skip_ws();
        if !c.eat(b')') {
            return Err(c.error("expected ')'"));
        }
        return Ok(f);
    }
    let left = operand(c)?;
    c.skip_ws();
    if c.s[c.i..].starts_with(b"=~") {
        c.i += 2;
        c.skip_ws();
        return Ok(Filter::Compare(left, Op::Matches, pattern(c)?));
    }
    // (A word operator stands alone: `in` is not the start of `inside`.)
    let ops: [(&[u8], Op); 14] = [
        (b"==", Op::Eq),
        (b"!=", Op::Ne),
        (b"<=", Op::Le),
        (b">=", Op::Ge),
        (b"<", Op::Lt),
        (b">", Op::Gt),
        (b"nin", Op::Nin),
        (b"in", Op::In),
        (b"subsetof", Op::SubsetOf),
        (b"anyof", Op::AnyOf),
        (b"noneof", Op::NoneOf),
        (b"size", Op::Size),
        (b"empty", Op::Empty),
        (b"contains", Op::Contains),
    ];
    for (text, op) in ops {
        let rest = &c.s[c.i..];
        let word = text[0].is_ascii_alphabetic();
        let bounded = !word
            || rest
                .get(text.len())
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
        if rest.starts_with(text) && bounded {
            c.i += text.len();
            let right = operand(c)?;
            return Ok(Filter::Compare(left, op, right));
        }
    }
    Ok(Filter::Exists(left))
}

fn operand(c: &mut Cursor<'_>) -> Result<Operand, SyntaxError> {
    c.skip_ws();
    match c.peek() {
        Some(b'@') => {
            c.i += 1;
            Ok(Operand::Path {
                current: true,
                segments: c.segments(true)?,
            })
        }
        Some(b'$') => {
            c.i += 1;
            Ok(Operand::Path {
                current: false,
                segments: c.segments(true)?,
            })
        }
        Some(q @ (b'\'' | b'"')) => {
            c.i += 1;
            let start = c.i;
            while c.peek().is_some_and(|ch| ch != q) {
                c.i += 1;
            }
            let s = c.text[start..c.i].to_owned();
            if !c.eat(q) {
                return Err(c.error("unterminated string"));
            }
            Ok(Operand::Literal(Value::String(s)))
        }
        // A list of literals (`in ['a', 'b']`, `anyof [1, 2]`); a list in
        // a list counts against the nesting limit.
        Some(b'[') => deeper(c, list_literal),
        _ => {
            let start = c.i;
            while c
                .peek()
                .is_some_and(|ch| ch.is_ascii_alphanumeric() || b"-+.".contains(&ch))
            {
                c.i += 1;
            }
            let word = &c.text[start..c.i];
            let v: Value = serde_json::from_str(word)
                .ok()
                .or_else(|| loose_number(word))
                .ok_or_else(|| c.error("expected a value"))?;
            Ok(Operand::Literal(v))
        }
    }
}

/// `[literal, …]`, its `[` at the cursor.
fn list_literal(c: &mut Cursor<'_>) -> Result<Operand, SyntaxError> {
    c.i += 1;
    let mut items = Vec::new();
    loop {
        c.skip_ws();
        if c.eat(b']') {
            break;
        }
        if !items.is_empty() {
            if !c.eat(b',') {
                return Err(c.error("expected ',' or ']' in a list"));
            }
            c.skip_ws();
        }
        match operand(c)? {
            Operand::Literal(v) => items.push(v),
            _ => return Err(c.error("expected a value in a list")),
        }
    }
    Ok(Operand::Literal(Value::Array(items)))
}

/// `/pattern/flags` (`i`: ignore case; `m`, `s`, `x` as Java's). It must
/// match the whole text, as Java's `matches()` does.
fn pattern(c: &mut Cursor<'_>) -> Result<Operand, SyntaxError> {
    if !c.eat(b'/') {
        return Err(c.error("expected '/' to open a regular expression"));
    }
    let start = c.i;
    while let Some(ch) = c.peek() {
        if ch == b'/' {
            break;
        }
        c.i += if ch == b'\\' { 2 } else { 1 };
    }
    c.i = c.i.min(c.s.len());
    let body = c.text.get(start..c.i).unwrap_or_default().to_owned();
    if !c.eat(b'/') {
        return Err(c.error("unterminated regular expression"));
    }
    let flags_start = c.i;
    while c.peek().is_some_and(|ch| ch.is_ascii_alphabetic()) {
        c.i += 1;
    }
    let flags = &c.text[flags_start..c.i];
    if flags.chars().any(|f| !"imsx".contains(f)) {
        return Err(c.error("unknown regular expression flag"));
    }
    let build = |pattern: &str| {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(flags.contains('i'))
            .multi_line(flags.contains('m'))
            .dot_matches_new_line(flags.contains('s'))
            .ignore_whitespace(flags.contains('x'))
            .size_limit(1 << 20)
            .build()
    };
    // The body must stand alone (`a)|(b` is no pattern); then it is held to
    // the whole text, `\A…\z` whatever the flags (with `x`, a newline ends
    // a comment before the closing group).
    let end = if flags.contains('x') { "\n" } else { "" };
    let regex = build(&body)
        .and_then(|_| build(&format!("\\A(?:{body}{end})\\z")))
        .map_err(|_| c.error("invalid regular expression"))?;
    Ok(Operand::Pattern(Pattern {
        source: c.text[start - 1..c.i].to_owned(),
        regex,
    }))
}

/// A number as Jayway reads one (Java's BigDecimal) where JSON would not:
/// `.85`, `5.`, `-.5`.
fn loose_number(word: &str) -> Option<Value> {
    let numeric = word
        .bytes()
        .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b))
        && word.bytes().any(|b| b.is_ascii_digit());
    let n: f64 = word.parse().ok().filter(|_| numeric)?;
    serde_json::Number::from_f64(n).map(Value::Number)
}

impl Filter {
    pub(super) fn test(&self, item: &Value, root: &Value) -> bool {
        match self {
            Filter::Or(fs) => fs.iter().any(|f| f.test(item, root)),
            Filter::And(fs) => fs.iter().all(|f| f.test(item, root)),
            Filter::Not(f) => !f.test(item, root),
            Filter::Exists(o) => match o.value(item, root) {
                Some(Value::Bool(b)) => b,
                Some(_) => true,
                None => false,
            },
            Filter::Compare(l, Op::Matches, Operand::Pattern(p)) => match l.value(item, root) {
                Some(Value::String(s)) => p.regex.is_match(&s),
                Some(Value::Null) | None => false,
                Some(other) => p.regex.is_match(&other.to_string()),
            },
            Filter::Compare(l, op, r) => match (l.value(item, root), r.value(item, root)) {
                (Some(a), Some(b)) => compare(&a, *op, &b),
                // Nothing is in no list, as Jayway has it.
                (None, Some(Value::Array(_))) => *op == Op::Nin,
                _ => false,
            },
        }
    }
}

impl Operand {
    fn value(&self, item: &Value, root: &Value) -> Option<Value> {
        match self {
            Operand::Literal(v) => Some(v.clone()),
            Operand::Pattern(_) => None,
            Operand::Path { current, segments } => {
                let doc = if *current { item } else { root };
                let path = Path {
                    text: String::new(),
                    root: Root::Input,
                    segments: segments.clone(),
                };
                eval::select(&path, doc).ok().map(|s| s.into_value())
            }
        }
    }
}

/// Equal as Jayway compares values: numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, op: Op, b: &Value) -> bool {
    use std::cmp::Ordering;
    let list = |v: &Value| match v {
        Value::Array(items) => Some(items.clone()),
        _ => None,
    };
    let has = |items: &[Value], v: &Value| items.iter().any(|x| same(x, v));
    match op {
        Op::In => return list(b).is_some_and(|r| has(&r, a)),
        Op::Nin => return list(b).is_none_or(|r| !has(&r, a)),
        Op::SubsetOf => {
            return list(a)
                .zip(list(b))
                .is_some_and(|(l, r)| l.iter().all(|x| has(&r, x)));
        }
        Op::AnyOf => {
            return list(a)
                .zip(list(b))
                .is_some_and(|(l, r)| l.iter().any(|x| has(&r, x)));
        }
        Op::NoneOf => {
            return list(a)
                .zip(list(b))
                .is_some_and(|(l, r)| !l.iter().any(|x| has(&r, x)));
        }
        Op::Size => {
            let size = match a {
                Value::Array(items) => items.len(),
                // (Java's length: UTF-16 units.)
                Value::String(s) => s.encode_utf16().count(),
                _ => return false,
            };
            return b.as_f64() == Some(size as f64);
        }
        Op::Empty => {
            let empty = match a {
                Value::Array(items) => items.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return false,
            };
            return b.as_bool() == Some(empty);
        }
        Op::Contains => {
            return match (a, b) {
                (Value::Array(items), v) => has(items, v),
                (Value::String(s), Value::String(part)) => s.contains(part.as_str()),
                _ => false,
            };
        }
        Op::Matches => return false,
        _ => {}
    }
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    };
    match op {
        Op::Eq => ord == Some(Ordering::Equal) || (ord.is_none() && a == b),
        Op::Ne => !(ord == Some(Ordering::Equal) || (ord.is_none() && a == b)),
        Op::Lt => ord == Some(Ordering::Less),
        Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => ord == Some(Ordering::Greater),
        Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        _ => false,
    }
}

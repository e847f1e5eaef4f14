//! Filter expressions: `[?(@.price < 10 && @.tag == 'x')]`.

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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `@…` (relative to the item) or `$…` (relative to the document).
    Path {
        current: bool,
        segments: Vec<Segment>,
    },
    Literal(Value),
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
    if c.depth >= MAX_DEPTH {
        return Err(c.error(&format!(
            "filter expressions nested more than {MAX_DEPTH} levels deep"
        )));
    }
    c.depth += 1;
    let f = unary_term(c);
    c.depth -= 1;
    f
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
    let ops: [(&[u8], Op); 6] = [
        (b"==", Op::Eq),
        (b"!=", Op::Ne),
        (b"<=", Op::Le),
        (b">=", Op::Ge),
        (b"<", Op::Lt),
        (b">", Op::Gt),
    ];
    for (text, op) in ops {
        if c.s[c.i..].starts_with(text) {
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
            Filter::Compare(l, op, r) => {
                let (Some(a), Some(b)) = (l.value(item, root), r.value(item, root)) else {
                    return false;
                };
                compare(&a, *op, &b)
            }
        }
    }
}

impl Operand {
    fn value(&self, item: &Value, root: &Value) -> Option<Value> {
        match self {
            Operand::Literal(v) => Some(v.clone()),
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

fn compare(a: &Value, op: Op, b: &Value) -> bool {
    use std::cmp::Ordering;
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
    }
}

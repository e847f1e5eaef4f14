//! `States.Name(arg, ...)` → [`Expr`]. Arguments are string literals in single
//! quotes (`\'`, `\{`, `\}` and `\\` escape), numbers, `true`/`false`/`null`,
//! paths (`$.x`, `$$.x`, `$var`) and nested calls.

use std::fmt;

use serde_json::Value;

use super::{Expr, FUNCTIONS};
use crate::definition::problem::{INTRINSIC, SCHEMA};
use crate::path::Path;

/// Why a text is not an intrinsic call: a sentence for the user and the
/// diagnostic code AWS reports it under.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses an intrinsic function call.
pub fn parse(text: &str) -> Result<Expr, Error> {
    let mut p = Parser {
        t: text,
        i: 0,
        depth: 0,
        bad_escape: None,
    };
    let invalid = |message| Error {
        code: INTRINSIC,
        message,
    };
    let e = p.call().map_err(invalid)?;
    p.ws();
    if p.i != text.len() {
        return Err(invalid(format!(
            "unexpected text after the function call at position {}",
            p.i
        )));
    }
    // AWS refuses an escape other than `\'`, `\{`, `\}` and `\\` in a
    // string literal (`\"`, and `\n` as a user's deployment met it) when
    // the machine is created (SCHEMA_VALIDATION_FAILED), not when the call
    // runs.
    if let Some((at, c)) = p.bad_escape {
        return Err(Error {
            code: SCHEMA,
            message: format!(
                "the string literal escapes '{c}' at position {at}, which is not allowed; write it without a backslash (the escapes are \\', \\{{, \\}} and \\\\)"
            ),
        });
    }
    Ok(e)
}

/// How deep calls may nest: the parser recurses once per level, and no
/// real definition comes near it.
const MAX_DEPTH: usize = 100;

struct Parser<'a> {
    t: &'a str,
    i: usize,
    depth: usize,
    /// Where the first escape AWS refuses (`\"`, `\n`, …) in a string
    /// literal is, and the character it escapes.
    bad_escape: Option<(usize, char)>,
}

impl Parser<'_> {
    fn ws(&mut self) {
        // Whitespace may be more than one byte (U+00A0, U+2028 …).
        while let Some(c) = self.t[self.i..]
            .chars()
            .next()
            .filter(|c| c.is_whitespace())
        {
            self.i += c.len_utf8();
        }
    }

    fn call(&mut self) -> Result<Expr, String> {
        self.ws();
        let start = self.i;
        while self.t[self.i..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '.') {
            self.i += 1;
        }
        let name = &self.t[start..self.i];
        if !self.t[self.i..].starts_with('(') {
            return Err(format!("expected '(' after '{name}'"));
        }
        self.i += 1;
        let f = FUNCTIONS
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| format!("the intrinsic function '{name}' is not supported"))?;
        let mut args = Vec::new();
        self.ws();
        if self.t[self.i..].starts_with(')') {
            self.i += 1;
        } else {
            loop {
                let keep_braces = f.name == "States.Format" && args.is_empty();
                args.push(self.arg(keep_braces)?);
                self.ws();
                match self.t[self.i..].chars().next() {
                    Some(',') => self.i += 1,
                    Some(')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                }
            }
        }
        if args.len() < f.min_args || f.max_args.is_some_and(|m| args.len() > m) {
            let wanted = match f.max_args {
                Some(m) if m == f.min_args => format!("{m}"),
                Some(m) => format!("{} to {m}", f.min_args),
                None => format!("at least {}", f.min_args),
            };
            return Err(format!(
                "{name} takes {wanted} arguments but was given {}",
                args.len()
            ));
        }
        Ok(Expr::Call(f, args))
    }

    fn arg(&mut self, keep_braces: bool) -> Result<Expr, String> {
        self.ws();
        let rest = &self.t[self.i..];
        if rest.starts_with('\'') {
            return self
                .string(keep_braces)
                .map(|s| Expr::Literal(Value::String(s)));
        }
        if rest.starts_with('$') {
            let len = path_len(rest);
            let text = &rest[..len];
            self.i += len;
            let path =
                Path::parse(text.trim_end()).map_err(|e| format!("invalid path '{text}': {e}"))?;
            return Ok(Expr::Path(path));
        }
        if rest.starts_with("States.") {
            if self.depth >= MAX_DEPTH {
                return Err(format!(
                    "intrinsic functions nest more than {MAX_DEPTH} deep"
                ));
            }
            self.depth += 1;
            let call = self.call();
            self.depth -= 1;
            return call;
        }
        let len = rest.find([',', ')']).unwrap_or(rest.len());
        let word = rest[..len].trim();
        self.i += len;
        match serde_json::from_str::<Value>(word) {
            Ok(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => Ok(Expr::Literal(v)),
            _ => Err(format!("'{word}' is not a valid argument")),
        }
    }

    fn string(&mut self, keep_braces: bool) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        let mut chars = self.t[self.i..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '\'' => {
                    self.i += at + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '{' | '}' | '\\'))) => {
                        // In a Format template, braces stay escaped so they differ from `{}`.
                        if keep_braces && (e == '{' || e == '}') {
                            out.push('\\');
                        }
                        out.push(e);
                    }
                    Some((_, e)) => {
                        self.bad_escape.get_or_insert((self.i + at, e));
                        out.push(e);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("unterminated string literal".to_owned())
    }
}

/// Length of a path argument: up to a `,` or `)` outside brackets and quotes
/// (in which a backslash keeps the next character from closing the quote,
/// as in the path itself: `$['it\'s']`).
fn path_len(s: &str) -> usize {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ']') => depth -= 1,
            (None, ')') if depth > 0 => depth -= 1,
            (None, ',' | ')') if depth == 0 => return i,
            _ => {}
        }
    }
    s.len()
}

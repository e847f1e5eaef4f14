//! Tokens of a JSONata expression.

use crate::error::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Num(f64),
    Str(String),
    /// A field name, or a backquoted name.
    Name(String),
    /// `$name`; `$` alone is `""`, `$$` is `"$"`.
    Var(String),
    Regex(String, String),
    /// Operators and punctuation, including `and`, `or`, `in`, `true`, …
    Op(&'static str),
    End,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

const OPERATORS: &[&str] = &[
    "..", ":=", "!=", ">=", "<=", "**", "~>", ".", "[", "]", "{", "}", "(", ")", ",", "@", "#",
    ";", ":", "?", "+", "-", "*", "/", "%", "|", "=", "<", ">", "^", "&", "~",
];

pub fn tokenize(src: &str) -> Result<Vec<Token>, Error> {
    let mut out = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if src[i..].starts_with("/*") {
            let end = src[i + 2..]
                .find("*/")
                .ok_or_else(|| Error::syntax("S0106", i, "Comment has no closing tag"))?;
            i += end + 4;
            continue;
        }
        let pos = i;
        // A '/' starts a regex where an operand is expected.
        if c == b'/' && regex_allowed(out.last()) {
            let (pattern, flags, next) = regex(src, i + 1)?;
            out.push(Token {
                tok: Tok::Regex(pattern, flags),
                pos,
            });
            i = next;
            continue;
        }
        if c == b'"' || c == b'\'' {
            let (s, next) = string(src, i)?;
            out.push(Token {
                tok: Tok::Str(s),
                pos,
            });
            i = next;
            continue;
        }
        if c == b'`' {
            let end = src[i + 1..].find('`').ok_or_else(|| {
                Error::syntax(
                    "S0105",
                    i,
                    "Quoted property name must be terminated with a backquote (`)",
                )
            })?;
            out.push(Token {
                tok: Tok::Name(src[i + 1..i + 1 + end].to_owned()),
                pos,
            });
            i += end + 2;
            continue;
        }
        if c.is_ascii_digit()
            || (c == b'.'
                && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !matches!(
                    out.last(),
                    Some(Token {
                        tok: Tok::Name(_)
                            | Tok::Var(_)
                            | Tok::Op(")" | "]" | "}")
                            | Tok::Num(_)
                            | Tok::Str(_),
                        ..
                    })
                ))
        {
            let (n, next) = number(src, i);
            if let Some(n) = n {
                out.push(Token {
                    tok: Tok::Num(n),
                    pos,
                });
                i = next;
                continue;
            }
        }
        if c == b'$' {
            let mut j = i + 1;
            if b.get(j) == Some(&b'$') {
                out.push(Token {
                    tok: Tok::Var("$".into()),
                    pos,
                });
                i = j + 1;
                continue;
            }
            while j < b.len() && is_name_byte(b[j]) {
                j += 1;
            }
            out.push(Token {
                tok: Tok::Var(src[i + 1..j].to_owned()),
                pos,
            });
            i = j;
            continue;
        }
        if let Some(op) = OPERATORS.iter().find(|op| src[i..].starts_with(**op)) {
            // `..` only between operands; `.5` handled above.
            out.push(Token {
                tok: Tok::Op(op),
                pos,
            });
            i += op.len();
            continue;
        }
        if src[i..].starts_with('λ') {
            out.push(Token {
                tok: Tok::Op("function"),
                pos,
            });
            i += 'λ'.len_utf8();
            continue;
        }
        let start = i;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        if i == start {
            let ch = src[i..].chars().next().unwrap_or(' ');
            return Err(Error::syntax(
                "S0204",
                i,
                &format!("Unknown operator: \"{ch}\""),
            ));
        }
        let word = &src[start..i];
        let tok = match word {
            "and" => Tok::Op("and"),
            "or" => Tok::Op("or"),
            "in" => Tok::Op("in"),
            "true" => Tok::Op("true"),
            "false" => Tok::Op("false"),
            "null" => Tok::Op("null"),
            "function" => Tok::Op("function"),
            _ => Tok::Name(word.to_owned()),
        };
        out.push(Token { tok, pos });
    }
    out.push(Token {
        tok: Tok::End,
        pos: src.len(),
    });
    Ok(out)
}

fn is_name_byte(c: u8) -> bool {
    !(c.is_ascii_whitespace() || b".[]{}()|,@#;:?+-*/%=<>^&!~\"'`$".contains(&c))
}

fn regex_allowed(prev: Option<&Token>) -> bool {
    match prev {
        None => true,
        Some(t) => !matches!(
            t.tok,
            Tok::Num(_)
                | Tok::Str(_)
                | Tok::Name(_)
                | Tok::Var(_)
                | Tok::Regex(..)
                | Tok::Op(")" | "]" | "}" | "true" | "false" | "null" | "?")
        ),
    }
}

fn regex(src: &str, mut i: usize) -> Result<(String, String, usize), Error> {
    let start = i;
    let b = src.as_bytes();
    let mut depth_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'[' => {
                depth_class = true;
                i += 1
            }
            b']' => {
                depth_class = false;
                i += 1
            }
            b'/' if !depth_class => {
                let pattern = src[start..i].to_owned();
                if pattern.is_empty() {
                    return Err(Error::syntax(
                        "S0301",
                        i,
                        "Empty regular expressions are not allowed",
                    ));
                }
                let mut j = i + 1;
                while j < b.len() && (b[j] == b'i' || b[j] == b'm') {
                    j += 1;
                }
                return Ok((pattern, src[i + 1..j].to_owned(), j));
            }
            _ => i += 1,
        }
    }
    Err(Error::syntax(
        "S0302",
        start,
        "No terminating / in regular expression",
    ))
}

fn string(src: &str, start: usize) -> Result<(String, usize), Error> {
    let quote = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        if c == quote {
            return Ok((out, start + 1 + off + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        match e {
            '"' | '\\' | '/' | '\'' => out.push(e),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex: String = (0..4)
                    .filter_map(|_| chars.next().map(|(_, h)| h))
                    .collect();
                let code = u32::from_str_radix(&hex, 16).map_err(|_| {
                    Error::syntax(
                        "S0104",
                        start,
                        "The escape sequence \\u must be followed by 4 hex digits",
                    )
                })?;
                if (0xD800..0xDC00).contains(&code) {
                    // A surrogate pair: read the low half.
                    let rest: String = chars.clone().take(6).map(|(_, c)| c).collect();
                    if let Some(low) = rest
                        .strip_prefix("\\u")
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                    {
                        for _ in 0..6 {
                            chars.next();
                        }
                        let c = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        continue;
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
            other => {
                return Err(Error::syntax(
                    "S0103",
                    start,
                    &format!("Unsupported escape sequence: \\{other}"),
                ));
            }
        }
    }
    Err(Error::syntax(
        "S0101",
        start,
        "String literal must be terminated by a matching quote",
    ))
}

fn number(src: &str, start: usize) -> (Option<f64>, usize) {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    (src[start..i].parse().ok(), i)
}

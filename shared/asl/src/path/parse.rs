//! Text → [`Path`]. Hand-written: Jayway's grammar as AWS accepts it, with
//! bracket and dot notation, slices, unions, deep scan and filters.

use super::{Key, Path, Root, Segment, SyntaxError, filter};

pub(super) fn path(text: &str) -> Result<Path, SyntaxError> {
    let mut p = Cursor {
        s: text.as_bytes(),
        i: 0,
        text,
        depth: 0,
    };
    let root = p.root()?;
    let segments = p.segments(false)?;
    if p.i != p.s.len() {
        return Err(p.error("unexpected character"));
    }
    Ok(Path {
        text: text.to_owned(),
        root,
        segments,
    })
}

pub(super) struct Cursor<'a> {
    pub s: &'a [u8],
    pub i: usize,
    pub text: &'a str,
    /// Filter nesting so far (see `filter::MAX_DEPTH`).
    pub depth: usize,
}

impl<'a> Cursor<'a> {
    pub fn error(&self, what: &str) -> SyntaxError {
        SyntaxError {
            message: format!("{what} at position {} of '{}'", self.i, self.text),
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    pub fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn root(&mut self) -> Result<Root, SyntaxError> {
        if !self.eat(b'$') {
            return Err(self.error("a path must start with '$'"));
        }
        if self.eat(b'$') {
            return Ok(Root::Context);
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        if self.i > start {
            return Ok(Root::Variable(self.text[start..self.i].to_owned()));
        }
        Ok(Root::Input)
    }

    /// Segments up to the end, or (inside a filter) up to an operator.
    pub fn segments(&mut self, in_filter: bool) -> Result<Vec<Segment>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            // (A segment that ends in `]` is a bracket's: a name stops there.)
            let after_bracket =
                !out.is_empty() && self.i > 0 && self.s.get(self.i - 1) == Some(&b']');
            match self.peek() {
                // Jayway reads a name straight after a bracket as a child:
                // `$.a[0]b` is `$.a[0].b` (a published module's
                // `$.Reservations[0].Instances[0]InstanceId`).
                Some(c)
                    if after_bracket
                        && !c.is_ascii_whitespace()
                        && !b".[])=<>!&|,".contains(&c) =>
                {
                    out.push(self.dot_name(in_filter)?);
                }
                Some(b'.') => {
                    self.i += 1;
                    if self.eat(b'.') {
                        let inner = if self.peek() == Some(b'[') {
                            self.i += 1;
                            self.bracket()?
                        } else {
                            self.dot_name(in_filter)?
                        };
                        out.push(Segment::Descendants(Box::new(inner)));
                    } else if self.eat(b'[') {
                        // Jayway reads `.[0]` as `[0]`: `$.[0].body`, `$.a.['b']`.
                        out.push(self.bracket()?);
                    } else {
                        let seg = self.dot_name(in_filter)?;
                        out.push(seg);
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    out.push(self.bracket()?);
                }
                _ => return Ok(out),
            }
        }
    }

    fn dot_name(&mut self, in_filter: bool) -> Result<Segment, SyntaxError> {
        if self.eat(b'*') {
            return Ok(Segment::Wildcard);
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            let stop = c == b'.'
                || c == b'['
                || c == b']'
                || (in_filter && (c.is_ascii_whitespace() || b")=<>!&|,".contains(&c)));
            if stop {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.error("expected a property name"));
        }
        let name = &self.text[start..self.i];
        if name == "length()" {
            return Ok(Segment::Length);
        }
        Ok(Segment::Child(name.to_owned()))
    }

    /// A quoted name in brackets, unescaped as Jayway does: `\"`, `\'`
    /// and `\\` stand for the character, as do `\/`, `\b`, `\f`, `\n`,
    /// `\r`, `\t` and `\uXXXX`; any other escaped character is itself.
    /// So the path `$['a\"b']` (the JSON string `"$['a\\\"b']"`) selects
    /// the key `a"b`.
    fn quoted(&mut self) -> Result<String, SyntaxError> {
        let q = self
            .peek()
            .filter(|c| *c == b'\'' || *c == b'"')
            .ok_or_else(|| self.error("expected a quote"))?;
        self.i += 1;
        let mut name = String::new();
        let mut start = self.i;
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(c) if c == q => break,
                Some(b'\\') => {
                    name.push_str(&self.text[start..self.i]);
                    self.i += 1;
                    let Some(c) = self.text[self.i..].chars().next() else {
                        return Err(self.error("unterminated escape"));
                    };
                    self.i += c.len_utf8();
                    match c {
                        'b' => name.push('\u{8}'),
                        'f' => name.push('\u{c}'),
                        'n' => name.push('\n'),
                        'r' => name.push('\r'),
                        't' => name.push('\t'),
                        'u' => {
                            let hex = self.text.get(self.i..self.i + 4);
                            match hex
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                            {
                                Some(u) => {
                                    name.push(u);
                                    self.i += 4;
                                }
                                None => return Err(self.error("invalid unicode escape")),
                            }
                        }
                        other => name.push(other),
                    }
                    start = self.i;
                }
                Some(_) => self.i += 1,
            }
        }
        // The quotes are ASCII and escapes end on a character's end, so the
        // slices fall on char boundaries.
        name.push_str(&self.text[start..self.i]);
        self.i += 1;
        Ok(name)
    }

    fn int(&mut self) -> Result<Option<i64>, SyntaxError> {
        self.skip_ws();
        let start = self.i;
        self.eat(b'-');
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let t = &self.text[start..self.i];
        if t.is_empty() {
            return Ok(None);
        }
        let n = t.parse().map_err(|_| self.error("bad integer"))?;
        self.skip_ws();
        Ok(Some(n))
    }

    /// After `[`.
    fn bracket(&mut self) -> Result<Segment, SyntaxError> {
        self.skip_ws();
        let seg = match self.peek() {
            Some(b'*') => {
                self.i += 1;
                Segment::Wildcard
            }
            Some(b'?') => {
                self.i += 1;
                Segment::Filter(Box::new(filter::parse(self)?))
            }
            Some(b'\'' | b'"') => {
                let mut keys = vec![Key::Name(self.quoted()?)];
                self.skip_ws();
                while self.eat(b',') {
                    self.skip_ws();
                    keys.push(Key::Name(self.quoted()?));
                    self.skip_ws();
                }
                match keys.len() {
                    1 => match keys.pop() {
                        Some(Key::Name(n)) => Segment::Child(n),
                        _ => unreachable!("one name was pushed"),
                    },
                    _ => Segment::Union(keys),
                }
            }
            _ => {
                let first = self.int()?;
                if self.peek() == Some(b':') {
                    self.i += 1;
                    let end = self.int()?;
                    let step = if self.eat(b':') { self.int()? } else { None };
                    Segment::Slice {
                        start: first,
                        end,
                        step,
                    }
                } else if self.peek() == Some(b',') {
                    let mut keys = vec![Key::Index(
                        first.ok_or_else(|| self.error("expected an index"))?,
                    )];
                    while self.eat(b',') {
                        keys.push(Key::Index(
                            self.int()?.ok_or_else(|| self.error("expected an index"))?,
                        ));
                    }
                    Segment::Union(keys)
                } else {
                    Segment::Index(
                        first.ok_or_else(|| self.error("expected an index, a name or '*'"))?,
                    )
                }
            }
        };
        self.skip_ws();
        if !self.eat(b']') {
            return Err(self.error("expected ']'"));
        }
        Ok(seg)
    }
}

//! Pratt parser (jsonata-js's binding powers) into a raw tree, which
//! [`crate::process`] turns into [`Node`]s.
//!
//! Nesting is bounded: the parser tracks the height of the tree it builds
//! and refuses one taller than [`MAX_DEPTH`], so neither it, the
//! post-processing nor the evaluator (all recursive) can run out of stack on
//! `((((…))))`, `-----1` or `1+1+…+1`. The big matches live in small
//! functions of their own: a debug build gives every arm of a match its own
//! stack slots, and these functions recurse (hence also the boxed operands).
#![allow(clippy::boxed_local)]

use std::sync::Arc;

use crate::ast::{BinOp, Node};
use crate::error::Error;
use crate::lexer::{Tok, Token, tokenize};

pub(crate) enum Raw {
    Leaf(Node),
    Name(Arc<str>),
    Neg(Box<Raw>),
    Array(Vec<Raw>),
    Object(Vec<(Raw, Raw)>),
    Dot(Box<Raw>, Box<Raw>),
    Pred(Box<Raw>, Option<Box<Raw>>),
    Group(Box<Raw>, Vec<(Raw, Raw)>),
    Sort(Box<Raw>, Vec<(Raw, bool)>),
    Bin(BinOp, Box<Raw>, Box<Raw>),
    Cond(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    Block(Vec<Raw>),
    Bind(Arc<str>, Box<Raw>),
    Lambda(Vec<Arc<str>>, Box<Raw>, Option<String>),
    Call(Box<Raw>, Vec<Raw>),
    Placeholder,
    Apply(Box<Raw>, Box<Raw>),
    Transform(Box<Raw>, Box<Raw>, Option<Box<Raw>>),
    /// `step@$v` (focus) or `step#$i` (index).
    Binding(Box<Raw>, Arc<str>, bool),
}

/// How deeply an expression may nest: brackets, operators, steps, calls.
/// Real expressions stay below 20; jsonata-js has no limit of its own but the
/// JavaScript stack's.
pub const MAX_DEPTH: usize = 200;

pub fn parse(src: &str) -> Result<Node, Error> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        i: 0,
        heights: Vec::new(),
    };
    let raw = p.expression(0)?;
    if p.peek() != &Tok::End {
        return Err(p.error("S0201", "Syntax error: unexpected token"));
    }
    crate::process::process(raw)
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    /// One entry per `expression` in progress: the height of the tallest
    /// subexpression it has parsed so far.
    heights: Vec<usize>,
}

fn regex(pattern: &str, flags: &str, pos: usize) -> Result<Raw, Error> {
    let mut b = regex::RegexBuilder::new(pattern);
    b.case_insensitive(flags.contains('i'))
        .multi_line(flags.contains('m'));
    let re = b
        .build()
        .map_err(|e| Error::syntax("S0303", pos, &format!("Invalid regular expression: {e}")))?;
    Ok(Raw::Leaf(Node::Regex(Arc::new(re))))
}

/// The operators that stand alone as operands.
fn leaf(op: &'static str) -> Option<Raw> {
    Some(match op {
        "true" => Raw::Leaf(Node::Bool(true)),
        "false" => Raw::Leaf(Node::Bool(false)),
        "null" => Raw::Leaf(Node::Null),
        "and" | "or" | "in" => Raw::Name(op.into()),
        "*" => Raw::Leaf(Node::Wildcard),
        "**" => Raw::Leaf(Node::Descendants),
        "%" => Raw::Leaf(Node::Parent),
        "?" => Raw::Placeholder,
        _ => return None,
    })
}

fn not_unary(op: &str, pos: usize) -> Error {
    Error::syntax(
        "S0211",
        pos,
        &format!("The symbol {op} cannot be used as a unary operator"),
    )
}

fn too_deep(position: usize) -> Error {
    Error::syntax(
        "S0220",
        position,
        &format!("The expression is nested more than {MAX_DEPTH} levels deep"),
    )
}

fn lbp(t: &Tok) -> u8 {
    match t {
        Tok::Op(op) => match *op {
            "." => 75,
            "[" | "(" | "@" | "#" => 80,
            "{" => 70,
            "*" | "/" | "%" | "**" => 60,
            "+" | "-" | "&" => 50,
            "=" | "!=" | "<" | "<=" | ">" | ">=" | "^" | "~>" | "in" => 40,
            "and" => 30,
            "or" => 25,
            "?" => 20,
            ":=" => 10,
            _ => 0,
        },
        _ => 0,
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.i].tok
    }

    fn pos(&self) -> usize {
        self.tokens[self.i].pos
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.i].clone();
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn error(&self, code: &'static str, msg: &str) -> Error {
        Error::syntax(code, self.pos(), msg)
    }

    fn expect(&mut self, op: &str) -> Result<(), Error> {
        match self.peek() {
            Tok::Op(o) if *o == op => {
                self.next();
                Ok(())
            }
            Tok::End => Err(self.error(
                "S0203",
                &format!("Expected \"{op}\" before end of expression"),
            )),
            _ => Err(self.error("S0202", &format!("Expected \"{op}\""))),
        }
    }

    fn at(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    /// Parses one expression and reports its height to the enclosing one.
    fn expression(&mut self, rbp: u8) -> Result<Raw, Error> {
        if self.heights.len() >= MAX_DEPTH {
            return Err(too_deep(self.pos()));
        }
        self.heights.push(0);
        let t = self.next();
        let mut left = self.nud(t)?;
        let mut height = self.heights.pop().unwrap_or_default() + 1;
        while rbp < lbp(self.peek()) {
            // The left operand is a child of the node `led` builds.
            self.heights.push(height);
            let t = self.next();
            left = self.led(t, left)?;
            height = self.heights.pop().unwrap_or_default() + 1;
            if height > MAX_DEPTH {
                return Err(too_deep(self.pos()));
            }
        }
        if let Some(parent) = self.heights.last_mut() {
            *parent = (*parent).max(height);
        }
        Ok(left)
    }

    /// Opens a comma-separated list closed by `close`: false when it is
    /// empty (and already closed).
    fn open_list(&mut self, close: &str) -> Result<bool, Error> {
        if self.peek() == &Tok::End {
            return Err(self.error(
                "S0203",
                &format!("Expected \"{close}\" before end of expression"),
            ));
        }
        if self.at(close) {
            self.next();
            return Ok(false);
        }
        Ok(true)
    }

    /// After an item: true if another follows, false once `close` is read.
    fn list_continues(&mut self, close: &str) -> Result<bool, Error> {
        if self.at(",") {
            self.next();
            return Ok(true);
        }
        self.expect(close)?;
        Ok(false)
    }

    /// A list of plain expressions (call arguments).
    fn expressions(&mut self, close: &str) -> Result<Vec<Raw>, Error> {
        let mut out = Vec::new();
        let mut more = self.open_list(close)?;
        while more {
            out.push(self.expression(0)?);
            more = self.list_continues(close)?;
        }
        Ok(out)
    }

    fn nud(&mut self, t: Token) -> Result<Raw, Error> {
        let pos = t.pos;
        match t.tok {
            Tok::Num(n) => Ok(Raw::Leaf(Node::Num(n))),
            Tok::Str(s) => Ok(Raw::Leaf(Node::Str(s.into()))),
            Tok::Name(n) => Ok(Raw::Name(n.into())),
            Tok::Var(v) => Ok(Raw::Leaf(Node::Var(v.into()))),
            Tok::Regex(pattern, flags) => regex(&pattern, &flags, pos),
            Tok::End => Err(Error::syntax("S0207", pos, "Unexpected end of expression")),
            Tok::Op(op) => self.prefix(op, pos),
        }
    }

    fn prefix(&mut self, op: &'static str, pos: usize) -> Result<Raw, Error> {
        match op {
            "-" => self.negation(),
            "(" => self.block(),
            "[" => self.array(),
            "{" => self.object(),
            "|" => self.transform(),
            "function" => self.lambda(),
            other => leaf(other).ok_or_else(|| not_unary(other, pos)),
        }
    }

    fn object(&mut self) -> Result<Raw, Error> {
        Ok(Raw::Object(self.pairs()?))
    }

    fn negation(&mut self) -> Result<Raw, Error> {
        Ok(Raw::Neg(Box::new(self.expression(70)?)))
    }

    fn block(&mut self) -> Result<Raw, Error> {
        let mut items = Vec::new();
        while !self.at(")") {
            items.push(self.expression(0)?);
            if !self.at(";") {
                break;
            }
            self.next();
        }
        self.expect(")")?;
        Ok(Raw::Block(items))
    }

    fn array(&mut self) -> Result<Raw, Error> {
        let mut items = Vec::new();
        let mut more = self.open_list("]")?;
        while more {
            items.push(self.array_item()?);
            more = self.list_continues("]")?;
        }
        Ok(Raw::Array(items))
    }

    /// An item, or a range `a..b`.
    fn array_item(&mut self) -> Result<Raw, Error> {
        let item = self.expression(0)?;
        if !self.at("..") {
            return Ok(item);
        }
        self.next();
        let end = self.expression(0)?;
        Ok(Raw::Bin(BinOp::Range, Box::new(item), Box::new(end)))
    }

    fn transform(&mut self) -> Result<Raw, Error> {
        let pattern = self.expression(0)?;
        self.expect("|")?;
        let update = self.expression(0)?;
        let delete = if self.at(",") {
            self.next();
            Some(Box::new(self.expression(0)?))
        } else {
            None
        };
        self.expect("|")?;
        Ok(Raw::Transform(Box::new(pattern), Box::new(update), delete))
    }

    fn pairs(&mut self) -> Result<Vec<(Raw, Raw)>, Error> {
        let mut out = Vec::new();
        let mut more = self.open_list("}")?;
        while more {
            let k = self.expression(0)?;
            self.expect(":")?;
            let v = self.expression(0)?;
            out.push((k, v));
            more = self.list_continues("}")?;
        }
        Ok(out)
    }

    fn lambda(&mut self) -> Result<Raw, Error> {
        self.expect("(")?;
        let mut params = Vec::new();
        let mut more = self.open_list(")")?;
        while more {
            match self.next().tok {
                Tok::Var(v) => params.push(Arc::<str>::from(v)),
                _ => {
                    return Err(self.error(
                        "S0208",
                        "Parameter of a function definition must be a variable name (start with $)",
                    ));
                }
            }
            more = self.list_continues(")")?;
        }
        let mut signature = None;
        if self.at("<") {
            // A signature like <n-n:n>: kept as text, checked loosely.
            let start = self.pos();
            let mut depth = 0;
            loop {
                match self.next().tok {
                    Tok::Op("<") => depth += 1,
                    Tok::Op(">") => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::End => {
                        return Err(Error::syntax(
                            "S0402",
                            start,
                            "Unterminated function signature",
                        ));
                    }
                    _ => {}
                }
            }
            signature = Some(String::new());
        }
        self.expect("{")?;
        let body = if self.at("}") {
            Raw::Leaf(Node::Block(Vec::new()))
        } else {
            self.expression(0)?
        };
        self.expect("}")?;
        Ok(Raw::Lambda(params, Box::new(body), signature))
    }

    fn led(&mut self, t: Token, left: Raw) -> Result<Raw, Error> {
        let Tok::Op(op) = t.tok else {
            return Err(Error::syntax("S0201", t.pos, "Syntax error"));
        };
        let left = Box::new(left);
        match op {
            "." => self.dot(left),
            "[" => self.predicate(left),
            "{" => self.group(left),
            "(" => self.call(left),
            "?" => self.condition(left),
            ":=" => self.bind(left, t.pos),
            "~>" => self.apply(left),
            "^" => self.sort(left),
            "@" | "#" => self.binding(left, op, t.pos),
            other => match binary(other) {
                Some(b) => self.binary(b, other, left),
                None => Err(Error::syntax(
                    "S0201",
                    t.pos,
                    &format!("Syntax error: \"{other}\""),
                )),
            },
        }
    }

    fn binary(&mut self, b: BinOp, op: &'static str, left: Box<Raw>) -> Result<Raw, Error> {
        let right = self.expression(lbp(&Tok::Op(op)))?;
        Ok(Raw::Bin(b, left, Box::new(right)))
    }

    fn dot(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        Ok(Raw::Dot(left, Box::new(self.expression(75)?)))
    }

    fn group(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        Ok(Raw::Group(left, self.pairs()?))
    }

    fn call(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        Ok(Raw::Call(left, self.expressions(")")?))
    }

    fn apply(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        Ok(Raw::Apply(left, Box::new(self.expression(40)?)))
    }

    fn bind(&mut self, left: Box<Raw>, pos: usize) -> Result<Raw, Error> {
        match *left {
            Raw::Leaf(Node::Var(name)) => Ok(Raw::Bind(name, Box::new(self.expression(9)?))),
            _ => Err(Error::syntax(
                "S0212",
                pos,
                "The left side of := must be a variable name (start with $)",
            )),
        }
    }

    fn binding(&mut self, left: Box<Raw>, op: &str, pos: usize) -> Result<Raw, Error> {
        match self.next().tok {
            Tok::Var(v) if !v.is_empty() => Ok(Raw::Binding(left, v.into(), op == "@")),
            _ => Err(not_a_variable(op, pos)),
        }
    }

    fn predicate(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        if self.peek() == &Tok::End {
            return Err(self.error("S0203", "Expected \"]\" before end of expression"));
        }
        if self.at("]") {
            self.next();
            return Ok(Raw::Pred(left, None));
        }
        let e = self.expression(0)?;
        self.expect("]")?;
        Ok(Raw::Pred(left, Some(Box::new(e))))
    }

    fn condition(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        let then = self.expression(0)?;
        let otherwise = if self.at(":") {
            self.next();
            Some(Box::new(self.expression(0)?))
        } else {
            None
        };
        Ok(Raw::Cond(left, Box::new(then), otherwise))
    }

    fn sort(&mut self, left: Box<Raw>) -> Result<Raw, Error> {
        self.expect("(")?;
        let mut terms = Vec::new();
        let mut more = self.open_list(")")?;
        while more {
            let desc = if self.at("<") {
                self.next();
                false
            } else if self.at(">") {
                self.next();
                true
            } else {
                false
            };
            terms.push((self.expression(0)?, desc));
            more = self.list_continues(")")?;
        }
        Ok(Raw::Sort(left, terms))
    }
}

fn binary(op: &str) -> Option<BinOp> {
    Some(match op {
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "=" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "and" => BinOp::And,
        "or" => BinOp::Or,
        "&" => BinOp::Concat,
        "in" => BinOp::In,
        _ => return None,
    })
}

fn not_a_variable(op: &str, pos: usize) -> Error {
    Error::syntax(
        "S0214",
        pos,
        &format!("The right side of {op} must be a variable name (start with $)"),
    )
}

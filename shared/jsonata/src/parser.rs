//! Pratt parser (jsonata-js's binding powers) and the post-processing that
//! turns `.` chains into paths with per-step predicates.

use std::sync::Arc;

use crate::ast::{BinOp, LambdaDef, Node, Step};
use crate::error::Error;
use crate::lexer::{Tok, Token, tokenize};

enum Raw {
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

pub fn parse(src: &str) -> Result<Node, Error> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, i: 0 };
    let raw = p.expression(0)?;
    if p.peek() != &Tok::End {
        return Err(p.error("S0201", "Syntax error: unexpected token"));
    }
    process(raw)
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
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
            "?" | "|" => 20,
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

    fn expression(&mut self, rbp: u8) -> Result<Raw, Error> {
        let t = self.next();
        let mut left = self.nud(t)?;
        while rbp < lbp(self.peek()) {
            let t = self.next();
            left = self.led(t, left)?;
        }
        Ok(left)
    }

    fn list<T>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        if self.peek() == &Tok::End {
            return Err(self.error(
                "S0203",
                &format!("Expected \"{close}\" before end of expression"),
            ));
        }
        if self.at(close) {
            self.next();
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if self.at(",") {
                self.next();
                continue;
            }
            self.expect(close)?;
            return Ok(out);
        }
    }

    fn nud(&mut self, t: Token) -> Result<Raw, Error> {
        let pos = t.pos;
        Ok(match t.tok {
            Tok::Num(n) => Raw::Leaf(Node::Num(n)),
            Tok::Str(s) => Raw::Leaf(Node::Str(s.into())),
            Tok::Name(n) => Raw::Name(n.into()),
            Tok::Var(v) => Raw::Leaf(Node::Var(v.into())),
            Tok::Regex(pattern, flags) => {
                let mut b = regex::RegexBuilder::new(&pattern);
                b.case_insensitive(flags.contains('i'))
                    .multi_line(flags.contains('m'));
                let re = b.build().map_err(|e| {
                    Error::syntax("S0303", pos, &format!("Invalid regular expression: {e}"))
                })?;
                Raw::Leaf(Node::Regex(Arc::new(re)))
            }
            Tok::End => return Err(Error::syntax("S0207", pos, "Unexpected end of expression")),
            Tok::Op(op) => match op {
                "true" => Raw::Leaf(Node::Bool(true)),
                "false" => Raw::Leaf(Node::Bool(false)),
                "null" => Raw::Leaf(Node::Null),
                "and" | "or" | "in" => Raw::Name(op.into()),
                "-" => Raw::Neg(Box::new(self.expression(70)?)),
                "*" => Raw::Leaf(Node::Wildcard),
                "**" => Raw::Leaf(Node::Descendants),
                "%" => Raw::Leaf(Node::Parent),
                "?" => Raw::Placeholder,
                "(" => {
                    let mut items = Vec::new();
                    while !self.at(")") {
                        items.push(self.expression(0)?);
                        if !self.at(";") {
                            break;
                        }
                        self.next();
                    }
                    self.expect(")")?;
                    Raw::Block(items)
                }
                "[" => Raw::Array(self.list("]", |p| {
                    let item = p.expression(0)?;
                    if p.at("..") {
                        p.next();
                        let end = p.expression(0)?;
                        return Ok(Raw::Bin(BinOp::Range, Box::new(item), Box::new(end)));
                    }
                    Ok(item)
                })?),
                "{" => Raw::Object(self.pairs()?),
                "|" => {
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
                    Raw::Transform(Box::new(pattern), Box::new(update), delete)
                }
                "function" => self.lambda()?,
                other => {
                    return Err(Error::syntax(
                        "S0211",
                        pos,
                        &format!("The symbol {other} cannot be used as a unary operator"),
                    ));
                }
            },
        })
    }

    fn pairs(&mut self) -> Result<Vec<(Raw, Raw)>, Error> {
        self.list("}", |p| {
            let k = p.expression(0)?;
            p.expect(":")?;
            let v = p.expression(0)?;
            Ok((k, v))
        })
    }

    fn lambda(&mut self) -> Result<Raw, Error> {
        self.expect("(")?;
        let params = self.list(")", |p| match p.next().tok {
            Tok::Var(v) => Ok(Arc::<str>::from(v)),
            _ => Err(p.error(
                "S0208",
                "Parameter of a function definition must be a variable name (start with $)",
            )),
        })?;
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
        let op = match t.tok {
            Tok::Op(op) => op,
            _ => return Err(Error::syntax("S0201", t.pos, "Syntax error")),
        };
        let bin = |o| -> Option<BinOp> {
            Some(match o {
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
        };
        if let Some(b) = bin(op) {
            let right = self.expression(lbp(&Tok::Op(op)))?;
            return Ok(Raw::Bin(b, Box::new(left), Box::new(right)));
        }
        Ok(match op {
            "." => Raw::Dot(Box::new(left), Box::new(self.expression(75)?)),
            "[" => {
                if self.peek() == &Tok::End {
                    return Err(self.error("S0203", "Expected \"]\" before end of expression"));
                }
                if self.at("]") {
                    self.next();
                    Raw::Pred(Box::new(left), None)
                } else {
                    let e = self.expression(0)?;
                    self.expect("]")?;
                    Raw::Pred(Box::new(left), Some(Box::new(e)))
                }
            }
            "{" => Raw::Group(Box::new(left), self.pairs()?),
            "(" => Raw::Call(Box::new(left), self.list(")", |p| p.expression(0))?),
            "?" => {
                let then = self.expression(0)?;
                let otherwise = if self.at(":") {
                    self.next();
                    Some(Box::new(self.expression(0)?))
                } else {
                    None
                };
                Raw::Cond(Box::new(left), Box::new(then), otherwise)
            }
            ":=" => {
                let Raw::Leaf(Node::Var(name)) = left else {
                    return Err(Error::syntax(
                        "S0212",
                        t.pos,
                        "The left side of := must be a variable name (start with $)",
                    ));
                };
                Raw::Bind(name, Box::new(self.expression(9)?))
            }
            "~>" => Raw::Apply(Box::new(left), Box::new(self.expression(40)?)),
            "^" => {
                self.expect("(")?;
                let terms = self.list(")", |p| {
                    let desc = if p.at("<") {
                        p.next();
                        false
                    } else if p.at(">") {
                        p.next();
                        true
                    } else {
                        false
                    };
                    Ok((p.expression(0)?, desc))
                })?;
                Raw::Sort(Box::new(left), terms)
            }
            "@" | "#" => match self.next().tok {
                Tok::Var(v) if !v.is_empty() => Raw::Binding(Box::new(left), v.into(), op == "@"),
                _ => {
                    return Err(Error::syntax(
                        "S0214",
                        t.pos,
                        &format!("The right side of {op} must be a variable name (start with $)"),
                    ));
                }
            },
            other => {
                return Err(Error::syntax(
                    "S0201",
                    t.pos,
                    &format!("Syntax error: \"{other}\""),
                ));
            }
        })
    }
}

fn process(raw: Raw) -> Result<Node, Error> {
    Ok(match raw {
        Raw::Leaf(n) => n,
        Raw::Name(n) => Node::Path {
            steps: vec![step(Node::Name(n))],
            keep_array: false,
            group: None,
        },
        Raw::Neg(e) => match process(*e)? {
            Node::Num(n) => Node::Num(-n),
            other => Node::Neg(Box::new(other)),
        },
        Raw::Array(items) => Node::Array {
            items: items.into_iter().map(process).collect::<Result<_, _>>()?,
            cons: false,
        },
        Raw::Object(pairs) => Node::Object(process_pairs(pairs)?),
        Raw::Dot(l, r) => {
            let mut steps = into_steps(process(*l)?);
            match process(*r)? {
                Node::Path {
                    steps: more,
                    group: None,
                    ..
                } => steps.extend(more),
                Node::Filtered {
                    node,
                    predicates,
                    group: None,
                } => steps.push(Step {
                    node: *node,
                    stages: predicates,
                    keep_array: false,
                    focus: None,
                    index: None,
                }),
                other => steps.push(step(other)),
            }
            for s in &mut steps {
                match &s.node {
                    Node::Str(name) => s.node = Node::Name(name.clone()),
                    Node::Num(_) | Node::Bool(_) | Node::Null => {
                        return Err(Error::new(
                            "S0213",
                            "The literal value cannot be used as a step within a path expression",
                        ));
                    }
                    _ => {}
                }
            }
            if let Some(Step {
                node: Node::Array { cons, .. },
                ..
            }) = steps.first_mut()
            {
                *cons = true;
            }
            if let Some(Step {
                node: Node::Array { cons, .. },
                ..
            }) = steps.last_mut()
            {
                *cons = true;
            }
            let keep_array = steps.iter().any(|s| s.keep_array);
            Node::Path {
                steps,
                keep_array,
                group: None,
            }
        }
        Raw::Pred(l, pred) => {
            let node = process(*l)?;
            match (node, pred) {
                (
                    Node::Path {
                        mut steps,
                        group: None,
                        ..
                    },
                    None,
                ) => {
                    if let Some(last) = steps.last_mut() {
                        last.keep_array = true;
                    }
                    Node::Path {
                        steps,
                        keep_array: true,
                        group: None,
                    }
                }
                (other, None) => other,
                (
                    Node::Path {
                        mut steps,
                        keep_array,
                        group: None,
                    },
                    Some(p),
                ) => {
                    let p = process(*p)?;
                    if let Some(last) = steps.last_mut() {
                        last.stages.push(p);
                    }
                    Node::Path {
                        steps,
                        keep_array,
                        group: None,
                    }
                }
                (
                    Node::Filtered {
                        node,
                        mut predicates,
                        group: None,
                    },
                    Some(p),
                ) => {
                    predicates.push(process(*p)?);
                    Node::Filtered {
                        node,
                        predicates,
                        group: None,
                    }
                }
                (other, Some(p)) => Node::Filtered {
                    node: Box::new(other),
                    predicates: vec![process(*p)?],
                    group: None,
                },
            }
        }
        Raw::Group(l, pairs) => {
            let pairs = process_pairs(pairs)?;
            match process(*l)? {
                Node::Path {
                    steps,
                    keep_array,
                    group: None,
                } => Node::Path {
                    steps,
                    keep_array,
                    group: Some(pairs),
                },
                Node::Path { .. } | Node::Filtered { group: Some(_), .. } => {
                    return Err(Error::new(
                        "S0210",
                        "Each step can only have one grouping expression",
                    ));
                }
                Node::Filtered {
                    node,
                    predicates,
                    group: None,
                } => Node::Filtered {
                    node,
                    predicates,
                    group: Some(pairs),
                },
                other => Node::Filtered {
                    node: Box::new(other),
                    predicates: Vec::new(),
                    group: Some(pairs),
                },
            }
        }
        Raw::Sort(l, terms) => {
            let mut steps = into_steps(process(*l)?);
            let terms = terms
                .into_iter()
                .map(|(t, d)| Ok((process(t)?, d)))
                .collect::<Result<_, Error>>()?;
            steps.push(step(Node::Sort(terms)));
            let keep_array = steps.iter().any(|s| s.keep_array);
            Node::Path {
                steps,
                keep_array,
                group: None,
            }
        }
        Raw::Bin(op, l, r) => Node::Binary(op, Box::new(process(*l)?), Box::new(process(*r)?)),
        Raw::Cond(c, t, e) => Node::Cond(
            Box::new(process(*c)?),
            Box::new(process(*t)?),
            e.map(|e| process(*e)).transpose()?.map(Box::new),
        ),
        Raw::Block(items) => Node::Block(items.into_iter().map(process).collect::<Result<_, _>>()?),
        Raw::Bind(name, v) => Node::Bind(name, Box::new(process(*v)?)),
        Raw::Lambda(params, body, signature) => Node::Lambda(Arc::new(LambdaDef {
            params,
            body: process(*body)?,
            signature,
        })),
        Raw::Call(f, args) => {
            let partial = args.iter().any(|a| matches!(a, Raw::Placeholder));
            let func = process(*f)?;
            Node::Call {
                func: Box::new(func),
                args: args.into_iter().map(process).collect::<Result<_, _>>()?,
                partial,
            }
        }
        Raw::Placeholder => Node::Placeholder,
        Raw::Binding(l, var, focus) => {
            let mut steps = into_steps(process(*l)?);
            if let Some(last) = steps.last_mut() {
                if focus {
                    last.focus = Some(var);
                } else {
                    last.index = Some(var);
                }
            }
            let keep_array = steps.iter().any(|s| s.keep_array);
            Node::Path {
                steps,
                keep_array,
                group: None,
            }
        }
        Raw::Apply(l, r) => Node::Apply(Box::new(process(*l)?), Box::new(process(*r)?)),
        Raw::Transform(p, u, d) => Node::Transform(Arc::new((
            process(*p)?,
            process(*u)?,
            d.map(|d| process(*d)).transpose()?,
        ))),
    })
}

fn step(node: Node) -> Step {
    Step {
        node,
        stages: Vec::new(),
        keep_array: false,
        focus: None,
        index: None,
    }
}

fn into_steps(n: Node) -> Vec<Step> {
    match n {
        Node::Path {
            steps, group: None, ..
        } => steps,
        Node::Filtered {
            node,
            predicates,
            group: None,
        } => vec![Step {
            node: *node,
            stages: predicates,
            keep_array: false,
            focus: None,
            index: None,
        }],
        other => vec![step(other)],
    }
}

fn process_pairs(pairs: Vec<(Raw, Raw)>) -> Result<Vec<(Node, Node)>, Error> {
    pairs
        .into_iter()
        .map(|(k, v)| Ok((process(k)?, process(v)?)))
        .collect()
}

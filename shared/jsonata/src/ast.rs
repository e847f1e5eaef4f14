//! The syntax tree, after jsonata-js's post-processing: `a.b[0].c` is one
//! [`Node::Path`] whose steps carry their own predicates.

use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Concat,
    Range,
    In,
}

#[derive(Debug, Clone)]
pub enum Node {
    Num(f64),
    Str(Arc<str>),
    Bool(bool),
    Null,
    Regex(Arc<regex::Regex>),
    /// A field name (only inside paths after processing).
    Name(Arc<str>),
    /// `$name`; `""` is the context `$`, `"$"` the root `$$`.
    Var(Arc<str>),
    Wildcard,
    Descendants,
    Parent,
    Path {
        steps: Vec<Step>,
        keep_array: bool,
        group: Option<Vec<(Node, Node)>>,
    },
    Neg(Box<Node>),
    Array {
        items: Vec<Node>,
        cons: bool,
    },
    Object(Vec<(Node, Node)>),
    Binary(BinOp, Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Option<Box<Node>>),
    Block(Vec<Node>),
    Bind(Arc<str>, Box<Node>),
    Lambda(Arc<LambdaDef>),
    Call {
        func: Box<Node>,
        args: Vec<Node>,
        partial: bool,
    },
    Placeholder,
    Apply(Box<Node>, Box<Node>),
    Transform(Arc<(Node, Node, Option<Node>)>),
    Sort(Vec<(Node, bool)>),
    /// Any node followed by predicates or a group-by outside a path.
    Filtered {
        node: Box<Node>,
        predicates: Vec<Node>,
        group: Option<Vec<(Node, Node)>>,
    },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub node: Node,
    pub stages: Vec<Node>,
    pub keep_array: bool,
    /// `@$v`: bind each result to `$v`, keeping the context.
    pub focus: Option<Arc<str>>,
    /// `#$i`: bind each result's position to `$i`.
    pub index: Option<Arc<str>>,
}

#[derive(Debug)]
pub struct LambdaDef {
    pub params: Vec<Arc<str>>,
    pub body: Node,
    pub signature: Option<String>,
}

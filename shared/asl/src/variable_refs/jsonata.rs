//! The free variables of a JSONata expression: every `$name` that is not
//! `$states`, not a built-in function, and not bound inside the expression
//! (`$x := …`, a lambda parameter, a path's `@$v` or `#$i`).
//!
//! `stepwise-jsonata` keeps its syntax tree private, so this is a scanner
//! that tokenises as that crate's lexer does (strings, backquoted names,
//! comments, regexes) and tracks scopes by brackets. It works on a `Vec<char>`
//! with `get`, so no input can make it index out of bounds.

use std::collections::BTreeSet;

/// Built-ins that the function table does not hold but that are still not
/// variables when written `$name`.
const OTHER_FUNCTIONS: [&str; 1] = ["eval"];

/// Names bound in one bracket level.
#[derive(Default)]
struct Scope {
    bound: Vec<String>,
    /// `$x := …` whose value is still being read: `$x` inside it is the outer
    /// `$x`, until the `;` that ends the binding. A lambda inside it sees the
    /// binding (recursion), as JSONata closures share the frame.
    pending: Vec<String>,
    /// A lambda body `{ … }`.
    lambda: bool,
}

struct Scanner<'a> {
    chars: Vec<char>,
    i: usize,
    scopes: Vec<Scope>,
    assigned: &'a BTreeSet<String>,
}

/// Adds the free variables of `src` (the text inside `{% … %}`) to `out`.
/// `assigned` are the names the definition assigns: such a name is a variable
/// even when a built-in function has it too (variables shadow built-ins).
pub(super) fn free_variables(src: &str, assigned: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    let mut s = Scanner {
        chars: src.chars().collect(),
        i: 0,
        scopes: vec![Scope::default()],
        assigned,
    };
    // Whether the last token was an operand: then `/` divides, else it
    // starts a regex (the lexer's rule).
    let mut operand = false;
    let mut binds_next = false; // after `@` or `#`
    let mut lambda_next = false; // after `function` or `λ`
    while let Some(c) = s.peek() {
        if c.is_whitespace() {
            s.i += 1;
            continue;
        }
        if c == '/' && s.at(1) == Some('*') {
            s.i += 2;
            while s.peek().is_some() && !(s.peek() == Some('*') && s.at(1) == Some('/')) {
                s.i += 1;
            }
            s.i += 2;
            continue;
        }
        let binds = std::mem::take(&mut binds_next);
        let lambda = std::mem::take(&mut lambda_next);
        operand = match c {
            '/' if !operand => {
                s.regex();
                true
            }
            '"' | '\'' => {
                s.string(c);
                true
            }
            '`' => {
                s.i += 1;
                while s.peek().is_some_and(|x| x != '`') {
                    s.i += 1;
                }
                s.i += 1;
                true
            }
            '$' => {
                s.variable(binds, out);
                true
            }
            '(' if lambda => {
                s.i += 1;
                s.lambda();
                false
            }
            '(' | '[' | '{' => {
                s.i += 1;
                s.scopes.push(Scope::default());
                false
            }
            ')' | ']' | '}' => {
                s.i += 1;
                if s.scopes.len() > 1 {
                    s.scopes.pop();
                }
                true
            }
            ';' => {
                s.i += 1;
                if let Some(top) = s.scopes.last_mut() {
                    let done = std::mem::take(&mut top.pending);
                    top.bound.extend(done);
                }
                false
            }
            'λ' => {
                s.i += 1;
                lambda_next = true;
                false
            }
            c if is_name_char(c) => {
                let word = s.name();
                lambda_next = word == "function";
                !matches!(word.as_str(), "function" | "and" | "or" | "in")
            }
            c => {
                s.i += 1;
                binds_next = c == '@' || c == '#';
                // The engine's lexer allows no regex right after `?`.
                c == '?'
            }
        };
    }
}

fn is_name_char(c: char) -> bool {
    !(c.is_whitespace() || ".[]{}()|,@#;:?+-*/%=<>^&!~\"'`$".contains(c))
}

fn is_builtin(name: &str) -> bool {
    stepwise_jsonata::functions::lookup(name).is_some() || OTHER_FUNCTIONS.contains(&name)
}

impl Scanner<'_> {
    fn peek(&self) -> Option<char> {
        self.at(0)
    }

    fn at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i.saturating_add(ahead)).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    /// A name or keyword (digits too: numbers need no more care here).
    fn name(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
            word.push(c);
            self.i += 1;
        }
        word
    }

    fn string(&mut self, quote: char) {
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == '\\' {
                self.i += 1;
            } else if c == quote {
                return;
            }
        }
    }

    /// From the opening `/` to after the flags.
    fn regex(&mut self) {
        self.i += 1;
        let mut class = false;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                '\\' => self.i += 1,
                '[' => class = true,
                ']' => class = false,
                '/' if !class => {
                    while matches!(self.peek(), Some('i' | 'm')) {
                        self.i += 1;
                    }
                    return;
                }
                _ => {}
            }
        }
    }

    /// `$name`, `$` or `$$` at the cursor: a binding, a local, or a reference.
    fn variable(&mut self, binds: bool, out: &mut BTreeSet<String>) {
        self.i += 1;
        if self.peek() == Some('$') {
            self.i += 1;
            return;
        }
        let name = self.name();
        if name.is_empty() {
            return;
        }
        let after = self.i;
        self.skip_whitespace();
        let assignment = self.peek() == Some(':') && self.at(1) == Some('=');
        self.i = after;
        let Some(top) = self.scopes.last_mut() else {
            return;
        };
        if assignment {
            top.pending.push(name);
        } else if binds {
            top.bound.push(name);
        } else if name != "states"
            && !self.is_local(&name)
            && (!is_builtin(&name) || self.assigned.contains(&name))
        {
            out.insert(name);
        }
    }

    fn is_local(&self, name: &str) -> bool {
        let mut inside_lambda = false;
        for scope in self.scopes.iter().rev() {
            let has = |names: &[String]| names.iter().any(|n| n == name);
            if has(&scope.bound) || (inside_lambda && has(&scope.pending)) {
                return true;
            }
            inside_lambda |= scope.lambda;
        }
        false
    }

    /// After `function(`: the parameters, an optional `<signature>`, and the
    /// `{` that opens the body, whose scope binds the parameters.
    fn lambda(&mut self) {
        let mut params = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                ')' => break,
                '$' => params.push(self.name()),
                _ => {}
            }
        }
        self.skip_whitespace();
        if self.peek() == Some('<') {
            let mut depth = 0usize;
            while let Some(c) = self.peek() {
                self.i += 1;
                match c {
                    '<' => depth += 1,
                    '>' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            self.skip_whitespace();
        }
        if self.peek() == Some('{') {
            self.i += 1;
            self.scopes.push(Scope {
                bound: params,
                pending: Vec::new(),
                lambda: true,
            });
        }
    }
}

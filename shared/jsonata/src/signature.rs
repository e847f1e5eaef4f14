//! Function signatures (`<s-nn?:s>`) as jsonata-js validates them: the
//! arguments' type symbols are matched by a regex built from the signature;
//! a missing context argument (`-`) is filled with the context value, and a
//! lone value passed for an array parameter is wrapped.

use crate::error::Error;
use crate::value::Value;

#[derive(Debug)]
pub struct Param {
    regex: String,
    kind: char,
    context: bool,
    subtype: Option<String>,
}

#[derive(Debug)]
pub struct Signature {
    params: Vec<Param>,
    regex: regex::Regex,
}

impl Signature {
    pub fn parse(sig: &str) -> Signature {
        let chars: Vec<char> = sig.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut i = 1;
        while i < chars.len() {
            let c = chars[i];
            if c == ':' || c == '>' && i == chars.len() - 1 {
                break;
            }
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => params.push(Param {
                    regex: format!("[{c}m]"),
                    kind: c,
                    context: false,
                    subtype: None,
                }),
                'a' => params.push(Param {
                    regex: "[asnblfom]".into(),
                    kind: 'a',
                    context: false,
                    subtype: None,
                }),
                'f' => params.push(Param {
                    regex: "f".into(),
                    kind: 'f',
                    context: false,
                    subtype: None,
                }),
                'j' => params.push(Param {
                    regex: "[asnblom]".into(),
                    kind: 'j',
                    context: false,
                    subtype: None,
                }),
                'x' => params.push(Param {
                    regex: "[asnblfom]".into(),
                    kind: 'x',
                    context: false,
                    subtype: None,
                }),
                '-' => {
                    if let Some(p) = params.last_mut() {
                        p.context = true;
                        p.regex.push('?');
                    }
                }
                '?' | '+' => {
                    if let Some(p) = params.last_mut() {
                        p.regex.push(c);
                    }
                }
                '(' => {
                    let end = (i..chars.len())
                        .find(|&j| chars[j] == ')')
                        .unwrap_or(chars.len() - 1);
                    let choice: String = chars[i + 1..end].iter().collect();
                    params.push(Param {
                        regex: format!("[{choice}m]"),
                        kind: '(',
                        context: false,
                        subtype: None,
                    });
                    i = end;
                }
                '<' => {
                    let mut depth = 0;
                    let mut end = i;
                    for (j, ch) in chars.iter().enumerate().skip(i) {
                        match ch {
                            '<' => depth += 1,
                            '>' => {
                                depth -= 1;
                                if depth == 0 {
                                    end = j;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(p) = params.last_mut()
                        && p.kind == 'a'
                    {
                        p.subtype = Some(chars[i + 1..end].iter().collect());
                    }
                    i = end;
                }
                _ => {}
            }
            i += 1;
        }
        let pattern = format!(
            "^{}$",
            params
                .iter()
                .map(|p| format!("({})", p.regex))
                .collect::<String>()
        );
        Signature {
            regex: regex::Regex::new(&pattern).expect("signature regex"),
            params,
        }
    }

    pub fn validate(
        &self,
        name: &str,
        args: Vec<Value>,
        context: &Value,
    ) -> Result<Vec<Value>, Error> {
        let supplied: String = args.iter().map(Value::symbol).collect();
        let Some(caps) = self.regex.captures(&supplied) else {
            return Err(self.mismatch(name, &args, &supplied));
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut args = args.into_iter();
        let mut index = 0;
        for (pi, param) in self.params.iter().enumerate() {
            let matched = caps.get(pi + 1).map_or("", |m| m.as_str());
            if matched.is_empty() {
                if param.context {
                    let sym = context.symbol();
                    let ok = regex::Regex::new(&format!("^{}$", param.regex.trim_end_matches('?')))
                        .is_ok_and(|r| r.is_match(&sym.to_string()));
                    if !ok {
                        return Err(Error::new(
                            "T0411",
                            format!(
                                "Context value is not a compatible type with argument {} of function {name}",
                                index + 1
                            ),
                        ));
                    }
                    out.push(context.clone());
                } else {
                    // An optional parameter with nothing supplied.
                    out.push(Value::Undefined);
                }
                continue;
            }
            for single in matched.chars() {
                let arg = args.next().unwrap_or_default();
                index += 1;
                if param.kind == 'a' {
                    if single == 'm' {
                        out.push(Value::Undefined);
                        continue;
                    }
                    if let Some(sub) = &param.subtype {
                        let want = sub.chars().next().unwrap_or('x');
                        let ok = match &arg {
                            Value::Array(a, _) => {
                                a.is_empty() || a.iter().all(|v| v.symbol() == want) || want == 'x'
                            }
                            v => v.symbol() == want || want == 'x',
                        };
                        if !ok {
                            return Err(Error::new(
                                "T0412",
                                format!(
                                    "Argument {index} of function {name} must be an array of {}",
                                    type_word(want)
                                ),
                            ));
                        }
                    }
                    out.push(if single == 'a' {
                        arg
                    } else {
                        Value::array(vec![arg])
                    });
                } else {
                    out.push(arg);
                }
            }
        }
        Ok(out)
    }

    fn mismatch(&self, name: &str, args: &[Value], supplied: &str) -> Error {
        let mut partial = String::from("^");
        let mut good = 0;
        for p in &self.params {
            partial.push_str(&p.regex);
            match regex::Regex::new(&partial)
                .ok()
                .and_then(|r| r.find(supplied))
            {
                Some(m) => good = m.end(),
                None => break,
            }
        }
        let _ = args;
        Error::new(
            "T0410",
            format!(
                "Argument {} of function {name} does not match function signature",
                good + 1
            ),
        )
    }
}

fn type_word(c: char) -> &'static str {
    match c {
        's' => "strings",
        'n' => "numbers",
        'b' => "booleans",
        'o' => "objects",
        'f' => "functions",
        _ => "values",
    }
}

//! The built-in functions, one file per family, named in one table with
//! jsonata-js's signatures (which drive argument checking and context
//! substitution).

pub mod arrays;
pub mod aws;
pub mod datetime;
pub mod encoding;
pub mod format;
pub mod hof;
pub mod numeric;
pub mod objects;
pub mod strings;

use std::sync::OnceLock;

use crate::error::Error;
use crate::eval::Evaluator;
use crate::signature::Signature;
use crate::value::Value;

pub type Impl = fn(&mut Evaluator, Vec<Value>, &Value) -> Result<Value, Error>;

pub struct Builtin {
    pub name: &'static str,
    pub signature: &'static str,
    /// How many arguments higher-order functions pass to it (jsonata-js uses
    /// the implementation's declared parameter count).
    pub arity: usize,
    pub call: Impl,
    parsed: OnceLock<Signature>,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}", self.name)
    }
}

impl Builtin {
    pub fn validate(&self, args: Vec<Value>, context: &Value) -> Result<Vec<Value>, Error> {
        let sig = self.parsed.get_or_init(|| Signature::parse(self.signature));
        sig.validate(self.name, args, context)
    }
}

macro_rules! table {
    ($($name:literal, $sig:literal, $arity:literal, $f:path;)*) => {
        const COUNT: usize = [$($name,)*].len();
        static BUILTINS: [Builtin; COUNT] = [$(Builtin { name: $name, signature: $sig, arity: $arity, call: $f, parsed: OnceLock::new() },)*];
    };
}

table! {
    "sum", "<a<n>:n>", 1, numeric::sum;
    "count", "<a:n>", 1, arrays::count;
    "max", "<a<n>:n>", 1, numeric::max;
    "min", "<a<n>:n>", 1, numeric::min;
    "average", "<a<n>:n>", 1, numeric::average;
    "string", "<x-b?:s>", 1, strings::string;
    "substring", "<s-nn?:s>", 3, strings::substring;
    "substringBefore", "<s-s:s>", 2, strings::substring_before;
    "substringAfter", "<s-s:s>", 2, strings::substring_after;
    "lowercase", "<s-:s>", 1, strings::lowercase;
    "uppercase", "<s-:s>", 1, strings::uppercase;
    "length", "<s-:n>", 1, strings::length;
    "trim", "<s-:s>", 1, strings::trim;
    "pad", "<s-ns?:s>", 3, strings::pad;
    "match", "<s-f<s:o>n?:a<o>>", 3, strings::match_;
    "contains", "<s-(sf):b>", 2, strings::contains;
    "replace", "<s-(sf)(sf)n?:s>", 4, strings::replace;
    "split", "<s-(sf)n?:a<s>>", 3, strings::split;
    "join", "<a<s>s?:s>", 2, strings::join;
    "formatNumber", "<n-so?:s>", 3, format::format_number;
    "formatBase", "<n-n?:s>", 2, format::format_base;
    "formatInteger", "<n-s:s>", 2, format::format_integer;
    "parseInteger", "<s-s:n>", 2, format::parse_integer;
    "number", "<(nsb)-:n>", 1, numeric::number;
    "floor", "<n-:n>", 1, numeric::floor;
    "ceil", "<n-:n>", 1, numeric::ceil;
    "round", "<n-n?:n>", 2, numeric::round;
    "abs", "<n-:n>", 1, numeric::abs;
    "sqrt", "<n-:n>", 1, numeric::sqrt;
    "power", "<n-n:n>", 2, numeric::power;
    "random", "<n?:n>", 0, aws::random;
    "boolean", "<x-:b>", 1, boolean_fn;
    "not", "<x-:b>", 1, not_fn;
    "map", "<af>", 2, hof::map;
    "zip", "<a+>", 0, arrays::zip;
    "filter", "<af>", 2, hof::filter;
    "single", "<af?>", 2, hof::single;
    "reduce", "<afj?:j>", 3, hof::reduce;
    "sift", "<o-f?:o>", 2, hof::sift;
    "keys", "<x-:a<s>>", 1, objects::keys;
    "lookup", "<x-s:x>", 2, objects::lookup;
    "append", "<xx:a>", 2, arrays::append_fn;
    "exists", "<x:b>", 1, exists;
    "spread", "<x-:a<o>>", 1, objects::spread;
    "merge", "<a<o>:o>", 1, objects::merge;
    "reverse", "<a:a>", 1, arrays::reverse;
    "each", "<o-f:a>", 2, hof::each;
    "error", "<s?:x>", 1, error_fn;
    "assert", "<bs?:x>", 2, assert_fn;
    "type", "<x:s>", 1, type_fn;
    "sort", "<af?:a>", 2, hof::sort;
    "shuffle", "<a:a>", 1, arrays::shuffle;
    "distinct", "<x:x>", 1, arrays::distinct;
    "base64encode", "<s-:s>", 1, encoding::base64encode;
    "base64decode", "<s-:s>", 1, encoding::base64decode;
    "encodeUrlComponent", "<s-:s>", 1, encoding::encode_url_component;
    "encodeUrl", "<s-:s>", 1, encoding::encode_url;
    "decodeUrlComponent", "<s-:s>", 1, encoding::decode_url_component;
    "decodeUrl", "<s-:s>", 1, encoding::decode_url;
    "toMillis", "<s-s?:n>", 2, datetime::to_millis;
    "fromMillis", "<n-s?s?:s>", 3, datetime::from_millis;
    "now", "<s?s?:s>", 2, datetime::now;
    "millis", "<:n>", 0, datetime::millis;
    "clone", "<(oa)-:o>", 1, objects::clone;
    "partition", "<an:a>", 2, aws::partition;
    "range", "<nnn:a>", 3, aws::range;
    "hash", "<ss?:s>", 2, aws::hash;
    "uuid", "<:s>", 0, aws::uuid;
    "parse", "<s-:j>", 1, aws::parse;
}

pub fn lookup(name: &str) -> Option<&'static Builtin> {
    static INDEX: OnceLock<std::collections::HashMap<&'static str, &'static Builtin>> =
        OnceLock::new();
    INDEX
        .get_or_init(|| BUILTINS.iter().map(|b| (b.name, b)).collect())
        .get(name)
        .copied()
}

/// jsonata-js's `$boolean` (undefined stays undefined).
pub fn boolean(v: &Value) -> Option<bool> {
    Some(match v {
        Value::Undefined => return None,
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0,
        Value::String(s) => !s.is_empty(),
        Value::Array(a, _) => match a.len() {
            0 => false,
            1 => boolean(&a[0]).unwrap_or(false),
            _ => a.iter().any(|x| boolean(x).unwrap_or(false)),
        },
        Value::Object(m) => !m.is_empty(),
        Value::Function(_) | Value::Regex(_) => false,
    })
}

/// jsonata-js's `$append`: undefined yields the other; lone values become arrays.
pub fn append(a: Value, b: Value) -> Value {
    match (a, b) {
        (Value::Undefined, b) => b,
        (a, Value::Undefined) => a,
        (a, b) => {
            let mut out = match a {
                Value::Array(x, _) => x.to_vec(),
                other => vec![other],
            };
            match b {
                Value::Array(y, _) => out.extend(y.iter().cloned()),
                other => out.push(other),
            }
            Value::array(out)
        }
    }
}

fn boolean_fn(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(boolean(&a[0]).map_or(Value::Undefined, Value::Bool))
}

fn not_fn(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(boolean(&a[0]).map_or(Value::Undefined, |b| Value::Bool(!b)))
}

fn exists(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(Value::Bool(!a[0].is_undefined()))
}

fn error_fn(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    let msg = match &a[0] {
        Value::String(s) => s.to_string(),
        _ => "$error() function evaluated".to_owned(),
    };
    Err(Error::new("D3137", msg))
}

fn assert_fn(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    if let Value::Bool(false) = a[0] {
        let msg = match a.get(1) {
            Some(Value::String(s)) => s.to_string(),
            _ => "$assert() statement failed".to_owned(),
        };
        return Err(Error::new("D3141", msg));
    }
    Ok(Value::Undefined)
}

fn type_fn(_: &mut Evaluator, a: Vec<Value>, _: &Value) -> Result<Value, Error> {
    Ok(match &a[0] {
        Value::Undefined => Value::Undefined,
        v => Value::string(v.type_name()),
    })
}

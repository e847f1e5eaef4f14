//! The AWS SDK integration for services of the other protocols — restJson1
//! (Lambda, API Gateway, Batch, Bedrock, EKS, Scheduler, …), restXml (S3,
//! Route 53, CloudFront), awsQuery (SNS, CloudFormation, IAM, STS, RDS, …)
//! and ec2Query (EC2) — driven by their models in `rest-models.tsv.gz`:
//! each operation's HTTP binding and the shapes of its input and output say
//! where each parameter goes (URI label, query string, header, payload,
//! form field) and how the answer reads back.
//!
//! Parameters are the model's member names in PascalCase, as Step Functions
//! documents them (EC2 lists in their plural member names: `Filters`, sent
//! as `Filter.1.Name`); results carry the member names with their first
//! letter upper-cased; S3's `Body` comes back as text.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Deserialize;
use serde_json::Value;
use stepwise_asl::StatesError;

use super::xml;

/// One service of `rest-models.tsv.gz`.
#[derive(Debug, Deserialize)]
pub struct RestService {
    /// The protocol: `rest-json`, `rest-xml`, `query` or `ec2`.
    pub p: String,
    /// The endpoint prefix.
    pub e: String,
    /// The SigV4 signing name.
    pub s: String,
    /// The API version (`Version=` of query requests).
    pub v: String,
    /// The name errors carry.
    pub n: String,
    /// A partition-wide endpoint and the region it signs for (IAM, …).
    #[serde(default)]
    pub g: Option<(String, String)>,
    /// The service's part of `AWS_ENDPOINT_URL_<SERVICE>`.
    pub u: String,
    /// Operations: method, request URI, input shape, output shape, the
    /// query protocol's result wrapper.
    pub o: HashMap<String, Operation>,
    /// The structure, list and map shapes.
    pub h: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
pub struct Operation(
    pub String,
    pub String,
    pub Option<String>,
    pub Option<String>,
    pub Option<String>,
);

/// A reference to a shape from a member (`#type` for a scalar).
#[derive(Debug, Deserialize, Clone)]
pub struct Ref {
    pub s: String,
    /// Where it goes: `uri`, `querystring`, `header`, `headers`,
    /// `statusCode`; absent: the body.
    #[serde(default)]
    pub l: Option<String>,
    /// Its name on the wire.
    #[serde(default)]
    pub n: Option<String>,
    /// Its ec2Query name.
    #[serde(default)]
    pub q: Option<String>,
    /// An XML attribute.
    #[serde(default)]
    pub a: Option<u8>,
    /// Its XML namespace.
    #[serde(default)]
    pub x: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "t")]
pub enum Shape {
    #[serde(rename = "s")]
    Structure {
        #[serde(default)]
        m: BTreeMap<String, Ref>,
        /// The member that is the whole body.
        #[serde(default)]
        p: Option<String>,
        #[serde(default)]
        n: Option<String>,
        #[serde(default)]
        x: Option<String>,
    },
    #[serde(rename = "l")]
    List {
        m: Ref,
        #[serde(default)]
        f: Option<u8>,
    },
    #[serde(rename = "m")]
    Map {
        k: Ref,
        v: Ref,
        #[serde(default)]
        f: Option<u8>,
    },
}

/// The model of `service` (a botocore name), read from the compressed file
/// up to its line (and kept) on first use.
pub fn service(name: &str) -> Option<Arc<RestService>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<RestService>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(s) = cache.lock().ok()?.get(name) {
        return s.clone();
    }
    let found = read_service(name).map(Arc::new);
    if let Ok(mut c) = cache.lock() {
        c.insert(name.to_owned(), found.clone());
    }
    found
}

fn read_service(name: &str) -> Option<RestService> {
    let bytes: &[u8] = include_bytes!("../rest-models.tsv.gz");
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(bytes));
    let prefix = format!("{name}\t");
    for line in reader.lines() {
        let line = line.ok()?;
        if let Some(model) = line.strip_prefix(&prefix) {
            return serde_json::from_str(model).ok();
        }
    }
    None
}

pub(super) fn runtime(message: String) -> StatesError {
    StatesError::custom("States.Runtime", message)
}

impl RestService {
    pub(super) fn shape(&self, r: &Ref) -> Option<&Shape> {
        self.h.get(&r.s)
    }

    pub(super) fn structure(
        &self,
        name: &str,
    ) -> Option<(&BTreeMap<String, Ref>, Option<&String>)> {
        match self.h.get(name) {
            Some(Shape::Structure { m, p, .. }) => Some((m, p.as_ref())),
            _ => None,
        }
    }

    /// The operation for a Step Functions action name (`getObject`).
    pub fn operation(&self, action: &str) -> Option<(&String, &Operation)> {
        self.o
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(action))
    }
}

/// The member a parameter names: exactly, or with its first letter in the
/// other case (Step Functions writes every parameter in PascalCase).
pub(super) fn member<'a>(
    members: &'a BTreeMap<String, Ref>,
    key: &str,
) -> Option<(&'a String, &'a Ref)> {
    members
        .get_key_value(key)
        .or_else(|| {
            members
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
        })
        // AWS's name for a member called `Equals` (see [`field`]).
        .or_else(|| (key == "EqualsValue").then(|| members.get_key_value("Equals"))?)
}

/// A member's name in a state's result: PascalCase, and `EqualsValue` for
/// `Equals`, as Step Functions' SDK integrations name it (a Java naming
/// rule).
pub(super) fn field(name: &str) -> String {
    match upper(name) {
        up if up == "Equals" => "EqualsValue".to_owned(),
        up => up,
    }
}

/// An ec2Query field name: `queryName`, else the XML name capitalised.
pub(super) fn ec2_name(r: &Ref) -> Option<String> {
    r.q.clone().or_else(|| r.n.as_deref().map(upper))
}

pub(super) fn upper(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A scalar as the text of a field, label, header or element.
pub(super) fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text from the wire as the scalar type `#type` says.
pub(super) fn typed(text: &str, kind: &str) -> Value {
    match kind {
        "#integer" | "#long" => text
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::String(text.to_owned()), Value::from),
        "#float" | "#double" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        "#boolean" => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        _ => Value::String(text.to_owned()),
    }
}

/// RFC 3986 percent-encoding; `/` kept in a greedy label.
pub(crate) fn uri_encode(s: &str, slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(super) fn form_encode(s: &str) -> String {
    uri_encode(s, true)
}

mod answer;
mod request;
#[cfg(test)]
mod tests;

pub use answer::error_code;

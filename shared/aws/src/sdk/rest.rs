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
use serde_json::{Map, Value};
use stepwise_asl::StatesError;

use super::xml::{self, Node};

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
    let bytes: &[u8] = include_bytes!("rest-models.tsv.gz");
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

fn runtime(message: String) -> StatesError {
    StatesError::custom("States.Runtime", message)
}

/// An HTTP request for one operation, before signing.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub method: String,
    /// Path and query string, encoded.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RestService {
    fn shape(&self, r: &Ref) -> Option<&Shape> {
        self.h.get(&r.s)
    }

    fn structure(&self, name: &str) -> Option<(&BTreeMap<String, Ref>, Option<&String>)> {
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

    /// The request that calls `operation` with `parameters`.
    pub fn request(
        &self,
        operation: &str,
        op: &Operation,
        parameters: &Value,
    ) -> Result<Request, StatesError> {
        let empty = Map::new();
        let given = match parameters {
            Value::Object(o) => o,
            Value::Null => &empty,
            _ => {
                return Err(runtime(
                    "The parameters of an aws-sdk task must be an object".into(),
                ));
            }
        };
        let members = match &op.2 {
            Some(input) => self.structure(input).map(|(m, _)| m),
            None => None,
        };
        let mut matched: Vec<(&String, &Ref, &Value)> = Vec::new();
        for (key, value) in given {
            let Some((name, r)) = members.and_then(|m| member(m, key)) else {
                return Err(runtime(format!(
                    "The field '{key}' is not supported by Step Functions for {operation}"
                )));
            };
            matched.push((name, r, value));
        }
        match self.p.as_str() {
            "query" | "ec2" => Ok(self.query_request(operation, &matched)),
            _ => self.rest_request(op, &matched),
        }
    }

    fn query_request(&self, operation: &str, matched: &[(&String, &Ref, &Value)]) -> Request {
        let ec2 = self.p == "ec2";
        let mut fields = vec![
            ("Action".to_owned(), operation.to_owned()),
            ("Version".to_owned(), self.v.clone()),
        ];
        for (name, r, value) in matched {
            let key = if ec2 {
                ec2_name(r).unwrap_or_else(|| (*name).clone())
            } else {
                r.n.clone().unwrap_or_else(|| (*name).clone())
            };
            self.write_query(&mut fields, &key, value, r, ec2, 0);
        }
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Request {
            method: "POST".into(),
            path: "/".into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body: body.into_bytes(),
        }
    }

    fn write_query(
        &self,
        out: &mut Vec<(String, String)>,
        prefix: &str,
        v: &Value,
        r: &Ref,
        ec2: bool,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        match (self.shape(r), v) {
            (Some(Shape::Structure { m, .. }), Value::Object(o)) => {
                for (key, x) in o {
                    if let Some((name, mr)) = member(m, key) {
                        let wire = if ec2 {
                            ec2_name(mr).unwrap_or_else(|| name.clone())
                        } else {
                            mr.n.clone().unwrap_or_else(|| name.clone())
                        };
                        self.write_query(out, &format!("{prefix}.{wire}"), x, mr, ec2, depth + 1);
                    }
                }
            }
            (Some(Shape::List { m, f }), Value::Array(items)) => {
                if items.is_empty() && !ec2 {
                    out.push((prefix.to_owned(), String::new()));
                }
                let base = if ec2 {
                    prefix.to_owned()
                } else if f.is_some() {
                    match &m.n {
                        Some(n) => match prefix.rsplit_once('.') {
                            Some((head, _)) => format!("{head}.{n}"),
                            None => n.clone(),
                        },
                        None => prefix.to_owned(),
                    }
                } else {
                    format!("{prefix}.{}", m.n.as_deref().unwrap_or("member"))
                };
                for (i, x) in items.iter().enumerate() {
                    self.write_query(out, &format!("{base}.{}", i + 1), x, m, ec2, depth + 1);
                }
            }
            (Some(Shape::Map { k, v: vr, f }), Value::Object(o)) => {
                let base = if f.is_some() || ec2 {
                    prefix.to_owned()
                } else {
                    format!("{prefix}.entry")
                };
                let kn = k.n.as_deref().unwrap_or("key");
                let vn = vr.n.as_deref().unwrap_or("value");
                for (i, (key, x)) in o.iter().enumerate() {
                    out.push((format!("{base}.{}.{kn}", i + 1), key.clone()));
                    self.write_query(
                        out,
                        &format!("{base}.{}.{vn}", i + 1),
                        x,
                        vr,
                        ec2,
                        depth + 1,
                    );
                }
            }
            _ => out.push((prefix.to_owned(), scalar_text(v))),
        }
    }

    fn rest_request(
        &self,
        op: &Operation,
        matched: &[(&String, &Ref, &Value)],
    ) -> Result<Request, StatesError> {
        let (template, fixed_query) = match op.1.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (op.1.clone(), None),
        };
        let mut path = template;
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body_members: Vec<(&String, &Ref, &Value)> = Vec::new();
        let payload =
            op.2.as_deref()
                .and_then(|i| self.structure(i))
                .and_then(|(_, p)| p);
        let mut body: Vec<u8> = Vec::new();
        for (name, r, value) in matched {
            let wire = r.n.clone().unwrap_or_else(|| (*name).clone());
            match r.l.as_deref() {
                Some("uri") => {
                    let text = scalar_text(value);
                    let greedy = format!("{{{wire}+}}");
                    path = if path.contains(&greedy) {
                        path.replace(&greedy, &uri_encode(&text, false))
                    } else {
                        path.replace(&format!("{{{wire}}}"), &uri_encode(&text, true))
                    };
                }
                Some("querystring") => match value {
                    Value::Array(items) => {
                        query.extend(items.iter().map(|x| (wire.clone(), scalar_text(x))));
                    }
                    Value::Object(o) => {
                        query.extend(o.iter().map(|(k, x)| (k.clone(), scalar_text(x))));
                    }
                    v => query.push((wire, scalar_text(v))),
                },
                Some("header") => {
                    let text = match value {
                        Value::Array(items) => {
                            items.iter().map(scalar_text).collect::<Vec<_>>().join(",")
                        }
                        v => scalar_text(v),
                    };
                    headers.push((wire, text));
                }
                Some("headers") => {
                    if let Value::Object(o) = value {
                        headers.extend(
                            o.iter()
                                .map(|(k, x)| (format!("{wire}{k}"), scalar_text(x))),
                        );
                    }
                }
                _ if payload == Some(*name) => {
                    body = match (self.shape(r), value) {
                        (Some(Shape::Structure { n, x, .. }), _) if self.p == "rest-xml" => {
                            let element = r.n.as_ref().or(n.as_ref()).unwrap_or(name);
                            let mut out = String::new();
                            let ns = r.x.as_ref().or(x.as_ref());
                            self.write_xml(&mut out, element, ns, value, r, 0);
                            out.into_bytes()
                        }
                        (Some(_), v) => self.write_json(v, r, 0).to_string().into_bytes(),
                        (None, Value::String(s)) => s.clone().into_bytes(),
                        (None, v) => v.to_string().into_bytes(),
                    };
                }
                _ => body_members.push((name, r, value)),
            }
        }
        if !body_members.is_empty() {
            let mut o = Map::new();
            for (name, r, value) in body_members {
                o.insert(
                    r.n.clone().unwrap_or_else(|| name.clone()),
                    self.write_json(value, r, 0),
                );
            }
            body = Value::Object(o).to_string().into_bytes();
        }
        if self.p == "rest-json"
            && body.is_empty()
            && matches!(op.0.as_str(), "POST" | "PUT" | "PATCH")
            && payload.is_none()
        {
            body = b"{}".to_vec();
        }
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            let kind = if self.p == "rest-xml" {
                "application/xml"
            } else if payload.is_some() && !body.starts_with(b"{") {
                "application/octet-stream"
            } else {
                "application/json"
            };
            headers.push(("content-type".into(), kind.into()));
        }
        let mut parts: Vec<String> = fixed_query.into_iter().collect();
        parts.extend(
            query
                .iter()
                .map(|(k, v)| format!("{}={}", uri_encode(k, true), uri_encode(v, true))),
        );
        if !parts.is_empty() {
            path = format!("{path}?{}", parts.join("&"));
        }
        Ok(Request {
            method: op.0.clone(),
            path,
            headers,
            body,
        })
    }

    /// A parameter value in the body's JSON, under the wire's member names.
    fn write_json(&self, v: &Value, r: &Ref, depth: usize) -> Value {
        if depth > 128 {
            return v.clone();
        }
        match (self.shape(r), v) {
            (Some(Shape::Structure { m, .. }), Value::Object(o)) => Value::Object(
                o.iter()
                    .map(|(key, x)| match member(m, key) {
                        Some((name, mr)) => (
                            mr.n.clone().unwrap_or_else(|| name.clone()),
                            self.write_json(x, mr, depth + 1),
                        ),
                        None => (key.clone(), x.clone()),
                    })
                    .collect(),
            ),
            (Some(Shape::List { m, .. }), Value::Array(a)) => {
                Value::Array(a.iter().map(|x| self.write_json(x, m, depth + 1)).collect())
            }
            (Some(Shape::Map { v: vr, .. }), Value::Object(o)) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.write_json(x, vr, depth + 1)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// A parameter value as the XML element `name`.
    fn write_xml(
        &self,
        out: &mut String,
        name: &str,
        ns: Option<&String>,
        v: &Value,
        r: &Ref,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        let open = match ns {
            Some(ns) if !ns.is_empty() => format!("<{name} xmlns=\"{}\">", xml::escape(ns)),
            _ => format!("<{name}>"),
        };
        match (self.shape(r), v) {
            (Some(Shape::Structure { m, .. }), Value::Object(o)) => {
                out.push_str(&open);
                for (key, x) in o {
                    if let Some((mname, mr)) = member(m, key) {
                        if mr.a.is_some() {
                            continue;
                        }
                        let element = mr.n.as_deref().unwrap_or(mname);
                        if let (Some(Shape::List { m: lm, f: Some(_) }), Value::Array(items)) =
                            (self.shape(mr), x)
                        {
                            let item = lm.n.as_deref().unwrap_or(element);
                            for it in items {
                                self.write_xml(out, item, None, it, lm, depth + 1);
                            }
                        } else {
                            self.write_xml(out, element, mr.x.as_ref(), x, mr, depth + 1);
                        }
                    }
                }
                out.push_str(&format!("</{name}>"));
            }
            (Some(Shape::List { m, .. }), Value::Array(items)) => {
                out.push_str(&open);
                let item = m.n.as_deref().unwrap_or("member");
                for it in items {
                    self.write_xml(out, item, None, it, m, depth + 1);
                }
                out.push_str(&format!("</{name}>"));
            }
            (Some(Shape::Map { k, v: vr, .. }), Value::Object(o)) => {
                out.push_str(&open);
                let kn = k.n.as_deref().unwrap_or("key");
                let vn = vr.n.as_deref().unwrap_or("value");
                for (key, x) in o {
                    out.push_str(&format!("<entry><{kn}>{}</{kn}>", xml::escape(key)));
                    self.write_xml(out, vn, None, x, vr, depth + 1);
                    out.push_str("</entry>");
                }
                out.push_str(&format!("</{name}>"));
            }
            _ => {
                out.push_str(&open);
                out.push_str(&xml::escape(&scalar_text(v)));
                out.push_str(&format!("</{name}>"));
            }
        }
    }

    /// The task's result from a successful response.
    pub fn result(
        &self,
        op: &Operation,
        status: u16,
        headers: &[(String, String)],
        body: &str,
    ) -> Value {
        let Some(output) = op.3.as_deref() else {
            return Value::Object(Map::new());
        };
        let Some((members, payload)) = self.structure(output) else {
            return Value::Object(Map::new());
        };
        let mut out = Map::new();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        for (name, r) in members {
            let wire = r.n.as_deref().unwrap_or(name);
            match r.l.as_deref() {
                Some("header") => {
                    if let Some(v) = header(wire) {
                        out.insert(upper(name), typed(v, &r.s));
                    }
                }
                Some("headers") => {
                    let prefix = wire.to_ascii_lowercase();
                    let map: Map<String, Value> = headers
                        .iter()
                        .filter_map(|(k, v)| {
                            k.to_ascii_lowercase()
                                .strip_prefix(&prefix)
                                .map(|rest| (rest.to_owned(), Value::String(v.clone())))
                        })
                        .collect();
                    out.insert(upper(name), Value::Object(map));
                }
                Some("statusCode") => {
                    out.insert(upper(name), status.into());
                }
                _ => {}
            }
        }
        if let Some(p) = payload
            && let Some(r) = members.get(p)
        {
            let value = match self.shape(r) {
                None => Some(Value::String(body.to_owned())),
                Some(_) if self.p == "rest-xml" => {
                    xml::parse(body).map(|root| self.read_xml(&root, r, 0))
                }
                Some(_) => serde_json::from_str(body)
                    .ok()
                    .map(|v: Value| self.read_json(&v, r, 0)),
            };
            if let Some(v) = value {
                out.insert(upper(p), v);
            }
            return Value::Object(out);
        }
        let root = Ref {
            s: output.to_owned(),
            l: None,
            n: None,
            q: None,
            a: None,
            x: None,
        };
        let decoded = match self.p.as_str() {
            "rest-json" => serde_json::from_str(body)
                .ok()
                .map(|v: Value| self.read_json(&v, &root, 0)),
            "query" => xml::parse(body).map(|doc| {
                let node = op.4.as_deref().and_then(|w| doc.child(w)).unwrap_or(&doc);
                self.read_xml(node, &root, 0)
            }),
            _ => xml::parse(body).map(|doc| self.read_xml(&doc, &root, 0)),
        };
        if let Some(Value::Object(o)) = decoded {
            out.extend(o);
        }
        Value::Object(out)
    }

    /// A JSON answer under the member names (first letter upper-cased).
    fn read_json(&self, v: &Value, r: &Ref, depth: usize) -> Value {
        if depth > 128 {
            return v.clone();
        }
        match (self.shape(r), v) {
            (Some(Shape::Structure { m, .. }), Value::Object(o)) => {
                let mut out = Map::new();
                for (key, x) in o {
                    match m
                        .iter()
                        .find(|(name, mr)| mr.n.as_deref().unwrap_or(name) == key)
                    {
                        Some((name, mr)) => {
                            out.insert(upper(name), self.read_json(x, mr, depth + 1));
                        }
                        None => {
                            out.insert(upper(key), x.clone());
                        }
                    }
                }
                Value::Object(out)
            }
            (Some(Shape::List { m, .. }), Value::Array(a)) => {
                Value::Array(a.iter().map(|x| self.read_json(x, m, depth + 1)).collect())
            }
            (Some(Shape::Map { v: vr, .. }), Value::Object(o)) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.read_json(x, vr, depth + 1)))
                    .collect(),
            ),
            _ => v.clone(),
        }
    }

    /// An XML element read as the shape `r` names.
    fn read_xml(&self, node: &Node, r: &Ref, depth: usize) -> Value {
        if depth > 128 {
            return Value::Null;
        }
        match self.shape(r) {
            Some(Shape::Structure { m, .. }) => {
                let mut out = Map::new();
                for (name, mr) in m {
                    if mr.l.is_some() || mr.a.is_some() {
                        continue;
                    }
                    let wire = mr.n.as_deref().unwrap_or(name);
                    match self.shape(mr) {
                        Some(Shape::List { m: lm, f: Some(_) }) => {
                            let item = mr.n.as_deref().or(lm.n.as_deref()).unwrap_or(name);
                            let items: Vec<Value> = node
                                .all(item)
                                .map(|c| self.read_xml(c, lm, depth + 1))
                                .collect();
                            if !items.is_empty() {
                                out.insert(upper(name), Value::Array(items));
                            }
                        }
                        Some(Shape::Map { f: Some(_), .. }) => {
                            let entries: Vec<&Node> = node.all(wire).collect();
                            if !entries.is_empty() {
                                out.insert(upper(name), self.map_entries(&entries, mr, depth));
                            }
                        }
                        _ => {
                            if let Some(c) = node.child(wire) {
                                out.insert(upper(name), self.read_xml(c, mr, depth + 1));
                            }
                        }
                    }
                }
                Value::Object(out)
            }
            Some(Shape::List { m, .. }) => Value::Array(
                node.children
                    .iter()
                    .map(|c| self.read_xml(c, m, depth + 1))
                    .collect(),
            ),
            Some(Shape::Map { .. }) => {
                let entries: Vec<&Node> = node.children.iter().collect();
                self.map_entries(&entries, r, depth)
            }
            None => typed(&node.text, &r.s),
        }
    }

    fn map_entries(&self, entries: &[&Node], r: &Ref, depth: usize) -> Value {
        let Some(Shape::Map { k, v, .. }) = self.shape(r) else {
            return Value::Null;
        };
        let kn = k.n.as_deref().unwrap_or("key");
        let vn = v.n.as_deref().unwrap_or("value");
        Value::Object(
            entries
                .iter()
                .filter_map(|e| {
                    let key = e.child(kn)?.text.clone();
                    let value = e
                        .child(vn)
                        .map_or(Value::Null, |x| self.read_xml(x, v, depth + 1));
                    Some((key, value))
                })
                .collect(),
        )
    }
}

/// The member a parameter names: exactly, or with its first letter in the
/// other case (Step Functions writes every parameter in PascalCase).
fn member<'a>(members: &'a BTreeMap<String, Ref>, key: &str) -> Option<(&'a String, &'a Ref)> {
    members.get_key_value(key).or_else(|| {
        members
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
    })
}

/// An ec2Query field name: `queryName`, else the XML name capitalised.
fn ec2_name(r: &Ref) -> Option<String> {
    r.q.clone().or_else(|| r.n.as_deref().map(upper))
}

fn upper(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A scalar as the text of a field, label, header or element.
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text from the wire as the scalar type `#type` says.
fn typed(text: &str, kind: &str) -> Value {
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
fn uri_encode(s: &str, slash: bool) -> String {
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

fn form_encode(s: &str) -> String {
    uri_encode(s, true)
}

/// An error's code and message from an XML or JSON error body (and the
/// `x-amzn-errortype` header), or from the status alone (a HEAD has no body).
pub fn error_code(
    protocol: &str,
    status: u16,
    header: Option<&str>,
    body: &str,
) -> (String, String) {
    let (code, message) = if protocol == "rest-json" {
        let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let code = header.map(str::to_owned).or_else(|| {
            ["__type", "code", "Code"]
                .iter()
                .find_map(|k| parsed.get(*k).and_then(Value::as_str).map(str::to_owned))
        });
        let message = ["message", "Message"]
            .iter()
            .find_map(|k| parsed.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned();
        (code, message)
    } else {
        let doc = xml::parse(body);
        let text = |name: &str| {
            doc.as_ref()
                .and_then(|d| d.find(name))
                .map(|n| n.text.clone())
        };
        (text("Code"), text("Message").unwrap_or_default())
    };
    let code = code.unwrap_or_else(|| match status {
        404 => "NotFound".to_owned(),
        403 => "Forbidden".to_owned(),
        400 => "BadRequest".to_owned(),
        s => format!("Http{s}"),
    });
    let code = code.rsplit('#').next().unwrap_or(&code).to_owned();
    let code = code.split(':').next().unwrap_or(&code).to_owned();
    (code, message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s3() -> Arc<RestService> {
        service("s3").expect("the S3 model")
    }

    #[test]
    fn s3_requests_bind_labels_headers_and_the_payload() {
        let s3 = s3();
        let (name, op) = s3.operation("getObject").expect("GetObject");
        assert_eq!(name, "GetObject");
        let r = s3
            .request(
                name,
                op,
                &json!({"Bucket": "b", "Key": "a dir/x+y.json", "Range": "bytes=0-9"}),
            )
            .expect("a request");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/b/a%20dir/x%2By.json");
        assert_eq!(r.headers, [("Range".to_owned(), "bytes=0-9".to_owned())]);
        let (name, op) = s3.operation("putObject").expect("PutObject");
        let r = s3
            .request(
                name,
                op,
                &json!({"Bucket": "b", "Key": "k", "Body": "hello", "ContentType": "text/plain"}),
            )
            .expect("a request");
        assert_eq!(
            (r.method.as_str(), r.body.as_slice()),
            ("PUT", b"hello".as_slice())
        );
        let (name, op) = s3.operation("listObjectsV2").expect("ListObjectsV2");
        let r = s3
            .request(
                name,
                op,
                &json!({"Bucket": "b", "Prefix": "in/", "MaxKeys": 5}),
            )
            .expect("a request");
        assert_eq!(r.path, "/b?list-type=2&prefix=in%2F&max-keys=5");
        let err = s3
            .request(name, op, &json!({"Bucket": "b", "Nope": 1}))
            .unwrap_err();
        assert!(err.cause.unwrap_or_default().contains("'Nope'"));
    }

    #[test]
    fn s3_answers_read_back_with_member_names() {
        let s3 = s3();
        let (_, op) = s3.operation("ListObjectsV2").expect("ListObjectsV2");
        let body = r#"<ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>a</Key><Size>3</Size><ETag>"e"</ETag></Contents><Contents><Key>b</Key><Size>4</Size></Contents></ListBucketResult>"#;
        let out = s3.result(op, 200, &[], body);
        assert_eq!(out["Name"], "b");
        assert_eq!(out["KeyCount"], 2);
        assert_eq!(out["IsTruncated"], false);
        assert_eq!(out["Contents"][1], json!({"Key": "b", "Size": 4}));
        let (_, op) = s3.operation("GetObject").expect("GetObject");
        let headers = [
            ("content-type".to_owned(), "application/json".to_owned()),
            ("content-length".to_owned(), "7".to_owned()),
            ("x-amz-meta-owner".to_owned(), "me".to_owned()),
        ];
        let out = s3.result(op, 200, &headers, "{\"a\":1}");
        assert_eq!(out["Body"], "{\"a\":1}");
        assert_eq!(out["ContentType"], "application/json");
        assert_eq!(out["ContentLength"], 7);
        assert_eq!(out["Metadata"], json!({"owner": "me"}));
        let (code, message) = error_code(
            "rest-xml",
            404,
            None,
            "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("NoSuchKey", "The specified key does not exist.")
        );
        assert_eq!(error_code("rest-xml", 404, None, "").0, "NotFound");
    }

    #[test]
    fn query_and_ec2_requests_are_forms_as_the_sdks_send_them() {
        let sns = service("sns").expect("the SNS model");
        let (name, op) = sns.operation("publish").expect("Publish");
        let r = sns
            .request(
                name,
                op,
                &json!({"TopicArn": "arn:t", "Message": "hi there",
                        "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
            )
            .expect("a request");
        let body = String::from_utf8(r.body).expect("text");
        assert!(
            body.starts_with("Action=Publish&Version=2010-03-31"),
            "{body}"
        );
        assert!(body.contains("Message=hi%20there"), "{body}");
        assert!(body.contains("MessageAttributes.entry.1.Name=k"), "{body}");
        assert!(
            body.contains("MessageAttributes.entry.1.Value.DataType=String"),
            "{body}"
        );
        let answer = "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>";
        assert_eq!(
            sns.result(op, 200, &[], answer),
            json!({"MessageId": "m-1"})
        );
        let ec2 = service("ec2").expect("the EC2 model");
        let (name, op) = ec2
            .operation("describeInstances")
            .expect("DescribeInstances");
        let r = ec2
            .request(
                name,
                op,
                &json!({"Filters": [{"Name": "tag:env", "Values": ["dev", "test"]}], "InstanceIds": ["i-1"]}),
            )
            .expect("a request");
        let body = String::from_utf8(r.body).expect("text");
        assert!(body.contains("Filter.1.Name=tag%3Aenv"), "{body}");
        assert!(body.contains("Filter.1.Value.2=test"), "{body}");
        assert!(body.contains("InstanceId.1=i-1"), "{body}");
    }

    #[test]
    fn rest_json_requests_put_members_in_the_path_and_body() {
        let lambda = service("lambda").expect("the Lambda model");
        let (name, op) = lambda.operation("getFunction").expect("GetFunction");
        let r = lambda
            .request(name, op, &json!({"FunctionName": "f", "Qualifier": "1"}))
            .expect("a request");
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "/2015-03-31/functions/f?Qualifier=1")
        );
        let (_, op) = lambda.operation("GetFunction").expect("GetFunction");
        let out = lambda.result(
            op,
            200,
            &[],
            r#"{"Configuration": {"FunctionName": "f", "MemorySize": 128}}"#,
        );
        assert_eq!(out["Configuration"]["MemorySize"], 128);
        assert!(service("no-such-service").is_none());
    }
}

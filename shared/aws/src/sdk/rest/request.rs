//! The HTTP request for one operation: each parameter where the model puts
//! it (URI label, query string, header, payload, or form field).

use serde_json::{Map, Value};
use stepwise_asl::StatesError;

use super::xml;
use super::{
    Operation, Ref, RestService, Shape, ec2_name, form_encode, member, runtime, scalar_text,
    uri_encode,
};

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
                        // A blob payload (an S3 object's `Body`) gets the
                        // parameter's JSON text, a string's quotes
                        // included, as Step Functions sends it.
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
}

//! A service's answer read back by the operation's output shape (headers,
//! JSON or XML body), and the code and message of its errors.

use serde_json::{Map, Value};

use super::xml::{self, Node};
use super::{Operation, Ref, RestService, Shape, field, typed, upper};

impl RestService {
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
                        out.insert(field(name), typed(v, &r.s));
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
                    out.insert(field(name), Value::Object(map));
                }
                Some("statusCode") => {
                    out.insert(field(name), status.into());
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
                out.insert(field(p), v);
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
                            out.insert(field(name), self.read_json(x, mr, depth + 1));
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
                                out.insert(field(name), Value::Array(items));
                            }
                        }
                        Some(Shape::Map { f: Some(_), .. }) => {
                            let entries: Vec<&Node> = node.all(wire).collect();
                            if !entries.is_empty() {
                                out.insert(field(name), self.map_entries(&entries, mr, depth));
                            }
                        }
                        _ => {
                            if let Some(c) = node.child(wire) {
                                out.insert(field(name), self.read_xml(c, mr, depth + 1));
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

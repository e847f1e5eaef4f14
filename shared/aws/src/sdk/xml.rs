//! The little XML the AWS APIs of the restXml, awsQuery and ec2Query
//! protocols answer with, and write for restXml payloads: elements, text,
//! the five entities and numeric references, CDATA; attributes, comments and
//! declarations are skipped. Nesting is bounded (responses are the
//! services', but nothing read may overflow the stack).

/// An element: its local name (without a namespace prefix), its children
/// and its text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub children: Vec<Node>,
    pub text: String,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first element called `name` at any depth, this one included.
    pub fn find(&self, name: &str) -> Option<&Node> {
        let mut todo = vec![self];
        while let Some(n) = todo.pop() {
            if n.name == name {
                return Some(n);
            }
            todo.extend(n.children.iter().rev());
        }
        None
    }
}

const MAX_DEPTH: usize = 200;

/// The document's root element; `None` if it is not XML.
pub fn parse(text: &str) -> Option<Node> {
    let mut stack: Vec<Node> = Vec::new();
    let mut rest = text;
    while let Some(lt) = rest.find('<') {
        let before = &rest[..lt];
        if let Some(top) = stack.last_mut() {
            top.text.push_str(&unescape(before));
        }
        rest = &rest[lt..];
        if let Some(r) = rest.strip_prefix("<![CDATA[") {
            let end = r.find("]]>")?;
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&r[..end]);
            }
            rest = &r[end + 3..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->")? + 3..];
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
        } else if let Some(r) = rest.strip_prefix("</") {
            let end = r.find('>')?;
            let node = stack.pop()?;
            rest = &r[end + 1..];
            match stack.last_mut() {
                Some(parent) => parent.children.push(node),
                None => return Some(node),
            }
        } else {
            let end = rest.find('>')?;
            let tag = &rest[1..end];
            let closed = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().unwrap_or_default();
            let name = name.rsplit(':').next().unwrap_or(name).to_owned();
            rest = &rest[end + 1..];
            let node = Node {
                name,
                ..Node::default()
            };
            if closed {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Some(node),
                }
            } else {
                if stack.len() >= MAX_DEPTH {
                    return None;
                }
                stack.push(node);
            }
        }
    }
    None
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text escaped for an element's content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_aws_answers() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Contents><Key>a &amp; b.txt</Key><Size>3</Size></Contents><Contents><Key>c</Key><Owner/></Contents>
<!-- note --><Prefix><![CDATA[x<y]]></Prefix></ListBucketResult>"#;
        let root = parse(doc).expect("a document");
        assert_eq!(root.name, "ListBucketResult");
        assert_eq!(root.child("Name").map(|n| n.text.as_str()), Some("b"));
        let keys: Vec<&str> = root
            .all("Contents")
            .filter_map(|c| c.child("Key"))
            .map(|k| k.text.as_str())
            .collect();
        assert_eq!(keys, ["a & b.txt", "c"]);
        assert_eq!(root.child("Prefix").map(|n| n.text.as_str()), Some("x<y"));
        assert_eq!(root.find("Size").map(|n| n.text.as_str()), Some("3"));
        assert_eq!(unescape("&#65;&#x42;&bogus;"), "AB&bogus;");
    }

    #[test]
    fn nonsense_and_depth_are_none_not_a_crash() {
        assert_eq!(parse("not xml"), None);
        assert_eq!(parse("<a><b></a"), None);
        let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
        assert_eq!(parse(&deep), None);
    }
}

//! CloudFormation's intrinsic functions, resolved to the values a stack
//! deployed in one local account would give: parameters from the overrides
//! or their defaults, pseudo parameters, and each resource's name and ARNs
//! as CloudFormation would build them from its name.

use serde_json::{Map, Value};

/// How deep intrinsics may nest (a resource's name may itself be a `!Sub`
/// naming another resource): a cycle stops here rather than overflowing.
const MAX_DEPTH: usize = 32;

/// The template's YAML as JSON, the short forms (`!Sub x`) written in their
/// long forms (`{"Fn::Sub": x}`).
pub fn from_yaml(v: yaml_serde::Value) -> Result<Value, String> {
    use yaml_serde::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| format!("{f} is not a JSON number"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?)
        }
        Y::Mapping(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key must be a scalar, not {other:?}")),
                };
                map.insert(key, from_yaml(v)?);
            }
            Value::Object(map)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_owned(),
                "Sub" | "GetAtt" | "Join" | "Select" | "Split" | "If" | "Equals" | "Not"
                | "And" | "Or" | "FindInMap" | "Base64" | "Cidr" | "ImportValue" | "GetAZs"
                | "Transform" | "Length" | "ToJsonString" => format!("Fn::{name}"),
                _ => return Err(format!("unknown tag {tag}")),
            };
            let mut map = Map::new();
            map.insert(key, from_yaml(tagged.value)?);
            Value::Object(map)
        }
    })
}

/// The stack the template would make: what `Ref` and `Fn::GetAtt` read.
pub struct Stack<'a> {
    pub parameters: &'a Map<String, Value>,
    pub overrides: &'a [(String, String)],
    pub resources: &'a Map<String, Value>,
    pub region: &'a str,
    pub account: &'a str,
    pub stack_name: &'a str,
}

impl Stack<'_> {
    /// `v` with every intrinsic function in it replaced by its value.
    pub fn resolve(&self, v: &Value) -> Result<Value, String> {
        self.value(v, 0)
    }

    fn value(&self, v: &Value, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("intrinsic functions nested too deeply (a cycle?)".into());
        }
        match v {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().expect("one entry");
                if key == "Ref" || key.starts_with("Fn::") {
                    return self.function(key, arg, depth + 1);
                }
                self.object(map, depth)
            }
            Value::Object(map) => self.object(map, depth),
            Value::Array(items) => items.iter().map(|i| self.value(i, depth + 1)).collect(),
            scalar => Ok(scalar.clone()),
        }
    }

    fn object(&self, map: &Map<String, Value>, depth: usize) -> Result<Value, String> {
        let mut out = Map::new();
        for (k, v) in map {
            out.insert(k.clone(), self.value(v, depth + 1)?);
        }
        Ok(Value::Object(out))
    }

    fn function(&self, name: &str, arg: &Value, depth: usize) -> Result<Value, String> {
        match name {
            "Ref" => match arg {
                Value::String(id) => self.reference(id, depth),
                _ => Err("Ref takes a name".into()),
            },
            "Fn::GetAtt" => {
                let (id, attribute) = match self.value(arg, depth)? {
                    Value::String(s) => match s.split_once('.') {
                        Some((id, attribute)) => (id.to_owned(), attribute.to_owned()),
                        None => return Err(format!("Fn::GetAtt {s}: expected Resource.Attribute")),
                    },
                    Value::Array(parts) => match parts.as_slice() {
                        [Value::String(id), Value::String(a)] => (id.clone(), a.clone()),
                        _ => return Err("Fn::GetAtt takes [Resource, Attribute]".into()),
                    },
                    _ => return Err("Fn::GetAtt takes Resource.Attribute".into()),
                };
                self.attribute(&id, &attribute, depth).map(Value::String)
            }
            "Fn::Sub" => self.sub(arg, depth).map(Value::String),
            "Fn::Join" => {
                let args = self.value(arg, depth)?;
                let [Value::String(delimiter), Value::Array(items)] = args_of(&args, name)? else {
                    return Err("Fn::Join takes [delimiter, [values]]".into());
                };
                let parts = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
                Ok(Value::String(parts.join(delimiter)))
            }
            "Fn::Select" => {
                let args = self.value(arg, depth)?;
                let [index, Value::Array(items)] = args_of(&args, name)? else {
                    return Err("Fn::Select takes [index, [values]]".into());
                };
                let i = scalar(index)?
                    .parse::<usize>()
                    .map_err(|_| format!("Fn::Select: the index {index} is not a number"))?;
                items.get(i).cloned().ok_or_else(|| {
                    format!(
                        "Fn::Select: index {i} is out of range (the list has {})",
                        items.len()
                    )
                })
            }
            "Fn::Split" => {
                let args = self.value(arg, depth)?;
                let [Value::String(delimiter), Value::String(source)] = args_of(&args, name)?
                else {
                    return Err("Fn::Split takes [delimiter, string]".into());
                };
                Ok(source
                    .split(delimiter.as_str())
                    .map(|s| Value::String(s.into()))
                    .collect())
            }
            other => Err(format!(
                "{other} is not supported by stepwise's template reader"
            )),
        }
    }

    /// `Ref`: a parameter's value, a pseudo parameter's, or a resource's
    /// physical id.
    fn reference(&self, id: &str, depth: usize) -> Result<Value, String> {
        if let Some(declared) = self.parameters.get(id) {
            return self.parameter(id, declared);
        }
        let pseudo = match id {
            "AWS::Region" => self.region.to_owned(),
            "AWS::AccountId" => self.account.to_owned(),
            "AWS::Partition" => "aws".into(),
            "AWS::StackName" => self.stack_name.to_owned(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            "AWS::StackId" => format!(
                "arn:aws:cloudformation:{}:{}:stack/{}/00000000-0000-0000-0000-000000000000",
                self.region, self.account, self.stack_name
            ),
            "AWS::NoValue" => return Ok(Value::Null),
            "AWS::NotificationARNs" => return Ok(Value::Array(Vec::new())),
            _ => {
                let Some(kind) = self.kind(id) else {
                    return Err(format!("Ref {id}: no parameter or resource of that name"));
                };
                let name = self.name(id, depth)?;
                // What CloudFormation's Ref returns for each type.
                match kind {
                    "AWS::SQS::Queue" => self.queue_url(&name),
                    "AWS::SNS::Topic" => self.arn("sns", &name),
                    k if is_state_machine(k) => self.arn("states", &format!("stateMachine:{name}")),
                    _ => name,
                }
            }
        };
        Ok(Value::String(pseudo))
    }

    fn parameter(&self, id: &str, declared: &Value) -> Result<Value, String> {
        let given = self.overrides.iter().rev().find(|(k, _)| k == id);
        let text = match (given, declared.get("Default")) {
            (Some((_, v)), _) => v.clone(),
            (None, Some(default)) => match default {
                Value::Array(_) => return Ok(default.clone()),
                other => scalar(other)?,
            },
            (None, None) => {
                return Err(format!(
                    "the parameter {id} has no value: give it with --parameter-overrides {id}=… \
                     or a Default"
                ));
            }
        };
        let kind = declared
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or("String");
        if kind == "CommaDelimitedList" || kind.starts_with("List<") {
            return Ok(text
                .split(',')
                .map(|s| Value::String(s.trim().into()))
                .collect());
        }
        Ok(Value::String(text))
    }

    /// `Fn::GetAtt`: the attributes a state machine definition uses.
    fn attribute(&self, id: &str, attribute: &str, depth: usize) -> Result<String, String> {
        let Some(kind) = self.kind(id) else {
            return Err(format!(
                "Fn::GetAtt {id}.{attribute}: no resource named {id}"
            ));
        };
        let name = self.name(id, depth)?;
        Ok(match (kind, attribute) {
            ("AWS::Serverless::Function" | "AWS::Lambda::Function", "Arn") => {
                self.arn("lambda", &format!("function:{name}"))
            }
            ("AWS::SQS::Queue", "Arn") => self.arn("sqs", &name),
            ("AWS::SQS::Queue", "QueueUrl") => self.queue_url(&name),
            ("AWS::SQS::Queue", "QueueName") => name,
            ("AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable", "Arn") => {
                self.arn("dynamodb", &format!("table/{name}"))
            }
            ("AWS::DynamoDB::Table", "StreamArn") => self.arn(
                "dynamodb",
                &format!("table/{name}/stream/1970-01-01T00:00:00.000"),
            ),
            ("AWS::SNS::Topic", "TopicArn") => self.arn("sns", &name),
            ("AWS::SNS::Topic", "TopicName") => name,
            (k, "Arn") if is_state_machine(k) => {
                self.arn("states", &format!("stateMachine:{name}"))
            }
            (k, "Name") if is_state_machine(k) => name,
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{name}"),
            ("AWS::IAM::Role", "Arn") => format!("arn:aws:iam::{}:role/{name}", self.account),
            ("AWS::Events::EventBus", "Arn") => self.arn("events", &format!("event-bus/{name}")),
            ("AWS::Events::EventBus", "Name") => name,
            _ => {
                return Err(format!(
                    "Fn::GetAtt {id}.{attribute}: the attribute {attribute} of {kind} is not \
                     supported by stepwise's template reader"
                ));
            }
        })
    }

    /// `Fn::Sub`, as a string or as `[string, {variables}]`.
    fn sub(&self, arg: &Value, depth: usize) -> Result<String, String> {
        let (text, variables) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(s), vars @ Value::Object(_)] => match self.value(vars, depth)? {
                    Value::Object(map) => (s.as_str(), map),
                    _ => return Err("Fn::Sub's variables must be an object".into()),
                },
                _ => return Err("Fn::Sub takes a string or [string, {variables}]".into()),
            },
            _ => return Err("Fn::Sub takes a string or [string, {variables}]".into()),
        };
        super::placeholders(text, |name| {
            Ok(Some(if let Some(literal) = name.strip_prefix('!') {
                format!("${{{literal}}}")
            } else if let Some(v) = variables.get(name) {
                scalar(v)?
            } else if let Some((id, attribute)) = name.split_once('.') {
                self.attribute(id, attribute, depth + 1)?
            } else {
                scalar(&self.reference(name, depth + 1)?)?
            }))
        })
    }

    fn kind(&self, id: &str) -> Option<&str> {
        self.resources.get(id)?.get("Type")?.as_str()
    }

    /// A resource's name: its name property, else its logical id.
    fn name(&self, id: &str, depth: usize) -> Result<String, String> {
        let property = match self.kind(id).unwrap_or("") {
            "AWS::Serverless::Function" | "AWS::Lambda::Function" => "FunctionName",
            "AWS::DynamoDB::Table" | "AWS::Serverless::SimpleTable" => "TableName",
            "AWS::SQS::Queue" => "QueueName",
            "AWS::SNS::Topic" => "TopicName",
            "AWS::Serverless::StateMachine" | "AWS::Events::EventBus" => "Name",
            "AWS::StepFunctions::StateMachine" => "StateMachineName",
            "AWS::S3::Bucket" => "BucketName",
            "AWS::IAM::Role" => "RoleName",
            _ => return Ok(id.to_owned()),
        };
        match self.resources[id]
            .get("Properties")
            .and_then(|p| p.get(property))
        {
            None => Ok(id.to_owned()),
            Some(v) => match self.value(v, depth + 1)? {
                Value::String(s) => Ok(s),
                _ => Err(format!(
                    "Resources.{id}.Properties.{property}: must be a string"
                )),
            },
        }
    }

    fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:aws:{service}:{}:{}:{resource}",
            self.region, self.account
        )
    }

    fn queue_url(&self, name: &str) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{}/{name}",
            self.region, self.account
        )
    }
}

fn is_state_machine(kind: &str) -> bool {
    kind == super::SERVERLESS || kind == super::STEP_FUNCTIONS
}

/// The two arguments of a function that takes a list of two.
fn args_of<'v>(args: &'v Value, name: &str) -> Result<&'v [Value; 2], String> {
    args.as_array()
        .and_then(|a| <&[Value; 2]>::try_from(a.as_slice()).ok())
        .ok_or_else(|| format!("{name} takes a list of two arguments"))
}

/// A string, number or boolean as the text CloudFormation makes of it.
fn scalar(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
        other => Err(format!("expected a string, got {other}")),
    }
}

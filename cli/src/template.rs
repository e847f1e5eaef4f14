//! The state machines of an AWS SAM or CloudFormation template, resolved to
//! local values so that `stepwise run --template` and `stepwise serve
//! --template` can run them without deploying.
//!
//! [`parse`] does no I/O of its own: it takes the template's text, the
//! parameter overrides and a reader for the `DefinitionUri` files, and returns
//! each machine's name, type, role and definition text with its
//! `DefinitionSubstitutions` applied. Intrinsic functions are resolved in
//! [`intrinsic`]; the command-line glue (reading files, creating and updating
//! the machines of a served template) is in [`deploy`].
//!
//! ```text
//! Resources:
//!   Orders:
//!     Type: AWS::Serverless::StateMachine
//!     Properties:
//!       DefinitionUri: statemachine/orders.asl.json
//!       DefinitionSubstitutions:
//!         TableName: !Ref OrdersTable
//! ```

pub mod deploy;
mod intrinsic;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use intrinsic::Stack;

/// A role for the machines whose `Role` does not resolve locally (SAM makes
/// one from `Policies`; nothing checks it here).
pub const PLACEHOLDER_ROLE: &str = "arn:aws:iam::123456789012:role/stepwise-local";

/// One state machine of a template, ready for CreateStateMachine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub logical_id: String,
    pub name: String,
    /// The ASL as JSON text, substitutions applied.
    pub definition: String,
    pub express: bool,
    pub role: String,
}

/// What a template yields: its machines, and the definition files they were
/// read from (which a watcher polls besides the template).
#[derive(Debug, Default)]
pub struct Template {
    pub machines: Vec<Machine>,
    pub files: Vec<PathBuf>,
}

/// Where the template is and what it is deployed with.
pub struct Context<'a> {
    /// The template's path: errors name it, `DefinitionUri` is relative to
    /// its folder and its stem is `AWS::StackName`.
    pub file: &'a Path,
    /// `--parameter-overrides`, `Key=Value` pairs.
    pub overrides: &'a [(String, String)],
    pub region: &'a str,
    pub account: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}: not valid YAML")]
    Yaml {
        file: String,
        #[source]
        source: yaml_serde::Error,
    },
    /// A property that cannot be read; `at` is its path in the template,
    /// e.g. `Resources.Orders.Properties.DefinitionUri`.
    #[error("{file}: {at}: {message}")]
    At {
        file: String,
        at: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Template { file: String, message: String },
}

const SERVERLESS: &str = "AWS::Serverless::StateMachine";
const STEP_FUNCTIONS: &str = "AWS::StepFunctions::StateMachine";

/// The state machines of the template `text`, in the template's order.
pub fn parse(
    text: &str,
    cx: &Context,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Template, Error> {
    let file = cx.file.display().to_string();
    let yaml: yaml_serde::Value = yaml_serde::from_str(text).map_err(|source| Error::Yaml {
        file: file.clone(),
        source,
    })?;
    let root = intrinsic::from_yaml(yaml).map_err(|message| Error::Template {
        file: file.clone(),
        message,
    })?;
    let empty = Map::new();
    let section = |name: &str| root.get(name).and_then(Value::as_object).unwrap_or(&empty);
    let resources = section("Resources");
    let parameters = section("Parameters");
    for (key, _) in cx.overrides {
        if !parameters.contains_key(key) {
            return Err(Error::Template {
                file,
                message: format!("--parameter-overrides {key}: the template has no such parameter"),
            });
        }
    }
    let stack_name = cx
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("stack");
    let stack = Stack {
        parameters,
        overrides: cx.overrides,
        resources,
        region: cx.region,
        account: cx.account,
        stack_name,
    };
    let base = cx.file.parent().unwrap_or(Path::new(""));
    let mut template = Template::default();
    for (id, resource) in resources {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if kind != SERVERLESS && kind != STEP_FUNCTIONS {
            continue;
        }
        let at = |property: &str| format!("Resources.{id}.Properties.{property}");
        let fail = |property: &str, message: String| Error::At {
            file: file.clone(),
            at: at(property),
            message,
        };
        let props = resource.get("Properties").unwrap_or(&Value::Null);
        let resolve = |property: &str| -> Result<Option<Value>, Error> {
            props
                .get(property)
                .map(|v| stack.resolve(v))
                .transpose()
                .map_err(|m| fail(property, m))
        };
        let (definition, property) = definition(props, kind, base, read, &mut template.files)
            .map_err(|(property, message)| fail(property, message))?;
        let definition = match definition {
            Source::Text(text) => text,
            Source::Object(v) => {
                let v = stack.resolve(&v).map_err(|m| fail(property, m))?;
                serde_json::to_string(&v).expect("JSON values serialize")
            }
            Source::String(v) => match stack.resolve(&v).map_err(|m| fail(property, m))? {
                Value::String(s) => s,
                _ => return Err(fail(property, "must be a string".into())),
            },
        };
        let substitutions = match resolve("DefinitionSubstitutions")? {
            None => Map::new(),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(fail("DefinitionSubstitutions", "must be a map".into()));
            }
        };
        let definition = substitute(&definition, &substitutions)
            .map_err(|m| fail("DefinitionSubstitutions", m))?;
        let (name_key, type_key, role_key) = if kind == SERVERLESS {
            ("Name", "Type", "Role")
        } else {
            ("StateMachineName", "StateMachineType", "RoleArn")
        };
        let name = match resolve(name_key)? {
            None => id.clone(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(fail(name_key, "must be a string".into())),
        };
        let express = match resolve(type_key)? {
            None => false,
            Some(Value::String(s)) if s == "STANDARD" || s == "EXPRESS" => s == "EXPRESS",
            Some(other) => {
                return Err(fail(
                    type_key,
                    format!("must be STANDARD or EXPRESS, not {other}"),
                ));
            }
        };
        // A role that does not resolve (a `!GetAtt` of a role SAM generates,
        // say) is no reason to stop: nothing assumes it locally.
        let role = match props.get(role_key).map(|v| stack.resolve(v)) {
            Some(Ok(Value::String(s))) => s,
            _ => PLACEHOLDER_ROLE.to_owned(),
        };
        template.machines.push(Machine {
            logical_id: id.clone(),
            name,
            definition,
            express,
            role,
        });
    }
    Ok(template)
}

/// The machine `id` of `machines`, or the only one when no id is given.
pub fn select<'a>(
    machines: &'a [Machine],
    id: Option<&str>,
    file: &Path,
) -> Result<&'a Machine, Error> {
    let ids = || {
        let ids: Vec<&str> = machines.iter().map(|m| m.logical_id.as_str()).collect();
        ids.join(", ")
    };
    let message = match (id, machines) {
        (_, []) => "the template has no AWS::Serverless::StateMachine or \
                    AWS::StepFunctions::StateMachine"
            .to_owned(),
        (None, [only]) => return Ok(only),
        (None, _) => format!(
            "the template has several state machines ({}): choose one with --state-machine",
            ids()
        ),
        (Some(id), _) => match machines.iter().find(|m| m.logical_id == id) {
            Some(m) => return Ok(m),
            None => format!("no state machine '{id}' (the template has {})", ids()),
        },
    };
    Err(Error::Template {
        file: file.display().to_string(),
        message,
    })
}

/// A definition before substitution: JSON text, or a value whose intrinsic
/// functions are still to be resolved, to an object or to JSON text.
enum Source {
    Text(String),
    Object(Value),
    String(Value),
}

/// The definition of a machine and the property it came from, or the
/// property at fault and why.
fn definition(
    props: &Value,
    kind: &str,
    base: &Path,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    files: &mut Vec<PathBuf>,
) -> Result<(Source, &'static str), (&'static str, String)> {
    if let Some(v) = props.get("Definition") {
        return match v {
            Value::Object(_) => Ok((Source::Object(v.clone()), "Definition")),
            _ => Err((
                "Definition",
                "must be an object (the ASL as YAML or JSON)".into(),
            )),
        };
    }
    if kind == STEP_FUNCTIONS {
        if props.get("DefinitionS3Location").is_some() {
            let message = "an S3 object cannot be read locally: use Definition or DefinitionString";
            return Err(("DefinitionS3Location", message.into()));
        }
        return match props.get("DefinitionString") {
            // Kept as a value: it may be a `Fn::Sub` or a `Fn::Join`.
            Some(v) => Ok((Source::String(v.clone()), "DefinitionString")),
            None => Err(("Definition", "missing (or DefinitionString)".into())),
        };
    }
    const URI: &str = "DefinitionUri";
    let uri = match props.get(URI) {
        None => return Err(("Definition", "missing (or DefinitionUri)".into())),
        Some(Value::String(s)) if !s.starts_with("s3://") => s,
        Some(_) => {
            let message = "must be a local file: an S3 object cannot be read locally";
            return Err((URI, message.into()));
        }
    };
    let path = base.join(uri);
    files.push(path.clone());
    let text = read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => (URI, format!("no such file '{uri}'")),
        _ => (URI, format!("cannot read '{uri}': {e}")),
    })?;
    // JSON first, so that numbers keep their exact text; YAML otherwise.
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        return Ok((Source::Text(serde_json::to_string(&v).expect("JSON")), URI));
    }
    let yaml: yaml_serde::Value = yaml_serde::from_str(&text)
        .map_err(|e| (URI, format!("'{uri}' is neither JSON nor YAML: {e}")))?;
    let v = intrinsic::from_yaml(yaml).map_err(|m| (URI, format!("'{uri}': {m}")))?;
    Ok((Source::Text(serde_json::to_string(&v).expect("JSON")), URI))
}

/// `definition` with each `${Name}` of `substitutions` replaced by its value,
/// in the JSON text as AWS does. Other `${…}` are left as they are.
pub fn substitute(definition: &str, substitutions: &Map<String, Value>) -> Result<String, String> {
    if substitutions.is_empty() {
        return Ok(definition.to_owned());
    }
    placeholders(definition, |name| match substitutions.get(name) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(format!("{name}: must be a string, a number or a boolean")),
        None => Ok(None),
    })
}

/// `text` with each `${name}` replaced by what `value` gives for it (`None`:
/// left as written); an unclosed `${` and what follows stay as they are.
pub(crate) fn placeholders(
    text: &str,
    mut value: impl FnMut(&str) -> Result<Option<String>, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            rest = &rest[start..];
            break;
        };
        let name = &after[..end];
        match value(name)? {
            Some(v) => out.push_str(&v),
            None => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

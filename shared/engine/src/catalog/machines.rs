//! CreateStateMachine, DescribeStateMachine, UpdateStateMachine,
//! DeleteStateMachine, ListStateMachines, and the machine half of
//! DescribeStateMachineForExecution.

use serde_json::{Map, Value, json};
use stepwise_asl::{Options, StateMachine};

use super::{
    Catalog, Entry, Key, Kind, Machine, Res, Resource, Scope, Settings, internal, modify, now,
    page, scope_of, tags, versions,
};
use crate::api::{ApiError, timestamp, validate};

/// What a state machine, version or alias ARN names, and the machine's ARN.
pub enum Target {
    Machine(String),
    Version(String),
    Alias(String),
}

impl Target {
    pub fn machine(&self) -> &str {
        match self {
            Target::Machine(m) | Target::Version(m) | Target::Alias(m) => m,
        }
    }
}

pub fn target(arn: &str) -> Result<Target, ApiError> {
    let parts = validate::arn(arn, &["stateMachine"])?;
    let machine = format!("{}:stateMachine:{}", scope_of(arn), parts.rest[0]);
    Ok(match parts.rest.get(1) {
        None => Target::Machine(machine),
        Some(q) if !q.is_empty() && q.chars().all(|c| c.is_ascii_digit()) => {
            Target::Version(machine)
        }
        Some(_) if parts.rest.len() == 2 => Target::Alias(machine),
        Some(_) => return Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'"))),
    })
}

pub(crate) fn key(arn: &str) -> Key {
    Key {
        kind: Kind::Machine,
        parent: scope_of(arn),
        arn: arn.to_owned(),
    }
}

pub(crate) fn not_found(arn: &str) -> ApiError {
    ApiError::state_machine_does_not_exist(format!("State Machine Does Not Exist: '{arn}'"))
}

/// The machine at `arn` (a machine ARN), or StateMachineDoesNotExist
/// naming `asked` (the ARN the caller gave).
pub async fn load<C: Catalog>(cat: &C, arn: &str, asked: &str) -> Result<Machine, ApiError> {
    match cat.get(&key(arn)).await.map_err(internal)? {
        Some(Entry {
            body: Resource::Machine(m),
            ..
        }) => Ok(m),
        _ => Err(not_found(asked)),
    }
}

fn machine_type(body: &Value) -> Result<&str, ApiError> {
    Ok(validate::one_of(body, "type", &["STANDARD", "EXPRESS"])?.unwrap_or("STANDARD"))
}

/// Checks a definition as CreateStateMachine does. Text that is not JSON
/// (blank text aside, which is "not a valid JSON object") is refused with
/// the problem ValidateStateMachineDefinition reports, in the parser's
/// words and place.
pub(crate) fn check_definition(definition: &str, express: bool) -> Result<(), ApiError> {
    StateMachine::parse(definition, Options { express })
        .map(|_| ())
        .map_err(|invalid| match serde_json::from_str::<Value>(definition) {
            Err(e) if !definition.trim().is_empty() => {
                let (message, _) = validate::json_error(definition, &e);
                ApiError::invalid_definition(format!(
                    "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {message}'"
                ))
            }
            _ => ApiError::invalid_definition(invalid.to_string()),
        })
}

fn check_role(role: &str) -> Result<(), ApiError> {
    let ok = role.starts_with("arn:") && role.split(':').count() >= 6 && role.contains(":iam:");
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(format!("Invalid Role Arn: '{role}'")))
    }
}

/// `loggingConfiguration` as AWS keeps it: `level` OFF and
/// `includeExecutionData` false unless given; a level that logs needs
/// exactly one destination.
fn logging(given: Option<&Value>) -> Result<Value, ApiError> {
    let mut out = json!({"level": "OFF", "includeExecutionData": false});
    let Some(given) = given.filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    let Some(given) = given.as_object() else {
        return Err(ApiError::serialization(
            "The member 'loggingConfiguration' must be an object",
        ));
    };
    if let Some(level) = given.get("level") {
        match level.as_str() {
            Some("OFF" | "ALL" | "ERROR" | "FATAL") => out["level"] = level.clone(),
            _ => {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value {level} at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]"
                )));
            }
        }
    }
    if let Some(v) = given.get("includeExecutionData") {
        if !v.is_boolean() {
            return Err(ApiError::serialization(
                "The member 'includeExecutionData' must be a boolean",
            ));
        }
        out["includeExecutionData"] = v.clone();
    }
    let destinations = given
        .get("destinations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if out["level"] != "OFF" && destinations.len() != 1 {
        return Err(ApiError::invalid_logging(
            "Invalid Logging Configuration: Must specify exactly one Log Destination.",
        ));
    }
    if given.contains_key("destinations") {
        out["destinations"] = Value::Array(destinations);
    }
    Ok(out)
}

fn tracing(given: Option<&Value>) -> Result<Value, ApiError> {
    match given.filter(|v| !v.is_null()) {
        None => Ok(json!({"enabled": false})),
        Some(v) => match v.get("enabled") {
            None => Ok(json!({"enabled": false})),
            Some(Value::Bool(b)) => Ok(json!({"enabled": b})),
            Some(_) => Err(ApiError::serialization(
                "The member 'tracingConfiguration.enabled' must be a boolean",
            )),
        },
    }
}

/// `encryptionConfiguration`: AWS's own key unless a customer key is named.
pub(crate) fn encryption(given: Option<&Value>) -> Result<Value, ApiError> {
    let Some(given) = given.filter(|v| !v.is_null()) else {
        return Ok(json!({"type": "AWS_OWNED_KEY"}));
    };
    match given.get("type").and_then(Value::as_str) {
        Some("AWS_OWNED_KEY") => Ok(json!({"type": "AWS_OWNED_KEY"})),
        Some("CUSTOMER_MANAGED_KMS_KEY") => {
            if given.get("kmsKeyId").and_then(Value::as_str).is_none() {
                return Err(ApiError::invalid_encryption(
                    "Invalid Encryption Configuration: kmsKeyId must be specified for CUSTOMER_MANAGED_KMS_KEY",
                ));
            }
            // The data key's reuse period is 300 s unless given (so that a
            // call that leaves it out asks for the same as one that says it).
            let mut kept = given.clone();
            if let Some(o) = kept.as_object_mut() {
                o.entry("kmsDataKeyReusePeriodSeconds")
                    .or_insert(300.into());
            }
            Ok(kept)
        }
        _ => Err(ApiError::validation(
            "1 validation error detected: Value at 'encryptionConfiguration.type' failed to satisfy constraint: Member must satisfy enum value set: [AWS_OWNED_KEY, CUSTOMER_MANAGED_KMS_KEY]",
        )),
    }
}

fn publish_flag(body: &Value) -> Result<bool, ApiError> {
    match body.get("publish") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::serialization(
            "The member 'publish' must be a boolean",
        )),
    }
}

/// `versionDescription` is only for a call that publishes.
fn version_description(body: &Value, publish: bool) -> Result<Option<&str>, ApiError> {
    let d = validate::optional_string(body, "versionDescription")?;
    if d.is_some() && !publish {
        return Err(ApiError::validation(
            "Version description can only be set when publish is true",
        ));
    }
    if d.is_some_and(|d| d.chars().count() > 256) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'versionDescription' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    Ok(d)
}

pub async fn create<C: Catalog>(cat: &C, scope: &Scope, body: &Value) -> Res {
    let name = validate::string(body, "name")?;
    validate::name("state machine", name)?;
    let definition = validate::string(body, "definition")?;
    let role = validate::string(body, "roleArn")?;
    check_role(role)?;
    let kind = machine_type(body)?;
    let publish = publish_flag(body)?;
    let description = version_description(body, publish)?;
    let logging = logging(body.get("loggingConfiguration"))?;
    let tracing = tracing(body.get("tracingConfiguration"))?;
    let encryption = encryption(body.get("encryptionConfiguration"))?;
    let tag_list = tags::merged(tags::parse(body.get("tags"))?)?;
    check_definition(definition, kind == "EXPRESS")?;
    let arn = scope.arn("stateMachine", name);
    let machine = Machine {
        name: name.to_owned(),
        kind: kind.to_owned(),
        settings: Settings {
            definition: definition.to_owned(),
            role_arn: role.to_owned(),
            logging,
            tracing,
            encryption,
            revision_id: None,
        },
        description: None,
        created: now(),
        next_version: 1,
        tags: tag_list,
    };
    let entry = Entry {
        key: key(&arn),
        rev: 1,
        body: Resource::Machine(machine.clone()),
    };
    if !cat.put(&entry, None).await.map_err(internal)? {
        return created_again(cat, &arn, &machine, publish.then_some(description)).await;
    }
    let mut out = json!({"stateMachineArn": arn, "creationDate": timestamp(machine.created)});
    if publish {
        let (v, _) = versions::publish_current(cat, &arn, description, None).await?;
        out["stateMachineVersionArn"] = v.into();
    }
    Ok(out)
}

/// CreateStateMachine of a name that exists: AWS answers with the machine
/// when the call asks for the same one — the same definition, type,
/// logging, tracing and encryption; a different `roleArn` or tags are
/// ignored, and not applied — and, for a call that publishes (`publish`:
/// its version description), when that revision was published with that
/// description. Otherwise StateMachineAlreadyExists.
async fn created_again<C: Catalog>(
    cat: &C,
    arn: &str,
    asked: &Machine,
    publish: Option<Option<&str>>,
) -> Res {
    let old = load(cat, arn, arn).await?;
    let (a, b) = (&old.settings, &asked.settings);
    let same = a.definition == b.definition
        && old.kind == asked.kind
        && (&a.logging, &a.tracing, &a.encryption) == (&b.logging, &b.tracing, &b.encryption);
    let version = match publish {
        Some(description) if same => versions::published(cat, arn, a, description).await?,
        _ => None,
    };
    if !same || publish.is_some() && version.is_none() {
        return Err(ApiError::state_machine_already_exists(format!(
            "State Machine Already Exists: '{arn}'"
        )));
    }
    let mut out = json!({"stateMachineArn": arn, "creationDate": timestamp(old.created)});
    if let Some((v, _)) = version {
        out["stateMachineVersionArn"] = v.into();
    }
    Ok(out)
}

/// The members DescribeStateMachine shares with DescribeStateMachineForExecution.
fn settings_json(o: &mut Map<String, Value>, s: &Settings) {
    o.insert("definition".into(), s.definition.clone().into());
    o.insert("roleArn".into(), s.role_arn.clone().into());
    o.insert("loggingConfiguration".into(), s.logging.clone());
    o.insert("tracingConfiguration".into(), s.tracing.clone());
    o.insert("encryptionConfiguration".into(), s.encryption.clone());
    if let Some(r) = &s.revision_id {
        o.insert("revisionId".into(), r.clone().into());
    }
    let refs = stepwise_asl::variable_references(&s.definition);
    if refs.as_object().is_some_and(|r| !r.is_empty()) {
        o.insert("variableReferences".into(), refs);
    }
}

pub async fn describe<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let mut o = Map::new();
    match target(arn)? {
        Target::Machine(m) => {
            let machine = load(cat, &m, arn).await?;
            o.insert("stateMachineArn".into(), m.into());
            o.insert("name".into(), machine.name.into());
            o.insert("status".into(), "ACTIVE".into());
            o.insert("type".into(), machine.kind.into());
            o.insert("creationDate".into(), timestamp(machine.created));
            settings_json(&mut o, &machine.settings);
            if let Some(d) = machine.description {
                o.insert("description".into(), d.into());
            }
        }
        Target::Version(_) => {
            let v = versions::load(cat, arn).await?;
            o.insert("stateMachineArn".into(), arn.into());
            o.insert("name".into(), v.name.into());
            o.insert("status".into(), "ACTIVE".into());
            o.insert("type".into(), v.kind.into());
            o.insert("creationDate".into(), timestamp(v.created));
            settings_json(&mut o, &v.settings);
            if let Some(d) = v.description {
                o.insert("description".into(), d.into());
            }
        }
        Target::Alias(_) => return Err(not_found(arn)),
    }
    Ok(Value::Object(o))
}

/// DescribeStateMachineForExecution's answer for what an execution ran:
/// the machine (or version) it started with, with the definition it ran.
pub async fn describe_for_execution<C: Catalog>(
    cat: &C,
    machine_arn: &str,
    version_arn: Option<&str>,
    definition: Option<&str>,
    started: i64,
) -> Res {
    let (name, mut settings) = match version_arn {
        Some(v) => {
            let v = versions::load(cat, v).await?;
            (v.name, v.settings)
        }
        None => {
            let m = load(cat, machine_arn, machine_arn).await?;
            (m.name, m.settings)
        }
    };
    let mut updated = started;
    if let Some(d) = definition
        && d != settings.definition
    {
        // The machine changed since: what ran was an earlier revision.
        settings.definition = d.to_owned();
        settings.revision_id = None;
        updated = started;
    }
    let mut o = Map::new();
    o.insert("stateMachineArn".into(), machine_arn.into());
    o.insert("name".into(), name.into());
    settings_json(&mut o, &settings);
    o.insert("updateDate".into(), timestamp(updated));
    Ok(Value::Object(o))
}

pub async fn update<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(not_found(arn));
    };
    let definition = validate::optional_string(body, "definition")?;
    let role = validate::optional_string(body, "roleArn")?;
    let logging_given = body.get("loggingConfiguration").filter(|v| !v.is_null());
    let tracing_given = body.get("tracingConfiguration").filter(|v| !v.is_null());
    let encryption_given = body.get("encryptionConfiguration").filter(|v| !v.is_null());
    let publish = publish_flag(body)?;
    let description = version_description(body, publish)?;
    if definition.is_none()
        && role.is_none()
        && logging_given.is_none()
        && tracing_given.is_none()
        && encryption_given.is_none()
    {
        return Err(ApiError::missing_required_parameter(
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    if let Some(r) = role {
        check_role(r)?;
    }
    let logging = logging_given.map(|l| logging(Some(l))).transpose()?;
    let tracing = tracing_given.map(|t| tracing(Some(t))).transpose()?;
    let encryption = encryption_given.map(|e| encryption(Some(e))).transpose()?;
    let t = now();
    let revision = modify(
        cat,
        &key(&m),
        || not_found(arn),
        |r| {
            let Resource::Machine(machine) = r else {
                return Err(not_found(arn));
            };
            if let Some(d) = definition {
                check_definition(d, machine.kind == "EXPRESS")?;
            }
            let mut s = machine.settings.clone();
            if let Some(d) = definition {
                s.definition = d.to_owned();
            }
            if let Some(r) = role {
                s.role_arn = r.to_owned();
            }
            if let Some(l) = &logging {
                s.logging = l.clone();
            }
            if let Some(t) = &tracing {
                s.tracing = t.clone();
            }
            if let Some(e) = &encryption {
                s.encryption = e.clone();
            }
            // An update that changes nothing keeps the revision.
            if s != machine.settings {
                s.revision_id = Some(crate::uuid());
                machine.settings = s;
            }
            Ok(machine.settings.revision_id.clone())
        },
    )
    .await?;
    let mut out = json!({"updateDate": timestamp(t)});
    if let Some(r) = revision {
        out["revisionId"] = r.into();
    }
    if publish {
        let (v, _) = versions::publish_current(cat, &m, description, None).await?;
        out["stateMachineVersionArn"] = v.into();
    }
    Ok(out)
}

pub async fn delete<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    match target(arn)? {
        Target::Machine(m) => {
            for kind in [Kind::Version, Kind::Alias] {
                for e in cat.list(kind, &m).await.map_err(internal)? {
                    cat.delete(&e.key).await.map_err(internal)?;
                }
            }
            cat.delete(&key(&m)).await.map_err(internal)?;
            Ok(json!({}))
        }
        Target::Version(_) => versions::delete(cat, &json!({"stateMachineVersionArn": arn})).await,
        Target::Alias(_) => {
            super::aliases::delete(cat, &json!({"stateMachineAliasArn": arn})).await
        }
    }
}

pub async fn list<C: Catalog>(cat: &C, scope: &Scope, body: &Value) -> Res {
    validate::page(body)?;
    let mut all: Vec<(i64, String, Machine)> = cat
        .list(Kind::Machine, &scope.root())
        .await
        .map_err(internal)?
        .into_iter()
        .filter_map(|e| match e.body {
            Resource::Machine(m) => Some((m.created, e.key.arn, m)),
            _ => None,
        })
        .collect();
    // By name, as AWS lists them ("sm_10" before "sm_2").
    all.sort_by(|a, b| (&a.2.name, &a.1).cmp(&(&b.2.name, &b.1)));
    let items = all
        .into_iter()
        .map(|(created, arn, m)| {
            json!({"stateMachineArn": arn, "name": m.name, "type": m.kind, "creationDate": timestamp(created)})
        })
        .collect();
    page(body, "stateMachines", items)
}

/// The versions or aliases (`kind`) of the machine `body["stateMachineArn"]`
/// names, for the List actions (after checking the ARN and the paging).
pub(crate) async fn children<C: Catalog>(
    cat: &C,
    body: &Value,
    kind: Kind,
) -> Result<Vec<Entry>, ApiError> {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(ApiError::validation(format!(
            "Invalid Arn: '{arn}' is not a state machine ARN"
        )));
    };
    validate::page(body)?;
    load(cat, &m, arn).await?;
    cat.list(kind, &m).await.map_err(internal)
}

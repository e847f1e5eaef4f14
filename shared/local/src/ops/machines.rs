//! State machines, their versions and aliases.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};
use stepwise_api::{ApiError, timestamp, validate};
use stepwise_asl::{Options, StateMachine};

use super::{Fail, Res};
use crate::db::Db;
use crate::ids::{machine_arn, now};
use crate::worker::Worker;

/// What a state machine, version or alias ARN names.
pub enum Target {
    Machine(String),
    /// A version ARN; the machine it belongs to.
    Version(String),
    /// An alias ARN; the machine it belongs to.
    Alias(String),
}

pub fn target(arn: &str) -> Result<Target, Fail> {
    let parts = validate::arn(arn, &["stateMachine"])?;
    let machine = format!(
        "arn:aws:states:{}:{}:stateMachine:{}",
        parts.region, parts.account, parts.rest[0]
    );
    Ok(match parts.rest.get(1) {
        None => Target::Machine(machine),
        Some(q) if q.chars().all(|c| c.is_ascii_digit()) && !q.is_empty() => {
            Target::Version(machine)
        }
        Some(_) if parts.rest.len() == 2 => Target::Alias(machine),
        Some(_) => return Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")).into()),
    })
}

fn machine_type(body: &Value) -> Result<&str, Fail> {
    match validate::optional_string(body, "type")? {
        None | Some("STANDARD") => Ok("STANDARD"),
        Some("EXPRESS") => Ok("EXPRESS"),
        Some(other) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{other}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, EXPRESS]"
        ))
        .into()),
    }
}

fn check_definition(definition: &str, express: bool) -> Result<(), Fail> {
    StateMachine::parse(definition, Options { express })
        .map(|_| ())
        .map_err(|e| ApiError::invalid_definition(e.to_string()).into())
}

fn check_role(role: &str) -> Result<(), Fail> {
    let ok = role.starts_with("arn:") && role.split(':').count() >= 6 && role.contains(":iam:");
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_arn(format!("Invalid Role Arn: '{role}'")).into())
    }
}

fn exists(db: &Db, arn: &str) -> rusqlite::Result<bool> {
    Ok(db
        .query_row("SELECT 1 FROM state_machines WHERE arn = ?1", [arn], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

fn not_found(arn: &str) -> Fail {
    ApiError::state_machine_does_not_exist(format!("State Machine Does Not Exist: '{arn}'")).into()
}

pub fn create(w: &mut Worker, body: &Value) -> Res {
    let name = validate::string(body, "name")?;
    validate::name("state machine", name)?;
    let definition = validate::string(body, "definition")?;
    let role = validate::string(body, "roleArn")?;
    check_role(role)?;
    let kind = machine_type(body)?;
    check_definition(definition, kind == "EXPRESS")?;
    let arn = machine_arn(name);
    let existing: Option<(String, String, String, i64)> = w
        .conn
        .query_row(
            "SELECT definition, role_arn, type, created FROM state_machines WHERE arn = ?1",
            [&arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    if let Some((d, r, k, created)) = existing {
        if d == definition && r == role && k == kind {
            return Ok(json!({"stateMachineArn": arn, "creationDate": timestamp(created)}));
        }
        return Err(ApiError::state_machine_already_exists(format!(
            "State Machine Already Exists: '{arn}'"
        ))
        .into());
    }
    let t = now();
    let logging = body
        .get("loggingConfiguration")
        .cloned()
        .unwrap_or(json!({"level": "OFF", "includeExecutionData": false}));
    let tracing = body
        .get("tracingConfiguration")
        .cloned()
        .unwrap_or(json!({"enabled": false}));
    w.conn.execute(
        "INSERT INTO state_machines (arn, name, type, definition, role_arn, created, updated, revision, description, logging, tracing) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, NULL, ?7, ?8)",
        params![arn, name, kind, definition, role, t, logging.to_string(), tracing.to_string()],
    )?;
    super::tags::write(w, &arn, body.get("tags"))?;
    let mut out = json!({"stateMachineArn": arn, "creationDate": timestamp(t)});
    if body["publish"].as_bool() == Some(true) {
        let v = publish_version(
            w,
            &arn,
            validate::optional_string(body, "versionDescription")?,
        )?;
        out["stateMachineVersionArn"] = v.into();
    }
    Ok(out)
}

fn publish_version(w: &Worker, arn: &str, description: Option<&str>) -> Result<String, Fail> {
    let (definition, role, revision, next): (String, String, i64, i64) = w.conn.query_row(
        "SELECT definition, role_arn, revision, next_version FROM state_machines WHERE arn = ?1",
        [arn],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    // Publishing an unchanged revision again returns the existing version.
    let same: Option<String> = w
        .conn
        .query_row(
            "SELECT arn FROM versions WHERE machine = ?1 AND revision = ?2",
            params![arn, revision],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(v) = same {
        return Ok(v);
    }
    let varn = format!("{arn}:{next}");
    w.conn.execute(
        "INSERT INTO versions (arn, machine, version, definition, role_arn, revision, description, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![varn, arn, next, definition, role, revision, description, now()],
    )?;
    w.conn.execute(
        "UPDATE state_machines SET next_version = next_version + 1 WHERE arn = ?1",
        [arn],
    )?;
    Ok(varn)
}

pub fn describe(db: &Db, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    match target(arn)? {
        Target::Machine(m) => {
            let row = db

                .query_row(
                    "SELECT name, type, definition, role_arn, created, revision, description, logging, tracing FROM state_machines WHERE arn = ?1",
                    [&m],
                    |r| {
                        Ok(json!({
                            "stateMachineArn": m,
                            "name": r.get::<_, String>(0)?,
                            "status": "ACTIVE",
                            "type": r.get::<_, String>(1)?,
                            "definition": r.get::<_, String>(2)?,
                            "roleArn": r.get::<_, String>(3)?,
                            "creationDate": timestamp(r.get(4)?),
                            "revisionId": r.get::<_, i64>(5)?.to_string(),
                            "description": r.get::<_, Option<String>>(6)?,
                            "loggingConfiguration": serde_json::from_str::<Value>(&r.get::<_, String>(7)?).unwrap_or(Value::Null),
                            "tracingConfiguration": serde_json::from_str::<Value>(&r.get::<_, String>(8)?).unwrap_or(Value::Null),
                        }))
                    },
                )
                .optional()?;
            let mut out = row.ok_or_else(|| not_found(arn))?;
            if out["description"].is_null() {
                out.as_object_mut().expect("object").remove("description");
            }
            Ok(out)
        }
        Target::Version(m) => {
            let row = db

                .query_row(
                    "SELECT v.definition, v.role_arn, v.created, v.revision, v.description, s.name, s.type FROM versions v JOIN state_machines s ON s.arn = v.machine WHERE v.arn = ?1",
                    [arn],
                    |r| {
                        Ok(json!({
                            "stateMachineArn": arn,
                            "name": r.get::<_, String>(5)?,
                            "status": "ACTIVE",
                            "type": r.get::<_, String>(6)?,
                            "definition": r.get::<_, String>(0)?,
                            "roleArn": r.get::<_, String>(1)?,
                            "creationDate": timestamp(r.get(2)?),
                            "revisionId": r.get::<_, i64>(3)?.to_string(),
                            "loggingConfiguration": {"level": "OFF", "includeExecutionData": false},
                            "tracingConfiguration": {"enabled": false},
                        }))
                    },
                )
                .optional()?;
            let _ = m;
            row.ok_or_else(|| not_found(arn))
        }
        Target::Alias(_) => {
            Err(ApiError::validation("Use DescribeStateMachineAlias for an alias ARN").into())
        }
    }
}

pub fn update(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(ApiError::validation(
            "Only a state machine ARN can be updated, not a version or alias",
        )
        .into());
    };
    let kind: Option<String> = w
        .conn
        .query_row(
            "SELECT type FROM state_machines WHERE arn = ?1",
            [&m],
            |r| r.get(0),
        )
        .optional()?;
    let kind = kind.ok_or_else(|| not_found(arn))?;
    let definition = validate::optional_string(body, "definition")?;
    let role = validate::optional_string(body, "roleArn")?;
    if definition.is_none()
        && role.is_none()
        && body.get("loggingConfiguration").is_none()
        && body.get("tracingConfiguration").is_none()
    {
        return Err(ApiError::validation("Either the definition, the roleArn, loggingConfiguration or tracingConfiguration must be specified").into());
    }
    if let Some(d) = definition {
        check_definition(d, kind == "EXPRESS")?;
        w.conn.execute(
            "UPDATE state_machines SET definition = ?1 WHERE arn = ?2",
            params![d, m],
        )?;
    }
    if let Some(r) = role {
        check_role(r)?;
        w.conn.execute(
            "UPDATE state_machines SET role_arn = ?1 WHERE arn = ?2",
            params![r, m],
        )?;
    }
    let t = now();
    w.conn.execute(
        "UPDATE state_machines SET updated = ?1, revision = revision + 1 WHERE arn = ?2",
        params![t, m],
    )?;
    w.machines.remove(&m);
    let revision: i64 = w.conn.query_row(
        "SELECT revision FROM state_machines WHERE arn = ?1",
        [&m],
        |r| r.get(0),
    )?;
    let mut out = json!({"updateDate": timestamp(t), "revisionId": revision.to_string()});
    if body["publish"].as_bool() == Some(true) {
        out["stateMachineVersionArn"] = publish_version(
            w,
            &m,
            validate::optional_string(body, "versionDescription")?,
        )?
        .into();
    }
    Ok(out)
}

pub fn delete(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    match target(arn)? {
        Target::Machine(m) => {
            w.conn
                .execute("DELETE FROM state_machines WHERE arn = ?1", [&m])?;
            w.conn
                .execute("DELETE FROM versions WHERE machine = ?1", [&m])?;
            w.conn
                .execute("DELETE FROM aliases WHERE machine = ?1", [&m])?;
            w.conn
                .execute("DELETE FROM tags WHERE resource = ?1", [&m])?;
        }
        _ => {
            return Err(ApiError::validation(
                "Use DeleteStateMachineVersion or DeleteStateMachineAlias",
            )
            .into());
        }
    }
    Ok(json!({}))
}

pub fn list(db: &Db, body: &Value) -> Res {
    let (max, offset) = validate::page(body)?;
    let total: i64 = db.query_row("SELECT COUNT(*) FROM state_machines", [], |r| r.get(0))?;
    let mut stmt = db.prepare("SELECT arn, name, type, created FROM state_machines ORDER BY created, arn LIMIT ?1 OFFSET ?2")?;
    let items: Vec<Value> = stmt
        .query_map(params![max as i64, offset as i64], |r| {
            Ok(json!({"stateMachineArn": r.get::<_, String>(0)?, "name": r.get::<_, String>(1)?, "type": r.get::<_, String>(2)?, "creationDate": timestamp(r.get(3)?)}))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = json!({"stateMachines": items});
    if let Some(t) = validate::next_token(offset, max, total as usize) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

pub fn publish(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(ApiError::validation("Versions are published from a state machine ARN").into());
    };
    let revision: Option<i64> = w
        .conn
        .query_row(
            "SELECT revision FROM state_machines WHERE arn = ?1",
            [&m],
            |r| r.get(0),
        )
        .optional()?;
    let revision = revision.ok_or_else(|| not_found(arn))?;
    if let Some(want) = validate::optional_string(body, "revisionId")?
        && want != revision.to_string()
    {
        return Err(ApiError::conflict(format!(
            "The revisionId '{want}' is not the state machine's latest revision"
        ))
        .into());
    }
    let varn = publish_version(w, &m, validate::optional_string(body, "description")?)?;
    let created: i64 = w.conn.query_row(
        "SELECT created FROM versions WHERE arn = ?1",
        [&varn],
        |r| r.get(0),
    )?;
    Ok(json!({"stateMachineVersionArn": varn, "creationDate": timestamp(created)}))
}

pub fn list_versions(db: &Db, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(ApiError::validation("Expected a state machine ARN").into());
    };
    if !exists(db, &m)? {
        return Err(not_found(arn));
    }
    let (max, offset) = validate::page(body)?;
    let mut stmt =
        db.prepare("SELECT arn, created FROM versions WHERE machine = ?1 ORDER BY version DESC")?;
    let all: Vec<Value> = stmt
        .query_map([&m], |r| Ok(json!({"stateMachineVersionArn": r.get::<_, String>(0)?, "creationDate": timestamp(r.get(1)?)})))?
        .collect::<Result<_, _>>()?;
    let total = all.len();
    let mut out =
        json!({"stateMachineVersions": all.into_iter().skip(offset).take(max).collect::<Vec<_>>()});
    if let Some(t) = validate::next_token(offset, max, total) {
        out["nextToken"] = t.into();
    }
    Ok(out)
}

pub fn delete_version(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineVersionArn")?;
    let Target::Version(_) = target(arn)? else {
        return Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")).into());
    };
    let used: i64 = w.conn.query_row(
        "SELECT COUNT(*) FROM aliases WHERE routing LIKE ?1",
        [format!("%\"{arn}\"%")],
        |r| r.get(0),
    )?;
    if used > 0 {
        return Err(
            ApiError::conflict(format!("Version '{arn}' is referenced by an alias")).into(),
        );
    }
    w.conn
        .execute("DELETE FROM versions WHERE arn = ?1", [arn])?;
    Ok(json!({}))
}

fn check_routing(w: &Worker, machine: &str, routing: &Value) -> Result<(), Fail> {
    let Some(list) = routing.as_array().filter(|l| (1..=2).contains(&l.len())) else {
        return Err(
            ApiError::validation("routingConfiguration must list one or two versions").into(),
        );
    };
    let mut total = 0;
    for r in list {
        let v = r["stateMachineVersionArn"].as_str().unwrap_or_default();
        match target(v)? {
            Target::Version(m) if m == machine => {}
            _ => {
                return Err(
                    ApiError::validation(format!("'{v}' is not a version of '{machine}'")).into(),
                );
            }
        }
        let found = w
            .conn
            .query_row("SELECT 1 FROM versions WHERE arn = ?1", [v], |_| Ok(()))
            .optional()?;
        if found.is_none() {
            return Err(ApiError::resource_not_found(format!("Version not found: '{v}'")).into());
        }
        total += r["weight"].as_u64().unwrap_or(0);
    }
    if total != 100 {
        return Err(
            ApiError::validation("The weights of routingConfiguration must add up to 100").into(),
        );
    }
    Ok(())
}

pub fn create_alias(w: &mut Worker, body: &Value) -> Res {
    let name = validate::string(body, "name")?;
    validate::name("alias", name)?;
    if name.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid_name(format!(
            "Invalid Name: '{name}' (an alias name cannot be a number)"
        ))
        .into());
    }
    let routing = body
        .get("routingConfiguration")
        .cloned()
        .unwrap_or(Value::Null);
    let first = routing[0]["stateMachineVersionArn"]
        .as_str()
        .unwrap_or_default();
    let Target::Version(machine) = target(first)? else {
        return Err(ApiError::validation("Invalid routingConfiguration").into());
    };
    check_routing(w, &machine, &routing)?;
    let arn = format!("{machine}:{name}");
    if w.conn
        .query_row("SELECT 1 FROM aliases WHERE arn = ?1", [&arn], |_| Ok(()))
        .optional()?
        .is_some()
    {
        return Err(ApiError::conflict(format!("Alias '{arn}' already exists")).into());
    }
    let t = now();
    w.conn.execute(
        "INSERT INTO aliases (arn, machine, name, description, routing, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![arn, machine, name, validate::optional_string(body, "description")?, routing.to_string(), t],
    )?;
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": timestamp(t)}))
}

fn alias_arn(body: &Value) -> Result<(String, String), Fail> {
    let arn = validate::string(body, "stateMachineAliasArn")?;
    match target(arn)? {
        Target::Alias(m) => Ok((arn.to_owned(), m)),
        _ => Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")).into()),
    }
}

pub fn describe_alias(db: &Db, body: &Value) -> Res {
    let (arn, _) = alias_arn(body)?;
    let row = db

        .query_row("SELECT name, description, routing, created, updated FROM aliases WHERE arn = ?1", [&arn], |r| {
            Ok(json!({
                "stateMachineAliasArn": arn,
                "name": r.get::<_, String>(0)?,
                "description": r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                "routingConfiguration": serde_json::from_str::<Value>(&r.get::<_, String>(2)?).unwrap_or(Value::Null),
                "creationDate": timestamp(r.get(3)?),
                "updateDate": timestamp(r.get(4)?),
            }))
        })
        .optional()?;
    row.ok_or_else(|| ApiError::resource_not_found(format!("Alias not found: '{arn}'")).into())
}

pub fn update_alias(w: &mut Worker, body: &Value) -> Res {
    let (arn, machine) = alias_arn(body)?;
    if w.conn
        .query_row("SELECT 1 FROM aliases WHERE arn = ?1", [&arn], |_| Ok(()))
        .optional()?
        .is_none()
    {
        return Err(ApiError::resource_not_found(format!("Alias not found: '{arn}'")).into());
    }
    if let Some(routing) = body.get("routingConfiguration") {
        check_routing(w, &machine, routing)?;
        w.conn.execute(
            "UPDATE aliases SET routing = ?1 WHERE arn = ?2",
            params![routing.to_string(), arn],
        )?;
    }
    if let Some(d) = validate::optional_string(body, "description")? {
        w.conn.execute(
            "UPDATE aliases SET description = ?1 WHERE arn = ?2",
            params![d, arn],
        )?;
    }
    let t = now();
    w.conn.execute(
        "UPDATE aliases SET updated = ?1 WHERE arn = ?2",
        params![t, arn],
    )?;
    Ok(json!({"updateDate": timestamp(t)}))
}

pub fn delete_alias(w: &mut Worker, body: &Value) -> Res {
    let (arn, _) = alias_arn(body)?;
    w.conn
        .execute("DELETE FROM aliases WHERE arn = ?1", [&arn])?;
    Ok(json!({}))
}

pub fn list_aliases(db: &Db, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(ApiError::validation("Expected a state machine ARN").into());
    };
    if !exists(db, &m)? {
        return Err(not_found(arn));
    }
    let mut stmt =
        db.prepare("SELECT arn, created FROM aliases WHERE machine = ?1 ORDER BY created")?;
    let items: Vec<Value> = stmt
        .query_map([&m], |r| Ok(json!({"stateMachineAliasArn": r.get::<_, String>(0)?, "creationDate": timestamp(r.get(1)?)})))?
        .collect::<Result<_, _>>()?;
    Ok(json!({"stateMachineAliases": items}))
}

/// Resolves what to run for a state machine, version or alias ARN: the
/// machine ARN, the version ARN (if any), the type and the role.
pub fn resolve(db: &Db, arn: &str) -> Result<(String, Option<String>, String, String), Fail> {
    let version_arn = match target(arn)? {
        Target::Machine(m) => {
            let row: Option<(String, String)> = db
                .query_row(
                    "SELECT type, role_arn FROM state_machines WHERE arn = ?1",
                    [&m],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let (k, role) = row.ok_or_else(|| not_found(arn))?;
            return Ok((m, None, k, role));
        }
        Target::Version(_) => arn.to_owned(),
        Target::Alias(_) => {
            let routing: Option<String> = db
                .query_row("SELECT routing FROM aliases WHERE arn = ?1", [arn], |r| {
                    r.get(0)
                })
                .optional()?;
            let routing: Value = serde_json::from_str(&routing.ok_or_else(|| not_found(arn))?)
                .unwrap_or(Value::Null);
            let pick = crate::ids::random_u64() % 100;
            let mut acc = 0;
            let mut chosen = String::new();
            for r in routing.as_array().into_iter().flatten() {
                acc += r["weight"].as_u64().unwrap_or(0);
                chosen = r["stateMachineVersionArn"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if pick < acc {
                    break;
                }
            }
            chosen
        }
    };
    let row: Option<(String, String, String)> = db
        .query_row(
            "SELECT v.machine, s.type, v.role_arn FROM versions v JOIN state_machines s ON s.arn = v.machine WHERE v.arn = ?1",
            [&version_arn],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (m, k, role) = row.ok_or_else(|| not_found(arn))?;
    Ok((m, Some(version_arn), k, role))
}

/// The parsed machine an execution runs (cached by machine or version ARN).
pub fn load_machine(
    w: &mut Worker,
    machine: &str,
    version: Option<&str>,
) -> rusqlite::Result<Option<Arc<StateMachine>>> {
    let key = version.unwrap_or(machine).to_owned();
    if let Some(m) = w.machines.get(&key) {
        return Ok(Some(m.clone()));
    }
    let row: Option<(String, String)> = match version {
        Some(v) => w
            .conn
            .query_row(
                "SELECT v.definition, s.type FROM versions v JOIN state_machines s ON s.arn = v.machine WHERE v.arn = ?1",
                [v],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?,
        None => w.conn.query_row("SELECT definition, type FROM state_machines WHERE arn = ?1", [machine], |r| Ok((r.get(0)?, r.get(1)?))).optional()?,
    };
    let Some((definition, kind)) = row else {
        return Ok(None);
    };
    let Ok(sm) = StateMachine::parse(
        &definition,
        Options {
            express: kind == "EXPRESS",
        },
    ) else {
        return Ok(None);
    };
    let sm = Arc::new(sm);
    w.machines.insert(key, sm.clone());
    Ok(Some(sm))
}

/// For StartSyncExecution, run outside the worker: the definition and type.
pub fn for_run(w: &mut Worker, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let (machine, version, kind, _) = resolve(&w.conn, arn)?;
    let definition: String = match &version {
        Some(v) => {
            w.conn
                .query_row("SELECT definition FROM versions WHERE arn = ?1", [v], |r| {
                    r.get(0)
                })?
        }
        None => w.conn.query_row(
            "SELECT definition FROM state_machines WHERE arn = ?1",
            [&machine],
            |r| r.get(0),
        )?,
    };
    Ok(json!({"machine": machine, "version": version, "definition": definition, "type": kind}))
}

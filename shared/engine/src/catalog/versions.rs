//! PublishStateMachineVersion, ListStateMachineVersions,
//! DeleteStateMachineVersion.

use serde_json::{Value, json};

use super::machines::{self, Target, target};
use super::{Catalog, Entry, Key, Kind, Res, Resource, Version, internal, modify, now, page};
use crate::api::{ApiError, timestamp, validate};

pub(crate) fn key(version_arn: &str) -> Key {
    let machine = version_arn.rsplit_once(':').map_or(version_arn, |(m, _)| m);
    Key {
        kind: Kind::Version,
        parent: machine.to_owned(),
        arn: version_arn.to_owned(),
    }
}

pub(crate) async fn load<C: Catalog>(cat: &C, arn: &str) -> Result<Version, ApiError> {
    match cat.get(&key(arn)).await.map_err(internal)? {
        Some(Entry {
            body: Resource::Version(v),
            ..
        }) => Ok(v),
        _ => Err(machines::not_found(arn)),
    }
}

/// The version of `machine_arn` that has `settings` and `description`, and
/// when it was made: the same revision published with the same description
/// is the same version; another description makes a new one (AWS's answer
/// to a publish with a new description of an unchanged machine).
pub(crate) async fn published<C: Catalog>(
    cat: &C,
    machine_arn: &str,
    settings: &super::Settings,
    description: Option<&str>,
) -> Result<Option<(String, i64)>, ApiError> {
    let versions = cat.list(Kind::Version, machine_arn).await;
    Ok(versions
        .map_err(internal)?
        .into_iter()
        .find_map(|e| match e.body {
            Resource::Version(v)
                if v.settings == *settings && v.description.as_deref() == description =>
            {
                Some((e.key.arn, v.created))
            }
            _ => None,
        }))
}

/// Publishes the machine's current revision, or finds the version that
/// already has it (AWS publishes a revision once). `expected_revision`:
/// PublishStateMachineVersion's `revisionId`, which must be current.
pub(crate) async fn publish_current<C: Catalog>(
    cat: &C,
    machine_arn: &str,
    description: Option<&str>,
    expected_revision: Option<&str>,
) -> Result<(String, i64), ApiError> {
    let machine = machines::load(cat, machine_arn, machine_arn).await?;
    if let Some(want) = expected_revision {
        let current = machine.settings.revision_id.as_deref().unwrap_or_default();
        if want != current {
            return Err(ApiError::conflict(format!(
                "Failed to publish the State Machine version for revision {want}. The current State Machine revision is {current}."
            )));
        }
    }
    if let Some(found) = published(cat, machine_arn, &machine.settings, description).await? {
        return Ok(found);
    }
    // Take the next number first: a crash after it skips a number, as AWS
    // never reuses one.
    let number = modify(
        cat,
        &machines::key(machine_arn),
        || machines::not_found(machine_arn),
        |r| match r {
            Resource::Machine(m) => {
                m.next_version += 1;
                Ok(m.next_version - 1)
            }
            _ => Err(machines::not_found(machine_arn)),
        },
    )
    .await?;
    let arn = format!("{machine_arn}:{number}");
    let created = now();
    let version = Version {
        machine: machine_arn.to_owned(),
        number,
        name: machine.name,
        kind: machine.kind,
        settings: machine.settings,
        description: description.map(str::to_owned),
        created,
    };
    let entry = Entry {
        key: key(&arn),
        rev: 1,
        body: Resource::Version(version),
    };
    cat.put(&entry, None).await.map_err(internal)?;
    Ok((arn, created))
}

pub async fn publish<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineArn")?;
    let Target::Machine(m) = target(arn)? else {
        return Err(machines::not_found(arn));
    };
    let description = validate::optional_string(body, "description")?;
    if description.is_some_and(|d| d.chars().count() > 256) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    let revision = validate::optional_string(body, "revisionId")?;
    let (v, created) = publish_current(cat, &m, description, revision).await?;
    Ok(json!({"stateMachineVersionArn": v, "creationDate": timestamp(created)}))
}

pub async fn list<C: Catalog>(cat: &C, body: &Value) -> Res {
    let mut all: Vec<_> = machines::children(cat, body, Kind::Version)
        .await?
        .into_iter()
        .filter_map(|e| match e.body {
            Resource::Version(v) => Some((v.number, e.key.arn, v.created)),
            _ => None,
        })
        .collect();
    // Newest first, as AWS lists them.
    all.sort_by_key(|v| std::cmp::Reverse(v.0));
    let items = all
        .into_iter()
        .map(|(_, arn, created)| json!({"stateMachineVersionArn": arn, "creationDate": timestamp(created)}))
        .collect();
    page(body, "stateMachineVersions", items)
}

pub async fn delete<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "stateMachineVersionArn")?;
    let Target::Version(m) = target(arn)? else {
        return Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'")));
    };
    let mut users = Vec::new();
    for e in cat.list(Kind::Alias, &m).await.map_err(internal)? {
        if let Resource::Alias(a) = e.body
            && a.routing.iter().any(|r| r.version == arn)
        {
            users.push(a.name);
        }
    }
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
            users.join(", ")
        )));
    }
    cat.delete(&key(arn)).await.map_err(internal)?;
    Ok(json!({}))
}

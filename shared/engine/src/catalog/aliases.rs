//! CreateStateMachineAlias, DescribeStateMachineAlias,
//! UpdateStateMachineAlias, DeleteStateMachineAlias, ListStateMachineAliases.

use serde_json::{Value, json};

use super::machines::{self, Target, target};
use super::{
    Alias, Catalog, Entry, Key, Kind, Res, Resource, Route, internal, modify, now, page, versions,
};
use crate::api::{ApiError, timestamp, validate};

fn key(alias_arn: &str) -> Key {
    let machine = alias_arn.rsplit_once(':').map_or(alias_arn, |(m, _)| m);
    Key {
        kind: Kind::Alias,
        parent: machine.to_owned(),
        arn: alias_arn.to_owned(),
    }
}

fn not_found() -> ApiError {
    ApiError::resource_not_found("Request references a resource that does not exist.")
}

pub(crate) async fn load<C: Catalog>(cat: &C, arn: &str) -> Result<Alias, ApiError> {
    match cat.get(&key(arn)).await.map_err(internal)? {
        Some(Entry {
            body: Resource::Alias(a),
            ..
        }) => Ok(a),
        _ => Err(not_found()),
    }
}

/// Alias names: 1–80 characters of letters, digits, `_`, `-` and `.`, at
/// least one of them not a digit (a number would read as a version).
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > 80 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    let named = |c: char| c.is_ascii_alphabetic() || "_-.".contains(c);
    if name.is_empty() || !name.chars().all(allowed) || !name.chars().any(named) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"
        )));
    }
    Ok(())
}

fn description(body: &Value) -> Result<Option<&str>, ApiError> {
    let d = validate::optional_string(body, "description")?;
    if d.is_some_and(|d| d.chars().count() > 256) {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256",
        ));
    }
    Ok(d)
}

/// A routing configuration: one or two distinct versions of one machine
/// whose weights (0–100) add up to 100. Returns the routes and the machine.
async fn routing<C: Catalog>(cat: &C, given: &Value) -> Result<(Vec<Route>, String), ApiError> {
    let Some(list) = given.as_array() else {
        return Err(ApiError::serialization(
            "The member 'routingConfiguration' must be a list",
        ));
    };
    let mut routes = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let version = validate::string(r, "stateMachineVersionArn")?;
        let weight = match r.get("weight") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(-1),
            _ => {
                return Err(ApiError::serialization(
                    "The member 'weight' must be an integer",
                ));
            }
        };
        if !(0..=100).contains(&weight) {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{weight}' at 'routingConfiguration.{}.member.weight' failed to satisfy constraint: Member must have value {} 100",
                i + 1,
                if weight > 100 {
                    "less than or equal to"
                } else {
                    "greater than or equal to 0 and"
                }
            )));
        }
        routes.push(Route {
            version: version.to_owned(),
            weight: weight as u64,
        });
    }
    let arns: Vec<&str> = routes.iter().map(|r| r.version.as_str()).collect();
    let shown = format!("[{}]", arns.join(", "));
    if routes.is_empty() || routes.len() > 2 {
        let items: Vec<String> = routes
            .iter()
            .map(|r| {
                format!(
                    "RoutingConfigurationListItem(stateMachineVersionArn={}, weight={})",
                    r.version, r.weight
                )
            })
            .collect();
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '[{}]' at 'routingConfiguration' failed to satisfy constraint: Member must have length {} 2",
            items.join(", "),
            if routes.is_empty() {
                "greater than or equal to 1 and less than or equal to"
            } else {
                "less than or equal to"
            }
        )));
    }
    let mut machine = None;
    for arn in &arns {
        match target(arn) {
            Ok(Target::Version(m)) if machine.as_ref().is_none_or(|x| *x == m) => {
                machine = Some(m);
            }
            _ => {
                return Err(ApiError::validation(format!(
                    "Routing configuration must contain state machine version ARNs. Received: {shown}"
                )));
            }
        }
    }
    if arns.len() == 2 && arns[0] == arns[1] {
        return Err(ApiError::validation(format!(
            "Routing configuration must contain distinct state machine version ARNs. Received: {shown}"
        )));
    }
    let weights: Vec<String> = routes.iter().map(|r| r.weight.to_string()).collect();
    if routes.iter().map(|r| r.weight).sum::<u64>() != 100 {
        return Err(ApiError::validation(format!(
            "Sum of routing configuration weights must equal 100. Received: [{}]",
            weights.join(", ")
        )));
    }
    for arn in &arns {
        versions::load(cat, arn).await?;
    }
    Ok((routes, machine.unwrap_or_default()))
}

fn routing_json(routes: &[Route]) -> Value {
    routes
        .iter()
        .map(|r| json!({"stateMachineVersionArn": r.version, "weight": r.weight}))
        .collect()
}

pub async fn create<C: Catalog>(cat: &C, body: &Value) -> Res {
    let name = validate::string(body, "name")?;
    check_name(name)?;
    let description = description(body)?;
    let given = body.get("routingConfiguration").ok_or_else(|| {
        ApiError::validation(
            "1 validation error detected: Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let (routes, machine) = routing(cat, given).await?;
    let arn = format!("{machine}:{name}");
    let t = now();
    let alias = Alias {
        machine,
        name: name.to_owned(),
        description: description.map(str::to_owned),
        routing: routes,
        created: t,
        updated: t,
    };
    let entry = Entry {
        key: key(&arn),
        rev: 1,
        body: Resource::Alias(alias.clone()),
    };
    if !cat.put(&entry, None).await.map_err(internal)? {
        // The same alias again is the one that exists.
        let old = load(cat, &arn).await?;
        if old.routing == alias.routing && old.description == alias.description {
            return Ok(
                json!({"stateMachineAliasArn": arn, "creationDate": timestamp(old.created)}),
            );
        }
        return Err(ApiError::conflict(
            "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
        ));
    }
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": timestamp(t)}))
}

fn alias_arn(body: &Value) -> Result<&str, ApiError> {
    let arn = validate::string(body, "stateMachineAliasArn")?;
    match target(arn)? {
        Target::Alias(_) => Ok(arn),
        _ => Err(ApiError::invalid_arn(format!("Invalid Arn: '{arn}'"))),
    }
}

pub async fn describe<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = alias_arn(body)?;
    let a = load(cat, arn).await?;
    let mut out = json!({
        "stateMachineAliasArn": arn,
        "name": a.name,
        "routingConfiguration": routing_json(&a.routing),
        "creationDate": timestamp(a.created),
        "updateDate": timestamp(a.updated),
    });
    if let Some(d) = a.description {
        out["description"] = d.into();
    }
    Ok(out)
}

pub async fn update<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = alias_arn(body)?;
    let description = description(body)?;
    let given = body.get("routingConfiguration").filter(|v| !v.is_null());
    if description.is_none() && given.is_none() {
        return Err(ApiError::validation(
            "Either the description or the RoutingConfiguration must be specified",
        ));
    }
    let routes = match given {
        Some(g) => {
            let (routes, machine) = routing(cat, g).await?;
            if !arn.starts_with(&format!("{machine}:")) {
                return Err(ApiError::validation(
                    "Routing configuration must contain versions of the alias's state machine",
                ));
            }
            Some(routes)
        }
        None => None,
    };
    let t = now();
    modify(cat, &key(arn), not_found, |r| {
        let Resource::Alias(a) = r else {
            return Err(not_found());
        };
        if let Some(d) = description {
            a.description = Some(d.to_owned());
        }
        if let Some(routes) = &routes {
            a.routing = routes.clone();
        }
        a.updated = t;
        Ok(())
    })
    .await?;
    Ok(json!({"updateDate": timestamp(t)}))
}

pub async fn delete<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = alias_arn(body)?;
    cat.delete(&key(arn)).await.map_err(internal)?;
    Ok(json!({}))
}

pub async fn list<C: Catalog>(cat: &C, body: &Value) -> Res {
    // A version's ARN lists the aliases that route to it (the API
    // reference); a machine's, all of its aliases.
    let arn = validate::string(body, "stateMachineArn")?;
    let (body, version) = match target(arn)? {
        Target::Version(machine) => {
            super::versions::load(cat, arn).await?;
            let mut of_machine = body.clone();
            of_machine["stateMachineArn"] = machine.into();
            (std::borrow::Cow::Owned(of_machine), Some(arn))
        }
        _ => (std::borrow::Cow::Borrowed(body), None),
    };
    let routes_to = |a: &Alias| version.is_none_or(|v| a.routing.iter().any(|r| r.version == v));
    let mut all: Vec<_> = machines::children(cat, &body, Kind::Alias)
        .await?
        .into_iter()
        .filter_map(|e| match e.body {
            Resource::Alias(a) if routes_to(&a) => Some((a.created, e.key.arn)),
            _ => None,
        })
        .collect();
    all.sort();
    let items = all
        .into_iter()
        .map(|(created, arn)| json!({"stateMachineAliasArn": arn, "creationDate": timestamp(created)}))
        .collect();
    page(&body, "stateMachineAliases", items)
}

//! TagResource, UntagResource, ListTagsForResource: tags live in the
//! machine's or activity's own entry, so a tag change is one write.

use serde_json::{Value, json};

use super::{Catalog, Key, Res, Resource, activities, internal, machines, modify};
use crate::api::{ApiError, validate};

/// AWS's limit on the tags of one resource.
const MAX_TAGS: usize = 50;

/// A `tags` member: a list of `{key, value}` with AWS's lengths (keys
/// 1–128 characters, values up to 256).
pub(crate) fn parse(tags: Option<&Value>) -> Result<Vec<(String, String)>, ApiError> {
    let list = match tags {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(ApiError::serialization("The member 'tags' must be a list")),
    };
    let mut out = Vec::new();
    for t in list {
        let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str()) else {
            return Err(ApiError::serialization(
                "Each tag needs a string 'key' and 'value'",
            ));
        };
        if k.is_empty() || k.chars().count() > 128 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value '{k}' at 'tags.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"
            )));
        }
        if v.chars().count() > 256 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Merges `add` into `tags` (a key given again takes the new value).
fn merge(tags: &mut Vec<(String, String)>, add: &[(String, String)]) -> Result<(), ApiError> {
    for (k, v) in add {
        match tags.iter_mut().find(|(x, _)| x == k) {
            Some(t) => t.1 = v.clone(),
            None => tags.push((k.clone(), v.clone())),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::too_many_tags(format!(
            "The resource would have more than {MAX_TAGS} tags"
        )));
    }
    Ok(())
}

pub(crate) fn merged(add: Vec<(String, String)>) -> Result<Vec<(String, String)>, ApiError> {
    let mut tags = Vec::new();
    merge(&mut tags, &add)?;
    Ok(tags)
}

fn resource(body: &Value) -> Result<(Key, String), ApiError> {
    let arn = validate::string(body, "resourceArn")?;
    let parts = validate::arn(arn, &["stateMachine", "activity"])?;
    let not_found = ApiError::resource_not_found(format!("Resource not found: '{arn}'"));
    match parts.kind {
        "activity" => Ok((activities::key(arn), arn.to_owned())),
        _ if parts.rest.len() == 1 => Ok((machines::key(arn), arn.to_owned())),
        // Versions and aliases carry no tags.
        _ => Err(not_found),
    }
}

fn tags_of(r: &mut Resource) -> Option<&mut Vec<(String, String)>> {
    match r {
        Resource::Machine(m) => Some(&mut m.tags),
        Resource::Activity(a) => Some(&mut a.tags),
        _ => None,
    }
}

fn missing(arn: &str) -> impl Fn() -> ApiError + '_ {
    move || ApiError::resource_not_found(format!("Resource not found: '{arn}'"))
}

pub async fn tag<C: Catalog>(cat: &C, body: &Value) -> Res {
    let (key, arn) = resource(body)?;
    let add = parse(body.get("tags"))?;
    modify(cat, &key, missing(&arn), |r| {
        let tags = tags_of(r).ok_or_else(missing(&arn))?;
        merge(tags, &add)
    })
    .await?;
    Ok(json!({}))
}

pub async fn untag<C: Catalog>(cat: &C, body: &Value) -> Res {
    let (key, arn) = resource(body)?;
    let keys: Vec<String> = match body.get("tagKeys") {
        Some(Value::Array(l)) => l
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::serialization("tagKeys must be strings"))
            })
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => {
            return Err(ApiError::validation(
                "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
            ));
        }
        Some(_) => {
            return Err(ApiError::serialization(
                "The member 'tagKeys' must be a list",
            ));
        }
    };
    modify(cat, &key, missing(&arn), |r| {
        let tags = tags_of(r).ok_or_else(missing(&arn))?;
        tags.retain(|(k, _)| !keys.contains(k));
        Ok(())
    })
    .await?;
    Ok(json!({}))
}

pub async fn list<C: Catalog>(cat: &C, body: &Value) -> Res {
    let (key, arn) = resource(body)?;
    let mut entry = cat
        .get(&key)
        .await
        .map_err(internal)?
        .ok_or_else(missing(&arn))?;
    let tags = tags_of(&mut entry.body).ok_or_else(missing(&arn))?;
    tags.sort();
    let list: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    Ok(json!({"tags": list}))
}

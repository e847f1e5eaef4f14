//! CreateActivity, DescribeActivity, ListActivities, DeleteActivity. The
//! tasks workers claim stay with each backend's execution store.

use serde_json::{Value, json};

use super::{
    Activity, Catalog, Entry, Key, Kind, Res, Resource, Scope, internal, machines, now, page,
    scope_of, tags,
};
use crate::api::{ApiError, timestamp, validate};

pub(crate) fn key(arn: &str) -> Key {
    Key {
        kind: Kind::Activity,
        parent: scope_of(arn),
        arn: arn.to_owned(),
    }
}

/// The activity named by `body["activityArn"]`: its ARN, or
/// ActivityDoesNotExist / InvalidArn.
pub async fn existing<'a, C: Catalog>(cat: &C, body: &'a Value) -> Result<&'a str, ApiError> {
    let arn = validate::string(body, "activityArn")?;
    validate::arn(arn, &["activity"])?;
    load(cat, arn).await?;
    Ok(arn)
}

/// Whether the activity `arn` exists (a Task that offers it a task fails
/// when it does not).
pub async fn exists<C: Catalog>(cat: &C, arn: &str) -> Result<bool, crate::stepper::PortError> {
    Ok(matches!(
        cat.get(&key(arn)).await?,
        Some(Entry {
            body: Resource::Activity(_),
            ..
        })
    ))
}

async fn load<C: Catalog>(cat: &C, arn: &str) -> Result<Activity, ApiError> {
    match cat.get(&key(arn)).await.map_err(internal)? {
        Some(Entry {
            body: Resource::Activity(a),
            ..
        }) => Ok(a),
        _ => Err(ApiError::activity_does_not_exist(format!(
            "Activity Does Not Exist: '{arn}'"
        ))),
    }
}

pub async fn create<C: Catalog>(cat: &C, scope: &Scope, body: &Value) -> Res {
    let name = validate::string(body, "name")?;
    validate::name("activity", name)?;
    let encryption = machines::encryption(body.get("encryptionConfiguration"))?;
    let tag_list = tags::merged(tags::parse(body.get("tags"))?)?;
    let arn = scope.arn("activity", name);
    let activity = Activity {
        name: name.to_owned(),
        created: now(),
        encryption,
        tags: tag_list,
    };
    let entry = Entry {
        key: key(&arn),
        rev: 1,
        body: Resource::Activity(activity.clone()),
    };
    // Creating an existing activity again returns it (different tags are
    // ignored, and not applied), unless it asks for another encryption,
    // which may not be updated.
    let created = if cat.put(&entry, None).await.map_err(internal)? {
        activity.created
    } else {
        let old = load(cat, &arn).await?;
        if old.encryption != activity.encryption {
            return Err(ApiError::activity_already_exists(format!(
                "Activity Already Exists: '{arn}': its encryptionConfiguration may not be updated"
            )));
        }
        old.created
    };
    Ok(json!({"activityArn": arn, "creationDate": timestamp(created)}))
}

pub async fn describe<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "activityArn")?;
    validate::arn(arn, &["activity"])?;
    let a = load(cat, arn).await?;
    Ok(json!({
        "activityArn": arn, "name": a.name, "creationDate": timestamp(a.created),
        "encryptionConfiguration": a.encryption,
    }))
}

pub async fn list<C: Catalog>(cat: &C, scope: &Scope, body: &Value) -> Res {
    validate::page(body)?;
    let mut all: Vec<(i64, String, String)> = cat
        .list(Kind::Activity, &scope.root())
        .await
        .map_err(internal)?
        .into_iter()
        .filter_map(|e| match e.body {
            Resource::Activity(a) => Some((a.created, e.key.arn, a.name)),
            _ => None,
        })
        .collect();
    all.sort();
    let items = all
        .into_iter()
        .map(|(created, arn, name)| json!({"activityArn": arn, "name": name, "creationDate": timestamp(created)}))
        .collect();
    page(body, "activities", items)
}

pub async fn delete<C: Catalog>(cat: &C, body: &Value) -> Res {
    let arn = validate::string(body, "activityArn")?;
    validate::arn(arn, &["activity"])?;
    cat.delete(&key(arn)).await.map_err(internal)?;
    Ok(json!({}))
}

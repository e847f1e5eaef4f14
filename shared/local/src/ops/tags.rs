//! TagResource, UntagResource, ListTagsForResource.

use rusqlite::params;
use serde_json::{Value, json};
use stepwise_api::{ApiError, validate};

use super::Res;
use crate::db::Db;
use crate::worker::Worker;

const MAX_TAGS: i64 = 50;

fn exists(db: &Db, arn: &str) -> rusqlite::Result<bool> {
    let n: i64 = db.query_row(
        "SELECT (SELECT COUNT(*) FROM state_machines WHERE arn = ?1) + (SELECT COUNT(*) FROM activities WHERE arn = ?1)",
        [arn],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn resource<'a>(db: &Db, body: &'a Value) -> Result<&'a str, super::Fail> {
    let arn = validate::string(body, "resourceArn")?;
    validate::arn(arn, &["stateMachine", "activity"])?;
    if !exists(db, arn)? {
        return Err(ApiError::resource_not_found(format!("Resource not found: '{arn}'")).into());
    }
    Ok(arn)
}

pub fn write(w: &Worker, arn: &str, tags: Option<&Value>) -> Result<(), super::Fail> {
    let Some(Value::Array(list)) = tags else {
        return Ok(());
    };
    for t in list {
        let (Some(k), Some(v)) = (t["key"].as_str(), t["value"].as_str()) else {
            return Err(ApiError::validation("Each tag needs a string 'key' and 'value'").into());
        };
        w.conn.execute(
            "INSERT OR REPLACE INTO tags (resource, key, value) VALUES (?1, ?2, ?3)",
            params![arn, k, v],
        )?;
    }
    let n: i64 = w.conn.query_row(
        "SELECT COUNT(*) FROM tags WHERE resource = ?1",
        [arn],
        |r| r.get(0),
    )?;
    if n > MAX_TAGS {
        return Err(ApiError::too_many_tags(format!(
            "The resource '{arn}' would have more than {MAX_TAGS} tags"
        ))
        .into());
    }
    Ok(())
}

pub fn tag(w: &mut Worker, body: &Value) -> Res {
    let arn = resource(&w.conn, body)?;
    write(w, arn, body.get("tags"))?;
    Ok(json!({}))
}

pub fn untag(w: &mut Worker, body: &Value) -> Res {
    let arn = resource(&w.conn, body)?;
    for k in body["tagKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        w.conn.execute(
            "DELETE FROM tags WHERE resource = ?1 AND key = ?2",
            params![arn, k],
        )?;
    }
    Ok(json!({}))
}

pub fn list(db: &Db, body: &Value) -> Res {
    let arn = resource(db, body)?;
    let mut stmt = db.prepare("SELECT key, value FROM tags WHERE resource = ?1 ORDER BY key")?;
    let tags: Vec<Value> = stmt
        .query_map([arn], |r| {
            Ok(json!({"key": r.get::<_, String>(0)?, "value": r.get::<_, String>(1)?}))
        })?
        .collect::<Result<_, _>>()?;
    Ok(json!({"tags": tags}))
}

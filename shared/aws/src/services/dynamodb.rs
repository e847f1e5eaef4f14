//! DynamoDB getItem, putItem, updateItem and deleteItem, with attribute
//! values in DynamoDB JSON as AWS's integration takes and returns them.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use super::{ServiceTasks, invalid, metadata, missing, require, service_error, text};

impl ServiceTasks {
    pub(super) async fn dynamodb(&self, op: &str, p: &Value) -> TaskResult {
        let subject = if op == "putItem" { "Item" } else { "Key" };
        require("DynamoDB", p, &["TableName", subject])?;
        let table = text(p, "TableName", op)?.to_owned();
        let names: Option<HashMap<String, String>> =
            p["ExpressionAttributeNames"].as_object().map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            });
        let values = p["ExpressionAttributeValues"]
            .as_object()
            .map(to_item)
            .transpose()?;
        let key = p["Key"].as_object().map(to_item).transpose()?;
        let condition = p["ConditionExpression"].as_str().map(str::to_owned);
        let returns = p["ReturnValues"].as_str().map(ReturnValue::from);
        let d = &self.clients()?.dynamodb;
        let mut out = Map::new();
        let request_id;
        match op {
            "getItem" => {
                let r = d
                    .get_item()
                    .table_name(table)
                    .set_key(key)
                    .set_consistent_read(p["ConsistentRead"].as_bool())
                    .set_projection_expression(
                        p["ProjectionExpression"].as_str().map(str::to_owned),
                    )
                    .set_expression_attribute_names(names)
                    .send()
                    .await
                    .map_err(|e| service_error("DynamoDB", &e))?;
                request_id = r.request_id().map(str::to_owned);
                if let Some(item) = r.item {
                    out.insert("Item".into(), from_item(&item));
                }
            }
            "putItem" => {
                let item = p["Item"]
                    .as_object()
                    .map(to_item)
                    .transpose()?
                    .ok_or_else(|| missing("Item", op))?;
                let r = d
                    .put_item()
                    .table_name(table)
                    .set_item(Some(item))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values(returns)
                    .send()
                    .await
                    .map_err(|e| service_error("DynamoDB", &e))?;
                request_id = r.request_id().map(str::to_owned);
                if let Some(a) = r.attributes {
                    out.insert("Attributes".into(), from_item(&a));
                }
            }
            "updateItem" => {
                let r = d
                    .update_item()
                    .table_name(table)
                    .set_key(key)
                    .set_update_expression(p["UpdateExpression"].as_str().map(str::to_owned))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values(returns)
                    .send()
                    .await
                    .map_err(|e| service_error("DynamoDB", &e))?;
                request_id = r.request_id().map(str::to_owned);
                if let Some(a) = r.attributes {
                    out.insert("Attributes".into(), from_item(&a));
                }
            }
            _ => {
                let r = d
                    .delete_item()
                    .table_name(table)
                    .set_key(key)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .set_return_values(returns)
                    .send()
                    .await
                    .map_err(|e| service_error("DynamoDB", &e))?;
                request_id = r.request_id().map(str::to_owned);
                if let Some(a) = r.attributes {
                    out.insert("Attributes".into(), from_item(&a));
                }
            }
        }
        metadata(
            &mut out,
            request_id.as_deref(),
            "application/x-amz-json-1.0",
        );
        Ok(Value::Object(out))
    }
}

/// DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, …) to the SDK's values.
fn to_value(v: &Value) -> Result<AttributeValue, StatesError> {
    let bad = || invalid(format!("Not a DynamoDB attribute value: {v}"));
    let o = v.as_object().filter(|o| o.len() == 1).ok_or_else(bad)?;
    let (kind, x) = o.iter().next().ok_or_else(bad)?;
    let strings = |x: &Value| -> Result<Vec<String>, StatesError> {
        x.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(bad))
            .collect()
    };
    let blob = |s: &str| -> Result<Blob, StatesError> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Blob::new)
            .map_err(|_| bad())
    };
    Ok(match kind.as_str() {
        "S" => AttributeValue::S(x.as_str().ok_or_else(bad)?.to_owned()),
        "N" => AttributeValue::N(match x {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(bad()),
        }),
        "BOOL" => AttributeValue::Bool(x.as_bool().ok_or_else(bad)?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(x.as_str().ok_or_else(bad)?)?),
        "SS" => AttributeValue::Ss(strings(x)?),
        "NS" => AttributeValue::Ns(strings(x)?),
        "BS" => AttributeValue::Bs(
            strings(x)?
                .iter()
                .map(|s| blob(s))
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            x.as_array()
                .ok_or_else(bad)?
                .iter()
                .map(to_value)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(to_item(x.as_object().ok_or_else(bad)?)?),
        _ => return Err(bad()),
    })
}

fn to_item(o: &Map<String, Value>) -> Result<HashMap<String, AttributeValue>, StatesError> {
    o.iter()
        .map(|(k, v)| Ok((k.clone(), to_value(v)?)))
        .collect()
}

fn from_value(v: &AttributeValue) -> Value {
    use base64::Engine as _;
    let b64 =
        |b: &Blob| Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_ref()));
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::B(b) => json!({"B": b64(b)}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(s) => json!({"NS": s}),
        AttributeValue::Bs(s) => json!({"BS": s.iter().map(b64).collect::<Vec<_>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(from_value).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": from_item(m)}),
        _ => Value::Null,
    }
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Value {
    let mut keys: Vec<&String> = item.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), from_value(&item[k])))
            .collect(),
    )
}

//! AWS service integrations for Task states, with AWS's resource ARNs,
//! parameters, result shapes and error names:
//!
//! | resource | call | result |
//! | --- | --- | --- |
//! | `arn:aws:states:::sqs:sendMessage` (`.waitForTaskToken`) | SendMessage: `QueueUrl`, `MessageBody` (JSON other than a string is sent as its text), `DelaySeconds`, `MessageGroupId`, `MessageDeduplicationId` | `MessageId`, `MD5OfMessageBody` |
//! | `arn:aws:states:::dynamodb:getItem` / `putItem` / `updateItem` / `deleteItem` | the DynamoDB API's parameters, attribute values in DynamoDB JSON | the API's response (`Item`, `Attributes`) |
//!
//! A failed call fails the task with `SQS.<Code>` or `DynamoDB.<Code>`
//! (e.g. `DynamoDB.ConditionalCheckFailedException`), so Retry and Catch
//! match them as on AWS.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::{Map, Value, json};
use stepwise_asl::{StatesError, TaskCall};
use stepwise_engine::ports::{TaskContext, TaskResult, Tasks};

use crate::Clients;

#[derive(Clone)]
pub struct ServiceTasks {
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

/// Service integrations first; any other resource goes to `fallback`.
pub struct WithServices<T> {
    pub services: Option<ServiceTasks>,
    pub fallback: T,
}

impl<T: Tasks> Tasks for WithServices<T> {
    async fn invoke(&self, call: &TaskCall, ctx: &TaskContext<'_>) -> TaskResult {
        if let Some(s) = &self.services
            && let Some(result) = s.call(call).await
        {
            return result;
        }
        self.fallback.invoke(call, ctx).await
    }

    fn answers_callbacks(&self, call: &TaskCall) -> bool {
        self.fallback.answers_callbacks(call)
    }
}

impl ServiceTasks {
    pub fn new(clients: &Clients) -> ServiceTasks {
        ServiceTasks {
            sqs: clients.sqs.clone(),
            dynamodb: clients.dynamodb.clone(),
        }
    }

    /// The call's result, or `None` when the resource is not a service
    /// integration this runs.
    pub async fn call(&self, call: &TaskCall) -> Option<TaskResult> {
        let rest = call.resource.strip_prefix("arn:aws:states:::")?;
        let action = rest.split('.').next().unwrap_or(rest);
        let p = &call.payload;
        Some(match action {
            "sqs:sendMessage" => self.send_message(p).await,
            "dynamodb:getItem"
            | "dynamodb:putItem"
            | "dynamodb:updateItem"
            | "dynamodb:deleteItem" => self.dynamodb(&action["dynamodb:".len()..], p).await,
            _ => return None,
        })
    }

    /// The same, from synchronous code (the SDK needs a runtime of its own).
    pub fn call_blocking(&self, call: &TaskCall) -> Option<TaskResult> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(self.call(call))
    }

    async fn send_message(&self, p: &Value) -> TaskResult {
        let url = text(p, "QueueUrl", "sqs:sendMessage")?;
        let body = match &p["MessageBody"] {
            Value::String(s) => s.clone(),
            Value::Null => return Err(missing("MessageBody", "sqs:sendMessage")),
            other => other.to_string(),
        };
        let out = self
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .set_delay_seconds(p["DelaySeconds"].as_i64().map(|d| d as i32))
            .set_message_group_id(p["MessageGroupId"].as_str().map(str::to_owned))
            .set_message_deduplication_id(p["MessageDeduplicationId"].as_str().map(str::to_owned))
            .send()
            .await
            .map_err(|e| service_error("SQS", &e))?;
        Ok(json!({
            "MessageId": out.message_id,
            "MD5OfMessageBody": out.md5_of_message_body,
        }))
    }

    async fn dynamodb(&self, op: &str, p: &Value) -> TaskResult {
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
        let d = &self.dynamodb;
        let mut out = Map::new();
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
                if let Some(a) = r.attributes {
                    out.insert("Attributes".into(), from_item(&a));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

fn missing(field: &str, op: &str) -> StatesError {
    StatesError::custom(
        "States.Runtime",
        format!("The {op} task needs the parameter '{field}'"),
    )
}

fn text<'a>(p: &'a Value, field: &str, op: &str) -> Result<&'a str, StatesError> {
    p[field].as_str().ok_or_else(|| missing(field, op))
}

/// `SQS.QueueDoesNotExistException`, `DynamoDB.ConditionalCheckFailedException`, …
fn service_error(
    service: &str,
    e: &dyn aws_sdk_dynamodb::error::ProvideErrorMetadata,
) -> StatesError {
    let code = e.code().unwrap_or("ServiceException");
    let code = code.rsplit('.').next().unwrap_or(code);
    let code = match code {
        "NonExistentQueue" | "QueueDoesNotExist" => "QueueDoesNotExist",
        other => other,
    };
    let name = if code.ends_with("Exception") {
        format!("{service}.{code}")
    } else {
        format!("{service}.{code}Exception")
    };
    StatesError::custom(
        name,
        e.message().unwrap_or("the service call failed").to_owned(),
    )
}

/// DynamoDB JSON (`{"S": "x"}`, `{"N": "1"}`, …) to the SDK's values.
fn to_value(v: &Value) -> Result<AttributeValue, StatesError> {
    let bad = || {
        StatesError::custom(
            "States.Runtime",
            format!("Not a DynamoDB attribute value: {v}"),
        )
    };
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

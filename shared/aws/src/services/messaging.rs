//! Messages out: SQS sendMessage, SNS publish, EventBridge putEvents.

use std::collections::HashMap;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sqs::operation::RequestId;
use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use super::{ServiceTasks, invalid, metadata, missing, require, service_error, text};

/// A message body as AWS's integrations send it: a string as it is, other
/// JSON as its text.
fn body_text(p: &Value, field: &str, op: &str) -> Result<String, StatesError> {
    match &p[field] {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Err(missing(field, op)),
        other => Ok(other.to_string()),
    }
}

/// Where a queue URL points: its scheme and host, and the region an AWS
/// host names (`sqs.<region>.amazonaws.com`, `<region>.queue.amazonaws.com`).
fn queue_host(url: &str) -> Option<(String, Option<String>)> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    let name = host.split(':').next().unwrap_or(host);
    let region = match name.split('.').collect::<Vec<_>>().as_slice() {
        ["sqs", region, "amazonaws", ..] | [region, "queue", "amazonaws", ..] => {
            Some((*region).to_owned())
        }
        _ => None,
    };
    Some((format!("{scheme}://{host}"), region))
}

fn optional(p: &Value, field: &str) -> Option<String> {
    p[field].as_str().map(str::to_owned)
}

impl ServiceTasks {
    pub(super) async fn send_message(&self, p: &Value) -> TaskResult {
        const OP: &str = "sqs:sendMessage";
        require("SQS", p, &["QueueUrl", "MessageBody"])?;
        let url = text(p, "QueueUrl", OP)?;
        let clients = self.clients()?;
        let request = clients
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body_text(p, "MessageBody", OP)?)
            .set_delay_seconds(p["DelaySeconds"].as_i64().map(|d| d as i32))
            .set_message_group_id(optional(p, "MessageGroupId"))
            .set_message_deduplication_id(optional(p, "MessageDeduplicationId"))
            .set_message_attributes(attributes(p, sqs_attribute)?);
        // On AWS the request goes where the queue's URL points, its region
        // included (a local stand-in, when one is configured, answers all).
        let out = match queue_host(url).filter(|_| clients.endpoint("SQS").is_none()) {
            Some((host, region)) => {
                let mut to = aws_sdk_sqs::config::Builder::default().endpoint_url(host);
                if let Some(region) = region {
                    to = to.region(aws_sdk_sqs::config::Region::new(region));
                }
                request.customize().config_override(to).send().await
            }
            None => request.send().await,
        }
        .map_err(|e| service_error("SQS", &e))?;
        let mut result = Map::new();
        if let Some(md5) = &out.md5_of_message_attributes {
            result.insert("MD5OfMessageAttributes".into(), json!(md5));
        }
        result.insert("MD5OfMessageBody".into(), json!(out.md5_of_message_body));
        result.insert("MessageId".into(), json!(out.message_id));
        metadata(&mut result, out.request_id(), "application/x-amz-json-1.0");
        Ok(Value::Object(result))
    }

    pub(super) async fn publish(&self, p: &Value) -> TaskResult {
        const OP: &str = "sns:publish";
        let out = self
            .clients()?
            .sns()
            .publish()
            .set_topic_arn(optional(p, "TopicArn"))
            .set_target_arn(optional(p, "TargetArn"))
            .set_phone_number(optional(p, "PhoneNumber"))
            .message(body_text(p, "Message", OP)?)
            .set_subject(optional(p, "Subject"))
            .set_message_structure(optional(p, "MessageStructure"))
            .set_message_attributes(attributes(p, sns_attribute)?)
            .set_message_group_id(optional(p, "MessageGroupId"))
            .set_message_deduplication_id(optional(p, "MessageDeduplicationId"))
            .send()
            .await
            .map_err(|e| service_error("SNS", &e))?;
        let mut result = Map::new();
        result.insert("MessageId".into(), json!(out.message_id));
        if let Some(n) = &out.sequence_number {
            result.insert("SequenceNumber".into(), json!(n));
        }
        metadata(&mut result, out.request_id(), "text/xml");
        Ok(Value::Object(result))
    }

    /// PutEvents; an entry EventBridge refuses fails the task with
    /// `EventBridge.FailedEntry`, as on AWS.
    /// PutEvents: as AWS sends them, each event's `resources` also name the
    /// state machine and the execution that sent it.
    pub(super) async fn put_events(&self, p: &Value, execution: &str) -> TaskResult {
        const OP: &str = "events:putEvents";
        require("EventBridge", p, &["Entries"])?;
        let sender = sender_arns(execution);
        let entries = p["Entries"]
            .as_array()
            .ok_or_else(|| missing("Entries", OP))?
            .iter()
            .map(|e| {
                let detail = match &e["Detail"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                };
                let mut resources: Vec<String> = (e["Resources"].as_array().into_iter())
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect();
                resources.extend(sender.iter().cloned());
                PutEventsRequestEntry::builder()
                    .set_source(optional(e, "Source"))
                    .set_detail_type(optional(e, "DetailType"))
                    .set_detail(detail)
                    .set_event_bus_name(optional(e, "EventBusName"))
                    .set_resources(Some(resources).filter(|r| !r.is_empty()))
                    .set_trace_header(optional(e, "TraceHeader"))
                    .build()
            })
            .collect::<Vec<_>>();
        let out = self
            .clients()?
            .eventbridge()
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| service_error("EventBridge", &e))?;
        let entries: Vec<Value> = out
            .entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                let mut o = Map::new();
                if let Some(id) = e.event_id {
                    o.insert("EventId".into(), id.into());
                }
                if let Some(code) = e.error_code {
                    o.insert("ErrorCode".into(), code.into());
                }
                if let Some(message) = e.error_message {
                    o.insert("ErrorMessage".into(), message.into());
                }
                Value::Object(o)
            })
            .collect();
        let result = json!({"Entries": entries, "FailedEntryCount": out.failed_entry_count});
        if out.failed_entry_count > 0 {
            return Err(StatesError::custom(
                "EventBridge.FailedEntry",
                result.to_string(),
            ));
        }
        Ok(result)
    }
}

/// A message's `MessageAttributes`, each
/// `{"DataType": "String", "StringValue": "x"}` (or `BinaryValue`, base64),
/// built into one service's attribute type.
fn attributes<A>(
    p: &Value,
    build: fn(Attribute) -> Result<A, StatesError>,
) -> Result<Option<HashMap<String, A>>, StatesError> {
    let Some(o) = p["MessageAttributes"].as_object() else {
        return Ok(None);
    };
    o.iter()
        .map(|(name, v)| {
            let binary = match v["BinaryValue"].as_str() {
                None => None,
                Some(b) => {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|_| invalid(format!("Not base64: {b}")))?;
                    Some(bytes)
                }
            };
            let kind = v["DataType"].as_str().unwrap_or("String").to_owned();
            let text = optional(v, "StringValue");
            Ok((name.clone(), build(Attribute { kind, text, binary })?))
        })
        .collect::<Result<HashMap<_, _>, _>>()
        .map(Some)
}

/// One message attribute, before it becomes a service's own type.
struct Attribute {
    kind: String,
    text: Option<String>,
    binary: Option<Vec<u8>>,
}

fn sns_attribute(a: Attribute) -> Result<MessageAttributeValue, StatesError> {
    MessageAttributeValue::builder()
        .data_type(a.kind)
        .set_string_value(a.text)
        .set_binary_value(a.binary.map(aws_sdk_sns::primitives::Blob::new))
        .build()
        .map_err(|e| invalid(e.to_string()))
}

fn sqs_attribute(a: Attribute) -> Result<aws_sdk_sqs::types::MessageAttributeValue, StatesError> {
    aws_sdk_sqs::types::MessageAttributeValue::builder()
        .data_type(a.kind)
        .set_string_value(a.text)
        .set_binary_value(a.binary.map(aws_sdk_sqs::primitives::Blob::new))
        .build()
        .map_err(|e| invalid(e.to_string()))
}

/// The state machine's and the execution's ARNs, from the execution's
/// (`…:execution:<machine>:<name>`, or an EXPRESS `…:express:<machine>:<name>:<id>`).
fn sender_arns(execution: &str) -> Vec<String> {
    let machine = [":execution:", ":express:"].iter().find_map(|kind| {
        let (scope, rest) = execution.split_once(kind)?;
        let name = rest.split(':').next()?;
        Some(format!("{scope}:stateMachine:{name}"))
    });
    match machine {
        Some(m) => vec![m, execution.to_owned()],
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::queue_host;

    #[test]
    fn a_queue_url_names_its_host_and_region() {
        let host = |u: &str| queue_host(u).map(|(h, r)| (h, r.unwrap_or_default()));
        assert_eq!(
            host("https://sqs.eu-west-1.amazonaws.com/123456789012/q"),
            Some((
                "https://sqs.eu-west-1.amazonaws.com".into(),
                "eu-west-1".into()
            ))
        );
        assert_eq!(
            host("https://ap-south-1.queue.amazonaws.com/123456789012/q"),
            Some((
                "https://ap-south-1.queue.amazonaws.com".into(),
                "ap-south-1".into()
            ))
        );
        assert_eq!(
            host("http://127.0.0.1:4566/000000000000/q"),
            Some(("http://127.0.0.1:4566".into(), String::new()))
        );
        assert_eq!(host("not a url"), None);
    }
}

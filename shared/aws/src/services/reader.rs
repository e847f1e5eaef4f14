//! A Distributed Map's ItemReader on S3: `s3:getObject` reads one object's
//! items (`ReaderConfig.InputType` JSON — an array, or the one
//! `ItemsPointer` points at —, JSONL, CSV with `CSVHeaderLocation`
//! FIRST_ROW or GIVEN and `CSVDelimiter`), `s3:listObjectsV2` lists a bucket
//! and prefix (each item an object's summary, as AWS gives it; with
//! `Transformation: LOAD_AND_FLATTEN`, the items each object holds),
//! `MaxItems` at most; manifests in [`super::manifest`]. A failure here is
//! the Map's `States.ItemReaderFailed`.

use serde_json::{Map, Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use crate::Clients;

pub(super) fn failed(message: String) -> StatesError {
    StatesError::custom("States.ItemReaderFailed", message)
}

/// Reads the items `action` (`getObject` or `listObjectsV2`) names.
pub fn read(clients: &Clients, action: &str, payload: &Value) -> TaskResult {
    let config = payload.get("ReaderConfig").cloned().unwrap_or(json!({}));
    let max = match config.get("MaxItems") {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    let mut parameters = payload.clone();
    if let Some(o) = parameters.as_object_mut() {
        o.remove("ReaderConfig");
    }
    let mut items = match action {
        "getObject" => object_items(clients, &parameters, &config, max)?,
        "listObjectsV2" => listed_items(clients, &parameters, &config, max)?,
        other => return Err(failed(format!("An ItemReader cannot read with s3:{other}"))),
    };
    if max > 0 {
        items.truncate(max);
    }
    Ok(Value::Array(items))
}

fn object_items(
    clients: &Clients,
    parameters: &Value,
    config: &Value,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    if let Some(kind) = super::manifest::kind(config) {
        return super::manifest::items(clients, kind, parameters, config, max);
    }
    // Read as bytes: an object too large to read whole fails, rather than
    // being read in part.
    let bytes = crate::sdk::call_raw(clients, "s3", "getObject", parameters)?;
    parse(&String::from_utf8_lossy(&bytes), config, max)
}

/// The items of one object's text, as `ReaderConfig` says to read them.
pub fn parse(body: &str, config: &Value, max: usize) -> Result<Vec<Value>, StatesError> {
    let kind = config
        .get("InputType")
        .and_then(Value::as_str)
        .unwrap_or("JSON");
    match kind {
        "JSON" => {
            let doc: Value = serde_json::from_str(body)
                .map_err(|e| failed(format!("The object is not valid JSON: {e}")))?;
            let at = match config.get("ItemsPointer").and_then(Value::as_str) {
                Some(ptr) => doc.pointer(ptr).cloned().ok_or_else(|| {
                    failed(format!(
                        "The ItemsPointer '{ptr}' points at nothing in the object"
                    ))
                })?,
                None => doc,
            };
            match at {
                Value::Array(a) => Ok(a),
                _ => Err(failed(
                    "The object's items must be a JSON array (or ItemsPointer must point at one)"
                        .into(),
                )),
            }
        }
        "JSONL" => body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(if max > 0 { max } else { usize::MAX })
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l)
                    .map_err(|e| failed(format!("Line {} is not valid JSON: {e}", i + 1)))
            })
            .collect(),
        "CSV" => csv_items(body, config, max),
        other => Err(failed(format!(
            "Stepwise does not read ItemReader InputType {other} yet (JSON, JSONL and CSV)"
        ))),
    }
}

fn csv_items(body: &str, config: &Value, max: usize) -> Result<Vec<Value>, StatesError> {
    let delimiter = match config.get("CSVDelimiter").and_then(Value::as_str) {
        None | Some("COMMA") => ',',
        Some("PIPE") => '|',
        Some("SEMICOLON") => ';',
        Some("SPACE") => ' ',
        Some("TAB") => '\t',
        Some(other) => return Err(failed(format!("Unknown CSVDelimiter {other}"))),
    };
    let mut rows = csv_rows(body, delimiter).into_iter();
    let headers: Vec<String> = match config.get("CSVHeaderLocation").and_then(Value::as_str) {
        Some("GIVEN") => config
            .get("CSVHeaders")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|h| h.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .ok_or_else(|| failed("CSVHeaderLocation GIVEN needs CSVHeaders".into()))?,
        _ => rows
            .next()
            .ok_or_else(|| failed("The CSV object has no header row".into()))?,
    };
    let mut items = Vec::new();
    for row in rows {
        if max > 0 && items.len() == max {
            break;
        }
        if row.len() != headers.len() {
            return Err(failed(format!(
                "A CSV row has {} fields where the headers name {}",
                row.len(),
                headers.len()
            )));
        }
        let item: Map<String, Value> = headers
            .iter()
            .cloned()
            .zip(row.into_iter().map(Value::String))
            .collect();
        items.push(Value::Object(item));
    }
    Ok(items)
}

/// RFC 4180 records: quoted fields may hold the delimiter, line breaks
/// and doubled quotes; blank lines are skipped.
fn csv_rows(body: &str, delimiter: char) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            c if c == delimiter => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                }
                row.clear();
            }
            c => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn listed_items(
    clients: &Clients,
    parameters: &Value,
    config: &Value,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    let flatten = config.get("Transformation").and_then(Value::as_str) == Some("LOAD_AND_FLATTEN");
    let bucket = parameters.get("Bucket").cloned().unwrap_or(Value::Null);
    let mut items = Vec::new();
    let mut request = parameters.clone();
    loop {
        let page = crate::sdk::call(clients, "s3", "listObjectsV2", &request)?;
        for o in page["Contents"].as_array().into_iter().flatten() {
            if max > 0 && items.len() >= max {
                return Ok(items);
            }
            if flatten {
                let got = json!({"Bucket": bucket, "Key": o["Key"]});
                items.extend(object_items(clients, &got, config, 0)?);
                continue;
            }
            let modified = o["LastModified"]
                .as_str()
                .and_then(stepwise_asl::timestamp::parse_millis)
                .map_or(Value::Null, |ms| (ms / 1000).into());
            items.push(json!({
                "Etag": o["ETag"],
                "Key": o["Key"],
                "LastModified": modified,
                "Size": o["Size"],
                "StorageClass": o["StorageClass"],
            }));
        }
        match page.get("NextContinuationToken") {
            Some(token) if page["IsTruncated"] == true => {
                request["ContinuationToken"] = token.clone();
            }
            _ => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_read_as_reader_config_says() {
        let cfg = json!({"InputType": "JSON", "ItemsPointer": "/orders"});
        assert_eq!(
            parse(r#"{"orders": [1, {"a": 2}]}"#, &cfg, 0).unwrap(),
            [json!(1), json!({"a": 2})]
        );
        let lines = "{\"n\": 1}\n\n{\"n\": 2}\n{\"n\": 3}\n";
        assert_eq!(
            parse(lines, &json!({"InputType": "JSONL"}), 2)
                .unwrap()
                .len(),
            2
        );
        let csv = "id,name\n1,\"Smith, J\"\n2,\"say \"\"hi\"\"\"\n";
        assert_eq!(
            parse(csv, &json!({"InputType": "CSV"}), 0).unwrap(),
            [
                json!({"id": "1", "name": "Smith, J"}),
                json!({"id": "2", "name": "say \"hi\""})
            ]
        );
        let given = json!({"InputType": "CSV", "CSVHeaderLocation": "GIVEN",
                           "CSVHeaders": ["a", "b"], "CSVDelimiter": "PIPE"});
        assert_eq!(
            parse("1|2\r\n3|4", &given, 0).unwrap()[1],
            json!({"a": "3", "b": "4"})
        );
        let e = parse("[1", &json!({}), 0).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.ItemReaderFailed"));
        assert!(parse("{}", &json!({"InputType": "JSON"}), 0).is_err());
        assert!(parse("a,b\n1", &json!({"InputType": "CSV"}), 0).is_err());
    }
}

//! A Distributed Map's ItemReader on S3: `s3:getObject` reads one object's
//! items (`ReaderConfig.InputType` JSON — an array, or the one
//! `ItemsPointer` points at —, JSONL, CSV with `CSVHeaderLocation`
//! FIRST_ROW or GIVEN and `CSVDelimiter`, PARQUET: each row an object, see
//! [`super::parquet`]), `s3:listObjectsV2` lists a bucket
//! and prefix (each item an object's summary, as AWS gives it; with
//! `Transformation: LOAD_AND_FLATTEN`, the items each object holds),
//! `MaxItems` at most; manifests in [`super::manifest`]. A failure here is
//! the Map's `States.ItemReaderFailed`.

use serde_json::{Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use crate::Clients;

pub(super) use stepwise_engine::items::failed;

/// Reads the items `action` (`getObject` or `listObjectsV2`) names.
pub fn read(clients: &Clients, action: &str, payload: &Value) -> TaskResult {
    let config = payload.get("ReaderConfig").cloned().unwrap_or(json!({}));
    let max = stepwise_engine::items::max_items(&config)?;
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
    parse_bytes(&bytes, config, max)
}

/// The items of one object's bytes: a Parquet file's rows, or the items
/// of its text, as `ReaderConfig` says to read them.
pub fn parse_bytes(bytes: &[u8], config: &Value, max: usize) -> Result<Vec<Value>, StatesError> {
    match config.get("InputType").and_then(Value::as_str) {
        Some("PARQUET") => super::parquet::items(bytes, max),
        _ => parse(&String::from_utf8_lossy(bytes), config, max),
    }
}

/// The items of one object's text, as `ReaderConfig` says to read them
/// (written once, with TestState's `mapItemReaderData`).
pub use stepwise_engine::items::parse;

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
                let left = if max > 0 { max - items.len() } else { 0 };
                items.extend(object_items(clients, &got, config, left)?);
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
        // A short row has "" for the rest (as AWS reads it); duplicate
        // headers fail.
        assert_eq!(
            parse("a,b\n1", &json!({"InputType": "CSV"}), 0).unwrap(),
            [json!({"a": "1", "b": ""})]
        );
        assert!(parse("a,a\n1,2", &json!({"InputType": "CSV"}), 0).is_err());
        let parquet = json!({"InputType": "PARQUET"});
        let e = parse_bytes(b"PAR1, but no more", &parquet, 0).unwrap_err();
        assert_eq!(e.error.as_deref(), Some("States.ItemReaderFailed"));
    }
}

//! ItemReader manifests: an S3 Inventory report (`ReaderConfig.InputType:
//! MANIFEST` or `ManifestType: S3_INVENTORY`) and an Athena data manifest
//! (`ManifestType: ATHENA_DATA`, with `InputType` CSV, JSONL or PARQUET).
//!
//! An inventory's `manifest.json` lists its data files (`files[].key`, in
//! the `destinationBucket`), gzip-compressed CSV without a header row whose
//! columns `fileSchema` names; each row is an item whose members are those
//! names and whose values are text, as AWS gives them
//! (`{"Bucket", "Key", "Size", "LastModifiedDate", …}`). An Athena data
//! manifest (what `UNLOAD` writes) is a list of the data files' `s3://`
//! URIs, one a line; their rows or lines are the items.

use std::io::Read;

use serde_json::{Value, json};
use stepwise_asl::StatesError;

use super::reader::{failed, parse, parse_bytes};
use crate::Clients;

/// The largest data file read, uncompressed (a larger one fails the read).
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// Which manifest the reader's configuration names, if any.
pub fn kind(config: &Value) -> Option<&str> {
    match (
        config.get("ManifestType").and_then(Value::as_str),
        config.get("InputType").and_then(Value::as_str),
    ) {
        (Some(kind), _) => Some(kind),
        (None, Some("MANIFEST")) => Some("S3_INVENTORY"),
        _ => None,
    }
}

/// The items of the manifest `parameters` (Bucket, Key) names.
pub fn items(
    clients: &Clients,
    kind: &str,
    parameters: &Value,
    config: &Value,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    let got = crate::sdk::call(clients, "s3", "getObject", parameters)?;
    let text = got["Body"].as_str().unwrap_or_default();
    match kind {
        "S3_INVENTORY" => inventory(clients, parameters, text, config, max),
        "ATHENA_DATA" => athena(clients, text, config, max),
        other => Err(failed(format!(
            "Unknown ManifestType {other} (S3_INVENTORY or ATHENA_DATA)"
        ))),
    }
}

fn inventory(
    clients: &Clients,
    parameters: &Value,
    text: &str,
    config: &Value,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    let manifest: Value = serde_json::from_str(text)
        .map_err(|e| failed(format!("The S3 Inventory manifest is not valid JSON: {e}")))?;
    let format = manifest["fileFormat"].as_str().unwrap_or("CSV");
    if format != "CSV" {
        return Err(failed(format!(
            "The S3 Inventory report is {format}: an ItemReader reads CSV inventories only"
        )));
    }
    let Some(schema) = manifest["fileSchema"].as_str() else {
        return Err(failed("The S3 Inventory manifest has no fileSchema".into()));
    };
    let headers: Vec<&str> = schema.split(',').map(str::trim).collect();
    let bucket = manifest["destinationBucket"]
        .as_str()
        .map(|b| b.rsplit(':').next().unwrap_or(b).to_owned())
        .map_or_else(|| parameters["Bucket"].clone(), Value::String);
    let csv = json!({
        "InputType": "CSV",
        "CSVHeaderLocation": "GIVEN",
        "CSVHeaders": headers,
        "CSVDelimiter": config.get("CSVDelimiter").cloned().unwrap_or(json!("COMMA")),
    });
    let mut items = Vec::new();
    for file in manifest["files"].as_array().into_iter().flatten() {
        let Some(key) = file["key"].as_str() else {
            return Err(failed("An S3 Inventory manifest file has no key".into()));
        };
        let object = json!({"Bucket": bucket, "Key": key});
        let bytes = crate::sdk::call_raw(clients, "s3", "getObject", &object)?;
        let text = uncompressed(&bytes, key)?;
        items.extend(parse(&text, &csv, left(max, items.len()))?);
        if max > 0 && items.len() >= max {
            break;
        }
    }
    Ok(items)
}

fn athena(
    clients: &Clients,
    text: &str,
    config: &Value,
    max: usize,
) -> Result<Vec<Value>, StatesError> {
    let mut items = Vec::new();
    for uri in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let uri = uri.trim_matches('"');
        let Some((bucket, key)) = uri.strip_prefix("s3://").and_then(|r| r.split_once('/')) else {
            return Err(failed(format!(
                "The Athena data manifest lists '{uri}', not an s3:// URI"
            )));
        };
        let object = json!({"Bucket": bucket, "Key": key});
        let bytes = crate::sdk::call_raw(clients, "s3", "getObject", &object)?;
        let left = left(max, items.len());
        // Parquet compresses within the file; the text formats may be gzip.
        if config.get("InputType").and_then(Value::as_str) == Some("PARQUET") {
            items.extend(parse_bytes(&bytes, config, left)?);
        } else {
            items.extend(parse(&uncompressed(&bytes, key)?, config, left)?);
        }
        if max > 0 && items.len() >= max {
            break;
        }
    }
    Ok(items)
}

/// How many more items `max` allows (0: no limit).
fn left(max: usize, have: usize) -> usize {
    if max == 0 {
        0
    } else {
        max.saturating_sub(have).max(1)
    }
}

/// A data file's text: gunzipped when it is gzip, at most [`MAX_FILE`].
fn uncompressed(bytes: &[u8], key: &str) -> Result<String, StatesError> {
    let mut out = Vec::new();
    let read = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .take(MAX_FILE + 1)
            .read_to_end(&mut out)
    } else if bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(failed(format!(
            "The data file '{key}' is zstd-compressed, which Stepwise does not read"
        )));
    } else {
        out.extend_from_slice(bytes);
        Ok(out.len())
    };
    read.map_err(|e| failed(format!("The data file '{key}' is not valid gzip: {e}")))?;
    if out.len() as u64 > MAX_FILE {
        return Err(failed(format!(
            "The data file '{key}' holds more than {} MiB",
            MAX_FILE / 1024 / 1024
        )));
    }
    String::from_utf8(out).map_err(|_| failed(format!("The data file '{key}' is not UTF-8 text")))
}

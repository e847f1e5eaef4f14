//! A Distributed Map's ResultWriter on S3 (`arn:aws:states:::s3:putObject`):
//! the results under `<Prefix>/<map run id>/` as AWS lays them out —
//! `SUCCEEDED_0.json` and `FAILED_0.json` (written when there are any),
//! and `manifest.json` naming them — shaped by `WriterConfig`
//! (`Transformation` NONE: each child's record, COMPACT: its output,
//! FLATTEN: outputs with arrays flattened; `OutputType` JSON or JSONL). The
//! state's output is `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.

use serde_json::{Value, json};
use stepwise_asl::StatesError;
use stepwise_engine::ports::TaskResult;

use crate::Clients;

fn failed(message: String) -> StatesError {
    StatesError::custom("States.ResultWriterFailed", message)
}

/// The files' contents: `(status, text)` for each status that has results.
pub fn files(payload: &Value) -> Result<Vec<(&'static str, String)>, StatesError> {
    let config = &payload["WriterConfig"];
    let transformation = config["Transformation"].as_str().unwrap_or("NONE");
    let jsonl = config["OutputType"].as_str() == Some("JSONL");
    let map_run = payload["MapRunArn"].as_str().unwrap_or_default();
    let machine = payload["StateMachineArn"].as_str().unwrap_or_default();
    let results = payload["Results"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for status in ["SUCCEEDED", "FAILED"] {
        let mut entries: Vec<Value> = Vec::new();
        for r in results.iter().filter(|r| r["Status"] == status) {
            let output = &r["Output"];
            match transformation {
                "NONE" => {
                    // The child execution's record, as DescribeExecution
                    // would give it (child executions are not kept yet:
                    // its ARN is derived from the Map Run's).
                    let name = format!("{:08}", r["Index"].as_u64().unwrap_or(0));
                    let mut e = json!({
                        "ExecutionArn": child_arn(map_run, &name),
                        "Name": name,
                        "StateMachineArn": machine,
                        "Status": status,
                    });
                    if status == "SUCCEEDED" {
                        e["Output"] = output.to_string().into();
                        e["OutputDetails"] = json!({"Included": true});
                    } else {
                        e["Error"] = output["Error"].clone();
                        e["Cause"] = output["Cause"].clone();
                    }
                    entries.push(e);
                }
                "COMPACT" => entries.push(output.clone()),
                "FLATTEN" => match output {
                    Value::Array(a) => entries.extend(a.iter().cloned()),
                    other => entries.push(other.clone()),
                },
                other => {
                    return Err(failed(format!(
                        "Unknown WriterConfig Transformation {other}"
                    )));
                }
            }
        }
        if entries.is_empty() {
            continue;
        }
        let text = if jsonl {
            entries
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
                + "\n"
        } else {
            Value::Array(entries).to_string()
        };
        out.push((status, text));
    }
    Ok(out)
}

/// A child execution's ARN within a Map Run (`…:mapRun:<machine>/<label>:<id>`
/// → `…:execution:<machine>/<label>:<name>`).
fn child_arn(map_run: &str, name: &str) -> String {
    let base = map_run.replacen(":mapRun:", ":execution:", 1);
    match base.rsplit_once(':') {
        Some((head, _)) => format!("{head}:{name}"),
        None => base,
    }
}

/// Writes the results and the manifest; the state's output.
pub fn write(clients: &Clients, payload: &Value) -> TaskResult {
    let bucket = payload["Bucket"]
        .as_str()
        .ok_or_else(|| failed("The ResultWriter needs a Bucket".into()))?;
    let map_run = payload["MapRunArn"].as_str().unwrap_or_default();
    let run_id = map_run.rsplit(':').next().unwrap_or("map-run");
    let prefix = payload["Prefix"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    let dir = if prefix.is_empty() {
        run_id.to_owned()
    } else {
        format!("{prefix}/{run_id}")
    };
    let extension = if payload["WriterConfig"]["OutputType"] == "JSONL" {
        "jsonl"
    } else {
        "json"
    };
    let mut listed = json!({"FAILED": [], "PENDING": [], "SUCCEEDED": []});
    for (status, text) in files(payload)? {
        let key = format!("{dir}/{status}_0.{extension}");
        put(clients, bucket, &key, &text)?;
        if let Some(a) = listed[status].as_array_mut() {
            a.push(json!({"Key": key, "Size": text.len()}));
        }
    }
    let manifest = json!({
        "DestinationBucket": bucket,
        "MapRunArn": map_run,
        "ResultFiles": listed,
    });
    let key = format!("{dir}/manifest.json");
    put(clients, bucket, &key, &manifest.to_string())?;
    Ok(json!({
        "MapRunArn": map_run,
        "ResultWriterDetails": {"Bucket": bucket, "Key": key},
    }))
}

fn put(clients: &Clients, bucket: &str, key: &str, body: &str) -> Result<(), StatesError> {
    crate::sdk::call_with_payload(
        clients,
        "s3",
        "putObject",
        &json!({"Bucket": bucket, "Key": key, "ContentType": "application/json"}),
        body.as_bytes(),
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_shaped_as_writer_config_says() {
        let payload = |t: &str, o: &str| {
            json!({
                "WriterConfig": {"Transformation": t, "OutputType": o},
                "MapRunArn": "arn:aws:states:us-east-1:1:mapRun:m/label:run-1",
                "StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
                "Results": [
                    {"Index": 0, "Status": "SUCCEEDED", "Output": [1, 2]},
                    {"Index": 1, "Status": "FAILED", "Output": {"Error": "E", "Cause": "c"}},
                    {"Index": 2, "Status": "SUCCEEDED", "Output": [3]},
                ],
            })
        };
        let none = files(&payload("NONE", "JSON")).unwrap();
        assert_eq!(none.len(), 2);
        let succeeded: Vec<Value> = serde_json::from_str(&none[0].1).unwrap();
        assert_eq!(succeeded[0]["Output"], "[1,2]");
        assert_eq!(
            succeeded[1]["ExecutionArn"],
            "arn:aws:states:us-east-1:1:execution:m/label:00000002"
        );
        let failed_items: Vec<Value> = serde_json::from_str(&none[1].1).unwrap();
        assert_eq!(
            (none[1].0, failed_items[0]["Error"].as_str()),
            ("FAILED", Some("E"))
        );
        let flat = files(&payload("FLATTEN", "JSONL")).unwrap();
        assert_eq!(flat[0].1, "1\n2\n3\n");
        let compact = files(&payload("COMPACT", "JSON")).unwrap();
        assert_eq!(compact[0].1, "[[1,2],[3]]");
    }
}

//! The items of a Distributed Map's ItemReader data as text, as its
//! `ReaderConfig` says to read them: JSON (an array, or the one
//! `ItemsPointer` points at), JSONL, CSV (`CSVHeaderLocation` FIRST_ROW or
//! GIVEN with `CSVHeaders`, `CSVDelimiter`). Written once for the S3 reader
//! and for TestState's `mapItemReaderData`. A failure is the Map's
//! `States.ItemReaderFailed`.

use serde_json::{Map, Value};
use stepwise_asl::StatesError;

/// `ReaderConfig.MaxItems` (0: all): a number, or a string holding one
/// (the step function has checked a `MaxItemsPath`'s is whole). A negative
/// count fails the reader, as on AWS; one past any object's size reads
/// everything.
pub fn max_items(config: &Value) -> Result<usize, StatesError> {
    let n = match config.get("MaxItems") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    };
    if n < 0.0 {
        return Err(failed("field MaxItems must be positive".into()));
    }
    // (Saturating: 1e20 reads everything.)
    Ok(n as usize)
}

pub fn failed(message: String) -> StatesError {
    StatesError::custom("States.ItemReaderFailed", message)
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
                Value::Array(mut a) => {
                    if max > 0 {
                        a.truncate(max);
                    }
                    Ok(a)
                }
                // AWS's words for an object (or ItemsPointer) that is not an array.
                _ => Err(failed("Attempting to map over non-iterable node.".into())),
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
        "PARQUET" => Err(failed(
            "PARQUET items are read from an object's bytes, not from text".into(),
        )),
        other => Err(failed(format!(
            "Stepwise does not read ItemReader InputType {other} yet (JSON, JSONL, CSV and PARQUET)"
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
        Some("GIVEN") => (config.get("CSVHeaders").and_then(Value::as_array))
            .and_then(|a| a.iter().map(|h| h.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| {
                failed("CSVHeaderLocation GIVEN needs CSVHeaders, an array of strings".into())
            })?,
        _ => rows
            .next()
            .ok_or_else(|| failed("The CSV object has no header row".into()))?,
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h)) {
        return Err(failed("CSV headers cannot contain duplicates.".into()));
    }
    // A row with fewer fields than headers has "" for the rest; fields past
    // the headers are left out (as AWS reads them).
    let mut items = Vec::new();
    for row in rows {
        if max > 0 && items.len() == max {
            break;
        }
        let mut fields = row.into_iter().map(Value::String);
        let item: Map<String, Value> = (headers.iter())
            .map(|h| (h.clone(), fields.next().unwrap_or_else(|| "".into())))
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

//! A Distributed Map's ItemBatcher: the items go to child executions in
//! batches, `{"BatchInput": …, "Items": […]}`, of at most
//! `MaxItemsPerBatch[Path]` items and `MaxInputBytesPerBatch[Path]` bytes
//! (256 KiB when no limit is given: a child's input can be no larger).
//! `BatchInput` is a payload template over the state's input (JSONPath) or
//! a JSONata template.

use serde_json::{Map as Object, Value};

use super::map::{Amount, Map};
use crate::definition::fields::parse_path;
use crate::definition::problem::{Problems, only_one};
use crate::definition::{Lang, State};
use crate::error::StatesError;
use crate::exec::{Step, Thread};
use crate::jsonata::{JTemplate, expression_text};
use crate::template::Template;

/// AWS's limit on a child execution's input, and so on a batch.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Batcher {
    max_items: Option<Amount>,
    max_bytes: Option<Amount>,
    input: Option<BatchInput>,
}

#[derive(Debug, Clone)]
enum BatchInput {
    Path(Template),
    Ata(JTemplate),
}

impl Batcher {
    pub fn parse(v: &Value, at: &str, lang: Lang, p: &mut Problems) -> Option<Batcher> {
        let Some(o) = v.as_object() else {
            p.schema(at, "The field 'ItemBatcher' must be an object");
            return None;
        };
        for key in o.keys() {
            let known = [
                "MaxItemsPerBatch",
                "MaxItemsPerBatchPath",
                "MaxInputBytesPerBatch",
                "MaxInputBytesPerBatchPath",
                "BatchInput",
            ];
            if !known.contains(&key.as_str()) || (lang == Lang::JsonAta && key.ends_with("Path")) {
                p.schema(
                    &format!("{at}/{key}"),
                    format!("The field '{key}' is not supported by Step Functions"),
                );
            }
        }
        let max_items = limit(o, at, "MaxItemsPerBatch", lang, p);
        let max_bytes = limit(o, at, "MaxInputBytesPerBatch", lang, p);
        if let Some(Amount::Literal(x)) = max_bytes
            && x > MAX_BATCH_BYTES as f64
        {
            p.schema(
                &format!("{at}/MaxInputBytesPerBatch"),
                format!("The field 'MaxInputBytesPerBatch' must be at most {MAX_BATCH_BYTES}"),
            );
        }
        let input = o.get("BatchInput").map(|b| {
            let at = format!("{at}/BatchInput");
            match lang {
                Lang::JsonAta => BatchInput::Ata(JTemplate::parse(b, "BatchInput", &at, p)),
                _ => BatchInput::Path(Template::parse(b, &at, p)),
            }
        });
        Some(Batcher {
            max_items,
            max_bytes,
            input,
        })
    }

    /// The batches of `items`, for a Map whose effective input is `input`.
    pub fn batch(
        &self,
        s: &mut Step<'_>,
        t: &Thread,
        state: &State,
        map: &Map,
        input: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, StatesError> {
        let positive = |n: Option<f64>, field: &str| -> Result<Option<usize>, StatesError> {
            match n {
                Some(x) if x < 1.0 => Err(StatesError::runtime(format!(
                    "The value of {field} must be a positive integer"
                ))),
                Some(x) => Ok(Some(x as usize)),
                None => Ok(None),
            }
        };
        let field = "MaxItemsPerBatch";
        let per = positive(
            map.amount(s, t, state, &self.max_items, field, true)?,
            field,
        )?;
        let field = "MaxInputBytesPerBatch";
        let bytes = positive(
            map.amount(s, t, state, &self.max_bytes, field, true)?,
            field,
        )?;
        let bytes = bytes.unwrap_or(MAX_BATCH_BYTES).min(MAX_BATCH_BYTES);
        let per = per.unwrap_or(usize::MAX);
        let batch_input = match &self.input {
            None => None,
            Some(BatchInput::Path(tpl)) => {
                Some(s.with_scope(t, state, input, None, |scope| tpl.eval(scope))?)
            }
            Some(BatchInput::Ata(tpl)) => Some(s.eval_ata(t, state, tpl, &[])?),
        };
        // A batch's size: `{"BatchInput":…,"Items":[…]}` as JSON.
        let base = match &batch_input {
            Some(b) => r#"{"BatchInput":,"Items":[]}"#.len() + json_len(b),
            None => r#"{"Items":[]}"#.len(),
        };
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut size = base;
        for (index, item) in items.into_iter().enumerate() {
            let len = json_len(&item);
            if base + len > bytes {
                return Err(StatesError::runtime(format!(
                    "The item at index {index} ({len} bytes) does not fit in a batch of at most {bytes} bytes"
                )));
            }
            let comma = usize::from(!current.is_empty());
            if !current.is_empty() && (current.len() >= per || size + comma + len > bytes) {
                batches.push(std::mem::take(&mut current));
                size = base;
            }
            size += usize::from(!current.is_empty()) + len;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(batches
            .into_iter()
            .map(|items| {
                let mut m = Object::new();
                if let Some(b) = &batch_input {
                    m.insert("BatchInput".into(), b.clone());
                }
                m.insert("Items".into(), Value::Array(items));
                Value::Object(m)
            })
            .collect())
    }
}

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

/// `key` as a positive integer, or (JSONPath) `<key>Path`, or (JSONata) an
/// expression.
fn limit(
    o: &Object<String, Value>,
    at: &str,
    key: &str,
    lang: Lang,
    p: &mut Problems,
) -> Option<Amount> {
    let path_key = format!("{key}Path");
    match (o.get(key), o.get(&path_key)) {
        (Some(_), Some(_)) => {
            p.schema(at, only_one(&[key, &path_key]));
            None
        }
        (Some(Value::Number(n)), None) => match n.as_f64() {
            Some(x) if x >= 1.0 && x.fract() == 0.0 => Some(Amount::Literal(x)),
            _ => {
                p.schema(
                    &format!("{at}/{key}"),
                    format!("The field '{key}' must be a positive integer"),
                );
                None
            }
        },
        (Some(v @ Value::String(s)), None)
            if lang == Lang::JsonAta && expression_text(s).is_some() =>
        {
            Some(Amount::Expr(JTemplate::parse(
                v,
                key,
                &format!("{at}/{key}"),
                p,
            )))
        }
        (Some(_), None) => {
            p.schema(
                &format!("{at}/{key}"),
                format!("The field '{key}' must be a positive integer"),
            );
            None
        }
        (None, Some(v)) => match v.as_str().map(|s| parse_path(key, s, true)) {
            Some(Ok(path)) => Some(Amount::Path(path)),
            _ => {
                p.schema(
                    &format!("{at}/{path_key}"),
                    format!("The field '{path_key}' must be a reference path"),
                );
                None
            }
        },
        (None, None) => None,
    }
}
